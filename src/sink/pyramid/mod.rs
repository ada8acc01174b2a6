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

use crate::ops::OutType;
use crate::ops::Resampling;
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
    halve: Halve,
    state: Mutex<State>,
}

struct State {
    tile_h: usize,
    /// `levels[0]` is full resolution, fed by windows when sizes do not
    /// halve exactly; otherwise level 1 is fed with each window's halving.
    /// Deeper levels are computed from the one above.
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
    /// Rows complete from the top (computed, or filled by windows).
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
        // Compare against nodata as the file stores it: prepare() made sure
        // it fits the type, but Float32 rounds it (its default nodata is not
        // exactly representable as given).
        let stored = if t == OutType::Float32 {
            f64::from(nodata as f32)
        } else {
            nodata
        };
        let halve = Halve {
            t,
            rules: Rules::new(t, stored),
            bands,
            method,
        };
        Pyramid {
            exact,
            halve,
            state: Mutex::new(State {
                tile_h,
                levels: out,
            }),
        }
    }

    /// Fold in a finished full-resolution window (band-sequential samples of
    /// the output type; tile-aligned, so its sides are even). Returns the
    /// overview strips it completed, and whether the pyramid is now done.
    pub fn add(&self, win: Window, data: &[u8]) -> anyhow::Result<(Vec<Strip>, bool)> {
        let half;
        let (level, piece, bytes) = if self.exact {
            half = self.halve_window(win, data);
            (1, half.0, &half.1[..])
        } else {
            (0, win, data)
        };
        let mut state = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("overview state poisoned by an earlier panic"))?;
        let strips = state.deposit(&self.halve, level, piece, bytes);
        let done = state.levels.iter().skip(1).all(|l| l.computed == l.h);
        Ok((strips, done))
    }

    /// Level 1 of a window on its own (exact halvings only).
    fn halve_window(&self, win: Window, data: &[u8]) -> (Window, Vec<u8>) {
        let half = Window {
            x: win.x / 2,
            y: win.y / 2,
            w: win.w / 2,
            h: win.h / 2,
        };
        let s = self.halve.t.size();
        let mut out = vec![0u8; self.halve.bands * half.pixels() * s];
        for b in 0..self.halve.bands {
            for r in 0..half.h {
                let row = |k: usize| {
                    let at = (b * win.h + 2 * r + k) * win.w * s;
                    &data[at..at + win.w * s]
                };
                let at = (b * half.h + r) * half.w * s;
                self.halve
                    .row(row(0), row(1), half.w, &mut out[at..at + half.w * s]);
            }
        }
        (half, out)
    }
}

impl State {
    /// Deposit a piece of `level` (0: a full-resolution window; 1: a window
    /// already halved); compute, hand out and drop what it allows.
    fn deposit(&mut self, h: &Halve, level: usize, piece: Window, data: &[u8]) -> Vec<Strip> {
        let s = h.t.size();
        let bands = h.bands;
        let lv = &mut self.levels[level];
        let w = lv.w;
        for r in 0..piece.h {
            let row = lv.row_mut(piece.y + r, bands * w * s);
            for b in 0..bands {
                let src = (b * piece.h + r) * piece.w * s;
                let dst = (b * w + piece.x) * s;
                row.data[dst..dst + piece.w * s].copy_from_slice(&data[src..src + piece.w * s]);
            }
            row.filled += piece.w;
        }
        while lv.complete(lv.computed) {
            lv.computed += 1;
        }
        let mut strips = Vec::new();
        if level > 0 {
            self.emit(h, level, &mut strips);
        }
        for k in level + 1..self.levels.len() {
            self.compute(h, k);
            self.emit(h, k, &mut strips);
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

    fn compute(&mut self, h: &Halve, k: usize) {
        let s = h.t.size();
        while self.levels[k].computed < self.levels[k].h {
            let y = self.levels[k].computed;
            let (src, dst) = pair(&mut self.levels, k);
            let (y0, y1) = span(y, src.h, dst.h);
            if !(y0..y1).all(|r| src.complete(r)) {
                return;
            }
            let rows: Vec<&[u8]> = (y0..y1).map(|r| &src.rows[r - src.base].data[..]).collect();
            let rows_y = RowsY::new(y, y0, y1, dst.ratio.1);
            let mut out = vec![0u8; h.bands * dst.w * s];
            for band in 0..h.bands {
                let (i, o) = (band * src.w * s, band * dst.w * s);
                let band_rows: Vec<&[u8]> = rows.iter().map(|r| &r[i..i + src.w * s]).collect();
                let out = &mut out[o..o + dst.w * s];
                if dst.exact {
                    h.row(band_rows[0], band_rows[1], dst.w, out);
                } else {
                    h.general(&band_rows, &rows_y, dst, out);
                }
            }
            let w = dst.w;
            let row = dst.row_mut(y, 0);
            row.data = out;
            row.filled = w;
            dst.computed += 1;
        }
    }

    fn emit(&mut self, h: &Halve, k: usize, strips: &mut Vec<Strip>) {
        let s = h.t.size();
        let th = self.tile_h;
        let lv = &mut self.levels[k];
        loop {
            let y0 = lv.emitted * th;
            let y1 = (y0 + th).min(lv.h);
            if y0 >= lv.h || lv.computed < y1 {
                return;
            }
            let bands = h.bands;
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
