//! The decision table: what becomes of one reference, from the run's mode, the digest
//! it carries and what its registry answered. Pure: no I/O, no state.

use pin_registry::{Digest, ImageRef, Lookup, ResolveErrorKind};

use crate::extract::{Reference, Target};
use crate::outcome::{Resolutions, Status};
use crate::pipeline::{Mode, Options};

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
