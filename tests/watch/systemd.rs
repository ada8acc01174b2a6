//! The systemd protocol, against a real `NOTIFY_SOCKET` bound here: READY=1
//! only after the start-up scan and re-queue, a watchdog that stops petting
//! when the pipeline is stuck, STOPPING=1 and EXTEND_TIMEOUT_USEC on stop.

use std::time::{Duration, Instant};

use super::harness::*;
use super::notify::Socket;
use crate::util::*;

#[test]
fn ready_comes_after_the_start_up_scan_and_re_queue() {
    let site = Site::new(&[("*.tif", "double")], "");
    std::fs::create_dir_all(&site.work).unwrap();
    let src = fixture("rgb_band.tif");
    std::fs::copy(&src, site.inbox.join("a.tif")).unwrap();
    std::fs::copy(&src, site.inbox.join("b.tif")).unwrap();
    std::fs::copy(&src, site.work.join("left_by_a_crash.tif")).unwrap();
    let sock = Socket::bind(&site);
    let mut d = Daemon::spawn(sock.cmd(&site, 400_000));
    let first = sock.until(60, "READY=1");
    assert_eq!(first.len(), 1, "nothing may come before READY=1: {first:?}");
    assert!(
        first[0].contains("startup scan found 2 files, re-queued 1 from work/"),
        "{first:?}"
    );
    wait_until(60, "all three in done/", || names(&site.done).len() == 3);
    // Idle: the watchdog is petted.
    sock.until(60, "WATCHDOG=1");
    d.signal(libc::SIGTERM);
    sock.until(60, "STOPPING=1");
    assert_eq!(d.wait_exit(60), 0, "{}", d.text());
}

#[test]
fn the_watchdog_is_not_petted_while_a_job_is_stuck() {
    let site = Site::new(&[("*.tif", "double")], "");
    let sock = Socket::bind(&site);
    let mut c = sock.cmd(&site, 200_000);
    c.env("TILERUN_FAILPOINT", "after-claim");
    let mut d = Daemon::spawn(c);
    sock.until(60, "READY=1");
    sock.until(60, "WATCHDOG=1");
    site.drop_in(&fixture("rgb_band.tif"), "stuck.tif");
    d.wait_log(60, "the failpoint", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("after-claim"))
    });
    // The claimed file makes no progress: well over the 0.2 s interval
    // passes without a single pet, so systemd would restart the daemon.
    // The claim itself was progress, so one pet may still be on its way
    // (later on a loaded machine): wait for the silence, not a guessed
    // drain time. A daemon that keeps petting never falls silent.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let quiet = sock.during(Duration::from_millis(1500));
        if !quiet.iter().any(|m| m.contains("WATCHDOG=1")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still petted 30 s after the job got stuck: {quiet:?}"
        );
    }
    d.signal(libc::SIGTERM);
    assert_eq!(d.wait_exit(60), 0, "{}", d.text());
    assert_eq!(
        names(&site.work),
        ["stuck.tif"],
        "an unstarted file stays claimed"
    );
}

#[test]
fn draining_on_stop_asks_systemd_for_more_time() {
    let site = Site::with_engine(&[("*.tif", "ndvi")], "grace_secs = 300", SLOW);
    let big = site.big_input();
    let sock = Socket::bind(&site);
    let mut d = Daemon::spawn(sock.cmd(&site, 0));
    sock.until(60, "READY=1");
    site.drop_in(&big, "big.tif");
    wait_until(120, "a temp output", || {
        list(&site.out).iter().any(|n| n.contains(".tilerun-tmp-"))
    });
    d.signal(libc::SIGSTOP);
    d.signal(libc::SIGTERM);
    d.signal(libc::SIGCONT);
    let got = sock.until(60, "EXTEND_TIMEOUT_USEC=");
    assert!(got.iter().any(|m| m.contains("STOPPING=1")), "{got:?}");
    assert_eq!(d.wait_exit(300), 0, "{}", d.text());
    assert_eq!(names(&site.done), ["big.tif"]);
}
