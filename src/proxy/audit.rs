//! The audit log: one JSON line per decision, with the contract's fields and nothing more
//! revealing. Header values, bodies and query strings never reach a record: the record type has
//! no field that could hold them, the path is cut at `?` before it is stored, and as a line is
//! written its path loses its matrix parameters and has every secret the scanning engine finds
//! in it masked, as `hush scan` masks them. The log file is private to its owner (`0600`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::metrics::Metrics;
use super::policy;
use crate::rules::RuleSet;
use crate::scan::Scanner;

/// Where audit lines go: a file opened for append, or standard error.
pub struct AuditLog {
    sink: Mutex<Sink>,
    /// Set when the drain deadline has passed: what is still open is being cut off.
    cutting_off: AtomicBool,
    /// The built-in rules, compiled once: finds the secrets a logged path must not show.
    scanner: Scanner,
    /// Counted from every record written.
    metrics: Metrics,
}

enum Sink {
    File(File),
    Stderr,
}

impl AuditLog {
    /// Opens `path` for append, creating it `0600`; an existing file that others can read is
    /// used as it is, with a warning on stderr (changing its mode is the owner's call).
    pub fn open(path: Option<&Path>) -> std::io::Result<AuditLog> {
        let sink = match path {
            Some(p) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)?;
                let mode = file.metadata()?.permissions().mode();
                if mode & 0o044 != 0 {
                    eprintln!(
                        "hush proxy: warning: audit log {} is readable by group or others \
                         (mode {:o}); `chmod 600` it",
                        p.display(),
                        mode & 0o777
                    );
                }
                Sink::File(file)
            }
            None => Sink::Stderr,
        };
        let scanner = RuleSet::defaults()
            .and_then(|rules| Scanner::new(&rules))
            .map_err(std::io::Error::other)?;
        Ok(AuditLog {
            sink: Mutex::new(sink),
            cutting_off: AtomicBool::new(false),
            scanner,
            metrics: Metrics::default(),
        })
    }

    /// The counters fed by [`AuditLog::write`].
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// From now on, a request or tunnel whose record is still pending was cut off at shutdown.
    pub fn cut_off_the_rest(&self) {
        self.cutting_off.store(true, Ordering::Relaxed);
    }

    /// Writes one line. A failing log must not take the proxy down, so errors are dropped; the
    /// line is written with one `write_all` so concurrent records never interleave.
    pub fn write(&self, record: &Record) {
        self.metrics.record(record);
        let shown = Record {
            path: record
                .path
                .as_deref()
                .map(|p| self.shown_path(&record.host, p)),
            ..record.clone()
        };
        let Ok(mut line) = serde_json::to_vec(&shown) else {
            return;
        };
        line.push(b'\n');
        let Ok(mut sink) = self.sink.lock() else {
            return;
        };
        let _ = match &mut *sink {
            Sink::File(f) => f.write_all(&line),
            Sink::Stderr => std::io::stderr().lock().write_all(&line),
        };
    }

    /// `path` as the log shows it: query and matrix parameters dropped, and every secret the
    /// engine finds masked. The engine sees the path as part of its URL (`https://host/path`),
    /// since the rules for webhook and bot URLs need the host to recognise them; only what lies
    /// in the path is masked, with `hush scan`'s redaction.
    pub fn shown_path(&self, host: &str, path: &str) -> String {
        let path = without_parameters(&path_only(path));
        let url = format!("https://{host}{path}");
        let offset = url.len() - path.len();
        let secrets: Vec<Range<usize>> = self
            .scanner
            .scan(url.as_bytes())
            .into_iter()
            .filter(|m| m.secret.end > offset)
            .map(|m| m.secret.start.max(offset) - offset..m.secret.end - offset)
            .collect();
        if secrets.is_empty() {
            return path;
        }
        String::from_utf8_lossy(&crate::report::mask(path.as_bytes(), &secrets)).into_owned()
    }
}

