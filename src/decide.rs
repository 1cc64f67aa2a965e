//! The decision table: what becomes of one reference, from the run's mode, the digest
//! it carries and what its registry answered. Pure: no I/O, no state.

use pin_registry::{Digest, ImageRef, Lookup, ResolveErrorKind};

use crate::extract::{Reference, Target};
use crate::outcome::{Resolutions, Status};
use crate::pipeline::{Mode, Options};
use crate::policy::Violation;
use crate::trust::{Continuity, Require, TrustRule};
use crate::verify::{Judgement, Signed, Signer};

/// Whether `image` is asked about in this run: a tagged reference without a digest
/// always, one with a digest only under `--update` (a digest-only reference names no
/// tag to follow).
pub fn needs_lookup(image: &ImageRef, options: &Options) -> bool {
    match image.digest() {
        None => true,
        Some(_) => options.update && image.tag().is_some(),
    }
}

/// Whether a reference with `status` makes `--check` fail.
pub fn check_fails(status: &Status, options: &Options) -> bool {
    options.mode == Mode::Check
        && match status {
            Status::Pin { .. } => options.policy.require_digest,
            Status::Stale { .. } | Status::Violation(_) => true,
            _ => false,
        }
}

/// What becomes of `reference`.
pub fn status_of(reference: &Reference, resolutions: &Resolutions, options: &Options) -> Status {
    let image = match &reference.target {
        Target::Skip(reason) => return Status::Skip(*reason),
        Target::Image(image) => image,
    };
    if options.mode == Mode::Check
        && let Some(violation) = options.policy.check(image)
    {
        return Status::Violation(violation);
    }
    if !needs_lookup(image, options) {
        return match image.digest() {
            None => Status::Pin { digest: None },
            Some(_) => Status::Pinned,
        };
    }
    if let Some(copy) = private_copy(image, options) {
        // The reference's text changes to the private copy even where the digest is
        // the one it already has.
        return match (
            image.digest(),
            options.airlock.digest(image, &copy, resolutions),
        ) {
            (None, Ok(digest)) => Status::Pin {
                digest: Some(digest),
            },
            (Some(old), Ok(new)) => Status::Updated {
                old: old.to_string(),
                new,
            },
            (_, Err(e)) => Status::Error(e),
        };
    }
    let resolved = resolutions.get(&Lookup::refreshing(image));
    compare(image.digest(), resolved, options.mode)
}

/// The private copy a reference is rewritten to in this run (never under `--check`).
pub fn private_copy(image: &ImageRef, options: &Options) -> Option<ImageRef> {
    if options.mode == Mode::Check || options.airlock.is_empty() {
        return None;
    }
    options.airlock.copy_of(image)
}

/// The pinned digest (if any) against what the tag points to now.
fn compare(
    pinned: Option<&str>,
    resolved: Option<&Result<Digest, pin_registry::ResolveError>>,
    mode: Mode,
) -> Status {
    match (pinned, resolved) {
        (None, None) => Status::Pin { digest: None },
        (None, Some(Ok(digest))) => Status::Pin {
            digest: Some(digest.clone()),
        },
        (Some(_), None) => Status::Pinned,
        (Some(old), Some(Ok(new))) if old == new.as_str() => Status::Pinned,
        (Some(old), Some(Ok(new))) if mode == Mode::Check => Status::Stale {
            old: old.to_string(),
            new: Some(new.clone()),
        },
        (Some(old), Some(Ok(new))) => Status::Updated {
            old: old.to_string(),
            new: new.clone(),
        },
        // Under `--check --update`, a pinned tag that no longer exists is stale.
        (Some(old), Some(Err(e)))
            if mode == Mode::Check && e.kind == ResolveErrorKind::NotFound =>
        {
            Status::Stale {
                old: old.to_string(),
                new: None,
            }
        }
        (_, Some(Err(e))) => Status::Error(e.clone()),
    }
}

