//! rescale against the textbook stretch written out independently, its
//! defaults (type, nodata), the statistics hand-off for `in=auto`, and every
//! parameter error naming the option and the reason.

use ndarray::Array2;

use super::*;
use crate::ops::testing::{info, params};
use crate::ops::{Block, Core};

fn built(kv: &[(&str, &str)], bands: usize) -> Box<dyn Op> {
    build(&params(kv), &info(bands, None), None).unwrap().0
}

fn build_err(kv: &[(&str, &str)], bands: usize) -> String {
    match build(&params(kv), &info(bands, None), None) {
        Ok(_) => panic!("{kv:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

/// The textbook formula, written independently: fraction of the input
/// range, times the output span, clamped by comparisons.
fn naive(v: f64, (ilo, ihi): (f64, f64), (olo, ohi): (f64, f64), clip: bool) -> f64 {
    if v.is_nan() {
        return f64::NAN;
    }
    let frac = (v - ilo) / (ihi - ilo);
    let mut y = olo + frac * (ohi - olo);
    if clip {
        let (lo, hi) = if olo < ohi { (olo, ohi) } else { (ohi, olo) };
        if y < lo {
            y = lo;
        }
        if y > hi {
            y = hi;
        }
    }
    y
}

/// Values spanning below, inside and above `in`, with NaN holes.
fn data(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    Array2::from_shape_fn((rows, cols), |_| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        if u < 0.07 {
            f64::NAN
        } else {
            -500.0 + u * 4000.0
        }
    })
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn stretch_matches_the_naive_formula() {
    let d = data(17, 23, 1);
    for (inr, outr, clip) in [
        ((0.0, 3000.0), (1.0, 255.0), true),
        ((0.0, 3000.0), (1.0, 255.0), false),
        ((-100.0, 50.0), (255.0, 0.0), true),
        ((10.0, 3000.0), (-1.0, 1.0), true),
        ((0.0, 1.0), (0.0, 65535.0), false),
    ] {
        let got = stretch(d.view(), inr, outr, clip);
        for (g, &v) in got.iter().zip(d.iter()) {
            let want = naive(v, inr, outr, clip);
            assert!(close(*g, want), "{v} {inr:?}->{outr:?}: {g} vs {want}");
        }
    }
}

#[test]
fn empty_input_range_is_a_step() {
    let d = Array2::from_shape_vec((1, 4), vec![1.0, 5.0, 6.0, f64::NAN]).unwrap();
    let got = stretch(d.view(), (5.0, 5.0), (1.0, 255.0), true);
    assert_eq!(&got.as_slice().unwrap()[..3], &[1.0, 1.0, 255.0]);
    assert!(got[(0, 3)].is_nan());
}

#[test]
fn op_stretches_each_band_over_the_core_only() {
    let op = built(
        &[("in", "0,3000;-100,100"), ("out", "1,255"), ("band", "3,1")],
        3,
    );
    assert_eq!(op.bands(), &[3, 1]);
    assert_eq!(op.out_bands(), 2);
    let (a, b) = (data(12, 14, 2), data(12, 14, 3));
    let core = Core {
        row: 2,
        col: 3,
        rows: 7,
        cols: 9,
    };
    let outs = op.compute(&Block {
        bands: vec![a.view(), b.view()],
        core,
    });
    for (o, (src, inr)) in outs
        .iter()
        .zip([(&a, (0.0, 3000.0)), (&b, (-100.0, 100.0))])
    {
        assert_eq!(o.dim(), (7, 9));
        for ((r, c), g) in o.indexed_iter() {
            let want = naive(src[(r + 2, c + 3)], inr, (1.0, 255.0), true);
            assert!(close(*g, want), "{r},{c}: {g} vs {want}");
        }
    }
    assert_eq!(op.band_source(0), Some(3));
    assert_eq!(op.band_source(1), Some(1));
    assert_eq!(op.band_source(2), None);
}

#[test]
fn defaults_pick_a_type_and_a_nodata_outside_the_range() {
    let op = built(&[("in", "0,3000")], 4);
    assert_eq!(op.bands(), &[1, 2, 3, 4]);
    assert_eq!(op.default_out_type(), OutType::Byte);
    assert_eq!(op.default_nodata(), Some(0.0));
    let op = built(&[("in", "0,3000"), ("out", "0,255")], 1);
    assert_eq!(op.default_out_type(), OutType::Byte);
    assert_eq!(op.default_nodata(), None, "no free Byte value");
    let op = built(&[("in", "0,3000"), ("out", "0,1000")], 1);
    assert_eq!(op.default_out_type(), OutType::UInt16);
    assert_eq!(op.default_nodata(), Some(65535.0));
    let op = built(&[("in", "0,3000"), ("out", "-1,1")], 1);
    assert_eq!(op.default_out_type(), OutType::Int16);
    let op = built(&[("in", "0,3000"), ("out", "0,0.5")], 1);
    assert_eq!(op.default_out_type(), OutType::Float32);
    assert_eq!(op.default_nodata(), None);
    // The input's nodata survives when the stretch cannot produce it.
    let p = params(&[("in", "0,3000"), ("out", "1,200")]);
    let (op, _) = build(&p, &info(1, Some(250.0)), None).unwrap();
    assert_eq!(op.default_nodata(), Some(250.0));
    let (op, _) = build(&p, &info(1, Some(100.0)), None).unwrap();
    assert_eq!(op.default_nodata(), Some(0.0));
}

#[test]
fn bad_parameters_name_the_option_and_reason() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            &[("in", "3000,0")],
            &["in=3000,0", "min (3000) must be less than max (0)"],
        ),
        (&[("in", "5,5")], &["in=5,5", "less than"]),
        (
            &[("in", "0,1;2,1;0,5")],
            &["in=0,1;2,1;0,5", "min (2) must be less than max (1)"],
        ),
        (&[("in", "0,1;0,2")], &["2 ranges for 3 bands"]),
        (&[("in", "0")], &["in=0", "min,max"]),
        (&[("in", "0,nan")], &["in=0,nan"]),
        (&[], &["in= is required"]),
        (&[("in", "0,1"), ("out", "3,3")], &["out=3,3", "equal"]),
        (
            &[("in", "0,1"), ("percentiles", "2,98")],
            &["percentiles", "in=auto"],
        ),
        (
            &[("in", "auto"), ("percentiles", "98,2")],
            &["percentiles=98,2"],
        ),
        (
            &[("in", "auto"), ("percentiles", "0,101")],
            &["percentiles=0,101"],
        ),
        (&[("in", "0,1"), ("band", "1,4")], &["--band 1,4", "'4'"]),
        (&[("in", "0,1"), ("clip", "maybe")], &["clip=maybe"]),
        (
            &[("in", "0,1"), ("gain", "2")],
            &["unknown parameter 'gain'"],
        ),
    ];
    for (kv, needles) in cases {
        let e = build_err(kv, 3);
        assert!(e.starts_with("rescale: "), "{e}");
        for n in *needles {
            assert!(e.contains(n), "{kv:?}: {e:?} lacks {n:?}");
        }
    }
}

