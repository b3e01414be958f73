//! A broker's session with the controller: register, heart-beat every
//! `broker.heartbeat.interval.ms`, and follow the metadata. A broker is fenced (its
//! partitions led elsewhere) when its heartbeats stop for `broker.session.timeout.ms`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use brook_protocol::ErrorCode;
use brook_protocol::rpc::metadata::{BrokerNodeId, Endpoint};
use brook_protocol::rpc::{BrokerHeartbeat, ControllerRequest, ControllerResponse, RegisterBroker};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::lease::Lease;
use super::{ClientError, ControllerClient, MetadataCache};

#[derive(Debug, Clone)]
pub struct BrokerSessionConfig {
    pub broker_id: BrokerNodeId,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    /// Refuse to join a quorum of another cluster.
    pub cluster_id: Option<Uuid>,
    pub heartbeat_interval: Duration,
    /// The ids of the log directories this process holds locked: shown at registration,
    /// they let it succeed a crashed predecessor at once (see `RegisterBroker`).
    pub log_dirs: Vec<Uuid>,
}

impl BrokerSessionConfig {
    /// One PLAINTEXT listener, no rack, a heartbeat every 2 s (Kafka's default).
    pub fn new(broker_id: BrokerNodeId, host: &str, port: u16) -> Self {
        BrokerSessionConfig {
            broker_id,
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: host.into(),
                port,
            }],
            rack: None,
            cluster_id: None,
            heartbeat_interval: Duration::from_secs(2),
            log_dirs: Vec::new(),
        }
    }
}

struct SessionState {
    broker_epoch: AtomicI64,
    /// As of the last heartbeat answer.
    fenced: tokio::sync::watch::Sender<bool>,
    want_shut_down: AtomicBool,
    shut_down_granted: tokio::sync::Notify,
    /// Sends the next heartbeat now instead of at the next interval.
    heartbeat_now: tokio::sync::Notify,
    lease: Lease,
}

