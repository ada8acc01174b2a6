//! Property tests: the parser never panics on any input, and random
//! well-formed expressions evaluate exactly like an independent tree-walking
//! interpreter written here: over fractional data, and (with the bitwise
//! operators) over integer bands.

use gdal_sys::GDALDataType;
use ndarray::{Array2, ArrayView2};
use proptest::prelude::*;

use super::tests::{bands as bands_of, compile, data, int_data, same, single};
use super::Program;

/// Parses `src` and, when it parses, evaluates it on small NaN-laced data.
fn parse_and_maybe_eval(src: &str) {
    let Ok(p) = compile(src) else { return };
    let bands: Vec<Array2<f64>> = bands_of(&p).iter().map(|&b| data(3, 5, b as u64)).collect();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    let outs = p.eval(&views);
    assert_eq!(outs.len(), p.outputs());
    if !views.is_empty() {
        assert!(outs.iter().all(|o| o.dim() == (3, 5)));
    }
}

const TOKENS: &[&str] = &[
    "b1", "B2", "b0", "b3", "b99", "1", "2.5", "1e-3", ".5", "0", "nan", "(", ")", ",", ";", "+",
    "-", "*", "/", "^", "**", "<", "<=", ">", ">=", "==", "!=", "=", "!", "and", "or", "not",
    "where", "min", "max", "mean", "abs", "sqrt", "log", "exp", "pow", "clamp", "isnan", "foo",
    " ", "é", "\n", "&", "|", "~", "<<", ">>", "&&", "in", "isin", "bit", "bits", "nodata", "0x1F",
    "0b101", "0o7", "0x", "red", "red.b2", "b1.b1", ".", "65",
];

