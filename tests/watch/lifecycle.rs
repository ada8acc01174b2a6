//! Arrivals: slow copies, files around start-up, floods (with inotify, with
//! its queue overflowing, and with polling only), and two daemons sharing
//! one inbox. Each file must be processed exactly once.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use super::harness::*;
use crate::util::*;

#[test]
fn a_slow_copy_is_processed_once_and_only_after_it_completes() {
    let site = Site::new(&[("*.tif", "ndvi")], "settle_secs = 0.5");
    let mut d = site.start();
    d.wait_ready();
    let src = std::fs::read(fixture("scene_small.tif")).unwrap();
    let dst = site.inbox.join("slow.tif");
    let mut f = std::fs::File::create(&dst).unwrap();
    for (i, chunk) in src.chunks(src.len() / 10 + 1).enumerate() {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        // Mid-way the writer stalls for three settle times with the file
        // open: unchanged, but not closed, so still not complete.
        let pause = if i == 5 { 1500 } else { 300 };
        std::thread::sleep(Duration::from_millis(pause));
        // Still open for writing: never claimed, whatever its size says.
        assert!(dst.exists(), "claimed while still being written");
        assert!(names(&site.out).is_empty());
    }
    drop(f);
    wait_until(60, "slow.tif in done/", || {
        site.done.join("slow.tif").exists()
    });
    let want = site.reference(&fixture("scene_small.tif"), "ndvi");
    assert_same_raster(&site.out.join("slow_ndvi.tif"), &want);
    d.stop();
    assert_eq!(d.count("done", "slow.tif"), 1, "{}", d.text());
    assert_eq!(d.count("failed", "slow.tif"), 0);
    assert_eq!(names(&site.done), ["slow.tif"]);
    assert!(names(&site.failed).is_empty() && names(&site.work).is_empty());
}

#[test]
fn files_before_and_during_start_up_are_all_processed() {
    // open.tif, listed at start-up with no writer known, is complete once
    // unchanged for the settle time: 3 s, so a test starved between two
    // of its writes does not see it claimed half-written.
    let site = Site::new(&[("*.tif", "double")], "settle_secs = 3.0");
    let src = fixture("rgb_band.tif");
    let mut want = BTreeSet::new();
    for i in 0..5 {
        let n = format!("before{i}.tif");
        site.drop_in(&src, &n);
        want.insert(n);
    }
    // A copy begun before start-up and still being written after it.
    let mut open = std::fs::File::create(site.inbox.join("open.tif")).unwrap();
    let body = std::fs::read(&src).unwrap();
    let mut chunks = body.chunks(body.len() / 20 + 1);
    open.write_all(chunks.next().unwrap()).unwrap();
    want.insert("open.tif".into());
    let mut d = site.start();
    for i in 0..20 {
        let n = format!("during{i}.tif");
        site.drop_in(&src, &n);
        want.insert(n);
        if let Some(c) = chunks.next() {
            open.write_all(c).unwrap();
        }
        std::thread::sleep(Duration::from_millis(15));
    }
    for c in chunks {
        open.write_all(c).unwrap();
    }
    drop(open);
    d.wait_ready();
    wait_until(90, "all files in done/", || {
        names(&site.done).len() >= want.len()
    });
    d.stop();
    let got: BTreeSet<String> = names(&site.done).into_iter().collect();
    assert_eq!(got, want);
    for n in &want {
        assert_eq!(d.count("done", n), 1, "{n}\n{}", d.text());
        let out = format!("{}_x2.tif", n.trim_end_matches(".tif"));
        assert!(site.out.join(&out).exists(), "{out}");
    }
    assert!(names(&site.failed).is_empty(), "{:?}", names(&site.failed));
    assert_no_temp(&site.out);
}

