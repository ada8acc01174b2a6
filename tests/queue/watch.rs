//! `tilerun watch` beside the queue: with `[queue] url` it claims arrivals
//! as always but hands them to the workers; its `/metrics` count either way.

use super::metrics::{get, sample};
use super::pg::{free_port, Pg, PASSWORD};
use crate::util::fixture;
use crate::watch::harness::{wait_until, Daemon, Site};

#[test]
fn watch_with_a_queue_hands_arrivals_to_the_workers() {
    let pg = Pg::start();
    let site = Site::new(
        &[("*.tif", "ndvi")],
        &format!("\n[queue]\nurl = '{}'\npoll_secs = 1\n", pg.url()),
    );
    let port = free_port();
    let mut c = site.cmd();
    c.args(["--metrics", &format!("127.0.0.1:{port}")]);
    let mut d = Daemon::spawn(c);
    d.wait_ready();
    for n in ["a.tif", "b.tif"] {
        site.drop_in(&fixture("scene_small.tif"), n);
    }
    wait_until(60, "both files queued", || {
        d.count("queued", "a.tif") + d.count("queued", "b.tif") == 2
    });
    let inputs = pg.sql("SELECT input FROM tilerun.jobs WHERE state = 'pending' ORDER BY input");
    let want = format!(
        "{}\n{}",
        site.done.join("a.tif").canonicalize().unwrap().display(),
        site.done.join("b.tif").canonicalize().unwrap().display()
    );
    assert_eq!(inputs, want);
    let (_, body) = get(port, "/metrics");
    assert_eq!(
        sample(&body, r#"tilerun_jobs_total{outcome="queued"}"#),
        Some(2.0),
        "{body}"
    );
    assert!(
        !site.out.join("a_ndvi.tif").exists(),
        "watch ran the job itself"
    );

    // A worker with the same config takes them; outputs land beside the
    // inputs (this config has no [output] dir).
    let mut w = Daemon::spawn({
        let mut c = site.env.cmd();
        c.args(["worker", "--log-format", "json", "--config"])
            .arg(&site.config);
        c
    });
    wait_until(60, "the worker to finish both", || {
        pg.sql("SELECT count(*) FROM tilerun.jobs WHERE state = 'done'") == "2"
    });
    assert!(site.done.join("a_ndvi.tif").is_file() && site.done.join("b_ndvi.tif").is_file());
    w.stop();
    d.stop();
}

#[test]
fn watch_metrics_count_local_jobs() {
    let site = Site::new(&[("*.tif", "ndvi")], "");
    let port = free_port();
    let mut c = site.cmd();
    c.args(["--metrics", &format!("127.0.0.1:{port}")]);
    let mut d = Daemon::spawn(c);
    d.wait_ready();
    let (_, before) = get(port, "/metrics");
    assert_eq!(
        sample(&before, "tilerun_pixels_total"),
        Some(0.0),
        "{before}"
    );
    site.drop_in(&fixture("scene_small.tif"), "a.tif");
    wait_until(60, "the file done", || d.count("done", "a.tif") == 1);
    let (_, after) = get(port, "/metrics");
    assert_eq!(
        sample(&after, r#"tilerun_jobs_total{outcome="done"}"#),
        Some(1.0),
        "{after}"
    );
    assert_eq!(sample(&after, "tilerun_pixels_total"), Some(60000.0));
    assert_eq!(
        sample(&after, "tilerun_job_duration_seconds_count"),
        Some(1.0)
    );
    d.stop();
}

/// The password need not sit in config.toml: `[queue] url` names the
/// queue (and turns the hand-over on), `$TILERUN_QUEUE` carries the URL
/// with its password, as for `worker` and the systemd unit's env file.
#[test]
fn watch_takes_the_queue_password_from_the_environment() {
    let pg = Pg::start();
    let bare = pg.url().replace(&format!(":{PASSWORD}@"), "@");
    assert!(!bare.contains(PASSWORD));
    let site = Site::new(
        &[("*.tif", "ndvi")],
        &format!("\n[queue]\nurl = '{bare}'\npoll_secs = 1\n"),
    );
    let mut c = site.cmd();
    c.env("TILERUN_QUEUE", pg.url());
    let mut d = Daemon::spawn(c);
    d.wait_ready();
    site.drop_in(&fixture("scene_small.tif"), "a.tif");
    wait_until(60, "the file queued", || d.count("queued", "a.tif") == 1);
    assert_eq!(pg.sql("SELECT count(*) FROM tilerun.jobs"), "1");
    d.stop();
    assert!(!d.text().contains(PASSWORD));
}
