//! `brook bench produce`: producers send fixed-size messages as fast as they go or at a
//! rate; the report gives acknowledged messages/s, MB/s, and the send-to-acknowledgement
//! latency distribution.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;

use super::load::{OmbWorkload, SendArgs, TopicArgs, prepare_topic, run_producers, shape};
use super::progress::Progress;
use super::report::{Latencies, Report};
use super::{Output, RunLength};
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
    let progress = Progress::start("messages");
    let started = Instant::now();
    let sent = run_producers(
        connect,
        &args.send,
        &shape,
        &args.topic.topic,
        &args.length,
        false,
        progress.counter(),
    )
    .await?;
    let elapsed = started.elapsed();
    progress.finish();
    if sent.acknowledged == 0 {
        match sent.first_error {
            Some(e) => return Err(e).context("no message was acknowledged"),
            None => bail!("no message was sent (the run was too short)"),
        }
    }
    let mut notes = super::send_notes(
        connect,
        &args.topic.topic,
        partitions,
        &shape,
        &args.send,
        args.workload,
    )?;
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
        latency_of: match args.send.batch_messages {
            Some(_) => "per batch, first send to last acknowledgement",
            None => "send to acknowledgement",
        },
        notes,
    })
}
