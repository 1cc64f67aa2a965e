//! The command line as clap parses it. Nothing here is validated beyond its type: that
//! is [`super::run_config`]'s work.

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};
use pin_registry::{Mirror, Platform};

/// Pin container image references to the digest their tag points to now.
///
/// pin finds image references in Dockerfiles, compose files, Kubernetes manifests, GitHub
/// Actions and other CI systems' files, dev containers, bake files, Helm values,
/// Kustomize images and patterns of pin.toml, asks each registry for the digest of the
/// tag, and rewrites `name:tag` to `name:tag@sha256:…` in place, changing no other byte
/// of the file. With [[trust]] rules it pins only digests their publisher signed.
/// Without a mode it prints the diff that --write would apply.
#[derive(Debug, Parser)]
#[command(
    name = "pin",
    version,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
#[command(after_help = "\
A reference is left alone when its line, or the comment line above it, says `# pin:ignore`.
Settings come from --config, else the nearest pin.toml from the current folder up to the git
top level. Paths in diffs, patches and JSON are relative to the git top level.

Exit status: 0 nothing to do or all done; 1 --check found something; 2 an error.")]
pub struct Args {
    /// Not a run: print shell completions or the manual page.
    #[command(subcommand)]
    pub command: Option<Command>,

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

    /// With --check: online, every pinned digest must still exist and pass its
    /// [[trust]] rule in pin.toml (signed by an accepted key or identity). Exit 1 otherwise.
    #[arg(long)]
    pub verify: bool,

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

    /// Settings file (default: the nearest pin.toml from the current folder up to the
    /// git top level, else one in the first PATH's folder).
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,

    /// Read no settings file.
    #[arg(long)]
    pub no_config: bool,

    /// Also read files that .gitignore and .ignore files exclude.
    #[arg(long)]
    pub no_ignore: bool,

    /// Skip paths matching this glob. Repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,

    /// Most requests in flight to one registry host or token server (default 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub registry_jobs: Option<u16>,

    /// Give up on every lookup still open after this many seconds (default 600).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..))]
    pub deadline: Option<u32>,

    /// Most registry requests in flight (default 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,

    /// Trust this CA certificate (PEM) besides the system roots. Repeatable.
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,

    /// Airlock: rewrite references of registry FROM to their copy under TO while
    /// pinning, after checking both serve the same digest. Repeatable.
    #[arg(long = "rewrite-registry", value_name = "FROM=TO")]
    pub rewrite_registries: Vec<Mirror>,

    /// With --rewrite-registry: accept the private copy's digest without asking upstream.
    #[arg(long)]
    pub trust_private: bool,

    /// Let files that cannot be parsed (or are binary, not UTF-8 or over 16 MiB) be
    /// warnings instead of errors, for trees that hold broken YAML on purpose. Their
    /// image references are not checked.
    #[arg(long)]
    pub allow_unparsable: bool,

    /// Colour: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,

    /// Say more about what happens: -v a summary of what was read and resolved, -vv
    /// every registry request (never a credential).
    #[arg(short, long, action = ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Print only errors (and what the mode prints on standard output).
    #[arg(short, long)]
    pub quiet: bool,
}

/// What `pin` does besides pinning.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print the completion script for SHELL.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `pin man > pin.1`.
    Man,
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
    /// SARIF 2.1.0, for code scanning: one result per unpinned, stale or violating
    /// reference.
    Sarif,
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
