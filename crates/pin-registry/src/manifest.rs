//! Manifests: the four media types, what a tag's `HEAD` said, and picking one
//! platform's child out of an index.

use serde::Deserialize;

use crate::error::ResolveErrorKind;
use crate::platform::Platform;
use crate::reference::Digest;
use crate::text::printable;
use crate::transport::Answer;

/// OCI image index.
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker manifest list.
pub(crate) const DOCKER_MANIFEST_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker image manifest, schema 2.
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// All four, always: without them a registry may convert Docker images to schema 1
/// (another digest), answer a list with one child, or say 404 to OCI images.
pub(crate) const ACCEPT_MANIFESTS: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Most bytes read of a manifest, an index, a config blob, or any other registry
/// answer (the `/v2/` ping, error bodies). The distribution registry refuses to store
/// a manifest over 4 MiB, and the largest real indexes and configs are tens of KiB, so
/// anything longer is an attack on our memory, not an image.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// What the `HEAD` of a tag said (and its body, when a `GET` was needed).
#[derive(Debug, Clone)]
pub(crate) struct Tagged {
    pub(crate) digest: Digest,
    pub(crate) media_type: Option<String>,
    pub(crate) body: Option<Vec<u8>>,
}

/// Whether the tag's manifest is an index (or manifest list).
pub(crate) fn is_index(tagged: &Tagged) -> bool {
    match tagged.media_type.as_deref() {
        Some(OCI_INDEX | DOCKER_MANIFEST_LIST) => true,
        Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
        // No or another content type: the bytes tell, when we have them.
        _ => tagged.body.as_deref().is_some_and(|body| {
            serde_json::from_slice::<Index>(body).is_ok_and(|i| i.manifests.is_some())
        }),
    }
}

/// Whether a media type is one of a single image's manifests.
pub(crate) fn is_image_manifest(media_type: Option<&str>) -> bool {
    matches!(media_type, Some(OCI_MANIFEST | DOCKER_MANIFEST))
}

/// The media type without parameters (`; charset=…`).
pub(crate) fn content_type(answer: &Answer) -> Option<String> {
    let value = answer.header(reqwest::header::CONTENT_TYPE.as_str())?;
    Some(value.split(';').next().unwrap_or("").trim().to_string())
}

/// The part of an image manifest that leads to its platform.
#[derive(Deserialize)]
pub(crate) struct ImageManifest {
    pub(crate) config: Option<Descriptor>,
}

/// A content descriptor: what a manifest points to.
#[derive(Deserialize)]
pub(crate) struct Descriptor {
    pub(crate) digest: String,
}

/// The parts of an image index `--platform` needs.
#[derive(Deserialize)]
pub(crate) struct Index {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    #[serde(default)]
    pub(crate) manifests: Option<Vec<IndexEntry>>,
}

/// One child of an index.
#[derive(Deserialize)]
pub(crate) struct IndexEntry {
    pub(crate) digest: String,
    platform: Option<Platform>,
}

/// The platform an image config blob records, if it says one.
pub(crate) fn config_platform(body: &[u8]) -> Option<Platform> {
    serde_json::from_slice::<Platform>(body).ok()
}

/// The child of index `body` for `wanted`, validated; `Ok(None)` when `body` is a single
/// image manifest (its own digest is the answer). The first child that
/// [satisfies](Platform::satisfies) `wanted` wins.
pub(crate) fn select_platform(
    body: &[u8],
    wanted: &Platform,
) -> Result<Option<Digest>, ResolveErrorKind> {
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
    let found = manifests
        .iter()
        .find(|entry| entry.platform.as_ref().is_some_and(|p| p.satisfies(wanted)));
    match found {
        Some(entry) => Ok(Some(Digest::parse(&entry.digest)?)),
        None => Err(ResolveErrorKind::PlatformNotFound(format!(
            "{wanted} (available: {})",
            available(&manifests)
        ))),
    }
}

/// The platforms an index lists, for an error message: a hostile index may list
/// thousands, so a screenful is named.
fn available(manifests: &[IndexEntry]) -> String {
    const SHOWN: usize = 32;
    let mut listed: Vec<String> = manifests
        .iter()
        .filter_map(|entry| entry.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| printable(&p.to_string()))
        .collect();
    if listed.len() > SHOWN {
        let more = listed.len() - SHOWN;
        listed.truncate(SHOWN);
        listed.push(format!("and {more} more"));
    }
    if listed.is_empty() {
        "none listed".to_string()
    } else {
        listed.join(", ")
    }
}
