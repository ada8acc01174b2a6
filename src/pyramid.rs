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
//! ([`Rules`]), so levels are bit-identical to what `gdaladdo` builds. When
//! every level halves exactly, each output pixel is a 2×2 box and the first
//! level is computed from each window on its own, outside the lock
//! ([`reduce`]). Otherwise boxes are up to 3×3 with partial edge pixels
//! weighted as GDAL weighs them ([`XBox`], [`RowsY`], `general`), and
//! full-resolution rows are held until the boxes straddling windows are
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

/// What computing one level from the one above needs.
#[derive(Clone)]
struct Halve {
    t: OutType,
    rules: Rules,
    bands: usize,
    method: Resampling,
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

/// One output column's source box on the level above, GDAL's way: partial
/// edge pixels weighted by how much of them the box covers.
struct XBox {
    l: usize,
    r: usize,
    wl: f64,
    wr: f64,
    /// The pixel NEAREST takes.
    near: usize,
}

impl XBox {
    fn new(i: usize, src: usize, dst: usize) -> XBox {
        let ratio = src as f64 / dst as f64;
        let (off, off2) = (i as f64 * ratio, (i + 1) as f64 * ratio);
        let (l, r) = span(i, src, dst);
        XBox {
            l,
            r,
            wl: if r == l + 1 {
                1.0
            } else {
                1.0 - (off - l as f64)
            },
            wr: 1.0 - (r as f64 - off2),
            near: ((0.5 + off) as usize).min(src - 1),
        }
    }
}

/// One output row's source rows `[y0, y1)`, their weights, and NEAREST's row.
struct RowsY {
    weights: Vec<f64>,
    near: usize,
}

impl RowsY {
    fn new(y: usize, y0: usize, y1: usize, ratio: f64) -> RowsY {
        let (off, off2) = (y as f64 * ratio, (y + 1) as f64 * ratio);
        let wb = if y1 == y0 + 1 {
            1.0
        } else {
            1.0 - (off - y0 as f64)
        };
        let wt = 1.0 - (y1 as f64 - off2);
        let weights = (y0..y1)
            .map(|r| {
                if r == y0 {
                    wb
                } else if r == y1 - 1 {
                    wt
                } else {
                    1.0
                }
            })
            .collect();
        let near = ((0.5 + off) as usize).clamp(y0, y1 - 1) - y0;
        RowsY { weights, near }
    }
}

impl Halve {
    /// One output row of one band from any box shape (sizes that do not
    /// halve exactly).
    fn general(&self, rows: &[&[u8]], ry: &RowsY, dst: &Level, out: &mut [u8]) {
        match self.t {
            OutType::Byte => general::<u8>(self, rows, ry, dst, out),
            OutType::UInt16 => general::<u16>(self, rows, ry, dst, out),
            OutType::Int16 => general::<i16>(self, rows, ry, dst, out),
            OutType::UInt32 => general::<u32>(self, rows, ry, dst, out),
            OutType::Int32 => general::<i32>(self, rows, ry, dst, out),
            OutType::Float32 => general::<f32>(self, rows, ry, dst, out),
            OutType::Float64 => general::<f64>(self, rows, ry, dst, out),
        }
    }

