//! `tilerun watch` with `[queue] url` and a set recipe: it still waits for
//! the whole delivery, then moves it (extras too) into done/ and submits
//! ONE job; a kill -9 between the moves and the submit is finished at the
//! next start, neither losing nor doubling the set; a re-delivery whose
//! names are taken in done/ goes to done/KEY.1/ whole; a folder is one job.

use std::path::PathBuf;
use std::time::Duration;

use super::pg::Pg;
use super::sets::{jobs, reference, BANDS, OTHER};
use crate::deliveries::{landsat, LANDSAT};
use crate::watch::harness::{self as watch, assert_same_raster, names, wait_until, Daemon};

/// A third delivery, arriving as a folder of its own name.
const THIRD: &str = "LC09_L2SP_042034_20231017_20231021_02_T1";

/// The extra first, the band that completes the set last.
const FILES: [&str; 4] = ["MTL.json", "QA_PIXEL.TIF", "SR_B5.TIF", "SR_B4.TIF"];

fn site(pg: &Pg) -> watch::Site {
    let queue = format!("\n[queue]\nurl = '{}'\npoll_secs = 1\n", pg.url());
    let rules = [("LC09_*", "landsat_ndvi")];
    watch::Site::with_engine(&rules, &queue, &crate::sets::recipes())
}

/// A delivery's files staged beside the inbox, in `FILES` order.
fn staged(site: &watch::Site, key: &str) -> Vec<PathBuf> {
    FILES
        .iter()
        .map(|f| site.stage(&landsat(f), &format!("{key}_{f}")))
        .collect()
}

/// The delivery's file names, sorted.
fn done(key: &str) -> Vec<String> {
    let mut v: Vec<String> = FILES.iter().map(|f| format!("{key}_{f}")).collect();
    v.sort();
    v
}

#[test]
fn watch_hands_over_a_whole_set_once_even_across_a_kill_in_the_hand_over() {
    let pg = Pg::start();
    let site = site(&pg);
    let staged = |key: &str| staged(&site, key);
    let drop = |p: &PathBuf| std::fs::rename(p, site.inbox.join(p.file_name().unwrap())).unwrap();

    // Members arrive apart; the set is handed over only when whole. The
    // first daemon is killed after moving the set but before submitting.
    let mut d = Daemon::spawn({
        let mut c = site.cmd();
        c.env("TILERUN_FAILPOINT", "after-handover-move");
        c
    });
    d.wait_ready();
    let first = staged(LANDSAT);
    for p in &first[..3] {
        drop(p);
        std::thread::sleep(Duration::from_millis(700));
    }
    wait_until(60, "three members in work/", || {
        names(&site.work).len() == 3
    });
    assert_eq!(pg.sql("SELECT count(*) FROM tilerun.jobs"), "0");
    drop(&first[3]);
    d.wait_log(60, "the failpoint", |v| {
        v["message"] == "failpoint after-handover-move reached"
    });
    d.kill9();
    // Killed in the window: the set moved to done/, no job yet.
    assert_eq!(names(&site.done).len(), 4, "{:?}", names(&site.done));
    assert_eq!(pg.sql("SELECT count(*) FROM tilerun.jobs"), "0");

    // The restart finishes the hand-over: one job, the set in done/.
    let mut d = site.start();
    d.wait_ready();
    let replayed =
        |v: &serde_json::Value| v["message"] == "finishing an interrupted hand-over to the queue";
    assert_eq!(
        d.logs().iter().filter(|v| replayed(v)).count(),
        1,
        "{}",
        d.text()
    );
    assert_eq!(jobs(&pg), format!("{LANDSAT}|3|pending"));
    assert_eq!(names(&site.done), done(LANDSAT));
    // A second set, interleaved with nothing left of the first.
    let second = staged(OTHER);
    // Another order (an extra counts only if it comes before the set is whole).
    for i in [3, 0, 2, 1] {
        drop(&second[i]);
        std::thread::sleep(Duration::from_millis(400));
    }
    wait_until(60, "the second set queued", || {
        d.count("queued", OTHER) == 1
    });
    // The first delivery again: its names are taken in done/, so it goes
    // to done/KEY.1/ whole (its names must still match the patterns).
    for p in staged(LANDSAT) {
        drop(&p);
    }
    wait_until(60, "the re-delivery queued", || {
        d.count("queued", LANDSAT) == 2
    });
    // A folder renamed in is one arrival, handed over as one input.
    let folder = site.env.path("staging/folder");
    std::fs::create_dir_all(&folder).unwrap();
    for b in BANDS {
        std::fs::copy(landsat(b), folder.join(format!("{THIRD}_{b}"))).unwrap();
    }
    std::fs::rename(&folder, site.inbox.join(THIRD)).unwrap();
    wait_until(60, "the folder queued", || d.count("queued", THIRD) == 1);
    d.stop();
    let mut d = site.start();
    d.wait_ready();
    std::thread::sleep(Duration::from_millis(1500));
    d.stop();
    assert_eq!(
        jobs(&pg),
        format!("{LANDSAT}|3|pending\n{LANDSAT}|3|pending\n{OTHER}|3|pending\n||pending")
    );
    let mut all = done(LANDSAT);
    all.extend(done(OTHER));
    all.extend([format!("{LANDSAT}.1"), THIRD.to_string()]);
    all.sort();
    assert_eq!(names(&site.done), all);
    assert_eq!(
        names(&site.done.join(format!("{LANDSAT}.1"))),
        done(LANDSAT)
    );
    // No member, note or strike file left behind (only the daemon's lock).
    assert_eq!(watch::tree(&site.work), [".tilerun.lock"]);

    let mut w = Daemon::spawn({
        let mut c = site.env.cmd();
        c.args(["worker", "--log-format", "json", "--config"])
            .arg(&site.config);
        c
    });
    wait_until(60, "the four jobs done", || {
        pg.sql("SELECT count(*) FROM tilerun.jobs WHERE state = 'done'") == "4"
    });
    w.stop();
    let want = reference(&site.env, &site.config);
    let again = site
        .done
        .join(format!("{LANDSAT}.1/{LANDSAT}_landsat_ndvi.tif"));
    assert_same_raster(&again, &want);
    for key in [LANDSAT, OTHER, THIRD] {
        assert_same_raster(&site.done.join(format!("{key}_landsat_ndvi.tif")), &want);
    }
}

