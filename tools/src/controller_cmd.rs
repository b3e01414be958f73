//! `brook controller`: run one controller node until Ctrl-C or SIGTERM.

use anyhow::{Context, Result};
use brook_controller::config::CONTROLLER_KEYS;
use brook_controller::{ControllerConfig, ControllerNode};
use clap::ArgMatches;

use crate::settings;

pub async fn run(matches: &ArgMatches) -> Result<()> {
    let properties = settings::properties(matches, CONTROLLER_KEYS)?;
    let config = ControllerConfig::from_properties(&properties).context("invalid controller settings")?;
    let node = ControllerNode::start(config.clone())
        .await
        .context("starting the controller")?;
    let mut banner = format!(
        "brook controller {} listening on {} (voters: {}), data in {}\n",
        config.node_id,
        node.local_addr(),
        config
            .voters
            .iter()
            .map(|v| format!("{}@{}:{}", v.node_id, v.host, v.port))
            .collect::<Vec<_>>()
            .join(","),
        config.data_dir.display()
    );
    if let Some(addr) = node.metrics_addr() {
        banner.push_str(&format!("metrics on http://{addr}/metrics\n"));
    }
    crate::banner::print(&banner);
    crate::signals::wait_for_shutdown().await;
    node.shutdown().await;
    Ok(())
}
