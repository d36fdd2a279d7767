//! The `[proxy]` table of `.hush.toml` (or `--config FILE`), validated into a [`Policy`] and the
//! server's settings. The file has one schema for every command (`crate::rules::Config`, which
//! holds this table typed): a key unknown anywhere in it, at the top or inside `[proxy]`, is an
//! error, so a typo (`[prxy]`) never silently leaves the proxy on its defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::rules::{self, RuleError, RuleSet};

use super::addr::{BadCidr, Cidr};
use super::dlp::{self, Dlp};
use super::policy::{Intercept, Policy};
use super::telemetry::{self, BadGlob, RawRule};

/// Telemetry rules shipped with hush.
pub const BUILTIN_TELEMETRY: &str = include_str!("../../patterns/telemetry.toml");

/// Vendor name given to config `[[proxy.telemetry]]` entries that do not name one.
pub const CONFIG_VENDOR: &str = "config";

/// `[proxy]` as written; [`Config::from_table`] validates it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyTable {
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
    /// `dlp = "block" | "log" | "off"`: unbound secrets; see [`dlp::Mode`].
    dlp: Option<dlp::Mode>,
    /// `[proxy.dlp_allow_hosts]`: rule id = [host globs] a credential may go to besides its
    /// rule's own `hosts` (self-hosted GitHub, GitLab, Sentry...).
    #[serde(default)]
    dlp_allow_hosts: BTreeMap<String, Vec<String>>,
    /// Most bytes of a request body held and scanned before it is sent (default 1 MiB).
    dlp_max_body: Option<u64>,
}

impl ProxyTable {
    /// The DLP keys, as written.
    pub fn dlp_settings(&self) -> dlp::Settings {
        dlp::Settings {
            mode: self.dlp,
            allow_hosts: self.dlp_allow_hosts.clone(),
            max_body: self.dlp_max_body,
        }
    }
}

/// `intercept = "telemetry" | "none" | ["host-glob", ...]`
#[derive(Debug, Clone, Deserialize)]
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
    /// The egress DLP, compiled from the same rules as `hush scan` (built-in rules with the
    /// file's merged on top); `None` when `dlp = "off"` (and in `Config::default()`).
    pub dlp: Option<Arc<Dlp>>,
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
}

