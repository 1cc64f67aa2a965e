//! The scan's additions for images that no file kind reads whole: matches of
//! `[[patterns]]`, and the warning for Helm charts whose templates never read the
//! digests pinned in their values.

use super::Scanned;
use crate::discover::{self, Candidate};
use crate::extract::patterns::{Pattern, Patterns};
use crate::extract::{self, FileKind, Reference, SkipReason, Target};
use crate::files;
use crate::outcome::{Outcome, Problem};
use crate::source::SourceFile;

/// Read the files that `[[patterns]]` match: their matches join the references the
/// file's own kind found (a match overlapping one of those is left out), as `ignored`
/// in an excluded file. A glob that matches no file of the run is a warning naming
/// its line in the settings file.
pub fn scan_patterns(
    candidates: &[Candidate],
    patterns: &Patterns,
    scanned: &mut Vec<Scanned>,
    outcome: &mut Outcome,
) {
    if patterns.is_empty() {
        return;
    }
    let mut used = std::collections::HashSet::new();
    for candidate in candidates {
        let matching = patterns.matching(&candidate.path);
        if matching.is_empty() {
            continue;
        }
        used.extend(matching.iter().copied());
        let applying: Vec<&Pattern> = matching
            .iter()
            .map(|&(i, _)| &patterns.patterns[i])
            .collect();
        let ignore_all = |references: &mut Vec<Reference>| {
            if candidate.excluded {
                for reference in references.iter_mut() {
                    reference.target = Target::Skip(SkipReason::Ignored);
                }
            }
        };
        match scanned.iter_mut().find(|s| s.source.path == candidate.path) {
            Some(file) => {
                let taken: Vec<_> = file.references.iter().map(|r| r.span).collect();
                let mut found = extract::patterns::extract(&file.source.text, &applying, &taken);
                ignore_all(&mut found);
                file.references.extend(found);
                file.references.sort_by_key(|r| r.span);
            }
            None => {
                // A file that cannot be read was reported by `scan`.
                let Ok(text) = files::read_text(&candidate.path) else {
                    continue;
                };
                let mut references = extract::patterns::extract(&text, &applying, &[]);
                if references.is_empty() {
                    continue;
                }
                ignore_all(&mut references);
                scanned.push(Scanned {
                    source: SourceFile {
                        path: candidate.path.clone(),
                        text,
                    },
                    kind: candidate.kind,
                    references,
                });
            }
        }
    }
    scanned.sort_by(|a, b| a.source.path.cmp(&b.source.path));
    if !patterns.warn_unmatched {
        return;
    }
    for (i, pattern) in patterns.patterns.iter().enumerate() {
        for (g, (glob, line)) in pattern.globs.iter().enumerate() {
            if !used.contains(&(i, g)) {
                outcome.warnings.push(Problem {
                    path: patterns.file.clone(),
                    line: *line,
                    message: format!("[[patterns]] glob {glob:?} matches no file"),
                });
            }
        }
    }
}

/// A warning for each chart whose values were pinned in pieces but whose templates
/// never read a `.digest`: such a pin has no effect on what the chart deploys. The
/// warning names the chart's first values file with images.
pub fn warn_unread_digests(outcome: &mut Outcome) {
    let mut charts = std::collections::BTreeSet::new();
    let mut warnings = Vec::new();
    for file in &outcome.files {
        let pieces = file.references.iter().any(|found| {
            found.reference.site == extract::Site::HelmImage
                && matches!(found.reference.target, Target::Image(_))
        });
        if file.kind != FileKind::HelmValues || !pieces {
            continue;
        }
        let Some(chart) = discover::chart_folder(&file.source.path) else {
            continue;
        };
        if charts.insert(chart.clone()) && !discover::chart_reads_digest(&chart) {
            let shown = match chart.as_os_str().is_empty() {
                true => std::path::Path::new("."),
                false => chart.as_path(),
            };
            warnings.push(Problem {
                path: file.source.path.clone(),
                line: None,
                message: format!(
                    "no template of the chart in {} reads `.digest`: the digests pinned here have no effect until a template writes them",
                    shown.display()
                ),
            });
        }
    }
    outcome.warnings.extend(warnings);
}