#[test]
fn a_set_the_database_cannot_take_goes_back_to_work_and_is_queued_at_the_next_start() {
    let pg = Pg::start();
    let site = site(&pg);
    let mut d = site.start();
    d.wait_ready();
    pg.ctl("stop");
    for p in staged(&site, LANDSAT) {
        std::fs::rename(&p, site.inbox.join(p.file_name().unwrap())).unwrap();
    }
    d.wait_log(60, "the database to be missed", |v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("database unreachable"))
    });
    d.stop();
    assert_eq!(names(&site.work), done(LANDSAT));
    assert!(names(&site.done).is_empty(), "{:?}", names(&site.done));
    pg.ctl("start");
    let mut d = site.start();
    d.wait_ready();
    wait_until(60, "the set queued", || d.count("queued", LANDSAT) == 1);
    d.stop();
    assert_eq!(jobs(&pg), format!("{LANDSAT}|3|pending"));
    assert_eq!(names(&site.done), done(LANDSAT));
    assert_eq!(watch::tree(&site.work), [".tilerun.lock"]);
}

/// A delivery's MTL arriving after the set was handed over goes to done/
/// beside it at once (it used to stay in work/ until the daemon restarted:
/// a handed-over set never "ends" in the daemon's books).
#[test]
fn a_late_extra_of_a_handed_over_set_follows_it_to_done() {
    let pg = Pg::start();
    let site = site(&pg);
    let mut d = site.start();
    d.wait_ready();
    let files = staged(&site, LANDSAT);
    let rename = |p: &PathBuf| std::fs::rename(p, site.inbox.join(p.file_name().unwrap())).unwrap();
    for p in &files[1..] {
        rename(p);
    }
    wait_until(60, "the set queued", || d.count("queued", LANDSAT) == 1);
    rename(&files[0]);
    let mtl = format!("{LANDSAT}_MTL.json");
    wait_until(30, "the late MTL in done/", || {
        site.done.join(&mtl).exists()
    });
    d.stop();
    assert_eq!(names(&site.done), done(LANDSAT), "{}", d.text());
    assert_eq!(watch::tree(&site.work), [".tilerun.lock"], "{}", d.text());
    assert_eq!(jobs(&pg), format!("{LANDSAT}|3|pending"));
}
