//! Consumer-group committed offsets, as the quorum holds them.

use std::collections::BTreeMap;

use brook_protocol::rpc::{CommittedOffset, OffsetCommit};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredOffset {
    offset: i64,
    leader_epoch: i32,
    metadata: Option<String>,
    commit_timestamp_ms: i64,
}

/// group -> (topic, partition) -> offset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetStore {
    groups: BTreeMap<String, BTreeMap<(String, i32), StoredOffset>>,
}

impl OffsetStore {
    pub fn commit(&mut self, group_id: &str, commit: &OffsetCommit) {
        let stored = StoredOffset {
            offset: commit.offset,
            leader_epoch: commit.leader_epoch,
            metadata: commit.metadata.clone(),
            commit_timestamp_ms: commit.commit_timestamp_ms,
        };
        self.groups
            .entry(group_id.to_owned())
            .or_default()
            .insert((commit.topic.clone(), commit.partition), stored);
    }

    /// The named partitions' offsets (those never committed are left out), or all of the
    /// group's when `partitions` is empty.
    pub fn fetch(&self, group_id: &str, partitions: &[(String, i32)]) -> Vec<CommittedOffset> {
        let Some(group) = self.groups.get(group_id) else {
            return Vec::new();
        };
        let to_committed = |((topic, partition), stored): (&(String, i32), &StoredOffset)| CommittedOffset {
            topic: topic.clone(),
            partition: *partition,
            offset: stored.offset,
            leader_epoch: stored.leader_epoch,
            metadata: stored.metadata.clone(),
        };
        if partitions.is_empty() {
            return group.iter().map(to_committed).collect();
        }
        partitions
            .iter()
            .filter_map(|key| group.get_key_value(key).map(to_committed))
            .collect()
    }

    /// Removes the named partitions' offsets, or the whole group when `partitions` is empty.
    pub fn delete(&mut self, group_id: &str, partitions: &[(String, i32)]) {
        if partitions.is_empty() {
            self.groups.remove(group_id);
            return;
        }
        if let Some(group) = self.groups.get_mut(group_id) {
            for key in partitions {
                group.remove(key);
            }
            if group.is_empty() {
                self.groups.remove(group_id);
            }
        }
    }

    /// Drops every group's offsets for a deleted topic.
    pub fn delete_topic(&mut self, topic: &str) {
        self.groups.retain(|_, group| {
            group.retain(|(t, _), _| t != topic);
            !group.is_empty()
        });
    }

    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.keys().map(String::as_str)
    }
}
