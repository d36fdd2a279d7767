//! Files and directories: a parallel walk (ripgrep's `ignore` crate) that skips `.git/`, reads
//! each file into a per-thread buffer and hands it to the examiner. `-` is standard input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;

use ignore::{WalkBuilder, WalkState};

use super::{Event, Examiner};

/// What to walk and how.
pub struct Walk<'a> {
    pub paths: &'a [PathBuf],
    /// Honour `.gitignore` (off by default: ignored `.env` files are exactly what leaks).
    pub gitignore: bool,
    pub max_file_size: u64,
    /// For each path, its location relative to the root (for rules, allowlists and fingerprints):
    /// `""` for the root itself, `src` for a directory below it, `src/a.py` for a file.
    pub relative: &'a [String],
}

/// Counters shared by the walking threads.
#[derive(Default)]
pub struct Counters {
    pub files: AtomicU64,
    pub bytes: AtomicU64,
    pub skipped: AtomicU64,
    pub binary: AtomicU64,
    /// Problems that kept a file from being read; the run fails closed on any.
    pub errors: AtomicU64,
}

/// Walks every path, sending events as files are done. Returns when the walk is complete.
pub fn walk(walk: &Walk, examiner: &Examiner, counters: &Counters, events: &Sender<Event>) {
    let (stdin, paths): (Vec<&PathBuf>, Vec<&PathBuf>) =
        walk.paths.iter().partition(|p| p.as_os_str() == "-");
    if !stdin.is_empty() {
        let mut data = Vec::new();
        match std::io::stdin().lock().read_to_end(&mut data) {
            Ok(_) => examine(&data, "-", "-", walk, examiner, counters, events),
            Err(e) => send(
                events,
                Event::Error(format!("cannot read standard input: {e}")),
            ),
        }
    }
    let Some((first, rest)) = paths.split_first() else {
        return;
    };
    let mut builder = WalkBuilder::new(first);
    for path in rest {
        builder.add(path);
    }
    builder
        .standard_filters(false)
        .git_ignore(walk.gitignore)
        .git_exclude(walk.gitignore)
        .git_global(walk.gitignore)
        .require_git(false)
        .filter_entry(|entry| entry.file_name() != ".git");
    builder.build_parallel().run(|| {
        let mut buffer = Vec::new();
        Box::new(move |entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    send(events, Event::Error(crate::rules::one_line(&e)));
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    return WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return WalkState::Continue;
            }
            let shown = display(entry.path());
            let relative = relative(entry.path(), walk);
            match read(entry.path(), walk.max_file_size, &mut buffer) {
                Ok(true) => examine(&buffer, &shown, &relative, walk, examiner, counters, events),
                Ok(false) => {
                    counters.skipped.fetch_add(1, Ordering::Relaxed);
                    send(
                        events,
                        Event::Warning(format!(
                            "skipped '{shown}': larger than --max-file-size ({} bytes)",
                            walk.max_file_size
                        )),
                    );
                    let found = examiner.examine(&shown, &relative, None, None);
                    if !found.findings.is_empty() {
                        send(events, Event::Findings(found.findings));
                    }
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    send(events, Event::Error(format!("cannot read '{shown}': {e}")));
                }
            }
            WalkState::Continue
        })
    });
}

fn examine(
    data: &[u8],
    shown: &str,
    relative: &str,
    walk: &Walk,
    examiner: &Examiner,
    counters: &Counters,
    events: &Sender<Event>,
) {
    if data.len() as u64 > walk.max_file_size {
        counters.skipped.fetch_add(1, Ordering::Relaxed);
        send(
            events,
            Event::Warning(format!(
                "skipped '{shown}': larger than --max-file-size ({} bytes)",
                walk.max_file_size
            )),
        );
        return;
    }
    counters.files.fetch_add(1, Ordering::Relaxed);
    counters
        .bytes
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let found = examiner.examine(shown, relative, Some(data), None);
    if found.binary {
        counters.binary.fetch_add(1, Ordering::Relaxed);
    }
    if !found.findings.is_empty() {
        send(events, Event::Findings(found.findings));
    }
}

/// Reads `path` into `buffer`; `Ok(false)` when it is larger than `max` (not read).
fn read(path: &Path, max: u64, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Ok(false);
    }
    buffer.clear();
    // The size may change while we read; never read past the limit either way.
    file.take(max + 1).read_to_end(buffer)?;
    Ok(buffer.len() as u64 <= max)
}

fn send(events: &Sender<Event>, event: Event) {
    // The receiver outlives the walk; a send can only fail if the report writer died, and then
    // its own error is what gets reported.
    let _ = events.send(event);
}

/// The path as the user reached it: `/`-separated, without a leading `./`.
fn display(path: &Path) -> String {
    let text = path.to_string_lossy();
    let text = text.strip_prefix("./").unwrap_or(&text);
    if std::path::MAIN_SEPARATOR == '/' {
        text.to_string()
    } else {
        text.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// A walked path relative to the root: its argument's relative location plus the rest.
fn relative(path: &Path, walk: &Walk) -> String {
    for (arg, prefix) in walk.paths.iter().zip(walk.relative) {
        if let Ok(rest) = path.strip_prefix(arg) {
            let rest = display(rest);
            return match (prefix.is_empty(), rest.is_empty()) {
                (true, _) => rest,
                (false, true) => prefix.clone(),
                (false, false) => format!("{prefix}/{rest}"),
            };
        }
    }
    display(path)
}
