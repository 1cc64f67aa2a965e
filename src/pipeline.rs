//! The run, stage by stage: scan (read and extract every file) → plan the lookups →
//! resolve them → decide each reference's fate ([`crate::decide`]) → splice the new
//! texts → write.
//!
//! Nothing here prints; reporters read the [`Outcome`].

mod parallel;
pub(crate) use parallel::cores;
mod pieces;
mod streamed;

pub use pieces::{scan_patterns, warn_unread_digests};

use std::collections::HashSet;
use std::task::Poll;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use pin_registry::{ArtifactSource, Lookup, Resolver, resolve_all};

use crate::airlock::RegistryRewrite;
use crate::decide::{self, check_fails, needs_lookup, status_of};
use crate::discover::{self, Candidate};
use crate::extract::patterns::Patterns;
use crate::extract::{self, FileKind, Reference, SkipReason, Target};
use crate::files;
use crate::outcome::{FileOutcome, Found, Outcome, Problem, Resolutions, Status};
use crate::policy::Policy;
use crate::rewrite::{self, Edit};
use crate::source::{Positions, SourceFile};
use crate::trust::Trust;
use crate::verify::{self, Checked};

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
    /// `--rewrite-registry` rules and `--trust-private`.
    pub airlock: RegistryRewrite,
    /// `[[patterns]]` of the settings file.
    pub patterns: Patterns,
    /// `--allow-unparsable`: a file that was read but could not be understood is a
    /// warning, not an error (see [`scan`]).
    pub allow_unparsable: bool,
    /// `[[trust]]` rules and the trusted root.
    pub trust: Trust,
    /// `--verify` (with `--check`): every pinned digest must exist and pass its rule.
    pub verify: bool,
}

impl Options {
    /// Options for `mode` with everything else at its default.
    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            update: false,
            jobs: 32,
            policy: Policy::default(),
            airlock: RegistryRewrite::default(),
            patterns: Patterns::default(),
            allow_unparsable: false,
            trust: Trust::default(),
            verify: false,
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
///
/// The gate fails closed: such a file is an error (the run exits 2), whatever its
/// kind, since the references it holds cannot be checked. Two exceptions make it a
/// warning: a YAML file that pin recognises as no kind and that has no `image:` key
/// (it is most likely not a manifest at all), and an excluded file. With
/// `--allow-unparsable` every file that was read but could not be understood (too
/// large, binary, not UTF-8, a syntax error) is a warning; a file that could not be
/// read at all (no permission, gone) is always an error.
pub fn scan(candidates: &[Candidate], outcome: &mut Outcome) -> Vec<Scanned> {
    scan_with(candidates, false, outcome)
}

/// [`scan`], with `allow_unparsable` as `--allow-unparsable` sets it.
///
/// Files are read and extracted on every core; the files, errors and warnings come
/// out in the candidates' order, as a scan of one file after another gives them.
pub fn scan_with(
    candidates: &[Candidate],
    allow_unparsable: bool,
    outcome: &mut Outcome,
) -> Vec<Scanned> {
    // Chunks small enough that the threads finish together, large enough that
    // taking one costs nothing beside reading its files.
    const CHUNK: usize = 16;
    let results = parallel::map_in_order(candidates, parallel::cores(), CHUNK, |candidate| {
        scan_one(candidate, allow_unparsable)
    });
    let mut scanned = Vec::new();
    for result in results {
        match result {
            FileScan::Found(file) => scanned.push(file),
            FileScan::Problem(true, problem) => outcome.errors.push(problem),
            FileScan::Problem(false, problem) => outcome.warnings.push(problem),
            FileScan::Nothing => {}
        }
    }
    scanned
}

/// Files scanned between two looks at the warm-ups of [`scan_warming_up`]: a few
/// milliseconds of work on two cores.
const WARM_UP_CHUNK: usize = 512;

/// [`scan_with`], a chunk of files at a time, starting the resolver's warm-up
/// ([`Resolver::warm_up`]: the `/v2/` ping, the credentials) of each registry as soon
/// as the first file that needs a lookup there is read, so that it overlaps the rest
/// of the scan. Between chunks the warm-ups are given a turn; those still under way
/// are left in `warm_ups` for the caller to drive to their end. What is found, and
/// in which order, is what [`scan_with`] finds: a registry is warmed up only if a
/// lookup there is planned, so no request is added.
async fn scan_warming_up<'a, R: Resolver + ?Sized>(
    candidates: &[Candidate],
    options: &Options,
    resolver: &'a R,
    warm_ups: &mut FuturesUnordered<BoxFuture<'a, ()>>,
    outcome: &mut Outcome,
) -> Vec<Scanned> {
    let mut warmed: HashSet<String> = HashSet::new();
    let mut scanned = Vec::new();
    for chunk in candidates.chunks(WARM_UP_CHUNK) {
        let found = scan_with(chunk, options.allow_unparsable, outcome);
        for lookup in lookups(&found, options) {
            if warmed.insert(lookup.registry.clone()) {
                warm_ups.push(Box::pin(async move { resolver.warm_up(&lookup).await }));
            }
        }
        scanned.extend(found);
        // Let the warm-ups send what they can; none of them is waited for here.
        while let Poll::Ready(Some(())) = futures::poll!(warm_ups.next()) {}
    }
    scanned
}

