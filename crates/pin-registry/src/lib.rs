//! A small client for the OCI distribution API, as `pin` needs it: image references
//! and digests, the transport (per-host cap, retries, deadlines, body caps, redirects
//! that keep credentials at home), authentication (challenges, Basic, bearer tokens),
//! credentials from Docker's and Podman's files and helpers, manifests and platforms.
//!
//! ```no_run
//! use pin_registry::{ImageRef, Lookup, RegistryConfig, RegistryResolver, Resolver};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let resolver = RegistryResolver::new(RegistryConfig::default())?;
//! let image = ImageRef::parse("python:3.12-slim")?;
//! let digest = resolver.resolve(&Lookup::of(&image)).await?;
//! println!("{image} is {digest}");
//! # Ok(())
//! # }
//! ```
//!
//! Every request asks for the four manifest media types, reads at most
//! [`MAX_MANIFEST_BYTES`], and is answered once per distinct tag however many callers
//! ask at once. Errors are typed ([`ResolveErrorKind`]) and never carry a secret.
#![deny(missing_docs)]

pub mod artifacts;
mod auth;
mod client;
pub mod credentials;
mod error;
mod gate;
mod lookup;
mod manifest;
mod mirror;
mod platform;
pub mod reference;
mod text;
mod tokens;
pub mod transport;

pub use artifacts::{ArtifactSource, Artifacts, ImageFacts, SignatureSet, SignedLayer};
pub use auth::MAX_TOKEN_BYTES;
pub use client::{
    DEFAULT_PER_HOST_JOBS, LOOKUP_DEADLINE, RUN_DEADLINE, RegistryConfig, RegistryResolver,
    SetupError,
};
pub use credentials::{CredentialError, CredentialSources};
pub use error::{ResolveError, ResolveErrorKind};
pub use lookup::{Lookup, Resolver, StaticResolver, resolve_all, resolve_each};
pub use manifest::MAX_MANIFEST_BYTES;
pub use mirror::{Mirror, MirrorError};
pub use platform::{Platform, PlatformError};
pub use reference::{DOCKER_HUB, Digest, DigestError, ImageRef, ReferenceError};
