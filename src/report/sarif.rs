//! `--format sarif`: the run as a SARIF 2.1.0 log, for GitHub code scanning and other
//! SARIF viewers.
//!
//! One result per reference that needs attention: not pinned, pinned to a digest its
//! tag no longer points to (or whose tag is gone), breaking a policy rule, or refused by
//! its publisher trust rule (`trust/unsigned`, `trust/rollback`, …). Each
//! reason is a rule with its own id and help text, so that a viewer can group and
//! filter them. Locations are the file's path as a relative URI (percent-encoded, so
//! that a name with spaces, quotes or non-ASCII bytes is still one valid URI), the
//! 1-based line, and the column in characters (`columnKind: unicodeCodePoints`; SARIF's
//! default would be UTF-16 code units). Files that could not be read are tool
//! notifications, not results: they are not findings about an image.

use serde_json::{Value, json};

use crate::outcome::{FileOutcome, Found, Outcome, Status};

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

/// The schema the log names in `$schema`.
pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Why a reference is a result. Each is a SARIF rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The reference carries no digest.
    Unpinned,
    /// Its digest is not the one its tag points to now.
    StaleDigest,
    /// Its tag no longer exists in the registry.
    TagNotFound,
    /// Its registry or repository is not in `allowed-registries`.
    AllowedRegistries,
    /// Its tag matches `deny-tags`.
    DenyTags,
    /// It has a digest and no tag (`require-tag`).
    RequireTag,
    /// Its digest carries no valid signature and its trust rule requires one.
    Unsigned,
    /// Its digest is signed, but by no signer its trust rule accepts.
    UntrustedSigner,
    /// Its tag moved from a signed digest to an unsigned one.
    SignatureLost,
    /// Its tag moved to an image built before the pinned one.
    Rollback,
    /// Its tag moved to an image from another source repository (`continuity`).
    SourceChanged,
    /// Its tag moved to a digest another accepted identity signed.
    SignerChanged,
    /// Its pinned digest is gone from the registry (`--check --verify`).
    Missing,
}

/// Every rule, in the order of the log's `rules` array (`ruleIndex` points into it).
pub const RULES: [Rule; 13] = [
    Rule::Unpinned,
    Rule::StaleDigest,
    Rule::TagNotFound,
    Rule::AllowedRegistries,
    Rule::DenyTags,
    Rule::RequireTag,
    Rule::Unsigned,
    Rule::UntrustedSigner,
    Rule::SignatureLost,
    Rule::Rollback,
    Rule::SourceChanged,
    Rule::SignerChanged,
    Rule::Missing,
];

