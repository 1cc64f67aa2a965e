//! Verification of cosign and Sigstore signatures of container images, from bytes alone.
//!
//! pin fetches every byte itself (signature manifests, layers, Sigstore bundles, the trusted
//! root); this crate only decides whether those bytes prove that a digest was signed by a key
//! or an identity the user trusts. It opens no connection and reads no clock: a keyless
//! certificate is checked at the time the transparency log proves, never at "now".
//!
//! Two signature forms are understood, the two that cosign writes:
//! - cosign v2 *simple signing* ([`SimpleSigning`]): a JSON payload naming the manifest digest,
//!   a base64 signature over its exact bytes, and for keyless signatures a Fulcio certificate
//!   and a Rekor signed entry timestamp;
//! - cosign v3 *Sigstore bundles* v0.3 ([`Bundle`]): a DSSE envelope around an in-toto
//!   statement whose subject is the digest, with a certificate or a key hint and Rekor proofs.
//!
//! [`verify`] checks either against a [`Policy`] (keys, keyless identities, a [`TrustedRoot`])
//! and returns a [`Verdict`] saying which key or identity accepted it, or a [`VerifyError`]
//! that separates "signed, but by no one trusted" from "not a valid signature at all".
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod bundle;
mod certificate;
mod der_util;
mod error;
mod key;
mod pem;
mod rekor;
mod simple_signing;
mod time;
mod timestamp;
mod trusted_root;
mod verify;

#[cfg(feature = "signing")]
pub mod signing;

pub use bundle::Bundle;
pub use error::{CertificateError, LogError, Malformed, VerifyError};
pub use key::{KeyAlgorithm, KeyError, PublicKey};
pub use simple_signing::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SIGNATURE_ANNOTATION,
    SimpleSigning,
};
pub use trusted_root::{TrustedRoot, TrustedRootError};
pub use verify::{
    Identity, IdentityError, KeylessSigner, Policy, Signature, SubjectMatcher, Verdict, verify,
};

/// The in-toto predicate type cosign v3 writes for an image signature (`cosign sign`).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The media type of a Sigstore bundle v0.3, as cosign v3 attaches it to an image.
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// The media type of a cosign v2 simple-signing signature layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// The `critical.type` of a cosign container image signature payload.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
