//! The cluster as a client sees it: bootstrap addresses, the brokers the last Metadata
//! named, and one pipelined connection per broker, opened on first use and replaced
//! when it fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use brook_protocol::StrBytes;
use brook_protocol::messages::metadata_request::MetadataRequestTopic;
use brook_protocol::messages::{MetadataRequest, MetadataResponse, RequestKind, ResponseKind, TopicName};
use brook_protocol::{ApiKey, ErrorCode};
use parking_lot::Mutex;

use crate::connection::BrokerConnection;
use crate::error::{Error, Result, check};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` of brokers to start from (`bootstrap.servers`).
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// How long one request may take (`request.timeout.ms`).
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(bootstrap: impl Into<String>) -> Self {
        ClientConfig {
            bootstrap: bootstrap
                .into()
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            client_id: "brook".into(),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A partition as Metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: Vec<PartitionInfo>,
}

pub struct Client {
    config: ClientConfig,
    /// broker id -> `host:port`, from the last Metadata.
    brokers: Mutex<HashMap<i32, String>>,
    /// `host:port` -> its connection.
    connections: Mutex<HashMap<String, Arc<BrokerConnection>>>,
    /// group id -> its coordinator's `host:port`, as last found.
    pub(crate) coordinators: Mutex<HashMap<String, String>>,
    /// The broker the last Metadata named as controller: where admin requests go.
    controller: Mutex<Option<i32>>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Self {
        Client {
            config,
            brokers: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            coordinators: Mutex::new(HashMap::new()),
            controller: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The open connection to `addr`, connecting first if there is none.
    pub async fn connection(&self, addr: &str) -> Result<Arc<BrokerConnection>> {
        if let Some(open) = self.connections.lock().get(addr).filter(|c| c.is_open()) {
            return Ok(Arc::clone(open));
        }
        let fresh =
            Arc::new(BrokerConnection::connect(addr, &self.config.client_id, self.config.request_timeout).await?);
        self.connections.lock().insert(addr.to_owned(), Arc::clone(&fresh));
        Ok(fresh)
    }

    /// A connection to any broker: a known one, else a bootstrap address.
    pub async fn any_connection(&self) -> Result<Arc<BrokerConnection>> {
        let known: Vec<String> = self.brokers.lock().values().cloned().collect();
        let mut last = None;
        for addr in known.iter().chain(&self.config.bootstrap) {
            match self.connection(addr).await {
                Ok(connection) => return Ok(connection),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Unexpected("no bootstrap address given".into())))
    }

    /// The connection to broker `id` (as the last Metadata named it).
    pub async fn broker(&self, id: i32) -> Result<Arc<BrokerConnection>> {
        let addr = self.brokers.lock().get(&id).cloned();
        let addr = match addr {
            Some(addr) => addr,
            None => {
                self.metadata(Some(&[]), false).await?;
                self.brokers
                    .lock()
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| Error::Unexpected(format!("broker {id} is not in the cluster")))?
            }
        };
        self.connection(&addr).await
    }

    /// The connection admin requests go to: the broker Metadata names as controller
    /// (Kafka requires it; Brook forwards from any broker), else any broker.
    pub async fn admin_connection(&self) -> Result<Arc<BrokerConnection>> {
        self.metadata(Some(&[]), false).await?;
        let controller = *self.controller.lock();
        match controller {
            Some(id) => self.broker(id).await,
            None => self.any_connection().await,
        }
    }

    /// The ids of the cluster's brokers, from a fresh Metadata.
    pub async fn broker_ids(&self) -> Result<Vec<i32>> {
        self.metadata(Some(&[]), false).await?;
        let mut ids: Vec<i32> = self.brokers.lock().keys().copied().collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Metadata for the named topics (`None`: all of them); remembers the brokers.
    pub(crate) async fn metadata(&self, topics: Option<&[String]>, auto_create: bool) -> Result<MetadataResponse> {
        let connection = self.any_connection().await?;
        let version = connection.version(ApiKey::Metadata, 4, 12)?;
        let request = MetadataRequest::default()
            .with_topics(topics.map(|names| {
                names
                    .iter()
                    .map(|n| {
                        MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(n.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(auto_create);
        let ResponseKind::Metadata(response) = connection
            .call(ApiKey::Metadata, version, RequestKind::Metadata(request))
            .await?
        else {
            return Err(Error::not_a("Metadata"));
        };
        *self.controller.lock() = (response.controller_id.0 >= 0).then_some(response.controller_id.0);
        let mut brokers = self.brokers.lock();
        brokers.clear();
        for b in &response.brokers {
            brokers.insert(b.node_id.0, format!("{}:{}", b.host, b.port));
        }
        Ok(response)
    }

    /// The named topics' partitions; an unknown topic is an `UNKNOWN_TOPIC_OR_PARTITION` error.
    pub async fn topics(&self, names: Option<&[String]>) -> Result<Vec<TopicInfo>> {
        self.topic_infos(names, false, false).await
    }

    /// As `topics`, leaving out the named topics that do not exist (a consumer group's
    /// subscription may name topics not created yet).
    pub async fn existing_topics(&self, names: &[String]) -> Result<Vec<TopicInfo>> {
        self.topic_infos(Some(names), false, true).await
    }

    /// As `topics`, asking the broker to create missing topics if it is configured to
    /// (`auto.create.topics.enable`), as a producer's metadata request does.
    pub async fn topics_for_producing(&self, names: &[String]) -> Result<Vec<TopicInfo>> {
        self.topic_infos(Some(names), true, false).await
    }

    async fn topic_infos(
        &self,
        names: Option<&[String]>,
        auto_create: bool,
        skip_unknown: bool,
    ) -> Result<Vec<TopicInfo>> {
        let response = self.metadata(names, auto_create).await?;
        let mut topics = Vec::with_capacity(response.topics.len());
        for topic in response.topics {
            let name = topic.name.map(|n| n.0.to_string()).unwrap_or_default();
            if skip_unknown && topic.error_code == ErrorCode::UnknownTopicOrPartition.code() {
                continue;
            }
            check(topic.error_code, || format!("topic {name}"))?;
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .into_iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.push(TopicInfo { name, partitions });
        }
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(topics)
    }
}