    /// One output row of every band from two source rows `a` and `b`.
    fn row(&self, a: &[u8], b: &[u8], w: usize, out: &mut [u8]) {
        let (m, r) = (self.method, &self.rules);
        match self.t {
            OutType::Byte => reduce::<u8>(m, a, b, w, r, out),
            OutType::UInt16 => reduce::<u16>(m, a, b, w, r, out),
            OutType::Int16 => reduce::<i16>(m, a, b, w, r, out),
            OutType::UInt32 => reduce::<u32>(m, a, b, w, r, out),
            OutType::Int32 => reduce::<i32>(m, a, b, w, r, out),
            OutType::Float32 => reduce::<f32>(m, a, b, w, r, out),
            OutType::Float64 => reduce::<f64>(m, a, b, w, r, out),
        }
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

/// GDAL 3.6's arithmetic for one sample type (`gcore/overview.cpp`): it
/// resamples in a *work* type (the sample type for Byte and UInt16, Float32
/// for everything else, Float64 included), and never lets an average that
/// has valid inputs come out equal to nodata.
#[derive(Clone)]
struct Rules {
    t: OutType,
    int_work: bool,
    /// Nodata as stored, and in the work type.
    nodata: f64,
    work_nodata: f64,
    /// What an average that lands on nodata becomes.
    replacement: f64,
}

impl Rules {
    fn new(t: OutType, stored_nodata: f64) -> Rules {
        let int_work = matches!(t, OutType::Byte | OutType::UInt16);
        let fnd = stored_nodata as f32;
        let work_nodata = if int_work {
            f64::from(fnd).trunc()
        } else {
            f64::from(fnd)
        };
        Rules {
            t,
            int_work,
            nodata: stored_nodata,
            work_nodata,
            replacement: replacement(t, fnd),
        }
    }

    fn valid(&self, v: f64) -> bool {
        if self.nodata.is_nan() {
            !v.is_nan()
        } else {
            v != self.nodata
        }
    }

    fn work(&self, v: f64) -> f64 {
        if self.int_work {
            v
        } else {
            f64::from(v as f32)
        }
    }

    /// Work value back to the sample type (GDALCopyWords from Float32:
    /// round half away from zero in single precision, then clamp).
    fn back(&self, w: f64) -> f64 {
        match self.t {
            OutType::Int16 | OutType::UInt32 | OutType::Int32 => {
                let x = w as f32;
                if x.is_nan() {
                    return 0.0;
                }
                let r = if x > 0.0 { x + 0.5 } else { x - 0.5 };
                let (lo, hi) = self.t.range();
                f64::from(r.trunc()).clamp(lo, hi)
            }
            _ => w,
        }
    }
}

/// GDAL's `GetReplacementValueIfNoData`, for nodata `fnd` (as float).
fn replacement(t: OutType, fnd: f32) -> f64 {
    let next = |max: f32, below: f64| {
        if fnd == max {
            below
        } else {
            f64::from(fnd + 1.0)
        }
    };
    match t {
        OutType::Byte => next(255.0, 254.0),
        OutType::UInt16 => next(65535.0, 65534.0),
        OutType::Int16 => next(32767.0, 32766.0),
        OutType::UInt32 | OutType::Int32 => {
            let lim = if t == OutType::UInt32 {
                4294967295.0 - 128.0
            } else {
                2147483647.0 - 64.0
            };
            let mut rep = fnd + 1.0;
            let mut dv = f64::from(fnd);
            let step = if f64::from(rep) >= lim { -1.0 } else { 1.0 };
            while rep == fnd {
                dv += step;
                rep = dv as f32;
            }
            f64::from(rep)
        }
        OutType::Float32 | OutType::Float64 => {
            if fnd == 0.0 {
                f64::from(f32::MIN_POSITIVE)
            } else {
                let d = f64::from(fnd);
                f64::from((d + 1e-7 * d) as f32)
            }
        }
    }
}

/// A sample type as raw native-endian bytes.
trait Sample: Copy {
    const N: usize;
    fn get(b: &[u8], i: usize) -> f64;
    fn put(v: f64, b: &mut [u8], i: usize);
}

macro_rules! sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            const N: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn get(b: &[u8], i: usize) -> f64 {
                let c = &b[i * Self::N..(i + 1) * Self::N];
                <$t>::from_ne_bytes(c.try_into().expect("sample width")) as f64
            }
            #[inline(always)]
            fn put(v: f64, b: &mut [u8], i: usize) {
                b[i * Self::N..(i + 1) * Self::N].copy_from_slice(&(v as $t).to_ne_bytes());
            }
        }
    )*};
}
sample!(u8, u16, i16, u32, i32, f32, f64);

/// One output row of one band from its two source rows `a` and `b`. Only
/// exact halvings reach here (see `cog::block_options`): every output pixel
/// is a whole 2×2 box, for which GDAL's weighted box average reduces to this
/// sum, in this order.
fn reduce<T: Sample>(method: Resampling, a: &[u8], b: &[u8], w: usize, r: &Rules, out: &mut [u8]) {
    let n = T::N;
    let pairs = a.chunks_exact(2 * n).zip(b.chunks_exact(2 * n));
    for ((a, b), o) in pairs.zip(out.chunks_exact_mut(n)).take(w) {
        let v = match method {
            Resampling::Nearest => r.back(r.work(T::get(a, 0))),
            Resampling::Mode => mode([T::get(a, 0), T::get(a, 1), T::get(b, 0), T::get(b, 1)], r),
            _ => average([T::get(a, 0), T::get(a, 1), T::get(b, 0), T::get(b, 1)], r),
        };
        // tilerun's conversion rule: non-finite values are nodata (GDAL
        // would keep a Float64 nodata it overflowed to +inf).
        T::put(if v.is_finite() { v } else { r.nodata }, o, 0);
    }
}

