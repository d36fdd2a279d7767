//! Files and directories: a parallel walk (ripgrep's `ignore` crate) that skips `.git/`, reads
//! each file into a per-thread buffer and hands it to the examiner. `-` is standard input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;

use ignore::{WalkBuilder, WalkState};

use super::{Event, Examiner};
use crate::scan::is_binary;

/// How much of a file decides whether it is binary (as git decides).
const BINARY_PROBE: u64 = 8192;

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
    /// Symbolic links met in a walk, which are not followed.
    pub symlinks: AtomicU64,
    /// Problems that kept a file from being read; the run fails closed on any.
    pub errors: AtomicU64,
}

/// Walks every path, sending events as files are done. Returns when the walk is complete.
pub fn walk(walk: &Walk, examiner: &Examiner, counters: &Counters, events: &Sender<Event>) {
    let (stdin, paths): (Vec<&PathBuf>, Vec<&PathBuf>) =
        walk.paths.iter().partition(|p| p.as_os_str() == "-");
    if !stdin.is_empty() {
        match read_limited(std::io::stdin().lock(), walk.max_file_size) {
            Ok(data) => examine(
                data.as_deref(),
                b"-",
                b"-",
                walk,
                examiner,
                counters,
                events,
            ),
            Err(e) => send(
                events,
                Event::Error(format!("cannot read standard input: {e}")),
            ),
        }
    }
    let Some((first, rest)) = paths.split_first() else {
        return;
    };
    // Each argument with its place below the root, to name walked files relative to the root.
    let roots: Vec<(PathBuf, String)> = walk
        .paths
        .iter()
        .cloned()
        .zip(walk.relative.iter().cloned())
        .collect();
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
        .filter_entry({
            let allow = examiner.allow.clone();
            let roots = roots.clone();
            move |entry| {
                entry.file_name() != ".git"
                    && !(entry.file_type().is_some_and(|t| t.is_dir())
                        && allow
                            .dir_allowed(&String::from_utf8_lossy(&relative(entry.path(), &roots))))
            }
        });
    let roots = &roots;
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
            if entry.depth() > 0 && entry.path_is_symlink() {
                // Not followed (a link may lead out of the tree, or round in a loop), but
                // counted, and the summary says so: a skipped file is never silent.
                counters.symlinks.fetch_add(1, Ordering::Relaxed);
                return WalkState::Continue;
            }
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                // Pipes, sockets and devices met in a walk are passed over, as every tool does;
                // one named on the command line is worth a word, since it was asked for.
                let named = entry.depth() == 0 && !entry.file_type().is_some_and(|t| t.is_dir());
                if named {
                    let shown = examiner.shown_path(&display(entry.path()));
                    send(
                        events,
                        Event::Warning(format!("skipped '{shown}': not a regular file")),
                    );
                }
                return WalkState::Continue;
            }
            let shown = display(entry.path());
            let relative = relative(entry.path(), roots);
            if examiner
                .allow
                .path_allowed(&String::from_utf8_lossy(&relative))
            {
                // Allowed paths are not reported, so they need not be read (`target/**`).
                return WalkState::Continue;
            }
            match read(entry.path(), walk.max_file_size, &mut buffer) {
                Ok(fits) => {
                    let data = fits.then_some(buffer.as_slice());
                    examine(data, &shown, &relative, walk, examiner, counters, events);
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    let shown = examiner.shown_path(&shown);
                    send(events, Event::Error(format!("cannot read '{shown}': {e}")));
                }
            }
            WalkState::Continue
        })
    });
}

/// Examines one file's content; `None` (or content over the size limit) means it was too large
/// to read: it is counted and warned about, and judged by name alone.
fn examine(
    data: Option<&[u8]>,
    shown: &[u8],
    relative: &[u8],
    walk: &Walk,
    examiner: &Examiner,
    counters: &Counters,
    events: &Sender<Event>,
) {
    let data = data.filter(|d| d.len() as u64 <= walk.max_file_size);
    match data {
        Some(data) => {
            counters.files.fetch_add(1, Ordering::Relaxed);
            counters
                .bytes
                .fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        None => {
            counters.skipped.fetch_add(1, Ordering::Relaxed);
            send(
                events,
                Event::Warning(format!(
                    "skipped '{}': larger than --max-file-size ({} bytes)",
                    examiner.shown_path(shown),
                    walk.max_file_size
                )),
            );
        }
    }
    let found = examiner.examine_raw(shown, relative, data, None);
    if found.binary {
        counters.binary.fetch_add(1, Ordering::Relaxed);
    }
    if !found.findings.is_empty() {
        send(events, Event::Findings(found.findings));
    }
}

/// Reads a stream up to `max` bytes; `None` when it holds more. The rest is left unread, so
/// that an endless or huge stream (`head -c 2G /dev/zero | hush scan -`) costs `max` bytes of
/// memory and no more time than reading them: the writer sees the pipe close.
fn read_limited(stream: impl Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    stream.take(max.saturating_add(1)).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= max).then_some(data))
}

/// Reads `path` into `buffer`; `Ok(false)` when it is larger than `max` (not read).
/// A binary file is judged by its first 8 KiB (a NUL there) and its name, so the rest of it is
/// never read: libraries and images are often most of a tree's bytes.
fn read(path: &Path, max: u64, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > max {
        return Ok(false);
    }
    buffer.clear();
    buffer.reserve(usize::try_from(size).unwrap_or(0).saturating_add(1));
    (&mut file).take(BINARY_PROBE).read_to_end(buffer)?;
    if buffer.len() as u64 == BINARY_PROBE && !is_binary(buffer) {
        // The size may change while we read; never read past the limit either way.
        file.take(max + 1 - BINARY_PROBE).read_to_end(buffer)?;
    }
    Ok(buffer.len() as u64 <= max)
}

fn send(events: &Sender<Event>, event: Event) {
    // The receiver outlives the walk; a send can only fail if the report writer died, and then
    // its own error is what gets reported.
    let _ = events.send(event);
}

/// The path as the user reached it: `/`-separated, without a leading `./`, as raw bytes on Unix
/// (a file name need not be UTF-8; fingerprints and reports keep its bytes).
fn display(path: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        bytes.strip_prefix(b"./").unwrap_or(bytes).to_vec()
    }
    #[cfg(not(unix))]
    {
        let text = path.to_string_lossy();
        let text = text.strip_prefix("./").unwrap_or(&text);
        text.replace(std::path::MAIN_SEPARATOR, "/").into_bytes()
    }
}

/// A walked path relative to the root, raw: its argument's relative location plus the rest.
fn relative(path: &Path, roots: &[(PathBuf, String)]) -> Vec<u8> {
    for (arg, prefix) in roots {
        if let Ok(rest) = path.strip_prefix(arg) {
            let rest = display(rest);
            return match (prefix.is_empty(), rest.is_empty()) {
                (true, _) => rest,
                (false, true) => prefix.clone().into_bytes(),
                (false, false) => [prefix.as_bytes(), b"/", &rest].concat(),
            };
        }
    }
    display(path)
}
