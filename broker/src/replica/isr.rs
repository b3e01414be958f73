//! The leader's side of the ISR (docs/architecture.md): followers that have not caught up within
//! `replica.lag.time.max.ms` leave it, live followers that have caught up join it, each
//! change proposed to the controller with AlterPartition (checked there against the
//! leader and partition epochs) and in effect once the metadata brings it back.

use std::sync::Arc;
use std::time::Duration;

use brook_controller_client::{ControllerClient, MetadataCache};
use brook_protocol::rpc::metadata::BrokerNodeId;
use brook_protocol::rpc::{AlterPartition, IsrChange};

use super::{Partition, ReplicaManager};

pub async fn maintain_isr(
    broker_id: BrokerNodeId,
    replicas: Arc<ReplicaManager>,
    controller: Arc<ControllerClient>,
    metadata: MetadataCache,
    lag_max: Duration,
) {
    // Often enough that a caught-up follower rejoins quickly; Kafka checks shrinks every
    // half lag time.
    let mut tick = tokio::time::interval((lag_max / 2).clamp(Duration::from_millis(100), Duration::from_secs(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let image = metadata.image();
        let Some(broker_epoch) = image.brokers.get(&broker_id).map(|b| b.broker_epoch) else {
            continue;
        };
        let live = |b: BrokerNodeId| image.brokers.get(&b).is_some_and(|r| !r.fenced);
        let now = crate::log::now_ms();
        let mut changes = Vec::new();
        let mut proposed: Vec<Arc<Partition>> = Vec::new();
        for partition in replicas.partitions() {
            let Some(isr) = partition.wanted_isr(now, lag_max.as_millis() as i64, live) else {
                continue;
            };
            let role = partition.role();
            tracing::info!(topic = %partition.tp.topic, partition = partition.tp.partition,
                from = ?role.isr, to = ?isr, "proposing an ISR change");
            changes.push(IsrChange {
                topic_id: partition.topic_id,
                partition: partition.tp.partition,
                leader_epoch: role.leader_epoch,
                partition_epoch: role.partition_epoch,
                new_isr: isr.clone(),
            });
            partition.set_pending_isr(Some(isr));
            proposed.push(partition);
        }
        if changes.is_empty() {
            continue;
        }
        let request = AlterPartition {
            broker_id,
            broker_epoch,
            changes,
        };
        match controller.alter_partition(request).await {
            Ok(results) => {
                for result in results.iter().filter(|r| r.error_code != 0) {
                    tracing::info!(
                        partition = result.partition,
                        error = result.error_code,
                        "ISR change refused"
                    );
                    let refused = proposed
                        .iter()
                        .find(|p| p.topic_id == result.topic_id && p.tp.partition == result.partition);
                    if let Some(partition) = refused {
                        partition.set_pending_isr(None);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot send an ISR change to the controller");
                for partition in &proposed {
                    partition.set_pending_isr(None);
                }
            }
        }
    }
}
