//! `partition.metadata`: the id of the topic a partition directory belongs to, as Kafka
//! keeps it, so a log left by an older topic of the same name is recognised.

use std::io;
use std::path::Path;

pub(crate) const FILE_NAME: &str = "partition.metadata";

/// The topic id recorded in `dir`, if the file is there and reads as one.
pub(crate) fn read(dir: &Path) -> Option<uuid::Uuid> {
    let text = std::fs::read_to_string(dir.join(FILE_NAME)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("topic_id: "))
        .and_then(|id| id.trim().parse().ok())
}

/// Records `topic_id` in `dir`: written to a temporary name, synced and renamed, so a
/// crash leaves the old file or the new one, never half of one. (A crash that loses the
/// rename leaves no file, and the next start records the id again.)
pub(crate) fn write(dir: &Path, topic_id: uuid::Uuid) -> io::Result<()> {
    let path = dir.join(FILE_NAME);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("version: 0\ntopic_id: {topic_id}\n"))?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_id_reads_back_and_garbage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()), None);
        let id = uuid::Uuid::new_v4();
        write(dir.path(), id).unwrap();
        assert_eq!(read(dir.path()), Some(id));
        assert!(!dir.path().join("partition.tmp").exists());
        std::fs::write(dir.path().join(FILE_NAME), "version: 0\ntopic_id: nope\n").unwrap();
        assert_eq!(read(dir.path()), None);
    }
}
