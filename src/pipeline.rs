//! The run: read and extract every file, resolve what needs resolving, decide each
//! reference's fate, and compute the new text of every file that changes.
//!
//! Nothing here prints; reporters read the [`Outcome`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::discover::{self, Candidate};
use crate::extract::{self, FileKind, Reference, SkipReason, Target};
use crate::policy::{Policy, Violation};
use crate::reference::{Digest, ImageRef};
use crate::resolve::{Lookup, Mirror, ResolveError, ResolveErrorKind, Resolver, resolve_all};
use crate::rewrite::{self, Edit, ReadError};
use crate::source::{Position, Positions, SourceFile};

/// Files larger than this are reported and skipped: no Dockerfile or manifest is
/// anywhere near it, and reading it whole would cost memory for nothing.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// What the run does (at most one of `--write`, `--check`, `--list`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Resolve and show what `--write` would change.
    DryRun,
    /// Resolve and rewrite files.
    Write,
    /// Report what is not pinned (offline unless `update`).
    Check,
    /// List every reference (offline).
    List,
}

/// How the run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The mode.
    pub mode: Mode,
    /// Re-resolve references that already carry a digest.
    pub update: bool,
    /// Most lookups in flight.
    pub jobs: usize,
    /// The policy `--check` enforces.
    pub policy: Policy,
    /// `--rewrite-registry` rules: references of registry `from` become their copy
    /// under `host`/`prefix` while being pinned.
    pub rewrites: Vec<Mirror>,
    /// `--trust-private`: take the private copy's digest without asking upstream.
    pub trust_private: bool,
}

impl Options {
    /// Options for `mode` with everything else at its default.
    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            update: false,
            jobs: 32,
            policy: Policy::default(),
            rewrites: Vec::new(),
            trust_private: false,
        }
    }

    /// Whether this run asks registries anything.
    pub fn resolves(&self) -> bool {
        match self.mode {
            Mode::DryRun | Mode::Write => true,
            Mode::Check => self.update,
            Mode::List => false,
        }
    }
}

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
}

impl Found {
    /// The text that replaces the reference, when it changes.
    pub fn replacement(&self) -> Option<String> {
        let Target::Image(image) = &self.reference.target else {
            return None;
        };
        let image = self.rewritten.as_ref().unwrap_or(image);
        match &self.status {
            Status::Pin {
                digest: Some(digest),
            }
            | Status::Updated { new: digest, .. } => Some(image.pinned_text(digest)),
            _ => None,
        }
    }
}

