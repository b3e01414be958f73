//! All partition logs of a broker, under one or more data dirs (docs/architecture.md).
//!
//! Per data dir: one directory per partition (`<topic>-<partition>`), the checkpoints
//! `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint` and
//! `replication-offset-checkpoint` (high watermarks), a `.lock` held with flock so two
//! brokers never share a dir, and `.brook_cleanshutdown`, written last by a clean
//! shutdown and removed at startup. One maintenance thread flushes (`flush.ms`, rolled
//! segments), applies retention, writes the checkpoints, unmaps idle segments and
//! removes deleted partitions, all off the request path.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};

use super::checkpoint;
use super::clock::now_ms;
use super::config::LogConfig;
use super::error::{IoContext, LogError, Result};
use super::mapping::{sync_dir, sync_file_system};
use super::partition_log::{LogOffsets, PartitionLog};

mod relocate;

const RECOVERY_POINT_CHECKPOINT: &str = "recovery-point-offset-checkpoint";
const LOG_START_OFFSET_CHECKPOINT: &str = "log-start-offset-checkpoint";
const HIGH_WATERMARK_CHECKPOINT: &str = "replication-offset-checkpoint";
const CLEAN_SHUTDOWN_MARKER: &str = ".brook_cleanshutdown";
const LOCK_FILE: &str = ".lock";
/// Suffix of a partition directory waiting to be removed.
const DELETE_SUFFIX: &str = "-delete";

