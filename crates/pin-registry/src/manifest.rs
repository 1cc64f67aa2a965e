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

/// Checks that a tag's `GET` answer is a manifest before its bytes are hashed: its
/// `Content-Type` is one of the four manifest media types and the body parses as that
/// manifest (`schemaVersion` 2, a `mediaType` field agreeing when present). An empty
/// body, a login page or a JSON error sent with 200 is refused; returns the media type.
pub(crate) fn checked_manifest(answer: &Answer) -> Result<String, ResolveErrorKind> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "schemaVersion")]
        schema_version: Option<serde_json::Value>,
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    let refused = |why: String| ResolveErrorKind::Protocol(format!("{why}; it is not hashed"));
    let media_type = content_type(answer).unwrap_or_default();
    if ![
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
    ]
    .contains(&media_type.as_str())
    {
        return Err(refused(format!(
            "the registry answered the manifest GET with Content-Type {:?}, not a manifest media type",
            printable(&media_type)
        )));
    }
    let head: Head = serde_json::from_slice(&answer.body).map_err(|e| {
        refused(format!(
            "the {media_type} the registry sent ({} bytes) is not JSON: {e}",
            answer.body.len()
        ))
    })?;
    if head.schema_version != Some(serde_json::json!(2)) {
        return Err(refused(format!(
            "the {media_type} the registry sent has no schemaVersion 2"
        )));
    }
    if let Some(said) = head.media_type
        && said != media_type
    {
        return Err(refused(format!(
            "the manifest the registry sent says mediaType {:?} but was served as {media_type}",
            printable(&said)
        )));
    }
    Ok(media_type)
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};

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

    fn answer(content_type: &str, body: &[u8]) -> Answer {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        Answer {
            status: StatusCode::OK,
            headers,
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_manifest_get_answer_must_be_a_manifest_of_its_content_type() {
        let manifest = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}"}}"#);
        assert_eq!(
            checked_manifest(&answer(DOCKER_MANIFEST, manifest.as_bytes())),
            Ok(DOCKER_MANIFEST.to_string())
        );
        // The mediaType field is optional in OCI manifests.
        let oci = answer(
            &format!("{OCI_MANIFEST}; charset=utf-8"),
            br#"{"schemaVersion":2}"#,
        );
        assert_eq!(checked_manifest(&oci), Ok(OCI_MANIFEST.to_string()));
        for (content_type, body) in [
            (DOCKER_MANIFEST, &b""[..]),
            ("text/html", b"<html>Sign in</html>"),
            (
                "application/json",
                br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#,
            ),
            (OCI_INDEX, br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#),
            (OCI_INDEX, br#"{"schemaVersion":1}"#),
            (OCI_INDEX, br#"{"schemaVersion":"2"}"#),
            (OCI_INDEX, manifest.as_bytes()),
        ] {
            let refused = checked_manifest(&answer(content_type, body));
            assert!(
                matches!(&refused, Err(ResolveErrorKind::Protocol(m)) if m.ends_with("it is not hashed")),
                "{content_type} {body:?}: {refused:?}"
            );
        }
    }
}
