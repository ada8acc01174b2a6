//! Deliveries of several files: the daemon waits for the whole set. Members
//! arrive apart (seconds standing in for minutes) and in any order, a set
//! never completes, the daemon is killed between members, two sets
//! interleave, a file arrives twice; a `.SAFE` folder and a `.tar` are each
//! one arrival. Outputs equal the one-shot run; members move together,
//! to done/ only with an output.

use std::path::{Path, PathBuf};

use super::harness::*;
use crate::deliveries::{deliveries, landsat, LANDSAT, SAFE};
use crate::util::*;

const RULES: &[(&str, &str)] = &[("LC09_*", "landsat_ndvi"), ("*.SAFE", "s2_ndvi")];
const FILES: [&str; 4] = ["SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF", "MTL.json"];

fn site(extra: &str) -> Site {
    Site::with_engine(RULES, extra, &crate::sets::recipes())
}

/// `suffix` of a Landsat delivery staged under product id `key`.
fn staged(site: &Site, key: &str, suffix: &str) -> PathBuf {
    site.stage(&landsat(suffix), &format!("{key}_{suffix}"))
}

fn drop_staged(site: &Site, p: &Path) {
    std::fs::rename(p, site.inbox.join(p.file_name().unwrap())).unwrap();
}

/// A `QA_PIXEL` of delivery `key` that is not a TIFF: its set's job fails.
fn drop_corrupt_qa(site: &Site, key: &str) {
    let qa = site.env.path(&format!("staging/{key}_QA_PIXEL.TIF"));
    std::fs::write(&qa, b"II*\0not a tiff").unwrap();
    drop_staged(site, &qa);
}

/// Wait until the daemon has logged `n` set members as claimed (or found
/// in work/ at start-up) and waiting for the rest: the moment a premature
/// job would have started, seen in the log rather than guessed by a sleep.
fn wait_members(d: &Daemon, n: usize) {
    wait_until(
        60,
        &format!("{n} members waiting for their delivery"),
        || {
            let waiting = |v: &&serde_json::Value| {
                v["message"] == "claimed; waiting for the rest of its delivery"
            };
            d.logs().iter().filter(waiting).count() >= n
        },
    );
}

/// The one-shot product of the fixture delivery.
fn reference(site: &Site) -> PathBuf {
    let out = site.env.path("reference.tif");
    let folder = deliveries().join(LANDSAT);
    site.env
        .run([
            folder.as_os_str(),
            "--config".as_ref(),
            site.config.as_os_str(),
            "--recipe".as_ref(),
            "landsat_ndvi".as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ])
        .ok();
    out
}

fn done_names(key: &str) -> Vec<String> {
    let mut v: Vec<String> = FILES.iter().map(|f| format!("{key}_{f}")).collect();
    v.sort();
    v
}

#[test]
fn members_arriving_apart_in_any_order_start_one_job_and_move_together() {
    let site = site("");
    let mut d = site.start();
    d.wait_ready();
    let staged: Vec<PathBuf> = ["MTL.json", "QA_PIXEL.TIF", "SR_B5.TIF", "SR_B4.TIF"]
        .iter()
        .map(|f| staged(&site, LANDSAT, f))
        .collect();
    for (i, p) in staged[..3].iter().enumerate() {
        drop_staged(&site, p);
        wait_members(&d, i + 1);
        // Claimed into work/ as it settles; nothing runs yet.
        assert!(names(&site.out).is_empty(), "{:?}", names(&site.out));
        assert!(names(&site.done).is_empty());
    }
    wait_until(60, "three members in work/", || {
        names(&site.work).len() == 3
    });
    drop_staged(&site, &staged[3]);
    let out = site.out.join(format!("{LANDSAT}_landsat_ndvi.tif"));
    wait_until(60, "all four in done/", || {
        names(&site.done) == done_names(LANDSAT)
    });
    assert_same_raster(&out, &reference(&site));
    assert!(names(&site.work).is_empty() && names(&site.failed).is_empty());
    d.stop();
    assert_eq!(d.count("done", LANDSAT), 1, "{}", d.text());
}

