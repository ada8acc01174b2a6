//! A Sentinel-2 `.SAFE` stored on S3 file by file (a key prefix, as
//! `aws s3 cp --recursive` leaves it) is one delivery, as the same folder
//! on shared storage is: `submit s3://bucket/…SAFE/` queues one job, the
//! worker fetches the whole tree and writes what the local folder gives.

use super::s3::{site_with, with_env, Moto};
use crate::deliveries::{deliveries, SAFE};
use crate::util::*;
use crate::watch::harness::{assert_same_raster, wait_until};

const RECIPE: &str = "[recipes.s2]\nexpr = '(nir - red) / (nir + red)'\not = 'Float32'\n\
    nodata = -9999\noutput = '{stem}_s2.tif'\n\
    inputs = { red = '*_B04_10m.jp2', nir = '*_B08_10m.jp2' }\n";

/// Upload every file of the local folder `dir` under `prefix`.
fn put_tree(moto: &Moto, dir: &std::path::Path, prefix: &str) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            n += put_tree(moto, &e.path(), &format!("{prefix}/{name}"));
        } else {
            moto.put(&format!("{prefix}/{name}"), &e.path());
            n += 1;
        }
    }
    n
}

#[test]
fn a_safe_folder_on_s3_is_one_job_with_the_local_folders_result() {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "");
    let text = std::fs::read_to_string(&site.config).unwrap() + RECIPE;
    std::fs::write(&site.config, text).unwrap();
    let local = deliveries().join(SAFE);
    assert!(put_tree(&moto, &local, &format!("/tiles/s2/{SAFE}")) > 3);

    let submit = |what: &str| {
        let c = site.cmd(&["submit", "--recipe", "s2", "--json", what]);
        let r = Run(with_env(c, &moto).output().unwrap());
        r.ok();
        let v: serde_json::Value = serde_json::from_str(r.stdout().trim()).unwrap();
        v
    };
    let first = submit(&format!("s3://tiles/s2/{SAFE}/"));
    assert_eq!(first["input"], format!("s3://tiles/s2/{SAFE}/"));
    assert_eq!(first["created"], true);
    // Named without the slash, or found by a pattern: the same delivery.
    for what in [format!("s3://tiles/s2/{SAFE}"), "s3://tiles/s2/*".into()] {
        let again = submit(&what);
        assert_eq!(
            (&again["id"], &again["created"]),
            (&first["id"], &false.into())
        );
    }

    let mut w = moto.worker(&site, &[]);
    wait_until(60, "the job to be done", || site.pg.count("done") == 1);
    w.stop();
    let name = "T33UUP_20231015T101019_s2.tif";
    let got = site.env.path(name);
    assert!(moto.get(&format!("tiles/out/{name}"), &got), "{}", w.text());
    let reference = site.env.path("ref.tif");
    let (r, l) = (reference.to_str().unwrap(), local.to_str().unwrap());
    site.run(&["--recipe", "s2", "-q", "-o", r, l]).ok();
    assert_same_raster(&got, &reference);

    // An object added under the prefix is new content: a new job.
    moto.put(
        &format!("/tiles/s2/{SAFE}/extra.txt"),
        &local.join("MTD_MSIL2A.xml"),
    );
    let changed = submit(&format!("s3://tiles/s2/{SAFE}/"));
    assert_eq!(changed["created"], true);
}
