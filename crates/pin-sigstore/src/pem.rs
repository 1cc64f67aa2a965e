//! The few PEM blocks this crate reads: public keys and certificates (RFC 7468, lax form).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// One decoded PEM block.
pub(crate) struct PemBlock {
    pub(crate) label: String,
    pub(crate) der: Vec<u8>,
}

/// Why text is not PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PemError {
    NoBlock,
    Unterminated(String),
    Base64(String),
}

/// All PEM blocks of `text`, in order. Text between blocks is ignored, as OpenSSL does.
pub(crate) fn parse_all(text: &str) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(label) = begin_label(line.trim()) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            let line = line.trim();
            if line == end {
                closed = true;
                break;
            }
            // RFC 1421 headers (`Proc-Type: …`) only appear in encrypted private keys.
            if line.contains(':') {
                continue;
            }
            body.push_str(line);
        }
        if !closed {
            return Err(PemError::Unterminated(label.to_owned()));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|e| PemError::Base64(e.to_string()))?;
        blocks.push(PemBlock {
            label: label.to_owned(),
            der,
        });
    }
    if blocks.is_empty() {
        return Err(PemError::NoBlock);
    }
    Ok(blocks)
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// `der` as a PEM block with `label`, 64 columns a line.
#[cfg(feature = "signing")]
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_two_blocks_and_ignores_text_between() {
        let text = "junk\n-----BEGIN A-----\nAAEC\n-----END A-----\nmore\n-----BEGIN B-----\nAw==\n-----END B-----\n";
        let blocks = parse_all(text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].label, "A");
        assert_eq!(blocks[0].der, vec![0, 1, 2]);
        assert_eq!(blocks[1].der, vec![3]);
    }

    #[test]
    fn refuses_unterminated_and_empty() {
        assert_eq!(
            parse_all("-----BEGIN A-----\nAAEC\n").err(),
            Some(PemError::Unterminated("A".into()))
        );
        assert_eq!(parse_all("hello").err(), Some(PemError::NoBlock));
    }
}
