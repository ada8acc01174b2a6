//! What terrain `build` makes of its parameters and input: gdaldem's
//! default type and nodata, refusals that name the op and the key, and the
//! geographic scale it assumes (with a warning). The computed values are
//! checked in `tests` (closed forms) and `gdaldem_parity`.

use super::build;
use super::test_support::run_op;
use super::tests::{info, params, plane};
use crate::ops::InputInfo;

#[test]
fn op_metadata_follows_gdaldem_defaults() {
    let i = info(5, 5, [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
    let (hs, _) = build("hillshade", &params(&[]), &i).unwrap();
    assert_eq!(hs.default_out_type(), crate::ops::OutType::Byte);
    assert_eq!(hs.default_nodata(), Some(0.0));
    assert_eq!((hs.halo(), hs.bands(), hs.out_bands()), (1, &[1][..], 1));
    for mode in ["slope", "aspect"] {
        let (op, _) = build(mode, &params(&[]), &i).unwrap();
        assert_eq!(op.default_out_type(), crate::ops::OutType::Float32);
        assert_eq!(op.default_nodata(), Some(-9999.0));
    }
}

#[test]
fn bad_parameters_name_the_op_and_the_reason() {
    let i = info(5, 5, [0.0, 1.0, 0.0, 0.0, 0.0, -1.0]);
    let err = |mode: &str, set: &[(&str, &str)], inf: &InputInfo| {
        build(mode, &params(set), inf)
            .err()
            .expect("should fail")
            .to_string()
    };
    let e = err("hillshade", &[("azimuth", "400")], &i);
    assert!(e.starts_with("hillshade:") && e.contains("azimuth"), "{e}");
    let e = err("hillshade", &[("altitude", "-1")], &i);
    assert!(e.contains("altitude") && e.contains("0..90"), "{e}");
    let e = err("slope", &[("azimuth", "10")], &i);
    assert!(
        e.starts_with("slope:") && e.contains("unknown parameter 'azimuth'"),
        "{e}"
    );
    let e = err("slope", &[("units", "radians")], &i);
    assert!(e.contains("units"), "{e}");
    let e = err("aspect", &[("alg", "sobel")], &i);
    assert!(e.starts_with("aspect:") && e.contains("alg"), "{e}");
    let e = err(
        "hillshade",
        &[("multidirectional", "true"), ("combined", "true")],
        &i,
    );
    assert!(e.contains("cannot be used together"), "{e}");
    let e = err(
        "hillshade",
        &[("multidirectional", "true"), ("azimuth", "10")],
        &i,
    );
    assert!(e.contains("azimuth"), "{e}");
    let e = err("slope", &[("scale", "0")], &i);
    assert!(e.contains("scale"), "{e}");
    let multi = InputInfo {
        band_count: 3,
        ..i.clone()
    };
    let e = err("slope", &[], &multi);
    assert!(
        e.contains("input has 3 bands; choose one with --band"),
        "{e}"
    );
    let e = err("slope", &[("band", "4")], &multi);
    assert!(e.contains("band"), "{e}");
    let (op, _) = build("slope", &params(&[("band", "2")]), &multi).unwrap();
    assert_eq!(op.bands(), &[2]);
    let bad_gt = InputInfo {
        geo_transform: Some([0.0, 0.0, 0.0, 0.0, 0.0, -1.0]),
        ..i.clone()
    };
    assert!(err("slope", &[], &bad_gt).contains("pixel size"));
}

#[test]
fn geographic_input_gets_gdaldem_scale_with_a_warning() {
    let gt = [10.0, 0.001, 0.0, 0.0, 0.0, -0.001];
    let geo = InputInfo {
        geographic: true,
        ..info(6, 6, gt)
    };
    let dem = plane(6, 6, gt, 0.0, 50.0);
    let (op, warnings) = build("slope", &params(&[]), &geo).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("111120")),
        "{warnings:?}"
    );
    // 50 m per degree northwards over 111120 m per degree.
    let want = (50.0f64 / 111_120.0).atan().to_degrees();
    assert!((run_op(op.as_ref(), &dem)[[3, 3]] - want).abs() < 1e-6);
    assert_eq!(op.resolved(), vec![("scale", 111_120.0)]);
    let (op, warnings) = build("slope", &params(&[("scale", "1")]), &geo).unwrap();
    assert!(warnings.is_empty());
    assert_eq!(op.resolved(), vec![("scale", 1.0)]);
    let (aspect, _) = build("aspect", &params(&[]), &geo).unwrap();
    assert!(aspect.resolved().is_empty(), "aspect uses no scale");
    let want = 50.0f64.atan().to_degrees();
    assert!((run_op(op.as_ref(), &dem)[[3, 3]] - want).abs() < 1e-3);
    let rotated = InputInfo {
        geo_transform: Some([0.0, 1.0, 0.1, 0.0, 0.1, -1.0]),
        ..info(6, 6, gt)
    };
    let (_, warnings) = build("hillshade", &params(&[]), &rotated).unwrap();
    assert!(
        warnings.iter().any(|w| w.contains("rotated")),
        "{warnings:?}"
    );
}
