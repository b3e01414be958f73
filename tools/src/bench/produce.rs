//! `brook bench produce`: producers send fixed-size messages as fast as they go or at a
//! rate; the report gives acknowledged messages/s, MB/s, and the send-to-acknowledgement
//! latency distribution.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::load::{OmbWorkload, ProduceLoop, SendArgs, Sent, TopicArgs, payload, prepare_topic, producers, shape};
use super::progress::Progress;
use super::report::{Latencies, Report};
use super::{Budget, Output, RunLength};
use crate::connect::Connect;

#[derive(Debug, Args)]
pub struct ProduceBenchArgs {
    #[command(flatten)]
    topic: TopicArgs,
    #[command(flatten)]
    send: SendArgs,
    /// Mirror an OpenMessaging Benchmark workload; flags given explicitly win.
    #[arg(long, value_enum)]
    workload: Option<OmbWorkload>,
    #[command(flatten)]
    length: RunLength,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(connect: &Connect, args: ProduceBenchArgs) -> Result<Report> {
    let shape = shape(args.workload, &args.topic, Some(&args.send), None)?;
    let client = connect.client();
    let partitions = prepare_topic(&client, &args.topic, shape.partitions).await?;
    let budget = Arc::new(Budget::new(&args.length));
    let progress = Progress::start("messages");
    let started = Instant::now();
    let tasks: Vec<_> = producers(connect, &args.send, shape.producers)
        .into_iter()
        .map(|producer| {
            tokio::spawn(
                ProduceLoop {
                    producer,
                    topic: args.topic.topic.clone(),
                    payload: payload(shape.message_size),
                    budget: Arc::clone(&budget),
                    rate: shape.rate.map(|r| r / shape.producers as f64),
                    stamp: false,
                    acked: progress.counter(),
                }
                .run(),
            )
        })
        .collect();
    let mut sent = Sent::default();
    for task in tasks {
        sent.merge(task.await.context("a producer panicked")?);
    }
    let elapsed = started.elapsed();
    progress.finish();
    if sent.acknowledged == 0 {
        match sent.first_error {
            Some(e) => return Err(e).context("no message was acknowledged"),
            None => bail!("no message was sent (the run was too short)"),
        }
    }
    let mut notes = super::send_notes(&args.topic.topic, partitions, &shape, &args.send, args.workload);
    if let Some(e) = &sent.first_error {
        notes.push(("first_error", e.to_string().into()));
    }
    Ok(Report {
        workload: "produce",
        operation: "messages",
        elapsed,
        operations: sent.acknowledged,
        errors: sent.errors,
        items: None,
        bytes: sent.acknowledged * shape.message_size as u64,
        latencies: sent.latencies.unwrap_or_else(Latencies::new),
        latency_of: "send to acknowledgement",
        notes,
    })
}