/// The copy of `image` in a private registry that a `--rewrite-registry` rule names:
/// `python:3.12` with `docker.io=harbor.example/hub` is
/// `harbor.example/hub/library/python:3.12` (official images keep `library/`, as
/// registry proxy caches expect).
pub fn private_copy(image: &ImageRef, rewrites: &[Mirror]) -> Option<ImageRef> {
    let rule = rewrites.iter().find(|rule| rule.from == image.registry())?;
    let prefix = rule
        .prefix
        .as_deref()
        .map(|p| format!("{p}/"))
        .unwrap_or_default();
    let text = format!(
        "{}/{prefix}{}:{}",
        rule.host,
        image.repository(),
        image.tag_or_latest()
    );
    ImageRef::parse(&text).ok()
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

/// A file read and extracted, before resolution.
#[derive(Debug)]
pub struct Scanned {
    /// The file.
    pub source: SourceFile,
    /// Its kind.
    pub kind: FileKind,
    /// Its references.
    pub references: Vec<Reference>,
}

/// Read and extract every candidate. Files that cannot be read or parsed are
/// reported and left out; the rest go on.
pub fn scan(candidates: &[Candidate], outcome: &mut Outcome) -> Vec<Scanned> {
    let mut scanned = Vec::new();
    for candidate in candidates {
        // A YAML file that is not of a known kind may be anything: if it cannot be
        // read as YAML it is most likely not a manifest, so that is a warning only.
        let guessed = candidate.kind == FileKind::Kubernetes || candidate.excluded;
        let report = |outcome: &mut Outcome, line: Option<usize>, message: String| {
            let problem = Problem {
                path: candidate.path.clone(),
                line,
                message,
            };
            if guessed {
                outcome.warnings.push(problem)
            } else {
                outcome.errors.push(problem)
            }
        };
        let text = match read_text(&candidate.path) {
            Ok(text) => text,
            Err((line, message)) => {
                report(outcome, line, message);
                continue;
            }
        };
        let kind = discover::refine_kind(candidate.kind, &text);
        let mut references = match extract::extract(kind, &text) {
            Ok(references) => references,
            Err(e) => {
                report(
                    outcome,
                    Some(e.position.line),
                    format!("column {}: {}; file skipped", e.position.column, e.message),
                );
                continue;
            }
        };
        if references.is_empty() {
            continue;
        }
        if candidate.excluded {
            for reference in &mut references {
                reference.target = Target::Skip(SkipReason::Ignored);
            }
        }
        scanned.push(Scanned {
            source: SourceFile {
                path: candidate.path.clone(),
                text,
            },
            kind,
            references,
        });
    }
    scanned
}

/// Read a file as UTF-8 text, refusing what is too large, binary or not UTF-8, or
/// not a regular file (a FIFO put where a Dockerfile was must not block the run).
fn read_text(path: &Path) -> Result<String, (Option<usize>, String)> {
    let bytes = rewrite::read_regular(path, MAX_FILE_SIZE).map_err(|e| match e {
        ReadError::Io(_) => (None, e.to_string()),
        ReadError::NotAFile | ReadError::TooLarge { .. } => (None, format!("{e}; file skipped")),
    })?;
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Err((
            Some(line),
            "binary file (NUL byte); file skipped".to_string(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        (Some(line), "not valid UTF-8; file skipped".to_string())
    })
}

/// The lookups a run needs: every tagged image it will pin or re-check.
pub fn lookups(scanned: &[Scanned], options: &Options) -> Vec<Lookup> {
    if !options.resolves() {
        return Vec::new();
    }
    let mut lookups: Vec<Lookup> = scanned
        .iter()
        .flat_map(|file| &file.references)
        .filter_map(|reference| match &reference.target {
            Target::Image(image) if needs_lookup(image, options) => Some(image),
            _ => None,
        })
        .flat_map(|image| {
            let copy = private_copy(image, &options.rewrites).map(|copy| copy_lookup(&copy, image));
            let upstream = match copy {
                Some(_) if options.trust_private => None,
                _ => Some(Lookup::refreshing(image)),
            };
            upstream.into_iter().chain(copy)
        })
        .collect();
    lookups.sort();
    lookups.dedup();
    lookups
}

fn needs_lookup(image: &ImageRef, options: &Options) -> bool {
    match image.digest() {
        None => true,
        // A digest-only reference names no tag to follow.
        Some(_) => options.update && image.tag().is_some(),
    }
}

/// The lookup of a private copy: its own tag, knowing what the original is pinned to.
fn copy_lookup(copy: &ImageRef, original: &ImageRef) -> Lookup {
    Lookup {
        pinned: original.digest().map(str::to_string),
        ..Lookup::of(copy)
    }
}

/// The answers of the registries, per lookup.
pub type Resolutions = BTreeMap<Lookup, Result<Digest, ResolveError>>;

/// Decide each reference's fate and compute new texts.
pub fn decide(
    scanned: Vec<Scanned>,
    resolutions: &Resolutions,
    options: &Options,
    outcome: &mut Outcome,
) {
    for file in scanned {
        let mut positions = Positions::new(&file.source.text);
        let references: Vec<Found> = file
            .references
            .into_iter()
            .map(|reference| {
                let status = status_of(&reference, resolutions, options);
                if check_fails(&status, options) {
                    outcome.failing += 1;
                }
                let rewritten = match (&reference.target, &status) {
                    (
                        Target::Image(image),
                        Status::Pin { digest: Some(_) } | Status::Updated { .. },
                    ) => private_copy(image, &options.rewrites),
                    _ => None,
                };
                Found {
                    position: positions.of(reference.span.start),
                    text: reference.span.of(&file.source.text).to_string(),
                    reference,
                    status,
                    rewritten,
                }
            })
            .collect();
        let mut file_outcome = FileOutcome {
            source: file.source,
            kind: file.kind,
            references,
            new_text: None,
            written: false,
        };
        let edits: Vec<Edit> = file_outcome
            .references
            .iter()
            .filter_map(|found| {
                found.replacement().map(|replacement| Edit {
                    span: found.reference.span,
                    replacement,
                })
            })
            .collect();
        if !edits.is_empty() && !file_outcome.has_errors() {
            match rewrite::splice(&file_outcome.source.text, &edits) {
                Ok(text) => file_outcome.new_text = Some(text),
                Err(e) => outcome.errors.push(Problem {
                    path: file_outcome.source.path.clone(),
                    line: None,
                    message: format!("internal error, file left as it is: {e}"),
                }),
            }
        }
        outcome.files.push(file_outcome);
    }
}

fn check_fails(status: &Status, options: &Options) -> bool {
    options.mode == Mode::Check
        && match status {
            Status::Pin { .. } => options.policy.require_digest,
            Status::Stale { .. } | Status::Violation(_) => true,
            _ => false,
        }
}

fn status_of(reference: &Reference, resolutions: &Resolutions, options: &Options) -> Status {
    let image = match &reference.target {
        Target::Skip(reason) => return Status::Skip(*reason),
        Target::Image(image) => image,
    };
    if options.mode == Mode::Check
        && let Some(violation) = options.policy.check(image)
    {
        return Status::Violation(violation);
    }
    let copy = if options.mode == Mode::Check {
        None
    } else {
        private_copy(image, &options.rewrites)
    };
    let resolved = match (needs_lookup(image, options), copy) {
        (false, _) => None,
        (true, None) => resolutions.get(&Lookup::refreshing(image)).cloned(),
        (true, Some(copy)) => Some(airlock(image, &copy, resolutions, options)),
    };
    if copy_applies(image, options, resolved.as_ref()) {
        // The reference's text changes to the private copy even where the digest is
        // the one it already has.
        return match (image.digest(), resolved) {
            (None, Some(Ok(digest))) => Status::Pin {
                digest: Some(digest),
            },
            (Some(old), Some(Ok(new))) => Status::Updated {
                old: old.to_string(),
                new,
            },
            (_, Some(Err(e))) => Status::Error(e),
            (_, None) => Status::Pinned,
        };
    }
    let resolved = resolved.as_ref();
    match (image.digest(), resolved) {
        (None, None) => Status::Pin { digest: None },
        (None, Some(Ok(digest))) => Status::Pin {
            digest: Some(digest.clone()),
        },
        (Some(_), None) => Status::Pinned,
        (Some(old), Some(Ok(new))) if old == new.as_str() => Status::Pinned,
        (Some(old), Some(Ok(new))) if options.mode == Mode::Check => Status::Stale {
            old: old.to_string(),
            new: Some(new.clone()),
        },
        (Some(old), Some(Ok(new))) => Status::Updated {
            old: old.to_string(),
            new: new.clone(),
        },
        // Under `--check --update`, a pinned tag that no longer exists is stale.
        (Some(old), Some(Err(e)))
            if options.mode == Mode::Check && e.kind == ResolveErrorKind::NotFound =>
        {
            Status::Stale {
                old: old.to_string(),
                new: None,
            }
        }
        (_, Some(Err(e))) => Status::Error(e.clone()),
    }
}

/// Whether a `--rewrite-registry` rule rewrites this reference in this run.
fn copy_applies(
    image: &ImageRef,
    options: &Options,
    resolved: Option<&Result<Digest, ResolveError>>,
) -> bool {
    options.mode != Mode::Check
        && resolved.is_some()
        && private_copy(image, &options.rewrites).is_some()
}

/// `--rewrite-registry`: the digest to pin a reference's private copy to. Upstream and
/// the private registry must serve the same digest for the tag, unless
/// `--trust-private` says not to ask upstream.
#[expect(
    clippy::result_large_err,
    reason = "called once per rewritten reference, never in a loop that copies errors"
)]
fn airlock(
    image: &ImageRef,
    copy: &ImageRef,
    resolutions: &Resolutions,
    options: &Options,
) -> Result<Digest, ResolveError> {
    let copy_lookup = copy_lookup(copy, image);
    let missing = |lookup: &Lookup| ResolveError {
        lookup: lookup.clone(),
        host: lookup.registry.clone(),
        kind: ResolveErrorKind::Protocol("not resolved".to_string()),
    };
    let private = match resolutions.get(&copy_lookup) {
        Some(result) => result.clone()?,
        None => return Err(missing(&copy_lookup)),
    };
    if options.trust_private {
        return Ok(private);
    }
    let upstream_lookup = Lookup::refreshing(image);
    let upstream = match resolutions.get(&upstream_lookup) {
        Some(result) => result.clone()?,
        None => return Err(missing(&upstream_lookup)),
    };
    if upstream == private {
        Ok(private)
    } else {
        Err(ResolveError {
            host: copy_lookup.registry.clone(),
            lookup: copy_lookup,
            kind: ResolveErrorKind::CopyDiffers { upstream, private },
        })
    }
}