/// A topic name and partition index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// Parses a partition directory name, `<topic>-<partition>`.
    pub fn from_dir_name(name: &str) -> Option<Self> {
        let (topic, partition) = name.rsplit_once('-')?;
        let partition = partition.parse().ok().filter(|p: &i32| *p >= 0)?;
        (!topic.is_empty()).then(|| TopicPartition::new(topic, partition))
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Broker-level storage settings (Kafka's names in the docs).
#[derive(Debug, Clone)]
pub struct LogManagerConfig {
    /// `log.dirs`.
    pub data_dirs: Vec<PathBuf>,
    /// Topic defaults (`log.segment.bytes`, `log.retention.ms`, ...).
    pub log_config: LogConfig,
    /// `log.flush.scheduler.interval.ms`: how often `flush.ms` is checked.
    pub flush_check_interval: Duration,
    /// `log.retention.check.interval.ms`.
    pub retention_check_interval: Duration,
    /// `log.flush.offset.checkpoint.interval.ms`: how often checkpoints are written.
    pub checkpoint_interval: Duration,
    /// `file.delete.delay.ms`: how long a deleted partition's files wait.
    pub file_delete_delay: Duration,
    /// Sealed segments unread this long are unmapped (mapped again on the next read).
    pub segment_idle_unmap: Duration,
    /// `num.recovery.threads.per.data.dir`: threads that open, recover and close the
    /// logs of each data dir.
    pub recovery_threads: usize,
}

impl LogManagerConfig {
    pub fn new(data_dirs: Vec<PathBuf>) -> Self {
        LogManagerConfig {
            data_dirs,
            log_config: LogConfig::default(),
            flush_check_interval: Duration::from_secs(1),
            retention_check_interval: Duration::from_secs(300),
            checkpoint_interval: Duration::from_secs(60),
            file_delete_delay: Duration::from_secs(60),
            segment_idle_unmap: Duration::from_secs(600),
            recovery_threads: 16,
        }
    }
}

#[derive(Debug)]
struct DataDir {
    path: PathBuf,
    /// Held (flock) for the manager's lifetime.
    _lock: File,
    /// From the dir's `meta.properties`.
    id: uuid::Uuid,
    /// Whether the last stop of this dir was clean.
    was_clean: bool,
}

/// One data dir as DescribeLogDirs reports it.
#[derive(Debug)]
pub struct DirUsage {
    pub path: PathBuf,
    /// The file system's (total, usable) bytes; `Err` when it cannot be read.
    pub space: std::io::Result<(u64, u64)>,
    pub partitions: Vec<(TopicPartition, u64)>,
}

/// The total and usable (available to this process) bytes of the file system holding
/// `path`, as `df` shows them.
fn disk_space(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: c_path is NUL-terminated and stat points to writable memory of the right size.
    if unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    let block = stat.f_frsize;
    Ok((stat.f_blocks * block, stat.f_bavail * block))
}

/// Every partition log of the broker.
#[derive(Debug)]
pub struct LogManager {
    config: LogManagerConfig,
    dirs: Vec<DataDir>,
    logs: RwLock<HashMap<TopicPartition, Arc<PartitionLog>>>,
    /// Renamed partition dirs and when to remove them.
    pending_deletes: Mutex<Vec<(PathBuf, Instant)>>,
    /// The data dir asked for a partition not hosted yet (AlterReplicaLogDirs), used
    /// when its log is created.
    preferred_dirs: Mutex<HashMap<TopicPartition, PathBuf>>,
    stop: Arc<StopSignal>,
    maintenance: Mutex<Option<JoinHandle<()>>>,
}

impl LogManager {
    /// Opens every partition under the data dirs (recovering those of a dir whose last
    /// stop was unclean) and starts the maintenance thread.
    pub fn open(config: LogManagerConfig) -> Result<Arc<LogManager>> {
        config.log_config.validate().map_err(LogError::InvalidConfig)?;
        let mut dirs = Vec::new();
        let mut pending_deletes = Vec::new();
        let mut logs = HashMap::new();
        let started = Instant::now();
        for path in &config.data_dirs {
            let dir = open_data_dir(path)?;
            let found = list_partitions(path).at(path)?;
            pending_deletes.extend(found.deleted.into_iter().map(|p| (p, Instant::now())));
            let offsets = read_offsets(path);
            let opened = open_partitions(&dir, found.partitions, &offsets, &config)?;
            logs.extend(opened);
            dirs.push(dir);
        }
        tracing::info!(
            partitions = logs.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "opened logs"
        );
        let manager = Arc::new(LogManager {
            config,
            dirs,
            logs: RwLock::new(logs),
            pending_deletes: Mutex::new(pending_deletes),
            preferred_dirs: Mutex::new(HashMap::new()),
            stop: Arc::new(StopSignal::default()),
            maintenance: Mutex::new(None),
        });
        let weak = Arc::downgrade(&manager);
        let stop = Arc::clone(&manager.stop);
        let handle = std::thread::Builder::new()
            .name("brook-log-maintenance".into())
            .spawn(move || maintenance_loop(weak, &stop))
            .at(Path::new("brook-log-maintenance"))?;
        *manager.maintenance.lock() = Some(handle);
        Ok(manager)
    }

    pub fn config(&self) -> &LogManagerConfig {
        &self.config
    }

    /// The ids of the data dirs (their `meta.properties`), sorted: with the dirs'
    /// locks held, they prove which broker's logs these are.
    pub fn directory_ids(&self) -> Vec<uuid::Uuid> {
        let mut ids: Vec<uuid::Uuid> = self.dirs.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids
    }

    /// Whether every data dir's last stop was a clean shutdown.
    pub fn was_clean(&self) -> bool {
        self.dirs.iter().all(|d| d.was_clean)
    }

    /// Each data dir with its disk's size and free space and the partitions it holds
    /// (with their sizes), for DescribeLogDirs.
    pub fn describe_dirs(&self) -> Vec<DirUsage> {
        // The partitions under the lock; the file systems (a syscall each) after it.
        let held: Vec<Vec<(TopicPartition, u64)>> = {
            let logs = self.logs.read();
            self.dirs
                .iter()
                .map(|dir| {
                    let mut partitions: Vec<(TopicPartition, u64)> = logs
                        .iter()
                        .filter(|(_, log)| log.dir().parent() == Some(dir.path.as_path()))
                        .map(|(tp, log)| (tp.clone(), log.size_bytes()))
                        .collect();
                    partitions.sort();
                    partitions
                })
                .collect()
        };
        self.dirs
            .iter()
            .zip(held)
            .map(|(dir, partitions)| DirUsage {
                path: dir.path.clone(),
                space: disk_space(&dir.path),
                partitions,
            })
            .collect()
    }

    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<PartitionLog>> {
        self.logs.read().get(tp).cloned()
    }

    pub fn partitions(&self) -> Vec<TopicPartition> {
        let mut partitions: Vec<_> = self.logs.read().keys().cloned().collect();
        partitions.sort();
        partitions
    }

    pub fn len(&self) -> usize {
        self.logs.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The log of `tp`, created (in the data dir asked for it, else the one with the
    /// fewest partitions) with `config` if it does not exist yet.
    pub fn get_or_create(&self, tp: &TopicPartition, config: Option<LogConfig>) -> Result<Arc<PartitionLog>> {
        if let Some(log) = self.get(tp) {
            return Ok(log);
        }
        let mut logs = self.logs.write();
        if let Some(log) = logs.get(tp) {
            return Ok(Arc::clone(log));
        }
        let config = config.unwrap_or_else(|| self.config.log_config.clone());
        config
            .validate()
            .map_err(|e| LogError::InvalidConfig(format!("{tp}: {e}")))?;
        let preferred = self.preferred_dirs.lock().remove(tp);
        let data_dir = preferred
            .and_then(|path| self.dirs.iter().find(|d| d.path == path))
            .unwrap_or_else(|| self.least_loaded_dir(&logs));
        let dir = data_dir.path.join(tp.to_string());
        let log = Arc::new(PartitionLog::open(&dir, config, LogOffsets::default(), true)?);
        sync_dir(&data_dir.path).at(&data_dir.path)?;
        logs.insert(tp.clone(), Arc::clone(&log));
        tracing::info!(partition = %tp, dir = %dir.display(), "created log");
        Ok(log)
    }

    /// The data dir holding the fewest partitions (Kafka's placement rule).
    fn least_loaded_dir(&self, logs: &HashMap<TopicPartition, Arc<PartitionLog>>) -> &DataDir {
        if self.dirs.len() == 1 {
            return &self.dirs[0];
        }
        let mut counts: HashMap<&Path, usize> = self.dirs.iter().map(|d| (d.path.as_path(), 0)).collect();
        for log in logs.values() {
            if let Some(count) = log.dir().parent().and_then(|p| counts.get_mut(p)) {
                *count += 1;
            }
        }
        self.dirs
            .iter()
            .min_by_key(|d| counts[d.path.as_path()])
            .expect("at least one data dir")
    }

    /// Deletes a partition: its directory is renamed at once (so a restart does not
    /// bring it back) and removed after `file.delete.delay.ms`. Returns whether it
    /// existed.
    pub fn delete(&self, tp: &TopicPartition) -> Result<bool> {
        let Some(log) = self.logs.write().remove(tp) else {
            return Ok(false);
        };
        log.mark_deleted();
        let dir = log.dir().to_path_buf();
        let renamed = dir.with_file_name(format!("{tp}.{:x}{DELETE_SUFFIX}", now_nanos()));
        std::fs::rename(&dir, &renamed).at(&dir)?;
        if let Some(parent) = renamed.parent() {
            sync_dir(parent).at(parent)?;
        }
        self.pending_deletes
            .lock()
            .push((renamed, Instant::now() + self.config.file_delete_delay));
        Ok(true)
    }

    /// Writes the recovery-point, log-start and high-watermark checkpoints of every
    /// data dir.
    pub fn checkpoint(&self) -> Result<()> {
        let logs: Vec<(TopicPartition, Arc<PartitionLog>)> = self
            .logs
            .read()
            .iter()
            .map(|(tp, log)| (tp.clone(), Arc::clone(log)))
            .collect();
        for dir in &self.dirs {
            let here: Vec<_> = logs
                .iter()
                .filter(|(_, l)| l.dir().parent() == Some(&dir.path))
                .collect();
            let lines = |value: fn(&PartitionLog) -> i64| -> Vec<String> {
                here.iter()
                    .map(|(tp, log)| format!("{} {} {}", tp.topic, tp.partition, value(log)))
                    .collect()
            };
            let write = |name: &str, lines: Vec<String>| {
                let path = dir.path.join(name);
                checkpoint::write(&path, &lines).at(&path)
            };
            write(RECOVERY_POINT_CHECKPOINT, lines(PartitionLog::recovery_point))?;
            write(LOG_START_OFFSET_CHECKPOINT, lines(PartitionLog::log_start_offset))?;
            write(HIGH_WATERMARK_CHECKPOINT, lines(PartitionLog::high_watermark))?;
        }
        Ok(())
    }

    /// Clean shutdown: stops the maintenance thread, closes every log, syncs each data
    /// dir's file system once (not four fsyncs a log: 10,000 logs took 20 s that way),
    /// writes the checkpoints, and only then the clean-shutdown marker of each data dir
    /// whose logs all closed cleanly and whose sync succeeded.
    pub fn shutdown(&self) -> Result<()> {
        self.stop_maintenance();
        let logs: Vec<Arc<PartitionLog>> = self.logs.read().values().cloned().collect();
        let closed = in_parallel(&logs, self.config.recovery_threads, |log| log.close_unsynced())?;
        let mut unclean_dirs = Vec::new();
        for dir in &self.dirs {
            if let Err(e) = sync_file_system(&dir.path) {
                tracing::error!(dir = %dir.path.display(), error = %e,
                    "syncing the data dir failed; its logs will be recovered on restart");
                unclean_dirs.push(dir.path.clone());
            }
        }
        for (log, clean) in logs.iter().zip(closed) {
            let dir = log.dir().parent().map(Path::to_path_buf);
            if dir.as_ref().is_some_and(|d| unclean_dirs.contains(d)) {
                continue;
            }
            if clean {
                // On disk now: the checkpoint below may say so.
                log.synced_to_end();
            } else {
                // A file longer than its data (a reader held its mapping): the recovery
                // point stays below it, and the next open rescans from there.
                tracing::warn!(
                    partition = log.name(),
                    "log did not close cleanly; it will be recovered on restart"
                );
                unclean_dirs.extend(dir);
            }
        }
        self.checkpoint()?;
        self.remove_deleted(true);
        for dir in &self.dirs {
            if !unclean_dirs.contains(&dir.path) {
                let marker = dir.path.join(CLEAN_SHUTDOWN_MARKER);
                File::create(&marker).and_then(|f| f.sync_all()).at(&marker)?;
                sync_dir(&dir.path).at(&dir.path)?;
            }
        }
        Ok(())
    }

    /// One pass of the background work that is due.
    fn maintain(&self, due: &mut Due) {
        let now = now_ms();
        let logs: Vec<Arc<PartitionLog>> = self.logs.read().values().cloned().collect();
        for log in &logs {
            if let Err(e) = log.flush_if_due(now) {
                tracing::error!(partition = log.name(), error = %e, "background flush failed");
            }
        }
        if due.retention.elapsed() >= self.config.retention_check_interval {
            due.retention = Instant::now();
            let idle_since = now - self.config.segment_idle_unmap.as_millis() as i64;
            for log in &logs {
                if let Err(e) = log.apply_retention(now) {
                    tracing::error!(partition = log.name(), error = %e, "retention failed");
                }
                log.unmap_idle_segments(idle_since);
            }
        }
        if due.checkpoint.elapsed() >= self.config.checkpoint_interval {
            due.checkpoint = Instant::now();
            if let Err(e) = self.checkpoint() {
                tracing::error!(error = %e, "writing checkpoints failed");
            }
        }
        self.remove_deleted(false);
    }

    /// Removes renamed partition dirs whose delay has passed (all of them if `all`).
    fn remove_deleted(&self, all: bool) {
        let now = Instant::now();
        let due: Vec<PathBuf> = {
            let mut pending = self.pending_deletes.lock();
            let (due, waiting) = pending.drain(..).partition(|(_, at)| all || *at <= now);
            *pending = waiting;
            due.into_iter().map(|(path, _)| path).collect()
        };
        for path in due {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::error!(dir = %path.display(), error = %e, "removing a deleted partition failed");
            }
        }
    }

    fn tick(&self) -> Duration {
        self.config
            .flush_check_interval
            .min(self.config.retention_check_interval)
            .min(self.config.checkpoint_interval)
            .max(Duration::from_millis(10))
    }

    fn stop_maintenance(&self) {
        self.stop.raise();
        let handle = self.maintenance.lock().take();
        if let Some(handle) = handle.filter(|h| h.thread().id() != std::thread::current().id()) {
            let _ = handle.join();
        }
    }
}

impl Drop for LogManager {
    /// Without [`LogManager::shutdown`], the files stay as a crash would leave them
    /// (minus nothing: written bytes are in the page cache) and the next open recovers.
    fn drop(&mut self) {
        self.stop_maintenance();
    }
}

struct Due {
    retention: Instant,
    checkpoint: Instant,
}

/// Tells the maintenance thread to stop, waking it from its sleep.
#[derive(Debug, Default)]
struct StopSignal {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl StopSignal {
    fn raise(&self) {
        *self.stopped.lock() = true;
        self.wake.notify_all();
    }

    /// Sleeps up to `timeout`; returns whether a stop was raised.
    fn wait(&self, timeout: Duration) -> bool {
        let mut stopped = self.stopped.lock();
        if !*stopped {
            self.wake.wait_for(&mut stopped, timeout);
        }
        *stopped
    }
}

/// Holds the manager only while working, never while sleeping, so dropping the
/// last outside handle drops the manager (and its data dir locks) at once.
fn maintenance_loop(manager: Weak<LogManager>, stop: &StopSignal) {
    let mut due = Due {
        retention: Instant::now(),
        checkpoint: Instant::now(),
    };
    let Some(tick) = manager.upgrade().map(|m| m.tick()) else {
        return;
    };
    while !stop.wait(tick) {
        let Some(manager) = manager.upgrade() else { return };
        manager.maintain(&mut due);
    }
}

fn open_data_dir(path: &Path) -> Result<DataDir> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(path).at(path)?;
    let lock_path = path.join(LOCK_FILE);
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .at(&lock_path)?;
    // SAFETY: a plain syscall on a valid descriptor.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(LogError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other("data dir is locked by another process"),
        });
    }
    let id = super::meta_properties::directory_id(path)?;
    let marker = path.join(CLEAN_SHUTDOWN_MARKER);
    let was_clean = marker.exists();
    if was_clean {
        // From here on a crash must count as unclean.
        std::fs::remove_file(&marker).at(&marker)?;
        sync_dir(path).at(path)?;
    }
    Ok(DataDir {
        path: path.to_path_buf(),
        _lock: lock,
        id,
        was_clean,
    })
}

