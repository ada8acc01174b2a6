//! Unit tests for the expression language. Expected values always come from
//! plain Rust closures evaluated per element here, never from the code under
//! test; expected error columns are counted by hand from the source text.

use gdal_sys::GDALDataType;
use ndarray::{s, Array2, ArrayView2};

use super::{Bindings, EvalOptions, ExprError, Program};

/// One unnamed input of `n` bands of GDAL type `t`.
pub(super) fn single(n: usize, t: GDALDataType::Type) -> Bindings {
    Bindings::single(&vec![t; n])
}

/// Compiles against one input of 300 Float64 bands, so only syntax and
/// band numbers beyond 300 can fail.
pub(super) fn compile(src: &str) -> Result<Program, ExprError> {
    Program::compile(src, &single(300, GDALDataType::GDT_Float64))
}

/// The 1-based bands of the single input a program reads.
pub(super) fn bands(p: &Program) -> Vec<usize> {
    p.slots().iter().map(|s| s.band).collect()
}

/// Deterministic test data: a mix of signs, small integers (so `==` hits),
/// zeros and NaN, from a xorshift generator.
pub(super) fn data(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((rows, cols), |_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 10 {
            0 => f64::NAN,
            1 => 0.0,
            2 | 3 => (x >> 20) as f64 % 5.0,
            _ => ((x >> 11) as f64 / (1u64 << 53) as f64) * 400.0 - 100.0,
        }
    })
}

/// Whole numbers with NaN (nodata), zeros, small shift counts, negatives
/// and 16-bit QA-like values.
pub(super) fn int_data(rows: usize, cols: usize, seed: u64) -> Array2<f64> {
    data(rows, cols, seed).mapv(|v| match v {
        v if v.is_nan() => v,
        v if v.abs() < 5.0 => v.trunc(),
        v if v < 0.0 => (v * 10.0).trunc(),
        v => (v * 163.0).trunc(),
    })
}

pub(super) fn same(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan())
        || got == want
        || (got - want).abs() <= 1e-12 * want.abs().max(1.0)
}

/// Expected value of one output from the band values at a pixel.
pub(super) type Oracle<'a> = dyn Fn(&[f64]) -> f64 + 'a;

