//! Drone (`.drone.yml`) and Woodpecker (`.woodpecker.yml`, `.woodpecker/*.yml`).
//!
//! Sites, in every document of a multi-document file (Drone keeps each pipeline in
//! its own `---` document):
//!
//! - `steps` (Drone, Woodpecker), `pipeline` (Drone 0.8, old Woodpecker) and
//!   `clone` (Woodpecker's clone step), as a list of steps or a mapping of named
//!   steps: each step's `image` (`drone-image`);
//! - `services`, as a list or a mapping: each service's `image` (`drone-service`).
//!
//! Documents of other kinds (`kind: secret`, `kind: signature`) have none of these
//! keys. Plugin `settings` are never images. Variables (`${DRONE_TAG}`,
//! `${CI_COMMIT_TAG}`) follow the CI rules.

use super::yaml::{self, Found, NodeId, Yaml};
use super::{ExtractError, Reference, Site};

/// The references of a Drone or Woodpecker pipeline file.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        for (key, site) in [
            ("steps", Site::DroneImage),
            ("pipeline", Site::DroneImage),
            ("clone", Site::DroneImage),
            ("services", Site::DroneService),
        ] {
            if let Some(section) = yaml.get(root, key) {
                for step in list_or_mapping(&yaml, section) {
                    if let Some(image) = yaml.get(step, "image") {
                        yaml::ci_image(text, &yaml, image, "", site, &mut found);
                    }
                }
            }
        }
    }
    Ok(found.into_vec())
}

/// The items of a list, or the values of a mapping.
fn list_or_mapping(yaml: &Yaml, id: NodeId) -> Vec<NodeId> {
    match yaml.is_mapping(id) {
        true => yaml.entries(id).into_iter().map(|(_, v)| v).collect(),
        false => yaml.sequence(id).to_vec(),
    }
}
