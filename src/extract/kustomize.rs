//! Kustomize: `kustomization.yaml`, `kustomization.yml`, `Kustomization`.
//!
//! Each entry of the top-level `images:` list, `{name, newName?, newTag?, digest?}`,
//! names the image `newName|name[:newTag][@digest]` (`kustomize-image`). Pinning
//! writes only its digest: over an existing `digest:` value, or in a `digest:` line
//! inserted right after `newTag:` (as in Helm values: the tag key's indentation,
//! quote style and line ending). Kustomize uses `digest` over `newTag` when both are
//! set; `newTag` is kept, so that the tag stays readable and `--update` can follow it.
//!
//! An entry with `digest` and no `newTag` is a digest-only pin (`already-pinned`); one
//! with neither only renames the image and keeps the manifests' tag, which is not in
//! this file: `empty-tag`.

use super::helm_values::pieces_reference;
use super::yaml::{self, Found};
use super::{ExtractError, Reference, Site, SkipReason};

/// The references of a kustomization.
pub fn extract(text: &str) -> Result<Vec<Reference>, ExtractError> {
    let yaml = yaml::parse(text)?;
    let mut found = Found::default();
    for &root in &yaml.documents {
        let Some(images) = yaml.get(root, "images") else {
            continue;
        };
        for &entry in yaml.sequence(images) {
            let name = yaml
                .get(entry, "newName")
                .or_else(|| yaml.get(entry, "name"))
                .and_then(|id| yaml.scalar(id))
                .filter(|scalar| !scalar.is_null() && !scalar.value.is_empty());
            let Some(name) = name else {
                continue;
            };
            let span = name.text.unwrap_or(name.token);
            let reference = match yaml.get(entry, "newTag").and_then(|id| yaml.scalar(id)) {
                Some(tag) => pieces_reference(
                    text,
                    &yaml,
                    entry,
                    span,
                    &name.value,
                    tag,
                    "newTag",
                    Site::KustomizeImage,
                ),
                None => match yaml.get(entry, "digest").and_then(|id| yaml.scalar(id)) {
                    Some(digest) if !digest.is_null() && !digest.value.is_empty() => {
                        let mut reference =
                            Reference::skip(span, Site::KustomizeImage, SkipReason::EmptyTag);
                        reference.target =
                            super::classify(&format!("{}@{}", name.value, digest.value));
                        reference.pieces = Some(Box::new(super::Pieces {
                            text: format!("{}@{}", name.value, digest.value),
                            digest: super::DigestSlot::value(digest.text.unwrap_or(digest.token)),
                        }));
                        reference
                    }
                    _ => Reference::skip(span, Site::KustomizeImage, SkipReason::EmptyTag),
                },
            };
            found.add(reference);
        }
    }
    Ok(found.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Target;

    #[test]
    fn entries_name_new_name_tag_and_digest() {
        let text = "images:\n- name: nginx\n  newName: reg.io/nginx\n  newTag: \"1.25\"\n- name: redis\n  newTag: 7\n  digest: sha256:0000000000000000000000000000000000000000000000000000000000000000\n- name: only-renamed\n  newName: x\n";
        let references = extract(text).unwrap();
        let texts: Vec<String> = references.iter().map(|r| r.text(text)).collect();
        assert_eq!(texts[0], "reg.io/nginx:1.25");
        assert!(texts[1].starts_with("redis:7@sha256:"));
        assert_eq!(references[2].target, Target::Skip(SkipReason::EmptyTag));
        let slot = &references[0].pieces.as_ref().unwrap().digest;
        assert_eq!(slot.before, "  digest: \"");
        assert_eq!(slot.span.start, text.find("- name: redis").unwrap());
    }
}
