//! Why a lookup failed, in words a user can act on.

use thiserror::Error;

use crate::text::{seconds, size};
use crate::transport::{Failure, error_chain};

use crate::lookup::Lookup;
use crate::reference::{Digest, DigestError};

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
    /// 401 to a bearer token granted for the repository, also after a new one: token
    /// servers drop a scope they will not grant without saying so, so a private
    /// repository and a missing one look the same (Docker Hub answers so for
    /// repositories that do not exist).
    #[error("repository not found or not authorized ({tried})")]
    NotFoundOrUnauthorized {
        /// e.g. "no credentials" or "credentials from ~/.docker/config.json".
        tried: String,
    },
    /// The token endpoint refused or failed.
    #[error("token request failed: {0}")]
    Token(String),
    /// 429 after all retries.
    #[error("rate limited (HTTP 429){}", rate_limit_suffix(.remaining.as_deref()))]
    RateLimited {
        /// The `ratelimit-remaining` header, if present.
        remaining: Option<String>,
    },
    /// Another HTTP status after all retries.
    #[error("HTTP {status}{}", rate_limit_suffix(.remaining.as_deref()))]
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

pub(crate) fn rate_limit_suffix(remaining: Option<&str>) -> String {
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

impl ResolveErrorKind {
    /// What a request that failed means to the user; `what` names the kind of body (for
    /// a body over its cap).
    pub(crate) fn from_failure(failure: Failure, what: &str) -> ResolveErrorKind {
        match failure {
            Failure::Network(error) => network_error(&error),
            Failure::TimedOut { after, attempts } => ResolveErrorKind::Network(format!(
                "timed out after {} ({attempts} attempts, no complete answer)",
                seconds(after)
            )),
            Failure::TooLarge { url, limit } => {
                let host = reqwest::Url::parse(&url)
                    .map(|u| u.authority().to_string())
                    .unwrap_or(url);
                ResolveErrorKind::Protocol(format!(
                    "{host} sent a {what} larger than the {} limit; refused without reading the rest",
                    size(limit)
                ))
            }
            Failure::Redirect(why) => {
                ResolveErrorKind::Protocol(format!("redirect refused: {why}"))
            }
        }
    }
}

/// A connection failure, with a hint when an HTTPS client met a plain-HTTP server
/// (rustls then reports a "corrupt message").
fn network_error(error: &reqwest::Error) -> ResolveErrorKind {
    let mut text = error_chain(error);
    let https = error.url().is_some_and(|url| url.scheme() == "https");
    if https && text.contains("InvalidContentType") {
        let host = error
            .url()
            .map(|url| url.authority().to_string())
            .unwrap_or_default();
        text.push_str(&format!(
            " (does {host} speak plain HTTP? then pass --insecure-registry {host})"
        ));
    }
    ResolveErrorKind::Network(text)
}
