//! The settings file, `pin.toml`.
//!
//! ```toml
//! exclude = ["vendor", "**/testdata/**"]
//! insecure-registries = ["127.0.0.1:5000"]
//! ca-files = ["certs/corp-ca.pem"]      # relative to this file
//! platform = "linux/amd64"
//! jobs = 16
//! registry-jobs = 32
//! deadline = 600                         # seconds, for all lookups of a run
//! allow-unparsable = false              # like --allow-unparsable
//!
//! [mirrors]
//! "docker.io" = "harbor.corp.example/dockerhub"
//!
//! [rewrite-registries]
//! "docker.io" = "harbor.corp.example/dockerhub"
//!
//! [policy]
//! allowed-registries = ["harbor.corp.example/*"]
//! deny-tags = ["latest"]
//! require-tag = true
//! require-digest = true
//!
//! [[trust]]                            # publisher trust, first match wins
//! images = ["ghcr.io/acme/*"]
//! keys = ["keys/acme-release.pub"]       # relative to this file
//! keyless = [{ issuer = "https://token.actions.githubusercontent.com", identity = "…" }]
//! require = "signed"                     # or "none" (the default)
//! continuity = "source"                  # or "none" (the default)
//!
//! [[patterns]]                         # images in files no kind knows
//! files = ["scripts/*.sh", "Makefile"] # globs, relative to this file
//! regex = '''BASE_IMAGE=(?P<image>\S+)'''
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::extract::patterns::{Pattern, PatternError, Patterns};
use crate::policy::Policy;
use crate::source::position_in;
use crate::trust::{Continuity, Require, Trust, TrustKey, TrustRule};
use pin_registry::{Mirror, Platform, RegistryConfig};

/// The name looked for at the root of the first path.
pub const FILE_NAME: &str = "pin.toml";

/// A settings file that cannot be used.
#[derive(Debug, Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// The line, where known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// `pin.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawSettings {
    #[serde(default)]
    mirrors: BTreeMap<String, String>,
    #[serde(default)]
    insecure_registries: Vec<String>,
    #[serde(default)]
    ca_files: Vec<PathBuf>,
    #[serde(default)]
    exclude: Vec<String>,
    platform: Option<String>,
    jobs: Option<u16>,
    registry_jobs: Option<u16>,
    deadline: Option<u32>,
    #[serde(default)]
    rewrite_registries: BTreeMap<String, String>,
    trust_private: Option<bool>,
    allow_unparsable: Option<bool>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    patterns: Vec<RawPattern>,
    #[serde(default)]
    trust: Vec<RawTrust>,
    trusted_root: Option<PathBuf>,
}

/// One `[[trust]]` rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTrust {
    images: Vec<String>,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    keyless: Vec<RawKeyless>,
    #[serde(default)]
    require: RawRequire,
    #[serde(default)]
    continuity: RawContinuity,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawRequire {
    Signed,
    #[default]
    None,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawContinuity {
    Source,
    #[default]
    None,
}

/// One keyless identity as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawKeyless {
    issuer: String,
    identity: Option<String>,
    identity_regex: Option<String>,
}

/// One `[[patterns]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPattern {
    files: Vec<String>,
    regex: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPolicy {
    #[serde(default)]
    allowed_registries: Vec<String>,
    #[serde(default)]
    deny_tags: Vec<String>,
    #[serde(default)]
    require_tag: bool,
    #[serde(default = "default_true")]
    require_digest: bool,
}

impl Default for RawPolicy {
    fn default() -> RawPolicy {
        RawPolicy {
            allowed_registries: Vec::new(),
            deny_tags: Vec::new(),
            require_tag: false,
            require_digest: true,
        }
    }
}

fn default_true() -> bool {
    true
}

/// Settings, checked and ready to use.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// How to reach registries: `[mirrors]`, `insecure-registries`, `ca-files` (made
    /// relative to the current folder) and `platform`.
    pub registry: RegistryConfig,
    /// `exclude`.
    pub exclude: Vec<String>,
    /// `jobs`.
    pub jobs: Option<u16>,
    /// `registry-jobs`.
    pub registry_jobs: Option<u16>,
    /// `deadline`, in seconds.
    pub deadline: Option<u32>,
    /// `[rewrite-registries]`.
    pub rewrite_registries: Vec<Mirror>,
    /// `trust-private`.
    pub trust_private: bool,
    /// `allow-unparsable`.
    pub allow_unparsable: bool,
    /// `[policy]`.
    pub policy: Policy,
    /// `[[patterns]]`, compiled; their globs are relative to this file's folder.
    pub patterns: Patterns,
    /// `[[trust]]` and `trusted-root`, with their keys and root read.
    pub trust: Trust,
    /// Notes about the settings that are not errors (an identity regex pin anchored).
    pub notes: Vec<String>,
}

