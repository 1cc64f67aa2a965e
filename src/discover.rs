//! Discovery: which files under the given paths hold image references, and of what kind.
//!
//! Directories are walked honouring `.gitignore` (also outside a git repository) and
//! hidden folders such as `.github/` are entered. A file named on the command line is
//! always read, whatever its name.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use thiserror::Error;

use crate::extract::FileKind;
use crate::extract::patterns::Patterns;

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

/// The kind of file a name tells, if any. A name that is not UTF-8 is read with its
/// bad bytes replaced, so that `Dockerfile.\xff` still tells a Dockerfile.
pub fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_string_lossy();
    let name: &str = &name;
    let lower = name.to_ascii_lowercase();
    let is_yaml = lower.ends_with(".yml") || lower.ends_with(".yaml");
    if is_dockerfile_name(name) {
        return Some(FileKind::Dockerfile);
    }
    if let Some(kind) = ci_kind_of(path, &lower) {
        return Some(kind);
    }
    if name == "Kustomization" || lower == "kustomization.yaml" || lower == "kustomization.yml" {
        return Some(FileKind::Kustomize);
    }
    if !is_yaml {
        return None;
    }
    let stem = lower.trim_end_matches(".yaml").trim_end_matches(".yml");
    if stem.starts_with("values") {
        return Some(FileKind::HelmValues);
    }
    if stem.starts_with("compose") || stem.starts_with("docker-compose") {
        return Some(FileKind::Compose);
    }
    if stem == "action" || in_workflows_folder(path) {
        return Some(FileKind::Actions);
    }
    Some(FileKind::Kubernetes)
}

/// A YAML file whose name says nothing is a workflow if it reads like one (top-level
/// `on:` and `jobs:` keys), and action metadata if it reads like that (top-level
/// `runs:` beside `name:` or `description:`), wherever it sits: workflow templates,
/// examples and renamed actions are pinned like the real ones. Likewise a file with
/// a top-level `services:` is a compose file (a swarm stack file, say).
///
/// The content wins over a CI system's name too: a `.gitlab-ci.yml` (or any CI file)
/// with top-level `apiVersion` and `kind` is a Kubernetes manifest. A YAML file whose
/// name says nothing is a Bitbucket pipeline if it has a top-level `pipelines:`, a
/// CircleCI configuration if it has `version:`, `jobs:` and `workflows:`, `orbs:` or
/// `executors:`, and a Drone pipeline if it has a top-level `kind: pipeline`. A file
/// named on the command line whose content is JSON is not a Dockerfile: it is read as
/// a Kubernetes manifest (JSON is YAML), or by its keys as a dev container
/// (`image`, `build` or `dockerComposeFile`), a Cloud Build (`steps`) or a bake file
/// (`target`).
pub fn refine_kind(kind: FileKind, text: &str) -> FileKind {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if kind == FileKind::Dockerfile && crate::extract::json::is_json_document(text) {
        return json_kind(text);
    }
    let manifest = has_top_level_key(text, "apiVersion") && has_top_level_key(text, "kind");
    // A `values*.yaml` that is a Kubernetes object is read as one.
    if (is_ci_kind(kind) || kind == FileKind::HelmValues) && manifest {
        return FileKind::Kubernetes;
    }
    if kind != FileKind::Kubernetes {
        return kind;
    }
    if !manifest {
        if has_top_level_key(text, "pipelines") {
            return FileKind::Bitbucket;
        }
        let circleci = ["workflows", "orbs", "executors"];
        if has_top_level_key(text, "version")
            && has_top_level_key(text, "jobs")
            && circleci.iter().any(|key| has_top_level_key(text, key))
        {
            return FileKind::Circleci;
        }
        if text.lines().any(|line| line.trim_end() == "kind: pipeline") {
            return FileKind::Drone;
        }
    }
    let top_level_key = |key: &str| has_top_level_key(text, key);
    // A Kubernetes manifest never has a top-level `services:`; compose files and
    // swarm stack files do.
    if top_level_key("services") && !top_level_key("apiVersion") {
        return FileKind::Compose;
    }
    let workflow = top_level_key("jobs") && top_level_key("on");
    let action = top_level_key("runs") && (top_level_key("name") || top_level_key("description"));
    if workflow || action {
        FileKind::Actions
    } else {
        kind
    }
}

