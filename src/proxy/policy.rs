//! The proxy's decisions as a pure function: request target + configuration + environment flags
//! → [`Decision`]. No I/O here; the server carries decisions out, and checks the address it
//! actually dials with [`Policy::check_addr`] (a name is judged again after it is resolved).

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use super::addr::{self, Cidr, Refusal};
use super::telemetry::{normalize_host, normalize_path, Answer, HostGlob, Rule};

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `CONNECT host:port`: an opaque tunnel; the proxy never sees the path.
    Connect,
    /// An absolute-form `http://host[:port]/path` request.
    Http,
}

/// A request target, as parsed from the request line.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub kind: Kind,
    pub host: &'a str,
    pub port: u16,
    /// `None` for `CONNECT`.
    pub path: Option<&'a str>,
}

/// The environment flags that switch telemetry back on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Env {
    pub enable_telemetry: bool,
    pub do_not_track: bool,
}

impl Env {
    /// Reads `ENABLE_TELEMETRY` and `DO_NOT_TRACK` through `get`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Env {
        let flag = |name| get(name).is_some_and(|v| is_true(&v));
        Env {
            enable_telemetry: flag("ENABLE_TELEMETRY"),
            do_not_track: flag("DO_NOT_TRACK"),
        }
    }

    pub fn from_process() -> Env {
        Env::from_lookup(|name| std::env::var(name).ok())
    }

    /// Telemetry flows only when asked for and not vetoed: `DO_NOT_TRACK` wins.
    fn telemetry_enabled(self) -> bool {
        self.enable_telemetry && !self.do_not_track
    }
}

/// `1`, `true`, `yes`, `on` in any case; anything else (including empty) is false.
pub fn is_true(value: &str) -> bool {
    let v = value.trim();
    ["1", "true", "yes", "on"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// The validated `[proxy]` rules that decisions depend on.
#[derive(Debug, Clone)]
pub struct Policy {
    pub connect_ports: Vec<u16>,
    pub plain_http_allow: Vec<HostGlob>,
    pub allow_private: Vec<Cidr>,
    /// Built-in rules followed by the config's own.
    pub telemetry: Vec<Rule>,
    /// Lower-cased vendor names re-enabled by `telemetry_allow`.
    pub telemetry_allow: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            connect_ports: vec![443],
            plain_http_allow: Vec::new(),
            allow_private: Vec::new(),
            telemetry: Vec::new(),
            telemetry_allow: Vec::new(),
        }
    }
}

/// What the server does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send a plain-HTTP request on in clear text (`plain_http_allow`).
    Forward,
    /// Re-originate a plain-HTTP request over verified TLS.
    Upgrade,
    /// Open a `CONNECT` tunnel.
    Tunnel,
    /// Answer locally: a request gets `answer` (by default `204`), a tunnel `403`.
    TelemetryBlocked {
        vendor: String,
        answer: Arc<Answer>,
        matched: Matched,
    },
    Denied(Reason),
}

/// How a request came to be judged telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// A rule without a path prefix: everything on the host is telemetry.
    Host,
    /// The request's path is under a rule's prefix.
    Path,
    /// A `CONNECT` to a host whose telemetry rules all have a path prefix and none is `shared`:
    /// the tunnel would carry, unseen, exactly the requests the rules are for.
    HiddenPath,
}

/// Why a request was refused (`403`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    ConnectPort(u16),
    /// The address, and why it is not public.
    PrivateAddress(IpAddr, Refusal),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ConnectPort(p) => write!(f, "CONNECT to port {p} is not in connect_ports"),
            Reason::PrivateAddress(ip, Refusal { range, via: None }) => {
                write!(f, "{ip} is a {range} address not listed in allow_private")
            }
            Reason::PrivateAddress(
                ip,
                Refusal {
                    range,
                    via: Some(v4),
                },
            ) => {
                write!(
                    f,
                    "{ip} leads to {v4}, a {range} address not listed in allow_private"
                )
            }
        }
    }
}

