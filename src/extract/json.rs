//! JSON with comments (JSONC), read into the same tree of nodes with byte spans as
//! YAML, so that every extractor walks both alike.
//!
//! `devcontainer.json` and `docker-bake.json` allow `//` and `/* */` comments and
//! trailing commas; strict JSON is a subset. Nothing is re-serialised: a string has a
//! [`Scalar::text`] span only when it has no escape sequence, so its bytes in the file
//! are exactly its value; an escaped string (`"\u0061lpine"`) has none and an
//! extractor skips it as `invalid-reference`, as in YAML. Numbers, `true`, `false` and
//! `null` are plain scalars.

use saphyr_parser::ScalarStyle;

use super::ExtractError;
use super::yaml::{NodeId, NodeKind, Scalar, Yaml};
use crate::source::Span;

/// Deepest nesting accepted, as for YAML.
const MAX_DEPTH: usize = 256;

/// Parse one JSONC document into a tree whose only document is its value.
pub(crate) fn parse(text: &str) -> Result<Yaml, ExtractError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        yaml: Yaml::default(),
    };
    if text.starts_with('\u{feff}') {
        reader.pos = '\u{feff}'.len_utf8();
    }
    reader.blank()?;
    let root = reader.value(0)?;
    reader.blank()?;
    if reader.pos < text.len() {
        return Err(reader.error("unexpected text after the JSON value"));
    }
    reader.yaml.documents.push(root);
    Ok(reader.yaml)
}

/// Whether `text` is a JSON (or JSONC) object or array: a Dockerfile never is.
pub(crate) fn is_json_document(text: &str) -> bool {
    parse(text).is_ok_and(|tree| {
        let root = tree.documents[0];
        !matches!(tree.nodes[root].kind, NodeKind::Scalar(_))
    })
}

