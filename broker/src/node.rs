//! [`BrokerNode`]: one broker, started from its config: the logs, the controller
//! session, the partitions it hosts (kept in step with the metadata), the Kafka listener.

use std::net::SocketAddr;
use std::sync::Arc;

use brook_controller_client::{BrokerSession, BrokerSessionConfig, ClientOptions, ControllerClient, MetadataCache};
use brook_server_kit::metrics_http::serve_metrics;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::groups::{GroupCoordinator, OffsetCache};
use crate::handlers::Handlers;
use crate::log::{LogManager, LogManagerConfig};
use crate::metrics::BrokerMetrics;
use crate::producer_ids::ProducerIdAllocator;
use crate::replica::{ReplicaFetchers, ReplicaManager, maintain_isr};
use crate::server::{self, ConnectionLimits};

#[derive(Debug, thiserror::Error)]
pub enum BrokerStartError {
    #[error("cannot open the logs: {0}")]
    Logs(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot register with the controller quorum: {0}")]
    Register(String),
}

const CONTROLLED_SHUTDOWN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
const LISTEN_BACKLOG: u32 = 1024;

/// A socket bound to `addr` that does not listen yet: it holds the port, and connections
/// to it are refused until [`TcpSocket::listen`].
fn reserve_port(addr: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restart may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

pub struct BrokerNode {
    config: Arc<BrokerConfig>,
    logs: Arc<LogManager>,
    metrics: Arc<BrokerMetrics>,
    session: BrokerSession,
    replicas: Arc<ReplicaManager>,
    local_addr: SocketAddr,
    stopping: watch::Sender<bool>,
    /// The Kafka listener: ends once its connections have drained after `stopping`.
    listener: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

impl BrokerNode {
    pub async fn start(config: BrokerConfig) -> Result<Self, BrokerStartError> {
        let mut log_config = LogManagerConfig::new(config.log_dirs.clone());
        log_config.log_config = config.log_defaults.clone();
        log_config.retention_check_interval = config.retention_check_interval;
        log_config.recovery_threads = config.recovery_threads;
        let logs = tokio::task::spawn_blocking(move || LogManager::open(log_config))
            .await
            .map_err(|e| BrokerStartError::Logs(e.to_string()))?
            .map_err(|e| BrokerStartError::Logs(e.to_string()))?;
        // The Kafka port is reserved now (so a taken port fails the start before the
        // controller counts this broker live) but accepts connections only once the broker
        // can serve them: until then clients are refused and try another broker, instead
        // of connecting and then failing.
        let listen_addr = config.listen_addr;
        let bind_error = move |source| BrokerStartError::Bind {
            addr: listen_addr,
            source,
        };
        let reserved = reserve_port(config.listen_addr).map_err(bind_error)?;
        let local_addr = reserved.local_addr().map_err(bind_error)?;
        // Bound before registering too: a broker that cannot serve its metrics must fail
        // before the controller counts it live and gives it partitions.
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| BrokerStartError::Bind { addr, source })?,
            ),
            None => None,
        };
        // Port 0 (tests): advertise the port the system chose.
        let (host, port) = config.advertised.clone();
        let port = if port == 0 { local_addr.port() } else { port };

        let controller = Arc::new(ControllerClient::new(
            config.controller_voters.clone(),
            ClientOptions::default(),
        ));
        let session_config = BrokerSessionConfig {
            rack: config.rack.clone(),
            heartbeat_interval: config.heartbeat_interval,
            log_dirs: logs.directory_ids(),
            ..BrokerSessionConfig::new(config.broker_id, &host, port)
        };
        let session = BrokerSession::start(Arc::clone(&controller), session_config)
            .await
            .map_err(|e| BrokerStartError::Register(e.to_string()))?;

        // Serve only once the metadata has caught up with this broker's own registration
        // and the controller has unfenced it, so the first clients see every topic and
        // this broker among the live ones.
        session.cache().wait_for_version(session.broker_epoch() as u64).await;
        session.wait_unfenced().await;

        let replicas = Arc::new(ReplicaManager::new(
            config.broker_id,
            Arc::clone(&logs),
            config.log_defaults.clone(),
        ));
        let metrics = Arc::new(BrokerMetrics::new(config.broker_id, Arc::downgrade(&replicas)));
        let groups = Arc::new(GroupCoordinator::new(
            config.broker_id,
            session.cache().clone(),
            OffsetCache::new(Arc::clone(&controller), session.cache().clone()),
            config.initial_rebalance_delay,
        ));
        let config = Arc::new(config);
        // What clients are told: the controller's metadata once this broker's partitions
        // reflect it, so a client never hears of a leadership here before the log can
        // take a produce (an idempotent producer whose first batch met
        // NOT_LEADER_OR_FOLLOWER while its next one was taken would have a gap).
        let served = MetadataCache::default();
        let handlers = Arc::new(Handlers {
            config: Arc::clone(&config),
            replicas: Arc::clone(&replicas),
            producer_ids: ProducerIdAllocator::new(config.broker_id, Arc::clone(&controller), session.cache().clone()),
            controller,
            metadata: served.clone(),
            metrics: Arc::clone(&metrics),
            groups: Arc::clone(&groups),
        });
        let limits = ConnectionLimits {
            max_connections: config.max_connections,
            max_request_bytes: config.max_request_bytes,
            idle_timeout: config.idle_timeout,
        };
        // The partitions of the current metadata are open before the first request is
        // served: a client must not hear NOT_LEADER_OR_FOLLOWER from the leader only
        // because its logs were still loading.
        let fetchers = ReplicaFetchers::new(config.broker_id, session.cache().clone());
        apply_current_metadata(session.cache(), &served, &replicas, &fetchers).await;
        let stopping = watch::Sender::new(false);
        let mut tasks = vec![
            tokio::spawn(apply_metadata_changes(
                session.cache().clone(),
                served,
                Arc::clone(&replicas),
                fetchers,
            )),
            tokio::spawn(maintain_isr(
                config.broker_id,
                Arc::clone(&replicas),
                Arc::clone(&handlers.controller),
                session.cache().clone(),
                config.replica_lag_time_max,
            )),
            tokio::spawn(groups.run()),
            tokio::spawn(follow_lease(session.lease_lapsed(), Arc::clone(&replicas))),
        ];
        let listener = reserved.listen(LISTEN_BACKLOG).map_err(bind_error)?;
        let listener = tokio::spawn(server::listen(listener, handlers, limits, stopping.subscribe()));
        if let Some(listener) = metrics_listener {
            tasks.push(tokio::spawn(serve_metrics(listener, vec![metrics.registry().clone()])));
        }
        tracing::info!(broker_id = config.broker_id, %local_addr, "broker started");
        Ok(BrokerNode {
            config,
            logs,
            metrics,
            session,
            replicas,
            local_addr,
            stopping,
            listener,
            tasks,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn broker_id(&self) -> i32 {
        self.config.broker_id
    }

    pub fn prometheus_registry(&self) -> &prometheus::Registry {
        self.metrics.registry()
    }

    pub fn is_fenced(&self) -> bool {
        self.session.is_fenced()
    }

    /// Asks the controller to fence this broker (its leaderships move away, and a restart
    /// need not wait for the session to expire), stops serving, then flushes and closes
    /// every log (checkpoints and the clean-shutdown marker included).
    pub async fn shutdown(self) {
        if !self.session.controlled_shutdown(CONTROLLED_SHUTDOWN_TIMEOUT).await {
            tracing::warn!("the controller did not confirm the shutdown; stopping anyway");
        }
        self.replicas.shutdown();
        self.stopping.send_replace(true);
        // Connections answer what they hold before the logs close under them.
        if let Err(e) = self.listener.await {
            tracing::warn!(error = %e, "the Kafka listener task failed");
        }
        for task in &self.tasks {
            task.abort();
        }
        drop(self.session);
        let logs = Arc::clone(&self.logs);
        match tokio::task::spawn_blocking(move || logs.shutdown()).await {
            Ok(Ok(())) => tracing::info!(broker_id = self.config.broker_id, "broker stopped cleanly"),
            Ok(Err(e)) => tracing::error!(error = %e, "log shutdown failed"),
            Err(e) => tracing::error!(error = %e, "log shutdown task failed"),
        }
    }
}

/// Stops leading while the broker's lease with the controller has lapsed.
async fn follow_lease(mut lapsed: watch::Receiver<bool>, replicas: Arc<ReplicaManager>) {
    loop {
        let now = *lapsed.borrow_and_update();
        replicas.set_lease_lapsed(now);
        if lapsed.changed().await.is_err() {
            return;
        }
    }
}

/// Applies every new metadata version to the hosted partitions (and reconciles the
/// fetchers after a replica move), then serves it.
async fn apply_metadata_changes(
    cache: MetadataCache,
    served: MetadataCache,
    replicas: Arc<ReplicaManager>,
    fetchers: ReplicaFetchers,
) {
    let mut versions = cache.subscribe();
    let mut moves = replicas.moves();
    loop {
        // Again at the start: a version may have arrived before the subscription.
        apply_current_metadata(&cache, &served, &replicas, &fetchers).await;
        // A replica moved between data dirs is a new partition to its fetcher.
        let changed = tokio::select! {
            version = versions.changed() => version.is_ok(),
            moved = moves.changed() => moved.is_ok(),
        };
        if !changed {
            return;
        }
    }
}

/// Brings the hosted partitions and the follower fetchers in line with the latest image,
/// then publishes it to `served` (what the handlers answer from).
async fn apply_current_metadata(
    cache: &MetadataCache,
    served: &MetadataCache,
    replicas: &Arc<ReplicaManager>,
    fetchers: &ReplicaFetchers,
) {
    let image = cache.image();
    if image.version == 0 {
        return;
    }
    let applying = Arc::clone(replicas);
    let applied_image = Arc::clone(&image);
    let applied = tokio::task::spawn_blocking(move || applying.apply_metadata(&applied_image)).await;
    if let Err(e) = applied {
        tracing::error!(error = %e, "applying metadata failed");
    }
    fetchers.reconcile(replicas);
    served.publish(image);
}
