//! The real resolver: asks registries over the distribution HTTP API, in as few round
//! trips as the protocol allows.
//!
//! Per registry host, one `GET /v2/` learns how it authenticates (the challenge is
//! cached). Per host and repository, one token (bearer registries), shared by
//! concurrent lookups. Per host, repository and tag, exactly one
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
//! ## Who is shown which credentials
//!
//! Credentials are looked up for the host a lookup is sent to (the mirror, if one
//! applies; never Docker Hub's for a mirror) and go only to:
//!
//! - that host itself (basic auth); a redirect to another scheme, host or port is
//!   followed without them (module `http`);
//! - the token realm named by **that host's own** `WWW-Authenticate` challenge, which
//!   may be on another host: that is how Docker Hub works (registry-1.docker.io names
//!   auth.docker.io), and the Docker client does the same (distribution's token handler
//!   sends the registry's basic credentials to the realm its challenge names). Challenges
//!   and tokens are kept per registry host, so one registry's credentials never reach a
//!   realm another registry named.
//!
//! Stricter than Docker: a registry spoken to over HTTPS whose challenge names a
//! plain-`http://` realm is refused when we hold credentials for it (the realm would
//! receive them in clear text); the realm's host may be allowed with
//! `--insecure-registry`. Without credentials the anonymous token request goes ahead.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use thiserror::Error;
use tokio::sync::OnceCell;

use crate::auth::{Auth, Challenge, Token, TokenRequest, parse_challenge};
use crate::credentials::{CredentialSources, CredentialStore, Found};
use crate::error::{ResolveError, ResolveErrorKind};
use crate::lookup::{Lookup, Resolver};
use crate::manifest::{
    ACCEPT_MANIFESTS, ImageManifest, Index, MAX_MANIFEST_BYTES, Tagged, config_platform,
    content_type, is_image_manifest, is_index, select_platform,
};
use crate::mirror::Mirror;
use crate::platform::Platform;
use crate::reference::{DOCKER_HUB, Digest};
use crate::text::seconds;
use crate::transport::{Answer, Transport, error_chain};

/// Docker Hub's API host; `docker.io` itself serves no registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Longest a connection may take to open. (One request's deadline is the transport's,
/// [`crate::transport::DEFAULT_REQUEST_TIMEOUT`].)
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one lookup may take, all requests, retries and waits included.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(120);
/// Requests in flight to one registry host, by default. With `--jobs 32` a run keeps
/// about 16 token requests (at the auth host) and 16 `HEAD`s (at the registry) in
/// flight: `benches/resolve.sh` resolves 200 images through 50 ms of latency in about
/// 1.3 s. A polite number for one server over HTTP/1.1.
pub const DEFAULT_PER_HOST_JOBS: usize = 16;

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

