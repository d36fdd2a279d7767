//! The `[proxy]` table of `.hush.toml` (or `--config FILE`), validated into a [`Policy`] and the
//! server's settings. The scanner's top-level keys are its own to check and are passed over
//! here; any other key, at the top or inside `[proxy]`, is an error, so a typo (`[prxy]`) never
//! silently leaves the proxy on its defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::addr::{BadCidr, Cidr};
use super::policy::{Intercept, Policy};
use super::telemetry::{self, BadGlob, RawRule, RuleError};

/// Telemetry rules shipped with hush.
pub const BUILTIN_TELEMETRY: &str = include_str!("../../patterns/telemetry.toml");

/// Vendor name given to config `[[proxy.telemetry]]` entries that do not name one.
pub const CONFIG_VENDOR: &str = "config";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    #[serde(default)]
    proxy: ProxyTable,
    // The scanner's settings (`crate::rules::Config`), checked when it reads the file.
    #[serde(default, rename = "disable")]
    _disable: Option<toml::Value>,
    #[serde(default, rename = "allow")]
    _allow: Option<toml::Value>,
    #[serde(default, rename = "rule")]
    _rule: Option<toml::Value>,
    #[serde(default, rename = "file")]
    _file: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyTable {
    listen: Option<SocketAddr>,
    connect_ports: Option<Vec<u16>>,
    #[serde(default)]
    plain_http_allow: Vec<String>,
    #[serde(default)]
    allow_private: Vec<String>,
    ca_file: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    #[serde(default)]
    telemetry_allow: Vec<String>,
    #[serde(default)]
    telemetry: Vec<RawRule>,
    intercept: Option<RawIntercept>,
}

/// `intercept = "telemetry" | "none" | ["host-glob", ...]`
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawIntercept {
    Word(String),
    Hosts(Vec<String>),
}

/// What the config file says, validated. Paths in it are relative to the file's directory.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub listen: Option<SocketAddr>,
    pub ca_file: Option<PathBuf>,
    pub audit_log: Option<PathBuf>,
    /// `intercept` as written; `None` leaves it to whether a CA exists (see `proxy::run`).
    pub intercept: Option<Intercept>,
    pub policy: Policy,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("built-in telemetry rules: {0}")]
    Builtin(RuleError),
}