/// Expression tree mirrored from the language's documented semantics.
#[derive(Debug, Clone)]
enum T {
    Num(f64),
    Band(usize),
    Neg(Box<T>),
    Not(Box<T>),
    BitNot(Box<T>),
    Bin(&'static str, Box<T>, Box<T>),
    Call(&'static str, Vec<T>),
    /// `bits(x, first, count)`.
    Bits(Box<T>, u32, u32),
    /// `x in (...)`, or `not in` when the flag is set.
    In(Box<T>, Vec<f64>, bool),
}

impl T {
    /// Fully parenthesized source text (precedence has its own tests).
    fn src(&self) -> String {
        match self {
            T::Num(v) => format!("{v:?}"),
            T::Band(b) => format!("b{b}"),
            T::Neg(a) => format!("(-{})", a.src()),
            T::Not(a) => format!("(not {})", a.src()),
            T::BitNot(a) => format!("(~{})", a.src()),
            T::Bits(a, first, count) => format!("bits({}, {first}, {count})", a.src()),
            T::In(a, set, neg) => {
                let set: Vec<String> = set.iter().map(|v| format!("{v:?}")).collect();
                let not = if *neg { "not " } else { "" };
                format!("({} {not}in ({}))", a.src(), set.join(", "))
            }
            T::Bin(op, a, b) => format!("({} {op} {})", a.src(), b.src()),
            T::Call(f, args) => {
                let args: Vec<String> = args.iter().map(T::src).collect();
                format!("{f}({})", args.join(", "))
            }
        }
    }

    fn eval(&self, px: &[f64]) -> f64 {
        let truth = |x: f64| !x.is_nan() && x != 0.0;
        let bit = |b: bool| if b { 1.0 } else { 0.0 };
        match self {
            T::Num(v) => *v,
            T::Band(b) => px[b - 1],
            T::Neg(a) => -a.eval(px),
            T::Not(a) => bit(!truth(a.eval(px))),
            T::BitNot(a) => int_op(a.eval(px), 0.0, |x, _| Some(!x)),
            T::Bits(a, first, count) => int_op(a.eval(px), 0.0, |x, _| {
                Some((x >> first) & (((1u128 << count) - 1) as i64))
            }),
            T::In(a, set, neg) => {
                let x = a.eval(px);
                bit(set.contains(&x) != *neg)
            }
            T::Bin(op, a, b) => {
                let (x, y) = (a.eval(px), b.eval(px));
                match *op {
                    "+" => x + y,
                    "-" => x - y,
                    "*" => x * y,
                    "/" => x / y,
                    "**" if x.is_nan() || y.is_nan() => f64::NAN,
                    "**" => x.powf(y),
                    "&" => int_op(x, y, |a, b| Some(a & b)),
                    "|" => int_op(x, y, |a, b| Some(a | b)),
                    "^" => int_op(x, y, |a, b| Some(a ^ b)),
                    "<<" => int_op(x, y, |a, b| {
                        (0..64).contains(&b).then(|| a.wrapping_shl(b as u32))
                    }),
                    ">>" => int_op(x, y, |a, b| (0..64).contains(&b).then(|| a >> b)),
                    "<" => bit(x < y),
                    "<=" => bit(x <= y),
                    ">" => bit(x > y),
                    ">=" => bit(x >= y),
                    "==" => bit(x == y),
                    "!=" => bit(x != y),
                    "and" => bit(truth(x) && truth(y)),
                    "or" => bit(truth(x) || truth(y)),
                    _ => unreachable!(),
                }
            }
            T::Call(f, args) => {
                let v: Vec<f64> = args.iter().map(|a| a.eval(px)).collect();
                let ok: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                match *f {
                    "where" if v[0].is_nan() => f64::NAN,
                    "where" => {
                        if v[0] != 0.0 {
                            v[1]
                        } else {
                            v[2]
                        }
                    }
                    "min" => ok
                        .iter()
                        .copied()
                        .reduce(|a, b| if b < a { b } else { a })
                        .unwrap_or(f64::NAN),
                    "max" => ok
                        .iter()
                        .copied()
                        .reduce(|a, b| if b > a { b } else { a })
                        .unwrap_or(f64::NAN),
                    "mean" if ok.is_empty() => f64::NAN,
                    "mean" => ok.iter().sum::<f64>() / ok.len() as f64,
                    "abs" => v[0].abs(),
                    "sqrt" => v[0].sqrt(),
                    "log" => v[0].ln(),
                    "exp" => v[0].exp(),
                    "isnan" => bit(v[0].is_nan()),
                    "clamp" if v[0].is_nan() => f64::NAN,
                    "clamp" => {
                        let lo = if v[1].is_nan() { v[0] } else { v[0].max(v[1]) };
                        if v[2].is_nan() {
                            lo
                        } else {
                            lo.min(v[2])
                        }
                    }
                    _ => unreachable!(),
                }
            }
        }
    }
}

/// The documented bitwise semantics: exact i64 of finite whole numbers
/// below 2^63 in magnitude, NaN otherwise or when `f` has no answer.
fn int_op(x: f64, y: f64, f: impl Fn(i64, i64) -> Option<i64>) -> f64 {
    let int =
        |v: f64| (v.is_finite() && v == v.trunc() && v.abs() < 2f64.powi(63)).then_some(v as i64);
    match (int(x), int(y)) {
        (Some(a), Some(b)) => f(a, b).map_or(f64::NAN, |v| v as f64),
        _ => f64::NAN,
    }
}

fn tree() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        prop::sample::select(vec![0.0, 1.0, 2.5, 100.0, 0.001, 0.5]).prop_map(T::Num),
        (1usize..=4).prop_map(T::Band),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        let ops = vec![
            "+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or",
        ];
        prop_oneof![
            inner.clone().prop_map(|a| T::Neg(Box::new(a))),
            inner.clone().prop_map(|a| T::Not(Box::new(a))),
            (prop::sample::select(ops), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| T::Bin(op, Box::new(a), Box::new(b))),
            (
                prop::sample::select(vec!["abs", "sqrt", "log", "exp", "isnan"]),
                inner.clone()
            )
                .prop_map(|(f, a)| T::Call(f, vec![a])),
            (
                prop::sample::select(vec!["where", "clamp"]),
                prop::collection::vec(inner.clone(), 3)
            )
                .prop_map(|(f, a)| T::Call(f, a)),
            (
                prop::sample::select(vec!["min", "max", "mean"]),
                prop::collection::vec(inner, 2..5)
            )
                .prop_map(|(f, a)| T::Call(f, a)),
        ]
    })
}

