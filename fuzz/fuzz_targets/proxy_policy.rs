//! The proxy's decision on arbitrary request targets (host, port, path as a client may send
//! them), with the built-in telemetry list: no panic, and a telemetry host is never let through
//! unless telemetry is switched on.
#![no_main]

use std::sync::OnceLock;

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
    if let Ok(ip) = host.parse() {
        let _ = policy().check_addr(ip);
    }
    let _ = host.parse::<hush::proxy::telemetry::HostGlob>();
    let _ = host.parse::<hush::proxy::addr::Cidr>();
});
