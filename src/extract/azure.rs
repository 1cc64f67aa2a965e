//! Azure Pipelines (`azure-pipelines.yml`, `azure-pipelines*.yml`,
//! `.azure-pipelines/*.yml`).
//!
//! Sites:
//!
//! - `resources.containers[].image` (`azure-resource`);
//! - `container:` of the pipeline, of a job or of a deployment job, wherever jobs
//!   sit (`jobs:`, `stages[].jobs`, templates): a string, or a mapping whose `image`
//!   is one (`azure-container`);
//! - `services:` of a job: each value a string (`azure-service`).
//!
//! A `container:` or service string that is the `container:` alias of one of the
//! file's `resources.containers` names that resource, not an image: the image is
//! pinned once, at the resource. Step `target:` names a container by alias and is
//! never an image. `${{ parameters.image }}` and `$[ variables.image ]` are template
//! expressions; `$(image)` is a macro variable (`unresolved-variable`, or
//! `templated` mixed with text).

use std::collections::HashSet;

use super::yaml::{self, Found, NodeId, NodeKind, Visited, Yaml};
use super::{ExtractError, Reference, Site};

/// Keys below which there is never a job's `container` or `services`.
const NOT_JOBS: [&str; 6] = [
    "resources",
    "steps",
    "variables",
    "parameters",
    "inputs",
    "target",
];

/// The references of an Azure Pipelines file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        let containers = yaml
            .get(root, "resources")
            .and_then(|resources| yaml.get(resources, "containers"));
        let mut aliases = HashSet::new();
        for &container in containers.map(|c| yaml.sequence(c)).unwrap_or_default() {
            if let Some(alias) = yaml
                .get(container, "container")
                .and_then(|a| yaml.scalar(a))
            {
                aliases.insert(alias.value.clone());
            }
            if let Some(image) = yaml.get(container, "image") {
                yaml::ci_image(text, &yaml, image, "", Site::AzureResource, &mut found);
            }
        }
        let mut walk = Walk {
            text,
            yaml: &yaml,
            aliases: &aliases,
            visited: Visited::default(),
            found: &mut found,
        };
        walk.node(root, 0);
    }
    Ok(found.into_vec())
}

struct Walk<'a> {
    text: &'a str,
    yaml: &'a Yaml,
    aliases: &'a HashSet<String>,
    visited: Visited,
    found: &'a mut Found,
}

impl Walk<'_> {
    fn node(&mut self, id: NodeId, depth: usize) {
        let Some(id) = self.visited.enter(self.yaml, id) else {
            return;
        };
        if depth > 1024 {
            return;
        }
        match &self.yaml.nodes[id].kind {
            NodeKind::Mapping(_) => {
                for (key, value, _) in self.yaml.pairs(id) {
                    match key {
                        "container" => self.image(value, "image", Site::AzureContainer),
                        "services" => {
                            for (_, service) in self.yaml.entries(value) {
                                self.image(service, "image", Site::AzureService);
                            }
                        }
                        _ if NOT_JOBS.contains(&key) => {}
                        _ => self.node(value, depth + 1),
                    }
                }
            }
            NodeKind::Sequence(items) => {
                for &item in items {
                    self.node(item, depth + 1);
                }
            }
            NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
        }
    }

    /// An image, unless it is the alias of a container resource.
    fn image(&mut self, id: NodeId, key: &str, site: Site) {
        let is_alias = self
            .yaml
            .scalar(id)
            .is_some_and(|s| self.aliases.contains(&s.value));
        if !is_alias {
            yaml::ci_image(self.text, self.yaml, id, key, site, self.found);
        }
    }
}