/// What became of a request, as the audit log's `decision` says it: the policy's decisions, and
/// the ends the policy does not decide (a failure, a connection closed without a request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Forward,
    Upgrade,
    Tunnel,
    /// A `CONNECT` answered and served by hush itself: each request inside has its own record.
    Intercept,
    TelemetryBlocked,
    /// A request carrying a credential to a host it may not go to (egress DLP): `403`, and
    /// nothing of the request was sent. The record names the rule and the fingerprint.
    DlpBlocked,
    Denied,
    /// Refused as malformed, or failed after the decision (upstream unreachable, untrusted).
    Error,
    /// A connection that ended without a request (idle, or never sent one): nothing was sent.
    Closed,
}

impl Outcome {
    /// Every outcome, in the order of their discriminants.
    pub const ALL: [Outcome; 9] = [
        Outcome::Forward,
        Outcome::Upgrade,
        Outcome::Tunnel,
        Outcome::Intercept,
        Outcome::TelemetryBlocked,
        Outcome::DlpBlocked,
        Outcome::Denied,
        Outcome::Error,
        Outcome::Closed,
    ];

    /// The name in the log (and in `/metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forward => "forward",
            Outcome::Upgrade => "upgrade",
            Outcome::Tunnel => "tunnel",
            Outcome::Intercept => "intercept",
            Outcome::TelemetryBlocked => "telemetry-blocked",
            Outcome::DlpBlocked => "dlp-blocked",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
            Outcome::Closed => "closed",
        }
    }
}

/// The policy's decision as logged. Exhaustive on purpose: a decision added to the policy does
/// not compile until it has its name in the log.
impl From<&policy::Decision> for Outcome {
    fn from(decision: &policy::Decision) -> Outcome {
        match decision {
            policy::Decision::Forward => Outcome::Forward,
            policy::Decision::Upgrade => Outcome::Upgrade,
            policy::Decision::Tunnel => Outcome::Tunnel,
            policy::Decision::Intercept { .. } => Outcome::Intercept,
            policy::Decision::TelemetryBlocked { .. } => Outcome::TelemetryBlocked,
            policy::Decision::Denied(_) => Outcome::Denied,
        }
    }
}

/// One audit line.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub time: String,
    pub client: SocketAddr,
    pub method: String,
    pub host: String,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub decision: Outcome,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_ms: u64,
    /// Why a request was refused or failed (never derived from request headers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// The DLP rule whose finding blocked the request (`dlp-blocked`), or was logged on a
    /// request let through (an unbound secret under the `log` mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// `hush scan`'s fingerprint of that finding: never the secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// What the DLP could not see: `"not inspected"` (a tunnel), `"partly inspected"` (a body
    /// past `dlp_max_body`, or too dense with findings to scan to its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dlp: Option<&'static str>,
}

impl Record {
    /// A record for a request to `host:port`, before any decision; `decision` starts as `error`
    /// so that a record that is never settled does not claim success.
    pub fn new(client: SocketAddr, method: &str, host: String, port: u16) -> Record {
        Record {
            time: now_rfc3339(),
            client,
            method: method.to_string(),
            host,
            port,
            path: None,
            decision: Outcome::Error,
            status: 0,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0,
            reason: None,
            vendor: None,
            rule: None,
            fingerprint: None,
            dlp: None,
        }
    }

    /// A connection refused before any request on it could be read (connection cap, malformed
    /// or oversized head, header timeout): method and host are unknown, so they are empty.
    pub fn refused(client: SocketAddr, decision: Outcome, status: u16, reason: &str) -> Record {
        Record {
            decision,
            status,
            reason: Some(reason.to_string()),
            ..Record::new(client, "", String::new(), 0)
        }
    }
}

/// A decision whose line is written when the exchange ends, with the bytes counted meanwhile.
/// Dropping it writes the line, so a client that disconnects mid-stream is still logged.
pub struct Pending {
    log: Arc<AuditLog>,
    record: Record,
    start: Instant,
    pub up: Arc<AtomicU64>,
    pub down: Arc<AtomicU64>,
}

impl Pending {
    pub fn new(log: Arc<AuditLog>, record: Record, start: Instant) -> Pending {
        Pending {
            log,
            record,
            start,
            up: Arc::default(),
            down: Arc::default(),
        }
    }

    /// Notes why an exchange ended without making it an error (a tunnel's idle timeout, a body
    /// cut short). Once the proxy is cutting off what is still open at shutdown, whatever else
    /// seems to happen (the client's socket or the origin's closing) follows from that: the
    /// record then gives the drain deadline as the reason when it is written.
    pub fn set_reason(&mut self, reason: String) {
        if !self.log.cutting_off.load(Ordering::Relaxed) {
            self.record.reason = Some(reason);
        }
    }