/// What the digests' judgements make of a reference's `status` under its trust
/// `rule`; `shown` names the image (`ghcr.io/acme/app:1.2`). A refused digest becomes a
/// [`Violation`] (`unsigned`, `untrusted-signer`, `signature-lost`, `rollback`,
/// `source-changed`, `signer-changed`, `missing`) and is not written; signatures that
/// cannot be read are an error for a rule that requires them.
pub fn trust(
    status: Status,
    shown: &str,
    rule: &TrustRule,
    old: Option<&Judgement>,
    new: Option<&Judgement>,
) -> Status {
    let violation =
        |rule: &'static str, message: String| Status::Violation(Violation { rule, message });
    let short = |digest: &str| digest.get(..19).unwrap_or(digest).to_string() + "…";
    let required = rule.require == Require::Signed;
    let signers = || {
        let mut names: Vec<String> = rule.keys.iter().map(|k| k.name.clone()).collect();
        names.extend(rule.identities.iter().map(identity_text));
        names.join(", ")
    };
    let no_signer = |signed: Option<&Signed>| match signed {
        Some(Signed::Untrusted { detail }) => format!(
            "which is signed by no signer of the trust rule for {} ({detail}; accepted: {})",
            rule.shown(),
            signers()
        ),
        Some(Signed::Unsigned { detail }) if !detail.is_empty() => format!(
            "which carries no valid signature ({detail}); the trust rule for {} requires one by {}",
            rule.shown(),
            signers()
        ),
        _ => format!(
            "which is not signed; the trust rule for {} requires a signature by {}",
            rule.shown(),
            signers()
        ),
    };
    let refusal = |signed: Option<&Signed>| match signed {
        Some(Signed::Untrusted { .. }) => "untrusted-signer",
        _ => "unsigned",
    };
    match status {
        Status::Pin {
            digest: Some(digest),
        } => {
            let signed = signed_of(new);
            if let Some(Signed::Unreadable(e)) = signed
                && required
            {
                return Status::Error(e.clone());
            }
            if required && signed.and_then(Signed::accepted).is_none() {
                return violation(
                    refusal(signed),
                    format!("{shown} points to {digest}, {}", no_signer(signed)),
                );
            }
            Status::Pin {
                digest: Some(digest),
            }
        }
        Status::Pinned => {
            let Some(new) = new else {
                return Status::Pinned;
            };
            if let Some(None) = &new.facts {
                return violation(
                    "missing",
                    format!("{shown} is pinned to a digest the registry no longer has"),
                );
            }
            let signed = new.signed.as_ref();
            if let Some(Signed::Unreadable(e)) = signed
                && required
            {
                return Status::Error(e.clone());
            }
            if required && signed.and_then(Signed::accepted).is_none() {
                return violation(
                    refusal(signed),
                    format!("{shown} is pinned to a digest {}", no_signer(signed)),
                );
            }
            Status::Pinned
        }
        Status::Updated {
            old: ref from,
            new: ref to,
        }
        | Status::Stale {
            old: ref from,
            new: Some(ref to),
        } => {
            let moved = format!("{shown} moved to {to}");
            let (old_signed, new_signed) = (signed_of(old), signed_of(new));
            let old_signer = old_signed.and_then(Signed::accepted);
            let new_signer = new_signed.and_then(Signed::accepted);
            let was =
                |signer: &Signer| format!("the pinned {} was signed by {signer}", short(from));
            if let Some(Signed::Unreadable(e)) = new_signed
                && (required || old_signer.is_some())
            {
                return Status::Error(e.clone());
            }
            if new_signer.is_none() && (required || old_signer.is_some()) {
                // No signature at all; invalid ones are `unsigned`, with what was wrong.
                let lost = match new_signed {
                    Some(Signed::Unsigned { detail }) => detail.is_empty(),
                    None => true,
                    _ => false,
                };
                return match old_signer {
                    Some(signer) if lost => violation(
                        "signature-lost",
                        format!("{moved}, which is not signed; {}", was(signer)),
                    ),
                    Some(signer) => violation(
                        refusal(new_signed),
                        format!("{moved}, {}; {}", no_signer(new_signed), was(signer)),
                    ),
                    None => violation(
                        refusal(new_signed),
                        format!("{moved}, {}", no_signer(new_signed)),
                    ),
                };
            }
            if let (Some(a @ Signer::Keyless { .. }), Some(b @ Signer::Keyless { .. })) =
                (old_signer, new_signer)
                && a != b
            {
                return violation(
                    "signer-changed",
                    format!(
                        "{moved}, signed by {b}; {} (both accepted by the trust rule for {})",
                        was(a),
                        rule.shown()
                    ),
                );
            }
            if let Some(message) = rollback(old, new) {
                return violation(
                    "rollback",
                    format!("{moved}, {message} than the pinned {}", short(from)),
                );
            }
            if rule.continuity == Continuity::Source
                && let (Some(Some(old_facts)), Some(Some(new_facts))) = (
                    old.and_then(|j| j.facts.as_ref()),
                    new.and_then(|j| j.facts.as_ref()),
                )
                && let Some(was_source) = &old_facts.source
                && new_facts.source.as_ref() != Some(was_source)
            {
                return violation(
                    "source-changed",
                    format!(
                        "{moved}, built from {}; the pinned {} was built from {was_source}",
                        new_facts.source.as_deref().unwrap_or("no recorded source"),
                        short(from)
                    ),
                );
            }
            status
        }
        other => other,
    }
}

