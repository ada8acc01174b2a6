//! The syntax tree shared by the parser and the compiler, and constant
//! folding over it.
//!
//! Folding works on the tree because that is where "this subtree reads no
//! band" is visible; it reuses the scalar semantics of `scalar` so a folded
//! constant is bit-identical to what the kernels would compute. It runs
//! after the type check (`types`), which needs the tree as written to say
//! which operand is fractional.

use super::scalar::{bits, clamp, isin, mean, where_, BinOp, UnOp};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Num(f64),
    /// The i-th reference to an input band in the source (see `Parsed::refs`),
    /// resolved to a slot against the bindings after parsing.
    Ref(usize),
    Un(UnOp, Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Where(Box<[Expr; 3]>),
    Clamp(Box<[Expr; 3]>),
    /// NaN-skipping mean of two or more values.
    Mean(Vec<Expr>),
    /// `bits(x, first, count)`; `name` is the function as written (`bit` or
    /// `bits`), for messages.
    Bits {
        x: Box<Expr>,
        first: u32,
        count: u32,
        name: &'static str,
    },
    /// `x in (v, ...)`: the values are constants, finite by construction.
    In(Box<Expr>, Vec<f64>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Expr {
    pub node: Node,
    pub depth: usize,
    /// 0-based character column of the operator, function name or operand
    /// the node was built from: where a type error points.
    pub col: usize,
}

impl Expr {
    pub(super) fn leaf(node: Node, col: usize) -> Expr {
        Expr {
            node,
            depth: 1,
            col,
        }
    }
}
/// Replaces every subtree without band references by its value, using the
/// same scalar semantics the vector kernels use. In place, so each level of
/// the recursion keeps a small stack frame even in debug builds.
pub(super) fn fold(e: &mut Expr) {
    let value = match &mut e.node {
        Node::Un(op, a) => {
            fold(a);
            num(a).map(|x| op.apply(x))
        }
        Node::Bin(op, a, b) => {
            fold(a);
            fold(b);
            num(a).zip(num(b)).map(|(x, y)| op.apply(x, y))
        }
        Node::Where(v) | Node::Clamp(v) => {
            v.iter_mut().for_each(fold);
            let (a, b, c) = (num(&v[0]), num(&v[1]), num(&v[2]));
            match (&e.node, a, b, c) {
                (Node::Where(_), Some(c), Some(a), Some(b)) => Some(where_(c, a, b)),
                (_, Some(x), Some(lo), Some(hi)) => Some(clamp(x, lo, hi)),
                _ => None,
            }
        }
        Node::Mean(v) => {
            v.iter_mut().for_each(fold);
            v.iter()
                .map(num)
                .collect::<Option<Vec<f64>>>()
                .map(|xs| mean(&xs))
        }
        Node::Bits {
            x, first, count, ..
        } => {
            fold(x);
            num(x).map(|v| bits(v, *first, *count))
        }
        Node::In(x, set) => {
            fold(x);
            num(x).map(|v| isin(v, set))
        }
        Node::Num(_) | Node::Ref(_) => None,
    };
    if let Some(v) = value {
        e.node = Node::Num(v);
        e.depth = 1;
    }
}

fn num(e: &Expr) -> Option<f64> {
    match e.node {
        Node::Num(v) => Some(v),
        _ => None,
    }
}

/// A band reference as written, before resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `bK`: band K of the only input.
    Band(usize),
    /// `NAME`: band 1 of input NAME.
    Input(String),
    /// `NAME.bK`.
    InputBand(String, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Ref {
    pub target: Target,
    pub col: usize,
}

impl Ref {
    /// The reference as written (lower-cased), for messages.
    pub(super) fn text(&self) -> String {
        match &self.target {
            Target::Band(k) => format!("b{k}"),
            Target::Input(n) => n.clone(),
            Target::InputBand(n, k) => format!("{n}.b{k}"),
        }
    }
}
