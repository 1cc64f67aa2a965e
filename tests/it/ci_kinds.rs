//! CI systems' files, dev containers, bake files and JSON manifests: one file of each
//! kind pinned in one run against a real registry with token auth, and real-world
//! files from public projects read with every image found.

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::{ImageKind, Registry, TokenOptions, pin_cmd, read, tree};

use crate::support::pin_mirrored as pin;

use crate::support::text;

const GITLAB: &str = "\
include:
  - local: ci/extra.yml
image: python:3.12
services:
  - name: postgres:16
    alias: db
.base: &base
  image:
    name: \"ghcr.io/acme/app:1.4\"
test:
  <<: *base
  script: [pytest]
build:
  image: $CI_REGISTRY_IMAGE/builder:1
  script: [make]
";

const GITLAB_INCLUDED: &str = "lint:\n  image: redis:7\n  script: [lint]\n";

const BITBUCKET: &str = "\
image: python:3.12
definitions:
  services:
    db:
      image: postgres:16
pipelines:
  default:
    - step:
        script:
          - pipe: docker://alpine:3.20
          - pipe: atlassian/aws-s3-deploy:0.2.1
";

const CIRCLECI: &str = "\
version: 2.1
orbs:
  node: circleci/node@5.2.0
jobs:
  test:
    docker:
      - image: redis:7
    steps: [checkout]
workflows:
  all:
    jobs: [test]
";

const DRONE: &str = "\
kind: pipeline
name: a
steps:
  - name: build
    image: alpine:3.20
---
kind: pipeline
name: b
services:
  - name: db
    image: 'postgres:16'
";

const WOODPECKER: &str = "steps:\n  build:\n    image: python:3.12\n";

const CLOUDBUILD: &str = "\
steps:
  - name: alpine:3.20
    args: [echo, hi]
images: [gcr.io/acme/out:1]
";

const AZURE: &str = "\
resources:
  containers:
    - container: py
      image: python:3.12
jobs:
  - job: a
    container: py
    services:
      cache: redis:7
";

const DEVCONTAINER: &str = "\
// a dev container
{
\t\"image\": \"ghcr.io/acme/app:1.4\", /* pinned */
\t\"features\": {\"ghcr.io/devcontainers/features/node:1\": {},},
}
";

const BAKE: &str = "\
target \"app\" {
  tags = [\"acme/app:1\"]
  contexts = {
    base = \"docker-image://alpine:3.20\" # c
  }
}
";

const POD_JSON: &str = "{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"spec\": {\"containers\": [{\"name\": \"a\", \"image\": \"redis:7\"}]}}\n";

const COMPOSE_JINJA: &str = "\
services:
{% if db %}
  db:
    image: postgres:16
{% endif %}
  app:
    image: \"{{ app_image }}\"
";

