//! What every proxy test file needs to run the real `hush proxy`: start it with its stderr
//! drained and wait for the address it announces.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The proxy's stderr, line by line, as it comes.
pub type Stderr = Arc<Mutex<Vec<String>>>;

/// Spawns `cmd` (a `hush proxy` listening on port 0) and waits, at most `wait`, for the address
/// it announces. Its stderr is drained for its whole life, so it can never block on a full pipe.
pub fn spawn_announced(mut cmd: Command, wait: Duration) -> (Child, SocketAddr, Stderr) {
    let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    let stderr = Stderr::default();
    let (tx, rx) = mpsc::channel();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in lines.lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("hush proxy: listening on ") {
                let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
            }
            sink.lock().unwrap().push(line);
        }
    });
    match rx.recv_timeout(wait) {
        Ok(addr) => (child, addr, stderr),
        Err(_) => panic!("proxy did not start: {:?}", stderr.lock().unwrap()),
    }
}

/// A plain TCP upstream on loopback that echoes every byte back.
pub async fn tcp_echo() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = tcp.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

/// The records of the audit log at `log`, parsed; none while it does not exist.
pub fn audit_records(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits, at most `wait`, until the audit log at `log` holds a record that `want` accepts.
pub async fn audit_find(
    log: &Path,
    want: impl Fn(&serde_json::Value) -> bool,
    wait: Duration,
) -> serde_json::Value {
    let deadline = Instant::now() + wait;
    loop {
        if let Some(r) = audit_records(log).into_iter().find(&want) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no such record in {:?}",
            audit_records(log)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Makes `cmd` (hush, or strace running hush) a `hush proxy` on an ephemeral loopback port with
/// `config` and the audit log at `log`, its data directory (and so any CA) at `data`, and none
/// of the developer's variables that would change what it decides.
pub fn proxy_args(cmd: &mut Command, config: &Path, log: &Path, data: &Path) {
    cmd.arg("proxy")
        .arg("--listen=127.0.0.1:0")
        .arg("--config")
        .arg(config)
        .arg("--audit-log")
        .arg(log)
        .env("XDG_DATA_HOME", data);
    for var in [
        "ENABLE_TELEMETRY",
        "DO_NOT_TRACK",
        "SSL_CERT_FILE",
        "HUSH_PROXY_TOKEN",
    ] {
        cmd.env_remove(var);
    }
}
