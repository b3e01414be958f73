//! The Raft log and vote, durable in a redb database (`raft.redb`).
//!
//! Every write is one redb transaction committed with fsync, on a blocking thread so
//! the Raft core's task never waits on the disk. openraft hands several entries to one
//! `append` when writes queue up, so concurrent proposals share one fsync.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use crate::raft::types::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    /// The last committed index openraft reported, for metrics.
    committed: Arc<AtomicU64>,
}

/// Runs a redb operation on a blocking thread and maps its failure with `to_error`.
async fn blocking<T: Send + 'static>(
    db: &Arc<Database>,
    to_error: fn(openraft::AnyError) -> StorageIOError<u64>,
    op: impl FnOnce(&Database) -> Result<T, String> + Send + 'static,
) -> Result<T, StorageError> {
    let db = Arc::clone(db);
    let outcome = tokio::task::spawn_blocking(move || op(&db))
        .await
        .unwrap_or_else(|e| Err(format!("storage task failed: {e}")));
    outcome.map_err(|message| to_error(openraft::AnyError::error(message)).into())
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl LogStore {
    pub fn open(path: &Path) -> Result<Self, redb::DatabaseError> {
        let db = Database::create(path)?;
        Ok(LogStore {
            db: Arc::new(db),
            committed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Shared with metrics: the commit index as this node knows it.
    pub fn committed_index(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.committed)
    }

    fn read_meta<T: serde::de::DeserializeOwned>(db: &Database, key: &str) -> Result<Option<T>, String> {
        let txn = db.begin_read().map_err(text)?;
        let table = match txn.open_table(META) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let Some(value) = table.get(key).map_err(text)? else {
            return Ok(None);
        };
        postcard::from_bytes(value.value()).map(Some).map_err(text)
    }

    fn write_meta<T: serde::Serialize>(db: &Database, key: &str, value: &T, durable: bool) -> Result<(), String> {
        let bytes = postcard::to_stdvec(value).map_err(text)?;
        let mut txn = db.begin_write().map_err(text)?;
        if !durable {
            txn.set_durability(Durability::None).map_err(text)?;
        }
        txn.open_table(META)
            .map_err(text)?
            .insert(key, bytes.as_slice())
            .map_err(text)?;
        txn.commit().map_err(text)
    }

    fn last_entry_log_id(db: &Database) -> Result<Option<LogId>, String> {
        let txn = db.begin_read().map_err(text)?;
        let table = match txn.open_table(LOGS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let Some((_, value)) = table.last().map_err(text)? else {
            return Ok(None);
        };
        let entry: Entry = postcard::from_bytes(value.value()).map_err(text)?;
        Ok(Some(entry.log_id))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        blocking(&self.db, StorageIOError::read_logs, move |db| {
            let txn = db.begin_read().map_err(text)?;
            let table = match txn.open_table(LOGS) {
                Ok(table) => table,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
                Err(e) => return Err(e.to_string()),
            };
            let range: (Bound<u64>, Bound<u64>) = (start, end);
            let mut entries = Vec::new();
            for item in table.range(range).map_err(text)? {
                let (_, value) = item.map_err(text)?;
                entries.push(postcard::from_bytes(value.value()).map_err(text)?);
            }
            Ok(entries)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        blocking(&self.db, StorageIOError::read_logs, |db| {
            let last_purged_log_id: Option<LogId> = Self::read_meta(db, LAST_PURGED)?;
            let last_log_id = Self::last_entry_log_id(db)?.or(last_purged_log_id);
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        blocking(&self.db, StorageIOError::write_vote, move |db| {
            Self::write_meta(db, VOTE, &vote, true)
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        blocking(&self.db, StorageIOError::read_vote, |db| Self::read_meta(db, VOTE)).await
    }

    /// The committed index only saves re-applying after a restart, so it is written
    /// without its own fsync; the next durable commit carries it.
    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.committed
            .store(committed.map(|id| id.index).unwrap_or(0), Ordering::Relaxed);
        blocking(&self.db, StorageIOError::write, move |db| {
            Self::write_meta(db, COMMITTED, &committed, false)
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        blocking(&self.db, StorageIOError::read, |db| {
            Ok(Self::read_meta::<Option<LogId>>(db, COMMITTED)?.flatten())
        })
        .await
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes = postcard::to_stdvec(&entry).map_err(|e| StorageIOError::write_logs(&e))?;
            encoded.push((entry.log_id.index, bytes));
        }
        let result = blocking(&self.db, StorageIOError::write_logs, move |db| {
            let txn = db.begin_write().map_err(text)?;
            {
                let mut table = txn.open_table(LOGS).map_err(text)?;
                for (index, bytes) in &encoded {
                    table.insert(index, bytes.as_slice()).map_err(text)?;
                }
            }
            txn.commit().map_err(text)
        })
        .await;
        // Tell openraft only once the entries are on disk.
        callback.log_io_completed(
            result
                .as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        result
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.db, StorageIOError::write_logs, move |db| {
            let txn = db.begin_write().map_err(text)?;
            txn.open_table(LOGS)
                .map_err(text)?
                .retain_in(log_id.index.., |_, _| false)
                .map_err(text)?;
            txn.commit().map_err(text)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        blocking(&self.db, StorageIOError::write_logs, move |db| {
            let bytes = postcard::to_stdvec(&log_id).map_err(text)?;
            let txn = db.begin_write().map_err(text)?;
            txn.open_table(META)
                .map_err(text)?
                .insert(LAST_PURGED, bytes.as_slice())
                .map_err(text)?;
            txn.open_table(LOGS)
                .map_err(text)?
                .retain_in(..=log_id.index, |_, _| false)
                .map_err(text)?;
            txn.commit().map_err(text)
        })
        .await
    }
}
