//! Test signing: what pin's end-to-end tests need to sign images the way cosign does, without
//! cosign and without the network. Behind the `signing` feature; not for production keys (the
//! keys live in memory only, and the stand-in Sigstore trusts whatever it is told).
//!
//! - [`SigningKey`]: an ECDSA P-256 key pair, its public key in cosign's PEM format;
//! - [`sign_simple_signing`] and [`key_bundle`]: the two signature forms, key-based;
//! - [`StandInSigstore`]: a Fulcio CA, a Rekor log key and the `trusted_root.json` naming them,
//!   which issues leaf certificates for an identity and logs keyless signatures with a signed
//!   entry timestamp, an inclusion proof and a signed checkpoint.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::{BitString, Ia5String, ObjectIdentifier, OctetString, UtcTime, Utf8StringRef};
use der::{Decode as _, Encode as _};
use serde_json::{Value, json};
use thiserror::Error;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::certificate::{OIDC_ISSUER_V1, OIDC_ISSUER_V2};
use crate::key::PublicKey;
use crate::rekor::{hex, leaf_hash, root_from_path, sha256_hex};
use crate::time::format_rfc3339;
use crate::{BUNDLE_V03_MEDIA_TYPE, COSIGN_SIGN_PREDICATE, SIMPLE_SIGNING_TYPE};

/// Why test material could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigningError {
    /// The system random source or the key generator failed.
    #[error("key generation or signing failed")]
    Crypto,
    /// A value that X.509 cannot hold (a non-ASCII identity, a time past 2049).
    #[error("cannot encode {0} in a certificate")]
    Encoding(String),
}

impl From<der::Error> for SigningError {
    fn from(e: der::Error) -> Self {
        Self::Encoding(e.to_string())
    }
}

const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");

/// An ECDSA P-256 key pair, as `cosign generate-key-pair` makes (in memory only).
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(ECDSA P-256)")
    }
}

impl SigningKey {
    /// A fresh random key pair.
    pub fn generate() -> Result<Self, SigningError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING)
            .map_err(|_| SigningError::Crypto)?;
        Ok(Self { pair })
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// The public key as cosign writes `cosign.pub`.
    pub fn public_key_pem(&self) -> String {
        crate::pem::encode("PUBLIC KEY", &self.public_key_der())
    }

    /// The public key, ready for a [`crate::Policy`].
    pub fn public_key(&self) -> Result<PublicKey, SigningError> {
        PublicKey::from_spki_der(&self.public_key_der()).map_err(|_| SigningError::Crypto)
    }

    /// An ASN.1 DER ECDSA signature of SHA-256(`message`).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        self.pair
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SigningError::Crypto)
    }
}

/// The simple-signing payload cosign signs for `digest` (and the reference it was signed as).
pub fn simple_signing_payload(digest: &str, docker_reference: Option<&str>) -> Vec<u8> {
    json!({
        "critical": {
            "identity": {"docker-reference": docker_reference.unwrap_or_default()},
            "image": {"docker-manifest-digest": digest},
            "type": SIMPLE_SIGNING_TYPE,
        },
        "optional": null,
    })
    .to_string()
    .into_bytes()
}

/// A signature layer as pushed in a `sha256-<hex>.sig` manifest: the blob and its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLayer {
    /// The layer blob: the signed payload.
    pub payload: Vec<u8>,
    /// The layer's annotations (`dev.cosignproject.cosign/signature`, and for keyless
    /// signatures the certificate, chain and Rekor bundle).
    pub annotations: Vec<(String, String)>,
}

impl SignedLayer {
    /// The layer as this crate verifies it.
    pub fn to_simple_signing(&self) -> crate::SimpleSigning {
        crate::SimpleSigning::from_layer(
            self.payload.clone(),
            self.annotations
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .unwrap_or_else(|_| crate::SimpleSigning::new(self.payload.clone(), String::new()))
    }
}

/// A key-based cosign v2 signature of `digest`.
pub fn sign_simple_signing(
    key: &SigningKey,
    digest: &str,
    docker_reference: Option<&str>,
) -> Result<SignedLayer, SigningError> {
    let payload = simple_signing_payload(digest, docker_reference);
    let signature = STANDARD.encode(key.sign(&payload)?);
    Ok(SignedLayer {
        payload,
        annotations: vec![(crate::SIGNATURE_ANNOTATION.to_owned(), signature)],
    })
}

/// The in-toto statement cosign v3 signs for `digest` (`sha256:<hex>`).
pub fn signature_statement(digest: &str) -> Vec<u8> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"digest": {algorithm: hex}}],
        "predicateType": COSIGN_SIGN_PREDICATE,
    })
    .to_string()
    .into_bytes()
}

