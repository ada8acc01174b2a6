//! Scalar semantics of every operator and function.
//!
//! One definition used by both the vector kernels (inlined into their
//! loops) and constant folding, so the two can never disagree about NaN.
//!
//! Bitwise operators work on the exact i64 an f64 holds: inputs are integer
//! GDAL types (at most 32 bits, so exact in f64), and the type check in
//! `types` refuses fractional operands before anything runs. NaN (nodata)
//! stays NaN, like everywhere else.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnOp {
    Neg,
    Not,
    Abs,
    Sqrt,
    Ln,
    Exp,
    IsNan,
    /// `~x`: two's complement of the integer, i.e. `-x - 1`.
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    Min,
    Max,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

/// Nonzero and not NaN.
#[inline(always)]
fn truthy(x: f64) -> bool {
    x != 0.0 && !x.is_nan()
}

#[inline(always)]
pub(super) fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

impl UnOp {
    #[inline(always)]
    pub(super) fn apply(self, x: f64) -> f64 {
        match self {
            UnOp::Neg => -x,
            UnOp::Not => flag(!truthy(x)),
            UnOp::Abs => x.abs(),
            UnOp::Sqrt => x.sqrt(),
            UnOp::Ln => x.ln(),
            UnOp::Exp => x.exp(),
            UnOp::IsNan => flag(x.is_nan()),
            UnOp::BitNot => int1(x, |a| !a),
        }
    }
}

impl BinOp {
    #[inline(always)]
    pub(super) fn apply(self, x: f64, y: f64) -> f64 {
        match self {
            BinOp::Add => x + y,
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            // IEEE says pow(1, NaN) = pow(NaN, 0) = 1; nodata must not turn
            // into data, so NaN propagates here like everywhere else.
            BinOp::Pow if x.is_nan() || y.is_nan() => f64::NAN,
            BinOp::Pow => x.powf(y),
            BinOp::Lt => flag(x < y),
            BinOp::Le => flag(x <= y),
            BinOp::Gt => flag(x > y),
            BinOp::Ge => flag(x >= y),
            BinOp::Eq => flag(x == y),
            BinOp::Ne => flag(x != y),
            BinOp::And => flag(truthy(x) && truthy(y)),
            BinOp::Or => flag(truthy(x) || truthy(y)),
            // f64::min/max return the non-NaN argument: the "ignore" policy.
            BinOp::Min => x.min(y),
            BinOp::Max => x.max(y),
            BinOp::BitAnd => int2(x, y, |a, b| Some(a & b)),
            BinOp::BitOr => int2(x, y, |a, b| Some(a | b)),
            BinOp::BitXor => int2(x, y, |a, b| Some(a ^ b)),
            // A shift count outside 0..=63 has no sensible value: NaN.
            BinOp::Shl => int2(x, y, |a, b| {
                u32::try_from(b).ok().and_then(|b| a.checked_shl(b))
            }),
            BinOp::Shr => int2(x, y, |a, b| {
                u32::try_from(b).ok().and_then(|b| a.checked_shr(b))
            }),
        }
    }
}

/// The exact integer an f64 holds, if it holds one. Bitwise operands are
/// integer-typed (checked at compile time), so this only fails on NaN
/// (nodata), on infinities from overflowing arithmetic, and beyond 2^63.
///
/// Tested without `fract`: on x86-64's baseline SSE2 that is a libm `trunc`
/// call per operand per pixel. Within ±2^63 the cast truncates exactly and
/// the truncated value is a double, so it converts back exactly: it equals
/// `x` just when `x` has no fraction. NaN and ±inf fail the range test.
#[inline(always)]
fn int(x: f64) -> Option<i64> {
    if x.abs() < 9_223_372_036_854_775_808.0 {
        let i = x as i64;
        (i as f64 == x).then_some(i)
    } else {
        None
    }
}

#[inline(always)]
fn int1(x: f64, f: impl Fn(i64) -> i64) -> f64 {
    int(x).map_or(f64::NAN, |a| f(a) as f64)
}

#[inline(always)]
fn int2(x: f64, y: f64, f: impl Fn(i64, i64) -> Option<i64>) -> f64 {
    match (int(x), int(y)) {
        (Some(a), Some(b)) => f(a, b).map_or(f64::NAN, |v| v as f64),
        _ => f64::NAN,
    }
}

/// `count` bits of `x` from bit `first` (0 = least significant), as an
/// unsigned number: `bits(x, 8, 2)` is `(x >> 8) & 3`.
#[inline(always)]
pub(super) fn bits(x: f64, first: u32, count: u32) -> f64 {
    // count is 1..=64 (checked by the parser); the shift cannot overflow.
    let mask = (u64::MAX >> (64 - count.clamp(1, 64))) as i64;
    int1(x, |a| (a >> first) & mask)
}

/// 1 when `x` equals one of `set`, else 0 (NaN equals nothing, as with `==`).
#[inline(always)]
pub(super) fn isin(x: f64, set: &[f64]) -> f64 {
    flag(set.contains(&x))
}

#[inline(always)]
pub(super) fn where_(c: f64, a: f64, b: f64) -> f64 {
    if c.is_nan() {
        f64::NAN
    } else if c != 0.0 {
        a
    } else {
        b
    }
}

/// NaN `x` stays NaN; a NaN bound is ignored; `lo > hi` gives `hi`.
#[inline(always)]
pub(super) fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    if x.is_nan() {
        x
    } else {
        x.max(lo).min(hi)
    }
}

/// Mean of the non-NaN values; NaN when all are NaN.
pub(super) fn mean(xs: &[f64]) -> f64 {
    let (sum, n) = xs
        .iter()
        .filter(|x| !x.is_nan())
        .fold((0.0, 0.0), |(s, n), &x| (s + x, n + 1.0));
    if n == 0.0 {
        f64::NAN
    } else {
        sum / n
    }
}

#[cfg(test)]
mod tests {
    use super::int;

    /// The cast-based test against the definition it replaces (finite,
    /// no fraction, below 2^63 in magnitude), on the edges where a cast
    /// could go wrong and on random bit patterns of every magnitude.
    #[test]
    fn int_agrees_with_the_fract_definition() {
        let old = |x: f64| {
            let ok = x.is_finite() && x.fract() == 0.0 && x.abs() < 9_223_372_036_854_775_808.0;
            ok.then_some(x as i64)
        };
        let two63 = 2f64.powi(63);
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            26.0,
            65535.0,
            1e-310,
            -1e-310,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            two63,
            -two63,
            two63 - 1024.0,
            -two63 + 1024.0,
            2f64.powi(53) + 2.0,
            2f64.powi(52) + 0.5,
            4503599627370495.5,
            f64::EPSILON,
            1.0 - f64::EPSILON,
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..200_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            xs.push(f64::from_bits(seed));
            // Also near-integers at every scale.
            let m = f64::from_bits(seed).abs().fract() * 2f64.powi((seed % 70) as i32);
            xs.extend([m, m.trunc(), -m.trunc()]);
        }
        for x in xs {
            assert_eq!(int(x), old(x), "{x:e} ({:#x})", x.to_bits());
        }
    }
}
