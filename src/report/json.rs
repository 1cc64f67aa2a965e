//! `--format json`: one object on stdout, as the contract's §4 fixes it.

use serde::Serialize;

use super::escape::path_text;
use super::{Summary, status_name};
use crate::extract::{SkipReason, Target};
use crate::outcome::{Found, Outcome, Status};
use crate::reference::ImageRef;
use crate::source::LineIndex;
use crate::verify::{SignatureCheck, Signer};

#[derive(Serialize)]
struct Report<'a> {
    version: u32,
    references: Vec<JsonReference<'a>>,
    summary: Summary,
    problems: Vec<JsonProblem>,
}

#[derive(Serialize)]
struct JsonReference<'a> {
    file: String,
    line: usize,
    column: usize,
    offset: usize,
    site: &'static str,
    text: &'a str,
    status: &'static str,
    reason: Option<&'static str>,
    // Left out entirely under `--list`, which never resolves.
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<Option<String>>,
    old_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replacement: Option<Option<String>>,
    error: Option<String>,
    /// The canonical registry (`docker.io` for Docker Hub), for images.
    registry: Option<String>,
    /// The canonical repository (`library/python`), for images.
    repository: Option<String>,
    /// The tag a lookup follows (`latest` when none is written), for images.
    tag: Option<String>,
    /// The signature check of its digest, under a `[[trust]]` rule that reads
    /// signatures; left out when not checked, so that runs without rules print what
    /// they always printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<JsonSignature>,
    /// For an `arg-default`: the lines of the `FROM` instructions that use it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    used_by: Vec<usize>,
}

#[derive(Serialize)]
struct JsonSignature {
    verified: bool,
    /// `key` or `keyless` when verified.
    kind: Option<&'static str>,
    /// The key file as written in `pin.toml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
    /// The signing time a transparency log proves, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_at: Option<String>,
    /// The signed index listing this platform's manifest, when that is what was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_index: Option<String>,
}

impl JsonSignature {
    fn of(check: &SignatureCheck) -> JsonSignature {
        let mut json = JsonSignature {
            verified: check.verified,
            kind: None,
            key: None,
            identity: None,
            issuer: None,
            signed_at: check.signed_at.map(rfc3339),
            signed_index: check.via_index.clone(),
        };
        match &check.signer {
            Some(Signer::Key { name }) => {
                json.kind = Some("key");
                json.key = Some(name.clone());
            }
            Some(Signer::Keyless { identity, issuer }) => {
                json.kind = Some("keyless");
                json.identity = Some(identity.clone());
                json.issuer = issuer.clone();
            }
            None => {}
        }
        json
    }
}

/// `2025-01-02T03:04:05Z` for Unix seconds.
fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = super::patch::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[derive(Serialize)]
struct JsonProblem {
    file: String,
    line: Option<usize>,
    message: String,
    fatal: bool,
}

/// Render the outcome; `list` leaves out `digest` and `replacement`.
pub fn render(outcome: &Outcome, list: bool) -> String {
    let references = outcome
        .files
        .iter()
        .flat_map(|file| {
            let lines = LineIndex::new(&file.source.text);
            file.references.iter().map(move |found| {
                let mut json = reference(&path_text(&file.source.path), found, list);
                json.used_by = found
                    .reference
                    .used_by
                    .iter()
                    .map(|span| lines.line(span.start))
                    .collect();
                json
            })
        })
        .collect();
    let problems = outcome
        .errors
        .iter()
        .map(|p| (p, true))
        .chain(outcome.warnings.iter().map(|p| (p, false)))
        .map(|(p, fatal)| JsonProblem {
            file: path_text(&p.path),
            line: p.line,
            message: p.message.clone(),
            fatal,
        })
        .collect();
    let report = Report {
        version: 1,
        references,
        summary: Summary::of(outcome),
        problems,
    };
    let mut text = serde_json::to_string_pretty(&report).expect("a report always serialises");
    text.push('\n');
    text
}

fn reference<'a>(file: &str, found: &'a Found, list: bool) -> JsonReference<'a> {
    let (digest, old_digest) = match &found.status {
        Status::Pin { digest } => (digest.as_ref().map(ToString::to_string), None),
        Status::Updated { old, new } => (Some(new.to_string()), Some(old.clone())),
        Status::Stale { old, new } => (new.as_ref().map(ToString::to_string), Some(old.clone())),
        _ => (None, None),
    };
    let reason = match &found.status {
        Status::Skip(reason) => Some(reason.as_str()),
        Status::Pinned => Some(SkipReason::AlreadyPinned.as_str()),
        Status::Violation(v) => Some(v.rule),
        _ => None,
    };
    let error = match &found.status {
        Status::Error(e) => Some(e.to_string()),
        Status::Violation(v) => Some(v.message.clone()),
        Status::Stale { new: None, .. } => Some("tag not found".to_string()),
        _ => None,
    };
    let image = match &found.reference.target {
        Target::Image(image) => Some(image),
        Target::Skip(_) => None,
    };
    JsonReference {
        file: file.to_string(),
        line: found.position.line,
        column: found.position.column,
        offset: found.reference.span.start,
        site: found.reference.site.as_str(),
        text: &found.text,
        status: status_name(&found.status),
        reason,
        digest: (!list).then_some(digest),
        old_digest,
        replacement: (!list).then(|| found.replacement()),
        error,
        registry: image.map(|i| i.registry().to_string()),
        repository: image.map(ImageRef::repository),
        tag: image
            .filter(|i| i.tag().is_some() || i.digest().is_none())
            .map(|i| i.tag_or_latest().to_string()),
        signature: found.signature.as_ref().map(JsonSignature::of),
        used_by: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_seconds_print_as_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(super::rfc3339(951_868_800), "2000-03-01T00:00:00Z");
    }
}
