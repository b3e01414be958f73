//! `brook`: one command line for Brook.

mod banner;
mod bench;
mod broker_cmd;
mod client_settings;
mod cluster_cmd;
mod connect;
mod consume_cmd;
mod controller_cmd;
mod dev_cmd;
mod group_cmd;
mod output;
mod partition_spec;
mod produce_cmd;
mod profile_cmd;
mod protocol_cmd;
mod record_format;
mod settings;
mod signals;
mod topic_cmd;

use anyhow::Result;
use brook_broker::config::BROKER_KEYS;
use brook_controller::config::CONTROLLER_KEYS;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// Brook: a Kafka-compatible, partitioned, replicated commit log.
#[derive(Debug, Parser)]
#[command(name = "brook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a single-node cluster (one controller, one broker) for development; takes every
    /// broker and controller setting (--config FILE, flags, BROOK_* env).
    #[command(after_help = "Examples:
  brook dev                                    # Kafka on 127.0.0.1:9092, data in ./brook-data
  brook dev --data-dir /tmp/b --kafka-addr 127.0.0.1:19092
  brook dev --num-partitions 3 --auto-create-topics-enable false
  BROOK_LOG_RETENTION_MS=3600000 brook dev")]
    Dev(dev_cmd::DevArgs),
    /// Run one broker (settings: --config FILE, flags, BROOK_* env).
    #[command(after_help = "Examples:
  brook broker --node-id 1 --controller-quorum-voters 1@127.0.0.1:9093 \\
    --listeners PLAINTEXT://127.0.0.1:9092 --log-dirs /var/lib/brook/1
  brook broker --config broker.toml")]
    Broker,
    /// Run one controller node of the metadata quorum (settings: --config FILE, flags, BROOK_* env).
    #[command(after_help = "Examples:
  brook controller --node-id 1 --controller-quorum-voters 1@127.0.0.1:9093 \\
    --metadata-log-dir /var/lib/brook/controller-1
  brook controller --config controller.toml")]
    Controller,
    /// Inspect the Kafka wire protocol as Brook speaks it.
    #[command(subcommand)]
    Protocol(protocol_cmd::ProtocolCommand),
    /// Topics: create, list, describe, delete, add partitions, configs, reassign, elect leaders.
    #[command(after_help = "Examples:
  brook topic create orders -p 6 -r 3 -c retention.ms=86400000
  brook topic list --format json
  brook topic describe orders -c
  brook topic alter-config orders --set retention.ms=3600000
  brook topic reassign orders --to-brokers 1,2,3 --wait
  brook topic delete orders")]
    Topic {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(flatten)]
        output: output::OutputArgs,
        #[command(subcommand)]
        command: topic_cmd::TopicCommand,
    },
    /// Produce one record per input line (stdin or files), like `kcat -P`.
    #[command(after_help = "Examples:
  printf 'k1:hello\\nk2:world\\n' | brook produce demo -K :
  brook produce demo events.txt --acks 1 -z zstd
  brook produce demo --rate 100 -X linger.ms=20 < lines.txt")]
    Produce {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(flatten)]
        args: produce_cmd::ProduceArgs,
    },
    /// Print records as they arrive, like `kcat -C` (or `kcat -G` with --group).
    #[command(after_help = "Examples:
  brook consume demo -o beginning -e
  brook consume demo -f '%k %s (partition %p, offset %o)\\n'
  brook consume demo -G readers              # share the partitions with the group
  brook consume demo -o -10 -J               # the last 10 of each partition, as JSON")]
    Consume {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(flatten)]
        args: consume_cmd::ConsumeArgs,
    },
    /// The cluster's health: brokers, controller quorum, under-replicated partitions.
    #[command(after_help = "Examples:
  brook cluster status
  brook cluster status --format yaml -b broker1:9092")]
    Cluster {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(flatten)]
        output: output::OutputArgs,
        #[command(subcommand)]
        command: cluster_cmd::ClusterCommand,
    },
    /// Consumer groups: list, describe (with lag), delete, reset offsets.
    #[command(after_help = "Examples:
  brook group list
  brook group describe readers --format json
  brook group reset-offsets readers --topic demo --to-earliest --execute
  brook group delete readers")]
    Group {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(flatten)]
        output: output::OutputArgs,
        #[command(subcommand)]
        command: group_cmd::GroupCommand,
    },
    /// Named connection profiles (bootstrap and client settings), like `rpk profile`.
    #[command(subcommand)]
    Profile(profile_cmd::ProfileCommand),
    /// Print a shell completion script: `brook completions bash > /etc/bash_completion.d/brook`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Load generators reporting rates and latency percentiles, against any Kafka-compatible cluster.
    #[command(after_help = "Examples:
  brook bench produce --topic bench --acks 1 --duration 10
  brook bench e2e --topic e2e --acks 1 --rate 10000 --duration 15 --json
  brook bench consume --topic bench --consumers 2")]
    Bench {
        #[command(flatten)]
        connect: connect::Connect,
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        // A server whose stderr went away keeps serving: the default reports a failed
        // write with eprintln!, which panics on a closed stderr.
        .log_internal_errors(false)
        .init();
}

