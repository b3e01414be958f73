//! Where a request's time goes, in the phases of Kafka's `RequestMetrics`:
//!
//! - **request queue**: read off the socket, waiting for the requests before it on its
//!   connection (one is handled at a time, in order);
//! - **local**: handled by this broker (decode, append, read, encode);
//! - **remote**: parked in the purgatory, waiting on others (followers for an
//!   `acks=all` produce, new data for a fetch's long poll);
//! - **response queue**: answered, waiting for the connection's writer;
//! - **response send**: being written to the socket;
//! - **total**: from read to written.
//!
//! The purgatory does not know which request it parks, so the wait is added to a
//! task-local that the connection sets around each request it handles.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static REMOTE: Cell<Duration>;
}

/// Runs a request's handler, returning its output and the time it spent parked.
pub async fn with_remote_time<F: Future>(handler: F) -> (F::Output, Duration) {
    REMOTE
        .scope(Cell::new(Duration::ZERO), async move {
            let output = handler.await;
            (output, REMOTE.with(Cell::get))
        })
        .await
}

/// Counts `waited` as remote time of the request being handled, if one is measured.
pub fn add_remote_time(waited: Duration) {
    let _ = REMOTE.try_with(|remote| remote.set(remote.get() + waited));
}

/// The instants of one request's life on its connection.
#[derive(Debug, Clone, Copy)]
pub struct RequestClock {
    /// The read that completed its frame returned.
    pub read: Instant,
    /// Its handler started.
    pub started: Instant,
    /// Its handler returned.
    pub handled: Instant,
    /// Of `handled - started`, the time parked in the purgatory.
    pub remote: Duration,
    /// Parked after the handler returned: an answer left to wait for followers while
    /// the connection went on.
    pub remote_after: Duration,
}

/// The `phase` label of each of [`RequestPhases`]'s fields, in order, in
/// `brook_broker_request_phase_seconds`.
pub const PHASES: [&str; 6] = [
    "request_queue",
    "local",
    "remote",
    "response_queue",
    "response_send",
    "total",
];

/// The phases of one request, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPhases {
    pub request_queue: Duration,
    pub local: Duration,
    pub remote: Duration,
    pub response_queue: Duration,
    pub response_send: Duration,
    pub total: Duration,
}

impl RequestClock {
    /// The phases of a request whose response the writer took at `dequeued` and had
    /// written at `sent`; `None` for a request with no response (acks=0), which ends
    /// when handled.
    /// The response queue is what is left of the total: waiting for the writer, and
    /// for an answer left to wait, for the answers before it.
    pub fn phases(&self, written: Option<(Instant, Instant)>) -> RequestPhases {
        let handling = self.handled.saturating_duration_since(self.started);
        let parked_in_handler = self.remote.min(handling);
        let (response_send, end) = match written {
            Some((dequeued, sent)) => (sent.saturating_duration_since(dequeued), sent),
            None => (Duration::ZERO, self.handled),
        };
        let request_queue = self.started.saturating_duration_since(self.read);
        let local = handling - parked_in_handler;
        let remote = parked_in_handler + self.remote_after;
        let total = end.saturating_duration_since(self.read);
        RequestPhases {
            request_queue,
            local,
            remote,
            response_queue: total.saturating_sub(request_queue + local + remote + response_send),
            response_send,
            total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_inside_a_measured_handler_are_its_remote_time() {
        let (output, remote) = with_remote_time(async {
            add_remote_time(Duration::from_millis(3));
            tokio::task::yield_now().await;
            add_remote_time(Duration::from_millis(4));
            7
        })
        .await;
        assert_eq!(output, 7);
        assert_eq!(remote, Duration::from_millis(7));
    }

    #[tokio::test]
    async fn a_wait_outside_any_measured_handler_is_ignored() {
        add_remote_time(Duration::from_millis(3));
        let ((), remote) = with_remote_time(async {}).await;
        assert_eq!(remote, Duration::ZERO);
    }

    #[test]
    fn the_phases_add_up_to_the_total() {
        let read = Instant::now();
        let ms = Duration::from_millis;
        let clock = RequestClock {
            read,
            started: read + ms(2),
            handled: read + ms(12),
            remote: ms(7),
            remote_after: Duration::ZERO,
        };
        let phases = clock.phases(Some((read + ms(13), read + ms(15))));
        assert_eq!(
            phases,
            RequestPhases {
                request_queue: ms(2),
                local: ms(3),
                remote: ms(7),
                response_queue: ms(1),
                response_send: ms(2),
                total: ms(15),
            }
        );
        let unanswered = clock.phases(None);
        assert_eq!(unanswered.total, ms(12));
        assert_eq!(unanswered.response_send, Duration::ZERO);
    }

    #[test]
    fn an_answer_left_to_wait_counts_its_wait_as_remote_and_its_turn_as_response_queue() {
        let read = Instant::now();
        let ms = Duration::from_millis;
        // Appended in 1 ms, replicated for 4 ms, written 2 ms after that (its turn came
        // after the answers before it), sent in 1 ms.
        let clock = RequestClock {
            read,
            started: read,
            handled: read + ms(1),
            remote: Duration::ZERO,
            remote_after: ms(4),
        };
        let phases = clock.phases(Some((read + ms(7), read + ms(8))));
        assert_eq!(phases.local, ms(1));
        assert_eq!(phases.remote, ms(4));
        assert_eq!(phases.response_queue, ms(2));
        assert_eq!(phases.response_send, ms(1));
        assert_eq!(phases.total, ms(8));
    }

    #[test]
    fn remote_time_never_exceeds_the_handling_it_is_part_of() {
        let read = Instant::now();
        let clock = RequestClock {
            read,
            started: read,
            handled: read + Duration::from_millis(1),
            remote: Duration::from_millis(5),
            remote_after: Duration::ZERO,
        };
        let phases = clock.phases(None);
        assert_eq!(phases.remote, Duration::from_millis(1));
        assert_eq!(phases.local, Duration::ZERO);
    }
}
