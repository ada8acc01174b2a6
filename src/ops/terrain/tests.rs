//! Terrain ops against textbook oracles on planes (whose slope, aspect and
//! illumination are known in closed form), plus seam-freedom and the
//! handling of nodata neighbours. gdaldem itself is the oracle in
//! `gdaldem_parity`; what `build` makes of its parameters is in `build_tests`.

use std::f64::consts::PI;

use ndarray::Array2;

use super::build;
use super::test_support::{assert_bit_identical, run_op, run_tiled, synthetic_dem};
use crate::ops::{InputInfo, Params};

const D2R: f64 = PI / 180.0;

pub(super) fn info(rows: usize, cols: usize, gt: [f64; 6]) -> InputInfo {
    InputInfo {
        width: cols,
        height: rows,
        band_count: 1,
        geo_transform: Some(gt),
        geographic: false,
        nodata: vec![Some(-9999.0)],
        band_types: vec![gdal_sys::GDALDataType::GDT_Float32],
    }
}

pub(super) fn params(set: &[(&str, &str)]) -> Params {
    set.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// z = a·X + b·Y sampled at pixel centres of geotransform `gt`.
pub(super) fn plane(rows: usize, cols: usize, gt: [f64; 6], a: f64, b: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let x = gt[0] + (c as f64 + 0.5) * gt[1];
        let y = gt[3] + (r as f64 + 0.5) * gt[5];
        a * x + b * y
    })
}

fn is_corner(r: usize, c: usize, rows: usize, cols: usize) -> bool {
    (r == 0 || r == rows - 1) && (c == 0 || c == cols - 1)
}

/// Compass azimuth (clockwise from north) of steepest descent.
fn compass_aspect(east: f64, north: f64) -> f64 {
    (-east).atan2(-north).to_degrees().rem_euclid(360.0)
}

fn cos_incidence(az: f64, alt: f64, slope: f64, aspect: f64) -> f64 {
    (alt * D2R).sin() * slope.cos() + (alt * D2R).cos() * slope.sin() * ((az - aspect) * D2R).cos()
}

// Origins near 0 keep plane elevations small, so f32 storage (gdaldem's
// precision) does not blur the closed-form comparison.
// Every storage order: the closed forms are in ground coordinates, so the
// same plane must give the same answers however its rows and columns run.
const GTS: [[f64; 6]; 7] = [
    [0.0, 30.0, 0.0, 0.0, 0.0, -30.0],
    [-50.0, 20.0, 0.0, 100.0, 0.0, -35.0],
    [0.0, 10.0, 0.0, -40.0, 0.0, 10.0],   // south-up
    [90.0, -10.0, 0.0, 40.0, 0.0, -10.0], // east to west
    [90.0, -20.0, 0.0, -40.0, 0.0, 35.0], // both, non-square
    [0.0, 1.0, 0.0, 0.0, 0.0, -1.0],
    [0.0, 1.0, 0.0, 0.0, 0.0, 1.0], // south-up unit pixels
];
const GRADS: [(f64, f64); 5] = [
    (0.3, -0.2),
    (-1.2, 0.0),
    (0.0, 0.7),
    (2.0, 1.5),
    (-0.05, -0.4),
];

#[test]
fn slope_of_a_plane_matches_closed_form_including_edges() {
    for gt in GTS {
        for (a, b) in GRADS {
            for (alg, scale) in [("Horn", 1.0), ("ZevenbergenThorne", 1.0), ("Horn", 3.0)] {
                let dem = plane(8, 11, gt, a, b);
                let (rows, cols) = dem.dim();
                let set = [("alg", alg), ("scale", &*scale.to_string())];
                let deg = run_op(
                    build("slope", &params(&set), &info(rows, cols, gt))
                        .unwrap()
                        .0
                        .as_ref(),
                    &dem,
                );
                let set = [
                    ("alg", alg),
                    ("scale", &*scale.to_string()),
                    ("units", "percent"),
                ];
                let pct = run_op(
                    build("slope", &params(&set), &info(rows, cols, gt))
                        .unwrap()
                        .0
                        .as_ref(),
                    &dem,
                );
                for ((r, c), &v) in deg.indexed_iter() {
                    // gdaldem clamps columns at the corners, halving the x difference.
                    let ea = if is_corner(r, c, rows, cols) {
                        a / 2.0
                    } else {
                        a
                    };
                    let rise = ea.hypot(b) / scale;
                    assert!(
                        (v - rise.atan().to_degrees()).abs() < 1e-3,
                        "{gt:?} {a},{b} {alg} at {r},{c}: {v}"
                    );
                    assert!((pct[[r, c]] - 100.0 * rise).abs() < 1e-3 * (1.0 + 100.0 * rise));
                }
            }
        }
    }
}

