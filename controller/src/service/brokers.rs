//! Broker registration, heartbeats and leases (docs/architecture.md).
//!
//! Leases live in the leader's memory only, like a ZooKeeper session: a new leader gives
//! every unfenced broker a fresh `broker.session.timeout.ms` before fencing anyone. Only
//! the decisions (fence, unfence) go through the Raft log.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::BrokerNodeId;
use brook_protocol::rpc::{BrokerHeartbeat, ControllerResponse, RegisterBroker, RpcError};
use parking_lot::Mutex;

use super::ControllerService;
use crate::state_machine::{Command, CommandResult};

#[derive(Debug, Clone, Copy)]
struct Lease {
    broker_epoch: i64,
    expires: Instant,
}

/// Heartbeat deadlines of the brokers, on the leader.
#[derive(Default)]
pub struct Leases {
    leases: Mutex<HashMap<BrokerNodeId, Lease>>,
}

impl Leases {
    pub fn renew(&self, broker_id: BrokerNodeId, broker_epoch: i64, timeout: Duration) {
        self.leases.lock().insert(
            broker_id,
            Lease {
                broker_epoch,
                expires: Instant::now() + timeout,
            },
        );
    }

    /// Whether the lease of this registration is still running. A registration without a
    /// lease (a new leader has not seen it heart-beat yet) counts as live.
    pub fn is_live(&self, broker_id: BrokerNodeId, broker_epoch: i64) -> bool {
        match self.leases.lock().get(&broker_id) {
            Some(lease) if lease.broker_epoch == broker_epoch => lease.expires > Instant::now(),
            _ => true,
        }
    }

    pub fn clear(&self) {
        self.leases.lock().clear();
    }

    /// The unfenced brokers (id, epoch) whose lease has run out. One without a lease
    /// (registered under another leader) gets a full one now.
    pub fn expired(&self, unfenced: &[(BrokerNodeId, i64)], timeout: Duration) -> Vec<(BrokerNodeId, i64)> {
        let now = Instant::now();
        let mut leases = self.leases.lock();
        unfenced
            .iter()
            .filter(|(id, epoch)| {
                let lease = leases.entry(*id).or_insert(Lease {
                    broker_epoch: *epoch,
                    expires: now + timeout,
                });
                if lease.broker_epoch != *epoch {
                    *lease = Lease {
                        broker_epoch: *epoch,
                        expires: now + timeout,
                    };
                }
                lease.expires <= now
            })
            .copied()
            .collect()
    }
}

fn kafka(code: ErrorCode, message: impl Into<String>) -> RpcError {
    RpcError::Kafka {
        code: code.code(),
        message: message.into(),
    }
}

impl ControllerService {
    pub(super) async fn register_broker(&self, request: RegisterBroker) -> Result<ControllerResponse, RpcError> {
        if request.broker_id < 0 {
            return Err(kafka(ErrorCode::InvalidRequest, "broker ids are not negative"));
        }
        let broker_id = request.broker_id;
        let live_other = self.shared.read(|s| {
            s.image()
                .brokers
                .get(&broker_id)
                .filter(|b| !b.fenced && b.incarnation_id != request.incarnation_id)
                .map(|b| (b.broker_epoch, b.log_dirs.clone()))
        });
        // A broker never sees a cluster without an id (DescribeCluster's is not nullable).
        self.ensure_cluster_id().await?;
        if let Some((epoch, log_dirs)) = live_other
            && self.leases.is_live(broker_id, epoch)
        {
            // The same log directories: their lock is held by the newcomer, so the
            // registered process is gone (a crash and restart); it takes over at once.
            let successor = !request.log_dirs.is_empty() && log_dirs == request.log_dirs;
            if successor {
                tracing::info!(
                    broker_id,
                    broker_epoch = epoch,
                    "broker restarted on its log directories; replacing its previous registration"
                );
            } else {
                // Two processes with one id would fence each other in turn; like Kafka,
                // the newcomer waits until the old session has expired.
                return Err(kafka(
                    ErrorCode::DuplicateBrokerRegistration,
                    format!(
                        "broker {broker_id} is registered by another live process; retry after its session expires"
                    ),
                ));
            }
        }
        match self.raft.propose(Command::RegisterBroker(request)).await? {
            CommandResult::BrokerRegistered { broker_epoch } => {
                self.leases
                    .renew(broker_id, broker_epoch, self.config.broker_session_timeout);
                tracing::info!(broker_id, broker_epoch, "broker registered");
                Ok(ControllerResponse::RegisterBroker {
                    broker_epoch,
                    session_timeout_ms: self.config.broker_session_timeout.as_millis() as u64,
                })
            }
            CommandResult::Refused(error) => Err(error),
            other => Err(RpcError::Internal(format!("unexpected result {other:?}"))),
        }
    }

