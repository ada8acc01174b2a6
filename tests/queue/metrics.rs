//! `/metrics` over a real HTTP GET: the counters move as jobs end.

use std::io::{Read, Write};

use super::harness::Site;
use super::pg::free_port;
use crate::watch::harness::wait_until;

/// GET `path` from `port` on loopback; (status line, body).
pub fn get(port: u16, path: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

/// The value of the sample named exactly `name` (with its labels).
pub fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn worker_metrics_count_jobs_pixels_and_the_queue() {
    let site = Site::new("");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut w = site.worker_with(&["--metrics", &addr], &[]);
    let (status, before) = get(port, "/metrics");
    assert!(status.contains("200"), "{status}");
    assert_eq!(
        sample(&before, r#"tilerun_workers{state="idle"}"#),
        Some(2.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, "tilerun_pixels_total"),
        Some(0.0),
        "{before}"
    );
    assert_eq!(
        sample(&before, "tilerun_job_duration_seconds_count"),
        Some(0.0)
    );

    let mut inputs = site.inputs(3);
    let bad = site.inputs.join("bad.tif");
    std::fs::write(&bad, b"not a raster").unwrap();
    inputs.push(bad);
    site.submit(&inputs).ok();
    wait_until(60, "the jobs to end", || {
        site.pg.count("done") == 3 && site.pg.count("failed") == 1
    });
    // A slot shows idle just before it counts its job: wait for both, or
    // a scrape in between would miss the last job.
    wait_until(60, "the worker to be idle with every job counted", || {
        let body = get(port, "/metrics").1;
        sample(&body, r#"tilerun_workers{state="idle"}"#) == Some(2.0)
            && sample(&body, "tilerun_job_duration_seconds_count") >= Some(4.0)
    });
    let (_, after) = get(port, "/metrics");
    let n = |name: &str| sample(&after, name).unwrap_or_else(|| panic!("{name} in {after}"));
    assert_eq!(n(r#"tilerun_jobs_total{outcome="done"}"#), 3.0);
    assert_eq!(n(r#"tilerun_jobs_total{outcome="failed"}"#), 1.0);
    assert_eq!(n("tilerun_job_duration_seconds_count"), 4.0);
    // scene_small is 300×200, the two others 173×97 and 64×250.
    let pixels = (300 * 200 + 173 * 97 + 64 * 250) as f64;
    assert_eq!(n("tilerun_pixels_total"), pixels);
    assert_eq!(
        n("tilerun_bytes_total"),
        pixels * 2.0 * 2.0,
        "two UInt16 bands read"
    );
    assert_eq!(n(r#"tilerun_queue_jobs{state="done"}"#), 3.0);
    assert_eq!(n(r#"tilerun_queue_jobs{state="pending"}"#), 0.0);
    assert_eq!(n("tilerun_lease_reclaims_total"), 0.0);
    assert!(get(port, "/nope").0.contains("404"));
    w.stop();
}

#[test]
fn a_metrics_address_that_cannot_be_bound_is_exit_2() {
    let site = Site::new("");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let r = site.run(&["worker", "--metrics", &addr]);
    r.fails(2);
    assert!(r.stderr().contains(&addr), "{}", r.stderr());
}
