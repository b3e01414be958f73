//! When each follower last answered the leader's AppendEntries, and when it was last
//! caught up, as DescribeQuorum reports them (Kafka's `lastFetchTimestamp` and
//! `lastCaughtUpTimestamp`). openraft keeps neither, so the Raft network records them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use crate::raft::types::NodeId;

/// Wall-clock milliseconds since the Unix epoch.
pub type EpochMillis = i64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerTimes {
    /// The last successful AppendEntries answer.
    pub last_fetch: Option<EpochMillis>,
    /// When the last AppendEntries that took the follower to the leader's log end (as
    /// of its sending) was sent.
    pub last_caught_up: Option<EpochMillis>,
}

/// Shared by every replication stream of this node and read by DescribeQuorum.
#[derive(Debug, Clone, Default)]
pub struct PeerClock(Arc<Mutex<HashMap<NodeId, PeerTimes>>>);

pub fn now_millis() -> EpochMillis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as EpochMillis)
}

impl PeerClock {
    /// `peer` accepted an AppendEntries sent at `sent`; `caught_up` when that request
    /// carried everything the leader had.
    pub fn record(&self, peer: NodeId, sent: EpochMillis, caught_up: bool) {
        let answered = now_millis();
        let mut peers = self.0.lock();
        let times = peers.entry(peer).or_default();
        times.last_fetch = Some(answered);
        if caught_up {
            times.last_caught_up = Some(sent);
        }
    }

    pub fn get(&self, peer: NodeId) -> PeerTimes {
        self.0.lock().get(&peer).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_that_leaves_the_peer_behind_does_not_move_its_caught_up_time() {
        let clock = PeerClock::default();
        assert_eq!(clock.get(2), PeerTimes::default(), "never heard from");
        clock.record(2, 1_000, true);
        let first = clock.get(2);
        assert_eq!(first.last_caught_up, Some(1_000));
        assert!(first.last_fetch.unwrap() >= 1_000);
        clock.record(2, 2_000, false);
        let second = clock.get(2);
        assert_eq!(second.last_caught_up, Some(1_000), "behind since then");
        assert!(second.last_fetch >= first.last_fetch);
        assert_eq!(clock.get(3), PeerTimes::default(), "per peer");
    }
}
