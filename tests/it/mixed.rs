//! A repository that mixes Dockerfiles, compose files, Kubernetes manifests and GitHub
//! Actions workflows, pinned in one run against a real registry with token auth.

use crate::support;

use std::fs;
use std::path::Path;

use serde_json::Value;
use support::{ImageKind, Registry, TokenOptions, pin_cmd, read, tree};

use crate::support::pin_mirrored as pin;

use crate::support::text;

const COMPOSE: &str = "\
# compose with comments, quotes and anchors
x-base: &base
  image: 'postgres:16'   # shared
services:
  db:
    <<: *base
  cache: {image: \"redis:7\", restart: always}
  api:
    build: .
    image: acme/api:dev
  worker:
    image: ${WORKER_IMAGE:-python:3.12}
";

const DEPLOYMENT: &str = "\
apiVersion: apps/v1\r
kind: Deployment\r
spec:\r
  template:\r
    spec:\r
      initContainers:\r
        - {name: wait, image: redis:7}\r
      containers:\r
        - name: app\r
          image: \"ghcr.io/acme/app:1.4\"\r
          env:\r
            - {name: BASE, value: \"python:3.12\"}\r
";

const WORKFLOW: &str = "\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    container:
      image: python:3.12
    services:
      db: postgres:16
    steps:
      - uses: docker://ghcr.io/acme/app:1.4
      - uses: actions/checkout@v4
      - run: echo ${{ matrix.image }}
";

#[test]
fn one_run_pins_every_kind_with_one_resolution_per_distinct_image() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let python = registry.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    let postgres = registry.push_image(
        "library/postgres",
        "16",
        ImageKind::DockerList(&["linux/amd64", "linux/arm64/v8"]),
    );
    let redis = registry.push_image("library/redis", "7", ImageKind::Docker);
    let app = registry.push_image("ghcr/acme/app", "1.4", ImageKind::Oci);
    let dir = tree(&[
        (
            "Dockerfile",
            "FROM python:3.12\nCOPY --from=ghcr.io/acme/app:1.4 /app /app\n",
        ),
        ("compose.yaml", COMPOSE),
        ("deploy/k8s.yaml", DEPLOYMENT),
        (".github/workflows/ci.yml", WORKFLOW),
    ]);
    let tokens_before = registry.token_server().unwrap().requests();

    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let (p, pg, r, a) = (&python.digest, &postgres.digest, &redis.digest, &app.digest);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("FROM python:3.12@{p}\nCOPY --from=ghcr.io/acme/app:1.4@{a} /app /app\n")
    );
    assert_eq!(
        read(dir.path(), "compose.yaml"),
        COMPOSE
            .replace("'postgres:16'", &format!("'postgres:16@{pg}'"))
            .replace("\"redis:7\"", &format!("\"redis:7@{r}\""))
            .replace(":-python:3.12}", &format!(":-python:3.12@{p}}}"))
    );
    assert_eq!(
        read(dir.path(), "deploy/k8s.yaml"),
        DEPLOYMENT
            .replace("image: redis:7}", &format!("image: redis:7@{r}}}"))
            .replace(
                "\"ghcr.io/acme/app:1.4\"",
                &format!("\"ghcr.io/acme/app:1.4@{a}\"")
            )
    );
    assert_eq!(
        read(dir.path(), ".github/workflows/ci.yml"),
        WORKFLOW
            .replace("image: python:3.12", &format!("image: python:3.12@{p}"))
            .replace("db: postgres:16", &format!("db: postgres:16@{pg}"))
            .replace(
                "docker://ghcr.io/acme/app:1.4",
                &format!("docker://ghcr.io/acme/app:1.4@{a}")
            )
    );

    // One token per repository however many files and kinds use it.
    let tokens = registry.token_server().unwrap().requests();
    for scope in [
        "library/python",
        "library/postgres",
        "library/redis",
        "ghcr/acme/app",
    ] {
        let scope = format!("repository:{scope}:pull");
        let before = tokens_before.get(&scope).copied().unwrap_or(0);
        assert_eq!(
            tokens.get(&scope).copied().unwrap_or(0) - before,
            1,
            "{scope}: {tokens:?}"
        );
    }
}

