//! Seeding a registry through the distribution HTTP API: blobs, manifests, indexes.

use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::registry::Registry;

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest v2, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// What to push under a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// A single OCI image manifest (platform linux/amd64).
    Oci,
    /// A single Docker schema 2 manifest (platform linux/amd64).
    Docker,
    /// An OCI image index with one OCI manifest per platform (`os/arch[/variant]`).
    OciIndex(&'static [&'static str]),
    /// A Docker manifest list with one Docker manifest per platform.
    DockerList(&'static [&'static str]),
}

/// What a push left in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The digest the tag points to now (the index's, for a multi-arch image).
    pub digest: String,
    /// For an index: each platform as given and its manifest's digest, in order.
    pub children: Vec<(String, String)>,
}

impl Pushed {
    /// The digest of the child manifest for `platform` (as given to the push).
    pub fn child(&self, platform: &str) -> &str {
        self.children
            .iter()
            .find(|(p, _)| p == platform)
            .map(|(_, digest)| digest.as_str())
            .unwrap_or_else(|| panic!("no child for platform {platform} in {self:?}"))
    }
}

/// `sha256:` and the hex digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Something different in every image this process pushes, so re-pushing a tag moves it.
fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

struct Flavour {
    manifest: &'static str,
    config: &'static str,
    layer: &'static str,
}

const OCI: Flavour = Flavour {
    manifest: OCI_MANIFEST,
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar+gzip",
};

const DOCKER: Flavour = Flavour {
    manifest: DOCKER_MANIFEST,
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
};

impl Registry {
    /// Pushes a new, unique image of `kind` as `repository:tag` (blobs, then child
    /// manifests, then the tag) and returns the digests. Pushes are sequential; call it
    /// for one repository's tags one after another.
    pub fn push_image(&self, repository: &str, tag: &str, kind: ImageKind) -> Pushed {
        match kind {
            ImageKind::Oci => Pushed {
                digest: self.push_single(repository, tag, &OCI, "linux/amd64"),
                children: Vec::new(),
            },
            ImageKind::Docker => Pushed {
                digest: self.push_single(repository, tag, &DOCKER, "linux/amd64"),
                children: Vec::new(),
            },
            ImageKind::OciIndex(platforms) => {
                self.push_index(repository, tag, &OCI, OCI_INDEX, platforms)
            }
            ImageKind::DockerList(platforms) => {
                self.push_index(repository, tag, &DOCKER, DOCKER_MANIFEST_LIST, platforms)
            }
        }
    }

    /// Re-pushes `repository:tag` as a new index of `kind`'s media types in which only
    /// the platforms in `renew` get new images; the others keep `previous`'s child
    /// manifests (same digests), as when upstream rebuilds one platform.
    pub fn push_index_renewing(
        &self,
        repository: &str,
        tag: &str,
        kind: ImageKind,
        previous: &Pushed,
        renew: &[&str],
    ) -> Pushed {
        let (flavour, media_type) = match kind {
            ImageKind::OciIndex(_) => (&OCI, OCI_INDEX),
            ImageKind::DockerList(_) => (&DOCKER, DOCKER_MANIFEST_LIST),
            other => panic!("push_index_renewing needs an index kind, not {other:?}"),
        };
        let children = previous
            .children
            .iter()
            .map(|(platform, old_digest)| {
                if renew.contains(&platform.as_str()) {
                    self.push_child(repository, flavour, platform)
                } else {
                    let size = self.manifest_size(repository, old_digest, flavour.manifest);
                    (platform.clone(), old_digest.clone(), size)
                }
            })
            .collect();
        self.put_index(repository, tag, flavour, media_type, children)
    }

    /// The size of the manifest stored under `digest`.
    fn manifest_size(&self, repository: &str, digest: &str, media_type: &str) -> usize {
        let url = format!("{}/v2/{repository}/manifests/{digest}", self.url());
        let mut get = self.agent.get(&url).header("Accept", media_type);
        if let Some(auth) = self.admin_authorization(repository) {
            get = get.header("Authorization", auth);
        }
        let mut response = get.call().expect("GET manifest");
        assert_eq!(response.status().as_u16(), 200, "GET {url}");
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .expect("read manifest");
        body.len()
    }

