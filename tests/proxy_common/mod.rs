//! What every proxy test file needs to run the real `hush proxy`: start it with its stderr
//! drained and wait for the address it announces.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

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
