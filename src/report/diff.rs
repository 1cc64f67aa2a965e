//! Unified diffs that `git apply` accepts, with paths relative to the current folder,
//! quoted as git quotes them.

use similar::TextDiff;

use super::escape::git_path;
use crate::outcome::Outcome;

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// The diff of every file that changes, in path order; `color` adds ANSI colours.
pub fn render(outcome: &Outcome, color: bool) -> String {
    let mut out = String::new();
    for file in &outcome.files {
        let Some(new_text) = &file.new_text else {
            continue;
        };
        let old = git_path("a/", &file.source.path);
        let new = git_path("b/", &file.source.path);
        // As git does: a name with a space that needs no quotes ends with a tab on
        // the `---` and `+++` lines, so that `git apply` knows where it ends.
        let end = if old.contains(' ') && !old.starts_with('"') {
            "\t"
        } else {
            ""
        };
        let diff = TextDiff::from_lines(file.source.text.as_str(), new_text.as_str());
        let body = diff
            .unified_diff()
            .context_radius(3)
            .header(&format!("{old}{end}"), &format!("{new}{end}"))
            .to_string();
        let header = format!("diff --git {old} {new}\n");
        if color {
            out.push_str(&paint(&header, BOLD));
            for line in body.split_inclusive('\n') {
                let painted = if line.starts_with("---") || line.starts_with("+++") {
                    paint(line, BOLD)
                } else if line.starts_with("@@") {
                    paint(line, CYAN)
                } else if line.starts_with('-') {
                    paint(line, RED)
                } else if line.starts_with('+') {
                    paint(line, GREEN)
                } else {
                    line.to_string()
                };
                out.push_str(&painted);
            }
        } else {
            out.push_str(&header);
            out.push_str(&body);
        }
    }
    out
}

/// Colour a line, keeping its line ending outside the colour codes.
fn paint(line: &str, colour: &str) -> String {
    let content = line.trim_end_matches(['\n', '\r']);
    format!("{colour}{content}{RESET}{}", &line[content.len()..])
}