/// Whether a line of `text` starts with `key:` (plain or quoted): a top-level key.
fn has_top_level_key(text: &str, key: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_end();
        [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ]
        .iter()
        .any(|k| line.starts_with(k.as_str()))
    })
}

fn is_ci_kind(kind: FileKind) -> bool {
    matches!(
        kind,
        FileKind::GitlabCi
            | FileKind::Bitbucket
            | FileKind::Circleci
            | FileKind::Drone
            | FileKind::Cloudbuild
            | FileKind::Azure
    )
}

/// The kind of a JSON text by its top-level keys; a manifest when they say nothing.
fn json_kind(text: &str) -> FileKind {
    let keys = crate::extract::json::top_level_keys(text);
    let has = |key: &str| keys.iter().any(|k| k == key);
    if has("apiVersion") && has("kind") {
        FileKind::Kubernetes
    } else if has("image") || has("build") || has("dockerComposeFile") {
        FileKind::Devcontainer
    } else if has("steps") {
        FileKind::Cloudbuild
    } else if has("target") {
        FileKind::Bake
    } else {
        FileKind::Kubernetes
    }
}

/// The conventional names of CI systems' files, dev containers and bake files.
fn ci_kind_of(path: &Path, lower: &str) -> Option<FileKind> {
    let folder = |up: usize| {
        path.parent()
            .into_iter()
            .flat_map(Path::components)
            .rev()
            .nth(up)
            .and_then(|c| c.as_os_str().to_str())
            .map(str::to_ascii_lowercase)
    };
    let in_folder = |name: &str| folder(0).as_deref() == Some(name);
    let (stem, extension) = lower.rsplit_once('.').unwrap_or((lower, ""));
    match extension {
        "yml" | "yaml" => {
            if stem == ".gitlab-ci" || stem.ends_with(".gitlab-ci") {
                Some(FileKind::GitlabCi)
            } else if stem == "bitbucket-pipelines" {
                Some(FileKind::Bitbucket)
            } else if in_folder(".circleci") {
                Some(FileKind::Circleci)
            } else if stem == ".drone" || stem == ".woodpecker" || in_folder(".woodpecker") {
                Some(FileKind::Drone)
            } else if stem.starts_with("cloudbuild") {
                Some(FileKind::Cloudbuild)
            } else if stem.starts_with("azure-pipelines") || in_folder(".azure-pipelines") {
                Some(FileKind::Azure)
            } else {
                None
            }
        }
        "json" => {
            let devcontainer = lower == ".devcontainer.json"
                || lower == "devcontainer.json"
                    && (in_folder(".devcontainer")
                        || folder(1).as_deref() == Some(".devcontainer"));
            if devcontainer {
                Some(FileKind::Devcontainer)
            } else if stem.starts_with("cloudbuild") {
                Some(FileKind::Cloudbuild)
            } else if stem.starts_with("docker-bake") {
                Some(FileKind::Bake)
            } else {
                None
            }
        }
        "hcl" if stem.starts_with("docker-bake") => Some(FileKind::Bake),
        _ => None,
    }
}

