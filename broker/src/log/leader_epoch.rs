//! The leader-epoch cache: (epoch, start offset) pairs, one per leader epoch that wrote
//! to this log, checkpointed to `leader-epoch-checkpoint`. Followers use it to find the
//! end of their last common epoch with a new leader (KIP-101, KIP-279).
//!
//! Changes are made in memory and written (atomically, fsync'd) by [`persist`], which
//! the log calls before its recovery point passes them: what the checkpoint lacks after
//! a crash lies above the recovery point, and recovery re-derives it from the batches'
//! `partitionLeaderEpoch` fields. So a new epoch costs no fsync on the append path.
//!
//! [`persist`]: LeaderEpochCache::persist

use std::io;
use std::path::{Path, PathBuf};

use super::checkpoint;

pub const UNDEFINED_EPOCH: i32 = -1;
pub const UNDEFINED_EPOCH_OFFSET: i64 = -1;

/// One leader epoch and the first offset written in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
    /// Changed since the last write.
    dirty: bool,
}

pub(crate) const FILE_NAME: &str = "leader-epoch-checkpoint";

impl LeaderEpochCache {
    /// Loads the checkpoint in `dir`. A damaged file is dropped with a warning: the
    /// cache only speeds up truncation decisions and is rebuilt as batches arrive.
    pub(crate) fn load(dir: &Path) -> Self {
        let path = dir.join(FILE_NAME);
        let entries = checkpoint::read(&path)
            .and_then(|lines| lines.iter().map(|l| parse_entry(l)).collect::<io::Result<Vec<_>>>())
            .unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged leader-epoch checkpoint");
                Vec::new()
            });
        LeaderEpochCache {
            path,
            entries,
            dirty: false,
        }
    }

    pub(crate) fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    /// Records that `epoch` starts at `start_offset`. An epoch already known is a
    /// no-op; entries it contradicts (same or later epoch, same or later offset) go.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 || self.latest_epoch() == Some(epoch) {
            return;
        }
        self.entries
            .retain(|e| e.epoch < epoch && e.start_offset < start_offset);
        self.entries.push(EpochEntry { epoch, start_offset });
        self.dirty = true;
    }

    /// Kafka's `endOffsetFor`: the largest epoch at most `requested`, and the offset
    /// where the next epoch starts (the log end for the latest epoch).
    pub(crate) fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested == UNDEFINED_EPOCH {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        }
        if self.latest_epoch() == Some(requested) {
            return (requested, log_end_offset);
        }
        let Some(higher) = self.entries.iter().find(|e| e.epoch > requested) else {
            return (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET);
        };
        match self.entries.iter().rev().find(|e| e.epoch <= requested) {
            Some(floor) => (floor.epoch, higher.start_offset),
            None => (requested, higher.start_offset),
        }
    }

    /// Drops the epochs that start at or after `end_offset` (the log was truncated).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        self.dirty |= self.entries.len() != before;
    }

    /// Forgets every epoch (the log was emptied).
    pub(crate) fn clear(&mut self) {
        self.truncate_from_end(i64::MIN);
    }

    /// Forgets what lies before `start_offset` (the log start moved): the epoch that
    /// covers it now starts there.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) {
        let covering = self.entries.iter().rposition(|e| e.start_offset <= start_offset);
        if let Some(i) = covering.filter(|&i| i > 0 || self.entries[0].start_offset < start_offset) {
            self.entries.drain(..i);
            self.entries[0].start_offset = start_offset;
            self.dirty = true;
        }
    }

    /// Replaces the epochs from `from` on with `scanned` ((epoch, start) pairs read
    /// from the batches by recovery). Marks the cache changed only if it did.
    pub(crate) fn rederive_from(&mut self, from: i64, scanned: &[(i32, i64)]) {
        let before = self.entries.clone();
        let dirty = self.dirty;
        self.truncate_from_end(from);
        for &(epoch, start) in scanned {
            if self.latest_epoch().is_none_or(|latest| epoch > latest) {
                self.assign(epoch, start);
            }
        }
        self.dirty = dirty || self.entries != before;
    }

    /// Writes the checkpoint if anything changed since the last write.
    pub(crate) fn persist(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let lines: Vec<String> = self
            .entries
            .iter()
            .map(|e| format!("{} {}", e.epoch, e.start_offset))
            .collect();
        checkpoint::write(&self.path, &lines)?;
        self.dirty = false;
        Ok(())
    }
}

fn parse_entry(line: &str) -> io::Result<EpochEntry> {
    let mut fields = line.split_whitespace().map(str::parse::<i64>);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(epoch)), Some(Ok(start_offset)), None) if i32::try_from(epoch).is_ok() => Ok(EpochEntry {
            epoch: epoch as i32,
            start_offset,
        }),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad epoch entry {line:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut cache = LeaderEpochCache::load(dir.path());
        for &(epoch, start) in entries {
            cache.assign(epoch, start);
        }
        cache.persist().unwrap();
        (dir, cache)
    }

    #[test]
    fn end_offset_follows_kafka() {
        let (_dir, cache) = cache(&[(1, 0), (3, 10), (5, 20)]);
        assert_eq!(cache.end_offset_for(5, 30), (5, 30));
        assert_eq!(cache.end_offset_for(3, 30), (3, 20));
        assert_eq!(cache.end_offset_for(4, 30), (3, 20));
        assert_eq!(cache.end_offset_for(2, 30), (1, 10));
        assert_eq!(cache.end_offset_for(0, 30), (0, 0));
        assert_eq!(cache.end_offset_for(6, 30), (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET));
        assert_eq!(
            cache.end_offset_for(UNDEFINED_EPOCH, 30),
            (UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET)
        );
    }

    #[test]
    fn survives_reload_and_truncates_both_ends() {
        let (dir, mut cache) = cache(&[(1, 0), (2, 10), (2, 15), (4, 20)]);
        assert_eq!(LeaderEpochCache::load(dir.path()).entries(), cache.entries());
        cache.truncate_from_end(20);
        assert_eq!(cache.latest_epoch(), Some(2));
        cache.truncate_from_start(12);
        assert_eq!(
            cache.entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 12
            }]
        );
        assert_ne!(
            LeaderEpochCache::load(dir.path()).entries(),
            cache.entries(),
            "not written yet"
        );
        cache.persist().unwrap();
        assert_eq!(LeaderEpochCache::load(dir.path()).entries(), cache.entries());
    }

    #[test]
    fn a_new_leader_epoch_replaces_contradicted_entries() {
        let (_dir, mut cache) = cache(&[(1, 0), (2, 10), (3, 20)]);
        cache.assign(4, 15);
        assert_eq!(
            cache.entries(),
            &[
                EpochEntry {
                    epoch: 1,
                    start_offset: 0
                },
                EpochEntry {
                    epoch: 2,
                    start_offset: 10
                },
                EpochEntry {
                    epoch: 4,
                    start_offset: 15
                }
            ]
        );
    }

    #[test]
    fn a_damaged_checkpoint_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "0\n1\nnot numbers\n").unwrap();
        assert!(LeaderEpochCache::load(dir.path()).entries().is_empty());
    }
}
