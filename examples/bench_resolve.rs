//! The resolution benchmark: 500 Dockerfiles naming 200 distinct images (one per
//! repository) resolved by the `pin` binary through a proxy that adds latency to every
//! request, in front of a local registry with token auth (the Docker Hub flow).
//!
//! Prints wall time, requests per distinct reference by kind, and pin's peak memory.
//! Run it with `benches/resolve.sh`; by hand:
//! `cargo run --release --example bench_resolve -- target/release/pin [LATENCY_MS] [-- PIN_ARGS…]`.

// The registry, seeding, token and proxy code is the test suite's own.

use pin_test_support::{proxy, push, registry, token};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use proxy::{Kind, Proxy};
use push::ImageKind;
use registry::Registry;
use token::TokenOptions;

const FILES: usize = 500;
const IMAGES: usize = 200;

fn main() {
    let mut args = std::env::args().skip(1);
    let pin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/pin"));
    let latency_ms: u64 = args
        .next()
        .filter(|a| a != "--")
        .map(|a| a.parse().expect("LATENCY_MS is a number"))
        .unwrap_or(50);
    let pin_args: Vec<String> = args.skip_while(|a| a == "--").collect();

    eprintln!("seeding {IMAGES} images into a token-auth registry…");
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let seeding = Instant::now();
    for i in 0..IMAGES {
        registry.push_image(&format!("library/img{i}"), "1.0", ImageKind::Oci);
    }
    eprintln!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let tree = tempfile::tempdir().expect("temp dir");
    write_tree(tree.path());
    let home = tempfile::tempdir().expect("temp home");

    let realm = registry.token_server().expect("token server").realm();
    let proxy = Proxy::start_with_token(registry.host(), &realm, Duration::from_millis(latency_ms));
    let host = proxy.host();

    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut cmd = Command::new(time);
        cmd.arg("-v").arg(&pin);
        cmd
    } else {
        Command::new(&pin)
    };
    cmd.args(["--mirror", &format!("docker.io={host}")])
        .args(["--insecure-registry", &host])
        .args(&pin_args)
        .arg(tree.path())
        .env("HOME", home.path())
        .env("DOCKER_CONFIG", home.path().join(".docker"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env("NO_COLOR", "1");
    let started = Instant::now();
    let output = cmd.output().expect("run pin");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let pinned = stdout
        .lines()
        .filter(|l| l.starts_with('+') && l.contains("@sha256:"))
        .count();
    if !output.status.success() {
        eprintln!("{stderr}");
        panic!("pin failed: {}", output.status);
    }

    let counts = proxy.counts();
    let count = |kind| counts.get(&kind).copied().unwrap_or(0);
    let total: usize = counts.values().sum();
    let per_ref = |n: usize| n as f64 / IMAGES as f64;
    println!("pin {}", pin_args.join(" "));
    println!("files: {FILES}, distinct references: {IMAGES}, latency per request: {latency_ms} ms");
    println!("references pinned in the diff: {pinned}");
    println!("wall time: {:.3} s", wall.as_secs_f64());
    println!(
        "requests: {total} = {:.3} per distinct reference (ping {}, token {}, HEAD {}, GET manifest {}, blob {}, other {})",
        per_ref(total),
        count(Kind::Ping),
        count(Kind::Token),
        count(Kind::HeadManifest),
        count(Kind::GetManifest),
        count(Kind::Blob),
        count(Kind::Other),
    );
    println!(
        "token + HEAD per distinct reference: {:.3}",
        per_ref(count(Kind::Token) + count(Kind::HeadManifest))
    );
    println!(
        "most requests in flight at the proxy: {}",
        proxy.most_in_flight()
    );
    match stderr.lines().find_map(|l| {
        l.trim()
            .strip_prefix("Maximum resident set size (kbytes): ")
    }) {
        Some(kb) => println!(
            "peak memory (max RSS): {:.1} MB",
            kb.trim().parse::<f64>().unwrap_or(0.0) / 1024.0
        ),
        None => println!("peak memory: unknown (install Debian's `time` for /usr/bin/time -v)"),
    }
}

/// 500 Dockerfiles in 50 folders; file `j` names image `j % 200` (and, every fifth
/// file, a second stage from the next image), so that every image is named at least
/// twice in different spellings.
fn write_tree(root: &Path) {
    for j in 0..FILES {
        let dir = root.join(format!("service{:02}", j % 50));
        std::fs::create_dir_all(&dir).expect("create service dir");
        let image = j % IMAGES;
        let spelling = match j % 3 {
            0 => format!("img{image}:1.0"),
            1 => format!("docker.io/library/img{image}:1.0"),
            _ => format!("library/img{image}:1.0"),
        };
        let mut text = format!("FROM {spelling} AS base\nRUN echo {j}\n");
        if j % 5 == 0 {
            text.push_str(&format!(
                "FROM img{}:1.0\nCOPY --from=base /x /x\n",
                (image + 1) % IMAGES
            ));
        }
        std::fs::write(dir.join(format!("{j}.Dockerfile")), text).expect("write Dockerfile");
    }
}
