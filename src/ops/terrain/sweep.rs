//! Driving a [`Terrain`] kernel over a block. Almost every cell of a block
//! has its whole 3×3 window inside the raster and free of nodata; those go
//! through a straight-line loop over three row slices ([`rows3`]). Only
//! raster edges and windows touching nodata pay for gdaldem's
//! `-compute_edges` window synthesis ([`window`]), which stays the single
//! definition of the rule. Both paths call the same formulas, and the fast
//! one is checked against the per-cell one bit for bit (`fast_path_tests`).

use ndarray::{Array2, ArrayView2};

use super::kernel::{
    aspect_diffs, aspect_value, combined_value, slope_value, to_byte, Gradient, Product, Shading,
    Terrain,
};
use crate::ops::Core;

/// Interior cells are taken in runs of this many columns; a run whose
/// windows touch nodata is done per cell instead. Short enough that one
/// stray nodata cell costs little, long enough to amortise the check.
const RUN: usize = 64;

impl Terrain {
    /// Compute the `core` region of a halo'd block (see [`Core`]). Raster
    /// edges are recognised as the block's own edges: the engine always reads
    /// the 1-pixel halo where the raster has it.
    pub fn run(&self, dem: ArrayView2<'_, f64>, core: Core) -> Array2<f64> {
        let (rows, cols) = dem.dim();
        let grid: Vec<f32> = dem.iter().map(|&v| v as f32).collect();
        let general = |r: usize, c: usize| {
            window(&grid, rows, cols, r, c).map_or(f64::NAN, |w| self.cell(&w))
        };
        let mut out = Array2::zeros((core.rows, core.cols));
        let end = core.col + core.cols;
        // Grid columns whose window has both horizontal neighbours.
        let inner = core.col.max(1)..end.min(cols.saturating_sub(1));
        for (i, mut line) in out.rows_mut().into_iter().enumerate() {
            let line = line.as_slice_mut().expect("a fresh array is row-major");
            let r = core.row + i;
            if r == 0 || r + 1 >= rows || inner.is_empty() {
                for (c, o) in (core.col..end).zip(line.iter_mut()) {
                    *o = general(r, c);
                }
                continue;
            }
            for c in (core.col..inner.start).chain(inner.end..end) {
                line[c - core.col] = general(r, c);
            }
            let [above, mid, below] = [r - 1, r, r + 1].map(|rr| &grid[rr * cols..(rr + 1) * cols]);
            for c0 in inner.clone().step_by(RUN) {
                let c1 = (c0 + RUN).min(inner.end);
                let span = c0 - 1..c1 + 1;
                let three = [&above[span.clone()], &mid[span.clone()], &below[span]];
                let dst = &mut line[c0 - core.col..c1 - core.col];
                if three.iter().any(|s| has_nan(s)) {
                    for (c, o) in (c0..c1).zip(dst.iter_mut()) {
                        *o = general(r, c);
                    }
                } else {
                    self.interior_row(three, dst);
                }
            }
        }
        out
    }

    /// Compute a whole raster held in memory (the block *is* the raster).
    pub fn run_full(&self, dem: ArrayView2<'_, f64>) -> Array2<f64> {
        let (rows, cols) = dem.dim();
        self.run(
            dem,
            Core {
                row: 0,
                col: 0,
                rows,
                cols,
            },
        )
    }

    /// The per-cell path alone (window synthesis for every cell): the
    /// oracle the fast path is tested against, and the "before" of the bench.
    #[cfg(test)]
    pub(super) fn run_per_cell(&self, dem: ArrayView2<'_, f64>, core: Core) -> Array2<f64> {
        let (rows, cols) = dem.dim();
        let grid: Vec<f32> = dem.iter().map(|&v| v as f32).collect();
        Array2::from_shape_fn((core.rows, core.cols), |(i, j)| {
            match window(&grid, rows, cols, core.row + i, core.col + j) {
                Some(w) => self.cell(&w),
                None => f64::NAN,
            }
        })
    }

    /// [`Terrain::cell`] for a run of interior cells whose whole window is
    /// inside the grid and nodata-free: `out[j]` is the cell whose window is
    /// columns `j..j + 3` of the three rows. Same formulas, but the option
    /// matching is hoisted out of the loop and each variant gets its own
    /// monomorphised, branch-light loop that LLVM can vectorise.
    fn interior_row(&self, rows: [&[f32]; 3], out: &mut [f64]) {
        let g = self.gradient;
        match self.product {
            Product::Hillshade { shading, .. } => match (shading, self.same_res) {
                (Shading::Standard, Some(sr)) => {
                    rows3(rows, out, |w| to_byte(self.hillshade_same_res(w, sr)))
                }
                (Shading::Standard, None) => {
                    per_gradient(g, rows, out, |w, g| to_byte(self.hillshade(w, g)))
                }
                (Shading::Combined, _) => two_pass(
                    g,
                    rows,
                    out,
                    |w, g| self.combined_parts(w, g),
                    |parts| to_byte(combined_value(parts)),
                ),
                (Shading::MultiDirectional, _) => {
                    per_gradient(g, rows, out, |w, g| to_byte(self.hillshade_multi(w, g)))
                }
            },
            Product::Slope { percent: true } => {
                per_gradient(g, rows, out, |w, g| slope_value(self.rise(w, g), true))
            }
            Product::Slope { percent: false } => two_pass(
                g,
                rows,
                out,
                |w, g| self.rise(w, g),
                |rise| slope_value(rise, false),
            ),
            Product::Aspect {
                trigonometric,
                zero_for_flat,
            } => two_pass(g, rows, out, aspect_diffs, |d| {
                aspect_value(d, trigonometric, zero_for_flat)
            }),
        }
    }
}

