//! Prometheus metrics of a controller node, registered once; handles are kept so no
//! request looks a metric up by name.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntGauge, Opts, Registry};

use crate::raft::RaftStatus;

/// The controller RPCs, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcKind {
    RegisterBroker,
    BrokerHeartbeat,
    WatchMetadata,
    CreateTopics,
    DeleteTopics,
    CreatePartitions,
    AlterConfigs,
    AlterPartition,
    CommitOffsets,
    FetchOffsets,
    DeleteOffsets,
    ListOffsetGroups,
    DescribeQuorum,
    Raft,
    AllocateProducerIds,
    AlterReassignments,
    ListReassignments,
    ElectLeaders,
}

const RPC_KINDS: [RpcKind; 18] = [
    RpcKind::RegisterBroker,
    RpcKind::BrokerHeartbeat,
    RpcKind::WatchMetadata,
    RpcKind::CreateTopics,
    RpcKind::DeleteTopics,
    RpcKind::CreatePartitions,
    RpcKind::AlterConfigs,
    RpcKind::AlterPartition,
    RpcKind::CommitOffsets,
    RpcKind::FetchOffsets,
    RpcKind::DeleteOffsets,
    RpcKind::ListOffsetGroups,
    RpcKind::DescribeQuorum,
    RpcKind::Raft,
    RpcKind::AllocateProducerIds,
    RpcKind::AlterReassignments,
    RpcKind::ListReassignments,
    RpcKind::ElectLeaders,
];

impl RpcKind {
    pub fn label(self) -> &'static str {
        match self {
            RpcKind::RegisterBroker => "register_broker",
            RpcKind::BrokerHeartbeat => "broker_heartbeat",
            RpcKind::WatchMetadata => "watch_metadata",
            RpcKind::CreateTopics => "create_topics",
            RpcKind::DeleteTopics => "delete_topics",
            RpcKind::CreatePartitions => "create_partitions",
            RpcKind::AlterConfigs => "alter_configs",
            RpcKind::AlterPartition => "alter_partition",
            RpcKind::CommitOffsets => "commit_offsets",
            RpcKind::FetchOffsets => "fetch_offsets",
            RpcKind::DeleteOffsets => "delete_offsets",
            RpcKind::ListOffsetGroups => "list_offset_groups",
            RpcKind::DescribeQuorum => "describe_quorum",
            RpcKind::Raft => "raft",
            RpcKind::AllocateProducerIds => "allocate_producer_ids",
            RpcKind::AlterReassignments => "alter_reassignments",
            RpcKind::ListReassignments => "list_reassignments",
            RpcKind::ElectLeaders => "elect_leaders",
        }
    }
}

pub struct ControllerMetrics {
    registry: Registry,
    term: IntGauge,
    leader_id: IntGauge,
    is_leader: IntGauge,
    last_log_index: IntGauge,
    commit_index: IntGauge,
    applied_index: IntGauge,
    snapshot_index: IntGauge,
    metadata_version: IntGauge,
    rpc_seconds: Vec<Histogram>,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::with_opts(Opts::new(name, help)).expect("valid metric");
    registry.register(Box::new(gauge.clone())).expect("registered once");
    gauge
}

impl ControllerMetrics {
    pub fn new(node_id: u64) -> Self {
        let registry = Registry::new_custom(None, Some([("node_id".to_string(), node_id.to_string())].into()))
            .expect("valid registry");
        let rpc_seconds = RPC_KINDS
            .iter()
            .map(|kind| {
                let opts = HistogramOpts::new(
                    "brook_controller_rpc_duration_seconds",
                    "Time to answer a controller RPC (a watch: until its first answer)",
                )
                .const_label("rpc", kind.label())
                .buckets(prometheus::exponential_buckets(0.000_05, 2.0, 18).expect("valid buckets"));
                let histogram = Histogram::with_opts(opts).expect("valid metric");
                registry.register(Box::new(histogram.clone())).expect("registered once");
                histogram
            })
            .collect();
        ControllerMetrics {
            term: gauge(&registry, "brook_controller_raft_term", "Current Raft term"),
            leader_id: gauge(
                &registry,
                "brook_controller_raft_leader_id",
                "Leader's node id, -1 if none known",
            ),
            is_leader: gauge(&registry, "brook_controller_raft_is_leader", "1 on the leader"),
            last_log_index: gauge(&registry, "brook_controller_raft_last_log_index", "Last Raft log index"),
            commit_index: gauge(
                &registry,
                "brook_controller_raft_commit_index",
                "Last committed Raft log index",
            ),
            applied_index: gauge(
                &registry,
                "brook_controller_raft_applied_index",
                "Last applied Raft log index",
            ),
            snapshot_index: gauge(
                &registry,
                "brook_controller_raft_snapshot_index",
                "Last index in the snapshot",
            ),
            metadata_version: gauge(
                &registry,
                "brook_controller_metadata_version",
                "Metadata records applied",
            ),
            rpc_seconds,
            registry,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn observe_rpc(&self, kind: RpcKind, elapsed: Duration) {
        let index = RPC_KINDS.iter().position(|k| *k == kind).expect("every kind is listed");
        self.rpc_seconds[index].observe(elapsed.as_secs_f64());
    }

    pub fn record_status(&self, status: &RaftStatus, metadata_version: u64) {
        self.term.set(status.term as i64);
        self.leader_id.set(status.leader.map(|id| id as i64).unwrap_or(-1));
        self.is_leader.set(i64::from(status.is_leader));
        self.last_log_index.set(status.last_log_index as i64);
        self.commit_index.set(status.commit_index as i64);
        self.applied_index.set(status.applied_index as i64);
        self.snapshot_index.set(status.snapshot_index as i64);
        self.metadata_version.set(metadata_version as i64);
    }
}
