//! The conversion's rounding, saturation and nodata rules, against an
//! enumerated oracle.

use super::*;
use crate::ops::nodata::NodataBand;

#[test]
fn integers_round_half_away_and_saturate() {
    let t = OutType::Byte;
    assert_eq!(convert_value(2.5, t, 255.0), 3.0);
    assert_eq!(convert_value(-0.4, t, 255.0), 0.0);
    assert_eq!(convert_value(300.0, t, 7.0), 255.0);
    assert_eq!(convert_value(f64::NAN, t, 7.0), 7.0);
    assert_eq!(convert_value(-2.5, OutType::Int16, 0.0), -3.0);
    assert_eq!(convert_value(1e12, OutType::Int32, 0.0), 2147483647.0);
    assert_eq!(convert_value(-1e12, OutType::UInt32, 7.0), 0.0);
    assert_eq!(
        convert_value(f64::INFINITY, OutType::Float32, -9999.0),
        -9999.0
    );
    assert_eq!(convert_value(1e300, OutType::Float32, 0.0), f32::MAX as f64);
}

#[test]
fn valid_values_never_land_on_nodata() {
    let b = OutType::Byte;
    // Saturation onto nodata: the nearest other value in range.
    assert_eq!(convert_value(300.0, b, 255.0), 254.0);
    assert_eq!(convert_value(-3.0, b, 0.0), 1.0);
    // Rounding onto nodata: the neighbour on the value's side.
    assert_eq!(convert_value(7.3, b, 7.0), 8.0);
    assert_eq!(convert_value(6.5, b, 7.0), 6.0);
    assert_eq!(convert_value(-6.5, OutType::Int16, -7.0), -6.0);
    assert_eq!(convert_value(254.7, b, 255.0), 254.0);
    // Exactly nodata: up, or down at the type's maximum.
    assert_eq!(convert_value(7.0, b, 7.0), 8.0);
    assert_eq!(convert_value(255.0, b, 255.0), 254.0);
    assert_eq!(convert_value(-32768.0, OutType::Int16, -32768.0), -32767.0);
    // Floats: GDAL reads values within a few steps of nodata as nodata
    // (and, for the Float32 default f32::MAX, everything from 2^103 up):
    // results there go to the nearest value it reads as valid.
    let f32_default = OutType::Float32.default_nodata();
    let f64_default = OutType::Float64.default_nodata();
    // (type, nodata, value, which side of nodata the result must be on)
    let cases = [
        (OutType::Float32, -9999.0, -9999.0 + 1e-5, 1.0),
        (OutType::Float32, -9999.0, -9999.0, 1.0),
        (OutType::Float32, -9999.0, -9999.003, -1.0),
        (OutType::Float32, f32_default, 1e39, -1.0),
        (OutType::Float32, f32_default, 1e35, -1.0),
        (OutType::Float64, -9999.0, -9999.0, 1.0),
        (OutType::Float64, -9999.0, -9999.001, -1.0),
        (OutType::Float64, f64_default, 1e300, -1.0),
    ];
    for (t, nd, v, side) in cases {
        let v: f64 = v;
        let band = NodataBand::new(t, nd);
        assert!(band.reads_as_nodata(v.clamp(t.range().0, t.range().1)));
        let got = convert_value(v, t, nd);
        assert!(!band.reads_as_nodata(got), "{t:?} {nd}: {v} -> {got}");
        let toward = match t {
            OutType::Float32 if got < nd => f64::from((got as f32).next_up()),
            OutType::Float32 => f64::from((got as f32).next_down()),
            _ if got < nd => got.next_up(),
            _ => got.next_down(),
        };
        assert!(
            band.reads_as_nodata(toward),
            "{t:?} {nd}: {got} is not the nearest"
        );
        assert_eq!((got - nd).signum(), side, "{t:?} {nd}: {v} -> {got}");
    }
    assert_eq!(convert_value(-9998.9, OutType::Float64, -9999.0), -9998.9);
}

/// The nearest storable value to `v` other than `nodata`, found by
/// enumerating candidates: ties go to the ordinary rounding of `v`,
/// then upwards.
fn nearest_valid(v: f64, t: OutType, nodata: f64) -> f64 {
    let (lo, hi) = t.range();
    let base = v.clamp(lo, hi).floor();
    let normal = v.round().clamp(lo, hi);
    (-3..=3)
        .map(|k| base + f64::from(k))
        .filter(|&c| c >= lo && c <= hi && c != nodata)
        .min_by(|a, b| {
            let key = |c: f64| ((v - c).abs(), c != normal, c < v);
            key(*a).partial_cmp(&key(*b)).unwrap()
        })
        .unwrap()
}

#[test]
fn integer_conversion_matches_an_enumerated_nearest_valid_value() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for t in OutType::ALL.into_iter().filter(|t| !t.is_float()) {
        let (lo, hi) = t.range();
        for nodata in [lo, hi, t.default_nodata(), 0.0, 7.0, lo + 1.0, hi - 1.0] {
            let near = |k: u64| nodata + (k % 7) as f64 * 0.25 - 0.75;
            let mut c = Counts::default();
            for i in 0..20_000u64 {
                let r = next();
                let v = match i % 4 {
                    0 => near(r),                              // around nodata
                    1 => lo + (r % 1000) as f64 * 0.5 - 250.0, // around the bounds
                    2 => hi + (r % 1000) as f64 * 0.5 - 250.0,
                    _ => lo + (hi - lo) * (r as f64 / u64::MAX as f64),
                };
                let want = nearest_valid(v, t, nodata);
                let buf = pack(&[Array2::from_elem((1, 1), v)], t, nodata, &mut c);
                let got = convert_value(v, t, nodata);
                assert_eq!(got, want, "{t:?} nodata {nodata}: {v}");
                assert_eq!(buf.len(), t.size());
            }
            assert!(c.nudged > 0 && c.saturated > 0, "{t:?} {nodata}: {c:?}");
        }
    }
}

#[test]
fn pack_is_band_sequential_and_counts() {
    let a = Array2::from_shape_vec((1, 3), vec![1.0, 2.0, 300.0]).unwrap();
    let b = Array2::from_shape_vec((1, 3), vec![3.0, f64::NAN, 9.0]).unwrap();
    let mut c = Counts::default();
    assert_eq!(
        pack(&[a, b], OutType::Byte, 9.0, &mut c),
        vec![1, 2, 255, 3, 9, 10]
    );
    assert_eq!(
        c,
        Counts {
            saturated: 1,
            nudged: 1
        }
    );
    let w = c.warning(OutType::Byte, 9.0).unwrap();
    assert!(
        w.contains("1 values saturated") && w.contains("nodata 9"),
        "{w}"
    );
    assert_eq!(Counts::default().warning(OutType::Byte, 9.0), None);
}

#[test]
fn holds_checks_range_and_integrality() {
    assert!(OutType::Byte.holds(0.0));
    assert!(!OutType::Byte.holds(-9999.0));
    assert!(!OutType::Int16.holds(1.5));
    assert!(OutType::Float32.holds(f64::NAN));
    assert!(!OutType::UInt16.holds(f64::NAN));
    for t in OutType::ALL {
        assert!(t.holds(t.default_nodata()), "{t:?}");
    }
}
