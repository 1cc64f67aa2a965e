//! The one entry point: does this signature prove that `digest` was signed by a trusted
//! key or identity?
//!
//! Order matters. The signature is authenticated first (a key, or a Fulcio certificate proved
//! by the log at its signing time), and only then is the payload read, so that what is
//! reported about a payload ("for another digest", "an attestation") is what its signer said.

use regex::Regex;
use thiserror::Error;

use crate::bundle::{Bundle, check_statement};
use crate::certificate::Cert;
use crate::error::{CertificateError, LogError, VerifyError};
use crate::key::PublicKey;
use crate::rekor::{LogEntry, Signer, base64, check_body};
use crate::simple_signing::{SimpleSigning, check_payload};
use crate::trusted_root::TrustedRoot;

/// How a keyless identity names the certificate's subject alternative name.
#[derive(Debug, Clone)]
pub enum SubjectMatcher {
    /// Exactly this URI or e-mail address.
    Exact(String),
    /// A regular expression that must match the whole name.
    Regex(Regex),
}

/// A keyless identity a policy accepts: the OIDC issuer and the signer's name.
#[derive(Debug, Clone)]
pub struct Identity {
    issuer: Option<String>,
    subject: SubjectMatcher,
    anchored_here: bool,
}

/// Why an identity pattern cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    /// Not a regular expression.
    #[error("`{pattern}` is not a regular expression: {reason}")]
    Regex {
        /// The pattern given.
        pattern: String,
        /// What the regex parser said.
        reason: String,
    },
}

impl Identity {
    /// An exact identity (`https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main`)
    /// from an issuer (`https://token.actions.githubusercontent.com`).
    pub fn exact(issuer: impl Into<String>, identity: impl Into<String>) -> Self {
        Self {
            issuer: Some(issuer.into()),
            subject: SubjectMatcher::Exact(identity.into()),
            anchored_here: false,
        }
    }

    /// An identity pattern. It must match the whole name: a pattern not written as `^…$` is
    /// anchored here, and [`Identity::was_anchored`] says so, so that the caller can tell the
    /// user.
    pub fn regex(issuer: impl Into<String>, pattern: &str) -> Result<Self, IdentityError> {
        let written_anchored =
            pattern.starts_with('^') && pattern.ends_with('$') && !pattern.ends_with("\\$");
        // Always wrapped, even when written `^…$`: in `^a$|b` the anchors bind to `a` only.
        let regex = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| IdentityError::Regex {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            issuer: Some(issuer.into()),
            subject: SubjectMatcher::Regex(regex),
            anchored_here: !written_anchored,
        })
    }

    /// For certificates Fulcio issued before it recorded the OIDC issuer (2021–2022): the
    /// leaf must then carry no issuer extension at all.
    pub fn without_issuer(mut self) -> Self {
        self.issuer = None;
        self
    }

    /// Whether [`Identity::regex`] had to add `^…$` to the pattern.
    pub fn was_anchored(&self) -> bool {
        self.anchored_here
    }

    /// The issuer this identity requires (`None`: a leaf without an issuer extension).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// How the name is matched.
    pub fn subject(&self) -> &SubjectMatcher {
        &self.subject
    }

    fn matches(&self, names: &[String], issuer: Option<&str>) -> bool {
        if self.issuer.as_deref() != issuer {
            return false;
        }
        names.iter().any(|name| match &self.subject {
            SubjectMatcher::Exact(expected) => name == expected,
            SubjectMatcher::Regex(regex) => regex.is_match(name),
        })
    }
}

/// What a signature is checked against: keys, keyless identities, and the trusted root that
/// keyless identities are proved with. A signature is accepted by any of them.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// Public keys; [`Verdict::Key`] gives the index of the one that verified.
    pub keys: &'a [PublicKey],
    /// Keyless identities; [`KeylessSigner::rule`] gives the index of the one that matched.
    pub identities: &'a [Identity],
    /// The Fulcio CAs and Rekor logs keyless signatures are proved with.
    pub trusted_root: &'a TrustedRoot,
}

