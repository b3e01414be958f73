//! The broker's own view of its lease with the controller. The controller fences a broker
//! `broker.session.timeout.ms` after the last heartbeat it received; a heartbeat is
//! received after it was sent, so the send time of the last acknowledged heartbeat plus
//! the session timeout is a moment by which the controller may already have fenced this
//! broker and moved its leaderships. A little after that (a tenth of the session: the
//! controller checks leases every twentieth of it, then commits the fence and the new
//! leaders), the rest of the cluster knows the new leaders, and the broker acts as fenced
//! (the broker
//! stops leading, answering held produces `NOT_LEADER_OR_FOLLOWER`), even if it cannot
//! hear the controller say so: a leader cut off from the cluster while clients still
//! reach it would otherwise hold their writes until the network heals. It acts as itself
//! again once a heartbeat is acknowledged and its metadata has caught up with what the
//! controller had then, so any leadership it resumes is current.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;
use tokio::time::{Duration, Instant};

pub(super) struct Lease {
    timeout_ms: AtomicU64,
    /// When the controller may have fenced us, unless a heartbeat is acknowledged first.
    deadline: watch::Sender<Option<Instant>>,
    lapsed: watch::Sender<bool>,
    /// A restoration is waiting for the metadata to catch up (at most one at a time).
    restoring: std::sync::atomic::AtomicBool,
}

impl Lease {
    pub(super) fn new() -> Lease {
        Lease {
            timeout_ms: AtomicU64::new(0),
            deadline: watch::Sender::new(None),
            lapsed: watch::Sender::new(false),
            restoring: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The controller's session timeout, as it said at registration.
    pub(super) fn set_timeout(&self, timeout_ms: u64) {
        self.timeout_ms.store(timeout_ms, Ordering::Relaxed);
    }

    /// A heartbeat (or registration) sent at `sent` was acknowledged.
    pub(super) fn renewed(&self, sent: Instant) {
        let timeout = Duration::from_millis(self.timeout_ms.load(Ordering::Relaxed));
        if !timeout.is_zero() {
            // Letting go a little after the controller may have fenced us, not at that
            // moment: a client told NOT_LEADER_OR_FOLLOWER then asks another broker,
            // which must already know the new leader, or it would send the client back.
            // Safety never rests on the lease (epochs and the high watermark do).
            self.deadline.send_replace(Some(sent + timeout + timeout / 10));
        }
    }

    pub(super) fn is_lapsed(&self) -> bool {
        *self.lapsed.borrow()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<bool> {
        self.lapsed.subscribe()
    }

    /// Claims the one restoration that may wait for the metadata; `false` while another
    /// waits already (heartbeats go on every interval, restorations need not pile up).
    pub(super) fn claim_restore(&self) -> bool {
        !self.restoring.swap(true, Ordering::AcqRel)
    }

    /// Ends a lapse, if the lease is running again (a later lapse stands), and releases
    /// the claim.
    pub(super) fn restore(&self) {
        let running = self.deadline.borrow().is_some_and(|d| d > Instant::now());
        if running {
            self.lapsed.send_if_modified(|lapsed| std::mem::replace(lapsed, false));
        }
        self.restoring.store(false, Ordering::Release);
    }

    /// Marks the lease lapsed whenever its deadline passes without a renewal.
    pub(super) async fn watch_expiry(&self) {
        let mut deadlines = self.deadline.subscribe();
        loop {
            let deadline = *deadlines.borrow_and_update();
            if let Some(deadline) = deadline.filter(|_| !self.is_lapsed()) {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {
                        tracing::warn!("no heartbeat acknowledged within the session timeout; acting as fenced");
                        self.lapsed.send_replace(true);
                    }
                    changed = deadlines.changed() => if changed.is_err() { return },
                }
            } else if deadlines.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_lease_lapses_without_renewal_and_is_restored_only_while_running() {
        let lease = std::sync::Arc::new(Lease::new());
        lease.set_timeout(1000);
        let watcher = tokio::spawn({
            let lease = std::sync::Arc::clone(&lease);
            async move { lease.watch_expiry().await }
        });
        lease.renewed(Instant::now());
        tokio::time::sleep(Duration::from_millis(600)).await;
        lease.renewed(Instant::now());
        tokio::time::sleep(Duration::from_millis(1050)).await;
        assert!(!lease.is_lapsed(), "renewed in time (the session and a tenth)");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(lease.is_lapsed(), "1.1 s without a renewal");
        assert!(lease.claim_restore());
        assert!(!lease.claim_restore(), "one restoration at a time");
        lease.restore();
        assert!(lease.is_lapsed(), "not restored while the lease has not run again");
        assert!(lease.claim_restore(), "the claim ends with the attempt");
        lease.renewed(Instant::now());
        lease.restore();
        assert!(!lease.is_lapsed());
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(lease.is_lapsed(), "lapses again");
        watcher.abort();
    }
}