#[test]
fn aspect_of_a_plane_matches_closed_form() {
    for (a, b) in GRADS {
        for alg in ["Horn", "ZevenbergenThorne"] {
            for gt in GTS {
                let dem = plane(7, 9, gt, a, b);
                let (rows, cols) = dem.dim();
                let op = build("aspect", &params(&[("alg", alg)]), &info(rows, cols, gt))
                    .unwrap()
                    .0;
                let trig = build(
                    "aspect",
                    &params(&[("alg", alg), ("trigonometric", "yes")]),
                    &info(rows, cols, gt),
                )
                .unwrap()
                .0;
                let (out, out_trig) = (run_op(op.as_ref(), &dem), run_op(trig.as_ref(), &dem));
                for ((r, c), &v) in out.indexed_iter() {
                    let ea = if is_corner(r, c, rows, cols) {
                        a / 2.0
                    } else {
                        a
                    };
                    // Like gdaldem's, aspect ignores pixel size (it is the aspect
                    // on the pixel grid), but not the storage order: east is
                    // east and north is north whichever way rows and columns run.
                    let want = compass_aspect(ea * gt[1].abs(), b * gt[5].abs());
                    let d = (v - want).abs();
                    assert!(
                        d.min(360.0 - d) < 1e-3,
                        "{gt:?} {a},{b} {alg} at {r},{c}: {v} vs {want}"
                    );
                    let want_trig = (90.0 - want).rem_euclid(360.0);
                    let d = (out_trig[[r, c]] - want_trig).abs();
                    assert!(d.min(360.0 - d) < 1e-3, "trigonometric at {r},{c}");
                }
            }
        }
    }
}

/// Textbook hillshade of a cell with `slope` and `aspect` under one light:
/// standard, and combined (shade darkened by slope, 1 - i·S/(π/2)²).
fn textbook_shade(az: f64, alt: f64, slope: f64, aspect: f64) -> (f64, f64) {
    let cos_i = cos_incidence(az, alt, slope, aspect);
    let standard = 1.0 + 254.0 * cos_i.max(0.0);
    let cang = 1.0 - cos_i.acos() * slope / (PI * PI / 4.0);
    let combined = if cang <= 0.0 { 1.0 } else { 1.0 + 254.0 * cang };
    (standard, combined)
}

/// Multidirectional: lights at 225/270/315/360 weighted by
/// cos²(aspect − az) (weights sum to 2).
fn textbook_multi(alt: f64, slope: f64, aspect: f64) -> f64 {
    let sum: f64 = [225.0, 270.0, 315.0, 360.0]
        .iter()
        .map(|&laz: &f64| {
            ((aspect - laz) * D2R).cos().powi(2) * cos_incidence(laz, alt, slope, aspect).max(0.0)
        })
        .sum();
    1.0 + 127.0 * sum
}

