//! GitLab CI (`.gitlab-ci.yml`, `*.gitlab-ci.yml`, and the files it includes
//! locally).
//!
//! Sites, per document:
//!
//! - `image` at the top level, in `default:` and in every job (hidden jobs such as
//!   `.template:` included, so an image that jobs `extends` is found where it is
//!   written): a string, or a mapping whose `name` is one (`gitlab-image`);
//! - `services` in the same places: each entry a string or a mapping whose `name` is
//!   one (`gitlab-service`); a service's `alias` and `entrypoint` are not images.
//!
//! A job is any top-level mapping that is not one of GitLab's global keywords.
//! Anchored images (`.base: &base`, `<<: *base`) have one span and are reported once;
//! `!reference [.tpl, image]` is a sequence, not an image, and resolves to an image
//! found where it is written. Variables follow [`super::yaml::ci_target`]:
//! `$CI_REGISTRY_IMAGE/app:1` is `templated`, `$IMAGE` is `unresolved-variable`, and
//! `$[[ inputs.image ]]` is a `template-expression`.

use super::yaml::{self, Found, NodeId, Yaml};
use super::{ExtractError, Reference, Site};

/// Top-level keys that are not jobs.
const GLOBAL_KEYS: [&str; 9] = [
    "stages",
    "variables",
    "include",
    "workflow",
    "spec",
    "cache",
    "before_script",
    "after_script",
    "types",
];

/// The references of a GitLab CI file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        // The top level holds the old global `image` and `services` itself.
        job_references(text, &yaml, root, &mut found);
        for (key, value) in yaml.entries(root) {
            if GLOBAL_KEYS.contains(&key) || !yaml.is_mapping(value) {
                continue;
            }
            job_references(text, &yaml, value, &mut found);
        }
    }
    Ok(found.into_vec())
}

fn job_references(text: &str, yaml: &Yaml, job: NodeId, found: &mut Found) {
    if let Some(image) = yaml.get(job, "image") {
        yaml::ci_image(text, yaml, image, "name", Site::GitlabImage, found);
    }
    if let Some(services) = yaml.get(job, "services") {
        for &service in yaml.sequence(services) {
            yaml::ci_image(text, yaml, service, "name", Site::GitlabService, found);
        }
    }
}

/// The local files a GitLab CI file includes, as written: `include: path`,
/// `include: [path, …]` and `local: path` entries (which may be globs such as
/// `ci/*.yml`). Remote, project, template and component includes are not files of
/// this repository.
pub fn local_includes(text: &str) -> Vec<String> {
    let Ok(yaml) = yaml::parse(text) else {
        return Vec::new();
    };
    let mut paths = Vec::new();
    for &root in &yaml.documents {
        let Some(include) = yaml.get(root, "include") else {
            continue;
        };
        let items: Vec<NodeId> = match yaml.sequence(include) {
            [] => vec![include],
            items => items.to_vec(),
        };
        for item in items {
            let path = match yaml.is_mapping(item) {
                true => yaml.get(item, "local").and_then(|local| yaml.scalar(local)),
                false => yaml.scalar(item),
            };
            if let Some(path) = path {
                let value = path.value.trim();
                if !value.is_empty() && !value.contains("://") && !value.contains('$') {
                    paths.push(value.trim_start_matches('/').to_string());
                }
            }
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_are_local_paths_only() {
        let text = "include:\n  - local: /ci/build.yml\n  - remote: https://x/y.yml\n  - project: a/b\n    file: c.yml\n  - 'ci/*.yml'\n  - https://x/z.yml\n";
        assert_eq!(local_includes(text), ["ci/build.yml", "ci/*.yml"]);
        assert_eq!(local_includes("include: ci/one.yml\n"), ["ci/one.yml"]);
        assert_eq!(
            local_includes("include:\n  local: ci/two.yml\n"),
            ["ci/two.yml"]
        );
        assert!(local_includes("include: [").is_empty());
    }
}
