//! The command line as a user meets it: settings found from any folder of a
//! repository, paths relative to its top level, output that survives closed pipes,
//! completions and the manual page, ignored files, quiet runs. Whole outputs are
//! compared as snapshots, with temporary paths, ports and digests filtered.

use std::fs;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::support::{self, ImageKind, Registry, git, pin_cmd, tree};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A git repository with a `pin.toml` that denies `latest` at its top and a
/// Dockerfile two folders down.
fn repository() -> tempfile::TempDir {
    let dir = tree(&[
        ("pin.toml", "[policy]\ndeny-tags = [\"latest\"]\n"),
        ("services/worker/Dockerfile", "FROM alpine:latest\n"),
        ("services/api/Containerfile.dev", "FROM alpine:3.20\n"),
        ("tools/build.Containerfile", "FROM alpine:3.20\n"),
    ]);
    git(dir.path(), &["init", "-q"]);
    dir
}

fn reasons(output: &Output) -> Vec<(String, String)> {
    let json: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    json["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["file"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

#[test]
fn settings_apply_from_every_folder_and_to_every_path_and_paths_are_relative_to_the_top() {
    let dir = repository();
    let worker = (
        "services/worker/Dockerfile".to_string(),
        "deny-tags".to_string(),
    );
    // From the top, naming the file, as a pre-commit hook does.
    let from_top = pin_cmd()
        .current_dir(dir.path())
        .args(["--check", "--format", "json", "services/worker/Dockerfile"])
        .output()
        .unwrap();
    assert_eq!(from_top.status.code(), Some(1), "{}", stderr(&from_top));
    assert_eq!(reasons(&from_top), vec![worker.clone()]);
    // From a subfolder, naming it relative to there: the same settings, the same name.
    let from_below = pin_cmd()
        .current_dir(dir.path().join("services"))
        .args(["--check", "--format", "json", "worker/Dockerfile"])
        .output()
        .unwrap();
    assert_eq!(reasons(&from_below), vec![worker]);
    // An absolute path inside the repository is named relative to its top too.
    let absolute = pin_cmd()
        .current_dir(dir.path().join("services"))
        .args(["--check", "--format", "json"])
        .arg(dir.path().join("services/worker/Dockerfile"))
        .output()
        .unwrap();
    assert_eq!(reasons(&absolute), reasons(&from_below));
    // --no-config reads no settings: the tag is only unpinned now.
    let unset = pin_cmd()
        .current_dir(dir.path().join("services"))
        .args([
            "--check",
            "--format",
            "json",
            "--no-config",
            "worker/Dockerfile",
        ])
        .output()
        .unwrap();
    assert_eq!(
        reasons(&unset),
        vec![("services/worker/Dockerfile".to_string(), "-".to_string())]
    );
}

#[test]
fn a_failed_check_says_which_command_fixes_it_and_names_files_from_the_top() {
    let dir = repository();
    let output = pin_cmd()
        .current_dir(dir.path().join("services/api"))
        .args(["--check", "--no-config", "."])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(stdout(&output), @r"
    services/api/Containerfile.dev:1:6  from  not pinned  alpine:3.20
    ");
    insta::assert_snapshot!(stderr(&output), @r"
    pin: reading 1 file
    pin: 1 not pinned, 0 stale, 0 already pinned, 0 skipped
    pin: to fix: `pin --write` pins them
    ");
}

#[test]
fn containerfiles_by_any_of_their_names_are_read() {
    let dir = repository();
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--list", "--format", "json", "--no-config"])
        .output()
        .unwrap();
    let mut files: Vec<String> = reasons(&output).into_iter().map(|(f, _)| f).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "services/api/Containerfile.dev",
            "services/worker/Dockerfile",
            "tools/build.Containerfile"
        ]
    );
}

#[test]
fn a_patch_made_in_a_subfolder_applies_with_git_am_at_the_top() {
    let registry = Registry::start();
    let pushed = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let dir = repository();
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "start"]);
    let output = pin_cmd()
        .current_dir(dir.path().join("services"))
        .args(["--format", "patch", "--no-config", "api"])
        .args(["--mirror", &format!("docker.io={}", registry.host())])
        .args(["--insecure-registry", registry.host()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let patch = dir.path().join("update.patch");
    fs::write(&patch, &output.stdout).unwrap();
    git(dir.path(), &["am", "-q", "update.patch"]);
    assert_eq!(
        support::read(dir.path(), "services/api/Containerfile.dev"),
        format!("FROM alpine:3.20@{}\n", pushed.digest)
    );
}

#[test]
fn git_ignored_files_are_read_with_no_ignore_and_counted_with_verbose() {
    let dir = tree(&[
        (".gitignore", "generated/\n"),
        ("generated/Dockerfile", "FROM alpine:3.20\n"),
        ("Dockerfile", "FROM alpine:3.20\n"),
    ]);
    git(dir.path(), &["init", "-q"]);
    let count = |args: &[&str]| {
        let output = pin_cmd()
            .current_dir(dir.path())
            .args(["--list", "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        (reasons(&output).len(), stderr(&output))
    };
    assert_eq!(count(&[]).0, 1);
    assert_eq!(count(&["--no-ignore"]).0, 2);
    let (_, verbose) = count(&["-v"]);
    assert!(
        verbose.contains("pin: 1 file git-ignored (read them with --no-ignore)"),
        "{verbose}"
    );
}

#[test]
fn quiet_prints_errors_only() {
    let dir = tree(&[("Dockerfile", "FROM alpine:3.20\n")]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--check", "-q"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "");
    let missing = pin_cmd()
        .current_dir(dir.path())
        .args(["--check", "-q", "no-such-file"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).starts_with("error: no-such-file: "),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_closed_or_full_stdout_or_stderr_never_panics() {
    let dir = tree(&[("Dockerfile", &"FROM alpine:3.20\n".repeat(5000))]);
    // `pin --list | head -1`: the reader goes away after one line.
    let mut child = pin_cmd()
        .current_dir(dir.path())
        .arg("--list")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_ne!(output.status.code(), Some(101), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    // Standard error on a full device, and standard output too.
    let full = || {
        fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let status = pin_cmd()
        .current_dir(dir.path())
        .arg("--check")
        .stdout(Stdio::null())
        .stderr(full())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let output = pin_cmd()
        .current_dir(dir.path())
        .arg("--list")
        .stdout(full())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot write to standard output"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn completions_for_bash_zsh_and_fish_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let output = pin_cmd().args(["completions", shell]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = stdout(&output);
        assert!(
            script.contains("write") && script.contains("check"),
            "{shell}"
        );
    }
    // The bash script is valid bash.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pin.bash");
    let output = pin_cmd().args(["completions", "bash"]).output().unwrap();
    fs::write(&script, &output.stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(check.success());
}

#[test]
fn the_manual_page_renders_with_man() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("pin.1");
    let output = pin_cmd().arg("man").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    fs::write(&page, &output.stdout).unwrap();
    let rendered = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man is installed (scripts/install-deps.sh)");
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let text = stdout(&rendered);
    for wanted in [
        "NAME",
        "pin",
        "--write",
        "--check",
        "--no-config",
        "completions",
    ] {
        assert!(text.contains(wanted), "{wanted} missing from:\n{text}");
    }
}

#[test]
fn help_shows_defaults_and_the_ignore_comment() {
    let output = pin_cmd().arg("--help").output().unwrap();
    let help = stdout(&output);
    assert!(help.contains("pin:ignore"), "{help}");
    assert!(help.contains("[default: .]"), "{help}");
    assert!(help.contains("[default: text]"), "{help}");
}

#[test]
fn very_verbose_logs_every_request_without_a_credential() {
    let registry = Registry::start();
    registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let dir = tree(&[("Dockerfile", "FROM alpine:3.20\n")]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["-vv", "--mirror", &format!("docker.io={}", registry.host())])
        .args(["--insecure-registry", registry.host()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = stderr(&output);
    let host = registry.host();
    for line in [
        format!("pin: GET {host} /v2/ → 200 in "),
        format!("pin: HEAD {host} /v2/library/alpine/manifests/3.20 → 200 in "),
    ] {
        assert!(log.contains(&line), "{line} missing from:\n{log}");
    }
    assert!(!log.to_lowercase().contains("authorization"), "{log}");
}

#[test]
fn the_run_deadline_and_the_per_registry_cap_are_flags() {
    // A registry that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let dir = tree(&[("Dockerfile", "FROM alpine:3.20\nFROM python:3.12\n")]);
    let output = pin_cmd()
        .current_dir(dir.path())
        .args(["--deadline", "1", "--registry-jobs", "1"])
        .args(["--mirror", &format!("docker.io={host}")])
        .args(["--insecure-registry", &host])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(
        err.matches("the run's deadline of 1 s passed").count(),
        2,
        "{err}"
    );
    let zero = pin_cmd()
        .current_dir(dir.path())
        .args(["--registry-jobs", "0"])
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
    drop(silent);
}
