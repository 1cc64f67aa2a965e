//! Platforms (`os/arch[/variant]`) and how a platform asked for matches one an image
//! index lists.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use thiserror::Error;

/// A platform, `os/arch[/variant]`: what `--platform` asks for, what an index entry
/// and an image config say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    #[serde(default)]
    pub variant: Option<String>,
}

/// A `--platform` value that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("platform {0:?} is not os/arch[/variant], e.g. linux/arm64/v8")]
pub struct PlatformError(pub String);

impl Platform {
    /// Whether this platform (an index entry's, an image's) is what `spec` asks for.
    ///
    /// The rule of go-containerregistry's `Platform.Satisfies`: a field `spec` leaves
    /// out matches anything (so `linux/arm64` takes the first arm64 child). Variants
    /// follow containerd's normalisation: `arm64` without a variant is `arm64/v8`.
    pub fn satisfies(&self, spec: &Platform) -> bool {
        let field = |wanted: &str, have: &str| wanted.is_empty() || wanted == have;
        if !field(&spec.os, &self.os) || !field(&spec.architecture, &self.architecture) {
            return false;
        }
        spec.variant.is_none() || self.normal_variant() == spec.normal_variant()
    }

    /// The variant, with `arm64`'s implied `v8` made explicit.
    fn normal_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", None) => Some("v8"),
            (_, variant) => variant,
        }
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(text: &str) -> Result<Platform, PlatformError> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid = (2..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty());
        if !valid {
            return Err(PlatformError(text.to_string()));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| (*v).to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Platform {
        text.parse().unwrap()
    }

    #[test]
    fn platform_parses() {
        let p: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v7"));
        assert_eq!(p.to_string(), "linux/arm/v7");
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//".parse::<Platform>().is_err());
    }

    #[test]
    fn satisfies_follows_the_missing_field_rule_and_arm64_v8() {
        assert!(p("linux/arm64/v8").satisfies(&p("linux/arm64")));
        assert!(p("linux/arm64").satisfies(&p("linux/arm64/v8")));
        assert!(p("linux/arm/v7").satisfies(&p("linux/arm")));
        assert!(!p("linux/arm/v6").satisfies(&p("linux/arm/v7")));
        assert!(!p("linux/amd64").satisfies(&p("linux/arm64")));
        assert!(!p("windows/amd64").satisfies(&p("linux/amd64")));
        let any_arch = Platform {
            os: "linux".into(),
            architecture: String::new(),
            variant: None,
        };
        assert!(p("linux/s390x").satisfies(&any_arch));
    }
}
