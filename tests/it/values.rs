//! Images written in pieces: Helm values (`{registry, repository, tag, digest}`),
//! Kustomize `images:` entries and `[[patterns]]` of `pin.toml`, pinned and updated
//! against a real registry; the insertion of `digest:` lines byte for byte; hostile
//! patterns.

use crate::support;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{ImageKind, Registry, pin_cmd, read, tree};

fn pin(dir: &Path, registry: &Registry, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .args(["--mirror", &format!("docker.io={}", registry.host())])
        .args(["--insecure-registry", registry.host()])
        .args(args)
        .output()
        .expect("run pin")
}

fn offline(dir: &Path, args: &[&str]) -> Output {
    pin_cmd()
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run pin")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const CHART: &str = "apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"1.25\"\n";

const TEMPLATE_READING_DIGEST: &str = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: \"{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}{{ with .Values.image.digest }}@{{ . }}{{ end }}\"\n";

const VALUES: &str = "# Bitnami style\nimage:\n  registry: docker.io\n  repository: library/nginx\n  tag: 1.25\n  digest: \"\"\n  pullPolicy: IfNotPresent\nbusybox:\n  repository: busybox\n  tag: 1.10\nworker:\n  image: alpine:3.20\nfromAppVersion:\n  repository: nginx\n  tag: \"\"\n";

const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../base\nimages:\n  - name: redis\n    newTag: \"7\"\n  - name: renamed-only\n    newName: example.com/other\n";

const PATTERNS: &str = "[[patterns]]\nfiles = [\"scripts/*.sh\", \"Makefile\"]\nregex = '''(?m)^\\s*BASE_IMAGE\\s*[:?]?=\\s*\"?(?P<image>[^\"\\s]+)'''\n";

#[test]
fn a_chart_an_overlay_and_pattern_files_are_pinned_then_updated() {
    let registry = Registry::start();
    let nginx = registry.push_image("library/nginx", "1.25", ImageKind::Oci);
    let busybox = registry.push_image("library/busybox", "1.10", ImageKind::Oci);
    let alpine = registry.push_image("library/alpine", "3.20", ImageKind::Oci);
    let redis = registry.push_image("library/redis", "7", ImageKind::Docker);
    let repo = tree(&[
        ("chart/Chart.yaml", CHART),
        ("chart/templates/deployment.yaml", TEMPLATE_READING_DIGEST),
        ("chart/values.yaml", VALUES),
        ("overlay/kustomization.yaml", KUSTOMIZATION),
        ("pin.toml", PATTERNS),
        (
            "scripts/build.sh",
            "#!/bin/sh\nBASE_IMAGE=\"alpine:3.20\"\ndocker build --build-arg BASE_IMAGE .\n",
        ),
        (
            "Makefile",
            "BASE_IMAGE ?= redis:7\n# pin:ignore\nBASE_IMAGE := busybox:1.10\n",
        ),
    ]);
    let dir = repo.path();

    // A mapping without a digest fails --check, offline.
    let check = offline(dir, &["--check"]);
    assert_eq!(check.status.code(), Some(1), "{}", stderr(&check));

    let write = pin(dir, &registry, &["--write"]);
    assert_eq!(write.status.code(), Some(0), "{}", stderr(&write));
    assert!(
        !stderr(&write).contains("reads `.digest`"),
        "the chart's template reads the digest: {}",
        stderr(&write)
    );
    let values = VALUES
        .replace(
            "  digest: \"\"\n",
            &format!("  digest: \"{}\"\n", nginx.digest),
        )
        .replace(
            "  tag: 1.10\n",
            &format!("  tag: 1.10\n  digest: {}\n", busybox.digest),
        )
        .replace("alpine:3.20", &format!("alpine:3.20@{}", alpine.digest));
    assert_eq!(read(dir, "chart/values.yaml"), values);
    assert_eq!(
        read(dir, "overlay/kustomization.yaml"),
        KUSTOMIZATION.replace(
            "    newTag: \"7\"\n",
            &format!("    newTag: \"7\"\n    digest: \"{}\"\n", redis.digest)
        )
    );
    assert_eq!(
        read(dir, "scripts/build.sh"),
        format!(
            "#!/bin/sh\nBASE_IMAGE=\"alpine:3.20@{}\"\ndocker build --build-arg BASE_IMAGE .\n",
            alpine.digest
        )
    );
    assert_eq!(
        read(dir, "Makefile"),
        format!(
            "BASE_IMAGE ?= redis:7@{}\n# pin:ignore\nBASE_IMAGE := busybox:1.10\n",
            redis.digest
        )
    );
    // The chart's template is left alone (its image is a template expression).
    assert_eq!(
        read(dir, "chart/templates/deployment.yaml"),
        TEMPLATE_READING_DIGEST
    );
    let check = offline(dir, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));

    // Upstream republishes nginx:1.25: --update replaces the digest value, nothing else.
    let republished = registry.push_image("library/nginx", "1.25", ImageKind::Oci);
    assert_ne!(republished.digest, nginx.digest);
    let stale = pin(dir, &registry, &["--check", "--update"]);
    assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
    let update = pin(dir, &registry, &["--write", "--update", "--format", "json"]);
    assert_eq!(update.status.code(), Some(0), "{}", stderr(&update));
    assert_eq!(
        read(dir, "chart/values.yaml"),
        values.replace(&nginx.digest, &republished.digest)
    );
    let report: Value = serde_json::from_slice(&update.stdout).unwrap();
    let updated: Vec<(&str, &str)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "updated")
        .map(|r| {
            (
                r["site"].as_str().unwrap(),
                r["replacement"].as_str().unwrap(),
            )
        })
        .collect();
    let expected = format!("docker.io/library/nginx:1.25@{}", republished.digest);
    assert_eq!(updated, vec![("helm-image", expected.as_str())]);
}

