//! Where the client commands find the cluster and how their clients are set up:
//! `--bootstrap` / `BROOK_BOOTSTRAP`, and Kafka client settings with kcat's `-X key=value`
//! and `-F FILE` (see `client_settings`).

use std::path::PathBuf;

use anyhow::Result;
use brook_client::{Client, ConsumerConfig, ProducerConfig};
use clap::Args;

use crate::client_settings::{ClientSettings, Uses};

/// Where `--bootstrap`, `BROOK_BOOTSTRAP` and `-X bootstrap.servers` all leave it unsaid.
const DEFAULT_BOOTSTRAP: &str = "127.0.0.1:9092";

#[derive(Debug, Args)]
pub struct Connect {
    /// Brokers to start from (host:port, comma-separated) [default: -X bootstrap.servers,
    /// else 127.0.0.1:9092].
    #[arg(long, short = 'b', env = "BROOK_BOOTSTRAP", global = true)]
    bootstrap: Option<String>,
    /// A Kafka client setting by its Java/librdkafka name, e.g. `-X client.id=me`,
    /// `-X linger.ms=20` (produce), `-X fetch.max.wait.ms=100` (consume); repeatable.
    #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = key_value, global = true)]
    settings: Vec<(String, String)>,
    /// A file of `key=value` client settings (kcat's -F); -X wins over it.
    #[arg(short = 'F', value_name = "FILE", global = true)]
    settings_file: Option<PathBuf>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not key=value"))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

impl Connect {
    /// The settings given, checked against what the command applies.
    pub fn settings(&self, uses: Uses) -> Result<ClientSettings> {
        let settings = ClientSettings::load(self.settings_file.as_deref(), &self.settings)?;
        settings.check(uses)?;
        Ok(settings)
    }

    /// The settings, already checked by `settings` when the command started (`main`).
    fn resolved(&self) -> ClientSettings {
        ClientSettings::load(self.settings_file.as_deref(), &self.settings).unwrap_or_default()
    }

    pub fn bootstrap(&self) -> String {
        let settings = self.resolved();
        self.bootstrap
            .clone()
            .or_else(|| settings.bootstrap().map(str::to_owned))
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP.to_owned())
    }

    pub fn client(&self) -> Client {
        let bootstrap = self.bootstrap();
        let config = self
            .resolved()
            .client_config(&bootstrap)
            .unwrap_or_else(|_| brook_client::ClientConfig::new(bootstrap));
        Client::new(config)
    }

    /// `base` (from the command's flags) with the -X producer settings over it.
    pub fn producer_config(&self, base: ProducerConfig) -> Result<ProducerConfig> {
        self.resolved().producer_config(base)
    }

    /// `base` with the -X consumer settings over it.
    pub fn consumer_config(&self, base: ConsumerConfig) -> Result<ConsumerConfig> {
        self.resolved().consumer_config(base)
    }
}
