//! Keeping pins fresh: `--update`, `--check --update`, and `--format patch` applied with
//! `git am`, against a real registry where "upstream" republishes a tag.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{ImageKind, Registry, git, pin_cmd};

fn pin(dir: &Path, registry: &Registry, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1795000000")
        .args(["--mirror", &format!("docker.io={}", registry.host())])
        .args(["--insecure-registry", registry.host()])
        .args(args)
        .output()
        .expect("run pin")
}

use crate::support::text;

#[test]
fn upstream_republishes_a_tag_and_the_bot_updates_it_with_a_patch() {
    let registry = Registry::start();
    let python = registry.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
    );
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let repo = tempfile::tempdir().unwrap();
    let dir = repo.path();
    fs::create_dir_all(dir.join("svc")).unwrap();
    fs::write(
        dir.join("Dockerfile"),
        "FROM python:3.12 AS app\nCOPY --from=alpine:3.20 /etc/os-release /\n",
    )
    .unwrap();
    fs::write(dir.join("svc/Dockerfile"), "FROM python:3.12\n").unwrap();

    // Pin everything, commit it.
    let write = pin(dir, &registry, &["--write"]);
    assert_eq!(write.status.code(), Some(0), "{}", text(&write.stderr));
    assert_eq!(
        fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        format!(
            "FROM python:3.12@{} AS app\nCOPY --from=alpine:3.20@{} /etc/os-release /\n",
            python.digest, alpine.digest
        )
    );
    assert_eq!(pin(dir, &registry, &["--check"]).status.code(), Some(0));
    git(dir, &["init", "-q"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "pinned"]);

    // Nothing has moved: --check --update passes and there is no patch.
    let fresh = pin(dir, &registry, &["--check", "--update"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", text(&fresh.stdout));

    // Upstream republishes python:3.12.
    let republished = registry.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
    );
    assert_ne!(republished.digest, python.digest);

    let stale = pin(dir, &registry, &["--check", "--update", "--format", "json"]);
    assert_eq!(stale.status.code(), Some(1), "{}", text(&stale.stderr));
    let report: Value = serde_json::from_slice(&stale.stdout).unwrap();
    let statuses: Vec<(String, String, Value, Value)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["digest"].clone(),
                r["old_digest"].clone(),
            )
        })
        .collect();
    let stale_row = |file: &str| {
        (
            file.to_string(),
            "stale".to_string(),
            Value::from(republished.digest.as_str()),
            Value::from(python.digest.as_str()),
        )
    };
    assert_eq!(
        statuses,
        vec![
            stale_row("Dockerfile"),
            (
                "Dockerfile".into(),
                "pinned".into(),
                Value::Null,
                Value::Null
            ),
            stale_row("svc/Dockerfile"),
        ]
    );
    let table = pin(dir, &registry, &["--check", "--update"]);
    assert_eq!(table.status.code(), Some(1));
    assert!(
        text(&table.stdout).contains("stale"),
        "{}",
        text(&table.stdout)
    );

    // The bot's patch: subject, table body, and a diff that git am applies.
    let patch = pin(dir, &registry, &["--update", "--format", "patch"]);
    assert_eq!(patch.status.code(), Some(0), "{}", text(&patch.stderr));
    let patch_text = text(&patch.stdout);
    assert!(
        patch_text.contains("Subject: [PATCH] Update digests of 1 container image\n"),
        "{patch_text}"
    );
    assert!(
        patch_text.contains("Date: Wed, 18 Nov 2026 11:06:40 +0000\n"),
        "{patch_text}"
    );
    assert!(
        patch_text.contains(&format!(
            "| `python` | `3.12` | `{}` | `{}` | (no trust rule) | `Dockerfile`, `svc/Dockerfile` |",
            &python.digest[..19],
            &republished.digest[..19]
        )),
        "{patch_text}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("svc/Dockerfile")).unwrap(),
        format!("FROM python:3.12@{}\n", python.digest),
        "a patch run writes nothing"
    );
    // The same run twice gives the same patch.
    assert_eq!(
        text(&pin(dir, &registry, &["--update", "--format", "patch"]).stdout),
        patch_text
    );

    fs::write(dir.join(".git/pin.patch"), &patch_text).unwrap();
    git(dir, &["am", "-q", ".git/pin.patch"]);
    let log = git(dir, &["log", "-1", "--format=%s"]);
    assert_eq!(text(&log.stdout), "Update digests of 1 container image\n");
    assert_eq!(
        fs::read_to_string(dir.join("Dockerfile")).unwrap(),
        format!(
            "FROM python:3.12@{} AS app\nCOPY --from=alpine:3.20@{} /etc/os-release /\n",
            republished.digest, alpine.digest
        ),
        "only the moved reference's digest changed"
    );
    assert_eq!(
        fs::read_to_string(dir.join("svc/Dockerfile")).unwrap(),
        format!("FROM python:3.12@{}\n", republished.digest)
    );

    let after = pin(dir, &registry, &["--check", "--update"]);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after.stdout));
    let again = pin(dir, &registry, &["--update", "--format", "patch"]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        text(&again.stdout),
        "",
        "nothing left to change: an empty patch"
    );
}