    fn push_index(
        &self,
        repository: &str,
        tag: &str,
        flavour: &Flavour,
        media_type: &str,
        platforms: &[&str],
    ) -> Pushed {
        let children = platforms
            .iter()
            .map(|platform| self.push_child(repository, flavour, platform))
            .collect();
        self.put_index(repository, tag, flavour, media_type, children)
    }

    /// Pushes a new image for one platform of an index; returns (platform, digest, size).
    fn push_child(
        &self,
        repository: &str,
        flavour: &Flavour,
        platform: &str,
    ) -> (String, String, usize) {
        let (bytes, digest) = self.build_image(repository, flavour, platform);
        self.put_manifest(repository, &digest, flavour.manifest, &bytes);
        (platform.to_string(), digest, bytes.len())
    }

    /// Puts an index of `children` (platform, digest, size) under `tag`.
    fn put_index(
        &self,
        repository: &str,
        tag: &str,
        flavour: &Flavour,
        media_type: &str,
        children: Vec<(String, String, usize)>,
    ) -> Pushed {
        let entries: Vec<Value> = children
            .iter()
            .map(|(platform, digest, size)| {
                json!({
                    "mediaType": flavour.manifest,
                    "size": size,
                    "digest": digest,
                    "platform": platform_json(platform),
                })
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "manifests": entries,
            "annotations": {"org.example.pin-test.nonce": nonce()},
        });
        let bytes = serde_json::to_vec_pretty(&index).expect("serialise index");
        let digest = self.put_manifest(repository, tag, media_type, &bytes);
        let children = children
            .into_iter()
            .map(|(platform, digest, _)| (platform, digest))
            .collect();
        Pushed { digest, children }
    }

    fn push_single(
        &self,
        repository: &str,
        tag: &str,
        flavour: &Flavour,
        platform: &str,
    ) -> String {
        let (bytes, _) = self.build_image(repository, flavour, platform);
        self.put_manifest(repository, tag, flavour.manifest, &bytes)
    }

    /// Uploads a unique config and layer and returns the manifest bytes and digest.
    fn build_image(
        &self,
        repository: &str,
        flavour: &Flavour,
        platform: &str,
    ) -> (Vec<u8>, String) {
        let bytes = self.upload_image(repository, flavour, |layer_digest| {
            let mut config = platform_json(platform);
            config["rootfs"] = json!({"type": "layers", "diff_ids": [layer_digest]});
            config["config"] = json!({"Labels": {"org.example.pin-test.nonce": nonce()}});
            config
        });
        let digest = sha256_digest(&bytes);
        (bytes, digest)
    }

