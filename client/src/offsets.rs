//! ListOffsets: a partition's earliest or latest offset, or the first at a time.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use brook_protocol::ApiKey;
use brook_protocol::StrBytes;
use brook_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use brook_protocol::messages::{BrokerId, ListOffsetsRequest, RequestKind, ResponseKind, TopicName};

use crate::client::Client;
use crate::error::{Error, Result, check};

/// Which offset ListOffsets looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    /// The first offset whose timestamp is at or after this many ms since the epoch
    /// (the log end offset when there is none).
    Timestamp(i64),
}

impl OffsetSpec {
    fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::Timestamp(ms) => ms,
        }
    }
}

/// The wait between tries of a retriable refusal.
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

impl Client {
    /// The offset `spec` names for each partition, asked of each partition's leader.
    /// Retriable refusals (a leader not ready yet, or moved) are tried again, with fresh
    /// metadata, for up to the request timeout.
    pub async fn list_offsets(
        &self,
        partitions: &[(String, i32)],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<(String, i32), i64>> {
        let give_up = Instant::now() + self.config().request_timeout;
        loop {
            match self.list_offsets_once(partitions, spec).await {
                Err(e) if e.is_retriable() && Instant::now() < give_up => {
                    tracing::debug!(error = %e, "listing offsets again");
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
                answer => return answer,
            }
        }
    }

    async fn list_offsets_once(
        &self,
        partitions: &[(String, i32)],
        spec: OffsetSpec,
    ) -> Result<BTreeMap<(String, i32), i64>> {
        let names: Vec<String> = {
            let mut names: Vec<String> = partitions.iter().map(|(t, _)| t.clone()).collect();
            names.sort();
            names.dedup();
            names
        };
        let leaders: HashMap<(String, i32), i32> = self
            .topics(Some(&names))
            .await?
            .into_iter()
            .flat_map(|t| {
                let name = t.name;
                t.partitions
                    .into_iter()
                    .map(move |p| ((name.clone(), p.partition), p.leader))
            })
            .collect();
        let mut by_leader: BTreeMap<i32, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
        for (topic, partition) in partitions {
            let leader = leaders
                .get(&(topic.clone(), *partition))
                .copied()
                .ok_or_else(|| Error::kafka(3, format!("partition {topic}-{partition}")))?;
            by_leader
                .entry(leader)
                .or_default()
                .entry(topic)
                .or_default()
                .push(*partition);
        }
        let mut found = BTreeMap::new();
        for (leader, topics) in by_leader {
            let connection = self.broker(leader).await?;
            let version = connection.version(ApiKey::ListOffsets, 1, 7)?;
            let topics = topics
                .into_iter()
                .map(|(name, partitions)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.to_owned())))
                        .with_partitions(
                            partitions
                                .into_iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(p)
                                        .with_timestamp(spec.timestamp())
                                })
                                .collect(),
                        )
                })
                .collect();
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(topics);
            let ResponseKind::ListOffsets(response) = connection
                .call(ApiKey::ListOffsets, version, RequestKind::ListOffsets(request))
                .await?
            else {
                return Err(Error::not_a("ListOffsets"));
            };
            for topic in response.topics {
                for p in topic.partitions {
                    check(p.error_code, || {
                        format!("offsets of {}-{}", topic.name.0, p.partition_index)
                    })?;
                    found.insert((topic.name.0.to_string(), p.partition_index), p.offset);
                }
            }
        }
        Ok(found)
    }
}
