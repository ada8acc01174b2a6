//! The statistics pre-pass: exact percentiles of each band's valid pixels,
//! computed in prepare() before any window runs (rescale's `in=auto` needs
//! the whole raster's distribution before the first window is stretched).
//!
//! # Exact, in bounded memory
//! A radix select over order-preserving integer keys (an f32/f64's bits
//! with the sign flipped, an integer offset to unsigned): a pass counts the
//! values in 65536 bins of the next 16 key bits, the bin holding each wanted
//! rank becomes the prefix for the next pass, and a bin whose smallest and
//! largest key agree ends the search early. So memory is a few 64K-entry
//! tables per band whatever the raster size, and the data is read:
//! * once for Byte, UInt16, Int16 (16-bit keys: the first pass is exact);
//! * at most twice for UInt32, Int32, Float32;
//! * at most four times for Float64 (usually twice).
//!
//! Each pass reads the raster in whole-block chunks spread over one thread
//! per core, each with its own dataset handle (GDAL handles are not shared),
//! and sums the threads' histograms. Overviews and sampling are
//! deliberately not used: their error depends on the data, while one
//! parallel pass over a 16-bit scene (the common case for stretching) costs
//! about one decode of the file.
//!
//! # Same numbers as numpy
//! The order statistics are exact and interpolated with numpy's default
//! (`method="linear"`) formulas, virtual index and lerp included, so the
//! result equals `numpy.percentile(valid_values, p)` to within floating
//! rounding (tested at 1e-9 relative). Valid means not NaN and, unless the
//! nodata policy is `none`, not nodata and not masked (alpha band or
//! internal mask), exactly as the workers mask before the op sees a pixel.

mod read;

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use gdal::Dataset;
use gdal_sys::GDALDataType;

use crate::input::InputMeta;
use crate::ops::NodataPolicy;

const BINS: usize = 1 << 16;

/// How a band's values become order-preserving keys.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    /// Integer types of at most 16 bits: `v - min`.
    Small(f64),
    U32,
    I32,
    F32,
    F64,
}

impl Key {
    fn for_type(t: GDALDataType::Type) -> Key {
        match t {
            GDALDataType::GDT_Byte | GDALDataType::GDT_UInt16 => Key::Small(0.0),
            GDALDataType::GDT_Int16 => Key::Small(-32768.0),
            GDALDataType::GDT_UInt32 => Key::U32,
            GDALDataType::GDT_Int32 => Key::I32,
            GDALDataType::GDT_Float32 => Key::F32,
            _ => Key::F64,
        }
    }

    fn bits(self) -> u32 {
        match self {
            Key::Small(_) => 16,
            Key::U32 | Key::I32 | Key::F32 => 32,
            Key::F64 => 64,
        }
    }

    #[inline]
    fn key(self, v: f64) -> u64 {
        match self {
            Key::Small(min) => (v - min) as u64,
            Key::U32 => v as u32 as u64,
            Key::I32 => ((v as i32 as u32) ^ 0x8000_0000) as u64,
            Key::F32 => {
                let b = (v as f32).to_bits();
                (if b >> 31 == 1 { !b } else { b | 0x8000_0000 }) as u64
            }
            Key::F64 => {
                let b = v.to_bits();
                if b >> 63 == 1 {
                    !b
                } else {
                    b | (1 << 63)
                }
            }
        }
    }

    fn value(self, k: u64) -> f64 {
        match self {
            Key::Small(min) => k as f64 + min,
            Key::U32 => k as f64,
            Key::I32 => ((k as u32) ^ 0x8000_0000) as i32 as f64,
            Key::F32 => {
                let k = k as u32;
                f32::from_bits(if k >> 31 == 1 { k & 0x7FFF_FFFF } else { !k }) as f64
            }
            Key::F64 => f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k }),
        }
    }
}

/// One wanted order statistic, narrowed pass by pass.
#[derive(Debug, Clone)]
struct Target {
    /// Rank among the values sharing `prefix`.
    rank: u64,
    prefix: u64,
    known: u32,
    value: Option<f64>,
}

/// A histogram of the next 16 key bits of the values sharing a prefix.
struct Group {
    prefix: u64,
    known: u32,
    count: Vec<u64>,
    min: Vec<u64>,
    max: Vec<u64>,
}

impl Group {
    /// Sum another thread's counts for the same prefix.
    fn merge(&mut self, o: &Group) {
        for i in 0..BINS {
            self.count[i] += o.count[i];
            self.min[i] = self.min[i].min(o.min[i]);
            self.max[i] = self.max[i].max(o.max[i]);
        }
    }

    fn new(prefix: u64, known: u32) -> Group {
        Group {
            prefix,
            known,
            count: vec![0; BINS],
            min: vec![u64::MAX; BINS],
            max: vec![0; BINS],
        }
    }

    #[inline]
    fn add(&mut self, k: u64, bits: u32) {
        if self.known > 0 && k >> (bits - self.known) != self.prefix {
            return;
        }
        let sub = ((k >> (bits - self.known - 16)) & 0xFFFF) as usize;
        self.count[sub] += 1;
        self.min[sub] = self.min[sub].min(k);
        self.max[sub] = self.max[sub].max(k);
    }

    /// Narrow `t` (which lies in this group) to its bin.
    fn narrow(&self, t: &mut Target, key: Key) {
        let mut before = 0;
        for (sub, &c) in self.count.iter().enumerate() {
            if t.rank < before + c {
                t.rank -= before;
                t.prefix = (t.prefix << 16) | sub as u64;
                t.known += 16;
                if self.min[sub] == self.max[sub] || t.known == key.bits() {
                    t.value = Some(key.value(self.min[sub]));
                }
                return;
            }
            before += c;
        }
        unreachable!("rank beyond the group's count");
    }
}

