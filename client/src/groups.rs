//! Consumer-group administration: list, describe, delete, committed offsets, and
//! standalone commits (how offsets are reset), each sent to the group's coordinator.

use std::collections::BTreeMap;
use std::sync::Arc;

use brook_protocol::ApiKey;
use brook_protocol::StrBytes;
use brook_protocol::consumer_protocol::assigned_partitions;
use brook_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use brook_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, ListGroupsRequest,
    OffsetCommitRequest, OffsetFetchRequest, RequestKind, ResponseKind, TopicName,
};

use crate::client::Client;
use crate::connection::BrokerConnection;
use crate::error::{Error, Result, check};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    /// "consumer" for consumer groups; empty for a group known only by its offsets.
    pub protocol_type: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    /// Its partitions by topic (consumer groups only).
    pub assignment: Vec<(String, Vec<i32>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// Kafka's state name; "Dead" for a group that does not exist.
    pub state: String,
    pub protocol_type: String,
    /// The assignor the group uses (`range`, `cooperative-sticky`, ...).
    pub protocol: String,
    pub members: Vec<GroupMember>,
}

/// Who commits offsets: a group member in its generation, or no member at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Committer {
    pub generation: i32,
    pub member_id: String,
}

impl Committer {
    pub(crate) fn standalone() -> Self {
        Committer {
            generation: -1,
            member_id: String::new(),
        }
    }
}

pub(crate) fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

impl Client {
    /// Runs `call` on a connection to the group's coordinator. The coordinator is looked
    /// up once and remembered until an answer says it moved or its connection fails.
    pub(crate) async fn at_coordinator<T>(
        &self,
        group: &str,
        call: impl AsyncFnOnce(Arc<BrokerConnection>) -> Result<T>,
    ) -> Result<T> {
        let remembered = self.coordinators.lock().get(group).cloned();
        let connection = match remembered {
            Some(addr) => self.connection(&addr).await,
            None => self.coordinator(group).await,
        };
        let result = match connection {
            Ok(connection) => call(connection).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &result
            && e.coordinator_moved()
        {
            self.coordinators.lock().remove(group);
        }
        result
    }

    /// Looks up the group's coordinator (FindCoordinator) and connects to it.
    pub async fn coordinator(&self, group: &str) -> Result<Arc<BrokerConnection>> {
        let connection = self.any_connection().await?;
        let version = connection.version(ApiKey::FindCoordinator, 1, 4)?;
        let request = if version >= 4 {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![text(group)])
        } else {
            FindCoordinatorRequest::default().with_key(text(group))
        };
        let ResponseKind::FindCoordinator(response) = connection
            .call(ApiKey::FindCoordinator, version, RequestKind::FindCoordinator(request))
            .await?
        else {
            return Err(Error::not_a("FindCoordinator"));
        };
        let (code, node, host, port) = match response.coordinators.first() {
            Some(c) if version >= 4 => (c.error_code, c.node_id.0, c.host.to_string(), c.port),
            _ => (
                response.error_code,
                response.node_id.0,
                response.host.to_string(),
                response.port,
            ),
        };
        check(code, || format!("finding the coordinator of group {group}"))?;
        tracing::debug!(group, node, "coordinator found");
        let addr = format!("{host}:{port}");
        self.coordinators.lock().insert(group.to_owned(), addr.clone());
        self.connection(&addr).await
    }

