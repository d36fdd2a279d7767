//! The audit log: one JSON line per decision, with the contract's fields and nothing more
//! revealing. Header values, bodies and query strings never reach a record: the record type has
//! no field that could hold them, and the path is cut at `?` before it is stored.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where audit lines go: a file opened for append, or standard error.
pub struct AuditLog {
    sink: Mutex<Sink>,
    /// Set when the drain deadline has passed: what is still open is being cut off.
    cutting_off: AtomicBool,
}

enum Sink {
    File(File),
    Stderr,
}

impl AuditLog {
    pub fn open(path: Option<&Path>) -> std::io::Result<AuditLog> {
        let sink = match path {
            Some(p) => Sink::File(OpenOptions::new().create(true).append(true).open(p)?),
            None => Sink::Stderr,
        };
        Ok(AuditLog {
            sink: Mutex::new(sink),
            cutting_off: AtomicBool::new(false),
        })
    }

    /// From now on, a request or tunnel whose record is still pending was cut off at shutdown.
    pub fn cut_off_the_rest(&self) {
        self.cutting_off.store(true, Ordering::Relaxed);
    }

    /// Writes one line. A failing log must not take the proxy down, so errors are dropped; the
    /// line is written with one `write_all` so concurrent records never interleave.
    pub fn write(&self, record: &Record) {
        let Ok(mut line) = serde_json::to_vec(record) else {
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
    pub decision: &'static str,
    pub status: u16,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_ms: u64,
    /// Why a request was refused or failed (never derived from request headers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
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
            decision: "error",
            status: 0,
            bytes_up: 0,
            bytes_down: 0,
            duration_ms: 0,
            reason: None,
            vendor: None,
        }
    }

    /// A connection refused before any request on it could be read (connection cap, malformed
    /// or oversized head, header timeout): method and host are unknown, so they are empty.
    pub fn refused(
        client: SocketAddr,
        decision: &'static str,
        status: u16,
        reason: &str,
    ) -> Record {
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

    /// Turns the record into an error (a failure after the decision) with its reason.
    pub fn fail(&mut self, status: u16, reason: String) {
        self.record.decision = "error";
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
    fn strips_queries() {
        assert_eq!(path_only("/a/b?token=secret"), "/a/b");
        assert_eq!(path_only("/a#frag"), "/a");
        assert_eq!(path_only("/"), "/");
    }
}
