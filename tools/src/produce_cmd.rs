//! `brook produce TOPIC`: one record per input line (stdin or files), like `kcat -P`,
//! through brook-client's producer.

use std::collections::VecDeque;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brook_client::{Acks, DeliveryFuture, Producer, ProducerConfig, Record};
use brook_protocol::records::{Compression, HeaderRef};
use clap::{Args, ValueEnum};

use crate::connect::Connect;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AcksArg {
    #[value(name = "0")]
    Zero,
    #[value(name = "1")]
    One,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl From<CompressionArg> for Compression {
    fn from(arg: CompressionArg) -> Self {
        match arg {
            CompressionArg::None => Compression::None,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Snappy => Compression::Snappy,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

impl From<AcksArg> for Acks {
    fn from(arg: AcksArg) -> Self {
        match arg {
            AcksArg::Zero => Acks::None,
            AcksArg::One => Acks::Leader,
            AcksArg::All => Acks::All,
        }
    }
}

/// The producer settings shared by `brook produce` and `brook bench`.
#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    /// Acknowledgements to wait for.
    #[arg(long, value_enum, default_value = "all")]
    pub acks: AcksArg,
    /// Batch compression.
    #[arg(long, short = 'z', value_enum, default_value = "none")]
    pub compression: CompressionArg,
    /// How long a batch waits for more records (linger.ms).
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Bytes per batch before it is sent (batch.size).
    #[arg(long, default_value_t = 16384)]
    pub batch_size: usize,
    /// Batches of one partition in flight at once; 1 keeps strict order across retries
    /// (max.in.flight.requests.per.connection).
    #[arg(long, default_value_t = 1)]
    pub max_in_flight: usize,
}

impl ProducerArgs {
    pub fn config(&self) -> ProducerConfig {
        ProducerConfig {
            acks: self.acks.into(),
            compression: self.compression.into(),
            linger: Duration::from_millis(self.linger_ms),
            batch_size: self.batch_size,
            max_in_flight: self.max_in_flight,
            ..ProducerConfig::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    topic: String,
    /// Files to read lines from (default: standard input).
    files: Vec<std::path::PathBuf>,
    /// Split each line at the first SEP into key and value (kcat's -K).
    #[arg(long, short = 'K')]
    key_separator: Option<String>,
    /// A header on every record, `key=value`; repeatable.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// Send every record to this partition (default: by key, or sticky).
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// At most this many records per second.
    #[arg(long)]
    rate: Option<f64>,
    #[command(flatten)]
    producer: ProducerArgs,
}

/// Deliveries waited for as they go, so memory stays bounded on long inputs.
const OUTSTANDING: usize = 100_000;

pub async fn run(args: ProduceArgs, connect: &Connect) -> Result<()> {
    let headers: Vec<(String, String)> = args
        .headers
        .iter()
        .map(|h| {
            h.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("header {h:?} is not key=value"))
        })
        .collect::<Result<_>>()?;
    let header_refs: Vec<HeaderRef<'_>> = headers
        .iter()
        .map(|(k, v)| HeaderRef {
            key: k.as_bytes(),
            value: Some(v.as_bytes()),
        })
        .collect();
    let producer = Producer::new(Arc::new(connect.client()), args.producer.config());
    let inputs: Vec<Box<dyn BufRead>> = if args.files.is_empty() {
        vec![Box::new(std::io::stdin().lock())]
    } else {
        args.files
            .iter()
            .map(|path| {
                let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                Ok(Box::new(std::io::BufReader::new(file)) as Box<dyn BufRead>)
            })
            .collect::<Result<_>>()?
    };
    let started = Instant::now();
    let mut outstanding: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut sent = 0u64;
    let mut failed = 0u64;
    let mut first_error = None;
    for input in inputs {
        for line in input.lines() {
            let line = line.context("cannot read the input")?;
            let (key, value) = match &args.key_separator {
                Some(sep) => match line.split_once(sep.as_str()) {
                    Some((k, v)) => (Some(k.as_bytes()), v.as_bytes()),
                    None => (None, line.as_bytes()),
                },
                None => (None, line.as_bytes()),
            };
            let mut record = Record::new(&args.topic).value(value).headers(&header_refs);
            record.key = key;
            record.partition = args.partition;
            if let Some(rate) = args.rate {
                let due = started + Duration::from_secs_f64(sent as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
            }
            outstanding.push_back(producer.send(record).await.context("cannot produce")?);
            sent += 1;
            if outstanding.len() >= OUTSTANDING
                && let Some(oldest) = outstanding.pop_front()
            {
                settle(oldest, &mut failed, &mut first_error).await;
            }
        }
    }
    producer.flush().await;
    for delivery in outstanding {
        settle(delivery, &mut failed, &mut first_error).await;
    }
    eprintln!(
        "produced {} records to {} in {:.2}s",
        sent - failed,
        args.topic,
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = first_error {
        bail!("{failed} records failed, the first with: {e}");
    }
    Ok(())
}

/// Waits for one delivery, counting a failure and keeping the first error.
async fn settle(delivery: DeliveryFuture, failed: &mut u64, first_error: &mut Option<brook_client::Error>) {
    if let Err(e) = delivery.wait().await {
        *failed += 1;
        first_error.get_or_insert(e);
    }
}
