//! `brook bench offset-commit`: each of `--clients` consumers is a group of its own with
//! its own connection, committing (standalone, generation -1, as `assign()` consumers
//! do) an ever-growing offset for its partitions, one commit after the other. At the
//! end every group's committed offsets are read back and must be the last acknowledged
//! ones; then the groups are deleted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use super::progress::Progress;
use super::report::{Latencies, Report};
use super::{Budget, Output, RunLength};
use crate::connect::Connect;

#[derive(Debug, Args)]
pub struct OffsetCommitArgs {
    /// An existing topic whose partitions the commits name.
    #[arg(long)]
    topic: String,
    /// Concurrent consumers, each a group of its own on its own connection.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Partitions named in each commit (consecutive ones, wrapping around the topic).
    #[arg(long, default_value_t = 1)]
    partitions_per_commit: usize,
    #[command(flatten)]
    length: RunLength,
    #[command(flatten)]
    pub output: Output,
}

/// What one consumer did.
struct Committer {
    group: String,
    offsets: BTreeMap<(String, i32), i64>,
    /// The offset of the last acknowledged commit (0: none).
    acknowledged: i64,
    commits: u64,
    errors: u64,
    first_error: Option<brook_client::Error>,
    latencies: Latencies,
}

pub async fn run(connect: &Connect, args: OffsetCommitArgs) -> Result<Report> {
    ensure!(args.clients > 0, "--clients must be at least 1");
    let client = connect.client();
    let topic = client
        .topics(Some(std::slice::from_ref(&args.topic)))
        .await
        .with_context(|| format!("cannot use topic {}", args.topic))?
        .pop()
        .context("the broker described no topic")?;
    let partitions = topic.partitions.len();
    ensure!(
        (1..=partitions).contains(&args.partitions_per_commit),
        "--partitions-per-commit must be 1..={partitions} (the topic's partitions)"
    );
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let budget = Arc::new(Budget::new(&args.length));
    // Interrupted, the run stops committing but still deletes its groups.
    let interrupt = budget.end_on_interrupt();
    let progress = Progress::start("commits");
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.clients)
        .map(|i| {
            let offsets = (0..args.partitions_per_commit)
                .map(|j| {
                    let partition = topic.partitions[(i * args.partitions_per_commit + j) % partitions].partition;
                    ((topic.name.clone(), partition), 0)
                })
                .collect();
            let committer = Committer {
                group: format!("brook-bench-{run_id}-{i}"),
                offsets,
                acknowledged: 0,
                commits: 0,
                errors: 0,
                first_error: None,
                latencies: Latencies::new(),
            };
            tokio::spawn(commit_in_a_loop(
                connect.client(),
                committer,
                Arc::clone(&budget),
                progress.counter(),
            ))
        })
        .collect();
    let mut committers = Vec::with_capacity(tasks.len());
    for task in tasks {
        committers.push(task.await.context("a committer panicked")?);
    }
    interrupt.abort();
    let elapsed = started.elapsed();
    progress.finish();

    let mut latencies = Latencies::new();
    let (mut commits, mut errors) = (0, 0);
    for c in &committers {
        latencies.merge(&c.latencies);
        commits += c.commits;
        errors += c.errors;
    }
    if commits == 0 {
        match committers.into_iter().find_map(|c| c.first_error) {
            Some(e) => return Err(e).context("no commit succeeded"),
            None => bail!("no commit was made (the run was too short)"),
        }
    }
    verify_and_delete(&client, &committers).await?;
    Ok(Report {
        workload: "offset-commit",
        operation: "commits",
        elapsed,
        operations: commits,
        errors,
        items: Some((commits * args.partitions_per_commit as u64, "offsets")),
        bytes: 0,
        latencies,
        latency_of: "commit round trip",
        notes: vec![("clients", args.clients.into()), ("topic", args.topic.as_str().into())],
    })
}

async fn commit_in_a_loop(
    client: brook_client::Client,
    mut c: Committer,
    budget: Arc<Budget>,
    done: Arc<std::sync::atomic::AtomicU64>,
) -> Committer {
    while budget.claim() {
        let next = c.acknowledged + 1;
        c.offsets.values_mut().for_each(|offset| *offset = next);
        let sent = Instant::now();
        match client.commit_offsets(&c.group, &c.offsets).await {
            Ok(()) => {
                c.latencies.record(sent.elapsed());
                c.acknowledged = next;
                c.commits += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                c.errors += 1;
                c.first_error.get_or_insert(e);
            }
        }
    }
    c
}

/// Every acknowledged commit must be what the group reads back; the groups go afterwards.
async fn verify_and_delete(client: &brook_client::Client, committers: &[Committer]) -> Result<()> {
    for c in committers.iter().filter(|c| c.acknowledged > 0) {
        let committed = client.committed_offsets(&c.group).await?;
        for key in c.offsets.keys() {
            let found = committed.get(key).copied();
            ensure!(
                found == Some(c.acknowledged),
                "group {} has {found:?} for {}-{}, but commit {} was acknowledged",
                c.group,
                key.0,
                key.1,
                c.acknowledged
            );
        }
    }
    for c in committers.iter().filter(|c| c.acknowledged > 0) {
        client
            .delete_group(&c.group)
            .await
            .with_context(|| format!("cannot delete the benchmark's group {}", c.group))?;
    }
    Ok(())
}
