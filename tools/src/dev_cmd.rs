//! `brook dev`: a whole cluster in one process: one controller (a single-voter quorum)
//! and one broker, with data in one directory. Restarting on the same directory keeps
//! everything. Every broker and controller setting is accepted as `brook broker` and
//! `brook controller` take them (`--config FILE`, `BROOK_*` env, a flag per key), except
//! the identities and addresses `brook dev` derives from its own flags.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::LazyLock;

use anyhow::{Context, Result, bail};
use brook_broker::BrokerNode;
use brook_broker::config::{BROKER_KEYS, BrokerConfig};
use brook_controller::config::CONTROLLER_KEYS;
use brook_controller::{ControllerConfig, ControllerNode};
use brook_server_kit::properties::{ConfigKey, Properties};
use clap::{ArgMatches, Args};

use crate::settings;

/// Settings `brook dev` sets itself, from `--data-dir` and the address flags. (`log.dirs`
/// defaults to `<data-dir>/kafka` but may be given, e.g. to try several data dirs.)
const DERIVED: &[&str] = &[
    "node.id",
    "controller.quorum.voters",
    "listeners",
    "metadata.log.dir",
    "metrics.addr",
];

/// Every broker and controller setting but the derived ones, each once.
pub fn dev_keys() -> &'static [ConfigKey] {
    static KEYS: LazyLock<Vec<ConfigKey>> = LazyLock::new(|| {
        let mut keys: Vec<ConfigKey> = Vec::new();
        for key in CONTROLLER_KEYS.iter().chain(BROKER_KEYS) {
            if !DERIVED.contains(&key.name) && !keys.iter().any(|k| k.name == key.name) {
                keys.push(*key);
            }
        }
        keys
    });
    &KEYS
}

/// The settings among `all` that one process (with `keys`) takes.
fn only(all: &Properties, keys: &[ConfigKey]) -> Properties {
    let mut chosen = Properties::default();
    for key in keys {
        if let Some(value) = all.get(key.name) {
            chosen.set(key.name, value);
        }
    }
    chosen
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Where the controller's metadata and the broker's logs live.
    #[arg(long, default_value = "./brook-data", env = "BROOK_DATA_DIR")]
    data_dir: PathBuf,
    /// Address of the Kafka listener.
    #[arg(long, default_value = "127.0.0.1:9092", env = "BROOK_KAFKA_ADDR")]
    kafka_addr: SocketAddr,
    /// Address of the controller (internal RPC).
    #[arg(long, default_value = "127.0.0.1:9093", env = "BROOK_CONTROLLER_ADDR")]
    controller_addr: SocketAddr,
    /// Prometheus metrics at http://ADDR/metrics.
    #[arg(long, default_value = "127.0.0.1:9644", env = "BROOK_METRICS_ADDR")]
    metrics_addr: SocketAddr,
}

pub async fn run(args: DevArgs, matches: &ArgMatches) -> Result<()> {
    let settings = settings::properties(matches, dev_keys())?;
    if let Some(derived) = DERIVED.iter().find(|k| settings.get(k).is_some()) {
        bail!("brook dev sets {derived} itself (see --data-dir and the address flags)");
    }
    // These have no flag here, so clap would not read their BROOK_* variables: refuse
    // them rather than ignore them (BROOK_METRICS_ADDR is --metrics-addr's own).
    let env_var = |key: &str| format!("BROOK_{}", key.replace(['.', '-'], "_").to_ascii_uppercase());
    if let Some(var) = DERIVED
        .iter()
        .map(|key| env_var(key))
        .find(|var| var != "BROOK_METRICS_ADDR" && std::env::var_os(var).is_some())
    {
        bail!("brook dev sets {var} itself (see --data-dir and the address flags)");
    }
    settings.check_known(dev_keys()).context("brook dev settings")?;
    // One endpoint for both the controller's and the broker's metrics; bound first so a
    // taken port fails before anything starts.
    let metrics_listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("listening for metrics on {}", args.metrics_addr))?;
    let voters = format!("1@{}", args.controller_addr);
    let mut controller = only(&settings, CONTROLLER_KEYS);
    controller.set("node.id", "1");
    controller.set("controller.quorum.voters", voters.clone());
    controller.set(
        "metadata.log.dir",
        args.data_dir.join("controller").display().to_string(),
    );
    let controller = ControllerConfig::from_properties(&controller).context("controller settings")?;
    let controller = ControllerNode::start(controller)
        .await
        .context("starting the controller")?;

    let mut broker = only(&settings, BROKER_KEYS);
    broker.set("node.id", "1");
    broker.set("controller.quorum.voters", voters);
    broker.set("listeners", format!("PLAINTEXT://{}", args.kafka_addr));
    if broker.get("log.dirs").is_none() {
        broker.set("log.dirs", args.data_dir.join("kafka").display().to_string());
    }
    let broker = BrokerConfig::from_properties(&broker).context("broker settings")?;
    let broker = BrokerNode::start(broker).await.context("starting the broker")?;

    let registries = vec![
        controller.prometheus_registry().clone(),
        broker.prometheus_registry().clone(),
    ];
    let metrics = tokio::spawn(brook_server_kit::metrics_http::serve_metrics(
        metrics_listener,
        registries,
    ));

    let kafka = broker.local_addr();
    let mut banner = String::new();
    let _ = writeln!(banner, "brook dev: a single-node cluster");
    let _ = writeln!(banner, "  Kafka      {kafka}");
    let _ = writeln!(banner, "  controller {}", controller.local_addr());
    let _ = writeln!(banner, "  metrics    http://{}/metrics", args.metrics_addr);
    let _ = writeln!(banner, "  data       {}", args.data_dir.display());
    let _ = writeln!(banner);
    let _ = writeln!(banner, "  produce:   echo hello | kcat -P -b {kafka} -t demo");
    let _ = writeln!(banner, "  consume:   kcat -C -b {kafka} -t demo -o beginning -e");
    crate::banner::print(&banner);
    crate::signals::wait_for_shutdown().await;
    metrics.abort();
    broker.shutdown().await;
    controller.shutdown().await;
    Ok(())
}
