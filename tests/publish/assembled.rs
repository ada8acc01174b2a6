//! The assembled COG (blocks encoded by the workers, overviews built while
//! windows finish) against two oracles: gdaladdo on the same full resolution
//! written as plain GTiff (every overview pixel, odd sizes included), and the
//! COG GDAL's own driver copies when the assembly is switched off
//! (`TILERUN_COG_COPY`, a test hook): same `gdalinfo -json`, same pixels.
//! Codecs, a failure mid-job and the block placements are in
//! `assembled_paths`, which shares this file's inputs and runners.

use super::*;

/// Random rasters with nodata holes; sizes that halve exactly, and odd ones
/// whose overview boxes take weighted partial pixels and straddle windows.
pub(super) fn make_inputs(env: &Env) {
    python(
        r#"
import sys, numpy as np
from osgeo import gdal
d = sys.argv[1]
rng = np.random.default_rng(7)
def make(name, w, h, n, dt, lo, hi, nodata):
    ds = gdal.GetDriverByName('GTiff').Create(d + '/' + name, w, h, n, dt,
        ['TILED=YES', 'BLOCKXSIZE=256', 'BLOCKYSIZE=256'])
    ds.SetGeoTransform([500000, 10, 0, 4000000, 0, -10])
    for b in range(1, n + 1):
        a = rng.integers(lo, hi, (h, w)).astype('float64')
        a[rng.random((h, w)) < 0.05] = nodata
        a[: h // 7, : w // 5] = nodata
        ds.GetRasterBand(b).WriteArray(a)
        ds.GetRasterBand(b).SetNoDataValue(nodata)
make('u16.tif', 1024, 768, 2, gdal.GDT_UInt16, 1, 4000, 0)
make('i16.tif', 1536, 640, 1, gdal.GDT_Int16, -3000, 3000, -32768)
make('i32.tif', 1024, 1024, 1, gdal.GDT_Int32, -2**31 + 1, 2**31 - 1, 0)
make('rgb.tif', 1536, 512, 3, gdal.GDT_Byte, 1, 256, 0)
make('cls.tif', 1024, 1024, 1, gdal.GDT_UInt16, 1, 5, 0)
make('odd.tif', 1001, 777, 2, gdal.GDT_UInt16, 1, 4000, 0)
make('row.tif', 1203, 1, 1, gdal.GDT_Float32, -5, 5, -9999)
make('col.tif', 1, 1203, 1, gdal.GDT_Float32, -5, 5, -9999)
"#,
        &[env.dir.path().to_str().unwrap()],
    );
}

/// The cases: (name, input, tilerun arguments, bands, assembled?).
type Case = (&'static str, String, Vec<&'static str>, usize, bool);

fn cases(env: &Env) -> Vec<Case> {
    let p = |n: &str| env.path(n).to_str().unwrap().to_string();
    vec![
        (
            "ndvi",
            p("u16.tif"),
            vec!["-e", "(b2 - b1) / (b2 + b1)", "--ot", "Float32"],
            1,
            true,
        ),
        (
            "diff",
            p("u16.tif"),
            vec!["-e", "b2 - b1", "--ot", "Int16"],
            1,
            true,
        ),
        (
            "u16",
            p("u16.tif"),
            vec!["-e", "b1; b2", "--ot", "UInt16", "--nodata", "0"],
            2,
            true,
        ),
        (
            "f64",
            p("i16.tif"),
            vec!["-e", "b1 / 7", "--ot", "Float64", "--nodata", "-9999"],
            1,
            true,
        ),
        (
            "neg",
            p("i16.tif"),
            vec!["-e", "b1 / 2", "--ot", "Int16", "--nodata", "-32768"],
            1,
            true,
        ),
        (
            "u32",
            p("i16.tif"),
            vec!["-e", "b1 + 5000", "--ot", "UInt32", "--nodata", "0"],
            1,
            true,
        ),
        (
            "i32",
            p("i32.tif"),
            vec!["-e", "b1", "--ot", "Int32", "--nodata", "0"],
            1,
            true,
        ),
        (
            "rgb",
            p("rgb.tif"),
            vec!["-e", "b1; b2; b3", "--ot", "Byte", "--nodata", "0"],
            3,
            true,
        ),
        // Few distinct values: modes with repeats and ties.
        (
            "cls8",
            p("cls.tif"),
            vec!["-e", "b1", "--ot", "Byte", "--nodata", "0"],
            1,
            true,
        ),
        (
            "cls32",
            p("cls.tif"),
            vec!["-e", "b1 * 70000", "--ot", "Int32", "--nodata", "0"],
            1,
            true,
        ),
        (
            "odd",
            p("odd.tif"),
            vec!["-e", "b2 - b1", "--ot", "Float32"],
            1,
            true,
        ),
        (
            "odd16",
            p("odd.tif"),
            vec!["-e", "b1; b2", "--ot", "UInt16", "--nodata", "0"],
            2,
            true,
        ),
        (
            "oddi16",
            p("odd.tif"),
            vec!["-e", "(b2 - b1) / 3", "--ot", "Int16", "--nodata", "-32768"],
            1,
            true,
        ),
        // 1 pixel wide: GDAL computes every level from full resolution
        // there; tilerun leaves that to GDAL's copy.
        (
            "col",
            p("col.tif"),
            vec!["-e", "b1", "--ot", "Float32", "--nodata", "-9999"],
            1,
            false,
        ),
        (
            "row",
            p("row.tif"),
            vec!["-e", "b1 * 3", "--ot", "Float32", "--nodata", "-9999"],
            1,
            true,
        ),
    ]
}

pub(super) fn run_cog(
    env: &Env,
    input: &str,
    args: &[&str],
    extra: &[&str],
    out: &Path,
    copy: bool,
) -> String {
    let mut cmd = env.cmd();
    cmd.arg(input).args(args).args(extra);
    cmd.args(["--of", "COG", "-v", "-o"]).arg(out);
    if copy {
        cmd.env("TILERUN_COG_COPY", "1");
    }
    let run = Run(cmd.output().unwrap());
    run.ok();
    run.stderr()
}

/// gdalinfo -json without what names the file.
pub(super) fn info(path: &Path) -> serde_json::Value {
    let mut j = gdalinfo(path);
    let o = j.as_object_mut().unwrap();
    o.remove("description");
    o.remove("files");
    if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        m.remove("DERIVED_SUBDATASETS");
    }
    j
}