/// A `.json` file found in a walk is read only if it is a Kubernetes manifest (a
/// top-level object with `apiVersion` and `kind`): `package.json` and its like are
/// not read at all.
fn json_manifest(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if !name.ends_with(".json") {
        return None;
    }
    let metadata = std::fs::metadata(path).ok()?;
    if metadata.len() > crate::files::MAX_FILE_SIZE {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    if !text.contains("\"apiVersion\"") {
        return None;
    }
    let keys = crate::extract::json::top_level_keys(&text);
    let has = |key: &str| keys.iter().any(|k| k == key);
    (has("apiVersion") && has("kind")).then_some(FileKind::Kubernetes)
}

/// Files that a walked `.gitlab-ci.yml` includes locally (`include: local: ci/*.yml`)
/// are GitLab CI files, whatever their names. Paths are relative to the folder of the
/// `.gitlab-ci.yml`, the repository's root.
fn follow_gitlab_includes(files: &mut [Candidate]) {
    let mut builder = GlobSetBuilder::new();
    let mut any = false;
    for candidate in files.iter() {
        let is_root = candidate
            .path
            .file_name()
            .is_some_and(|name| name.eq_ignore_ascii_case(".gitlab-ci.yml"));
        if !is_root {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&candidate.path) else {
            continue;
        };
        let root = candidate.path.parent().unwrap_or(Path::new(""));
        let root = globset::escape(&root.to_string_lossy());
        for include in crate::extract::gitlab::local_includes(&text) {
            let pattern = match root.is_empty() {
                true => include,
                false => format!("{root}/{include}"),
            };
            if let Ok(glob) = globset::GlobBuilder::new(&pattern)
                .literal_separator(true)
                .build()
            {
                builder.add(glob);
                any = true;
            }
        }
    }
    let Ok(included) = builder.build() else {
        return;
    };
    if !any {
        return;
    }
    for candidate in files.iter_mut() {
        if candidate.kind == FileKind::Kubernetes && included.is_match(&candidate.path) {
            candidate.kind = FileKind::GitlabCi;
        }
    }
}

/// `Dockerfile`, `Containerfile`, `*.Dockerfile`, `*.dockerfile`, `*.Containerfile`,
/// `*.containerfile`, `Dockerfile.*`, `Containerfile.*`.
fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.starts_with("Containerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".Containerfile")
        || name.ends_with(".containerfile")
}

fn in_workflows_folder(path: &Path) -> bool {
    let mut folders = path.parent().into_iter().flat_map(Path::components).rev();
    let last = folders.next().map(|c| c.as_os_str().to_owned());
    let before = folders.next().map(|c| c.as_os_str().to_owned());
    last.as_deref() == Some("workflows".as_ref()) && before.as_deref() == Some(".github".as_ref())
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
            continue;
        }
        walk(root, excludes, walk_options, patterns, &mut discovery);
    }
    discovery.files.sort();
    discovery.files.dedup_by(|a, b| a.path == b.path);
    read_each_file_once(&mut discovery.files);
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

/// The folder of the chart a file belongs to: the nearest folder above it that holds
/// a `Chart.yaml` (not above the current folder, for a relative path).
pub fn chart_folder(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|folder| folder.join("Chart.yaml").is_file())
        .map(Path::to_path_buf)
}

/// YAML files of a chart (a folder with `Chart.yaml`) are Helm values, except
/// `Chart.yaml` itself and what sits in `templates/` (templates) and `crds/`
/// (manifests).
fn read_charts_values(files: &mut [Candidate]) {
    let mut charts: std::collections::HashMap<PathBuf, Option<PathBuf>> =
        std::collections::HashMap::new();
    for candidate in files.iter_mut() {
        if candidate.kind != FileKind::Kubernetes
            || candidate
                .path
                .file_name()
                .is_some_and(|n| n == "Chart.yaml")
        {
            continue;
        }
        let Some(parent) = candidate.path.parent() else {
            continue;
        };
        let chart = charts
            .entry(parent.to_path_buf())
            .or_insert_with(|| chart_folder(&candidate.path))
            .clone();
        let Some(chart) = chart else {
            continue;
        };
        let inside = candidate
            .path
            .strip_prefix(&chart)
            .unwrap_or(&candidate.path);
        let first = inside.components().next().map(|c| c.as_os_str().to_owned());
        if inside.components().count() > 1
            && matches!(
                first.as_deref().and_then(|f| f.to_str()),
                Some("templates" | "crds")
            )
        {
            continue;
        }
        candidate.kind = FileKind::HelmValues;
    }
}