fn general<T: Sample>(h: &Halve, rows: &[&[u8]], ry: &RowsY, dst: &Level, out: &mut [u8]) {
    let r = &h.rules;
    for (x, b) in dst.boxes.iter().enumerate() {
        let v = match h.method {
            Resampling::Nearest => r.back(r.work(T::get(rows[ry.near], b.near))),
            Resampling::Mode => mode(
                rows.iter()
                    .flat_map(|row| (b.l..b.r).map(move |c| T::get(row, c))),
                r,
            ),
            _ => {
                let (mut tot, mut totw, mut n) = (0.0, 0.0, 0u32);
                for (row, &wy) in rows.iter().zip(&ry.weights) {
                    let (mut line, mut lw) = (0.0, 0.0);
                    let first = T::get(row, b.l);
                    if r.valid(first) {
                        line = r.work(first) * b.wl;
                        lw = b.wl;
                        n += 1;
                    }
                    for c in b.l + 1..b.r.saturating_sub(1) {
                        let v = T::get(row, c);
                        if r.valid(v) {
                            line += r.work(v);
                            lw += 1.0;
                            n += 1;
                        }
                    }
                    if b.l + 1 < b.r {
                        let v = T::get(row, b.r - 1);
                        if r.valid(v) {
                            line += r.work(v) * b.wr;
                            lw += b.wr;
                            n += 1;
                        }
                    }
                    tot += line * wy;
                    totw += lw * wy;
                }
                finish_average(tot, totw, n, r)
            }
        };
        T::put(if v.is_finite() { v } else { r.nodata }, out, x);
    }
}

/// GDAL's mode of one 2×2 box, in the work type like the average (so
/// Float64 and large Int32 values are told apart only as Float32): nodata
/// left out, and of equally frequent values the one that first got ahead
/// in scan order wins (so with no repeat, the first valid pixel).
fn mode(px: impl IntoIterator<Item = f64>, r: &Rules) -> f64 {
    // Boxes between halvings are at most 3×3.
    let (mut vals, mut counts) = ([0.0; 9], [0u32; 9]);
    let (mut n, mut best) = (0, 0);
    for v in px {
        if !r.valid(v) {
            continue;
        }
        let v = r.work(v);
        match (0..n).find(|&i| vals[i] == v || (vals[i].is_nan() && v.is_nan())) {
            Some(i) => {
                counts[i] += 1;
                if counts[i] > counts[best] {
                    best = i;
                }
            }
            None if n < vals.len() => {
                vals[n] = v;
                counts[n] = 1;
                n += 1;
            }
            None => {}
        }
    }
    r.back(if n == 0 { r.work_nodata } else { vals[best] })
}

/// GDAL's masked average of one 2×2 box `[top-left, top-right,
/// bottom-left, bottom-right]`: each row summed, then the rows.
#[inline(always)]
fn average(px: [f64; 4], r: &Rules) -> f64 {
    let (mut tot, mut n) = (0.0, 0u32);
    for row in [[px[0], px[1]], [px[2], px[3]]] {
        let mut line = 0.0;
        for v in row {
            if r.valid(v) {
                line += r.work(v);
                n += 1;
            }
        }
        tot += line;
    }
    finish_average(tot, f64::from(n), n, r)
}

