//! Sigstore's `trusted_root.json`: Fulcio CAs, Rekor logs and timestamp authorities, each with
//! the time window in which it may be trusted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use thiserror::Error;

use crate::certificate::Cert;
use crate::error::CertificateError;
use crate::key::PublicKey;
use crate::time::parse_rfc3339;

/// Why a trusted root cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrustedRootError {
    /// Not the JSON of a trusted root.
    #[error("not a Sigstore trusted root: {0}")]
    Json(String),
    /// A field that is not base64.
    #[error("{field} is not base64")]
    Base64 {
        /// Which field.
        field: &'static str,
    },
    /// A `validFor` time that is not RFC 3339.
    #[error("`{0}` is not an RFC 3339 time")]
    Time(String),
    /// A CA certificate that cannot be read.
    #[error("certificate authority {uri}: {error}")]
    Certificate {
        /// The authority's URI.
        uri: String,
        /// What is wrong.
        error: CertificateError,
    },
    /// Neither a certificate authority nor a log that this crate can use.
    #[error("the trusted root lists no usable certificate authority or transparency log")]
    Empty,
}

/// A validity window, Unix seconds, `until` open when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) from: i64,
    pub(crate) until: Option<i64>,
}

impl Window {
    pub(crate) fn contains(&self, at: i64) -> bool {
        at >= self.from && self.until.is_none_or(|until| at <= until)
    }
}

/// A certificate authority: its chain (issuing certificate first, root last).
#[derive(Clone)]
pub(crate) struct Authority {
    pub(crate) uri: String,
    pub(crate) chain: Vec<Cert>,
    pub(crate) valid: Window,
}

/// A transparency log: its key and the ID entries name it by (SHA-256 of the key's DER).
#[derive(Debug, Clone)]
pub(crate) struct Log {
    pub(crate) base_url: String,
    pub(crate) log_id: Vec<u8>,
    pub(crate) key: PublicKey,
    pub(crate) valid: Window,
}

