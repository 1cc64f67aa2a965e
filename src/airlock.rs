//! The airlock (`--rewrite-registry FROM=TO`): references of registry FROM are
//! rewritten to their copy in a private registry TO while being pinned, and only when
//! the copy serves the digest upstream serves (unless `--trust-private` says not to
//! ask upstream).

use pin_registry::{Digest, ImageRef, Lookup, Mirror, ResolveError, ResolveErrorKind};

use crate::outcome::Resolutions;

/// The `--rewrite-registry` rules of a run, and whether private copies are trusted
/// without asking upstream.
#[derive(Debug, Clone, Default)]
pub struct RegistryRewrite {
    /// Rules: references of registry `from` become their copy under `host`/`prefix`.
    pub rules: Vec<Mirror>,
    /// `--trust-private`: take the private copy's digest without asking upstream.
    pub trust_private: bool,
}

impl RegistryRewrite {
    /// Whether any rule is set.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The copy of `image` in the private registry its rule names:
    /// `python:3.12` with `docker.io=harbor.example/hub` is
    /// `harbor.example/hub/library/python:3.12` (official images keep `library/`, as
    /// registry proxy caches expect). `None` when no rule applies.
    pub fn copy_of(&self, image: &ImageRef) -> Option<ImageRef> {
        let rule = self
            .rules
            .iter()
            .find(|rule| rule.from == image.registry())?;
        let text = format!(
            "{}/{}:{}",
            rule.host,
            rule.repository_on(&image.repository()),
            image.tag_or_latest()
        );
        ImageRef::parse(&text).ok()
    }

    /// The lookups that pinning `image` takes: upstream's tag (unless the copy is
    /// trusted) and the copy's own tag, where a rule applies; upstream's alone where
    /// none does.
    pub fn lookups(&self, image: &ImageRef) -> Vec<Lookup> {
        let copy = self.copy_of(image).map(|copy| copy_lookup(&copy, image));
        let upstream = match copy {
            Some(_) if self.trust_private => None,
            _ => Some(Lookup::refreshing(image)),
        };
        upstream.into_iter().chain(copy).collect()
    }

    /// The digest to pin `image`'s private copy `copy` to: upstream and the private
    /// registry must serve the same digest for the tag, unless the copy is trusted.
    #[expect(
        clippy::result_large_err,
        reason = "called once per rewritten reference, never in a loop that copies errors"
    )]
    pub fn digest(
        &self,
        image: &ImageRef,
        copy: &ImageRef,
        resolutions: &Resolutions,
    ) -> Result<Digest, ResolveError> {
        let copy_lookup = copy_lookup(copy, image);
        let answer = |lookup: &Lookup| match resolutions.get(lookup) {
            Some(result) => result.clone(),
            None => Err(ResolveError {
                lookup: lookup.clone(),
                host: lookup.registry.clone(),
                kind: ResolveErrorKind::Protocol("not resolved".to_string()),
            }),
        };
        let private = answer(&copy_lookup)?;
        if self.trust_private {
            return Ok(private);
        }
        let upstream = answer(&Lookup::refreshing(image))?;
        if upstream == private {
            Ok(private)
        } else {
            Err(ResolveError {
                host: copy_lookup.registry.clone(),
                lookup: copy_lookup,
                kind: ResolveErrorKind::CopyDiffers { upstream, private },
            })
        }
    }
}

/// The lookup of a private copy: its own tag, knowing what the original is pinned to.
fn copy_lookup(copy: &ImageRef, original: &ImageRef) -> Lookup {
    Lookup {
        pinned: original.digest().map(str::to_string),
        ..Lookup::of(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(rule: &str, trust_private: bool) -> RegistryRewrite {
        RegistryRewrite {
            rules: vec![rule.parse().unwrap()],
            trust_private,
        }
    }

    fn image(text: &str) -> ImageRef {
        ImageRef::parse(text).unwrap()
    }

    #[test]
    fn official_images_keep_library_under_the_prefix() {
        let airlock = rewrite("docker.io=harbor.example/hub", false);
        let copy = airlock.copy_of(&image("python:3.12")).unwrap();
        assert_eq!(copy.to_string(), "harbor.example/hub/library/python:3.12");
        assert_eq!(airlock.copy_of(&image("ghcr.io/acme/app:1")), None);
    }

    #[test]
    fn a_trusted_copy_needs_no_upstream_lookup() {
        let python = image("python:3.12");
        assert_eq!(
            rewrite("docker.io=h.example", false).lookups(&python).len(),
            2
        );
        let trusted = rewrite("docker.io=h.example", true).lookups(&python);
        assert_eq!(trusted.len(), 1);
        assert_eq!(trusted[0].registry, "h.example");
    }
}