/// What scanning one file gives.
enum FileScan {
    /// Its references.
    Found(Scanned),
    /// A problem: an error (`true`: the run fails) or a warning.
    Problem(bool, Problem),
    /// No reference.
    Nothing,
}

/// Read and extract one candidate (see [`scan`] for which problems are errors).
fn scan_one(candidate: &Candidate, allow_unparsable: bool) -> FileScan {
    let report = |fatal: bool, line: Option<usize>, message: String| {
        let problem = Problem {
            path: candidate.path.clone(),
            line,
            message,
        };
        FileScan::Problem(fatal, problem)
    };
    // Whether a file that was read but not understood fails the run.
    let unparsable_fails = |holds_images: bool, recognised: bool| {
        !allow_unparsable && !candidate.excluded && (holds_images || recognised)
    };
    let known_kind = candidate.kind != FileKind::Kubernetes;
    let bytes = match files::read_regular(&candidate.path, files::MAX_FILE_SIZE) {
        Ok(bytes) => bytes,
        Err(e) => {
            let fatal = match e {
                files::ReadError::Io(_) => !candidate.excluded,
                // Nothing was read: what it holds is unknown.
                files::ReadError::NotAFile | files::ReadError::TooLarge { .. } => {
                    unparsable_fails(true, true)
                }
            };
            let e = files::TextError::Read(e);
            return report(fatal, e.line(), e.to_string());
        }
    };
    // Whether the bytes hold an `image` key is asked only of a file that fails.
    let text = match files::into_text(bytes) {
        Ok(text) => text,
        Err((e, bytes)) => {
            let fatal = unparsable_fails(has_image_key(&bytes), known_kind);
            return report(fatal, e.line(), e.to_string());
        }
    };
    let kind = discover::refine_kind(candidate.kind, &text);
    let mut references = match extract::extract(kind, &text) {
        Ok(references) => references,
        Err(e) => {
            let holds_images = has_image_key(text.as_bytes());
            let fatal = unparsable_fails(holds_images, kind != FileKind::Kubernetes);
            return report(
                fatal,
                Some(e.position.line),
                format!("column {}: {}; file skipped", e.position.column, e.message),
            );
        }
    };
    if references.is_empty() {
        return FileScan::Nothing;
    }
    if candidate.excluded {
        for reference in &mut references {
            reference.target = Target::Skip(SkipReason::Ignored);
        }
    }
    FileScan::Found(Scanned {
        source: SourceFile {
            path: candidate.path.clone(),
            text,
        },
        kind,
        references,
    })
}

/// Whether `bytes` hold an `image` key: `image:`, `"image":` or `'image' :`. A
/// cheap look at the bytes, for files that could not be parsed: a hit means the
/// file may well hold image references.
fn has_image_key(bytes: &[u8]) -> bool {
    const KEY: &[u8] = b"image";
    let mut rest = bytes;
    while let Some(at) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[at + KEY.len()..];
        let after = rest
            .iter()
            .position(|&b| !matches!(b, b'"' | b'\'' | b' ' | b'\t'))
            .map_or(&[][..], |skip| &rest[skip..]);
        if after.first() == Some(&b':') {
            return true;
        }
    }
    false
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
        .flat_map(|image| options.airlock.lookups(image))
        .collect();
    lookups.sort();
    lookups.dedup();
    lookups
}

/// Decide each reference's fate and compute new texts.
pub fn decide(
    scanned: Vec<Scanned>,
    resolutions: &Resolutions,
    options: &Options,
    outcome: &mut Outcome,
) {
    decide_checked(scanned, resolutions, &Checked::default(), options, outcome);
}