    /// Uploads a unique layer and the config `config` makes for the layer's digest;
    /// returns the bytes of the `flavour` image manifest that names both.
    fn upload_image(
        &self,
        repository: &str,
        flavour: &Flavour,
        config: impl FnOnce(&str) -> Value,
    ) -> Vec<u8> {
        let layer = format!("pin test layer {}\n", nonce()).into_bytes();
        let layer_digest = self.upload_blob(repository, &layer);
        let config = serde_json::to_vec(&config(&layer_digest)).expect("serialise config");
        let config_digest = self.upload_blob(repository, &config);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": flavour.manifest,
            "config": {"mediaType": flavour.config, "size": config.len(), "digest": config_digest},
            "layers": [{"mediaType": flavour.layer, "size": layer.len(), "digest": layer_digest}],
        });
        serde_json::to_vec_pretty(&manifest).expect("serialise manifest")
    }

    /// POST an upload session, then PUT the bytes with `?digest=`.
    pub fn upload_blob(&self, repository: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        let url = format!("{}/v2/{repository}/blobs/uploads/", self.url());
        let mut post = self.agent.post(&url);
        if let Some(auth) = self.admin_authorization(repository) {
            post = post.header("Authorization", auth);
        }
        let response = post.send_empty().expect("POST blob upload");
        assert_eq!(response.status().as_u16(), 202, "POST {url}: {response:?}");
        let location = response
            .headers()
            .get("Location")
            .and_then(|v| v.to_str().ok())
            .expect("upload Location header")
            .to_string();
        let location = if location.starts_with('/') {
            format!("{}{location}", self.url())
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{separator}digest={digest}");
        let mut put = self
            .agent
            .put(&put_url)
            .header("Content-Type", "application/octet-stream");
        if let Some(auth) = self.admin_authorization(repository) {
            put = put.header("Authorization", auth);
        }
        let mut response = put.send(bytes).expect("PUT blob");
        let status = response.status().as_u16();
        if status != 201 {
            let mut body = String::new();
            let _ = response.body_mut().as_reader().read_to_string(&mut body);
            panic!("PUT blob {digest} to {repository}: HTTP {status}: {body}");
        }
        digest
    }

    /// PUTs manifest `bytes` under `reference` (a tag or digest) and returns their digest,
    /// checked against the registry's `Docker-Content-Digest`.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = sha256_digest(bytes);
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.url());
        let mut put = self.agent.put(&url).header("Content-Type", media_type);
        if let Some(auth) = self.admin_authorization(repository) {
            put = put.header("Authorization", auth);
        }
        let mut response = put.send(bytes).expect("PUT manifest");
        let status = response.status().as_u16();
        let served = response
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if status != 201 {
            let mut body = String::new();
            let _ = response.body_mut().as_reader().read_to_string(&mut body);
            panic!("PUT {url} ({media_type}): HTTP {status}: {body}");
        }
        assert_eq!(served.as_deref(), Some(digest.as_str()), "digest of {url}");
        digest
    }

    /// Deletes `repository:tag`'s manifest (by its digest), so the tag is gone.
    pub fn delete_manifest(&self, repository: &str, digest: &str) {
        let url = format!("{}/v2/{repository}/manifests/{digest}", self.url());
        let mut delete = self.agent.delete(&url);
        if let Some(auth) = self.admin_authorization(repository) {
            delete = delete.header("Authorization", auth);
        }
        let response = delete.call().expect("DELETE manifest");
        assert_eq!(response.status().as_u16(), 202, "DELETE {url}");
    }
}

/// The media type of a cosign v2 simple-signing layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The media type of a Sigstore bundle v0.3.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// A simple-signing layer to push: its payload and its annotations.
pub type SignatureLayer = (Vec<u8>, Vec<(String, String)>);
/// The OCI empty descriptor's media type (an artifact's config).
const EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// The bytes of an OCI 1.1 referrer manifest of `artifact_type`: the empty config
/// (blob `empty`), one layer (blob `layer`, `size` bytes) and `subject`.
pub(crate) fn referrer_manifest(
    artifact_type: &str,
    empty: &str,
    layer: &str,
    size: usize,
    subject: Value,
) -> Vec<u8> {
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": EMPTY, "size": 2, "digest": empty},
        "layers": [{"mediaType": artifact_type, "size": size, "digest": layer}],
        "subject": subject,
    });
    serde_json::to_vec(&manifest).expect("serialise referrer")
}

impl Registry {
    /// Pushes a new single-platform OCI image under `repository:tag` whose config says
    /// it was `created` at that RFC 3339 time and, when given, labels its
    /// `org.opencontainers.image.source`.
    pub fn push_image_built(
        &self,
        repository: &str,
        tag: &str,
        created: &str,
        source: Option<&str>,
    ) -> Pushed {
        let mut labels = json!({"org.example.pin-test.nonce": nonce()});
        if let Some(source) = source {
            labels["org.opencontainers.image.source"] = json!(source);
        }
        let bytes = self.upload_image(repository, &OCI, |layer_digest| {
            json!({
                "os": "linux", "architecture": "amd64", "created": created,
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                "config": {"Labels": labels},
            })
        });
        Pushed {
            digest: self.put_manifest(repository, tag, OCI_MANIFEST, &bytes),
            children: Vec::new(),
        }
    }