impl Rule {
    /// The rule id results carry.
    pub fn id(self) -> &'static str {
        match self {
            Rule::Unpinned => "unpinned",
            Rule::StaleDigest => "stale-digest",
            Rule::TagNotFound => "tag-not-found",
            Rule::AllowedRegistries => "policy/allowed-registries",
            Rule::DenyTags => "policy/deny-tags",
            Rule::RequireTag => "policy/require-tag",
            Rule::Unsigned => "trust/unsigned",
            Rule::UntrustedSigner => "trust/untrusted-signer",
            Rule::SignatureLost => "trust/signature-lost",
            Rule::Rollback => "trust/rollback",
            Rule::SourceChanged => "trust/source-changed",
            Rule::SignerChanged => "trust/signer-changed",
            Rule::Missing => "trust/missing",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Rule::Unpinned => "UnpinnedImage",
            Rule::StaleDigest => "StaleDigest",
            Rule::TagNotFound => "TagNotFound",
            Rule::AllowedRegistries => "RegistryNotAllowed",
            Rule::DenyTags => "DeniedTag",
            Rule::RequireTag => "DigestWithoutTag",
            Rule::Unsigned => "UnsignedImage",
            Rule::UntrustedSigner => "UntrustedSigner",
            Rule::SignatureLost => "SignatureLost",
            Rule::Rollback => "Rollback",
            Rule::SourceChanged => "SourceChanged",
            Rule::SignerChanged => "SignerChanged",
            Rule::Missing => "PinnedDigestMissing",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Rule::Unpinned => "Container image not pinned to a digest",
            Rule::StaleDigest => "Pinned digest is stale: the tag has moved",
            Rule::TagNotFound => "Pinned tag no longer exists",
            Rule::AllowedRegistries => "Image from a registry the policy does not allow",
            Rule::DenyTags => "Image tag denied by the policy",
            Rule::RequireTag => "Image pinned by digest alone, without a tag",
            Rule::Unsigned => "Image not signed as its trust rule requires",
            Rule::UntrustedSigner => "Image signed by no signer its trust rule accepts",
            Rule::SignatureLost => "Tag moved from a signed image to an unsigned one",
            Rule::Rollback => "Tag moved to an older build",
            Rule::SourceChanged => "Tag moved to an image from another source repository",
            Rule::SignerChanged => "Tag moved to an image signed by another identity",
            Rule::Missing => "Pinned digest no longer in its registry",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Rule::Unpinned => {
                "A tag is a movable pointer: whoever controls the repository can change what \
                 it pulls. Pin the reference to the digest the tag points to now with \
                 `pin --write`, which keeps the tag visible (`python:3.12@sha256:…`)."
            }
            Rule::StaleDigest => {
                "Upstream has republished the tag since the digest was pinned, usually with \
                 fixes. Review the change and move the pin with `pin --update --write`."
            }
            Rule::TagNotFound => {
                "The registry no longer has the pinned tag, so it can no longer be followed. \
                 Pick a tag that exists and pin it with `pin --write`."
            }
            Rule::AllowedRegistries => {
                "The policy in pin.toml (`[policy] allowed-registries`) allows images only \
                 from the registries it lists. Use a copy in an allowed registry, e.g. with \
                 `pin --write --rewrite-registry FROM=TO`."
            }
            Rule::DenyTags => {
                "The policy in pin.toml (`[policy] deny-tags`) denies this tag, e.g. \
                 `latest`. Name a tag that says which release the image is."
            }
            Rule::RequireTag => {
                "The policy in pin.toml (`[policy] require-tag`) requires a tag beside the \
                 digest, so that readers know what the image is and `pin --update` can \
                 follow it. Write the tag before the digest: `name:tag@sha256:…`."
            }
            Rule::Unsigned => {
                "A `[[trust]]` rule in pin.toml requires this image to be signed by one of \
                 its keys or keyless identities, and the digest carries no valid signature \
                 (or none at all). It was not written. Ask the publisher to sign it, or, for \
                 a private copy, approve it by signing it with the organisation's key."
            }
            Rule::UntrustedSigner => {
                "The digest is signed, but by no key or identity the image's `[[trust]]` \
                 rule accepts: someone other than the publisher may have pushed it. It was \
                 not written. Find out who signed it before trusting it."
            }
            Rule::SignatureLost => {
                "The pinned digest was signed by an accepted signer; the one the tag points \
                 to now is not signed at all. A tag repointed by someone without the \
                 release key looks like this. The pin was kept."
            }
            Rule::Rollback => {
                "The tag now points to an image built before the pinned one (the config's \
                 `created`, or the transparency log's time). Moving back would undo fixes; \
                 the pin was kept."
            }
            Rule::SourceChanged => {
                "The image's `org.opencontainers.image.source` differs between the pinned \
                 digest and the one the tag points to now, and the trust rule asks for \
                 `continuity = \"source\"`. The pin was kept."
            }
            Rule::SignerChanged => {
                "Both digests are signed by identities the trust rule accepts, but not the \
                 same one: the new image came from another workflow or branch. Review it \
                 and narrow the rule's identity if that was not expected. The pin was kept."
            }
            Rule::Missing => {
                "The registry no longer serves the pinned digest, so builds from it will \
                 fail. Pin the tag again with `pin --update --write`."
            }
        }
    }

    /// The rule a policy or trust violation's rule key names.
    fn of_violation(rule: &str) -> Option<Rule> {
        match rule {
            "allowed-registries" => Some(Rule::AllowedRegistries),
            "deny-tags" => Some(Rule::DenyTags),
            "require-tag" => Some(Rule::RequireTag),
            "unsigned" => Some(Rule::Unsigned),
            "untrusted-signer" => Some(Rule::UntrustedSigner),
            "signature-lost" => Some(Rule::SignatureLost),
            "rollback" => Some(Rule::Rollback),
            "source-changed" => Some(Rule::SourceChanged),
            "signer-changed" => Some(Rule::SignerChanged),
            "missing" => Some(Rule::Missing),
            _ => None,
        }
    }

    fn index(self) -> usize {
        RULES.iter().position(|r| *r == self).unwrap_or(0)
    }
}

