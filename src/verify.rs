//! The verify stage, between resolving and deciding: for every reference under a
//! `[[trust]]` rule that reads signatures, the digests this run would write (and, under
//! `--update`, the digests they replace; under `--check --verify`, the digests pinned)
//! are judged: who signed them, when the image was built, where its source is.
//!
//! Each distinct digest of each repository is judged once, at most `jobs` at a time; the
//! registry side ([`pin_registry::ArtifactSource`]) fetches each signature set once.
//! [`crate::decide::trust`] turns the judgements into statuses.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use pin_registry::{ArtifactSource, Digest, ImageFacts, ImageRef, Lookup, ResolveError};
use pin_sigstore::{Bundle, Policy, PublicKey, Signature, SimpleSigning, Verdict, VerifyError};

use crate::decide::{self, status_of};
use crate::extract::{Reference, Target};
use crate::outcome::{Resolutions, Status};
use crate::pipeline::{Options, Scanned};
use crate::trust::{Continuity, TrustRule};

/// Who signed a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A key of the rule, by the path written in `pin.toml`.
    Key {
        /// `keys/acme-release.pub`.
        name: String,
    },
    /// A keyless identity proved by the transparency log.
    Keyless {
        /// The certificate's subject alternative name.
        identity: String,
        /// Its OIDC issuer.
        issuer: Option<String>,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Key { name } => write!(f, "{name}"),
            Signer::Keyless { identity, issuer } => match issuer {
                Some(issuer) => write!(f, "{identity} ({issuer})"),
                None => write!(f, "{identity}"),
            },
        }
    }
}

/// What the signatures of one digest say under its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// Accepted.
    By {
        /// Who.
        signer: Signer,
        /// The signing time a transparency log proves, Unix seconds.
        signed_at: Option<i64>,
        /// The index whose signature accepted this platform's manifest, if not its own.
        via_index: Option<String>,
    },
    /// No signature at all, or none valid for this digest (`detail` says which).
    Unsigned {
        /// Empty when nothing was found; else why the signatures found do not count.
        detail: String,
    },
    /// Valid signatures, by no signer of the rule.
    Untrusted {
        /// Who signed, as far as the verifier says.
        detail: String,
    },
    /// The signatures could not be read: neither accepted nor refused.
    Unreadable(ResolveError),
}

impl Signed {
    /// Whether a signer of the rule accepted it.
    pub fn accepted(&self) -> Option<&Signer> {
        match self {
            Signed::By { signer, .. } => Some(signer),
            _ => None,
        }
    }
}

/// One digest, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Its signatures (`None`: not read, the rule names no signer).
    pub signed: Option<Signed>,
    /// The image (`None`: not read; `Some(None)`: the registry no longer has it).
    pub facts: Option<Option<ImageFacts>>,
    /// A fetch of the image that failed.
    pub facts_error: Option<ResolveError>,
}

/// The judgements of a run, per canonical `registry/repository` and digest.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    judgements: BTreeMap<(String, String), Judgement>,
}

impl Checked {
    /// The judgement of `digest` in `subject`'s repository.
    pub fn get(&self, subject: &ImageRef, digest: &str) -> Option<&Judgement> {
        self.judgements.get(&(name_of(subject), digest.to_string()))
    }

    /// Records a judgement (for tests of the stages after this one).
    pub fn insert(&mut self, subject: &ImageRef, digest: &str, judgement: Judgement) {
        self.judgements
            .insert((name_of(subject), digest.to_string()), judgement);
    }

    /// How many digests were judged.
    pub fn len(&self) -> usize {
        self.judgements.len()
    }

    /// Whether nothing was judged.
    pub fn is_empty(&self) -> bool {
        self.judgements.is_empty()
    }
}

/// The canonical `registry/repository` of an image, as rules match it.
pub fn name_of(image: &ImageRef) -> String {
    format!("{}/{}", image.registry(), image.repository())
}

/// The image whose signatures count for `image` in this run: the private copy it is
/// rewritten to, or itself.
pub fn subject_of(image: &ImageRef, options: &Options) -> ImageRef {
    decide::private_copy(image, options).unwrap_or_else(|| image.clone())
}

/// One digest to judge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Wanted {
    name: String,
    digest: String,
    lookup: Lookup,
    rule: usize,
    facts: bool,
}

