//! `brook cluster status`: the brokers, the controller quorum, and the partitions that
//! are not fully replicated, in the manner of `rpk cluster health` and
//! `kafka-metadata-quorum describe --status`.

use anyhow::{Context, Result};
use brook_client::{QuorumStatus, TopicInfo};
use clap::Subcommand;

use crate::connect::Connect;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Brokers, controller quorum (leader, epoch, each voter's lag), and under-replicated
    /// and offline partitions.
    Status,
}

pub async fn run(command: ClusterCommand, connect: &Connect) -> Result<()> {
    match command {
        ClusterCommand::Status => status(connect).await,
    }
}

async fn status(connect: &Connect) -> Result<()> {
    let client = connect.client();
    let cluster = client.describe_cluster().await.context("cannot describe the cluster")?;
    println!("cluster {}", cluster.cluster_id.as_deref().unwrap_or("(no id)"));
    println!();
    println!("{:<6} {:<28} RACK", "BROKER", "ADDRESS");
    for b in &cluster.brokers {
        let mark = if Some(b.id) == cluster.controller {
            " (admin)"
        } else {
            ""
        };
        println!(
            "{:<6} {:<28} {}{mark}",
            b.id,
            format!("{}:{}", b.host, b.port),
            b.rack.as_deref().unwrap_or("-")
        );
    }
    println!();
    match client.describe_quorum().await {
        Ok(quorum) => print!("{}", quorum_text(&quorum)),
        // A broker of another Kafka-compatible system may not serve DescribeQuorum.
        Err(e) => println!("controller quorum: unknown ({e})"),
    }
    println!();
    let topics = client.topics(None).await.context("cannot list the topics")?;
    print!("{}", partition_health(&topics));
    Ok(())
}

fn quorum_text(quorum: &QuorumStatus) -> String {
    let leader = if quorum.leader >= 0 {
        quorum.leader.to_string()
    } else {
        "none".to_owned()
    };
    let mut text = format!(
        "controller quorum: leader {leader}, epoch {}, committed offset {}\n{:<6} {:<10} LAG\n",
        quorum.epoch, quorum.high_watermark, "VOTER", "LOG END"
    );
    for v in &quorum.voters {
        let (end, lag) = if v.log_end_offset >= 0 {
            (
                v.log_end_offset.to_string(),
                (quorum.high_watermark - v.log_end_offset).max(0).to_string(),
            )
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        text += &format!("{:<6} {end:<10} {lag}\n", v.id);
    }
    text
}

/// The partition count and every partition that lacks a leader or an in-sync replica.
fn partition_health(topics: &[TopicInfo]) -> String {
    let total: usize = topics.iter().map(|t| t.partitions.len()).sum();
    let mut offline = Vec::new();
    let mut under = Vec::new();
    for topic in topics {
        for p in &topic.partitions {
            let name = format!("{}-{}", topic.name, p.partition);
            if p.leader < 0 {
                offline.push(name);
            } else if p.isr.len() < p.replicas.len() {
                let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
                under.push(format!("{name} (in sync {} of {})", list(&p.isr), list(&p.replicas)));
            }
        }
    }
    let mut text = format!(
        "partitions: {total} in {} topics, {} under-replicated, {} offline\n",
        topics.len(),
        under.len(),
        offline.len()
    );
    for name in &offline {
        text += &format!("  offline: {name}\n");
    }
    for line in &under {
        text += &format!("  under-replicated: {line}\n");
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
        let text = partition_health(&topics);
        assert!(
            text.starts_with("partitions: 3 in 1 topics, 1 under-replicated, 1 offline\n"),
            "{text}"
        );
        assert!(text.contains("offline: orders-2\n"));
        assert!(text.contains("under-replicated: orders-1 (in sync 2 of 1,2,3)\n"));
    }

    #[test]
    fn quorum_lag_is_measured_from_the_committed_offset() {
        let text = quorum_text(&QuorumStatus {
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
        });
        assert!(text.starts_with("controller quorum: leader 2, epoch 7, committed offset 100\n"));
        assert!(text.contains("\n1      98         2\n"), "{text}");
        assert!(text.contains("\n3      -          -\n"), "{text}");
    }
}