pub struct BrokerSession {
    cache: MetadataCache,
    state: Arc<SessionState>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for BrokerSession {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn register(
    client: &ControllerClient,
    config: &BrokerSessionConfig,
    incarnation_id: Uuid,
) -> Result<(i64, u64), ClientError> {
    let request = RegisterBroker {
        broker_id: config.broker_id,
        incarnation_id,
        cluster_id: config.cluster_id,
        endpoints: config.endpoints.clone(),
        rack: config.rack.clone(),
        log_dirs: config.log_dirs.clone(),
    };
    match client.call(ControllerRequest::RegisterBroker(request)).await? {
        ControllerResponse::RegisterBroker {
            broker_epoch,
            session_timeout_ms,
        } => Ok((broker_epoch, session_timeout_ms)),
        other => Err(ClientError::Unexpected(format!("{other:?}"))),
    }
}

impl BrokerSession {
    /// Registers (retrying until the client's request timeout), then heart-beats and
    /// watches in the background.
    pub async fn start(client: Arc<ControllerClient>, config: BrokerSessionConfig) -> Result<Self, ClientError> {
        let incarnation_id = Uuid::new_v4();
        let deadline = tokio::time::Instant::now() + client.options.request_timeout;
        let (registered, (broker_epoch, session_timeout_ms)) = loop {
            let sent = tokio::time::Instant::now();
            match register(&client, &config, incarnation_id).await {
                // A previous process with this id has not expired yet (a fast restart).
                Err(e)
                    if e.kafka_code() == Some(ErrorCode::DuplicateBrokerRegistration.code())
                        && tokio::time::Instant::now() < deadline =>
                {
                    tracing::info!(
                        broker_id = config.broker_id,
                        "waiting for the previous session to expire"
                    );
                    tokio::time::sleep(config.heartbeat_interval.min(Duration::from_millis(500))).await;
                }
                outcome => break (sent, outcome?),
            }
        };
        let state = Arc::new(SessionState {
            broker_epoch: AtomicI64::new(broker_epoch),
            fenced: tokio::sync::watch::Sender::new(true),
            want_shut_down: AtomicBool::new(false),
            shut_down_granted: tokio::sync::Notify::new(),
            heartbeat_now: tokio::sync::Notify::new(),
            lease: Lease::new(),
        });
        state.lease.set_timeout(session_timeout_ms);
        state.lease.renewed(registered);
        let cache = MetadataCache::default();
        let tasks = vec![
            tokio::spawn(heartbeats(
                Arc::clone(&client),
                config.clone(),
                incarnation_id,
                Arc::clone(&state),
                cache.clone(),
            )),
            tokio::spawn(stream_metadata_into(client, config.broker_id, cache.clone())),
            tokio::spawn({
                let state = Arc::clone(&state);
                async move { state.lease.watch_expiry().await }
            }),
        ];
        Ok(BrokerSession { cache, state, tasks })
    }

    pub fn cache(&self) -> &MetadataCache {
        &self.cache
    }

    pub fn broker_epoch(&self) -> i64 {
        self.state.broker_epoch.load(Ordering::Relaxed)
    }

    /// As of the last heartbeat answer.
    pub fn is_fenced(&self) -> bool {
        *self.state.fenced.borrow()
    }

    /// Whether this broker must act as fenced because no heartbeat was acknowledged
    /// within the session timeout (see `lease.rs`); it changes as leases lapse and resume.
    pub fn lease_lapsed(&self) -> tokio::sync::watch::Receiver<bool> {
        self.state.lease.subscribe()
    }

    /// Resolves once a heartbeat answer says this broker is unfenced.
    pub async fn wait_unfenced(&self) {
        let mut fenced = self.state.fenced.subscribe();
        let _ = fenced.wait_for(|fenced| !fenced).await;
    }

    /// Asks to be fenced (leaderships move away) and waits until the controller agrees,
    /// or `timeout`. Returns whether it agreed.
    pub async fn controlled_shutdown(&self, timeout: Duration) -> bool {
        let granted = self.state.shut_down_granted.notified();
        self.state.want_shut_down.store(true, Ordering::Relaxed);
        self.state.heartbeat_now.notify_one();
        tokio::time::timeout(timeout, granted).await.is_ok()
    }
}

async fn heartbeats(
    client: Arc<ControllerClient>,
    config: BrokerSessionConfig,
    incarnation_id: Uuid,
    state: Arc<SessionState>,
    cache: MetadataCache,
) {
    let mut interval = tokio::time::interval(config.heartbeat_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The metadata version the last heartbeat reported.
    let mut reported = 0;
    loop {
        // A fenced broker is unfenced by the first heartbeat that shows it has caught up
        // with its own registration: send that one the moment the metadata gets there,
        // not an interval later (a restart would otherwise wait a whole interval).
        let epoch = state.broker_epoch.load(Ordering::Relaxed) as u64;
        let behind = *state.fenced.borrow() && reported < epoch;
        tokio::select! {
            _ = interval.tick() => {}
            _ = state.heartbeat_now.notified() => {}
            _ = cache.wait_for_version(epoch), if behind => {}
        }
        reported = cache.version();
        let request = BrokerHeartbeat {
            broker_id: config.broker_id,
            broker_epoch: state.broker_epoch.load(Ordering::Relaxed),
            metadata_version: reported,
            want_shut_down: state.want_shut_down.load(Ordering::Relaxed),
        };
        // A heartbeat is only useful while fresh: retry within one interval at most, and
        // give up on a silent controller after half of it, so the rest of the interval
        // reaches another one (a connection to a controller that was cut off would
        // otherwise hold every heartbeat until the session runs out).
        let interval = config.heartbeat_interval;
        let sent = tokio::time::Instant::now();
        let answer = client
            .call_within(ControllerRequest::BrokerHeartbeat(request), interval, interval / 2)
            .await;
        match answer {
            Ok(ControllerResponse::BrokerHeartbeat {
                fenced,
                should_shut_down,
                metadata_version,
            }) => {
                state.fenced.send_replace(fenced);
                state.lease.renewed(sent);
                if state.lease.is_lapsed() && !fenced && state.lease.claim_restore() {
                    // Lead again only with metadata at least as new as the controller's
                    // now: whatever moved while we could not hear it has reached us.
                    let (state, cache) = (Arc::clone(&state), cache.clone());
                    tokio::spawn(async move {
                        cache.wait_for_version(metadata_version).await;
                        state.lease.restore();
                    });
                }
                if should_shut_down {
                    state.shut_down_granted.notify_waiters();
                }
            }
            Err(error)
                if error.kafka_code() == Some(ErrorCode::StaleBrokerEpoch.code())
                    || error.kafka_code() == Some(ErrorCode::BrokerIdNotRegistered.code()) =>
            {
                tracing::warn!(broker_id = config.broker_id, %error, "registration lost; registering again");
                state.fenced.send_replace(true);
                let sent = tokio::time::Instant::now();
                if let Ok((epoch, session_timeout_ms)) = register(&client, &config, incarnation_id).await {
                    state.broker_epoch.store(epoch, Ordering::Relaxed);
                    state.lease.set_timeout(session_timeout_ms);
                    state.lease.renewed(sent);
                }
            }
            Ok(other) => tracing::warn!(?other, "unexpected heartbeat answer"),
            Err(error) => tracing::debug!(broker_id = config.broker_id, %error, "heartbeat failed"),
        }
    }
}

/// Keeps `cache` current: the controller's metadata watch, reopened whenever it breaks.
async fn stream_metadata_into(client: Arc<ControllerClient>, broker_id: BrokerNodeId, cache: MetadataCache) {
    loop {
        match client.watch(broker_id, cache.version()).await {
            Ok(mut stream) => {
                while let Some(update) = stream.next().await {
                    match update {
                        Ok(update) => cache.apply(update),
                        Err(error) => {
                            tracing::debug!(%error, "metadata watch ended");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "metadata watch failed"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
