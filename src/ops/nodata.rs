//! Which stored values GDAL reads back as nodata, and the nearest ones it
//! does not: what the conversion to the output type needs so that a valid
//! result never becomes nodata (see `crate::sink::convert`).
//!
//! For integer types only the nodata value itself is nodata. For floats
//! GDAL 3.6's nodata mask (`GDALNoDataMaskBand`, `ARE_REAL_EQUAL`) also
//! takes every value within two float epsilons of the sum with nodata,
//! computed in the band's own type: with nodata −9999 that is ±4.8e-3 (about
//! five Float32 steps), and with nodata f32::MAX (the Float32 default) the
//! sum overflows for every value from 2^103 ≈ 1.014e31 up, so all of them
//! read as nodata. That *band* of values is what must be avoided.

use super::OutType;

/// The values a reader takes for nodata `nd` of type `t`, and its edges.
#[derive(Debug, Clone, Copy)]
pub struct NodataBand {
    t: OutType,
    nd: f64,
    /// Stored values strictly between these may read as nodata.
    pub guard: (f64, f64),
    /// The nearest values below and above the band that read as valid,
    /// if the type has any.
    down: Option<f64>,
    up: Option<f64>,
}

impl NodataBand {
    pub fn new(t: OutType, nd: f64) -> NodataBand {
        let mut b = NodataBand {
            t,
            nd,
            guard: (f64::INFINITY, f64::NEG_INFINITY),
            down: None,
            up: None,
        };
        if nd.is_nan() {
            return b; // NaN nodata: no finite value reads as nodata.
        }
        let k = key(t, nd);
        b.down = b.edge(k, -1);
        b.up = b.edge(k, 1);
        b.guard = (
            b.down.unwrap_or(f64::NEG_INFINITY),
            b.up.unwrap_or(f64::INFINITY),
        );
        b
    }

    /// GDAL 3.6's test, in the band's arithmetic: `a == b ||
    /// |a - b| < FLT_EPSILON * |a + b| * 2`.
    pub fn reads_as_nodata(&self, x: f64) -> bool {
        match self.t {
            OutType::Float32 => {
                let (a, b) = (x as f32, self.nd as f32);
                a == b || (a - b).abs() < f32::EPSILON * (a + b).abs() * 2.0
            }
            OutType::Float64 => {
                let (a, b) = (x, self.nd);
                a == b || (a - b).abs() < f64::from(f32::EPSILON) * (a + b).abs() * 2.0
            }
            _ => x == self.nd,
        }
    }

    /// The nearest valid value for a result `v` whose stored value reads as
    /// nodata: the band's edge on `v`'s side, else the other one; `v`
    /// exactly nodata goes up (down at the top of the type's range).
    pub fn replace(&self, v: f64) -> f64 {
        let (first, second) = if v < self.nd {
            (self.down, self.up)
        } else {
            (self.up, self.down)
        };
        first.or(second).unwrap_or(self.nd)
    }

    /// The first value from nodata (key `k`) in direction `dir` that reads
    /// as valid: exponential steps, then bisection to a valid value whose
    /// neighbour towards nodata is not. None when the type ends first.
    fn edge(&self, k: i64, dir: i64) -> Option<f64> {
        let (lo, hi) = self.t.range();
        let limit = if dir > 0 {
            key(self.t, hi)
        } else {
            key(self.t, lo)
        };
        let bad = |k: i64| self.reads_as_nodata(value(self.t, k));
        let (mut inside, mut step) = (k, 1i64);
        let outside = loop {
            let next = k.saturating_add(dir * step);
            let next = if dir > 0 {
                next.min(limit)
            } else {
                next.max(limit)
            };
            if !bad(next) {
                break next;
            }
            if next == limit {
                return None;
            }
            inside = next;
            step = step.saturating_mul(2);
        };
        let mut out = outside;
        while (out - inside).abs() > 1 {
            let mid = inside + (out - inside) / 2;
            if bad(mid) {
                inside = mid;
            } else {
                out = mid;
            }
        }
        Some(value(self.t, out))
    }
}

