//! The real resolver: asks registries over the distribution HTTP API, in as few round
//! trips as the protocol allows.
//!
//! Per registry host, one `GET /v2/` learns how it authenticates (the challenge is
//! cached). Per host, one token request for a batch of repositories (bearer
//! registries; module `tokens`), shared by concurrent lookups. Per host, repository
//! and tag, exactly one
//! `HEAD /v2/<name>/manifests/<tag>` with all four manifest media types in `Accept`,
//! shared by every lookup of that tag (also lookups that differ only in the digest they
//! are pinned to). A `GET` only when the registry leaves `Docker-Content-Digest` out, or
//! to read an index for `--platform` or for keeping a pin's platform under `--update`.
//!
//! The token flow is our own small client on reqwest rather than oci-client's `auth()`:
//! oci-client pings `/v2/` again for every repository (one extra round trip per
//! image), hides `expires_in`, sends no credentials from helpers, and its errors drop
//! the status and headers that retries and messages need. Every request goes through
//! [`Transport::send`] (module `http`): the per-host cap, the retries, the deadlines,
//! the body caps and redirects live there.
//!
//! Authentication (challenges, credentials, tokens, the 401 retry) is module
//! `authorize`.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use thiserror::Error;
use tokio::sync::OnceCell;

use crate::auth::{Auth, Challenge};
use crate::credentials::{CredentialSources, CredentialStore, Found};
use crate::error::{ResolveError, ResolveErrorKind};
use crate::lookup::{Endpoint, Lookup, Resolver};
use crate::manifest::{
    ACCEPT_MANIFESTS, ImageManifest, Index, MAX_MANIFEST_BYTES, Tagged, checked_manifest,
    config_platform, content_type, is_image_manifest, is_index, select_platform,
};
use crate::mirror::Mirror;
use crate::platform::Platform;
use crate::reference::{DOCKER_HUB, Digest};
use crate::text::seconds;
use crate::tokens::TokenCache;
use crate::transport::{Answer, Transport, error_chain};

mod authorize;

/// Docker Hub's API host; `docker.io` itself serves no registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Longest a connection may take to open. (One request's deadline is the transport's,
/// [`crate::transport::DEFAULT_REQUEST_TIMEOUT`].)
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one lookup may take, all requests, retries and waits included.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(120);
/// Longest all the lookups of a run may take, from the first: a CI job's step can live
/// with 10 minutes, and a registry that answers 429 forever costs no more than that
/// however many tags sit behind it (not tags × [`LOOKUP_DEADLINE`] / jobs).
pub const RUN_DEADLINE: Duration = Duration::from_secs(600);
/// Lookups in flight per request place of `--jobs`: a lookup that waits (a
/// `Retry-After`, a batch's token) holds no place, and each one still has its own
/// deadline, so they must not queue for long.
const LOOKUPS_PER_JOB: usize = 4;
/// Requests in flight to one registry host, by default: as many as `--jobs` lets a
/// whole run have, so that a run against one registry (the common case) is bounded by
/// `--jobs` alone. Once tokens come in batches nearly every request is a `HEAD`, which
/// has no body and which registries answer from their metadata cache; the cap is what
/// sets the wall time (`benches/resolve.sh`, 200 images through 50 ms of latency:
/// 4: 2.9 s, 8: 1.7 s, 16: 0.86 s, 24: 0.64 s, 32: 0.55 s).
pub const DEFAULT_PER_HOST_JOBS: usize = 32;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    /// `--mirror` rules.
    pub mirrors: Vec<Mirror>,
    /// Hosts (`host[:port]`) spoken to over plain HTTP.
    pub insecure: Vec<String>,
    /// Extra CA certificates (PEM files) to trust.
    pub ca_files: Vec<PathBuf>,
    /// Pin this platform's manifest instead of the index.
    pub platform: Option<Platform>,
}

