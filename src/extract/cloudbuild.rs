//! Google Cloud Build (`cloudbuild.yaml`, `cloudbuild.yml`, `cloudbuild.json`).
//!
//! Sites: `steps[].name`, the image each build step runs in (`cloudbuild-step`).
//! `images:` and `artifacts.objects` list what the build pushes: outputs, not
//! references. Substitutions follow the CI rules: `gcr.io/$PROJECT_ID/app` and
//! `${_BUILDER}:1` are `templated`, `$_BUILDER` alone is `unresolved-variable`.
//!
//! A `.json` file is JSON, which is YAML: the same reader serves both.

use super::yaml::{self, Found};
use super::{ExtractError, Reference, Site};

/// The references of a Cloud Build configuration.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        let Some(steps) = yaml.get(root, "steps") else {
            continue;
        };
        for &step in yaml.sequence(steps) {
            if let Some(name) = yaml.get(step, "name") {
                yaml::ci_image(text, &yaml, name, "", Site::CloudbuildStep, &mut found);
            }
        }
    }
    Ok(found.into_vec())
}
