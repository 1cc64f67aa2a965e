//! What a run found and did: the types every reporter reads. Nothing here computes;
//! the pipeline fills these in and the reporters in [`crate::report`] render them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pin_registry::{Digest, ImageRef, Lookup, ResolveError};

use crate::extract::{FileKind, Reference, SkipReason, Target};
use crate::policy::Violation;
use crate::rewrite::Edit;
use crate::source::{Position, SourceFile};

/// What became of one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Needs a pin (offline modes), or is pinned to `digest` by this run.
    Pin {
        /// The digest, where it was resolved.
        digest: Option<Digest>,
    },
    /// Already carries a digest that is current, or was not checked.
    Pinned,
    /// Its digest was replaced (`--update`).
    Updated {
        /// The digest it had.
        old: String,
        /// The digest it has now.
        new: Digest,
    },
    /// Its digest is not what the tag points to now (`--check --update`); `new` is
    /// `None` when the tag no longer exists.
    Stale {
        /// The digest it has.
        old: String,
        /// The digest the tag points to now.
        new: Option<Digest>,
    },
    /// Skipped.
    Skip(SkipReason),
    /// Breaks a rule of the policy (`--check`).
    Violation(Violation),
    /// Could not be resolved.
    Error(ResolveError),
}

/// One reference and what became of it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The reference as extracted.
    pub reference: Reference,
    /// Where its text starts.
    pub position: Position,
    /// Its text in the file.
    pub text: String,
    /// Its fate.
    pub status: Status,
    /// `--rewrite-registry`: the private copy the reference is rewritten to.
    pub rewritten: Option<ImageRef>,
    /// The signature check of its digest, under a `[[trust]]` rule that reads them.
    pub signature: Option<crate::verify::SignatureCheck>,
}

impl Found {
    /// The text that replaces the reference, when it changes. For an image written
    /// in pieces, the image the pieces make once the digest is written.
    pub fn replacement(&self) -> Option<String> {
        let Target::Image(image) = &self.reference.target else {
            return None;
        };
        // Pieces are not rewritten to a private copy: only their digest is written.
        let image = match &self.reference.pieces {
            Some(_) => image,
            None => self.rewritten.as_ref().unwrap_or(image),
        };
        Some(image.pinned_text(self.new_digest()?))
    }

    /// The digest this run writes, if it writes one.
    fn new_digest(&self) -> Option<&Digest> {
        match &self.status {
            Status::Pin {
                digest: Some(digest),
            }
            | Status::Updated { new: digest, .. } => Some(digest),
            _ => None,
        }
    }

    /// The edit that pins the reference, when it changes: its text replaced, or for
    /// an image in pieces, its digest written where [`crate::extract::DigestSlot`]
    /// says (an existing value replaced, or a new line inserted).
    pub fn edit(&self) -> Option<Edit> {
        match &self.reference.pieces {
            None => Some(Edit {
                span: self.reference.span,
                replacement: self.replacement()?,
            }),
            Some(pieces) => {
                let Target::Image(_) = &self.reference.target else {
                    return None;
                };
                let slot = &pieces.digest;
                Some(Edit {
                    span: slot.span,
                    replacement: format!("{}{}{}", slot.before, self.new_digest()?, slot.after),
                })
            }
        }
    }
}

/// A file that was read, what was found in it, and its new text.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    /// The file as read.
    pub source: SourceFile,
    /// Its kind.
    pub kind: FileKind,
    /// The references, in file order.
    pub references: Vec<Found>,
    /// The new text, when the file changes and every reference in it resolved.
    pub new_text: Option<String>,
    /// Whether it was written (with `--write`).
    pub written: bool,
}

impl FileOutcome {
    /// Whether a reference of this file failed to resolve: such a file is not written.
    pub fn has_errors(&self) -> bool {
        self.references
            .iter()
            .any(|f| matches!(f.status, Status::Error(_)))
    }
}

/// A problem with a whole file: it could not be read, parsed or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: PathBuf,
    /// The line, where there is one.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Everything a run found and did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Files with at least one reference, in path order.
    pub files: Vec<FileOutcome>,
    /// Problems that make the run fail (exit 2).
    pub errors: Vec<Problem>,
    /// Problems worth a word that do not fail the run.
    pub warnings: Vec<Problem>,
    /// References that make `--check` fail: not pinned (when the policy requires
    /// digests), stale, or breaking a policy rule.
    pub failing: usize,
    /// What the registries answered, per distinct lookup.
    pub resolutions: Resolutions,
}

/// The answers of the registries, per lookup.
pub type Resolutions = BTreeMap<Lookup, Result<Digest, ResolveError>>;
