//! `pin --list --format json` for every rule file in `testdata/`: the folder reads as a
//! specification, and these reviewed snapshots say what `pin` finds in each file.

use crate::support;

use std::path::Path;

use support::pin_cmd;

/// Each run happens in a copy of the file's folder outside the repository, so that the
/// names in the output do not depend on where the checkout is.
fn list_json(path: &Path) -> String {
    let folder = support::copy_out(path.parent().unwrap());
    let output = pin_cmd()
        .current_dir(folder.path())
        .args(["--list", "--format", "json"])
        .arg(path.file_name().unwrap())
        .output()
        .expect("run pin");
    let status = output.status.code().unwrap_or(-1);
    let stdout = String::from_utf8(output.stdout).unwrap();
    format!("exit status {status}\n{stdout}")
}

/// `pin --list --format json` run in `root` on `path` relative to it, so that folder
/// names that tell a kind (`.woodpecker/`, `.devcontainer/`) are part of the name.
fn list_json_in(root: &str, path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(root);
    let relative = path.strip_prefix(&root).unwrap();
    let copy = support::copy_out(&root);
    let output = pin_cmd()
        .current_dir(copy.path())
        .args(["--list", "--format", "json"])
        .arg(relative)
        .output()
        .expect("run pin");
    let status = output.status.code().unwrap_or(-1);
    let stdout = String::from_utf8(output.stdout).unwrap();
    format!("exit status {status}\n{stdout}")
}

#[test]
fn dockerfile_rules() {
    insta::glob!("../../testdata/dockerfile", "**/*ockerfile*", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn compose_rules() {
    insta::glob!("../../testdata/compose", "*.y*ml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn kubernetes_rules() {
    insta::glob!("../../testdata/kubernetes", "*.y*ml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn actions_rules() {
    insta::glob!("../../testdata/actions", "**/*.y*ml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn gitlab_rules() {
    insta::glob!("../../testdata/gitlab", "*.gitlab-ci.yml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn bitbucket_rules() {
    insta::glob!("../../testdata/bitbucket", "*.yml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn circleci_rules() {
    insta::glob!("../../testdata/circleci", "*.yml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn drone_and_woodpecker_rules() {
    insta::glob!(
        "../../testdata/drone",
        "{*.yml,.woodpecker/*.yml}",
        |path| {
            insta::assert_snapshot!(list_json_in("testdata/drone", path));
        }
    );
}

#[test]
fn cloudbuild_rules() {
    insta::glob!("../../testdata/cloudbuild", "cloudbuild.*", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn azure_rules() {
    insta::glob!("../../testdata/azure", "*.yml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn devcontainer_rules() {
    insta::glob!(
        "../../testdata/devcontainer",
        "{.devcontainer.json,.devcontainer/*/devcontainer.json}",
        |path| {
            insta::assert_snapshot!(list_json_in("testdata/devcontainer", path));
        }
    );
}

#[test]
fn bake_rules() {
    insta::glob!("../../testdata/bake", "docker-bake.*", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn kubernetes_json_rules() {
    insta::glob!("../../testdata/kubernetes-json", "*.json", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn helm_values_rules() {
    insta::glob!("../../testdata/helm", "**/values*.yaml", |path| {
        insta::assert_snapshot!(list_json(path));
    });
}

#[test]
fn kustomize_rules() {
    insta::glob!(
        "../../testdata/kustomize",
        "**/{kustomization.yaml,Kustomization}",
        |path| {
            insta::assert_snapshot!(list_json(path));
        }
    );
}

/// The files of `testdata/patterns/`, read with that folder's `pin.toml`.
#[test]
fn pattern_rules() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/patterns");
    let copy = support::copy_out(&root);
    insta::glob!(
        "../../testdata/patterns",
        "{Makefile,*.tf,scripts/*.sh}",
        |path| {
            let output = pin_cmd()
                .current_dir(copy.path())
                .args(["--list", "--format", "json", "--config", "pin.toml"])
                .arg(path.strip_prefix(&root).unwrap())
                .output()
                .expect("run pin");
            let status = output.status.code().unwrap_or(-1);
            let stdout = String::from_utf8(output.stdout).unwrap();
            insta::assert_snapshot!(format!("exit status {status}\n{stdout}"));
        }
    );
}
