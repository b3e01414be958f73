//! Shared helpers for Brook's cross-crate integration tests.

use std::path::{Path, PathBuf};

use bytes::Bytes;

/// A request frame recorded from a real Kafka client (see `tests/golden/README.md`).
#[derive(Debug, Clone)]
pub struct GoldenFrame {
    pub name: String,
    /// The client that sent it, e.g. `confluent-kafka-2.16.1`.
    pub client: String,
    pub api_key: i16,
    pub api_version: i16,
    /// The whole frame, size prefix included.
    pub bytes: Bytes,
}

impl GoldenFrame {
    /// The frame without its 4-byte size prefix.
    pub fn body(&self) -> Bytes {
        self.bytes.slice(4..)
    }
}

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/requests")
}

/// Every golden frame, in recording order. Names are `<seq>-<client>-k<key>-v<version>.bin`.
pub fn golden_frames() -> Vec<GoldenFrame> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("tests/golden/requests is part of the repository")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "bin"))
        .collect();
    paths.sort();
    paths.iter().map(|path| parse_golden(path)).collect()
}

fn parse_golden(path: &Path) -> GoldenFrame {
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("utf-8 file name")
        .to_owned();
    let parts: Vec<&str> = name.split('-').collect();
    let [.., key, version] = parts[..] else {
        panic!("unexpected golden file name {name}");
    };
    let number = |s: &str, prefix: char| -> i16 {
        s.strip_prefix(prefix)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad {prefix} field in {name}"))
    };
    GoldenFrame {
        client: parts[1..parts.len() - 2].join("-"),
        api_key: number(key, 'k'),
        api_version: number(version, 'v'),
        bytes: Bytes::from(std::fs::read(path).expect("readable golden frame")),
        name,
    }
}
