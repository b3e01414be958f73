//! `meta.properties` in each data dir: the directory's id (KIP-858), made once when the
//! directory is first used and kept for its life. Whoever holds a directory's lock and
//! shows its id is the broker whose log it is, so a broker restarted after a crash can
//! prove to the controller that it succeeds the dead process, instead of waiting out
//! that process's session.

use std::path::Path;

use brook_protocol::kafka_uuid;
use uuid::Uuid;

use super::mapping::sync_dir;
use super::{IoContext, LogError, Result};

const FILE: &str = "meta.properties";
const KEY: &str = "directory.id";

/// The directory's id, created (written to a temporary name, synced, renamed) if it has
/// none yet. An unreadable id is an error, never silently replaced: the directory would
/// stop being recognised as this broker's. An id in the dashed form Brook wrote before
/// is rewritten in Kafka's 22-character form, keeping its value.
pub fn directory_id(dir: &Path) -> Result<Uuid> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (id, kafka_form) = parse(&text).ok_or_else(|| LogError::Io {
                path: path.display().to_string(),
                source: std::io::Error::other(format!("no valid {KEY} in {FILE}")),
            })?;
            if !kafka_form {
                write(dir, id)?;
            }
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = kafka_uuid::random();
            write(dir, id)?;
            Ok(id)
        }
        Err(e) => Err(e).at(&path),
    }
}

fn write(dir: &Path, id: Uuid) -> Result<()> {
    let path = dir.join(FILE);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let text = format!("version=1\n{KEY}={}\n", kafka_uuid::to_kafka_string(&id));
    std::fs::write(&tmp, text).at(&tmp)?;
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).at(&tmp)?;
    std::fs::rename(&tmp, &path).at(&path)?;
    sync_dir(dir).at(dir)
}

/// The id, and whether it was already in Kafka's form.
fn parse(text: &str) -> Option<(Uuid, bool)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == KEY)
        .and_then(|(_, value)| Some((kafka_uuid::parse(value)?, value.trim().len() == 22)))
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

    #[test]
    fn an_id_in_the_old_dashed_form_is_kept_and_rewritten_in_kafkas_form() {
        let dir = tempfile::tempdir().unwrap();
        let id = Uuid::parse_str("581ca424-180f-4f44-8a8e-14b5a25e8a5d").unwrap();
        std::fs::write(dir.path().join(FILE), format!("version=1\ndirectory.id={id}\n")).unwrap();
        assert_eq!(directory_id(dir.path()).unwrap(), id);
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(text, "version=1\ndirectory.id=WBykJBgPT0SKjhS1ol6KXQ\n");
        assert_eq!(directory_id(dir.path()).unwrap(), id);
    }
}
