//! `brook consume TOPIC...`: print records as they arrive, like `kcat -C` (or `-G` with
//! a group), through brook-client's consumer.

use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use brook_client::{Client, Consumer, ConsumerConfig, OffsetReset, OffsetSpec, TopicPartition};
use clap::Args;

use crate::connect::Connect;
use crate::record_format::{Format, json_line};

/// Where reading starts (kcat's `-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Beginning,
    End,
    /// The group's committed offsets.
    Stored,
    Offset(i64),
    /// This many records before the end.
    BeforeEnd(i64),
    /// The first record at or after this time (ms since the epoch).
    Timestamp(i64),
}

fn parse_start(text: &str) -> Result<Start, String> {
    let bad = || format!("{text:?} is not beginning, end, stored, N, -N or s@TIMESTAMP_MS");
    Ok(match text {
        "beginning" | "start" | "earliest" => Start::Beginning,
        "end" | "latest" => Start::End,
        "stored" => Start::Stored,
        _ => {
            if let Some(ms) = text.strip_prefix("s@") {
                Start::Timestamp(ms.parse().map_err(|_| bad())?)
            } else if let Some(back) = text.strip_prefix('-') {
                Start::BeforeEnd(back.parse().map_err(|_| bad())?)
            } else {
                Start::Offset(text.parse().map_err(|_| bad())?)
            }
        }
    })
}

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    /// Topics to read (one or more).
    #[arg(required = true)]
    topics: Vec<String>,
    /// Read as a member of this consumer group: partitions are shared with the group's
    /// other members and offsets are committed (kcat's -G).
    #[arg(long, short = 'G')]
    group: Option<String>,
    /// Only these partitions (repeatable; not with --group).
    #[arg(long = "partition", short = 'p', conflicts_with = "group")]
    partitions: Vec<i32>,
    /// Where to start: beginning | end | stored | N (an offset) | -N (N before the end) |
    /// s@MS (a timestamp). With --group, where a partition with no committed offset
    /// starts: beginning or end.
    #[arg(long, short = 'o', default_value = "beginning", value_parser = parse_start, allow_hyphen_values = true)]
    offset: Start,
    /// Print each record with this format: %t topic, %p partition, %o offset, %k key,
    /// %s value, %K/%S key/value length, %T timestamp, %h headers, %% and \n \t escapes.
    #[arg(long, short = 'f', default_value = "%s\\n", conflicts_with = "json")]
    format: String,
    /// Print each record as a JSON object per line (kcat's -J fields).
    #[arg(long, short = 'J')]
    json: bool,
    /// Exit once every partition is read to its end (kcat's -e).
    #[arg(long = "exit", short = 'e')]
    exit_at_end: bool,
    /// Exit after this many records.
    #[arg(long, short = 'c')]
    count: Option<u64>,
}

pub async fn run(args: ConsumeArgs, connect: &Connect) -> Result<()> {
    let format = if args.json {
        None
    } else {
        Some(Format::parse(&args.format).map_err(anyhow::Error::msg)?)
    };
    let client = Arc::new(connect.client());
    // Unknown topics fail here, clearly, before any group is joined.
    let topics = client.topics(Some(&args.topics)).await.context("cannot consume")?;
    let mut consumer = match &args.group {
        Some(group) => {
            let reset = match args.offset {
                Start::Beginning | Start::Stored => OffsetReset::Earliest,
                Start::End => OffsetReset::Latest,
                _ => {
                    bail!("with --group, --offset is beginning or end: where partitions with no committed offset start")
                }
            };
            let config = connect.consumer_config(ConsumerConfig {
                auto_offset_reset: reset,
                ..ConsumerConfig::with_group(group.clone())
            })?;
            let mut consumer = Consumer::new(Arc::clone(&client), config);
            consumer.subscribe(&args.topics)?;
            consumer
        }
        None => {
            let mut partitions: Vec<TopicPartition> = Vec::new();
            for topic in &topics {
                for p in &topic.partitions {
                    if args.partitions.is_empty() || args.partitions.contains(&p.partition) {
                        partitions.push((topic.name.clone(), p.partition));
                    }
                }
            }
            if partitions.is_empty() {
                bail!("no partition {:?} in {}", args.partitions, args.topics.join(", "));
            }
            assigned(
                &client,
                connect.consumer_config(ConsumerConfig::default())?,
                partitions,
                args.offset,
            )
            .await?
        }
    };
    let read = consume(&mut consumer, &args, format.as_ref()).await;
    let closed = consumer.close().await;
    let count = read?;
    closed.context("cannot commit on leaving")?;
    // Not eprintln!: stderr may be closed too, and the group is already left.
    let _ = writeln!(std::io::stderr(), "consumed {count} records");
    Ok(())
}

