//! Moving a partition's log to another data dir (AlterReplicaLogDirs). Kafka copies into
//! a "future" replica while the current one keeps serving; Brook closes the log, moves
//! its directory (a rename within one file system, a copy otherwise) and opens it again,
//! so the partition is unavailable on this broker for the length of the move
//! (docs/compatibility.md).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{LogManager, TopicPartition};
use crate::log::error::{IoContext, LogError, Result};
use crate::log::mapping::sync_dir;
use crate::log::partition_log::{LogOffsets, PartitionLog};

impl LogManager {
    /// The data dir (one of `log.dirs`) that `path` names, as configured or once both
    /// are made absolute.
    pub fn data_dir(&self, path: &str) -> Option<PathBuf> {
        let wanted = Path::new(path);
        let absolute = wanted.canonicalize().ok();
        self.dirs
            .iter()
            .find(|d| d.path == wanted || (absolute.is_some() && d.path.canonicalize().ok() == absolute))
            .map(|d| d.path.clone())
    }

    /// Creates `tp`'s log in `dir` (a path `data_dir` returned) when it comes to this
    /// broker, as Kafka remembers AlterReplicaLogDirs for a replica not there yet.
    pub fn prefer_dir(&self, tp: &TopicPartition, dir: PathBuf) {
        self.preferred_dirs.lock().insert(tp.clone(), dir);
    }

    /// The data dir holding `tp`'s log.
    pub fn dir_of(&self, tp: &TopicPartition) -> Option<PathBuf> {
        self.get(tp)?.dir().parent().map(Path::to_path_buf)
    }

    /// Moves `tp`'s log into `target` (a path `data_dir` returned): closes it, moves its
    /// directory and opens it again with the same offsets, then writes the checkpoints
    /// so a crash after the move recovers it from its new dir. The caller keeps the log
    /// from being used meanwhile (`ReplicaManager::move_replica`).
    pub fn relocate(&self, tp: &TopicPartition, target: &Path) -> Result<()> {
        let Some(log) = self.logs.write().remove(tp) else {
            return Err(LogError::Closed(tp.to_string()));
        };
        let from = log.dir().to_path_buf();
        let to = target.join(tp.to_string());
        let offsets = LogOffsets {
            recovery_point: log.recovery_point(),
            log_start_offset: log.log_start_offset(),
            high_watermark: log.high_watermark(),
        };
        let config = (*log.config()).clone();
        let clean = log.close()?;
        drop(log);
        let moved = if to.exists() {
            Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)).at(&to)
        } else {
            move_dir(&from, &to)
        };
        // Opened again where it now is, or where it stayed if the move failed.
        let at = if moved.is_ok() { &to } else { &from };
        let reopened = PartitionLog::open(at, config, offsets, clean)?;
        self.logs.write().insert(tp.clone(), Arc::new(reopened));
        moved?;
        tracing::info!(partition = %tp, from = %from.display(), to = %to.display(), "moved log");
        self.checkpoint()
    }
}

/// Renames `from` to `to`, or copies it (each file synced) and removes `from` when they
/// are on different file systems; both parents are synced.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            copy_dir(from, to)?;
            sync_dir(to).at(to)?;
            std::fs::remove_dir_all(from).at(from)?;
        }
        Err(e) => return Err(e).at(from),
    }
    for parent in [from.parent(), to.parent()].into_iter().flatten() {
        sync_dir(parent).at(parent)?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir(to).at(to)?;
    for entry in std::fs::read_dir(from).at(from)? {
        let entry = entry.at(from)?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        std::fs::copy(&source, &dest).at(&source)?;
        std::fs::File::open(&dest).and_then(|f| f.sync_all()).at(&dest)?;
    }
    Ok(())
}
