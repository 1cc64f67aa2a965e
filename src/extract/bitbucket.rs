//! Bitbucket Pipelines (`bitbucket-pipelines.yml`).
//!
//! Sites:
//!
//! - the top-level `image`, and the `image` of every `step`, wherever steps sit
//!   (`pipelines.default`, `branches`, `tags`, `bookmarks`, `pull-requests`,
//!   `custom`, inside `parallel` and `stage`, and step definitions under
//!   `definitions`): a string, or a mapping whose `name` is one (`bitbucket-image`);
//! - `definitions.services.<name>.image`, string or mapping (`bitbucket-service`).
//!   A service with `type: docker` and no `image` is Bitbucket's own Docker daemon;
//! - a step's `script` entry `pipe: docker://name:tag`, the image the pipe runs
//!   (`bitbucket-pipe`; the prefix stays, the span is what follows). A pipe named
//!   without `docker://` (`atlassian/aws-s3-deploy:0.2.1`) is a pipe in Bitbucket's
//!   catalogue, which Bitbucket maps to an image itself: it is not a reference.
//!
//! Variables (`$IMAGE`, `${TAG}`) follow the CI rules: a whole variable is
//! `unresolved-variable`, a variable mixed with text `templated`.

use super::yaml::{self, Found, NodeId, NodeKind, Visited, Yaml};
use super::{ExtractError, Reference, Site};

/// The references of a Bitbucket Pipelines file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        if let Some(image) = yaml.get(root, "image") {
            yaml::ci_image(text, &yaml, image, "name", Site::BitbucketImage, &mut found);
        }
        let definitions = yaml.get(root, "definitions");
        let services = definitions.and_then(|d| yaml.get(d, "services"));
        for (_, service) in services.map(|s| yaml.entries(s)).unwrap_or_default() {
            if let Some(image) = yaml.get(service, "image") {
                yaml::ci_image(
                    text,
                    &yaml,
                    image,
                    "name",
                    Site::BitbucketService,
                    &mut found,
                );
            }
        }
        let mut visited = Visited::default();
        for key in ["pipelines", "definitions"] {
            if let Some(section) = yaml.get(root, key) {
                steps(text, &yaml, section, &mut visited, &mut found, 0);
            }
        }
    }
    Ok(found.into_vec())
}

/// Every `step:` mapping below `id`; its `image` is a site.
fn steps(
    text: &str,
    yaml: &Yaml,
    id: NodeId,
    visited: &mut Visited,
    found: &mut Found,
    depth: usize,
) {
    let Some(id) = visited.enter(yaml, id) else {
        return;
    };
    if depth > 1024 {
        return;
    }
    match &yaml.nodes[id].kind {
        NodeKind::Mapping(_) => {
            for (key, value, _) in yaml.pairs(id) {
                if key == "step" {
                    if let Some(image) = yaml.get(value, "image") {
                        yaml::ci_image(text, yaml, image, "name", Site::BitbucketImage, found);
                    }
                    let script = yaml.get(value, "script");
                    for &command in script.map(|s| yaml.sequence(s)).unwrap_or_default() {
                        let pipe = yaml.get(command, "pipe").and_then(|p| yaml.scalar(p));
                        if let Some(reference) = pipe.and_then(|p| {
                            yaml::ci_reference(text, p, "docker://", Site::BitbucketPipe)
                        }) {
                            found.add(reference);
                        }
                    }
                }
                if key != "services" {
                    steps(text, yaml, value, visited, found, depth + 1);
                }
            }
        }
        NodeKind::Sequence(items) => {
            for &item in items {
                steps(text, yaml, item, visited, found, depth + 1);
            }
        }
        NodeKind::Scalar(_) | NodeKind::Alias(_) => {}
    }
}
