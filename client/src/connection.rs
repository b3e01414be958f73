//! One TCP connection to one broker: requests are pipelined (each gets a correlation id
//! and waits for its own response), and the API versions are negotiated once with
//! ApiVersions so each call uses the newest version both sides speak.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use brook_protocol::codec::{API_VERSIONS_FALLBACK_VERSION, decode_response, encode_request};
use brook_protocol::frame::FrameDecoder;
use brook_protocol::header::RequestHeader;
use brook_protocol::messages::{ApiVersionsRequest, RequestKind, ResponseKind};
use brook_protocol::{ApiKey, StrBytes};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result, check};

/// The largest response accepted (a Fetch response is bounded by its `max_bytes`).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;
/// Requests queued for the socket before callers wait.
const OUTBOX: usize = 64;
const API_VERSIONS_VERSION: i16 = 3;

type Waiter = oneshot::Sender<Result<Bytes>>;

/// A request on its way to the socket, with whom to tell: the caller learns the
/// response, or for a request the broker does not answer that it is written.
struct Outgoing {
    correlation_id: i32,
    frame: Bytes,
    waiter: Waiter,
    answered: bool,
}

pub struct BrokerConnection {
    addr: String,
    client_id: StrBytes,
    timeout: Duration,
    next_correlation_id: AtomicI32,
    outbox: mpsc::Sender<Outgoing>,
    /// api key -> (min, max) version the broker serves.
    versions: HashMap<i16, (i16, i16)>,
}

