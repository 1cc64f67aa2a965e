//! Discovery: which files under the given paths hold image references, and of what kind.
//!
//! Directories are walked honouring `.gitignore` (also outside a git repository) and
//! hidden folders such as `.github/` are entered. A file named on the command line is
//! always read, whatever its name.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use thiserror::Error;

use crate::extract::FileKind;
use crate::extract::patterns::Patterns;

mod charts;
mod kinds;

use charts::read_charts_values;
pub use charts::{chart_folder, chart_reads_digest};
use kinds::*;
pub use kinds::{kind_of, refine_kind};

/// A file to read, and how.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// The path as the user should see it (relative to the current folder when the
    /// walk started from a relative path).
    pub path: PathBuf,
    /// How to read it.
    pub kind: FileKind,
    /// Whether an `--exclude` pattern matches it: its references are listed as
    /// `ignored` and never resolved or written.
    pub excluded: bool,
}

/// A path that could not be walked.
#[derive(Debug, Error)]
#[error("{path}: {message}")]
pub struct DiscoverError {
    /// The path.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// A bad `--exclude` pattern.
#[derive(Debug, Error)]
#[error("invalid --exclude pattern {pattern:?}: {message}")]
pub struct ExcludeError {
    /// The pattern as given.
    pub pattern: String,
    /// Why it is invalid.
    pub message: String,
}

/// `--exclude` patterns. A pattern matches a path relative to the folder the walk
/// started in, or any of its parent folders (so `vendor` and `vendor/**` both skip a
/// whole folder), or the file's name alone.
#[derive(Debug, Clone)]
pub struct Excludes {
    set: GlobSet,
}

impl Excludes {
    /// Compile the patterns.
    pub fn new(patterns: &[String]) -> Result<Excludes, ExcludeError> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let trimmed = pattern.trim_start_matches("./").trim_end_matches('/');
            let glob = Glob::new(trimmed).map_err(|e| ExcludeError {
                pattern: pattern.clone(),
                message: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| ExcludeError {
            pattern: patterns.join(" "),
            message: e.to_string(),
        })?;
        Ok(Excludes { set })
    }

    /// Whether `path` (relative to the walk's root) or one of its folders matches.
    pub fn matches(&self, path: &Path) -> bool {
        if self.set.is_empty() {
            return false;
        }
        let path = path.strip_prefix(".").unwrap_or(path);
        if path.file_name().is_some_and(|name| self.set.is_match(name)) {
            return true;
        }
        path.ancestors()
            .filter(|p| !p.as_os_str().is_empty())
            .any(|p| self.set.is_match(p))
    }
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to read, sorted by path, each once.
    pub files: Vec<Candidate>,
    /// Paths that could not be walked or do not exist.
    pub errors: Vec<DiscoverError>,
}

/// Find the files to read under `paths`.
pub fn discover(paths: &[PathBuf], excludes: &Excludes) -> Discovery {
    discover_with(paths, excludes, Walk::default(), &Patterns::default())
}

/// How folders are walked.
#[derive(Debug, Clone, Copy)]
pub struct Walk {
    /// Honour `.gitignore`, `.ignore` and git's exclude files (`--no-ignore` turns it
    /// off).
    pub respect_ignore: bool,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk {
            respect_ignore: true,
        }
    }
}

