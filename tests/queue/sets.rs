//! Deliveries of several files through the shared queue: `submit` makes
//! ONE job per complete set (and refuses an incomplete one, submitting
//! nothing), from local files or S3 patterns; a worker's output equals the
//! one-shot run of the same set; a database of schema version 1 is
//! migrated with its rows still working. (`watch` with a queue: `handover`.)

use std::path::{Path, PathBuf};

use super::harness::Site;
use super::pg::Pg;
use crate::deliveries::{deliveries, landsat, LANDSAT};
use crate::util::*;
use crate::watch::harness::{assert_same_raster, wait_until};

pub const BANDS: [&str; 3] = ["SR_B4.TIF", "SR_B5.TIF", "QA_PIXEL.TIF"];
/// A second delivery: the fixture's files under another product id.
pub const OTHER: &str = "LC09_L2SP_042034_20231016_20231020_02_T1";

fn site() -> Site {
    Site::new(&crate::sets::recipes())
}

/// The delivery's bands copied into `dir` under product id `key`.
fn copy_set(dir: &Path, key: &str, bands: &[&str]) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    bands
        .iter()
        .map(|b| {
            let p = dir.join(format!("{key}_{b}"));
            std::fs::copy(landsat(b), &p).unwrap();
            p
        })
        .collect()
}

fn submit(site: &Site, files: &[PathBuf]) -> Run {
    let mut c = site.cmd(&["submit", "--recipe", "landsat_ndvi", "--json"]);
    c.args(files);
    Run(c.output().unwrap())
}

