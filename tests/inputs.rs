//! Named multi-file inputs through the real binary: a Landsat set against
//! gdal_calc.py with -A/-B/-C, a Sentinel-2 set with its 20 m SCL against
//! gdalwarp (SCL → 10 m) then gdal_calc.py, and the type errors. Inputs on
//! grids of different resolutions are in `grids`.

use std::path::Path;

use crate::deliveries::{landsat, s2};
use crate::publish::python;
use crate::util::*;

mod grids;

pub const NDVI_QA: &str = "where((qa & 0b11010) != 0, nodata, (nir - red) / (nir + red))";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Band 1 of both rasters agree: same nodata mask, values within `rel`.
#[track_caller]
fn assert_close(ours: &Path, theirs: &Path, nodata: f64, rel: f64) -> usize {
    let (a, b) = (read(ours), read(theirs));
    assert_eq!((a.width, a.height), (b.width, b.height));
    let mut valid = 0;
    for (i, (x, y)) in a.bands[0].iter().zip(&b.bands[0]).enumerate() {
        assert_eq!(
            *x == nodata,
            *y == nodata,
            "nodata differs at pixel {i}: {x} vs {y}"
        );
        if *x != nodata {
            assert!(
                (x - y).abs() <= rel * y.abs().max(1e-12),
                "pixel {i}: {x} vs {y}"
            );
            valid += 1;
        }
    }
    valid
}

#[test]
fn landsat_set_matches_gdal_calc_with_three_files() {
    let env = Env::new();
    let (red, nir, qa) = (
        landsat("SR_B4.TIF"),
        landsat("SR_B5.TIF"),
        landsat("QA_PIXEL.TIF"),
    );
    let ours = env.path("ours.tif");
    env.run(landsat_args(&ours)).ok();
    let theirs = env.path("theirs.tif");
    let (r, n) = ("(A*2.75e-05-0.2)", "(B*2.75e-05-0.2)");
    oracle(
        "/usr/bin/gdal_calc.py",
        &[
            "-A",
            s(&red),
            "-B",
            s(&nir),
            "-C",
            s(&qa),
            &format!("--calc=numpy.where((C & 26) != 0, -9999, ({n}-{r})/({n}+{r}))"),
            "--type=Float32",
            "--NoDataValue=-9999",
            "--quiet",
            "--overwrite",
            "--outfile",
            s(&theirs),
        ],
    );
    let valid = assert_close(&ours, &theirs, -9999.0, 1e-6);
    assert!(valid > 20_000, "only {valid} valid pixels");
    // Provenance: each name's file, and how it was read.
    let red_meta = meta_item(&ours, "TILERUN_INPUT_RED").unwrap();
    assert!(
        red_meta.starts_with(&format!("{}_SR_B4.TIF", crate::deliveries::LANDSAT)),
        "{red_meta}"
    );
    assert!(
        red_meta.contains("scale 0.0000275 offset -0.2"),
        "{red_meta}"
    );
    assert!(meta_item(&ours, "TILERUN_INPUT_QA")
        .unwrap()
        .ends_with("_QA_PIXEL.TIF"));
    assert_eq!(meta_item(&ours, "TILERUN_PARAMS").as_deref(), Some(NDVI_QA));
}

/// The Landsat fixture's masked NDVI, unscaled, named by hand.
pub fn landsat_args(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for (n, f) in [
        ("red", "SR_B4.TIF"),
        ("nir", "SR_B5.TIF"),
        ("qa", "QA_PIXEL.TIF"),
    ] {
        v.extend(["--input".into(), format!("{n}={}", s(&landsat(f)))]);
    }
    let rest = [
        "--unscale",
        "--expr",
        NDVI_QA,
        "--ot",
        "Float32",
        "--nodata",
        "-9999",
        "-o",
    ];
    v.extend(rest.map(String::from));
    v.push(s(out).into());
    v
}

/// The Sentinel-2 fixture's NDVI with the SCL mask, (DN - 1000) / 10000.
pub const S2_EXPR: &str = "where(scl in (3, 8, 9, 10), nodata, (nir - red) / (nir + red))";

