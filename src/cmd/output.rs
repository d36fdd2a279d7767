//! Where a report goes: standard output, or a file written atomically (a temporary file beside it,
//! renamed into place only once the report is complete), so a failed run never leaves half a report.
//! A path that is not a regular file (`/dev/null`, a pipe, `/dev/stdout`) is written in place: a
//! rename would replace the device or pipe with a file. A symlink is followed, so the report
//! lands in the file it points to and the link stays.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

/// A report destination.
pub enum Output {
    Stdout,
    /// A regular file (or a new one), replaced by `temp` once the report is complete.
    File {
        path: PathBuf,
        temp: PathBuf,
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
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let temp = path.with_file_name(format!(".{name}.hush-{}.tmp", std::process::id()));
        let mut options = File::options();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let file = options.open(&temp)?;
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
            Output::File { path, temp } => std::fs::rename(&temp, &path).inspect_err(|_| {
                let _ = std::fs::remove_file(&temp);
            }),
        }
    }

    /// Throws away an incomplete report.
    pub fn abandon(self) {
        if let Output::File { temp, .. } = self {
            let _ = std::fs::remove_file(temp);
        }
    }
}
