//! The rule model: secret rules and sensitive-file rules as data, the built-in defaults embedded from
//! `patterns/`, and a repository's `.hush.toml` merged on top (add, replace or disable rules; allow
//! paths and values). Everything here is validated once, before any scanning starts.

mod config;

pub use config::{Allow, Config};

use std::fmt;

use serde::Deserialize;

/// The default secret rules, compiled into the binary.
pub const DEFAULT_SECRETS: &str = include_str!("../../patterns/secrets.toml");
/// The default sensitive-file rules, compiled into the binary.
pub const DEFAULT_FILES: &str = include_str!("../../patterns/files.toml");
/// The same rules as compact JSON without their examples (made by build.rs): what runs parse.
const COMPACT_SECRETS: &str = include_str!(concat!(env!("OUT_DIR"), "/secrets.json"));
const COMPACT_FILES: &str = include_str!(concat!(env!("OUT_DIR"), "/files.json"));

/// A content rule: keywords gate a regex whose capture group is the secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub description: String,
    /// Literals any match must contain; compared ASCII-case-insensitively by the prefilter.
    pub keywords: Vec<String>,
    pub regex: String,
    /// Capture group holding the secret; 1 by default (0 when the regex has no groups).
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    pub entropy: Option<f64>,
    pub checksum: Option<Checksum>,
    /// The match may span lines (PEM blocks): the regex sees up to 64 KiB after the keyword.
    #[serde(default)]
    pub multiline: bool,
    /// How sure a match is to be a live secret; see [`Rule::confidence`] for the default.
    pub confidence: Option<Confidence>,
    /// Where the credential may be sent (host globs: `api.github.com`, `*.githubusercontent.com`):
    /// the proxy's DLP blocks it on its way to any other host. Empty for unbound secrets
    /// (private keys, generic passwords), which follow `[proxy] dlp` instead.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub true_positives: Vec<String>,
    #[serde(default)]
    pub false_positives: Vec<String>,
}

/// How sure a finding is to be a real secret, by what its rule can know: `High` for a checksum
/// or an unmistakable prefix (`ghp_`, `AKIA`, a PEM header), `Medium` for a distinctive shape
/// that needs a context word, `Low` for a generic assignment (`password = ...`) that only its
/// context suggests. Ordered: `Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    #[default]
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Offline structure checks: a token whose checksum or structure fails is not a real token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checksum {
    /// GitHub's `ghp_`-style tokens: CRC32 of the 30-character body, base62 in the last 6.
    Github,
    /// npm's `npm_` tokens, same construction as GitHub's.
    Npm,
    /// HTTP Basic credentials: base64 of `user:password`, the password neither empty, nor the
    /// user name, nor a placeholder (`user:pass`, `test:test`, `foo:bar`, `admin:password`).
    Basic,
    /// NATS NKEY seeds (`SU…`, `SA…`, `SO…`): base32 of two prefix bytes, the 32-byte Ed25519
    /// seed and a little-endian CRC-16/XMODEM of the first 34 bytes.
    Nkey,
}

/// A sensitive-file rule: a path glob, optionally confirmed by the file's content.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    /// Starts with `file-`.
    pub id: String,
    pub description: String,
    /// Globs; one without `/` matches the file name, one with `/` the whole relative path.
    pub paths: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// When set, the file is reported only if its content matches this regex.
    pub content: Option<String>,
    #[serde(default)]
    pub true_positives: Vec<String>,
    #[serde(default)]
    pub false_positives: Vec<String>,
}

/// Rules ready for compilation: defaults merged with a config.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub files: Vec<FileRule>,
    pub allow: Allow,
}

/// A rule file or config that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{origin}: rule '{id}': {problem}")]
    Invalid {
        origin: String,
        id: String,
        problem: String,
    },
    #[error("{origin}: {problem}")]
    Config { origin: String, problem: String },
    #[error("cannot read config '{path}': {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesFile {
    #[serde(default)]
    file: Vec<FileRule>,
}

impl RuleSet {
    /// The built-in rules alone, without their examples.
    pub fn defaults() -> Result<RuleSet, RuleError> {
        let json = |text: &str, origin: &str| RuleError::Config {
            origin: origin.to_string(),
            problem: format!("built-in rules are corrupt: {text}"),
        };
        let rules = serde_json::from_str::<SecretsFile>(COMPACT_SECRETS)
            .map_err(|e| json(&e.to_string(), "patterns/secrets.toml"))?
            .rule;
        let files = serde_json::from_str::<FilesFile>(COMPACT_FILES)
            .map_err(|e| json(&e.to_string(), "patterns/files.toml"))?
            .file;
        RuleSet::built_in(rules, files)
    }

    /// The built-in rules read from their TOML sources, examples included (for the tests that
    /// hold every rule to its examples).
    pub fn defaults_with_examples() -> Result<RuleSet, RuleError> {
        let rules = parse::<SecretsFile>(DEFAULT_SECRETS, "patterns/secrets.toml")?.rule;
        let files = parse::<FilesFile>(DEFAULT_FILES, "patterns/files.toml")?.file;
        RuleSet::built_in(rules, files)
    }

    fn built_in(rules: Vec<Rule>, files: Vec<FileRule>) -> Result<RuleSet, RuleError> {
        let set = RuleSet {
            rules,
            files,
            allow: Allow::default(),
        };
        set.validate("built-in rules", false)?;
        Ok(set)
    }

