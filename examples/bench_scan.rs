//! The scan and write benchmark.
//!
//! Scan: a tree of N files (default 100,000, 100 per folder) as a large monorepo holds
//! them — 60% generic YAML settings of ~2.3 KB with no image in them, 25% Kubernetes
//! Deployments of ~2.3 KB with a pinned image, 15% pinned Dockerfiles — checked offline
//! by the `pin` binary (`pin --check`), best wall time of three runs after a warm-up
//! run (the tree is in the page cache, as in a working copy being edited), with the
//! CPU time it took. `BENCH_SCAN_COMPARE=PIN` times another build in turn with it.
//!
//! Write: 500 and 5,000 Dockerfiles (10 per folder) written by the library's write
//! phase (`pipeline::write`: temporary file, fsync, rename, folder sync), best of three.
//!
//! Run it with `benches/scan.sh`; by hand:
//! `cargo run --release --example bench_scan -- target/release/pin [N]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pin::discover::{self, Excludes};
use pin::extract::FileKind;
use pin::files;
use pin::outcome::{FileOutcome, Outcome};
use pin::pipeline;
use pin::source::SourceFile;

const PER_FOLDER: usize = 100;
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn main() {
    let mut args = std::env::args().skip(1);
    let pin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/pin"));
    let count: usize = args
        .next()
        .map(|n| n.parse().expect("N is a number"))
        .unwrap_or(100_000);

    let tree = tempfile::tempdir().expect("a temporary folder");
    let bytes = write_tree(tree.path(), count);
    if let Some(kept) = std::env::var_os("BENCH_SCAN_KEEP") {
        // For profiling `pin` on the same tree by hand.
        let kept = PathBuf::from(kept);
        if !kept.exists() {
            write_tree(&kept, count);
        }
    }
    // The tree just written is 150 MB of dirty pages that the kernel writes back over
    // the next half minute, on the same two cores: flushed first, the runs measure pin
    // reading a working copy, not the kernel's writeback of a new one.
    let flushed = Command::new("sync").status();
    assert!(
        flushed.is_ok_and(|s| s.success()),
        "sync flushes the new tree"
    );
    println!(
        "scan: {count} files, {:.1} MB, {} cores",
        bytes as f64 / 1e6,
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let only_scan = std::env::var_os("BENCH_SCAN_ONLY").is_some();
    // Another build to compare with, run in turn with this one on the same tree so
    // that both meet the same load.
    let other = std::env::var_os("BENCH_SCAN_COMPARE").map(PathBuf::from);
    let binaries: Vec<&Path> = std::iter::once(pin.as_path())
        .chain(other.as_deref())
        .collect();
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); binaries.len()];
    for round in 0..4 {
        for (binary, runs) in binaries.iter().zip(&mut runs) {
            let run = check(binary, tree.path());
            // The first round warms the page cache.
            if round > 0 {
                runs.push(run);
            }
        }
    }
    for (binary, runs) in binaries.iter().zip(&runs) {
        let best = runs.iter().map(|r| r.wall).min().expect("three runs");
        let cpu = runs.iter().map(|r| r.cpu).min().expect("three runs");
        println!(
            "  {} --check: best {:.2} s wall, {:.2} s CPU (runs: {})",
            binary.display(),
            best.as_secs_f64(),
            cpu.as_secs_f64(),
            runs.iter()
                .map(|r| format!("{:.2}", r.wall.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    // The same two stages in this process, timed apart.
    let started = Instant::now();
    let found = discover::discover(
        &[tree.path().to_path_buf()],
        &Excludes::new(&[]).expect("no patterns"),
    );
    let walked = started.elapsed();
    let started = Instant::now();
    let mut outcome = Outcome::default();
    let scanned = pipeline::scan_with(&found.files, false, &mut outcome);
    let scanning = started.elapsed();
    println!(
        "  in process: walk {:.2} s, read and extract {:.2} s ({} files with references)",
        walked.as_secs_f64(),
        scanning.as_secs_f64(),
        scanned.len()
    );
    drop(tree);

    for files in [500, 5_000].into_iter().filter(|_| !only_scan) {
        for (how, serial) in [("one after another", true), ("pipeline::write", false)] {
            let best = (0..3)
                .map(|_| write(files, serial))
                .min()
                .expect("three runs");
            println!(
                "write: {files} files in {} folders, {how}: best {:.3} s ({:.0} µs per file)",
                files / 10,
                best.as_secs_f64(),
                best.as_secs_f64() * 1e6 / files as f64
            );
        }
    }
}

/// A run's wall time, and the CPU time (user and system) it took.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: Duration,
    cpu: Duration,
}

/// The CPU time the children of this process that have ended took.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// `pin --check` over `tree`, which must pass (every image is pinned).
fn check(pin: &Path, tree: &Path) -> Run {
    let cpu = children_cpu();
    let started = Instant::now();
    let output = Command::new(pin)
        .arg("--check")
        .arg(tree)
        .env("HOME", tree)
        .output()
        .expect("pin runs");
    let wall = started.elapsed();
    assert!(
        output.status.success(),
        "pin --check passes: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Run {
        wall,
        cpu: children_cpu() - cpu,
    }
}

/// Write the scan tree; its size in bytes.
fn write_tree(root: &Path, count: usize) -> usize {
    let mut bytes = 0;
    for i in 0..count {
        let folder = root.join(format!("d{:04}", i / PER_FOLDER));
        if i % PER_FOLDER == 0 {
            std::fs::create_dir_all(&folder).expect("a folder");
        }
        let (name, text) = match i % 20 {
            0..12 => (format!("settings{i}.yaml"), settings(i)),
            12..17 => (format!("deploy{i}.yaml"), deployment(i)),
            _ => (format!("app{i}.Dockerfile"), dockerfile(i)),
        };
        bytes += text.len();
        std::fs::write(folder.join(name), text).expect("a file");
    }
    bytes
}

/// Application settings: nested mappings, lists and strings, and no image.
fn settings(i: usize) -> String {
    let mut text = format!(
        "# Settings of service {i}\nservice:\n  name: svc-{i}\n  port: {}\n",
        8000 + i % 1000
    );
    for section in ["database", "cache", "queue", "metrics", "tracing", "auth"] {
        text.push_str(&format!(
            "{section}:\n  enabled: true\n  host: {section}.internal.example.com\n  timeout: 30s\n  retries: 3\n  options:\n    - name: pool-size\n      value: \"{}\"\n    - name: log-level\n      value: info\n  labels: {{team: platform, tier: backend, owner: \"team-{}\"}}\n",
            i % 64,
            i % 17
        ));
    }
    text.push_str("features:\n");
    for flag in 0..12 {
        text.push_str(&format!(
            "  flag-{flag}: {}\n",
            (i + flag).is_multiple_of(2)
        ));
    }
    text
}

/// A Deployment with one pinned container image.
fn deployment(i: usize) -> String {
    let mut text = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  labels:\n    app: app-{i}\n    team: platform\n  annotations:\n    description: \"The application {i}, deployed by the platform team\"\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/team/app{}:1.{}@{DIGEST}\n          ports:\n            - containerPort: 8080\n          env:\n",
        i % 200,
        i % 7
    );
    for var in 0..16 {
        text.push_str(&format!(
            "            - name: SETTING_{var}\n              value: \"value-{var}-{i}\"\n"
        ));
    }
    text.push_str("          resources:\n            limits: {cpu: 500m, memory: 256Mi}\n            requests: {cpu: 100m, memory: 128Mi}\n");
    text
}

fn dockerfile(i: usize) -> String {
    format!(
        "FROM registry.example.com/base/build:{}@{DIGEST} AS build\nRUN make\nFROM registry.example.com/base/run:1@{DIGEST}\nCOPY --from=build /out /app\n",
        i % 9
    )
}

/// Write `files` Dockerfiles, 10 per folder, through the write phase (or, for
/// comparison, with `files::write_atomic` one after another, each flushing its
/// folder); its wall time.
fn write(files: usize, serial: bool) -> Duration {
    let tree = tempfile::tempdir().expect("a temporary folder");
    let mut outcome = Outcome::default();
    for i in 0..files {
        let folder = tree.path().join(format!("d{:04}", i / 10));
        if i % 10 == 0 {
            std::fs::create_dir_all(&folder).expect("a folder");
        }
        let path = folder.join("Dockerfile");
        let path = path.with_file_name(format!("app{i}.Dockerfile"));
        let text = format!("FROM registry.example.com/app{i}:1.0\n");
        std::fs::write(&path, &text).expect("a file");
        let new_text = Some(format!("FROM registry.example.com/app{i}:1.0@{DIGEST}\n"));
        outcome.files.push(FileOutcome {
            source: SourceFile { path, text },
            kind: FileKind::Dockerfile,
            references: Vec::new(),
            new_text,
            written: false,
        });
    }
    let started = Instant::now();
    if serial {
        for file in &mut outcome.files {
            let new_text = file.new_text.as_deref().unwrap_or_default();
            files::write_atomic(
                &file.source.path,
                file.source.text.as_bytes(),
                new_text.as_bytes(),
            )
            .expect("written");
            file.written = true;
        }
    } else {
        pipeline::write(&mut outcome);
    }
    let took = started.elapsed();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(
        outcome.files.iter().all(|f| f.written),
        "every file written"
    );
    took
}
