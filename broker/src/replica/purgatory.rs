//! The delayed-operation purgatory (Kafka's `DelayedOperationPurgatory`), keyed by
//! partition: a request that cannot be answered yet (an `acks=all` produce waiting for
//! the high watermark, a fetch long-polling for `min_bytes`) is a [`DelayedOperation`]
//! that watches the [`Watchers`] of each partition it involves. A partition wakes its
//! watchers when its log end, high watermark or role moves, or when it is removed; each
//! woken operation checks again whether it can complete. Nothing else wakes it: an
//! append to one partition never disturbs the waiters of another.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Below this many entries a watcher list is never swept for completed operations.
const MIN_SWEEP_LEN: usize = 32;

/// The operations watching one partition.
#[derive(Default)]
pub struct Watchers {
    inner: Mutex<WatcherList>,
}

#[derive(Default)]
struct WatcherList {
    /// Weak: an operation that completed or expired is gone once its owner drops it, and
    /// its entry is swept at the next wake-up (or when the list has doubled).
    waiting: Vec<Weak<Notify>>,
    sweep_at: usize,
}

impl Watchers {
    fn watch(&self, operation: &Arc<Notify>) {
        let mut list = self.inner.lock();
        if list.waiting.len() >= list.sweep_at.max(MIN_SWEEP_LEN) {
            list.waiting.retain(|w| w.strong_count() > 0);
            list.sweep_at = list.waiting.len() * 2;
        }
        list.waiting.push(Arc::downgrade(operation));
    }

    /// Wakes every operation watching this partition, forgetting those already done. A
    /// wake-up that arrives while an operation is busy checking is kept (a `Notify`
    /// permit), so none is lost.
    pub fn wake(&self) {
        self.inner.lock().waiting.retain(|watcher| match watcher.upgrade() {
            Some(operation) => {
                operation.notify_one();
                true
            }
            None => false,
        });
    }

    /// Operations still registered (completed ones linger until the next sweep).
    pub fn len(&self) -> usize {
        self.inner.lock().waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One request waiting on some partitions.
pub struct DelayedOperation {
    wake: Arc<Notify>,
}

impl Default for DelayedOperation {
    fn default() -> Self {
        Self::new()
    }
}

impl DelayedOperation {
    pub fn new() -> Self {
        DelayedOperation {
            wake: Arc::new(Notify::new()),
        }
    }

    /// Watch a partition: its changes wake this operation from now on.
    pub fn watch(&self, watchers: &Watchers) {
        watchers.watch(&self.wake);
    }

    /// Runs `try_complete` now and after every wake-up of a watched partition until it
    /// returns true (returns true) or `deadline` passes (returns what one last check
    /// says). Watch every partition before calling, so no change slips in between.
    /// The time from the first failed check to the last is the request's remote time.
    pub async fn complete_by(&self, deadline: Instant, mut try_complete: impl FnMut() -> bool) -> bool {
        if try_complete() {
            return true;
        }
        let parked = Instant::now();
        let completed = loop {
            if tokio::time::timeout_at(deadline, self.wake.notified()).await.is_err() {
                break try_complete();
            }
            if try_complete() {
                break true;
            }
        };
        crate::request_time::add_remote_time(parked.elapsed());
        completed
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;

    /// An operation watching a partition, and a task that sets `done` and wakes the
    /// partition after `after`.
    fn woken_after(
        after: Duration,
    ) -> (
        DelayedOperation,
        Arc<std::sync::atomic::AtomicBool>,
        tokio::task::JoinHandle<()>,
    ) {
        let partition = Arc::new(Watchers::default());
        let operation = DelayedOperation::new();
        operation.watch(&partition);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = {
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                partition.wake();
            })
        };
        (operation, done, waker)
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_completes_when_a_watched_partition_wakes_it() {
        let (operation, done, waker) = woken_after(Duration::from_millis(10));
        let started = Instant::now();
        let completed = operation
            .complete_by(started + Duration::from_secs(30), || {
                done.load(std::sync::atomic::Ordering::SeqCst)
            })
            .await;
        assert!(completed);
        assert_eq!(
            started.elapsed(),
            Duration::from_millis(10),
            "woken at once, not at expiry"
        );
        waker.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_operation_expires_at_its_deadline_after_one_last_check() {
        let operation = DelayedOperation::new();
        let checks = Cell::new(0);
        let started = Instant::now();
        let completed = operation
            .complete_by(started + Duration::from_millis(500), || {
                checks.set(checks.get() + 1);
                false
            })
            .await;
        assert!(!completed);
        assert_eq!(started.elapsed(), Duration::from_millis(500));
        assert_eq!(checks.get(), 2, "once at the start, once at expiry");
    }

    #[tokio::test(start_paused = true)]
    async fn the_time_parked_is_the_requests_remote_time() {
        let (operation, done, waker) = woken_after(Duration::from_millis(40));
        let deadline = Instant::now() + Duration::from_secs(30);
        let (completed, remote) = crate::request_time::with_remote_time(
            operation.complete_by(deadline, || done.load(std::sync::atomic::Ordering::SeqCst)),
        )
        .await;
        assert!(completed);
        assert_eq!(remote, Duration::from_millis(40));
        // Completed at the first check: never parked, no remote time.
        let (completed, remote) = crate::request_time::with_remote_time(operation.complete_by(deadline, || true)).await;
        assert!(completed);
        assert_eq!(remote, Duration::ZERO);
        waker.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn another_partitions_changes_never_wake_an_operation() {
        let (watched, other) = (Watchers::default(), Watchers::default());
        let operation = DelayedOperation::new();
        operation.watch(&watched);
        let checks = Cell::new(0);
        let deadline = Instant::now() + Duration::from_secs(1);
        let waiting = operation.complete_by(deadline, || {
            checks.set(checks.get() + 1);
            false
        });
        tokio::pin!(waiting);
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        for _ in 0..100 {
            other.wake();
        }
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        assert_eq!(checks.get(), 1, "the other partition's wake-ups reached nobody");
        watched.wake();
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        assert_eq!(checks.get(), 2, "its own partition's wake-up did");
    }

    #[test]
    fn a_wake_up_during_a_check_is_kept_and_completed_operations_are_swept() {
        let partition = Watchers::default();
        let operation = DelayedOperation::new();
        operation.watch(&partition);
        partition.wake();
        // The permit waits for the next `notified()`: no wake-up is lost between checks.
        {
            let notified = operation.wake.notified();
            tokio::pin!(notified);
            assert!(notified.as_mut().enable(), "the stored wake-up is there at once");
        }
        drop(operation);
        partition.wake();
        assert!(
            partition.is_empty(),
            "a dropped operation leaves the list at the next wake-up"
        );

        let live = DelayedOperation::new();
        live.watch(&partition);
        for _ in 0..1000 {
            DelayedOperation::new().watch(&partition);
        }
        assert!(
            partition.len() <= MIN_SWEEP_LEN + 1,
            "expired operations are swept as the list grows: {}",
            partition.len()
        );
    }

    /// Polls a future once and reports whether it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(output) => std::task::Poll::Ready(Some(output)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await
    }
}