#[test]
fn a_pinned_tag_that_was_deleted_is_stale_and_digest_only_references_are_left_alone() {
    let registry = Registry::start();
    let gone = format!("sha256:{}", "cd".repeat(32));
    let digest_only = format!("sha256:{}", "ef".repeat(32));
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM python:3.0-gone@{gone}\nFROM busybox@{digest_only}\n"),
    )
    .unwrap();
    let output = pin(
        dir.path(),
        &registry,
        &["--check", "--update", "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["references"][0]["status"], "stale");
    assert_eq!(report["references"][0]["old_digest"], gone.as_str());
    assert_eq!(report["references"][0]["error"], "tag not found");
    assert_eq!(report["references"][1]["status"], "pinned");
}

#[test]
fn update_pins_unpinned_references_in_the_same_run() {
    let registry = Registry::start();
    let old = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let new = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let node = registry.push_image("library/node", "22", ImageKind::Docker);
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM alpine:3.20@{}\nFROM node:22\n", old.digest),
    )
    .unwrap();
    let output = pin(
        dir.path(),
        &registry,
        &["--update", "--write", "--format", "json"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["references"][0]["status"], "updated");
    assert_eq!(report["references"][0]["old_digest"], old.digest.as_str());
    assert_eq!(report["references"][0]["digest"], new.digest.as_str());
    assert_eq!(report["references"][1]["status"], "pin");
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!(
            "FROM alpine:3.20@{}\nFROM node:22@{}\n",
            new.digest, node.digest
        )
    );
}

#[test]
fn a_platform_pin_is_not_stale_when_only_another_platform_changed() {
    const PLATFORMS: &[&str] = &["linux/amd64", "linux/arm64/v8"];
    let registry = Registry::start();
    let first = registry.push_image("library/python", "3.12", ImageKind::OciIndex(PLATFORMS));
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Dockerfile"), "FROM python:3.12\n").unwrap();
    let platform = ["--platform", "linux/arm64/v8"];

    let write = pin(
        dir.path(),
        &registry,
        &[&["--write"], &platform[..]].concat(),
    );
    assert_eq!(write.status.code(), Some(0), "{}", text(&write.stderr));
    let arm = first.child("linux/arm64/v8");
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!("FROM python:3.12@{arm}\n")
    );

    // Upstream rebuilds amd64 only: the arm64 pin is current, with or without --platform.
    registry.push_index_renewing(
        "library/python",
        "3.12",
        ImageKind::OciIndex(PLATFORMS),
        &first,
        &["linux/amd64"],
    );
    for args in [
        &["--check", "--update"][..],
        &[&["--check", "--update"][..], &platform[..]].concat(),
    ] {
        let check = pin(dir.path(), &registry, args);
        assert_eq!(
            check.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&check.stdout)
        );
    }

    // Upstream rebuilds arm64 too: stale, and --update keeps the pin on arm64.
    let second = registry.push_image("library/python", "3.12", ImageKind::OciIndex(PLATFORMS));
    let check = pin(
        dir.path(),
        &registry,
        &[&["--check", "--update"][..], &platform[..]].concat(),
    );
    assert_eq!(check.status.code(), Some(1), "{}", text(&check.stdout));
    let update = pin(dir.path(), &registry, &["--update", "--write"]);
    assert_eq!(update.status.code(), Some(0), "{}", text(&update.stderr));
    assert_eq!(
        fs::read_to_string(dir.path().join("Dockerfile")).unwrap(),
        format!("FROM python:3.12@{}\n", second.child("linux/arm64/v8"))
    );
}
