//! The real `gdaldem` (GDAL 3.6.2) as a test oracle: write a Float32 (or
//! Int16) DEM as raw bytes plus a VRT (geotransform, nodata, CRS), run
//! `gdaldem … -compute_edges -of ENVI`, read the raw output back, and
//! compare it with the op run in-process. Shared by `gdaldem_parity` and
//! `orientation_tests`, so it lives apart from either's cases.

use std::path::Path;
use std::process::Command;

use ndarray::Array2;

use super::test_support::run_op;
use crate::ops::{InputInfo, Params};

const NODATA: f32 = -9999.0;

/// (mode, gdaldem arguments, the equivalent `--set` parameters)
pub(super) type Variant<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);

pub(super) struct Case<'a> {
    pub dem: &'a Array2<f64>,
    pub gt: Option<[f64; 6]>,
    pub geographic: bool,
    /// Store as Int16 (gdaldem then takes its integer/SSE code path).
    pub int16: bool,
}

pub(super) fn gdaldem_available() -> bool {
    // `gdaldem --version` exits 1 in 3.6, so only check that it can start.
    let ok = Command::new("gdaldem").arg("--version").output().is_ok();
    if !ok {
        eprintln!("SKIP: gdaldem not installed; gdaldem parity not checked");
    }
    ok
}

fn write_vrt(dir: &Path, case: &Case<'_>) -> std::path::PathBuf {
    let (rows, cols) = case.dem.dim();
    let raw: Vec<u8> = case
        .dem
        .iter()
        .flat_map(|&v| {
            let f = if v.is_nan() { NODATA } else { v as f32 };
            if case.int16 {
                (f as i16).to_le_bytes().to_vec()
            } else {
                f.to_le_bytes().to_vec()
            }
        })
        .collect();
    let (dtype, size) = if case.int16 {
        ("Int16", 2)
    } else {
        ("Float32", 4)
    };
    std::fs::write(dir.join("dem.raw"), raw).unwrap();
    let srs = if case.geographic {
        "EPSG:4326"
    } else {
        "EPSG:32633"
    };
    let gt = case.gt.map_or(String::new(), |g| {
        format!(
            "<GeoTransform>{}, {}, {}, {}, {}, {}</GeoTransform>",
            g[0], g[1], g[2], g[3], g[4], g[5]
        )
    });
    let vrt = format!(
        r#"<VRTDataset rasterXSize="{cols}" rasterYSize="{rows}">
  <SRS>{srs}</SRS>
  {gt}
  <VRTRasterBand dataType="{dtype}" band="1" subClass="VRTRawRasterBand">
    <NoDataValue>{NODATA}</NoDataValue>
    <SourceFilename relativeToVRT="1">dem.raw</SourceFilename>
    <ImageOffset>0</ImageOffset>
    <PixelOffset>{size}</PixelOffset>
    <LineOffset>{}</LineOffset>
    <ByteOrder>LSB</ByteOrder>
  </VRTRasterBand>
</VRTDataset>"#,
        size * cols
    );
    let path = dir.join("dem.vrt");
    std::fs::write(&path, vrt).unwrap();
    path
}

/// Run gdaldem and return its output with its nodata mapped to NaN.
pub(super) fn gdaldem(case: &Case<'_>, mode: &str, args: &[&str]) -> Array2<f64> {
    let dir = tempfile::tempdir().unwrap();
    let vrt = write_vrt(dir.path(), case);
    let out = dir.path().join("out.bin");
    let status = Command::new("gdaldem")
        .arg(mode)
        .arg(&vrt)
        .arg(&out)
        .args(["-of", "ENVI", "-compute_edges", "-q"])
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "gdaldem {mode} {args:?} failed");
    let bytes = std::fs::read(&out).unwrap();
    let dim = case.dem.dim();
    let values: Vec<f64> = if mode == "hillshade" {
        bytes
            .iter()
            .map(|&b| if b == 0 { f64::NAN } else { f64::from(b) })
            .collect()
    } else {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .map(|v| if v == NODATA { f64::NAN } else { f64::from(v) })
            .collect()
    };
    Array2::from_shape_vec(dim, values).unwrap()
}

pub(super) fn ours(case: &Case<'_>, mode: &str, set: &[(&str, &str)]) -> Array2<f64> {
    let info = InputInfo {
        width: case.dem.ncols(),
        height: case.dem.nrows(),
        band_count: 1,
        geo_transform: case.gt,
        geographic: case.geographic,
        nodata: vec![Some(f64::from(NODATA))],
        band_types: vec![gdal_sys::GDALDataType::GDT_Float32],
    };
    let params: Params = set
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (op, _warnings) = super::build(mode, &params, &info).unwrap();
    run_op(op.as_ref(), case.dem)
}

