//! An S3 upload that does not finish leaves nothing behind: neither the
//! final key nor an incomplete multipart upload (whose parts a store keeps,
//! and bills, until someone aborts it). The failure is one a user hits:
//! SIGTERM (systemd stopping the unit) while a large output is uploading
//! in 5 MiB parts. Checked against the real moto server's own listing of
//! open multipart uploads.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::harness::{outcomes, Site};
use super::s3::{site_with, Moto};
use crate::util::*;
use crate::watch::harness::{assert_same_raster, wait_until, Daemon};

/// The UploadIds moto lists as open in `bucket` (ListMultipartUploads).
fn open_uploads(moto: &Moto, bucket: &str) -> Vec<String> {
    let (code, body) = moto.http("GET", &format!("/{bucket}?uploads"), b"");
    assert_eq!(code, 200);
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(body.contains("ListMultipartUploadsResult"), "{body}");
    body.split("<UploadId>")
        .skip(1)
        .filter_map(|s| s.split_once("</UploadId>").map(|(id, _)| id.to_string()))
        .filter(|id| !id.is_empty())
        .collect()
}

/// HTTP status of a plain GET of `key` (moto serves unsigned requests).
fn object_status(moto: &Moto, key: &str) -> u16 {
    moto.http("GET", key, b"").0
}

/// A 2400² four-band input, so the uncompressed Float32 NDVI is ~22 MiB.
pub fn big_input(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("big.tif");
    let src = fixture("scene_small.tif");
    oracle(
        "/usr/bin/gdal_translate",
        &[
            "-q",
            "-outsize",
            "2400",
            "2400",
            src.to_str().unwrap(),
            p.to_str().unwrap(),
        ],
    );
    p
}

/// tilerun's own upload (a GeoTIFF: parts sent while writing, the rest at
/// the commit).
#[test]
fn a_stopped_upload_is_aborted_and_leaves_no_key_and_no_parts() {
    stopped_upload("GTiff");
}

/// GDAL's upload (a COG, written whole, then put up at the commit).
#[test]
fn a_stopped_gdal_upload_is_aborted_and_leaves_no_key_and_no_parts() {
    stopped_upload("COG");
}

fn stopped_upload(format: &str) {
    let moto = Moto::start();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", "");
    std::fs::write(
        &site.config,
        std::fs::read_to_string(&site.config).unwrap()
            + &format!(
                "[recipes.raw]\nexpr = '(b4 - b3) / (b4 + b3)'\not = 'Float32'\nnodata = -9999\n\
                 output = '{{stem}}_raw.tif'\nformat = '{format}'\nco = {{ compress = 'NONE' }}\n"
            ),
    )
    .unwrap();
    let input = big_input(&site.inputs);
    moto.submit(&site, "raw", &input);

    // GDAL's part size (MiB); every chunk sent at the commit then waits
    // 2 s, so the upload stays open for seconds after the test sees it
    // (the stop must come before it ends, however slow this test is).
    let env = [("VSIS3_CHUNK_SIZE", "5")];
    let slow = [
        env[0],
        ("TILERUN_TEST_UPLOAD_CHUNK_DELAY_MS", "2000"),
        // Logs "staged" as the commit (and the rest of the upload) begins.
        ("TILERUN_TEST_COMMIT_DELAY_MS", "1"),
    ];
    let mut w = moto.worker(&site, &slow);
    // The multipart upload is open (so the listing can see one) and the
    // job is at its commit, uploading what is left ...
    wait_until(120, "a multipart upload to open", || {
        !open_uploads(&moto, "tiles").is_empty() && w.text().contains("staged; committing")
    });
    // ... when the worker is told to stop.
    w.signal(libc::SIGTERM);
    assert_eq!(w.wait_exit(60), 0, "{}", w.text());
    let released = outcomes(&w, "released");
    assert_eq!(released.len(), 1, "{}", w.text());
    let cause = released[0]["cause"].as_str().unwrap();
    assert!(cause.contains("the partial upload was aborted"), "{cause}");
    assert_eq!(open_uploads(&moto, "tiles"), Vec::<String>::new());
    assert_eq!(object_status(&moto, "/tiles/out/big_raw.tif"), 404);
    assert_eq!(site.pg.count("pending"), 1);

    // The job, handed back, is done by the next worker: the key appears,
    // whole, and no upload is left open.
    let mut w = moto.worker(&site, &env);
    wait_until(120, "the job done", || site.pg.count("done") == 1);
    w.stop();
    assert_eq!(open_uploads(&moto, "tiles"), Vec::<String>::new());
    let got = site.env.path("big_raw.tif");
    assert!(moto.get("tiles/out/big_raw.tif", &got));
    assert!(std::fs::metadata(&got).unwrap().len() > 15 << 20);
    let want = site.env.path("want_raw.tif");
    let mut c = site.cmd(&["--recipe", "raw", "-q"]);
    Run(c.arg("-o").arg(&want).arg(&input).output().unwrap()).ok();
    assert_same_raster(&got, &want);
}

