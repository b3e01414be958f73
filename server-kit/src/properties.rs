//! Kafka-style `key = value` settings, from a TOML file, `BROOK_*` environment variables
//! and `--flags`, later sources overriding earlier ones. Shared by every Brook process.
//!
//! TOML tables flatten to dotted keys, so `node.id = 1` and `"node.id" = 1` are the same
//! setting. Each process declares its keys ([`ConfigKey`]); an unknown key is an error,
//! so a typo does not silently fall back to a default.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// One setting a process accepts.
#[derive(Debug, Clone, Copy)]
pub struct ConfigKey {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

impl ConfigKey {
    /// `node.id` -> `--node-id`.
    pub fn flag(&self) -> String {
        self.name.replace(['.', '_'], "-")
    }

    /// `node.id` -> `BROOK_NODE_ID`.
    pub fn env_var(&self) -> String {
        format!("BROOK_{}", self.name.replace(['.', '-'], "_").to_ascii_uppercase())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("unknown setting {0:?}")]
    UnknownKey(String),
    #[error("missing required setting {0:?}")]
    Missing(&'static str),
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid { key: String, value: String, reason: String },
}

impl ConfigError {
    /// `value` is not a valid `key`, for `reason`.
    pub fn invalid(key: &ConfigKey, value: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.name.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    values: BTreeMap<String, String>,
}

impl Properties {
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::from_toml_str(&text).map_err(|reason| ConfigError::Read {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn from_toml_str(text: &str) -> Result<Self, String> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let mut properties = Properties::default();
        flatten("", &table, &mut properties.values);
        Ok(properties)
    }

    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.values.insert(key.into(), value.into());
    }

    /// Overrides with every `BROOK_*` variable that names one of `keys`.
    pub fn merge_env(&mut self, keys: &[ConfigKey], env: impl Fn(&str) -> Option<String>) {
        for key in keys {
            if let Some(value) = env(&key.env_var()) {
                self.set(key.name, value);
            }
        }
    }

    /// Fails on the first key not in `keys`.
    pub fn check_known(&self, keys: &[ConfigKey]) -> Result<(), ConfigError> {
        match self
            .values
            .keys()
            .find(|k| !keys.iter().any(|key| key.name == k.as_str()))
        {
            Some(unknown) => Err(ConfigError::UnknownKey(unknown.clone())),
            None => Ok(()),
        }
    }

    /// Every key given (file, environment or flag), with its value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The value parsed, or the key's declared default, or `None`.
    pub fn parse<T: FromStr>(&self, key: &ConfigKey) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        let Some(value) = self.get(key.name).or(key.default) else {
            return Ok(None);
        };
        value
            .trim()
            .parse()
            .map(Some)
            .map_err(|e: T::Err| ConfigError::Invalid {
                key: key.name.to_string(),
                value: value.to_string(),
                reason: e.to_string(),
            })
    }

    pub fn require<T: FromStr>(&self, key: &ConfigKey) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.parse(key)?.ok_or(ConfigError::Missing(key.name))
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            toml::Value::String(s) => {
                out.insert(name, s.clone());
            }
            toml::Value::Array(items) => {
                let joined: Vec<String> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
                    .collect();
                out.insert(name, joined.join(","));
            }
            other => {
                out.insert(name, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[ConfigKey] = &[
        ConfigKey {
            name: "node.id",
            default: None,
            help: "",
        },
        ConfigKey {
            name: "broker.session.timeout.ms",
            default: Some("6000"),
            help: "",
        },
    ];

    #[test]
    fn nested_and_quoted_dotted_keys_are_the_same_setting() {
        let nested = Properties::from_toml_str("[node]\nid = 3\n").unwrap();
        let quoted = Properties::from_toml_str("\"node.id\" = 3\n").unwrap();
        let dotted = Properties::from_toml_str("node.id = 3\n").unwrap();
        assert_eq!(nested, quoted);
        assert_eq!(nested, dotted);
        assert_eq!(nested.require::<u64>(&KEYS[0]).unwrap(), 3);
    }

    #[test]
    fn env_overrides_the_file_and_defaults_fill_the_rest() {
        let mut props = Properties::from_toml_str("node.id = 3").unwrap();
        props.merge_env(KEYS, |name| (name == "BROOK_NODE_ID").then(|| "7".to_string()));
        assert_eq!(props.require::<u64>(&KEYS[0]).unwrap(), 7);
        assert_eq!(props.require::<u64>(&KEYS[1]).unwrap(), 6000);
        assert_eq!(KEYS[1].flag(), "broker-session-timeout-ms");
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let props = Properties::from_toml_str("node.idd = 3").unwrap();
        assert_eq!(props.check_known(KEYS), Err(ConfigError::UnknownKey("node.idd".into())));
        let props = Properties::from_toml_str("node.id = \"three\"").unwrap();
        assert!(matches!(
            props.require::<u64>(&KEYS[0]),
            Err(ConfigError::Invalid { .. })
        ));
        assert_eq!(
            Properties::default().require::<u64>(&KEYS[0]),
            Err(ConfigError::Missing("node.id"))
        );
    }
}
