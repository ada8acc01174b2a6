//! Bit masks, membership and the `nodata` literal through the real binary,
//! on the Landsat QA_PIXEL, Sentinel-2 SCL and scene fixtures, against the
//! same expressions computed independently with numpy; and the compile
//! errors for bitwise operators on float bands.

use crate::deliveries::{landsat, s2};
use crate::publish::python;
use crate::util::*;
use std::ffi::OsStr;

/// Reads the input (argv[1]) and tilerun's output (argv[2]); evaluates each
/// `name: numpy expression` (in `q`, the input band as int64) where the
/// output must be nodata wherever the input is nodata or the expression
/// gives None-marked pixels (`MASK` arrays), else equal exactly. Prints
/// `valid nodata` counts per output band.
const ORACLE: &str = r#"
import sys
import numpy as np
from osgeo import gdal
src, out = gdal.Open(sys.argv[1]), gdal.Open(sys.argv[2])
band = src.GetRasterBand(1)
q = band.ReadAsArray().astype(np.int64)
in_nd = band.GetNoDataValue()
dead = (q == in_nd) if in_nd is not None else np.zeros(q.shape, bool)
exec(sys.argv[3])  # defines WANT: list of (values, extra nodata mask)
assert out.RasterCount == len(WANT), (out.RasterCount, len(WANT))
for i, (values, mask) in enumerate(WANT, 1):
    ob = out.GetRasterBand(i)
    got, nd = ob.ReadAsArray(), ob.GetNoDataValue()
    masked = dead | mask
    want = np.where(masked, nd, values).astype(got.dtype)
    bad = np.argwhere(got != want)
    assert bad.size == 0, f"band {i}: {len(bad)} differ, first at {bad[0]}: got {got[tuple(bad[0])]} want {want[tuple(bad[0])]}"
    print(int((~masked).sum()), int(masked.sum()))
"#;

