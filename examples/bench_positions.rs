//! The positions benchmark: files with many references on one line — a `RUN` with
//! 100,000 `--mount=from=` flags, and a Kubernetes pod whose containers are one flow
//! sequence of 100,000 images — listed the way `pin --list --format json` lists them
//! (read, extract, decide with line and column, render), each stage timed.
//!
//! For comparison it also times the column count from each line's start (what `pin`
//! did before `Positions`) for every tenth reference.
//!
//! Run it in a release build: `cargo run --release --example bench_positions [N]`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pin::discover::Candidate;
use pin::extract::FileKind;
use pin::outcome::{Outcome, Resolutions};
use pin::pipeline::{self, Mode, Options};
use pin::report;
use pin::source::LineIndex;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(100_000);
    let folder = tempfile::tempdir().expect("a temporary folder");

    let mut dockerfile = String::from("FROM alpine:3.20\nRUN");
    for i in 0..count {
        dockerfile.push_str(&format!(
            " --mount=type=bind,from=alpine:3.{i},target=/m{i}"
        ));
    }
    dockerfile.push_str(" true\n");

    let images: Vec<String> = (0..count)
        .map(|i| format!("{{name: c{i}, image: alpine:3.{i}}}"))
        .collect();
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{}]\n",
        images.join(", ")
    );

    for (name, kind, text) in [
        ("Dockerfile", FileKind::Dockerfile, dockerfile),
        ("pod.yaml", FileKind::Kubernetes, manifest),
    ] {
        let path = folder.path().join(name);
        std::fs::write(&path, &text).expect("write the file");
        measure(path, kind, &text);
    }
}

fn measure(path: PathBuf, kind: FileKind, text: &str) {
    let candidate = Candidate {
        path,
        kind,
        excluded: false,
    };
    let options = Options::new(Mode::List);
    let mut outcome = Outcome::default();

    let (scanned, read_and_extract) = timed(|| pipeline::scan(&[candidate], &mut outcome));
    let references: usize = scanned.iter().map(|s| s.references.len()).sum();
    let ((), decide) =
        timed(|| pipeline::decide(scanned, &Resolutions::new(), &options, &mut outcome));
    let (json, render) = timed(|| report::json::render(&outcome, true));
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let last = outcome.files[0].references.last().expect("a reference");

    let offsets: Vec<usize> = outcome.files[0]
        .references
        .iter()
        .step_by(10)
        .map(|found| found.reference.span.start)
        .collect();
    let index = LineIndex::new(text);
    let (_, from_line_start) = timed(|| {
        offsets
            .iter()
            .map(|&offset| index.position(text, offset).column)
            .sum::<usize>()
    });

    println!(
        "{kind:?}: {} bytes, {references} references, the last at line {} column {}",
        text.len(),
        last.position.line,
        last.position.column
    );
    println!(
        "  read + extract {}, decide (positions) {}, JSON {} ({} bytes); total {}",
        ms(read_and_extract),
        ms(decide),
        ms(render),
        json.len(),
        ms(read_and_extract + decide + render)
    );
    println!(
        "  columns counted from the line start, for {} of them: {}",
        offsets.len(),
        ms(from_line_start)
    );
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn ms(duration: Duration) -> String {
    format!("{:.0} ms", duration.as_secs_f64() * 1000.0)
}
