//! One validated run configuration, built once from the parsed flags and the settings
//! file: settings and flags merged, rules parsed (with file and line for the settings
//! file's), excludes built. Nothing downstream re-parses a flag or a setting.

use std::io::IsTerminal;
use std::path::PathBuf;

use pin_registry::RegistryConfig;
use thiserror::Error;

use super::args::{Args, Color, Format};
use super::root;
use crate::airlock::RegistryRewrite;
use crate::config::{ConfigError, Settings};
use crate::discover::{ExcludeError, Excludes};
use crate::pipeline::{Mode, Options};

/// Default number of lookups in flight.
pub const DEFAULT_JOBS: usize = 32;

/// A run that cannot start: bad flags or a bad settings file.
#[derive(Debug, Error)]
pub enum UsageError {
    /// `--format patch` with `--check` or `--list`.
    #[error("--format patch goes with a dry run or --write, not --check or --list")]
    PatchNeedsChanges,
    /// `--trust-private` without a rewrite rule.
    #[error("--trust-private goes with --rewrite-registry")]
    TrustPrivateAlone,
    /// `--verify` without `--check`.
    #[error("--verify goes with --check (a dry run and --write verify what they pin anyway)")]
    VerifyNeedsCheck,
    /// The settings file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An `--exclude` glob.
    #[error(transparent)]
    Exclude(#[from] ExcludeError),
    /// The current folder is gone or unreadable.
    #[error("cannot read the current folder: {0}")]
    CurrentDir(std::io::Error),
}

/// Everything a run needs to know, checked.
#[derive(Debug)]
pub struct RunConfig {
    /// The git top level the run stands in (the process moves there before it
    /// scans, so that every path it shows is relative to it); `None` outside a
    /// repository.
    pub root: Option<PathBuf>,
    /// Files and folders to scan, relative to `root` when they lie inside it.
    pub paths: Vec<PathBuf>,
    /// The settings file that was read, if any.
    pub settings_file: Option<PathBuf>,
    /// What the pipeline does.
    pub options: Options,
    /// How registries are reached.
    pub registry: RegistryConfig,
    /// Paths to skip.
    pub excludes: Excludes,
    /// The output format.
    pub format: Format,
    /// Whether output is coloured.
    pub color: bool,
    /// Most requests in flight to one registry host.
    pub registry_jobs: usize,
    /// The run's deadline for all lookups.
    pub deadline: std::time::Duration,
    /// `-v` count.
    pub verbose: u8,
    /// `-q`: only errors on standard error.
    pub quiet: bool,
    /// `--no-ignore`: also read git-ignored files.
    pub no_ignore: bool,
    /// Notes about the settings worth a word (an identity regex that pin anchored).
    pub notes: Vec<String>,
}

impl RunConfig {
    /// Validate `args` and merge them with the settings file.
    ///
    /// Flags override the file: a flag's mirror replaces the file's mirror of the same
    /// registry, `--platform` and `--jobs` replace the file's, and list-valued flags
    /// (`--exclude`, `--insecure-registry`, `--ca-file`, `--rewrite-registry`) add to
    /// the file's lists.
    pub fn from_args(args: Args) -> Result<RunConfig, UsageError> {
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
            return Err(UsageError::PatchNeedsChanges);
        }
        let cwd = std::env::current_dir().map_err(UsageError::CurrentDir)?;
        let top = root::git_top(&cwd);
        let settings_file = if args.no_config {
            None
        } else if let Some(explicit) = &args.config {
            Some(explicit.clone())
        } else {
            root::settings_above(&cwd, top.as_deref())
                .or_else(|| Settings::locate(None, &args.paths))
        };
        let mut settings = match &settings_file {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        let registry = &mut settings.registry;
        // The run moves to the top level before it reads anything else: files the
        // settings name are taken from where the settings file is, now.
        for file in &mut registry.ca_files {
            *file = cwd.join(&*file);
        }
        for mirror in args.mirrors {
            registry.mirrors.retain(|m| m.from != mirror.from);
            registry.mirrors.push(mirror);
        }
        registry.insecure.extend(args.insecure_registries);
        registry
            .ca_files
            .extend(args.ca_files.iter().map(|file| cwd.join(file)));
        if let Some(platform) = args.platform {
            registry.platform = Some(platform);
        }
        settings.exclude.extend(args.excludes);
        settings.patterns.warn_unmatched = args.paths.iter().any(|path| path.is_dir());
        settings.rewrite_registries.extend(args.rewrite_registries);
        let airlock = RegistryRewrite {
            rules: settings.rewrite_registries,
            trust_private: settings.trust_private || args.trust_private,
        };
        if args.verify && mode != Mode::Check {
            return Err(UsageError::VerifyNeedsCheck);
        }
        if airlock.trust_private && airlock.is_empty() {
            return Err(UsageError::TrustPrivateAlone);
        }
        let jobs = args
            .jobs
            .or(settings.jobs)
            .map_or(DEFAULT_JOBS, usize::from);
        let options = Options {
            mode,
            update: args.update,
            jobs,
            policy: settings.policy,
            airlock,
            patterns: settings.patterns,
            allow_unparsable: settings.allow_unparsable || args.allow_unparsable,
            trust: settings.trust,
            verify: args.verify,
        };
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            // no-color.org: only a NO_COLOR that is set and not empty turns colour off.
            Color::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
            }
        };
        let paths = match &top {
            Some(top) => args
                .paths
                .iter()
                .map(|path| root::reroot(path, &cwd, top))
                .collect(),
            None => args.paths,
        };
        Ok(RunConfig {
            root: top,
            paths,
            settings_file,
            options,
            registry: settings.registry,
            excludes: Excludes::new(&settings.exclude)?,
            format: args.format,
            color,
            registry_jobs: args
                .registry_jobs
                .or(settings.registry_jobs)
                .map_or(pin_registry::DEFAULT_PER_HOST_JOBS, usize::from),
            deadline: args
                .deadline
                .or(settings.deadline)
                .map_or(pin_registry::RUN_DEADLINE, |s| {
                    std::time::Duration::from_secs(u64::from(s))
                }),
            verbose: args.verbose,
            quiet: args.quiet,
            no_ignore: args.no_ignore,
            notes: settings.notes,
        })
    }
}
