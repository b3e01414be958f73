//! CreateTopics, DeleteTopics, CreatePartitions and AlterConfigs on the leader: validate,
//! place replicas, then propose one command for the whole request. Whether a name is
//! still free is decided when the command applies, in log order.

use std::collections::{BTreeMap, HashSet};

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::{BrokerNodeId, MetadataImage};
use brook_protocol::rpc::{
    AlterConfigs, Applied, ControllerResponse, CreatableTopic, CreatePartitions, CreateTopics, ElectLeaders,
    NewPartitions, ReassignPartition, RpcError, TopicResult,
};
use uuid::Uuid;

use super::ControllerService;
use crate::placement::place_partitions;
use crate::state_machine::{Command, CommandResult, ControllerState, NewTopic, PlacedPartitions, invalid_replica_list};
use brook_protocol::topic_config;
use brook_protocol::topic_name::validate_topic_name;

type Refusal = (ErrorCode, String);

fn topic_result(name: &str, refusal: Option<Refusal>) -> TopicResult {
    let (error_code, error_message) = match refusal {
        Some((code, message)) => (code.code(), Some(message)),
        None => (0, None),
    };
    TopicResult {
        name: name.to_owned(),
        topic_id: None,
        error_code,
        error_message,
    }
}

/// Explicit replica lists: not empty, one size, no repeated broker, registered brokers.
fn check_assignments(image: &MetadataImage, assignments: &[Vec<BrokerNodeId>]) -> Result<(), Refusal> {
    let refuse = |message: String| Err((ErrorCode::InvalidReplicaAssignment, message));
    let Some(first) = assignments.first() else {
        return refuse("no replica lists".into());
    };
    for replicas in assignments {
        if replicas.len() != first.len() {
            return refuse("every partition needs the same number of replicas".into());
        }
        if let Some(message) = invalid_replica_list(replicas, |b| image.brokers.contains_key(&b)) {
            return refuse(message);
        }
    }
    Ok(())
}

impl ControllerService {
    /// The cluster-wide default for `key`: a dynamic cluster config, else the node's.
    fn cluster_default<T: std::str::FromStr>(&self, state: &ControllerState, key: &str, fallback: T) -> T {
        state
            .image()
            .cluster_configs
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(fallback)
    }