/// Find the files to read under `paths`, walking folders as `walk_options` says; also
/// those that only `patterns` read (of kind [`FileKind::Patterns`]).
pub fn discover_with(
    paths: &[PathBuf],
    excludes: &Excludes,
    walk_options: Walk,
    patterns: &Patterns,
) -> Discovery {
    let mut discovery = Discovery::default();
    // The inode of each walked file as its folder listed it, `None` for a file named
    // on the command line (which may be a link): in the order of `discovery.files`.
    let mut inodes: Vec<Option<u64>> = Vec::new();
    for root in paths {
        let metadata = match std::fs::metadata(root) {
            Ok(metadata) => metadata,
            Err(e) => {
                discovery.errors.push(DiscoverError {
                    path: root.clone(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        if !metadata.is_file() && !metadata.is_dir() {
            // Reading a FIFO would wait for a writer, forever.
            discovery.errors.push(DiscoverError {
                path: display_path(root),
                message: "not a regular file or folder (a FIFO, socket or device); skipped"
                    .to_string(),
            });
            continue;
        }
        if metadata.is_file() {
            if let Some(error) = not_utf8(root) {
                discovery.errors.push(error);
                continue;
            }
            // A file named by the user is read whatever its name: a YAML name tells
            // which YAML kind, anything else is read as a Dockerfile.
            let kind = kind_of(root).unwrap_or(match patterns.matching(root).is_empty() {
                true => FileKind::Dockerfile,
                false => FileKind::Patterns,
            });
            let excluded = excludes.matches(root);
            discovery.files.push(Candidate {
                path: display_path(root),
                kind,
                excluded,
            });
            inodes.push(None);
            continue;
        }
        walk(
            root,
            excludes,
            walk_options,
            patterns,
            &mut discovery,
            &mut inodes,
        );
    }
    read_each_file_once(&mut discovery.files, &inodes);
    discovery.errors.sort_by(|a, b| a.path.cmp(&b.path));
    follow_gitlab_includes(&mut discovery.files);
    read_charts_values(&mut discovery.files);
    discovery
}

/// How many files of a kind `pin` reads the ignore rules kept out of `found` (for
/// `-v`): the same paths walked again without them.
pub fn count_ignored(paths: &[PathBuf], found: &Discovery) -> usize {
    let all = discover_with(
        paths,
        &Excludes::new(&[]).unwrap_or_else(|_| unreachable!("no patterns")),
        Walk {
            respect_ignore: false,
        },
        &Patterns::default(),
    );
    let seen: std::collections::BTreeSet<&Path> =
        found.files.iter().map(|c| c.path.as_path()).collect();
    all.files
        .iter()
        .filter(|c| !seen.contains(c.path.as_path()))
        .count()
}

/// Keep one name of each file: a file reached under two names (named and also found
/// in a folder through a link, or hard links) would otherwise be pinned twice, and
/// the second write refused as "changed on disk". The name that is not a symbolic
/// link is kept; if any name is excluded, the file is. The result is sorted by path.
///
/// `inodes` gives, for each walked file, the inode its folder listing told (`None`
/// for a file named on the command line): only names that may share a file with
/// another (a named file, or an inode seen twice) cost a `stat`.
fn read_each_file_once(files: &mut Vec<Candidate>, inodes: &[Option<u64>]) {
    /// A file's identity, whether this name is a link, and the candidate.
    type Keyed = (Option<FileId>, bool, Candidate);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut shared: HashSet<u64> = inodes
        .iter()
        .flatten()
        .filter(|inode| !seen.insert(**inode))
        .copied()
        .collect();
    // A walked name may reach the file a named one (a link, say) leads to.
    for (candidate, _) in files.iter().zip(inodes).filter(|(_, i)| i.is_none()) {
        if let Some((_, inode)) = file_identity(&candidate.path) {
            shared.insert(inode);
        }
    }
    let mut unique: Vec<Candidate> = Vec::with_capacity(files.len());
    let mut keyed: Vec<Keyed> = Vec::new();
    for (candidate, inode) in files.drain(..).zip(inodes) {
        match inode {
            // A walked file (never a link) that no other name can reach.
            Some(inode) if !shared.contains(inode) => unique.push(candidate),
            _ => {
                let is_link = std::fs::symlink_metadata(&candidate.path)
                    .is_ok_and(|m| m.file_type().is_symlink());
                keyed.push((file_identity(&candidate.path), is_link, candidate));
            }
        }
    }
    keyed.sort_by(|a, b| (a.0, a.1, &a.2.path).cmp(&(b.0, b.1, &b.2.path)));
    let mut last: Option<FileId> = None;
    let mut previous: Option<usize> = None;
    for (key, _, candidate) in keyed {
        match (key, previous) {
            (Some(key), Some(index)) if last == Some(key) => {
                unique[index].excluded |= candidate.excluded;
            }
            _ => {
                last = key;
                previous = Some(unique.len());
                unique.push(candidate);
            }
        }
    }
    // A path with `..` in it is compared as a `Path` (see `path_order`).
    let plain = unique.iter().all(|c| {
        !c.path
            .as_os_str()
            .as_encoded_bytes()
            .windows(2)
            .any(|w| w == b"..")
    });
    unique.sort_unstable_by(|a, b| {
        let paths = match plain {
            true => path_order(&a.path, &b.path),
            false => a.path.cmp(&b.path),
        };
        paths.then_with(|| (a.kind, a.excluded).cmp(&(b.kind, b.excluded)))
    });
    unique.dedup_by(|a, b| a.path == b.path);
    *files = unique;
}

/// The last part of a path as [`display_path`] gives it (no trailing `/`, no `.`):
/// its file name, found without parsing its components, for loops over every file
/// of a large tree.
pub(crate) fn name_of(path: &Path) -> &[u8] {
    let bytes = path.as_os_str().as_encoded_bytes();
    match bytes.iter().rposition(|&b| b == b'/') {
        Some(slash) => &bytes[slash + 1..],
        None => bytes,
    }
}

/// The order of [`Path`]'s `Ord` (component by component), found on the bytes: for
/// paths without `.` or `..` components or doubled slashes, as [`display_path`]
/// gives them, it is the byte order with `/` below every other byte. Sorting
/// 100,000 paths by their components took a fifth of a second.
fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let key = |byte: u8| match byte {
        b'/' => 0,
        byte => u16::from(byte) + 1,
    };
    let (a, b) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(at) => key(a[at]).cmp(&key(b[at])),
        None => a.len().cmp(&b.len()),
    }
}

/// A file's device and inode.
type FileId = (u64, u64);

/// The device and inode of the file a path names, following links.
#[cfg(unix)]
fn file_identity(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_identity(_path: &Path) -> Option<FileId> {
    None
}

/// What one walked entry gave: a file to read (with the inode its folder listing
/// gave, so that hard links are found without a `stat` of every file) or an error.
enum Found {
    File(Candidate, Option<u64>),
    Error(DiscoverError),
}

/// One walking thread's findings, handed to the shared list when the thread is done
/// (one lock per thread, not one per file).
struct Collector<'a> {
    found: Vec<Found>,
    all: &'a std::sync::Mutex<Vec<Found>>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        // A poisoned lock means another walking thread panicked; its panic is what
        // the run reports, so the findings are handed over all the same.
        let mut all = self
            .all
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.append(&mut self.found);
    }
}

/// Walk `root` on every core. The order in which threads find entries is not
/// fixed; the caller sorts what is found.
fn walk(
    root: &Path,
    excludes: &Excludes,
    options: Walk,
    patterns: &Patterns,
    discovery: &mut Discovery,
    inodes: &mut Vec<Option<u64>>,
) {
    let filter_root = root.to_path_buf();
    let filter_excludes = excludes.clone();
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(options.respect_ignore)
        .git_global(options.respect_ignore)
        .git_exclude(options.respect_ignore)
        .ignore(options.respect_ignore)
        .parents(options.respect_ignore)
        .require_git(false)
        .follow_links(false)
        .threads(crate::pipeline::cores())
        // `.git` itself is never of interest.
        .filter_entry(move |entry| {
            if entry.file_name() == ".git" {
                return false;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let relative = entry
                .path()
                .strip_prefix(&filter_root)
                .unwrap_or(entry.path());
            // An excluded folder is not entered; excluded files are still listed.
            !(is_dir && !relative.as_os_str().is_empty() && filter_excludes.matches(relative))
        })
        .build_parallel();
    let all = std::sync::Mutex::new(Vec::new());
    let cwd = std::env::current_dir().ok();
    let cwd = cwd.as_deref();
    walker.run(|| {
        let mut collector = Collector {
            found: Vec::new(),
            all: &all,
        };
        Box::new(move |entry| {
            if let Some(found) = look_at(root, cwd, excludes, patterns, entry) {
                collector.found.push(found);
            }
            ignore::WalkState::Continue
        })
    });
    let all = all
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for found in all {
        match found {
            Found::File(candidate, inode) => {
                discovery.files.push(candidate);
                inodes.push(inode);
            }
            Found::Error(error) => discovery.errors.push(error),
        }
    }
}

/// What a walked entry is to `pin`: a file to read, an error, or nothing.
fn look_at(
    root: &Path,
    cwd: Option<&Path>,
    excludes: &Excludes,
    patterns: &Patterns,
    entry: Result<ignore::DirEntry, ignore::Error>,
) -> Option<Found> {
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return Some(Found::Error(walk_error(root, &e))),
    };
    // Symbolic links found while walking are not followed: a link could lead
    // outside the paths the user named. Name a link to pin through it.
    if !entry.file_type().is_some_and(|t| t.is_file()) {
        return None;
    }
    let kind = kind_of(entry.path())
        .or_else(|| json_manifest(entry.path()))
        .or_else(|| {
            let matched = !patterns.is_empty() && !patterns.matching(entry.path()).is_empty();
            matched.then_some(FileKind::Patterns)
        })?;
    if let Some(error) = not_utf8(entry.path()) {
        return Some(Found::Error(error));
    }
    let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
    let candidate = Candidate {
        path: display_path_in(entry.path(), cwd),
        kind,
        excluded: excludes.matches(relative),
    };
    #[cfg(unix)]
    let inode = entry.ino();
    #[cfg(not(unix))]
    let inode = None;
    Some(Found::File(candidate, inode))
}

/// A path that is not UTF-8 cannot be named faithfully in a diff, a patch or JSON,
/// and a gate must not pass over a Dockerfile or manifest it cannot name: it is an
/// error, shown with its bad bytes escaped (`Dockerfile.\xff`).
fn not_utf8(path: &Path) -> Option<DiscoverError> {
    if path.to_str().is_some() {
        return None;
    }
    Some(DiscoverError {
        path: PathBuf::from(escaped(&display_path(path))),
        message: "the path is not valid UTF-8, so pin cannot name it in its output; \
                  rename it; skipped"
            .to_string(),
    })
}

/// A path as text, with bytes that are not UTF-8 and control characters shown as
/// `\xNN` and a backslash as `\\`, so that what is shown cannot be mistaken for
/// another name.
fn escaped(path: &Path) -> String {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path.to_string_lossy().into_owned().into_bytes();
    let mut shown = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => shown.push_str("\\\\"),
                c if c.is_control() => {
                    let mut buffer = [0; 4];
                    for byte in c.encode_utf8(&mut buffer).bytes() {
                        shown.push_str(&format!("\\x{byte:02x}"));
                    }
                }
                c => shown.push(c),
            }
        }
        for byte in chunk.invalid() {
            shown.push_str(&format!("\\x{byte:02x}"));
        }
    }
    shown
}

