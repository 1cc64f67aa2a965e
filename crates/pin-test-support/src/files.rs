//! Temporary trees of files for tests that run `pin` on them.

use std::fs;
use std::path::Path;

/// A temporary folder holding `files` (path, content); folders are made as needed.
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (path, content) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("a path in the tree")).expect("create folders");
        fs::write(path, content).expect("write a file of the tree");
    }
    dir
}

/// The text of `path` under `dir`.
pub fn read(dir: &Path, path: &str) -> String {
    fs::read_to_string(dir.join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A copy of the folder `source` (files and folders; links are not followed) in a
/// temporary folder outside any git repository, so that `pin` run there names files
/// relative to the copy, wherever the checkout is.
pub fn copy_out(source: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    copy_into(source, dir.path());
    dir
}

fn copy_into(source: &Path, target: &Path) {
    for entry in fs::read_dir(source).unwrap_or_else(|e| panic!("read {}: {e}", source.display())) {
        let entry = entry.expect("a folder entry");
        let to = target.join(entry.file_name());
        let kind = entry.file_type().expect("a file type");
        if kind.is_dir() {
            fs::create_dir(&to).expect("create a folder");
            copy_into(&entry.path(), &to);
        } else if kind.is_file() {
            fs::copy(entry.path(), &to).expect("copy a file");
        }
    }
}

/// `git ARGS` in `dir`, which must succeed, with a fixed author and no signing or
/// user configuration in the way.
pub fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let output = std::process::Command::new("git")
        .args(["-c", "user.name=pin", "-c", "user.email=pin@localhost"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git is installed (scripts/install-deps.sh)");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
