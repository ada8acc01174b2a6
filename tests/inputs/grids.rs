//! Named inputs on different grids: a coarser input resampled onto the
//! finer one (or the finer averaged onto a coarser grid chosen by name)
//! against gdalwarp at several window sizes and worker counts, and grids
//! that do not line up refused naming both files. Apart from the delivery
//! sets in `inputs` because these make their own synthetic grids.

use std::path::PathBuf;

use super::*;

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
    // A misspelt method is named under the setting that gave it.
    let e = env.run([
        "--input",
        &format!("f={}", s(&fine)),
        "--input-set",
        "f.resampling=cubik",
        "--expr",
        "f",
        "-o",
        s(&env.path("refused.tif")),
    ]);
    let want = "--input-set f.resampling: unknown resampling method 'cubik' (did you mean 'cubic'?";
    assert!(e.fails(2).stderr().contains(want), "{}", e.stderr());
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
