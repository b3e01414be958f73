//! `brook bench e2e`: producers stamp each message with its send time (microseconds
//! since the epoch, in its first 8 bytes) and consumers, positioned at the end before
//! the first send, measure now minus the stamp. Producer and consumers run in this one
//! process, so they share a clock. After the producers stop, the consumers read on
//! until they have every acknowledged message (or 30 s have passed).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brook_client::OffsetSpec;
use clap::Args;
use serde_json::json;

use super::load::{
    OmbWorkload, Received, SendArgs, TopicArgs, consume_loop, consumers, prepare_topic, run_producers, shape,
};
use super::progress::Progress;
use super::report::Report;
use super::{Output, RunLength};
use crate::connect::Connect;

/// How long consumers may take to catch up once the producers are done.
const CATCH_UP: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub struct E2eArgs {
    #[command(flatten)]
    topic: TopicArgs,
    #[command(flatten)]
    send: SendArgs,
    /// Concurrent consumers, each with its own connections [default: 1].
    #[arg(long)]
    consumers: Option<usize>,
    /// Mirror an OpenMessaging Benchmark workload; flags given explicitly win.
    #[arg(long, value_enum)]
    workload: Option<OmbWorkload>,
    #[command(flatten)]
    length: RunLength,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(connect: &Connect, args: E2eArgs) -> Result<Report> {
    let shape = shape(args.workload, &args.topic, Some(&args.send), args.consumers)?;
    let client = connect.client();
    let partitions = prepare_topic(&client, &args.topic, shape.partitions).await?;
    let readers = consumers(
        connect,
        &args.topic.topic,
        partitions,
        shape.consumers,
        OffsetSpec::Latest,
    )
    .await?;
    let progress = Progress::start("messages read");
    let read: Arc<AtomicU64> = progress.counter();
    let acked = Arc::new(AtomicU64::new(0));
    let producing = Arc::new(AtomicBool::new(true));
    let give_up: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let consumer_count = readers.len();
    let reading: Vec<_> = readers
        .into_iter()
        .map(|consumer| {
            let (read, acked, producing, give_up) = (
                Arc::clone(&read),
                Arc::clone(&acked),
                Arc::clone(&producing),
                Arc::clone(&give_up),
            );
            tokio::spawn(async move {
                let total = Arc::clone(&read);
                consume_loop(consumer, true, read, move |_| {
                    !producing.load(Ordering::Acquire)
                        && (total.load(Ordering::Relaxed) >= acked.load(Ordering::Relaxed)
                            || give_up.get().is_some_and(|at| Instant::now() >= *at))
                })
                .await
            })
        })
        .collect();

    let started = Instant::now();
    let sent = run_producers(
        connect,
        &args.send,
        &shape,
        &args.topic.topic,
        &args.length,
        true,
        Arc::clone(&acked),
    )
    .await?;
    let _ = give_up.set(Instant::now() + CATCH_UP);
    producing.store(false, Ordering::Release);
    let mut received = Received::new();
    for task in reading {
        received.merge(&task.await.context("a consumer panicked")??);
    }
    let elapsed = started.elapsed();
    progress.finish();
    if received.messages == 0 {
        match sent.first_error {
            Some(e) => return Err(e).context("nothing was produced"),
            None => bail!("no message was read (the run was too short?)"),
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
    notes.push(("consumers", json!(consumer_count)));
    notes.push(("acknowledged", json!(sent.acknowledged)));
    if let Some(acks) = &sent.latencies {
        notes.push(("ack_latency_ms", acks.summary()));
    }
    if received.unstamped > 0 {
        notes.push(("unstamped", json!(received.unstamped)));
    }
    Ok(Report {
        workload: "e2e",
        operation: "messages",
        elapsed,
        operations: received.messages,
        errors: sent.errors,
        items: None,
        bytes: received.bytes,
        latencies: received.latencies,
        latency_of: "send to receipt",
        notes,
    })
}
