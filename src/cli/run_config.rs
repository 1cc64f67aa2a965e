//! One validated run configuration, built once from the parsed flags and the settings
//! file: settings and flags merged, rules parsed (with file and line for the settings
//! file's), excludes built. Nothing downstream re-parses a flag or a setting.

use std::io::IsTerminal;
use std::path::PathBuf;

use pin_registry::RegistryConfig;
use thiserror::Error;

use super::args::{Args, Color, Format};
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
    /// The settings file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An `--exclude` glob.
    #[error(transparent)]
    Exclude(#[from] ExcludeError),
}

/// Everything a run needs to know, checked.
#[derive(Debug)]
pub struct RunConfig {
    /// Files and folders to scan.
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
    /// `-v` count.
    pub verbose: u8,
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
        let settings_file = Settings::locate(args.config.as_deref(), &args.paths);
        let mut settings = match &settings_file {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        let registry = &mut settings.registry;
        for mirror in args.mirrors {
            registry.mirrors.retain(|m| m.from != mirror.from);
            registry.mirrors.push(mirror);
        }
        registry.insecure.extend(args.insecure_registries);
        registry.ca_files.extend(args.ca_files);
        if let Some(platform) = args.platform {
            registry.platform = Some(platform);
        }
        settings.exclude.extend(args.excludes);
        settings.rewrite_registries.extend(args.rewrite_registries);
        let airlock = RegistryRewrite {
            rules: settings.rewrite_registries,
            trust_private: settings.trust_private || args.trust_private,
        };
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
            allow_unparsable: settings.allow_unparsable || args.allow_unparsable,
        };
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        };
        Ok(RunConfig {
            paths: args.paths,
            settings_file,
            options,
            registry: settings.registry,
            excludes: Excludes::new(&settings.exclude)?,
            format: args.format,
            color,
            verbose: args.verbose,
        })
    }
}
