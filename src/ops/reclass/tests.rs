//! reclass against plain comparisons (boundaries included), open and closed
//! ends, overlap detection naming both rules, and the default type/nodata.

use ndarray::Array2;

use super::*;
use crate::ops::testing::{info, params};
use crate::ops::{Block, Core};

fn build_err(kv: &[(&str, &str)]) -> String {
    match build(&params(kv), &info(1, None)) {
        Ok(_) => panic!("{kv:?} accepted"),
        Err(e) => e.to_string(),
    }
}

/// The NDVI classes, written out as plain comparisons.
fn naive_ndvi(v: f64) -> f64 {
    if v.is_nan() {
        f64::NAN
    } else if (-1.0..0.0).contains(&v) {
        1.0
    } else if (0.0..0.3).contains(&v) {
        2.0
    } else if (0.3..=1.0).contains(&v) {
        3.0
    } else {
        0.0
    }
}

#[test]
fn classify_matches_plain_comparisons_including_boundaries() {
    let rules = parse_rules("[-1,0):1; [0,0.3):2; [0.3,1]:3").unwrap();
    let mut vals = vec![
        -1.5,
        -1.0,
        -0.5,
        0.0,
        0.1,
        0.3,
        0.2999999,
        1.0,
        1.0000001,
        f64::NAN,
    ];
    for i in 0..200 {
        vals.push(-1.2 + i as f64 * 0.0125);
    }
    let d = Array2::from_shape_vec((1, vals.len()), vals.clone()).unwrap();
    let got = classify(d.view(), &rules, 0.0);
    for (g, v) in got.iter().zip(&vals) {
        let want = naive_ndvi(*v);
        assert!(
            (g.is_nan() && want.is_nan()) || *g == want,
            "{v}: {g} vs {want}"
        );
    }
}

#[test]
fn open_ends_single_values_infinities_and_nodata_values() {
    let rules = parse_rules("(-inf, 0]: 10; 5: 20; (5, inf): nodata").unwrap();
    let d = Array2::from_shape_vec((1, 6), vec![-1e300, 0.0, 0.5, 5.0, 5.5, f64::NAN]).unwrap();
    let got = classify(d.view(), &rules, 7.0);
    let want = [10.0, 10.0, 7.0, 20.0, f64::NAN, f64::NAN];
    for (g, w) in got.iter().zip(want) {
        assert!((g.is_nan() && w.is_nan()) || *g == w, "{got:?}");
    }
}

#[test]
fn overlapping_rules_are_refused_naming_both() {
    for (src, a, b) in [
        ("[0,0.3):2; [0.2,1]:3", "[0,0.3)", "[0.2,1]"),
        ("[0,1]:1; [1,2]:2", "[0,1]", "[1,2]"),
        ("[1,2]:2; [0,1]:1", "[1,2]", "[0,1]"),
        ("(-inf,0):1; [-5,-4]:2", "(-inf,0)", "[-5,-4]"),
        ("3:1; [0,10):2", "3", "[0,10)"),
        ("[0,1):1; [2,3):2; (0.5,0.6):3", "[0,1)", "(0.5,0.6)"),
    ] {
        let e = parse_rules(src).unwrap_err();
        assert!(
            e.contains("overlap") && e.contains(a) && e.contains(b),
            "{src}: {e}"
        );
    }
    // Touching ends with one open side do not overlap.
    assert!(parse_rules("[0,1):1; [1,2]:2; (2,3]:3").is_ok());
    assert!(parse_rules("(0,1]:1; (1,2]:2").is_ok());
}

#[test]
fn malformed_rules_say_why() {
    for (src, why) in [
        ("[0,1]", "RANGE:VALUE"),
        ("[0,1]:x", "number or 'nodata'"),
        ("0,1]:1", "starts with"),
        ("[0,1:1", "ends with"),
        ("[01]:1", "two numbers"),
        ("[a,1]:1", "numbers, -inf or inf"),
        ("[2,1]:1", "empty"),
        ("[1,1):1", "empty"),
        (" ; ", "no rule"),
    ] {
        let e = parse_rules(src).unwrap_err();
        assert!(e.starts_with("--set rules"), "{src}: {e}");
        assert!(e.contains(why), "{src}: {e}");
    }
}

#[test]
fn op_defaults_and_errors() {
    let p = params(&[
        ("rules", "[-1,0):1; [0,0.3):2; [0.3,1]:3"),
        ("default", "0"),
    ]);
    let op = build(&p, &info(1, None)).unwrap();
    assert_eq!(op.default_out_type(), OutType::Byte);
    assert_eq!(op.default_nodata(), Some(255.0));
    assert_eq!(op.overview_resampling(), Resampling::Mode);
    assert!(op.describe().contains("[0.3,1]:3") && op.describe().contains("default=0"));
    let d = Array2::from_shape_vec((2, 2), vec![-0.5, 0.1, 0.5, 9.0]).unwrap();
    let out = op.compute(&Block {
        bands: vec![d.view()],
        core: Core {
            row: 1,
            col: 0,
            rows: 1,
            cols: 2,
        },
    });
    assert_eq!(out[0].as_slice().unwrap(), &[3.0, 0.0]);
    // 255 is a class: nodata moves to 0; 0 and 255 both used: to 1.
    let op = build(&params(&[("rules", "[0,1):255")]), &info(1, None)).unwrap();
    assert_eq!(
        (op.default_out_type(), op.default_nodata()),
        (OutType::Byte, Some(0.0))
    );
    let op = build(
        &params(&[("rules", "[0,1):255"), ("default", "0")]),
        &info(1, None),
    )
    .unwrap();
    assert_eq!(op.default_nodata(), Some(1.0));
    let op = build(&params(&[("rules", "[0,1):-3; [1,2):300")]), &info(1, None)).unwrap();
    assert_eq!(op.default_out_type(), OutType::Int16);
    let op = build(&params(&[("rules", "[0,1):0.5")]), &info(1, None)).unwrap();
    assert_eq!(op.default_out_type(), OutType::Float32);

    let e = build_err(&[]);
    assert!(
        e.starts_with("reclass: ") && e.contains("rules= is required"),
        "{e}"
    );
    let e = build_err(&[("rules", "[0,1):1"), ("default", "many")]);
    assert!(e.contains("default=many"), "{e}");
    let e = build_err(&[("rules", "[0,1):1"), ("classes", "3")]);
    assert!(e.contains("unknown parameter 'classes'"), "{e}");
    let e = build_err(&[("rules", "[0,0.5):1; [0.4,1]:2")]);
    assert!(
        e.starts_with("reclass: --set rules") && e.contains("overlap"),
        "{e}"
    );
    let multi = build(&params(&[("rules", "[0,1):1")]), &info(3, None));
    assert!(multi.is_err(), "several bands need --band");
}
