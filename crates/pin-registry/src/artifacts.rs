//! What a registry holds beside an image: its signatures in both forms cosign writes, and
//! the facts of the image itself (when it was built, where its source is).
//!
//! For a digest `D` in repository `R`:
//! - cosign v2: the manifest tagged `sha256-<hex of D>.sig`, whose simple-signing layers are
//!   signatures (the blob is the payload, the annotations carry the signature);
//! - cosign v3: Sigstore bundles attached to `D` as OCI 1.1 referrers, from
//!   `GET /v2/R/referrers/D`, or on 404 from the referrers tag schema (the index tagged
//!   `sha256-<hex of D>`).
//!
//! Every request goes through the resolver's transport and authorization (mirrors,
//! credentials, the per-host cap, retries, body caps, redirects, redaction). Manifests
//! fetched by digest and blobs are checked against their digest. Each signature set and
//! each image's facts are fetched once per endpoint and digest, however many references
//! ask at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};
use serde::Deserialize;

use crate::auth::Auth;
use crate::client::{Flights, RegistryResolver, Result, check};
use crate::error::{ResolveError, ResolveErrorKind};
use crate::lookup::Endpoint;
use crate::lookup::Lookup;
use crate::manifest::{ACCEPT_MANIFESTS, MAX_MANIFEST_BYTES};
use crate::reference::Digest;
use crate::transport::Answer;

/// The media type of a cosign v2 simple-signing signature layer.
pub const SIMPLE_SIGNING_LAYER: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of a Sigstore bundle v0.3, as cosign v3 attaches it.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Most signature layers read from one `.sig` manifest, and most referrers read for one
/// digest: cosign writes one per signing; more only cost requests and checks.
pub const MAX_SIGNATURES: usize = 16;
/// Most bytes read of one signature payload or bundle blob: a payload is under 1 KiB, a
/// keyless bundle a few KiB.
pub const MAX_SIGNATURE_BYTES: usize = 256 * 1024;
/// The label or annotation naming an image's source repository.
pub const SOURCE_KEY: &str = "org.opencontainers.image.source";
/// The annotation naming when an image was built.
const CREATED_KEY: &str = "org.opencontainers.image.created";

/// One cosign v2 signature layer: the signed payload and the layer's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLayer {
    /// The payload blob's exact bytes.
    pub payload: Vec<u8>,
    /// The layer's annotations (the signature, a certificate, a Rekor bundle).
    pub annotations: BTreeMap<String, String>,
}

/// Every signature a registry holds for one digest, in both forms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureSet {
    /// cosign v2 simple-signing layers.
    pub simple_signing: Vec<SignedLayer>,
    /// Sigstore bundles (their JSON bytes), from referrers.
    pub bundles: Vec<Vec<u8>>,
    /// What could not be read (a form that failed to fetch, an oversized blob): a digest
    /// that no readable signature accepts is then in doubt, not unsigned.
    pub problems: Vec<String>,
}

/// What pin needs to know about an image itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageFacts {
    /// For an index: the digests it lists.
    pub children: Vec<String>,
    /// When it was built: the config's `created` (for an index, its `created` annotation
    /// or its first platform's), as written (RFC 3339).
    pub created: Option<String>,
    /// `org.opencontainers.image.source`, from the manifest's annotations or the
    /// config's labels.
    pub source: Option<String>,
}

/// Where signatures and image facts come from: the registry ([`Artifacts`]) or, in tests
/// of the stages around it, anything else.
pub trait ArtifactSource: Send + Sync {
    /// The signatures of `digest` in `lookup`'s repository.
    fn signatures<'a>(
        &'a self,
        lookup: &'a Lookup,
        digest: &'a Digest,
    ) -> BoxFuture<'a, std::result::Result<Arc<SignatureSet>, ResolveError>>;

    /// The facts of image `digest` in `lookup`'s repository; `None`: it does not exist.
    fn image<'a>(
        &'a self,
        lookup: &'a Lookup,
        digest: &'a Digest,
    ) -> BoxFuture<'a, std::result::Result<Option<ImageFacts>, ResolveError>>;

    /// The digest `lookup`'s tag points to now.
    fn tag<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, std::result::Result<Digest, ResolveError>>;
}