    /// Every group of the cluster (each broker lists those it coordinates).
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let mut groups = Vec::new();
        for id in self.broker_ids().await? {
            let connection = self.broker(id).await?;
            let version = connection.version(ApiKey::ListGroups, 0, 4)?;
            let ResponseKind::ListGroups(response) = connection
                .call(
                    ApiKey::ListGroups,
                    version,
                    RequestKind::ListGroups(ListGroupsRequest::default()),
                )
                .await?
            else {
                return Err(Error::not_a("ListGroups"));
            };
            check(response.error_code, || format!("listing the groups of broker {id}"))?;
            groups.extend(response.groups.into_iter().map(|g| GroupListing {
                group_id: g.group_id.0.to_string(),
                protocol_type: g.protocol_type.to_string(),
                state: g.group_state.to_string(),
            }));
        }
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        Ok(groups)
    }

    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription> {
        self.at_coordinator(group, async |connection| {
            let version = connection.version(ApiKey::DescribeGroups, 0, 5)?;
            let request = DescribeGroupsRequest::default().with_groups(vec![GroupId(text(group))]);
            let ResponseKind::DescribeGroups(response) = connection
                .call(ApiKey::DescribeGroups, version, RequestKind::DescribeGroups(request))
                .await?
            else {
                return Err(Error::not_a("DescribeGroups"));
            };
            let described = response
                .groups
                .into_iter()
                .next()
                .ok_or_else(|| Error::not_a("DescribeGroups"))?;
            check(described.error_code, || format!("describing group {group}"))?;
            let consumer = described.protocol_type.as_str() == "consumer";
            let members = described
                .members
                .into_iter()
                .map(|m| GroupMember {
                    member_id: m.member_id.to_string(),
                    instance_id: m.group_instance_id.map(|s| s.to_string()),
                    client_id: m.client_id.to_string(),
                    host: m.client_host.to_string(),
                    // An assignment that cannot be read is shown as none.
                    assignment: if consumer {
                        assigned_partitions(&m.member_assignment).unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                })
                .collect();
            Ok(GroupDescription {
                group_id: group.to_owned(),
                state: described.group_state.to_string(),
                protocol_type: described.protocol_type.to_string(),
                protocol: described.protocol_data.to_string(),
                members,
            })
        })
        .await
    }

    pub async fn delete_group(&self, group: &str) -> Result<()> {
        self.at_coordinator(group, async |connection| {
            let version = connection.version(ApiKey::DeleteGroups, 0, 2)?;
            let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(text(group))]);
            let ResponseKind::DeleteGroups(response) = connection
                .call(ApiKey::DeleteGroups, version, RequestKind::DeleteGroups(request))
                .await?
            else {
                return Err(Error::not_a("DeleteGroups"));
            };
            let result = response.results.first().ok_or_else(|| Error::not_a("DeleteGroups"))?;
            check(result.error_code, || format!("deleting group {group}"))
        })
        .await
    }

    /// The group's committed offsets by (topic, partition).
    pub async fn committed_offsets(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
        self.at_coordinator(group, async |connection| {
            let version = connection.version(ApiKey::OffsetFetch, 2, 7)?;
            // No topics named: all of the group's.
            let request = OffsetFetchRequest::default()
                .with_group_id(GroupId(text(group)))
                .with_topics(None);
            let ResponseKind::OffsetFetch(response) = connection
                .call(ApiKey::OffsetFetch, version, RequestKind::OffsetFetch(request))
                .await?
            else {
                return Err(Error::not_a("OffsetFetch"));
            };
            check(response.error_code, || format!("fetching the offsets of group {group}"))?;
            let mut offsets = BTreeMap::new();
            for topic in response.topics {
                for p in topic.partitions {
                    check(p.error_code, || {
                        format!("offset of {}-{}", topic.name.0, p.partition_index)
                    })?;
                    if p.committed_offset >= 0 {
                        offsets.insert((topic.name.0.to_string(), p.partition_index), p.committed_offset);
                    }
                }
            }
            Ok(offsets)
        })
        .await
    }

    /// Commits offsets for a group with no active members (generation -1, as a
    /// standalone consumer does); an active group refuses.
    pub async fn commit_offsets(&self, group: &str, offsets: &BTreeMap<(String, i32), i64>) -> Result<()> {
        self.commit_offsets_as(group, offsets, &Committer::standalone()).await
    }

    /// Commits offsets as `committer`: a member of the group's current generation, or
    /// nobody (standalone).
    pub(crate) async fn commit_offsets_as(
        &self,
        group: &str,
        offsets: &BTreeMap<(String, i32), i64>,
        committer: &Committer,
    ) -> Result<()> {
        self.at_coordinator(group, async |connection| {
            let version = connection.version(ApiKey::OffsetCommit, 2, 8)?;
            let mut by_topic: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
            for ((topic, partition), offset) in offsets {
                by_topic.entry(topic).or_default().push(
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(*partition)
                        .with_committed_offset(*offset)
                        .with_committed_metadata(Some(StrBytes::default())),
                );
            }
            let topics = by_topic
                .into_iter()
                .map(|(name, partitions)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(text(name)))
                        .with_partitions(partitions)
                })
                .collect();
            let request = OffsetCommitRequest::default()
                .with_group_id(GroupId(text(group)))
                .with_generation_id_or_member_epoch(committer.generation)
                .with_member_id(text(&committer.member_id))
                .with_topics(topics);
            let ResponseKind::OffsetCommit(response) = connection
                .call(ApiKey::OffsetCommit, version, RequestKind::OffsetCommit(request))
                .await?
            else {
                return Err(Error::not_a("OffsetCommit"));
            };
            for topic in response.topics {
                for p in topic.partitions {
                    check(p.error_code, || {
                        format!("committing {}-{} for group {group}", topic.name.0, p.partition_index)
                    })?;
                }
            }
            Ok(())
        })
        .await
    }
}