/// One in-flight-or-done computation per key: concurrent askers share it.
pub(crate) struct Flights<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V> Flights<K, V> {
    pub(crate) fn new() -> Flights<K, V> {
        Flights {
            cells: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn cell(&self, key: &K) -> Arc<OnceCell<V>> {
        // A panic elsewhere while the map was held leaves it whole: take it anyway.
        let mut cells = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(cells.entry(key.clone()).or_default())
    }
}

pub(crate) type Result<T> = std::result::Result<T, ResolveErrorKind>;

/// A resolver that could not be set up.
#[derive(Debug, Error)]
pub enum SetupError {
    /// A `--ca-file` could not be read.
    #[error("cannot read CA file {path}: {source}")]
    ReadCa {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `--ca-file` is not PEM certificates.
    #[error("CA file {path} is not PEM certificates: {message}")]
    BadCa {
        /// The file.
        path: PathBuf,
        /// What the TLS library said.
        message: String,
    },
    /// A `--ca-file` holds no certificate.
    #[error("CA file {} holds no PEM certificate", path.display())]
    EmptyCa {
        /// The file.
        path: PathBuf,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up HTTP client: {0}")]
    Http(String),
}

/// Resolves tags by asking registries.
pub struct RegistryResolver {
    config: RegistryConfig,
    pub(crate) transport: Transport,
    /// Longest one lookup may take.
    lookup_deadline: Duration,
    /// Longest the run's lookups may take, and when the first began.
    run_deadline: Duration,
    run_started: OnceLock<Instant>,
    credentials: Arc<CredentialStore>,
    /// Credentials per host, looked up once (a helper runs once per host).
    found: Flights<String, Result<Found>>,
    /// The challenge per host.
    challenges: Flights<String, Result<Challenge>>,
    /// The token requests per host and repository (batched; renewed when due).
    tokens: TokenCache,
    /// The `HEAD` per host, repository and tag.
    tags: Flights<(Endpoint, String), Result<Tagged>>,
    /// Manifests fetched by digest (`None`: 404), per host and repository.
    by_digest: Flights<(Endpoint, String), Result<Option<Vec<u8>>>>,
}

impl RegistryResolver {
    /// A resolver with these settings, credentials from the environment (see
    /// [`CredentialSources::from_env`]) and [`DEFAULT_PER_HOST_JOBS`]; fails if a CA
    /// file cannot be read or parsed.
    pub fn new(config: RegistryConfig) -> std::result::Result<RegistryResolver, SetupError> {
        let mut http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The transport follows redirects itself, keeping credentials at home.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pin/", env!("CARGO_PKG_VERSION")));
        for path in &config.ca_files {
            let pem = std::fs::read(path).map_err(|source| SetupError::ReadCa {
                path: path.clone(),
                source,
            })?;
            let certificates =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| SetupError::BadCa {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            if certificates.is_empty() {
                return Err(SetupError::EmptyCa { path: path.clone() });
            }
            http = http.tls_certs_merge(certificates);
        }
        let http = http
            .build()
            .map_err(|e| SetupError::Http(error_chain(&e)))?;
        Ok(RegistryResolver {
            config,
            transport: Transport::new(http, DEFAULT_PER_HOST_JOBS),
            lookup_deadline: LOOKUP_DEADLINE,
            run_deadline: RUN_DEADLINE,
            run_started: OnceLock::new(),
            credentials: Arc::new(CredentialStore::new(CredentialSources::from_env())),
            found: Flights::new(),
            challenges: Flights::new(),
            tokens: TokenCache::default(),
            tags: Flights::new(),
            by_digest: Flights::new(),
        })
    }

    /// Reads credentials from `sources` instead of the environment's.
    pub fn with_credentials(mut self, sources: CredentialSources) -> RegistryResolver {
        self.credentials = Arc::new(CredentialStore::new(sources));
        self
    }

    /// At most `jobs` requests in flight to any one registry host (or token server).
    pub fn with_per_host_jobs(mut self, jobs: usize) -> RegistryResolver {
        self.transport.set_per_host(jobs);
        self
    }

    /// Gives up on one request after `timeout` instead of 30 s (and retries it).
    pub fn with_request_timeout(mut self, timeout: Duration) -> RegistryResolver {
        self.transport.set_request_timeout(timeout);
        self
    }

    /// Gives up on one lookup (all its requests, retries and waits) after `deadline`
    /// instead of [`LOOKUP_DEADLINE`].
    pub fn with_lookup_deadline(mut self, deadline: Duration) -> RegistryResolver {
        self.lookup_deadline = deadline;
        self
    }

    /// Gives up on every lookup not done `deadline` after the run's first one began,
    /// instead of [`RUN_DEADLINE`] (each lookup still has its own deadline).
    pub fn with_run_deadline(mut self, deadline: Duration) -> RegistryResolver {
        self.run_deadline = deadline;
        self
    }

    /// What the user should know that is not an error: credential files that could
    /// not be read as such and were passed over (the lookups went on without them).
    /// Each once, in the order met.
    pub fn warnings(&self) -> Vec<String> {
        self.credentials.warnings()
    }

    /// The host and repository asked for `lookup`: its mirror's, if one applies.
    pub(crate) fn endpoint(&self, lookup: &Lookup) -> Endpoint {
        if let Some(mirror) = self
            .config
            .mirrors
            .iter()
            .find(|m| m.from == lookup.registry)
        {
            return Endpoint {
                host: mirror.host.clone(),
                repository: mirror.repository_on(&lookup.repository),
            };
        }
        let host = if lookup.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &lookup.registry
        };
        Endpoint {
            host: host.to_string(),
            repository: lookup.repository.clone(),
        }
    }

    /// `http` only for hosts given with `--insecure-registry`.
    pub(crate) fn scheme(&self, host: &str) -> &'static str {
        if self.config.insecure.iter().any(|h| h == host) {
            "http"
        } else {
            "https"
        }
    }

    pub(crate) fn manifest_url(&self, endpoint: &Endpoint, reference: &str) -> String {
        format!(
            "{}://{}/v2/{}/manifests/{reference}",
            self.scheme(&endpoint.host),
            endpoint.host,
            endpoint.repository
        )
    }

    async fn resolve_at(&self, endpoint: &Endpoint, lookup: &Lookup) -> Result<Digest> {
        let auth = self.authorization(endpoint).await?;
        let tagged = self.tagged(endpoint, &lookup.tag, &auth).await?;
        if let Some(old) = &lookup.pinned
            && let Some(kept) = self.keep_platform(endpoint, &tagged, old, &auth).await?
        {
            return Ok(kept);
        }
        let Some(platform) = &self.config.platform else {
            return Ok(tagged.digest);
        };
        if is_image_manifest(tagged.media_type.as_deref()) {
            return Ok(tagged.digest);
        }
        let body = self.index_body(endpoint, &tagged, &auth).await?;
        select_platform(&body, platform).map(|child| child.unwrap_or(tagged.digest))
    }

    /// Under `--update`, a pin to one platform's manifest of a multi-arch tag keeps its
    /// platform: `Some(digest)` to pin, `None` to resolve as usual.
    ///
    /// If the old digest is still a child of the tag's index, the pin is current (the
    /// index changed only for other platforms). Otherwise the old manifest's platform is
    /// read from its config blob and the new index's child for it is returned. A pin
    /// that no longer exists, or was to an index, resolves as usual.
    async fn keep_platform(
        &self,
        endpoint: &Endpoint,
        tagged: &Tagged,
        old: &str,
        auth: &Auth,
    ) -> Result<Option<Digest>> {
        let Ok(old) = Digest::parse(old) else {
            return Ok(None);
        };
        if old == tagged.digest || !is_index(tagged) {
            return Ok(None);
        }
        let body = self.index_body(endpoint, tagged, auth).await?;
        let index: Index = serde_json::from_slice(&body)
            .map_err(|e| ResolveErrorKind::Protocol(format!("index is not valid JSON: {e}")))?;
        let children = index.manifests.unwrap_or_default();
        if children.iter().any(|child| child.digest == old.as_str()) {
            return Ok(Some(old));
        }
        let Some(old_body) = self.by_digest(endpoint, &old, auth).await? else {
            return Ok(None);
        };
        let Ok(old_manifest) = serde_json::from_slice::<ImageManifest>(&old_body) else {
            return Ok(None);
        };
        let Some(config) = old_manifest.config else {
            return Ok(None);
        };
        let Some(platform) = self.config_platform(endpoint, &config.digest, auth).await? else {
            return Ok(None);
        };
        match select_platform(&body, &platform) {
            Ok(Some(child)) => Ok(Some(child)),
            Ok(None) | Err(ResolveErrorKind::PlatformNotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The platform an image's config blob records (`None` when it is gone or says
    /// none).
    async fn config_platform(
        &self,
        endpoint: &Endpoint,
        digest: &str,
        auth: &Auth,
    ) -> Result<Option<Platform>> {
        let digest = Digest::parse(digest)?;
        let url = format!(
            "{}://{}/v2/{}/blobs/{digest}",
            self.scheme(&endpoint.host),
            endpoint.host,
            endpoint.repository
        );
        let (answer, auth) = self
            .send_authorized(Method::GET, &url, endpoint, auth)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = check(answer, &auth)?;
        Ok(config_platform(&answer.body))
    }

    /// The bytes of the tag's manifest: the `GET` already made, or the index fetched by
    /// the digest the `HEAD` read (so the child comes from it even if the tag moves).
    async fn index_body(
        &self,
        endpoint: &Endpoint,
        tagged: &Tagged,
        auth: &Auth,
    ) -> Result<Vec<u8>> {
        if let Some(body) = &tagged.body {
            return Ok(body.clone());
        }
        self.by_digest(endpoint, &tagged.digest, auth)
            .await?
            .ok_or(ResolveErrorKind::NotFound)
    }

    /// `GET` a manifest by digest, once per endpoint and digest, checked against the
    /// digest. `None`: the registry no longer has it.
    pub(crate) async fn by_digest(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        auth: &Auth,
    ) -> Result<Option<Vec<u8>>> {
        let cell = self
            .by_digest
            .cell(&(endpoint.clone(), digest.as_str().to_string()));
        cell.get_or_init(|| async {
            let url = self.manifest_url(endpoint, digest.as_str());
            let (answer, auth) = self
                .send_authorized(Method::GET, &url, endpoint, auth)
                .await?;
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let answer = check(answer, &auth)?;
            if Digest::of_bytes(&answer.body) != *digest {
                return Err(ResolveErrorKind::Protocol(format!(
                    "the manifest served for {digest} does not hash to it"
                )));
            }
            Ok(Some(answer.body))
        })
        .await
        .clone()
    }

    /// The one `HEAD` of `endpoint`'s `tag` (a `GET` if it carries no digest), shared
    /// by every lookup of that tag.
    pub(crate) async fn tagged(
        &self,
        endpoint: &Endpoint,
        tag: &str,
        auth: &Auth,
    ) -> Result<Tagged> {
        let cell = self.tags.cell(&(endpoint.clone(), tag.to_string()));
        cell.get_or_init(|| async {
            let url = self.manifest_url(endpoint, tag);
            let (head, auth) = self.send_authorized(Method::HEAD, &url, endpoint, auth).await?;
            let head = check(head, &auth)?;
            if let Some(value) = digest_header(&head)? {
                return Ok(Tagged {
                    digest: Digest::parse(&value)?,
                    media_type: content_type(&head),
                    body: None,
                });
            }
            // Some registries leave the header out of HEAD: hash the exact bytes, once
            // they are known to be a manifest (not a login page or an error sent with 200).
            let (get, auth) = self.send_authorized(Method::GET, &url, endpoint, &auth).await?;
            let get = check(get, &auth)?;
            let media_type = checked_manifest(&get)?;
            let digest = Digest::of_bytes(&get.body);
            if let Some(said) = digest_header(&get)?
                && Digest::parse(&said)? != digest
            {
                return Err(ResolveErrorKind::Protocol(format!(
                    "the manifest GET says Docker-Content-Digest {said} but its bytes hash to {digest}"
                )));
            }
            Ok(Tagged {
                digest,
                media_type: Some(media_type),
                body: Some(get.body),
            })
        })
        .await
        .clone()
    }

    /// One registry request with the manifest `Accept` list and `auth`.
    async fn send(&self, method: Method, url: &str, auth: &Auth) -> Result<Answer> {
        self.transport
            .send(method, url, MAX_MANIFEST_BYTES, |request| {
                let request = request.header(ACCEPT, ACCEPT_MANIFESTS);
                match &auth.header {
                    Some(value) => request.header(AUTHORIZATION, value),
                    None => request,
                }
            })
            .await
            .map_err(|failure| ResolveErrorKind::from_failure(failure, "manifest, index or config"))
    }
}

impl Resolver for RegistryResolver {
    fn resolve<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, std::result::Result<Digest, ResolveError>> {
        Box::pin(async move {
            let endpoint = self.endpoint(lookup);
            let run_ends = *self.run_started.get_or_init(Instant::now) + self.run_deadline;
            let left = run_ends.saturating_duration_since(Instant::now());
            let (deadline, why) = if left < self.lookup_deadline {
                let why = format!(
                    "gave up: the run's deadline of {} passed (all lookups, retries included)",
                    seconds(self.run_deadline)
                );
                (left, why)
            } else {
                let why = format!(
                    "timed out after {} (the deadline for one lookup, retries included)",
                    seconds(self.lookup_deadline)
                );
                (self.lookup_deadline, why)
            };
            let result = tokio::time::timeout(deadline, self.resolve_at(&endpoint, lookup))
                .await
                .unwrap_or(Err(ResolveErrorKind::Network(why)));
            result.map_err(|kind| ResolveError {
                lookup: lookup.clone(),
                host: endpoint.host.clone(),
                kind,
            })
        })
    }

    /// Starts the run's clock, plans the token requests (see module `tokens`) and caps
    /// the requests in flight at `jobs`; lets [`LOOKUPS_PER_JOB`] times as many lookups
    /// run, so that lookups waiting out a `Retry-After` (which hold no request place)
    /// or a batch's token do not keep the others from the free places.
    fn warm_up<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let endpoint = self.endpoint(lookup);
            // What `authorization` asks first; its answer (or its error) is kept for
            // the lookups, which report any error themselves.
            let warm = async {
                if self.challenge(&endpoint.host).await? != Challenge::None {
                    self.found(&endpoint.host).await?;
                }
                Ok::<(), ResolveErrorKind>(())
            };
            let run_ends = *self.run_started.get_or_init(Instant::now) + self.run_deadline;
            let left = run_ends.saturating_duration_since(Instant::now());
            let _ = tokio::time::timeout(left.min(self.lookup_deadline), warm).await;
        })
    }

    fn prepare(&self, lookups: &[Lookup], jobs: usize) -> usize {
        self.run_started.get_or_init(Instant::now);
        self.tokens
            .plan(lookups.iter().map(|lookup| self.endpoint(lookup)));
        self.transport.set_total_cap(jobs);
        jobs.saturating_mul(LOOKUPS_PER_JOB)
    }
}

/// The `Docker-Content-Digest` header: absent, or said once (see
/// [`Answer::single_header`]).
fn digest_header(answer: &Answer) -> Result<Option<String>> {
    answer
        .single_header("docker-content-digest")
        .map_err(|why| ResolveErrorKind::Protocol(format!("the registry sent {why}")))
}

/// Maps any status but 200 to the error a user can act on.
pub(crate) fn check(answer: Answer, auth: &Auth) -> Result<Answer> {
    let status = answer.status;
    if status == StatusCode::OK {
        return Ok(answer);
    }
    let remaining = answer.header("ratelimit-remaining");
    Err(match status {
        StatusCode::NOT_FOUND => ResolveErrorKind::NotFound,
        StatusCode::UNAUTHORIZED if auth.granted.is_some() => {
            ResolveErrorKind::NotFoundOrUnauthorized {
                tried: auth.tried.clone(),
            }
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ResolveErrorKind::Unauthorized {
            tried: auth.tried.clone(),
        },
        StatusCode::TOO_MANY_REQUESTS => ResolveErrorKind::RateLimited { remaining },
        other => ResolveErrorKind::Status {
            status: other.as_u16(),
            remaining,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_prefix_goes_in_front_of_the_repository() {
        let resolver = RegistryResolver::new(RegistryConfig {
            mirrors: vec!["docker.io=127.0.0.1:5000/hub".parse().unwrap()],
            ..RegistryConfig::default()
        })
        .unwrap();
        let lookup = Lookup {
            registry: "docker.io".into(),
            repository: "library/python".into(),
            tag: "3.12".into(),
            pinned: None,
        };
        let endpoint = resolver.endpoint(&lookup);
        assert_eq!(endpoint.host, "127.0.0.1:5000");
        assert_eq!(endpoint.repository, "hub/library/python");
        let ghcr = Lookup {
            registry: "ghcr.io".into(),
            ..lookup.clone()
        };
        assert_eq!(resolver.endpoint(&ghcr).host, "ghcr.io");
        let no_mirror = RegistryResolver::new(RegistryConfig::default()).unwrap();
        assert_eq!(no_mirror.endpoint(&lookup).host, DOCKER_HUB_API_HOST);
    }
}
