//! Prometheus metrics of a broker. Handles are created once (per API at start, per topic
//! on first use) so a request never looks a metric up by its labels; per-partition
//! values are read from the logs when Prometheus scrapes, not kept up to date on every
//! append.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use brook_protocol::api::SUPPORTED_APIS;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, exponential_buckets,
};

use crate::replica::ReplicaManager;
use crate::request_time::{PHASES, RequestPhases};

struct ApiMetrics {
    name: String,
    requests: IntCounter,
    /// Registered at the API's first request, so that a scrape carries the buckets of
    /// the APIs in use only.
    phases: OnceLock<PhaseHistograms>,
}

/// One histogram per phase of [`RequestPhases`], in its field order.
struct PhaseHistograms([Histogram; PHASES.len()]);

/// 10 µs to 22 s in steps of 1.5x: a percentile read from them is within a quarter.
fn phase_buckets() -> Vec<f64> {
    exponential_buckets(0.000_010, 1.5, 37).expect("valid buckets")
}

/// Per-topic traffic counters.
#[derive(Clone)]
pub struct TopicMetrics {
    pub bytes_in: IntCounter,
    pub messages_in: IntCounter,
    pub duplicates_in: IntCounter,
    pub bytes_out: IntCounter,
}

pub struct BrokerMetrics {
    registry: Registry,
    apis: HashMap<i16, ApiMetrics>,
    pub connections: IntGauge,
    pub connections_total: IntCounter,
    bytes_in: IntCounterVec,
    messages_in: IntCounterVec,
    duplicates_in: IntCounterVec,
    bytes_out: IntCounterVec,
    topics: parking_lot::RwLock<HashMap<String, TopicMetrics>>,
}

fn register<T: Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry.register(Box::new(metric.clone())).expect("registered once");
    metric
}

impl BrokerMetrics {
    pub fn new(broker_id: i32, replicas: Weak<ReplicaManager>) -> Self {
        let labels = [("broker_id".to_string(), broker_id.to_string())].into();
        let registry = Registry::new_custom(None, Some(labels)).expect("valid registry");
        let apis = SUPPORTED_APIS
            .iter()
            .map(|api| {
                let name = format!("{:?}", api.key);
                let requests = IntCounter::with_opts(
                    Opts::new("brook_broker_requests_total", "Kafka requests handled").const_label("api", &name),
                )
                .expect("valid metric");
                let metrics = ApiMetrics {
                    requests: register(&registry, requests),
                    phases: OnceLock::new(),
                    name,
                };
                (api.key as i16, metrics)
            })
            .collect();
        let counter_vec = |name: &str, help: &str| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), &["topic"]).expect("valid metric"),
            )
        };
        let metrics = BrokerMetrics {
            apis,
            connections: register(
                &registry,
                IntGauge::new("brook_broker_connections", "Open client connections").expect("valid metric"),
            ),
            connections_total: register(
                &registry,
                IntCounter::new("brook_broker_connections_total", "Client connections accepted").expect("valid metric"),
            ),
            bytes_in: counter_vec("brook_broker_produce_bytes_total", "Record bytes appended by producers"),
            messages_in: counter_vec("brook_broker_produce_messages_total", "Records appended by producers"),
            duplicates_in: counter_vec(
                "brook_broker_produce_duplicates_total",
                "Idempotent producers' retried record sets answered from the log instead of appended again",
            ),
            bytes_out: counter_vec("brook_broker_fetch_bytes_total", "Record bytes sent to fetchers"),
            topics: parking_lot::RwLock::new(HashMap::new()),
            registry,
        };
        metrics
            .registry
            .register(Box::new(PartitionCollector::new(replicas)))
            .expect("registered once");
        metrics
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts a request of a known API and where its time went.
    pub fn observe_request(&self, api_key: i16, phases: &RequestPhases) {
        let Some(api) = self.apis.get(&api_key) else {
            return;
        };
        api.requests.inc();
        let histograms = api.phases.get_or_init(|| {
            PhaseHistograms(PHASES.map(|phase| {
                let histogram = Histogram::with_opts(
                    HistogramOpts::new(
                        "brook_broker_request_phase_seconds",
                        "Where a Kafka request's time went (Kafka's RequestMetrics): request_queue, \
                         local, remote (parked waiting on replicas or data), response_queue, \
                         response_send, and total from read to written",
                    )
                    .const_label("api", &api.name)
                    .const_label("phase", phase)
                    .buckets(phase_buckets()),
                )
                .expect("valid metric");
                register(&self.registry, histogram)
            }))
        });
        let RequestPhases {
            request_queue,
            local,
            remote,
            response_queue,
            response_send,
            total,
        } = *phases;
        for (histogram, time) in
            histograms
                .0
                .iter()
                .zip([request_queue, local, remote, response_queue, response_send, total])
        {
            histogram.observe(time.as_secs_f64());
        }
    }

    pub fn topic(&self, topic: &str) -> TopicMetrics {
        if let Some(metrics) = self.topics.read().get(topic) {
            return metrics.clone();
        }
        let metrics = TopicMetrics {
            bytes_in: self.bytes_in.with_label_values(&[topic]),
            messages_in: self.messages_in.with_label_values(&[topic]),
            duplicates_in: self.duplicates_in.with_label_values(&[topic]),
            bytes_out: self.bytes_out.with_label_values(&[topic]),
        };
        self.topics.write().insert(topic.to_owned(), metrics.clone());
        metrics
    }
}

