//! The words on standard error: the summary line, the errors of references that failed
//! to resolve, and the files a failed `--write` left untouched.

use crate::outcome::{Outcome, Problem, Status};
use crate::pipeline::Mode;
use crate::report::Summary;
use crate::report::escape::printable;

/// The line that ends a text run: what was done, skipped and failed.
pub fn summary_line(outcome: &Outcome, mode: Mode) -> String {
    let s = Summary::of(outcome);
    let files = |n: usize| plural(n, "file");
    let mut parts = match mode {
        Mode::Write => {
            // What was written: a resolved reference in a file left untouched (another
            // of its references failed) was not pinned.
            let written: Vec<_> = outcome.files.iter().filter(|f| f.written).collect();
            let count = |wanted: fn(&Status) -> bool| {
                written
                    .iter()
                    .flat_map(|f| &f.references)
                    .filter(|found| wanted(&found.status))
                    .count()
            };
            vec![format!(
                "{} pinned and {} updated in {}",
                count(|s| matches!(s, Status::Pin { .. })),
                count(|s| matches!(s, Status::Updated { .. })),
                files(written.len())
            )]
        }
        Mode::DryRun => {
            let changing = outcome
                .files
                .iter()
                .filter(|f| f.new_text.is_some())
                .count();
            vec![format!(
                "{} to pin and {} to update in {}",
                s.pin,
                s.updated,
                files(changing)
            )]
        }
        Mode::Check => vec![
            format!("{} not pinned", s.pin),
            format!("{} stale", s.stale),
        ],
        Mode::List => {
            let references = outcome.files.iter().map(|f| f.references.len()).sum();
            vec![format!(
                "{} in {}",
                plural(references, "reference"),
                files(s.files)
            )]
        }
    };
    parts.push(format!("{} already pinned", s.pinned));
    parts.push(format!("{} skipped", s.skip));
    if s.violation > 0 {
        parts.push(plural(s.violation, "policy violation"));
    }
    if s.error > 0 {
        parts.push(format!("{} failed", s.error));
    }
    format!("pin: {}", parts.join(", "))
}

/// The last line of a failed `--check`: the command that fixes what it found.
pub fn check_hint(outcome: &Outcome, update: bool) -> String {
    let s = Summary::of(outcome);
    let mut fixes = Vec::new();
    if s.pin > 0 {
        fixes.push("`pin --write` pins them");
    }
    if s.stale > 0 && update {
        fixes.push("`pin --write --update` moves stale pins to what their tags point to now");
    }
    if s.violation > 0 {
        fixes
            .push("policy violations need the reference changed by hand (see pin.toml's [policy])");
    }
    format!("pin: to fix: {}", fixes.join("; "))
}

/// `1 file`, `2 files`.
pub fn plural(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("{n} {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

/// Each reference that failed to resolve, as `file:line: message`, with control
/// characters escaped.
pub fn resolve_errors(outcome: &Outcome) -> Vec<String> {
    let mut errors = Vec::new();
    for file in &outcome.files {
        for found in &file.references {
            if let Status::Error(e) = &found.status {
                let line = format!(
                    "{}:{}: {}: {}",
                    file.source.path.display(),
                    found.position.line,
                    found.text,
                    e
                );
                errors.push(printable(&line).into_owned());
            }
        }
    }
    errors
}

/// A problem with a file, after `warning: ` or `error: `, as a line for a terminal:
/// the control characters of its name and message escaped.
pub fn problem_line(problem: &Problem) -> String {
    printable(&problem.to_string()).into_owned()
}

/// Under `--write` with errors: the files left as they were because one of their
/// references failed, as one message.
pub fn held_files(outcome: &Outcome) -> Option<String> {
    let held: Vec<String> = outcome
        .files
        .iter()
        .filter(|f| f.has_errors())
        .map(|f| printable(&f.source.path.to_string_lossy()).into_owned())
        .collect();
    (!held.is_empty()).then(|| {
        format!(
            "left untouched because a reference failed: {}",
            held.join(", ")
        )
    })
}