impl Config {
    /// Loads `path`, or `.hush.toml` in the current directory when `path` is `None` and that file
    /// exists; with neither, the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let default = Path::new(".hush.toml");
        let path = match path {
            Some(p) => p,
            None if default.is_file() => default,
            None => return Config::parse("", Path::new(".")),
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` names it in errors and anchors its relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let top: Top = toml::from_str(text).map_err(|e| invalid(toml_error(text, &e)))?;
        let table = top.proxy;
        let base = path.parent().unwrap_or(Path::new("."));

        let mut rules = telemetry::parse_rules(BUILTIN_TELEMETRY).map_err(ConfigError::Builtin)?;
        for raw in table.telemetry {
            rules.push(
                raw.compile(Some(CONFIG_VENDOR))
                    .map_err(|e| invalid(format!("[[proxy.telemetry]]: {e}")))?,
            );
        }
        let connect_ports = table.connect_ports.unwrap_or_else(|| vec![443]);
        if connect_ports.contains(&0) {
            return Err(invalid("connect_ports: 0 is not a port".into()));
        }
        let plain_http_allow = table
            .plain_http_allow
            .iter()
            .map(|g| g.parse())
            .collect::<Result<_, BadGlob>>()
            .map_err(|e| invalid(format!("plain_http_allow: {e}")))?;
        let allow_private = table
            .allow_private
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<Cidr>, BadCidr>>()
            .map_err(|e| invalid(format!("allow_private: {e}")))?;

        let intercept = match table.intercept {
            None => None,
            Some(RawIntercept::Word(w)) if w == "telemetry" => Some(Intercept::Telemetry),
            Some(RawIntercept::Word(w)) if w == "none" => Some(Intercept::Off),
            Some(RawIntercept::Word(w)) => {
                return Err(invalid(format!(
                    "intercept: {w:?} is not \"telemetry\", \"none\" or a list of host globs"
                )))
            }
            Some(RawIntercept::Hosts(globs)) => Some(Intercept::Hosts(
                globs
                    .iter()
                    .map(|g| g.parse())
                    .collect::<Result<_, BadGlob>>()
                    .map_err(|e| invalid(format!("intercept: {e}")))?,
            )),
        };

        Ok(Config {
            intercept,
            listen: table.listen,
            ca_file: table.ca_file.map(|p| base.join(p)),
            audit_log: table.audit_log.map(|p| base.join(p)),
            policy: Policy {
                connect_ports,
                plain_http_allow,
                allow_private,
                telemetry: rules,
                telemetry_allow: table
                    .telemetry_allow
                    .iter()
                    .map(|v| v.to_ascii_lowercase())
                    .collect(),
                intercept: Intercept::Off,
            },
        })
    }
}

/// One line for a TOML error: toml's own rendering spans several lines with a source excerpt.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/hush/.hush.toml"))
    }

    #[test]
    fn reads_every_contract_key() {
        let c = parse(
            r#"
            [allow]
            paths = ["belongs/to/the/scanner/**"]

            [proxy]
            listen = "127.0.0.1:9090"
            connect_ports = [443, 8443]
            plain_http_allow = ["*.svc.cluster.local"]
            allow_private = ["10.0.0.0/8"]
            ca_file = "extra-roots.pem"
            audit_log = "/var/log/hush-proxy.log"
            telemetry_allow = ["Sentry"]

            [[proxy.telemetry]]
            host = "*.telemetry.example.com"
            path_prefix = "/v1/track"
            "#,
        )
        .unwrap();
        assert_eq!(c.listen, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.ca_file, Some(PathBuf::from("/etc/hush/extra-roots.pem")));
        assert_eq!(c.audit_log, Some(PathBuf::from("/var/log/hush-proxy.log")));
        assert_eq!(c.policy.connect_ports, [443, 8443]);
        assert_eq!(c.policy.allow_private.len(), 1);
        assert_eq!(c.policy.telemetry_allow, ["sentry"]);
        let last = c.policy.telemetry.last().unwrap();
        assert_eq!(last.vendor, CONFIG_VENDOR);
        assert_eq!(last.path_prefix.as_deref(), Some("/v1/track"));
    }

    #[test]
    fn defaults_without_a_proxy_table() {
        // The scanner's own keys are left to it.
        let c = parse("disable = [\"a\"]\n[allow]\npaths = [\"x/**\"]\n[[rule]]\nid = \"r\"\n")
            .unwrap();
        assert_eq!(c.policy.connect_ports, [443]);
        assert!(c.listen.is_none() && c.ca_file.is_none());
    }

    #[test]
    fn errors_are_one_line_and_name_the_problem() {
        let cases = [
            ("[proxy]\nlisten_on = \"x\"\n", "listen_on"),
            (
                "[proxy]\nallow_private = [\"10.0.0.0/40\"]\n",
                "10.0.0.0/40",
            ),
            ("[proxy]\nplain_http_allow = [\"a.*.com\"]\n", "a.*.com"),
            (
                "[proxy]\n[[proxy.telemetry]]\nhost = \"x.com\"\nport = 1\n",
                "port",
            ),
            ("[proxy]\nlisten = \"nowhere\"\n", "line 2"),
            ("[proxy]\nconnect_ports = [0]\n", "connect_ports"),
            ("[proxy\n", "line 1"),
            ("[prxy]\nlisten = \"127.0.0.1:1\"\n", "prxy"),
            ("bogus_top = 1\n", "bogus_top"),
            ("[proxy]\nintercept = \"all\"\n", "intercept"),
            ("[proxy]\nintercept = [\"a.*.com\"]\n", "a.*.com"),
        ];
        for (text, needle) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
            assert!(!e.contains('\n'), "{e:?}");
            assert!(e.starts_with("config /etc/hush/.hush.toml: "), "{e:?}");
        }
    }

    #[test]
    fn builtin_rules_load_and_cover_the_issue_vendors() {
        let rules = telemetry::parse_rules(BUILTIN_TELEMETRY).unwrap();
        assert!(rules.len() >= 100, "{} rules", rules.len());
        let c = parse("").unwrap();
        assert_eq!(c.policy.telemetry.len(), rules.len());
        for vendor in [
            "segment",
            "mixpanel",
            "amplitude",
            "posthog",
            "sentry",
            "nextjs",
        ] {
            assert!(rules.iter().any(|r| r.vendor == vendor), "{vendor} missing");
        }
    }

    #[test]
    fn reads_the_intercept_scope() {
        let scope = |text: &str| parse(text).unwrap().intercept;
        assert_eq!(scope(""), None);
        assert_eq!(
            scope("[proxy]\nintercept = \"none\"\n"),
            Some(Intercept::Off)
        );
        assert_eq!(
            scope("[proxy]\nintercept = \"telemetry\"\n"),
            Some(Intercept::Telemetry)
        );
        assert_eq!(
            scope("[proxy]\nintercept = [\"*.example.com\", \"a.example.org\"]\n"),
            Some(Intercept::Hosts(vec![
                "*.example.com".parse().unwrap(),
                "a.example.org".parse().unwrap()
            ]))
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/hush.toml"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/hush.toml"));
    }
}