fn lines(r: &Run) -> Vec<serde_json::Value> {
    r.stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The one-shot product of the fixture delivery (its folder).
pub fn reference(env: &Env, config: &Path) -> PathBuf {
    let out = env.path("reference.tif");
    let folder = deliveries().join(LANDSAT);
    let mut args: Vec<&std::ffi::OsStr> = vec![folder.as_os_str(), "--config".as_ref()];
    args.extend([
        config.as_os_str(),
        "--recipe".as_ref(),
        "landsat_ndvi".as_ref(),
    ]);
    args.extend(["-o".as_ref(), out.as_os_str()]);
    env.run(args).ok();
    out
}

pub fn jobs(pg: &Pg) -> String {
    pg.sql("SELECT set_key, cardinality(members), state FROM tilerun.jobs ORDER BY set_key")
}

#[test]
fn submit_groups_a_set_into_one_job_and_the_worker_matches_the_one_shot_run() {
    let site = site();
    let mut files = copy_set(&site.inputs, LANDSAT, &BANDS);
    files.extend(copy_set(&site.inputs, OTHER, &BANDS));
    files.reverse();
    let first = submit(&site, &files);
    first.ok();
    let made = lines(&first);
    assert_eq!(made.len(), 2, "{}", first.stdout());
    for j in &made {
        assert_eq!(j["members"].as_array().unwrap().len(), 3, "{j}");
        assert_eq!(j["created"], true);
    }
    // The same files again, in another order: the same jobs.
    files.reverse();
    let again = submit(&site, &files);
    let ids = |v: &[serde_json::Value]| v.iter().map(|j| j["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&lines(&again)), ids(&made));
    assert!(lines(&again).iter().all(|j| j["created"] == false));
    let mut c = site.cmd(&["submit", "--recipe", "landsat_ndvi"]);
    c.args(&files[..3]);
    let one = Run(c.output().unwrap());
    one.ok();
    assert!(
        one.stdout().contains(&format!(
            "already queued (pending): landsat_ndvi set {LANDSAT} (3 files)"
        )),
        "{}",
        one.stdout()
    );
    assert_eq!(
        jobs(&site.pg),
        format!("{LANDSAT}|3|pending\n{OTHER}|3|pending")
    );

    let mut w = site.worker(&[]);
    wait_until(60, "both sets done", || site.pg.count("done") == 2);
    w.stop();
    let want = reference(&site.env, &site.config);
    for key in [LANDSAT, OTHER] {
        assert_same_raster(&site.out.join(format!("{key}_landsat_ndvi.tif")), &want);
    }
    assert_eq!(site.out_files().len(), 2, "{:?}", site.out_files());
}

#[test]
fn an_incomplete_set_or_a_second_file_for_one_name_submits_nothing() {
    let site = site();
    let partial = copy_set(&site.inputs, LANDSAT, &BANDS[..2]);
    let r = submit(&site, &partial);
    r.fails(2);
    let want = format!("set {LANDSAT}: missing qa ({LANDSAT}_QA_PIXEL.TIF)");
    assert!(r.stderr().contains(&want), "{}", r.stderr());
    let mut twice = copy_set(&site.inputs.join("a"), OTHER, &BANDS);
    twice.extend(copy_set(&site.inputs.join("b"), OTHER, &BANDS[..1]));
    let r = submit(&site, &twice);
    r.fails(2);
    assert!(
        r.stderr()
            .contains(&format!("set {OTHER}: 2 files for red")),
        "{}",
        r.stderr()
    );
    assert_eq!(site.pg.sql("SELECT count(*) FROM tilerun.jobs"), "0");

    // A whole delivery given as one input (an archive) stays one job; a
    // set with a corrupt member fails, and `status` shows it as a set.
    let tar = site.inputs.join(format!("{LANDSAT}.tar"));
    std::fs::copy(deliveries().join(format!("{LANDSAT}.tar")), &tar).unwrap();
    let bad = copy_set(&site.inputs.join("bad"), "BAD", &BANDS);
    std::fs::write(&bad[2], b"II*\0 not a TIFF").unwrap();
    let mut both = bad.clone();
    both.push(tar);
    submit(&site, &both).ok();
    assert_eq!(
        site.pg.sql(
            "SELECT coalesce(set_key, input), cardinality(members) FROM tilerun.jobs ORDER BY id"
        ),
        format!(
            "{}|\nBAD|3",
            site.inputs
                .join(format!("{LANDSAT}.tar"))
                .canonicalize()
                .unwrap()
                .display()
        )
    );
    let mut w = site.worker(&[]);
    wait_until(60, "the jobs to end", || {
        site.pg.count("done") == 1 && site.pg.count("failed") == 1
    });
    w.stop();
    let want = reference(&site.env, &site.config);
    assert_same_raster(&site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")), &want);
    let st = site.status();
    let f = &st["recent_failures"][0];
    assert_eq!(
        (f["set_key"].as_str(), f["members"].as_i64()),
        (Some("BAD"), Some(3)),
        "{st}"
    );
    let text = site.run(&["status"]);
    let line = text
        .stdout()
        .lines()
        .find(|l| l.contains("BAD"))
        .unwrap_or_default()
        .to_string();
    assert!(
        line.contains("set BAD (3 files, first "),
        "{}",
        text.stdout()
    );
    assert!(
        !line.contains("SR_B5"),
        "a set's status line lists every member: {line}"
    );
}

/// A recipe with a fixed-name input (no `*`) cannot group loose files by
/// it: `submit` refuses the set, submits nothing, and says why.
#[test]
fn a_loose_set_of_a_recipe_with_a_fixed_name_input_is_refused() {
    let masked = "[recipes.masked]\nexpr = 'where(m > 0, nodata, red)'\n\
                  [recipes.masked.inputs]\nred = '*_SR_B4.TIF'\nm = 'MASK.TIF'\n";
    let site = Site::new(&format!("{}{masked}", crate::sets::recipes()));
    let mut files = copy_set(&site.inputs, LANDSAT, &BANDS[..1]);
    let mask = site.inputs.join("MASK.TIF");
    std::fs::copy(landsat("QA_PIXEL.TIF"), &mask).unwrap();
    files.push(mask);
    let mut c = site.cmd(&["submit", "--recipe", "masked"]);
    c.args(&files);
    let r = Run(c.output().unwrap());
    r.fails(2);
    let want = format!(
        "set {LANDSAT}: missing m (MASK.TIF, a name without the set key: \
         give the delivery as its folder or archive)"
    );
    assert!(r.stderr().contains(&want), "{}", r.stderr());
    assert_eq!(site.pg.sql("SELECT count(*) FROM tilerun.jobs"), "0");
}

#[test]
fn a_version_1_database_is_migrated_and_its_rows_still_run() {
    let site = Site::new("");
    let input = &site.inputs(1)[0];
    site.run(&["status"]).ok();
    // Back to version 1's shape, with a row written by a version 1 binary.
    site.pg.sql(
        "ALTER TABLE tilerun.jobs DROP COLUMN members, DROP COLUMN set_key, DROP COLUMN uploads;
         UPDATE tilerun.schema_version SET version = 1",
    );
    site.pg.sql(&format!(
        "INSERT INTO tilerun.jobs (input, fingerprint, recipe) VALUES ('{}', 'old', 'ndvi')",
        input.display()
    ));
    let mut w = site.worker(&[]);
    wait_until(60, "the old row done", || site.pg.count("done") == 1);
    w.stop();
    assert_eq!(
        site.pg.sql("SELECT version FROM tilerun.schema_version"),
        "3"
    );
    assert_same_raster(&site.out.join("s00_ndvi.tif"), &site.reference(input));
}

#[test]
fn an_s3_set_given_by_globs_is_one_job() {
    let moto = super::s3::Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    for b in BANDS.iter().chain(&["MTL.json"]) {
        moto.put(&format!("/tiles/l/{LANDSAT}_{b}"), &landsat(b));
    }
    let site = site();
    let submit = || {
        let c = site.cmd(&[
            "submit",
            "--recipe",
            "landsat_ndvi",
            "--json",
            "s3://tiles/l/*",
        ]);
        Run(super::s3::with_env(c, &moto).output().unwrap())
    };
    let first = submit();
    first.ok();
    // The extra the pattern lists is named, not queued.
    let skipped = format!("not submitted: 1 file(s) that no input of recipe 'landsat_ndvi' names: s3://tiles/l/{LANDSAT}_MTL.json");
    assert!(first.stderr().contains(&skipped), "{}", first.stderr());
    let made = lines(&first);
    assert_eq!(made.len(), 1, "{}", first.stdout());
    let members: Vec<&str> = made[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let want: Vec<String> = ["QA_PIXEL.TIF", "SR_B4.TIF", "SR_B5.TIF"]
        .iter()
        .map(|b| format!("s3://tiles/l/{LANDSAT}_{b}"))
        .collect();
    assert_eq!(members, want);
    // Same objects (same ETags): the same job.
    let again = lines(&submit());
    assert_eq!(
        (again[0]["id"].clone(), again[0]["created"].clone()),
        (made[0]["id"].clone(), false.into())
    );
    let mut w = moto.worker(&site, &[]);
    wait_until(60, "the set done", || site.pg.count("done") == 1);
    w.stop();
    let want = reference(&site.env, &site.config);
    assert_same_raster(&site.out.join(format!("{LANDSAT}_landsat_ndvi.tif")), &want);
}