/// Runs tilerun on `input` with `args`, then the numpy `want` program.
/// Returns (valid, nodata) pixel counts per output band.
fn run_and_compare(
    input: &std::path::Path,
    args: &[&str],
    want: &str,
    env: &Env,
) -> Vec<(u64, u64)> {
    let out = env.path("out.tif");
    let mut all: Vec<&str> = vec![input.to_str().unwrap(), "-o", out.to_str().unwrap()];
    all.extend(args);
    env.run(&all).ok();
    let text = python(
        ORACLE,
        &[input.to_str().unwrap(), out.to_str().unwrap(), want],
    );
    text.lines()
        .map(|l| {
            let (a, b) = l.split_once(' ').expect("two counts");
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

#[test]
fn qa_pixel_bit_operations_match_numpy() {
    let env = Env::new();
    let expr = "bits(b1, 8, 2); bit(b1, 3); b1 & 0b11010; b1 >> 8 in (0x55, 0x57); \
                where(bit(b1, 7), nodata, b1 ^ 0x5555); ~b1 & 0xFFFF; b1 << 2 | 1; \
                isin(bits(b1, 14, 2), 0, 3); b1 & 0b11010 != 0 or bits(b1, 8, 2) == 3";
    let want = "none = np.zeros(q.shape, bool)\n\
                WANT = [((q >> 8) & 3, none), ((q >> 3) & 1, none), (q & 0b11010, none), \
                (np.isin(q >> 8, [0x55, 0x57]), none), (q ^ 0x5555, (q >> 7) & 1 == 1), \
                (~q & 0xFFFF, none), (q << 2 | 1, none), (np.isin((q >> 14) & 3, [0, 3]), none), \
                (((q & 0b11010) != 0) | (((q >> 8) & 3) == 3), none)]";
    let counts = run_and_compare(
        &landsat("QA_PIXEL.TIF"),
        &["--expr", expr, "--ot", "Int32"],
        want,
        &env,
    );
    assert_eq!(counts.len(), 9);
    // Fill pixels (QA nodata 1) are nodata everywhere; water (bit 7) too in
    // the `where(..., nodata, ...)` band: the literal really masks.
    let (valid, fill) = counts[0];
    assert!(valid > 30_000 && fill > 5_000, "{counts:?}");
    assert!(counts[4].1 > fill + 1_000, "{counts:?}");
    assert!(counts
        .iter()
        .enumerate()
        .all(|(i, c)| i == 4 || *c == counts[0]));
}

#[test]
fn scl_classes_masked_with_in_match_numpy() {
    // JPEG 2000 is not in the default allow-list yet: widen it for this run.
    let env = Env::new();
    let cfg = env.write(
        "jp2.toml",
        "[input]\nallowed_drivers = [\"GTiff\", \"JP2OpenJPEG\"]\n",
    );
    let want = "WANT = [(q, np.isin(q, [0, 3, 8, 9, 10])), \
                (~np.isin(q, [4, 5, 6]), np.zeros(q.shape, bool))]";
    let counts = run_and_compare(
        &s2("R20m", "SCL_20m"),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--expr",
            "where(b1 in (0, 3, 8, 9, 10), nodata, b1); b1 not in (4, 5, 6)",
            "--ot",
            "Byte",
        ],
        want,
        &env,
    );
    assert!(counts[0].0 > 10_000 && counts[0].1 > 500, "{counts:?}");
    assert_eq!(counts[1], (120 * 120, 0));
}

#[test]
fn masked_ndvi_on_an_integer_scene_matches_numpy() {
    let env = Env::new();
    // scene_small: UInt16 blue, green, red, NIR with nodata 0; mask pixels
    // whose blue has its low three bits clear, compute NDVI elsewhere.
    let want =
        "bands = [src.GetRasterBand(k).ReadAsArray().astype(np.float64) for k in (1, 3, 4)]\n\
                b, r, n = bands\n\
                dead = (b == 0) | (r == 0) | (n == 0)\n\
                WANT = [(((n - r) / (n + r)).astype(np.float32), (b.astype(np.int64) & 7) == 0)]";
    let counts = run_and_compare(
        &fixture("scene_small.tif"),
        &[
            "--expr",
            "where(b1 & 7 == 0, nodata, (b4 - b3) / (b4 + b3))",
        ],
        want,
        &env,
    );
    let (valid, masked) = counts[0];
    // 10 nodata columns of 200 rows, plus about one pixel in eight.
    assert!(valid > 40_000 && masked > 2_000 + 4_000, "{counts:?}");
}

#[test]
fn bitwise_on_a_float_band_is_a_usage_error_naming_it() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let out = env.path("x.tif");
    for (expr, msg, caret) in [
        (
            "b1 & 1",
            "expression error at column 1: bitwise '&' needs an integer input; 'b1' is Float32",
            "  ^",
        ),
        (
            "abs(b1 ^ 2)",
            "'b1' is Float32 ('^' is bitwise xor; for a power write '**' or pow())",
            "      ^",
        ),
        (
            "bit(b1 * 2, 0)",
            "bit() needs an integer input; 'b1' is Float32",
            "      ^",
        ),
        (
            "(b1 == nodata) + 1",
            "nothing equals 'nodata'",
            "         ^",
        ),
    ] {
        let r = env.run([
            dem.as_os_str(),
            "--expr".as_ref(),
            expr.as_ref(),
            "-o".as_ref(),
            out.as_os_str(),
        ]);
        r.fails(2);
        let err = r.stderr();
        assert!(err.contains(msg), "{expr}: {err}");
        assert!(
            err.contains("dem_small.tif"),
            "{expr}: the path is named: {err}"
        );
        assert!(
            err.lines().any(|l| l == caret),
            "{expr}: caret {caret:?}: {err}"
        );
        assert!(!out.exists());
    }
    // `**` is the power operator.
    env.run([
        dem.as_os_str(),
        "--expr".as_ref(),
        "b1 ** 2".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ])
    .ok();
}

/// With named inputs the error is shown under the float input's name and
/// file, not under the job's first input (which is an integer one here).
#[test]
fn bitwise_on_a_float_named_input_names_that_input_and_its_file() {
    let env = Env::new();
    let dem = fixture("dem_small.tif");
    let int = env.path("int.tif");
    let (dem_s, int_s) = (dem.to_str().unwrap(), int.to_str().unwrap());
    oracle(
        "/usr/bin/gdal_translate",
        &["-q", "-ot", "Int16", dem_s, int_s],
    );
    let out = env.path("x.tif");
    let r = env.run([
        "--input".as_ref(),
        format!("a={int_s}").as_ref(),
        "--input".as_ref(),
        format!("h={dem_s}").as_ref(),
        "--expr".as_ref(),
        "a + (h & 1)".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ] as [&OsStr; 8]);
    r.fails(2);
    let want = format!(
        "input 'h' ({dem_s}): expression error at column 6: \
         bitwise '&' needs an integer input; 'h' is Float32"
    );
    assert!(r.stderr().contains(&want), "{}", r.stderr());
    assert!(!r.stderr().contains("int.tif"), "{}", r.stderr());
    assert!(!out.exists());
}
