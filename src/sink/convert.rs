//! Output sample types and the f64 → output conversion.
//!
//! Ops compute in f64 with NaN as "nodata"; the file wants a concrete type.
//! The conversion happens in the workers (so it runs in parallel) and is the
//! one place where rounding, clamping and nodata substitution are decided:
//! integers round half away from zero and saturate at the type's bounds,
//! non-finite values become the output nodata.

use std::str::FromStr;

use gdal_sys::GDALDataType;
use ndarray::Array2;

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

/// Convert one value: NaN/±inf → `nodata`, integers round and saturate.
#[inline]
pub fn convert_value(v: f64, t: OutType, nodata: f64) -> f64 {
    if !v.is_finite() {
        return nodata;
    }
    if t.is_float() {
        let (lo, hi) = t.range();
        return v.clamp(lo, hi);
    }
    let (lo, hi) = t.range();
    v.round().clamp(lo, hi)
}

/// Pack output bands into one band-sequential native-endian buffer, the
/// layout GDAL's dataset RasterIO takes with default spacings.
pub fn pack(bands: &[Array2<f64>], t: OutType, nodata: f64) -> Vec<u8> {
    let n: usize = bands.iter().map(|b| b.len()).sum();
    let mut out = Vec::with_capacity(n * t.size());
    macro_rules! put {
        ($ty:ty) => {
            for b in bands {
                for &v in b.iter() {
                    out.extend_from_slice(&(convert_value(v, t, nodata) as $ty).to_ne_bytes());
                }
            }
        };
    }
    match t {
        OutType::Byte => put!(u8),
        OutType::UInt16 => put!(u16),
        OutType::Int16 => put!(i16),
        OutType::UInt32 => put!(u32),
        OutType::Int32 => put!(i32),
        OutType::Float32 => put!(f32),
        OutType::Float64 => put!(f64),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_half_away_and_saturate() {
        let t = OutType::Byte;
        assert_eq!(convert_value(2.5, t, 255.0), 3.0);
        assert_eq!(convert_value(-0.4, t, 255.0), 0.0);
        assert_eq!(convert_value(300.0, t, 255.0), 255.0);
        assert_eq!(convert_value(f64::NAN, t, 7.0), 7.0);
        assert_eq!(convert_value(-2.5, OutType::Int16, 0.0), -3.0);
        assert_eq!(convert_value(1e12, OutType::Int32, 0.0), 2147483647.0);
        assert_eq!(convert_value(-1e12, OutType::UInt32, 0.0), 0.0);
        assert_eq!(
            convert_value(f64::INFINITY, OutType::Float32, -9999.0),
            -9999.0
        );
        assert_eq!(convert_value(1e300, OutType::Float32, 0.0), f32::MAX as f64);
    }

    #[test]
    fn pack_is_band_sequential() {
        let a = Array2::from_shape_vec((1, 2), vec![1.0, 2.0]).unwrap();
        let b = Array2::from_shape_vec((1, 2), vec![3.0, f64::NAN]).unwrap();
        assert_eq!(pack(&[a, b], OutType::Byte, 9.0), vec![1, 2, 3, 9]);
    }

    #[test]
    fn holds_checks_range_and_integrality() {
        assert!(OutType::Byte.holds(0.0));
        assert!(!OutType::Byte.holds(-9999.0));
        assert!(!OutType::Int16.holds(1.5));
        assert!(OutType::Float32.holds(f64::NAN));
        assert!(!OutType::UInt16.holds(f64::NAN));
        for t in OutType::ALL {
            assert!(t.holds(t.default_nodata()), "{t:?}");
        }
    }
}
