//! Public keys as cosign writes them (`cosign.pub`: a PEM `PUBLIC KEY`), and signature checks.

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use der::Decode as _;
use der::asn1::ObjectIdentifier;
use thiserror::Error;
use x509_cert::spki::SubjectPublicKeyInfoRef;

use crate::pem;

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

/// The algorithm of a [`PublicKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (cosign's default).
    EcdsaP256,
    /// ECDSA on NIST P-384 with SHA-384.
    EcdsaP384,
    /// ECDSA on NIST P-521 with SHA-512.
    EcdsaP521,
    /// RSA, 2048 to 8192 bits: PKCS#1 v1.5 or PSS signatures with SHA-256.
    Rsa,
    /// Ed25519 over the message itself.
    Ed25519,
}

/// Why a key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// No PEM block at all: not a key file.
    #[error("not a PEM public key: no `-----BEGIN PUBLIC KEY-----` block found")]
    NotPem,
    /// A PEM block that is cut short or whose base64 is broken.
    #[error("broken PEM: {0}")]
    BrokenPem(String),
    /// A certificate was given where a key was expected.
    #[error(
        "this is a certificate, not a public key: give the PEM public key (`openssl x509 -pubkey -noout`)"
    )]
    Certificate,
    /// A private key was given where a public key was expected.
    #[error(
        "this is a private key (`{label}`), which must not be shared: give the public key (`cosign public-key --key …`)"
    )]
    PrivateKey {
        /// The PEM label found.
        label: String,
    },
    /// Some other PEM block.
    #[error("unexpected PEM block `{0}`: expected `PUBLIC KEY`")]
    UnexpectedBlock(String),
    /// More than one block: a key file holds one key.
    #[error("{0} PEM blocks: a key file holds exactly one public key")]
    SeveralBlocks(usize),
    /// The DER inside is not a public key.
    #[error("malformed public key: {0}")]
    Malformed(String),
    /// A well-formed key of an algorithm cosign signatures do not use.
    #[error("unsupported key algorithm {0}")]
    UnsupportedAlgorithm(String),
}

/// A public key that verifies signatures: ECDSA (P-256, P-384, P-521), RSA or Ed25519.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    /// The key as aws-lc-rs takes it: an EC point, a PKCS#1 `RSAPublicKey`, or 32 Ed25519 bytes.
    raw: Vec<u8>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({:?})", self.algorithm)
    }
}

