//! Overview levels built while the windows are still being computed.
//!
//! Building overviews after the fact means reading the whole output back and
//! then, for a COG, re-encoding every level serially: most of what made COG
//! output cost half again as much as GTiff. Here every finished window is
//! folded into the pyramid as it arrives; as soon as a strip of tiles of some
//! level is complete it is handed back to the worker that completed it,
//! which encodes it outside the lock like any output block. So overview
//! work is spread over the workers and overlaps the windows.
//!
//! Each level is computed from the previous one with GDAL 3.6's arithmetic
//! (`kernel`), so levels are bit-identical to what `gdaladdo` builds. When
//! every level halves exactly, each output pixel is a 2×2 box and the first
//! level is computed from each window on its own, outside the lock.
//! Otherwise boxes are up to 3×3 with partial edge pixels weighted as GDAL
//! weighs them, and full-resolution rows are held until the boxes straddling
//! windows are
//! complete. (GDAL's chunking clamps boxes to chunk edges, but a box never
//! crosses one, and with nodata always set GDAL never takes its unmasked
//! SIMD path, so neither needs mimicking.) Memory is a few rows per level
//! plus the rows whose windows are still in flight.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::convert::{pack, unpack};
use crate::ops::OutType;
use crate::overviews::Resampling;
use crate::window::Window;

mod kernel;

use kernel::{Halve, RowsY, Rules, XBox};

/// A finished band-sequential strip of one overview level (`level` ≥ 1),
/// aligned to that level's tile rows.
pub struct Strip {
    pub level: usize,
    pub window: Window,
    pub data: Vec<u8>,
}

/// Shared by the workers of one job: the first halving is computed from
/// each window outside the lock; the lock guards only the level rows.
pub struct Pyramid {
    /// Every level an exact halving: level 1 is computed from each window
    /// on its own; otherwise full-resolution rows are kept until the boxes
    /// that straddle windows are complete.
    exact: bool,
    first: Halve,
    state: Mutex<State>,
}

struct State {
    halve: Halve,
    tile_h: usize,
    /// `levels[0]` (full resolution) only gives sizes; level 1 is fed by
    /// windows, deeper levels are computed from the one above.
    levels: Vec<Level>,
}

struct Level {
    w: usize,
    h: usize,
    /// How this level samples the one above: per output column, and the
    /// axis ratios; `exact` when both sides halve exactly.
    boxes: Vec<XBox>,
    ratio: (f64, f64),
    exact: bool,
    /// Index of `rows[0]`.
    base: usize,
    rows: VecDeque<Row>,
    /// Rows computed so far (levels ≥ 1 are computed top to bottom).
    computed: usize,
    /// Tile rows handed out.
    emitted: usize,
}

struct Row {
    /// Band-sequential samples of the output type.
    data: Vec<u8>,
    /// Pixels written (per band); complete at `w`.
    filled: usize,
}

/// Can the pyramid reproduce GDAL's `levels` halvings of a `size` raster
/// with `method` exactly?
pub fn supports(method: Resampling, size: (usize, usize), levels: usize) -> bool {
    // GDAL computes a level from the one above only when that one is wider
    // (else from full resolution: 1-pixel-wide rasters).
    let width = |k: usize| size.0.div_ceil(1usize << k.min(63));
    matches!(
        method,
        Resampling::Average | Resampling::Nearest | Resampling::Mode
    ) && (2..=levels).all(|k| width(k - 1) > width(k))
}

impl Pyramid {
    /// A pyramid over a `size` raster with `levels` halvings (factors 2, 4, …).
    pub fn new(
        size: (usize, usize),
        levels: usize,
        bands: usize,
        t: OutType,
        nodata: f64,
        tile_h: usize,
        method: Resampling,
    ) -> Pyramid {
        let dims = |k: usize| (size.0.div_ceil(1 << k), size.1.div_ceil(1 << k));
        let out: Vec<Level> = (0..=levels)
            .map(|k| Level::new(dims(k), dims(k.saturating_sub(1))))
            .collect();
        let exact = out.iter().skip(1).all(|l| l.exact);
        // Compare against nodata as the file stores it (Float32's default
        // nodata is not exactly representable as given).
        let mut stored = Vec::new();
        let one = ndarray::Array2::from_elem((1, 1), nodata);
        unpack(&pack(&[one], t, nodata), t, &mut stored);
        let halve = Halve {
            t,
            rules: Rules::new(t, stored[0]),
            bands,
            method,
        };
        Pyramid {
            exact,
            first: halve.clone(),
            state: Mutex::new(State {
                halve,
                tile_h,
                levels: out,
            }),
        }
    }