impl Config {
    /// Loads `path`, or `.hush.toml` in the current directory when `path` is `None` and that file
    /// exists (the discovery every command uses); with neither, the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let file = rules::Config::discover(path, Path::new("."));
        Config::from_file(file, path.unwrap_or(Path::new(".hush.toml")))
    }

    /// Parses config text; `path` names it in errors and anchors its relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = rules::Config::parse(text, &path.display().to_string());
        Config::from_file(file, path)
    }

    fn from_file(
        file: Result<rules::Config, RuleError>,
        path: &Path,
    ) -> Result<Config, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let (table, rules) = match file {
            Ok(file) => {
                let rules = RuleSet::with_config(&file).map_err(|e| invalid(e.to_string()))?;
                (file.proxy.unwrap_or_default(), rules)
            }
            Err(RuleError::Read { source, .. }) => {
                return Err(ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
            Err(RuleError::Config { problem, .. }) => return Err(invalid(problem)),
            Err(e) => return Err(invalid(e.to_string())),
        };
        let dlp = Dlp::new(&rules, &table.dlp_settings()).map_err(&invalid)?;
        let mut config =
            Config::from_table(table, path.parent().unwrap_or(Path::new("."))).map_err(invalid)?;
        config.dlp = dlp.map(Arc::new);
        Ok(config)
    }

    /// Validates `[proxy]`; relative paths in it are taken from `base`.
    fn from_table(table: ProxyTable, base: &Path) -> Result<Config, String> {
        let mut rules = telemetry::parse_rules(BUILTIN_TELEMETRY)
            .map_err(|e| format!("built-in telemetry rules: {e}"))?;
        for raw in table.telemetry {
            rules.push(
                raw.compile(Some(CONFIG_VENDOR))
                    .map_err(|e| format!("[[proxy.telemetry]]: {e}"))?,
            );
        }
        let connect_ports = table.connect_ports.unwrap_or_else(|| vec![443]);
        if connect_ports.contains(&0) {
            return Err("connect_ports: 0 is not a port".into());
        }
        let plain_http_allow = table
            .plain_http_allow
            .iter()
            .map(|g| g.parse())
            .collect::<Result<_, BadGlob>>()
            .map_err(|e| format!("plain_http_allow: {e}"))?;
        let allow_private = table
            .allow_private
            .iter()
            .map(|c| c.parse())
            .collect::<Result<Vec<Cidr>, BadCidr>>()
            .map_err(|e| format!("allow_private: {e}"))?;

        let intercept = match table.intercept {
            None => None,
            Some(RawIntercept::Word(w)) if w == "telemetry" => Some(Intercept::Telemetry),
            Some(RawIntercept::Word(w)) if w == "none" => Some(Intercept::Off),
            Some(RawIntercept::Word(w)) => {
                return Err(format!(
                    "intercept: {w:?} is not \"telemetry\", \"none\" or a list of host globs"
                ))
            }
            Some(RawIntercept::Hosts(globs)) => Some(Intercept::Hosts(
                globs
                    .iter()
                    .map(|g| g.parse())
                    .collect::<Result<_, BadGlob>>()
                    .map_err(|e| format!("intercept: {e}"))?,
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
            dlp: None,
        })
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
        let c = parse("disable = [\"jwt\"]\n[allow]\npaths = [\"x/**\"]\n").unwrap();
        assert_eq!(c.policy.connect_ports, [443]);
        assert!(c.listen.is_none() && c.ca_file.is_none());
    }

    #[test]
    fn one_schema_for_every_command() {
        // The scanner's keys are checked when the proxy reads the file, and the proxy's table
        // when the scanner does: neither passes over a mistake in the other's part.
        let e = parse("[[rule]]\nid = \"r\"\n").unwrap_err().to_string();
        assert!(e.contains("description"), "{e}");
        let e = rules::Config::parse("[proxy]\nlisten_on = 1\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("listen_on"), "{e}");
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

    /// Every path entry says whether its host is shared, the vendors of issue 12 carry the
    /// answers their SDKs accept, and every JSON answer is JSON.
    #[test]
    fn builtin_answers_and_shared_hosts() {
        let file: toml::Value = toml::from_str(BUILTIN_TELEMETRY).unwrap();
        let entries = file["telemetry"].as_array().unwrap();
        for entry in entries {
            let has = |key: &str| entry.get(key).is_some();
            assert!(
                !has("path_prefix") || has("shared"),
                "{entry} does not say whether its host is shared"
            );
        }
        let rules = telemetry::parse_rules(BUILTIN_TELEMETRY).unwrap();
        for vendor in [
            "segment",
            "mixpanel",
            "posthog",
            "amplitude",
            "sentry",
            "datadog",
            "bugsnag",
            "heap",
            "google-analytics",
            "microsoft-application-insights",
        ] {
            let answered = entries
                .iter()
                .any(|e| e["vendor"].as_str() == Some(vendor) && e.get("answer").is_some());
            assert!(answered, "{vendor} has no answer");
        }
        for rule in &rules {
            let answer = &rule.answer;
            if answer
                .content_type
                .as_ref()
                .is_some_and(|ct| ct == "application/json")
            {
                let parsed = serde_json::from_slice::<serde_json::Value>(&answer.body);
                assert!(parsed.is_ok(), "{} {}: {parsed:?}", rule.vendor, rule.host);
            }
        }
        // The answers as the SDKs read them (see the comments in telemetry.toml).
        let c = parse("").unwrap();
        let body = |host: &str, path: &str| -> serde_json::Value {
            let target = crate::proxy::policy::Target {
                kind: crate::proxy::policy::Kind::Http,
                host,
                port: 80,
                path: Some(path),
            };
            match c.policy.decide(&target, Default::default()) {
                crate::proxy::policy::Decision::TelemetryBlocked { answer, .. } => {
                    assert_eq!(answer.status, 200, "{host}{path}");
                    serde_json::from_slice(&answer.body).unwrap()
                }
                other => panic!("{host}{path}: {other:?}"),
            }
        };
        assert_eq!(body("api.mixpanel.com", "/track")["status"], 1);
        assert_eq!(body("api.mixpanel.com", "/engage")["status"], 1);
        assert_eq!(body("api.mixpanel.com", "/import")["status"], 1);
        assert_eq!(
            body("api.mixpanel.com", "/flags")["flags"],
            serde_json::json!({})
        );
        assert_eq!(
            body("api.mixpanel.com", "/flags/definitions")["flags"],
            serde_json::json!([])
        );
        assert_eq!(
            body("api-js.mixpanel.com", "/flags/")["flags"],
            serde_json::json!({})
        );
        for path in ["/batch/", "/e/", "/i/v0/e/", "/capture/"] {
            assert_eq!(body("us.i.posthog.com", path)["status"], 1, "{path}");
        }
        for path in ["/decide/?v=3", "/flags/?v=2"] {
            let flags = body("eu.i.posthog.com", path);
            assert_eq!(flags["flags"], serde_json::json!({}), "{path}");
            assert_eq!(flags["featureFlags"], serde_json::json!({}), "{path}");
            assert_eq!(flags["errorsWhileComputingFlags"], false, "{path}");
        }
        assert_eq!(body("api2.amplitude.com", "/2/httpapi")["code"], 200);
        assert_eq!(body("api2.amplitude.com", "/batch")["code"], 200);
        let ai = body(
            "westeurope-5.in.applicationinsights.azure.com",
            "/v2.1/track",
        );
        assert_eq!(ai["itemsReceived"], ai["itemsAccepted"]);
        assert_eq!(ai["errors"], serde_json::json!([]));
        assert_eq!(
            body("dc.services.visualstudio.com", "/v2/track")["errors"],
            serde_json::json!([])
        );
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
    fn reads_the_dlp_keys() {
        let c = parse("").unwrap();
        let dlp = c.dlp.expect("on by default");
        assert_eq!(dlp.max_body, dlp::DEFAULT_MAX_BODY);
        let c = parse(
            "[proxy]\ndlp = \"block\"\ndlp_max_body = 4096\n\
             [proxy.dlp_allow_hosts]\ngithub-pat = [\"ghe.corp.example\"]\n",
        )
        .unwrap();
        assert_eq!(c.dlp.unwrap().max_body, 4096);
        assert!(parse("[proxy]\ndlp = \"off\"\n").unwrap().dlp.is_none());
        for (text, needle) in [
            ("[proxy]\ndlp = \"warn\"\n", "warn"),
            (
                "[proxy.dlp_allow_hosts]\nno-such-rule = [\"a.example\"]\n",
                "no-such-rule",
            ),
            ("[proxy]\ndlp_max_body = 999999999999\n", "dlp_max_body"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(
                e.contains(needle) && !e.contains('\n'),
                "{e:?} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = Config::load(Some(Path::new("/nonexistent/hush.toml"))).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/hush.toml"));
    }
}
