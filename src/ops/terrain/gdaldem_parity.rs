//! Parity with the real `gdaldem` (GDAL 3.6.2): the oracle the terrain ops
//! promise to match, on square, non-square, geographic, thin, terraced and
//! Int16 DEMs, with and without nodata holes, every value bit for bit (the
//! harness is `gdaldem_oracle`). Skips (with a message) when gdaldem is not
//! installed. Storage orders gdaldem gets wrong are checked in
//! `orientation_tests`.

use super::gdaldem_oracle::{
    check_against, check_all, compare, gdaldem, gdaldem_available, ours, with_holes, Case,
};
use super::test_support::synthetic_dem;

#[test]
fn parity_square_pixels_with_and_without_holes() {
    if !gdaldem_available() {
        return;
    }
    let dem = synthetic_dem(29, 41, 1500.0);
    let gt = Some([500000.0, 30.0, 0.0, 4_600_000.0, 0.0, -30.0]);
    let plain = Case {
        dem: &dem,
        gt,
        geographic: false,
        int16: false,
    };
    check_all("square", &plain, &[]);
    let holed = with_holes(&dem);
    check_all(
        "holes",
        &Case {
            dem: &holed,
            gt,
            geographic: false,
            int16: false,
        },
        &[],
    );
}

#[test]
fn parity_non_square_pixels() {
    if !gdaldem_available() {
        return;
    }
    let dem = with_holes(&synthetic_dem(23, 31, 300.0));
    let gt = Some([500000.0, 20.0, 0.0, 4_600_000.0, 0.0, -35.0]);
    check_all(
        "non-square",
        &Case {
            dem: &dem,
            gt,
            geographic: false,
            int16: false,
        },
        &[],
    );
}

#[test]
fn parity_geographic_applies_gdaldem_scale() {
    if !gdaldem_available() {
        return;
    }
    let dem = with_holes(&synthetic_dem(25, 27, 800.0));
    let gt = Some([10.0, 0.0005, 0.0, 45.0, 0.0, -0.0005]);
    check_all(
        "geographic",
        &Case {
            dem: &dem,
            gt,
            geographic: true,
            int16: false,
        },
        &["-s", "111120"],
    );
}

#[test]
fn parity_missing_geotransform_and_thin_rasters() {
    if !gdaldem_available() {
        return;
    }
    // Without a geotransform tilerun takes row 0 as north (1x1 pixels);
    // gdaldem takes [0,1,0,0,0,1], south-up for hillshade and north-up for
    // aspect. The oracle is gdaldem given the north-up unit geotransform.
    let dem = with_holes(&synthetic_dem(9, 12, 50.0));
    let no_gt = Case {
        dem: &dem,
        gt: None,
        geographic: false,
        int16: false,
    };
    let unit = Case {
        gt: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
        ..no_gt
    };
    check_against("no-gt", &no_gt, &unit, &[], &|a| a);
    let gt = Some([0.0, 2.0, 0.0, 0.0, 0.0, -2.0]);
    for (rows, cols) in [(1, 6), (6, 1), (2, 2), (2, 7), (7, 2)] {
        let thin = with_holes(&synthetic_dem(rows, cols, 40.0));
        check_all(
            &format!("{rows}x{cols}"),
            &Case {
                dem: &thin,
                gt,
                geographic: false,
                int16: false,
            },
            &[],
        );
    }
}

#[test]
fn parity_zero_for_flat_on_terraced_dem() {
    if !gdaldem_available() {
        return;
    }
    // Rounded elevations give genuinely flat cells.
    let dem = with_holes(&synthetic_dem(21, 21, 10.0).mapv(|v| (v / 4.0).round() * 4.0));
    let gt = Some([0.0, 10.0, 0.0, 0.0, 0.0, -10.0]);
    let case = Case {
        dem: &dem,
        gt,
        geographic: false,
        int16: false,
    };
    let default = gdaldem(&case, "aspect", &[]);
    let mine = ours(&case, "aspect", &[]);
    compare("terraced aspect", "aspect", &default, &mine, 0.0);
    // gdaldem -zero_for_flat has no output nodata: flat cells AND nodata
    // centres become 0. Ours keeps nodata centres as nodata.
    let theirs = gdaldem(&case, "aspect", &["-zero_for_flat"]);
    let mine = ours(&case, "aspect", &[("zero_for_flat", "true")]);
    let mut flats = 0;
    for (((r, c), &t), &m) in theirs.indexed_iter().zip(mine.iter()) {
        if dem[[r, c]].is_nan() {
            assert!(m.is_nan() && t == 0.0, "nodata centre at {r},{c}");
            continue;
        }
        assert_eq!(t, m, "at {r},{c}");
        flats += usize::from(default[[r, c]].is_nan());
    }
    assert!(flats > 10, "the DEM should have flat cells, found {flats}");
}

#[test]
fn parity_int16_dem_uses_gdaldem_integer_path() {
    if !gdaldem_available() {
        return;
    }
    let dem = synthetic_dem(40, 45, 600.0).mapv(f64::round);
    let gt = Some([0.0, 5.0, 0.0, 0.0, 0.0, -5.0]);
    check_all(
        "int16",
        &Case {
            dem: &dem,
            gt,
            geographic: false,
            int16: true,
        },
        &[],
    );
    let holed = with_holes(&dem);
    check_all(
        "int16 holes",
        &Case {
            dem: &holed,
            gt,
            geographic: false,
            int16: true,
        },
        &[],
    );
}
