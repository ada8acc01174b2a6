//! Output sample types and the f64 → output conversion.
//!
//! Ops compute in f64 with NaN as "nodata"; the file wants a concrete type.
//! The conversion happens in the workers (so it runs in parallel) and is the
//! one place where rounding, clamping and nodata substitution are decided:
//! integers round half away from zero and saturate at the type's bounds,
//! Float32 saturates at ±f32::MAX then rounds to nearest, non-finite values
//! become the output nodata.
//!
//! A valid (finite) result never becomes nodata: where the stored value
//! would read back as nodata (by rounding, saturation, or exactly; for
//! floats GDAL also reads values very close to nodata as nodata, see
//! [`crate::ops::nodata`]) it is moved to the nearest value that reads as
//! valid, on the side the result lies on; an exact hit goes up, or down at
//! the type's maximum. Otherwise such pixels would silently vanish from
//! every reader. Saturated and moved values are counted, per job, for the
//! summary and one warning line.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use gdal_sys::GDALDataType;
use ndarray::Array2;

use crate::ops::nodata::NodataBand;
pub use crate::ops::OutType;

impl OutType {
    pub const ALL: [OutType; 7] = [
        OutType::Byte,
        OutType::UInt16,
        OutType::Int16,
        OutType::UInt32,
        OutType::Int32,
        OutType::Float32,
        OutType::Float64,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OutType::Byte => "Byte",
            OutType::UInt16 => "UInt16",
            OutType::Int16 => "Int16",
            OutType::UInt32 => "UInt32",
            OutType::Int32 => "Int32",
            OutType::Float32 => "Float32",
            OutType::Float64 => "Float64",
        }
    }

    pub fn gdal(self) -> GDALDataType::Type {
        match self {
            OutType::Byte => GDALDataType::GDT_Byte,
            OutType::UInt16 => GDALDataType::GDT_UInt16,
            OutType::Int16 => GDALDataType::GDT_Int16,
            OutType::UInt32 => GDALDataType::GDT_UInt32,
            OutType::Int32 => GDALDataType::GDT_Int32,
            OutType::Float32 => GDALDataType::GDT_Float32,
            OutType::Float64 => GDALDataType::GDT_Float64,
        }
    }

    pub fn size(self) -> usize {
        match self {
            OutType::Byte => 1,
            OutType::UInt16 | OutType::Int16 => 2,
            OutType::UInt32 | OutType::Int32 | OutType::Float32 => 4,
            OutType::Float64 => 8,
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, OutType::Float32 | OutType::Float64)
    }

    /// Representable range; values outside it saturate.
    pub fn range(self) -> (f64, f64) {
        match self {
            OutType::Byte => (0.0, 255.0),
            OutType::UInt16 => (0.0, 65535.0),
            OutType::Int16 => (-32768.0, 32767.0),
            OutType::UInt32 => (0.0, 4294967295.0),
            OutType::Int32 => (-2147483648.0, 2147483647.0),
            OutType::Float32 => (f32::MIN as f64, f32::MAX as f64),
            OutType::Float64 => (f64::MIN, f64::MAX),
        }
    }

    /// Default output nodata: the same table as `gdal_calc.py`, so outputs
    /// of the two tools are interchangeable.
    pub fn default_nodata(self) -> f64 {
        match self {
            OutType::Byte => 255.0,
            OutType::UInt16 => 65535.0,
            OutType::Int16 => -32768.0,
            OutType::UInt32 => 4294967293.0,
            OutType::Int32 => -2147483647.0,
            OutType::Float32 => 3.402823466e38,
            OutType::Float64 => 1.7976931348623158e308,
        }
    }

    /// Whether `v` can be stored exactly as this type's nodata.
    pub fn holds(self, v: f64) -> bool {
        if v.is_nan() {
            return self.is_float();
        }
        let (lo, hi) = self.range();
        v >= lo && v <= hi && (self.is_float() || v.fract() == 0.0)
    }
}

impl FromStr for OutType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        OutType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<_> = OutType::ALL.iter().map(|t| t.name()).collect();
                format!("unknown type '{s}' (expected one of {})", names.join(", "))
            })
    }
}

/// Output values the conversion had to change: saturated at the type's
/// bounds, or moved off the nodata value (a value can be both).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub saturated: u64,
    pub nudged: u64,
}

impl Counts {
    /// The job's one warning line, when anything was changed.
    pub fn warning(&self, t: OutType, nodata: f64) -> Option<String> {
        if *self == Counts::default() {
            return None;
        }
        let (lo, hi) = t.range();
        Some(format!(
            "{} values saturated to {}'s range [{lo}, {hi}]; {} valid values moved off \
             nodata {nodata} to the nearest other value",
            self.saturated,
            t.name(),
            self.nudged
        ))
    }
}

