//! The `pin` binary end to end against a real registry on 127.0.0.1: dry run, --write,
//! --check, --list, JSON, mirrors with a path prefix, and failures.
//!
//! Every reference in these tests is resolved through `--mirror`, so nothing but
//! loopback is ever asked.

use crate::support;

use std::fs;
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{ImageKind, Registry, git, pin_cmd, read, tree};

/// Run `pin` in `dir` with the registry as Docker Hub's mirror.
fn pin(dir: &Path, registry: &Registry, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .args(["--mirror", &format!("docker.io={}", registry.host())])
        .args(["--insecure-registry", registry.host()])
        .args(args)
        .output()
        .expect("run pin")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

const DOCKERFILE: &str = "\
# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
RUN pip install app
FROM node
COPY --from=build /app /app
";

#[test]
fn dry_run_prints_a_diff_that_git_apply_accepts_and_changes_nothing() {
    let registry = Registry::start();
    let python = registry.push_image(
        "library/python",
        "3.12-slim",
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
    );
    let node = registry.push_image("library/node", "latest", ImageKind::Docker);
    let syntax = registry.push_image(
        "docker/dockerfile",
        "1",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    let dir = tree(&[("app/Dockerfile", DOCKERFILE)]);

    let output = pin(dir.path(), &registry, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    crate::pin_snapshot!(stdout(&output), @r"
    diff --git a/app/Dockerfile b/app/Dockerfile
    --- a/app/Dockerfile
    +++ b/app/Dockerfile
    @@ -1,5 +1,5 @@
    -# syntax=docker/dockerfile:1
    -FROM python:3.12-slim AS build
    +# syntax=docker/dockerfile:1@[DIGEST]
    +FROM python:3.12-slim@[DIGEST] AS build
     RUN pip install app
    -FROM node
    +FROM node:latest@[DIGEST]
     COPY --from=build /app /app
    ");
    crate::pin_snapshot!(stderr(&output), @r"
    pin: reading 1 file
    pin: resolving 3 images on 1 registry…
    pin: 3 to pin and 0 to update in 1 file, 0 already pinned, 1 skipped
    ");
    let diff = stdout(&output);
    assert!(diff.starts_with("diff --git a/app/Dockerfile b/app/Dockerfile\n--- a/app/Dockerfile\n+++ b/app/Dockerfile\n"), "{diff}");
    assert!(
        diff.contains(&format!(
            "+# syntax=docker/dockerfile:1@{}\n",
            syntax.digest
        )),
        "{diff}"
    );
    assert!(
        diff.contains(&format!(
            "+FROM python:3.12-slim@{} AS build\n",
            python.digest
        )),
        "{diff}"
    );
    assert!(
        diff.contains(&format!("+FROM node:latest@{}\n", node.digest)),
        "{diff}"
    );
    assert_eq!(
        read(dir.path(), "app/Dockerfile"),
        DOCKERFILE,
        "a dry run changes nothing"
    );

    // The diff applies with git apply, and gives what --write gives.
    fs::write(dir.path().join("pin.diff"), &diff).unwrap();
    let applied = std::process::Command::new("git")
        .args(["apply", "pin.diff"])
        .current_dir(dir.path())
        .output()
        .expect("git is installed (scripts/install-deps.sh)");
    assert!(
        applied.status.success(),
        "{}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let by_git = read(dir.path(), "app/Dockerfile");
    fs::write(dir.path().join("app/Dockerfile"), DOCKERFILE).unwrap();
    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(read(dir.path(), "app/Dockerfile"), by_git);
}

#[test]
fn write_pins_in_place_and_a_second_run_has_nothing_to_do() {
    let registry = Registry::start();
    let python = registry.push_image("library/python", "3.12-slim", ImageKind::Oci);
    let node = registry.push_image(
        "library/node",
        "latest",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    let syntax = registry.push_image("docker/dockerfile", "1", ImageKind::Oci);
    // CRLF, no final newline, and a second file sharing an image.
    let crlf = "FROM python:3.12-slim\r\nRUN true\r\nFROM docker.io/library/node";
    let dir = tree(&[("Dockerfile", DOCKERFILE), ("svc/Containerfile", crlf)]);

    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "", "--write prints no diff");
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!(
            "# syntax=docker/dockerfile:1@{}\nFROM python:3.12-slim@{} AS build\nRUN pip install app\nFROM node:latest@{}\nCOPY --from=build /app /app\n",
            syntax.digest, python.digest, node.digest
        )
    );
    assert_eq!(
        read(dir.path(), "svc/Containerfile"),
        format!(
            "FROM python:3.12-slim@{}\r\nRUN true\r\nFROM docker.io/library/node:latest@{}",
            python.digest, node.digest
        )
    );

    let again = pin(dir.path(), &registry, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(stdout(&again), "", "everything is pinned: no diff");
    let check = pin(dir.path(), &registry, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
}

#[test]
fn check_is_offline_and_lists_what_is_not_pinned() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let dir = tree(&[(
        "Dockerfile",
        &format!("FROM alpine:3.20@{digest}\nFROM python:3.12\nFROM scratch\n"),
    )]);
    // No registry is running at this address: --check must not need one.
    let output = pin_cmd()
        .current_dir(dir.path())
        .args([
            "--check",
            "--mirror",
            "docker.io=127.0.0.1:9",
            "--insecure-registry",
            "127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    crate::pin_snapshot!(stdout(&output), @"Dockerfile:2:6  from  not pinned  python:3.12");
    crate::pin_snapshot!(stderr(&output), @r"
    pin: reading 1 file
    pin: 1 not pinned, 0 stale, 1 already pinned, 1 skipped
    pin: to fix: `pin --write` pins them
    ");
    let table = stdout(&output);
    assert!(table.contains("Dockerfile:2:6"), "{table}");
    assert!(table.contains("python:3.12"), "{table}");
    assert!(
        !table.contains("alpine"),
        "pinned references are fine: {table}"
    );
    assert!(!table.contains("scratch"), "{table}");

    let pinned = tree(&[(
        "Dockerfile",
        &format!("FROM alpine:3.20@{digest}\nFROM scratch\n"),
    )]);
    let output = pin_cmd()
        .current_dir(pinned.path())
        .arg("--check")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn list_json_shows_every_reference_with_its_site_and_reason() {
    let dir = tree(&[(
        "Dockerfile",
        "FROM golang:1.22 AS build\nFROM build\nCOPY --from=0 /a /b\nFROM scratch\nFROM Python:3\n",
    )]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["version"], 1);
    let references = report["references"].as_array().unwrap();
    let rows: Vec<(String, String, String, Value)> = references
        .iter()
        .map(|r| {
            (
                r["text"].as_str().unwrap().to_string(),
                r["site"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["reason"].clone(),
            )
        })
        .collect();
    let row = |text: &str, site: &str, status: &str, reason: Value| {
        (
            text.to_string(),
            site.to_string(),
            status.to_string(),
            reason,
        )
    };
    assert_eq!(
        rows,
        vec![
            row("golang:1.22", "from", "pin", Value::Null),
            row("build", "from", "skip", "stage".into()),
            row("0", "copy-from", "skip", "stage-index".into()),
            row("scratch", "from", "skip", "scratch".into()),
            row("Python:3", "from", "skip", "invalid-reference".into()),
        ]
    );
    let first = &references[0];
    assert_eq!(
        (
            first["file"].as_str(),
            first["line"].as_u64(),
            first["column"].as_u64(),
            first["offset"].as_u64()
        ),
        (Some("Dockerfile"), Some(1), Some(6), Some(5))
    );
    assert!(
        first.get("digest").is_none() && first.get("replacement").is_none(),
        "--list leaves them out: {first}"
    );
    // The canonical name, for ingesting images into a private registry.
    assert_eq!(
        (
            first["registry"].as_str(),
            first["repository"].as_str(),
            first["tag"].as_str()
        ),
        (Some("docker.io"), Some("library/golang"), Some("1.22"))
    );
    assert_eq!(
        references[1]["registry"],
        Value::Null,
        "a skipped stage has no image"
    );
    assert_eq!(report["summary"]["pin"], 1);
    assert_eq!(report["summary"]["skip"], 4);
}

#[test]
fn json_dry_run_carries_digest_and_replacement() {
    let registry = Registry::start();
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let dir = tree(&[("Dockerfile", "FROM alpine:3.20\n")]);
    let output = pin(dir.path(), &registry, &["--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let reference = &report["references"][0];
    assert_eq!(reference["status"], "pin");
    assert_eq!(reference["digest"], alpine.digest.as_str());
    assert_eq!(
        reference["replacement"],
        format!("alpine:3.20@{}", alpine.digest).as_str()
    );
    assert_eq!(reference["old_digest"], Value::Null);
    assert_eq!(reference["error"], Value::Null);
    assert_eq!(read(dir.path(), "Dockerfile"), "FROM alpine:3.20\n");
    let verbose = pin(dir.path(), &registry, &["-v"]);
    assert!(
        stderr(&verbose).contains(&format!(
            "pin: resolved docker.io/library/alpine:3.20 to {}",
            alpine.digest
        )),
        "{}",
        stderr(&verbose)
    );
}

#[test]
fn mirror_with_a_path_prefix_resolves_but_the_file_keeps_the_original_registry() {
    let registry = Registry::start();
    let hub = registry.push_image("hub/library/alpine", "3.20", ImageKind::Oci);
    let ghcr = registry.push_image(
        "ghcr/acme/tool",
        "2.1",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    let dir = tree(&[(
        "Dockerfile",
        "FROM alpine:3.20\nCOPY --from=ghcr.io/acme/tool:2.1 /tool /tool\n",
    )]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--write", "--insecure-registry", registry.host()])
        .args(["--mirror", &format!("docker.io={}/hub", registry.host())])
        .args(["--mirror", &format!("ghcr.io={}/ghcr/", registry.host())])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!(
            "FROM alpine:3.20@{}\nCOPY --from=ghcr.io/acme/tool:2.1@{} /tool /tool\n",
            hub.digest, ghcr.digest
        )
    );
}

#[test]
fn a_missing_image_fails_with_exit_2_and_its_file_stays_untouched() {
    let registry = Registry::start();
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let broken = "FROM alpine:3.20\nFROM python:3.99-nonexistent\n";
    let fine = "FROM alpine:3.20\n";
    let dir = tree(&[("a/Dockerfile", broken), ("b/Dockerfile", fine)]);
    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(output.status.code(), Some(2));
    crate::pin_snapshot!(stderr(&output), @r"
    pin: reading 2 files
    pin: resolving 2 images on 1 registry…
    error: a/Dockerfile:2: python:3.99-nonexistent: docker.io/library/python:3.99-nonexistent: tag not found (registry [REGISTRY])
    pin: 1 pinned and 0 updated in 1 file, 0 already pinned, 0 skipped, 1 failed
    left untouched because a reference failed: a/Dockerfile
    ");
    let message = stderr(&output);
    assert!(
        message.contains("a/Dockerfile:2"),
        "names file and line: {message}"
    );
    assert!(message.contains("python:3.99-nonexistent"), "{message}");
    assert!(message.contains("tag not found"), "{message}");
    assert_eq!(
        read(dir.path(), "a/Dockerfile"),
        broken,
        "a file with a failed reference is not written"
    );
    assert_eq!(
        read(dir.path(), "b/Dockerfile"),
        format!("FROM alpine:3.20@{}\n", alpine.digest),
        "the others are"
    );
}

#[test]
fn bad_usage_and_missing_paths_exit_2() {
    let dir = tree(&[("Dockerfile", "FROM alpine\n")]);
    let both = pin_cmd()
        .current_dir(dir.path())
        .args(["--write", "--check"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let missing = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no-such-dir"),
        "{}",
        stderr(&missing)
    );
    let json = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "--format", "json", "Dockerfile", "no-such-dir"])
        .output()
        .unwrap();
    assert_eq!(json.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["problems"][0]["file"], "no-such-dir");
    assert_eq!(report["problems"][0]["fatal"], true);
    assert_eq!(
        report["references"][0]["text"], "alpine",
        "the rest is still listed"
    );
}

#[test]
fn platform_pins_one_platforms_manifest_and_an_unknown_platform_fails_clearly() {
    let registry = Registry::start();
    let pushed = registry.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
    );
    let dir = tree(&[("Dockerfile", "FROM python:3.12\n")]);
    let output = pin(
        dir.path(),
        &registry,
        &["--write", "--platform", "linux/arm64/v8"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("FROM python:3.12@{}\n", pushed.child("linux/arm64/v8"))
    );

    let dir = tree(&[("Dockerfile", "FROM python:3.12\n")]);
    let output = pin(dir.path(), &registry, &["--platform", "windows/amd64"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("Dockerfile:1"), "{message}");
    assert!(message.contains("windows/amd64"), "{message}");
    assert!(
        message.contains("linux/arm64/v8"),
        "lists the platforms there are: {message}"
    );
    let bad = pin_cmd()
        .current_dir(dir.path())
        .args(["--platform", "linux"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("os/arch"), "{}", stderr(&bad));
}

/// Real-world Dockerfiles (official-image style, multi-stage monorepo files with
/// heredocs, Windows with backticks, CRLF, BOM): every image is pinned to the digest the
/// registry serves, and nothing else changes.
#[test]
fn real_world_dockerfiles_are_pinned_correctly_and_nothing_else_changes() {
    use pin::reference::{DOCKER_HUB, ImageRef};

    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dockerfile/real-world");
    let dir = tempfile::tempdir().unwrap();
    let mut originals = Vec::new();
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        fs::copy(&path, dir.path().join(&name)).unwrap();
        originals.push((name, fs::read_to_string(&path).unwrap()));
    }
    assert!(originals.len() >= 4, "real-world files: {originals:?}");

    // Seed every image the files refer to: Docker Hub's at the root, others under
    // their registry's name, which --mirror maps back.
    let registry = Registry::start();
    let listed = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "--format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut digests = std::collections::BTreeMap::new();
    let mut mirrors = std::collections::BTreeSet::new();
    for reference in report["references"].as_array().unwrap() {
        if reference["status"] != "pin" {
            continue;
        }
        let image = ImageRef::parse(reference["text"].as_str().unwrap()).unwrap();
        let repository = match image.registry() {
            DOCKER_HUB => image.repository(),
            other => {
                mirrors.insert(other.to_string());
                format!("{other}/{}", image.repository())
            }
        };
        let key = (repository.clone(), image.tag_or_latest().to_string());
        digests.entry(key).or_insert_with(|| {
            let kind = ImageKind::OciIndex(&["linux/amd64", "windows/amd64"]);
            registry
                .push_image(&repository, image.tag_or_latest(), kind)
                .digest
        });
    }
    assert!(
        digests.len() >= 8,
        "the files refer to many images: {digests:?}"
    );

    let mut command = pin_cmd();
    command.current_dir(dir.path()).args([
        "--write",
        "--format",
        "json",
        "--insecure-registry",
        registry.host(),
    ]);
    command.args(["--mirror", &format!("docker.io={}", registry.host())]);
    for other in &mirrors {
        command.args(["--mirror", &format!("{other}={}/{other}", registry.host())]);
    }
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written: Value = serde_json::from_slice(&output.stdout).unwrap();

    for (name, original) in &originals {
        let new = read(dir.path(), name);
        // Rebuild the expected file from the original: each pinned reference gains
        // exactly its image's digest (and `:latest` when untagged), at its offset.
        let mut expected = original.clone();
        let mut pins: Vec<&Value> = written["references"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["file"] == name.as_str() && r["status"] == "pin")
            .collect();
        pins.sort_by_key(|r| std::cmp::Reverse(r["offset"].as_u64().unwrap()));
        for reference in pins {
            let text = reference["text"].as_str().unwrap();
            let image = ImageRef::parse(text).unwrap();
            let repository = match image.registry() {
                DOCKER_HUB => image.repository(),
                other => format!("{other}/{}", image.repository()),
            };
            let digest = &digests[&(repository, image.tag_or_latest().to_string())];
            assert_eq!(reference["digest"], digest.as_str(), "{name}: {text}");
            let offset = reference["offset"].as_u64().unwrap() as usize;
            let insert = if image.tag().is_some() {
                format!("@{digest}")
            } else {
                format!(":latest@{digest}")
            };
            expected.insert_str(offset + text.len(), &insert);
        }
        assert_eq!(new, expected, "{name}");
    }
}

#[test]
fn https_registries_are_trusted_through_ca_file_flags_and_settings() {
    let plain = Registry::start();
    let pushed = plain.push_image("library/alpine", "3.20", ImageKind::Oci);
    let tls = plain.serve_over_tls();
    let dir = tree(&[("Dockerfile", "FROM alpine:3.20\n")]);
    let mirror = format!("docker.io={}", tls.host());

    // Without the CA the certificate is not trusted: exit 2, a clear message.
    let untrusted = pin_cmd()
        .current_dir(dir.path())
        .args(["--mirror", &mirror])
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(2));
    assert!(
        stderr(&untrusted).contains("Dockerfile:1"),
        "{}",
        stderr(&untrusted)
    );

    let ca = tls.ca_file().to_str().unwrap();
    let trusted = pin_cmd()
        .current_dir(dir.path())
        .args(["--mirror", &mirror, "--ca-file", ca])
        .output()
        .unwrap();
    assert_eq!(trusted.status.code(), Some(0), "{}", stderr(&trusted));
    assert!(
        stdout(&trusted).contains(&format!("+FROM alpine:3.20@{}", pushed.digest)),
        "{}",
        stdout(&trusted)
    );

    // The same from pin.toml, with the CA path relative to the settings file.
    fs::copy(tls.ca_file(), dir.path().join("corp-ca.pem")).unwrap();
    fs::write(
        dir.path().join("pin.toml"),
        format!(
            "ca-files = [\"corp-ca.pem\"]\n\n[mirrors]\n\"docker.io\" = \"{}\"\n",
            tls.host()
        ),
    )
    .unwrap();
    let sub = dir.path().join("elsewhere");
    fs::create_dir_all(&sub).unwrap();
    let from_settings = pin_cmd()
        .current_dir(&sub)
        .args(["--write", ".."])
        .output()
        .unwrap();
    assert_eq!(
        from_settings.status.code(),
        Some(0),
        "{}",
        stderr(&from_settings)
    );
    assert_eq!(
        read(dir.path(), "Dockerfile"),
        format!("FROM alpine:3.20@{}\n", pushed.digest)
    );
}

/// Folder names git has to quote (and one it does not), each holding a Dockerfile.
const HOSTILE_NAMES: [&str; 6] = [
    "sp ace",
    "ta\tb",
    "new\nline",
    "back\\slash",
    "café",
    "q\"uote",
];

/// The lines of a diff that name files, in order.
fn name_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| l.starts_with("diff --git ") || l.starts_with("--- ") || l.starts_with("+++ "))
        .collect()
}

/// Names with spaces, tabs, line breaks, backslashes, quotes and non-ASCII letters:
/// the dry run's diff names them as `git diff` does, `git apply` takes it, `git am`
/// takes the patch, and JSON keeps a backslash a backslash.
#[test]
fn diffs_and_patches_of_names_git_must_quote_apply_with_git() {
    let registry = Registry::start();
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let files: Vec<(String, &str)> = HOSTILE_NAMES
        .iter()
        .map(|name| (format!("{name}/Dockerfile"), "FROM alpine:3.20\n"))
        .collect();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), *t)).collect();
    let dir = tree(&files);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);

    let output = pin(dir.path(), &registry, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let diff = stdout(&output);
    fs::write(dir.path().join(".git/pin.diff"), &diff).unwrap();
    git(dir.path(), &["apply", "--check", ".git/pin.diff"]);
    git(dir.path(), &["apply", ".git/pin.diff"]);
    let pinned = format!("FROM alpine:3.20@{}\n", alpine.digest);
    for name in HOSTILE_NAMES {
        assert_eq!(
            read(dir.path(), &format!("{name}/Dockerfile")),
            pinned,
            "{name:?}"
        );
    }
    let by_git = git(dir.path(), &["diff"]);
    assert_eq!(
        name_lines(&diff),
        name_lines(&String::from_utf8(by_git.stdout).unwrap()),
        "{diff}"
    );
    assert!(
        diff.contains("diff --git \"a/back\\\\slash/Dockerfile\" \"b/back\\\\slash/Dockerfile\"\n"),
        "{diff}"
    );
    assert!(diff.contains("--- a/sp ace/Dockerfile\t\n"), "{diff}");
    git(dir.path(), &["checkout", "-q", "--", "."]);

    let patch = pin(dir.path(), &registry, &["--format", "patch"]);
    assert_eq!(patch.status.code(), Some(0), "{}", stderr(&patch));
    fs::write(dir.path().join(".git/pin.patch"), &patch.stdout).unwrap();
    git(dir.path(), &["am", "-q", ".git/pin.patch"]);
    for name in HOSTILE_NAMES {
        assert_eq!(
            read(dir.path(), &format!("{name}/Dockerfile")),
            pinned,
            "{name:?}"
        );
    }
    let body = git(dir.path(), &["log", "-1", "--format=%b"]);
    assert!(
        String::from_utf8_lossy(&body.stdout).contains("`\"new\\nline/Dockerfile\"`"),
        "the table names the file on one line"
    );

    let listed = pin(dir.path(), &registry, &["--list", "--format", "json"]);
    let json: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut names: Vec<&str> = json["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    names.sort();
    assert!(names.contains(&"back\\slash/Dockerfile"), "{names:?}");
}

/// Control characters in file names and in the text of skipped references reach the
/// terminal escaped, in the table, the warnings and the errors: a name cannot clear
/// the screen, retitle the window or hide a line.
#[test]
fn control_characters_from_files_are_escaped_on_the_terminal() {
    let dir = tree(&[
        (
            "e\x1b[2J/Dockerfile",
            "FROM al\x1b[31mpine:3\nFROM $X\x07\n",
        ),
        ("w\x1b]0;title\x07.yaml", "images: [b\n"),
        ("bad\r/Dockerfile", "FROM a\nRUN <<EOF\necho\n"),
    ]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .arg("--list")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    for text in [&out, &err] {
        assert!(
            !text.contains(['\x1b', '\x07', '\r']),
            "a control character reached the terminal: {text:?}"
        );
    }
    assert!(
        out.contains(
            "e\\u{1b}[2J/Dockerfile:1:6  from  skip (invalid-reference)  al\\u{1b}[31mpine:3\n"
        ),
        "{out}"
    );
    assert!(out.contains("$X\\u{7}\n"), "{out}");
    assert!(
        err.contains("warning: w\\u{1b}]0;title\\u{7}.yaml:2:"),
        "{err}"
    );
    assert!(err.contains("error: bad\\u{d}/Dockerfile:"), "{err}");
}
