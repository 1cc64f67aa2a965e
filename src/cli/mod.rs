//! The command line: parse, validate once ([`RunConfig`]), wire the stages, print, and
//! pick the exit status. The stages themselves know nothing of flags.

mod args;
mod root;
mod run_config;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub use args::{Args, Color, Command, Format};
use pin_registry::RegistryResolver;
pub use run_config::{DEFAULT_JOBS, RunConfig, UsageError};

use crate::discover;
use crate::outcome::{Outcome, Problem};
use crate::pipeline::{self, Mode};
use crate::report::{self, summary};

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

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// Run `pin` with parsed arguments.
pub fn run(args: Args) -> ExitStatus {
    if let Some(command) = &args.command {
        return generate(command);
    }
    match run_inner(args) {
        Ok(status) => status,
        Err(message) => {
            say(&format!("error: {message}"));
            ExitStatus::Error
        }
    }
}

/// One line on standard error. A closed or full stderr is no reason to stop a run
/// (`eprintln!` would panic): the line is dropped.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `pin completions SHELL`, `pin man`.
fn generate(command: &Command) -> ExitStatus {
    use clap::CommandFactory;
    let mut cli = Args::command();
    let mut out = Vec::new();
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cli, "pin", &mut out);
        }
        Command::Man => {
            if let Err(e) = clap_mangen::Man::new(cli).render(&mut out) {
                say(&format!("error: cannot render the manual page: {e}"));
                return ExitStatus::Error;
            }
        }
    }
    match print_stdout(&String::from_utf8_lossy(&out)) {
        Ok(()) => ExitStatus::Success,
        Err(message) => {
            say(&format!("error: {message}"));
            ExitStatus::Error
        }
    }
}

fn run_inner(args: Args) -> Result<ExitStatus, String> {
    let config = RunConfig::from_args(args).map_err(|e| e.to_string())?;
    let verbose = if config.quiet { 0 } else { config.verbose };
    if verbose > 0
        && let Some(path) = &config.settings_file
    {
        say(&format!("pin: settings from {}", path.display()));
    }
    if verbose > 1 {
        RequestLog::install();
    }
    if let Some(root) = &config.root {
        std::env::set_current_dir(root)
            .map_err(|e| format!("cannot enter {}: {e}", root.display()))?;
    }
    let options = &config.options;
    let mode = options.mode;
    // Without a terminal there is no progress bar: one line per phase instead, so that
    // a CI log shows what a long run is doing.
    let phases = !config.quiet && !std::io::stderr().is_terminal();
    let walk = discover::Walk {
        respect_ignore: !config.no_ignore,
    };
    let discovery =
        discover::discover_with(&config.paths, &config.excludes, walk, &options.patterns);
    if phases {
        say(&format!(
            "pin: reading {}",
            summary::plural(discovery.files.len(), "file")
        ));
    }
    if !config.quiet {
        for note in &config.notes {
            say(&format!("pin: {note}"));
        }
    }
    let resolver = if options.resolves() || options.verify {
        Some(
            RegistryResolver::new(config.registry.clone())
                .map_err(|e| e.to_string())?
                .with_per_host_jobs(config.registry_jobs)
                .with_run_deadline(config.deadline),
        )
    } else {
        None
    };

    let progress = progress_bar(options.resolves());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let artifacts = resolver.as_ref().map(RegistryResolver::artifacts);
    let mut outcome = runtime.block_on(pipeline::run_verified(
        &discovery.files,
        options,
        resolver.as_ref(),
        artifacts
            .as_ref()
            .map(|a| a as &dyn pin_registry::ArtifactSource),
        |_| progress.inc(1),
        |lookups| {
            progress.set_length(lookups.len() as u64);
            if phases && !lookups.is_empty() {
                let registries: std::collections::BTreeSet<&str> =
                    lookups.iter().map(|l| l.registry.as_str()).collect();
                say(&format!(
                    "pin: resolving {} on {}…",
                    summary::plural(lookups.len(), "image"),
                    summary::plural(registries.len(), "registry")
                ));
            }
        },
    ));
    progress.finish_and_clear();
    if verbose > 0 {
        say(&format!(
            "pin: {} read",
            summary::plural(discovery.files.len(), "file")
        ));
        if walk.respect_ignore {
            let ignored = discover::count_ignored(&config.paths, &discovery);
            if ignored > 0 {
                say(&format!(
                    "pin: {} git-ignored (read them with --no-ignore)",
                    summary::plural(ignored, "file")
                ));
            }
        }
        for (lookup, result) in &outcome.resolutions {
            match result {
                Ok(digest) => say(&format!("pin: resolved {lookup} to {digest}")),
                Err(e) => say(&format!("pin: could not resolve {lookup}: {}", e.kind)),
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
    let mut errors: Vec<String> = outcome.errors.iter().map(summary::problem_line).collect();
    errors.extend(summary::resolve_errors(&outcome));
    // Refused digests fail the run; under --check they are results (exit 1).
    if mode != Mode::Check {
        errors.extend(crate::verify::refusals(&outcome));
    }
    print_stdout(&render(&outcome, &config))?;
    if !config.quiet {
        for warning in resolver.iter().flat_map(RegistryResolver::warnings) {
            say(&format!("warning: {warning}"));
        }
        for warning in &outcome.warnings {
            say(&format!("warning: {}", summary::problem_line(warning)));
        }
    }
    for error in &errors {
        say(&format!("error: {error}"));
    }
    if config.format == Format::Text && !config.quiet {
        say(&summary::summary_line(&outcome, mode));
    }
    let status = if !errors.is_empty() {
        if mode == Mode::Write
            && let Some(held) = summary::held_files(&outcome)
        {
            say(&held);
        }
        ExitStatus::Error
    } else if outcome.failing > 0 {
        if mode == Mode::Check && !config.quiet {
            say(&summary::check_hint(&outcome, options.update));
        }
        ExitStatus::Found
    } else {
        ExitStatus::Success
    };
    // The process ends now: giving every file's text and references back to the
    // allocator one by one would only delay the exit (a sixth of a second for a
    // 100,000-file tree). The operating system takes the memory back at once.
    std::mem::forget(outcome);
    std::mem::forget(discovery);
    Ok(status)
}

/// `-vv`: the registry client's log of every request, on stderr.
struct RequestLog;

impl RequestLog {
    fn install() {
        static LOG: RequestLog = RequestLog;
        if log::set_logger(&LOG).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
}

impl log::Log for RequestLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug && metadata.target().starts_with("pin")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            say(&format!("pin: {}", record.args()));
        }
    }

    fn flush(&self) {}
}

fn render(outcome: &Outcome, config: &RunConfig) -> String {
    let mode = config.options.mode;
    match (config.format, mode) {
        (Format::Json, _) => report::json::render(outcome, mode == Mode::List),
        (Format::Text, Mode::List) => report::table::render(outcome, false),
        (Format::Text, Mode::Check) => report::table::render(outcome, true),
        (Format::Text, Mode::DryRun) => report::diff::render(outcome, config.color),
        (Format::Text, Mode::Write) => String::new(),
        (Format::Patch, _) => report::patch::render(outcome, report::patch::patch_date()),
        (Format::Sarif, _) => report::sarif::render(outcome),
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
