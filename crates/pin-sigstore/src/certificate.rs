//! Fulcio certificates: the leaf's identity and issuer, and its chain to a trusted CA.

use der::asn1::{ObjectIdentifier, Utf8StringRef};
use der::{Decode as _, Encode as _};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

use crate::der_util;
use crate::error::CertificateError;
use crate::key::PublicKey;
use crate::pem;

const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio's OIDC issuer, DER UTF8String (Fulcio since 2023).
pub(crate) const OIDC_ISSUER_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// Fulcio's first OIDC issuer extension: the raw string, deprecated for the one above.
pub(crate) const OIDC_ISSUER_V1: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

/// A parsed X.509 certificate, with the exact DER it came from and its key.
#[derive(Clone)]
pub(crate) struct Cert {
    pub(crate) der: Vec<u8>,
    pub(crate) parsed: Certificate,
    pub(crate) key: PublicKey,
}

impl Cert {
    pub(crate) fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let parsed =
            Certificate::from_der(der).map_err(|e| CertificateError::Unreadable(e.to_string()))?;
        let spki = parsed
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| CertificateError::Unreadable(e.to_string()))?;
        let key = PublicKey::from_spki_der(&spki)
            .map_err(|e| CertificateError::Unreadable(e.to_string()))?;
        Ok(Self {
            der: der.to_vec(),
            parsed,
            key,
        })
    }

    /// The first `CERTIFICATE` block of PEM text (cosign's certificate annotation).
    pub(crate) fn from_pem(text: &str) -> Result<Self, CertificateError> {
        let blocks = pem::parse_all(text)
            .map_err(|_| CertificateError::Unreadable("not a PEM certificate".into()))?;
        let block = blocks
            .iter()
            .find(|b| b.label == "CERTIFICATE")
            .ok_or_else(|| CertificateError::Unreadable("no CERTIFICATE block".into()))?;
        Self::from_der(&block.der)
    }

    fn validity(&self) -> (i64, i64) {
        let v = &self.parsed.tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(v.not_before), secs(v.not_after))
    }

    pub(crate) fn check_valid_at(&self, at: i64) -> Result<(), CertificateError> {
        let (not_before, not_after) = self.validity();
        if at < not_before || at > not_after {
            return Err(CertificateError::NotValidAt {
                at,
                not_before,
                not_after,
            });
        }
        Ok(())
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        self.parsed
            .tbs_certificate
            .extensions
            .as_ref()?
            .iter()
            .find(|e| e.extn_id == oid)
            .map(|e| e.extn_value.as_bytes())
    }

    /// The subject alternative names a signer identity can be: URIs and e-mail addresses.
    pub(crate) fn identities(&self) -> Vec<String> {
        let Some(value) = self.extension(SUBJECT_ALT_NAME) else {
            return Vec::new();
        };
        let Ok(names) = SubjectAltName::from_der(value) else {
            return Vec::new();
        };
        names
            .0
            .iter()
            .filter_map(|name| match name {
                GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                GeneralName::Rfc822Name(email) => Some(email.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8, else the older 1.1.
    pub(crate) fn oidc_issuer(&self) -> Option<String> {
        if let Some(value) = self.extension(OIDC_ISSUER_V2) {
            return Utf8StringRef::from_der(value)
                .ok()
                .map(|s| s.as_str().to_owned());
        }
        self.extension(OIDC_ISSUER_V1)
            .and_then(|raw| std::str::from_utf8(raw).ok())
            .map(str::to_owned)
    }

    /// A signing leaf: code-signing use, and no critical extension that this crate ignores
    /// (RFC 5280 §4.2: an unknown critical extension means "do not use").
    pub(crate) fn check_code_signing_leaf(&self) -> Result<(), CertificateError> {
        let known = [
            SUBJECT_ALT_NAME,
            KEY_USAGE,
            BASIC_CONSTRAINTS,
            EXTENDED_KEY_USAGE,
        ];
        let extensions = self
            .parsed
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[]);
        if let Some(unknown) = extensions
            .iter()
            .find(|e| e.critical && !known.contains(&e.extn_id))
        {
            return Err(CertificateError::NotForCodeSigning(format!(
                "unknown critical extension {}",
                unknown.extn_id
            )));
        }
        if self.is_ca() {
            return Err(CertificateError::NotForCodeSigning("it is a CA".into()));
        }
        match self.extension(EXTENDED_KEY_USAGE) {
            Some(value) => {
                let usages = ExtendedKeyUsage::from_der(value)
                    .map_err(|e| CertificateError::Unreadable(e.to_string()))?;
                if usages.0.contains(&CODE_SIGNING) {
                    Ok(())
                } else {
                    Err(CertificateError::NotForCodeSigning(
                        "no code-signing extended key usage".into(),
                    ))
                }
            }
            None => Err(CertificateError::NotForCodeSigning(
                "no extended key usage".into(),
            )),
        }
    }

    fn is_ca(&self) -> bool {
        self.extension(BASIC_CONSTRAINTS)
            .and_then(|v| BasicConstraints::from_der(v).ok())
            .is_some_and(|bc| bc.ca)
    }

    /// Whether `issuer` issued this certificate: names match and its key verifies the exact
    /// `tbsCertificate` bytes under the algorithm the certificate names.
    pub(crate) fn is_issued_by(&self, issuer: &Cert) -> bool {
        let tbs = &self.parsed.tbs_certificate;
        if tbs.issuer != issuer.parsed.tbs_certificate.subject
            || tbs.signature.oid != self.parsed.signature_algorithm.oid
        {
            return false;
        }
        let (Some(tbs_bytes), Some(signature)) = (
            der_util::first_inner_element(&self.der),
            self.parsed.signature.as_bytes(),
        ) else {
            return false;
        };
        issuer
            .key
            .verifies_x509(self.parsed.signature_algorithm.oid, tbs_bytes, signature)
    }

    /// Whether this certificate may issue others (basic constraints `cA`).
    pub(crate) fn may_issue(&self) -> bool {
        self.is_ca()
    }
}