/// The roots of keyless trust: which Fulcio CAs issue signing certificates and which Rekor
/// logs prove signing times. Parsed once; verification only reads it.
#[derive(Clone)]
pub struct TrustedRoot {
    pub(crate) authorities: Vec<Authority>,
    pub(crate) logs: Vec<Log>,
    pub(crate) timestamp_authorities: Vec<Authority>,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot")
            .field(
                "authorities",
                &self.authorities.iter().map(|a| &a.uri).collect::<Vec<_>>(),
            )
            .field(
                "logs",
                &self.logs.iter().map(|l| &l.base_url).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The Sigstore public-good trusted root shipped with this crate (origin in DECISIONS.md).
const PUBLIC_GOOD: &str = include_str!("public_good_trusted_root.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RootJson {
    #[serde(default)]
    tlogs: Vec<LogJson>,
    #[serde(default)]
    certificate_authorities: Vec<AuthorityJson>,
    #[serde(default)]
    timestamp_authorities: Vec<AuthorityJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    #[serde(default)]
    base_url: String,
    public_key: PublicKeyJson,
    log_id: LogIdJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyJson {
    raw_bytes: Option<String>,
    valid_for: Option<WindowJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorityJson {
    #[serde(default)]
    uri: String,
    cert_chain: CertChainJson,
    valid_for: Option<WindowJson>,
}

#[derive(Deserialize)]
struct CertChainJson {
    #[serde(default)]
    certificates: Vec<RawBytesJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytesJson {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct WindowJson {
    start: Option<String>,
    end: Option<String>,
}

fn window(json: Option<&WindowJson>) -> Result<Window, TrustedRootError> {
    let time = |t: &String| parse_rfc3339(t).ok_or_else(|| TrustedRootError::Time(t.clone()));
    let Some(json) = json else {
        return Ok(Window {
            from: i64::MIN,
            until: None,
        });
    };
    Ok(Window {
        from: json
            .start
            .as_ref()
            .map(time)
            .transpose()?
            .unwrap_or(i64::MIN),
        until: json.end.as_ref().map(time).transpose()?,
    })
}

fn base64(text: &str, field: &'static str) -> Result<Vec<u8>, TrustedRootError> {
    STANDARD
        .decode(text)
        .map_err(|_| TrustedRootError::Base64 { field })
}

impl TrustedRoot {
    /// The Sigstore public-good trusted root this crate ships (a snapshot; see DECISIONS.md).
    pub fn public_good() -> Self {
        // The snapshot is tested to parse; should it ever not, an empty root trusts nothing.
        Self::from_json(PUBLIC_GOOD.as_bytes()).unwrap_or(Self {
            authorities: Vec::new(),
            logs: Vec::new(),
            timestamp_authorities: Vec::new(),
        })
    }

    /// The JSON of the public-good trusted root this crate ships.
    pub fn public_good_json() -> &'static str {
        PUBLIC_GOOD
    }

    /// Parses a `trusted_root.json` (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
    /// Log keys of an algorithm this crate does not know are left out, so that a newer root
    /// still works for the logs it can check.
    pub fn from_json(bytes: &[u8]) -> Result<Self, TrustedRootError> {
        let json: RootJson =
            serde_json::from_slice(bytes).map_err(|e| TrustedRootError::Json(e.to_string()))?;
        let mut logs = Vec::new();
        for log in &json.tlogs {
            let Some(raw) = &log.public_key.raw_bytes else {
                continue;
            };
            let der = base64(raw, "tlogs[].publicKey.rawBytes")?;
            let Ok(key) = PublicKey::from_spki_der(&der) else {
                continue;
            };
            logs.push(Log {
                base_url: log.base_url.clone(),
                log_id: base64(&log.log_id.key_id, "tlogs[].logId.keyId")?,
                key,
                valid: window(log.public_key.valid_for.as_ref())?,
            });
        }
        let authorities = read_authorities(&json.certificate_authorities)?;
        let timestamp_authorities = read_authorities(&json.timestamp_authorities)?;
        if authorities.is_empty() && logs.is_empty() {
            return Err(TrustedRootError::Empty);
        }
        Ok(Self {
            authorities,
            logs,
            timestamp_authorities,
        })
    }
    /// How many certificate authorities, transparency logs and timestamp authorities it lists.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.authorities.len(),
            self.logs.len(),
            self.timestamp_authorities.len(),
        )
    }

    pub(crate) fn log(&self, log_id: &[u8]) -> Option<&Log> {
        self.logs.iter().find(|l| l.log_id == log_id)
    }

    /// The authority whose chain issued `leaf`, every certificate of it valid `at`.
    pub(crate) fn issuer_of(&self, leaf: &Cert, at: i64) -> Result<&Authority, CertificateError> {
        self.authorities
            .iter()
            .find(|ca| ca.valid.contains(at) && chain_issues(&ca.chain, leaf, at))
            .ok_or(CertificateError::UntrustedIssuer { at })
    }
}

fn read_authorities(json: &[AuthorityJson]) -> Result<Vec<Authority>, TrustedRootError> {
    let mut authorities = Vec::new();
    for ca in json {
        let mut chain = Vec::new();
        for cert in &ca.cert_chain.certificates {
            let der = base64(&cert.raw_bytes, "certificateAuthorities[].certChain")?;
            chain.push(
                Cert::from_der(&der).map_err(|error| TrustedRootError::Certificate {
                    uri: ca.uri.clone(),
                    error,
                })?,
            );
        }
        if chain.is_empty() {
            continue;
        }
        authorities.push(Authority {
            uri: ca.uri.clone(),
            chain,
            valid: window(ca.valid_for.as_ref())?,
        });
    }
    Ok(authorities)
}

/// `chain[0]` issued `leaf`, each certificate issued the one before, all are CAs valid `at`.
pub(crate) fn chain_issues(chain: &[Cert], leaf: &Cert, at: i64) -> bool {
    let mut child = leaf;
    for ca in chain {
        if !ca.may_issue() || ca.check_valid_at(at).is_err() || !child.is_issued_by(ca) {
            return false;
        }
        child = ca;
    }
    true
}
