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

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Instant;

/// The most lookup threads this process runs at once, those left behind on a path that
/// never answered included: a flood of names to look up, or a file system that stopped
/// answering, costs a few threads and never more.
pub(crate) const MAX_LOOKUP_THREADS: usize = 4;

/// The lookup threads alive now, abandoned ones included.
static LOOKUP_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Run `f` on each of `items` on at most [`MAX_LOOKUP_THREADS`] threads (fewer when
/// threads left behind by an earlier call are still stuck), and take the answers that
/// came by `deadline`: `None` for the others (a path on a network file system that no
/// longer answers, an item no thread reached in time, no thread to be had). No thread
/// starts an item after the deadline; one stuck in an item is left to finish on its
/// own: nothing waits for it, and a process exit does not either.
pub(crate) fn bounded_each<I: Send + 'static, T: Send + 'static>(
    items: Vec<I>,
    deadline: Instant,
    f: impl FnOnce(I) -> T + Send + Clone + 'static,
) -> Vec<Option<T>> {
    let count = items.len();
    let mut answers: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    let queue = Arc::new(Mutex::new(
        items.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    let (tx, rx) = mpsc::channel::<(usize, T)>();
    for _ in 0..count.min(MAX_LOOKUP_THREADS) {
        if !start_worker(&queue, &tx, deadline, &f) {
            break;
        }
    }
    drop(tx);
    let mut got = 0;
    while got < count {
        let left = deadline.saturating_duration_since(Instant::now());
        // Every worker gone (or none started) ends the wait as the deadline does.
        let Ok((i, answer)) = rx.recv_timeout(left) else {
            break;
        };
        answers[i] = Some(answer);
        got += 1;
    }
    // What no worker has started by now, none will.
    queue.lock().unwrap_or_else(PoisonError::into_inner).clear();
    answers
}

type Queue<I> = Arc<Mutex<VecDeque<(usize, I)>>>;

/// Start one worker that takes items off `queue` until it is empty or the deadline has
/// passed; `false` if no more threads may or can be started.
fn start_worker<I: Send + 'static, T: Send + 'static>(
    queue: &Queue<I>,
    tx: &mpsc::Sender<(usize, T)>,
    deadline: Instant,
    f: &(impl FnOnce(I) -> T + Send + Clone + 'static),
) -> bool {
    let reserved = LOOKUP_THREADS.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
        (n < MAX_LOOKUP_THREADS).then_some(n + 1)
    });
    if reserved.is_err() {
        return false;
    }
    let (queue, tx, f) = (Arc::clone(queue), tx.clone(), f.clone());
    let spawned = std::thread::Builder::new()
        .name("patina-reap-path".into())
        .spawn(move || {
            let _slot = Slot;
            while Instant::now() < deadline {
                let next = queue
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                let Some((i, item)) = next else {
                    break;
                };
                // The receiver is gone once the deadline passed: nothing more to do.
                if tx.send((i, f.clone()(item))).is_err() {
                    break;
                }
            }
        });
    if spawned.is_err() {
        LOOKUP_THREADS.fetch_sub(1, Ordering::AcqRel);
    }
    spawned.is_ok()
}

/// A worker's place among [`MAX_LOOKUP_THREADS`], given back when it ends.
struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        LOOKUP_THREADS.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lookups_run_on_a_few_threads_and_stop_at_the_deadline() {
        // Many items that each take a while: only a few threads ever run them, and
        // what none reached by the deadline is unanswered.
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (r, m) = (Arc::clone(&running), Arc::clone(&most));
        let deadline = Instant::now() + Duration::from_millis(300);
        let answers = bounded_each((0..10_000).collect(), deadline, move |i: u32| {
            let now = r.fetch_add(1, Ordering::SeqCst) + 1;
            m.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            r.fetch_sub(1, Ordering::SeqCst);
            i
        });
        assert_eq!(answers.len(), 10_000);
        assert!(most.load(Ordering::SeqCst) <= MAX_LOOKUP_THREADS);
        // 10,000 items of 5 ms on 4 threads take 12.5 s: most are left unanswered.
        assert!(answers.iter().filter(|a| a.is_none()).count() > 5_000);
        for (i, a) in answers.iter().enumerate() {
            assert!(a.is_none_or(|a| a as usize == i));
        }
    }
}
