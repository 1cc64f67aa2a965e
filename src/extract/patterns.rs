//! User-defined patterns: `[[patterns]]` of `pin.toml`, for images in files no kind
//! knows (shell scripts, Makefiles, Terraform, test code).
//!
//! ```toml
//! [[patterns]]
//! files = ["scripts/*.sh", "Makefile", "**/*.tf"]
//! regex = '''(?m)^\s*BASE_IMAGE\s*[:?]?=\s*"?(?P<image>[^"\s]+)'''
//! ```
//!
//! A match's named group `image` is the reference's exact span, pinned in place; or
//! the groups `name` and `tag` (and optionally `digest`) are its pieces, and pinning
//! writes only the digest: over the `digest` group, or as `@sha256:…` right after the
//! `tag` group. Nothing else of the file is touched. Values follow the CI rules for
//! variables (`$VAR` is `unresolved-variable`, `$REG/app:1` is `templated`).
//!
//! The `regex` crate runs in time linear in the file whatever the pattern (no
//! backtracking), and compiling is bounded ([`MAX_COMPILED_SIZE`]), so a pattern
//! cannot make a run hang.

use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::{Regex, RegexBuilder};
use thiserror::Error;

use super::yaml::ci_target;
use super::{DigestSlot, Pieces, Reference, Site};
use crate::source::Span;

/// Most memory a compiled pattern may take (bytes): a regex beyond it is refused.
pub const MAX_COMPILED_SIZE: usize = 1 << 20;

/// A pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PatternError {
    /// The regex does not compile (or is too big).
    #[error("invalid regex: {0}")]
    Regex(String),
    /// The regex has neither an `image` group nor `name` and `tag` groups.
    #[error("the regex needs a named group `image`, or `name` and `tag` (and optionally `digest`)")]
    MissingGroups,
    /// A `files` glob does not compile.
    #[error("invalid glob {glob:?}: {message}")]
    Glob {
        /// The glob.
        glob: String,
        /// Why.
        message: String,
    },
    /// No `files`.
    #[error("`files` is empty: the pattern would read no file")]
    NoFiles,
}

/// One `[[patterns]]` entry, compiled.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    files: GlobSet,
    /// The globs as written, each with its line in the settings file.
    pub globs: Vec<(String, Option<usize>)>,
    /// The line of the entry's `regex` in the settings file.
    pub line: Option<usize>,
}

impl Pattern {
    /// Compile a pattern. Globs match paths relative to the settings file's folder:
    /// `*` stays within a folder, `**` crosses folders.
    pub fn new(
        files: &[(String, Option<usize>)],
        regex: &str,
        line: Option<usize>,
    ) -> Result<Pattern, PatternError> {
        if files.is_empty() {
            return Err(PatternError::NoFiles);
        }
        let regex = RegexBuilder::new(regex)
            .size_limit(MAX_COMPILED_SIZE)
            .dfa_size_limit(MAX_COMPILED_SIZE)
            .nest_limit(64)
            .build()
            .map_err(|e| PatternError::Regex(e.to_string()))?;
        let has = |group: &str| regex.capture_names().any(|name| name == Some(group));
        if !(has("image") || has("name") && has("tag")) {
            return Err(PatternError::MissingGroups);
        }
        let mut builder = GlobSetBuilder::new();
        for (glob, _) in files {
            let trimmed = glob.trim_start_matches("./");
            let compiled = GlobBuilder::new(trimmed)
                .literal_separator(true)
                .build()
                .map_err(|e| PatternError::Glob {
                    glob: glob.clone(),
                    message: e.kind().to_string(),
                })?;
            builder.add(compiled);
        }
        let files_set = builder.build().map_err(|e| PatternError::Glob {
            glob: String::new(),
            message: e.to_string(),
        })?;
        Ok(Pattern {
            regex,
            files: files_set,
            globs: files.to_vec(),
            line,
        })
    }
}

/// Every pattern of a settings file, and the folder their globs are relative to.
#[derive(Debug, Clone, Default)]
pub struct Patterns {
    /// The settings file, for messages.
    pub file: PathBuf,
    /// The settings file's folder, absolute.
    pub folder: PathBuf,
    /// The patterns, in file order.
    pub patterns: Vec<Pattern>,
    /// Whether a glob that matches no file of the run is worth a warning: only when
    /// the run walks a folder (a run on named files reads only those).
    pub warn_unmatched: bool,
}

impl Patterns {
    /// Whether there is any pattern.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `path` relative to the settings file's folder, if it is inside it.
    fn relative(&self, path: &Path) -> Option<PathBuf> {
        let absolute = match path.is_absolute() {
            true => path.to_path_buf(),
            false => std::env::current_dir().ok()?.join(path),
        };
        normalize(&absolute)
            .strip_prefix(normalize(&self.folder))
            .ok()
            .map(Path::to_path_buf)
    }

