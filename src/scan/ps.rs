//! The portable backend: one `ps` per scan (macOS, the BSDs; `PATINA_REAP_BACKEND=ps`
//! on Linux).

use std::io;

use super::{Query, Scan, Source};
use crate::Error;

/// The `ps` process source.
#[derive(Debug)]
pub(crate) struct PsSource;

impl PsSource {
    pub(crate) fn new() -> Self {
        Self
    }
}

impl Source for PsSource {
    fn scan(&self, _query: &Query<'_>) -> Result<Scan, Error> {
        Err(Error::scan(
            "ps",
            io::Error::new(
                io::ErrorKind::Unsupported,
                "the ps backend is not built yet",
            ),
        ))
    }

    fn is_same_live(&self, _pid: u32, _start: u64) -> bool {
        false
    }
}