/// Evaluates `src` on views of bands b1..b4 (band `k` is `views[k-1]`) and
/// compares every output pixel with `oracle[o](band values)`.
fn check_views(src: &str, views: &[ArrayView2<f64>], oracle: &[&Oracle<'_>]) {
    check_program(
        &compile(src).unwrap_or_else(|e| panic!("{src}: {e}")),
        views,
        oracle,
    );
}

/// [`check_views`] for a program compiled against any single input.
pub(super) fn check_program(p: &Program, views: &[ArrayView2<f64>], oracle: &[&Oracle<'_>]) {
    let src = p.source();
    assert_eq!(p.outputs(), oracle.len(), "{src}");
    let inputs: Vec<ArrayView2<f64>> = bands(p).iter().map(|&b| views[b - 1]).collect();
    let outs = p.eval(&inputs);
    let (rows, cols) = views[0].dim();
    for (o, out) in outs.iter().enumerate() {
        assert_eq!(out.dim(), (rows, cols), "{src}");
        for ((r, c), &got) in out.indexed_iter() {
            let px: Vec<f64> = views.iter().map(|v| v[(r, c)]).collect();
            let want = oracle[o](&px);
            assert!(
                same(got, want),
                "{src} output {o} at {r},{c} {px:?}: got {got}, want {want}"
            );
        }
    }
}

fn check(src: &str, oracle: impl Fn(&[f64]) -> f64) {
    // 37 x 123 = 4551 pixels: three chunks, boundaries inside rows.
    let bands: Vec<Array2<f64>> = (1..=4).map(|k| data(37, 123, k)).collect();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    check_views(src, &views, &[&oracle]);
}

// Independent statements of the documented semantics.
fn t(x: f64) -> bool {
    !x.is_nan() && x != 0.0
}
fn f(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}
fn pw(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        x.powf(y)
    }
}
fn non_nan(xs: &[f64]) -> Vec<f64> {
    xs.iter().copied().filter(|x| !x.is_nan()).collect()
}
fn nmin(xs: &[f64]) -> f64 {
    non_nan(xs)
        .into_iter()
        .reduce(|a, b| if b < a { b } else { a })
        .unwrap_or(f64::NAN)
}
fn nmax(xs: &[f64]) -> f64 {
    non_nan(xs)
        .into_iter()
        .reduce(|a, b| if b > a { b } else { a })
        .unwrap_or(f64::NAN)
}
fn nmean(xs: &[f64]) -> f64 {
    let v = non_nan(xs);
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
fn sel(c: f64, a: f64, b: f64) -> f64 {
    match c {
        c if c.is_nan() => f64::NAN,
        0.0 => b,
        _ => a,
    }
}

#[test]
fn arithmetic_and_precedence() {
    check("(b4 - b3) / (b4 + b3)", |b| (b[3] - b[2]) / (b[3] + b[2]));
    check("1 + 2 * 3 + b1 * 0", |b| 1.0 + 2.0 * 3.0 + b[0] * 0.0);
    check("(1 + 2) * b1", |b| 3.0 * b[0]);
    check("b1 - b2 - b3", |b| (b[0] - b[1]) - b[2]);
    check("b1 / b2 / b3", |b| (b[0] / b[1]) / b[2]);
    check("b1 - b2 * b3 + b4 / b1", |b| {
        b[0] - b[1] * b[2] + b[3] / b[0]
    });
    check("-b1 ** 2", |b| -pw(b[0], 2.0));
    check("-2 ** 2 + b1", |b| -4.0 + b[0]);
    check("2 ** 3 ** 2 * b1", |b| 512.0 * b[0]);
    check("b1 ** -1", |b| pw(b[0], -1.0));
    check("b1 ** b2", |b| pw(b[0], b[1]));
    check("- - b1 + +b2", |b| b[0] + b[1]);
    check("2 * -b1", |b| 2.0 * -b[0]);
    check("1e-3 * b1 + 2.5E+2 + .5 * b2 + 3. * b3", |b| {
        0.001 * b[0] + 250.0 + 0.5 * b[1] + 3.0 * b[2]
    });
    check("B1 + MAX(b2, B3) * NaN", |b| {
        b[0] + nmax(&[b[1], b[2]]) * f64::NAN
    });
    check("1 / 0 + b1 * 0", |b| f64::INFINITY + b[0] * 0.0);
}

#[test]
fn comparisons_and_logic() {
    check("b1 < b2 + 1", |b| f(b[0] < b[1] + 1.0));
    check("b1 <= b2", |b| f(b[0] <= b[1]));
    check("b1 > b2", |b| f(b[0] > b[1]));
    check("b1 >= b2", |b| f(b[0] >= b[1]));
    check("b1 == b2", |b| f(b[0] == b[1]));
    check("b1 != b2", |b| f(b[0] != b[1]));
    check("b1 > 0 and b2 > 0 or b3 > 0", |b| {
        f((b[0] > 0.0 && b[1] > 0.0) || b[2] > 0.0)
    });
    check("b1 > 0 or b2 > 0 and b3 > 0", |b| {
        f(b[0] > 0.0 || (b[1] > 0.0 && b[2] > 0.0))
    });
    check("not b1 > 0", |b| f(b[0] <= 0.0 || b[0].is_nan()));
    check("not not b1", |b| f(t(b[0])));
    check("b1 and b2 or not b3", |b| {
        f((t(b[0]) && t(b[1])) || !t(b[2]))
    });
    check("(b1 > 1) + (b2 > 1) * 2", |b| {
        f(b[0] > 1.0) + f(b[1] > 1.0) * 2.0
    });
}

#[test]
fn functions() {
    check("where(b1 > 100 and not (b2 == 0), b1 * 0.1, -1)", |b| {
        if b[0] > 100.0 && b[1] != 0.0 {
            b[0] * 0.1
        } else {
            -1.0
        }
    });
    check("where(b1, b2, b3)", |b| sel(b[0], b[1], b[2]));
    check(
        "where(1, b1, b2) + where(0, b1, b2) + where(nan, 1, 2)",
        |_| f64::NAN,
    );
    check("where(2 > 1, b1, b2) - where(0, b1, b2)", |b| b[0] - b[1]);
    check("clamp(b1, 0, 255)", |b| {
        if b[0].is_nan() {
            b[0]
        } else {
            b[0].clamp(0.0, 255.0)
        }
    });
    check("clamp(b1, b2, b3)", |b| {
        let mut x = b[0];
        if !x.is_nan() && !b[1].is_nan() && x < b[1] {
            x = b[1];
        }
        if !x.is_nan() && !b[2].is_nan() && x > b[2] {
            x = b[2];
        }
        x
    });
    check("min(b1, b2)", |b| nmin(&b[..2]));
    check("max(b1, b2, b3, b4)", nmax);
    check("mean(b1, b2, b3, b4)", nmean);
    check("mean(b1, nan) + min(nan, nan, b2) - max(nan, 3)", |b| {
        b[0] + b[1] - 3.0
    });
    check("mean(nan, nan) + b1", |_| f64::NAN);
    check("mean(1, 2, nan) * b1", |b| 1.5 * b[0]);
    check("abs(b1) + sqrt(b2) + log(b3) + exp(b4 / 100)", |b| {
        b[0].abs() + b[1].sqrt() + b[2].ln() + (b[3] / 100.0).exp()
    });
    check("pow(b1, 2) + pow(2, b2 / 50)", |b| {
        pw(b[0], 2.0) + pw(2.0, b[1] / 50.0)
    });
    check("pow(1, b1) + pow(b1, 0)", |b| pw(1.0, b[0]) + pw(b[0], 0.0));
    check("isnan(b1) + isnan(sqrt(b2))", |b| {
        f(b[0].is_nan()) + f(b[1].sqrt().is_nan())
    });
}

#[test]
fn bands_and_outputs() {
    let p = compile("b3 + B1 * b3; b2;").unwrap();
    assert_eq!(bands(&p), [1, 2, 3]);
    assert_eq!(p.outputs(), 2);
    assert_eq!(p.source(), "b3 + B1 * b3; b2;");
    assert_eq!(p.output_source(0), Some("b3 + B1 * b3"));
    assert_eq!(p.output_source(1), Some("b2"));
    assert_eq!(p.output_source(2), None);
    // Spans count characters: U+00A0 is whitespace, two bytes in UTF-8.
    let p = compile("  (b1)\n;\u{a0}b2 *\u{a0}2 ").unwrap();
    assert_eq!(p.output_source(0), Some("(b1)"));
    assert_eq!(p.output_source(1), Some("b2 *\u{a0}2"));
    let p = compile("where(0, b7, 1)").unwrap();
    assert_eq!(bands(&p), [7], "a folded-away reference is still listed");
    assert!(Program::compile("where(0, b7, 1)", &single(6, GDALDataType::GDT_Float64)).is_err());
}

#[test]
fn multiple_outputs_do_not_clobber_each_other() {
    let bands: Vec<Array2<f64>> = (1..=4).map(|k| data(37, 123, k)).collect();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    check_views(
        "b1 + b2 * b3; (b1 - b2) * b3; b1; 7; 1/0; mean(b1, b2 + 1, b3)",
        &views,
        &[
            &|b: &[f64]| b[0] + b[1] * b[2],
            &|b: &[f64]| (b[0] - b[1]) * b[2],
            &|b: &[f64]| b[0],
            &|_: &[f64]| 7.0,
            &|_: &[f64]| f64::INFINITY,
            &|b: &[f64]| nmean(&[b[0], b[1] + 1.0, b[2]]),
        ],
    );
}

#[test]
fn strided_and_odd_shaped_views() {
    let ndvi = |b: &[f64]| (b[1] - b[0]) / (b[1] + b[0]) + b[2] * b[3];
    let src = "(b2 - b1) / (b2 + b1) + b3 * b4";
    // Sub-windows of halo'd blocks, a column-stepped view and a transpose.
    let a = data(40, 130, 1);
    let b = data(40, 130, 2);
    let c = data(40, 260, 3);
    let d = data(125, 37, 4);
    let views = [
        a.slice(s![1..38, 3..128]),
        b.slice(s![2..39, 0..125]),
        c.slice(s![3..40, 0..250;2]),
        d.t(),
    ];
    check_views(src, &views, &[&ndvi]);
    // Rows longer than a chunk, and a contiguous/strided mix.
    let long: Vec<Array2<f64>> = (1..=4).map(|k| data(3, 5000, k)).collect();
    let mut views: Vec<ArrayView2<f64>> = long.iter().map(|x| x.view()).collect();
    let wide = data(3, 10000, 9);
    views[0] = wide.slice(s![.., ..;2]);
    check_views(src, &views, &[&ndvi]);
    // Empty windows.
    let e = Array2::<f64>::zeros((0, 5));
    let p = compile(src).unwrap();
    let out = p.eval(&[e.view(), e.view(), e.view(), e.view()]);
    assert_eq!(out[0].dim(), (0, 5));
}

#[test]
fn eval_options_fuse_nodata_handling() {
    let bands: Vec<Array2<f64>> = (1..=2).map(|k| data(37, 123, k)).collect();
    let p = compile("b1 / b2; max(b1, b2)").unwrap();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    for (mask, fin) in [(false, false), (true, false), (false, true), (true, true)] {
        let opts = EvalOptions {
            nan_if_any_input_nan: mask,
            nonfinite_to_nan: fin,
        };
        let outs = p.eval_with(&views, opts);
        for ((r, c), &x) in bands[0].indexed_iter() {
            let y = bands[1][(r, c)];
            let post = |v: f64| {
                if (mask && (x.is_nan() || y.is_nan())) || (fin && !v.is_finite()) {
                    f64::NAN
                } else {
                    v
                }
            };
            assert!(same(outs[0][(r, c)], post(x / y)), "{x}/{y} {opts:?}");
            assert!(
                same(outs[1][(r, c)], post(nmax(&[x, y]))),
                "max {x} {y} {opts:?}"
            );
        }
    }
}

#[test]
fn program_is_shareable() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync_clone::<Program>();
}

/// NDVI speed, for the report: `cargo test --release -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_ndvi_512() {
    let (a, b) = (data(512, 512, 1), data(512, 512, 2));
    let p = compile("(b2 - b1) / (b2 + b1)").unwrap();
    let t = std::time::Instant::now();
    let n = 200;
    for _ in 0..n {
        std::hint::black_box(p.eval(&[a.view(), b.view()]));
    }
    let mpix = (n * 512 * 512) as f64 / t.elapsed().as_secs_f64() / 1e6;
    println!("NDVI 512x512: {mpix:.0} Mpix/s");
}
