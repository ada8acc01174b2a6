//! An object store that stops answering must not cost the queue its jobs:
//! the worker that met the outage stops claiming until the store answers
//! again. The outage is a real one as the worker sees it (connections
//! refused and cut) made by a gate in front of moto, so moto keeps its
//! objects across it.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::harness::{outcomes, Site};
use super::s3::Moto;
use crate::watch::harness::wait_until;

/// A TCP forwarder to moto that can be shut: closed, it cuts every open
/// connection and drops each new one at once (the client sees the store
/// fail, not hang). Hung, it accepts connections and never answers.
struct Gate {
    port: u16,
    open: Arc<AtomicBool>,
    hung: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Gate {
    fn new(to: u16) -> Gate {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (open, hung) = (
            Arc::new(AtomicBool::new(true)),
            Arc::new(AtomicBool::new(false)),
        );
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (o, h, c) = (Arc::clone(&open), Arc::clone(&hung), Arc::clone(&conns));
        std::thread::spawn(move || {
            for down in l.incoming().flatten() {
                if h.load(Ordering::SeqCst) {
                    c.lock().unwrap().push(down);
                    continue;
                }
                let Ok(up) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                if !o.load(Ordering::SeqCst) {
                    continue;
                }
                let mut list = c.lock().unwrap();
                list.extend([down.try_clone().unwrap(), up.try_clone().unwrap()]);
                pipe(down.try_clone().unwrap(), up.try_clone().unwrap());
                pipe(up, down);
            }
        });
        Gate {
            port,
            open,
            hung,
            conns,
        }
    }

    /// The gate's address, for `AWS_S3_ENDPOINT`.
    fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn hang(&self) {
        self.hung.store(true, Ordering::SeqCst);
    }

    fn set(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        if !open {
            for s in self.conns.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// A bucket holding one input, `s3://tiles/in/a.tif`, submitted as a job.
fn one_job(moto: &Moto, site: &Site) {
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    moto.put("/tiles/in/a.tif", &site.inputs(1)[0]);
    moto.submit(site, "ndvi", "s3://tiles/in/a.tif");
}

/// An S3 outage costs one attempt per worker, not the queue: the
/// worker whose job could not reach the store stops claiming until the
/// store answers, the other jobs wait pending, and every job then
/// finishes. (Without the pause the worker claimed and failed all four
/// jobs twice within a second: all dead.)
#[test]
fn a_store_outage_pauses_claims_and_costs_no_job() {
    let moto = Moto::start();
    let gate = Gate::new(moto.port);
    let site = Site::new("max_attempts = 2\njobs = 1");
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    for (i, p) in site.inputs(4).iter().enumerate() {
        moto.put(&format!("/tiles/in/a{i}.tif"), p);
    }
    moto.submit(&site, "ndvi", "s3://tiles/in/a*.tif");
    let endpoint = gate.endpoint();
    gate.set(false);
    let mut w = moto.worker(&site, &[("AWS_S3_ENDPOINT", &endpoint)]);
    wait_until(60, "the worker to pause", || {
        w.text().contains("not claiming jobs until it answers")
    });
    // Several probes' worth of outage: still one attempt spent, on one job.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!((site.pg.count("pending"), site.pg.count("dead")), (4, 0));
    let retry = outcomes(&w, "retry");
    assert_eq!(retry.len(), 1, "{}", w.text());
    let cause = retry[0]["cause"].as_str().unwrap();
    assert!(cause.contains("cannot be reached"), "{cause}");
    let st = site.status();
    assert_eq!(st["counts"]["pending"], 4, "{st}");
    // The store answers again, with its objects.
    gate.set(true);
    wait_until(60, "every job to be done", || site.pg.count("done") == 4);
    w.stop();
    assert!(w.text().contains("answers again"), "{}", w.text());
    assert!(outcomes(&w, "dead").is_empty(), "{}", w.text());
    assert_eq!(outcomes(&w, "done").len(), 4, "{}", w.text());
}

/// A store that accepts connections and never answers (a hung balancer)
/// must not freeze a paused worker: each probe of the store has a time
/// limit, so SIGTERM still stops it. (The probe used to wait for ever, with
/// every slot of the worker waiting behind it.)
#[test]
fn a_store_that_hangs_does_not_freeze_a_paused_worker() {
    let moto = Moto::start();
    let gate = Gate::new(moto.port);
    let site = Site::new("jobs = 2");
    one_job(&moto, &site);
    let endpoint = gate.endpoint();
    gate.set(false);
    let mut w = moto.worker(&site, &[("AWS_S3_ENDPOINT", &endpoint)]);
    wait_until(60, "the worker to pause", || {
        w.text().contains("not claiming jobs until it answers")
    });
    // The next probes (1 s, then 2 s apart) meet a store that hangs.
    gate.hang();
    std::thread::sleep(Duration::from_millis(3500));
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait_exit(60), 0, "{}", w.text());
    assert!(w.text().contains("stopped"), "{}", w.text());
}

/// A store that accepts connections and never answers must not hold a job
/// for ever (its heartbeat would keep the lease): GDAL's requests give up
/// after `[queue] store_stall_secs` without a byte, and the job fails as
/// transient with the reason (here it has one attempt, so it is dead).
#[test]
fn a_job_whose_store_hangs_fails_after_the_stall_limit() {
    let moto = Moto::start();
    let gate = Gate::new(moto.port);
    let site = Site::new("jobs = 1\nmax_attempts = 1\nstore_pause_secs = 1\nstore_stall_secs = 2");
    one_job(&moto, &site);
    let endpoint = gate.endpoint();
    gate.hang();
    let mut w = moto.worker(&site, &[("AWS_S3_ENDPOINT", &endpoint)]);
    wait_until(60, "the job to fail", || site.pg.count("dead") == 1);
    w.stop();
    let dead = outcomes(&w, "dead");
    assert_eq!(dead.len(), 1, "{}", w.text());
    let cause = dead[0]["cause"].as_str().unwrap();
    assert!(
        cause.contains("s3://tiles/in/a.tif") && cause.contains("cannot be reached"),
        "{cause}"
    );
}

/// A store that never comes back (here: gone for good) must not stop the
/// worker for good either: the pause ends after `store_pause_secs`, and
/// the job spends its attempts at that pace and ends `dead`, keeping the
/// reason. The worker has two slots: the idle one must not spend the
/// second attempt while the first waits for the store.
#[test]
fn an_unreachable_store_is_retried_then_dead_with_the_reason() {
    let moto = Moto::start();
    let site = Site::new("max_attempts = 2\nstore_pause_secs = 2");
    one_job(&moto, &site);
    let env = moto.env();
    drop(moto);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut w = site.worker(&env);
    wait_until(60, "the job to be dead", || site.pg.count("dead") == 1);
    w.stop();
    assert!(w.text().contains("still cannot be reached"), "{}", w.text());
    let (retry, dead) = (outcomes(&w, "retry"), outcomes(&w, "dead"));
    assert_eq!((retry.len(), dead.len()), (1, 1), "{}", w.text());
    let cause = dead[0]["cause"].as_str().unwrap();
    assert!(cause.contains("cannot be reached"), "{cause}");
    let st = site.status();
    assert_eq!(st["recent_failures"][0]["state"], "dead");
    assert_eq!(st["recent_failures"][0]["attempts"], 2);
}
