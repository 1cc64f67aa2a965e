//! CircleCI (`.circleci/config.yml`).
//!
//! Sites: `executors.<name>.docker[].image` and `jobs.<name>.docker[].image`
//! (`circleci-image`); the first image of a `docker` list is the primary container,
//! the others are services, and all are pulled alike.
//!
//! Not images: orbs (`orbs: {node: circleci/node@5.2}` names an orb's version in
//! CircleCI's registry), `machine.image` (a virtual machine image such as
//! `ubuntu-2204:2024.01.1`) and `macos.xcode`. Pipeline parameters
//! (`cimg/node:<< parameters.version >>`) are template expressions.

use super::yaml::{self, Found, Yaml};
use super::{ExtractError, Reference, Site};

/// The references of a CircleCI configuration.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        for section in ["executors", "jobs"] {
            let Some(section) = yaml.get(root, section) else {
                continue;
            };
            for (_, executor) in yaml.entries(section) {
                docker_images(text, &yaml, executor, &mut found);
            }
        }
    }
    Ok(found.into_vec())
}

fn docker_images(text: &str, yaml: &Yaml, executor: usize, found: &mut Found) {
    let Some(docker) = yaml.get(executor, "docker") else {
        return;
    };
    for &container in yaml.sequence(docker) {
        if let Some(image) = yaml.get(container, "image") {
            yaml::ci_image(text, yaml, image, "", Site::CircleciImage, found);
        }
    }
}
