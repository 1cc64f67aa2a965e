//! Resolution: distinct image tags in, the digests their registries serve now out.
//!
//! The pipeline talks to a [`Resolver`]; the real one, [`registry::RegistryResolver`],
//! asks registries over HTTP. Tests of everything else use a map.

pub mod credentials;
pub mod http;
pub mod registry;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use futures::future::BoxFuture;
use futures::stream::{self, StreamExt};
use thiserror::Error;

use crate::reference::{Digest, DigestError, ImageRef, canonical_registry};

/// What one registry round trip answers: the canonical registry, repository and tag.
///
/// Two references that differ only in spelling (`python:3.12`,
/// `docker.io/library/python:3.12`) have the same `Lookup` and are resolved once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lookup {
    /// Canonical registry host (`docker.io` for Docker Hub).
    pub registry: String,
    /// Canonical repository (`library/python`).
    pub repository: String,
    /// The tag (`latest` when none was written).
    pub tag: String,
    /// Under `--update`, the digest the reference is pinned to now. A resolver keeps
    /// the platform of a pin to one platform's manifest of a multi-arch tag.
    pub pinned: Option<String>,
}

impl Lookup {
    /// The lookup that resolves `image`'s tag.
    pub fn of(image: &ImageRef) -> Lookup {
        Lookup {
            registry: image.registry().to_string(),
            repository: image.repository(),
            tag: image.tag_or_latest().to_string(),
            pinned: None,
        }
    }

    /// The lookup that re-resolves `image`'s tag, knowing the digest it is pinned to.
    pub fn refreshing(image: &ImageRef) -> Lookup {
        Lookup {
            pinned: image.digest().map(str::to_string),
            ..Lookup::of(image)
        }
    }
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

/// A platform, `os/arch[/variant]`, as `--platform` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty());
        if !valid {
            return Err(format!(
                "platform {text:?} is not os/arch[/variant], e.g. linux/arm64/v8"
            ));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// `--mirror FROM=TO`: resolve references of registry FROM through TO, a host with an
/// optional port and path prefix. Files keep FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Canonical registry whose references are redirected.
    pub from: String,
    /// Host (and port) asked instead.
    pub host: String,
    /// Path prefix put in front of the repository on the mirror, without slashes at
    /// either end.
    pub prefix: Option<String>,
}

impl FromStr for Mirror {
    type Err = String;

    fn from_str(text: &str) -> Result<Mirror, String> {
        let (from, to) = text.split_once('=').ok_or_else(|| {
            format!("mirror {text:?} is not FROM=TO, e.g. docker.io=127.0.0.1:5000")
        })?;
        let to = to.trim_end_matches('/');
        let (host, prefix) = match to.split_once('/') {
            Some((host, prefix)) => (host, Some(prefix.trim_matches('/').to_string())),
            None => (to, None),
        };
        if from.is_empty() || host.is_empty() || from.contains('/') {
            return Err(format!(
                "mirror {text:?} is not FROM=TO, e.g. docker.io=127.0.0.1:5000/prefix"
            ));
        }
        Ok(Mirror {
            from: canonical_registry(from).to_string(),
            host: host.to_string(),
            prefix: prefix.filter(|p| !p.is_empty()),
        })
    }
}

/// Why a tag could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveErrorKind {
    /// 404: the registry has no such tag or repository.
    #[error("tag not found")]
    NotFound,
    /// 401/403: not allowed to pull. `tried` says which credentials were used (never
    /// their values).
    #[error("not authorized ({tried})")]
    Unauthorized {
        /// e.g. "no credentials" or "credentials from ~/.docker/config.json".
        tried: String,
    },
    /// The token endpoint refused or failed.
    #[error("token request failed: {0}")]
    Token(String),
    /// 429 after all retries.
    #[error("rate limited (HTTP 429){}", rate_limit_suffix(.remaining))]
    RateLimited {
        /// The `ratelimit-remaining` header, if present.
        remaining: Option<String>,
    },
    /// Another HTTP status after all retries.
    #[error("HTTP {status}{}", rate_limit_suffix(.remaining))]
    Status {
        /// The status code.
        status: u16,
        /// The `ratelimit-remaining` header, if present.
        remaining: Option<String>,
    },
    /// Connection, TLS or timeout trouble.
    #[error("{0}")]
    Network(String),
    /// The registry's digest is not `sha256:` and 64 lower-case hex digits.
    #[error("registry sent an invalid digest: {0}")]
    InvalidDigest(#[from] DigestError),
    /// `--platform` was given and the index has no such platform.
    #[error("no manifest for platform {0} in the image index")]
    PlatformNotFound(String),
    /// Anything else the registry answered that makes no sense.
    #[error("{0}")]
    Protocol(String),
    /// `--rewrite-registry`: the private copy of a tag is not what upstream serves.
    #[error(
        "the private copy differs from upstream (upstream {upstream}, private copy {private}): it is stale or was tampered with; copy the image again, digest-preserving, before pinning"
    )]
    CopyDiffers {
        /// What upstream serves.
        upstream: Digest,
        /// What the private registry serves.
        private: Digest,
    },
}

