//! The systemd protocol, against a real `NOTIFY_SOCKET` bound here: READY=1
//! only after the start-up scan and re-queue, a watchdog that stops petting
//! when the pipeline is stuck, STOPPING=1 and EXTEND_TIMEOUT_USEC on stop.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use super::harness::*;
use crate::util::*;

struct Socket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl Socket {
    fn bind(site: &Site) -> Socket {
        let path = site.env.path("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Socket { sock, path }
    }

    fn cmd(&self, site: &Site, watchdog_usec: u64) -> Command {
        let mut c = site.cmd();
        c.env("NOTIFY_SOCKET", &self.path);
        c.env("WATCHDOG_USEC", watchdog_usec.to_string());
        c
    }

    /// Datagrams received within `secs`, stopping after one containing `until`.
    fn until(&self, secs: u64, until: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.sock.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let hit = m.lines().any(|l| l.starts_with(until));
                got.push(m);
                if hit {
                    return got;
                }
            }
        }
        panic!("no {until} within {secs}s; got {got:?}");
    }

    /// Everything received for `d`.
    fn during(&self, d: Duration) -> Vec<String> {
        let end = Instant::now() + d;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.sock.recv(&mut buf) {
                got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        got
    }
}

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
    sock.until(30, "WATCHDOG=1");
    d.signal(libc::SIGTERM);
    sock.until(30, "STOPPING=1");
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
    sock.until(30, "WATCHDOG=1");
    site.drop_in(&fixture("rgb_band.tif"), "stuck.tif");
    d.wait_log(60, "the failpoint", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("after-claim"))
    });
    // The claimed file makes no progress: well over the 0.2 s interval
    // passes without a single pet, so systemd would restart the daemon.
    sock.during(Duration::from_millis(200));
    let quiet = sock.during(Duration::from_millis(1500));
    assert!(
        !quiet.iter().any(|m| m.contains("WATCHDOG=1")),
        "petted while stuck: {quiet:?}"
    );
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
    let site = Site::with_engine(&[("*.tif", "ndvi")], "grace_secs = 300", "window = 8");
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