    /// Notes what the DLP could not see (see [`Record::dlp`]).
    pub fn set_dlp(&mut self, note: &'static str) {
        self.record.dlp = Some(note);
    }

    /// Turns the record into an error (a failure after the decision) with its reason.
    pub fn fail(&mut self, status: u16, reason: String) {
        self.record.decision = Outcome::Error;
        self.record.status = status;
        self.record.reason = Some(reason);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.log.cutting_off.load(Ordering::Relaxed) && self.record.reason.is_none() {
            self.record.reason = Some("closed at shutdown: drain timeout".into());
        }
        self.record.bytes_up = self.up.load(Ordering::Relaxed);
        self.record.bytes_down = self.down.load(Ordering::Relaxed);
        self.record.duration_ms = self.start.elapsed().as_millis() as u64;
        self.log.write(&self.record);
    }
}

/// Cuts the query string (and a fragment, should a client send one) off a path.
pub fn path_only(path_and_query: &str) -> String {
    let end = path_and_query
        .find(['?', '#'])
        .unwrap_or(path_and_query.len());
    path_and_query[..end].to_string()
}

/// Drops matrix parameters (`;jsessionid=…`, RFC 3986 §3.3): whatever follows a `;` in each
/// segment, up to the next `/`. They carry session ids and tokens as often as a query does.
pub fn without_parameters(path: &str) -> String {
    if !path.contains(';') {
        return path.to_string();
    }
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split_once(';').map_or(segment, |(kept, _)| kept));
    }
    out
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2026-11-25T18:24:06.123Z`.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(since.as_secs(), since.subsec_millis())
}

fn rfc3339(secs: u64, millis: u32) -> String {
    let ms = i64::try_from(secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000)
        .saturating_add(i64::from(millis));
    let time = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(rfc3339(1_795_631_046, 123), "2026-11-25T18:24:06.123Z");
    }

    #[test]
    fn decisions_keep_their_names() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.as_str()));
        }
        for (i, outcome) in Outcome::ALL.into_iter().enumerate() {
            assert_eq!(outcome as usize, i, "ALL is in discriminant order");
        }
        assert_eq!(Outcome::TelemetryBlocked.as_str(), "telemetry-blocked");
        let blocked = policy::Decision::TelemetryBlocked {
            vendor: "v".into(),
            answer: Default::default(),
            matched: policy::Matched::Host,
        };
        assert_eq!(Outcome::from(&blocked), Outcome::TelemetryBlocked);
        assert_eq!(Outcome::from(&policy::Decision::Upgrade), Outcome::Upgrade);
    }

    #[test]
    fn drops_matrix_parameters() {
        assert_eq!(without_parameters("/a;jsessionid=X/b"), "/a/b");
        assert_eq!(without_parameters("/a/b;v=1;w=2"), "/a/b");
        assert_eq!(without_parameters("/;x/"), "//");
        assert_eq!(without_parameters("/plain/path"), "/plain/path");
    }

    /// Split so that this file holds no token the scanner would report.
    const BOT: &str = concat!("7315902846", ":AAHdq3Zx", "Lr8KfWm2Vb9TsN4pQe7Yj1Gc5uD");

    #[test]
    fn masks_secrets_the_engine_finds_in_the_path() {
        let log = AuditLog::open(None).unwrap();
        let shown = log.shown_path("api.telegram.org", &format!("/bot{BOT}/getMe"));
        assert!(!shown.contains(&BOT[11..]), "{shown}");
        assert!(
            shown.starts_with("/bot") && shown.ends_with("/getMe"),
            "{shown}"
        );
        // The same path to another host is not a Telegram URL: the engine cannot tell.
        assert_eq!(log.shown_path("example.com", "/a;sid=1/b?q"), "/a/b");
    }

    #[test]
    fn strips_queries() {
        assert_eq!(path_only("/a/b?token=secret"), "/a/b");
        assert_eq!(path_only("/a#frag"), "/a");
        assert_eq!(path_only("/"), "/");
    }
}