/// Weighted sum `tot` over weight `totw` of `n` valid pixels, rounded,
/// kept off nodata, and back to the sample type, as GDAL does.
fn finish_average(tot: f64, totw: f64, n: u32, r: &Rules) -> f64 {
    let w = if n == 0 {
        r.work_nodata
    } else {
        let q = tot / totw;
        let v = if r.int_work {
            let v = (q + 0.5).trunc();
            if v.is_finite() {
                v
            } else {
                0.0
            }
        } else {
            f64::from(q as f32)
        };
        if v == r.work_nodata {
            r.replacement
        } else {
            v
        }
    };
    r.back(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed a `w`×`h` Float32 raster in `win`-sized windows, in `order`;
    /// return every strip as (level, y, data) sorted, and the peak number of
    /// full-resolution rows held.
    fn run(
        w: usize,
        h: usize,
        win: usize,
        reverse_rows: bool,
    ) -> (Vec<(usize, usize, Vec<u8>)>, usize) {
        let p = Pyramid::new(
            (w, h),
            3,
            1,
            OutType::Float32,
            -9999.0,
            16,
            Resampling::Average,
        );
        let mut wins = Vec::new();
        for y in (0..h).step_by(win) {
            let mut row: Vec<Window> = (0..w)
                .step_by(win)
                .map(|x| Window {
                    x,
                    y,
                    w: win.min(w - x),
                    h: win.min(h - y),
                })
                .collect();
            if reverse_rows {
                row.reverse();
            }
            wins.extend(row);
        }
        let (mut strips, mut peak) = (Vec::new(), 0);
        for win in wins {
            let data: Vec<u8> = (0..win.pixels())
                .flat_map(|i| {
                    let (r, c) = (win.y + i / win.w, win.x + i % win.w);
                    let v = if (r * 7 + c) % 11 == 0 {
                        -9999.0
                    } else {
                        (r * w + c) as f32
                    };
                    v.to_ne_bytes()
                })
                .collect();
            for s in p.add(win, &data).unwrap().0 {
                strips.push((s.level, s.window.y, s.data));
            }
            peak = peak.max(p.state.lock().unwrap().levels[1].rows.len());
        }
        strips.sort();
        (strips, peak)
    }

    #[test]
    fn window_order_does_not_change_the_levels_and_memory_stays_bounded() {
        let (a, peak) = run(72, 96, 16, false);
        let (b, _) = run(72, 96, 16, true);
        assert_eq!(a, b);
        // Every strip of every level, each exactly once.
        for (k, rows) in [(1, 48), (2, 24), (3, 12)] {
            let ys: Vec<usize> = a.iter().filter(|s| s.0 == k).map(|s| s.1).collect();
            assert_eq!(ys, (0..rows).step_by(16).collect::<Vec<_>>(), "level {k}");
        }
        assert!(peak <= 32, "held {peak} full-resolution rows");
    }

    #[test]
    fn gdal_rounding_and_replacement() {
        let byte = Rules::new(OutType::Byte, 0.0);
        // Round half up in the integer work type; nodata boxes stay nodata.
        assert_eq!(average([1.0, 2.0, 0.0, 0.0], &byte), 2.0);
        assert_eq!(average([0.0; 4], &byte), 0.0);
        let i16 = Rules::new(OutType::Int16, -32768.0);
        // Float work type, then half away from zero on the way back.
        assert_eq!(average([-1.0, -2.0, -32768.0, -32768.0], &i16), -2.0);
        assert_eq!(average([1.0, 2.0, -32768.0, -32768.0], &i16), 2.0);
        // An average landing on nodata is nudged off it.
        let f = Rules::new(OutType::Float32, 5.0);
        assert_eq!(average([4.0, 6.0, 5.0, 5.0], &f), f64::from(5.0000005f32));
        let z = Rules::new(OutType::Float32, 0.0);
        assert_eq!(
            average([1.0, -1.0, 0.0, 0.0], &z),
            f64::from(f32::MIN_POSITIVE)
        );
        // Mode: ties go to the value that got ahead first.
        assert_eq!(mode([3.0, 1.0, 1.0, 3.0], &byte), 1.0);
        assert_eq!(mode([3.0, 1.0, 2.0, 4.0], &byte), 3.0);
        assert_eq!(mode([0.0, 0.0, 0.0, 7.0], &byte), 7.0);
        assert_eq!(mode([0.0; 4], &byte), 0.0);
        assert_eq!(replacement(OutType::Byte, 255.0), 254.0);
        assert_eq!(replacement(OutType::UInt32, 4294967295.0), 4294967040.0);
        // Int32 is resampled in Float32: 2^24 + 1 is not representable.
        let i32r = Rules::new(OutType::Int32, 0.0);
        assert_eq!(i32r.back(i32r.work(16777217.0)), 16777216.0);
    }

    #[test]
    fn spans_cover_the_axis_in_order() {
        for (src, dst) in [(8, 4), (9, 5), (2049, 1025), (1, 1), (7, 1)] {
            let spans: Vec<_> = (0..dst).map(|i| span(i, src, dst)).collect();
            assert_eq!(spans[0].0, 0);
            assert_eq!(spans[dst - 1].1, src);
            for s in &spans {
                assert!(s.0 < s.1 && s.1 <= src, "{src}->{dst}: {s:?}");
            }
        }
        assert_eq!(span(3, 8, 4), (6, 8));
    }
}
