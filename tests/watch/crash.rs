//! Crashes and signals mid-job. After kill -9 at any point and a restart,
//! the input is in done/ exactly once, the output equals a one-shot run and
//! no temp file remains. SIGTERM finishes or rolls back within the grace
//! period and exits 0; a second signal exits at once; never a partial output.

use std::path::Path;

use super::harness::*;
use crate::util::*;

/// A site whose jobs on the big input take seconds (see [`SLOW`]).
fn slow_site(extra: &str) -> Site {
    Site::with_engine(&[("*.tif", "ndvi")], extra, SLOW)
}

fn temp_in(dir: &Path) -> bool {
    list(dir).iter().any(|n| n.contains(".tilerun-tmp-"))
}

/// Restart after a crash and check the end state.
fn restart_and_check(site: &Site, big: &Path) {
    // The crash is over: the re-run need not be slow.
    site.unslow();
    let mut d = site.start();
    let ready = d.wait_ready();
    assert_eq!(ready["requeued"], 1, "{}", d.text());
    wait_until(120, "big.tif in done/", || {
        site.done.join("big.tif").exists()
    });
    d.stop();
    assert_eq!(names(&site.done), ["big.tif"]);
    assert_eq!(d.count("done", "big.tif"), 1);
    assert!(names(&site.failed).is_empty(), "{:?}", names(&site.failed));
    // Only the lock remains in work/: no input, no strike counter.
    assert_eq!(list(&site.work), [".tilerun.lock"]);
    assert_no_temp(&site.out);
    assert_eq!(names(&site.out), ["big_ndvi.tif"]);
    let want = site.reference(big, "ndvi");
    assert_same_raster(&site.out.join("big_ndvi.tif"), &want);
}

fn kill_at_failpoint(point: &str) {
    // The failpoint holds the job where it is: no need for a slow one.
    let site = Site::with_engine(&[("*.tif", "ndvi")], "", "window = 0");
    let big = site.big_input();
    let mut d = Daemon::spawn({
        let mut c = site.cmd();
        c.env("TILERUN_FAILPOINT", point);
        c
    });
    d.wait_ready();
    site.drop_in(&big, "big.tif");
    d.wait_log(120, point, |v| {
        v["message"].as_str().is_some_and(|m| m.contains(point))
    });
    d.kill9();
    assert_eq!(
        names(&site.work),
        ["big.tif"],
        "the claimed input stays in work/"
    );
    restart_and_check(&site, &big);
}

#[test]
fn kill_9_after_the_claim_then_restart() {
    kill_at_failpoint("after-claim");
}

#[test]
fn kill_9_after_the_output_is_committed_then_restart() {
    kill_at_failpoint("after-commit");
}

#[test]
fn kill_9_while_the_output_is_being_written_then_restart() {
    let site = slow_site("");
    let big = site.big_input();
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&big, "big.tif");
    wait_until(120, "a temp output", || temp_in(&site.out));
    d.kill9();
    // Killed mid-write: the temp is still there, nothing at the final path.
    assert!(temp_in(&site.out), "the job finished before the kill");
    assert!(names(&site.out).is_empty(), "{:?}", names(&site.out));
    assert_eq!(names(&site.work), ["big.tif"]);
    restart_and_check(&site, &big);
}

/// Start a job on the big input and freeze the daemon (SIGSTOP) while its
/// temp output exists, so the next signal lands mid-job for certain.
fn frozen_mid_job(site: &Site) -> Daemon {
    let big = site.big_input();
    let mut d = site.start();
    d.wait_ready();
    site.drop_in(&big, "big.tif");
    wait_until(120, "a temp output", || temp_in(&site.out));
    d.signal(libc::SIGSTOP);
    assert!(
        temp_in(&site.out),
        "the job finished before it could be frozen"
    );
    d
}

#[test]
fn sigterm_mid_job_lets_it_finish_within_the_grace_period() {
    let site = slow_site("grace_secs = 300");
    let mut d = frozen_mid_job(&site);
    d.signal(libc::SIGTERM);
    d.signal(libc::SIGCONT);
    assert_eq!(d.wait_exit(300), 0, "{}", d.text());
    assert_eq!(names(&site.done), ["big.tif"]);
    assert!(names(&site.work).is_empty());
    assert_no_temp(&site.out);
    site.unslow();
    let want = site.reference(&site.env.path("big.tif"), "ndvi");
    assert_same_raster(&site.out.join("big_ndvi.tif"), &want);
}

#[test]
fn sigterm_mid_job_with_rollback_leaves_the_input_for_the_next_start() {
    let site = slow_site("on_stop = 'rollback'");
    let mut d = frozen_mid_job(&site);
    d.signal(libc::SIGTERM);
    d.signal(libc::SIGCONT);
    assert_eq!(d.wait_exit(60), 0, "{}", d.text());
    assert_eq!(d.count("rolled-back", "big.tif"), 1, "{}", d.text());
    assert!(names(&site.out).is_empty(), "{:?}", names(&site.out));
    assert_no_temp(&site.out);
    assert_eq!(names(&site.work), ["big.tif"]);
    restart_and_check(&site, &site.env.path("big.tif"));
}

#[test]
fn sigterm_past_the_grace_period_rolls_back_and_exits_0() {
    let site = slow_site("grace_secs = 0");
    let mut d = frozen_mid_job(&site);
    d.signal(libc::SIGTERM);
    d.signal(libc::SIGCONT);
    assert_eq!(d.wait_exit(60), 0, "{}", d.text());
    assert!(d.text().contains("grace period over"), "{}", d.text());
    assert!(names(&site.out).is_empty());
    assert_no_temp(&site.out);
    assert_eq!(names(&site.work), ["big.tif"]);
}

#[test]
fn a_second_signal_exits_at_once_with_no_partial_output() {
    let site = slow_site("grace_secs = 300");
    let mut d = frozen_mid_job(&site);
    // Two different signals, both pending while frozen: both are delivered
    // on SIGCONT, before the job can finish.
    d.signal(libc::SIGTERM);
    d.signal(libc::SIGINT);
    d.signal(libc::SIGCONT);
    assert_eq!(d.wait_exit(60), 130, "{}", d.text());
    assert!(names(&site.out).is_empty(), "{:?}", names(&site.out));
    assert_no_temp(&site.out);
    assert_eq!(names(&site.work), ["big.tif"]);
}