/// One-shot commands die of SIGPIPE when their reader goes away (`brook topic list |
/// head -1`), quietly and with the shell's status 141, as Unix tools do. Rust ignores
/// SIGPIPE, which turns the next print into a panic instead.
fn die_quietly_on_closed_pipe() {
    // SAFETY: restoring a signal's default disposition at start-up, before any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() {
    if let Err(e) = run() {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("error: {e:#}\n").as_bytes());
        std::process::exit(1);
    }
}

/// The command line, with the broker's and controller's setting flags, which come from
/// their config tables.
fn command() -> clap::Command {
    Cli::command()
        .mut_subcommand("controller", |sub| settings::with_key_flags(sub, CONTROLLER_KEYS))
        .mut_subcommand("broker", |sub| settings::with_key_flags(sub, BROKER_KEYS))
        .mut_subcommand("dev", |sub| settings::with_key_flags(sub, dev_cmd::dev_keys()))
}

fn run() -> Result<()> {
    let matches = command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Servers and the group consumer handle a closed output themselves (a consumer must
    // leave its group first).
    if !matches!(
        cli.command,
        Command::Dev(_) | Command::Broker | Command::Controller | Command::Consume { .. }
    ) {
        die_quietly_on_closed_pipe();
    }
    // -X and -F: a setting the command would not apply, or a bad value, fails now.
    let uses = match &cli.command {
        Command::Topic { connect, .. } | Command::Cluster { connect, .. } | Command::Group { connect, .. } => {
            Some((connect, client_settings::Uses::Client))
        }
        Command::Produce { connect, .. } => Some((connect, client_settings::Uses::Producer)),
        Command::Consume { connect, .. } => Some((connect, client_settings::Uses::Consumer)),
        Command::Bench { connect, .. } => Some((connect, client_settings::Uses::Both)),
        _ => None,
    };
    if let Some((connect, uses)) = uses {
        connect.settings(uses)?;
    }
    match cli.command {
        Command::Dev(args) => {
            init_logging();
            let sub = matches.subcommand_matches("dev").expect("dev was chosen");
            tokio::runtime::Runtime::new()?.block_on(dev_cmd::run(args, sub))
        }
        Command::Broker => {
            init_logging();
            let sub = matches.subcommand_matches("broker").expect("broker was chosen");
            tokio::runtime::Runtime::new()?.block_on(broker_cmd::run(sub))
        }
        Command::Controller => {
            init_logging();
            let sub = matches.subcommand_matches("controller").expect("controller was chosen");
            tokio::runtime::Runtime::new()?.block_on(controller_cmd::run(sub))
        }
        Command::Protocol(command) => protocol_cmd::run(command),
        Command::Profile(command) => profile_cmd::run(command),
        Command::Topic {
            connect,
            output,
            command,
        } => tokio::runtime::Runtime::new()?.block_on(topic_cmd::run(command, &connect, output.format)),
        Command::Produce { connect, args } => {
            tokio::runtime::Runtime::new()?.block_on(produce_cmd::run(args, &connect))
        }
        Command::Consume { connect, args } => {
            tokio::runtime::Runtime::new()?.block_on(consume_cmd::run(args, &connect))
        }
        Command::Cluster {
            connect,
            output,
            command,
        } => tokio::runtime::Runtime::new()?.block_on(cluster_cmd::run(command, &connect, output.format)),
        Command::Group {
            connect,
            output,
            command,
        } => tokio::runtime::Runtime::new()?.block_on(group_cmd::run(command, &connect, output.format)),
        Command::Completions { shell } => {
            // Generated into memory: clap_complete panics on a failed write, and a reader
            // that goes away (`| head`) is no error.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), "brook", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(()),
            }
        }
        Command::Bench { connect, command } => tokio::runtime::Runtime::new()?.block_on(bench::run(&connect, command)),
    }
}
