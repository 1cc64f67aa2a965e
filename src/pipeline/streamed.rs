//! `--write` with the writes overlapping the lookups: a file is decided as soon as
//! the last lookup it needs is answered, and written while the others are still under
//! way, up to [`WRITERS`] files at once, on the blocking threads. Each folder is
//! flushed once, after the last write.
//!
//! What comes out is what [`super::decide_checked`] then [`super::write`] give: the
//! files in the scan's order, the problems of deciding them in that order, then those
//! of writing them in that order. Used when no `[[trust]]` rule asks for signatures
//! (the verify stage needs every answer first) and the run has a tokio runtime.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pin_registry::{Lookup, Resolver, resolve_each};

use super::{Decided, Options, Scanned, WRITERS, decide_file, lookups, sync_folders};
use crate::files::{self, WriteError};
use crate::outcome::{FileOutcome, Outcome, Problem, Resolutions};
use crate::verify::Checked;

/// Resolve `lookups` and write each file of `scanned` that changes as soon as its own
/// lookups are answered. The decided files and the problems go to `outcome`; the
/// answers are returned, and the warnings about temporary files an interrupted run
/// left (removed first, as [`super::write`] does).
pub(super) async fn resolve_and_write<R: Resolver + ?Sized>(
    scanned: Vec<Scanned>,
    all: Vec<Lookup>,
    resolver: &R,
    options: &Options,
    on_resolved: impl Fn(&Lookup),
    outcome: &mut Outcome,
) -> (Resolutions, Vec<Problem>) {
    let stale = super::stale_temps(scanned.iter().map(|file| file.source.path.as_path()));
    let count = scanned.len();
    // How many answers each file still waits for, and which files each lookup frees.
    let mut waits: Vec<usize> = vec![0; count];
    let mut waiting: HashMap<Lookup, Vec<usize>> = HashMap::new();
    for (index, file) in scanned.iter().enumerate() {
        let own = lookups(std::slice::from_ref(file), options);
        waits[index] = own.len();
        for lookup in own {
            waiting.entry(lookup).or_default().push(index);
        }
    }
    let mut files: Vec<Option<Scanned>> = scanned.into_iter().map(Some).collect();
    let mut decided: Vec<Option<Decided>> = (0..count).map(|_| None).collect();
    let mut written: Vec<Option<Result<PathBuf, WriteError>>> = (0..count).map(|_| None).collect();
    let mut ready: VecDeque<usize> = (0..count).filter(|&i| waits[i] == 0).collect();
    let mut to_write: VecDeque<usize> = VecDeque::new();
    let mut writing = FuturesUnordered::new();
    let mut resolutions = Resolutions::new();
    let checked = Checked::default();

    let answers = resolve_each(resolver, all, options.jobs);
    futures::pin_mut!(answers);
    let mut answering = true;
    loop {
        while let Some(index) = ready.pop_front() {
            let Some(file) = files[index].take() else {
                continue;
            };
            let file = decide_file(file, &resolutions, &checked, options);
            if file.file.new_text.is_some() {
                to_write.push_back(index);
            }
            decided[index] = Some(file);
        }
        while writing.len() < WRITERS
            && let Some(index) = to_write.pop_front()
        {
            let Some(file) = decided[index].take() else {
                continue;
            };
            writing.push(tokio::task::spawn_blocking(move || {
                let source = &file.file.source;
                let new_text = file.file.new_text.as_deref().unwrap_or_default();
                let result = files::replace_atomic(
                    &source.path,
                    source.text.as_bytes(),
                    new_text.as_bytes(),
                );
                (index, file, result)
            }));
        }
        if !answering && writing.is_empty() && to_write.is_empty() {
            break;
        }
        tokio::select! {
            answer = answers.next(), if answering => match answer {
                Some((lookup, result)) => {
                    on_resolved(&lookup);
                    for index in waiting.remove(&lookup).unwrap_or_default() {
                        waits[index] -= 1;
                        if waits[index] == 0 {
                            ready.push_back(index);
                        }
                    }
                    resolutions.insert(lookup, result);
                }
                None => answering = false,
            },
            Some(done) = writing.next(), if !writing.is_empty() => match done {
                Ok((index, file, result)) => {
                    decided[index] = Some(file);
                    written[index] = Some(result);
                }
                // A write that panicked is the run's panic, as if it had run here.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            },
        }
    }

    // Each folder is flushed once, after the last rename in it.
    let folders: Vec<PathBuf> = written
        .iter()
        .flatten()
        .filter_map(|result| result.as_ref().ok().cloned())
        .collect();
    let _ = tokio::task::spawn_blocking(move || sync_folders(folders)).await;

    let mut write_errors = Vec::new();
    for (decided, result) in decided.into_iter().zip(written) {
        // Every file was decided once its last answer came; `None` cannot be left.
        let Some(Decided {
            mut file,
            failing,
            problem,
        }) = decided
        else {
            continue;
        };
        outcome.failing += failing;
        outcome.errors.extend(problem);
        match result {
            Some(Ok(_)) => file.written = true,
            Some(Err(e)) => write_errors.push(not_written(&file, &e)),
            None => {}
        }
        outcome.files.push(file);
    }
    outcome.errors.extend(write_errors);
    (resolutions, stale)
}

/// A write that failed, as [`super::write`] reports it.
pub(super) fn not_written(file: &FileOutcome, error: &WriteError) -> Problem {
    Problem {
        path: file.source.path.clone(),
        line: None,
        message: format!("not written: {error}"),
    }
}