const IN_TOTO: &str = "application/vnd.in-toto+json";

fn pae(payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {IN_TOTO} {} ", IN_TOTO.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

fn envelope(payload: &[u8], signature: &[u8]) -> Value {
    json!({
        "payload": STANDARD.encode(payload),
        "payloadType": IN_TOTO,
        "signatures": [{"sig": STANDARD.encode(signature)}],
    })
}

/// A key-based cosign v3 bundle v0.3 for `digest` (DSSE, a `publicKey` hint, no log entry).
pub fn key_bundle(key: &SigningKey, digest: &str) -> Result<String, SigningError> {
    let payload = signature_statement(digest);
    let signature = key.sign(&pae(&payload))?;
    let hint = STANDARD.encode(digest_bytes(&key.public_key_der()));
    Ok(json!({
        "mediaType": BUNDLE_V03_MEDIA_TYPE,
        "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
        "dsseEnvelope": envelope(&payload, &signature),
    })
    .to_string())
}

fn digest_bytes(bytes: &[u8]) -> Vec<u8> {
    digest(&SHA256, bytes).as_ref().to_vec()
}

fn x509_time(secs: i64) -> Result<Time, SigningError> {
    let secs = u64::try_from(secs).map_err(|_| SigningError::Encoding(format!("time {secs}")))?;
    Ok(Time::UtcTime(UtcTime::from_unix_duration(
        Duration::from_secs(secs),
    )?))
}

fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: Vec<u8>,
) -> Result<Extension, SigningError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value)?,
    })
}

/// Signs a certificate for `subject_key` with `issuer_key`.
fn certificate(
    issuer: &Name,
    issuer_key: &SigningKey,
    subject: Name,
    subject_key: &SigningKey,
    (not_before, not_after): (i64, i64),
    extensions: Vec<Extension>,
    serial: u32,
) -> Result<Vec<u8>, SigningError> {
    let algorithm = AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    };
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial.to_be_bytes())?,
        signature: algorithm.clone(),
        issuer: issuer.clone(),
        validity: Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        },
        subject,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(
            &subject_key.public_key_der(),
        )?,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signature = issuer_key.sign(&tbs.to_der()?)?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signature)?,
    }
    .to_der()?)
}

/// A Fulcio leaf certificate and its key, as issued for one signing.
#[derive(Debug)]
pub struct Leaf {
    /// The short-lived key the certificate certifies.
    pub key: SigningKey,
    /// The certificate, DER.
    pub certificate_der: Vec<u8>,
}

impl Leaf {
    /// The certificate as cosign's `dev.sigstore.cosign/certificate` annotation holds it.
    pub fn certificate_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.certificate_der)
    }
}

/// A stand-in for Sigstore's public-good instance: a Fulcio CA and a Rekor log key, both in
/// memory, valid from 2000 to 2049.
#[derive(Debug)]
pub struct StandInSigstore {
    ca_key: SigningKey,
    ca_name: Name,
    ca_der: Vec<u8>,
    log_key: SigningKey,
    log_host: String,
    next_log_index: AtomicI64,
    next_serial: AtomicI64,
}

const START: i64 = 946_684_800; // 2000-01-01
const END: i64 = 2_524_607_999; // 2049-12-31T23:59:59Z, the last UTCTime

impl StandInSigstore {
    /// A fresh CA and log key.
    pub fn new() -> Result<Self, SigningError> {
        let ca_key = SigningKey::generate()?;
        let ca_name: Name = "CN=stand-in fulcio,O=pin tests".parse()?;
        let ca_der = certificate(
            &ca_name,
            &ca_key,
            ca_name.clone(),
            &ca_key,
            (START, END),
            vec![
                extension(
                    ObjectIdentifier::new_unwrap("2.5.29.19"),
                    true,
                    BasicConstraints {
                        ca: true,
                        path_len_constraint: Some(1),
                    }
                    .to_der()?,
                )?,
                extension(
                    ObjectIdentifier::new_unwrap("2.5.29.15"),
                    true,
                    KeyUsage(KeyUsages::KeyCertSign.into()).to_der()?,
                )?,
            ],
            1,
        )?;
        Ok(Self {
            ca_key,
            ca_name,
            ca_der,
            log_key: SigningKey::generate()?,
            log_host: "rekor.stand-in.test".to_owned(),
            next_log_index: AtomicI64::new(1000),
            next_serial: AtomicI64::new(2),
        })
    }