/// The digests a reference's fate depends on: what it would be pinned or moved to, what
/// it is pinned to now (under `--update` and `--verify`).
fn digests_of(
    reference: &Reference,
    resolutions: &Resolutions,
    options: &Options,
) -> Vec<(String, bool)> {
    match status_of(reference, resolutions, options) {
        Status::Pin { digest: Some(new) } => vec![(new.to_string(), false)],
        Status::Updated { old, new }
        | Status::Stale {
            old,
            new: Some(new),
        } => {
            vec![(old, true), (new.to_string(), true)]
        }
        Status::Pinned if options.verify => match &reference.target {
            Target::Image(image) => image
                .digest()
                .map(|d| vec![(d.to_string(), true)])
                .unwrap_or_default(),
            Target::Skip(_) => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// Judge every digest the run's trust rules care about.
pub async fn check(
    scanned: &[Scanned],
    resolutions: &Resolutions,
    options: &Options,
    source: &dyn ArtifactSource,
) -> Checked {
    let mut wanted = BTreeSet::new();
    for reference in scanned.iter().flat_map(|file| &file.references) {
        let Target::Image(image) = &reference.target else {
            continue;
        };
        let subject = subject_of(image, options);
        let name = name_of(&subject);
        let Some(rule) = options.trust.rule_index(&name) else {
            continue;
        };
        let reads = options.trust.rules[rule].reads_signatures()
            || options.trust.rules[rule].continuity == Continuity::Source;
        if !reads {
            continue;
        }
        for (digest, facts) in digests_of(reference, resolutions, options) {
            wanted.insert(Wanted {
                name: name.clone(),
                digest,
                lookup: Lookup::of(&subject),
                rule,
                facts,
            });
        }
    }
    // A digest wanted with facts and without is judged once, with them.
    let mut distinct: BTreeMap<(String, String), Wanted> = BTreeMap::new();
    for want in wanted {
        let key = (want.name.clone(), want.digest.clone());
        let facts = distinct.get(&key).is_some_and(|w| w.facts) || want.facts;
        distinct.insert(key, Wanted { facts, ..want });
    }
    let judgements = stream::iter(distinct)
        .map(|(key, want)| async move {
            let rule = &options.trust.rules[want.rule];
            (key, judge(source, rule, &want, options).await)
        })
        .buffer_unordered(options.jobs.max(1))
        .collect()
        .await;
    Checked { judgements }
}

async fn judge(
    source: &dyn ArtifactSource,
    rule: &TrustRule,
    want: &Wanted,
    options: &Options,
) -> Judgement {
    let mut judgement = Judgement {
        signed: None,
        facts: None,
        facts_error: None,
    };
    let Ok(digest) = Digest::parse(&want.digest) else {
        judgement.signed = Some(Signed::Unsigned {
            detail: format!("{} is not a sha256 digest", want.digest),
        });
        return judgement;
    };
    if want.facts || rule.continuity == Continuity::Source {
        match source.image(&want.lookup, &digest).await {
            Ok(facts) => judgement.facts = Some(facts),
            Err(e) => judgement.facts_error = Some(e),
        }
    }
    if !rule.reads_signatures() {
        return judgement;
    }
    let mut signed = signatures_of(source, rule, &want.lookup, &digest, &digest, options).await;
    if signed.accepted().is_none() {
        // A platform's manifest: the index its tag points to may be what was signed.
        if let Ok(index) = source.tag(&want.lookup).await
            && index != digest
            && let Ok(Some(facts)) = source.image(&want.lookup, &index).await
            && facts.children.iter().any(|child| child == digest.as_str())
            && let Signed::By {
                signer, signed_at, ..
            } = signatures_of(source, rule, &want.lookup, &index, &index, options).await
        {
            signed = Signed::By {
                signer,
                signed_at,
                via_index: Some(index.to_string()),
            };
        }
    }
    judgement.signed = Some(signed);
    judgement
}

/// The signatures of `at`, checked as signatures of `digest`.
async fn signatures_of(
    source: &dyn ArtifactSource,
    rule: &TrustRule,
    lookup: &Lookup,
    at: &Digest,
    digest: &Digest,
    options: &Options,
) -> Signed {
    let set = match source.signatures(lookup, at).await {
        Ok(set) => set,
        Err(e) => return Signed::Unreadable(e),
    };
    let keys: Vec<PublicKey> = rule.keys.iter().map(|k| k.key.clone()).collect();
    let policy = Policy {
        keys: &keys,
        identities: &rule.identities,
        trusted_root: options.trust.root(),
    };
    let mut signatures: Vec<Result<Signature, VerifyError>> = Vec::new();
    for layer in &set.simple_signing {
        let annotations = layer
            .annotations
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        signatures.push(
            SimpleSigning::from_layer(layer.payload.clone(), annotations)
                .map(Signature::SimpleSigning)
                .map_err(VerifyError::from),
        );
    }
    for bundle in &set.bundles {
        signatures.push(
            Bundle::from_json(bundle)
                .map(Signature::Bundle)
                .map_err(VerifyError::from),
        );
    }
    let mut untrusted = Vec::new();
    let mut invalid = Vec::new();
    for signature in signatures {
        let verdict = signature.and_then(|s| pin_sigstore::verify(&s, digest.as_str(), &policy));
        match verdict {
            Ok(Verdict::Key { index, signed_at }) => {
                return Signed::By {
                    signer: Signer::Key {
                        name: rule.keys[index].name.clone(),
                    },
                    signed_at,
                    via_index: None,
                };
            }
            Ok(Verdict::Keyless(signer)) => {
                return Signed::By {
                    signer: Signer::Keyless {
                        identity: signer.identity,
                        issuer: signer.issuer,
                    },
                    signed_at: Some(signer.signed_at),
                    via_index: None,
                };
            }
            Err(e) if e.is_untrusted_signer() => untrusted.push(e.to_string()),
            Err(e) => invalid.push(e.to_string()),
        }
    }
    if !untrusted.is_empty() {
        return Signed::Untrusted {
            detail: untrusted.join("; "),
        };
    }
    if let Some(problem) = set.problems.first() {
        return Signed::Unreadable(ResolveError {
            lookup: lookup.clone(),
            host: lookup.registry.clone(),
            kind: pin_registry::ResolveErrorKind::Protocol(format!(
                "signatures of {at} cannot be read: {problem}"
            )),
        });
    }
    Signed::Unsigned {
        detail: invalid.join("; "),
    }
}

/// The signature check shown for a reference (JSON `signature`): of the digest it is
/// pinned or moved to, or under `--verify` the one it is pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// Whether a signer of the rule accepted it.
    pub verified: bool,
    /// Who, when accepted.
    pub signer: Option<Signer>,
    /// The signing time a transparency log proves.
    pub signed_at: Option<i64>,
    /// The signed index that lists this platform's manifest, when that is what was signed.
    pub via_index: Option<String>,
}

/// The status a reference ends with under its trust rule, and its signature check.
pub fn apply(
    reference: &Reference,
    status: Status,
    checked: &Checked,
    options: &Options,
) -> (Status, Option<SignatureCheck>) {
    let Target::Image(image) = &reference.target else {
        return (status, None);
    };
    if options.trust.is_empty() {
        return (status, None);
    }
    let subject = subject_of(image, options);
    let Some(rule) = options.trust.rule_for(&name_of(&subject)) else {
        return (status, None);
    };
    let (old, new) = match &status {
        Status::Pin { digest: Some(new) } => (None, Some(new.to_string())),
        Status::Updated { old, new }
        | Status::Stale {
            old,
            new: Some(new),
        } => (Some(old.clone()), Some(new.to_string())),
        Status::Pinned if options.verify => (None, image.digest().map(str::to_string)),
        _ => (None, None),
    };
    let old = old.and_then(|d| checked.get(&subject, &d));
    let new = new.and_then(|d| checked.get(&subject, &d));
    let signature = new
        .and_then(|j| j.signed.as_ref())
        .map(|signed| match signed {
            Signed::By {
                signer,
                signed_at,
                via_index,
            } => SignatureCheck {
                verified: true,
                signer: Some(signer.clone()),
                signed_at: *signed_at,
                via_index: via_index.clone(),
            },
            _ => SignatureCheck {
                verified: false,
                signer: None,
                signed_at: None,
                via_index: None,
            },
        });
    let shown = Lookup::of(&subject).to_string();
    (decide::trust(status, &shown, rule, old, new), signature)
}

/// The trust rules' names for violations: the reasons a digest is refused.
pub const REASONS: [&str; 7] = [
    "unsigned",
    "untrusted-signer",
    "signature-lost",
    "rollback",
    "source-changed",
    "signer-changed",
    "missing",
];

/// Each reference a trust rule refused, as `file:line: message`, with control characters
/// escaped.
pub fn refusals(outcome: &crate::outcome::Outcome) -> Vec<String> {
    let mut lines = Vec::new();
    for file in &outcome.files {
        for found in &file.references {
            if let Status::Violation(v) = &found.status
                && REASONS.contains(&v.rule)
            {
                let line = format!(
                    "{}:{}: refused ({}): {}",
                    file.source.path.display(),
                    found.position.line,
                    v.rule,
                    v.message
                );
                lines.push(crate::report::escape::printable(&line).into_owned());
            }
        }
    }
    lines
}

/// Seconds since the epoch of an RFC 3339 time (`2024-05-01T12:00:00.5+02:00`).
pub fn unix_seconds(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 20 || !matches!(bytes[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 2)?, number(8, 2)?);
    let (hour, minute, second) = (number(11, 2)?, number(14, 2)?, number(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_become_unix_seconds() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2024-05-01T12:00:00Z"), Some(1_714_564_800));
        assert_eq!(
            unix_seconds("2024-05-01T14:00:00.123456789+02:00"),
            Some(1_714_564_800)
        );
        assert_eq!(unix_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T00:00:00",
            "2024-05-01T00:00:00+0200",
            "２０２４-05-01T00:00:00Z",
        ] {
            assert_eq!(unix_seconds(bad), None, "{bad}");
        }
    }
}