impl PublicKey {
    /// Reads a PEM public key: `PUBLIC KEY` (SubjectPublicKeyInfo, what cosign writes) or
    /// `RSA PUBLIC KEY` (PKCS#1). Certificates, private keys and anything else are refused.
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let blocks = pem::parse_all(text).map_err(|e| match e {
            pem::PemError::NoBlock => KeyError::NotPem,
            pem::PemError::Unterminated(label) => {
                KeyError::BrokenPem(format!("`{label}` block has no END line"))
            }
            pem::PemError::Base64(e) => KeyError::BrokenPem(e),
        })?;
        let [block] = blocks.as_slice() else {
            return Err(KeyError::SeveralBlocks(blocks.len()));
        };
        match block.label.as_str() {
            "PUBLIC KEY" => Self::from_spki_der(&block.der),
            "RSA PUBLIC KEY" => Self::from_pkcs1_rsa(&block.der),
            "CERTIFICATE" | "TRUSTED CERTIFICATE" => Err(KeyError::Certificate),
            label if label.contains("PRIVATE KEY") => Err(KeyError::PrivateKey {
                label: label.to_owned(),
            }),
            label => Err(KeyError::UnexpectedBlock(label.to_owned())),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (as in certificates and Sigstore's trusted root).
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| KeyError::Malformed(e.to_string()))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| KeyError::Malformed("key bits are not whole bytes".into()))?
            .to_vec();
        let oid = spki.algorithm.oid;
        let algorithm = if oid == ID_EC_PUBLIC_KEY {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .ok_or_else(|| KeyError::Malformed("EC key without a named curve".into()))?
                .decode_as()
                .map_err(|e| KeyError::Malformed(e.to_string()))?;
            match curve {
                c if c == PRIME256V1 => KeyAlgorithm::EcdsaP256,
                c if c == SECP384R1 => KeyAlgorithm::EcdsaP384,
                c if c == SECP521R1 => KeyAlgorithm::EcdsaP521,
                c => return Err(KeyError::UnsupportedAlgorithm(format!("EC curve {c}"))),
            }
        } else if oid == RSA_ENCRYPTION {
            KeyAlgorithm::Rsa
        } else if oid == ID_ED25519 {
            KeyAlgorithm::Ed25519
        } else {
            return Err(KeyError::UnsupportedAlgorithm(oid.to_string()));
        };
        let key = Self { algorithm, raw };
        key.check_parses()?;
        Ok(key)
    }

    fn from_pkcs1_rsa(der: &[u8]) -> Result<Self, KeyError> {
        let key = Self {
            algorithm: KeyAlgorithm::Rsa,
            raw: der.to_vec(),
        };
        key.check_parses()?;
        Ok(key)
    }

    /// Refuses, at load time, bytes that aws-lc-rs will not take as a key, so that a broken key
    /// file is reported as such rather than as "signed by no key".
    fn check_parses(&self) -> Result<(), KeyError> {
        let valid = match self.algorithm {
            KeyAlgorithm::EcdsaP256 => {
                sig::ParsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, &self.raw).is_ok()
            }
            KeyAlgorithm::EcdsaP384 => {
                sig::ParsedPublicKey::new(&sig::ECDSA_P384_SHA384_ASN1, &self.raw).is_ok()
            }
            KeyAlgorithm::EcdsaP521 => {
                sig::ParsedPublicKey::new(&sig::ECDSA_P521_SHA512_ASN1, &self.raw).is_ok()
            }
            KeyAlgorithm::Rsa => {
                sig::ParsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, &self.raw).is_ok()
            }
            KeyAlgorithm::Ed25519 => self.raw.len() == sig::ED25519_PUBLIC_KEY_LEN,
        };
        if valid {
            Ok(())
        } else {
            Err(KeyError::Malformed(format!(
                "not a valid {:?} public key",
                self.algorithm
            )))
        }
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Whether `signature` is a signature of `message` by this key, as cosign makes them:
    /// ASN.1 DER ECDSA with the curve's hash, RSA PKCS#1 v1.5 or PSS with SHA-256, Ed25519.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        match self.algorithm {
            KeyAlgorithm::EcdsaP256 => self.check(&sig::ECDSA_P256_SHA256_ASN1, message, signature),
            KeyAlgorithm::EcdsaP384 => self.check(&sig::ECDSA_P384_SHA384_ASN1, message, signature),
            KeyAlgorithm::EcdsaP521 => self.check(&sig::ECDSA_P521_SHA512_ASN1, message, signature),
            KeyAlgorithm::Rsa => {
                self.check(&sig::RSA_PKCS1_2048_8192_SHA256, message, signature)
                    || self.check(&sig::RSA_PSS_2048_8192_SHA256, message, signature)
            }
            KeyAlgorithm::Ed25519 => self.check(&sig::ED25519, message, signature),
        }
    }

    /// Whether `signature` over `message` verifies under the X.509 signature algorithm `oid`
    /// (certificate and timestamp signatures name their algorithm).
    pub(crate) fn verifies_x509(
        &self,
        oid: ObjectIdentifier,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let algorithm: &dyn VerificationAlgorithm = match (self.algorithm, oid) {
            (KeyAlgorithm::EcdsaP256, o) if o == ECDSA_WITH_SHA256 => &sig::ECDSA_P256_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP256, o) if o == ECDSA_WITH_SHA384 => &sig::ECDSA_P256_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP256, o) if o == ECDSA_WITH_SHA512 => &sig::ECDSA_P256_SHA512_ASN1,
            (KeyAlgorithm::EcdsaP384, o) if o == ECDSA_WITH_SHA256 => &sig::ECDSA_P384_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP384, o) if o == ECDSA_WITH_SHA384 => &sig::ECDSA_P384_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP384, o) if o == ECDSA_WITH_SHA512 => &sig::ECDSA_P384_SHA512_ASN1,
            (KeyAlgorithm::EcdsaP521, o) if o == ECDSA_WITH_SHA256 => &sig::ECDSA_P521_SHA256_ASN1,
            (KeyAlgorithm::EcdsaP521, o) if o == ECDSA_WITH_SHA384 => &sig::ECDSA_P521_SHA384_ASN1,
            (KeyAlgorithm::EcdsaP521, o) if o == ECDSA_WITH_SHA512 => &sig::ECDSA_P521_SHA512_ASN1,
            (KeyAlgorithm::Rsa, o) if o == SHA256_WITH_RSA => &sig::RSA_PKCS1_2048_8192_SHA256,
            (KeyAlgorithm::Rsa, o) if o == SHA384_WITH_RSA => &sig::RSA_PKCS1_2048_8192_SHA384,
            (KeyAlgorithm::Rsa, o) if o == SHA512_WITH_RSA => &sig::RSA_PKCS1_2048_8192_SHA512,
            (KeyAlgorithm::Ed25519, o) if o == ID_ED25519 => &sig::ED25519,
            _ => return false,
        };
        self.check(algorithm, message, signature)
    }

    fn check(
        &self,
        algorithm: &'static dyn VerificationAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        UnparsedPublicKey::new(algorithm, &self.raw)
            .verify(message, signature)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECDSA: &str = include_str!("../tests/fixtures/rs-keyed-ecdsa-busybox/cosign.pub");
    const RSA: &str = include_str!("../tests/fixtures/rs-keyed-rsa-suse-toolbox/cosign.pub");
    const CERT: &str =
        include_str!("../tests/fixtures/rs-keyless-2021-disallow-service-nodeport/cert.pem");

    #[test]
    fn reads_cosign_keys() {
        assert_eq!(
            PublicKey::from_pem(ECDSA).unwrap().algorithm(),
            KeyAlgorithm::EcdsaP256
        );
        assert_eq!(
            PublicKey::from_pem(RSA).unwrap().algorithm(),
            KeyAlgorithm::Rsa
        );
    }

    #[test]
    fn refuses_what_is_not_a_public_key() {
        assert_eq!(PublicKey::from_pem(CERT), Err(KeyError::Certificate));
        assert_eq!(PublicKey::from_pem("garbage\n"), Err(KeyError::NotPem));
        assert_eq!(PublicKey::from_pem(""), Err(KeyError::NotPem));
        let private = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        assert!(matches!(
            PublicKey::from_pem(private),
            Err(KeyError::PrivateKey { .. })
        ));
        let junk = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PublicKey::from_pem(junk),
            Err(KeyError::Malformed(_))
        ));
        let bad64 = "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n";
        assert!(matches!(
            PublicKey::from_pem(bad64),
            Err(KeyError::BrokenPem(_))
        ));
        let two = format!("{ECDSA}{ECDSA}");
        assert_eq!(PublicKey::from_pem(&two), Err(KeyError::SeveralBlocks(2)));
    }

    #[test]
    fn an_ec_key_with_its_point_changed_is_refused() {
        // Flip a byte of the point: it leaves the curve, and loading says so.
        let key = PublicKey::from_pem(ECDSA).unwrap();
        let mut raw = key.raw.clone();
        raw[40] ^= 1;
        let broken = PublicKey {
            algorithm: key.algorithm,
            raw,
        };
        assert!(broken.check_parses().is_err());
    }
}