struct FoundPartitions {
    partitions: Vec<(TopicPartition, PathBuf)>,
    deleted: Vec<PathBuf>,
}

fn list_partitions(dir: &Path) -> std::io::Result<FoundPartitions> {
    let mut found = FoundPartitions {
        partitions: Vec::new(),
        deleted: Vec::new(),
    };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(DELETE_SUFFIX) {
            found.deleted.push(entry.path());
        } else if let Some(tp) = TopicPartition::from_dir_name(&name) {
            found.partitions.push((tp, entry.path()));
        }
    }
    Ok(found)
}

/// Checkpointed offsets per partition. A damaged checkpoint counts as missing: the
/// logs are then recovered from their start, which is slow but safe.
fn read_offsets(dir: &Path) -> HashMap<TopicPartition, LogOffsets> {
    let mut offsets: HashMap<TopicPartition, LogOffsets> = HashMap::new();
    type Setter = fn(&mut LogOffsets, i64);
    let files: [(&str, Setter); 3] = [
        (RECOVERY_POINT_CHECKPOINT, |o, v| o.recovery_point = v),
        (LOG_START_OFFSET_CHECKPOINT, |o, v| o.log_start_offset = v),
        (HIGH_WATERMARK_CHECKPOINT, |o, v| o.high_watermark = v),
    ];
    for (name, set) in files {
        let path = dir.join(name);
        let lines = checkpoint::read(&path).unwrap_or_else(|e| {
            tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged checkpoint");
            Vec::new()
        });
        for line in lines {
            let mut fields = line.rsplitn(3, ' ');
            let (Some(value), Some(partition), Some(topic)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            if let (Ok(value), Ok(partition)) = (value.parse(), partition.parse()) {
                set(offsets.entry(TopicPartition::new(topic, partition)).or_default(), value);
            }
        }
    }
    offsets
}

/// Opens the partitions of one data dir on `recovery_threads` threads.
fn open_partitions(
    dir: &DataDir,
    partitions: Vec<(TopicPartition, PathBuf)>,
    offsets: &HashMap<TopicPartition, LogOffsets>,
    config: &LogManagerConfig,
) -> Result<Vec<(TopicPartition, Arc<PartitionLog>)>> {
    in_parallel(&partitions, config.recovery_threads, |(tp, path)| {
        let offsets = offsets.get(tp).copied().unwrap_or_default();
        let log = PartitionLog::open(path, config.log_config.clone(), offsets, dir.was_clean)?;
        Ok((tp.clone(), Arc::new(log)))
    })
}

/// `work` on each item, the items split in order over `threads` threads; the results
/// in item order, or the first error.
fn in_parallel<T: Sync, R: Send>(items: &[T], threads: usize, work: impl Fn(&T) -> Result<R> + Sync) -> Result<Vec<R>> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|chunk| scope.spawn(move || chunk.iter().map(work).collect::<Result<Vec<R>>>()))
            .collect();
        let mut results = Vec::with_capacity(items.len());
        for worker in workers {
            results.extend(worker.join().expect("a log thread panicked")?);
        }
        Ok(results)
    })
}

