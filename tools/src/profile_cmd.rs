//! Named connection profiles, as `rpk profile`: a bootstrap list and client settings
//! under a name, one of them current, kept in a TOML file (`$BROOK_CONFIG`, else
//! `~/.config/brook/profiles.toml`). Every client command uses the current profile, or
//! the one `--profile` / `BROOK_PROFILE` names; its flags, `-X` and `-F` win over it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::{Deserialize, Serialize};

#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Create a profile (or replace one of that name) and make it current.
    #[command(after_help = "Examples:
  brook profile create local -b 127.0.0.1:9092
  brook profile create staging -b kafka-1:9092,kafka-2:9092 -X client.id=me -X request.timeout.ms=10000")]
    Create {
        name: String,
        /// Brokers to start from (host:port, comma-separated).
        #[arg(long, short = 'b')]
        bootstrap: String,
        /// A client setting (`key=value`, as `-X` on the client commands); repeatable.
        #[arg(short = 'X', value_name = "KEY=VALUE", value_parser = crate::connect::key_value)]
        settings: Vec<(String, String)>,
    },
    /// Make a profile current.
    Use { name: String },
    /// List the profiles; the current one is marked `*`.
    List,
    /// Delete a profile.
    Delete { name: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub bootstrap: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Profiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    current: Option<String>,
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

fn path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BROOK_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").context("neither BROOK_CONFIG nor HOME is set")?;
    Ok(PathBuf::from(home).join(".config/brook/profiles.toml"))
}

fn load() -> Result<Profiles> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn save(profiles: &Profiles) -> Result<()> {
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = toml::to_string_pretty(profiles)?;
    // Written aside and renamed, so a crash never leaves half a file.
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, text).with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The profile a client command uses: `name` if given (it must exist), else the current
/// one, else none.
pub fn active(name: Option<&str>) -> Result<Option<Profile>> {
    let profiles = load()?;
    match name {
        Some(name) => match profiles.profiles.get(name) {
            Some(profile) => Ok(Some(profile.clone())),
            None => bail!("no profile {name:?} (brook profile list)"),
        },
        None => Ok(profiles
            .current
            .as_ref()
            .and_then(|current| profiles.profiles.get(current).cloned())),
    }
}

pub fn run(command: ProfileCommand) -> Result<()> {
    let mut profiles = load()?;
    match command {
        ProfileCommand::Create {
            name,
            bootstrap,
            settings,
        } => {
            // The settings must be ones a client command could apply.
            crate::client_settings::ClientSettings::load(None, &settings)?.check(crate::client_settings::Uses::Both)?;
            let profile = Profile {
                bootstrap,
                settings: settings.into_iter().collect(),
            };
            profiles.profiles.insert(name.clone(), profile);
            profiles.current = Some(name.clone());
            save(&profiles)?;
            println!("created profile {name} and made it current");
        }
        ProfileCommand::Use { name } => {
            if !profiles.profiles.contains_key(&name) {
                bail!("no profile {name:?} (brook profile list)");
            }
            profiles.current = Some(name.clone());
            save(&profiles)?;
            println!("profile {name} is current");
        }
        ProfileCommand::List => {
            println!("  {:<24} BOOTSTRAP", "NAME");
            for (name, profile) in &profiles.profiles {
                let mark = if profiles.current.as_ref() == Some(name) {
                    "*"
                } else {
                    " "
                };
                println!("{mark} {name:<24} {}", profile.bootstrap);
            }
        }
        ProfileCommand::Delete { name } => {
            if profiles.profiles.remove(&name).is_none() {
                bail!("no profile {name:?} (brook profile list)");
            }
            if profiles.current.as_ref() == Some(&name) {
                profiles.current = None;
            }
            save(&profiles)?;
            println!("deleted profile {name}");
        }
    }
    Ok(())
}
