//! The resolution benchmark: 500 Dockerfiles naming 200 distinct images (one per
//! repository) resolved by the `pin` binary through a proxy that adds latency to every
//! request, in front of a local registry with token auth (the Docker Hub flow).
//!
//! Prints wall time, requests per distinct reference by kind, and pin's peak memory.
//! Run it with `benches/resolve.sh`; by hand:
//! `cargo run --release --example bench_resolve -- target/release/pin [LATENCY_MS]
//! [--faults [--seed N]] [--signed] [--per-host N] [--files N] [--images N]
//! [-- PIN_ARGS…]`.
//!
//! `--signed`: every image is signed (cosign v2) and the tree's `pin.toml` has a
//! `[[trust]]` rule that requires that key, so the run verifies every digest.
//!
//! `--faults`: the proxy answers 10 % of all requests 429 with `Retry-After: 1` and 5 %
//! 500 (a fixed random sequence; each request at most once, so its retry gets through). `--per-host N`: resolve the same lookups through the
//! library with a per-registry cap of N instead of running the binary (the cap is a
//! builder setting), `--jobs` 32 as the binary's default.

// The registry, seeding, token and proxy code is the test suite's own.

use pin_test_support::{proxy, push, registry, token};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pin_registry::credentials::CredentialSources;
use pin_registry::{ImageRef, Lookup, RegistryConfig, RegistryResolver, resolve_all};
use pin_sigstore::signing::{SigningKey, sign_simple_signing};
use proxy::{Fault, Kind, Proxy};
use push::ImageKind;
use registry::Registry;
use token::TokenOptions;

/// The tree's size: `--files N` Dockerfiles (500) naming `--images N` distinct
/// images (200).
static SIZES: std::sync::OnceLock<(usize, usize)> = std::sync::OnceLock::new();

fn files() -> usize {
    SIZES.get().map_or(500, |s| s.0)
}

fn images() -> usize {
    SIZES.get().map_or(200, |s| s.1)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/release/pin"));
    let mut latency_ms: u64 = 50;
    let mut faults = false;
    let mut signed = false;
    // Which requests the faults hit: a fixed random sequence, 17 unless told.
    let mut seed: u64 = 17;
    let mut per_host: Option<usize> = None;
    let mut pin_args: Vec<String> = Vec::new();
    let (mut files_wanted, mut images_wanted) = (500, 200);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--files" => {
                files_wanted = args.next().and_then(|n| n.parse().ok()).expect("--files N")
            }
            "--images" => {
                images_wanted = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--images N")
            }
            "--" => {
                pin_args = args.by_ref().collect();
            }
            "--faults" => faults = true,
            "--signed" => signed = true,
            "--seed" => seed = args.next().and_then(|n| n.parse().ok()).expect("--seed N"),
            "--per-host" => {
                per_host = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .expect("--per-host N"),
                )
            }
            number => latency_ms = number.parse().expect("LATENCY_MS is a number"),
        }
    }

    SIZES
        .set((files_wanted, images_wanted))
        .expect("sizes set once");
    eprintln!("seeding {} images into a token-auth registry…", images());
    let registry = Registry::start_with_token_auth(TokenOptions::default());
    let seeding = Instant::now();
    // `--signed`: each image signed the cosign v2 way with one key, which a
    // `[[trust]]` rule of the tree's pin.toml requires.
    let key = signed.then(|| SigningKey::generate().expect("a key"));
    for i in 0..images() {
        let repository = format!("library/img{i}");
        let pushed = registry.push_image(&repository, "1.0", ImageKind::Oci);
        if let Some(key) = &key {
            let layer = sign_simple_signing(key, &pushed.digest, None).expect("signed");
            registry.push_cosign_signatures(
                &repository,
                &pushed.digest,
                &[(layer.payload, layer.annotations)],
            );
        }
    }
    eprintln!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

    let tree = tempfile::tempdir().expect("temp dir");
    write_tree(tree.path());
    if let Some(key) = &key {
        std::fs::write(tree.path().join("publisher.pub"), key.public_key_pem()).expect("key");
        std::fs::write(
            tree.path().join("pin.toml"),
            "[[trust]]\nimages = [\"docker.io/library/*\"]\nkeys = [\"publisher.pub\"]\nrequire = \"signed\"\n",
        )
        .expect("pin.toml");
    }
    let home = tempfile::tempdir().expect("temp home");

    let realm = registry.token_server().expect("token server").realm();
    let proxy = Proxy::start_with_token(registry.host(), &realm, Duration::from_millis(latency_ms));
    let host = proxy.host();
    if faults {
        proxy.fail_at_random(
            vec![
                (0.10, Fault::status_with(429, "Retry-After", "1")),
                (0.05, Fault::status(500)),
            ],
            seed,
        );
    }
    if let Some(per_host) = per_host {
        resolve_through_library(&proxy, per_host);
        return;
    }

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
    if let Some(path) = std::env::var_os("BENCH_RESOLVE_STDERR") {
        // For reading pin's own account (`-- -vv`) of the run.
        std::fs::write(path, stderr.as_bytes()).expect("write pin's stderr");
    }
    if !output.status.success() {
        eprintln!("{stderr}");
        panic!("pin failed: {}", output.status);
    }

    println!("pin {}", pin_args.join(" "));
    println!(
        "files: {}, distinct references: {}, latency per request: {latency_ms} ms",
        files(),
        images()
    );
    println!("references pinned in the diff: {pinned}");
    println!("wall time: {:.3} s", wall.as_secs_f64());
    print_requests(&proxy);
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