    /// The indices of the patterns whose `files` match `path`, and for each the index
    /// of the first glob that does.
    pub fn matching(&self, path: &Path) -> Vec<(usize, usize)> {
        let Some(relative) = self.relative(path) else {
            return Vec::new();
        };
        self.patterns
            .iter()
            .enumerate()
            .filter_map(|(i, pattern)| {
                pattern
                    .files
                    .matches(&relative)
                    .first()
                    .map(|&glob| (i, glob))
            })
            .collect()
    }
}

/// `path` with `.` and `..` resolved by name (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The references the patterns find in `text`, in file order; overlapping matches
/// (of two patterns, or a pattern and a file kind's own references in `taken`) are
/// reported once, the first one winning.
pub fn extract(text: &str, patterns: &[&Pattern], taken: &[Span]) -> Vec<Reference> {
    let mut references: Vec<Reference> = Vec::new();
    let overlaps = |a: Span, b: Span| a.start < b.end && b.start < a.end || a == b;
    for pattern in patterns {
        for captures in pattern.regex.captures_iter(text) {
            let Some(reference) = reference_of(text, &captures) else {
                continue;
            };
            let spans = |r: &Reference| {
                let mut spans = vec![r.span];
                if let Some(pieces) = &r.pieces {
                    spans.push(pieces.digest.span);
                }
                spans
            };
            let new = spans(&reference);
            let clash = taken.iter().any(|&t| new.iter().any(|&n| overlaps(n, t)))
                || references.iter().any(|r| {
                    spans(r)
                        .iter()
                        .any(|&s| new.iter().any(|&n| overlaps(n, s)))
                });
            if !clash {
                references.push(reference);
            }
        }
    }
    super::mark_ignored(text, &mut references);
    references.sort_by_key(|r| r.span);
    references
}

fn reference_of(text: &str, captures: &regex::Captures<'_>) -> Option<Reference> {
    if let Some(image) = captures.name("image") {
        if image.is_empty() {
            return None;
        }
        let span = Span::new(image.start(), image.end());
        return Some(Reference {
            span,
            site: Site::Pattern,
            target: ci_target(span.of(text)),
            used_by: Vec::new(),
            pieces: None,
        });
    }
    let name = captures.name("name").filter(|m| !m.is_empty())?;
    let tag = captures.name("tag").filter(|m| !m.is_empty())?;
    let digest = captures.name("digest").filter(|m| !m.is_empty());
    let mut joined = format!("{}:{}", name.as_str(), tag.as_str());
    let slot = match digest {
        Some(digest) => {
            joined.push('@');
            joined.push_str(digest.as_str());
            DigestSlot::value(Span::new(digest.start(), digest.end()))
        }
        // Contiguous pieces (`name:tag`) become `name:tag@sha256:…`.
        None => DigestSlot {
            span: Span::new(tag.end(), tag.end()),
            before: "@".to_string(),
            after: String::new(),
        },
    };
    let target = ci_target(&joined);
    Some(Reference {
        span: Span::new(name.start(), name.end()),
        site: Site::Pattern,
        target,
        used_by: Vec::new(),
        pieces: Some(Box::new(Pieces {
            text: joined,
            digest: slot,
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Target;

    fn pattern(regex: &str) -> Result<Pattern, PatternError> {
        Pattern::new(&[("*.sh".to_string(), None)], regex, None)
    }

    #[test]
    fn groups_are_required_and_regexes_are_bounded() {
        assert_eq!(pattern("(a)").unwrap_err(), PatternError::MissingGroups);
        assert_eq!(
            pattern("(?P<name>a)").unwrap_err(),
            PatternError::MissingGroups
        );
        assert!(matches!(pattern("(?P<image>"), Err(PatternError::Regex(_))));
        assert!(matches!(
            pattern("(?P<image>a{1000}{1000})"),
            Err(PatternError::Regex(_))
        ));
        assert!(pattern("(?P<name>[a-z]+):(?P<tag>[0-9]+)").is_ok());
    }

    #[test]
    fn image_and_piece_groups_give_spans() {
        let text = "BASE_IMAGE=python:3.12\nAPP=$REG/app:1\nn=redis t=7\n";
        let image = pattern(r#"(?m)^[A-Z_]+=(?P<image>\S+)"#).unwrap();
        let refs = extract(text, &[&image], &[]);
        assert_eq!(refs.len(), 2);
        assert_eq!(refs[0].span.of(text), "python:3.12");
        assert!(matches!(refs[0].target, Target::Image(_)));
        assert_eq!(
            refs[1].target,
            Target::Skip(super::super::SkipReason::Templated)
        );
        let pieces = pattern(r"n=(?P<name>\S+) t=(?P<tag>\S+)").unwrap();
        let refs = extract(text, &[&pieces, &image], &[]);
        assert_eq!(refs.len(), 3);
        let piece = refs.iter().find(|r| r.pieces.is_some()).unwrap();
        assert_eq!(piece.text(text), "redis:7");
    }
}
