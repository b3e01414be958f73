//! The cluster as a whole: its brokers (Metadata) and its controller quorum
//! (DescribeQuorum, which brokers forward to the controllers, as Kafka's do).

use brook_protocol::api::METADATA_TOPIC;
use brook_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use brook_protocol::messages::{DescribeQuorumRequest, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, StrBytes};

use crate::client::Client;
use crate::error::{Error, Result, check};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterInfo {
    pub cluster_id: Option<String>,
    /// The broker admin requests go to.
    pub controller: Option<i32>,
    /// Live brokers, by id.
    pub brokers: Vec<BrokerInfo>,
}

/// One voter of the controller quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    pub id: i32,
    /// How far its log is replicated, as the leader knows it; -1 when unknown.
    pub log_end_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumStatus {
    /// -1 while there is no leader.
    pub leader: i32,
    pub epoch: i32,
    /// The last committed entry of the metadata log.
    pub high_watermark: i64,
    pub voters: Vec<Voter>,
}

impl Client {
    pub async fn describe_cluster(&self) -> Result<ClusterInfo> {
        let response = self.metadata(Some(&[]), false).await?;
        let mut brokers: Vec<BrokerInfo> = response
            .brokers
            .iter()
            .map(|b| BrokerInfo {
                id: b.node_id.0,
                host: b.host.to_string(),
                port: b.port,
                rack: b.rack.as_ref().map(|r| r.to_string()),
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        Ok(ClusterInfo {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
            brokers,
        })
    }

    pub async fn describe_quorum(&self) -> Result<QuorumStatus> {
        let connection = self.admin_connection().await?;
        let version = connection.version(ApiKey::DescribeQuorum, 0, 1)?;
        let request = DescribeQuorumRequest::default().with_topics(vec![
            TopicData::default()
                .with_topic_name(TopicName(StrBytes::from_static_str(METADATA_TOPIC)))
                .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
        ]);
        let ResponseKind::DescribeQuorum(response) = connection
            .call(ApiKey::DescribeQuorum, version, RequestKind::DescribeQuorum(request))
            .await?
        else {
            return Err(Error::not_a("DescribeQuorum"));
        };
        check(response.error_code, || "describing the controller quorum".into())?;
        let partition = response
            .topics
            .into_iter()
            .flat_map(|t| t.partitions)
            .next()
            .ok_or_else(|| Error::Unexpected("DescribeQuorum without the metadata partition".into()))?;
        check(partition.error_code, || "describing the controller quorum".into())?;
        Ok(QuorumStatus {
            leader: partition.leader_id.0,
            epoch: partition.leader_epoch,
            high_watermark: partition.high_watermark,
            voters: partition
                .current_voters
                .iter()
                .map(|v| Voter {
                    id: v.replica_id.0,
                    log_end_offset: v.log_end_offset,
                })
                .collect(),
        })
    }
}
