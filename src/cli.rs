//! The command line: arguments, and the wiring of the pipeline's stages.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::config::Settings;
use crate::discover::{self, Excludes};
use crate::pipeline::{self, Mode, Options, Outcome, Problem, Status};
use crate::report::{self, Summary};
use pin_registry::{Mirror, Platform};
use pin_registry::{RegistryConfig, RegistryResolver};

/// Pin container image references to the digest their tag points to now.
///
/// pin finds image references in Dockerfiles, compose files, Kubernetes manifests and
/// GitHub Actions workflows, asks each registry for the digest of the tag, and rewrites
/// `name:tag` to `name:tag@sha256:…` in place, changing no other byte of the file.
/// Without a mode it prints the diff that --write would apply.
#[derive(Debug, Parser)]
#[command(name = "pin", version, max_term_width = 100)]
#[command(
    after_help = "Exit status: 0 nothing to do or all done; 1 --check found something; 2 an error."
)]
pub struct Args {
    /// Files or directories to scan.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,

    /// Resolve and rewrite files in place (atomically).
    #[arg(short, long, group = "mode")]
    pub write: bool,

    /// Report references that are not pinned and exit 1 if there are any (offline
    /// unless --update is given).
    #[arg(long, group = "mode")]
    pub check: bool,

    /// List every reference found, pinned or skipped, with the reason (offline).
    #[arg(long, group = "mode")]
    pub list: bool,

    /// Also re-resolve references that already carry a digest and replace digests
    /// whose tag has moved. With --check: exit 1 if any pinned digest is stale.
    #[arg(long)]
    pub update: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Pin this platform's manifest (os/arch[/variant]) instead of the multi-arch index.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,

    /// Resolve references of registry FROM through TO (host[:port][/path-prefix]);
    /// files keep FROM. Repeatable.
    #[arg(long = "mirror", value_name = "FROM=TO")]
    pub mirrors: Vec<Mirror>,

    /// Use plain HTTP for this registry (also for a mirror's TO). Repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,

    /// Settings file (default: pin.toml at the root of the first PATH, if present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Skip paths matching this glob. Repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,

    /// Most registry requests in flight.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Trust this CA certificate (PEM) besides the system roots. Repeatable.
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,

    /// Airlock: rewrite references of registry FROM to their copy under TO while
    /// pinning, after checking both serve the same digest. Repeatable.
    #[arg(long = "rewrite-registry", value_name = "FROM=TO")]
    pub rewrite_registries: Vec<String>,

    /// With --rewrite-registry: accept the private copy's digest without asking upstream.
    #[arg(long)]
    pub trust_private: bool,

    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Say more about what happens (repeat for more).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A diff (dry run) or a table (--list, --check).
    Text,
    /// One JSON object.
    Json,
    /// A `git am`-ready email patch.
    Patch,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// How a run ends, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: nothing to do, or all done.
    Success = 0,
    /// 1: `--check` found something.
    Found = 1,
    /// 2: an error.
    Error = 2,
}

/// Default number of registry requests in flight.
pub const DEFAULT_JOBS: usize = 32;

/// Run `pin` with parsed arguments.
pub fn run(args: Args) -> ExitStatus {
    match run_inner(args) {
        Ok(status) => status,
        Err(message) => {
            eprintln!("error: {message}");
            ExitStatus::Error
        }
    }
}

