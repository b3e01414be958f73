//! The consumer: partitions chosen by hand (`assign`) or by a consumer group
//! (`subscribe`), fetched ahead in the background of `poll`, with seeks, synchronous and
//! asynchronous commits, auto-commit, and rebalance callbacks.
//!
//! Like the Java client, all group work happens inside `poll` (joining, the callbacks,
//! auto-commits) except heartbeats, which a background task sends; so a consumer that
//! stops polling for longer than `max_poll_interval` loses its partitions.
//!
//! ```no_run
//! # async fn example() -> brook_client::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use brook_client::{Client, ClientConfig, Consumer, ConsumerConfig};
//!
//! let client = Arc::new(Client::new(ClientConfig::new("127.0.0.1:9092")));
//! let mut consumer = Consumer::new(client, ConsumerConfig::with_group("billing"));
//! consumer.subscribe(&["orders".to_owned()])?;
//! loop {
//!     for record in consumer.poll(Duration::from_secs(1)).await? {
//!         println!("{}-{}@{}: {:?}", record.topic, record.partition, record.offset, record.value);
//!     }
//!     # break;
//! }
//! consumer.close().await?;
//! # Ok(())
//! # }
//! ```

mod assignor;
mod fetcher;
mod membership;
mod record;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

pub use assignor::Assignor;
pub use fetcher::TopicPartition;
pub use record::ConsumerRecord;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::groups::Committer;
use crate::offsets::OffsetSpec;
use fetcher::Fetcher;
use membership::Membership;

