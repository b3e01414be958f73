//! Where the client commands find the cluster: `--bootstrap` / `BROOK_BOOTSTRAP`.

use brook_client::{Client, ClientConfig};
use clap::Args;

#[derive(Debug, Args)]
pub struct Connect {
    /// Brokers to start from (host:port, comma-separated).
    #[arg(
        long,
        short = 'b',
        env = "BROOK_BOOTSTRAP",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
}

impl Connect {
    pub fn client(&self) -> Client {
        Client::new(ClientConfig::new(self.bootstrap.clone()))
    }
}
