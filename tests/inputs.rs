//! Named multi-file inputs through the real binary: a Landsat set against
//! gdal_calc.py with -A/-B/-C, a Sentinel-2 set with its 20 m SCL against
//! gdalwarp (SCL → 10 m) then gdal_calc.py, resampled inputs against
//! gdalwarp at several window sizes and worker counts, and the grid and
//! type errors.

use std::path::{Path, PathBuf};

use crate::deliveries::{landsat, s2};
use crate::publish::python;
use crate::util::*;

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

/// A coarse (20 m, or `k` × 10 m) Float32 raster with nodata holes and
/// edge nodata, and a 10 m one on the same footprint, made with GDAL.
const GRIDS: &str = r#"
import sys, numpy as np
from osgeo import gdal, osr
d, k = sys.argv[1], int(sys.argv[2])
W, H = 37, 29
rng = np.random.default_rng(7)
srs = osr.SpatialReference(); srs.ImportFromEPSG(32633)
def make(name, w, h, px, data, nd):
    ds = gdal.GetDriverByName('GTiff').Create(f'{d}/{name}', w, h, 1, gdal.GDT_Float32)
    ds.SetGeoTransform([500000, px, 0, 4000000, 0, -px]); ds.SetProjection(srs.ExportToWkt())
    b = ds.GetRasterBand(1); b.SetNoDataValue(nd); b.WriteArray(data); ds = None
c = (rng.random((H, W)) * 1000 + 10).astype(np.float32)
c[5:9, 3:7] = -9999; c[0, 10] = -9999; c[H-1, W-1] = -9999; c[12, 0] = -9999
make('coarse.tif', W, H, 10 * k, c, -9999)
make('fine.tif', W * k, H * k, 10, (rng.random((H * k, W * k)) * 100).astype(np.float32), -1)
"#;

fn grids(env: &Env, k: usize) -> (PathBuf, PathBuf) {
    python(GRIDS, &[s(env.dir.path()), &k.to_string()]);
    (env.path("fine.tif"), env.path("coarse.tif"))
}

#[test]
fn coarser_inputs_match_gdalwarp_at_every_window_and_worker_count() {
    let env = Env::new();
    for k in [2, 3] {
        let (fine, coarse) = grids(&env, k);
        for (m, rel) in [
            ("near", 0.0),
            ("bilinear", 1e-4),
            ("cubic", 1e-4),
            ("average", 1e-4),
        ] {
            let warped = env.path(&format!("warp_{m}_{k}.tif"));
            oracle(
                "/usr/bin/gdalwarp",
                &[
                    "-q",
                    "-overwrite",
                    "-r",
                    m,
                    "-tr",
                    "10",
                    "10",
                    "-ot",
                    "Float64",
                    s(&coarse),
                    s(&warped),
                ],
            );
            // gdalwarp's own spelling (`near`) is accepted as it is.
            let method = m;
            let mut first: Option<Raster> = None;
            for (window, workers) in [("512", "1"), ("7", "2"), ("16", "2"), ("5", "1")] {
                let out = env.path(&format!("ours_{m}_{k}_{window}.tif"));
                env.run([
                    "--input",
                    &format!("f={}", s(&fine)),
                    "--input",
                    &format!("c={}", s(&coarse)),
                    "--input-set",
                    &format!("c.resampling={method}"),
                    "--expr",
                    "c",
                    "--ot",
                    "Float64",
                    "--nodata",
                    "-9999",
                    "--window",
                    window,
                    "-j",
                    workers,
                    "-o",
                    s(&out),
                ])
                .ok();
                let valid = assert_close(&out, &warped, -9999.0, rel);
                assert!(valid > 1000 * k * k, "{m} k={k}: {valid} valid");
                let r = read(&out);
                match &first {
                    None => first = Some(r),
                    Some(f) => assert!(f.bands == r.bands, "{m} k={k}: window {window} differs"),
                }
            }
        }
    }
}

#[test]
fn a_coarser_grid_by_name_averages_the_finer_input_like_gdalwarp() {
    let env = Env::new();
    let (fine, coarse) = grids(&env, 2);
    let warped = env.path("warp.tif");
    oracle(
        "/usr/bin/gdalwarp",
        &[
            "-q",
            "-r",
            "average",
            "-tr",
            "20",
            "20",
            "-ot",
            "Float64",
            s(&fine),
            s(&warped),
        ],
    );
    let out = env.path("ours.tif");
    env.run([
        "--input",
        &format!("f={}", s(&fine)),
        "--input",
        &format!("c={}", s(&coarse)),
        "--input-set",
        "f.resampling=average",
        "--grid",
        "c",
        "--expr",
        "f",
        "--ot",
        "Float64",
        "--nodata",
        "-1",
        "--window",
        "9",
        "-o",
        s(&out),
    ])
    .ok();
    assert_close(&out, &warped, -1.0, 1e-9);
    // Bilinear cannot shrink: refused at start-up, naming the input.
    let e = env.run([
        "--input",
        &format!("f={}", s(&fine)),
        "--input",
        &format!("c={}", s(&coarse)),
        "--input-set",
        "f.resampling=bilinear",
        "--grid",
        "c",
        "--expr",
        "f",
        "-o",
        s(&env.path("refused.tif")),
    ]);
    assert!(e.fails(2).stderr().contains("input 'f'"), "{}", e.stderr());
    assert!(!env.path("refused.tif").exists());
}

#[test]
fn grids_that_do_not_line_up_are_refused_naming_both_files() {
    let env = Env::new();
    let (fine, _) = grids(&env, 2);
    let make = r#"
import sys
from osgeo import gdal
src = gdal.Open(sys.argv[1])
for name, opts in [('shifted.tif', ['-a_ullr', '500005', '4000000', '500745', '3999420']),
                   ('fifteen.tif', ['-tr', '15', '15']),
                   ('utm32.tif', ['-a_srs', 'EPSG:32632'])]:
    gdal.Translate(sys.argv[2] + '/' + name, src, options=opts)
"#;
    python(make, &[s(&fine), s(env.dir.path())]);
    for (bad, why) in [
        ("shifted.tif", "origins differ"),
        ("fifteen.tif", "integer ratio"),
        ("utm32.tif", "different CRS"),
    ] {
        let r = env.run([
            "--input".to_string(),
            format!("a={}", s(&fine)),
            "--input".to_string(),
            format!("b={}", s(&env.path(bad))),
            "--expr".into(),
            "a + b".into(),
            "-o".into(),
            s(&env.path("o.tif")).into(),
        ]);
        let e = r.fails(2).stderr();
        assert!(
            e.contains(why) && e.contains("fine.tif") && e.contains(bad),
            "{bad}: {e}"
        );
        assert!(e.contains("EPSG:"), "{e}");
    }
    assert!(!env.path("o.tif").exists());
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