/// The rule a reference breaks, if it is a result. A file that `--write` has written
/// is fixed: its pins and updates are not results.
pub fn rule_of(file: &FileOutcome, found: &Found) -> Option<Rule> {
    match &found.status {
        Status::Pin { .. } if !file.written => Some(Rule::Unpinned),
        Status::Updated { .. } if !file.written => Some(Rule::StaleDigest),
        Status::Stale { new: Some(_), .. } => Some(Rule::StaleDigest),
        Status::Stale { new: None, .. } => Some(Rule::TagNotFound),
        Status::Violation(violation) => Rule::of_violation(violation.rule),
        _ => None,
    }
}

/// Render the outcome as one SARIF log (pretty-printed, with a final newline).
pub fn render(outcome: &Outcome) -> String {
    let results: Vec<Value> = outcome
        .files
        .iter()
        .flat_map(|file| {
            file.references
                .iter()
                .filter_map(move |found| rule_of(file, found).map(|rule| result(file, found, rule)))
        })
        .collect();
    let notifications: Vec<Value> = outcome
        .errors
        .iter()
        .map(|p| (p, "error"))
        .chain(outcome.warnings.iter().map(|p| (p, "warning")))
        .map(|(problem, level)| {
            let mut location = json!({"artifactLocation": {"uri": file_uri(&problem.path)}});
            if let Some(line) = problem.line.filter(|&l| l > 0) {
                location["region"] = json!({"startLine": line});
            }
            json!({
                "level": level,
                "message": {"text": problem.message},
                "locations": [{"physicalLocation": location}],
            })
        })
        .collect();

    let mut driver = json!({
        "name": "pin",
        "version": env!("CARGO_PKG_VERSION"),
        "semanticVersion": env!("CARGO_PKG_VERSION"),
        "rules": RULES.iter().map(|rule| rule_descriptor(*rule)).collect::<Vec<_>>(),
    });
    if let Some(uri) = information_uri() {
        driver["informationUri"] = json!(uri);
    }
    let log = json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": driver},
            "invocations": [{
                "executionSuccessful": outcome.errors.is_empty(),
                "toolExecutionNotifications": notifications,
            }],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

/// Where pin's documentation lives: the package's `repository`, else its `homepage`
/// (Cargo.toml), when one is set.
pub fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_REPOSITORY"), env!("CARGO_PKG_HOMEPAGE")]
        .into_iter()
        .find(|uri| !uri.is_empty())
}

fn rule_descriptor(rule: Rule) -> Value {
    let level = "error";
    json!({
        "id": rule.id(),
        "name": rule.name(),
        "shortDescription": {"text": rule.short()},
        "fullDescription": {"text": rule.help()},
        "help": {"text": rule.help(), "markdown": rule.help()},
        "defaultConfiguration": {"level": level},
        "properties": {"tags": ["security", "supply-chain", "container"]},
    })
}

