//! `brook bench consume`: consumers read a topic from its beginning, outside any group
//! (consumer `i` of `n` reads partitions `i`, `i + n`, ...), until its end, `--count`
//! messages, or `--duration`; the report gives messages/s, MB/s and poll waits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brook_client::OffsetSpec;
use clap::Args;
use serde_json::json;

use super::Output;
use super::load::{Received, consume_loop, consumers};
use super::progress::Progress;
use super::report::Report;
use crate::connect::Connect;

#[derive(Debug, Args)]
pub struct ConsumeBenchArgs {
    /// The topic to read (it must exist; `brook bench produce` fills one).
    #[arg(long, default_value = "brook-bench")]
    topic: String,
    /// Concurrent consumers, each with its own connections.
    #[arg(long, default_value_t = 1)]
    consumers: usize,
    /// Stop after this many messages, or at the topic's end if that comes first
    /// (instead of --duration).
    #[arg(long)]
    count: Option<u64>,
    /// Stop after this many seconds, or at the topic's end if that comes first.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(connect: &Connect, args: ConsumeBenchArgs) -> Result<Report> {
    if args.consumers == 0 {
        bail!("--consumers must be at least 1");
    }
    let client = connect.client();
    let topic = client
        .topics(Some(std::slice::from_ref(&args.topic)))
        .await
        .with_context(|| format!("cannot read topic {}", args.topic))?
        .pop()
        .context("the broker described no topic")?;
    let partitions = topic.partitions.len() as i32;
    let all = consumers(connect, &args.topic, partitions, args.consumers, OffsetSpec::Earliest).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(args.duration.max(0.0));
    let progress = Progress::start("messages");
    let read: Arc<AtomicU64> = progress.counter();
    let started = Instant::now();
    let tasks: Vec<_> = all
        .into_iter()
        .map(|consumer| {
            let read = Arc::clone(&read);
            let count = args.count;
            tokio::spawn(async move {
                let total = Arc::clone(&read);
                consume_loop(consumer, false, read, move |c| {
                    let enough = match count {
                        Some(count) => total.load(Ordering::Relaxed) >= count,
                        None => Instant::now() >= deadline,
                    };
                    enough || c.at_end()
                })
                .await
            })
        })
        .collect();
    let mut received = Received::new();
    for task in tasks {
        received.merge(&task.await.context("a consumer panicked")??);
    }
    let elapsed = started.elapsed();
    progress.finish();
    Ok(Report {
        workload: "consume",
        operation: "messages",
        elapsed,
        operations: received.messages,
        errors: 0,
        items: None,
        bytes: received.bytes,
        latencies: received.latencies,
        latency_of: "poll wait, polls that returned records",
        notes: vec![
            ("topic", json!(args.topic)),
            ("partitions", json!(partitions)),
            ("consumers", json!(args.consumers.min(partitions as usize))),
        ],
    })
}
