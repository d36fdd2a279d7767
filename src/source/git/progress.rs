//! A one-line progress report on stderr for long history scans, redrawn a few times a second,
//! only on a terminal (never in a pipe, a log or CI output).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::HistoryCounters;
use crate::source::fs::Counters;

pub struct Progress<'a> {
    counters: &'a Counters,
    history: &'a HistoryCounters,
    done: AtomicBool,
    started: Instant,
}

impl<'a> Progress<'a> {
    /// A progress line, if stderr is a terminal.
    pub fn new(counters: &'a Counters, history: &'a HistoryCounters) -> Option<Progress<'a>> {
        std::io::stderr().is_terminal().then(|| Progress {
            counters,
            history,
            done: AtomicBool::new(false),
            started: Instant::now(),
        })
    }

    /// Redraws the line until `stop`, then clears it.
    pub fn run(&self) {
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            let bytes = self.counters.bytes.load(Ordering::Relaxed);
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r\x1b[Khush: {} commits, {} blobs scanned, {:.0} MB/s",
                self.history.commits.load(Ordering::Relaxed),
                self.history.blobs.load(Ordering::Relaxed),
                bytes as f64 / 1e6 / seconds
            );
        }
        eprint!("\r\x1b[K");
    }

    pub fn stop(&self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// Runs `work` with a progress line beside it (on a terminal), and stops the line after.
pub fn around<R>(counters: &Counters, history: &HistoryCounters, work: impl FnOnce() -> R) -> R {
    let progress = Progress::new(counters, history);
    std::thread::scope(|scope| {
        if let Some(progress) = &progress {
            scope.spawn(|| progress.run());
        }
        let result = work();
        if let Some(progress) = &progress {
            progress.stop();
        }
        result
    })
}