#[test]
fn inserted_lines_keep_crlf_and_a_missing_final_newline() {
    let registry = Registry::start();
    let nginx = registry.push_image("library/nginx", "1.25", ImageKind::Oci);
    let text = "image:\r\n  repository: nginx\r\n  tag: '1.25' # pinned below\r\nother:\r\n  repository: nginx\r\n  tag: \"1.25\"";
    let repo = tree(&[("values.yaml", text)]);
    let write = pin(repo.path(), &registry, &["--write"]);
    assert_eq!(write.status.code(), Some(0), "{}", stderr(&write));
    assert_eq!(
        read(repo.path(), "values.yaml"),
        format!(
            "image:\r\n  repository: nginx\r\n  tag: '1.25' # pinned below\r\n  digest: '{d}'\r\nother:\r\n  repository: nginx\r\n  tag: \"1.25\"\r\n  digest: \"{d}\"",
            d = nginx.digest
        )
    );
}

#[test]
fn a_chart_whose_templates_never_read_digest_is_warned_about() {
    let template = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n";
    let repo = tree(&[
        ("charts/web/Chart.yaml", CHART),
        ("charts/web/templates/pod.yaml", template),
        (
            "charts/web/values-prod.yaml",
            "image:\n  repository: nginx\n  tag: \"1.25\"\n",
        ),
        (
            "charts/web/values.yaml",
            "image:\n  repository: nginx\n  tag: \"1.25\"\n",
        ),
    ]);
    let list = offline(repo.path(), &["--list", "--format", "json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let report: Value = serde_json::from_slice(&list.stdout).unwrap();
    let warnings: Vec<(&str, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["file"].as_str().unwrap(), p["message"].as_str().unwrap()))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning per chart: {warnings:?}");
    assert_eq!(warnings[0].0, "charts/web/values-prod.yaml");
    assert!(
        warnings[0].1.contains("charts/web reads `.digest`"),
        "{warnings:?}"
    );
    // Templates are read as templates, the values as values.
    let sites: Vec<(&str, &str)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["file"].as_str().unwrap(), r["site"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sites,
        vec![
            ("charts/web/templates/pod.yaml", "kubernetes-image"),
            ("charts/web/values-prod.yaml", "helm-image"),
            ("charts/web/values.yaml", "helm-image"),
        ]
    );
}

#[test]
fn kustomize_digest_only_entries_are_pinned_and_renames_have_no_tag() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let text = format!(
        "images:\n- name: nginx\n  digest: {digest}\n- name: redis\n  newName: example.com/redis\n- name: app\n  newTag: v1 # pin:ignore\n"
    );
    let repo = tree(&[("Kustomization", text.as_str())]);
    let list = offline(repo.path(), &["--list", "--format", "json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let report: Value = serde_json::from_slice(&list.stdout).unwrap();
    let rows: Vec<(&str, &str, Option<&str>)> = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["text"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
                r["reason"].as_str(),
            )
        })
        .collect();
    let pinned = format!("nginx@{digest}");
    assert_eq!(
        rows,
        vec![
            (pinned.as_str(), "pinned", Some("already-pinned")),
            ("example.com/redis", "skip", Some("empty-tag")),
            ("app:v1", "skip", Some("ignored")),
        ]
    );
}

