//! `focal`: moving-window statistics (mean, min, max, sum, std, median) over
//! a square `size × size` neighbourhood — the smoothing/texture filters that
//! usually sit next to terrain derivatives in DEM pipelines.
//!
//! # Window rule
//! * nodata (NaN) centre → nodata;
//! * otherwise the statistic of the *valid* cells of the window: cells
//!   outside the raster and nodata cells are skipped, never filled in. So
//!   near edges and holes the window simply has fewer cells, and `sum` is
//!   the sum of those cells (not rescaled to a full window).
//! * `std` is the population standard deviation (divides by n, not n−1);
//! * `median` of an even count is the mean of the two middle values.
//!
//! gdaldem has no general focal statistic (its TPI/roughness fill nodata
//! neighbours with the centre), so skipping is the rule here.
//!
//! The window is clipped to the block, which is the raster clipped to the
//! window plus `size/2` halo: so windowed output equals whole-raster output.
//!
//! # Cost per pixel
//! mean/sum and min/max are separable: per output row, column aggregates of
//! `size` cells, then `size` of those per pixel — O(size), and each window
//! is summed afresh (no running-sum drift). std is an exact two-pass over
//! the window, O(size²). median is a per-pixel selection, O(size²) and
//! measured faster than sliding structures: see [`median`].

mod median;
#[cfg(test)]
mod tests;

use ndarray::{Array2, ArrayView2};

pub use median::median;

use super::terrain::params::Taker;
use super::{Block, Core, InputInfo, Op, OpError, Params};

/// The `--set` keys focal takes.
pub const KEYS: &[&str] = &["band", "stat", "size"];

/// Largest accepted window, to keep halos (and reads) sane.
pub const MAX_SIZE: usize = 501;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Mean,
    Min,
    Max,
    Sum,
    Std,
    Median,
}

pub fn build(params: &Params, info: &InputInfo) -> Result<Box<dyn Op>, OpError> {
    let mut t = Taker::new("focal", params, KEYS);
    let band = t.band(info)?;
    let stat = match t.take("stat").as_deref().map(str::to_ascii_lowercase) {
        None => {
            return Err(t.err_at(
                "stat",
                "stat is required (it has no default): mean, min, max, sum, std or median, \
                 e.g. --set stat=mean",
            ))
        }
        Some(s) => match s.as_str() {
            "mean" => Stat::Mean,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "sum" => Stat::Sum,
            "std" => Stat::Std,
            "median" => Stat::Median,
            _ => {
                return Err(t.err_at(
                    "stat",
                    format!("stat must be mean, min, max, sum, std or median, got '{s}'"),
                ))
            }
        },
    };
    let size = match t.take("size") {
        None => 3,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if n >= 3 && n % 2 == 1 && n <= MAX_SIZE => n,
            _ => {
                return Err(t.err_at(
                    "size",
                    format!("size must be an odd integer from 3 to {MAX_SIZE}, got '{raw}'"),
                ))
            }
        },
    };
    t.finish()?;
    Ok(Box::new(FocalOp {
        stat,
        size,
        bands: [band],
        describe: format!("focal stat={stat:?} size={size} band={band}"),
    }))
}

struct FocalOp {
    stat: Stat,
    size: usize,
    bands: [usize; 1],
    describe: String,
}

impl Op for FocalOp {
    fn name(&self) -> &str {
        "focal"
    }
    fn bands(&self) -> &[usize] {
        &self.bands
    }
    fn halo(&self) -> usize {
        self.size / 2
    }
    fn out_bands(&self) -> usize {
        1
    }
    fn default_nodata(&self) -> Option<f64> {
        Some(-9999.0)
    }
    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>> {
        vec![focal(
            block.bands[0].view(),
            block.core,
            self.stat,
            self.size,
        )]
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// The statistic over the `core` region of a halo'd block.
pub fn focal(data: ArrayView2<'_, f64>, core: Core, stat: Stat, size: usize) -> Array2<f64> {
    let half = size / 2;
    match stat {
        Stat::Median => median(data, core, half),
        Stat::Std => std_dev(data, core, half),
        Stat::Mean | Stat::Sum | Stat::Min | Stat::Max => separable(data, core, half, stat),
    }
}

/// Inclusive index range of a window of half-width `half` around `i`,
/// clipped to `0..len`.
fn span(i: usize, half: usize, len: usize) -> std::ops::RangeInclusive<usize> {
    i.saturating_sub(half)..=(i + half).min(len - 1)
}

/// Column aggregates then row aggregates: (sum, count) or min/max.
fn separable(data: ArrayView2<'_, f64>, core: Core, half: usize, stat: Stat) -> Array2<f64> {
    let (nr, nc) = data.dim();
    let mut out = Array2::from_elem((core.rows, core.cols), f64::NAN);
    let mut col_val = vec![0.0; nc];
    let mut col_cnt = vec![0u32; nc];
    for i in 0..core.rows {
        let r = core.row + i;
        for c in 0..nc {
            let (mut acc, mut n) = (init(stat), 0u32);
            for rr in span(r, half, nr) {
                let v = data[[rr, c]];
                if !v.is_nan() {
                    acc = combine(stat, acc, v);
                    n += 1;
                }
            }
            col_val[c] = acc;
            col_cnt[c] = n;
        }
        for j in 0..core.cols {
            let c = core.col + j;
            if data[[r, c]].is_nan() {
                continue;
            }
            let (mut acc, mut n) = (init(stat), 0u32);
            for cc in span(c, half, nc) {
                if col_cnt[cc] > 0 {
                    acc = combine(stat, acc, col_val[cc]);
                    n += col_cnt[cc];
                }
            }
            out[[i, j]] = if stat == Stat::Mean {
                acc / f64::from(n)
            } else {
                acc
            };
        }
    }
    out
}

fn init(stat: Stat) -> f64 {
    match stat {
        Stat::Min => f64::INFINITY,
        Stat::Max => f64::NEG_INFINITY,
        _ => 0.0,
    }
}

fn combine(stat: Stat, acc: f64, v: f64) -> f64 {
    match stat {
        Stat::Min => acc.min(v),
        Stat::Max => acc.max(v),
        _ => acc + v,
    }
}

/// Population standard deviation, two-pass (mean first) so that large
/// offsets (elevations in the thousands) do not cancel away small spreads.
fn std_dev(data: ArrayView2<'_, f64>, core: Core, half: usize) -> Array2<f64> {
    let (nr, nc) = data.dim();
    let mut vals = Vec::with_capacity((2 * half + 1).pow(2));
    Array2::from_shape_fn((core.rows, core.cols), |(i, j)| {
        let (r, c) = (core.row + i, core.col + j);
        if data[[r, c]].is_nan() {
            return f64::NAN;
        }
        vals.clear();
        for rr in span(r, half, nr) {
            for cc in span(c, half, nc) {
                let v = data[[rr, cc]];
                if !v.is_nan() {
                    vals.push(v);
                }
            }
        }
        let n = vals.len() as f64;
        let mean = vals.iter().sum::<f64>() / n;
        (vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
    })
}
