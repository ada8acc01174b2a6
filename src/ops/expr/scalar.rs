//! Scalar semantics of every operator and function.
//!
//! One definition used by both the vector kernels (inlined into their
//! loops) and constant folding, so the two can never disagree about NaN.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnOp {
    Neg,
    Not,
    Abs,
    Sqrt,
    Ln,
    Exp,
    IsNan,
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
        }
    }
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