    /// Fold in a finished full-resolution window (band-sequential samples of
    /// the output type; tile-aligned, so its sides are even). Returns the
    /// overview strips it completed, and whether the pyramid is now done.
    pub fn add(&self, win: Window, data: &[u8]) -> anyhow::Result<(Vec<Strip>, bool)> {
        if !self.exact {
            let mut state = self
                .state
                .lock()
                .map_err(|_| anyhow::anyhow!("overview state poisoned by an earlier panic"))?;
            let strips = state.add_full(win, data);
            let done = state.levels.iter().skip(1).all(|l| l.computed == l.h);
            return Ok((strips, done));
        }
        let half = Window {
            x: win.x / 2,
            y: win.y / 2,
            w: win.w / 2,
            h: win.h / 2,
        };
        let s = self.first.t.size();
        let mut out = vec![0u8; self.first.bands * half.pixels() * s];
        for b in 0..self.first.bands {
            for r in 0..half.h {
                let row = |k: usize| {
                    let at = (b * win.h + 2 * r + k) * win.w * s;
                    &data[at..at + win.w * s]
                };
                let at = (b * half.h + r) * half.w * s;
                self.first
                    .row(row(0), row(1), half.w, &mut out[at..at + half.w * s]);
            }
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("overview state poisoned by an earlier panic"))?;
        let strips = state.add(half, &out);
        let done = state.levels.iter().skip(1).all(|l| l.computed == l.h);
        Ok((strips, done))
    }
}

impl State {
    /// Deposit a full-resolution window; compute, hand out and drop what it
    /// allows.
    fn add_full(&mut self, win: Window, data: &[u8]) -> Vec<Strip> {
        let s = self.halve.t.size();
        let bands = self.halve.bands;
        let top = &mut self.levels[0];
        let w0 = top.w;
        for r in 0..win.h {
            let row = top.row_mut(win.y + r, bands * w0 * s);
            for b in 0..bands {
                let src = (b * win.h + r) * win.w * s;
                let dst = (b * w0 + win.x) * s;
                row.data[dst..dst + win.w * s].copy_from_slice(&data[src..src + win.w * s]);
            }
            row.filled += win.w;
        }
        let mut strips = Vec::new();
        for k in 1..self.levels.len() {
            self.compute(k);
            self.emit(k, &mut strips);
            let keep = self.needed_from(k - 1);
            self.levels[k - 1].trim(keep);
        }
        let last = self.levels.len() - 1;
        let keep = self.needed_from(last);
        self.levels[last].trim(keep);
        strips
    }

    /// Deposit a level-1 piece; compute, hand out and drop what it allows.
    fn add(&mut self, piece: Window, data: &[u8]) -> Vec<Strip> {
        let s = self.halve.t.size();
        let bands = self.halve.bands;
        let one = &mut self.levels[1];
        let w1 = one.w;
        for r in 0..piece.h {
            let row = one.row_mut(piece.y + r, bands * w1 * s);
            for b in 0..bands {
                let src = (b * piece.h + r) * piece.w * s;
                let dst = (b * w1 + piece.x) * s;
                row.data[dst..dst + piece.w * s].copy_from_slice(&data[src..src + piece.w * s]);
            }
            row.filled += piece.w;
        }
        while one.complete(one.computed) {
            one.computed += 1;
        }
        let mut strips = Vec::new();
        self.emit(1, &mut strips);
        for k in 2..self.levels.len() {
            self.compute(k);
            self.emit(k, &mut strips);
            let keep = self.needed_from(k - 1);
            self.levels[k - 1].trim(keep);
        }
        let last = self.levels.len() - 1;
        let keep = self.needed_from(last);
        self.levels[last].trim(keep);
        strips
    }

    /// The first row of level `k` anything still needs.
    fn needed_from(&self, k: usize) -> usize {
        let by_next = self.levels.get(k + 1).map_or(usize::MAX, |n| {
            if n.computed >= n.h {
                usize::MAX
            } else {
                span(n.computed, self.levels[k].h, n.h).0
            }
        });
        if k == 0 {
            return by_next;
        }
        by_next.min(self.levels[k].emitted * self.tile_h)
    }

