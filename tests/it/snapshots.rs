//! `pin --list --format json` for every rule file in `testdata/`: the folder reads as a
//! specification, and these reviewed snapshots say what `pin` finds in each file.

use crate::support;

use std::path::Path;

use support::pin_cmd;

fn list_json(path: &Path) -> String {
    let folder = path.parent().unwrap();
    let output = pin_cmd()
        .current_dir(folder)
        .args(["--list", "--format", "json"])
        .arg(path.file_name().unwrap())
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