fn now_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_work_keeps_item_order_and_stops_at_an_error() {
        let items: Vec<u32> = (0..37).collect();
        for threads in [0, 1, 2, 8, 100] {
            let doubled = in_parallel(&items, threads, |i| Ok(i * 2)).unwrap();
            assert_eq!(
                doubled,
                items.iter().map(|i| i * 2).collect::<Vec<_>>(),
                "{threads} threads"
            );
        }
        let failed = in_parallel(&items, 4, |i| match i {
            20 => Err(LogError::TooLarge { size: 20, max: 0 }),
            _ => Ok(*i),
        });
        assert!(failed.is_err());
        assert!(in_parallel(&[] as &[u32], 2, |i| Ok(*i)).unwrap().is_empty());
    }

    #[test]
    fn partition_dir_names_round_trip() {
        let tp = TopicPartition::new("my-topic.v2", 12);
        assert_eq!(tp.to_string(), "my-topic.v2-12");
        assert_eq!(TopicPartition::from_dir_name("my-topic.v2-12"), Some(tp));
        assert_eq!(TopicPartition::from_dir_name("topic"), None);
        assert_eq!(TopicPartition::from_dir_name("-1"), None);
        assert_eq!(TopicPartition::from_dir_name("t-x"), None);
        assert_eq!(
            TopicPartition::from_dir_name("t--1"),
            Some(TopicPartition::new("t-", 1))
        );
    }
}
