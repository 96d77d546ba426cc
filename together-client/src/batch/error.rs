//! Why a batch run stopped: [`FileError`] (a file, named, and what was being done with it)
//! and [`BatchError`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::BatchReport;

/// A file could not be read or written: which file, doing what, and the system's reason.
///
/// ```
/// use std::path::Path;
/// use together_client::batch::FileError;
///
/// let error = FileError::new("cannot read input file", Path::new("in.jsonl"),
///     std::io::Error::from(std::io::ErrorKind::NotFound));
/// assert!(error.to_string().starts_with("cannot read input file in.jsonl: "));
/// ```
#[derive(Debug)]
pub struct FileError {
    doing: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

impl FileError {
    /// `doing` says what failed (`"cannot read input file"`), `path` which file.
    pub fn new(doing: &'static str, path: &Path, source: std::io::Error) -> FileError {
        FileError {
            doing,
            path: path.to_owned(),
            source,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The system's error.
    pub fn io(&self) -> &std::io::Error {
        &self.source
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.as_os_str() == "-" {
            "<standard input>".into()
        } else {
            self.path.display().to_string()
        };
        write!(f, "{} {path}: {}", self.doing, self.source)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Why a batch run stopped before the end. In every case nothing was written for the lines
/// in flight: running the same command again does them.
#[derive(Debug)]
pub enum BatchError<E> {
    /// Reading the input or the output, or writing the output, failed.
    Io(FileError),
    /// A request failed in a way no later request can escape (see
    /// [`RequestError::is_fatal`](super::RequestError::is_fatal)); nothing was written for it.
    Fatal {
        /// The request that failed.
        custom_id: String,
        /// Its error.
        error: E,
        /// What the run had done until then.
        report: BatchReport,
    },
    /// The server could not be reached: [`BatchOptions::outage_after`](super::BatchOptions::outage_after)
    /// requests in a row did not reach it, or the error said it is down (an open circuit
    /// breaker). Nothing was written for the lines that failed that way.
    Outage {
        /// When the first request of the streak failed.
        since: SystemTime,
        /// The last error seen.
        error: E,
        /// What the run had done until then.
        report: BatchReport,
    },
}

impl<E> BatchError<E> {
    /// What the run had done before it stopped, if it got as far as sending requests.
    pub fn report(&self) -> Option<&BatchReport> {
        match self {
            BatchError::Io(_) => None,
            BatchError::Fatal { report, .. } | BatchError::Outage { report, .. } => Some(report),
        }
    }
}

impl<E: fmt::Display> fmt::Display for BatchError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Io(e) => e.fmt(f),
            BatchError::Fatal {
                custom_id, error, ..
            } => write!(f, "batch stopped at `{custom_id}`: {error}"),
            BatchError::Outage { since, error, .. } => write!(
                f,
                "server unreachable since {} ({error}); run the same command to resume",
                clock(*since)
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for BatchError<E> {}

impl<E> From<FileError> for BatchError<E> {
    fn from(e: FileError) -> Self {
        BatchError::Io(e)
    }
}

/// `HH:MM:SS UTC` of an instant (UTC: the standard library knows no time zone).
pub(crate) fn clock(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_clock_reads_utc() {
        let at = UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 13 * 3600 + 4 * 60 + 5);
        assert_eq!(clock(at), "13:04:05 UTC");
    }
}