impl Policy {
    /// Decides what to do with a request before any network access.
    pub fn decide(&self, target: &Target<'_>, env: Env) -> Decision {
        let host = normalize_host(target.host);
        let path = target.path.map(normalize_path);
        if let Some(blocked) = self.telemetry(&host, path.as_deref(), env) {
            return blocked;
        }
        if target.kind == Kind::Connect && !self.connect_ports.contains(&target.port) {
            return Decision::Denied(Reason::ConnectPort(target.port));
        }
        // An address literal needs no resolving: refuse it now. Names are checked once resolved.
        if let Ok(ip) = host.parse::<IpAddr>() {
            if let Err(reason) = self.check_addr(ip) {
                return Decision::Denied(reason);
            }
        }
        match target.kind {
            Kind::Connect => Decision::Tunnel,
            Kind::Http if self.plain_http_allow.iter().any(|g| g.matches(&host)) => {
                Decision::Forward
            }
            Kind::Http => Decision::Upgrade,
        }
    }

    /// Checks the address about to be dialled against the private ranges and `allow_private`.
    pub fn check_addr(&self, ip: IpAddr) -> Result<(), Reason> {
        addr::check(ip, &self.allow_private).map_err(|refusal| Reason::PrivateAddress(ip, refusal))
    }

    /// The telemetry verdict alone: `Some` when the request is telemetry to block. `host` and
    /// `path` are normalised; `path` is `None` for a `CONNECT`, which hides it. Kept apart from
    /// [`Policy::decide`] so that a caller that can see inside a tunnel judges first.
    pub fn telemetry(&self, host: &str, path: Option<&str>, env: Env) -> Option<Decision> {
        if env.telemetry_enabled() {
            return None;
        }
        let blocked = |rule: &Rule, matched| Decision::TelemetryBlocked {
            vendor: rule.vendor.clone(),
            answer: rule.answer.clone(),
            matched,
        };
        let mut rules = self.telemetry.iter().filter(|r| r.host.matches(host));
        if let Some(path) = path {
            let rule =
                rules.find(|r| r.matches(host, Some(path)) && !self.vendor_allowed(r, env))?;
            let matched = match rule.path_prefix {
                Some(_) => Matched::Path,
                None => Matched::Host,
            };
            return Some(blocked(rule, matched));
        }
        // A tunnel: a whole-host rule blocks it; path rules block it unless the host is shared
        // (whoever's entry says so: that the host serves other traffic is not up to a vendor).
        let mut hidden = None;
        let mut shared = false;
        for rule in rules {
            match rule.path_prefix {
                None if !self.vendor_allowed(rule, env) => {
                    return Some(blocked(rule, Matched::Host))
                }
                None => {}
                Some(_) if rule.shared => shared = true,
                Some(_) if hidden.is_none() && !self.vendor_allowed(rule, env) => {
                    hidden = Some(rule)
                }
                Some(_) => {}
            }
        }
        hidden
            .filter(|_| !shared)
            .map(|rule| blocked(rule, Matched::HiddenPath))
    }

    /// `telemetry_allow` re-enables a vendor, but `DO_NOT_TRACK` still wins over it.
    fn vendor_allowed(&self, rule: &Rule, env: Env) -> bool {
        !env.do_not_track && self.vendor_listed(&rule.vendor)
    }

