//! Work spread over threads, results kept in input order: the scan reads and
//! extracts files on every core, the write phase writes several files at once.
//!
//! A small work queue (an atomic counter over fixed-size chunks) instead of a thread
//! pool crate: items vary a lot in cost (a 40-byte Dockerfile beside a 2 MB manifest),
//! so threads take the next chunk when they are done rather than a fixed share, and
//! the results are put back in order at the end, so the run's output does not depend
//! on the number of threads or on timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// `work` applied to every item on up to `threads` threads (the calling one
/// included), `chunk` items at a time; the results in the items' order.
pub(crate) fn map_in_order<T, R, F>(items: &[T], threads: usize, chunk: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let chunk = chunk.max(1);
    let chunks = items.len().div_ceil(chunk);
    let threads = threads.min(chunks);
    if threads <= 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let start = index * chunk;
            if start >= items.len() {
                break;
            }
            let part = &items[start..items.len().min(start + chunk)];
            done.push((index, part.iter().map(&work).collect()));
        }
        done
    };
    let mut done: Vec<(usize, Vec<R>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
        let mut done = run();
        for helper in helpers {
            match helper.join() {
                Ok(part) => done.extend(part),
                // A worker's panic is the caller's panic, as if it had run here.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    });
    done.sort_unstable_by_key(|(index, _)| *index);
    done.into_iter().flat_map(|(_, results)| results).collect()
}

/// [`map_in_order`] over owned items: `work` takes each item by value.
pub(crate) fn map_owned_in_order<T, R, F>(
    items: Vec<T>,
    threads: usize,
    chunk: usize,
    work: F,
) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let chunk = chunk.max(1);
    let mut parts: Vec<Mutex<Vec<T>>> = Vec::with_capacity(items.len().div_ceil(chunk));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        parts.push(Mutex::new(items.by_ref().take(chunk).collect()));
    }
    let done = map_in_order(&parts, threads, 1, |part| {
        // Each part is taken by exactly one thread, once.
        let part = std::mem::take(&mut *part.lock().unwrap_or_else(PoisonError::into_inner));
        part.into_iter().map(&work).collect::<Vec<R>>()
    });
    done.into_iter().flatten().collect()
}

/// The threads the machine can run at once (1 when that cannot be told).
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_threads() {
        let items: Vec<u64> = (0..1000).collect();
        let serial: Vec<u64> = items.iter().map(|n| n * n).collect();
        for threads in [1, 2, 3, 8] {
            for chunk in [1, 7, 64, 5000] {
                let parallel = map_in_order(&items, threads, chunk, |n| n * n);
                assert_eq!(parallel, serial, "{threads} threads, chunks of {chunk}");
            }
        }
        assert!(map_in_order(&[] as &[u64], 4, 8, |n| *n).is_empty());
        for threads in [1, 2, 3] {
            for chunk in [1, 7, 5000] {
                let owned = map_owned_in_order(items.clone(), threads, chunk, |n| n * n);
                assert_eq!(owned, serial, "{threads} threads, chunks of {chunk}");
            }
        }
        assert!(map_owned_in_order(Vec::<u64>::new(), 2, 8, |n| n).is_empty());
    }
}
