//! Dev containers (`.devcontainer/devcontainer.json`, `.devcontainer.json`,
//! `.devcontainer/<name>/devcontainer.json`).
//!
//! The file is JSON with comments and trailing commas, read by [`super::json`]:
//! nothing but the reference's text changes, comments included. The site is the
//! top-level `image` (`devcontainer-image`). A configuration that builds
//! (`build.dockerfile`) names a Dockerfile, which is read as one where it is found;
//! one that uses `dockerComposeFile` names compose files, read likewise. Feature
//! identifiers (`ghcr.io/devcontainers/features/node:1`) are OCI artifacts that the
//! dev container CLI resolves and locks itself (`devcontainer-lock.json`): they are
//! not images and are left alone. `${localEnv:IMAGE}` follows the CI rules.

use super::yaml::{self, Found};
use super::{ExtractError, Reference, Site, json};

/// The references of a dev container configuration.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let tree = json::parse(text)?;
    let mut found = Found::default();
    let root = tree.documents[0];
    if let Some(image) = tree.get(root, "image") {
        yaml::ci_image(text, &tree, image, "", Site::DevcontainerImage, &mut found);
    }
    Ok(found.into_vec())
}