/// numpy's linear-method ranks and weight for percentile `p` of `n` values.
pub fn numpy_ranks(n: u64, p: f64) -> (u64, u64, f64) {
    // numpy's `_compute_virtual_index` with the linear method's alpha = beta = 1.
    let (alpha, beta) = (1.0, 1.0);
    let q = p / 100.0;
    let nf = n as f64;
    let virtual_index = nf * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
    if virtual_index >= nf - 1.0 {
        return (n - 1, n - 1, 0.0);
    }
    let prev = virtual_index.floor().max(0.0);
    let gamma = virtual_index - prev;
    (prev as u64, prev as u64 + 1, gamma)
}

/// numpy's `_lerp`: symmetric, so it is exact at both ends.
pub fn numpy_lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// prepare()'s hook: run the pass the named op `name` asks for, if any.
pub fn for_op(
    name: &str,
    spec: &crate::plan::recipe::JobSpec,
    reader: &crate::input::reader::Reader,
    cancel: &AtomicBool,
) -> Result<Option<Vec<Vec<f64>>>, crate::error::Error> {
    let meta = &reader.meta;
    use crate::error::{job, usage, Error};
    let shown = crate::error::show(&spec.input);
    let Some(req) = crate::ops::stats_request(name, &spec.params, &meta.info())
        .map_err(|e| usage(format!("{shown}: {e}")))?
    else {
        return Ok(None);
    };
    let open = || reader.open(&spec.drivers);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pass = Pass {
        meta,
        policy: spec.policy,
        threads,
        cancel,
    };
    match percentiles(&open, &pass, &req.bands, &req.percentiles) {
        Ok(v) => Ok(Some(v)),
        Err(_) if cancel.load(Ordering::Relaxed) => Err(Error::interrupted()),
        Err(e) => Err(job(format!("{shown}: {e:#}"))),
    }
}

/// How a statistics pass reads: the input, the policy deciding what is
/// valid, how many threads, and the flag that stops it.
pub struct Pass<'a> {
    pub meta: &'a InputMeta,
    pub policy: NodataPolicy,
    pub threads: usize,
    pub cancel: &'a AtomicBool,
}

/// Opens one more handle on the input, for one reading thread.
pub type Open<'a> = dyn Fn() -> anyhow::Result<Dataset> + Sync + 'a;

/// Percentiles `pcts` (0–100) of the valid pixels of each of `bands`
/// (1-based, in order, repeats allowed); NaN for a band without valid pixels.
pub fn percentiles(
    open: &Open<'_>,
    pass: &Pass<'_>,
    bands: &[usize],
    pcts: &[f64],
) -> anyhow::Result<Vec<Vec<f64>>> {
    let meta = pass.meta;
    let mut distinct: Vec<usize> = bands.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let keys: Vec<Key> = distinct
        .iter()
        .map(|&b| Key::for_type(meta.bands[b - 1].gdal_type))
        .collect();
    let reader = read::Scan::new(pass, &distinct);
    // Pass 1: every valid value, top 16 bits.
    let mut first: Vec<Vec<Group>> = distinct.iter().map(|_| vec![Group::new(0, 0)]).collect();
    reader.run(open, &keys, &mut first)?;
    let mut targets: Vec<Vec<Target>> = Vec::new();
    let mut counts = Vec::new();
    for (i, groups) in first.iter().enumerate() {
        let n: u64 = groups[0].count.iter().sum();
        counts.push(n);
        let mut ts = Vec::new();
        if n > 0 {
            for &p in pcts {
                let (a, b, _) = numpy_ranks(n, p);
                for rank in [a, b] {
                    let mut t = Target {
                        rank,
                        prefix: 0,
                        known: 0,
                        value: None,
                    };
                    groups[0].narrow(&mut t, keys[i]);
                    ts.push(t);
                }
            }
        }
        targets.push(ts);
    }
    drop(first);
    // Further passes while some rank is not pinned to one value.
    while targets.iter().flatten().any(|t| t.value.is_none()) {
        let mut groups: Vec<Vec<Group>> = targets
            .iter()
            .map(|ts| {
                let mut g: Vec<(u64, u32)> = ts
                    .iter()
                    .filter(|t| t.value.is_none())
                    .map(|t| (t.prefix, t.known))
                    .collect();
                g.sort_unstable();
                g.dedup();
                g.into_iter().map(|(p, k)| Group::new(p, k)).collect()
            })
            .collect();
        reader.run(open, &keys, &mut groups)?;
        for (i, ts) in targets.iter_mut().enumerate() {
            for t in ts.iter_mut().filter(|t| t.value.is_none()) {
                let g = groups[i]
                    .iter()
                    .find(|g| g.prefix == t.prefix && g.known == t.known)
                    .context("internal: lost a statistics group")?;
                g.narrow(t, keys[i]);
            }
        }
    }
    Ok(bands
        .iter()
        .map(|b| {
            let i = distinct.binary_search(b).expect("band is in distinct");
            pcts.iter()
                .enumerate()
                .map(|(j, &p)| {
                    if counts[i] == 0 {
                        return f64::NAN;
                    }
                    let (_, _, gamma) = numpy_ranks(counts[i], p);
                    let a = targets[i][2 * j].value.unwrap_or(f64::NAN);
                    let b = targets[i][2 * j + 1].value.unwrap_or(f64::NAN);
                    numpy_lerp(a, b, gamma)
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests;
