//! Publisher trust, keyless: a stand-in Fulcio CA and Rekor log in a `trusted-root`
//! file, images signed in both forms by workflow identities, and the hijack refused when
//! the new digest's identity is not the release workflow's.

use crate::support;
use crate::trust::{json, pin, reference};

use std::fs;
use std::path::Path;

use pin_sigstore::signing::{Leaf, StandInSigstore};
use serde_json::Value;
use support::push::BUNDLE_V03;
use support::{ImageKind, Registry};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const RELEASE_V1: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1";
const RELEASE_V2: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v2";
const SIGNED_AT: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

/// A ten-minute leaf for `identity`, issued a minute before `signed_at`.
fn leaf(sigstore: &StandInSigstore, identity: &str, signed_at: i64) -> Leaf {
    sigstore.issue(identity, ISSUER, signed_at - 60).unwrap()
}

fn settings(dir: &Path, host: &str, sigstore: &StandInSigstore, identity: &str) {
    fs::create_dir_all(dir.join("sigstore")).unwrap();
    fs::write(
        dir.join("sigstore/trusted_root.json"),
        sigstore.trusted_root_json(),
    )
    .unwrap();
    fs::write(
        dir.join("pin.toml"),
        format!(
            "trusted-root = \"sigstore/trusted_root.json\"\n\n[[trust]]\nimages = [\"{host}/acme/*\"]\nkeyless = [{{ issuer = \"{ISSUER}\", {identity} }}]\nrequire = \"signed\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn a_tag_moved_to_another_identity_is_refused_and_a_new_workflow_identity_is_loud() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let sigstore = StandInSigstore::new().unwrap();
    let regex = r#"identity-regex = '^https://github\.com/acme/app/\.github/workflows/release\.yml@refs/tags/v.*$'"#;
    settings(dir.path(), host, &sigstore, regex);

    let old = registry.push_image("acme/app", "1", ImageKind::Oci);
    let layer = sigstore
        .sign_simple_signing(
            &leaf(&sigstore, RELEASE_V1, SIGNED_AT),
            &old.digest,
            None,
            SIGNED_AT,
        )
        .unwrap();
    registry.push_cosign_signatures(
        "acme/app",
        &old.digest,
        &[(layer.payload, layer.annotations)],
    );
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {host}/acme/app:1\n"),
    )
    .unwrap();
    let output = pin(dir.path(), host, &["--write", "--format", "json", "."]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signature = reference(&json(&output), "acme/app")["signature"].clone();
    assert_eq!(
        signature,
        serde_json::json!({
            "verified": true, "kind": "keyless", "identity": RELEASE_V1,
            "issuer": ISSUER, "signed_at": "2025-01-01T00:00:00Z",
        })
    );
    let pinned = fs::read_to_string(dir.path().join("Dockerfile")).unwrap();
    assert!(pinned.contains(&old.digest), "{pinned}");

    // Pushed from a laptop: signed keyless, but by the departed maintainer's e-mail.
    let hijack = registry.push_image("acme/app", "1", ImageKind::Oci);
    let bundle = sigstore
        .sign_bundle(
            &leaf(&sigstore, "mallory@example.com", SIGNED_AT + 3600),
            &hijack.digest,
            SIGNED_AT + 3600,
        )
        .unwrap();
    registry.push_referrer("acme/app", &hijack.digest, BUNDLE_V03, bundle.as_bytes());
    let check = pin(
        dir.path(),
        host,
        &["--check", "--update", "--format", "json", "."],
    );
    assert_eq!(check.status.code(), Some(1));
    let found = reference(&json(&check), "acme/app").clone();
    assert_eq!(found["reason"], "untrusted-signer", "{found:#}");
    assert!(
        found["error"]
            .as_str()
            .unwrap()
            .contains("mallory@example.com"),
        "{found:#}"
    );
    let write = pin(dir.path(), host, &["--update", "--write", "."]);
    assert_eq!(write.status.code(), Some(2));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        pinned
    );

    // Signed by the release workflow of another tag: accepted by the regex, but a
    // different identity than the pinned digest's.
    let moved = registry.push_image("acme/app", "1", ImageKind::Oci);
    let bundle = sigstore
        .sign_bundle(
            &leaf(&sigstore, RELEASE_V2, SIGNED_AT + 7200),
            &moved.digest,
            SIGNED_AT + 7200,
        )
        .unwrap();
    registry.push_referrer("acme/app", &moved.digest, BUNDLE_V03, bundle.as_bytes());
    let check = pin(
        dir.path(),
        host,
        &["--check", "--update", "--format", "json", "."],
    );
    assert_eq!(check.status.code(), Some(1));
    let found = reference(&json(&check), "acme/app").clone();
    assert_eq!(found["reason"], "signer-changed", "{found:#}");
    assert_eq!(found["signature"]["identity"], RELEASE_V2);
    let write = pin(dir.path(), host, &["--update", "--write", "."]);
    assert_eq!(write.status.code(), Some(2));
    let err = String::from_utf8_lossy(&write.stderr);
    assert!(
        err.contains("refused (signer-changed)") && err.contains(RELEASE_V1),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        pinned
    );
}

#[test]
fn an_exact_identity_accepts_only_itself_and_another_root_proves_nothing() {
    let registry = Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let sigstore = StandInSigstore::new().unwrap();
    let elsewhere = StandInSigstore::new().unwrap();
    settings(
        dir.path(),
        host,
        &sigstore,
        &format!("identity = \"{RELEASE_V1}\""),
    );
    let good = registry.push_image("acme/good", "1", ImageKind::Oci);
    let layer = sigstore
        .sign_simple_signing(
            &leaf(&sigstore, RELEASE_V1, SIGNED_AT),
            &good.digest,
            None,
            SIGNED_AT,
        )
        .unwrap();
    registry.push_cosign_signatures(
        "acme/good",
        &good.digest,
        &[(layer.payload, layer.annotations)],
    );
    // The right identity, from a CA and log the trusted root does not list.
    let rogue = registry.push_image("acme/rogue", "1", ImageKind::Oci);
    let bundle = elsewhere
        .sign_bundle(
            &leaf(&elsewhere, RELEASE_V1, SIGNED_AT),
            &rogue.digest,
            SIGNED_AT,
        )
        .unwrap();
    registry.push_referrer("acme/rogue", &rogue.digest, BUNDLE_V03, bundle.as_bytes());
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {host}/acme/good:1\nFROM {host}/acme/rogue:1\n"),
    )
    .unwrap();
    let output = pin(dir.path(), host, &["--format", "json", "."]);
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    assert_eq!(reference(&report, "acme/good")["status"], "pin");
    let rogue = reference(&report, "acme/rogue");
    assert_eq!(rogue["status"], "violation", "{rogue:#}");
    assert_eq!(rogue["signature"]["verified"], Value::Bool(false));
}
