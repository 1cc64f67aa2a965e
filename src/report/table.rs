//! Text tables for `--list` and `--check`, with the control characters of names and
//! references escaped.

use super::escape::printable;
use super::status_name;
use crate::outcome::{Found, Outcome, Status};

/// One row per reference (`--list`), or per reference that needs attention
/// (`--check`: not pinned, stale, or failed).
pub fn render(outcome: &Outcome, only_problems: bool) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    for file in &outcome.files {
        for found in &file.references {
            if only_problems && !needs_attention(found) {
                continue;
            }
            let location = format!(
                "{}:{}:{}",
                printable(&file.source.path.to_string_lossy()),
                found.position.line,
                found.position.column
            );
            // A skipped reference's text is whatever the file holds there.
            let text = match note(found) {
                Some(note) => format!("{}  ({})", printable(&found.text), printable(&note)),
                None => printable(&found.text).into_owned(),
            };
            let site = found.reference.site.as_str().to_string();
            rows.push([location, site, describe(found), text]);
        }
    }
    let mut widths = [0; 3];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for [location, site, status, text] in rows {
        out.push_str(&format!(
            "{location:<w0$}  {site:<w1$}  {status:<w2$}  {text}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    out
}

/// Whether `--check` reports this reference.
pub fn needs_attention(found: &Found) -> bool {
    matches!(
        found.status,
        Status::Pin { .. } | Status::Stale { .. } | Status::Violation(_) | Status::Error(_)
    )
}

fn describe(found: &Found) -> String {
    match &found.status {
        Status::Skip(reason) => format!("skip ({})", reason.as_str()),
        Status::Pin { .. } => "not pinned".to_string(),
        Status::Stale { new: Some(_), .. } => "stale".to_string(),
        Status::Stale { new: None, .. } => "stale (tag not found)".to_string(),
        Status::Violation(v) => format!("violation ({})", v.rule),
        other => status_name(other).to_string(),
    }
}

/// What follows the reference's text: why it failed, or what to do.
fn note(found: &Found) -> Option<String> {
    match &found.status {
        Status::Violation(v) => Some(v.message.clone()),
        Status::Error(e) => Some(e.kind.to_string()),
        _ => None,
    }
}
