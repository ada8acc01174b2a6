//! Three workers, sixty jobs; one worker killed with SIGKILL mid-job,
//! another stopped with SIGSTOP past its lease and then resumed.

use std::collections::BTreeMap;

use serde_json::Value;

use super::harness::{outcomes, Site};
use crate::watch::harness::{assert_same_raster, signal, wait_until, Daemon};

const DELAY: (&str, &str) = ("TILERUN_TEST_COMMIT_DELAY_MS", "150");

/// The job of the next output worker `d` stages after its first `seen`
/// staged lines (it then waits before committing: the window in which
/// the test strikes).
fn staged(d: &mut Daemon, seen: usize, what: &str) -> i64 {
    let is_staged = |v: &Value| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("staged"))
    };
    wait_until(60, what, || {
        d.logs().iter().filter(|v| is_staged(v)).count() > seen
    });
    let logs = d.logs();
    let v = logs.iter().filter(|v| is_staged(v)).nth(seen).unwrap();
    v["job"].as_i64().unwrap()
}

fn staged_count(d: &Daemon) -> usize {
    d.logs()
        .iter()
        .filter(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("staged"))
        })
        .count()
}

fn state(site: &Site, id: i64) -> String {
    site.pg
        .sql(&format!("SELECT state FROM tilerun.jobs WHERE id = {id}"))
}

/// Freeze worker `d` (SIGSTOP) while it holds a staged output it has not
/// committed, and return that job's id; the worker stays frozen. The test
/// can be starved past the commit delay between the "staged" line and the
/// freeze: then the commit won (the job is no longer running), so the
/// worker goes on and the next output it stages is tried instead.
fn freeze_staged(site: &Site, d: &mut Daemon, who: &str) -> i64 {
    for _ in 0..5 {
        let n = staged_count(d);
        let id = staged(d, n, &format!("{who} to stage an output"));
        signal(d.pid(), libc::SIGSTOP);
        if state(site, id) == "running" {
            return id;
        }
        signal(d.pid(), libc::SIGCONT);
    }
    panic!(
        "{who} committed five outputs before it could be frozen:\n{}",
        d.text()
    );
}

#[test]
fn killed_and_stopped_workers_lose_and_double_nothing() {
    let site = Site::new("lease_secs = 2\nmax_attempts = 5");
    let inputs = site.inputs(60);
    site.submit(&inputs).ok();
    // Workers 0 and 1 hold each finished output for two seconds before
    // committing, so the test can strike them there; worker 2 is brisk.
    // One job slot each: a second slot could commit (in the database) in
    // the instant of the SIGKILL, before it logs, and the log count below
    // would miss a commit that did happen.
    let slow = [("TILERUN_TEST_COMMIT_DELAY_MS", "2000")];
    let port = super::pg::free_port();
    let metrics = format!("127.0.0.1:{port}");
    let mut w = vec![
        site.worker_with(&["--jobs", "1"], &slow),
        site.worker_with(&["--jobs", "1"], &slow),
        site.worker_with(&["--metrics", &metrics], &[DELAY]),
    ];

    // Worker 0 dies (SIGKILL) with a finished output not yet committed
    // (frozen there first, so the kill cannot come after the commit).
    let killed = freeze_staged(&site, &mut w[0], "worker 0");
    w[0].kill9();

    // Worker 1 hangs (SIGSTOP) at the same point, past its lease.
    let stopped = freeze_staged(&site, &mut w[1], "worker 1");
    wait_until(60, "worker 2 to take over the stopped worker's job", || {
        state(&site, stopped) == "done"
    });
    signal(w[1].pid(), libc::SIGCONT);
    let refused = w[1].wait_log(60, "the late commit to be refused", |v| {
        v["outcome"] == "refused" && v["job"] == stopped
    });
    assert_eq!(refused["state"], "done", "{refused}");

    wait_until(120, "all 60 jobs done", || site.pg.count("done") == 60);
    let (_, body) = super::metrics::get(port, "/metrics");
    let reclaims = super::metrics::sample(&body, "tilerun_lease_reclaims_total");
    assert!(
        reclaims >= Some(1.0),
        "worker 2 took over the stopped job: {body}"
    );
    for d in &mut w[1..] {
        d.stop();
    }

    // Each job committed exactly once, across all three workers' logs.
    let mut commits: BTreeMap<i64, usize> = BTreeMap::new();
    for d in &w {
        for v in outcomes(d, "done") {
            *commits.entry(v["job"].as_i64().unwrap()).or_default() += 1;
        }
    }
    assert_eq!(commits.len(), 60, "jobs committed: {commits:?}");
    assert!(commits.values().all(|&n| n == 1), "{commits:?}");
    assert!(outcomes(&w[0], "done").iter().all(|v| v["job"] != killed));
    let attempts: i32 = site
        .pg
        .sql(&format!(
            "SELECT attempts FROM tilerun.jobs WHERE id = {killed}"
        ))
        .parse()
        .unwrap();
    assert!(attempts >= 2, "the killed worker's job was not reclaimed");
    let reclaims: i64 = site
        .pg
        .sql("SELECT sum(reclaims) FROM tilerun.jobs")
        .parse()
        .unwrap();
    assert!(reclaims >= 2, "reclaims: {reclaims}");

    // Exactly one output per job, no staged or temp leftovers, and the
    // pixels of a one-shot run.
    let files = site.out_files();
    assert_eq!(files.len(), 60, "{files:?}");
    assert!(files.iter().all(|f| !f.starts_with('.')), "{files:?}");
    let mut refs = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let reference = refs
            .entry(i % 3)
            .or_insert_with(|| site.reference(input))
            .clone();
        let stem = input.file_stem().unwrap().to_string_lossy();
        assert_same_raster(&site.out.join(format!("{stem}_ndvi.tif")), &reference);
    }
}