#[test]
fn hillshade_of_a_plane_matches_textbook_illumination() {
    let lights = [
        (315.0, 45.0, 1.0),
        (100.0, 30.0, 3.0),
        (200.0, 80.0, 0.5),
        (0.0, 10.0, 1.0),
    ];
    for gt in GTS {
        for (a, b) in GRADS {
            for alg in ["Horn", "ZevenbergenThorne"] {
                for (az, alt, z) in lights {
                    let dem = plane(6, 8, gt, a, b);
                    let (rows, cols) = dem.dim();
                    let (az_s, alt_s, z_s) = (az.to_string(), alt.to_string(), z.to_string());
                    let run = |set: &[(&str, &str)]| {
                        let op = build("hillshade", &params(set), &info(rows, cols, gt));
                        run_op(op.unwrap().0.as_ref(), &dem)
                    };
                    let (k_alg, k_az, k_alt, k_z) = (
                        ("alg", alg),
                        ("azimuth", &*az_s),
                        ("altitude", &*alt_s),
                        ("z", &*z_s),
                    );
                    let hs = run(&[k_alg, k_az, k_alt, k_z]);
                    let hc = run(&[k_alg, ("combined", "true"), k_alt, k_az, k_z]);
                    let hm = run(&[k_alg, ("multidirectional", "1"), k_alt, k_z]);
                    for ((r, c), &v) in hs.indexed_iter() {
                        let ea = if is_corner(r, c, rows, cols) {
                            a / 2.0
                        } else {
                            a
                        };
                        let slope = (z * ea.hypot(b)).atan();
                        let aspect = compass_aspect(ea, b);
                        let (want, want_c) = textbook_shade(az, alt, slope, aspect);
                        let label = format!("{gt:?} {a},{b} {alg} {az}/{alt}/{z} at {r},{c}");
                        assert!((v - want).abs() <= 0.5 + 1e-3, "{label}: {v} vs {want}");
                        let got = hc[[r, c]];
                        assert!(
                            (got - want_c).abs() <= 0.5 + 1e-3,
                            "combined {label}: {got} vs {want_c}"
                        );
                        let (got, want) = (hm[[r, c]], textbook_multi(alt, slope, aspect));
                        assert!(
                            (got - want).abs() <= 0.5 + 1e-3,
                            "multi {label}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn nodata_centre_is_nodata_and_nodata_neighbours_take_the_centre() {
    let gt = [0.0, 10.0, 0.0, 0.0, 0.0, -10.0];
    let (a, b) = (0.4, -0.3);
    let mut dem = plane(9, 9, gt, a, b);
    dem[[4, 5]] = f64::NAN; // east neighbour of (4, 4)
    dem[[0, 0]] = f64::NAN;
    let op = build("slope", &params(&[]), &info(9, 9, gt)).unwrap().0;
    let out = run_op(op.as_ref(), &dem);
    for ((r, c), &v) in out.indexed_iter() {
        assert_eq!(v.is_nan(), dem[[r, c]].is_nan(), "mask at {r},{c}");
    }
    // Replacing the east neighbour by the centre turns Horn's x difference
    // from 8 column steps into 6: the east gradient shrinks to 3/4.
    let want = (0.75 * a).hypot(b).atan().to_degrees();
    assert!(
        (out[[4, 4]] - want).abs() < 1e-4,
        "{} vs {want}",
        out[[4, 4]]
    );
    // Cells whose window is hole-free keep the plane's slope.
    let plain = a.hypot(b).atan().to_degrees();
    assert!((out[[2, 2]] - plain).abs() < 1e-4);
    assert!((out[[7, 7]] - plain).abs() < 1e-4);
}

#[test]
fn tiled_output_is_bit_identical_to_whole_raster() {
    let mut dem = synthetic_dem(70, 83, 400.0);
    for ((r, c), v) in dem.indexed_iter_mut() {
        if (r * 31 + c * 17) % 23 == 0 || (r == 0 && c == 13) || (c == 82 && r == 64) {
            *v = f64::NAN;
        }
    }
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("hillshade", &[]),
        ("hillshade", &[("multidirectional", "true")]),
        (
            "hillshade",
            &[("combined", "true"), ("alg", "ZevenbergenThorne")],
        ),
        ("slope", &[]),
        (
            "slope",
            &[("units", "percent"), ("alg", "ZevenbergenThorne")],
        ),
        ("aspect", &[]),
    ];
    let gts = [
        [0.0, 25.0, 0.0, 0.0, 0.0, -30.0],
        [0.0, 25.0, 0.0, 0.0, 0.0, 30.0],   // south-up
        [0.0, -25.0, 0.0, 0.0, 0.0, -30.0], // east to west
        [0.0, -25.0, 0.0, 0.0, 0.0, 30.0],  // both
    ];
    for gt in gts {
        for (mode, set) in cases {
            let op = build(mode, &params(set), &info(70, 83, gt)).unwrap().0;
            let whole = run_op(op.as_ref(), &dem);
            for win in [1, 2, 7, 13, 64] {
                let tiled = run_tiled(op.as_ref(), &dem, win);
                let label = format!("{gt:?} {mode} {set:?} window {win}");
                assert_bit_identical(&whole, &tiled, &label);
            }
        }
    }
}