    pub(super) async fn broker_heartbeat(&self, request: BrokerHeartbeat) -> Result<ControllerResponse, RpcError> {
        // Only a leader a quorum still follows may renew a lease: one cut off from the
        // other controllers answers NOT_CONTROLLER, and the broker tries another.
        self.raft.confirm_leader(self.config.election_timeout).await?;
        let registration = self.shared.read(|s| s.image().brokers.get(&request.broker_id).cloned());
        let Some(registration) = registration else {
            return Err(kafka(
                ErrorCode::BrokerIdNotRegistered,
                format!("broker {} is not registered", request.broker_id),
            ));
        };
        if registration.broker_epoch != request.broker_epoch {
            return Err(kafka(
                ErrorCode::StaleBrokerEpoch,
                format!(
                    "broker epoch {} is not the registered {}",
                    request.broker_epoch, registration.broker_epoch
                ),
            ));
        }
        self.leases.renew(
            request.broker_id,
            request.broker_epoch,
            self.config.broker_session_timeout,
        );
        let fence_change = |fence: bool| {
            let (broker_id, broker_epoch) = (request.broker_id, request.broker_epoch);
            if fence {
                Command::FenceBroker {
                    broker_id,
                    broker_epoch,
                }
            } else {
                Command::UnfenceBroker {
                    broker_id,
                    broker_epoch,
                }
            }
        };
        let caught_up = request.metadata_version >= registration.broker_epoch as u64;
        if request.want_shut_down && !registration.fenced {
            self.raft.propose(fence_change(true)).await?;
        } else if !request.want_shut_down && registration.fenced && caught_up {
            self.raft.propose(fence_change(false)).await?;
        }
        let fenced = self.shared.read(|s| {
            s.image()
                .brokers
                .get(&request.broker_id)
                .is_none_or(|b| b.fenced || b.broker_epoch != request.broker_epoch)
        });
        Ok(ControllerResponse::BrokerHeartbeat {
            metadata_version: self.shared.read(|s| s.version()),
            fenced,
            should_shut_down: request.want_shut_down && fenced,
        })
    }

    /// Gives a fresh quorum its cluster id (once: applying ignores a second one).
    async fn ensure_cluster_id(&self) -> Result<(), RpcError> {
        if self.shared.read(|s| s.image().cluster_id.is_some()) {
            return Ok(());
        }
        let cluster_id = brook_protocol::kafka_uuid::random();
        self.raft.propose(Command::InitCluster { cluster_id }).await?;
        if self.shared.read(|s| s.image().cluster_id == Some(cluster_id)) {
            tracing::info!(
                cluster_id = brook_protocol::kafka_uuid::to_kafka_string(&cluster_id),
                "new cluster"
            );
        }
        Ok(())
    }

    /// One round of the leader's duties: set the cluster id of a fresh quorum, and fence
    /// the brokers whose lease ran out.
    pub(super) async fn leader_duties(&self, fresh_term: bool) {
        if fresh_term {
            self.leases.clear();
            if let Err(e) = self.ensure_cluster_id().await {
                tracing::debug!(error = %e, "could not set the cluster id");
            }
        }
        let unfenced: Vec<(BrokerNodeId, i64)> = self.shared.read(|s| {
            s.image()
                .brokers
                .values()
                .filter(|b| !b.fenced)
                .map(|b| (b.broker_id, b.broker_epoch))
                .collect()
        });
        let expired = self.leases.expired(&unfenced, self.config.broker_session_timeout);
        // A leader cut off from the other voters hears no heartbeats either: it must not
        // even try to fence brokers that are heart-beating to the real leader.
        if !expired.is_empty() && self.raft.confirm_leader(self.config.election_timeout).await.is_err() {
            return;
        }
        for (broker_id, broker_epoch) in expired {
            tracing::warn!(broker_id, broker_epoch, "broker session expired; fencing it");
            let fence = Command::FenceBroker {
                broker_id,
                broker_epoch,
            };
            if let Err(e) = self.raft.propose(fence).await {
                tracing::debug!(error = %e, "could not fence");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_running_lease_of_the_same_registration_is_live() {
        let leases = Leases::default();
        assert!(
            leases.is_live(1, 5),
            "unknown: assume live until it has had a chance to heartbeat"
        );
        leases.renew(1, 5, Duration::from_secs(60));
        assert!(leases.is_live(1, 5));
        leases.renew(1, 5, Duration::ZERO);
        assert!(!leases.is_live(1, 5));
    }

    #[test]
    fn a_lease_runs_out_unless_renewed_and_a_new_epoch_starts_fresh() {
        let leases = Leases::default();
        let short = Duration::from_millis(0);
        let long = Duration::from_secs(60);
        assert!(leases.expired(&[(1, 5)], long).is_empty(), "first sight grants a lease");
        leases.renew(1, 5, short);
        assert_eq!(leases.expired(&[(1, 5)], long), vec![(1, 5)]);
        assert!(
            leases.expired(&[(1, 6)], long).is_empty(),
            "a new registration gets its own lease"
        );
        leases.renew(1, 6, long);
        assert!(leases.expired(&[(1, 6)], long).is_empty());
    }
}