/// Signatures and image facts fetched through a [`RegistryResolver`], once per endpoint
/// and digest.
pub struct Artifacts<'r> {
    resolver: &'r RegistryResolver,
    signatures: Flights<(Endpoint, String), Result<Arc<SignatureSet>>>,
    facts: Flights<(Endpoint, String), Result<Option<ImageFacts>>>,
}

impl RegistryResolver {
    /// Fetches signatures and image facts with this resolver's transport, mirrors and
    /// credentials.
    pub fn artifacts(&self) -> Artifacts<'_> {
        Artifacts {
            resolver: self,
            signatures: Flights::new(),
            facts: Flights::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: Option<String>,
    artifact_type: Option<String>,
    digest: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Config {
    created: Option<String>,
    config: Option<ConfigLabels>,
}

#[derive(Deserialize)]
struct ConfigLabels {
    #[serde(rename = "Labels")]
    labels: Option<BTreeMap<String, String>>,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| ResolveErrorKind::Protocol(format!("{what} is not valid JSON: {e}")))
}

impl Artifacts<'_> {
    /// `what` names the answer in errors ("a {what} larger than the … limit").
    async fn get(
        &self,
        url: &str,
        (accept, what): (&str, &str),
        cap: usize,
        auth: &Auth,
    ) -> Result<Answer> {
        self.resolver
            .transport
            .send(Method::GET, url, cap, |request| {
                let request = request.header(ACCEPT, accept);
                match &auth.header {
                    Some(value) => request.header(AUTHORIZATION, value),
                    None => request,
                }
            })
            .await
            .map_err(|failure| ResolveErrorKind::from_failure(failure, what))
    }