#[test]
fn list_json_covers_every_kind_and_skips_what_is_not_pinnable() {
    let dir = tree(&[
        ("compose.yaml", COMPOSE),
        ("deploy/k8s.yaml", DEPLOYMENT),
        (".github/workflows/ci.yml", WORKFLOW),
    ]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<String> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r["file"].as_str().unwrap(),
                r["site"].as_str().unwrap(),
                r["text"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["reason"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ".github/workflows/ci.yml actions-container python:3.12 pin -",
            ".github/workflows/ci.yml actions-service postgres:16 pin -",
            ".github/workflows/ci.yml actions-uses ghcr.io/acme/app:1.4 pin -",
            "compose.yaml compose-image postgres:16 pin -",
            "compose.yaml compose-image redis:7 pin -",
            "compose.yaml compose-image acme/api:dev skip build-output",
            "compose.yaml compose-image python:3.12 pin -",
            "deploy/k8s.yaml kubernetes-image redis:7 pin -",
            "deploy/k8s.yaml kubernetes-image ghcr.io/acme/app:1.4 pin -",
        ]
    );
}

#[test]
fn bad_files_are_reported_with_file_and_line_and_the_rest_is_pinned() {
    let registry = Registry::start();
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let broken_compose = "services:\n  db:\n    image: [postgres:16\n  other: x\n";
    let dir = tree(&[
        ("Dockerfile", "FROM alpine:3.20\n"),
        ("compose.yaml", broken_compose),
        ("k8s/notes.yaml", "just: [a note on images\n"),
    ]);
    fs::write(
        dir.path().join("Dockerfile.bin"),
        b"FROM alpine:3.20\n\0\x01\x02",
    )
    .unwrap();
    fs::write(dir.path().join("k8s/latin1.yaml"), b"image: caf\xe9:1\n").unwrap();

    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a compose file that does not parse fails the run"
    );
    let message = text(&output.stderr);
    assert!(message.contains("error: compose.yaml:"), "{message}");
    assert!(
        message.contains("error: Dockerfile.bin:2: binary file"),
        "{message}"
    );
    assert!(
        message.contains("error: k8s/latin1.yaml:1: not valid UTF-8"),
        "{message}"
    );
    assert!(message.contains("warning: k8s/notes.yaml:"), "{message}");
    assert_eq!(read(dir.path(), "compose.yaml"), broken_compose);
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("FROM alpine:3.20@{}\n", alpine.digest),
        "the rest is pinned"
    );
}

#[test]
fn the_example_workflows_are_found_and_listed() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github");
    let output = pin_cmd()
        .arg("--list")
        .arg("--format")
        .arg("json")
        .arg(&examples)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found: Vec<(String, String)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let file = r["file"].as_str().unwrap();
            (
                file.rsplit('/').next().unwrap().to_string(),
                r["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                "pin-check.yml".to_string(),
                "rust:1.88-bookworm@sha256:af306cfa71d987911a781c37b59d7d67d934f49684058f96cf72079c3626bfe0".to_string()
            ),
            (
                "pin-update.yml".to_string(),
                "rust:1.88-bookworm@sha256:af306cfa71d987911a781c37b59d7d67d934f49684058f96cf72079c3626bfe0".to_string()
            ),
        ]
    );
}

#[test]
fn excludes_and_ignore_comments_leave_references_alone_in_every_kind() {
    let registry = Registry::start();
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let dockerfile = "# pin:ignore\nFROM alpine:3.20\nFROM alpine:3.20\n";
    let compose = "services:\n  a:\n    image: alpine:3.20 # pin:ignore\n  b:\n    # pin:ignore\n    image: alpine:3.20\n  c:\n    image: alpine:3.20\n";
    let vendored = "FROM alpine:3.20\n";
    let dir = tree(&[
        ("Dockerfile", dockerfile),
        ("compose.yaml", compose),
        ("vendor/lib/Dockerfile", vendored),
        ("tools/Dockerfile.dev", vendored),
    ]);
    let list = pin_cmd()
        .current_dir(dir.path())
        .args([
            "--list",
            "--format",
            "json",
            "--exclude",
            "vendor",
            "--exclude",
            "*.dev",
        ])
        .output()
        .unwrap();
    assert_eq!(list.status.code(), Some(0), "{}", text(&list.stderr));
    let report: Value = serde_json::from_slice(&list.stdout).unwrap();
    let rows: Vec<String> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}:{} {}",
                r["file"].as_str().unwrap(),
                r["line"],
                r["reason"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "Dockerfile:2 ignored",
            "Dockerfile:3 -",
            "compose.yaml:3 ignored",
            "compose.yaml:6 ignored",
            "compose.yaml:8 -",
            "tools/Dockerfile.dev:1 ignored"
        ],
        "an excluded folder is not entered; an excluded file is listed as ignored"
    );

    let write = pin(
        dir.path(),
        &registry,
        &["--write", "--exclude", "vendor", "--exclude", "*.dev"],
    );
    assert_eq!(write.status.code(), Some(0), "{}", text(&write.stderr));
    let d = &alpine.digest;
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("# pin:ignore\nFROM alpine:3.20\nFROM alpine:3.20@{d}\n")
    );
    assert_eq!(
        read(dir.path(), "compose.yaml"),
        compose.replace(
            "  c:\n    image: alpine:3.20\n",
            &format!("  c:\n    image: alpine:3.20@{d}\n")
        )
    );
    assert_eq!(read(dir.path(), "vendor/lib/Dockerfile"), vendored);
    assert_eq!(read(dir.path(), "tools/Dockerfile.dev"), vendored);
}
