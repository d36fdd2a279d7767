//! The environment `hush run` gives its command: the proxy variables pointing at hush, every
//! known telemetry opt-out (from `patterns/telemetry-env.toml`), and, with interception on, the
//! trust settings that make common runtimes accept the hush CA for this child only.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use crate::proxy::policy;

/// The opt-out list as shipped, whole (sources included): what the tests read.
pub const TELEMETRY_ENV: &str = include_str!("../../../patterns/telemetry-env.toml");
/// The same list as compact JSON without sources (build.rs): what a run parses.
const COMPACT_TELEMETRY_ENV: &str = include_str!(concat!(env!("OUT_DIR"), "/telemetry-env.json"));

/// Every name under which clients look for a proxy. Lower case first: curl and most Unix tools
/// read only `http_proxy` in lower case (an upper-case `HTTP_PROXY` is ignored by some for CGI's
/// sake), while Go, Python, Node and the JVM wrappers read either.
pub const PROXY_VARS: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
];

/// The hosts a child may reach without hush: loopback only, so local development servers keep
/// working while everything that leaves the machine goes through the proxy.
pub const NO_PROXY: &str = "localhost,127.0.0.1,::1";

/// Variables through which the common runtimes take a CA bundle (a file of PEM certificates):
/// OpenSSL and everything on it (`SSL_CERT_FILE`: Python's ssl, Ruby, PHP, Go on Linux),
/// Python requests, curl, git, pip and the AWS SDKs and CLI.
pub const BUNDLE_VARS: [&str; 6] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    "AWS_CA_BUNDLE",
];

/// One opt-out: setting `variable` to `value` stops `tool` sending telemetry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    pub tool: String,
    pub variable: String,
    pub value: String,
    /// Where the tool documents it (absent from the compact form).
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptOutFile {
    env: Vec<OptOut>,
}

/// The built-in opt-outs.
pub fn builtin() -> Result<Vec<OptOut>, String> {
    serde_json::from_str::<OptOutFile>(COMPACT_TELEMETRY_ENV)
        .map(|f| f.env)
        .map_err(|e| format!("built-in telemetry-env list: {e}"))
}

/// Parses the TOML form (the shipped file, sources included).
pub fn parse(text: &str) -> Result<Vec<OptOut>, String> {
    toml::from_str::<OptOutFile>(text)
        .map(|f| f.env)
        .map_err(|e| e.to_string())
}

/// What the child is to trust when hush intercepts its HTTPS.
pub struct Trust<'a> {
    /// For `NODE_EXTRA_CA_CERTS` (added to Node's built-in roots): the hush CA, after the
    /// user's own extra CAs when they had set some.
    pub node_extra: &'a Path,
    /// System roots plus the hush CA: for the runtimes whose variable replaces their roots.
    pub bundle: &'a Path,
}

/// What the child needs to know of hush.
pub struct Settings<'a> {
    /// `http://127.0.0.1:PORT` of the proxy (or of the bridge, under `--contain`).
    pub proxy_url: &'a str,
    pub trust: Option<Trust<'a>>,
}

/// The variables to set in the child (sorted by name), given the current environment `get`.
/// Proxy and trust variables are always set, since they are what makes hush the way out; an
/// opt-out the user has already set is left as it is, and none is set when `ENABLE_TELEMETRY`
/// is true (unless `DO_NOT_TRACK` vetoes it, as in the proxy).
pub fn child_env(
    settings: &Settings,
    opt_outs: &[OptOut],
    get: impl Fn(&str) -> Option<OsString>,
) -> BTreeMap<String, String> {
    let mut set = BTreeMap::new();
    for name in PROXY_VARS {
        set.insert(name.to_string(), settings.proxy_url.to_string());
    }
    for name in ["NO_PROXY", "no_proxy"] {
        set.insert(name.to_string(), NO_PROXY.to_string());
    }
    if let Some(trust) = &settings.trust {
        let ca = trust.node_extra.display().to_string();
        set.insert("NODE_EXTRA_CA_CERTS".to_string(), ca);
        for name in BUNDLE_VARS {
            set.insert(name.to_string(), trust.bundle.display().to_string());
        }
    }
    let unset = |name: &str| get(name).is_none();
    // Node 24 and later send fetch() and http(s).request through the proxy variables only
    // when asked to; older Node ignores them (the README says so: --contain is the answer).
    if unset("NODE_USE_ENV_PROXY") {
        set.insert("NODE_USE_ENV_PROXY".to_string(), "1".to_string());
    }
    if telemetry_wanted(&get) {
        return set;
    }
    for opt in opt_outs {
        if unset(&opt.variable) && !set.contains_key(&opt.variable) {
            set.insert(opt.variable.clone(), opt.value.clone());
        }
    }
    set
}

