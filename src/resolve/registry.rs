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
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::credentials::{Credential, CredentialSources, CredentialStore, Found};
use super::http::{Answer, Failure, Transport, error_chain};
use super::{Lookup, Mirror, Platform, ResolveError, ResolveErrorKind, Resolver};
use crate::reference::Digest;

/// Docker Hub's API host; `docker.io` itself serves no registry API.
const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// OCI image index.
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest, schema 2.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// All four, always: without them a registry may convert Docker images to schema 1
/// (another digest), answer a list with one child, or say 404 to OCI images.
const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Longest a connection may take to open. (One request's deadline is the transport's,
/// [`super::http::DEFAULT_REQUEST_TIMEOUT`].)
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest one lookup may take, all requests, retries and waits included.
pub const LOOKUP_DEADLINE: Duration = Duration::from_secs(120);
/// Most bytes read of a manifest, an index, a config blob, or any other registry
/// answer (the `/v2/` ping, error bodies). The distribution registry refuses to store
/// a manifest over 4 MiB, and the largest real indexes and configs are tens of KiB, so
/// anything longer is an attack on our memory, not an image.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Most bytes read of a token endpoint's answer: a JSON object with one JWT (a few KiB
/// even with an `x5c` chain).
pub const MAX_TOKEN_BYTES: usize = 1024 * 1024;
/// A token's lifetime when the token server does not say (Docker's token
/// specification: 60 s); tokens are renewed this long before they expire.
const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
const TOKEN_MARGIN: Duration = Duration::from_secs(10);
/// The longest a token is kept, whatever `expires_in` says: a run takes minutes, and a
/// hostile `expires_in` of 2^64 − 1 seconds must not overflow the clock.
const TOKEN_MAX_LIFETIME: Duration = Duration::from_secs(3600);
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
struct Endpoint {
    host: String,
    repository: String,
}

/// How a registry host wants to be authenticated (its `GET /v2/` answer).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    /// `200`: no authentication.
    None,
    /// `WWW-Authenticate: Basic`.
    Basic,
    /// `WWW-Authenticate: Bearer realm=…,service=…`.
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// The `Authorization` header for one endpoint and what it was made from (for 401
/// messages; never the secret).
#[derive(Clone)]
struct Auth {
    header: Option<String>,
    tried: String,
}

/// A token and when to stop using it.
#[derive(Clone)]
struct Token {
    value: String,
    renew_at: Instant,
}

/// What the `HEAD` of a tag said (and its body, when a `GET` was needed).
#[derive(Debug, Clone)]
struct Tagged {
    digest: Digest,
    media_type: Option<String>,
    body: Option<Vec<u8>>,
}

/// One in-flight-or-done computation per key: concurrent askers share it.
struct Flights<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K: Eq + Hash + Clone, V> Flights<K, V> {
    fn new() -> Flights<K, V> {
        Flights {
            cells: Mutex::new(HashMap::new()),
        }
    }

    fn cell(&self, key: &K) -> Arc<OnceCell<V>> {
        let mut cells = self.cells.lock().expect("single-flight map");
        Arc::clone(cells.entry(key.clone()).or_default())
    }
}

type Result<T> = std::result::Result<T, ResolveErrorKind>;

/// Resolves tags by asking registries.
pub struct RegistryResolver {
    config: RegistryConfig,
    transport: Transport,
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
    pub fn new(config: RegistryConfig) -> std::result::Result<RegistryResolver, String> {
        let mut http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            // The transport follows redirects itself, keeping credentials at home.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pin/", env!("CARGO_PKG_VERSION")));
        for path in &config.ca_files {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("CA file {} is not PEM certificates: {e}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                ));
            }
            http = http.tls_certs_merge(certificates);
        }
        let http = http
            .build()
            .map_err(|e| format!("cannot set up HTTP client: {}", error_chain(&e)))?;
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
    fn endpoint(&self, lookup: &Lookup) -> Endpoint {
        if let Some(mirror) = self
            .config
            .mirrors
            .iter()
            .find(|m| m.from == lookup.registry)
        {
            let repository = match &mirror.prefix {
                Some(prefix) => format!("{prefix}/{}", lookup.repository),
                None => lookup.repository.clone(),
            };
            return Endpoint {
                host: mirror.host.clone(),
                repository,
            };
        }
        let host = if lookup.registry == "docker.io" {
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
    fn scheme(&self, host: &str) -> &'static str {
        if self.config.insecure.iter().any(|h| h == host) {
            "http"
        } else {
            "https"
        }
    }

    fn manifest_url(&self, endpoint: &Endpoint, reference: &str) -> String {
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
        if tagged
            .media_type
            .as_deref()
            .is_some_and(|t| t == OCI_MANIFEST || t == DOCKER_MANIFEST)
        {
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
        #[derive(Deserialize)]
        struct Config {
            os: Option<String>,
            architecture: Option<String>,
            variant: Option<String>,
        }
        let Ok(config) = serde_json::from_slice::<Config>(&answer.body) else {
            return Ok(None);
        };
        Ok(match (config.os, config.architecture) {
            (Some(os), Some(architecture)) => Some(Platform {
                os,
                architecture,
                variant: config.variant,
            }),
            _ => None,
        })
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
    async fn by_digest(
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
    async fn tagged(&self, endpoint: &Endpoint, tag: &str, auth: &Auth) -> Result<Tagged> {
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
            .map_err(|failure| failure_kind(failure, "manifest, index or config"))
    }

    /// What to send to `endpoint`: nothing, basic auth, or a bearer token.
    async fn authorization(&self, endpoint: &Endpoint) -> Result<Auth> {
        let challenge = self.challenge(&endpoint.host).await?;
        if challenge == Challenge::None {
            return Ok(Auth {
                header: None,
                tried: "no credentials".to_string(),
            });
        }
        let found = self.found(&endpoint.host).await?;
        match challenge {
            Challenge::None => unreachable!("handled above"),
            Challenge::Basic => {
                let header = match &found.credential {
                    Some(Credential::Basic { username, password }) => Some(format!(
                        "Basic {}",
                        STANDARD.encode(format!("{username}:{}", password.expose()))
                    )),
                    _ => None,
                };
                Ok(Auth {
                    header,
                    tried: found.source,
                })
            }
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
            let anonymous = Auth {
                header: None,
                tried: "no credentials".to_string(),
            };
            let answer = self.send(Method::GET, &url, &anonymous).await?;
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
                .is_some_and(|t| t.as_ref().is_ok_and(|t| Instant::now() >= t.renew_at));
            if due {
                *cell = Arc::default();
            }
            Arc::clone(cell)
        };
        cell.get_or_init(|| self.fetch_token(endpoint, realm, service, found))
            .await
            .clone()
    }

    /// The token request as the Docker client makes it: `GET realm?service&scope` with
    /// basic auth for a user name and password, or the OAuth2 refresh-token `POST` for
    /// an identity token.
    async fn fetch_token(
        &self,
        endpoint: &Endpoint,
        realm: &str,
        service: Option<&str>,
        found: &Found,
    ) -> Result<Token> {
        let scope = format!("repository:{}:pull", endpoint.repository);
        let mut url = reqwest::Url::parse(realm).map_err(|e| {
            ResolveErrorKind::Token(format!("the token realm {realm:?} is not a URL: {e}"))
        })?;
        if found.credential.is_some() {
            self.realm_may_receive_credentials(&endpoint.host, &url)
                .map_err(ResolveErrorKind::Token)?;
        }
        let mut form = reqwest::Url::parse("http://form.invalid/").expect("static URL");
        let answer = match &found.credential {
            Some(Credential::IdentityToken(refresh)) => {
                {
                    let mut pairs = form.query_pairs_mut();
                    pairs
                        .append_pair("grant_type", "refresh_token")
                        .append_pair("client_id", "pin")
                        .append_pair("scope", &scope)
                        .append_pair("refresh_token", refresh.expose());
                    if let Some(service) = service {
                        pairs.append_pair("service", service);
                    }
                }
                let body = form.query().unwrap_or("").to_string();
                self.transport
                    .send(Method::POST, url.as_str(), MAX_TOKEN_BYTES, |request| {
                        request
                            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(body.clone())
                    })
                    .await
            }
            basic => {
                {
                    let mut pairs = url.query_pairs_mut();
                    if let Some(service) = service {
                        pairs.append_pair("service", service);
                    }
                    pairs.append_pair("scope", &scope);
                }
                let header = match basic {
                    Some(Credential::Basic { username, password }) => Some(format!(
                        "Basic {}",
                        STANDARD.encode(format!("{username}:{}", password.expose()))
                    )),
                    _ => None,
                };
                self.transport
                    .send(
                        Method::GET,
                        url.as_str(),
                        MAX_TOKEN_BYTES,
                        |request| match &header {
                            Some(value) => request.header(AUTHORIZATION, value),
                            None => request,
                        },
                    )
                    .await
            }
        };
        let answer = answer.map_err(|failure| match failure_kind(failure, "token answer") {
            ResolveErrorKind::Network(text) => {
                ResolveErrorKind::Token(format!("no answer from the token endpoint: {text}"))
            }
            ResolveErrorKind::Protocol(text) => ResolveErrorKind::Token(text),
            other => other,
        })?;
        if !answer.status.is_success() {
            // A hostile endpoint may quote our credentials back in its error, or write
            // terminal escapes: redact the whole text, then shorten and neutralise it.
            let details = redact(
                &token_error_details(&answer.body),
                found.credential.as_ref(),
            );
            let details = printable(&details.chars().take(200).collect::<String>());
            let refused = matches!(answer.status.as_u16(), 401 | 403);
            return Err(ResolveErrorKind::Token(if refused {
                format!(
                    "token endpoint refused {} (HTTP {}): {details}",
                    found.source,
                    answer.status.as_u16()
                )
            } else {
                format!(
                    "token endpoint answered HTTP {}{}: {details}",
                    answer.status.as_u16(),
                    rate_limit_suffix(&answer)
                )
            }));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let parsed: TokenAnswer = serde_json::from_slice(&answer.body).map_err(|e| {
            ResolveErrorKind::Token(format!("token endpoint sent no JSON token: {e}"))
        })?;
        let value = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ResolveErrorKind::Token("token endpoint sent an empty token".into()))?;
        let lifetime = parsed
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(TOKEN_DEFAULT_LIFETIME)
            .min(TOKEN_MAX_LIFETIME);
        Ok(Token {
            value,
            renew_at: Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN),
        })
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
fn check(answer: Answer, auth: &Auth) -> Result<Answer> {
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

fn rate_limit_suffix(answer: &Answer) -> String {
    match answer.header("ratelimit-remaining") {
        Some(r) => format!(", ratelimit-remaining: {r}"),
        None => String::new(),
    }
}

/// The `details` (or `error_description`, `error`) of a token server's error body, else
/// the body; whole, so that [`redact`] sees every secret before it is shortened.
fn token_error_details(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Body {
        details: Option<String>,
        error: Option<String>,
        error_description: Option<String>,
    }
    if let Ok(parsed) = serde_json::from_slice::<Body>(body)
        && let Some(text) = parsed.details.or(parsed.error_description).or(parsed.error)
    {
        return text;
    }
    String::from_utf8_lossy(body).trim().to_string()
}

/// Text a registry chose, made safe for a terminal: control characters (ESC starts
/// the sequences that move the cursor, erase lines or retitle the window) are shown
/// escaped, `\u{1b}`, instead of acting.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` with every spelling of `credential` a server could echo back (the password,
/// the `Authorization: Basic` value, an identity token, also form-encoded) replaced by
/// `***`.
fn redact(text: &str, credential: Option<&Credential>) -> String {
    let mut secrets = Vec::new();
    match credential {
        Some(Credential::Basic { username, password }) => {
            secrets.push(STANDARD.encode(format!("{username}:{}", password.expose())));
            secrets.push(password.expose().to_string());
        }
        Some(Credential::IdentityToken(token)) => secrets.push(token.expose().to_string()),
        None => {}
    }
    let encoded: Vec<String> = secrets
        .iter()
        .map(|secret| {
            let mut form = reqwest::Url::parse("http://form.invalid/").expect("static URL");
            form.query_pairs_mut().append_pair("s", secret);
            form.query()
                .unwrap_or("s=")
                .trim_start_matches("s=")
                .to_string()
        })
        .collect();
    secrets.extend(encoded);
    secrets.retain(|secret| !secret.is_empty());
    // Longest first, so that a password inside its base64 form cannot split it.
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    let mut text = text.to_string();
    for secret in &secrets {
        text = text.replace(secret.as_str(), "***");
    }
    text
}

/// `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
fn parse_challenge(value: &str) -> Option<Challenge> {
    let (scheme, params) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let name = name.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match name.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            _ => {}
        }
        rest = remaining.trim_start_matches([',', ' ']);
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
    })
}

fn is_index(tagged: &Tagged) -> bool {
    match tagged.media_type.as_deref() {
        Some(OCI_INDEX) | Some(DOCKER_MANIFEST_LIST) => true,
        Some(OCI_MANIFEST) | Some(DOCKER_MANIFEST) => false,
        // No or another content type: the bytes tell, when we have them.
        _ => tagged.body.as_deref().is_some_and(|body| {
            serde_json::from_slice::<Index>(body).is_ok_and(|i| i.manifests.is_some())
        }),
    }
}

/// The media type without parameters (`; charset=…`).
fn content_type(answer: &Answer) -> Option<String> {
    let value = answer.header(CONTENT_TYPE.as_str())?;
    Some(value.split(';').next().unwrap_or("").trim().to_string())
}

/// The part of an image manifest that leads to its platform.
#[derive(Deserialize)]
struct ImageManifest {
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
}

/// The parts of an image index `--platform` needs.
#[derive(Deserialize)]
struct Index {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: String,
    platform: Option<IndexPlatform>,
}

#[derive(Deserialize)]
struct IndexPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl IndexPlatform {
    fn describe(&self) -> String {
        let text = match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        };
        printable(&text)
    }
}

/// The child of index `body` for `wanted`, validated; `Ok(None)` when `body` is a single
/// image manifest (its own digest is the answer).
///
/// Variants follow containerd's matching: `arm64` without a variant is `arm64/v8`, and
/// a platform asked without a variant takes the first child of that os and architecture.
fn select_platform(body: &[u8], wanted: &Platform) -> Result<Option<Digest>> {
    let index: Index = serde_json::from_slice(body)
        .map_err(|e| ResolveErrorKind::Protocol(format!("manifest is not valid JSON: {e}")))?;
    let Some(manifests) = index.manifests else {
        return Ok(None);
    };
    if let Some(media_type) = &index.media_type
        && media_type != OCI_INDEX
        && media_type != DOCKER_MANIFEST_LIST
    {
        return Err(ResolveErrorKind::Protocol(format!(
            "manifest with children has unexpected media type {}",
            printable(media_type)
        )));
    }
    let normal = |architecture: &str, variant: Option<&str>| -> Option<String> {
        match (architecture, variant) {
            ("arm64", None) => Some("v8".to_string()),
            (_, variant) => variant.map(str::to_string),
        }
    };
    let wanted_variant = wanted
        .variant
        .as_deref()
        .map(|v| normal(&wanted.architecture, Some(v)))
        .unwrap_or(None);
    let found = manifests.iter().find(|entry| {
        entry.platform.as_ref().is_some_and(|p| {
            p.os == wanted.os
                && p.architecture == wanted.architecture
                && (wanted_variant.is_none()
                    || normal(&p.architecture, p.variant.as_deref()) == wanted_variant)
        })
    });
    match found {
        Some(entry) => Ok(Some(Digest::parse(&entry.digest)?)),
        None => {
            let mut available: Vec<String> = manifests
                .iter()
                .filter_map(|entry| entry.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(IndexPlatform::describe)
                .collect();
            // A hostile index may list thousands: name a screenful.
            const SHOWN: usize = 32;
            if available.len() > SHOWN {
                let more = available.len() - SHOWN;
                available.truncate(SHOWN);
                available.push(format!("and {more} more"));
            }
            let available = if available.is_empty() {
                "none listed".to_string()
            } else {
                available.join(", ")
            };
            Err(ResolveErrorKind::PlatformNotFound(format!(
                "{wanted} (available: {available})"
            )))
        }
    }
}

/// What a request that failed means to the user; `what` names the kind of body (for a
/// body over its cap).
fn failure_kind(failure: Failure, what: &str) -> ResolveErrorKind {
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
        Failure::Redirect(why) => ResolveErrorKind::Protocol(format!("redirect refused: {why}")),
    }
}

/// `0.5 s`, `30 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// `4 MiB`, `512 KiB`, `100 bytes`.
fn size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::credentials::Secret;

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
            STANDARD.encode("alice:p@ss word")
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
