//! The real resolver: asks registries over the distribution HTTP API.
//!
//! A lookup becomes, at most:
//! 1. the token flow for its repository, once per host and repository (oci-client:
//!    `GET /v2/`, the `WWW-Authenticate` challenge, the realm's token);
//! 2. `HEAD /v2/<name>/manifests/<tag>` with all four manifest media types in `Accept`,
//!    read `Docker-Content-Digest` (a `GET` and sha256 of the exact bytes when a
//!    registry leaves the header out);
//! 3. with `--platform` and an index: `GET` the index by digest and pick the child.
//!
//! Steps 2 and 3 use `reqwest` directly rather than oci-client, because oci-client's
//! errors drop the response headers (`ratelimit-remaining`, later `Retry-After`) and
//! its `pull_manifest_raw` does not report the status codes we map to user errors.
//! Every manifest request goes through [`RegistryResolver::send`], the one place where
//! retries and per-host limits belong.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;

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

/// Longest a single request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a token is reused: a little under the 60 s a token lives when the token
/// server gives no `expires_in` (Docker's token specification).
const TOKEN_REUSE: Duration = Duration::from_secs(50);

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

/// The token for one host and repository (`None` when the registry wants none) and
/// when it was fetched.
type TokenCell = Arc<OnceCell<(Option<String>, Instant)>>;

/// Resolves tags by asking registries.
pub struct RegistryResolver {
    config: RegistryConfig,
    /// Does the token flow (challenge, realm, token parsing).
    oci: oci_client::Client,
    /// Sends the manifest requests (see the module documentation for why).
    http: reqwest::Client,
    /// One token request per host and repository, shared by concurrent lookups.
    tokens: Mutex<HashMap<Endpoint, TokenCell>>,
}

