//! GDAL 3.6's overview arithmetic, reproduced so that tilerun's levels are
//! bit-identical to `gdaladdo`'s (`gcore/overview.cpp`): the work types,
//! the weighted boxes for sizes that do not halve exactly, the rounding back
//! to the sample type, the nodata replacement, and mode's tie rule. Kept
//! apart from the streaming in `mod.rs` because it is the part that must
//! match another program bit for bit.

use super::{span, Level};
use crate::ops::OutType;
use crate::ops::Resampling;

/// What computing one level from the one above needs.
pub(super) struct Halve {
    pub(super) t: OutType,
    pub(super) rules: Rules,
    pub(super) bands: usize,
    pub(super) method: Resampling,
}

/// One output column's source box on the level above, GDAL's way: partial
/// edge pixels weighted by how much of them the box covers.
pub(super) struct XBox {
    pub(super) l: usize,
    pub(super) r: usize,
    pub(super) wl: f64,
    pub(super) wr: f64,
    /// The pixel NEAREST takes.
    pub(super) near: usize,
}

impl XBox {
    pub(super) fn new(i: usize, src: usize, dst: usize) -> XBox {
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
pub(super) struct RowsY {
    pub(super) weights: Vec<f64>,
    pub(super) near: usize,
}

impl RowsY {
    pub(super) fn new(y: usize, y0: usize, y1: usize, ratio: f64) -> RowsY {
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
    pub(super) fn general(&self, rows: &[&[u8]], ry: &RowsY, dst: &Level, out: &mut [u8]) {
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
    pub(super) fn row(&self, a: &[u8], b: &[u8], w: usize, out: &mut [u8]) {
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

/// GDAL 3.6's arithmetic for one sample type (`gcore/overview.cpp`): it
/// resamples in a *work* type (the sample type for Byte and UInt16, Float32
/// for everything else, Float64 included), and never lets an average that
/// has valid inputs come out equal to nodata.
pub(super) struct Rules {
    pub(super) t: OutType,
    pub(super) int_work: bool,
    /// Nodata as stored, and in the work type.
    pub(super) nodata: f64,
    pub(super) work_nodata: f64,
    /// What an average that lands on nodata becomes.
    pub(super) replacement: f64,
}

impl Rules {
    pub(super) fn new(t: OutType, stored_nodata: f64) -> Rules {
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

    pub(super) fn valid(&self, v: f64) -> bool {
        if self.nodata.is_nan() {
            !v.is_nan()
        } else {
            v != self.nodata
        }
    }

    pub(super) fn work(&self, v: f64) -> f64 {
        if self.int_work {
            v
        } else {
            f64::from(v as f32)
        }
    }

    /// Work value back to the sample type (GDALCopyWords from Float32:
    /// round half away from zero in single precision, then clamp).
    pub(super) fn back(&self, w: f64) -> f64 {
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
pub(super) fn replacement(t: OutType, fnd: f32) -> f64 {
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
pub(super) trait Sample: Copy {
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
pub(super) fn reduce<T: Sample>(
    method: Resampling,
    a: &[u8],
    b: &[u8],
    w: usize,
    r: &Rules,
    out: &mut [u8],
) {
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

pub(super) fn general<T: Sample>(
    h: &Halve,
    rows: &[&[u8]],
    ry: &RowsY,
    dst: &Level,
    out: &mut [u8],
) {
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
pub(super) fn mode(px: impl IntoIterator<Item = f64>, r: &Rules) -> f64 {
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
pub(super) fn average(px: [f64; 4], r: &Rules) -> f64 {
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
pub(super) fn finish_average(tot: f64, totw: f64, n: u32, r: &Rules) -> f64 {
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