    fn plan_topic(&self, state: &ControllerState, topic: &CreatableTopic) -> Result<NewTopic, Refusal> {
        validate_topic_name(&topic.name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
        if state.topic(&topic.name).is_some() {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("topic '{}' already exists", topic.name),
            ));
        }
        let mut configs = BTreeMap::new();
        for (key, value) in &topic.configs {
            topic_config::validate_topic(key, value).map_err(|m| (ErrorCode::InvalidConfig, m))?;
            configs.insert(key.clone(), value.clone());
        }
        let assignments = if topic.assignments.is_empty() {
            let partitions = match topic.num_partitions {
                -1 => self.cluster_default(state, "num.partitions", self.config.num_partitions),
                n => n,
            };
            if partitions <= 0 {
                return Err((
                    ErrorCode::InvalidPartitions,
                    format!("{partitions} partitions; at least 1 is needed"),
                ));
            }
            let replication_factor = match topic.replication_factor {
                -1 => self.cluster_default(
                    state,
                    "default.replication.factor",
                    self.config.default_replication_factor,
                ),
                n => n,
            };
            if replication_factor <= 0 {
                return Err((
                    ErrorCode::InvalidReplicationFactor,
                    format!("replication factor {replication_factor}; at least 1 is needed"),
                ));
            }
            place_partitions(state.image(), partitions as usize, replication_factor as usize)
                .map_err(|e| (ErrorCode::InvalidReplicationFactor, e.to_string()))?
        } else {
            if topic.num_partitions != -1 || topic.replication_factor != -1 {
                return Err((
                    ErrorCode::InvalidRequest,
                    "give either replica assignments or counts, not both".into(),
                ));
            }
            check_assignments(state.image(), &topic.assignments)?;
            topic.assignments.clone()
        };
        Ok(NewTopic {
            name: topic.name.clone(),
            topic_id: Uuid::new_v4(),
            assignments,
            configs,
        })
    }

    /// `results` with the metadata version applied here now: a proposal returns once
    /// applied, so this version carries it.
    fn applied<T>(&self, results: T) -> Applied<T> {
        Applied {
            results,
            metadata_version: self.shared.read(|state| state.version()),
        }
    }

    pub(super) async fn create_topics(&self, request: CreateTopics) -> Result<ControllerResponse, RpcError> {
        let mut seen = HashSet::new();
        let plan = |state: &ControllerState, topic: &CreatableTopic| {
            if !seen.insert(topic.name.clone()) {
                return Err((
                    ErrorCode::InvalidRequest,
                    format!("topic '{}' is named twice", topic.name),
                ));
            }
            self.plan_topic(state, topic)
        };
        let results = self
            .plan_and_propose(
                &request.topics,
                request.validate_only,
                |t| &t.name,
                plan,
                Command::CreateTopics,
            )
            .await?;
        Ok(ControllerResponse::CreateTopics(self.applied(results)))
    }

    /// Plans each item against one view of the state (a refusal answers that item), then
    /// proposes the planned ones as one command and merges its answers in request order.
    async fn plan_and_propose<Item, Plan>(
        &self,
        items: &[Item],
        validate_only: bool,
        name: impl Fn(&Item) -> &str,
        mut plan: impl FnMut(&ControllerState, &Item) -> Result<Plan, Refusal>,
        command: fn(Vec<Plan>) -> Command,
    ) -> Result<Vec<TopicResult>, RpcError> {
        self.raft.check_leader()?;
        let mut results = Vec::with_capacity(items.len());
        let mut planned = Vec::new();
        self.shared.read(|state| {
            for item in items {
                match plan(state, item) {
                    Ok(plan) => {
                        results.push(topic_result(name(item), None));
                        planned.push((results.len() - 1, plan));
                    }
                    Err(refusal) => results.push(topic_result(name(item), Some(refusal))),
                }
            }
        });
        if validate_only || planned.is_empty() {
            return Ok(results);
        }
        let (slots, plans): (Vec<usize>, Vec<Plan>) = planned.into_iter().unzip();
        let CommandResult::Topics(applied) = self.raft.propose(command(plans)).await? else {
            return Err(RpcError::Internal("unexpected answer to a topic command".into()));
        };
        for (slot, result) in slots.into_iter().zip(applied) {
            results[slot] = result;
        }
        Ok(results)
    }

    pub(super) async fn delete_topics(&self, names: Vec<String>) -> Result<ControllerResponse, RpcError> {
        match self.raft.propose(Command::DeleteTopics(names)).await? {
            CommandResult::Topics(results) => Ok(ControllerResponse::DeleteTopics(self.applied(results))),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    fn plan_partitions(&self, state: &ControllerState, addition: &NewPartitions) -> Result<PlacedPartitions, Refusal> {
        let topic = state.topic(&addition.name).ok_or_else(|| {
            (
                ErrorCode::UnknownTopicOrPartition,
                format!("topic '{}' does not exist", addition.name),
            )
        })?;
        let current = topic.partitions.len() as i32;
        if addition.total_count <= current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!(
                    "topic '{}' has {current} partitions; the new count must be higher, not {}",
                    addition.name, addition.total_count
                ),
            ));
        }
        let new_count = (addition.total_count - current) as usize;
        let replication_factor = topic.partitions.first().map(|p| p.replicas.len()).unwrap_or(1);
        let assignments = if addition.assignments.is_empty() {
            place_partitions(state.image(), new_count, replication_factor)
                .map_err(|e| (ErrorCode::InvalidReplicationFactor, e.to_string()))?
        } else {
            if addition.assignments.len() != new_count || addition.assignments[0].len() != replication_factor {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!("expected {new_count} replica lists of {replication_factor} brokers"),
                ));
            }
            check_assignments(state.image(), &addition.assignments)?;
            addition.assignments.clone()
        };
        Ok(PlacedPartitions {
            name: addition.name.clone(),
            expected_count: current,
            assignments,
        })
    }

    pub(super) async fn create_partitions(&self, request: CreatePartitions) -> Result<ControllerResponse, RpcError> {
        let plan = |state: &ControllerState, addition: &NewPartitions| self.plan_partitions(state, addition);
        let results = self
            .plan_and_propose(
                &request.topics,
                request.validate_only,
                |t| &t.name,
                plan,
                Command::CreatePartitions,
            )
            .await?;
        Ok(ControllerResponse::CreatePartitions(self.applied(results)))
    }

    pub(super) async fn alter_configs(&self, request: AlterConfigs) -> Result<ControllerResponse, RpcError> {
        if request.validate_only {
            self.raft.check_leader()?;
            let results = self.shared.read(|state| state.validate_alter_configs(&request));
            return Ok(ControllerResponse::AlterConfigs(self.applied(results)));
        }
        match self.raft.propose(Command::AlterConfigs(request)).await? {
            CommandResult::Configs(results) => Ok(ControllerResponse::AlterConfigs(self.applied(results))),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    pub(super) async fn alter_reassignments(
        &self,
        requests: Vec<ReassignPartition>,
    ) -> Result<ControllerResponse, RpcError> {
        match self.raft.propose(Command::Reassign(requests)).await? {
            CommandResult::PartitionResults(results) => Ok(ControllerResponse::AlterReassignments(results)),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    pub(super) fn list_reassignments(
        &self,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<ControllerResponse, RpcError> {
        self.raft.check_leader()?;
        let ongoing = self
            .shared
            .read(|state| state.ongoing_reassignments(partitions.as_deref()));
        Ok(ControllerResponse::ListReassignments(ongoing))
    }

    pub(super) async fn elect_leaders(&self, request: ElectLeaders) -> Result<ControllerResponse, RpcError> {
        match self.raft.propose(Command::ElectLeaders(request)).await? {
            CommandResult::PartitionResults(results) => Ok(ControllerResponse::ElectLeaders(self.applied(results))),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }
}