pub fn s2_args(out: &Path) -> Vec<String> {
    let mut v: Vec<String> = vec![];
    for (n, res, b) in [
        ("red", "R10m", "B04_10m"),
        ("nir", "R10m", "B08_10m"),
        ("scl", "R20m", "SCL_20m"),
    ] {
        v.push("--input".into());
        v.push(format!("{n}={}", s(&s2(res, b))));
        v.push("--input-set".into());
        v.push(format!("{n}.nodata=0"));
    }
    for n in ["red", "nir"] {
        v.extend(["--input-set".into(), format!("{n}.scale=0.0001")]);
        v.extend(["--input-set".into(), format!("{n}.offset=-0.1")]);
    }
    v.extend(
        [
            "--expr",
            S2_EXPR,
            "--ot",
            "Float32",
            "--nodata",
            "-9999",
            "-o",
            s(out),
        ]
        .map(String::from),
    );
    v
}

#[test]
fn sentinel2_set_matches_gdalwarp_then_gdal_calc() {
    let env = Env::new();
    let ours = env.path("ours.tif");
    env.run(s2_args(&ours)).ok();
    let scl10 = env.path("scl10.tif");
    oracle(
        "/usr/bin/gdalwarp",
        &[
            "-q",
            "-r",
            "near",
            "-tr",
            "10",
            "10",
            s(&s2("R20m", "SCL_20m")),
            s(&scl10),
        ],
    );
    let theirs = env.path("theirs.tif");
    let (r, n) = ("(A*0.0001-0.1)", "(B*0.0001-0.1)");
    oracle(
        "/usr/bin/gdal_calc.py",
        &[
            "-A", s(&s2("R10m", "B04_10m")), "-B", s(&s2("R10m", "B08_10m")), "-C", s(&scl10),
            &format!(
                "--calc=numpy.where((A==0)|(B==0)|(C==0)|numpy.isin(C,[3,8,9,10]), -9999, ({n}-{r})/({n}+{r}))"
            ),
            "--type=Float32", "--NoDataValue=-9999", "--quiet", "--overwrite",
            "--outfile", s(&theirs),
        ],
    );
    let valid = assert_close(&ours, &theirs, -9999.0, 1e-6);
    assert!(valid > 10_000, "only {valid} valid pixels");
}

#[test]
fn bitwise_on_an_unscaled_input_is_refused_naming_it() {
    let env = Env::new();
    let r = env.run([
        "--input",
        &format!("red={}", s(&landsat("SR_B4.TIF"))),
        "--input",
        &format!("qa={}", s(&landsat("QA_PIXEL.TIF"))),
        "--unscale",
        "--expr",
        "red & 1",
        "-o",
        s(&env.path("o.tif")),
    ]);
    let e = r.fails(2).stderr();
    assert!(e.contains("'red'") && e.contains("Float64"), "{e}");
    // Without --unscale the same band is UInt16 and bitwise works.
    env.run([
        "--input",
        &format!("red={}", s(&landsat("SR_B4.TIF"))),
        "--input",
        &format!("qa={}", s(&landsat("QA_PIXEL.TIF"))),
        "--expr",
        "red & 1 | qa & 2",
        "-o",
        s(&env.path("o.tif")),
    ])
    .ok();
}

#[test]
fn unscale_that_finds_no_scale_or_offset_says_so() {
    let env = Env::new();
    let run = |a: &Path| {
        let out = env.path("o.tif");
        let r = env.run([
            "--input",
            &format!("a={}", s(a)),
            "--unscale",
            "--expr",
            "a * 2",
            "--ot",
            "Float32",
            "--overwrite",
            "-o",
            s(&out),
        ]);
        r.ok().stderr()
    };
    // rasterio's red.tif has no scale/offset: the flag changed nothing.
    let e = run(&corpus("red.tif"));
    assert!(
        e.contains("unscale: no band of") && e.contains("red.tif"),
        "{e}"
    );
    // The Landsat fixture's SR band has its own: no warning.
    let e = run(&landsat("SR_B4.TIF"));
    assert!(!e.contains("unscale: no band"), "{e}");
}