/// The requests the proxy saw, by kind.
fn print_requests(proxy: &Proxy) {
    let counts = proxy.counts();
    let count = |kind| counts.get(&kind).copied().unwrap_or(0);
    let total: usize = counts.values().sum();
    let per_ref = |n: usize| n as f64 / images() as f64;
    println!(
        "requests: {total} = {:.3} per distinct reference (ping {}, token {}, HEAD {}, GET manifest {}, blob {}, other {}; {} faulted)",
        per_ref(total),
        count(Kind::Ping),
        count(Kind::Token),
        count(Kind::HeadManifest),
        count(Kind::GetManifest),
        count(Kind::Blob),
        count(Kind::Other),
        proxy.random_faults(),
    );
    println!(
        "token + HEAD per distinct reference: {:.3}",
        per_ref(count(Kind::Token) + count(Kind::HeadManifest))
    );
    println!(
        "most requests in flight at the proxy: {}",
        proxy.most_in_flight()
    );
}

/// The benchmark's 200 lookups through the library, `per_host` requests in flight per
/// host at most.
fn resolve_through_library(proxy: &Proxy, per_host: usize) {
    let host = proxy.host();
    let lookups: Vec<Lookup> = (0..images())
        .map(|i| {
            let image = ImageRef::parse(&format!("{host}/library/img{i}:1.0")).expect("reference");
            Lookup::of(&image)
        })
        .collect();
    let resolver = RegistryResolver::new(RegistryConfig {
        insecure: vec![host.clone()],
        ..RegistryConfig::default()
    })
    .expect("resolver")
    .with_credentials(CredentialSources::none())
    .with_per_host_jobs(per_host);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let results = runtime.block_on(resolve_all(&resolver, lookups, 32, |_| {}));
    let wall = started.elapsed();
    let failed = results.values().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{:?}", results.values().find(|r| r.is_err()));
    println!(
        "library, per-registry cap {per_host}, --jobs 32, distinct references: {}",
        images()
    );
    println!("wall time: {:.3} s", wall.as_secs_f64());
    print_requests(proxy);
}

/// 500 Dockerfiles (`--files`) in 50 folders; file `j` names image `j % 200`
/// (`--images`; and, every fifth file, a second stage from the next image), so that
/// every image is named at least twice in different spellings.
fn write_tree(root: &Path) {
    for j in 0..files() {
        let dir = root.join(format!("service{:02}", j % 50));
        std::fs::create_dir_all(&dir).expect("create service dir");
        let image = j % images();
        let spelling = match j % 3 {
            0 => format!("img{image}:1.0"),
            1 => format!("docker.io/library/img{image}:1.0"),
            _ => format!("library/img{image}:1.0"),
        };
        let mut text = format!("FROM {spelling} AS base\nRUN echo {j}\n");
        if j % 5 == 0 {
            text.push_str(&format!(
                "FROM img{}:1.0\nCOPY --from=base /x /x\n",
                (image + 1) % images()
            ));
        }
        std::fs::write(dir.join(format!("{j}.Dockerfile")), text).expect("write Dockerfile");
    }
}
