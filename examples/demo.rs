//! The end-to-end demo: start a local registry, seed it with every image that
//! `testdata/demo/` refers to, and run `pin` on a copy of that folder through
//! `--mirror`, showing the diff, the write and the check.
//!
//! Run it with `scripts/demo.sh`, which installs the registry if needed and builds
//! `pin`; by hand: `cargo run --example demo -- target/debug/pin`.

// The registry, seeding, token and proxy code is the test suite's own.

use pin_test_support::{push, registry};

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use pin::reference::{DOCKER_HUB, ImageRef};

fn main() {
    let pin = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/debug/pin"));
    // `pin` runs in the copied folder: make its path absolute first.
    let pin = std::fs::canonicalize(&pin)
        .unwrap_or_else(|e| panic!("{}: {e} (build it with cargo build)", pin.display()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/demo");
    let work = tempfile::tempdir().expect("a temporary folder");
    copy_tree(&source, work.path());

    step("Starting a local registry (Debian's docker-registry) on 127.0.0.1");
    let registry = registry::Registry::start();
    let host = registry.host().to_string();
    println!("registry at {host}");

    step("Images referenced by testdata/demo (pin --list, offline)");
    run(&pin, work.path(), &["--list"]);
    let listed = Command::new(&pin)
        .current_dir(work.path())
        .args(["--list", "--format", "json"])
        .output()
        .expect("run pin --list");
    let report: serde_json::Value =
        serde_json::from_slice(&listed.stdout).expect("pin --list prints JSON");

    step("Seeding the registry: Docker Hub images at the root, others under their registry's name");
    let mut seeded = std::collections::BTreeSet::new();
    let mut mirrors = std::collections::BTreeSet::new();
    for reference in report["references"].as_array().into_iter().flatten() {
        if reference["status"] != "pin" {
            continue;
        }
        let Ok(image) = ImageRef::parse(reference["text"].as_str().unwrap_or_default()) else {
            continue;
        };
        let repository = match image.registry() {
            DOCKER_HUB => image.repository(),
            other => {
                mirrors.insert(other.to_string());
                format!("{other}/{}", image.repository())
            }
        };
        if seeded.insert((repository.clone(), image.tag_or_latest().to_string())) {
            let pushed = registry.push_image(
                &repository,
                image.tag_or_latest(),
                push::ImageKind::OciIndex(&["linux/amd64", "linux/arm64/v8"]),
            );
            println!(
                "pushed {repository}:{} = {}",
                image.tag_or_latest(),
                pushed.digest
            );
        }
    }

    let mut args: Vec<String> = vec![
        "--insecure-registry".into(),
        host.clone(),
        "--mirror".into(),
        format!("docker.io={host}"),
    ];
    for other in &mirrors {
        args.push("--mirror".into());
        args.push(format!("{other}={host}/{other}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    step(&format!(
        "pin {} (dry run: the diff --write would apply)",
        args.join(" ")
    ));
    run(&pin, work.path(), &args);

    step("pin --check (offline CI gate) before writing: exit 1");
    let status = run(&pin, work.path(), &["--check"]);
    println!("exit status {}", status.code().unwrap_or(-1));

    step("pin --write, then pin --check again: exit 0");
    run(&pin, work.path(), &[&["--write"], args.as_slice()].concat());
    let status = run(&pin, work.path(), &["--check"]);
    println!("exit status {}", status.code().unwrap_or(-1));
    if !status.success() {
        std::process::exit(1);
    }
    step("Done; the registry stops now.");
}

/// Headings are bold as `pin --color` would be: `--color always|never|auto` as the
/// demo's second argument (`auto`: on a terminal, unless NO_COLOR is set and not empty).
fn step(title: &str) {
    use std::io::IsTerminal;
    let choice = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "auto".to_string());
    let bold = match choice.trim_start_matches("--color=") {
        "always" => true,
        "never" => false,
        _ => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    if bold {
        println!("\n\x1b[1m== {title}\x1b[0m");
    } else {
        println!("\n== {title}");
    }
}

fn run(pin: &Path, dir: &Path, args: &[&str]) -> ExitStatus {
    Command::new(pin)
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e} (build it with cargo build)",
                pin.display()
            )
        })
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("testdata/demo exists") {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
