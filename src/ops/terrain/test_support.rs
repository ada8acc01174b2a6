//! Test helpers shared by the terrain and focal tests: run an op on an
//! in-memory raster whole, or windowed exactly the way the engine does.

use ndarray::{s, Array2};

use crate::ops::{Block, Core, Op};

/// Run an op on a whole in-memory raster as a single block.
pub fn run_op(op: &dyn Op, dem: &Array2<f64>) -> Array2<f64> {
    let (rows, cols) = dem.dim();
    let core = Core {
        row: 0,
        col: 0,
        rows,
        cols,
    };
    let block = Block {
        bands: vec![dem.view()],
        core,
    };
    op.compute(&block).remove(0)
}

/// Run an op the way the engine does: `win × win` windows, each read with
/// the op's halo clipped to the raster.
pub fn run_tiled(op: &dyn Op, dem: &Array2<f64>, win: usize) -> Array2<f64> {
    let (rows, cols) = dem.dim();
    let h = op.halo();
    let mut out = Array2::from_elem((rows, cols), f64::NAN);
    for r0 in (0..rows).step_by(win) {
        for c0 in (0..cols).step_by(win) {
            let (r1, c1) = ((r0 + win).min(rows), (c0 + win).min(cols));
            let (br0, bc0) = (r0.saturating_sub(h), c0.saturating_sub(h));
            let (br1, bc1) = ((r1 + h).min(rows), (c1 + h).min(cols));
            let core = Core {
                row: r0 - br0,
                col: c0 - bc0,
                rows: r1 - r0,
                cols: c1 - c0,
            };
            let block = Block {
                bands: vec![dem.slice(s![br0..br1, bc0..bc1])],
                core,
            };
            let res = op.compute(&block).remove(0);
            out.slice_mut(s![r0..r1, c0..c1]).assign(&res);
        }
    }
    out
}

pub fn assert_bit_identical(a: &Array2<f64>, b: &Array2<f64>, label: &str) {
    assert_eq!(a.dim(), b.dim());
    for ((idx, x), y) in a.indexed_iter().zip(b.iter()) {
        let same = x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan());
        assert!(same, "{label}: differs at {idx:?}: {x} vs {y}");
    }
}

/// Smooth hills on a high base with a little deterministic roughness.
pub fn synthetic_dem(rows: usize, cols: usize, relief: f64) -> Array2<f64> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let (y, x) = (r as f64, c as f64);
        let noise = (((r * 7919 + c * 104_729) % 1009) as f64 / 1009.0) - 0.5;
        1000.0
            + relief * ((0.31 * y).sin() * (0.23 * x).cos() + 0.5 * (0.11 * (y + 2.0 * x)).sin())
            + relief * 0.05 * noise
    })
}
