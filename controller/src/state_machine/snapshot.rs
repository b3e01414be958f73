//! The snapshot layout of [`ControllerState`]. The first layout is kept as it was, and
//! every later addition is a tail section after it: a snapshot written before a section
//! existed simply ends early, and that section reads as its default. So a controller
//! restarts from any snapshot an earlier version wrote.

use std::collections::BTreeMap;

use brook_protocol::rpc::metadata::{BrokerNodeId, BrokerRegistration, MetadataImage, TopicState};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ControllerState, OffsetStore, reassignments};

/// The image as the first layout held it (per-broker configs came later, in a tail).
#[derive(Serialize)]
pub(super) struct ImageHeadRef<'a> {
    pub version: u64,
    pub cluster_id: &'a Option<Uuid>,
    pub brokers: &'a BTreeMap<BrokerNodeId, BrokerRegistration>,
    pub topics: &'a BTreeMap<Uuid, TopicState>,
    pub cluster_configs: &'a BTreeMap<String, String>,
}

impl<'a> ImageHeadRef<'a> {
    pub fn of(image: &'a MetadataImage) -> Self {
        ImageHeadRef {
            version: image.version,
            cluster_id: &image.cluster_id,
            brokers: &image.brokers,
            topics: &image.topics,
            cluster_configs: &image.cluster_configs,
        }
    }
}

#[derive(Deserialize)]
struct ImageHead {
    version: u64,
    cluster_id: Option<Uuid>,
    brokers: BTreeMap<BrokerNodeId, BrokerRegistration>,
    topics: BTreeMap<Uuid, TopicState>,
    cluster_configs: BTreeMap<String, String>,
}

/// What a snapshot holds first; the history and the name index are rebuilt from it.
#[derive(Serialize)]
pub(super) struct SnapshotRef<'a> {
    pub image: ImageHeadRef<'a>,
    pub offsets: &'a OffsetStore,
}

#[derive(Deserialize)]
struct SnapshotOwned {
    image: ImageHead,
    offsets: OffsetStore,
}

#[derive(Serialize, Deserialize, Default)]
struct ProducerIdsTail {
    next_producer_id: i64,
}

#[derive(Serialize, Deserialize, Default)]
struct ReassignmentsTail {
    reassignments: Vec<((Uuid, i32), reassignments::Reassignment)>,
}

#[derive(Serialize, Deserialize, Default)]
struct BrokerConfigsTail {
    broker_configs: BTreeMap<BrokerNodeId, BTreeMap<String, String>>,
}

/// The next tail section of a snapshot, or its default when the snapshot ends first.
fn take_section<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<(T, &[u8]), postcard::Error> {
    if bytes.is_empty() {
        Ok((T::default(), bytes))
    } else {
        postcard::take_from_bytes(bytes)
    }
}

impl ControllerState {
    pub fn encode_snapshot(&self) -> Result<Vec<u8>, postcard::Error> {
        let mut bytes = postcard::to_stdvec(&SnapshotRef {
            image: ImageHeadRef::of(&self.image),
            offsets: &self.offsets,
        })?;
        let producer_ids = ProducerIdsTail {
            next_producer_id: self.next_producer_id,
        };
        bytes.extend(postcard::to_stdvec(&producer_ids)?);
        let reassignments = ReassignmentsTail {
            reassignments: self.reassignments.iter().map(|(k, r)| (*k, r.clone())).collect(),
        };
        bytes.extend(postcard::to_stdvec(&reassignments)?);
        bytes.extend(postcard::to_stdvec(&BrokerConfigsTail {
            broker_configs: self.image.broker_configs.clone(),
        })?);
        Ok(bytes)
    }

    /// Replaces the state with a snapshot's. The history restarts empty at its version.
    pub fn restore_snapshot(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let (snapshot, rest): (SnapshotOwned, _) = postcard::take_from_bytes(bytes)?;
        let (producer_ids, rest): (ProducerIdsTail, _) = take_section(rest)?;
        let (reassignments, rest): (ReassignmentsTail, _) = take_section(rest)?;
        let (broker_configs, _): (BrokerConfigsTail, _) = take_section(rest)?;
        let head = snapshot.image;
        self.image = MetadataImage {
            version: head.version,
            cluster_id: head.cluster_id,
            brokers: head.brokers,
            topics: head.topics,
            cluster_configs: head.cluster_configs,
            broker_configs: broker_configs.broker_configs,
        };
        self.next_producer_id = producer_ids.next_producer_id;
        self.reassignments = reassignments.reassignments.into_iter().collect();
        self.topic_ids = self
            .image
            .topics
            .values()
            .map(|t| (t.name.clone(), t.topic_id))
            .collect();
        self.offsets = snapshot.offsets;
        self.history.clear();
        Ok(())
    }
}