#[test]
fn one_run_pins_one_file_of_each_kind_with_one_token_per_repository() {
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let python = registry.push_image(
        "library/python",
        "3.12",
        ImageKind::OciIndex(&["linux/amd64"]),
    );
    let postgres = registry.push_image("library/postgres", "16", ImageKind::Docker);
    let redis = registry.push_image("library/redis", "7", ImageKind::Oci);
    let alpine = registry.push_image(
        "library/alpine",
        "3.20",
        ImageKind::DockerList(&["linux/amd64", "linux/arm64/v8"]),
    );
    let app = registry.push_image("ghcr/acme/app", "1.4", ImageKind::Oci);
    let files = [
        (".gitlab-ci.yml", GITLAB),
        ("ci/extra.yml", GITLAB_INCLUDED),
        ("bitbucket-pipelines.yml", BITBUCKET),
        (".circleci/config.yml", CIRCLECI),
        (".drone.yml", DRONE),
        (".woodpecker/build.yml", WOODPECKER),
        ("cloudbuild.yaml", CLOUDBUILD),
        ("azure-pipelines.yml", AZURE),
        (".devcontainer/devcontainer.json", DEVCONTAINER),
        ("docker-bake.hcl", BAKE),
        ("deploy/pod.json", POD_JSON),
        ("compose.yaml", COMPOSE_JINJA),
    ];
    let dir = tree(&files);
    let tokens_before = registry.token_server().unwrap().requests();

    let output = pin(dir.path(), &registry, &["--write"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let (p, pg, r, al, a) = (
        &python.digest,
        &postgres.digest,
        &redis.digest,
        &alpine.digest,
        &app.digest,
    );
    let expected = [
        (
            ".gitlab-ci.yml",
            GITLAB
                .replace("python:3.12", &format!("python:3.12@{p}"))
                .replace("postgres:16", &format!("postgres:16@{pg}"))
                .replace("app:1.4\"", &format!("app:1.4@{a}\"")),
        ),
        (
            "ci/extra.yml",
            GITLAB_INCLUDED.replace("redis:7", &format!("redis:7@{r}")),
        ),
        (
            "bitbucket-pipelines.yml",
            BITBUCKET
                .replace("python:3.12", &format!("python:3.12@{p}"))
                .replace("postgres:16", &format!("postgres:16@{pg}"))
                .replace("alpine:3.20", &format!("alpine:3.20@{al}")),
        ),
        (
            ".circleci/config.yml",
            CIRCLECI.replace("redis:7", &format!("redis:7@{r}")),
        ),
        (
            ".drone.yml",
            DRONE
                .replace("alpine:3.20", &format!("alpine:3.20@{al}"))
                .replace("postgres:16", &format!("postgres:16@{pg}")),
        ),
        (
            ".woodpecker/build.yml",
            WOODPECKER.replace("python:3.12", &format!("python:3.12@{p}")),
        ),
        (
            "cloudbuild.yaml",
            CLOUDBUILD.replace("alpine:3.20", &format!("alpine:3.20@{al}")),
        ),
        (
            "azure-pipelines.yml",
            AZURE
                .replace("python:3.12", &format!("python:3.12@{p}"))
                .replace("redis:7", &format!("redis:7@{r}")),
        ),
        (
            ".devcontainer/devcontainer.json",
            DEVCONTAINER.replace("app:1.4", &format!("app:1.4@{a}")),
        ),
        (
            "docker-bake.hcl",
            BAKE.replace("alpine:3.20", &format!("alpine:3.20@{al}")),
        ),
        (
            "deploy/pod.json",
            POD_JSON.replace("redis:7", &format!("redis:7@{r}")),
        ),
        (
            "compose.yaml",
            COMPOSE_JINJA.replace("postgres:16", &format!("postgres:16@{pg}")),
        ),
    ];
    for (path, want) in expected {
        assert_eq!(read(dir.path(), path), want, "{path}");
    }

    // One token per repository however many files and kinds use it.
    let tokens = registry.token_server().unwrap().requests();
    for scope in [
        "library/python",
        "library/postgres",
        "library/redis",
        "library/alpine",
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

    // Pinned files are left alone by a second run, which needs no network to check.
    let check = pin(dir.path(), &registry, &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

/// Rows of `pin --list --format json`: `file site text status-or-reason`.
fn list_rows(dir: &Path, args: &[&str]) -> (Vec<String>, Value) {
    // Outside the repository, so that names are relative to `dir` wherever it is.
    let copy = crate::support::copy_out(dir);
    let output = pin_cmd()
        .current_dir(copy.path())
        .args(["--list", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = report["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r["file"].as_str().unwrap(),
                r["site"].as_str().unwrap(),
                r["text"].as_str().unwrap(),
                r["reason"]
                    .as_str()
                    .unwrap_or_else(|| r["status"].as_str().unwrap())
            )
        })
        .collect();
    (rows, report)
}

#[test]
fn a_gitlab_ci_file_is_no_longer_read_as_having_no_references() {
    let dir = tree(&[
        (".gitlab-ci.yml", GITLAB),
        ("ci/extra.yml", GITLAB_INCLUDED),
        ("ci/not-included.yml", GITLAB_INCLUDED),
    ]);
    let (rows, _) = list_rows(dir.path(), &[]);
    assert_eq!(
        rows,
        [
            ".gitlab-ci.yml gitlab-image python:3.12 pin",
            ".gitlab-ci.yml gitlab-service postgres:16 pin",
            ".gitlab-ci.yml gitlab-image ghcr.io/acme/app:1.4 pin",
            ".gitlab-ci.yml gitlab-image $CI_REGISTRY_IMAGE/builder:1 templated",
            "ci/extra.yml gitlab-image redis:7 pin",
        ]
    );

    // A glob includes every file it matches, in that folder only.
    let dir = tree(&[
        (".gitlab-ci.yml", "include:\n  - local: '/ci/*.yml'\n"),
        ("ci/a.yml", GITLAB_INCLUDED),
        ("ci/b.yml", GITLAB_INCLUDED),
        ("ci/deeper/c.yml", GITLAB_INCLUDED),
    ]);
    let (rows, _) = list_rows(dir.path(), &[]);
    assert_eq!(
        rows,
        [
            "ci/a.yml gitlab-image redis:7 pin",
            "ci/b.yml gitlab-image redis:7 pin",
        ]
    );
}

#[test]
fn json_named_on_the_command_line_is_read_as_json_not_as_a_dockerfile() {
    let dir = tree(&[("pod.json", POD_JSON), ("devcontainer.json", DEVCONTAINER)]);
    let (rows, _) = list_rows(dir.path(), &["pod.json", "devcontainer.json"]);
    assert_eq!(
        rows,
        [
            "devcontainer.json devcontainer-image ghcr.io/acme/app:1.4 pin",
            "pod.json kubernetes-image redis:7 pin",
        ]
    );
}

#[test]
fn json_files_that_are_not_manifests_are_not_read_in_a_walk() {
    let dir = tree(&[
        ("package.json", "{\"name\": \"x\", \"image\": \"not:this\"}"),
        ("broken.json", "{\"apiVersion\": "),
        ("deploy/pod.json", POD_JSON),
    ]);
    let (rows, report) = list_rows(dir.path(), &[]);
    assert_eq!(rows, ["deploy/pod.json kubernetes-image redis:7 pin"]);
    assert_eq!(report["problems"], serde_json::json!([]));
}

/// Every image in the real-world files, counted by reading each file (see
/// `testdata/real-world-ci/README.md` for where each comes from): what `pin` must
/// find, in file order, and nothing else.
const REAL_WORLD: &[&str] = &[
    "azure/MicrosoftDocs-azure-devops-docs/multiple-containers/azure-pipelines.yml azure-resource postgres pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-containers/azure-pipelines.yml azure-resource mysql:5.7 pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-containers/azure-pipelines.yml azure-resource python pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-jobs/azure-pipelines.yml azure-resource ubuntu:18.04 pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-jobs/azure-pipelines.yml azure-resource postgres:12 pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-jobs/azure-pipelines.yml azure-resource postgres:11 pin",
    "azure/MicrosoftDocs-azure-devops-docs/multiple-jobs/azure-pipelines.yml azure-service $[ variables['postgresService'] ] template-expression",
    "azure/MicrosoftDocs-azure-devops-docs/ports/azure-pipelines.yml azure-resource my_service:latest pin",
    "azure/MicrosoftDocs-azure-devops-docs/ports/azure-pipelines.yml azure-service redis pin",
    "azure/MicrosoftDocs-azure-devops-docs/single-container-job/azure-pipelines.yml azure-resource buildpack-deps:focal pin",
    "azure/MicrosoftDocs-azure-devops-docs/single-container-job/azure-pipelines.yml azure-resource nginx pin",
    "azure/MicrosoftDocs-azure-devops-docs/single-job/azure-pipelines.yml azure-resource nginx pin",
    "azure/MicrosoftDocs-azure-devops-docs/single-job/azure-pipelines.yml azure-resource redis pin",
    "bake/Flexget-Flexget/docker-bake.hcl bake-context python:3.12-alpine pin",
    "bake/ttionya-vaultwarden-backup/docker-bake.hcl bake-context ${TEST_BASE_TAG} unresolved-variable",
    "bitbucket/20tab-django-uwsgi-template/bitbucket-pipelines.yml bitbucket-image python:3.7 pin",
    "bitbucket/20tab-django-uwsgi-template/bitbucket-pipelines.yml bitbucket-service postgres:11 pin",
    "bitbucket/renovatebot-renovate/bitbucket-pipelines.yml bitbucket-image node:10.15.1 pin",
    "bitbucket/renovatebot-renovate/bitbucket-pipelines.yml bitbucket-service node:14 pin",
    "bitbucket/renovatebot-renovate/bitbucket-pipelines.yml bitbucket-image node:10.15.2 pin",
    "bitbucket/renovatebot-renovate/bitbucket-pipelines.yml bitbucket-pipe jfrogecosystem/jfrog-setup-cli:2.0.2 pin",
    "bitbucket/renovatebot-renovate/bitbucket-pipelines.yml bitbucket-image node:16 pin",
    "circleci/KenHV-circleci/.circleci/config.yml circleci-image kenhv/kernel:latest pin",
    "cloudbuild/00-1-btcsim/cloudbuild.yaml cloudbuild-step gcr.io/cloud-builders/gcloud pin",
    "cloudbuild/0xFacet-facet-optimism/cloudbuild.yaml cloudbuild-step gcr.io/kaniko-project/executor:latest pin",
    "devcontainer/devcontainers-templates/src/go/.devcontainer/devcontainer.json devcontainer-image mcr.microsoft.com/devcontainers/go:0-${templateOption:imageVariant} templated",
    "devcontainer/devcontainers-templates/src/python/.devcontainer.json devcontainer-image mcr.microsoft.com/devcontainers/python:${templateOption:imageVariant} templated",
    "drone/0xProject-0x-mesh/.drone.yml drone-image plugins/docker pin",
    "drone/0xProject-0x-mesh/.drone.yml drone-image plugins/docker pin",
    "drone/0xProject-0x-mesh/.drone.yml drone-image plugins/docker pin",
    "drone/0xProject-0x-mesh/.drone.yml drone-image plugins/docker pin",
    "drone/0xProject-0x-mesh/.drone.yml drone-image plugins/github-release pin",
    "drone/renovatebot-renovate/.drone.yml drone-image elixir:1.8.1-alpine pin",
    "drone/renovatebot-renovate/.drone.yml drone-image amd64/node:10.0.0@sha256:36adc17e9cceab32179d3314da9cb9c737ffb11f0de4e688f407ad6d9ca32201 already-pinned",
    "drone/renovatebot-renovate/.drone.yml drone-service mysql:5.7.24 pin",
    "drone/renovatebot-renovate/.drone.yml drone-service redis:alpine pin",
    "drone/renovatebot-renovate/.drone.yml drone-service \"amd64/node:10.0.0\\\n            @sha256:36adc17e9cceab32179d3314da9cb9c737ffb11f0de4e688f407ad6d9ca32201\" invalid-reference",
    "drone/renovatebot-renovate/.drone.yml drone-service 'amd64/node\\\n            :10.0.0\\\n            @sha256:36adc17e9cceab32179d3314da9cb9c737ffb11f0de4e688f407ad6d9ca32201' invalid-reference",
    "gitlab/DrDaveD-apptainer/.gitlab-ci.yml gitlab-image nvcr.io/nvidia/cuda:13.3.1-base-ubuntu24.04 pin",
    "gitlab/DrDaveD-apptainer/.gitlab-ci.yml gitlab-image rocm/dev-ubuntu-24.04:6.4.3-complete pin",
    "gitlab/Drakkar-Software-OctoBot/.gitlab-ci.yml gitlab-image docker:19.03.1 pin",
    "gitlab/Drakkar-Software-OctoBot/.gitlab-ci.yml gitlab-service docker:19.03.1-dind pin",
    "gitlab/Drakkar-Software-OctoBot/.gitlab-ci.yml gitlab-image $CI_REGISTRY_IMAGE:$CI_COMMIT_SHA templated",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image ruby:2.5.0 pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image hadolint/hadolint:latest pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image docker:latest pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-service docker:dind pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image docker:latest pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-service docker:dind pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image image-name-test:1.15 pin",
    "gitlab/renovatebot-renovate/.gitlab-ci.yml gitlab-image image-name-test:1.15 pin",
    "kubernetes-json/kubernetes-examples/guestbook-go/guestbook-controller.json kubernetes-image registry.k8s.io/guestbook:v3 pin",
    "kubernetes-json/kubernetes-examples/guestbook-go/redis-master-controller.json kubernetes-image k8s.gcr.io/redis:e2e pin",
];

#[test]
fn real_world_files_have_every_image_found_and_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/real-world-ci");
    let (rows, report) = list_rows(&root, &[]);
    assert_eq!(rows, REAL_WORLD);
    assert_eq!(report["problems"], serde_json::json!([]));
    // Files with no image at all (a CircleCI `machine` executor, a dev container that
    // builds) are read and yield nothing, rather than failing.
    for quiet in [
        "circleci/KennyChenFight-pgcapture/.circleci/config.yml",
        "devcontainer/microsoft-vscode-remote-try-python/.devcontainer/devcontainer.json",
    ] {
        assert!(root.join(quiet).is_file(), "{quiet}");
        assert!(!rows.iter().any(|row| row.starts_with(quiet)), "{quiet}");
    }
}

/// Hostile or broken files never crash a reader: every prefix of every rule file
/// (cut at each character) is read as each new kind, giving references or an error.
#[test]
fn truncated_files_are_errors_or_references_never_a_crash() {
    use pin::extract::{FileKind, extract};
    let kinds = [
        FileKind::GitlabCi,
        FileKind::Bitbucket,
        FileKind::Circleci,
        FileKind::Drone,
        FileKind::Cloudbuild,
        FileKind::Azure,
        FileKind::Devcontainer,
        FileKind::Bake,
    ];
    let samples = [
        GITLAB,
        BITBUCKET,
        CIRCLECI,
        DRONE,
        CLOUDBUILD,
        AZURE,
        DEVCONTAINER,
        BAKE,
        POD_JSON,
        "contexts = { a = \"docker-image://x:${\"y\"}\" } \"\\u00e9\" <<-EOT\nEOT\n",
        "{\"a\": \"\\ud800\\u\", \"é\": [1, {\"b\": /* */ 2,},], // x\n}",
    ];
    let mut read = 0;
    for sample in samples {
        for (cut, _) in sample.char_indices() {
            let text = &sample[..cut];
            for kind in kinds {
                if let Ok(references) = extract(kind, text) {
                    for reference in references {
                        assert!(reference.span.end <= text.len(), "{kind:?} {text:?}");
                    }
                }
                read += 1;
            }
        }
    }
    assert!(read > 1000, "{read}");
}
