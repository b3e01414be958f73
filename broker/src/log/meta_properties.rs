//! `meta.properties` in each data dir: the directory's id (KIP-858), made once when the
//! directory is first used and kept for its life. Whoever holds a directory's lock and
//! shows its id is the broker whose log it is, so a broker restarted after a crash can
//! prove to the controller that it succeeds the dead process, instead of waiting out
//! that process's session.

use std::path::Path;

use uuid::Uuid;

use super::mapping::sync_dir;
use super::{IoContext, LogError, Result};

const FILE: &str = "meta.properties";
const KEY: &str = "directory.id";

/// The directory's id, created (written to a temporary name, synced, renamed) if it has
/// none yet. An unreadable id is an error, never silently replaced: the directory would
/// stop being recognised as this broker's.
pub fn directory_id(dir: &Path) -> Result<Uuid> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).ok_or_else(|| LogError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(format!("no valid {KEY} in {FILE}")),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            let tmp = dir.join(format!("{FILE}.tmp"));
            std::fs::write(&tmp, format!("version=1\n{KEY}={id}\n")).at(&tmp)?;
            std::fs::File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
            std::fs::rename(&tmp, &path).at(&path)?;
            sync_dir(dir).at(dir)?;
            Ok(id)
        }
        Err(e) => Err(e).at(&path),
    }
}

fn parse(text: &str) -> Option<Uuid> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == KEY)
        .and_then(|(_, value)| value.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_keeps_its_id_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let id = directory_id(dir.path()).unwrap();
        assert_eq!(directory_id(dir.path()).unwrap(), id, "read back, not made again");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(directory_id(other.path()).unwrap(), id);

        std::fs::write(dir.path().join(FILE), "version=1\ndirectory.id=garbage\n").unwrap();
        assert!(directory_id(dir.path()).is_err());
    }
}