/// Write every file that changes (for `--write`). A file that fails to be written is
/// reported; the others are still written.
///
/// Temporary files that an earlier, killed run left beside any file of this run are
/// removed first (with a warning each), whether or not the file changes now: the
/// killed run may have written it already.
pub fn write(outcome: &mut Outcome) {
    let paths = outcome.files.iter().map(|file| file.source.path.as_path());
    for temp in rewrite::remove_stale_temps(paths) {
        outcome.warnings.push(Problem {
            path: temp,
            line: None,
            message: "removed a temporary file left by an interrupted run".to_string(),
        });
    }
    for file in &mut outcome.files {
        let Some(new_text) = &file.new_text else {
            continue;
        };
        match rewrite::write_atomic(
            &file.source.path,
            file.source.text.as_bytes(),
            new_text.as_bytes(),
        ) {
            Ok(()) => file.written = true,
            Err(e) => outcome.errors.push(Problem {
                path: file.source.path.clone(),
                line: None,
                message: format!("not written: {e}"),
            }),
        }
    }
}

/// Run the whole pipeline over `candidates`.
pub async fn run<R: Resolver + ?Sized>(
    candidates: &[Candidate],
    options: &Options,
    resolver: Option<&R>,
    on_resolved: impl Fn(&Lookup),
    on_lookups: impl FnOnce(usize),
) -> Outcome {
    let mut outcome = Outcome::default();
    let scanned = scan(candidates, &mut outcome);
    let lookups = lookups(&scanned, options);
    on_lookups(lookups.len());
    let resolutions = match resolver {
        Some(resolver) if !lookups.is_empty() => {
            resolve_all(resolver, lookups, options.jobs, on_resolved).await
        }
        _ => Resolutions::new(),
    };
    decide(scanned, &resolutions, options, &mut outcome);
    outcome.resolutions = resolutions;
    if options.mode == Mode::Write {
        write(&mut outcome);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Site;
    use crate::resolve::StaticResolver;
    use crate::source::Span;

    fn digest(n: u8) -> Digest {
        Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
    }

    fn scanned(text: &str, names: &[&str]) -> Scanned {
        let references = names
            .iter()
            .map(|name| {
                let start = text.find(name).unwrap();
                Reference::new(text, Span::new(start, start + name.len()), Site::From)
            })
            .collect();
        Scanned {
            source: SourceFile {
                path: "Dockerfile".into(),
                text: text.to_string(),
            },
            kind: FileKind::Dockerfile,
            references,
        }
    }

    fn lookup(text: &str) -> Lookup {
        Lookup::of(&ImageRef::parse(text).unwrap())
    }

    #[test]
    fn dry_run_pins_untagged_as_latest_and_dedups_lookups() {
        let text = "FROM node AS a\nFROM docker.io/library/node:latest\nFROM python:3\n";
        let files = vec![scanned(
            text,
            &["node", "docker.io/library/node:latest", "python:3"],
        )];
        let options = Options {
            update: false,
            ..Options::new(Mode::DryRun)
        };
        let wanted = lookups(&files, &options);
        assert_eq!(wanted, vec![lookup("node"), lookup("python:3")]);
        let mut resolutions = Resolutions::new();
        resolutions.insert(lookup("node"), Ok(digest(1)));
        resolutions.insert(lookup("python:3"), Ok(digest(2)));
        let mut outcome = Outcome::default();
        decide(files, &resolutions, &options, &mut outcome);
        let new_text = outcome.files[0].new_text.clone().unwrap();
        assert_eq!(
            new_text,
            format!(
                "FROM node:latest@{d1} AS a\nFROM docker.io/library/node:latest@{d1}\nFROM python:3@{d2}\n",
                d1 = digest(1),
                d2 = digest(2)
            )
        );
    }

    #[test]
    fn a_file_with_an_unresolved_reference_gets_no_new_text() {
        let text = "FROM a:1\nFROM b:1\n";
        let files = vec![scanned(text, &["a:1", "b:1"])];
        let options = Options {
            update: false,
            ..Options::new(Mode::Write)
        };
        let resolver = StaticResolver {
            digests: [(lookup("a:1"), digest(1))].into(),
        };
        let resolutions = futures::executor::block_on(resolve_all(
            &resolver,
            lookups(&files, &options),
            2,
            |_| {},
        ));
        let mut outcome = Outcome::default();
        decide(files, &resolutions, &options, &mut outcome);
        assert!(outcome.files[0].has_errors());
        assert_eq!(outcome.files[0].new_text, None);
    }

    #[test]
    fn update_replaces_moved_digests_and_check_update_calls_them_stale() {
        let pinned = format!("a:1@{}", digest(1));
        let text = format!("FROM {pinned}\n");
        let mut resolutions = Resolutions::new();
        let refreshing = Lookup::refreshing(&ImageRef::parse(&pinned).unwrap());
        assert_eq!(refreshing.pinned, Some(digest(1).to_string()));
        resolutions.insert(refreshing, Ok(digest(2)));
        for (mode, expected) in [
            (
                Mode::Write,
                Status::Updated {
                    old: digest(1).to_string(),
                    new: digest(2),
                },
            ),
            (
                Mode::Check,
                Status::Stale {
                    old: digest(1).to_string(),
                    new: Some(digest(2)),
                },
            ),
        ] {
            let options = Options {
                update: true,
                ..Options::new(mode)
            };
            let mut outcome = Outcome::default();
            decide(
                vec![scanned(&text, &[&pinned])],
                &resolutions,
                &options,
                &mut outcome,
            );
            assert_eq!(outcome.files[0].references[0].status, expected);
        }
        // Without --update an existing digest is left alone and not looked up.
        let options = Options {
            update: false,
            ..Options::new(Mode::Write)
        };
        assert!(lookups(&[scanned(&text, &[&pinned])], &options).is_empty());
    }
}