fn same(ours: f64, gdal: f64) -> bool {
    ours.to_bits() == gdal.to_bits()
}

/// GDAL 3.6 resamples Float64 in Float32, where the default Float64 nodata
/// (DBL_MAX) is +inf: its overviews turn nodata into +inf, and any box
/// touching one into +inf at the next level. tilerun keeps nodata (its
/// conversion rule: non-finite → nodata). The oracle: the same data with
/// nodata -9999 (bit-exact with gdaladdo above), -9999 read as DBL_MAX.
#[test]
fn float64_nodata_beyond_float32_stays_nodata_in_overviews() {
    let env = Env::new();
    make_inputs(&env);
    let input = env.path("i16.tif");
    let i = input.to_str().unwrap();
    for method in ["average", "nearest"] {
        let max = env.path(&format!("max_{method}.tif"));
        let small = env.path(&format!("small_{method}.tif"));
        let base = ["-e", "b1 / 7", "--ot", "Float64", "--resampling", method];
        let log = run_cog(&env, i, &base, &[], &max, false);
        assert!(log.contains("COG assembled"), "{log}");
        run_cog(&env, i, &base, &["--nodata", "-9999"], &small, false);
        let nodata = read(&max).nodata[0].unwrap();
        assert_eq!(nodata, f64::MAX);
        let (got, want) = (overviews(&max, 1), overviews(&small, 1));
        assert_eq!(got.len(), want.len());
        for ((_, g), (_, w)) in got.iter().zip(&want) {
            let w: Vec<f64> = w
                .iter()
                .map(|&v| if v == -9999.0 { nodata } else { v })
                .collect();
            assert!(
                g.iter().all(|v| v.is_finite()),
                "{method}: +inf in overviews"
            );
            assert_eq!(g, &w, "{method}");
            assert!(g.contains(&nodata), "{method}: the case has no nodata box");
        }
    }
}

#[test]
fn assembled_cog_matches_gdaladdo_and_gdals_own_cog() {
    let env = Env::new();
    make_inputs(&env);
    for (name, input, args, bands, assembled) in cases(&env) {
        for method in ["average", "nearest", "mode"] {
            let extra = ["--resampling", method];
            let fast = env.path(&format!("{name}_{method}.tif"));
            let log = run_cog(&env, &input, &args, &extra, &fast, false);
            assert_eq!(log.contains("COG assembled"), assembled, "{name}:\n{log}");
            assert_valid_cog(&fast);
            let copy = env.path(&format!("{name}_{method}_copy.tif"));
            let log = run_cog(&env, &input, &args, &extra, &copy, true);
            assert!(log.contains("COG copy"), "{name}: hook ignored:\n{log}");
            assert_eq!(
                info(&fast),
                info(&copy),
                "{name} {method}: gdalinfo differs"
            );
            // gdaladdo on the plain GTiff: the levels the COG has.
            let levels: Vec<String> = (1..=overviews(&fast, 1).len())
                .map(|k| (1usize << k).to_string())
                .collect();
            assert!(!levels.is_empty(), "{name}: no overviews to compare");
            let plain = env.path(&format!("{name}_{method}_plain.tif"));
            let mut all: Vec<&str> = vec![&input];
            all.extend(&args);
            all.extend(["-o", plain.to_str().unwrap()]);
            ok(&env, &all);
            let mut addo = vec!["-q", "-r", method, plain.to_str().unwrap()];
            addo.extend(levels.iter().map(|s| s.as_str()));
            oracle("gdaladdo", &addo);
            let (got, want) = (read(&fast), read(&plain));
            assert_eq!(got.bands, want.bands, "{name}: full resolution");
            for b in 1..=bands {
                let (g, w, c) = (
                    overviews(&fast, b),
                    overviews(&plain, b),
                    overviews(&copy, b),
                );
                assert_eq!(g.len(), w.len(), "{name} {method} band {b}: levels");
                for (k, ((gs, gd), (ws, wd))) in g.iter().zip(&w).enumerate() {
                    assert_eq!(gs, ws, "{name} {method} band {b} level {k}: size");
                    let bad = gd.iter().zip(wd).filter(|(x, y)| !same(**x, **y)).count();
                    assert_eq!(
                        bad, 0,
                        "{name} {method} band {b} level {k}: {bad} pixels differ from gdaladdo"
                    );
                }
                for ((_, gd), (_, cd)) in g.iter().zip(&c) {
                    let bad = gd.iter().zip(cd).filter(|(x, y)| !same(**x, **y)).count();
                    assert_eq!(bad, 0, "{name} {method} band {b}: differs from GDAL's COG");
                }
            }
        }
    }
    assert_no_temp(env.dir.path());
}
