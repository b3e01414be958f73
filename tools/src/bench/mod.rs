//! `brook bench`: load generators that report rates and latency percentiles. They speak
//! only the Kafka protocol (through `brook-client`), so the same command measures any
//! Kafka-compatible broker.

mod broker_time;
mod consume;
mod e2e;
mod load;
mod offset_commit;
mod produce;
mod progress;
mod report;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::connect::Connect;
use load::{OmbWorkload, Shape};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Producers sending fixed-size messages: throughput and send-to-ack latency.
    Produce(produce::ProduceBenchArgs),
    /// Consumers reading a topic from its beginning: throughput.
    Consume(consume::ConsumeBenchArgs),
    /// Producers and consumers together: send-to-receipt latency from stamped messages.
    E2e(e2e::E2eArgs),
    /// Offset commits through group coordinators: many consumers, each committing in a loop.
    OffsetCommit(offset_commit::OffsetCommitArgs),
}

/// How long a workload runs: a number of operations, or else a duration.
#[derive(Debug, Clone, Args)]
pub struct RunLength {
    /// Stop after this many operations in all (instead of --duration).
    #[arg(long)]
    count: Option<u64>,
    /// Run for this many seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
}

/// Hands out operations to the tasks of a run until its count or time is used up.
pub struct Budget {
    count: Option<u64>,
    deadline: Instant,
    claimed: AtomicU64,
    /// Ctrl-C or SIGTERM ended the run early.
    interrupted: std::sync::atomic::AtomicBool,
}

impl Budget {
    pub fn new(length: &RunLength) -> Self {
        Budget {
            count: length.count,
            deadline: Instant::now() + Duration::from_secs_f64(length.duration.max(0.0)),
            claimed: AtomicU64::new(0),
            interrupted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Ends the run at the first Ctrl-C or SIGTERM, so that it still cleans up after
    /// itself and reports; abort the task once the run is over.
    pub fn end_on_interrupt(self: &std::sync::Arc<Self>) -> tokio::task::JoinHandle<()> {
        let budget = std::sync::Arc::clone(self);
        tokio::spawn(async move {
            crate::signals::interrupted().await;
            budget.interrupted.store(true, Ordering::Relaxed);
        })
    }

    /// Whether one more operation may start.
    pub fn claim(&self) -> bool {
        self.claim_many(1) == 1
    }

    /// How many of `wanted` more operations may start (one look at the clock for all
    /// of them: a batch of a thousand records need not read it a thousand times).
    pub fn claim_many(&self, wanted: u64) -> u64 {
        if self.interrupted.load(Ordering::Relaxed) {
            return 0;
        }
        match self.count {
            Some(count) => {
                let before = self.claimed.fetch_add(wanted, Ordering::Relaxed);
                count.saturating_sub(before).min(wanted)
            }
            None if Instant::now() < self.deadline => wanted,
            None => 0,
        }
    }
}

#[derive(Debug, Args)]
pub struct Output {
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also report where the brokers' request time went (request queue, local, remote,
    /// response queue, send): scrape these metrics endpoints (host:port, comma
    /// separated, each broker's `metrics.addr`) before and after the run.
    #[arg(long, value_delimiter = ',')]
    broker_metrics: Vec<String>,
}

pub async fn run(connect: &Connect, command: BenchCommand) -> Result<()> {
    let output = match &command {
        BenchCommand::Produce(args) => &args.output,
        BenchCommand::Consume(args) => &args.output,
        BenchCommand::E2e(args) => &args.output,
        BenchCommand::OffsetCommit(args) => &args.output,
    };
    let (json, brokers) = (output.json, output.broker_metrics.clone());
    let before = match brokers.is_empty() {
        true => None,
        false => Some(broker_time::PhaseHistograms::scrape(&brokers).await?),
    };
    let report = match command {
        BenchCommand::Produce(args) => produce::run(connect, args).await?,
        BenchCommand::Consume(args) => consume::run(connect, args).await?,
        BenchCommand::E2e(args) => e2e::run(connect, args).await?,
        BenchCommand::OffsetCommit(args) => offset_commit::run(connect, args).await?,
    };
    let broker_time = match before {
        Some(before) => Some(broker_time::PhaseHistograms::scrape(&brokers).await?.since(&before)),
        None => None,
    };
    if json {
        let mut report = report.json();
        if let Some(broker_time) = &broker_time {
            report["broker_time"] = broker_time.json();
        }
        println!("{report}");
    } else {
        println!("{}", report.text());
        if let Some(broker_time) = &broker_time {
            println!("{}", broker_time.text());
        }
    }
    Ok(())
}

/// The settings of a run that sends, for its report: the producers' settings are the
/// flags' with any -X over them.
fn send_notes(
    connect: &Connect,
    topic: &str,
    partitions: i32,
    shape: &Shape,
    send: &load::SendArgs,
    workload: Option<OmbWorkload>,
) -> Result<Vec<(&'static str, serde_json::Value)>> {
    let config = connect.producer_config(send.producer.config())?;
    let acks = match config.acks {
        brook_client::Acks::None => "0",
        brook_client::Acks::Leader => "1",
        brook_client::Acks::All => "all",
    };
    let mut notes = vec![
        ("topic", topic.into()),
        ("partitions", partitions.into()),
        ("message_size", shape.message_size.into()),
        ("producers", shape.producers.into()),
        (
            "target_rate",
            shape.rate.map_or_else(|| "max".into(), |r| serde_json::json!(r)),
        ),
        ("acks", acks.into()),
        ("compression", config.compression.name().into()),
        ("batch_size", config.batch_size.into()),
        ("linger_ms", (config.linger.as_millis() as u64).into()),
        ("max_in_flight", config.max_in_flight.into()),
    ];
    if let Some(count) = send.batch_messages {
        notes.push(("batch_messages", count.into()));
    }
    if let Some(workload) = workload {
        notes.push(("omb_workload", workload.name().into()));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_budget_hands_out_exactly_its_count() {
        let budget = Budget::new(&RunLength {
            count: Some(3),
            duration: 0.0,
        });
        let granted = (0..10).filter(|_| budget.claim()).count();
        assert_eq!(granted, 3);
    }

    #[test]
    fn a_counted_budget_grants_part_of_a_claim_at_its_end_and_then_none() {
        let budget = Budget::new(&RunLength {
            count: Some(2500),
            duration: 0.0,
        });
        let grants: Vec<u64> = (0..4).map(|_| budget.claim_many(1000)).collect();
        assert_eq!(grants, [1000, 1000, 500, 0]);
    }

    #[test]
    fn a_timed_budget_ends_at_its_deadline() {
        let budget = Budget::new(&RunLength {
            count: None,
            duration: 0.0,
        });
        assert!(!budget.claim());
    }
}
