//! The database goes away while jobs run: workers keep their jobs, wait it
//! out, and every job still ends done exactly once.

use super::harness::{outcomes, Site};
use crate::watch::harness::wait_until;

#[test]
fn a_database_restart_loses_no_job() {
    let site = Site::new("lease_secs = 6");
    let inputs = site.inputs(16);
    site.submit(&inputs).ok();
    let delay = [("TILERUN_TEST_COMMIT_DELAY_MS", "200")];
    let mut w = [site.worker(&delay), site.worker(&delay)];
    wait_until(60, "a few jobs done", || site.pg.count("done") >= 3);
    // Down long enough that running jobs' statements meet the outage
    // (a restart quicker than any statement is reconnected silently).
    site.pg.ctl("stop");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    site.pg.ctl("start");
    wait_until(120, "all jobs done", || site.pg.count("done") == 16);
    for d in &mut w {
        d.stop();
    }
    let said = |m: &str| w.iter().any(|d| d.text().contains(m));
    assert!(
        said("database unreachable"),
        "no worker noticed the restart"
    );
    assert!(said("database reachable again"));
    let done: usize = w.iter().map(|d| outcomes(d, "done").len()).sum();
    assert_eq!(done, 16, "commits logged");
    assert_eq!(site.out_files().len(), 16, "{:?}", site.out_files());
}

/// A connection that died while idle (the server restarted meanwhile) is
/// no outage: the next statement reconnects at once and logs nothing, so
/// an alert on "database unreachable" does not fire long after a restart.
#[test]
fn a_connection_that_died_idle_is_no_outage() {
    let site = Site::new("");
    // One slot, asleep on LISTEN: its claim connection sits idle.
    let mut w = site.worker_with(&["--jobs", "1", "--poll-secs", "120"], &[]);
    let listening = || {
        site.pg
            .sql("SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN tilerun_jobs'")
            == "1"
    };
    wait_until(60, "the slot to LISTEN", listening);
    site.pg.ctl("restart");
    // The listener notices the restart on its own connection and listens
    // again (seen by the new server: whether the worker met the server
    // down, and logged it, depends on how fast the restart was).
    wait_until(60, "the listener to reconnect", listening);
    let unreachable =
        |w: &crate::watch::harness::Daemon| w.text().matches("database unreachable").count();
    let before = unreachable(&w);
    site.submit(&site.inputs(1)).ok();
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    assert_eq!(unreachable(&w), before, "{}", w.text());
    assert_eq!(outcomes(&w, "done").len(), 1);
}
