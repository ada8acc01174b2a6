//! Focal statistics against a naive per-pixel oracle (gather the window,
//! sort it, use textbook formulas), seam-freedom, and parameter handling.

use ndarray::Array2;
use proptest::prelude::*;

use super::{build, focal, Stat};
use crate::ops::terrain::test_support::{assert_bit_identical, run_op, run_tiled, synthetic_dem};
use crate::ops::testing::{info, params};
use crate::ops::Core;

const STATS: [Stat; 6] = [
    Stat::Mean,
    Stat::Min,
    Stat::Max,
    Stat::Sum,
    Stat::Std,
    Stat::Median,
];

fn naive(data: &Array2<f64>, stat: Stat, size: usize) -> Array2<f64> {
    let (nr, nc) = data.dim();
    let h = (size / 2) as isize;
    Array2::from_shape_fn((nr, nc), |(r, c)| {
        if data[[r, c]].is_nan() {
            return f64::NAN;
        }
        let mut v = Vec::new();
        for dr in -h..=h {
            for dc in -h..=h {
                let (rr, cc) = (r as isize + dr, c as isize + dc);
                if rr >= 0 && cc >= 0 && (rr as usize) < nr && (cc as usize) < nc {
                    let x = data[[rr as usize, cc as usize]];
                    if !x.is_nan() {
                        v.push(x);
                    }
                }
            }
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let sum: f64 = v.iter().sum();
        match stat {
            Stat::Mean => sum / n as f64,
            Stat::Sum => sum,
            Stat::Min => v[0],
            Stat::Max => v[n - 1],
            Stat::Median if n % 2 == 1 => v[n / 2],
            Stat::Median => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            // Pairwise form of the population variance: Σᵢⱼ (xᵢ−xⱼ)² / 2n².
            Stat::Std => {
                let pairs: f64 = v
                    .iter()
                    .flat_map(|a| v.iter().map(move |b| (a - b) * (a - b)))
                    .sum();
                (pairs / (2.0 * (n * n) as f64)).sqrt()
            }
        }
    })
}

fn full(data: &Array2<f64>, stat: Stat, size: usize) -> Array2<f64> {
    let (rows, cols) = data.dim();
    focal(
        data.view(),
        Core {
            row: 0,
            col: 0,
            rows,
            cols,
        },
        stat,
        size,
    )
}

fn check(data: &Array2<f64>, stat: Stat, size: usize) -> Result<(), String> {
    let got = full(data, stat, size);
    let want = naive(data, stat, size);
    let scale = data
        .iter()
        .filter(|v| !v.is_nan())
        .fold(1.0f64, |m, v| m.max(v.abs()));
    for ((idx, &g), &w) in got.indexed_iter().zip(want.iter()) {
        let ok = match stat {
            _ if w.is_nan() => g.is_nan(),
            Stat::Min | Stat::Max | Stat::Median => g == w,
            // Summation order differs: bound the error by the data's magnitude.
            Stat::Sum => (g - w).abs() <= 1e-9 * scale * (size * size) as f64,
            Stat::Mean => (g - w).abs() <= 1e-9 * scale,
            Stat::Std => (g - w).abs() <= 1e-9 * w.max(1e-3 * scale),
        };
        if !ok {
            return Err(format!(
                "{stat:?} size {size} at {idx:?}: got {g}, want {w}"
            ));
        }
    }
    Ok(())
}

fn holed(rows: usize, cols: usize) -> Array2<f64> {
    let mut d = synthetic_dem(rows, cols, 300.0);
    for ((r, c), v) in d.indexed_iter_mut() {
        if (r * 13 + c * 7) % 11 == 0 || (r < 3 && c < 4) {
            *v = f64::NAN;
        }
    }
    d
}

#[test]
fn all_stats_match_naive_oracle_with_holes_and_edges() {
    let data = holed(23, 31);
    for stat in STATS {
        for size in [3, 5, 7, 9] {
            check(&data, stat, size).unwrap();
        }
    }
}

#[test]
fn small_spread_on_high_base_keeps_std_accurate() {
    let data = Array2::from_shape_fn((15, 15), |(r, c)| {
        1.0e6 + 1e-3 * ((r * 3 + c * 5) % 7) as f64
    });
    check(&data, Stat::Std, 5).unwrap();
}

proptest! {
    #[test]
    fn random_rasters_match_naive_oracle(
        rows in 1usize..12, cols in 1usize..12,
        cells in proptest::collection::vec(prop_oneof![4 => -50.0f64..50.0, 1 => Just(f64::NAN), 1 => Just(2.5)], 144),
        size in prop_oneof![Just(3usize), Just(5), Just(7)],
    ) {
        let data = Array2::from_shape_fn((rows, cols), |(r, c)| cells[r * 12 + c]);
        for stat in STATS {
            check(&data, stat, size).map_err(TestCaseError::fail)?;
        }
    }
}

#[test]
fn tiled_output_is_bit_identical_to_whole_raster() {
    let data = holed(67, 80);
    for stat in ["mean", "median", "std", "min", "sum"] {
        let op = build(&params(&[("stat", stat), ("size", "7")]), &info(1, None)).unwrap();
        assert_eq!(op.halo(), 3);
        let whole = run_op(op.as_ref(), &data);
        for win in [1, 7, 13, 64] {
            assert_bit_identical(
                &whole,
                &run_tiled(op.as_ref(), &data, win),
                &format!("{stat} window {win}"),
            );
        }
    }
}

#[test]
fn bad_parameters_name_the_op_and_the_reason() {
    let err = |set: &[(&str, &str)], bands: usize| {
        build(&params(set), &info(bands, None))
            .err()
            .expect("should fail")
            .to_string()
    };
    for size in ["4", "1", "0", "-3", "x", "503"] {
        let e = err(&[("stat", "mean"), ("size", size)], 1);
        assert!(
            e.starts_with("focal:") && e.contains("size must be an odd integer"),
            "{e}"
        );
    }
    assert!(err(&[("stat", "mode")], 1).contains("stat must be"));
    assert!(err(&[], 1).contains("stat is required"));
    assert!(err(&[("stat", "mean"), ("radius", "2")], 1).contains("unknown parameter 'radius'"));
    assert!(err(&[("stat", "mean")], 2).contains("input has 2 bands; choose one with --band"));
    let op = build(&params(&[("stat", "MAX"), ("band", "2")]), &info(2, None)).unwrap();
    assert_eq!(
        (op.bands(), op.halo(), op.default_nodata()),
        (&[2][..], 1, Some(-9999.0))
    );
    assert_eq!(op.default_out_type(), crate::ops::OutType::Float32);
}

/// `cargo test --release -- --ignored median_throughput --nocapture`
#[test]
#[ignore]
fn median_throughput() {
    // Whole-block medians with the halo present, as the engine would call it.
    let data = holed(1054, 1054);
    for size in [3, 7, 15, 31] {
        let h = size / 2;
        let block = data.slice(ndarray::s![15 - h..1039 + h, 15 - h..1039 + h]);
        let core = Core {
            row: h,
            col: h,
            rows: 1024,
            cols: 1024,
        };
        let start = std::time::Instant::now();
        let out = focal(block, core, Stat::Median, size);
        let secs = start.elapsed().as_secs_f64();
        let mpix = out.len() as f64 / secs / 1e6;
        println!("median {size}x{size}: {mpix:.2} Mpix/s");
    }
}