#[test]
fn a_set_that_never_completes_fails_with_the_missing_names() {
    let site = site("set_timeout_secs = 2");
    let mut d = site.start();
    d.wait_ready();
    for f in ["SR_B4.TIF", "MTL.json"] {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    let json = site.failed.join(format!("{LANDSAT}.error.json"));
    wait_until(60, "the set in failed/", || json.exists());
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let missing = body["missing"].to_string();
    assert!(
        missing.contains("nir") && missing.contains("qa") && !missing.contains("red"),
        "{body}"
    );
    let mut failed = names(&site.failed);
    failed.retain(|n| !n.ends_with(".error.json"));
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(
        names(&site.done).is_empty() && names(&site.out).is_empty() && names(&site.work).is_empty()
    );
    d.stop();
}

#[test]
fn a_kill_between_members_then_a_restart_regroups_from_work() {
    let site = site("");
    let mut d = site.start();
    d.wait_ready();
    for f in ["SR_B4.TIF", "SR_B5.TIF"] {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    wait_until(60, "two members in work/", || names(&site.work).len() == 2);
    d.kill9();
    // The rest arrives while the daemon is down.
    drop_staged(&site, &staged(&site, LANDSAT, "MTL.json"));
    let mut d = site.start();
    d.wait_ready();
    // Two members found in work/, the third claimed from the inbox.
    wait_members(&d, 3);
    assert!(names(&site.out).is_empty());
    drop_staged(&site, &staged(&site, LANDSAT, "QA_PIXEL.TIF"));
    wait_until(60, "all four in done/", || {
        names(&site.done) == done_names(LANDSAT)
    });
    assert_same_raster(
        &site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")),
        &reference(&site),
    );
    d.stop();
}

#[test]
fn two_sets_interleaved_and_whole_deliveries_each_give_their_product() {
    let site = site("");
    let mut d = site.start();
    d.wait_ready();
    let other = LANDSAT.replace("_T1", "_T2");
    let order = [
        (LANDSAT, "SR_B4.TIF"),
        (other.as_str(), "QA_PIXEL.TIF"),
        (LANDSAT, "MTL.json"),
        (other.as_str(), "SR_B4.TIF"),
        (LANDSAT, "QA_PIXEL.TIF"),
        (other.as_str(), "MTL.json"),
        (other.as_str(), "SR_B5.TIF"),
        (LANDSAT, "SR_B5.TIF"),
    ];
    for (key, f) in order {
        drop_staged(&site, &staged(&site, key, f));
    }
    // A .SAFE folder renamed in is one arrival, and so is a .tar.
    let safe = site.env.path("staging/x.SAFE");
    oracle(
        "/bin/cp",
        &[
            "-r",
            deliveries().join(SAFE).to_str().unwrap(),
            safe.to_str().unwrap(),
        ],
    );
    std::fs::rename(&safe, site.inbox.join(SAFE)).unwrap();
    let tar_name = format!("LC09_TAR_{LANDSAT}.tar");
    site.drop_in(&deliveries().join(format!("{LANDSAT}.tar")), &tar_name);
    let mut want = done_names(LANDSAT);
    want.extend(done_names(&other));
    want.push(SAFE.into());
    want.push(tar_name);
    want.sort();
    wait_until(90, "every delivery in done/", || names(&site.done) == want);
    let reference = reference(&site);
    assert_same_raster(
        &site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")),
        &reference,
    );
    assert_same_raster(
        &site.out.join(format!("{other}_landsat_ndvi.tif")),
        &reference,
    );
    let s2 = site
        .out
        .join(format!("{}_s2_ndvi.tif", "T33UUP_20231015T101019"));
    assert!(read(&s2).bands[0].iter().any(|&v| v != -9999.0));
    assert!(names(&site.failed).is_empty(), "{:?}", names(&site.failed));
    d.stop();
}

#[test]
fn a_second_file_for_one_input_fails_its_set_without_overwriting() {
    let site = site("");
    let mut d = site.start();
    d.wait_ready();
    drop_staged(&site, &staged(&site, LANDSAT, "SR_B4.TIF"));
    wait_until(60, "B4 in work/", || names(&site.work).len() == 1);
    drop_staged(&site, &staged(&site, LANDSAT, "SR_B4.TIF"));
    let json = site.failed.join(format!("{LANDSAT}.error.json"));
    wait_until(60, "the set in failed/", || json.exists());
    let body = std::fs::read_to_string(&json).unwrap();
    assert!(body.contains("second file"), "{body}");
    let b4 = format!("{LANDSAT}_SR_B4.TIF");
    let failed = names(&site.failed);
    assert!(
        failed.contains(&b4) && failed.iter().filter(|n| n.contains("SR_B4")).count() == 2,
        "{failed:?}"
    );
    assert!(names(&site.work).is_empty() && names(&site.done).is_empty());
    d.stop();
}

#[test]
fn a_set_whose_job_fails_moves_to_failed_whole_and_never_to_done() {
    let site = site("");
    let mut d = site.start();
    d.wait_ready();
    for f in ["SR_B4.TIF", "SR_B5.TIF", "MTL.json"] {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    drop_corrupt_qa(&site, LANDSAT);
    let json = site.failed.join(format!("{LANDSAT}.error.json"));
    wait_until(60, "the set in failed/", || json.exists());
    let body = std::fs::read_to_string(&json).unwrap();
    assert!(body.contains("QA_PIXEL"), "{body}");
    let mut failed = names(&site.failed);
    failed.retain(|n| !n.ends_with(".error.json"));
    assert_eq!(failed, done_names(LANDSAT));
    assert!(
        names(&site.done).is_empty() && names(&site.out).is_empty() && names(&site.work).is_empty()
    );
    d.stop();
}

#[test]
fn a_delivery_dropped_whole_takes_its_files_that_sort_after_the_bands() {
    // `mv LC09_…/* inbox/`, here before start-up so that one scan sees every
    // file and claims them in name order: SR_B6, ST_B10 and the thumbnail
    // come after the last band the recipe reads, and still travel with it.
    let site = site("");
    let mut want = done_names(LANDSAT);
    for (f, like) in [
        ("SR_B6.TIF", "SR_B5.TIF"),
        ("ST_B10.TIF", "SR_B5.TIF"),
        ("thumb_small.jpeg", "MTL.json"),
    ] {
        let name = format!("{LANDSAT}_{f}");
        drop_staged(&site, &site.stage(&landsat(like), &name));
        want.push(name);
    }
    for f in FILES {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    want.sort();
    let mut d = site.start();
    d.wait_ready();
    wait_until(60, "the whole delivery in done/", || {
        names(&site.done) == want
    });
    assert_same_raster(
        &site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")),
        &reference(&site),
    );
    assert!(names(&site.work).is_empty() && names(&site.failed).is_empty());
    d.stop();
    assert_eq!(d.count("done", LANDSAT), 1, "{}", d.text());
}

/// A file of a delivery that no pattern reads (the MTL), arriving after its
/// delivery's job ended, goes where the delivery went at once: beside it in
/// done/, or in failed/ with the reason. It used to wait alone for a set
/// that would never come, and fail only after `set_timeout_secs`.
#[test]
fn a_late_file_of_a_delivery_goes_where_its_delivery_went() {
    let site = site("set_timeout_secs = 600");
    let mut d = site.start();
    d.wait_ready();
    for f in ["SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF"] {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    wait_until(60, "the bands in done/", || names(&site.done).len() == 3);
    drop_staged(&site, &staged(&site, LANDSAT, "MTL.json"));
    wait_until(60, "the MTL beside them", || {
        names(&site.done) == done_names(LANDSAT)
    });
    d.wait_log(60, "the late line", |v| {
        v["message"] == "arrived after its delivery was done: moved to done/ beside its files"
    });
    // A delivery whose job failed: its late MTL follows it to failed/.
    let bad = LANDSAT.replace("20231015_20231019", "20231031_20231102");
    for f in ["SR_B4.TIF", "SR_B5.TIF"] {
        drop_staged(&site, &staged(&site, &bad, f));
    }
    drop_corrupt_qa(&site, &bad);
    wait_until(60, "the set in failed/", || {
        site.failed.join(format!("{bad}.error.json")).exists()
    });
    drop_staged(&site, &staged(&site, &bad, "MTL.json"));
    let json = site.failed.join(format!("{bad}_MTL.json.error.json"));
    wait_until(60, "the late MTL in failed/", || json.exists());
    let body = std::fs::read_to_string(&json).unwrap();
    assert!(body.contains("arrived after its delivery"), "{body}");
    assert!(names(&site.work).is_empty(), "{:?}", names(&site.work));
    d.stop();
}

/// A delivery that failed, dropped again whole once fixed (`mv dir/*`, so
/// its MTL, sorting first, is claimed before any band): the MTL belongs to
/// the new delivery, whose bands are still in the inbox, not to the failed
/// one. It travels with the new set to done/; nothing more goes to failed/.
#[test]
fn a_redelivery_after_a_failure_keeps_its_first_claimed_extra() {
    let site = site("set_timeout_secs = 600");
    let mut d = site.start();
    d.wait_ready();
    for f in ["SR_B4.TIF", "SR_B5.TIF"] {
        drop_staged(&site, &staged(&site, LANDSAT, f));
    }
    drop_corrupt_qa(&site, LANDSAT);
    let error = site.failed.join(format!("{LANDSAT}.error.json"));
    wait_until(60, "the broken delivery in failed/", || error.exists());
    let failed_before = names(&site.failed);
    // The fixed delivery, MTL first as `mv` does it in name order.
    let again: Vec<PathBuf> = ["MTL.json", "QA_PIXEL.TIF", "SR_B4.TIF", "SR_B5.TIF"]
        .iter()
        .map(|f| staged(&site, LANDSAT, f))
        .collect();
    for p in &again {
        drop_staged(&site, p);
    }
    wait_until(60, "the fixed delivery done", || {
        d.count("done", LANDSAT) == 1
    });
    d.stop();
    assert_eq!(names(&site.done), done_names(LANDSAT), "{}", d.text());
    assert_eq!(names(&site.failed), failed_before, "{}", d.text());
    assert!(names(&site.work).is_empty(), "{:?}", names(&site.work));
    assert_same_raster(
        &site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")),
        &reference(&site),
    );
}

/// A recipe with a fixed-name input (no `*`) can never be completed by
/// loose files, which carry no such name with a key: the set fails as soon
/// as no more files of its key are arriving, saying why, rather than
/// holding its files in work/ for `set_timeout_secs` (an hour here).
#[test]
fn loose_files_for_a_recipe_with_a_fixed_name_input_fail_at_once() {
    let recipe = "[recipes.masked]\nexpr = 'where(m > 0, nodata, red)'\nnodata = -9999\n\
                  inputs = { red = '*_SR_B4.TIF', m = 'MASK.TIF' }\n";
    let engine = format!("{}{recipe}", crate::sets::recipes());
    let site = Site::with_engine(&[("LC09_*", "masked")], "", &engine);
    let mut d = site.start();
    d.wait_ready();
    // The MTL first (as `mv` claims in name order), then the band.
    drop_staged(&site, &staged(&site, LANDSAT, "MTL.json"));
    wait_members(&d, 1);
    drop_staged(&site, &staged(&site, LANDSAT, "SR_B4.TIF"));
    let json = site.failed.join(format!("{LANDSAT}.error.json"));
    wait_until(60, "the set in failed/", || json.exists());
    let body: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let missing = body["missing"].to_string();
    assert!(
        missing.contains("m (MASK.TIF, a name without the set key") && !missing.contains("red"),
        "{body}"
    );
    let mut failed = names(&site.failed);
    failed.retain(|n| !n.ends_with(".error.json"));
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(names(&site.work).is_empty() && names(&site.out).is_empty());
    d.stop();
}