/// [`decide`], with the signatures the verify stage judged.
///
/// Files are decided on every core (each on its own: its positions, its new text);
/// the files and problems come out in the scan's order.
pub fn decide_checked(
    scanned: Vec<Scanned>,
    resolutions: &Resolutions,
    checked: &Checked,
    options: &Options,
    outcome: &mut Outcome,
) {
    // Deciding a file is cheap beside reading it: large chunks.
    const CHUNK: usize = 256;
    let decided = parallel::map_owned_in_order(scanned, parallel::cores(), CHUNK, |file| {
        decide_file(file, resolutions, checked, options)
    });
    for decided in decided {
        outcome.failing += decided.failing;
        outcome.errors.extend(decided.problem);
        outcome.files.push(decided.file);
    }
}

/// One file decided.
struct Decided {
    file: FileOutcome,
    /// How many of its references fail `--check`.
    failing: usize,
    /// Why its new text could not be made.
    problem: Option<Problem>,
}

/// Decide the fate of each reference of one file, and its new text.
fn decide_file(
    file: Scanned,
    resolutions: &Resolutions,
    checked: &Checked,
    options: &Options,
) -> Decided {
    let mut failing = 0;
    let mut positions = Positions::new(&file.source.text);
    let references: Vec<Found> = file
        .references
        .into_iter()
        .map(|reference| {
            let status = status_of(&reference, resolutions, options);
            let (status, signature) = verify::apply(&reference, status, checked, options);
            if check_fails(&status, options) {
                failing += 1;
            }
            let rewritten = match (&reference.target, &status) {
                (
                    Target::Image(image),
                    Status::Pin { digest: Some(_) } | Status::Updated { .. },
                ) => decide::private_copy(image, options),
                _ => None,
            };
            Found {
                position: positions.of(reference.span.start),
                text: reference.text(&file.source.text),
                reference,
                status,
                rewritten,
                signature,
            }
        })
        .collect();
    let mut file = FileOutcome {
        source: file.source,
        kind: file.kind,
        references,
        new_text: None,
        written: false,
    };
    let edits: Vec<Edit> = file.references.iter().filter_map(Found::edit).collect();
    let mut problem = None;
    if !edits.is_empty() && !file.has_errors() {
        let message = match rewrite::splice(&file.source.text, &edits) {
            // A dry run shows no diff that --write would refuse.
            Ok(text) => match files::fits_the_limit(text.as_bytes()) {
                Ok(()) => {
                    file.new_text = Some(text);
                    None
                }
                Err(e) => Some(e.to_string()),
            },
            Err(e) => Some(format!("internal error, file left as it is: {e}")),
        };
        problem = message.map(|message| Problem {
            path: file.source.path.clone(),
            line: None,
            message,
        });
    }
    Decided {
        file,
        failing,
        problem,
    }
}

/// Files written at once: writing is mostly waiting for the disk (two flushes a
/// file), so a few files at once overlap those waits, on any number of cores.
const WRITERS: usize = 8;

/// Write every file that changes (for `--write`). A file that fails to be written is
/// reported; the others are still written.
///
/// Temporary files that an earlier, killed run left beside any file of this run are
/// removed first (with a warning each), whether or not the file changes now: the
/// killed run may have written it already.
pub fn write(outcome: &mut Outcome) {
    let paths = outcome.files.iter().map(|file| file.source.path.as_path());
    let stale = stale_temps(paths);
    outcome.warnings.extend(stale);
    let changed: Vec<usize> = (0..outcome.files.len())
        .filter(|&i| outcome.files[i].new_text.is_some())
        .collect();
    let results = parallel::map_in_order(&changed, WRITERS, 1, |&i| {
        let file = &outcome.files[i];
        let new_text = file.new_text.as_deref().unwrap_or_default();
        files::replace_atomic(
            &file.source.path,
            file.source.text.as_bytes(),
            new_text.as_bytes(),
        )
    });
    let folders = results
        .iter()
        .filter_map(|result| result.as_ref().ok().cloned());
    sync_folders(folders.collect());
    for (i, result) in changed.into_iter().zip(results) {
        let file = &mut outcome.files[i];
        match result {
            Ok(_) => file.written = true,
            Err(e) => outcome.errors.push(streamed::not_written(file, &e)),
        }
    }
}

