//! Outputs users can publish: COG validity and overviews, rescale/reclass
//! against naive references and numpy, nodata policies, metadata and type
//! fidelity across the corpus, and the refusals. Oracles: GDAL's COG
//! validator, gdaladdo, gdalinfo -json, numpy through /usr/bin/python3, and
//! arithmetic written out in the tests.

use std::path::Path;
use std::process::Command;

use crate::util::*;

mod assembled;
mod assembled_paths;
mod bands;
mod cog;
mod fidelity;
mod ops;
mod overflow;
mod refused;
mod types;

pub const PY: &str = "/usr/bin/python3";
pub const VALIDATOR: &str =
    "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_cloud_optimized_geotiff.py";

/// Run tilerun with string arguments, insisting on success.
#[track_caller]
pub fn ok(env: &Env, args: &[&str]) {
    env.run(args).ok();
}

/// GDAL's own COG validator, with the per-tile checks.
#[track_caller]
pub fn assert_valid_cog(path: &Path) {
    let out = Command::new(PY)
        .arg(VALIDATOR)
        .arg("--full-check=yes")
        .arg(path)
        .output()
        .expect("run the COG validator");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("is a valid cloud optimized GeoTIFF"),
        "{} is not a valid COG:\n{text}",
        path.display()
    );
}

/// `gdalinfo -json`, parsed.
pub fn gdalinfo(path: &Path) -> serde_json::Value {
    let out = Command::new("gdalinfo")
        .args(["-json", "-mdd", "all"])
        .arg(path)
        .env("GDAL_PAM_ENABLED", "NO")
        .output()
        .expect("gdalinfo");
    assert!(out.status.success(), "gdalinfo {}", path.display());
    serde_json::from_slice(&out.stdout).expect("gdalinfo JSON")
}

/// Run a Python snippet with GDAL and numpy; returns its stdout.
#[track_caller]
pub fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new(PY)
        .arg("-c")
        .arg(code)
        .args(args)
        .env("GDAL_PAM_ENABLED", "NO")
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Overview sizes and data of band `b` (1-based) of `path`.
pub fn overviews(path: &Path, b: usize) -> Vec<((usize, usize), Vec<f64>)> {
    let ds = gdal::Dataset::open(path).unwrap();
    let band = ds.rasterband(b).unwrap();
    (0..band.overview_count().unwrap() as usize)
        .map(|i| {
            let o = band.overview(i).unwrap();
            let size = o.size();
            let data = o
                .read_as::<f64>((0, 0), size, size, None)
                .unwrap()
                .data()
                .to_vec();
            (size, data)
        })
        .collect()
}

/// Halvings until the longer side is below 512, spelled out independently.
pub fn expected_auto_sizes(w: usize, h: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut f = 1;
    while w.max(h).div_ceil(f) >= 512 {
        f *= 2;
        out.push((w.div_ceil(f), h.div_ceil(f)));
    }
    out
}
