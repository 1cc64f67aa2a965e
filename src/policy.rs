//! Registry policy that `pin --check` enforces: where images may come from, which tags
//! are not acceptable, and whether a reference must carry a tag and a digest.

use globset::{Glob, GlobSet, GlobSetBuilder};
use thiserror::Error;

use crate::reference::ImageRef;

/// A rule of the `[policy]` table that a reference breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's key: `allowed-registries`, `deny-tags` or `require-tag`.
    pub rule: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// A glob in the policy that does not compile.
#[derive(Debug, Error)]
#[error("{key}: invalid pattern {pattern:?}: {message}")]
pub struct PolicyError {
    /// The key the pattern belongs to.
    pub key: &'static str,
    /// The pattern.
    pub pattern: String,
    /// Why it is invalid.
    pub message: String,
}

/// The compiled policy.
#[derive(Debug, Clone)]
pub struct Policy {
    allowed: Option<(GlobSet, Vec<String>)>,
    denied_tags: Option<(GlobSet, Vec<String>)>,
    /// A digest-only reference is a violation: nobody can tell what it is.
    pub require_tag: bool,
    /// An unpinned reference makes `--check` fail (the default).
    pub require_digest: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            allowed: None,
            denied_tags: None,
            require_tag: false,
            require_digest: true,
        }
    }
}

impl Policy {
    /// Compile a policy. `allowed_registries` are globs over the canonical
    /// `registry/repository` (`docker.io/library/python`), where `*` also matches `/`;
    /// `deny_tags` are globs over the tag (an untagged reference has tag `latest`).
    pub fn new(
        allowed_registries: &[String],
        deny_tags: &[String],
        require_tag: bool,
        require_digest: bool,
    ) -> Result<Policy, PolicyError> {
        Ok(Policy {
            allowed: compile("allowed-registries", allowed_registries)?,
            denied_tags: compile("deny-tags", deny_tags)?,
            require_tag,
            require_digest,
        })
    }

    /// The first rule `image` breaks, if any.
    pub fn check(&self, image: &ImageRef) -> Option<Violation> {
        let name = format!("{}/{}", image.registry(), image.repository());
        if let Some((set, patterns)) = &self.allowed
            && !set.is_match(&name)
        {
            return Some(Violation {
                rule: "allowed-registries",
                message: format!(
                    "{name} is not in allowed-registries ({}): copy the image into an allowed registry and refer to that copy (pin --rewrite-registry does both)",
                    patterns.join(", ")
                ),
            });
        }
        if self.require_tag && image.tag().is_none() && image.digest().is_some() {
            return Some(Violation {
                rule: "require-tag",
                message: "a digest without a tag says nothing about what the image is: write name:tag@digest".to_string(),
            });
        }
        if let Some((set, patterns)) = &self.denied_tags {
            let tag = image.tag_or_latest();
            let tagged = image.tag().is_some() || image.digest().is_none();
            if tagged && set.is_match(tag) {
                return Some(Violation {
                    rule: "deny-tags",
                    message: format!(
                        "tag {tag:?} is denied by deny-tags ({}): use a specific version tag",
                        patterns.join(", ")
                    ),
                });
            }
        }
        None
    }
}

fn compile(
    key: &'static str,
    patterns: &[String],
) -> Result<Option<(GlobSet, Vec<String>)>, PolicyError> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|e| PolicyError {
            key,
            pattern: pattern.clone(),
            message: e.kind().to_string(),
        })?;
        builder.add(glob);
    }
    let set = builder.build().map_err(|e| PolicyError {
        key,
        pattern: patterns.join(", "),
        message: e.to_string(),
    })?;
    Ok(Some((set, patterns.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn allowed_registries_match_canonical_names() {
        let policy = Policy::new(
            &["harbor.corp.example/*".into(), "docker.io/library/*".into()],
            &[],
            false,
            true,
        )
        .unwrap();
        assert_eq!(
            policy.check(&image("harbor.corp.example/hub/library/python:3")),
            None
        );
        assert_eq!(policy.check(&image("python:3")), None);
        let v = policy.check(&image("ghcr.io/o/app:1")).unwrap();
        assert_eq!(v.rule, "allowed-registries");
        assert!(v.message.contains("ghcr.io/o/app"));
        assert_eq!(
            policy.check(&image("bitnami/redis:7")).unwrap().rule,
            "allowed-registries"
        );
    }

    #[test]
    fn deny_tags_and_require_tag() {
        let policy = Policy::new(&[], &["latest".into(), "*-rc*".into()], true, true).unwrap();
        assert_eq!(policy.check(&image("node")).unwrap().rule, "deny-tags");
        assert_eq!(
            policy.check(&image("node:latest")).unwrap().rule,
            "deny-tags"
        );
        assert_eq!(
            policy.check(&image("node:22-rc1")).unwrap().rule,
            "deny-tags"
        );
        assert_eq!(policy.check(&image("node:22")), None);
        assert_eq!(
            policy
                .check(&image(&format!("node@{DIGEST}")))
                .unwrap()
                .rule,
            "require-tag"
        );
        assert_eq!(policy.check(&image(&format!("node:22@{DIGEST}"))), None);
        assert!(Policy::new(&[], &["a[".into()], false, true).is_err());
    }
}
