//! Prometheus metrics for `watch` and `worker`: `--metrics ADDR` (or
//! `[metrics] listen`) serves `/metrics` in the text exposition format.
//!
//! A leaf every stage may use: one process-wide set, installed once at
//! start-up ([`serve`]) and reached through [`get`], so recording a job is
//! one line where the job ends and costs nothing when no endpoint was
//! asked for. Gauges that describe shared state (queue depth, the oldest
//! pending job) are sampled at scrape time by a callback the caller gives,
//! so they are fresh for every scrape and cost nothing between scrapes.
//! Exposition by `prometheus-client` (the Prometheus project's crate), the
//! HTTP side by `tiny_http` (a blocking server on one thread: no async
//! runtime for one GET every few seconds).

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::{usage, Error};

type Labels = Vec<(String, String)>;

pub struct Metrics {
    registry: Registry,
    jobs: Family<Labels, Counter>,
    duration: Histogram,
    pixels: Counter,
    bytes: Counter,
    queue: Family<Labels, Gauge>,
    oldest_pending: Gauge<f64, AtomicU64>,
    reclaims: Counter,
    workers: Family<Labels, Gauge>,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics, if an endpoint is being served.
pub fn get() -> Option<&'static Metrics> {
    METRICS.get()
}

/// Refreshes the sampled gauges before each scrape.
pub type Sampler = Box<dyn Fn(&Metrics) + Send + Sync>;

/// Bind `addr` (a usage error naming it if that fails), install the
/// metrics and answer scrapes on a thread of their own.
pub fn serve(addr: &str, sample: Option<Sampler>) -> Result<&'static Metrics, Error> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| usage(format!("--metrics {addr}: cannot listen there: {e}")))?;
    let m = METRICS.get_or_init(Metrics::new);
    let server = Arc::new(server);
    std::thread::Builder::new()
        .name("tilerun-metrics".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let _ = answer(req, m, sample.as_ref());
            }
        })
        .map_err(|e| usage(format!("--metrics {addr}: starting its thread: {e}")))?;
    tracing::info!(addr, "serving Prometheus metrics at /metrics");
    Ok(m)
}

fn answer(req: tiny_http::Request, m: &Metrics, sample: Option<&Sampler>) -> std::io::Result<()> {
    if req.url() != "/metrics" {
        return req.respond(tiny_http::Response::empty(404));
    }
    if let Some(f) = sample {
        f(m);
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &m.registry).is_err() {
        return req.respond(tiny_http::Response::empty(500));
    }
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
    req.respond(tiny_http::Response::from_string(body).with_header(header))
}

fn labels(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("tilerun");
        // 10 ms … ~3 h, doubling.
        let duration = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.01, 2.0, 20,
        ));
        let m = Metrics {
            registry: Registry::default(),
            jobs: Family::default(),
            duration,
            pixels: Counter::default(),
            bytes: Counter::default(),
            queue: Family::default(),
            oldest_pending: Gauge::default(),
            reclaims: Counter::default(),
            workers: Family::default(),
        };
        registry.register("jobs", "Jobs ended, by outcome", m.jobs.clone());
        registry.register(
            "job_duration_seconds",
            "Time from start to end of a job",
            m.duration.clone(),
        );
        registry.register("pixels", "Output pixels computed", m.pixels.clone());
        registry.register(
            "bytes",
            "Uncompressed input bytes read by ops",
            m.bytes.clone(),
        );
        registry.register("queue_jobs", "Jobs in the queue, by state", m.queue.clone());
        registry.register(
            "queue_oldest_pending_seconds",
            "How long the oldest due pending job has waited",
            m.oldest_pending.clone(),
        );
        registry.register(
            "lease_reclaims",
            "Jobs taken over after their lease expired",
            m.reclaims.clone(),
        );
        registry.register(
            "workers",
            "Workers busy with a job or idle",
            m.workers.clone(),
        );
        Metrics { registry, ..m }
    }

    /// A job ended with `outcome` (done, failed, retry, dead, refused, …).
    pub fn job(&self, outcome: &str, seconds: f64) {
        self.count(outcome);
        self.duration.observe(seconds);
    }

    /// An outcome that ran nothing (`queued`: handed to the queue).
    pub fn count(&self, outcome: &str) {
        self.jobs.get_or_create(&labels("outcome", outcome)).inc();
    }

    pub fn processed(&self, pixels: u64, bytes: u64) {
        self.pixels.inc_by(pixels);
        self.bytes.inc_by(bytes);
    }

    pub fn reclaimed(&self) {
        self.reclaims.inc();
    }

    /// How many of this process's job slots are busy, of `slots`.
    pub fn busy(&self, busy: usize, slots: usize) {
        let g = |s: &str| self.workers.get_or_create(&labels("state", s)).clone();
        g("busy").set(busy as i64);
        g("idle").set(slots.saturating_sub(busy) as i64);
    }

    /// Jobs per state and the oldest pending age, as last sampled.
    pub fn depth(&self, by_state: &[(&str, i64)], oldest_pending: Option<f64>) {
        for (s, n) in by_state {
            self.queue.get_or_create(&labels("state", s)).set(*n);
        }
        self.oldest_pending.set(oldest_pending.unwrap_or(0.0));
    }
}
