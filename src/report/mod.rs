//! Reporters: they only read an [`Outcome`](crate::outcome::Outcome) and render it.

pub mod diff;
pub mod escape;
pub mod json;
pub mod patch;
pub mod sarif;
pub mod summary;
pub mod table;

use crate::outcome::{Outcome, Status};

/// Counts of references by status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Files that hold at least one reference.
    pub files: usize,
    /// References that need a pin or were pinned.
    pub pin: usize,
    /// References already pinned.
    pub pinned: usize,
    /// References whose digest was replaced.
    pub updated: usize,
    /// References whose digest is stale (`--check --update`).
    pub stale: usize,
    /// References skipped.
    pub skip: usize,
    /// References that break a policy rule.
    pub violation: usize,
    /// References that could not be resolved.
    pub error: usize,
}

impl Summary {
    /// Count the references of an outcome.
    pub fn of(outcome: &Outcome) -> Summary {
        let mut summary = Summary {
            files: outcome.files.len(),
            ..Summary::default()
        };
        for found in outcome.files.iter().flat_map(|f| &f.references) {
            match found.status {
                Status::Pin { .. } => summary.pin += 1,
                Status::Pinned => summary.pinned += 1,
                Status::Updated { .. } => summary.updated += 1,
                Status::Stale { .. } => summary.stale += 1,
                Status::Skip(_) => summary.skip += 1,
                Status::Violation(_) => summary.violation += 1,
                Status::Error(_) => summary.error += 1,
            }
        }
        summary
    }
}

/// The name of a status in output.
pub fn status_name(status: &Status) -> &'static str {
    match status {
        Status::Pin { .. } => "pin",
        Status::Pinned => "pinned",
        Status::Updated { .. } => "updated",
        Status::Stale { .. } => "stale",
        Status::Skip(_) => "skip",
        Status::Violation(_) => "violation",
        Status::Error(_) => "error",
    }
}