impl RegistryResolver {
    /// A resolver with these settings; fails if a CA file cannot be read or parsed.
    pub fn new(config: RegistryConfig) -> Result<RegistryResolver, String> {
        let mut pems = Vec::new();
        let mut http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
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
            pems.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem,
            });
        }
        let http = http
            .build()
            .map_err(|e| format!("cannot set up HTTP client: {}", error_chain(&e)))?;
        let oci = oci_client::Client::try_from(ClientConfig {
            protocol: ClientProtocol::HttpsExcept(config.insecure.clone()),
            extra_root_certificates: pems,
            read_timeout: Some(REQUEST_TIMEOUT),
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: concat!("pin/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        })
        .map_err(|e| format!("cannot set up registry client: {e}"))?;
        Ok(RegistryResolver {
            config,
            oci,
            http,
            tokens: Mutex::new(HashMap::new()),
        })
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

    async fn resolve_at(&self, endpoint: &Endpoint, tag: &str) -> Result<Digest, ResolveErrorKind> {
        let token = self.token(endpoint, tag).await?;
        let token = token.as_deref();
        let tag_url = self.manifest_url(endpoint, tag);
        let head = self.send(Method::HEAD, &tag_url, token).await?;
        let media_type = content_type(head.headers());
        let (digest, body) = match header(head.headers(), "docker-content-digest") {
            Some(value) => (Digest::parse(&value)?, None),
            None => {
                // Some registries leave the header out of HEAD: hash the exact bytes.
                let body = self.get_manifest(&tag_url, token).await?;
                (Digest::of_bytes(&body), Some(body))
            }
        };
        let Some(platform) = &self.config.platform else {
            return Ok(digest);
        };
        if media_type
            .as_deref()
            .is_some_and(|t| t == OCI_MANIFEST || t == DOCKER_MANIFEST)
        {
            return Ok(digest);
        }
        let body = match body {
            Some(body) => body,
            None => {
                // GET the index by the digest just read, so the child comes from it even
                // if the tag moves in between.
                let url = self.manifest_url(endpoint, digest.as_str());
                let body = self.get_manifest(&url, token).await?;
                if Digest::of_bytes(&body) != digest {
                    return Err(ResolveErrorKind::Protocol(format!(
                        "the manifest served for {digest} does not hash to it"
                    )));
                }
                body
            }
        };
        select_platform(&body, platform).map(|child| child.unwrap_or(digest))
    }

    fn manifest_url(&self, endpoint: &Endpoint, reference: &str) -> String {
        format!(
            "{}://{}/v2/{}/manifests/{reference}",
            self.scheme(&endpoint.host),
            endpoint.host,
            endpoint.repository
        )
    }

    /// The bearer token for `endpoint`'s repository, fetched once per host and
    /// repository (anonymously for now) and shared by concurrent lookups. `None`: the
    /// registry asks for no token.
    async fn token(
        &self,
        endpoint: &Endpoint,
        tag: &str,
    ) -> Result<Option<String>, ResolveErrorKind> {
        let cell = {
            let mut tokens = self.tokens.lock().expect("token map lock");
            let cell = tokens.entry(endpoint.clone()).or_default();
            // oci-client does not tell us `expires_in`: assume the token spec's
            // default lifetime and fetch a fresh token for lookups made after it.
            let expired = cell
                .get()
                .is_some_and(|(_, fetched)| fetched.elapsed() > TOKEN_REUSE);
            if expired {
                *cell = TokenCell::default();
            }
            Arc::clone(cell)
        };
        let (token, _) = cell
            .get_or_try_init(|| async {
                let reference = Reference::with_tag(
                    endpoint.host.clone(),
                    endpoint.repository.clone(),
                    tag.to_string(),
                );
                // oci-client's own lookups swallow token errors; `auth` reports them.
                let flow = self.oci.auth(
                    &reference,
                    &RegistryAuth::Anonymous,
                    RegistryOperation::Pull,
                );
                // oci-client sets no overall timeout; the flow is two requests.
                let token = tokio::time::timeout(2 * REQUEST_TIMEOUT, flow)
                    .await
                    .map_err(|_| {
                        ResolveErrorKind::Network(format!(
                            "no answer from {} or its token endpoint within {} s",
                            endpoint.host,
                            (2 * REQUEST_TIMEOUT).as_secs()
                        ))
                    })?
                    .map_err(|e| token_error(e, &endpoint.host))?;
                Ok::<_, ResolveErrorKind>((token, Instant::now()))
            })
            .await?;
        Ok(token.clone())
    }

    async fn get_manifest(
        &self,
        url: &str,
        token: Option<&str>,
    ) -> Result<Vec<u8>, ResolveErrorKind> {
        let response = self.send(Method::GET, url, token).await?;
        let body = response.bytes().await.map_err(|e| network_error(&e))?;
        Ok(body.to_vec())
    }

    /// Sends one manifest request and maps any status but 200 to an error.
    ///
    /// Retries with backoff (429, 5xx, connection resets) and per-host limits go here.
    async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
    ) -> Result<reqwest::Response, ResolveErrorKind> {
        let mut request = self
            .http
            .request(method, url)
            .header(ACCEPT, ACCEPT_MANIFESTS);
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request.send().await.map_err(|e| network_error(&e))?;
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let remaining = header(response.headers(), "ratelimit-remaining");
        Err(match status {
            StatusCode::NOT_FOUND => ResolveErrorKind::NotFound,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => ResolveErrorKind::Unauthorized {
                tried: "no credentials".to_string(),
            },
            StatusCode::TOO_MANY_REQUESTS => ResolveErrorKind::RateLimited { remaining },
            other => ResolveErrorKind::Status {
                status: other.as_u16(),
                remaining,
            },
        })
    }
}

impl Resolver for RegistryResolver {
    fn resolve<'a>(&'a self, lookup: &'a Lookup) -> BoxFuture<'a, Result<Digest, ResolveError>> {
        Box::pin(async move {
            let endpoint = self.endpoint(lookup);
            self.resolve_at(&endpoint, &lookup.tag)
                .await
                .map_err(|kind| ResolveError {
                    lookup: lookup.clone(),
                    host: endpoint.host.clone(),
                    kind,
                })
        })
    }
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
        match &self.variant {
            Some(variant) => format!("{}/{}/{variant}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// The child of index `body` for `wanted`, validated; `Ok(None)` when `body` is a single
/// image manifest (its own digest is the answer).
///
/// Variants follow containerd's matching: `arm64` without a variant is `arm64/v8`, and
/// a platform asked without a variant takes the first child of that os and architecture.
fn select_platform(body: &[u8], wanted: &Platform) -> Result<Option<Digest>, ResolveErrorKind> {
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
            "manifest with children has unexpected media type {media_type}"
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
            let available: Vec<String> = manifests
                .iter()
                .filter_map(|entry| entry.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(IndexPlatform::describe)
                .collect();
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

/// Maps a failure of oci-client's token flow: the `GET /v2/` that asks for the
/// challenge is the registry's (network), anything after it is the token endpoint's.
fn token_error(error: OciDistributionError, host: &str) -> ResolveErrorKind {
    match error {
        OciDistributionError::RequestError(e) => {
            let is_challenge = e.url().is_some_and(|url| {
                url.path() == "/v2/" && url.authority() == host.trim_end_matches(":443")
            });
            if is_challenge {
                network_error(&e)
            } else {
                ResolveErrorKind::Token(error_chain(&e))
            }
        }
        OciDistributionError::AuthenticationFailure(body) => {
            ResolveErrorKind::Token(format!("token endpoint refused: {}", body.trim()))
        }
        other => ResolveErrorKind::Token(other.to_string()),
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

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_string())
}

/// The media type without parameters (`; charset=…`).
fn content_type(headers: &HeaderMap) -> Option<String> {
    let value = header(headers, CONTENT_TYPE.as_str())?;
    Some(value.split(';').next().unwrap_or("").trim().to_string())
}

/// An error and its causes in one line (reqwest's own message names only the URL).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
