//! Where a run stands: the git top level of the current folder, the paths re-rooted
//! there (so diffs, patches and JSON name files relative to the repository whatever
//! folder `pin` runs in), and the settings file found from the current folder upwards.

use std::path::{Component, Path, PathBuf};

use crate::config::FILE_NAME;

/// The folder holding `.git` (a folder, or a file in a worktree) at or above `dir`.
pub fn git_top(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `path` as seen from `top`: relative to it when it lies inside, else absolute.
/// `cwd` is the folder a relative `path` was given in.
pub fn reroot(path: &Path, cwd: &Path, top: &Path) -> PathBuf {
    let absolute = normalise(&cwd.join(path));
    match absolute.strip_prefix(top) {
        Ok(inside) if inside.as_os_str().is_empty() => PathBuf::from("."),
        Ok(inside) => inside.to_path_buf(),
        Err(_) => absolute,
    }
}

/// `a/./b/../c` as `a/c`, without touching the file system (a `..` after a symbolic
/// link is taken lexically, as git and most shells do for their own paths).
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// The nearest `pin.toml` in `cwd` or a folder above it, up to `top` (the git top
/// level; only `cwd` itself outside a repository).
pub fn settings_above(cwd: &Path, top: Option<&Path>) -> Option<PathBuf> {
    let Some(top) = top else {
        let candidate = cwd.join(FILE_NAME);
        return candidate.is_file().then_some(candidate);
    };
    cwd.ancestors()
        .take_while(|folder| folder.starts_with(top))
        .map(|folder| folder.join(FILE_NAME))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_rerooted_at_the_top_level() {
        let top = Path::new("/repo");
        let cwd = Path::new("/repo/services");
        assert_eq!(
            reroot(Path::new("worker/Dockerfile"), cwd, top),
            PathBuf::from("services/worker/Dockerfile")
        );
        assert_eq!(reroot(Path::new(".."), cwd, top), PathBuf::from("."));
        assert_eq!(reroot(Path::new("."), cwd, top), PathBuf::from("services"));
        assert_eq!(
            reroot(Path::new("/tmp/x/Dockerfile"), cwd, top),
            PathBuf::from("/tmp/x/Dockerfile")
        );
        assert_eq!(
            reroot(Path::new("../../elsewhere"), cwd, top),
            PathBuf::from("/elsewhere")
        );
    }

    #[test]
    fn settings_are_found_upwards_but_not_above_the_top_level() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        let deep = top.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir(top.join(".git")).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "").unwrap();
        assert_eq!(git_top(&deep).as_deref(), Some(top.as_path()));
        assert_eq!(settings_above(&deep, Some(&top)), None);
        std::fs::write(top.join(FILE_NAME), "").unwrap();
        assert_eq!(settings_above(&deep, Some(&top)), Some(top.join(FILE_NAME)));
        std::fs::write(top.join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(
            settings_above(&deep, Some(&top)),
            Some(top.join("a").join(FILE_NAME))
        );
        assert_eq!(settings_above(&deep, None), None);
    }
}
