//! Where the client commands find the cluster and how their clients are set up:
//! `--bootstrap` / `BROOK_BOOTSTRAP`, Kafka client settings with kcat's `-X key=value`
//! and `-F FILE` (see `client_settings`), over a named profile (`profile_cmd`).

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;
use brook_client::{Client, ConsumerConfig, ProducerConfig};
use clap::Args;

use crate::client_settings::{ClientSettings, Uses};
use crate::profile_cmd::{self, Profile};

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
    /// The profile to use (default: the current one; see `brook profile`).
    #[arg(long, env = "BROOK_PROFILE", global = true)]
    profile: Option<String>,
    /// The settings and profile, read once (the files are not read again for each
    /// client, producer or consumer a command builds).
    #[arg(skip)]
    resolved: OnceLock<(ClientSettings, Option<Profile>)>,
}

/// `key=value` from the command line (`-X`, `-c`, `--set`).
pub fn key_value(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not key=value"))?;
    Ok((key.trim().to_owned(), value.to_owned()))
}

impl Connect {
    /// The profile's settings under -F's under -X's, and the profile.
    fn layers(&self) -> Result<(ClientSettings, Option<Profile>)> {
        let profile = profile_cmd::active(self.profile.as_deref())?;
        let mut settings = ClientSettings::load(self.settings_file.as_deref(), &self.settings)?;
        if let Some(profile) = &profile {
            settings = settings.over(&profile.settings);
        }
        Ok((settings, profile))
    }

    /// Reads and checks the settings against what the command applies; `main` calls it
    /// before the command runs, so a bad setting fails before anything is sent.
    pub fn settings(&self, uses: Uses) -> Result<()> {
        let (settings, profile) = self.layers()?;
        settings.check(uses)?;
        let _ = self.resolved.set((settings, profile));
        Ok(())
    }

    /// The settings `settings` checked (read now if it was not called).
    fn resolved(&self) -> &(ClientSettings, Option<Profile>) {
        self.resolved.get_or_init(|| self.layers().unwrap_or_default())
    }

    /// `--bootstrap`/`BROOK_BOOTSTRAP`, else `-X bootstrap.servers`, else the profile's,
    /// else 127.0.0.1:9092.
    pub fn bootstrap(&self) -> String {
        let (settings, profile) = self.resolved();
        self.bootstrap
            .clone()
            .or_else(|| settings.bootstrap().map(str::to_owned))
            .or_else(|| profile.as_ref().map(|p| p.bootstrap.clone()))
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP.to_owned())
    }

    pub fn client(&self) -> Client {
        let bootstrap = self.bootstrap();
        // The values were checked by `settings`; a failure here cannot happen.
        let config = self
            .resolved()
            .0
            .client_config(&bootstrap)
            .unwrap_or_else(|_| brook_client::ClientConfig::new(bootstrap));
        Client::new(config)
    }

    /// `base` (from the command's flags) with the -X producer settings over it.
    pub fn producer_config(&self, base: ProducerConfig) -> Result<ProducerConfig> {
        self.resolved().0.producer_config(base)
    }

    /// `base` with the -X consumer settings over it.
    pub fn consumer_config(&self, base: ConsumerConfig) -> Result<ConsumerConfig> {
        self.resolved().0.consumer_config(base)
    }
}