/// Reads the hosted partitions at scrape time.
struct PartitionCollector {
    replicas: Weak<ReplicaManager>,
    partitions: IntGauge,
    leaders: IntGauge,
    log_end_offset: IntGaugeVec,
    high_watermark: IntGaugeVec,
    size_bytes: IntGaugeVec,
    flushes: IntGauge,
    flush_seconds: prometheus::Gauge,
    descs: Vec<Desc>,
}

impl PartitionCollector {
    fn new(replicas: Weak<ReplicaManager>) -> Self {
        let gauge_vec = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["topic", "partition"]).expect("valid metric")
        };
        let collector = PartitionCollector {
            replicas,
            partitions: IntGauge::new("brook_broker_partitions", "Partitions hosted").expect("valid metric"),
            leaders: IntGauge::new("brook_broker_leader_partitions", "Partitions this broker leads")
                .expect("valid metric"),
            log_end_offset: gauge_vec("brook_broker_log_end_offset", "Next offset to be written"),
            high_watermark: gauge_vec("brook_broker_high_watermark", "Offset up to which consumers read"),
            size_bytes: gauge_vec("brook_broker_log_size_bytes", "Bytes in the partition's segments"),
            flushes: IntGauge::new(
                "brook_broker_log_flushes",
                "Log flushes (fdatasync) that wrote data, by the hosted logs",
            )
            .expect("valid metric"),
            flush_seconds: prometheus::Gauge::new(
                "brook_broker_log_flush_seconds",
                "Time spent in those flushes; divided by brook_broker_log_flushes, the mean flush latency",
            )
            .expect("valid metric"),
            descs: Vec::new(),
        };
        let mut descs = Vec::new();
        descs.extend(collector.partitions.desc().into_iter().cloned());
        descs.extend(collector.leaders.desc().into_iter().cloned());
        descs.extend(collector.log_end_offset.desc().into_iter().cloned());
        descs.extend(collector.high_watermark.desc().into_iter().cloned());
        descs.extend(collector.size_bytes.desc().into_iter().cloned());
        descs.extend(collector.flushes.desc().into_iter().cloned());
        descs.extend(collector.flush_seconds.desc().into_iter().cloned());
        PartitionCollector { descs, ..collector }
    }
}

impl Collector for PartitionCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let Some(replicas) = self.replicas.upgrade() else {
            return Vec::new();
        };
        self.log_end_offset.reset();
        self.high_watermark.reset();
        self.size_bytes.reset();
        let hosted = replicas.partitions();
        let (mut flushes, mut flush_time) = (0, Duration::ZERO);
        for partition in &hosted {
            let labels = [partition.tp.topic.as_str(), &partition.tp.partition.to_string()];
            let log = &partition.log;
            self.log_end_offset.with_label_values(&labels).set(log.log_end_offset());
            self.high_watermark.with_label_values(&labels).set(log.high_watermark());
            self.size_bytes.with_label_values(&labels).set(log.size_bytes() as i64);
            let (count, time) = log.flush_stats();
            flushes += count;
            flush_time += time;
        }
        self.partitions.set(hosted.len() as i64);
        self.leaders.set(hosted.iter().filter(|p| p.is_leader()).count() as i64);
        self.flushes.set(flushes as i64);
        self.flush_seconds.set(flush_time.as_secs_f64());
        let mut families = Vec::new();
        families.extend(self.partitions.collect());
        families.extend(self.leaders.collect());
        families.extend(self.log_end_offset.collect());
        families.extend(self.high_watermark.collect());
        families.extend(self.size_bytes.collect());
        families.extend(self.flushes.collect());
        families.extend(self.flush_seconds.collect());
        families
    }
}

/// Keeps the count of open connections right however a connection ends.
pub struct ConnectionGuard(Arc<BrokerMetrics>);

impl ConnectionGuard {
    pub fn open(metrics: Arc<BrokerMetrics>) -> Self {
        metrics.connections.inc();
        metrics.connections_total.inc();
        ConnectionGuard(metrics)
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.connections.dec();
    }
}
