//! Publisher trust rules (`[[trust]]` in `pin.toml`): which keys or keyless identities
//! must have signed the digests of which images, and what an update may not change.
//!
//! Rules are tried in order; the first whose `images` globs match the canonical name
//! (`ghcr.io/acme/app`) wins. A name no rule matches is under `require = "none"` with no
//! signer: its signatures are not fetched at all.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use globset::{Glob, GlobSet, GlobSetBuilder};
use pin_sigstore::{Identity, PublicKey, TrustedRoot};

/// `require`: whether a digest needs an accepted signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Require {
    /// A digest without an accepted signature is refused.
    Signed,
    /// Signatures are not required (the default).
    #[default]
    None,
}

/// `continuity`: what an update must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Continuity {
    /// Nothing beyond the signature rules.
    #[default]
    None,
    /// The image's `org.opencontainers.image.source` must stay the same.
    Source,
}

/// A key of a rule: the path as written in `pin.toml` (shown to reviewers) and the key.
#[derive(Debug, Clone)]
pub struct TrustKey {
    /// The path as written (`keys/acme-release.pub`).
    pub name: String,
    /// The key.
    pub key: PublicKey,
}

/// One `[[trust]]` rule, compiled.
#[derive(Debug, Clone)]
pub struct TrustRule {
    /// The globs as written, for messages.
    pub images: Vec<String>,
    set: GlobSet,
    /// Accepted keys.
    pub keys: Vec<TrustKey>,
    /// Accepted keyless identities.
    pub identities: Vec<Identity>,
    /// `require`.
    pub require: Require,
    /// `continuity`.
    pub continuity: Continuity,
    /// The line of its `[[trust]]` header.
    pub line: Option<usize>,
}

impl TrustRule {
    /// A rule over `images` (globs where `*` also matches `/`).
    pub fn new(images: &[String]) -> Result<TrustRule, String> {
        if images.is_empty() {
            return Err("a [[trust]] rule needs at least one glob in `images`".to_string());
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in images {
            let glob = Glob::new(pattern)
                .map_err(|e| format!("invalid pattern {pattern:?}: {}", e.kind()))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| e.to_string())?;
        Ok(TrustRule {
            images: images.to_vec(),
            set,
            keys: Vec::new(),
            identities: Vec::new(),
            require: Require::None,
            continuity: Continuity::None,
            line: None,
        })
    }

    /// Whether a reference under this rule has its signatures read: it requires them,
    /// or names signers (so that a lost signature and the signer can be shown).
    pub fn reads_signatures(&self) -> bool {
        self.require == Require::Signed || !self.keys.is_empty() || !self.identities.is_empty()
    }

    /// The rule's globs as shown in messages (`ghcr.io/acme/*`).
    pub fn shown(&self) -> String {
        self.images.join(", ")
    }
}

/// Every rule and the trusted root keyless signatures are proved with.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// The rules, in order.
    pub rules: Vec<TrustRule>,
    /// The `trusted-root` file and its root; `None`: the shipped public-good snapshot.
    pub trusted_root: Option<(PathBuf, Arc<TrustedRoot>)>,
}

impl Trust {
    /// The Sigstore trusted root keyless signatures (and logged key signatures) are
    /// proved with.
    pub fn root(&self) -> &TrustedRoot {
        static PUBLIC_GOOD: OnceLock<TrustedRoot> = OnceLock::new();
        match &self.trusted_root {
            Some((_, root)) => root,
            None => PUBLIC_GOOD.get_or_init(TrustedRoot::public_good),
        }
    }

    /// The rule for the canonical `registry/repository` name, if one matches.
    pub fn rule_for(&self, name: &str) -> Option<&TrustRule> {
        self.rules.iter().find(|rule| rule.set.is_match(name))
    }

    /// The index of the rule for the canonical name, if one matches.
    pub fn rule_index(&self, name: &str) -> Option<usize> {
        self.rules.iter().position(|rule| rule.set.is_match(name))
    }

    /// Whether there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_rule_wins_and_star_crosses_slashes() {
        let mut acme = TrustRule::new(&["ghcr.io/acme/*".to_string()]).unwrap();
        acme.require = Require::Signed;
        let all = TrustRule::new(&["*".to_string()]).unwrap();
        let trust = Trust {
            rules: vec![acme, all],
            trusted_root: None,
        };
        let rule = trust.rule_for("ghcr.io/acme/team/app").unwrap();
        assert_eq!(rule.require, Require::Signed);
        assert_eq!(
            trust.rule_for("docker.io/library/python").unwrap().require,
            Require::None
        );
        assert!(TrustRule::new(&["a[".to_string()]).is_err());
        assert!(TrustRule::new(&[]).is_err());
    }
}
