//! Snapshots as plain files: `snapshots/<last index>-<term>.snap`, each written to a
//! temporary name, fsynced, renamed into place and the directory fsynced, so a crash
//! leaves either the old snapshot or the new one, never half of one.
//!
//! File layout: `BRKSNAP1`, crc32c of the rest (u32 LE), meta length (u32 LE), the
//! postcard-encoded [`SnapshotMeta`], then the state bytes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::raft::types::SnapshotMeta;

const MAGIC: &[u8; 8] = b"BRKSNAP1";
const SUFFIX: &str = ".snap";
const HEADER_BYTES: usize = MAGIC.len() + 8;

pub struct SnapshotFiles {
    dir: PathBuf,
}

/// A snapshot read back from disk.
pub struct StoredSnapshot {
    pub meta: SnapshotMeta,
    pub data: Vec<u8>,
}

fn corrupt(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("snapshot {}: {what}", path.display()),
    )
}

impl SnapshotFiles {
    pub fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        // Leftovers of a write that crashed before its rename.
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path)?;
            }
        }
        Ok(SnapshotFiles { dir })
    }

    /// Writes a snapshot durably, then removes the older ones.
    pub fn save(&self, meta: &SnapshotMeta, data: &[u8]) -> io::Result<()> {
        let index = meta.last_log_id.map(|id| id.index).unwrap_or(0);
        let term = meta.last_log_id.map(|id| id.leader_id.term).unwrap_or(0);
        let name = format!("{index:020}-{term:020}{SUFFIX}");
        let meta_bytes = postcard::to_stdvec(meta).map_err(io::Error::other)?;
        let mut body = Vec::with_capacity(4 + meta_bytes.len() + data.len());
        body.extend_from_slice(&(meta_bytes.len() as u32).to_le_bytes());
        body.extend_from_slice(&meta_bytes);
        body.extend_from_slice(data);

        let tmp = self.dir.join(format!("{name}.tmp"));
        {
            let mut file = File::create(&tmp)?;
            file.write_all(MAGIC)?;
            file.write_all(&crc32c::crc32c(&body).to_le_bytes())?;
            file.write_all(&body)?;
            file.sync_all()?;
        }
        let path = self.dir.join(&name);
        fs::rename(&tmp, &path)?;
        File::open(&self.dir)?.sync_all()?;
        for old in self.files()? {
            if old != path {
                fs::remove_file(old)?;
            }
        }
        Ok(())
    }

    /// The newest snapshot, if any.
    pub fn latest(&self) -> io::Result<Option<StoredSnapshot>> {
        let Some(path) = self.files()?.pop() else {
            return Ok(None);
        };
        let bytes = fs::read(&path)?;
        if bytes.len() < HEADER_BYTES || &bytes[..MAGIC.len()] != MAGIC {
            return Err(corrupt(&path, "bad header"));
        }
        let crc = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        let body = &bytes[12..];
        if crc32c::crc32c(body) != crc {
            return Err(corrupt(&path, "checksum mismatch"));
        }
        let meta_len = u32::from_le_bytes(body[..4].try_into().expect("4 bytes")) as usize;
        if meta_len > body.len() - 4 {
            return Err(corrupt(&path, "meta length past the end"));
        }
        let meta = postcard::from_bytes(&body[4..4 + meta_len]).map_err(|e| corrupt(&path, &e.to_string()))?;
        Ok(Some(StoredSnapshot {
            meta,
            data: body[4 + meta_len..].to_vec(),
        }))
    }

    /// Snapshot files, oldest first (names sort by index, then term).
    fn files(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<io::Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p.to_str().is_some_and(|s| s.ends_with(SUFFIX)))
            .collect();
        files.sort();
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, LogId, StoredMembership};

    use super::*;

    fn meta(index: u64) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("s{index}"),
        }
    }

    #[test]
    fn the_newest_snapshot_replaces_the_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path().join("snapshots")).unwrap();
        assert!(files.latest().unwrap().is_none());
        files.save(&meta(5), b"five").unwrap();
        files.save(&meta(12), b"twelve").unwrap();
        let latest = files.latest().unwrap().unwrap();
        assert_eq!((latest.meta, latest.data), (meta(12), b"twelve".to_vec()));
        assert_eq!(fs::read_dir(dir.path().join("snapshots")).unwrap().count(), 1);
    }

    #[test]
    fn a_damaged_snapshot_is_an_error_not_a_silent_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(dir.path().to_path_buf()).unwrap();
        files.save(&meta(5), b"state bytes").unwrap();
        let path = files.files().unwrap().pop().unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        fs::write(&path, bytes).unwrap();
        assert_eq!(files.latest().err().unwrap().kind(), io::ErrorKind::InvalidData);
        // A crash before the rename leaves a temporary file that the next open removes.
        fs::write(dir.path().join("x.snap.tmp"), b"partial").unwrap();
        SnapshotFiles::open(dir.path().to_path_buf()).unwrap();
        assert!(!dir.path().join("x.snap.tmp").exists());
    }
}