/// `Some("built at … , earlier")` when the new digest is older than the old one: by the
/// transparency-log times when both have one, else by the images' `created`.
fn rollback(old: Option<&Judgement>, new: Option<&Judgement>) -> Option<String> {
    let logged = |j: Option<&Judgement>| match j?.signed.as_ref()? {
        Signed::By { signed_at, .. } => *signed_at,
        _ => None,
    };
    if let (Some(before), Some(after)) = (logged(old), logged(new)) {
        return (after < before).then(|| "which was signed earlier".to_string());
    }
    let created = |j: Option<&Judgement>| {
        let facts = j?.facts.as_ref()?.as_ref()?;
        let text = facts.created.as_deref()?;
        Some((crate::verify::unix_seconds(text)?, text.to_string()))
    };
    let ((before, _), (after, text)) = (created(old)?, created(new)?);
    (after < before).then(|| format!("which was built at {text}, earlier"))
}

fn signed_of(judgement: Option<&Judgement>) -> Option<&Signed> {
    judgement.and_then(|j| j.signed.as_ref())
}

fn identity_text(identity: &pin_sigstore::Identity) -> String {
    let name = match identity.subject() {
        pin_sigstore::SubjectMatcher::Exact(name) => name.clone(),
        pin_sigstore::SubjectMatcher::Regex(regex) => format!("/{}/", regex.as_str()),
    };
    match identity.issuer() {
        Some(issuer) => format!("{name} ({issuer})"),
        None => name,
    }
}

#[cfg(test)]
#[allow(
    clippy::result_large_err,
    reason = "the table holds what `Resolutions` holds: results with the full error"
)]
mod tests {
    use super::*;
    use pin_registry::ResolveError;

    type Answer = Result<Digest, ResolveError>;

    fn digest(n: u8) -> Digest {
        Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
    }

    fn not_found() -> Answer {
        let image = ImageRef::parse("a:1").unwrap();
        Err(ResolveError {
            lookup: Lookup::of(&image),
            host: "docker.io".into(),
            kind: ResolveErrorKind::NotFound,
        })
    }

    /// Every row of the table: pinned digest × answer × mode.
    #[test]
    fn the_decision_table() {
        let d1 = digest(1);
        let d2 = digest(2);
        let old = Some(d1.as_str());
        let stale = |new| Status::Stale {
            old: d1.to_string(),
            new,
        };
        let rows: Vec<(Option<&str>, Option<Answer>, Mode, Status)> = vec![
            (None, None, Mode::Check, Status::Pin { digest: None }),
            (
                None,
                Some(Ok(d2.clone())),
                Mode::Write,
                Status::Pin {
                    digest: Some(d2.clone()),
                },
            ),
            (old, None, Mode::Write, Status::Pinned),
            (old, Some(Ok(d1.clone())), Mode::Write, Status::Pinned),
            (old, Some(Ok(d1.clone())), Mode::Check, Status::Pinned),
            (
                old,
                Some(Ok(d2.clone())),
                Mode::Check,
                stale(Some(d2.clone())),
            ),
            (
                old,
                Some(Ok(d2.clone())),
                Mode::DryRun,
                Status::Updated {
                    old: d1.to_string(),
                    new: d2.clone(),
                },
            ),
            (old, Some(not_found()), Mode::Check, stale(None)),
        ];
        for (pinned, resolved, mode, expected) in rows {
            assert_eq!(
                compare(pinned, resolved.as_ref(), mode),
                expected,
                "{pinned:?} {mode:?}"
            );
        }
        let Status::Error(e) = compare(old, Some(&not_found()), Mode::Write) else {
            panic!("a missing tag outside --check is an error");
        };
        assert_eq!(e.kind, ResolveErrorKind::NotFound);
        assert!(matches!(
            compare(None, Some(&not_found()), Mode::Check),
            Status::Error(_)
        ));
    }
}
