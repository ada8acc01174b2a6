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
//! Each level is computed from the previous one, with GDAL's own box rule
//! and arithmetic ([`reduce`]), so levels are identical to what `gdaladdo`
//! builds. Memory is a few rows per level plus the full-resolution rows whose
//! windows are still in flight.

use std::collections::VecDeque;

use crate::convert::{pack, unpack};
use crate::ops::OutType;
use crate::overviews::Resampling;
use crate::window::Window;

/// A finished band-sequential strip of one overview level (`level` ≥ 1),
/// aligned to that level's tile rows.
pub struct Strip {
    pub level: usize,
    pub window: Window,
    pub data: Vec<u8>,
}

pub struct Pyramid {
    t: OutType,
    nodata: f64,
    bands: usize,
    tile_h: usize,
    method: Resampling,
    levels: Vec<Level>,
}

struct Level {
    w: usize,
    h: usize,
    /// Index of `rows[0]`.
    base: usize,
    rows: VecDeque<Row>,
    /// Rows computed so far (levels ≥ 1 are computed top to bottom).
    computed: usize,
    /// Tile rows handed out.
    emitted: usize,
    /// Source boxes along x in the previous level, per column.
    boxes_x: Vec<(usize, usize)>,
}

struct Row {
    /// Band-sequential samples of the output type.
    data: Vec<u8>,
    /// Pixels written (per band); complete at `w`.
    filled: usize,
}

/// Is `method` one the pyramid reproduces exactly?
pub fn supports(method: Resampling) -> bool {
    matches!(method, Resampling::Average | Resampling::Nearest)
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
        let mut out = vec![Level::new(size, Vec::new())];
        for k in 1..=levels {
            let prev = (out[k - 1].w, out[k - 1].h);
            let dims = (size.0.div_ceil(1 << k), size.1.div_ceil(1 << k));
            let boxes = (0..dims.0).map(|x| span(x, prev.0, dims.0)).collect();
            out.push(Level::new(dims, boxes));
        }
        // Compare against nodata as the file stores it (Float32's default
        // nodata is not exactly representable as given).
        let mut stored = Vec::new();
        let one = ndarray::Array2::from_elem((1, 1), nodata);
        unpack(&pack(&[one], t, nodata), t, &mut stored);
        Pyramid {
            t,
            nodata: stored[0],
            bands,
            tile_h,
            method,
            levels: out,
        }
    }

    /// Fold in a finished full-resolution window (band-sequential samples of
    /// the output type) and return the overview strips it completed.
    pub fn add(&mut self, win: Window, data: &[u8]) -> Vec<Strip> {
        let s = self.t.size();
        let (bands, w0) = (self.bands, self.levels[0].w);
        let top = &mut self.levels[0];
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

    /// The first row of level `k` anything still needs.
    fn needed_from(&self, k: usize) -> usize {
        let by_next = self.levels.get(k + 1).map_or(usize::MAX, |n| {
            if n.computed >= n.h {
                usize::MAX
            } else {
                span(n.computed, self.levels[k].h, n.h).0
            }
        });
        let by_tiles = if k == 0 {
            usize::MAX
        } else {
            self.levels[k].emitted * self.tile_h
        };
        by_next.min(by_tiles)
    }

    fn compute(&mut self, k: usize) {
        let s = self.t.size();
        let mut a = Vec::new();
        while self.levels[k].computed < self.levels[k].h {
            let y = self.levels[k].computed;
            let (src, dst) = pair(&mut self.levels, k);
            let (y0, y1) = span(y, src.h, dst.h);
            if !(y0..y1).all(|r| src.complete(r)) {
                return;
            }
            let mut out = vec![0.0; self.bands * dst.w];
            let mut rows: Vec<Vec<f64>> = Vec::with_capacity(y1 - y0);
            for band in 0..self.bands {
                rows.clear();
                for r in y0..y1 {
                    let row = &src.rows[r - src.base].data;
                    unpack(&row[band * src.w * s..(band + 1) * src.w * s], self.t, &mut a);
                    rows.push(std::mem::take(&mut a));
                }
                reduce(
                    self.method,
                    &rows,
                    &dst.boxes_x,
                    self.t,
                    self.nodata,
                    &mut out[band * dst.w..(band + 1) * dst.w],
                );
            }
            let arr = ndarray::Array2::from_shape_vec((1, out.len()), out).expect("row shape");
            let packed = pack(std::slice::from_ref(&arr), self.t, self.nodata);
            let w = dst.w;
            let row = dst.row_mut(y, packed.len());
            row.data = packed;
            row.filled = w;
            dst.computed += 1;
        }
    }

    fn emit(&mut self, k: usize, strips: &mut Vec<Strip>) {
        let s = self.t.size();
        let th = self.tile_h;
        let lv = &mut self.levels[k];
        loop {
            let y0 = lv.emitted * th;
            let y1 = (y0 + th).min(lv.h);
            if y0 >= lv.h || lv.computed < y1 {
                return;
            }
            let mut data = Vec::with_capacity(self.bands * (y1 - y0) * lv.w * s);
            for b in 0..self.bands {
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
    fn new((w, h): (usize, usize), boxes_x: Vec<(usize, usize)>) -> Level {
        Level {
            w,
            h,
            base: 0,
            rows: VecDeque::new(),
            computed: 0,
            emitted: 0,
            boxes_x,
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

/// One output row of one band from its source `rows`.
fn reduce(
    method: Resampling,
    rows: &[Vec<f64>],
    boxes: &[(usize, usize)],
    t: OutType,
    nodata: f64,
    out: &mut [f64],
) {
    let valid = |v: f64| !(v == nodata || (nodata.is_nan() && v.is_nan()));
    for (o, &(x0, x1)) in out.iter_mut().zip(boxes) {
        *o = match method {
            Resampling::Nearest => rows[0][x0],
            _ => {
                let (mut sum, mut n) = (0.0, 0usize);
                for row in rows {
                    for &v in &row[x0..x1] {
                        if valid(v) {
                            sum += v;
                            n += 1;
                        }
                    }
                }
                if n == 0 {
                    nodata
                } else if t.is_float() {
                    sum / n as f64
                } else {
                    (sum / n as f64 + 0.5).floor()
                }
            }
        };
    }
}