    /// Whether `telemetry_allow` names `vendor`.
    pub fn vendor_listed(&self, vendor: &str) -> bool {
        self.telemetry_allow
            .iter()
            .any(|v| v.eq_ignore_ascii_case(vendor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::addr::Range;
    use crate::proxy::telemetry::RawRule;

    fn rule(vendor: &str, host: &str, path: Option<&str>) -> Rule {
        RawRule {
            host: host.into(),
            path_prefix: path.map(Into::into),
            vendor: Some(vendor.into()),
            description: None,
            path_case_sensitive: false,
            shared: false,
            answer: None,
        }
        .compile(None)
        .unwrap()
    }

    fn shared(vendor: &str, host: &str, path: &str) -> Rule {
        Rule {
            shared: true,
            ..rule(vendor, host, Some(path))
        }
    }

    fn policy() -> Policy {
        Policy {
            connect_ports: vec![443, 8443],
            plain_http_allow: vec!["*.svc.cluster.local".parse().unwrap()],
            allow_private: vec!["10.1.0.0/16".parse().unwrap()],
            telemetry: vec![
                rule("segment", "api.segment.io", None),
                rule("sentry", "*.ingest.sentry.io", None),
                rule("example", "api.example.com", Some("/v1/track")),
                // A host with telemetry paths that also serves what applications need.
                rule("hub", "hub.example.net", Some("/api/telemetry")),
                shared("hub", "hub.example.net", "/api/telemetry/v2"),
                // Path rules of an allowed vendor do not refuse its tunnels.
                rule("sentry", "errors.example.org", Some("/api/1/store")),
            ],
            telemetry_allow: vec!["sentry".into()],
        }
    }

    fn http<'a>(host: &'a str, path: &'a str) -> Target<'a> {
        Target {
            kind: Kind::Http,
            host,
            port: 80,
            path: Some(path),
        }
    }

    fn connect(host: &str, port: u16) -> Target<'_> {
        Target {
            kind: Kind::Connect,
            host,
            port,
            path: None,
        }
    }

    const OFF: Env = Env {
        enable_telemetry: false,
        do_not_track: false,
    };
    const ON: Env = Env {
        enable_telemetry: true,
        do_not_track: false,
    };
    const DNT: Env = Env {
        enable_telemetry: true,
        do_not_track: true,
    };

    fn blocked_as(vendor: &str, matched: Matched) -> Decision {
        Decision::TelemetryBlocked {
            vendor: vendor.into(),
            answer: Arc::new(Answer::default()),
            matched,
        }
    }

    fn blocked(vendor: &str) -> Decision {
        blocked_as(vendor, Matched::Host)
    }

    fn private(ip: &str, range: Range) -> Decision {
        let refusal = Refusal { range, via: None };
        Decision::Denied(Reason::PrivateAddress(ip.parse().unwrap(), refusal))
    }

    /// Refused for the IPv4 address `v4` that the IPv6 address `ip` carries.
    fn private_via(ip: &str, range: Range, v4: &str) -> Decision {
        let via = Some(v4.parse().unwrap());
        Decision::Denied(Reason::PrivateAddress(
            ip.parse().unwrap(),
            Refusal { range, via },
        ))
    }

    #[test]
    fn decision_table() {
        let p = policy();
        let cases: Vec<(Target, Env, Decision)> = vec![
            (http("example.org", "/"), OFF, Decision::Upgrade),
            (http("EXAMPLE.org.", "/"), OFF, Decision::Upgrade),
            (http("a.svc.cluster.local", "/"), OFF, Decision::Forward),
            (http("svc.cluster.local", "/"), OFF, Decision::Upgrade),
            (connect("example.org", 443), OFF, Decision::Tunnel),
            (connect("example.org", 8443), OFF, Decision::Tunnel),
            (
                connect("example.org", 22),
                OFF,
                Decision::Denied(Reason::ConnectPort(22)),
            ),
            // Telemetry: blocked, re-enabled by the environment, vetoed by DO_NOT_TRACK.
            (http("api.segment.io", "/v1/t"), OFF, blocked("segment")),
            (http("API.Segment.IO", "/v1/t"), OFF, blocked("segment")),
            (connect("api.segment.io", 443), OFF, blocked("segment")),
            (http("api.segment.io", "/v1/t"), ON, Decision::Upgrade),
            (connect("api.segment.io", 443), ON, Decision::Tunnel),
            (http("api.segment.io", "/v1/t"), DNT, blocked("segment")),
            // telemetry_allow re-enables one vendor, but not against DO_NOT_TRACK.
            (http("o1.ingest.sentry.io", "/api"), OFF, Decision::Upgrade),
            (
                http("o1.ingest.sentry.io", "/api"),
                Env {
                    enable_telemetry: false,
                    do_not_track: true,
                },
                blocked("sentry"),
            ),
            // Path-prefix rules: only the tracking path. A tunnel hides the path, so a host with
            // only path rules is refused, unless an entry says it is shared.
            (
                http("api.example.com", "/v1/track/e"),
                OFF,
                blocked_as("example", Matched::Path),
            ),
            (http("api.example.com", "/v1/users"), OFF, Decision::Upgrade),
            (
                connect("api.example.com", 443),
                OFF,
                blocked_as("example", Matched::HiddenPath),
            ),
            (connect("api.example.com", 443), ON, Decision::Tunnel),
            (
                connect("api.example.com", 443),
                DNT,
                blocked_as("example", Matched::HiddenPath),
            ),
            (
                http("hub.example.net", "/api/telemetry"),
                OFF,
                blocked_as("hub", Matched::Path),
            ),
            (http("hub.example.net", "/models/x"), OFF, Decision::Upgrade),
            (connect("hub.example.net", 443), OFF, Decision::Tunnel),
            (connect("HUB.example.net.", 443), OFF, Decision::Tunnel),
            // An allowed vendor's path-only host is tunnelled, unless DO_NOT_TRACK.
            (connect("errors.example.org", 443), OFF, Decision::Tunnel),
            (
                connect("errors.example.org", 443),
                Env {
                    enable_telemetry: false,
                    do_not_track: true,
                },
                blocked_as("sentry", Matched::HiddenPath),
            ),
            // Telemetry is judged before the port, so a blocked vendor is reported as such.
            (connect("api.segment.io", 22), OFF, blocked("segment")),
            // Address literals are refused before any dialling.
            (
                http("169.254.169.254", "/latest/meta-data"),
                OFF,
                private("169.254.169.254", Range::LinkLocal),
            ),
            (
                connect("127.0.0.1", 443),
                OFF,
                private("127.0.0.1", Range::Loopback),
            ),
            (
                connect("::ffff:10.0.0.1", 443),
                OFF,
                private_via("::ffff:10.0.0.1", Range::Private, "10.0.0.1"),
            ),
            (connect("10.1.2.3", 443), OFF, Decision::Tunnel),
            (http("10.1.2.3", "/"), OFF, Decision::Upgrade),
            (http("8.8.8.8", "/"), OFF, Decision::Upgrade),
        ];
        for (target, env, want) in cases {
            assert_eq!(p.decide(&target, env), want, "{target:?} {env:?}");
        }
    }

    /// Address literals of every IPv4-carrying IPv6 form are refused by the IPv4 address they
    /// lead to, before anything is dialled (issue 11, item 11).
    #[test]
    fn ipv4_carrying_ipv6_literals_are_refused() {
        let p = policy();
        let meta = "169.254.169.254";
        let link = Range::LinkLocal;
        let cases: Vec<(Target, Decision)> = vec![
            (
                connect("::ffff:0:a9fe:a9fe", 443),
                private_via("::ffff:0:a9fe:a9fe", link, meta),
            ),
            (
                http("::ffff:0:a9fe:a9fe", "/latest/meta-data"),
                private_via("::ffff:0:a9fe:a9fe", link, meta),
            ),
            (
                connect("::a9fe:a9fe", 443),
                private_via("::a9fe:a9fe", link, meta),
            ),
            (
                http("64:ff9b::a9fe:a9fe", "/"),
                private_via("64:ff9b::a9fe:a9fe", link, meta),
            ),
            (
                connect("64:ff9b:1:a9fe:a9:fe00::", 443),
                private_via("64:ff9b:1:a9fe:a9:fe00::", link, meta),
            ),
            (
                connect("2002:a9fe:a9fe::1", 443),
                private_via("2002:a9fe:a9fe::1", link, meta),
            ),
            (
                connect("2001:0:4136:e378:8000:63bf:5601:5601", 443),
                private_via("2001:0:4136:e378:8000:63bf:5601:5601", link, meta),
            ),
            (
                http("2001:4860::200:5efe:a9fe:a9fe", "/"),
                private_via("2001:4860::200:5efe:a9fe:a9fe", link, meta),
            ),
            (
                connect("::ffff:0:7f00:1", 443),
                private_via("::ffff:0:7f00:1", Range::Loopback, "127.0.0.1"),
            ),
            (connect("5f00::1", 443), private("5f00::1", Range::Reserved)),
            // allow_private (10.1.0.0/16) covers the IPv4 address behind any form.
            (connect("::ffff:0:a01:203", 443), Decision::Tunnel),
            (connect("64:ff9b::a01:203", 443), Decision::Tunnel),
            // Public IPv4 behind a translation prefix is public.
            (connect("64:ff9b::808:808", 443), Decision::Tunnel),
            (connect("::ffff:0:808:808", 443), Decision::Tunnel),
        ];
        for (target, want) in cases {
            assert_eq!(p.decide(&target, OFF), want, "{target:?}");
        }
        let reason = Reason::PrivateAddress(
            "::ffff:0:a9fe:a9fe".parse().unwrap(),
            Refusal {
                range: link,
                via: Some(meta.parse().unwrap()),
            },
        );
        assert_eq!(
            reason.to_string(),
            "::ffff:0:a9fe:a9fe leads to 169.254.169.254, a link-local address not listed in \
             allow_private"
        );
    }

    /// A telemetry path is blocked however it is spelled: letter case, escapes of unreserved
    /// characters and of `/`, dot segments and repeated slashes (issue 11, item 13). Judged with
    /// the built-in list, as the proxy runs it.
    #[test]
    fn telemetry_paths_match_in_every_spelling() {
        let builtin = crate::proxy::config::Config::parse("", std::path::Path::new("t.toml"));
        let p = builtin.unwrap().policy;
        let host = "us.i.posthog.com";
        for path in [
            "/batch",
            "/batch/",
            "/BATCH",
            "/Batch/x",
            "/%2fbatch",
            "/%2Fbatch",
            "/%2F%2fbatch",
            "//batch",
            "///batch",
            "/./batch",
            "/%2e/batch",
            "/x/../batch",
            "/x/%2e%2e/batch",
            "/x%2f..%2fbatch",
            "/%62atch",
            "/%42ATCH",
            "/CAPTURE/",
            "/E/",
            "/I/V0/E",
        ] {
            let d = p.decide(&http(host, path), OFF);
            assert!(
                matches!(&d, Decision::TelemetryBlocked { vendor, matched: Matched::Path, .. }
                    if vendor == "posthog"),
                "{path}: {d:?}"
            );
        }
        for path in [
            "/static/array.js",
            "/api/batch",
            "/bat",
            // An origin that decodes once sees `%2fbatch`, not `/batch`.
            "/%252fbatch",
            "/e",
        ] {
            assert_eq!(
                p.decide(&http(host, path), OFF),
                Decision::Upgrade,
                "{path}"
            );
        }
    }

    #[test]
    fn env_flags() {
        let env = |e: &str, d: &str| {
            let (e, d) = (e.to_string(), d.to_string());
            Env::from_lookup(move |name| match name {
                "ENABLE_TELEMETRY" if !e.is_empty() => Some(e.clone()),
                "DO_NOT_TRACK" if !d.is_empty() => Some(d.clone()),
                _ => None,
            })
        };
        for t in ["1", "true", "TRUE", "Yes", "on", "ON", " on "] {
            assert!(env(t, "").enable_telemetry, "{t:?}");
        }
        for f in ["0", "false", "no", "off", "2", "enabled", "y"] {
            assert!(!env(f, "").enable_telemetry, "{f:?}");
        }
        assert!(env("", "").eq(&OFF));
        assert!(env("1", "1").do_not_track);
        assert!(!env("1", "1").telemetry_enabled());
        assert!(env("1", "0").telemetry_enabled());
    }

    #[test]
    fn default_policy_tunnels_only_443() {
        let p = Policy::default();
        assert_eq!(
            p.decide(&connect("example.org", 443), OFF),
            Decision::Tunnel
        );
        assert_eq!(
            p.decide(&connect("example.org", 80), OFF),
            Decision::Denied(Reason::ConnectPort(80))
        );
    }

    /// The decision carries the answer of the rule that matched: the first one whose vendor
    /// is not re-enabled, so an allowed vendor's entry does not hide another's.
    #[test]
    fn decisions_carry_the_matching_rule_answer() {
        let answer = |status: u16| {
            let raw = format!(
                "[[telemetry]]\nvendor = \"v\"\nhost = \"x.example\"\nanswer = {{ status = {status} }}\n"
            );
            crate::proxy::telemetry::parse_rules(&raw).unwrap()[0]
                .answer
                .clone()
        };
        let with = |vendor: &str, status: u16| Rule {
            answer: answer(status),
            ..rule(vendor, "x.example", None)
        };
        let p = Policy {
            telemetry: vec![with("sentry", 201), with("other", 202)],
            telemetry_allow: vec!["sentry".into()],
            ..Policy::default()
        };
        let want = Decision::TelemetryBlocked {
            vendor: "other".into(),
            answer: answer(202),
            matched: Matched::Host,
        };
        assert_eq!(p.decide(&http("x.example", "/"), OFF), want);
        assert_eq!(p.decide(&connect("x.example", 443), OFF), want);
        let p = Policy {
            telemetry_allow: Vec::new(),
            ..p
        };
        match p.decide(&http("x.example", "/"), OFF) {
            Decision::TelemetryBlocked { vendor, answer, .. } => {
                assert_eq!((vendor.as_str(), answer.status.as_u16()), ("sentry", 201));
            }
            other => panic!("{other:?}"),
        }
    }
}
