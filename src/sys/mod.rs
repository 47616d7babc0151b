//! Facts about this process and the processes it judges that the operating system
//! holds, each read in one place: one module per OS with the same signatures (as
//! hyperfine's `timer/`), and the bounded threads every lookup of a path runs on.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::*;

use std::sync::mpsc;
use std::time::Instant;

/// Run `f` for each of `items` at once, each on a thread of its own, and take the
/// answers that came by `deadline`: `None` for the others (a path on a network file
/// system that no longer answers) or where no thread could be started. The threads are
/// left to finish on their own: nothing waits for them, and a process exit does not
/// either.
pub(crate) fn bounded_each<I: Send + 'static, T: Send + 'static>(
    items: Vec<I>,
    deadline: Instant,
    f: impl FnOnce(I) -> T + Send + Clone + 'static,
) -> Vec<Option<T>> {
    let pending: Vec<_> = items
        .into_iter()
        .map(|item| {
            let f = f.clone();
            start(move || f(item))
        })
        .collect();
    pending
        .into_iter()
        .map(|rx| {
            rx?.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .ok()
        })
        .collect()
}

fn start<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<mpsc::Receiver<T>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("patina-reap-path".into())
        .spawn(move || {
            // The receiver is gone if the deadline passed: nothing to do then.
            let _ = tx.send(f());
        })
        .ok()?;
    Some(rx)
}
