//! The coordinator's cache of committed offsets (docs/architecture.md). The controller quorum
//! holds them; a coordinator loads a group's offsets on its first OffsetFetch and then
//! keeps them current with its own commits, so fetches cost no quorum round trip.
//!
//! The cache is only valid while the coordinator map and the topic set stay the same:
//! when the live brokers change (a group may have been coordinated elsewhere meanwhile)
//! or a topic is created or deleted (the quorum drops a deleted topic's offsets), it is
//! emptied and groups load again.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use brook_controller_client::{ClientError, ControllerClient, MetadataCache};
use brook_protocol::rpc::metadata::MetadataImage;
use brook_protocol::rpc::{CommitOffsets, CommittedOffset, FetchOffsets, OffsetCommit};
use parking_lot::Mutex;

/// A group's committed offsets by (topic, partition).
pub type GroupOffsets = BTreeMap<(String, i32), CommittedOffset>;

pub struct OffsetCache {
    controller: Arc<ControllerClient>,
    metadata: MetadataCache,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// The metadata version last checked, and the fingerprint of what the cache depends on.
    checked_version: u64,
    fingerprint: u64,
    /// Bumped by every change the cache sees; a load that raced one is not kept (it may
    /// predate the change), so a cached group is never older than a commit made here.
    changes: u64,
    groups: HashMap<String, Arc<GroupOffsets>>,
}

/// What the cache's validity depends on: the live brokers and the topics.
fn fingerprint(image: &MetadataImage) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for broker in image.brokers.values().filter(|b| !b.fenced) {
        broker.broker_id.hash(&mut hasher);
    }
    for id in image.topics.keys() {
        id.hash(&mut hasher);
    }
    hasher.finish()
}

impl OffsetCache {
    pub fn new(controller: Arc<ControllerClient>, metadata: MetadataCache) -> Self {
        OffsetCache {
            controller,
            metadata,
            state: Mutex::new(CacheState::default()),
        }
    }

    fn revalidate(&self, state: &mut CacheState) {
        let image = self.metadata.image();
        if image.version == state.checked_version {
            return;
        }
        state.checked_version = image.version;
        let now = fingerprint(&image);
        if now != state.fingerprint {
            state.fingerprint = now;
            state.groups.clear();
            state.changes += 1;
        }
    }

    /// Every committed offset of `group`, from the cache or loaded from the quorum.
    pub async fn fetch(&self, group: &str) -> Result<Arc<GroupOffsets>, ClientError> {
        let changes_before = {
            let mut state = self.state.lock();
            self.revalidate(&mut state);
            if let Some(cached) = state.groups.get(group) {
                return Ok(Arc::clone(cached));
            }
            state.changes
        };
        let loaded = self
            .controller
            .fetch_offsets(vec![FetchOffsets {
                group_id: group.to_owned(),
                partitions: Vec::new(),
            }])
            .await?
            .pop()
            .unwrap_or_default();
        let offsets: Arc<GroupOffsets> = Arc::new(
            loaded
                .into_iter()
                .map(|o| ((o.topic.clone(), o.partition), o))
                .collect(),
        );
        let mut state = self.state.lock();
        self.revalidate(&mut state);
        if state.changes == changes_before {
            state.groups.insert(group.to_owned(), Arc::clone(&offsets));
        }
        Ok(offsets)
    }

    /// Commits through the quorum (one batched Raft entry shared with other commits), then
    /// updates the cache. One error code per offset, in order.
    pub async fn commit(&self, group: &str, offsets: Vec<OffsetCommit>) -> Result<Vec<i16>, ClientError> {
        let results = self
            .controller
            .commit_offsets(vec![CommitOffsets {
                group_id: group.to_owned(),
                offsets: offsets.clone(),
            }])
            .await?
            .pop()
            .unwrap_or_default();
        let codes: Vec<i16> = results.iter().map(|r| r.error_code).collect();
        let mut state = self.state.lock();
        state.changes += 1;
        if let Some(cached) = state.groups.get_mut(group) {
            let cached = Arc::make_mut(cached);
            for (commit, _) in offsets.into_iter().zip(&codes).filter(|(_, code)| **code == 0) {
                let key = (commit.topic.clone(), commit.partition);
                cached.insert(
                    key,
                    CommittedOffset {
                        topic: commit.topic,
                        partition: commit.partition,
                        offset: commit.offset,
                        leader_epoch: commit.leader_epoch,
                        metadata: commit.metadata,
                    },
                );
            }
        }
        Ok(codes)
    }

    /// Deletes the named partitions' offsets, or the whole group's when none are named.
    pub async fn delete(&self, group: &str, partitions: Vec<(String, i32)>) -> Result<(), ClientError> {
        self.controller
            .delete_offsets(vec![FetchOffsets {
                group_id: group.to_owned(),
                partitions: partitions.clone(),
            }])
            .await?;
        let mut state = self.state.lock();
        state.changes += 1;
        if partitions.is_empty() {
            state.groups.remove(group);
        } else if let Some(cached) = state.groups.get_mut(group) {
            let cached = Arc::make_mut(cached);
            for key in &partitions {
                cached.remove(key);
            }
        }
        Ok(())
    }

    /// The groups with committed offsets, from the quorum.
    pub async fn groups_with_offsets(&self) -> Result<Vec<String>, ClientError> {
        self.controller.list_offset_groups().await
    }
}
