//! Idle upstream HTTP/1 connections kept for reuse, so that a service speaking plain HTTP
//! through the proxy pays the TCP and TLS handshakes with an origin once per burst of requests,
//! not once per request.
//!
//! A connection goes back into the pool only after its response was read to the end; one whose
//! response was abandoned is dropped, and hyper closes it. Entries expire after a short idle
//! time (`--upstream-keepalive`, 4 s by default: inside the keep-alive timeouts servers commonly
//! use, 5 s and up), so that a request is rarely sent on a connection the origin is closing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;

/// Idle connections kept per origin; more are closed.
const MAX_IDLE_PER_ORIGIN: usize = 16;

/// An origin as dialled: host, port, and whether the connection speaks TLS.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

/// Idle connections by origin; `B` is the request body type.
pub struct Pool<B> {
    idle: Mutex<HashMap<Origin, Vec<Idle<B>>>>,
    /// How long a connection may idle; zero keeps none.
    pub keepalive: Duration,
}

struct Idle<B> {
    sender: SendRequest<B>,
    since: Instant,
}

impl<B> Idle<B> {
    fn fresh(&self, keepalive: Duration) -> bool {
        self.since.elapsed() < keepalive && !self.sender.is_closed()
    }
}

impl<B> Pool<B> {
    pub fn new(keepalive: Duration) -> Pool<B> {
        Pool {
            idle: Mutex::new(HashMap::new()),
            keepalive,
        }
    }

    /// The most recently used idle connection to `origin` that can take a request now.
    pub fn checkout(&self, origin: &Origin) -> Option<SendRequest<B>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(origin)?;
        let mut found = None;
        while let Some(entry) = list.pop() {
            if entry.fresh(self.keepalive) && entry.sender.is_ready() {
                found = Some(entry.sender);
                break;
            }
        }
        if list.is_empty() {
            idle.remove(origin);
        }
        found
    }

    /// Keeps a connection whose last response was read to the end.
    pub fn checkin(&self, origin: Origin, sender: SendRequest<B>) {
        if sender.is_closed() || self.keepalive.is_zero() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let list = idle.entry(origin).or_default();
        list.retain(|e| e.fresh(self.keepalive));
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Closes the connections that have idled too long (dropping a sender closes it).
    pub fn sweep(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.retain(|_, list| {
                list.retain(|e| e.fresh(self.keepalive));
                !list.is_empty()
            });
        }
    }
}