/// A walk error as `path: what went wrong`, naming the folder or file that could not
/// be read (an unreadable folder is skipped; the walk goes on).
fn walk_error(root: &Path, error: &ignore::Error) -> DiscoverError {
    fn path_of(error: &ignore::Error) -> Option<&Path> {
        match error {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            _ => None,
        }
    }
    // The kind alone ("permission denied"), as every thread of the walk tells it.
    let message = match error.io_error() {
        Some(io) => match (io.kind(), io.raw_os_error()) {
            (std::io::ErrorKind::Other, Some(code)) => {
                std::io::Error::from_raw_os_error(code).to_string()
            }
            (kind, _) => kind.to_string(),
        },
        None => error.to_string(),
    };
    DiscoverError {
        path: display_path(path_of(error).unwrap_or(root)),
        message: format!("{message}; skipped"),
    }
}

/// A path as it should be shown and put in diffs: relative to the current folder
/// where it is inside it, without a leading `./`.
pub fn display_path(path: &Path) -> PathBuf {
    let cwd = match path.is_absolute() {
        true => std::env::current_dir().ok(),
        false => None,
    };
    display_path_in(path, cwd.as_deref())
}

/// [`display_path`] with the current folder already known (`None`: unknown), for a
/// walk that names every file of a tree.
fn display_path_in(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let path = match cwd {
        Some(cwd) if path.is_absolute() => path.strip_prefix(cwd).unwrap_or(path),
        _ => path,
    };
    let mut cleaned = PathBuf::new();
    for component in path.components() {
        if component != std::path::Component::CurDir {
            cleaned.push(component);
        }
    }
    if cleaned.as_os_str().is_empty() {
        path.to_path_buf()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests;