fn run_inner(args: Args) -> Result<ExitStatus, String> {
    let mode = if args.write {
        Mode::Write
    } else if args.check {
        Mode::Check
    } else if args.list {
        Mode::List
    } else {
        Mode::DryRun
    };
    if args.format == Format::Patch && matches!(mode, Mode::Check | Mode::List) {
        return Err("--format patch goes with a dry run or --write, not --check or --list".into());
    }
    let settings = match Settings::locate(args.config.as_deref(), &args.paths) {
        Some(path) => {
            if args.verbose > 0 {
                eprintln!("pin: settings from {}", path.display());
            }
            Settings::load(&path).map_err(|e| e.to_string())?
        }
        None => Settings::default(),
    };
    let settings = merge(settings, &args);
    let rewrites = settings
        .rewrite_registries
        .iter()
        .map(|rule| {
            rule.parse::<Mirror>()
                .map_err(|e| format!("--rewrite-registry: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if settings.trust_private && rewrites.is_empty() {
        return Err("--trust-private goes with --rewrite-registry".into());
    }
    let options = Options {
        mode,
        update: args.update,
        jobs: settings.jobs.map_or(DEFAULT_JOBS, usize::from),
        policy: settings.policy.clone(),
        rewrites,
        trust_private: settings.trust_private,
    };
    let excludes = Excludes::new(&settings.exclude).map_err(|e| e.to_string())?;
    let discovery = discover::discover(&args.paths, &excludes);

    let resolver = if options.resolves() {
        let config = RegistryConfig {
            mirrors: settings.mirrors.clone(),
            insecure: settings.insecure_registries.clone(),
            ca_files: settings.ca_files.clone(),
            platform: settings.platform.clone(),
        };
        Some(RegistryResolver::new(config).map_err(|e| e.to_string())?)
    } else {
        None
    };

    let progress = progress_bar(options.resolves());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let mut outcome = runtime.block_on(pipeline::run(
        &discovery.files,
        &options,
        resolver.as_ref(),
        |_| progress.inc(1),
        |n| progress.set_length(n as u64),
    ));
    progress.finish_and_clear();
    if args.verbose > 0 {
        eprintln!("pin: {} read", plural(discovery.files.len(), "file"));
        for (lookup, result) in &outcome.resolutions {
            match result {
                Ok(digest) => eprintln!("pin: resolved {lookup} to {digest}"),
                Err(e) => eprintln!("pin: could not resolve {lookup}: {}", e.kind),
            }
        }
    }

    // Paths that could not be walked are problems like files that could not be read.
    let walk_problems = discovery.errors.iter().map(|e| Problem {
        path: e.path.clone(),
        line: None,
        message: e.message.clone(),
    });
    outcome.errors.splice(0..0, walk_problems);
    let mut errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    errors.extend(resolve_errors(&outcome));
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let stdout = render(&outcome, &args, mode, color);
    print_stdout(&stdout)?;
    for warning in &outcome.warnings {
        eprintln!("warning: {warning}");
    }
    for error in &errors {
        eprintln!("error: {error}");
    }
    if args.format == Format::Text {
        eprintln!("{}", summary_line(&outcome, mode));
    }
    let found = outcome.failing > 0;
    Ok(if !errors.is_empty() {
        if mode == Mode::Write {
            let held: Vec<String> = outcome
                .files
                .iter()
                .filter(|f| f.has_errors())
                .map(|f| f.source.path.display().to_string())
                .collect();
            if !held.is_empty() {
                eprintln!(
                    "left untouched because a reference failed: {}",
                    held.join(", ")
                );
            }
        }
        ExitStatus::Error
    } else if found {
        ExitStatus::Found
    } else {
        ExitStatus::Success
    })
}

/// Settings from the file, overridden by flags: a flag's mirror replaces the file's
/// mirror of the same registry, `--platform` and `--jobs` replace the file's, and
/// list-valued flags (`--exclude`, `--insecure-registry`, `--ca-file`,
/// `--rewrite-registry`) add to the file's lists.
fn merge(mut settings: Settings, args: &Args) -> Settings {
    for mirror in &args.mirrors {
        settings.mirrors.retain(|m| m.from != mirror.from);
        settings.mirrors.push(mirror.clone());
    }
    settings
        .insecure_registries
        .extend(args.insecure_registries.iter().cloned());
    settings.ca_files.extend(args.ca_files.iter().cloned());
    settings.exclude.extend(args.excludes.iter().cloned());
    settings
        .rewrite_registries
        .extend(args.rewrite_registries.iter().cloned());
    settings.trust_private |= args.trust_private;
    if let Some(platform) = &args.platform {
        settings.platform = Some(platform.clone());
    }
    if let Some(jobs) = args.jobs {
        settings.jobs = Some(jobs);
    }
    settings
}

/// Each reference that failed to resolve, as `file:line: message`.
fn resolve_errors(outcome: &Outcome) -> Vec<String> {
    let mut errors = Vec::new();
    for file in &outcome.files {
        for found in &file.references {
            if let Status::Error(e) = &found.status {
                errors.push(format!(
                    "{}:{}: {}: {}",
                    file.source.path.display(),
                    found.position.line,
                    found.text,
                    e
                ));
            }
        }
    }
    errors
}

fn render(outcome: &Outcome, args: &Args, mode: Mode, color: bool) -> String {
    match (args.format, mode) {
        (Format::Json, _) => report::json::render(outcome, mode == Mode::List),
        (Format::Text, Mode::List) => report::table::render(outcome, false),
        (Format::Text, Mode::Check) => report::table::render(outcome, true),
        (Format::Text, Mode::DryRun) => report::diff::render(outcome, color),
        (Format::Text, Mode::Write) => String::new(),
        (Format::Patch, _) => report::patch::render(outcome, report::patch::patch_date()),
    }
}

fn summary_line(outcome: &Outcome, mode: Mode) -> String {
    let s = Summary::of(outcome);
    let files = |n: usize| plural(n, "file");
    let mut parts = match mode {
        Mode::Write => {
            let written = outcome.files.iter().filter(|f| f.written).count();
            vec![format!(
                "{} pinned and {} updated in {}",
                s.pin,
                s.updated,
                files(written)
            )]
        }
        Mode::DryRun => {
            let changing = outcome
                .files
                .iter()
                .filter(|f| f.new_text.is_some())
                .count();
            vec![format!(
                "{} to pin and {} to update in {}",
                s.pin,
                s.updated,
                files(changing)
            )]
        }
        Mode::Check => vec![
            format!("{} not pinned", s.pin),
            format!("{} stale", s.stale),
        ],
        Mode::List => {
            let references = outcome.files.iter().map(|f| f.references.len()).sum();
            vec![format!(
                "{} in {}",
                plural(references, "reference"),
                files(s.files)
            )]
        }
    };
    parts.push(format!("{} already pinned", s.pinned));
    parts.push(format!("{} skipped", s.skip));
    if s.violation > 0 {
        parts.push(plural(s.violation, "policy violation"));
    }
    if s.error > 0 {
        parts.push(format!("{} failed", s.error));
    }
    format!("pin: {}", parts.join(", "))
}

/// `1 file`, `2 files`.
fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("{n} {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn print_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        // A closed pipe (`pin | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write to standard output: {e}")),
    }
}

fn progress_bar(resolves: bool) -> indicatif::ProgressBar {
    if !resolves || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template("resolving {pos}/{len} {wide_bar}") {
        bar.set_style(style);
    }
    bar
}