/// A job's running [`Counts`], added to by every worker.
#[derive(Debug, Default)]
pub struct Tally {
    saturated: AtomicU64,
    nudged: AtomicU64,
}

impl Tally {
    pub fn add(&self, c: Counts) {
        self.saturated.fetch_add(c.saturated, Ordering::Relaxed);
        self.nudged.fetch_add(c.nudged, Ordering::Relaxed);
    }
    pub fn get(&self) -> Counts {
        Counts {
            saturated: self.saturated.load(Ordering::Relaxed),
            nudged: self.nudged.load(Ordering::Relaxed),
        }
    }
}

/// The conversion to one output type and nodata, set up once per buffer.
#[derive(Debug, Clone, Copy)]
struct Target {
    lo: f64,
    hi: f64,
    nodata: f64,
    band: NodataBand,
    /// Values in either interval are stored as they are: in range, and
    /// clear of the nodata band. Everything else (NaN included, which fails
    /// every comparison) takes the cold path.
    fast: [(f64, f64); 2],
}

impl Target {
    fn new(t: OutType, nodata: f64) -> Target {
        let (lo, hi) = t.range();
        let band = NodataBand::new(t, nodata);
        let (g0, g1) = band.guard;
        Target {
            lo,
            hi,
            nodata,
            band,
            fast: [(lo, hi.min(g0)), (lo.max(g1), hi)],
        }
    }

    /// One value, as it will be stored (before the cast to the sample type).
    /// `t` is the target's type, passed as a constant so each packing loop
    /// is specialised for its type.
    #[inline(always)]
    fn value(&self, t: OutType, v: f64, n: &mut Counts) -> f64 {
        let r = if t.is_float() { v } else { v.round() };
        let [(a0, a1), (b0, b1)] = self.fast;
        if (r >= a0 && r <= a1) || (r >= b0 && r <= b1) {
            return r;
        }
        // Nodata pixels are common (a masked scene is often half NaN):
        // they take no call.
        if !v.is_finite() {
            return self.nodata;
        }
        self.slow(r, v, n)
    }

    /// Finite values that saturate or lie in the nodata band.
    #[cold]
    #[inline(never)]
    fn slow(&self, r: f64, v: f64, n: &mut Counts) -> f64 {
        let s = r.clamp(self.lo, self.hi);
        n.saturated += u64::from(s != r);
        let (g0, g1) = self.band.guard;
        if s > g0 && s < g1 && self.band.reads_as_nodata(s) {
            n.nudged += 1;
            return self.band.replace(v);
        }
        s
    }
}

/// Convert one value: NaN/±inf → `nodata`, integers round and saturate, a
/// valid value never lands on `nodata` (see the module doc).
pub fn convert_value(v: f64, t: OutType, nodata: f64) -> f64 {
    Target::new(t, nodata).value(t, v, &mut Counts::default())
}

/// Pack output bands into one band-sequential native-endian buffer, the
/// layout GDAL's dataset RasterIO takes with default spacings, adding what
/// the conversion changed to `counts`.
pub fn pack(bands: &[Array2<f64>], t: OutType, nodata: f64, counts: &mut Counts) -> Vec<u8> {
    let target = Target::new(t, nodata);
    let mut c = Counts::default();
    macro_rules! put {
        ($t:expr, $ty:ty) => {
            samples(bands, |v| {
                (target.value($t, v, &mut c) as $ty).to_ne_bytes()
            })
        };
    }
    let out = match t {
        OutType::Byte => put!(OutType::Byte, u8),
        OutType::UInt16 => put!(OutType::UInt16, u16),
        OutType::Int16 => put!(OutType::Int16, i16),
        OutType::UInt32 => put!(OutType::UInt32, u32),
        OutType::Int32 => put!(OutType::Int32, i32),
        OutType::Float32 => put!(OutType::Float32, f32),
        OutType::Float64 => put!(OutType::Float64, f64),
    };
    counts.saturated += c.saturated;
    counts.nudged += c.nudged;
    out
}

/// Every value of `bands` in order, as the `N` bytes `f` makes of it.
/// Collected as `[u8; N]` (one length check per band, not per sample, and
/// no zeroing first), then flattened without a copy.
fn samples<const N: usize>(bands: &[Array2<f64>], mut f: impl FnMut(f64) -> [u8; N]) -> Vec<u8> {
    let mut out: Vec<[u8; N]> = Vec::with_capacity(bands.iter().map(|b| b.len()).sum());
    for b in bands {
        match b.as_slice() {
            Some(s) => out.extend(s.iter().map(|&v| f(v))),
            None => out.extend(b.iter().map(|&v| f(v))),
        }
    }
    out.into_flattened()
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
