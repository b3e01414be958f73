//! Node settings from the command line: `--config FILE` (TOML), then `BROOK_*`
//! environment variables, then one `--flag` per setting, each overriding the one before.
//! The flags are generated from the node's list of keys, so help and names never drift.

use std::path::PathBuf;

use anyhow::{Context, Result};
use brook_server_kit::properties::{ConfigKey, Properties};
use clap::{Arg, ArgMatches, Command};

/// Adds `--config` and one flag (with its env var) per key to `command`.
pub fn with_key_flags(command: Command, keys: &[ConfigKey]) -> Command {
    let config = Arg::new("config")
        .long("config")
        .value_name("FILE")
        .value_parser(clap::value_parser!(PathBuf))
        .help("TOML file with the settings below (Kafka names, e.g. node.id = 1)");
    keys.iter().fold(command.arg(config), |command, key| {
        let mut help = key.help.to_string();
        if let Some(default) = key.default {
            help.push_str(&format!(" [default: {default}]"));
        }
        command.arg(
            Arg::new(key.name)
                .long(key.flag())
                .env(key.env_var())
                .value_name("VALUE")
                .help(help),
        )
    })
}

/// The merged settings of a subcommand's matches.
pub fn properties(matches: &ArgMatches, keys: &[ConfigKey]) -> Result<Properties> {
    let mut properties = match matches.get_one::<PathBuf>("config") {
        Some(path) => Properties::from_toml_file(path).context("reading the config file")?,
        None => Properties::default(),
    };
    for key in keys {
        if let Some(value) = matches.get_one::<String>(key.name) {
            properties.set(key.name, value.clone());
        }
    }
    Ok(properties)
}
