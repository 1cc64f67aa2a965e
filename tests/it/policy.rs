//! The airlock: registry policy checked by `pin --check`, settings-file errors, and
//! `--rewrite-registry` against two real registries, "upstream" and "private".

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{Registry, pin_cmd, tree};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn run(dir: &Path, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pin")
}

use crate::support::text;

/// Push an image whose bytes depend only on `seed`, so that pushing the same seed to
/// two registries makes a digest-preserving copy. Returns the manifest digest.
fn push_fixed(registry: &Registry, repository: &str, tag: &str, seed: &str) -> String {
    let layer = format!("layer {seed}\n").into_bytes();
    let layer_digest = registry.upload_blob(repository, &layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let config_digest = registry.upload_blob(repository, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":{},"digest":"{config_digest}"}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":{},"digest":"{layer_digest}"}}]}}"#,
        config.len(),
        layer.len()
    );
    registry.put_manifest(repository, tag, OCI_MANIFEST, manifest.as_bytes())
}

fn statuses(output: &Output) -> Vec<(String, String, String, Value)> {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&output.stdout)));
    report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["text"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["reason"].clone(),
            )
        })
        .collect()
}

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn check_reports_each_policy_rule_as_a_violation() {
    let pinned = format!("harbor.corp.example/hub/library/python:3.12@{DIGEST}");
    let dir = tree(&[
        (
            "pin.toml",
            "[policy]\nallowed-registries = [\"harbor.corp.example/*\"]\ndeny-tags = [\"latest\"]\nrequire-tag = true\n",
        ),
        (
            "Dockerfile",
            &format!(
                "FROM {pinned}\nFROM python:3.12\nFROM harbor.corp.example/hub/library/node:latest@{DIGEST}\nFROM harbor.corp.example/hub/library/busybox@{DIGEST}\nFROM harbor.corp.example/app:1\n"
            ),
        ),
    ]);
    let output = run(dir.path(), &["--check", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let row = |file: &str, text: &str, status: &str, reason: Value| {
        (
            file.to_string(),
            text.to_string(),
            status.to_string(),
            reason,
        )
    };
    assert_eq!(
        statuses(&output),
        vec![
            row("Dockerfile", &pinned, "pinned", "already-pinned".into()),
            row(
                "Dockerfile",
                "python:3.12",
                "violation",
                "allowed-registries".into()
            ),
            row(
                "Dockerfile",
                &format!("harbor.corp.example/hub/library/node:latest@{DIGEST}"),
                "violation",
                "deny-tags".into()
            ),
            row(
                "Dockerfile",
                &format!("harbor.corp.example/hub/library/busybox@{DIGEST}"),
                "violation",
                "require-tag".into()
            ),
            row(
                "Dockerfile",
                "harbor.corp.example/app:1",
                "pin",
                Value::Null
            ),
        ]
    );

    // The text table names file:line, the reference, the rule and what to do.
    let table = run(dir.path(), &["--check"]);
    assert_eq!(table.status.code(), Some(1));
    let table = text(&table.stdout);
    assert!(table.contains("Dockerfile:2:6"), "{table}");
    assert!(table.contains("violation (allowed-registries)"), "{table}");
    assert!(
        table.contains("docker.io/library/python is not in allowed-registries"),
        "{table}"
    );

    // Only policy, no digests required: the unpinned but allowed reference passes.
    fs::write(
        dir.path().join("pin.toml"),
        "[policy]\nallowed-registries = [\"harbor.corp.example/*\"]\nrequire-digest = false\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM harbor.corp.example/app:1\n",
    )
    .unwrap();
    let output = run(dir.path(), &["--check"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[test]
fn check_reports_policy_violations_in_compose_files() {
    let dir = tree(&[
        (
            "pin.toml",
            "[policy]\nallowed-registries = [\"harbor.corp.example/*\"]\ndeny-tags = [\"latest\"]\n",
        ),
        (
            "compose.yaml",
            "services:\n  db:\n    image: postgres:16\n  app:\n    image: harbor.corp.example/app\n",
        ),
    ]);
    let output = run(dir.path(), &["--check", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(
        statuses(&output),
        vec![
            (
                "compose.yaml".into(),
                "postgres:16".into(),
                "violation".into(),
                "allowed-registries".into()
            ),
            (
                "compose.yaml".into(),
                "harbor.corp.example/app".into(),
                "violation".into(),
                "deny-tags".into()
            ),
        ]
    );
}

#[test]
fn settings_file_errors_name_the_file_and_line() {
    for (content, line, needle) in [
        ("jobs = 4\nmirors = {}\n", 2, "unknown field `mirors`"),
        ("[policy]\nrequire-tag = \"yes\"\n", 2, "invalid type"),
        (
            "exclude = []\n\n[policy]\ndeny-tags = [\"rc[\"]\n",
            4,
            "deny-tags",
        ),
        ("platform = \"linux\"\n", 1, "os/arch"),
    ] {
        let dir = tree(&[("pin.toml", content), ("Dockerfile", "FROM alpine:3\n")]);
        let output = run(dir.path(), &["--list"]);
        assert_eq!(output.status.code(), Some(2), "{content}");
        let message = text(&output.stderr);
        assert!(
            message.contains(&format!("pin.toml:{line}:")),
            "{content:?} → {message}"
        );
        assert!(message.contains(needle), "{content:?} → {message}");
    }
    // --config names another file.
    let dir = tree(&[
        ("ci/pin.toml", "jobs = 0\n"),
        ("Dockerfile", "FROM alpine:3\n"),
    ]);
    let output = run(dir.path(), &["--list", "--config", "ci/pin.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("ci/pin.toml:1: jobs must be at least 1"),
        "{}",
        text(&output.stderr)
    );
}

fn airlock(dir: &Path, upstream: &str, private: &Registry, extra: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .args([
            "--mirror",
            &format!("docker.io={upstream}"),
            "--insecure-registry",
            upstream,
        ])
        .args(["--insecure-registry", private.host()])
        .args([
            "--rewrite-registry",
            &format!("docker.io={}/dockerhub", private.host()),
        ])
        .args(extra)
        .output()
        .expect("run pin")
}

#[test]
fn rewrite_registry_pins_the_private_copy_when_it_matches_upstream() {
    let upstream = Registry::start();
    let private = Registry::start();
    let digest = push_fixed(&upstream, "library/python", "3.12-slim", "python");
    assert_eq!(
        push_fixed(&private, "dockerhub/library/python", "3.12-slim", "python"),
        digest
    );
    push_fixed(&upstream, "acme/tool", "1", "tool");
    let tool = push_fixed(&private, "dockerhub/acme/tool", "1", "tool");
    let dir = tree(&[(
        "Dockerfile",
        "FROM python:3.12-slim AS app\nCOPY --from=docker.io/acme/tool:1 /t /t\n",
    )]);

    let output = airlock(dir.path(), upstream.host(), &private, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let host = private.host();
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!(
            "FROM {host}/dockerhub/library/python:3.12-slim@{digest} AS app\nCOPY --from={host}/dockerhub/acme/tool:1@{tool} /t /t\n"
        )
    );
}

#[test]
fn rewrite_registry_refuses_a_private_copy_that_differs_from_upstream() {
    let upstream = Registry::start();
    let private = Registry::start();
    let real = push_fixed(&upstream, "library/python", "3.12-slim", "python");
    let tampered = push_fixed(
        &private,
        "dockerhub/library/python",
        "3.12-slim",
        "something else",
    );
    let original = "FROM python:3.12-slim\n";
    let dir = tree(&[("Dockerfile", original)]);

    let output = airlock(dir.path(), upstream.host(), &private, &["--write"]);
    assert_eq!(output.status.code(), Some(2));
    let message = text(&output.stderr);
    assert!(message.contains("Dockerfile:1"), "{message}");
    assert!(
        message.contains("private copy differs from upstream"),
        "{message}"
    );
    assert!(
        message.contains(&real) && message.contains(&tampered),
        "{message}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        original,
        "file untouched"
    );
}

#[test]
fn rewrite_registry_needs_upstream_unless_the_private_copy_is_trusted() {
    let private = Registry::start();
    let digest = push_fixed(&private, "dockerhub/library/python", "3.12-slim", "python");
    let original = "FROM python:3.12-slim\n";
    let dir = tree(&[("Dockerfile", original)]);
    // Nothing listens on port 9: upstream cannot be reached.
    let output = airlock(dir.path(), "127.0.0.1:9", &private, &["--write"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        original
    );

    let output = airlock(
        dir.path(),
        "127.0.0.1:9",
        &private,
        &["--write", "--trust-private"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!(
            "FROM {}/dockerhub/library/python:3.12-slim@{digest}\n",
            private.host()
        )
    );
}

/// Approve = sign: the private registry's `[[trust]]` rule requires the organisation's
/// key, so an airlocked copy nobody signed (or someone else signed) is not pinned, even
/// when it is digest-identical to upstream; once approved it is.
#[test]
fn rewrite_registry_pins_only_private_copies_the_organisation_signed() {
    use pin_sigstore::signing::{SigningKey, sign_simple_signing};
    let sign = |registry: &Registry, repository: &str, digest: &str, key: &SigningKey| {
        let layer = sign_simple_signing(key, digest, None).unwrap();
        registry.push_cosign_signatures(repository, digest, &[(layer.payload, layer.annotations)]);
    };
    let upstream = Registry::start();
    let private = Registry::start();
    let host = private.host();
    let python = push_fixed(&upstream, "library/python", "3.12-slim", "python");
    push_fixed(&private, "dockerhub/library/python", "3.12-slim", "python");
    let tool = push_fixed(&upstream, "acme/tool", "1", "tool");
    push_fixed(&private, "dockerhub/acme/tool", "1", "tool");
    let org = SigningKey::generate().unwrap();
    let mallory = SigningKey::generate().unwrap();
    // Ingested and scanned, then approved: the private copy of python is signed.
    sign(&private, "dockerhub/library/python", &python, &org);
    let original = "FROM python:3.12-slim\nFROM acme/tool:1\n";
    let dir = tree(&[
        ("Dockerfile", original),
        ("keys/org.pub", &org.public_key_pem()),
        (
            "pin.toml",
            &format!(
                "[[trust]]\nimages = [\"{host}/*\"]\nkeys = [\"keys/org.pub\"]\nrequire = \"signed\"\n"
            ),
        ),
    ]);

    let output = airlock(dir.path(), upstream.host(), &private, &["--write"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(message.contains("refused (unsigned)"), "{message}");
    assert!(
        message.contains(&format!("{host}/dockerhub/acme/tool:1")),
        "{message}"
    );
    let approved = format!("FROM {host}/dockerhub/library/python:3.12-slim@{python}\n");
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!("{approved}FROM acme/tool:1\n"),
        "the approved copy is pinned, the other left as it was"
    );
    // Signatures are asked of the private registry, whose copy is what gets written.
    assert!(
        !upstream.log().contains(".sig"),
        "signatures fetched upstream: {}",
        upstream.log()
    );

    // Signed, but not by the organisation.
    sign(&private, "dockerhub/acme/tool", &tool, &mallory);
    let output = airlock(dir.path(), upstream.host(), &private, &["--write"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let message = text(&output.stderr);
    assert!(message.contains("refused (untrusted-signer)"), "{message}");
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!("{approved}FROM acme/tool:1\n")
    );

    // Approved: signed with the organisation's key.
    sign(&private, "dockerhub/acme/tool", &tool, &org);
    let output = airlock(dir.path(), upstream.host(), &private, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!("{approved}FROM {host}/dockerhub/acme/tool:1@{tool}\n")
    );
}