/// The proxy's own rule: `ENABLE_TELEMETRY` true and no `DO_NOT_TRACK` veto.
fn telemetry_wanted(get: &impl Fn(&str) -> Option<OsString>) -> bool {
    let env = policy::Env::from_lookup(|name| get(name).map(|v| v.to_string_lossy().into_owned()));
    env.enable_telemetry && !env.do_not_track
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn shipped() -> Vec<OptOut> {
        parse(TELEMETRY_ENV).expect("patterns/telemetry-env.toml parses")
    }

    #[test]
    fn the_list_is_long_consistent_and_sourced() {
        let list = shipped();
        let tools: HashSet<&str> = list.iter().map(|o| o.tool.as_str()).collect();
        assert!(tools.len() >= 100, "only {} tools", tools.len());
        let mut values: HashMap<&str, &str> = HashMap::new();
        for opt in &list {
            let name = &opt.variable;
            assert!(
                !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{name}: not an upper-case variable name"
            );
            assert!(!opt.value.is_empty(), "{name}: empty value");
            assert!(
                !opt.value
                    .contains(|c: char| c.is_whitespace() || c.is_control()),
                "{name}: value {:?} needs quoting",
                opt.value
            );
            let source = opt.source.as_deref().unwrap_or_default();
            assert!(source.starts_with("https://"), "{name}: source {source:?}");
            if let Some(prev) = values.insert(name, &opt.value) {
                assert_eq!(prev, opt.value, "{name}: conflicting values");
            }
            // The opt-out list must never reroute or unset what hush itself sets.
            assert!(!PROXY_VARS.contains(&name.as_str()) && !BUNDLE_VARS.contains(&name.as_str()));
            assert!(
                !["CI", "NO_PROXY", "NODE_EXTRA_CA_CERTS", "ENABLE_TELEMETRY"]
                    .contains(&name.as_str())
            );
        }
        for required in [
            "DO_NOT_TRACK",
            "NEXT_TELEMETRY_DISABLED",
            "DOTNET_CLI_TELEMETRY_OPTOUT",
            "HOMEBREW_NO_ANALYTICS",
            "HF_HUB_DISABLE_TELEMETRY",
            "GATSBY_TELEMETRY_DISABLED",
            "AZURE_CORE_COLLECT_TELEMETRY",
            "CHECKPOINT_DISABLE",
            "GOTELEMETRY",
        ] {
            assert!(values.contains_key(required), "{required} missing");
        }
    }

    #[test]
    fn compact_form_matches_the_toml() {
        let compact = builtin().unwrap();
        let full = shipped();
        assert_eq!(compact.len(), full.len());
        for (c, f) in compact.iter().zip(&full) {
            assert_eq!(
                (&c.tool, &c.variable, &c.value),
                (&f.tool, &f.variable, &f.value)
            );
            assert!(c.source.is_none());
        }
    }

    fn settings<'a>(trust: Option<Trust<'a>>) -> Settings<'a> {
        Settings {
            proxy_url: "http://127.0.0.1:4242",
            trust,
        }
    }

    #[test]
    fn user_values_win_and_proxy_values_do_not_yield() {
        let user: HashMap<&str, &str> = [
            ("NEXT_TELEMETRY_DISABLED", "0"),
            ("https_proxy", "http://elsewhere:1"),
            ("NO_PROXY", "*"),
        ]
        .into();
        let get = |name: &str| user.get(name).map(OsString::from);
        let env = child_env(&settings(None), &shipped(), get);
        assert!(!env.contains_key("NEXT_TELEMETRY_DISABLED"));
        assert_eq!(env["DO_NOT_TRACK"], "1");
        assert_eq!(env["https_proxy"], "http://127.0.0.1:4242");
        assert_eq!(env["ALL_PROXY"], "http://127.0.0.1:4242");
        assert_eq!(env["NO_PROXY"], NO_PROXY);
        assert_eq!(env["NODE_USE_ENV_PROXY"], "1");
        assert!(!env.contains_key("SSL_CERT_FILE"));
    }

    #[test]
    fn enable_telemetry_sets_no_opt_out_unless_do_not_track_vetoes() {
        let count = |user: &[(&str, &str)]| {
            let user: HashMap<&str, &str> = user.iter().copied().collect();
            let env = child_env(&settings(None), &shipped(), |n| {
                user.get(n).map(OsString::from)
            });
            env.contains_key("HOMEBREW_NO_ANALYTICS")
        };
        assert!(count(&[]));
        assert!(!count(&[("ENABLE_TELEMETRY", "yes")]));
        assert!(count(&[("ENABLE_TELEMETRY", "yes"), ("DO_NOT_TRACK", "1")]));
        assert!(count(&[("ENABLE_TELEMETRY", "no")]));
    }

    #[test]
    fn interception_adds_the_trust_variables() {
        let trust = Trust {
            node_extra: Path::new("/d/ca.pem"),
            bundle: Path::new("/run/bundle.pem"),
        };
        let env = child_env(&settings(Some(trust)), &[], |_| None);
        assert_eq!(env["NODE_EXTRA_CA_CERTS"], "/d/ca.pem");
        for name in BUNDLE_VARS {
            assert_eq!(env[name], "/run/bundle.pem", "{name}");
        }
    }
}
