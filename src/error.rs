//! The one error type of the library.

use std::{fmt, io};

/// What went wrong while looking for or reaping stale processes.
///
/// Failing to signal one process is not an error: it is reported as that process's
/// `failed` outcome in the [`Report`](crate::Report). An `Error` means the run as a whole
/// could not be done.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The process table could not be read (`/proc` or `ps`).
    Scan {
        /// What was being read, such as `/proc` or `ps -A`.
        what: String,
        /// The underlying failure.
        source: io::Error,
    },
    /// `PATINA_REAP_BACKEND` names no known process source.
    UnknownBackend(String),
    /// The run was interrupted ([`Reaper::interrupt`](crate::Reaper::interrupt)) before
    /// any signal was sent.
    Interrupted,
    /// `/proc` belongs to another PID namespace (`/proc/self` is not this process), so its
    /// process numbers would name other processes than signals here reach. Nothing is
    /// signalled.
    ForeignProc {
        /// What `/proc/self` points to.
        seen: String,
        /// This process's own PID.
        pid: u32,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scan { what, source } => write!(f, "cannot list processes ({what}): {source}"),
            Self::UnknownBackend(name) => write!(
                f,
                "invalid value '{}' for 'PATINA_REAP_BACKEND': not a process source; use 'proc' \
                 (Linux) or 'ps'",
                crate::text::escape(name)
            ),
            Self::Interrupted => f.write_str("interrupted before any signal was sent"),
            Self::ForeignProc { seen, pid } => write!(
                f,
                "/proc belongs to another PID namespace (/proc/self is {seen:?}, this process \
                 is PID {pid}): its process numbers are not ours to signal; mount a /proc \
                 for this namespace (unshare --mount-proc, bwrap --proc /proc)"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Scan { source, .. } => Some(source),
            Self::UnknownBackend(_) | Self::Interrupted | Self::ForeignProc { .. } => None,
        }
    }
}

impl Error {
    pub(crate) fn scan(what: impl Into<String>, source: io::Error) -> Self {
        Self::Scan {
            what: what.into(),
            source,
        }
    }
}
