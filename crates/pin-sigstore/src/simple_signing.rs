//! cosign v2 simple signing: the layers of the `sha256-<hex>.sig` manifest.

use serde_json::Value;

use crate::error::{Malformed, VerifyError};
use crate::rekor::LogEntry;

/// The annotation holding the base64 signature of a simple-signing layer.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation holding the PEM signing certificate of a keyless signature.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The annotation holding the PEM chain of the signing certificate.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The annotation holding the Rekor signed entry timestamp (JSON).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// One cosign v2 signature: the layer's blob (the signed payload) and its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigning {
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: String,
    pub(crate) certificate: Option<String>,
    pub(crate) rekor_bundle: Option<String>,
}

impl SimpleSigning {
    /// A key-based signature: the payload bytes and the base64 signature over them.
    pub fn new(payload: Vec<u8>, signature_base64: impl Into<String>) -> Self {
        Self {
            payload,
            signature: signature_base64.into(),
            certificate: None,
            rekor_bundle: None,
        }
    }

    /// Reads a layer: its blob and its annotations (`dev.cosignproject.cosign/signature`,
    /// and for keyless signatures `dev.sigstore.cosign/certificate` and `…/bundle`).
    pub fn from_layer<'a>(
        payload: Vec<u8>,
        annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, Malformed> {
        let mut signature = None;
        let mut layer = Self::new(payload, String::new());
        for (name, value) in annotations {
            match name {
                SIGNATURE_ANNOTATION => signature = Some(value.to_owned()),
                CERTIFICATE_ANNOTATION => layer.certificate = Some(value.to_owned()),
                BUNDLE_ANNOTATION => layer.rekor_bundle = Some(value.to_owned()),
                _ => {}
            }
        }
        layer.signature = signature.ok_or_else(|| {
            Malformed::new(
                "signature layer",
                format!("no `{SIGNATURE_ANNOTATION}` annotation"),
            )
        })?;
        Ok(layer)
    }

    /// Adds the PEM signing certificate (keyless).
    pub fn with_certificate(mut self, pem: impl Into<String>) -> Self {
        self.certificate = Some(pem.into());
        self
    }

    /// Adds the `dev.sigstore.cosign/bundle` annotation (a Rekor signed entry timestamp).
    pub fn with_rekor_bundle(mut self, json: impl Into<String>) -> Self {
        self.rekor_bundle = Some(json.into());
        self
    }

    /// The signed payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The Rekor entry of the `dev.sigstore.cosign/bundle` annotation, if there is one.
    pub(crate) fn log_entries(&self) -> Result<Vec<LogEntry>, Malformed> {
        self.rekor_bundle
            .as_deref()
            .map(LogEntry::from_cosign_annotation)
            .into_iter()
            .collect()
    }
}

/// The payload is a cosign container image signature of `digest`.
pub(crate) fn check_payload(payload: &[u8], digest: &str) -> Result<(), VerifyError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| Malformed::new("payload", format!("not JSON: {e}")))?;
    let critical = value
        .get("critical")
        .filter(|c| c.is_object())
        .ok_or_else(|| Malformed::new("payload", "no `critical` object"))?;
    let kind = critical["type"]
        .as_str()
        .ok_or_else(|| Malformed::new("payload", "no `critical.type`"))?;
    if kind != crate::SIMPLE_SIGNING_TYPE {
        return Err(VerifyError::NotASignature {
            kind: kind.to_owned(),
        });
    }
    let found = critical["image"]["docker-manifest-digest"]
        .as_str()
        .ok_or_else(|| Malformed::new("payload", "no `critical.image.docker-manifest-digest`"))?;
    if found != digest {
        return Err(VerifyError::WrongDigest {
            expected: digest.to_owned(),
            found: found.to_owned(),
        });
    }
    Ok(())
}