/// Run `f` over interior windows with the gradient fixed at compile time,
/// so the per-cell `match` on it folds away inside each loop.
#[inline(always)]
fn per_gradient<T>(
    g: Gradient,
    rows: [&[f32]; 3],
    out: &mut [T],
    f: impl Fn(&[f32; 9], Gradient) -> T,
) {
    match g {
        Gradient::Horn => rows3(rows, out, |w| f(w, Gradient::Horn)),
        Gradient::ZevenbergenThorne => rows3(rows, out, |w| f(w, Gradient::ZevenbergenThorne)),
    }
}

/// For formulas ending in libm calls (`atan`, `atan2`, `acos`), which no
/// loop containing them can vectorise: the window arithmetic runs as one
/// vectorised loop into a small buffer, the calls in a second loop.
#[inline(always)]
fn two_pass<T: Copy + Default>(
    g: Gradient,
    rows: [&[f32]; 3],
    out: &mut [f64],
    first: impl Fn(&[f32; 9], Gradient) -> T,
    then: impl Fn(T) -> f64,
) {
    let mut buf = [T::default(); RUN];
    for (k, out) in out.chunks_mut(RUN).enumerate() {
        let part = rows.map(|row| &row[k * RUN..]);
        let buf = &mut buf[..out.len()];
        per_gradient(g, part, buf, &first);
        for (o, &b) in out.iter_mut().zip(buf.iter()) {
            *o = then(b);
        }
    }
}

/// Branch-free (hence vectorised) NaN scan.
fn has_nan(s: &[f32]) -> bool {
    s.iter().fold(false, |acc, v| acc | v.is_nan())
}

/// `out[j] = f(window at columns j..j + 3 of the three rows)`. Inlined into
/// each caller so `f` is inlined too and the loop can be vectorised; the
/// re-slicing to `out.len() + 2` lets LLVM drop the bounds checks.
#[inline(always)]
fn rows3<T>(rows: [&[f32]; 3], out: &mut [T], f: impl Fn(&[f32; 9]) -> T) {
    let n = out.len();
    let [a, b, c] = rows.map(|row| &row[..n + 2]);
    for (j, o) in out.iter_mut().enumerate() {
        let w = [
            a[j],
            a[j + 1],
            a[j + 2],
            b[j],
            b[j + 1],
            b[j + 2],
            c[j],
            c[j + 1],
            c[j + 2],
        ];
        *o = f(&w);
    }
}

/// gdaldem's INTERPOL: linear extrapolation one cell outwards, `2a - b`,
/// in f32. A nodata (NaN) operand yields NaN, later replaced by the centre.
fn extrapolate(a: f32, b: f32) -> f32 {
    2.0 * a - b
}

/// The 3×3 window gdaldem `-compute_edges` uses for cell (r, c) of a
/// `rows × cols` row-major grid, or None when the output is nodata (centre
/// is nodata, or the grid is thinner than 2 cells). See the module header
/// of `terrain` for the rule in words.
pub fn window(grid: &[f32], rows: usize, cols: usize, r: usize, c: usize) -> Option<[f32; 9]> {
    if rows < 2 || cols < 2 {
        return None;
    }
    let at = |rr: usize, cc: usize| grid[rr * cols + cc];
    let centre = at(r, c);
    if centre.is_nan() {
        return None;
    }
    let mut w = [0f32; 9];
    if r == 0 || r == rows - 1 {
        // First/last row: columns are clamped (not extrapolated), the
        // missing row is extrapolated from the two rows inside.
        let cs = [c.saturating_sub(1), c, (c + 1).min(cols - 1)];
        for (k, &cc) in cs.iter().enumerate() {
            if r == 0 {
                w[k] = extrapolate(at(0, cc), at(1, cc));
                w[3 + k] = at(0, cc);
                w[6 + k] = at(1, cc);
            } else {
                w[k] = at(r - 1, cc);
                w[3 + k] = at(r, cc);
                w[6 + k] = extrapolate(at(r, cc), at(r - 1, cc));
            }
        }
    } else {
        for (k, rr) in [r - 1, r, r + 1].into_iter().enumerate() {
            let row = if c == 0 {
                [extrapolate(at(rr, 0), at(rr, 1)), at(rr, 0), at(rr, 1)]
            } else if c == cols - 1 {
                let (a, b) = (at(rr, c), at(rr, c - 1));
                [b, a, extrapolate(a, b)]
            } else {
                [at(rr, c - 1), at(rr, c), at(rr, c + 1)]
            };
            w[3 * k..3 * k + 3].copy_from_slice(&row);
        }
    }
    // ComputeVal with -compute_edges: nodata neighbours take the centre value.
    for v in &mut w {
        if v.is_nan() {
            *v = centre;
        }
    }
    Some(w)
}
