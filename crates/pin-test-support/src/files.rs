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
