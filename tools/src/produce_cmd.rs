//! `brook produce TOPIC`: one record per input line (stdin or files), like `kcat -P`,
//! through brook-client's producer.

use std::collections::VecDeque;
use std::io::{BufRead, Read};
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
    /// At most this many records per second (a positive number).
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    #[command(flatten)]
    producer: ProducerArgs,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a positive number of records per second")),
    }
}

/// Deliveries waited for as they go, so memory stays bounded on long inputs.
const OUTSTANDING: usize = 100_000;

/// Input lines travel from the reading thread in chunks of about this many bytes, so a
/// record costs no allocation or channel message of its own.
const CHUNK_BYTES: usize = 64 * 1024;

/// Lines read: their bytes, back to back, and where each ends.
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Chunk {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| &self.bytes[start..end])
    }
}

/// Reads `inputs` (standard input when empty) line by line on a thread of its own, so a
/// blocking read never stalls the producer, and bytes go as they are (no UTF-8 check).
/// A line's `\n` is dropped, nothing else. What was read goes on whenever the next read
/// would wait for more input, so a slow writer's lines are not held back.
fn read_lines(inputs: Vec<std::fs::File>) -> tokio::sync::mpsc::Receiver<std::io::Result<Chunk>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let sources: Vec<Box<dyn Read + Send>> = if inputs.is_empty() {
            vec![Box::new(std::io::stdin())]
        } else {
            inputs
                .into_iter()
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .collect()
        };
        let empty = || Chunk {
            bytes: Vec::with_capacity(CHUNK_BYTES),
            ends: Vec::new(),
        };
        let mut chunk = empty();
        for source in sources {
            let mut reader = std::io::BufReader::with_capacity(CHUNK_BYTES, source);
            loop {
                match reader.read_until(b'\n', &mut chunk.bytes) {
                    Ok(0) => break,
                    Ok(_) => {
                        if chunk.bytes.last() == Some(&b'\n') {
                            chunk.bytes.pop();
                        }
                        chunk.ends.push(chunk.bytes.len());
                    }
                    Err(e) => {
                        let _ = sender.blocking_send(Ok(chunk));
                        let _ = sender.blocking_send(Err(e));
                        return;
                    }
                }
                let would_wait = reader.buffer().is_empty();
                if (chunk.bytes.len() >= CHUNK_BYTES || would_wait)
                    && sender
                        .blocking_send(Ok(std::mem::replace(&mut chunk, empty())))
                        .is_err()
                {
                    return; // the producer stopped reading
                }
            }
        }
        let _ = sender.blocking_send(Ok(chunk));
    });
    receiver
}

/// Splits `line` at the first `separator` (kcat's -K): no separator, no key.
fn split_key<'a>(line: &'a [u8], separator: &[u8]) -> (Option<&'a [u8]>, &'a [u8]) {
    if separator.is_empty() {
        return (None, line);
    }
    match line.windows(separator.len()).position(|w| w == separator) {
        Some(at) => (Some(&line[..at]), &line[at + separator.len()..]),
        None => (None, line),
    }
}

/// Sends every line read; Ctrl-C or SIGTERM stops the reading, and what was read is still
/// delivered before the command exits (as kcat does).
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
    // Opened here, so a missing file fails before anything is sent.
    let files = args
        .files
        .iter()
        .map(|path| std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display())))
        .collect::<Result<Vec<_>>>()?;
    let config = connect.producer_config(args.producer.config())?;
    let producer = Producer::new(Arc::new(connect.client()), config);
    let mut lines = read_lines(files);
    let mut interrupt = std::pin::pin!(crate::signals::interrupted());
    let started = Instant::now();
    let mut outstanding: VecDeque<DeliveryFuture> = VecDeque::new();
    let mut sent = 0u64;
    let mut failed = 0u64;
    let mut first_error = None;
    // Why reading ended early: `Some(None)` for Ctrl-C or SIGTERM, else the read error.
    let mut stopped_by: Option<Option<std::io::Error>> = None;
    'reading: loop {
        let chunk = tokio::select! {
            chunk = lines.recv() => chunk,
            _ = &mut interrupt => {
                stopped_by = Some(None);
                break;
            }
        };
        let chunk = match chunk {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                stopped_by = Some(Some(e));
                break;
            }
        };
        for line in chunk.lines() {
            let (key, value) = match &args.key_separator {
                Some(separator) => split_key(line, separator.as_bytes()),
                None => (None, line),
            };
            let mut record = Record::new(&args.topic).value(value).headers(&header_refs);
            record.key = key;
            record.partition = args.partition;
            if let Some(rate) = args.rate {
                let due = started + Duration::from_secs_f64(sent as f64 / rate);
                tokio::select! {
                    _ = tokio::time::sleep_until(due.into()) => {}
                    _ = &mut interrupt => {
                        stopped_by = Some(None);
                        break 'reading;
                    }
                }
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
    let interrupted = matches!(stopped_by, Some(None));
    eprintln!(
        "{}produced {} records to {} in {:.2}s",
        if interrupted { "interrupted: " } else { "" },
        sent - failed,
        args.topic,
        started.elapsed().as_secs_f64()
    );
    if let Some(e) = first_error {
        bail!("{failed} records failed, the first with: {e}");
    }
    match stopped_by {
        Some(Some(e)) => Err(e).context("cannot read the input"),
        _ => Ok(()),
    }
}

/// Waits for one delivery, counting a failure and keeping the first error.
async fn settle(delivery: DeliveryFuture, failed: &mut u64, first_error: &mut Option<brook_client::Error>) {
    if let Err(e) = delivery.wait().await {
        *failed += 1;
        first_error.get_or_insert(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_split_off_at_the_first_separator_bytes() {
        assert_eq!(split_key(b"k:v:w", b":"), (Some(&b"k"[..]), &b"v:w"[..]));
        assert_eq!(split_key(b"no key", b":"), (None, &b"no key"[..]));
        assert_eq!(
            split_key(b"\xff\xfe::\x00", b"::"),
            (Some(&b"\xff\xfe"[..]), &b"\x00"[..])
        );
        assert_eq!(split_key(b"v", b""), (None, &b"v"[..]));
    }

    #[test]
    fn chunks_give_back_their_lines() {
        let chunk = Chunk {
            bytes: b"ab\xffc".to_vec(),
            ends: vec![2, 2, 4],
        };
        let lines: Vec<&[u8]> = chunk.lines().collect();
        assert_eq!(lines, vec![&b"ab"[..], &b""[..], &b"\xffc"[..]]);
    }

    #[test]
    fn a_rate_must_be_positive_and_finite() {
        assert_eq!(positive_rate("50"), Ok(50.0));
        assert!(positive_rate("0").is_err());
        assert!(positive_rate("-1").is_err());
        assert!(positive_rate("inf").is_err());
        assert!(positive_rate("NaN").is_err());
    }
}