    /// The CA certificate, PEM (cosign's `dev.sigstore.cosign/chain`).
    pub fn ca_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.ca_der)
    }

    fn log_id(&self) -> Vec<u8> {
        digest_bytes(&self.log_key.public_key_der())
    }

    /// A `trusted_root.json` naming this CA and log, for pin's `trusted-root` setting.
    pub fn trusted_root_json(&self) -> String {
        let start = format_rfc3339(START);
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("https://{}", self.log_host),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(self.log_key.public_key_der()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": STANDARD.encode(self.log_id())},
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "pin tests", "commonName": "stand-in fulcio"},
                "uri": "https://fulcio.stand-in.test",
                "certChain": {"certificates": [{"rawBytes": STANDARD.encode(&self.ca_der)}]},
                "validFor": {"start": start, "end": format_rfc3339(END)},
            }],
            "ctlogs": [],
            "timestampAuthorities": [],
        })
        .to_string()
    }

    /// A leaf for `identity` (a URI when it has a scheme, else an e-mail address) from OIDC
    /// `issuer`, valid for ten minutes from `issued_at` (Unix seconds), as Fulcio issues them.
    pub fn issue(
        &self,
        identity: &str,
        issuer: &str,
        issued_at: i64,
    ) -> Result<Leaf, SigningError> {
        let key = SigningKey::generate()?;
        let ia5 = Ia5String::new(identity)
            .map_err(|_| SigningError::Encoding(format!("identity {identity:?}")))?;
        let name = if identity.contains("://") {
            GeneralName::UniformResourceIdentifier(ia5)
        } else {
            GeneralName::Rfc822Name(ia5)
        };
        let extensions = vec![
            extension(
                ObjectIdentifier::new_unwrap("2.5.29.15"),
                true,
                KeyUsage(KeyUsages::DigitalSignature.into()).to_der()?,
            )?,
            extension(
                ObjectIdentifier::new_unwrap("2.5.29.37"),
                false,
                ExtendedKeyUsage(vec![CODE_SIGNING]).to_der()?,
            )?,
            extension(
                ObjectIdentifier::new_unwrap("2.5.29.17"),
                true,
                SubjectAltName(vec![name]).to_der()?,
            )?,
            extension(OIDC_ISSUER_V1, false, issuer.as_bytes().to_vec())?,
            extension(OIDC_ISSUER_V2, false, Utf8StringRef::new(issuer)?.to_der()?)?,
        ];
        let serial = u32::try_from(self.next_serial.fetch_add(1, Ordering::Relaxed)).unwrap_or(2);
        let certificate_der = certificate(
            &self.ca_name,
            &self.ca_key,
            Name::default(),
            &key,
            (issued_at, issued_at + 600),
            extensions,
            serial,
        )?;
        Ok(Leaf {
            key,
            certificate_der,
        })
    }

    /// The SET over an entry: the log's signature of its canonical JSON.
    fn log_entry(&self, body: &[u8], integrated_time: i64) -> Result<(i64, Vec<u8>), SigningError> {
        let log_index = self.next_log_index.fetch_add(1, Ordering::Relaxed);
        let canonical = format!(
            "{{\"body\":{},\"integratedTime\":{integrated_time},\"logID\":{},\"logIndex\":{log_index}}}",
            Value::from(STANDARD.encode(body)),
            Value::from(hex(&self.log_id())),
        );
        Ok((log_index, self.log_key.sign(canonical.as_bytes())?))
    }

    /// A keyless cosign v2 signature of `digest` by `leaf`, logged at `integrated_time` as a
    /// `hashedrekord` entry with a signed entry timestamp.
    pub fn sign_simple_signing(
        &self,
        leaf: &Leaf,
        digest: &str,
        docker_reference: Option<&str>,
        integrated_time: i64,
    ) -> Result<SignedLayer, SigningError> {
        let payload = simple_signing_payload(digest, docker_reference);
        let signature = leaf.key.sign(&payload)?;
        let mut layer = self.logged_layer(
            payload,
            &signature,
            &leaf.certificate_pem(),
            integrated_time,
        )?;
        layer.annotations.insert(
            1,
            (
                crate::CERTIFICATE_ANNOTATION.to_owned(),
                leaf.certificate_pem(),
            ),
        );
        layer
            .annotations
            .insert(2, (crate::CHAIN_ANNOTATION.to_owned(), self.ca_pem()));
        Ok(layer)
    }

    /// A key-based cosign v2 signature of `digest`, logged at `integrated_time` as cosign
    /// does by default (a `hashedrekord` entry naming the public key, with its SET).
    pub fn sign_simple_signing_with_key(
        &self,
        key: &SigningKey,
        digest: &str,
        docker_reference: Option<&str>,
        integrated_time: i64,
    ) -> Result<SignedLayer, SigningError> {
        let payload = simple_signing_payload(digest, docker_reference);
        let signature = key.sign(&payload)?;
        self.logged_layer(payload, &signature, &key.public_key_pem(), integrated_time)
    }

    /// The signature and Rekor bundle annotations of a logged simple-signing signature.
    fn logged_layer(
        &self,
        payload: Vec<u8>,
        signature: &[u8],
        verifier_pem: &str,
        integrated_time: i64,
    ) -> Result<SignedLayer, SigningError> {
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": sha256_hex(&payload)}},
                "signature": {
                    "content": STANDARD.encode(signature),
                    "publicKey": {"content": STANDARD.encode(verifier_pem)},
                },
            },
        })
        .to_string()
        .into_bytes();
        let (log_index, set) = self.log_entry(&body, integrated_time)?;
        let rekor_bundle = json!({
            "SignedEntryTimestamp": STANDARD.encode(set),
            "Payload": {
                "body": STANDARD.encode(&body),
                "integratedTime": integrated_time,
                "logIndex": log_index,
                "logID": hex(&self.log_id()),
            },
        });
        Ok(SignedLayer {
            payload,
            annotations: vec![
                (
                    crate::SIGNATURE_ANNOTATION.to_owned(),
                    STANDARD.encode(signature),
                ),
                (
                    crate::BUNDLE_ANNOTATION.to_owned(),
                    rekor_bundle.to_string(),
                ),
            ],
        })
    }

    /// A keyless cosign v3 bundle v0.3 for `digest` by `leaf`: DSSE, a `dsse` entry with a
    /// signed entry timestamp, an inclusion proof in a two-entry tree and a signed checkpoint.
    pub fn sign_bundle(
        &self,
        leaf: &Leaf,
        digest: &str,
        integrated_time: i64,
    ) -> Result<String, SigningError> {
        let payload = signature_statement(digest);
        let signature = leaf.key.sign(&pae(&payload))?;
        let envelope = envelope(&payload, &signature);
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(envelope.to_string().as_bytes())},
                "payloadHash": {"algorithm": "sha256", "value": sha256_hex(&payload)},
                "signatures": [{
                    "signature": STANDARD.encode(&signature),
                    "verifier": STANDARD.encode(leaf.certificate_pem()),
                }],
            },
        })
        .to_string()
        .into_bytes();
        let (log_index, set) = self.log_entry(&body, integrated_time)?;
        // The entry is leaf 1 of a two-leaf tree; leaf 0 stands for everyone else's entries.
        let neighbour = leaf_hash(b"an earlier entry");
        let root = root_from_path(1, 2, leaf_hash(&body), std::slice::from_ref(&neighbour))
            .ok_or(SigningError::Crypto)?;
        let note = format!("{} - 1\n2\n{}\n", self.log_host, STANDARD.encode(&root));
        let mut note_signature = self.log_id()[..4].to_vec();
        note_signature.extend(self.log_key.sign(note.as_bytes())?);
        let checkpoint = format!(
            "{note}\n\u{2014} {} {}\n",
            self.log_host,
            STANDARD.encode(note_signature)
        );
        Ok(json!({
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(&leaf.certificate_der)},
                "tlogEntries": [{
                    "logIndex": log_index.to_string(),
                    "logId": {"keyId": STANDARD.encode(self.log_id())},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": integrated_time.to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(set)},
                    "inclusionProof": {
                        "logIndex": "1",
                        "rootHash": STANDARD.encode(&root),
                        "treeSize": "2",
                        "hashes": [STANDARD.encode(&neighbour)],
                        "checkpoint": {"envelope": checkpoint},
                    },
                    "canonicalizedBody": STANDARD.encode(&body),
                }],
            },
            "dsseEnvelope": envelope,
        })
        .to_string())
    }
}