/// The streaming tests' start: a moto that takes parts of any size, a
/// site writing to s3://tiles/out (`queue` keys added), the big input
/// submitted as an NDVI job.
fn streaming(queue: &str) -> (Moto, Site, PathBuf) {
    let moto = Moto::start_small_parts();
    assert_eq!(moto.http("PUT", "/tiles", b"").0, 200);
    let site = site_with("s3://tiles/out", queue);
    let input = big_input(&site.inputs);
    moto.submit(&site, "ndvi", &input);
    (moto, site, input)
}

/// 16 KiB parts (a test hook), so the small output streams many.
const SMALL_PARTS: (&str, &str) = ("TILERUN_TEST_S3_PART_BYTES", "16384");

/// The log line a worker writes when it holds its commit (the test hook).
fn wait_staged(w: &mut Daemon) -> serde_json::Value {
    w.wait_log(120, "the job to stage its output", |v| {
        v["message"] == "staged; committing after the test delay"
    })
}

/// The worker's "uploaded in N parts" line.
fn upload_line(w: &Daemon) -> serde_json::Value {
    w.logs()
        .into_iter()
        .find(|v| v["parts"].is_u64())
        .unwrap_or_else(|| panic!("no upload line: {}", w.text()))
}

/// An S3 GeoTIFF goes up while it is written: with 16 KiB parts (a test
/// hook; moto told to take parts that small), many parts leave before the
/// engine is done, the rest at the commit, and the object equals a local
/// run's output with no upload left open. The key appears only at the
/// commit, which the delayed commit lets us watch.
#[test]
fn an_s3_output_is_uploaded_while_it_is_written() {
    let (moto, site, input) = streaming("jobs = 1");
    let held = ("TILERUN_TEST_COMMIT_DELAY_MS", "3000");
    let mut w = moto.worker(&site, &[SMALL_PARTS, held]);
    wait_staged(&mut w);
    // Frozen before its commit, however long the store takes to answer.
    w.signal(libc::SIGSTOP);
    // Parts are up, the upload open, and still no key before the commit.
    assert_eq!(open_uploads(&moto, "tiles").len(), 1);
    assert_eq!(object_status(&moto, "/tiles/out/big_ndvi.tif"), 404);
    w.signal(libc::SIGCONT);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    let sent = upload_line(&w);
    let (parts, early) = (
        sent["parts"].as_u64().unwrap(),
        sent["early"].as_u64().unwrap(),
    );
    // Some went up before the commit (how many depends on the box's load).
    assert!(parts > 20 && early > 0, "{sent}");
    assert_eq!(open_uploads(&moto, "tiles"), Vec::<String>::new());
    let got = site.env.path("big_ndvi.tif");
    assert!(moto.get("tiles/out/big_ndvi.tif", &got));
    assert_same_raster(&got, &site.reference(&input));
}

/// A part that changed after it went up is sent again: the test changes
/// a byte of the staged file inside the first part sent while writing
/// (the commit is held back meanwhile), and the object must then equal
/// the changed file, byte for byte. libtiff only appends, so this is how
/// the check is shown to work.
#[test]
fn a_part_changed_after_it_went_up_is_sent_again() {
    let (moto, site, _) = streaming("jobs = 1");
    let held = ("TILERUN_TEST_COMMIT_DELAY_MS", "3000");
    let mut w = moto.worker(&site, &[SMALL_PARTS, held]);
    let staged = wait_staged(&mut w);
    // Frozen, so the change is made before the commit looks at the parts.
    w.signal(libc::SIGSTOP);
    let staged = std::path::PathBuf::from(staged["staged"].as_str().unwrap());
    // One byte changed in place (the upload thread may still be reading
    // the file), in part 2: the first sent early, from 16 KiB.
    let at = 16384 + 100;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&staged)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0xff], at).unwrap();
    let bytes = std::fs::read(&staged).unwrap();
    w.signal(libc::SIGCONT);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    w.stop();
    let sent = upload_line(&w);
    assert!(sent["resent"].as_u64().unwrap() >= 1, "{sent}");
    let got = site.env.path("got.tif");
    assert!(moto.get("tiles/out/big_ndvi.tif", &got));
    assert!(
        std::fs::read(&got).unwrap() == bytes,
        "the object is not the changed file"
    );
}

/// A run killed with its upload open (parts already sent) cannot abort it;
/// the run that takes the job over does, before its own: the store is
/// left with the one completed object and no open upload.
#[test]
fn the_next_run_aborts_the_upload_a_killed_run_left_open() {
    let (moto, site, input) = streaming("jobs = 1\nlease_secs = 2");
    let held = ("TILERUN_TEST_COMMIT_DELAY_MS", "60000");
    let mut first = moto.worker(&site, &[SMALL_PARTS, held]);
    wait_staged(&mut first);
    let left = open_uploads(&moto, "tiles");
    assert_eq!(left.len(), 1);
    first.kill9();
    let mut next = moto.worker(&site, &[SMALL_PARTS]);
    wait_until(60, "the job done", || site.pg.count("done") == 1);
    next.stop();
    assert!(
        next.text().contains("aborted the upload of"),
        "{}",
        next.text()
    );
    assert_eq!(open_uploads(&moto, "tiles"), Vec::<String>::new());
    let got = site.env.path("big_ndvi.tif");
    assert!(moto.get("tiles/out/big_ndvi.tif", &got));
    assert_same_raster(&got, &site.reference(&input));
}
