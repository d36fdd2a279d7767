//! Counters behind `GET /metrics`, in the Prometheus text format (0.0.4). They are atomics fed
//! from the one place audit records are written, so what `/metrics` counts is what the log holds;
//! nothing on the request path takes a lock for them.

use std::fmt::Write as _;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use super::audit::{Outcome, Record};

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Distinct vendor labels kept. Vendors come from the telemetry rules (about a hundred built in),
/// so this is never reached in practice; past it, blocks are counted under [`OTHER_VENDOR`].
const VENDOR_SLOTS: usize = 512;
/// The label of telemetry blocked for vendors beyond [`VENDOR_SLOTS`].
const OTHER_VENDOR: &str = "(other)";

#[derive(Default)]
pub struct Metrics {
    decisions: [AtomicU64; Outcome::ALL.len()],
    vendors: Vendors,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    open: AtomicU64,
}

impl Metrics {
    /// Counts one audit record.
    pub fn record(&self, record: &Record) {
        self.decisions[record.decision as usize].fetch_add(1, Ordering::Relaxed);
        if record.decision == Outcome::TelemetryBlocked {
            self.vendors
                .add(record.vendor.as_deref().unwrap_or_default());
        }
        self.bytes_up.fetch_add(record.bytes_up, Ordering::Relaxed);
        self.bytes_down
            .fetch_add(record.bytes_down, Ordering::Relaxed);
    }

    /// Counts a client connection as open until the guard is dropped.
    pub fn open_connection(&self) -> OpenConnection<'_> {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(&self.open)
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(2048);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str(
            "# HELP hush_decisions_total Audit records written, by decision.\n\
             # TYPE hush_decisions_total counter\n",
        );
        for outcome in Outcome::ALL {
            let n = load(&self.decisions[outcome as usize]);
            let _ = writeln!(
                out,
                "hush_decisions_total{{decision=\"{}\"}} {n}",
                outcome.as_str()
            );
        }
        out.push_str(
            "# HELP hush_telemetry_blocked_total Telemetry requests and tunnels answered \
             locally, by vendor.\n# TYPE hush_telemetry_blocked_total counter\n",
        );
        for (vendor, n) in self.vendors.counts() {
            let _ = writeln!(
                out,
                "hush_telemetry_blocked_total{{vendor=\"{}\"}} {n}",
                label(&vendor)
            );
        }
        let _ = write!(
            out,
            "# HELP hush_bytes_total Bytes carried, as counted in finished audit records.\n\
             # TYPE hush_bytes_total counter\n\
             hush_bytes_total{{direction=\"up\"}} {}\n\
             hush_bytes_total{{direction=\"down\"}} {}\n\
             # HELP hush_open_connections Client connections open now, tunnels included.\n\
             # TYPE hush_open_connections gauge\n\
             hush_open_connections {}\n",
            load(&self.bytes_up),
            load(&self.bytes_down),
            load(&self.open),
        );
        out
    }
}

/// Holds one count in `hush_open_connections`.
pub struct OpenConnection<'a>(&'a AtomicU64);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A label value escaped as the text format requires: backslash, double quote and line feed.
fn label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Counts by vendor without a lock: a fixed open-addressing table whose slots are claimed once
/// (by the first block of a vendor) and never freed, so a lookup is a few comparisons.
struct Vendors {
    slots: Box<[Slot]>,
    other: AtomicU64,
}

#[derive(Default)]
struct Slot {
    name: OnceLock<Box<str>>,
    count: AtomicU64,
}

impl Default for Vendors {
    fn default() -> Self {
        Vendors {
            slots: (0..VENDOR_SLOTS).map(|_| Slot::default()).collect(),
            other: AtomicU64::new(0),
        }
    }
}

impl Vendors {
    fn add(&self, vendor: &str) {
        // A fixed hasher: the table is small and its keys come from our own rule files.
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(vendor);
        let len = self.slots.len();
        let start = (hash as usize) % len;
        for i in 0..len {
            let slot = &self.slots[(start + i) % len];
            // An empty slot is claimed for this vendor; if another claims it first, move on.
            if &**slot.name.get_or_init(|| vendor.into()) == vendor {
                slot.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.other.fetch_add(1, Ordering::Relaxed);
    }

    /// Every vendor seen so far with its count, sorted by name.
    fn counts(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .slots
            .iter()
            .filter_map(|s| Some((s.name.get()?.to_string(), s.count.load(Ordering::Relaxed))))
            .collect();
        counts.sort();
        let other = self.other.load(Ordering::Relaxed);
        if other > 0 {
            counts.push((OTHER_VENDOR.to_string(), other));
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(decision: Outcome, vendor: Option<&str>, up: u64, down: u64) -> Record {
        Record {
            decision,
            vendor: vendor.map(Into::into),
            bytes_up: up,
            bytes_down: down,
            ..Record::new(([127, 0, 0, 1], 1).into(), "GET", "h".into(), 443)
        }
    }

    #[test]
    fn counts_what_records_say() {
        let m = Metrics::default();
        m.record(&record(Outcome::Tunnel, None, 10, 20));
        m.record(&record(Outcome::TelemetryBlocked, Some("sentry"), 0, 0));
        m.record(&record(Outcome::TelemetryBlocked, Some("sentry"), 0, 0));
        m.record(&record(Outcome::TelemetryBlocked, Some("a\"b"), 0, 0));
        let open = m.open_connection();
        let text = m.render();
        for line in [
            "hush_decisions_total{decision=\"tunnel\"} 1",
            "hush_decisions_total{decision=\"telemetry-blocked\"} 3",
            "hush_decisions_total{decision=\"closed\"} 0",
            "hush_telemetry_blocked_total{vendor=\"sentry\"} 2",
            "hush_telemetry_blocked_total{vendor=\"a\\\"b\"} 1",
            "hush_bytes_total{direction=\"up\"} 10",
            "hush_bytes_total{direction=\"down\"} 20",
            "hush_open_connections 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        drop(open);
        assert!(m.render().contains("hush_open_connections 0\n"));
    }

    #[test]
    fn vendor_labels_are_bounded() {
        let v = Vendors::default();
        for i in 0..VENDOR_SLOTS + 3 {
            v.add(&format!("v{i}"));
        }
        v.add("v0");
        let counts = v.counts();
        assert_eq!(counts.len(), VENDOR_SLOTS + 1);
        assert_eq!(counts.last(), Some(&(OTHER_VENDOR.to_string(), 3)));
        assert!(counts.contains(&("v0".to_string(), 2)));
    }
}
