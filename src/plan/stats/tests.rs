//! Exact percentiles for every sample type against sort-and-interpolate,
//! including distributions that need every radix pass, degenerate ones,
//! the nodata policy, and 1 vs 3 reading threads giving identical results.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use gdal::raster::{Buffer, GdalType, RasterCreationOptions};
use gdal::{Dataset, DriverManager};

use super::*;
use crate::input::{InputMeta, Limits};

/// A one-band GTiff of type `T` holding `vals` (row-major), tiled 16×16 so
/// the pass reads many chunks on several threads.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn dataset<T: GdalType + Copy>(w: usize, h: usize, vals: &[f64], nodata: Option<f64>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.tif");
    let d = DriverManager::get_driver_by_name("GTiff").unwrap();
    let opts = RasterCreationOptions::from_iter(["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"]);
    let ds = d
        .create_with_band_type_with_options::<T, _>(&path, w, h, 1, &opts)
        .unwrap();
    let mut b = ds.rasterband(1).unwrap();
    b.set_no_data_value(nodata).unwrap();
    let mut buf = Buffer::new((w, h), vals.to_vec());
    b.write((0, 0), (w, h), &mut buf).unwrap();
    Fixture { _dir: dir, path }
}

/// Percentiles the textbook way: sort the valid values, interpolate
/// linearly between the two neighbours of (n-1)·p/100.
fn naive(vals: &[f64], nodata: Option<f64>, p: f64) -> f64 {
    let mut v: Vec<f64> = vals
        .iter()
        .copied()
        .filter(|x| !x.is_nan() && Some(*x) != nodata)
        .collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let h = (v.len() - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (h - lo as f64)
}

fn run(f: &Fixture, pcts: &[f64], policy: NodataPolicy) -> Vec<f64> {
    let ds = Dataset::open(&f.path).unwrap();
    let meta = InputMeta::read(&f.path, &ds, &Limits::default()).unwrap();
    let cancel = AtomicBool::new(false);
    let open = || Ok(Dataset::open(&f.path)?);
    let mut results = Vec::new();
    for threads in [1, 3] {
        let pass = Pass {
            meta: &meta,
            policy,
            threads,
            cancel: &cancel,
        };
        results.push(percentiles(&open, &pass, &[1], pcts).unwrap().remove(0));
    }
    let same = results[0]
        .iter()
        .zip(&results[1])
        .all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(same, "1 vs 3 threads: {results:?}");
    results.remove(0)
}

fn lcg(seed: u64) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

const PCTS: [f64; 8] = [0.0, 0.5, 2.0, 25.0, 50.0, 97.3, 98.0, 100.0];

fn check<T: GdalType + Copy>(name: &str, vals: &[f64], nodata: Option<f64>) {
    let (w, h) = (37, vals.len() / 37);
    let ds = dataset::<T>(w, h, &vals[..w * h], nodata);
    let got = run(&ds, &PCTS, NodataPolicy::Propagate);
    for (p, g) in PCTS.iter().zip(&got) {
        let want = naive(&vals[..w * h], nodata, *p);
        // A few ulps: numpy's interpolation rounds differently from this one.
        let tol = 8.0 * f64::EPSILON * g.abs().max(want.abs());
        let ok = (g.is_nan() && want.is_nan()) || (g - want).abs() <= tol;
        assert!(ok, "{name} p{p}: got {g}, want {want}");
    }
}

#[test]
fn exact_for_every_type() {
    let mut r = lcg(7);
    let n = 37 * 53;
    let ints = |r: &mut dyn FnMut() -> f64, lo: f64, hi: f64| -> Vec<f64> {
        (0..n).map(|_| (lo + r() * (hi - lo)).floor()).collect()
    };
    check::<u8>("Byte", &ints(&mut r, 0.0, 256.0), Some(0.0));
    check::<u16>("UInt16", &ints(&mut r, 0.0, 65536.0), None);
    check::<i16>("Int16", &ints(&mut r, -32768.0, 32768.0), Some(-32768.0));
    check::<u32>("UInt32", &ints(&mut r, 0.0, 4294967296.0), None);
    check::<i32>(
        "Int32",
        &ints(&mut r, -2147483648.0, 2147483648.0),
        Some(7.0),
    );
    let f32s: Vec<f64> = (0..n)
        .map(|i| {
            if i % 11 == 0 {
                f64::NAN
            } else {
                ((r() - 0.3) * 2e3) as f32 as f64
            }
        })
        .collect();
    check::<f32>("Float32", &f32s, Some(f32s[1]));
    let f64s: Vec<f64> = (0..n).map(|_| (r() - 0.5) * 1e-3).collect();
    check::<f64>("Float64", &f64s, None);
}

#[test]
fn dense_and_degenerate_distributions() {
    let n = 37 * 41;
    // Values 2^20 ulps apart: the third pass separates them, far beyond
    // the comparison's tolerance.
    let spread: Vec<f64> = (0..n)
        .map(|i| f64::from_bits(1.0f64.to_bits() + ((((i * 7919) % n) as u64) << 20)))
        .collect();
    check::<f64>("Float64 2^20 ulps", &spread, None);
    // One ulp apart: every pass down to the last 16 bits; n is odd so the
    // median, min and max are single order statistics, compared exactly.
    let close: Vec<f64> = (0..n)
        .map(|i| f64::from_bits(1.0f64.to_bits() + ((i * 7919) % n) as u64))
        .collect();
    let ds = dataset::<f64>(37, 41, &close, None);
    let got = run(&ds, &[0.0, 50.0, 100.0], NodataPolicy::Propagate);
    let mut sorted = close.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(got, vec![sorted[0], sorted[n / 2], sorted[n - 1]]);
    let close32: Vec<f64> = (0..n)
        .map(|i| f32::from_bits(1.0f32.to_bits() + ((i * 31) % 977) as u32) as f64)
        .collect();
    check::<f32>("Float32 ulps", &close32, None);
    // Mostly one value, with both signs of zero and negatives.
    let few: Vec<f64> = (0..n)
        .map(|i| match i % 10 {
            0 => -0.0,
            1 => 0.0,
            2 => -1.5,
            _ => 3.25,
        })
        .collect();
    check::<f64>("Float64 few", &few, None);
    check::<i32>("Int32 constant", &vec![-5.0; n], None);
    // No valid pixel at all.
    check::<u16>("all nodata", &vec![9.0; n], Some(9.0));
}

#[test]
fn policy_none_counts_nodata_values() {
    let vals: Vec<f64> = (0..100)
        .map(|i| if i < 50 { 0.0 } else { i as f64 })
        .collect();
    let ds = dataset::<u8>(10, 10, &vals, Some(0.0));
    let got = run(&ds, &[10.0, 50.0], NodataPolicy::None);
    assert_eq!(
        got,
        vec![naive(&vals, None, 10.0), naive(&vals, None, 50.0)]
    );
    let got = run(&ds, &[10.0], NodataPolicy::Ignore);
    assert_eq!(got, vec![naive(&vals, Some(0.0), 10.0)]);
}

#[test]
fn keys_preserve_order_and_round_trip() {
    let samples = [
        -f64::MAX,
        -1e300,
        -1.0,
        -f64::MIN_POSITIVE,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        1e-300,
        1.0,
        f64::MAX,
    ];
    for w in samples.windows(2) {
        assert!(Key::F64.key(w[0]) < Key::F64.key(w[1]), "{w:?}");
        let (a, b) = (w[0] as f32 as f64, w[1] as f32 as f64);
        assert!(Key::F32.key(a) <= Key::F32.key(b), "{a} {b}");
    }
    for v in samples {
        assert_eq!(Key::F64.value(Key::F64.key(v)).to_bits(), v.to_bits());
        let f = v as f32 as f64;
        assert_eq!(Key::F32.value(Key::F32.key(f)).to_bits(), f.to_bits());
    }
    for v in [-2147483648.0, -1.0, 0.0, 2147483647.0] {
        assert_eq!(Key::I32.value(Key::I32.key(v)), v);
    }
    assert!(Key::I32.key(-1.0) < Key::I32.key(0.0));
    assert_eq!(Key::Small(-32768.0).key(-32768.0), 0);
    assert_eq!(Key::Small(-32768.0).value(65535), 32767.0);
}
