//! `brook cluster status`: the brokers, the controller quorum, and the partitions that
//! are not fully replicated, in the manner of `rpk cluster health` and
//! `kafka-metadata-quorum describe --status`.

use anyhow::{Context, Result};
use brook_client::{QuorumStatus, TopicInfo};
use clap::Subcommand;
use serde::Serialize;

use crate::connect::Connect;
use crate::output::{self, Format};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Brokers, controller quorum (leader, epoch, each voter's lag), and under-replicated
    /// and offline partitions.
    Status,
}

/// `cluster status`.
#[derive(Serialize)]
struct StatusView {
    cluster_id: Option<String>,
    /// The broker admin requests go to.
    admin_broker: Option<i32>,
    brokers: Vec<BrokerView>,
    /// `null` when the cluster does not answer DescribeQuorum.
    quorum: Option<QuorumView>,
    partitions: HealthView,
}

#[derive(Serialize)]
struct BrokerView {
    id: i32,
    host: String,
    port: i32,
    rack: Option<String>,
}

#[derive(Serialize)]
struct QuorumView {
    /// -1: none.
    leader: i32,
    epoch: i32,
    committed_offset: i64,
    voters: Vec<VoterView>,
}

#[derive(Serialize)]
struct VoterView {
    id: i32,
    /// `null`: unknown.
    log_end_offset: Option<i64>,
    lag: Option<i64>,
}

#[derive(Serialize)]
struct HealthView {
    total: usize,
    topics: usize,
    /// `topic-partition`.
    offline: Vec<String>,
    under_replicated: Vec<UnderReplicated>,
}

#[derive(Serialize)]
struct UnderReplicated {
    partition: String,
    isr: Vec<i32>,
    replicas: Vec<i32>,
}

pub async fn run(command: ClusterCommand, connect: &Connect, format: Format) -> Result<()> {
    match command {
        ClusterCommand::Status => status(connect, format).await,
    }
}

async fn status(connect: &Connect, format: Format) -> Result<()> {
    let client = connect.client();
    let cluster = client.describe_cluster().await.context("cannot describe the cluster")?;
    // A broker of another Kafka-compatible system may not serve DescribeQuorum.
    let quorum = client.describe_quorum().await;
    let topics = client.topics(None).await.context("cannot list the topics")?;
    let view = StatusView {
        cluster_id: cluster.cluster_id,
        admin_broker: cluster.controller,
        brokers: cluster
            .brokers
            .into_iter()
            .map(|b| BrokerView {
                id: b.id,
                host: b.host,
                port: b.port,
                rack: b.rack,
            })
            .collect(),
        quorum: quorum.as_ref().ok().map(quorum_view),
        partitions: health(&topics),
    };
    output::print(format, &view, |view| {
        let mut text = format!("cluster {}\n\n", view.cluster_id.as_deref().unwrap_or("(no id)"));
        text += &format!("{:<6} {:<28} RACK\n", "BROKER", "ADDRESS");
        for b in &view.brokers {
            let mark = if Some(b.id) == view.admin_broker {
                " (admin)"
            } else {
                ""
            };
            text += &format!(
                "{:<6} {:<28} {}{mark}\n",
                b.id,
                format!("{}:{}", b.host, b.port),
                b.rack.as_deref().unwrap_or("-")
            );
        }
        text += "\n";
        match (&view.quorum, &quorum) {
            (Some(q), _) => text += &quorum_text(q),
            (None, Err(e)) => text += &format!("controller quorum: unknown ({e})\n"),
            (None, Ok(_)) => {}
        }
        text += "\n";
        text + &health_text(&view.partitions)
    })
}

fn quorum_view(quorum: &QuorumStatus) -> QuorumView {
    QuorumView {
        leader: quorum.leader,
        epoch: quorum.epoch,
        committed_offset: quorum.high_watermark,
        voters: quorum
            .voters
            .iter()
            .map(|v| {
                let known = v.log_end_offset >= 0;
                VoterView {
                    id: v.id,
                    log_end_offset: known.then_some(v.log_end_offset),
                    lag: known.then(|| (quorum.high_watermark - v.log_end_offset).max(0)),
                }
            })
            .collect(),
    }
}

fn quorum_text(quorum: &QuorumView) -> String {
    let leader = if quorum.leader >= 0 {
        quorum.leader.to_string()
    } else {
        "none".to_owned()
    };
    let mut text = format!(
        "controller quorum: leader {leader}, epoch {}, committed offset {}\n{:<6} {:<10} LAG\n",
        quorum.epoch, quorum.committed_offset, "VOTER", "LOG END"
    );
    for v in &quorum.voters {
        let or_dash = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        text += &format!("{:<6} {:<10} {}\n", v.id, or_dash(v.log_end_offset), or_dash(v.lag));
    }
    text
}

/// The partition count and every partition that lacks a leader or an in-sync replica.
fn health(topics: &[TopicInfo]) -> HealthView {
    let mut offline = Vec::new();
    let mut under_replicated = Vec::new();
    for topic in topics {
        for p in &topic.partitions {
            let name = format!("{}-{}", topic.name, p.partition);
            if p.leader < 0 {
                offline.push(name);
            } else if p.isr.len() < p.replicas.len() {
                under_replicated.push(UnderReplicated {
                    partition: name,
                    isr: p.isr.clone(),
                    replicas: p.replicas.clone(),
                });
            }
        }
    }
    HealthView {
        total: topics.iter().map(|t| t.partitions.len()).sum(),
        topics: topics.len(),
        offline,
        under_replicated,
    }
}

fn health_text(health: &HealthView) -> String {
    let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let mut text = format!(
        "partitions: {} in {} topics, {} under-replicated, {} offline\n",
        health.total,
        health.topics,
        health.under_replicated.len(),
        health.offline.len()
    );
    for name in &health.offline {
        text += &format!("  offline: {name}\n");
    }
    for u in &health.under_replicated {
        text += &format!(
            "  under-replicated: {} (in sync {} of {})\n",
            u.partition,
            list(&u.isr),
            list(&u.replicas)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use brook_client::{PartitionInfo, Voter};

    #[test]
    fn health_names_offline_and_under_replicated_partitions() {
        let partition = |partition, leader, isr: &[i32]| PartitionInfo {
            partition,
            leader,
            replicas: vec![1, 2, 3],
            isr: isr.to_vec(),
        };
        let topics = [TopicInfo {
            name: "orders".into(),
            partitions: vec![
                partition(0, 1, &[1, 2, 3]),
                partition(1, 2, &[2]),
                partition(2, -1, &[]),
            ],
        }];
        let text = health_text(&health(&topics));
        assert!(
            text.starts_with("partitions: 3 in 1 topics, 1 under-replicated, 1 offline\n"),
            "{text}"
        );
        assert!(text.contains("offline: orders-2\n"));
        assert!(text.contains("under-replicated: orders-1 (in sync 2 of 1,2,3)\n"));
    }

    #[test]
    fn quorum_lag_is_measured_from_the_committed_offset() {
        let text = quorum_text(&quorum_view(&QuorumStatus {
            leader: 2,
            epoch: 7,
            high_watermark: 100,
            voters: vec![
                Voter {
                    id: 1,
                    log_end_offset: 98,
                },
                Voter {
                    id: 3,
                    log_end_offset: -1,
                },
            ],
        }));
        assert!(text.starts_with("controller quorum: leader 2, epoch 7, committed offset 100\n"));
        assert!(text.contains("\n1      98         2\n"), "{text}");
        assert!(text.contains("\n3      -          -\n"), "{text}");
    }
}
