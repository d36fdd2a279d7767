//! `.hush.toml`: one schema for every command. The scanner's keys are a repository's additions to
//! the built-in rules; the `[proxy]` table is read here with its types, so a mistake in it is an
//! error wherever the file is read, and validated by `hush proxy` (`crate::proxy::config`).

use std::path::Path;

use serde::Deserialize;

use super::{Confidence, FileRule, Rule, RuleError};

/// A parsed `.hush.toml` (or `--config FILE`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rule ids (secret or file rules) to turn off.
    #[serde(default)]
    pub disable: Vec<String>,
    #[serde(default)]
    pub allow: Allow,
    /// Extra secret rules; one with a built-in id replaces it.
    #[serde(default)]
    pub rule: Vec<Rule>,
    /// Extra sensitive-file rules.
    #[serde(default)]
    pub file: Vec<FileRule>,
    /// Secret rules less sure than this are not run (`--min-confidence` overrides it).
    pub min_confidence: Option<Confidence>,
    /// `hush proxy`'s settings.
    #[serde(default)]
    pub proxy: Option<crate::proxy::config::ProxyTable>,
    /// Where this config came from, for error messages.
    #[serde(skip, default = "no_config")]
    pub origin: String,
}

/// Findings to drop: by path glob or by secret value regex.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allow {
    /// Globs on the reported path (relative to the scan or repository root).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Regexes; a secret matching any of them is not reported.
    #[serde(default)]
    pub values: Vec<String>,
}

fn no_config() -> String {
    "(no config)".into()
}

impl Config {
    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, RuleError> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| super::toml_error(&e, text, origin))?;
        config.origin = origin.to_string();
        for glob in &config.allow.paths {
            globset::Glob::new(glob).map_err(|e| RuleError::Config {
                origin: origin.to_string(),
                problem: format!("allow.paths: {}", super::one_line(&e)),
            })?;
        }
        for value in &config.allow.values {
            regex::bytes::Regex::new(value).map_err(|e| RuleError::Config {
                origin: origin.to_string(),
                problem: format!("allow.values: {}", super::one_line(&e)),
            })?;
        }
        Ok(config)
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Config, RuleError> {
        let text = std::fs::read_to_string(path).map_err(|source| RuleError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// `explicit` if given, else `.hush.toml` in `root` if it exists, else an empty config.
    pub fn discover(explicit: Option<&Path>, root: &Path) -> Result<Config, RuleError> {
        if let Some(path) = explicit {
            return Config::load(path);
        }
        let default = root.join(".hush.toml");
        if default.is_file() {
            Config::load(&default)
        } else {
            Config::parse("", "(no config)")
        }
    }
}