#[test]
fn pattern_settings_that_cannot_work_are_errors_or_warnings_naming_their_line() {
    let cases = [
        (
            "[[patterns]]\nfiles = [\"*.sh\"]\nregex = '(?P<image>'\n",
            "pin.toml:3: [[patterns]]: invalid regex",
        ),
        (
            "[[patterns]]\nfiles = [\"*.sh\"]\nregex = 'IMAGE=(\\S+)'\n",
            "pin.toml:3: [[patterns]]: the regex needs a named group",
        ),
        (
            "jobs = 2\n[[patterns]]\nregex = '(?P<image>x)'\nfiles = [\"a/[\"]\n",
            "pin.toml:4: [[patterns]]: invalid glob",
        ),
    ];
    for (settings, message) in cases {
        let repo = tree(&[("pin.toml", settings), ("run.sh", "IMAGE=alpine:3\n")]);
        let run = offline(repo.path(), &["--list"]);
        assert_eq!(run.status.code(), Some(2), "{settings}");
        assert!(stderr(&run).contains(message), "{}", stderr(&run));
    }
    let repo = tree(&[
        (
            "pin.toml",
            "[[patterns]]\nfiles = [\n  \"*.sh\",\n  \"ci/*.groovy\",\n]\nregex = 'IMAGE=(?P<image>\\S+)'\n",
        ),
        ("run.sh", "IMAGE=alpine:3\n"),
    ]);
    let run = offline(repo.path(), &["--list"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("pin.toml:4: [[patterns]] glob \"ci/*.groovy\" matches no file"),
        "{}",
        stderr(&run)
    );
    assert!(String::from_utf8_lossy(&run.stdout).contains("alpine:3"));
}

#[test]
fn hostile_patterns_are_refused_or_run_in_linear_time() {
    // A regex that compiles to more than the limit is refused, naming its line.
    let huge = tree(&[
        (
            "pin.toml",
            "[[patterns]]\nfiles = [\"*.txt\"]\nregex = '(?P<image>(((a{100}){100}){100}))'\n",
        ),
        ("a.txt", "a"),
    ]);
    let run = offline(huge.path(), &["--list"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("pin.toml:3:"), "{}", stderr(&run));

    // Catastrophic backtracking for a backtracking engine; linear here.
    let text = "x".repeat(2_000_000);
    let repo = tree(&[
        (
            "pin.toml",
            "[[patterns]]\nfiles = [\"*.txt\"]\nregex = '(x+x+)+y(?P<image>\\S+)'\n",
        ),
        ("big.txt", text.as_str()),
        ("excluded/e.txt", "xxy-alpine:3\n"),
    ]);
    let started = Instant::now();
    let run = offline(repo.path(), &["--list", "--exclude", "excluded"]);
    let took = started.elapsed();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        took < Duration::from_secs(20),
        "a pathological pattern over 2 MB took {took:?}"
    );
    // The excluded folder is not entered.
    assert!(!String::from_utf8_lossy(&run.stdout).contains("alpine"));
}
