//! Sigstore bundles v0.3 as cosign v3 attaches them: a DSSE envelope around an in-toto
//! statement, the signing certificate (or a key hint) and Rekor entries with their proofs.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Malformed, VerifyError};
use crate::rekor::{InclusionProof, LogEntry, base64};

/// A parsed Sigstore bundle with a DSSE envelope.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub(crate) media_type: String,
    /// The leaf certificate, DER (keyless); `None` for a key-based bundle.
    pub(crate) certificate: Option<Vec<u8>>,
    pub(crate) payload: Vec<u8>,
    pub(crate) payload_type: String,
    pub(crate) signatures: Vec<Vec<u8>>,
    pub(crate) log_entries: Vec<LogEntry>,
    /// RFC 3161 timestamp tokens (DER) over the signature.
    pub(crate) timestamps: Vec<Vec<u8>>,
}

const PART: &str = "bundle";

/// cosign writes one signature, one log entry and at most one timestamp per bundle. Each
/// extra one costs a signature check per trusted key, so a bundle offering more than this
/// many is refused rather than checked (a body cap alone would still allow tens of thousands).
pub(crate) const MAX_REPEATED: usize = 16;

fn at_most<T>(items: Vec<T>, what: &str) -> Result<Vec<T>, Malformed> {
    if items.len() > MAX_REPEATED {
        return Err(Malformed::new(
            PART,
            format!("{} {what}: at most {MAX_REPEATED} are read", items.len()),
        ));
    }
    Ok(items)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BundleJson {
    media_type: String,
    verification_material: MaterialJson,
    dsse_envelope: Option<EnvelopeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<ChainJson>,
    #[serde(default)]
    tlog_entries: Vec<TlogJson>,
    timestamp_verification_data: Option<TimestampDataJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimestampDataJson {
    #[serde(default)]
    rfc3161_timestamps: Vec<SignedTimestampJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedTimestampJson {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeJson {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlogJson {
    log_index: Value,
    log_id: LogIdJson,
    integrated_time: Option<Value>,
    inclusion_promise: Option<PromiseJson>,
    inclusion_proof: Option<ProofJson>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromiseJson {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofJson {
    log_index: Value,
    root_hash: String,
    tree_size: Value,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: CheckpointJson,
}

#[derive(Deserialize)]
struct CheckpointJson {
    envelope: String,
}

/// Protobuf JSON writes 64-bit integers as strings; accept both.
fn int(value: &Value, field: &str) -> Result<i64, Malformed> {
    match value {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| Malformed::new(PART, format!("`{field}` is not an integer")))
}

fn unsigned(value: &Value, field: &str) -> Result<u64, Malformed> {
    u64::try_from(int(value, field)?)
        .map_err(|_| Malformed::new(PART, format!("`{field}` is negative")))
}

impl TlogJson {
    fn into_entry(self) -> Result<LogEntry, Malformed> {
        let inclusion_proof = match self.inclusion_proof {
            Some(p) => Some(InclusionProof {
                log_index: unsigned(&p.log_index, "inclusionProof.logIndex")?,
                tree_size: unsigned(&p.tree_size, "inclusionProof.treeSize")?,
                root_hash: base64(&p.root_hash, PART)?,
                hashes: p
                    .hashes
                    .iter()
                    .map(|h| base64(h, PART))
                    .collect::<Result<_, _>>()?,
                checkpoint: p.checkpoint.envelope,
            }),
            None => None,
        };
        Ok(LogEntry {
            body: base64(&self.canonicalized_body, PART)?,
            integrated_time: self
                .integrated_time
                .as_ref()
                .map(|t| int(t, "integratedTime"))
                .transpose()?,
            log_index: int(&self.log_index, "logIndex")?,
            log_id: base64(&self.log_id.key_id, PART)?,
            signed_entry_timestamp: self
                .inclusion_promise
                .map(|p| base64(&p.signed_entry_timestamp, PART))
                .transpose()?,
            inclusion_proof,
        })
    }
}

impl Bundle {
    /// Parses a bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`, or v0.1/v0.2 with a
    /// certificate chain). A bundle without a DSSE envelope (a plain message signature, as
    /// `cosign sign-blob` writes) is not an image signature and is refused here.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Malformed> {
        let json: BundleJson =
            serde_json::from_slice(bytes).map_err(|e| Malformed::new(PART, e.to_string()))?;
        if !json
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
        {
            return Err(Malformed::new(
                PART,
                format!("media type `{}` is not a Sigstore bundle", json.media_type),
            ));
        }
        let material = json.verification_material;
        let certificate = match (material.certificate, material.x509_certificate_chain) {
            (Some(cert), _) => Some(base64(&cert.raw_bytes, PART)?),
            (None, Some(chain)) => match chain.certificates.first() {
                Some(leaf) => Some(base64(&leaf.raw_bytes, PART)?),
                None => None,
            },
            (None, None) => None,
        };
        let envelope = json
            .dsse_envelope
            .ok_or_else(|| Malformed::new(PART, "no DSSE envelope: not an image signature"))?;
        let signatures = at_most(envelope.signatures, "DSSE signatures")?
            .iter()
            .map(|s| base64(&s.sig, PART))
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() {
            return Err(Malformed::new(PART, "the DSSE envelope has no signature"));
        }
        let timestamps = material
            .timestamp_verification_data
            .map(|t| at_most(t.rfc3161_timestamps, "RFC 3161 timestamps"))
            .transpose()?
            .unwrap_or_default()
            .iter()
            .map(|t| base64(&t.signed_timestamp, PART))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            timestamps,
            media_type: json.media_type,
            certificate,
            payload: base64(&envelope.payload, PART)?,
            payload_type: envelope.payload_type,
            signatures,
            log_entries: at_most(material.tlog_entries, "log entries")?
                .into_iter()
                .map(TlogJson::into_entry)
                .collect::<Result<_, _>>()?,
        })
    }

    /// The bundle's media type.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// Whether the bundle carries a signing certificate (keyless) rather than a key hint.
    pub fn is_keyless(&self) -> bool {
        self.certificate.is_some()
    }

    /// The DSSE pre-authentication encoding: what the envelope's signatures sign.
    pub(crate) fn pae(&self) -> Vec<u8> {
        let mut out = format!(
            "DSSEv1 {} {} {} ",
            self.payload_type.len(),
            self.payload_type,
            self.payload.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.payload);
        out
    }
}

/// The statement is a cosign signature (`https://sigstore.dev/cosign/sign/v1`) with `digest`
/// among its subjects.
pub(crate) fn check_statement(bundle: &Bundle, digest: &str) -> Result<(), VerifyError> {
    if bundle.payload_type != "application/vnd.in-toto+json" {
        return Err(VerifyError::NotASignature {
            kind: format!("DSSE payload type {}", bundle.payload_type),
        });
    }
    let statement: Value = serde_json::from_slice(&bundle.payload)
        .map_err(|e| Malformed::new("in-toto statement", format!("not JSON: {e}")))?;
    let predicate = statement["predicateType"]
        .as_str()
        .ok_or_else(|| Malformed::new("in-toto statement", "no predicateType"))?;
    if predicate != crate::COSIGN_SIGN_PREDICATE {
        return Err(VerifyError::NotASignature {
            kind: format!("in-toto predicate type {predicate}"),
        });
    }
    let subjects = statement["subject"]
        .as_array()
        .ok_or_else(|| Malformed::new("in-toto statement", "no subject list"))?;
    let names: Vec<String> = subjects
        .iter()
        .filter_map(|s| s["digest"].as_object())
        .flat_map(|d| {
            d.iter()
                .filter_map(|(alg, hex)| hex.as_str().map(|hex| format!("{alg}:{hex}")))
        })
        .collect();
    if names.iter().any(|n| n == digest) {
        Ok(())
    } else {
        Err(VerifyError::WrongDigest {
            expected: digest.to_owned(),
            found: if names.is_empty() {
                "no digest".to_owned()
            } else {
                names.join(", ")
            },
        })
    }
}
