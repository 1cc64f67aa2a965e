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
        for (key, value) in yaml.entries(root) {
            match key {
                "jobs" => {
                    for (_, job) in yaml.entries(value) {
                        job_references(text, &yaml, job, &mut found);
                    }
                }
                "runs" => {
                    for (key, value) in yaml.entries(value) {
                        match key {
                            "image" => add(
                                text,
                                &yaml,
                                value,
                                DOCKER_SCHEME,
                                Site::ActionsRunsImage,
                                &mut found,
                            ),
                            "steps" => steps_references(text, &yaml, value, &mut found),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(found.into_vec())
}

fn job_references(text: &str, yaml: &Yaml, job: NodeId, found: &mut Found) {
    for (key, value) in yaml.entries(job) {
        match key {
            "container" => image_or_mapping(text, yaml, value, Site::ActionsContainer, found),
            "services" => {
                for (_, service) in yaml.entries(value) {
                    image_or_mapping(text, yaml, service, Site::ActionsService, found);
                }
            }
            "steps" => steps_references(text, yaml, value, found),
            _ => {}
        }
    }
}

/// A `container` or a service: the image as a string, or a mapping's `image`.
fn image_or_mapping(text: &str, yaml: &Yaml, node: NodeId, site: Site, found: &mut Found) {
    if yaml.is_mapping(node) {
        if let Some(image) = yaml.get(node, "image") {
            add(text, yaml, image, "", site, found);
        }
    } else {
        add(text, yaml, node, "", site, found);
    }
}

fn steps_references(text: &str, yaml: &Yaml, steps: NodeId, found: &mut Found) {
    for &step in yaml.sequence(steps) {
        if let Some(uses) = yaml.get(step, "uses") {
            add(text, yaml, uses, DOCKER_SCHEME, Site::ActionsUses, found);
        }
    }
}

fn add(text: &str, yaml: &Yaml, node: NodeId, prefix: &str, site: Site, found: &mut Found) {
    if let Some(scalar) = yaml.scalar(node)
        && let Some(reference) = yaml::scalar_reference(text, scalar, prefix, site)
    {
        found.add(reference);
    }
}