    fn compute(&mut self, k: usize) {
        let s = self.halve.t.size();
        while self.levels[k].computed < self.levels[k].h {
            let y = self.levels[k].computed;
            let (src, dst) = pair(&mut self.levels, k);
            let (y0, y1) = span(y, src.h, dst.h);
            if !(y0..y1).all(|r| src.complete(r)) {
                return;
            }
            let rows: Vec<&[u8]> = (y0..y1).map(|r| &src.rows[r - src.base].data[..]).collect();
            let rows_y = RowsY::new(y, y0, y1, dst.ratio.1);
            let mut out = vec![0u8; self.halve.bands * dst.w * s];
            for band in 0..self.halve.bands {
                let (i, o) = (band * src.w * s, band * dst.w * s);
                let band_rows: Vec<&[u8]> = rows.iter().map(|r| &r[i..i + src.w * s]).collect();
                let out = &mut out[o..o + dst.w * s];
                if dst.exact {
                    self.halve.row(band_rows[0], band_rows[1], dst.w, out);
                } else {
                    self.halve.general(&band_rows, &rows_y, dst, out);
                }
            }
            let w = dst.w;
            let row = dst.row_mut(y, 0);
            row.data = out;
            row.filled = w;
            dst.computed += 1;
        }
    }

    fn emit(&mut self, k: usize, strips: &mut Vec<Strip>) {
        let s = self.halve.t.size();
        let th = self.tile_h;
        let lv = &mut self.levels[k];
        loop {
            let y0 = lv.emitted * th;
            let y1 = (y0 + th).min(lv.h);
            if y0 >= lv.h || lv.computed < y1 {
                return;
            }
            let bands = self.halve.bands;
            let mut data = Vec::with_capacity(bands * (y1 - y0) * lv.w * s);
            for b in 0..bands {
                for y in y0..y1 {
                    let row = &lv.rows[y - lv.base].data;
                    data.extend_from_slice(&row[b * lv.w * s..(b + 1) * lv.w * s]);
                }
            }
            strips.push(Strip {
                level: k,
                window: Window {
                    x: 0,
                    y: y0,
                    w: lv.w,
                    h: y1 - y0,
                },
                data,
            });
            lv.emitted += 1;
        }
    }
}

fn pair(levels: &mut [Level], k: usize) -> (&Level, &mut Level) {
    let (lo, hi) = levels.split_at_mut(k);
    (&lo[k - 1], &mut hi[0])
}

impl Level {
    fn new((w, h): (usize, usize), src: (usize, usize)) -> Level {
        let rx = src.0 as f64 / w as f64;
        Level {
            w,
            h,
            boxes: (0..w).map(|i| XBox::new(i, src.0, w)).collect(),
            ratio: (rx, src.1 as f64 / h as f64),
            exact: src == (2 * w, 2 * h),
            base: 0,
            rows: VecDeque::new(),
            computed: 0,
            emitted: 0,
        }
    }

    fn row_mut(&mut self, y: usize, len: usize) -> &mut Row {
        debug_assert!(y >= self.base, "row {y} already dropped");
        while self.base + self.rows.len() <= y {
            self.rows.push_back(Row {
                data: Vec::new(),
                filled: 0,
            });
        }
        let row = &mut self.rows[y - self.base];
        if row.data.is_empty() {
            row.data = vec![0; len];
        }
        row
    }

    fn complete(&self, y: usize) -> bool {
        y >= self.base
            && self
                .rows
                .get(y - self.base)
                .is_some_and(|r| r.filled == self.w)
    }

    /// Drop rows above `keep`.
    fn trim(&mut self, keep: usize) {
        while self.base < keep && !self.rows.is_empty() {
            self.rows.pop_front();
            self.base += 1;
        }
    }
}

/// The source rows (or columns) `[a, b)` of a `src`-long axis that output
/// index `i` of a `dst`-long axis covers, with GDAL's rounding rule.
pub fn span(i: usize, src: usize, dst: usize) -> (usize, usize) {
    let ratio = src as f64 / dst as f64;
    let a = (i as f64 * ratio + 1e-8) as usize;
    let mut b = ((i + 1) as f64 * ratio - 1e-8).ceil() as usize;
    if b <= a {
        b = a + 1;
    }
    (a.min(src - 1), b.min(src))
}

#[cfg(test)]
mod tests;
