//! `brook broker`: run one broker until Ctrl-C or SIGTERM.

use anyhow::{Context, Result};
use brook_broker::BrokerNode;
use brook_broker::config::{BROKER_KEYS, BrokerConfig};
use clap::ArgMatches;

use crate::settings;

pub async fn run(matches: &ArgMatches) -> Result<()> {
    let properties = settings::properties(matches, BROKER_KEYS)?;
    let config = BrokerConfig::from_properties(&properties).context("invalid broker settings")?;
    let broker = BrokerNode::start(config).await.context("starting the broker")?;
    crate::banner::print(&format!(
        "brook broker {} serving Kafka on {}\n",
        broker.broker_id(),
        broker.local_addr()
    ));
    crate::signals::wait_for_shutdown().await;
    broker.shutdown().await;
    Ok(())
}