/// A signature in either form cosign writes.
#[derive(Debug, Clone)]
pub enum Signature {
    /// A cosign v2 simple-signing layer.
    SimpleSigning(SimpleSigning),
    /// A cosign v3 Sigstore bundle.
    Bundle(Bundle),
}

/// Who signed, when a signature is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Verified with `policy.keys[index]`.
    Key {
        /// Index into [`Policy::keys`].
        index: usize,
        /// The signing time a log of the trusted root proves for this signature, if the
        /// signature carries a log entry (cosign logs key-based signatures by default).
        signed_at: Option<i64>,
    },
    /// A keyless signature by an accepted identity.
    Keyless(KeylessSigner),
}

/// The proved signer of a keyless signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeylessSigner {
    /// Index into [`Policy::identities`] of the identity that matched.
    pub rule: usize,
    /// The certificate's subject alternative name that matched (URI or e-mail).
    pub identity: String,
    /// The certificate's OIDC issuer, if it records one.
    pub issuer: Option<String>,
    /// The signing time the log proves (Rekor integrated time), Unix seconds.
    pub signed_at: i64,
    /// The entry's index in the log.
    pub log_index: i64,
}

/// Whether `signature` proves that the manifest `digest` (`sha256:<hex>`) was signed by a key
/// or identity of `policy`.
pub fn verify(
    signature: &Signature,
    digest: &str,
    policy: &Policy<'_>,
) -> Result<Verdict, VerifyError> {
    match signature {
        Signature::SimpleSigning(layer) => {
            let sig = base64(&layer.signature, "signature")?;
            // Read only when a key did not verify: a trusted key's signature stands even if
            // the layer also carries an unreadable certificate or Rekor bundle.
            let certificate = layer.certificate.as_deref().map(Cert::from_pem);
            let log_entries = layer.log_entries().map_err(VerifyError::from);
            let evidence = Evidence {
                message: &layer.payload,
                logged_payload: &layer.payload,
                signatures: std::slice::from_ref(&sig),
                certificate: certificate.as_ref(),
                log_entries: log_entries.as_deref().map_err(Clone::clone),
                timestamps: &[],
            };
            let verdict = evidence.authenticate(policy)?;
            check_payload(&layer.payload, digest)?;
            Ok(verdict)
        }
        Signature::Bundle(bundle) => {
            let certificate = bundle.certificate.as_deref().map(Cert::from_der);
            let pae = bundle.pae();
            let evidence = Evidence {
                message: &pae,
                logged_payload: &bundle.payload,
                signatures: &bundle.signatures,
                certificate: certificate.as_ref(),
                log_entries: Ok(&bundle.log_entries),
                timestamps: &bundle.timestamps,
            };
            let verdict = evidence.authenticate(policy)?;
            check_statement(bundle, digest)?;
            Ok(verdict)
        }
    }
}

/// What a signature offers, in either form.
struct Evidence<'a> {
    /// The bytes signed: the payload, or a DSSE envelope's PAE.
    message: &'a [u8],
    /// The bytes whose hash the log records.
    logged_payload: &'a [u8],
    signatures: &'a [Vec<u8>],
    certificate: Option<&'a Result<Cert, CertificateError>>,
    log_entries: Result<&'a [LogEntry], VerifyError>,
    timestamps: &'a [Vec<u8>],
}

