//! Why a signature is refused. pin needs to tell apart "signed, but by no one the rule
//! trusts" (`untrusted-signer`) from "not a valid signature of this digest" (invalid), so the
//! two families are separate variants; [`VerifyError::is_untrusted_signer`] says which.

use thiserror::Error;

/// A part of a signature that cannot be read: bad base64, bad JSON, a missing field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{part}: {reason}")]
pub struct Malformed {
    /// Which part, in cosign's words (`signature`, `payload`, `bundle`, `certificate`, …).
    pub part: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl Malformed {
    pub(crate) fn new(part: &'static str, reason: impl Into<String>) -> Self {
        Self {
            part,
            reason: reason.into(),
        }
    }
}

/// Why a signing certificate is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CertificateError {
    /// The certificate cannot be parsed.
    #[error("certificate cannot be read: {0}")]
    Unreadable(String),
    /// The leaf was not valid at the time the log proves.
    #[error("the certificate was not valid at {at} (valid from {not_before} to {not_after})")]
    NotValidAt {
        /// The proved signing time, Unix seconds.
        at: i64,
        /// Start of validity, Unix seconds.
        not_before: i64,
        /// End of validity, Unix seconds.
        not_after: i64,
    },
    /// No certificate authority of the trusted root issued the leaf (at that time).
    #[error(
        "the certificate does not chain to a certificate authority of the trusted root valid at {at}"
    )]
    UntrustedIssuer {
        /// The proved signing time, Unix seconds.
        at: i64,
    },
    /// The leaf is not for code signing, or carries a critical extension this crate does not know.
    #[error("the certificate is not a code-signing certificate: {0}")]
    NotForCodeSigning(String),
}

/// Why the transparency-log proof is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LogError {
    /// A keyless signature with no log entry: nothing proves when the short-lived certificate
    /// was used.
    #[error("no transparency-log entry: a keyless signature needs one")]
    NoEntry,
    /// The entry names a log that the trusted root does not list.
    #[error("the entry is from log {log_id}, which the trusted root does not list")]
    UnknownLog {
        /// The log ID, lowercase hex.
        log_id: String,
    },
    /// The log's key was not valid at the entry's time.
    #[error("the log key was not valid at {at}")]
    KeyNotValidAt {
        /// The entry's integrated time, Unix seconds.
        at: i64,
    },
    /// The signed entry timestamp does not verify with the log's key.
    #[error("the signed entry timestamp does not verify with the log's key")]
    BadSignedEntryTimestamp,
    /// The inclusion proof does not lead to the root hash.
    #[error("the inclusion proof does not lead to the checkpoint's root hash")]
    BadInclusionProof,
    /// The checkpoint is unreadable, disagrees with the proof, or is not signed by the log.
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    /// An entry with neither a signed entry timestamp nor an inclusion proof.
    #[error(
        "the entry carries no proof of inclusion (neither a signed entry timestamp nor an inclusion proof)"
    )]
    NoProof,
    /// No signed time (neither a signed entry timestamp nor an RFC 3161 timestamp): the
    /// certificate's validity cannot be checked.
    #[error(
        "no signing time is proved: neither a signed entry timestamp nor an RFC 3161 timestamp"
    )]
    NoSignedTime,
    /// The logged entry is about another signature, payload or certificate.
    #[error("the logged entry does not match this signature: {0}")]
    EntryMismatch(String),
    /// A kind of entry this crate does not read.
    #[error("unsupported log entry kind `{0}`")]
    UnsupportedKind(String),
    /// The entry or its proof cannot be read.
    #[error("log entry cannot be read: {0}")]
    Unreadable(String),
}

/// Why a signature does not prove that the digest was signed by a trusted signer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    /// Part of the signature cannot be read.
    #[error("malformed signature: {0}")]
    Malformed(#[from] Malformed),
    /// A signed payload of the wrong kind (cosign's `critical.type`, or an in-toto predicate
    /// type other than a signature, such as an attestation).
    #[error("not an image signature: {kind}")]
    NotASignature {
        /// The type found.
        kind: String,
    },
    /// The signed payload is about other digests.
    #[error("the signature is for {found}, not {expected}")]
    WrongDigest {
        /// The digest asked about.
        expected: String,
        /// What the payload names instead (comma-separated when several).
        found: String,
    },
    /// The signature verifies with none of the trusted keys.
    #[error("signed by none of the {keys} trusted key(s)")]
    NoTrustedKey {
        /// How many keys were tried.
        keys: usize,
    },
    /// A keyless signature, but the policy accepts no keyless identity.
    #[error("a keyless signature, and no keyless identity is trusted")]
    KeylessNotTrusted,
    /// A proved keyless signature by an identity the policy does not accept.
    #[error("signed by {identity} (issuer {}), which no trusted identity matches", issuer.as_deref().unwrap_or("none"))]
    UntrustedIdentity {
        /// The certificate's subject alternative name (URI or e-mail).
        identity: String,
        /// Its OIDC issuer extension, if any.
        issuer: Option<String>,
    },
    /// The signature does not verify with the certificate's key.
    #[error("the signature does not verify with the certificate's key")]
    BadSignature,
    /// The certificate is not accepted.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The transparency-log proof is not accepted.
    #[error("transparency log: {0}")]
    Log(#[from] LogError),
    /// An RFC 3161 timestamp that does not verify: it is refused rather than ignored, as a
    /// forged time could otherwise hide behind a valid one.
    #[error("RFC 3161 timestamp: {0}")]
    Timestamp(String),
}

impl VerifyError {
    /// Whether the signature is well-formed and proved, but made by no signer the policy
    /// trusts (pin's `untrusted-signer`), rather than invalid.
    pub fn is_untrusted_signer(&self) -> bool {
        matches!(
            self,
            Self::NoTrustedKey { .. } | Self::KeylessNotTrusted | Self::UntrustedIdentity { .. }
        )
    }
}