    /// A manifest by tag (`None`: 404).
    async fn by_tag(
        &self,
        endpoint: &Endpoint,
        tag: &str,
        auth: &Auth,
    ) -> Result<Option<Manifest>> {
        let url = self.resolver.manifest_url(endpoint, tag);
        let answer = self
            .get(
                &url,
                (ACCEPT_MANIFESTS, "signature manifest or referrers index"),
                MAX_MANIFEST_BYTES,
                auth,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = check(answer, auth)?;
        parse(&answer.body, &format!("the manifest tagged {tag}")).map(Some)
    }

    /// A manifest by digest, checked (`None`: 404).
    async fn by_digest(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        auth: &Auth,
    ) -> Result<Option<Manifest>> {
        match self.resolver.by_digest(endpoint, digest, auth).await? {
            None => Ok(None),
            Some(body) => parse(&body, &format!("the manifest {digest}")).map(Some),
        }
    }

    /// A blob by digest, checked against it and capped at `cap` (`None`: 404).
    async fn blob(
        &self,
        endpoint: &Endpoint,
        digest: &str,
        cap: usize,
        auth: &Auth,
    ) -> Result<Option<Vec<u8>>> {
        let digest = Digest::parse(digest)?;
        let url = format!(
            "{}://{}/v2/{}/blobs/{digest}",
            self.resolver.scheme(&endpoint.host),
            endpoint.host,
            endpoint.repository
        );
        let answer = self.get(&url, ("*/*", "blob"), cap, auth).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let answer = check(answer, auth)?;
        if Digest::of_bytes(&answer.body) != digest {
            return Err(ResolveErrorKind::Protocol(format!(
                "the blob served for {digest} does not hash to it"
            )));
        }
        Ok(Some(answer.body))
    }

    /// The referrers of `digest`: the API, else the referrers tag schema.
    async fn referrers(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        auth: &Auth,
    ) -> Result<Vec<Descriptor>> {
        let url = format!(
            "{}://{}/v2/{}/referrers/{digest}",
            self.resolver.scheme(&endpoint.host),
            endpoint.host,
            endpoint.repository
        );
        let answer = self
            .get(
                &url,
                ("application/vnd.oci.image.index.v1+json", "referrers index"),
                MAX_MANIFEST_BYTES,
                auth,
            )
            .await?;
        let index = match answer.status {
            // No referrers API (distribution 2.8 says 404): the tag schema.
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED | StatusCode::BAD_REQUEST => {
                let tag = digest.as_str().replace(':', "-");
                match self.by_tag(endpoint, &tag, auth).await? {
                    Some(index) => index,
                    None => return Ok(Vec::new()),
                }
            }
            _ => parse(&check(answer, auth)?.body, "the referrers index")?,
        };
        Ok(index.manifests)
    }

    /// Both forms of signature of `digest`, asked for side by side: the cosign v2 tag
    /// (`sha256-<hex>.sig`, then its payloads) and the referrers (then their bundles),
    /// so that a digest costs the round trips of the longer chain, not of both.
    async fn fetch_signatures(&self, endpoint: &Endpoint, digest: &Digest) -> Result<SignatureSet> {
        let auth = self.resolver.authorization(endpoint).await?;
        let (mut set, referred) = futures::join!(
            self.simple_signing(endpoint, digest, &auth),
            self.referred_bundles(endpoint, digest, &auth)
        );
        set.bundles.extend(referred.bundles);
        set.problems.extend(referred.problems);
        Ok(set)
    }

    /// The cosign v2 signatures of `digest`: the layers of its `.sig` tag's manifest.
    async fn simple_signing(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        auth: &Auth,
    ) -> SignatureSet {
        let mut set = SignatureSet::default();
        let tag = format!("{}.sig", digest.as_str().replace(':', "-"));
        match self.by_tag(endpoint, &tag, auth).await {
            Ok(None) => {}
            Ok(Some(manifest)) => {
                let layers = manifest
                    .layers
                    .into_iter()
                    .filter(|l| l.media_type.as_deref() == Some(SIMPLE_SIGNING_LAYER))
                    .take(MAX_SIGNATURES);
                for layer in layers {
                    match self
                        .blob(endpoint, &layer.digest, MAX_SIGNATURE_BYTES, auth)
                        .await
                    {
                        Ok(Some(payload)) => set.simple_signing.push(SignedLayer {
                            payload,
                            annotations: layer.annotations,
                        }),
                        Ok(None) => set
                            .problems
                            .push(format!("the signature payload {} is missing", layer.digest)),
                        Err(e) => set.problems.push(format!("signature payload: {e}")),
                    }
                }
            }
            Err(e) => set.problems.push(format!("{tag}: {e}")),
        }
        set
    }

    /// The Sigstore bundles attached to `digest` as referrers.
    async fn referred_bundles(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
        auth: &Auth,
    ) -> SignatureSet {
        let mut set = SignatureSet::default();
        let referrers = match self.referrers(endpoint, digest, auth).await {
            Ok(referrers) => referrers,
            Err(e) => {
                set.problems.push(format!("referrers: {e}"));
                Vec::new()
            }
        };
        let bundles = referrers
            .into_iter()
            .filter(|r| r.artifact_type.as_deref().is_none_or(|t| t == BUNDLE_V03))
            .take(MAX_SIGNATURES);
        for referrer in bundles {
            if let Err(e) = self
                .read_bundles(endpoint, &referrer.digest, auth, &mut set)
                .await
            {
                set.problems
                    .push(format!("referrer {}: {e}", referrer.digest));
            }
        }
        set
    }

    /// The bundle layers of the referrer manifest `digest`.
    async fn read_bundles(
        &self,
        endpoint: &Endpoint,
        digest: &str,
        auth: &Auth,
        set: &mut SignatureSet,
    ) -> Result<()> {
        let digest = Digest::parse(digest)?;
        let Some(manifest) = self.by_digest(endpoint, &digest, auth).await? else {
            return Ok(());
        };
        let bundle_type = manifest.artifact_type.as_deref() == Some(BUNDLE_V03)
            || manifest
                .config
                .as_ref()
                .is_some_and(|c| c.media_type.as_deref() == Some(BUNDLE_V03));
        let layers = manifest
            .layers
            .iter()
            .filter(|l| l.media_type.as_deref() == Some(BUNDLE_V03) || bundle_type)
            .take(MAX_SIGNATURES);
        for layer in layers {
            if let Some(bytes) = self
                .blob(endpoint, &layer.digest, MAX_SIGNATURE_BYTES, auth)
                .await?
            {
                set.bundles.push(bytes);
            }
        }
        Ok(())
    }

    async fn fetch_facts(
        &self,
        endpoint: &Endpoint,
        digest: &Digest,
    ) -> Result<Option<ImageFacts>> {
        let auth = self.resolver.authorization(endpoint).await?;
        let Some(manifest) = self.by_digest(endpoint, digest, &auth).await? else {
            return Ok(None);
        };
        let mut facts = ImageFacts {
            children: manifest
                .manifests
                .iter()
                .map(|m| m.digest.clone())
                .collect(),
            created: manifest.annotations.get(CREATED_KEY).cloned(),
            source: manifest.annotations.get(SOURCE_KEY).cloned(),
        };
        if let Some(config) = &manifest.config
            && let Some(body) = self
                .blob(endpoint, &config.digest, MAX_MANIFEST_BYTES, &auth)
                .await?
            && let Ok(config) = serde_json::from_slice::<Config>(&body)
        {
            facts.created = facts.created.or(config.created);
            let labels = config.config.and_then(|c| c.labels).unwrap_or_default();
            facts.source = facts.source.or_else(|| labels.get(SOURCE_KEY).cloned());
        }
        // An index: its first platform speaks for it where it says nothing itself.
        if (facts.created.is_none() || facts.source.is_none())
            && let Some(first) = manifest.manifests.first()
            && let Ok(child) = Digest::parse(&first.digest)
            && let Some(manifest) = self.by_digest(endpoint, &child, &auth).await?
            && let Some(config) = &manifest.config
            && let Some(body) = self
                .blob(endpoint, &config.digest, MAX_MANIFEST_BYTES, &auth)
                .await?
            && let Ok(config) = serde_json::from_slice::<Config>(&body)
        {
            facts.created = facts.created.or(config.created);
            let labels = config.config.and_then(|c| c.labels).unwrap_or_default();
            facts.source = facts
                .source
                .or_else(|| manifest.annotations.get(SOURCE_KEY).cloned())
                .or_else(|| labels.get(SOURCE_KEY).cloned());
        }
        Ok(Some(facts))
    }

    /// What `fetch` gives for `lookup`'s endpoint and `digest`, fetched once per pair
    /// however many ask, at once or later (`flights` keeps the answer).
    async fn once<T, F, Fut>(
        &self,
        flights: &Flights<(Endpoint, String), Result<T>>,
        lookup: &Lookup,
        digest: &Digest,
        fetch: F,
    ) -> std::result::Result<T, ResolveError>
    where
        T: Clone,
        F: FnOnce(Endpoint) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let endpoint = self.resolver.endpoint(lookup);
        let cell = flights.cell(&(endpoint.clone(), digest.as_str().to_string()));
        cell.get_or_init(|| fetch(endpoint.clone()))
            .await
            .clone()
            .map_err(|kind| self.error(lookup, &endpoint, kind))
    }

