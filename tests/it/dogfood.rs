//! pin checking pin: every image the project itself uses — its Dockerfile, its
//! workflows, its action and the example workflows it ships — is pinned by digest, and
//! every action by full commit SHA (`pin --check` reads images, not `uses:` refs, so
//! this file checks those itself).

use crate::support;

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::pin_cmd;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files that ship or build pin and hold images or actions.
fn shipped_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("Dockerfile"), root().join("action.yml")];
    for dir in ["examples/github", ".github/workflows"] {
        let mut found: Vec<PathBuf> = fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        found.sort();
        assert!(!found.is_empty(), "{dir} holds workflows");
        files.extend(found);
    }
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap().display().to_string()
}

#[test]
fn pin_check_passes_on_the_whole_repository_but_its_test_data() {
    let output = pin_cmd()
        .current_dir(root())
        // testdata/ holds unpinned references on purpose: the tests read them as the
        // specification. (Not a pin.toml at the top: pin run inside testdata/ would
        // find it.)
        .args(["--check", "--exclude", "testdata", "."])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pin --check . fails on pin's own repository:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_image_pin_ships_or_builds_with_is_pinned_by_digest() {
    let files = shipped_files();
    let output = pin_cmd()
        .current_dir(root())
        .args(["--list", "--format", "json"])
        .args(files.iter().map(|f| relative(f)))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let references = list["references"].as_array().unwrap();
    let mut images = 0;
    for reference in references {
        let status = reference["status"].as_str().unwrap();
        let text = reference["text"].as_str().unwrap();
        let file = reference["file"].as_str().unwrap();
        match status {
            "pinned" => images += 1,
            // A stage of the same Dockerfile is not an image.
            "skip" if reference["reason"] == "stage" => continue,
            _ => panic!("{file}: {text} is {status}, not pinned by digest"),
        }
        assert!(text.contains("@sha256:"), "{file}: {text}");
        // Tag and digest both: readers see what it is, pin --update can follow it.
        let name = text.split('@').next().unwrap();
        assert!(
            name.rsplit('/').next().unwrap().contains(':'),
            "{file}: {text} has no tag"
        );
    }
    // The builder, the final stage, and the toolchain containers of the workflows.
    assert!(images >= 5, "{images} images found in {files:?}");

    let check = pin_cmd()
        .current_dir(root())
        .arg("--check")
        .args(files.iter().map(|f| relative(f)))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// `uses: owner/repo[/path]@ref # comment` of a file, with line numbers.
fn uses_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(n, line)| {
            let trimmed = line.trim_start().trim_start_matches("- ");
            trimmed
                .strip_prefix("uses:")
                .map(|rest| (n + 1, rest.trim().to_string()))
        })
        .collect()
}

#[test]
fn every_action_is_pinned_to_a_full_commit_sha_with_its_tag_in_a_comment() {
    let mut actions = 0;
    for file in shipped_files() {
        let text = fs::read_to_string(&file).unwrap();
        for (line, uses) in uses_lines(&text) {
            let at = format!("{}:{line}: uses: {uses}", relative(&file));
            if uses.starts_with("./") || uses.starts_with("docker://") {
                continue;
            }
            let (action, rest) = uses
                .split_once('@')
                .unwrap_or_else(|| panic!("{at}: no ref"));
            let (sha, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            assert!(action.split('/').count() >= 2, "{at}: owner/repo");
            assert!(
                sha.len() == 40
                    && sha
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{at}: not a full commit SHA"
            );
            let tag = comment.trim();
            assert!(
                tag.starts_with('v') && tag[1..].split('.').all(|p| p.parse::<u32>().is_ok()),
                "{at}: the comment must name the release tag (# vX.Y.Z)"
            );
            actions += 1;
        }
    }
    assert!(actions >= 10, "{actions} actions found");
}

#[test]
fn the_image_builds_from_source_locked_onto_a_distroless_base_as_non_root() {
    let dockerfile = fs::read_to_string(root().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "a builder stage and a final stage");
    assert!(dockerfile.contains("cargo build --locked --release"));
    let last = froms[1];
    assert!(
        last.starts_with("FROM scratch")
            || last.starts_with("FROM gcr.io/distroless/static-debian12:nonroot@sha256:"),
        "{last}"
    );
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER instruction");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "USER {user}"
    );
    assert!(
        fs::read_to_string(root().join(".dockerignore"))
            .unwrap()
            .contains("target/")
    );
}

#[test]
fn the_rust_image_is_the_minimum_supported_rust() {
    let manifest = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let expected = format!("rust:{msrv}-bookworm@sha256:");
    let mut seen = 0;
    for file in shipped_files() {
        let text = fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(at) = line.find("rust:") {
                let image = &line[at..];
                assert!(
                    image.starts_with(&expected),
                    "{}:{}: {image} is not Rust {msrv} (Cargo.toml's rust-version)",
                    relative(&file),
                    n + 1
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 3, "{seen}");
    // The release binaries are built by that Rust too.
    let release = fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    assert!(
        release.contains(&format!("RUST_TOOLCHAIN: \"{msrv}.")),
        "release.yml builds with Rust {msrv}"
    );
}

fn msrv_script(args: &[&str]) -> std::process::Output {
    std::process::Command::new(root().join("scripts/msrv.sh"))
        .args(args)
        .output()
        .expect("run scripts/msrv.sh")
}

#[test]
fn rust_version_covers_the_code_and_every_locked_dependency() {
    // The clippy half (incompatible_msrv) runs in .ci/run's clippy -D warnings.
    let output = msrv_script(&["--no-clippy"]);
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_msrv_check_fails_when_let_chains_meet_an_older_rust_version() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"chained\"\nversion = \"0.1.0\"\nedition = \"2024\"\nrust-version = \"1.85\"\n",
    )
    .unwrap();
    fs::create_dir(dir.path().join("src")).unwrap();
    fs::write(
        dir.path().join("src/lib.rs"),
        "pub fn f(a: Option<u8>, b: Option<u8>) -> bool {\n    if let Some(x) = a && let Some(y) = b { x == y } else { false }\n}\n",
    )
    .unwrap();
    let lock = std::process::Command::new("cargo")
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    let manifest = dir.path().join("Cargo.toml");
    let output = msrv_script(&["--no-clippy", "--manifest-path", manifest.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("chained 0.1.0 needs Rust 1.88 (let-chains), above rust-version 1.85"),
        "{stderr}"
    );
}