/// A duration as the `*_ms: i32` fields of Kafka requests carry it.
fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Where a partition with no committed offset starts (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Earliest,
    Latest,
    /// Fail `poll` instead.
    None,
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The consumer group (`group.id`): needed to subscribe and to commit.
    pub group_id: Option<String>,
    pub auto_offset_reset: OffsetReset,
    /// Commit positions every `auto_commit_interval` from `poll`, before a rebalance
    /// and on `close` (`enable.auto.commit`).
    pub enable_auto_commit: bool,
    pub auto_commit_interval: Duration,
    /// How long the coordinator waits for a heartbeat (`session.timeout.ms`).
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// How long a rebalance waits for members to rejoin (`max.poll.interval.ms`).
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy`, in order of preference.
    pub assignors: Vec<Assignor>,
    /// `fetch.min.bytes`, `fetch.max.bytes`, `max.partition.fetch.bytes`, `fetch.max.wait.ms`.
    pub fetch_min_bytes: i32,
    pub fetch_max_bytes: i32,
    pub max_partition_fetch_bytes: i32,
    pub fetch_max_wait: Duration,
    /// Most records one `poll` returns (`max.poll.records`).
    pub max_poll_records: usize,
    /// Verify each fetched batch's CRC-32C (`check.crcs`).
    pub check_crcs: bool,
    pub retry_backoff: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            group_id: None,
            auto_offset_reset: OffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            assignors: vec![Assignor::Range, Assignor::RoundRobin],
            fetch_min_bytes: 1,
            fetch_max_bytes: 50 * 1024 * 1024,
            max_partition_fetch_bytes: 1024 * 1024,
            fetch_max_wait: Duration::from_millis(500),
            max_poll_records: 500,
            check_crcs: true,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl ConsumerConfig {
    /// The defaults, in group `group_id`.
    pub fn with_group(group_id: impl Into<String>) -> Self {
        ConsumerConfig {
            group_id: Some(group_id.into()),
            ..ConsumerConfig::default()
        }
    }
}

/// Told when a group rebalance takes partitions away or hands them out. Under the eager
/// protocol every partition is revoked before each rejoin. With auto-commit on, the
/// positions are committed before `on_partitions_revoked` runs.
pub trait RebalanceListener: Send {
    fn on_partitions_revoked(&mut self, _partitions: &[TopicPartition]) {}
    fn on_partitions_assigned(&mut self, _partitions: &[TopicPartition]) {}
}

/// An asynchronous commit under way; awaiting it is optional.
pub type CommitHandle = JoinHandle<Result<()>>;

pub struct Consumer {
    client: Arc<Client>,
    config: ConsumerConfig,
    /// Topics subscribed to; empty when partitions are assigned by hand.
    subscription: Vec<String>,
    membership: Option<Membership>,
    fetcher: Fetcher,
    listener: Option<Box<dyn RebalanceListener>>,
    next_auto_commit: Instant,
}

impl Consumer {
    pub fn new(client: Arc<Client>, config: ConsumerConfig) -> Consumer {
        let next_auto_commit = Instant::now() + config.auto_commit_interval;
        Consumer {
            client,
            config,
            subscription: Vec::new(),
            membership: None,
            fetcher: Fetcher::new(),
            listener: None,
            next_auto_commit,
        }
    }

    pub fn set_rebalance_listener(&mut self, listener: impl RebalanceListener + 'static) {
        self.listener = Some(Box::new(listener));
    }

    /// Reads exactly these partitions, outside any group rebalance. Positions come from
    /// the group's committed offsets when there is a group, else `auto_offset_reset`,
    /// unless set with `seek`.
    pub fn assign(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if self.membership.is_some() {
            return Err(Error::InvalidState(
                "the consumer is subscribed; unsubscribe first".into(),
            ));
        }
        self.fetcher.assign(partitions);
        Ok(())
    }

    /// Joins the group to share `topics`' partitions with its other members. The group
    /// is joined at the next `poll`.
    pub fn subscribe(&mut self, topics: &[String]) -> Result<()> {
        let group = self
            .config
            .group_id
            .clone()
            .ok_or_else(|| Error::InvalidState("subscribing needs a group id".into()))?;
        if !self.fetcher.assignment().is_empty() && self.membership.is_none() {
            return Err(Error::InvalidState(
                "partitions are assigned by hand; unassign first".into(),
            ));
        }
        self.subscription = topics.to_vec();
        match &self.membership {
            Some(membership) => membership.request_rejoin(),
            None => self.membership = Some(Membership::new(&group)),
        }
        Ok(())
    }

    /// The partitions this consumer reads now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.fetcher.assignment()
    }

    /// Waits up to `timeout` for records; returns at most `max_poll_records`. An empty
    /// answer means none arrived in time.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = Instant::now() + timeout;
        loop {
            self.keep_membership().await?;
            self.find_positions().await?;
            let records = self.fetcher.take_records(self.config.max_poll_records);
            // The next fetches leave before the records are handed out.
            self.fetcher.send_fetches(&self.client, &self.config).await;
            if !records.is_empty() || Instant::now() >= deadline {
                return Ok(records);
            }
            self.fetcher.wait(deadline, self.config.retry_backoff).await?;
        }
    }

    /// Joins the group when it asks (a rebalance), and auto-commits when due.
    async fn keep_membership(&mut self) -> Result<()> {
        if self.membership.as_ref().is_some_and(|m| m.needs_join()) {
            self.revoke().await;
            let Some(membership) = self.membership.as_mut() else {
                return Ok(());
            };
            let assigned = membership.join(&self.client, &self.config, &self.subscription).await?;
            self.fetcher.assign(&assigned);
            if let Some(listener) = self.listener.as_mut() {
                listener.on_partitions_assigned(&assigned);
            }
        }
        if self.config.enable_auto_commit && self.config.group_id.is_some() && Instant::now() >= self.next_auto_commit {
            self.next_auto_commit = Instant::now() + self.config.auto_commit_interval;
            // Fire and forget, as the Java client's auto-commit is; a failure is logged.
            let commit = self.commit_async();
            tokio::spawn(async move {
                if let Ok(Err(error)) = commit.await {
                    tracing::warn!(%error, "auto-commit failed");
                }
            });
        }
        Ok(())
    }

    /// Gives up every partition before a rejoin (eager protocol).
    async fn revoke(&mut self) {
        let revoked = self.fetcher.assignment();
        if revoked.is_empty() {
            return;
        }
        if self.config.enable_auto_commit
            && let Err(error) = self.commit().await
        {
            tracing::warn!(%error, "commit before the rebalance failed");
        }
        if let Some(listener) = self.listener.as_mut() {
            listener.on_partitions_revoked(&revoked);
        }
        self.fetcher.assign(&[]);
    }

    /// Gives each partition without a position one: its committed offset, else the
    /// `auto_offset_reset` policy.
    async fn find_positions(&mut self) -> Result<()> {
        let missing = self.fetcher.unpositioned();
        if missing.is_empty() {
            return Ok(());
        }
        let mut to_reset = Vec::new();
        let committed = match (&self.config.group_id, missing.iter().any(|(_, out)| !out)) {
            (Some(group), true) => self.client.committed_offsets(group).await?,
            _ => BTreeMap::new(),
        };
        for (tp, out_of_range) in missing {
            match committed.get(&tp) {
                Some(&offset) if !out_of_range => self.fetcher.seek(&tp, offset),
                _ => to_reset.push(tp),
            }
        }
        if to_reset.is_empty() {
            return Ok(());
        }
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
            OffsetReset::None => {
                let (topic, partition) = &to_reset[0];
                return Err(Error::InvalidState(format!(
                    "{topic}-{partition} has no committed offset and auto.offset.reset is none"
                )));
            }
        };
        self.seek_to(&to_reset, spec).await
    }

    /// Sets the next offset `poll` returns for an assigned partition.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        if !self.fetcher.is_assigned(tp) {
            return Err(Error::InvalidState(format!("{}-{} is not assigned", tp.0, tp.1)));
        }
        self.fetcher.seek(tp, offset);
        Ok(())
    }

    /// Seeks assigned partitions to their beginning, end, or the first offset at a time.
    pub async fn seek_to(&mut self, partitions: &[TopicPartition], spec: OffsetSpec) -> Result<()> {
        let found = self.client.list_offsets(partitions, spec).await?;
        for (tp, offset) in found {
            self.seek(&tp, offset)?;
        }
        Ok(())
    }

    /// The next offset `poll` returns for `tp`, once known.
    pub fn position(&self, tp: &TopicPartition) -> Option<i64> {
        self.fetcher.position(tp)
    }

    /// The partition's high watermark as of the last fetch.
    pub fn high_watermark(&self, tp: &TopicPartition) -> Option<i64> {
        self.fetcher.high_watermark(tp)
    }

    /// Whether every assigned partition has been read up to its high watermark (how
    /// `brook consume -e` knows it is done).
    pub fn at_end(&self) -> bool {
        self.fetcher.at_end()
    }

    /// The group's committed offsets.
    pub async fn committed(&self) -> Result<BTreeMap<TopicPartition, i64>> {
        let group = self.group()?;
        self.client.committed_offsets(group).await
    }

    fn group(&self) -> Result<&str> {
        self.config
            .group_id
            .as_deref()
            .ok_or_else(|| Error::InvalidState("committing needs a group id".into()))
    }

    fn committer(&self) -> Committer {
        self.membership
            .as_ref()
            .map_or_else(Committer::standalone, Membership::committer)
    }

    /// Commits the current positions and waits for the coordinator.
    pub async fn commit(&mut self) -> Result<()> {
        let positions = self.fetcher.positions();
        self.commit_offsets(&positions).await
    }

    /// Commits these offsets (the next offset to read, per partition).
    pub async fn commit_offsets(&mut self, offsets: &BTreeMap<TopicPartition, i64>) -> Result<()> {
        if offsets.is_empty() {
            return Ok(());
        }
        let group = self.group()?.to_owned();
        let result = self.client.commit_offsets_as(&group, offsets, &self.committer()).await;
        if let (Err(error), Some(membership)) = (&result, &self.membership) {
            membership.note_commit_error(error);
        }
        result
    }

    /// Commits the current positions in the background; `poll` goes on meanwhile.
    pub fn commit_async(&self) -> CommitHandle {
        let positions = self.fetcher.positions();
        let client = Arc::clone(&self.client);
        let committer = self.committer();
        let group = self.group().map(str::to_owned);
        tokio::spawn(async move {
            let group = group?;
            if positions.is_empty() {
                return Ok(());
            }
            client.commit_offsets_as(&group, &positions, &committer).await
        })
    }

    /// Commits (with auto-commit on) and leaves the group, so it rebalances at once.
    pub async fn close(mut self) -> Result<()> {
        let committed = if self.config.enable_auto_commit && self.config.group_id.is_some() {
            self.commit().await
        } else {
            Ok(())
        };
        if let Some(mut membership) = self.membership.take() {
            membership.leave(&self.client).await;
        }
        committed
    }
}
