//! Where a report goes: standard output, or a file written atomically (a temporary file beside it,
//! renamed into place only once the report is complete), so a failed run never leaves half a report.
//! The temporary file is created exclusively under a random name (`tempfile`), so nothing planted
//! in the directory beforehand (a file, a symlink) can be opened in its place, and it is owner-only
//! from its creation when it will hold secrets in full.
//! A path that is not a regular file (`/dev/null`, a pipe, `/dev/stdout`) is written in place: a
//! rename would replace the device or pipe with a file. A symlink is followed, so the report
//! lands in the file it points to and the link stays.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// A report destination.
pub enum Output {
    Stdout,
    /// A regular file (or a new one), replaced by `temp` once the report is complete.
    File {
        path: PathBuf,
        temp: NamedTempFile,
    },
    /// A device or pipe, written directly.
    Stream,
}

impl Output {
    /// Standard output, or a temporary file next to `path`; `private` makes the file readable
    /// by its owner only (a report with `--show-secrets` holds secrets in full).
    pub fn open(path: Option<&Path>, private: bool) -> io::Result<(Output, Box<dyn Write + Send>)> {
        let Some(path) = path else {
            return Ok((Output::Stdout, Box::new(BufWriter::new(io::stdout()))));
        };
        let path = match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                let stream = File::options().write(true).truncate(true).open(path)?;
                return Ok((Output::Stream, Box::new(BufWriter::new(stream))));
            }
            // An existing file, perhaps through symlinks: replace the file, not the link.
            Ok(_) => std::fs::canonicalize(path)?,
            Err(_) => path.to_path_buf(),
        };
        let temp = temporary_beside(&path, private)?;
        let file = temp.as_file().try_clone()?;
        Ok((Output::File { path, temp }, Box::new(BufWriter::new(file))))
    }
    /// Whether colour may be used: a terminal, and neither `--no-color` nor `NO_COLOR`.
    pub fn color(&self, no_color: bool) -> bool {
        matches!(self, Output::Stdout)
            && !no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && io::stdout().is_terminal()
    }

    /// Puts a completed report in place.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Output::Stdout | Output::Stream => Ok(()),
            // On failure the temporary file is removed as it is dropped.
            Output::File { path, temp } => temp.persist(&path).map(drop).map_err(|e| e.error),
        }
    }

    /// Throws away an incomplete report (dropping the temporary file removes it).
    pub fn abandon(self) {}
}

/// A new, empty file in `path`'s directory: created with `O_EXCL` (never an existing file or a
/// symlink) under a random name, mode `0600` when `private`, else `0666` less the umask, as a
/// plain `File::create` would.
fn temporary_beside(path: &Path, private: bool) -> io::Result<NamedTempFile> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{name}.");
    builder.prefix(&prefix).suffix(".hush.tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o666 };
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = private;
    builder.tempfile_in(dir)
}