/// Whether any template of the chart at `chart` (its `templates/`, and its
/// subcharts' unpacked `charts/*/templates/`) reads a `.digest` value. Files larger
/// than [`crate::files::MAX_FILE_SIZE`] are not read.
pub fn chart_reads_digest(chart: &Path) -> bool {
    fn search(folder: &Path, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        let Ok(entries) = std::fs::read_dir(folder) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => search(&path, depth + 1),
                Ok(t) if t.is_file() => {
                    entry
                        .metadata()
                        .is_ok_and(|m| m.len() <= crate::files::MAX_FILE_SIZE)
                        && std::fs::read(&path)
                            .is_ok_and(|bytes| bytes.windows(7).any(|w| w == b".digest"))
                }
                _ => false,
            }
        })
    }
    search(&chart.join("templates"), 0)
        || std::fs::read_dir(chart.join("charts")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|sub| search(&sub.path().join("templates"), 0))
        })
}

/// Keep one name of each file: a file reached under two names (named and also found
/// in a folder through a link, or hard links) would otherwise be pinned twice, and
/// the second write refused as "changed on disk". The name that is not a symbolic
/// link is kept; if any name is excluded, the file is.
fn read_each_file_once(files: &mut Vec<Candidate>) {
    /// A file's identity, whether this name is a link, and the candidate.
    type Keyed = (Option<FileId>, bool, Candidate);
    let mut keyed: Vec<Keyed> = files
        .drain(..)
        .map(|candidate| {
            let is_link = std::fs::symlink_metadata(&candidate.path)
                .is_ok_and(|m| m.file_type().is_symlink());
            (file_identity(&candidate.path), is_link, candidate)
        })
        .collect();
    keyed.sort_by(|a, b| (a.0, a.1, &a.2.path).cmp(&(b.0, b.1, &b.2.path)));
    let mut kept: Vec<Candidate> = Vec::with_capacity(keyed.len());
    let mut last: Option<FileId> = None;
    for (key, _, candidate) in keyed {
        match (key, kept.last_mut()) {
            (Some(key), Some(previous)) if last == Some(key) => {
                previous.excluded |= candidate.excluded;
            }
            _ => {
                last = key;
                kept.push(candidate);
            }
        }
    }
    kept.sort();
    *files = kept;
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

fn walk(
    root: &Path,
    excludes: &Excludes,
    options: Walk,
    patterns: &Patterns,
    discovery: &mut Discovery,
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
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                discovery.errors.push(walk_error(root, &e));
                continue;
            }
        };
        // Symbolic links found while walking are not followed: a link could lead
        // outside the paths the user named. Name a link to pin through it.
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        let Some(kind) = kind_of(entry.path())
            .or_else(|| json_manifest(entry.path()))
            .or_else(|| {
                let matched = !patterns.is_empty() && !patterns.matching(entry.path()).is_empty();
                matched.then_some(FileKind::Patterns)
            })
        else {
            continue;
        };
        if let Some(error) = not_utf8(entry.path()) {
            discovery.errors.push(error);
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        discovery.files.push(Candidate {
            path: display_path(entry.path()),
            kind,
            excluded: excludes.matches(relative),
        });
    }
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
    let message = match error.io_error() {
        Some(io) => match io.raw_os_error() {
            Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
            None => io.kind().to_string(),
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
    let path = match std::env::current_dir() {
        Ok(cwd) if path.is_absolute() => path.strip_prefix(&cwd).unwrap_or(path),
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
mod tests {
    use super::*;

    fn kind(path: &str) -> Option<FileKind> {
        kind_of(Path::new(path))
    }

    #[test]
    fn workflows_are_recognised_by_their_keys() {
        let workflow = "name: x\non:\n  push:\njobs:\n  a:\n    container: node:22\n";
        assert_eq!(
            refine_kind(FileKind::Kubernetes, workflow),
            FileKind::Actions
        );
        let deployment = "apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n";
        assert_eq!(
            refine_kind(FileKind::Kubernetes, deployment),
            FileKind::Kubernetes
        );
        assert_eq!(refine_kind(FileKind::Compose, workflow), FileKind::Compose);
        let action =
            "name: x\ndescription: y\nruns:\n  using: docker\n  image: docker://alpine:3\n";
        assert_eq!(refine_kind(FileKind::Kubernetes, action), FileKind::Actions);
        let stack = "\u{feff}version: '3.8'\nservices:\n  web:\n    image: nginx\n";
        assert_eq!(refine_kind(FileKind::Kubernetes, stack), FileKind::Compose);
    }

    #[test]
    fn names_tell_the_kind() {
        assert_eq!(kind("a/Dockerfile"), Some(FileKind::Dockerfile));
        assert_eq!(kind("Containerfile.dev"), Some(FileKind::Dockerfile));
        assert_eq!(kind("api.Dockerfile"), Some(FileKind::Dockerfile));
        assert_eq!(kind("build.dockerfile"), Some(FileKind::Dockerfile));
        assert_eq!(kind("Dockerfile.prod"), Some(FileKind::Dockerfile));
        assert_eq!(kind("dockerfile"), None);
        assert_eq!(kind("compose.yaml"), Some(FileKind::Compose));
        assert_eq!(kind("docker-compose.override.yml"), Some(FileKind::Compose));
        assert_eq!(kind("x/.github/workflows/ci.yml"), Some(FileKind::Actions));
        assert_eq!(kind("x/action.yaml"), Some(FileKind::Actions));
        assert_eq!(kind("k8s/deploy.yaml"), Some(FileKind::Kubernetes));
        assert_eq!(kind("workflows/ci.yml"), Some(FileKind::Kubernetes));
        assert_eq!(kind("README.md"), None);
        assert_eq!(kind("chart/values.yaml"), Some(FileKind::HelmValues));
        assert_eq!(kind("values-prod.yml"), Some(FileKind::HelmValues));
        assert_eq!(kind("o/kustomization.yaml"), Some(FileKind::Kustomize));
        assert_eq!(kind("o/kustomization.yml"), Some(FileKind::Kustomize));
        assert_eq!(kind("o/Kustomization"), Some(FileKind::Kustomize));
        let pod = "apiVersion: v1\nkind: Pod\n";
        assert_eq!(refine_kind(FileKind::HelmValues, pod), FileKind::Kubernetes);
    }

    #[test]
    fn ci_systems_are_told_by_their_names() {
        assert_eq!(kind(".gitlab-ci.yml"), Some(FileKind::GitlabCi));
        assert_eq!(kind("ci/build.gitlab-ci.yml"), Some(FileKind::GitlabCi));
        assert_eq!(kind("bitbucket-pipelines.yml"), Some(FileKind::Bitbucket));
        assert_eq!(kind("a/.circleci/config.yml"), Some(FileKind::Circleci));
        assert_eq!(kind(".drone.yml"), Some(FileKind::Drone));
        assert_eq!(kind(".woodpecker.yaml"), Some(FileKind::Drone));
        assert_eq!(kind(".woodpecker/test.yml"), Some(FileKind::Drone));
        assert_eq!(kind("cloudbuild.yaml"), Some(FileKind::Cloudbuild));
        assert_eq!(kind("deploy/cloudbuild.json"), Some(FileKind::Cloudbuild));
        assert_eq!(kind("azure-pipelines.yml"), Some(FileKind::Azure));
        assert_eq!(kind(".azure-pipelines/ci.yml"), Some(FileKind::Azure));
        assert_eq!(kind(".devcontainer.json"), Some(FileKind::Devcontainer));
        assert_eq!(
            kind("x/.devcontainer/devcontainer.json"),
            Some(FileKind::Devcontainer)
        );
        assert_eq!(
            kind(".devcontainer/python/devcontainer.json"),
            Some(FileKind::Devcontainer)
        );
        assert_eq!(kind("devcontainer.json"), None);
        assert_eq!(kind("docker-bake.hcl"), Some(FileKind::Bake));
        assert_eq!(kind("docker-bake.override.json"), Some(FileKind::Bake));
        assert_eq!(kind("package.json"), None);
        assert_eq!(kind("main.hcl"), None);
    }

    #[test]
    fn content_wins_over_ci_names_and_tells_unnamed_ci_files() {
        let pod = "apiVersion: v1\nkind: Pod\nspec: {containers: []}\n";
        assert_eq!(refine_kind(FileKind::GitlabCi, pod), FileKind::Kubernetes);
        assert_eq!(refine_kind(FileKind::Azure, pod), FileKind::Kubernetes);
        let gitlab = "image: ruby:3\ntest:\n  script: [rake]\n";
        assert_eq!(refine_kind(FileKind::GitlabCi, gitlab), FileKind::GitlabCi);
        let bitbucket = "image: node:22\npipelines:\n  default: []\n";
        assert_eq!(
            refine_kind(FileKind::Kubernetes, bitbucket),
            FileKind::Bitbucket
        );
        let circleci = "version: 2.1\njobs: {}\nworkflows: {}\n";
        assert_eq!(
            refine_kind(FileKind::Kubernetes, circleci),
            FileKind::Circleci
        );
        let drone = "kind: pipeline\nsteps: []\nservices: []\n";
        assert_eq!(refine_kind(FileKind::Kubernetes, drone), FileKind::Drone);
    }

    #[test]
    fn json_named_on_the_command_line_is_not_a_dockerfile() {
        let manifest = "\u{feff} {\"apiVersion\": \"v1\", \"kind\": \"Pod\"}";
        assert_eq!(
            refine_kind(FileKind::Dockerfile, manifest),
            FileKind::Kubernetes
        );
        assert_eq!(
            refine_kind(FileKind::Dockerfile, "// c\n[1,]"),
            FileKind::Kubernetes
        );
        assert_eq!(
            refine_kind(FileKind::Dockerfile, "/* c */ {\"image\": \"x\",}"),
            FileKind::Devcontainer
        );
        assert_eq!(
            refine_kind(FileKind::Dockerfile, "{\"steps\": []}"),
            FileKind::Cloudbuild
        );
        assert_eq!(
            refine_kind(FileKind::Dockerfile, "FROM\n"),
            FileKind::Dockerfile
        );
    }

    #[test]
    fn excludes_match_folders_names_and_paths() {
        let ex = Excludes::new(&[
            "vendor".into(),
            "**/*.dev.Dockerfile".into(),
            "docs/*.yaml".into(),
        ])
        .unwrap();
        assert!(ex.matches(Path::new("vendor/x/Dockerfile")));
        assert!(ex.matches(Path::new("./vendor")));
        assert!(ex.matches(Path::new("a/b/app.dev.Dockerfile")));
        assert!(ex.matches(Path::new("docs/k.yaml")));
        assert!(!ex.matches(Path::new("src/Dockerfile")));
        assert!(Excludes::new(&["a[".into()]).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn paths_that_are_not_utf8_are_shown_escaped() {
        use std::os::unix::ffi::OsStrExt;
        let path = Path::new(std::ffi::OsStr::from_bytes(
            b"a\\b/Dockerfile.\xff\t\xc3\xa9",
        ));
        assert_eq!(escaped(path), "a\\\\b/Dockerfile.\\xff\\x09\u{e9}");
        assert_eq!(kind_of(path), Some(FileKind::Dockerfile));
        assert!(not_utf8(path).is_some());
        assert!(not_utf8(Path::new("é/Dockerfile")).is_none());
    }

    #[test]
    fn display_paths_lose_leading_dot() {
        assert_eq!(
            display_path(Path::new("./a/Dockerfile")),
            PathBuf::from("a/Dockerfile")
        );
        assert_eq!(
            display_path(Path::new("Dockerfile")),
            PathBuf::from("Dockerfile")
        );
        // On Unix a backslash is a character of a name, not a folder separator.
        #[cfg(unix)]
        assert_eq!(
            display_path(Path::new("./back\\slash/Dockerfile")),
            PathBuf::from("back\\slash/Dockerfile")
        );
    }
}