/// Where a lookup is sent: the host asked (a mirror, if one applies) and the
/// repository's name there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    pub(crate) host: String,
    pub(crate) repository: String,
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
        let mut cells = self.cells.lock().expect("single-flight map");
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
    credentials: Arc<CredentialStore>,
    /// Credentials per host, looked up once (a helper runs once per host).
    found: Flights<String, Result<Found>>,
    /// The challenge per host.
    challenges: Flights<String, Result<Challenge>>,
    /// The token per host and repository; a cell is replaced when its token is due.
    tokens: Mutex<HashMap<Endpoint, Arc<OnceCell<Result<Token>>>>>,
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
            credentials: Arc::new(CredentialStore::new(CredentialSources::from_env())),
            found: Flights::new(),
            challenges: Flights::new(),
            tokens: Mutex::new(HashMap::new()),
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
        let answer = self.send(Method::GET, &url, auth).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = check(answer, auth)?;
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
            let answer = self.send(Method::GET, &url, auth).await?;
            if answer.status == StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let answer = check(answer, auth)?;
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
            let head = check(self.send(Method::HEAD, &url, auth).await?, auth)?;
            let media_type = content_type(&head);
            match head.header("docker-content-digest") {
                Some(value) => Ok(Tagged {
                    digest: Digest::parse(&value)?,
                    media_type,
                    body: None,
                }),
                None => {
                    // Some registries leave the header out of HEAD: hash the exact bytes.
                    let get = check(self.send(Method::GET, &url, auth).await?, auth)?;
                    Ok(Tagged {
                        digest: Digest::of_bytes(&get.body),
                        media_type: content_type(&get).or(media_type),
                        body: Some(get.body),
                    })
                }
            }
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

    /// What to send to `endpoint`: nothing, basic auth, or a bearer token.
    pub(crate) async fn authorization(&self, endpoint: &Endpoint) -> Result<Auth> {
        let challenge = self.challenge(&endpoint.host).await?;
        if challenge == Challenge::None {
            return Ok(Auth::anonymous());
        }
        let found = self.found(&endpoint.host).await?;
        match challenge {
            Challenge::None | Challenge::Basic => Ok(Auth::basic(&found)),
            Challenge::Bearer { realm, service } => {
                let token = self
                    .token(endpoint, &realm, service.as_deref(), &found)
                    .await?;
                Ok(Auth {
                    header: Some(format!("Bearer {}", token.value)),
                    tried: found.source,
                })
            }
        }
    }

    /// The credentials for `host`, looked up once (off the async threads: a helper may
    /// take seconds).
    async fn found(&self, host: &str) -> Result<Found> {
        let cell = self.found.cell(&host.to_string());
        cell.get_or_init(|| async {
            let store = Arc::clone(&self.credentials);
            let host = host.to_string();
            tokio::task::spawn_blocking(move || store.for_host(&host))
                .await
                .map_err(|e| ResolveErrorKind::Protocol(format!("credential lookup failed: {e}")))?
                .map_err(|message| ResolveErrorKind::Unauthorized { tried: message })
        })
        .await
        .clone()
    }

    /// `GET /v2/` once per host: how it wants to be authenticated.
    async fn challenge(&self, host: &str) -> Result<Challenge> {
        let cell = self.challenges.cell(&host.to_string());
        cell.get_or_init(|| async {
            let url = format!("{}://{host}/v2/", self.scheme(host));
            let answer = self.send(Method::GET, &url, &Auth::anonymous()).await?;
            if answer.status != StatusCode::UNAUTHORIZED {
                // 200, or a registry that does not implement the ping: try without.
                return Ok(Challenge::None);
            }
            let value = answer.header("www-authenticate").unwrap_or_default();
            parse_challenge(&value).ok_or_else(|| {
                ResolveErrorKind::Protocol(format!(
                    "{host} asks for authentication with an unknown challenge {value:?}"
                ))
            })
        })
        .await
        .clone()
    }

    /// Whether the credentials for registry `host` may be sent to `realm`, the realm its
    /// challenge named (see the module): not in clear text when the registry itself is
    /// spoken to over HTTPS, unless the realm's host is listed as insecure.
    fn realm_may_receive_credentials(
        &self,
        host: &str,
        realm: &reqwest::Url,
    ) -> std::result::Result<(), String> {
        if realm.scheme() == "https"
            || self.scheme(host) == "http"
            || self.scheme(realm.authority()) == "http"
        {
            return Ok(());
        }
        Err(format!(
            "{host} names the token realm {}, which is not HTTPS: refusing to send the \
             credentials for {host} there in clear text (pass --insecure-registry {} if \
             that is intended)",
            realm.as_str(),
            realm.authority()
        ))
    }

    /// The bearer token for `endpoint`'s repository, fetched once per host and
    /// repository and shared by concurrent lookups; renewed when due.
    async fn token(
        &self,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        found: &Found,
    ) -> Result<Token> {
        let cell = {
            let mut tokens = self.tokens.lock().expect("token map lock");
            let cell = tokens.entry(endpoint.clone()).or_default();
            let due = cell
                .get()
                .is_some_and(|t| t.as_ref().is_ok_and(Token::is_due));
            if due {
                *cell = Arc::default();
            }
            Arc::clone(cell)
        };
        cell.get_or_init(|| async {
            let realm = reqwest::Url::parse(realm).map_err(|e| {
                ResolveErrorKind::Token(format!("the token realm {realm:?} is not a URL: {e}"))
            })?;
            if found.credential.is_some() {
                self.realm_may_receive_credentials(&endpoint.host, &realm)
                    .map_err(ResolveErrorKind::Token)?;
            }
            TokenRequest {
                realm,
                service,
                scope: format!("repository:{}:pull", endpoint.repository),
                found,
            }
            .send(&self.transport)
            .await
        })
        .await
        .clone()
    }
}

impl Resolver for RegistryResolver {
    fn resolve<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, std::result::Result<Digest, ResolveError>> {
        Box::pin(async move {
            let endpoint = self.endpoint(lookup);
            let deadline = self.lookup_deadline;
            let result = tokio::time::timeout(deadline, self.resolve_at(&endpoint, lookup))
                .await
                .unwrap_or_else(|_| {
                    Err(ResolveErrorKind::Network(format!(
                        "timed out after {} (the deadline for one lookup, retries included)",
                        seconds(deadline)
                    )))
                });
            result.map_err(|kind| ResolveError {
                lookup: lookup.clone(),
                host: endpoint.host.clone(),
                kind,
            })
        })
    }
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
    use crate::credentials::{Credential, Secret};
    use crate::manifest::{OCI_INDEX, OCI_MANIFEST};
    use crate::text::{basic_value, redact};