/// A consumer of exactly `partitions`, positioned at `start`.
async fn assigned(
    client: &Arc<Client>,
    config: ConsumerConfig,
    partitions: Vec<TopicPartition>,
    start: Start,
) -> Result<Consumer> {
    let mut consumer = Consumer::new(Arc::clone(client), config);
    consumer.assign(&partitions)?;
    match start {
        Start::Beginning => consumer.seek_to(&partitions, OffsetSpec::Earliest).await?,
        Start::End => consumer.seek_to(&partitions, OffsetSpec::Latest).await?,
        Start::Timestamp(ms) => consumer.seek_to(&partitions, OffsetSpec::Timestamp(ms)).await?,
        Start::Offset(offset) => {
            for tp in &partitions {
                consumer.seek(tp, offset)?;
            }
        }
        Start::BeforeEnd(back) => {
            let starts = client.list_offsets(&partitions, OffsetSpec::Earliest).await?;
            let ends = client.list_offsets(&partitions, OffsetSpec::Latest).await?;
            for tp in &partitions {
                let offset = (ends[tp] - back).max(starts[tp]);
                consumer.seek(tp, offset)?;
            }
        }
        Start::Stored => bail!("--offset stored needs --group"),
    }
    Ok(consumer)
}

/// Prints records until the end (`-e`), the count, Ctrl-C or SIGTERM (a group member
/// then leaves its group at once, as `kill` or `timeout` expect), or a closed stdout.
async fn consume(consumer: &mut Consumer, args: &ConsumeArgs, format: Option<&Format>) -> Result<u64> {
    // Not `stdout().lock()`: that lock would be held across every `poll().await`.
    let mut out = BufWriter::new(std::io::stdout());
    let mut printed = 0u64;
    let mut interrupted = std::pin::pin!(crate::signals::interrupted());
    loop {
        let records = tokio::select! {
            records = consumer.poll(Duration::from_millis(500)) => records.context("cannot consume")?,
            _ = &mut interrupted => break,
        };
        let wanted = args
            .count
            .map_or(records.len(), |c| records.len().min((c - printed) as usize));
        for record in &records[..wanted] {
            let written = match format {
                Some(format) => format.write(&mut out, record),
                None => writeln!(out, "{}", json_line(record)),
            };
            if let Err(e) = written {
                return closed_stdout(e, printed);
            }
            printed += 1;
        }
        if let Err(e) = out.flush() {
            return closed_stdout(e, printed);
        }
        let counted_out = args.count.is_some_and(|c| printed >= c);
        let at_end = args.exit_at_end && !consumer.assignment().is_empty() && consumer.at_end();
        if counted_out || at_end {
            break;
        }
    }
    Ok(printed)
}

/// A reader that went away (`| head`) ends the command quietly; other errors fail it.
fn closed_stdout(error: std::io::Error, printed: u64) -> Result<u64> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(printed)
    } else {
        Err(error).context("cannot write to standard output")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_as_kcats() {
        assert_eq!(parse_start("beginning"), Ok(Start::Beginning));
        assert_eq!(parse_start("end"), Ok(Start::End));
        assert_eq!(parse_start("stored"), Ok(Start::Stored));
        assert_eq!(parse_start("42"), Ok(Start::Offset(42)));
        assert_eq!(parse_start("-10"), Ok(Start::BeforeEnd(10)));
        assert_eq!(parse_start("s@1700000000000"), Ok(Start::Timestamp(1_700_000_000_000)));
        assert!(parse_start("soon").is_err());
        assert!(parse_start("s@x").is_err());
    }
}