/// The keys of the top-level object of a JSON text, or nothing if it is not one.
pub(crate) fn top_level_keys(text: &str) -> Vec<String> {
    let Ok(yaml) = parse(text) else {
        return Vec::new();
    };
    let root = yaml.documents[0];
    yaml.pairs(root)
        .map(|(key, _, _)| key.to_string())
        .collect()
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    yaml: Yaml,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> ExtractError {
        ExtractError::at(self.text, self.pos, format!("invalid JSON: {message}"))
    }

    /// Skip whitespace and comments.
    fn blank(&mut self) -> Result<(), ExtractError> {
        loop {
            match self.bytes.get(self.pos) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'/') => {
                    self.pos = self.text[self.pos..]
                        .find('\n')
                        .map_or(self.text.len(), |i| self.pos + i);
                }
                Some(b'/') if self.bytes.get(self.pos + 1) == Some(&b'*') => {
                    match self.text[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => return Err(self.error("unterminated /* comment")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<NodeId, ExtractError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let scalar = self.string()?;
                Ok(self.yaml.add_node(NodeKind::Scalar(scalar), start))
            }
            Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                {
                    self.pos += 1;
                }
                let span = Span::new(start, self.pos);
                let value = span.of(self.text).to_string();
                let scalar = Scalar::read_elsewhere(value, ScalarStyle::Plain, span, Some(span));
                Ok(self.yaml.add_node(NodeKind::Scalar(scalar), start))
            }
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of text")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<NodeId, ExtractError> {
        let start = self.pos;
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.blank()?;
            match self.bytes.get(self.pos) {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"') => {}
                _ => return Err(self.error("expected a string key or `}`")),
            }
            let key_start = self.pos;
            let key = self.string()?;
            let key = self.yaml.add_node(NodeKind::Scalar(key), key_start);
            self.blank()?;
            if self.bytes.get(self.pos) != Some(&b':') {
                return Err(self.error("expected `:`"));
            }
            self.pos += 1;
            self.blank()?;
            let value = self.value(depth + 1)?;
            entries.push((key, value));
            self.blank()?;
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
        Ok(self.yaml.add_node(NodeKind::Mapping(entries), start))
    }

    fn array(&mut self, depth: usize) -> Result<NodeId, ExtractError> {
        let start = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.blank()?;
            if self.bytes.get(self.pos) == Some(&b']') {
                self.pos += 1;
                break;
            }
            items.push(self.value(depth + 1)?);
            self.blank()?;
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
        Ok(self.yaml.add_node(NodeKind::Sequence(items), start))
    }

    /// A string at `self.pos` (which is `"`), decoded.
    fn string(&mut self) -> Result<Scalar, ExtractError> {
        let open = self.pos;
        let mut value = String::new();
        let mut escaped = false;
        let mut i = open + 1;
        loop {
            let Some(c) = self.text[i..].chars().next() else {
                self.pos = open;
                return Err(self.error("unterminated string"));
            };
            match c {
                '"' => break,
                '\n' => {
                    self.pos = i;
                    return Err(self.error("line break in a string"));
                }
                '\\' => {
                    escaped = true;
                    let (decoded, len) = self.escape(i)?;
                    value.push(decoded);
                    i += len;
                }
                c => {
                    value.push(c);
                    i += c.len_utf8();
                }
            }
        }
        self.pos = i + 1;
        let token = Span::new(open, i + 1);
        let text = (!escaped).then_some(Span::new(open + 1, i));
        Ok(Scalar::read_elsewhere(
            value,
            ScalarStyle::DoubleQuoted,
            token,
            text,
        ))
    }

    /// The character an escape sequence at `at` stands for, and its length in bytes.
    fn escape(&mut self, at: usize) -> Result<(char, usize), ExtractError> {
        let simple = match self.bytes.get(at + 1) {
            Some(b'"') => Some('"'),
            Some(b'\\') => Some('\\'),
            Some(b'/') => Some('/'),
            Some(b'b') => Some('\u{8}'),
            Some(b'f') => Some('\u{c}'),
            Some(b'n') => Some('\n'),
            Some(b'r') => Some('\r'),
            Some(b't') => Some('\t'),
            Some(b'u') => None,
            _ => {
                self.pos = at;
                return Err(self.error("invalid escape sequence"));
            }
        };
        if let Some(c) = simple {
            return Ok((c, 2));
        }
        let unit = |pos: usize| {
            self.text
                .get(pos..pos + 4)
                .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        };
        let Some(high) = unit(at + 2) else {
            self.pos = at;
            return Err(self.error("invalid \\u escape"));
        };
        if (0xD800..0xDC00).contains(&high)
            && self.text[at + 6..].starts_with("\\u")
            && let Some(low) = unit(at + 8).filter(|low| (0xDC00..0xE000).contains(low))
        {
            let c = char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00));
            return Ok((c.unwrap_or('\u{fffd}'), 12));
        }
        Ok((char::from_u32(high).unwrap_or('\u{fffd}'), 6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_trailing_commas_are_allowed() {
        let text = "\u{feff}// c\n{\n  /* a */ \"image\": \"alpine:3\", // b\n  \"n\": [1, true, null,],\n}\n";
        let yaml = parse(text).unwrap();
        let root = yaml.documents[0];
        let image = yaml.scalar(yaml.get(root, "image").unwrap()).unwrap();
        assert_eq!(image.text.unwrap().of(text), "alpine:3");
        assert_eq!(image.token.of(text), "\"alpine:3\"");
        let n = yaml.sequence(yaml.get(root, "n").unwrap());
        assert_eq!(n.len(), 3);
        assert!(yaml.scalar(n[2]).unwrap().is_null());
    }

    #[test]
    fn escaped_strings_have_no_text_span() {
        let text = r#"{"image": "\u0061lpine", "k\"": "\ud83d\ude00"}"#;
        let yaml = parse(text).unwrap();
        let root = yaml.documents[0];
        let image = yaml.scalar(yaml.get(root, "image").unwrap()).unwrap();
        assert_eq!(image.value, "alpine");
        assert!(image.text.is_none());
        let emoji = yaml.scalar(yaml.get(root, "k\"").unwrap()).unwrap();
        assert_eq!(emoji.value, "\u{1f600}");
    }

    #[test]
    fn malformed_text_is_an_error_with_a_line() {
        for text in [
            "{\n\"a\": }",
            "{\"a\" 1}",
            "[1 2]",
            "\"open",
            "/* open",
            "{} x",
            "",
            "\"\\q\"",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
        assert_eq!(parse("{\n\"a\": }").unwrap_err().position.line, 2);
        let deep = "[".repeat(10_000);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn top_level_keys_of_an_object() {
        assert_eq!(
            top_level_keys("{\"apiVersion\": \"v1\", \"kind\": \"Pod\"}"),
            ["apiVersion", "kind"]
        );
        assert!(top_level_keys("[1]").is_empty());
        assert!(top_level_keys("not json").is_empty());
    }
}