fn result(file: &FileOutcome, found: &Found, rule: Rule) -> Value {
    let mut region = json!({
        "startLine": found.position.line.max(1),
        "startColumn": found.position.column.max(1),
        "snippet": {"text": found.text},
    });
    if !found.text.contains('\n') {
        region["endColumn"] = json!(found.position.column.max(1) + found.text.chars().count());
    }
    json!({
        "ruleId": rule.id(),
        "ruleIndex": rule.index(),
        "level": "error",
        "message": {"text": message(found, rule)},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": {"uri": file_uri(&file.source.path)},
                "region": region,
            },
        }],
        "properties": {"site": found.reference.site.as_str()},
    })
}

fn message(found: &Found, rule: Rule) -> String {
    let text = &found.text;
    match (&found.status, rule) {
        (Status::Violation(violation), _) => violation.message.clone(),
        (
            Status::Stale {
                old,
                new: Some(new),
            },
            _,
        )
        | (Status::Updated { old, new }, _) => {
            format!("{text}: the tag now points to {new}, not {old}; run `pin --update --write`")
        }
        (Status::Stale { .. }, _) => {
            format!("{text}: the tag no longer exists in its registry")
        }
        (
            Status::Pin {
                digest: Some(digest),
            },
            _,
        ) => {
            format!("{text} is not pinned; its tag points to {digest}; run `pin --write`")
        }
        _ => format!("{text} is not pinned to a digest; run `pin --write`"),
    }
}

/// A path as a URI: relative paths stay relative (to the folder pin ran in), absolute
/// ones become `file://` URIs. Every byte outside RFC 3986's unreserved characters and
/// `/` is percent-encoded, as are non-UTF-8 bytes of a name.
pub fn file_uri(path: &std::path::Path) -> String {
    #[cfg(unix)]
    let bytes: Vec<u8> = {
        use std::os::unix::ffi::OsStrExt as _;
        path.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes: Vec<u8> = path.to_string_lossy().replace('\\', "/").into_bytes();
    let mut rest: &[u8] = &bytes;
    while let Some(stripped) = rest.strip_prefix(b"./") {
        rest = stripped;
    }
    let absolute = rest.first() == Some(&b'/');
    let mut uri = String::from(if absolute { "file://" } else { "" });
    for &byte in rest {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn file_uris_are_relative_and_percent_encoded() {
        assert_eq!(
            file_uri(Path::new("services/api/Dockerfile")),
            "services/api/Dockerfile"
        );
        assert_eq!(file_uri(Path::new("./Dockerfile")), "Dockerfile");
        assert_eq!(
            file_uri(Path::new("my app/Dockerfile")),
            "my%20app/Dockerfile"
        );
        assert_eq!(file_uri(Path::new("a\"b/é.yaml")), "a%22b/%C3%A9.yaml");
        assert_eq!(file_uri(Path::new("a#b?c%d")), "a%23b%3Fc%25d");
        assert_eq!(
            file_uri(Path::new("/tmp/x y/Dockerfile")),
            "file:///tmp/x%20y/Dockerfile"
        );
    }

    #[test]
    fn every_trust_reason_is_a_rule_of_its_own() {
        let reasons = [
            "unsigned",
            "untrusted-signer",
            "signature-lost",
            "rollback",
            "source-changed",
            "signer-changed",
            "missing",
        ];
        for reason in reasons {
            let rule = Rule::of_violation(reason).unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(rule.id(), format!("trust/{reason}"));
        }
        assert_eq!(Rule::of_violation("no-such-reason"), None);
    }

    #[test]
    fn rule_ids_are_distinct_and_indexed_in_order() {
        for (index, rule) in RULES.iter().enumerate() {
            assert_eq!(rule.index(), index);
            assert_eq!(RULES.iter().filter(|r| r.id() == rule.id()).count(), 1);
        }
    }
}