    /// The built-in rules with `config` merged on top: a config rule with a default's id replaces it.
    pub fn with_config(config: &Config) -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::defaults()?;
        for rule in &config.rule {
            match set.rules.iter_mut().find(|r| r.id == rule.id) {
                Some(existing) => *existing = rule.clone(),
                None => set.rules.push(rule.clone()),
            }
        }
        for file in &config.file {
            match set.files.iter_mut().find(|f| f.id == file.id) {
                Some(existing) => *existing = file.clone(),
                None => set.files.push(file.clone()),
            }
        }
        for id in &config.disable {
            let before = set.rules.len() + set.files.len();
            set.rules.retain(|r| &r.id != id);
            set.files.retain(|f| &f.id != id);
            if set.rules.len() + set.files.len() == before {
                return Err(RuleError::Config {
                    origin: config.origin.clone(),
                    problem: format!("'disable' names unknown rule '{id}' (see `hush rules`)"),
                });
            }
        }
        set.allow = config.allow.clone();
        set.keep_confident(config.min_confidence.unwrap_or_default());
        set.validate(&config.origin, false)?;
        // Config rules are few: compile them now so a typo fails before the scan, not during it.
        let own = RuleSet {
            rules: config.rule.clone(),
            files: config.file.clone(),
            allow: Allow::default(),
        };
        own.validate(&config.origin, true)?;
        Ok(set)
    }

    /// Drops the secret rules less sure than `min`: they are not run at all. Sensitive-file
    /// rules stay: a file's presence is certain.
    pub fn keep_confident(&mut self, min: Confidence) {
        self.rules.retain(|r| r.confidence() >= min);
    }

    /// Checks ids, keywords and globs; with `compile`, also every regex (the defaults' regexes are
    /// checked by the test suite instead, so start-up does not pay for compiling hundreds).
    fn validate(&self, origin: &str, compile_regexes: bool) -> Result<(), RuleError> {
        let invalid = |id: &str, problem: String| RuleError::Invalid {
            origin: origin.to_string(),
            id: id.to_string(),
            problem,
        };
        let mut seen = std::collections::HashSet::new();
        for rule in &self.rules {
            if !seen.insert(rule.id.as_str()) {
                return Err(invalid(&rule.id, "duplicate id".into()));
            }
            if rule.keywords.is_empty() {
                return Err(invalid(&rule.id, "needs at least one keyword".into()));
            }
            if let Some(k) = rule.keywords.iter().find(|k| k.len() < 3 || !k.is_ascii()) {
                return Err(invalid(
                    &rule.id,
                    format!("keyword '{k}' must be ASCII and at least 3 characters"),
                ));
            }
            if compile_regexes {
                let re = compile(&rule.regex).map_err(|e| invalid(&rule.id, one_line(&e)))?;
                let group = rule.secret_group();
                if group >= re.captures_len() {
                    return Err(invalid(
                        &rule.id,
                        format!("secret_group {group} but the regex has no such group"),
                    ));
                }
            }
        }
        for file in &self.files {
            if !seen.insert(file.id.as_str()) {
                return Err(invalid(&file.id, "duplicate id".into()));
            }
            if !file.id.starts_with("file-") {
                return Err(invalid(&file.id, "file rule ids start with 'file-'".into()));
            }
            for glob in file.paths.iter().chain(&file.exclude) {
                globset::Glob::new(glob).map_err(|e| invalid(&file.id, one_line(&e)))?;
            }
            if let (true, Some(content)) = (compile_regexes, &file.content) {
                compile(content).map_err(|e| invalid(&file.id, one_line(&e)))?;
            }
        }
        Ok(())
    }
}

impl Rule {
    /// The capture group holding the secret.
    pub fn secret_group(&self) -> usize {
        self.secret_group.unwrap_or(1)
    }

    /// The rule's stated confidence; without one, `High` for a rule with a checksum and
    /// `Medium` for any other.
    pub fn confidence(&self) -> Confidence {
        match (self.confidence, self.checksum) {
            (Some(c), _) => c,
            (None, Some(_)) => Confidence::High,
            (None, None) => Confidence::Medium,
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Checksum::Github => "github",
            Checksum::Npm => "npm",
            Checksum::Basic => "basic",
            Checksum::Nkey => "nkey",
        })
    }
}

fn parse<'de, T: Deserialize<'de>>(text: &'de str, origin: &str) -> Result<T, RuleError> {
    toml::from_str(text).map_err(|e| toml_error(&e, text, origin))
}

/// A TOML error as one line: where it is and what is wrong.
pub(crate) fn toml_error(e: &toml::de::Error, text: &str, origin: &str) -> RuleError {
    let problem = match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", one_line(&e.message()))
        }
        None => one_line(&e.message()),
    };
    RuleError::Config {
        origin: origin.to_string(),
        problem,
    }
}

/// Compiles a rule's regex, as the scanner does: `^` and `$` match at line ends. Unicode is off: secrets are ASCII, and Unicode-aware `\w` or `.` make
/// automata many times larger and slower for no gain. Any byte still matches `.` and `[^x]`.
pub fn compile(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .multi_line(true)
        .crlf(true)
        .build()
}

/// Error messages from regex and toml span several lines; the contract wants one.
pub(crate) fn one_line(e: &dyn fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
