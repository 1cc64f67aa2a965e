//! What kind of file a path is: by its name, and where the name says nothing or
//! misleads, by its content.

use std::path::Path;

use globset::GlobSetBuilder;

use super::Candidate;
use crate::extract::FileKind;

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
    let top = TopLevel::of(text);
    let manifest = top.has(API_VERSION) && top.has(KIND);
    // A `values*.yaml` that is a Kubernetes object is read as one.
    if (is_ci_kind(kind) || kind == FileKind::HelmValues) && manifest {
        return FileKind::Kubernetes;
    }
    if kind != FileKind::Kubernetes {
        return kind;
    }
    if !manifest {
        if top.has(PIPELINES) {
            return FileKind::Bitbucket;
        }
        let circleci = top.has(WORKFLOWS) || top.has(ORBS) || top.has(EXECUTORS);
        if top.has(VERSION) && top.has(JOBS) && circleci {
            return FileKind::Circleci;
        }
        if top.drone {
            return FileKind::Drone;
        }
    }
    // A Kubernetes manifest never has a top-level `services:`; compose files and
    // swarm stack files do.
    if top.has(SERVICES) && !top.has(API_VERSION) {
        return FileKind::Compose;
    }
    let workflow = top.has(JOBS) && top.has(ON);
    let action = top.has(RUNS) && (top.has(NAME) || top.has(DESCRIPTION));
    if workflow || action {
        FileKind::Actions
    } else {
        kind
    }
}

/// The top-level keys [`refine_kind`] asks about, by their index in this list.
const TOP_LEVEL_KEYS: [&str; 13] = [
    "apiVersion",
    "kind",
    "pipelines",
    "version",
    "jobs",
    "workflows",
    "orbs",
    "executors",
    "services",
    "on",
    "runs",
    "name",
    "description",
];
const API_VERSION: usize = 0;
const KIND: usize = 1;
const PIPELINES: usize = 2;
const VERSION: usize = 3;
const JOBS: usize = 4;
const WORKFLOWS: usize = 5;
const ORBS: usize = 6;
const EXECUTORS: usize = 7;
const SERVICES: usize = 8;
const ON: usize = 9;
const RUNS: usize = 10;
const NAME: usize = 11;
const DESCRIPTION: usize = 12;

/// Which of [`TOP_LEVEL_KEYS`] a text has (a line starting with `key:`, plain or
/// quoted, as [`has_top_level_key`] tells), and whether a line is `kind: pipeline`
/// (Drone): found in one pass over the lines, since every YAML file of a scan is
/// asked.
struct TopLevel {
    keys: u16,
    drone: bool,
}

impl TopLevel {
    fn of(text: &str) -> TopLevel {
        let mut top = TopLevel {
            keys: 0,
            drone: false,
        };
        for line in text.lines() {
            // Most lines of a YAML file are indented, items or comments.
            let Some(&first) = line.as_bytes().first() else {
                continue;
            };
            if matches!(first, b' ' | b'\t' | b'-' | b'#') {
                continue;
            }
            top.drone |= line.trim_end() == "kind: pipeline";
            let key = match first {
                b'"' | b'\'' => {
                    let quote = first as char;
                    let rest = &line[1..];
                    rest.find(quote)
                        .filter(|&end| rest[end + 1..].starts_with(':'))
                        .map(|end| &rest[..end])
                }
                _ => line.find(':').map(|end| &line[..end]),
            };
            if let Some(index) = key.and_then(|key| TOP_LEVEL_KEYS.iter().position(|k| *k == key)) {
                top.keys |= 1 << index;
            }
        }
        top
    }

    fn has(&self, key: usize) -> bool {
        self.keys & (1 << key) != 0
    }
}

/// Whether a line of `text` starts with `key:` (plain or quoted): a top-level key.
/// The rule [`TopLevel`] follows, one key at a time.
#[cfg(test)]
fn has_top_level_key(text: &str, key: &str) -> bool {
    let starts_with_key = |line: &str, quote: &str| {
        line.strip_prefix(quote)
            .and_then(|rest| rest.strip_prefix(key))
            .and_then(|rest| rest.strip_prefix(quote))
            .is_some_and(|rest| rest.starts_with(':'))
    };
    text.lines().any(|line| {
        ["", "\"", "'"]
            .iter()
            .any(|quote| starts_with_key(line, quote))
    })
}

pub(crate) fn is_ci_kind(kind: FileKind) -> bool {
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
pub(crate) fn json_kind(text: &str) -> FileKind {
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
pub(crate) fn ci_kind_of(path: &Path, lower: &str) -> Option<FileKind> {
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
pub(crate) fn json_manifest(path: &Path) -> Option<FileKind> {
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
pub(crate) fn follow_gitlab_includes(files: &mut [Candidate]) {
    let mut builder = GlobSetBuilder::new();
    let mut any = false;
    for candidate in files.iter() {
        let is_root = super::name_of(&candidate.path).eq_ignore_ascii_case(b".gitlab-ci.yml");
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
pub(crate) fn is_dockerfile_name(name: &str) -> bool {
    name == "Dockerfile"
        || name == "Containerfile"
        || name.starts_with("Dockerfile.")
        || name.starts_with("Containerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
        || name.ends_with(".Containerfile")
        || name.ends_with(".containerfile")
}

pub(crate) fn in_workflows_folder(path: &Path) -> bool {
    let mut folders = path.parent().into_iter().flat_map(Path::components).rev();
    let last = folders.next().map(|c| c.as_os_str().to_owned());
    let before = folders.next().map(|c| c.as_os_str().to_owned());
    last.as_deref() == Some("workflows".as_ref()) && before.as_deref() == Some(".github".as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_finds_the_keys_a_search_per_key_finds() {
        let texts = [
            "apiVersion: v1\nkind: Pod\n",
            "\"apiVersion\": v1\n'kind': Pod\n",
            "on:\n  push:\njobs:\n  a: {}\n",
            "on :\njobs\n\"on\"x\":\n'on:\n",
            "  apiVersion: v1\n- kind: x\n# name: y\n\tname: z\n",
            "services:\n  web:\n    image: a\nkind: pipeline\nname:x\n",
            "version: 2.1\njobs: {}\norbs:\nexecutors:\nworkflows:\n",
            "runs:\ndescription: d\npipelines:\n\"name\"\n:\n",
            "é: 1\nkind:\u{2028}x\n\"\n",
        ];
        for text in texts {
            let top = TopLevel::of(text);
            for (index, key) in TOP_LEVEL_KEYS.iter().enumerate() {
                assert_eq!(
                    top.has(index),
                    has_top_level_key(text, key),
                    "{key} in {text:?}"
                );
            }
            let drone = text.lines().any(|line| line.trim_end() == "kind: pipeline");
            assert_eq!(top.drone, drone, "{text:?}");
        }
    }
}
