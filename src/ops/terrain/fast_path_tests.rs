//! The interior fast path must be invisible: for every product, algorithm
//! and option, a block computed by `Terrain::run` must equal, bit for bit,
//! the per-cell path (gdaldem's window synthesis for every cell, the code
//! the parity tests pin to gdaldem). Inputs are random DEMs with nodata
//! holes, flat patches, rows of nodata and extreme values, cut into blocks
//! the way the engine does.

use ndarray::Array2;

use super::kernel::{to_byte, Gradient, Product, Shading, Terrain};
use super::test_support::assert_bit_identical;
use crate::ops::Core;

/// Tiny deterministic generator (SplitMix64): reproducible without a seed file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Rough terrain with integer-quantised plateaus (flat windows: aspect's
/// nodata, multidirectional's special case), isolated and clustered
/// nodata, a nodata row, and a few huge values whose sums overflow f32.
fn random_dem(rng: &mut Rng, rows: usize, cols: usize) -> Array2<f64> {
    let base = rng.unit() * 3000.0 - 500.0;
    let relief = rng.unit() * 200.0;
    let mut dem = Array2::from_shape_fn((rows, cols), |(r, c)| {
        let smooth = ((r as f64) * 0.17).sin() * ((c as f64) * 0.13).cos();
        base + relief * smooth + rng.unit() * 5.0
    });
    for ((r, c), v) in dem.indexed_iter_mut() {
        if (r / 5 + c / 7) % 4 == 0 {
            *v = v.round();
        }
        if (r / 9 + c / 11) % 5 == 0 {
            *v = base.round();
        }
    }
    // Sparse enough that most 64-column runs stay nodata-free (fast path).
    for _ in 0..(rows * cols / 1500).max(1) {
        dem[[rng.below(rows), rng.below(cols)]] = f64::NAN;
    }
    let (r0, c0) = (rng.below(rows), rng.below(cols));
    for r in r0..(r0 + 4).min(rows) {
        for c in c0..(c0 + 9).min(cols) {
            dem[[r, c]] = f64::NAN;
        }
    }
    if rows > 3 {
        dem.row_mut(rng.below(rows)).fill(f64::NAN);
    }
    dem[[rng.below(rows), rng.below(cols)]] = 3.0e38;
    dem[[rng.below(rows), rng.below(cols)]] = -f64::INFINITY;
    dem
}

fn variants() -> Vec<(Product, Gradient)> {
    let mut out = Vec::new();
    for gradient in [Gradient::Horn, Gradient::ZevenbergenThorne] {
        for shading in [
            Shading::Standard,
            Shading::Combined,
            Shading::MultiDirectional,
        ] {
            for (azimuth, altitude, z) in [(315.0, 45.0, 1.0), (97.0, 12.5, 2.5), (0.0, 90.0, 0.3)]
            {
                let product = Product::Hillshade {
                    azimuth,
                    altitude,
                    z,
                    shading,
                };
                out.push((product, gradient));
            }
        }
        for percent in [false, true] {
            out.push((Product::Slope { percent }, gradient));
        }
        for trigonometric in [false, true] {
            for zero_for_flat in [false, true] {
                let product = Product::Aspect {
                    trigonometric,
                    zero_for_flat,
                };
                out.push((product, gradient));
            }
        }
    }
    out
}

/// Blocks of a `rows × cols` raster as the engine cuts them (core plus a
/// halo clipped to the raster), including the whole raster as one block.
fn blocks(rows: usize, cols: usize, win: usize) -> Vec<(usize, usize, usize, usize, Core)> {
    let mut out = vec![(
        0,
        rows,
        0,
        cols,
        Core {
            row: 0,
            col: 0,
            rows,
            cols,
        },
    )];
    for r0 in (0..rows).step_by(win) {
        for c0 in (0..cols).step_by(win) {
            let (r1, c1) = ((r0 + win).min(rows), (c0 + win).min(cols));
            let (br0, bc0) = (r0.saturating_sub(1), c0.saturating_sub(1));
            let (br1, bc1) = ((r1 + 1).min(rows), (c1 + 1).min(cols));
            let core = Core {
                row: r0 - br0,
                col: c0 - bc0,
                rows: r1 - r0,
                cols: c1 - c0,
            };
            out.push((br0, br1, bc0, bc1, core));
        }
    }
    out
}

#[test]
fn fast_path_is_bit_identical_to_per_cell_path() {
    let mut rng = Rng(0x7E44_A1E5);
    // Sizes straddle the 64-column runs and the thin-raster rules.
    let shapes = [
        (1, 9),
        (2, 2),
        (3, 3),
        (9, 1),
        (4, 70),
        (37, 150),
        (66, 131),
        (20, 300),
    ];
    let pixels = [(30.0, -30.0), (25.0, -30.0), (10.0, 10.0), (1.0, -1.0)];
    let mut checked = 0usize;
    for (k, &(rows, cols)) in shapes.iter().enumerate() {
        let dem = random_dem(&mut rng, rows, cols);
        let (ewres, nsres) = pixels[k % pixels.len()];
        for (product, gradient) in variants() {
            for scale in [1.0, 111_120.0] {
                let t = Terrain::new(product, gradient, ewres, nsres, scale);
                for (r0, r1, c0, c1, core) in blocks(rows, cols, 50) {
                    let view = dem.slice(ndarray::s![r0..r1, c0..c1]);
                    let fast = t.run(view, core);
                    let slow = t.run_per_cell(view, core);
                    let label = format!("{product:?} {gradient:?} {rows}x{cols} block {r0},{c0}");
                    assert_bit_identical(&slow, &fast, &label);
                    checked += fast.iter().filter(|v| !v.is_nan()).count();
                }
            }
        }
    }
    assert!(checked > 1_000_000, "only {checked} values compared");
}

/// The rounding every hillshade value goes through, as first written.
fn to_byte_reference(v: f32) -> f64 {
    f64::from((v + 0.5).clamp(0.0, 255.0).trunc())
}

fn assert_to_byte(v: f32) {
    let (got, want) = (to_byte(v), to_byte_reference(v));
    let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
    assert!(same, "to_byte({v:e} = {:#x}): {got} vs {want}", v.to_bits());
}

#[test]
fn to_byte_matches_trunc_near_every_rounding_boundary() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        1e-45,
        f32::MAX,
        f32::MIN,
        8_388_608.0,
        16_777_216.0,
    ];
    specials.into_iter().for_each(assert_to_byte);
    // Every f32 within 4096 ulps of each integer and half-integer that
    // `v + 0.5` can cross before the clamp.
    for k in -4..=520 {
        let centre = k as f32 * 0.5;
        let bits = centre.to_bits();
        for d in 0..4096u32 {
            assert_to_byte(f32::from_bits(bits.wrapping_add(d)));
            assert_to_byte(f32::from_bits(bits.wrapping_sub(d)));
        }
    }
    let mut rng = Rng(42);
    for _ in 0..1_000_000 {
        assert_to_byte(f32::from_bits(rng.next() as u32));
        assert_to_byte((rng.unit() * 300.0 - 20.0) as f32);
    }
}

/// Every one of the 2^32 inputs; a few seconds in release.
#[test]
#[ignore = "exhaustive; run in release with --ignored"]
fn to_byte_matches_trunc_for_every_f32() {
    (0..=u32::MAX).for_each(|b| assert_to_byte(f32::from_bits(b)));
}
