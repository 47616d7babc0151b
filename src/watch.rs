//! What a caller can see of a run while it waits, and how it can cut the wait short.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A wait that a run is starting or has finished, for a status line
/// ([`Reaper::on_progress`](crate::Reaper::on_progress)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Another reaper of the same user and names is running: waiting up to `up_to` for
    /// it to finish.
    WaitingForTurn {
        /// The longest this wait can take.
        up_to: Duration,
    },
    /// `count` processes were sent `signal`: waiting up to `up_to` for them to exit.
    WaitingForExit {
        /// How many processes are waited for.
        count: usize,
        /// The signal they were sent.
        signal: crate::Signal,
        /// The longest this wait can take.
        up_to: Duration,
    },
    /// The wait reported last is over.
    DoneWaiting,
}

type Callback = Arc<dyn Fn(Progress) + Send + Sync>;

/// The caller's progress callback and interrupt flag, both optional.
#[derive(Clone, Default)]
pub(crate) struct Watch {
    progress: Option<Callback>,
    interrupt: Option<Arc<AtomicBool>>,
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("progress", &self.progress.is_some())
            .field("interrupt", &self.interrupt)
            .finish()
    }
}

impl Watch {
    pub(crate) fn with_progress(mut self, callback: Callback) -> Self {
        self.progress = Some(callback);
        self
    }

    pub(crate) fn with_interrupt(mut self, flag: Arc<AtomicBool>) -> Self {
        self.interrupt = Some(flag);
        self
    }

    pub(crate) fn report(&self, progress: Progress) {
        if let Some(callback) = &self.progress {
            callback(progress);
        }
    }

    /// Whether the caller asked the run to stop.
    pub(crate) fn interrupted(&self) -> bool {
        self.interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::SeqCst))
    }

    /// Whether the caller can interrupt at all (then waits are cut into short slices).
    pub(crate) fn can_interrupt(&self) -> bool {
        self.interrupt.is_some()
    }
}