/// Remove the temporary files an interrupted run left beside `paths`: a warning each.
fn stale_temps<'a>(paths: impl IntoIterator<Item = &'a std::path::Path>) -> Vec<Problem> {
    files::remove_stale_temps(paths)
        .into_iter()
        .map(|temp| Problem {
            path: temp,
            line: None,
            message: "removed a temporary file left by an interrupted run".to_string(),
        })
        .collect()
}

/// Flush each of `folders` (the folders of files just renamed into place) once,
/// several at once.
fn sync_folders(folders: Vec<std::path::PathBuf>) {
    let folders: std::collections::BTreeSet<std::path::PathBuf> = folders.into_iter().collect();
    let folders: Vec<std::path::PathBuf> = folders.into_iter().collect();
    parallel::map_in_order(&folders, WRITERS, 1, |folder| files::sync_folder(folder));
}

/// Run the whole pipeline over `candidates`.
pub async fn run<R: Resolver + ?Sized>(
    candidates: &[Candidate],
    options: &Options,
    resolver: Option<&R>,
    on_resolved: impl Fn(&Lookup),
    on_lookups: impl FnOnce(&[Lookup]),
) -> Outcome {
    run_verified(candidates, options, resolver, None, on_resolved, on_lookups).await
}

/// [`run`], with signatures and image facts from `artifacts` for the `[[trust]]` rules
/// (without it, a rule that requires signatures finds none).
pub async fn run_verified<R: Resolver + ?Sized>(
    candidates: &[Candidate],
    options: &Options,
    resolver: Option<&R>,
    artifacts: Option<&dyn ArtifactSource>,
    on_resolved: impl Fn(&Lookup),
    on_lookups: impl FnOnce(&[Lookup]),
) -> Outcome {
    let mut outcome = Outcome::default();
    let mut warm_ups = FuturesUnordered::new();
    let mut scanned = match resolver {
        Some(resolver) if options.resolves() => {
            scan_warming_up(candidates, options, resolver, &mut warm_ups, &mut outcome).await
        }
        _ => scan_with(candidates, options.allow_unparsable, &mut outcome),
    };
    scan_patterns(candidates, &options.patterns, &mut scanned, &mut outcome);
    let lookups = lookups(&scanned, options);
    on_lookups(&lookups);
    // Without signatures to check, `--write` writes each file as soon as its own
    // lookups are answered (on the runtime's blocking threads).
    let verifies = artifacts.is_some() && !options.trust.is_empty();
    let streams = options.mode == Mode::Write
        && !verifies
        && !lookups.is_empty()
        && tokio::runtime::Handle::try_current().is_ok();
    if let (true, Some(resolver)) = (streams, resolver) {
        let writing = streamed::resolve_and_write(
            scanned,
            lookups,
            resolver,
            options,
            on_resolved,
            &mut outcome,
        );
        let (resolutions, stale) = beside(writing, warm_ups).await;
        warn_unread_digests(&mut outcome);
        outcome.warnings.extend(stale);
        outcome.resolutions = resolutions;
        return outcome;
    }
    let resolving = async {
        match resolver {
            Some(resolver) if !lookups.is_empty() => {
                resolve_all(resolver, lookups, options.jobs, on_resolved).await
            }
            _ => Resolutions::new(),
        }
    };
    let resolutions = beside(resolving, warm_ups).await;
    let checked = match artifacts {
        Some(artifacts) if !options.trust.is_empty() => {
            verify::check(&scanned, &resolutions, options, artifacts).await
        }
        _ => Checked::default(),
    };
    decide_checked(scanned, &resolutions, &checked, options, &mut outcome);
    warn_unread_digests(&mut outcome);
    outcome.resolutions = resolutions;
    if options.mode == Mode::Write {
        write(&mut outcome);
    }
    outcome
}

/// `work` (the lookups), with the warm-ups still under way driven beside it, since the
/// lookups share them (dropping one would cancel its request, and a lookup would send
/// it again), until `work` is done: one still under way then is one whose lookups
/// gave up.
async fn beside<T>(
    work: impl std::future::Future<Output = T>,
    warm_ups: FuturesUnordered<BoxFuture<'_, ()>>,
) -> T {
    let warming = warm_ups.collect::<()>();
    futures::pin_mut!(work);
    match futures::future::select(work, warming).await {
        futures::future::Either::Left((done, _)) => done,
        futures::future::Either::Right(((), work)) => work.await,
    }
}

#[cfg(test)]
mod tests;