fn rate_limit_suffix(remaining: &Option<String>) -> String {
    match remaining {
        Some(r) => format!(", ratelimit-remaining: {r}"),
        None => String::new(),
    }
}

/// A lookup that failed, with the host that was asked (a mirror, if one applies).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{lookup}: {kind} (registry {host})")]
pub struct ResolveError {
    /// What was looked up.
    pub lookup: Lookup,
    /// The host asked.
    pub host: String,
    /// What went wrong.
    pub kind: ResolveErrorKind,
}

/// Something that knows the digest a tag points to now.
pub trait Resolver: Send + Sync {
    /// Resolve one tag.
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>>;
}

/// Resolve each distinct lookup once, at most `jobs` at a time.
pub async fn resolve_all<R: Resolver + ?Sized>(
    resolver: &R,
    lookups: impl IntoIterator<Item = Lookup>,
    jobs: usize,
    on_done: impl Fn(&Lookup),
) -> BTreeMap<Lookup, Result<Digest, ResolveError>> {
    let distinct: std::collections::BTreeSet<Lookup> = lookups.into_iter().collect();
    stream::iter(distinct)
        .map(|lookup| async move {
            let result = resolver.resolve(&lookup).await;
            (lookup, result)
        })
        .buffer_unordered(jobs.max(1))
        .inspect(|(lookup, _)| on_done(lookup))
        .collect()
        .await
}

/// A resolver that answers from a fixed map: for tests of the stages around it.
#[derive(Debug, Default, Clone)]
pub struct StaticResolver {
    /// Digest per lookup; a missing lookup resolves to [`ResolveErrorKind::NotFound`].
    pub digests: BTreeMap<Lookup, Digest>,
}

impl Resolver for StaticResolver {
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>> {
        let result = self
            .digests
            .get(lookup)
            .cloned()
            .ok_or_else(|| ResolveError {
                lookup: lookup.clone(),
                host: lookup.registry.clone(),
                kind: ResolveErrorKind::NotFound,
            });
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_parses_host_port_and_prefix() {
        let m: Mirror = "index.docker.io=127.0.0.1:5000/hub/".parse().unwrap();
        assert_eq!(m.from, "docker.io");
        assert_eq!(m.host, "127.0.0.1:5000");
        assert_eq!(m.prefix.as_deref(), Some("hub"));
        let plain: Mirror = "ghcr.io=harbor.corp".parse().unwrap();
        assert_eq!(plain.prefix, None);
        assert!("ghcr.io".parse::<Mirror>().is_err());
    }

    #[test]
    fn platform_parses() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//".parse::<Platform>().is_err());
    }

    #[test]
    fn spellings_of_one_image_share_a_lookup() {
        let a = Lookup::of(&ImageRef::parse("python:3.12").unwrap());
        let b = Lookup::of(&ImageRef::parse("index.docker.io/library/python:3.12").unwrap());
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "docker.io/library/python:3.12");
    }
}