/// Storable values of `t` in order, as consecutive integers: the value
/// itself for integer types, the IEEE bits folded around zero for floats.
fn key(t: OutType, x: f64) -> i64 {
    let fold = |bits: i64, sign: bool| if sign { -bits } else { bits };
    match t {
        OutType::Float32 => {
            let b = (x as f32).to_bits();
            fold(i64::from(b & 0x7fff_ffff), b >> 31 == 1)
        }
        OutType::Float64 => {
            let b = x.to_bits();
            fold((b & 0x7fff_ffff_ffff_ffff) as i64, b >> 63 == 1)
        }
        _ => x as i64,
    }
}

/// The inverse of [`key`].
fn value(t: OutType, k: i64) -> f64 {
    match t {
        OutType::Float32 => {
            let b = k.unsigned_abs() as u32 | if k < 0 { 1 << 31 } else { 0 };
            f64::from(f32::from_bits(b))
        }
        OutType::Float64 => f64::from_bits(k.unsigned_abs() | if k < 0 { 1 << 63 } else { 0 }),
        _ => k as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The edges found by search read as valid with their neighbour towards
    /// nodata reading as nodata; where walking is affordable (integers,
    /// Float32 away from its maximum) they are the first valid values met
    /// when walking from nodata one storable value at a time.
    #[test]
    fn edges_are_the_first_valid_values_beside_nodata() {
        let cases = [
            (OutType::Float32, -9999.0, true),
            (OutType::Float32, 0.0, true),
            (OutType::Float32, 1.5e-30, true),
            (OutType::Float64, -9999.0, false),
            (OutType::Float64, 1e-300, false),
            (OutType::Byte, 7.0, true),
            (OutType::Int16, -32768.0, true),
        ];
        for (t, nd, walk) in cases {
            let b = NodataBand::new(t, nd);
            let (lo, hi) = t.range();
            for (dir, edge) in [(-1i64, b.down), (1, b.up)] {
                let what = format!("{t:?} {nd} direction {dir}");
                if let Some(e) = edge {
                    assert!(!b.reads_as_nodata(e), "{what}");
                    assert!(b.reads_as_nodata(value(t, key(t, e) - dir)), "{what}");
                }
                if !walk {
                    assert!(edge.is_some(), "{what}");
                    continue;
                }
                let mut k = key(t, nd);
                let first = loop {
                    k += dir;
                    let v = value(t, k);
                    if v < lo || v > hi {
                        break None;
                    }
                    if !b.reads_as_nodata(v) {
                        break Some(v);
                    }
                };
                assert_eq!(edge, first, "{what}");
            }
        }
    }

    #[test]
    fn the_float32_default_nodata_swallows_everything_from_2_pow_103() {
        let b = NodataBand::new(OutType::Float32, OutType::Float32.default_nodata());
        assert!(b.up.is_none());
        let down = b.down.unwrap();
        assert!(!b.reads_as_nodata(down));
        assert!(b.reads_as_nodata(f64::from((down as f32).next_up())));
        assert!((down / 2f64.powi(103) - 1.0).abs() < 1e-6, "{down:e}");
        assert_eq!(b.replace(1e35), down);
        let f64_band = NodataBand::new(OutType::Float64, OutType::Float64.default_nodata());
        assert!(f64_band.reads_as_nodata(1e300) && !f64_band.reads_as_nodata(1e291));
    }

    #[test]
    fn integers_step_over_nodata_only() {
        let b = NodataBand::new(OutType::Byte, 255.0);
        assert_eq!(
            (b.down, b.up, b.guard),
            (Some(254.0), None, (254.0, f64::INFINITY))
        );
        assert_eq!(b.replace(300.0), 254.0);
        let b = NodataBand::new(OutType::Int16, 7.0);
        assert_eq!(
            (b.replace(6.6), b.replace(7.0), b.replace(7.4)),
            (6.0, 8.0, 8.0)
        );
        assert!(NodataBand::new(OutType::Float32, f64::NAN)
            .guard
            .0
            .is_infinite());
    }
}