#[test]
fn auto_asks_for_statistics_and_uses_them() {
    let p = params(&[("in", "auto"), ("percentiles", "5,95"), ("band", "2,3")]);
    let req = stats_request(&p, &info(3, None)).unwrap().unwrap();
    assert_eq!(req.bands, vec![2, 3]);
    assert_eq!(req.percentiles, vec![5.0, 95.0]);
    assert!(
        build(&p, &info(3, None), None).is_err(),
        "auto without stats"
    );
    let stats = vec![vec![10.0, 20.0], vec![f64::NAN, f64::NAN]];
    let (op, warnings) = build(&p, &info(3, None), Some(&stats)).unwrap();
    assert!(
        op.describe().contains("resolved=10,20;0,1"),
        "{}",
        op.describe()
    );
    assert!(
        warnings[0].contains("band 3 has no valid pixel"),
        "{warnings:?}"
    );
    let d = Array2::from_shape_vec((1, 3), vec![10.0, 15.0, 20.0]).unwrap();
    let out = op.compute(&Block {
        bands: vec![d.view(), d.view()],
        core: Core {
            row: 0,
            col: 0,
            rows: 1,
            cols: 3,
        },
    });
    assert_eq!(out[0].as_slice().unwrap(), &[1.0, 128.0, 255.0]);
    // Explicit ranges need no statistics.
    let fixed = params(&[("in", "0,1")]);
    assert_eq!(stats_request(&fixed, &info(3, None)).unwrap(), None);
    // Default percentiles.
    let p = params(&[("in", "AUTO")]);
    let req = stats_request(&p, &info(2, None)).unwrap().unwrap();
    assert_eq!(req.percentiles, vec![2.0, 98.0]);
    assert_eq!(req.bands, vec![1, 2]);
}
