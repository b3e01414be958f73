//! `brook dev`: a whole cluster in one process: one controller (a single-voter quorum)
//! and one broker, with data in one directory. Restarting on the same directory keeps
//! everything.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use brook_broker::BrokerNode;
use brook_broker::config::BrokerConfig;
use brook_controller::properties::Properties;
use brook_controller::{ControllerConfig, ControllerNode};
use clap::Args;

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
    /// Partitions of an auto-created topic.
    #[arg(long, default_value_t = 1)]
    num_partitions: u32,
}

pub async fn run(args: DevArgs) -> Result<()> {
    // One endpoint for both the controller's and the broker's metrics; bound first so a
    // taken port fails before anything starts.
    let metrics_listener = tokio::net::TcpListener::bind(args.metrics_addr)
        .await
        .with_context(|| format!("listening for metrics on {}", args.metrics_addr))?;
    let voters = format!("1@{}", args.controller_addr);
    let mut controller = Properties::default();
    controller.set("node.id", "1");
    controller.set("controller.quorum.voters", voters.clone());
    controller.set(
        "metadata.log.dir",
        args.data_dir.join("controller").display().to_string(),
    );
    controller.set("num.partitions", args.num_partitions.to_string());
    let controller = ControllerConfig::from_properties(&controller).context("controller settings")?;
    let controller = ControllerNode::start(controller)
        .await
        .context("starting the controller")?;

    let mut broker = Properties::default();
    broker.set("node.id", "1");
    broker.set("controller.quorum.voters", voters);
    broker.set("listeners", format!("PLAINTEXT://{}", args.kafka_addr));
    broker.set("log.dirs", args.data_dir.join("kafka").display().to_string());
    let broker = BrokerConfig::from_properties(&broker).context("broker settings")?;
    let broker = BrokerNode::start(broker).await.context("starting the broker")?;

    let registries = vec![
        controller.prometheus_registry().clone(),
        broker.prometheus_registry().clone(),
    ];
    let metrics = tokio::spawn(brook_controller::serve_metrics(metrics_listener, registries));

    let kafka = broker.local_addr();
    println!("brook dev: a single-node cluster");
    println!("  Kafka      {kafka}");
    println!("  controller {}", controller.local_addr());
    println!("  metrics    http://{}/metrics", args.metrics_addr);
    println!("  data       {}", args.data_dir.display());
    println!();
    println!("  produce:   echo hello | kcat -P -b {kafka} -t demo");
    println!("  consume:   kcat -C -b {kafka} -t demo -o beginning -e");
    crate::signals::wait_for_shutdown().await;
    metrics.abort();
    broker.shutdown().await;
    controller.shutdown().await;
    Ok(())
}