impl Settings {
    /// Read and check a settings file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Settings::parse(path, &text)
    }

    /// Check the text of a settings file; `path` is used in errors and to resolve
    /// relative `ca-files`.
    pub fn parse(path: &Path, text: &str) -> Result<Settings, ConfigError> {
        let error = |line: Option<usize>, message: String| ConfigError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawSettings = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|span| position_in(text, span.start.min(text.len())).line);
            error(line, e.message().to_string())
        })?;
        // Values are checked after parsing; a line is found by the key's text.
        let line_of = |needle: &str| {
            text.find(needle)
                .map(|offset| position_in(text, offset).line)
        };
        let rules = |table: &BTreeMap<String, String>, key: &str| {
            table
                .iter()
                .map(|(from, to)| {
                    format!("{from}={to}")
                        .parse::<Mirror>()
                        .map_err(|e| error(line_of(to), format!("{key}: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mirrors = rules(&raw.mirrors, "mirrors")?;
        let rewrite_registries = rules(&raw.rewrite_registries, "rewrite-registries")?;
        let platform = raw
            .platform
            .as_deref()
            .map(|p| {
                p.parse::<Platform>()
                    .map_err(|e| error(line_of("platform"), e.to_string()))
            })
            .transpose()?;
        for (key, value) in [
            ("jobs", raw.jobs.map(u32::from)),
            ("registry-jobs", raw.registry_jobs.map(u32::from)),
            ("deadline", raw.deadline),
        ] {
            if value == Some(0) {
                return Err(error(line_of(key), format!("{key} must be at least 1")));
            }
        }
        let policy = Policy::new(
            &raw.policy.allowed_registries,
            &raw.policy.deny_tags,
            raw.policy.require_tag,
            raw.policy.require_digest,
        )
        .map_err(|e| {
            error(
                line_of(&format!("{:?}", e.pattern)).or_else(|| line_of(e.key)),
                e.to_string(),
            )
        })?;
        if let Err(e) = crate::discover::Excludes::new(&raw.exclude) {
            return Err(error(line_of("exclude"), e.to_string()));
        }
        let folder = path.parent().unwrap_or(Path::new(""));
        let patterns = patterns(text, &raw.patterns, path)
            .map_err(|(line, e)| error(line, format!("[[patterns]]: {e}")))?;
        let mut notes = Vec::new();
        let trust = trust(
            text,
            &raw.trust,
            raw.trusted_root.as_deref(),
            folder,
            &mut notes,
        )
        .map_err(|(line, message)| error(line, message))?;
        Ok(Settings {
            registry: RegistryConfig {
                mirrors,
                insecure: raw.insecure_registries,
                ca_files: raw.ca_files.iter().map(|f| folder.join(f)).collect(),
                platform,
            },
            exclude: raw.exclude,
            jobs: raw.jobs,
            registry_jobs: raw.registry_jobs,
            deadline: raw.deadline,
            rewrite_registries,
            trust_private: raw.trust_private.unwrap_or(false),
            allow_unparsable: raw.allow_unparsable.unwrap_or(false),
            policy,
            patterns,
            trust,
            notes,
        })
    }

    /// The settings file a run uses: `--config`, else `pin.toml` in the first path
    /// (a directory, or a file's folder), if there is one.
    pub fn locate(explicit: Option<&Path>, paths: &[PathBuf]) -> Option<PathBuf> {
        if let Some(path) = explicit {
            return Some(path.to_path_buf());
        }
        let first = paths.first()?;
        let folder = if first.is_dir() {
            first.as_path()
        } else {
            first.parent()?
        };
        let candidate = folder.join(FILE_NAME);
        candidate.is_file().then_some(candidate)
    }
}

/// Compile the `[[patterns]]` entries, each with the lines of its `regex` and globs
/// (found by their text after the entry's `[[patterns]]` header).
/// Where each `[[table]]` of one name starts in a settings text, to tell the line of
/// a value found after it (the parsed settings keep no positions).
struct Tables<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Tables<'a> {
    fn new(text: &'a str, header: &str) -> Tables<'a> {
        let starts = text
            .match_indices(header)
            .map(|(offset, _)| offset)
            .collect();
        Tables { text, starts }
    }

    /// Where the table `index` starts (the text's start if it cannot be told).
    fn start(&self, index: usize) -> usize {
        self.starts.get(index).copied().unwrap_or(0)
    }

    /// The line of the first `needle` at or after byte `from`.
    fn line_after(&self, from: usize, needle: &str) -> Option<usize> {
        self.text
            .get(from..)
            .and_then(|rest| rest.find(needle))
            .map(|offset| position_in(self.text, from + offset).line)
    }
}

fn patterns(
    text: &str,
    raw: &[RawPattern],
    file: &Path,
) -> Result<Patterns, (Option<usize>, PatternError)> {
    let folder = file.parent().unwrap_or(Path::new(""));
    let tables = Tables::new(text, "[[patterns]]");
    let line_after = |from: usize, needle: &str| tables.line_after(from, needle);
    let mut compiled = Vec::new();
    for (index, pattern) in raw.iter().enumerate() {
        let header = tables.start(index);
        let regex_line = line_after(header, "regex");
        let globs: Vec<(String, Option<usize>)> = pattern
            .files
            .iter()
            .map(|glob| {
                let line = line_after(header, &format!("\"{glob}\""))
                    .or_else(|| line_after(header, &format!("'{glob}'")))
                    .or_else(|| line_after(header, "files"));
                (glob.clone(), line)
            })
            .collect();
        let result = Pattern::new(&globs, &pattern.regex, regex_line);
        compiled.push(result.map_err(|e| {
            let line = match &e {
                PatternError::Glob { glob, .. } => globs
                    .iter()
                    .find(|(g, _)| g == glob)
                    .and_then(|(_, line)| *line),
                PatternError::NoFiles => line_after(header, "files"),
                _ => regex_line,
            };
            (line, e)
        })?);
    }
    let folder = match folder.is_absolute() {
        true => folder.to_path_buf(),
        false => std::env::current_dir()
            .map(|cwd| cwd.join(folder))
            .unwrap_or_else(|_| folder.to_path_buf()),
    };
    Ok(Patterns {
        file: file.to_path_buf(),
        folder,
        patterns: compiled,
        warn_unmatched: true,
    })
}

/// Compile the `[[trust]]` rules (keys read relative to `folder`) and read the
/// `trusted-root`; an error carries the line of the value at fault.
fn trust(
    text: &str,
    raw: &[RawTrust],
    trusted_root: Option<&Path>,
    folder: &Path,
    notes: &mut Vec<String>,
) -> Result<Trust, (Option<usize>, String)> {
    let tables = Tables::new(text, "[[trust]]");
    let line_after = |from: usize, needle: &str| tables.line_after(from, needle);
    let mut rules = Vec::new();
    for (index, raw) in raw.iter().enumerate() {
        let header = tables.start(index);
        let header_line = Some(position_in(text, header).line);
        let mut rule = TrustRule::new(&raw.images).map_err(|e| {
            let line = raw
                .images
                .iter()
                .find_map(|glob| line_after(header, &format!("{glob:?}")))
                .or_else(|| line_after(header, "images"));
            (line, format!("[[trust]] images: {e}"))
        })?;
        rule.line = header_line;
        for name in &raw.keys {
            let line = line_after(header, name).or(header_line);
            let file = folder.join(name);
            let pem = std::fs::read_to_string(&file).map_err(|e| {
                (
                    line,
                    format!("[[trust]] key {name}: cannot read {}: {e}", file.display()),
                )
            })?;
            let key = pin_sigstore::PublicKey::from_pem(&pem)
                .map_err(|e| (line, format!("[[trust]] key {name}: {e}")))?;
            rule.keys.push(TrustKey {
                name: name.clone(),
                key,
            });
        }
        for keyless in &raw.keyless {
            let line = line_after(header, &keyless.issuer).or(header_line);
            let identity = match (&keyless.identity, &keyless.identity_regex) {
                (Some(identity), None) => {
                    pin_sigstore::Identity::exact(keyless.issuer.clone(), identity.clone())
                }
                (None, Some(pattern)) => {
                    let identity = pin_sigstore::Identity::regex(keyless.issuer.clone(), pattern)
                        .map_err(|e| {
                        (line, format!("[[trust]] keyless identity-regex: {e}"))
                    })?;
                    if identity.was_anchored() {
                        notes.push(format!(
                            "[[trust]] identity-regex {pattern:?} is matched against the whole identity (as ^(?:…)$)"
                        ));
                    }
                    identity
                }
                _ => {
                    return Err((
                        line,
                        "[[trust]] keyless: give exactly one of `identity` and `identity-regex`"
                            .to_string(),
                    ));
                }
            };
            rule.identities.push(identity);
        }
        rule.require = match raw.require {
            RawRequire::Signed => Require::Signed,
            RawRequire::None => Require::None,
        };
        rule.continuity = match raw.continuity {
            RawContinuity::Source => Continuity::Source,
            RawContinuity::None => Continuity::None,
        };
        if rule.require == Require::Signed && rule.keys.is_empty() && rule.identities.is_empty() {
            return Err((
                line_after(header, "require").or(header_line),
                "[[trust]] require = \"signed\" needs `keys` or `keyless`".to_string(),
            ));
        }
        rules.push(rule);
    }
    let trusted_root = match trusted_root {
        None => None,
        Some(name) => {
            let line = line_after(0, "trusted-root");
            let file = folder.join(name);
            let bytes = std::fs::read(&file).map_err(|e| {
                (
                    line,
                    format!("trusted-root: cannot read {}: {e}", file.display()),
                )
            })?;
            let root = pin_sigstore::TrustedRoot::from_json(&bytes)
                .map_err(|e| (line, format!("trusted-root {}: {e}", name.display())))?;
            Some((file, std::sync::Arc::new(root)))
        }
    };
    Ok(Trust {
        rules,
        trusted_root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::parse(Path::new("conf/pin.toml"), text)
    }

    #[test]
    fn a_full_file_parses() {
        let s = parse(
            "exclude = [\"vendor\"]\ninsecure-registries = [\"127.0.0.1:5000\"]\nca-files = [\"ca.pem\"]\nplatform = \"linux/arm64\"\njobs = 4\n\n[mirrors]\n\"docker.io\" = \"127.0.0.1:5000/hub\"\n\n[policy]\nallowed-registries = [\"127.0.0.1:5000/*\"]\ndeny-tags = [\"latest\"]\nrequire-tag = true\n",
        )
        .unwrap();
        assert_eq!(s.registry.mirrors[0].host, "127.0.0.1:5000");
        assert_eq!(s.registry.mirrors[0].prefix.as_deref(), Some("hub"));
        assert_eq!(s.registry.ca_files, vec![PathBuf::from("conf/ca.pem")]);
        assert_eq!(s.jobs, Some(4));
        assert!(s.policy.require_tag && s.policy.require_digest);
        assert!(!s.allow_unparsable);
        assert!(parse("allow-unparsable = true\n").unwrap().allow_unparsable);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("jobs = 3\nmirror = 1\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("unknown field `mirror`"),
            "{}",
            e.message
        );
        let e = parse("[policy]\n\nrequire-tags = true\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        let e = parse("jobs = \"many\"\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse("\n[policy]\ndeny-tags = [\"a[\"]\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(
            e.to_string().starts_with("conf/pin.toml:3: deny-tags"),
            "{e}"
        );
        let e = parse("platform = \"linux\"\n").unwrap_err();
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn pattern_errors_name_the_setting_line() {
        let ok = "[[patterns]]\nfiles = [\"*.sh\"]\nregex = '(?P<image>x)'\n";
        let s = parse(ok).unwrap();
        assert_eq!(s.patterns.patterns.len(), 1);
        assert_eq!(s.patterns.patterns[0].globs[0].1, Some(2));
        let e = parse(&format!(
            "{ok}\n[[patterns]]\nfiles = [\"*.mk\"]\nregex = '(x'\n"
        ))
        .unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.message.contains("invalid regex"), "{e}");
        let e = parse("[[patterns]]\nfiles = [\"*.sh\"]\nregex = '(?P<img>x)'\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("named group"), "{e}");
        let e = parse("[[patterns]]\nregex = '(?P<image>x)'\nfiles = [\"a[\"]\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("[[patterns]]\nfiles = []\nregex = '(?P<image>x)'\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn registry_jobs_and_deadline_are_read_and_must_be_positive() {
        let s = parse("registry-jobs = 8\ndeadline = 120\n").unwrap();
        assert_eq!((s.registry_jobs, s.deadline), (Some(8), Some(120)));
        let e = parse("jobs = 2\nregistry-jobs = 0\n").unwrap_err();
        assert_eq!(e.line, Some(2));
        assert!(
            e.message.contains("registry-jobs must be at least 1"),
            "{e}"
        );
        assert_eq!(parse("deadline = 0\n").unwrap_err().line, Some(1));
    }
}