/// Drop `n` files at once (renames from a staging folder) and check each
/// is done exactly once.
fn flood(site: &Site, d: &mut Daemon, n: usize) {
    let src = fixture("rgb_band.tif");
    let staged: Vec<_> = (0..n)
        .map(|i| site.stage(&src, &format!("f{i:03}.tif")))
        .collect();
    for p in &staged {
        std::fs::rename(p, site.inbox.join(p.file_name().unwrap())).unwrap();
    }
    wait_until(120, "every file in done/", || names(&site.done).len() >= n);
    d.stop();
    let done = names(&site.done);
    assert_eq!(done.len(), n, "numbered duplicates in done/?");
    for i in 0..n {
        let name = format!("f{i:03}.tif");
        assert_eq!(d.count("done", &name), 1, "{name}");
        assert!(site.out.join(format!("f{i:03}_x2.tif")).exists());
    }
    assert!(names(&site.inbox).is_empty() && names(&site.work).is_empty());
    assert!(names(&site.failed).is_empty());
    assert_no_temp(&site.out);
}

#[test]
fn three_hundred_files_at_once_are_each_processed_exactly_once() {
    let site = Site::new(&[("*.tif", "double")], "rescan_interval_secs = 3600");
    let mut d = site.start();
    d.wait_ready();
    flood(&site, &mut d, 300);
}

#[test]
fn three_hundred_files_with_only_the_rescan_path_left() {
    let site = Site::new(
        &[("*.tif", "double")],
        "poll = true\npoll_interval_secs = 0.2",
    );
    let mut d = site.start();
    assert_eq!(d.wait_ready()["poll"], true);
    flood(&site, &mut d, 300);
}

/// Restores a sysctl when dropped, even if the test fails.
struct Sysctl(&'static str, String);

impl Drop for Sysctl {
    fn drop(&mut self) {
        let _ = std::fs::write(self.0, &self.1);
    }
}

#[test]
fn three_hundred_files_with_the_inotify_queue_overflowing() {
    const Q: &str = "/proc/sys/fs/inotify/max_queued_events";
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let Ok(old) = std::fs::read_to_string(Q) else {
        eprintln!("SKIP: {Q} not readable");
        return;
    };
    if !root || std::fs::write(Q, "16").is_err() {
        eprintln!("SKIP: not root, cannot shrink {Q} to force an overflow");
        return;
    }
    let guard = Sysctl(Q, old);
    // The queue size is fixed when the inotify instance is created: shrink
    // it only around the daemon's start-up, for as short a time as we can.
    let site = Site::new(&[("*.tif", "double")], "rescan_interval_secs = 3600");
    let mut d = site.start();
    d.wait_ready();
    drop(guard);
    flood(&site, &mut d, 300);
    assert!(
        d.text().contains("queue overflow"),
        "the queue never overflowed, so this test proved nothing:\n{}",
        d.text()
    );
}

#[test]
fn two_daemons_on_one_inbox_never_process_a_file_twice() {
    let a = Site::new(&[("*.tif", "double")], "");
    let b = Site::sharing_inbox_of(&a, &[("*.tif", "double")]);
    let (mut da, mut db) = (a.start(), b.start());
    da.wait_ready();
    db.wait_ready();
    let src = fixture("rgb_band.tif");
    let n = 120;
    let staged: Vec<_> = (0..n)
        .map(|i| a.stage(&src, &format!("s{i:03}.tif")))
        .collect();
    for p in &staged {
        std::fs::rename(p, a.inbox.join(p.file_name().unwrap())).unwrap();
    }
    let b_done = b.done.clone();
    wait_until(120, "all files done by one daemon or the other", || {
        names(&a.done).len() + names(&b_done).len() >= n
    });
    da.stop();
    db.stop();
    let (x, y): (BTreeSet<_>, BTreeSet<_>) = (
        names(&a.done).into_iter().collect(),
        names(&b_done).into_iter().collect(),
    );
    assert!(
        x.is_disjoint(&y),
        "processed by both: {:?}",
        x.intersection(&y)
    );
    assert_eq!(x.len() + y.len(), n);
    assert!(names(&a.failed).is_empty());
}