/// Integer-valued trees: integer bands and constants, and only operators
/// that keep values whole, so every bitwise operand type-checks.
fn int_tree() -> impl Strategy<Value = T> {
    let leaf = prop_oneof![
        prop::sample::select(vec![0.0, 1.0, 3.0, 8.0, 255.0, -1.0, 21824.0, 65.0]).prop_map(T::Num),
        (1usize..=4).prop_map(T::Band),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        let ops = vec![
            "+", "-", "*", "&", "|", "^", "<<", ">>", "<", "==", "!=", "and", "or",
        ];
        prop_oneof![
            inner.clone().prop_map(|a| T::Neg(Box::new(a))),
            inner.clone().prop_map(|a| T::BitNot(Box::new(a))),
            (prop::sample::select(ops), inner.clone(), inner.clone())
                .prop_map(|(op, a, b)| T::Bin(op, Box::new(a), Box::new(b))),
            (inner.clone(), 0u32..64, 1u32..=16)
                .prop_filter("count fits", |(_, f, c)| f + c <= 64)
                .prop_map(|(a, f, c)| T::Bits(Box::new(a), f, c)),
            (
                inner.clone(),
                prop::collection::vec(prop::sample::select(vec![0.0, 1.0, 3.0, 8.0, -1.0]), 1..4),
                any::<bool>()
            )
                .prop_map(|(a, set, neg)| T::In(Box::new(a), set, neg)),
            (
                prop::sample::select(vec!["where", "clamp"]),
                prop::collection::vec(inner.clone(), 3)
            )
                .prop_map(|(f, a)| T::Call(f, a)),
            (
                prop::sample::select(vec!["min", "max"]),
                prop::collection::vec(inner.clone(), 2..4)
            )
                .prop_map(|(f, a)| T::Call(f, a)),
            inner.prop_map(|a| T::Call("abs", vec![a])),
        ]
    })
}

/// Compiles the trees (plus a trailing `b1`, which gives constant-only
/// programs an input shape) and compares every pixel with the tree walker.
fn agree(
    outs: &[T],
    band_type: GDALDataType::Type,
    bands: &[Array2<f64>],
) -> Result<(), TestCaseError> {
    let src = outs.iter().map(T::src).collect::<Vec<_>>().join("; ") + "; b1";
    let p = Program::compile(&src, &single(4, band_type))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let views: Vec<ArrayView2<f64>> = bands_of(&p).iter().map(|&b| bands[b - 1].view()).collect();
    let got = p.eval(&views);
    prop_assert_eq!(got.len(), outs.len() + 1);
    for (o, t) in outs.iter().enumerate() {
        for ((r, c), &g) in got[o].indexed_iter() {
            let px: Vec<f64> = bands.iter().map(|b| b[(r, c)]).collect();
            let want = t.eval(&px);
            prop_assert!(
                same(g, want),
                "{} at {r},{c} {px:?}: got {g}, want {want}",
                t.src()
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn parse_never_panics_on_any_string(s in any::<String>()) {
        parse_and_maybe_eval(&s);
    }

    #[test]
    fn parse_never_panics_on_printable_text(s in "\\PC{0,80}") {
        parse_and_maybe_eval(&s);
    }

    #[test]
    fn token_soup_never_panics(
        toks in prop::collection::vec(prop::sample::select(TOKENS), 0..40),
        glue in prop::sample::select(vec!["", " "]),
    ) {
        parse_and_maybe_eval(&toks.join(glue));
    }

    #[test]
    fn random_expressions_match_tree_walker(outs in prop::collection::vec(tree(), 1..4)) {
        let bands: Vec<Array2<f64>> = (1..=4).map(|k| data(9, 7, k + 10)).collect();
        agree(&outs, GDALDataType::GDT_Float64, &bands)?;
    }

    #[test]
    fn random_integer_expressions_match_tree_walker(outs in prop::collection::vec(int_tree(), 1..4)) {
        let bands: Vec<Array2<f64>> = (1..=4).map(|k| int_data(9, 7, k + 20)).collect();
        agree(&outs, GDALDataType::GDT_Int32, &bands)?;
    }
}