    fn index(entries: &[(&str, &str, Option<&str>, char)]) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(os, arch, variant, fill)| {
                let mut platform = serde_json::json!({"os": os, "architecture": arch});
                if let Some(variant) = variant {
                    platform["variant"] = serde_json::json!(variant);
                }
                serde_json::json!({
                    "mediaType": OCI_MANIFEST,
                    "digest": format!("sha256:{}", fill.to_string().repeat(64)),
                    "size": 1,
                    "platform": platform,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests
        }))
        .unwrap()
    }

    #[test]
    fn arm64_without_variant_matches_v8() {
        let body = index(&[("linux", "amd64", None, 'a'), ("linux", "arm64", None, 'b')]);
        let wanted: Platform = "linux/arm64/v8".parse().unwrap();
        let child = select_platform(&body, &wanted).unwrap().unwrap();
        assert_eq!(child.as_str(), format!("sha256:{}", "b".repeat(64)));
    }

    #[test]
    fn variant_must_match_when_asked() {
        let body = index(&[
            ("linux", "arm", Some("v6"), 'a'),
            ("linux", "arm", Some("v7"), 'b'),
        ]);
        let v7 = select_platform(&body, &"linux/arm/v7".parse().unwrap()).unwrap();
        assert_eq!(v7.unwrap().as_str(), format!("sha256:{}", "b".repeat(64)));
        let any = select_platform(&body, &"linux/arm".parse().unwrap()).unwrap();
        assert_eq!(any.unwrap().as_str(), format!("sha256:{}", "a".repeat(64)));
    }

    #[test]
    fn missing_platform_lists_the_available_ones() {
        let body = index(&[
            ("linux", "amd64", None, 'a'),
            ("unknown", "unknown", None, 'c'),
        ]);
        let error = select_platform(&body, &"linux/s390x".parse().unwrap()).unwrap_err();
        assert_eq!(
            error,
            ResolveErrorKind::PlatformNotFound("linux/s390x (available: linux/amd64)".into())
        );
    }

    #[test]
    fn invalid_child_digest_is_rejected() {
        let body = br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:ABC","platform":{"os":"linux","architecture":"amd64"}}]}"#;
        let error = select_platform(body, &"linux/amd64".parse().unwrap()).unwrap_err();
        assert!(
            matches!(error, ResolveErrorKind::InvalidDigest(_)),
            "{error:?}"
        );
    }

    #[test]
    fn credentials_go_to_a_plain_http_realm_only_from_a_plain_http_registry() {
        let resolver = RegistryResolver::new(RegistryConfig {
            insecure: vec!["127.0.0.1:5000".into(), "auth.corp:8080".into()],
            ..RegistryConfig::default()
        })
        .unwrap();
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        // Docker Hub's way: an HTTPS realm on another host.
        assert!(
            resolver
                .realm_may_receive_credentials("registry.corp", &url("https://auth.corp/token"))
                .is_ok()
        );
        // An HTTPS registry naming a plain-HTTP realm: refused.
        let refused = resolver
            .realm_may_receive_credentials("registry.corp", &url("http://evil.example/token"))
            .unwrap_err();
        assert!(
            refused.contains("http://evil.example/token, which is not HTTPS"),
            "{refused}"
        );
        // The user said plain HTTP is fine: for the registry, or for the realm's host.
        assert!(
            resolver
                .realm_may_receive_credentials("127.0.0.1:5000", &url("http://127.0.0.2:1/t"))
                .is_ok()
        );
        assert!(
            resolver
                .realm_may_receive_credentials("registry.corp", &url("http://auth.corp:8080/t"))
                .is_ok()
        );
    }

    #[test]
    fn credentials_echoed_by_a_server_are_redacted() {
        let basic = Credential::Basic {
            username: "alice".into(),
            password: Secret::new("p@ss word"),
        };
        let echoed = format!(
            "bad Basic {} for p@ss word (p%40ss+word)",
            basic_value("alice", "p@ss word")
        );
        assert_eq!(redact(&echoed, Some(&basic)), "bad Basic *** for *** (***)");
        let identity = Credential::IdentityToken(Secret::new("refresh-me"));
        assert_eq!(
            redact("refresh_token=refresh-me is revoked", Some(&identity)),
            "refresh_token=*** is revoked"
        );
        assert_eq!(redact("nothing to hide", None), "nothing to hide");
    }

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
