//! `--format text|json|yaml` for the admin commands (`topic`, `group`, `cluster`): the
//! same data as a table for people or as JSON or YAML for scripts. Field names are stable
//! (README: "Output formats"); text is the default.

use std::io::Write;

use anyhow::Result;
use clap::{Args, ValueEnum};
use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    Yaml,
}

#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format: text (tables), json or yaml (stable field names).
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub format: Format,
}

/// Prints `value` in `format`; `text` renders the table.
pub fn print<T: Serialize + ?Sized>(format: Format, value: &T, text: impl FnOnce(&T) -> String) -> Result<()> {
    let rendered = match format {
        Format::Text => text(value),
        Format::Json => serde_json::to_string_pretty(value)? + "\n",
        Format::Yaml => serde_yaml::to_string(value)?,
    };
    let mut out = std::io::stdout().lock();
    out.write_all(rendered.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        name: &'static str,
        partitions: usize,
    }

    #[test]
    fn json_and_yaml_carry_the_same_fields() {
        let rows = vec![Row {
            name: "orders",
            partitions: 3,
        }];
        let json: serde_json::Value = serde_json::from_str(&serde_json::to_string(&rows).unwrap()).unwrap();
        assert_eq!(json[0]["name"], "orders");
        let yaml = serde_yaml::to_string(&rows).unwrap();
        assert!(yaml.contains("name: orders"), "{yaml}");
        assert!(yaml.contains("partitions: 3"), "{yaml}");
    }
}
