//! [`ControllerNode`]: one controller, started from its config: storage, the Raft node,
//! the RPC listener, the leader's background duties and the metrics endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use brook_protocol::rpc::metadata::MetadataImage;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ControllerConfig;
use crate::metrics::ControllerMetrics;
use crate::raft::{RaftHandle, RaftStatus};
use crate::service::{ControllerService, server};
use crate::state_machine::DEFAULT_HISTORY_RECORDS;
use crate::store::{LogStore, SharedState, SnapshotFiles, StateMachineStore};
use brook_server_kit::metrics_http::serve_metrics;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open {what} in {path}: {reason}")]
    Storage {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("raft: {0}")]
    Raft(String),
}

pub struct ControllerNode {
    config: Arc<ControllerConfig>,
    raft: RaftHandle,
    shared: Arc<SharedState>,
    metrics: Arc<ControllerMetrics>,
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    stopping: watch::Sender<bool>,
    /// The RPC listener: ends once its connections have closed after `stopping`.
    listener: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

impl ControllerNode {
    pub async fn start(config: ControllerConfig) -> Result<Self, StartError> {
        let dir = config.data_dir.clone();
        let storage = |what: &'static str, reason: String| StartError::Storage {
            what,
            path: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(&dir).map_err(|e| storage("the data directory", e.to_string()))?;
        let log_store = LogStore::open(&dir.join("raft.redb")).map_err(|e| storage("the raft log", e.to_string()))?;
        let snapshots =
            SnapshotFiles::open(dir.join("snapshots")).map_err(|e| storage("the snapshots", e.to_string()))?;
        let state_machine = StateMachineStore::open(snapshots, DEFAULT_HISTORY_RECORDS)
            .map_err(|e| storage("the latest snapshot", e.to_string()))?;
        let shared = state_machine.shared();

        // Listen before Raft starts, so peers' first connections wait in the backlog.
        let listener = bind(config.listen_addr).await?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen_addr,
            source,
        })?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };

        let raft = RaftHandle::start(&config, log_store, state_machine)
            .await
            .map_err(StartError::Raft)?;
        let config = Arc::new(config);
        let metrics = Arc::new(ControllerMetrics::new(config.node_id));
        let service = Arc::new(ControllerService::new(
            raft.clone(),
            Arc::clone(&shared),
            Arc::clone(&config),
            Arc::clone(&metrics),
        ));
        let stopping = watch::Sender::new(false);
        let listener = tokio::spawn(server::serve(listener, Arc::clone(&service), stopping.subscribe()));
        let mut tasks = vec![tokio::spawn(Arc::clone(&service).run_background())];
        let mut metrics_addr = None;
        if let Some(listener) = metrics_listener {
            metrics_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(serve_metrics(listener, vec![metrics.registry().clone()])));
        }
        tracing::info!(node_id = config.node_id, %local_addr, "controller started");
        Ok(ControllerNode {
            config,
            raft,
            shared,
            metrics,
            local_addr,
            metrics_addr,
            stopping,
            listener,
            tasks,
        })
    }

    pub fn node_id(&self) -> u64 {
        self.config.node_id
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn status(&self) -> RaftStatus {
        self.raft.status()
    }

    /// This node's applied metadata (possibly behind the leader's).
    pub fn metadata(&self) -> MetadataImage {
        self.shared.read(|s| s.image().clone())
    }

    pub fn prometheus_registry(&self) -> &prometheus::Registry {
        self.metrics.registry()
    }

    /// Snapshot now instead of waiting for the policy.
    pub async fn trigger_snapshot(&self) -> Result<(), String> {
        self.raft.trigger_snapshot().await.map_err(|e| e.to_string())
    }

    /// Stops serving and shuts Raft down; everything committed is already durable.
    pub async fn shutdown(self) {
        self.stopping.send_replace(true);
        if let Err(e) = self.listener.await {
            tracing::warn!(error = %e, "the RPC listener task failed");
        }
        for task in &self.tasks {
            task.abort();
        }
        self.raft.shutdown().await;
        tracing::info!(node_id = self.config.node_id, "controller stopped");
    }
}