/// Compare, returning the largest difference seen where both are valid.
pub(super) fn compare(
    label: &str,
    mode: &str,
    theirs: &Array2<f64>,
    mine: &Array2<f64>,
    tol: f64,
) -> f64 {
    let mut worst = 0f64;
    for ((idx, &t), &m) in theirs.indexed_iter().zip(mine.iter()) {
        assert_eq!(
            t.is_nan(),
            m.is_nan(),
            "{label}: nodata mask differs at {idx:?}: gdaldem {t}, ours {m}"
        );
        if t.is_nan() {
            continue;
        }
        let mut d = (t - m).abs();
        if mode == "aspect" {
            d = d.min(360.0 - d);
        }
        assert!(
            d <= tol,
            "{label}: at {idx:?} gdaldem {t}, ours {m} (tolerance {tol})"
        );
        worst = worst.max(d);
    }
    worst
}

/// Every mode/option combination gdaldem and tilerun share.
pub(super) fn variants() -> Vec<Variant<'static>> {
    vec![
        ("hillshade", &[], &[]),
        (
            "hillshade",
            &["-alg", "ZevenbergenThorne"],
            &[("alg", "ZevenbergenThorne")],
        ),
        (
            "hillshade",
            &["-az", "100", "-alt", "30", "-z", "3"],
            &[("azimuth", "100"), ("altitude", "30"), ("z", "3")],
        ),
        (
            "hillshade",
            &["-multidirectional"],
            &[("multidirectional", "true")],
        ),
        (
            "hillshade",
            &["-combined", "-z", "2"],
            &[("combined", "true"), ("z", "2")],
        ),
        ("slope", &[], &[]),
        ("slope", &["-p"], &[("units", "percent")]),
        (
            "slope",
            &["-alg", "ZevenbergenThorne"],
            &[("alg", "ZevenbergenThorne")],
        ),
        ("aspect", &[], &[]),
        ("aspect", &["-trigonometric"], &[("trigonometric", "true")]),
        (
            "aspect",
            &["-alg", "ZevenbergenThorne"],
            &[("alg", "ZevenbergenThorne")],
        ),
    ]
}

/// How far gdaldem's own results move when the same DEM is stored mirrored
/// (its float sums follow the storage order), relative to the value.
pub(super) fn mirrored_tolerance(mode: &str) -> f64 {
    if mode == "hillshade" {
        1.0
    } else {
        1e-3
    }
}

/// Every variant on one DEM; `extra_s` is passed to gdaldem only (ours
/// must infer it, e.g. the geographic scale).
pub(super) fn check_all(label: &str, case: &Case<'_>, extra_s: &[&str]) {
    check_against(label, case, case, extra_s, &|a| a);
}

/// Every variant: ours on `mine` against `back(gdaldem on theirs)`, where
/// `theirs` is the same terrain as gdaldem should see it. Equal values and
/// nodata masks are required: the parity is bit for bit (f32 outputs
/// compared as stored, hillshade as bytes).
pub(super) fn check_against(
    label: &str,
    mine: &Case<'_>,
    theirs: &Case<'_>,
    extra_s: &[&str],
    back: &dyn Fn(Array2<f64>) -> Array2<f64>,
) {
    for (mode, gargs, set) in variants() {
        let mut args = gargs.to_vec();
        if mode != "aspect" {
            args.extend_from_slice(extra_s);
        }
        let want = back(gdaldem(theirs, mode, &args));
        let got = ours(mine, mode, set);
        let label = format!("{label} {mode} {gargs:?}");
        compare(&label, mode, &want, &got, 0.0);
    }
}

pub(super) fn with_holes(dem: &Array2<f64>) -> Array2<f64> {
    let mut d = dem.clone();
    let (rows, cols) = d.dim();
    for ((r, c), v) in d.indexed_iter_mut() {
        let isolated = (r * 7 + c * 13) % 29 == 0;
        let block = (10..14).contains(&r) && (5..9).contains(&c);
        let edge = (r == 0 && c % 5 == 2) || (c == cols - 1 && r % 4 == 1);
        let corner = (r, c) == (rows - 1, 0);
        if isolated || block || edge || corner {
            *v = f64::NAN;
        }
    }
    d
}