impl Evidence<'_> {
    fn authenticate(&self, policy: &Policy<'_>) -> Result<Verdict, VerifyError> {
        for (index, key) in policy.keys.iter().enumerate() {
            if self
                .signatures
                .iter()
                .any(|s| key.verifies(self.message, s))
            {
                // cosign logs key-based signatures too by default; a proved entry dates them.
                let signed_at = self.signatures.iter().find_map(|s| {
                    self.prove_in_log(Signer::Key(key), s, policy.trusted_root)
                        .ok()
                        .and_then(|(time, _)| time)
                });
                return Ok(Verdict::Key { index, signed_at });
            }
        }
        let Some(leaf) = self.certificate else {
            return Err(VerifyError::NoTrustedKey {
                keys: policy.keys.len(),
            });
        };
        let leaf = leaf
            .as_ref()
            .map_err(|e| VerifyError::Certificate(e.clone()))?;
        if policy.identities.is_empty() {
            return Err(VerifyError::KeylessNotTrusted);
        }
        self.keyless(leaf, policy)
    }

    fn keyless(&self, leaf: &Cert, policy: &Policy<'_>) -> Result<Verdict, VerifyError> {
        leaf.check_code_signing_leaf()?;
        let signature = self
            .signatures
            .iter()
            .find(|s| leaf.key.verifies(self.message, s))
            .ok_or(VerifyError::BadSignature)?;
        let root = policy.trusted_root;
        let (logged_at, log_index) =
            self.prove_in_log(Signer::Certificate(leaf), signature, root)?;
        let mut times: Vec<i64> = logged_at.into_iter().collect();
        for token in self.timestamps {
            times.push(
                crate::timestamp::verify(token, signature, root)
                    .map_err(|why| VerifyError::Timestamp(why.to_owned()))?,
            );
        }
        // The ten-minute leaf and its chain must be valid at every proved time.
        let signed_at = *times.first().ok_or(LogError::NoSignedTime)?;
        for &at in &times {
            leaf.check_valid_at(at)?;
            root.issuer_of(leaf, at)?;
        }
        let names = leaf.identities();
        let issuer = leaf.oidc_issuer();
        for (rule, identity) in policy.identities.iter().enumerate() {
            if identity.matches(&names, issuer.as_deref()) {
                let name = names
                    .iter()
                    .find(|n| identity.matches(std::slice::from_ref(n), issuer.as_deref()))
                    .cloned()
                    .unwrap_or_default();
                return Ok(Verdict::Keyless(KeylessSigner {
                    rule,
                    identity: name,
                    issuer,
                    signed_at,
                    log_index,
                }));
            }
        }
        Err(VerifyError::UntrustedIdentity {
            identity: names.first().cloned().unwrap_or_default(),
            issuer,
        })
    }

    /// The first entry that a log of the root proves and that is about this signature;
    /// otherwise the first entry's reason.
    fn prove_in_log(
        &self,
        signer: Signer<'_>,
        signature: &[u8],
        root: &TrustedRoot,
    ) -> Result<(Option<i64>, i64), VerifyError> {
        let mut first_error = None;
        for entry in self.log_entries.clone()? {
            let proved = entry.prove(root).and_then(|time| {
                check_body(&entry.body, self.logged_payload, signature, signer)?;
                Ok(time)
            });
            match proved {
                Ok(time) => return Ok((time, entry.log_index)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(LogError::NoEntry).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://token.actions.githubusercontent.com";

    fn names(name: &str) -> Vec<String> {
        vec![name.to_owned()]
    }

    #[test]
    fn a_regex_matches_the_whole_name_even_with_alternatives() {
        let id = Identity::regex(ISSUER, "^https://good$|^evil$").unwrap();
        assert!(!id.was_anchored());
        let id = Identity::regex(ISSUER, "^https://good$|evil").unwrap();
        assert!(id.was_anchored());
        assert!(id.matches(&names("https://good"), Some(ISSUER)));
        assert!(id.matches(&names("evil"), Some(ISSUER)));
        assert!(!id.matches(&names("https://evil.example"), Some(ISSUER)));
        let id = Identity::regex(ISSUER, "good").unwrap();
        assert!(id.was_anchored());
        assert!(!id.matches(&names("not-good"), Some(ISSUER)));
    }

    #[test]
    fn the_issuer_must_be_equal_and_present_when_required() {
        let id = Identity::exact(ISSUER, "a@example.com");
        assert!(id.matches(&names("a@example.com"), Some(ISSUER)));
        assert!(!id.matches(&names("a@example.com"), None));
        assert!(!id.matches(&names("a@example.com"), Some("https://accounts.google.com")));
        let old = Identity::exact(ISSUER, "a@example.com").without_issuer();
        assert!(old.matches(&names("a@example.com"), None));
        assert!(!old.matches(&names("a@example.com"), Some(ISSUER)));
    }

    #[test]
    fn a_bad_regex_is_a_typed_error() {
        assert!(matches!(
            Identity::regex(ISSUER, "("),
            Err(IdentityError::Regex { .. })
        ));
    }
}