impl BrokerConnection {
    pub async fn connect(addr: &str, client_id: &str, timeout: Duration) -> Result<Self> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                return Err(Error::Connect {
                    addr: addr.to_owned(),
                    error,
                });
            }
            Err(_) => {
                return Err(Error::Timeout {
                    addr: addr.to_owned(),
                    timeout,
                });
            }
        };
        let _ = stream.set_nodelay(true);
        let (outbox, queue) = mpsc::channel(OUTBOX);
        tokio::spawn(run(stream, queue, addr.to_owned()));
        let mut connection = BrokerConnection {
            addr: addr.to_owned(),
            client_id: StrBytes::from_string(client_id.to_owned()),
            timeout,
            next_correlation_id: AtomicI32::new(0),
            outbox,
            versions: HashMap::new(),
        };
        connection.versions = connection.negotiate().await?;
        Ok(connection)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How long a request may take (`request.timeout.ms`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// False once the socket failed; the caller connects again.
    pub fn is_open(&self) -> bool {
        !self.outbox.is_closed()
    }

    async fn negotiate(&self) -> Result<HashMap<i16, (i16, i16)>> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("brook-client"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let frame = self
            .round_trip(
                ApiKey::ApiVersions,
                API_VERSIONS_VERSION,
                RequestKind::ApiVersions(request),
                self.timeout,
            )
            .await?;
        // A broker that does not know v3 answers in v0 (KIP-511).
        let decoded = decode_response(&frame, ApiKey::ApiVersions, API_VERSIONS_VERSION)
            .or_else(|_| decode_response(&frame, ApiKey::ApiVersions, API_VERSIONS_FALLBACK_VERSION))?;
        let ResponseKind::ApiVersions(response) = decoded.1 else {
            return Err(Error::Unexpected("not an ApiVersions response".into()));
        };
        check(response.error_code, || format!("ApiVersions to {}", self.addr))?;
        Ok(response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect())
    }

    /// The newest version of `api` within `min..=max` that the broker serves.
    pub fn version(&self, api: ApiKey, min: i16, max: i16) -> Result<i16> {
        let unsupported = || Error::UnsupportedApi { api, min, max };
        let (broker_min, broker_max) = self.versions.get(&(api as i16)).copied().ok_or_else(unsupported)?;
        let version = max.min(broker_max);
        if version < min.max(broker_min) {
            return Err(unsupported());
        }
        Ok(version)
    }

    /// Sends a request at `version` and returns its response.
    pub async fn call(&self, api: ApiKey, version: i16, body: RequestKind) -> Result<ResponseKind> {
        self.call_within(api, version, body, self.timeout).await
    }

    /// As [`BrokerConnection::call`], for a request the broker may rightly hold longer
    /// than the request timeout (JoinGroup waits for a whole rebalance).
    pub async fn call_within(
        &self,
        api: ApiKey,
        version: i16,
        body: RequestKind,
        timeout: Duration,
    ) -> Result<ResponseKind> {
        let frame = self.round_trip(api, version, body, timeout).await?;
        Ok(decode_response(&frame, api, version)?.1)
    }

    /// Queues a request the broker does not answer (Produce with `acks=0`) and returns
    /// at once; [`Written::done`] says when it is on the socket, so a caller that
    /// waits for that before it exits does not drop it in the queue.
    pub async fn send_only(&self, api: ApiKey, version: i16, body: RequestKind) -> Result<Written> {
        self.queue(api, version, &body, self.timeout, false).await.map(Written)
    }

    fn lost(&self, reason: &str) -> Error {
        Error::ConnectionLost {
            addr: self.addr.clone(),
            reason: reason.to_owned(),
        }
    }

    /// The request framed with a fresh correlation id.
    fn encode(&self, api: ApiKey, version: i16, body: &RequestKind) -> Result<(i32, Bytes)> {
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader::new(api, version, correlation_id, Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(128);
        encode_request(&mut buf, &header, body)?;
        Ok((correlation_id, buf.freeze()))
    }

    async fn round_trip(&self, api: ApiKey, version: i16, body: RequestKind, timeout: Duration) -> Result<Bytes> {
        self.send(api, version, body, timeout).await?.frame().await
    }

    /// Queues a request for the socket and returns at once with its answer to come.
    /// Requests reach the broker in the order their `send`s returned, so a caller
    /// can pipeline requests whose order matters (a producer's batches of a partition).
    pub async fn send(&self, api: ApiKey, version: i16, body: RequestKind, timeout: Duration) -> Result<Pending> {
        self.queue(api, version, &body, timeout, true).await
    }

    async fn queue(
        &self,
        api: ApiKey,
        version: i16,
        body: &RequestKind,
        timeout: Duration,
        answered: bool,
    ) -> Result<Pending> {
        let (correlation_id, frame) = self.encode(api, version, body)?;
        let (waiter, answer) = oneshot::channel();
        self.outbox
            .send(Outgoing {
                correlation_id,
                frame,
                waiter,
                answered,
            })
            .await
            .map_err(|_| self.lost("closed"))?;
        Ok(Pending {
            addr: self.addr.clone(),
            api,
            version,
            timeout,
            answer,
        })
    }
}

/// A request the broker does not answer, on its way to the socket.
pub struct Written(Pending);

impl Written {
    /// Returns once the request is written to the socket (or it could not be).
    pub async fn done(self) -> Result<()> {
        self.0.frame().await.map(drop)
    }
}

/// A request on its way: its response, once it comes.
pub struct Pending {
    addr: String,
    api: ApiKey,
    version: i16,
    timeout: Duration,
    answer: oneshot::Receiver<Result<Bytes>>,
}

impl Pending {
    pub async fn response(self) -> Result<ResponseKind> {
        let (api, version) = (self.api, self.version);
        let frame = self.frame().await?;
        Ok(decode_response(&frame, api, version)?.1)
    }

    async fn frame(self) -> Result<Bytes> {
        match tokio::time::timeout(self.timeout, self.answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(Error::ConnectionLost {
                addr: self.addr,
                reason: "closed".into(),
            }),
            Err(_) => Err(Error::Timeout {
                addr: self.addr,
                timeout: self.timeout,
            }),
        }
    }
}

/// Owns the socket: writes queued requests, reads responses and hands each to the
/// request with its correlation id. Ends when the socket fails or every sender is gone;
/// the requests still waiting learn that the connection was lost.
async fn run(stream: TcpStream, mut queue: mpsc::Receiver<Outgoing>, addr: String) {
    let (mut read, mut write) = stream.into_split();
    let decoder = FrameDecoder::new(MAX_RESPONSE_BYTES);
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let mut pending: HashMap<i32, Waiter> = HashMap::new();
    let reason = loop {
        tokio::select! {
            request = queue.recv() => {
                let Some(Outgoing { correlation_id, frame, waiter, answered }) = request else { break "closed".to_owned() };
                if let Err(e) = write.write_all(&frame).await {
                    let _ = waiter.send(Err(Error::ConnectionLost { addr: addr.clone(), reason: e.to_string() }));
                    break e.to_string();
                }
                if answered {
                    pending.insert(correlation_id, waiter);
                } else {
                    let _ = waiter.send(Ok(Bytes::new()));
                }
            }
            read_result = read.read_buf(&mut buffer) => {
                match read_result {
                    Ok(0) => break "closed by the broker".to_owned(),
                    Err(e) => break e.to_string(),
                    Ok(_) => {}
                }
                let mut failed = None;
                loop {
                    match decoder.decode(&mut buffer) {
                        Ok(Some(frame)) => {
                            let Some(id) = frame.get(..4).map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]])) else {
                                failed = Some("a response without a header".to_owned());
                                break;
                            };
                            if let Some(waiter) = pending.remove(&id) {
                                let _ = waiter.send(Ok(frame));
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                }
                if let Some(reason) = failed {
                    break reason;
                }
            }
        }
    };
    tracing::debug!(%addr, %reason, "broker connection ended");
    queue.close();
    for (_, waiter) in pending.drain() {
        let _ = waiter.send(Err(Error::ConnectionLost {
            addr: addr.clone(),
            reason: reason.clone(),
        }));
    }
}