    /// Pushes cosign v2 signatures of `digest`: a manifest tagged `sha256-<hex>.sig`
    /// whose simple-signing layers are `layers` (payload, annotations). Returns the
    /// manifest's digest.
    pub fn push_cosign_signatures(
        &self,
        repository: &str,
        digest: &str,
        layers: &[SignatureLayer],
    ) -> String {
        let config = self.upload_blob(repository, b"{}");
        let layers: Vec<Value> = layers
            .iter()
            .map(|(payload, annotations)| {
                let blob = self.upload_blob(repository, payload);
                let annotations: serde_json::Map<String, Value> = annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                json!({"mediaType": SIMPLE_SIGNING, "size": payload.len(), "digest": blob, "annotations": annotations})
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2, "digest": config},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&manifest).expect("serialise signature manifest");
        let tag = format!("{}.sig", digest.replace(':', "-"));
        self.put_manifest(repository, &tag, OCI_MANIFEST, &bytes)
    }

    /// Attaches `blob` (of media type `media_type`, a bundle as cosign v3 writes it) to
    /// `subject` as an OCI 1.1 referrer with that artifact type, and adds it to the
    /// referrers tag schema index `sha256-<hex>` (distribution 2.8 has no referrers
    /// API). Returns the referrer manifest's digest and bytes.
    pub fn push_referrer(
        &self,
        repository: &str,
        subject: &str,
        media_type: &str,
        blob: &[u8],
    ) -> (String, Vec<u8>) {
        let (subject_type, subject_bytes) = self
            .get_manifest(repository, subject)
            .expect("the subject of a referrer exists");
        let empty = self.upload_blob(repository, b"{}");
        let layer = self.upload_blob(repository, blob);
        let subject_json =
            json!({"mediaType": subject_type, "size": subject_bytes.len(), "digest": subject});
        let bytes = referrer_manifest(media_type, &empty, &layer, blob.len(), subject_json);
        let digest = self.put_manifest(repository, &sha256_digest(&bytes), OCI_MANIFEST, &bytes);
        let tag = subject.replace(':', "-");
        let mut entries = match self.get_manifest(repository, &tag) {
            Some((_, index)) => {
                serde_json::from_slice::<Value>(&index).expect("referrers index")["manifests"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }
            None => Vec::new(),
        };
        entries.push(json!({
            "mediaType": OCI_MANIFEST, "size": bytes.len(), "digest": digest, "artifactType": media_type,
        }));
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        let index = serde_json::to_vec(&index).expect("serialise referrers index");
        self.put_manifest(repository, &tag, OCI_INDEX, &index);
        (digest, bytes)
    }

    /// The media type and bytes of the manifest `reference` (a tag or digest), if any.
    pub fn get_manifest(&self, repository: &str, reference: &str) -> Option<(String, Vec<u8>)> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.url());
        let accept = [
            OCI_INDEX,
            DOCKER_MANIFEST_LIST,
            OCI_MANIFEST,
            DOCKER_MANIFEST,
        ]
        .join(", ");
        let mut get = self.agent.get(&url).header("Accept", &accept);
        if let Some(auth) = self.admin_authorization(repository) {
            get = get.header("Authorization", auth);
        }
        let mut response = get.call().expect("GET manifest");
        match response.status().as_u16() {
            200 => {}
            404 => return None,
            other => panic!("GET {url}: HTTP {other}"),
        }
        let media_type = response
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(OCI_MANIFEST)
            .to_string();
        let mut body = Vec::new();
        response
            .body_mut()
            .as_reader()
            .read_to_end(&mut body)
            .expect("read manifest");
        Some((media_type, body))
    }
}

/// `{"os": …, "architecture": …, "variant": …}` from `os/arch[/variant]`.
fn platform_json(platform: &str) -> Value {
    let parts: Vec<&str> = platform.split('/').collect();
    assert!(
        (2..=3).contains(&parts.len()),
        "platform {platform:?} is not os/arch[/variant]"
    );
    let mut value = json!({"os": parts[0], "architecture": parts[1]});
    if let Some(variant) = parts.get(2) {
        value["variant"] = json!(variant);
    }
    value
}
