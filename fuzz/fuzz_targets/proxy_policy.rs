//! The proxy's decision on arbitrary request targets (host, port, path as a client may send
//! them), with the built-in telemetry list: no panic, a telemetry host is never let through
//! unless telemetry is switched on, another spelling of a path gets the same decision, and an
//! address literal that is not public (or carries an IPv4 address that is not) is never
//! dialled. Seeds (SSRF forms, telemetry path spellings) are committed in
//! `fuzz/seeds/proxy_policy/` (`fuzz/corpus/` is the fuzzer's own, untracked):
//! `cargo fuzz run proxy_policy fuzz/corpus/proxy_policy fuzz/seeds/proxy_policy`.
#![no_main]

use std::sync::OnceLock;

use std::net::IpAddr;

use hush::proxy::addr::{classify, embedded_v4, Cidr};
use hush::proxy::config::Config;
use hush::proxy::policy::{Decision, Env, Kind, Policy, Target};
use libfuzzer_sys::fuzz_target;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let text =
            "[proxy]\nplain_http_allow = [\"*.internal\"]\nallow_private = [\"10.0.0.0/8\"]\n";
        let config = Config::parse(text, std::path::Path::new("fuzz.toml"));
        config.expect("fuzz config parses").policy
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First byte picks the kind, flags and port; the rest splits into host and path at a space.
    let Some((&first, rest)) = text.as_bytes().split_first() else {
        return;
    };
    let rest = std::str::from_utf8(rest).unwrap_or_default();
    let (host, path) = rest.split_once(' ').unwrap_or((rest, "/"));
    let kind = if first & 1 == 0 {
        Kind::Connect
    } else {
        Kind::Http
    };
    let env = Env {
        enable_telemetry: first & 2 != 0,
        do_not_track: first & 4 != 0,
    };
    let target = Target {
        kind,
        host,
        port: [443, 80, 8443, 22][usize::from(first >> 3 & 3)],
        path: (kind == Kind::Http).then_some(path),
    };
    let decision = policy().decide(&target, env);
    if let Decision::TelemetryBlocked { .. } = decision {
        assert!(!env.enable_telemetry || env.do_not_track);
    }
    // Doubled slashes and another letter case are other spellings of the same path.
    if let Some(path) = target.path {
        for other in [path.replace('/', "//"), path.to_ascii_uppercase()] {
            let again = Target {
                path: Some(&other),
                ..target
            };
            assert_eq!(
                policy().decide(&again, env),
                decision,
                "{path:?} vs {other:?}"
            );
        }
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        check_literal(ip, &decision);
    }
    let _ = host.parse::<hush::proxy::telemetry::HostGlob>();
    let _ = host.parse::<Cidr>();
});

/// A refused literal is never dialled, and an IPv6 literal that carries a non-public IPv4
/// address outside `allow_private` (10.0.0.0/8) is refused.
fn check_literal(ip: IpAddr, decision: &Decision) {
    let refused = policy().check_addr(ip).is_err();
    if refused {
        assert!(
            !matches!(
                decision,
                Decision::Tunnel | Decision::Forward | Decision::Upgrade
            ),
            "{ip}: {decision:?}"
        );
    }
    let IpAddr::V6(v6) = ip else {
        return;
    };
    let ten: Cidr = "10.0.0.0/8".parse().expect("a valid CIDR");
    for v4 in embedded_v4(v6) {
        let v4 = IpAddr::V4(v4);
        if classify(v4).is_some() && !ten.contains(v4) && !ten.contains(ip) {
            assert!(refused, "{ip} carries {v4}");
        }
    }
}
