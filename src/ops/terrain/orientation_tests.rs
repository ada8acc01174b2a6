//! The terrain products describe the terrain, never its storage order.
//!
//! A DEM stored bottom row first (south-up, `gt[5] > 0`) or east to west
//! (`gt[1] < 0`) is the same terrain as its north-up mirror image, so its
//! hillshade, slope and aspect must be the north-up results mirrored the
//! same way. gdaldem 3.6.2 gets aspect wrong there (it uses raw row/column
//! differences), so the oracle is computed independently of that bug:
//! gdaldem on the north-up copy, mirrored back. Where gdaldem is right on
//! the stored DEM itself (hillshade and slope use the signed pixel size),
//! it is checked directly too.

use ndarray::{Array2, Axis};

use super::gdaldem_oracle::{
    check_against, compare, gdaldem, gdaldem_available, mirrored_tolerance, ours, variants,
    with_holes, Case,
};
use super::test_support::{assert_bit_identical, synthetic_dem};

/// (label, reverse rows: south-up, reverse columns: east to west)
const ORDERS: [(&str, bool, bool); 3] = [
    ("south-up", true, false),
    ("east-to-west", false, true),
    ("south-up east-to-west", true, true),
];

fn mirror(a: &Array2<f64>, rows: bool, cols: bool) -> Array2<f64> {
    let mut v = a.view();
    if rows {
        v.invert_axis(Axis(0));
    }
    if cols {
        v.invert_axis(Axis(1));
    }
    v.to_owned()
}

/// The geotransform of the same footprint stored with rows and/or columns
/// reversed; `gt` is north-up, west to east.
fn restored(gt: [f64; 6], (rows, cols): (usize, usize), flip: (bool, bool)) -> [f64; 6] {
    let mut g = gt;
    if flip.0 {
        g[3] = gt[3] + rows as f64 * gt[5];
        g[5] = -gt[5];
    }
    if flip.1 {
        g[0] = gt[0] + cols as f64 * gt[1];
        g[1] = -gt[1];
    }
    g
}

/// North-up DEMs covering square and non-square pixels, holes, the Int16
/// path, a geographic CRS and thin rasters; (label, dem, gt, geographic,
/// int16, extra gdaldem args).
type Base = (
    &'static str,
    Array2<f64>,
    [f64; 6],
    bool,
    bool,
    &'static [&'static str],
);

fn bases() -> Vec<Base> {
    let utm = [500_000.0, 30.0, 0.0, 4_600_000.0, 0.0, -30.0];
    vec![
        (
            "square",
            synthetic_dem(29, 41, 1500.0),
            utm,
            false,
            false,
            &[],
        ),
        (
            "holes",
            with_holes(&synthetic_dem(29, 41, 1500.0)),
            utm,
            false,
            false,
            &[],
        ),
        (
            "non-square",
            with_holes(&synthetic_dem(23, 31, 300.0)),
            [500_000.0, 20.0, 0.0, 4_600_000.0, 0.0, -35.0],
            false,
            false,
            &[],
        ),
        (
            "int16",
            with_holes(&synthetic_dem(40, 45, 600.0).mapv(f64::round)),
            [0.0, 5.0, 0.0, 0.0, 0.0, -5.0],
            false,
            true,
            &[],
        ),
        (
            "geographic",
            with_holes(&synthetic_dem(25, 27, 800.0)),
            [10.0, 0.0005, 0.0, 45.0, 0.0, -0.0005],
            true,
            false,
            &["-s", "111120"],
        ),
        (
            "2x7",
            with_holes(&synthetic_dem(2, 7, 40.0)),
            [0.0, 2.0, 0.0, 0.0, 0.0, -2.0],
            false,
            false,
            &[],
        ),
        (
            "7x2",
            with_holes(&synthetic_dem(7, 2, 40.0)),
            [0.0, 2.0, 0.0, 0.0, 0.0, -2.0],
            false,
            false,
            &[],
        ),
    ]
}

#[test]
fn mirrored_storage_gives_the_mirrored_north_up_result() {
    if !gdaldem_available() {
        return;
    }
    for (label, dem, gt, geographic, int16, extra) in bases() {
        let north_up = Case {
            dem: &dem,
            gt: Some(gt),
            geographic,
            int16,
        };
        for (order, rows, cols) in ORDERS {
            let stored = mirror(&dem, rows, cols);
            let case = Case {
                dem: &stored,
                gt: Some(restored(gt, dem.dim(), (rows, cols))),
                ..north_up
            };
            let back = |a: Array2<f64>| mirror(&a, rows, cols);
            check_against(&format!("{label} {order}"), &case, &north_up, extra, &back);
            // Same terrain, same numbers: not merely within the tolerance.
            for (mode, _, set) in variants() {
                let want = mirror(&ours(&north_up, mode, set), rows, cols);
                let got = ours(&case, mode, set);
                assert_bit_identical(&want, &got, &format!("{label} {order} {mode} {set:?}"));
            }
        }
    }
}

/// Where gdaldem 3.6.2 uses the signed pixel size (hillshade, slope) it is
/// right on the stored DEM too, and is the oracle as it stands.
#[test]
fn hillshade_and_slope_match_gdaldem_on_the_stored_dem() {
    if !gdaldem_available() {
        return;
    }
    for (label, dem, gt, geographic, int16, extra) in bases() {
        for (order, rows, cols) in ORDERS {
            let stored = mirror(&dem, rows, cols);
            let case = Case {
                dem: &stored,
                gt: Some(restored(gt, dem.dim(), (rows, cols))),
                geographic,
                int16,
            };
            for (mode, gargs, set) in variants() {
                if mode == "aspect" {
                    continue;
                }
                let mut args = gargs.to_vec();
                args.extend_from_slice(extra);
                let label = format!("{label} {order} {mode} {gargs:?} (gdaldem direct)");
                // gdaldem's float sums run in storage order, so on mirrored
                // storage its results move in the last digits: compared
                // relative to the value.
                let theirs = gdaldem(&case, mode, &args);
                let mine = ours(&case, mode, set);
                let unit = theirs.mapv(|t| t.abs().max(1.0));
                let (t, m) = (&theirs / &unit, &mine / &unit);
                let worst = compare(&label, mode, &t, &m, mirrored_tolerance(mode));
                eprintln!("{label}: max relative diff {worst:e}");
            }
        }
    }
}

/// The fixture really exercises gdaldem 3.6.2's aspect bug: on the stored
/// south-up or east-to-west DEM its aspect is the mirror of the true one,
/// far from ours. If this fails, gdaldem was fixed: update the README's
/// "Known differences" and drop this test.
#[test]
fn gdaldem_3_6_aspect_is_wrong_on_mirrored_storage() {
    if !gdaldem_available() {
        return;
    }
    let dem = synthetic_dem(29, 41, 1500.0);
    let gt = [500_000.0, 30.0, 0.0, 4_600_000.0, 0.0, -30.0];
    for (order, rows, cols) in ORDERS {
        let stored = mirror(&dem, rows, cols);
        let case = Case {
            dem: &stored,
            gt: Some(restored(gt, dem.dim(), (rows, cols))),
            geographic: false,
            int16: false,
        };
        let (theirs, mine) = (gdaldem(&case, "aspect", &[]), ours(&case, "aspect", &[]));
        let worst = theirs
            .iter()
            .zip(&mine)
            .map(|(t, m)| {
                let d = (t - m).abs();
                d.min(360.0 - d)
            })
            .fold(0.0, f64::max);
        assert!(
            worst > 170.0,
            "{order}: gdaldem's aspect is within {worst}° of ours"
        );
    }
}