    fn error(&self, lookup: &Lookup, endpoint: &Endpoint, kind: ResolveErrorKind) -> ResolveError {
        ResolveError {
            lookup: lookup.clone(),
            host: endpoint.host.clone(),
            kind,
        }
    }
}

impl ArtifactSource for Artifacts<'_> {
    fn signatures<'a>(
        &'a self,
        lookup: &'a Lookup,
        digest: &'a Digest,
    ) -> BoxFuture<'a, std::result::Result<Arc<SignatureSet>, ResolveError>> {
        Box::pin(
            self.once(
                &self.signatures,
                lookup,
                digest,
                move |endpoint| async move {
                    self.fetch_signatures(&endpoint, digest).await.map(Arc::new)
                },
            ),
        )
    }

    fn image<'a>(
        &'a self,
        lookup: &'a Lookup,
        digest: &'a Digest,
    ) -> BoxFuture<'a, std::result::Result<Option<ImageFacts>, ResolveError>> {
        Box::pin(
            self.once(&self.facts, lookup, digest, move |endpoint| async move {
                self.fetch_facts(&endpoint, digest).await
            }),
        )
    }

    fn tag<'a>(
        &'a self,
        lookup: &'a Lookup,
    ) -> BoxFuture<'a, std::result::Result<Digest, ResolveError>> {
        Box::pin(async move {
            let endpoint = self.resolver.endpoint(lookup);
            let tagged = async {
                let auth = self.resolver.authorization(&endpoint).await?;
                self.resolver.tagged(&endpoint, &lookup.tag, &auth).await
            };
            tagged
                .await
                .map(|t| t.digest)
                .map_err(|kind| self.error(lookup, &endpoint, kind))
        })
    }
}
