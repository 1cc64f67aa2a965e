//! GitHub Actions: workflows (`.github/workflows/*.yml`) and action metadata
//! (`action.yml`).
//!
//! The sites are the ones where the runner pulls an image:
//!
//! - `jobs.<id>.container`: a string, or a mapping whose `image` is one;
//! - `jobs.<id>.services.<name>`: a string, or a mapping whose `image` is one;
//! - `jobs.<id>.steps[].uses` and, in a composite action, `runs.steps[].uses`, when
//!   the value starts with `docker://` (the prefix stays; the span is what follows);
//! - `runs.image` of a Docker container action, when it starts with `docker://`
//!   (`runs.image: Dockerfile` builds an image and is not a reference).
//!
//! A key written twice counts with its last value; what the earlier ones hold is
//! `duplicate-key` (GitHub refuses such a workflow, so this only keeps a gate honest).
//!
//! `${{ }}` expressions are skipped as `template-expression`. Matrix entries, `env`
//! values and `with:` inputs are never references, even when they look like one:
//! nothing says they are pulled.

use super::yaml::{self, Found, NodeId, Yaml};
use super::{ExtractError, Reference, Site};

const DOCKER_SCHEME: &str = "docker://";

/// The references of a workflow or an action's metadata file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        each_entry(&yaml, root, &mut found, |key, value, found| match key {
            "jobs" => each_entry(&yaml, value, found, |_, job, found| {
                job_references(text, &yaml, job, found);
            }),
            "runs" => each_entry(&yaml, value, found, |key, value, found| match key {
                "image" => add(
                    text,
                    &yaml,
                    value,
                    DOCKER_SCHEME,
                    Site::ActionsRunsImage,
                    found,
                ),
                "steps" => steps_references(text, &yaml, value, found),
                _ => {}
            }),
            _ => {}
        });
    }
    Ok(found.into_vec())
}

/// Call `visit` with every entry of the mapping at `id` that counts (the last of a
/// key written twice), then with the entries that a later one overrides, these in
/// `duplicate-key` mode.
fn each_entry(
    yaml: &Yaml,
    id: NodeId,
    found: &mut Found,
    mut visit: impl FnMut(&str, NodeId, &mut Found),
) {
    for (key, value) in yaml.entries(id) {
        visit(key, value, found);
    }
    for (key, value) in yaml.shadowed(id) {
        found.shadowed(|found| visit(key, value, found));
    }
}

fn job_references(text: &str, yaml: &Yaml, job: NodeId, found: &mut Found) {
    each_entry(yaml, job, found, |key, value, found| match key {
        "container" => image_or_mapping(text, yaml, value, Site::ActionsContainer, found),
        "services" => each_entry(yaml, value, found, |_, service, found| {
            image_or_mapping(text, yaml, service, Site::ActionsService, found);
        }),
        "steps" => steps_references(text, yaml, value, found),
        _ => {}
    });
}

/// A `container` or a service: the image as a string, or a mapping's `image`.
fn image_or_mapping(text: &str, yaml: &Yaml, node: NodeId, site: Site, found: &mut Found) {
    if yaml.is_mapping(node) {
        each_entry(yaml, node, found, |key, image, found| {
            if key == "image" {
                add(text, yaml, image, "", site, found);
            }
        });
    } else {
        add(text, yaml, node, "", site, found);
    }
}

fn steps_references(text: &str, yaml: &Yaml, steps: NodeId, found: &mut Found) {
    for &step in yaml.sequence(steps) {
        each_entry(yaml, step, found, |key, uses, found| {
            if key == "uses" {
                add(text, yaml, uses, DOCKER_SCHEME, Site::ActionsUses, found);
            }
        });
    }
}

fn add(text: &str, yaml: &Yaml, node: NodeId, prefix: &str, site: Site, found: &mut Found) {
    if let Some(scalar) = yaml.scalar(node)
        && let Some(reference) = yaml::scalar_reference(text, scalar, prefix, site)
    {
        found.add(reference);
    }
}
