//! The syntax tree shared by the parser and the compiler, and constant
//! folding over it.
//!
//! Folding works on the tree because that is where "this subtree reads no
//! band" is visible; it reuses the scalar semantics of `scalar` so a folded
//! constant is bit-identical to what the kernels would compute.

use super::scalar::{clamp, mean, where_, BinOp, UnOp};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    Num(f64),
    /// 1-based band number.
    Band(usize),
    Un(UnOp, Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Where(Box<[Expr; 3]>),
    Clamp(Box<[Expr; 3]>),
    /// NaN-skipping mean of two or more values.
    Mean(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Expr {
    pub node: Node,
    pub depth: usize,
}

impl Expr {
    pub(super) fn leaf(node: Node) -> Expr {
        Expr { node, depth: 1 }
    }
}

/// A band reference as written, kept for `check_bands` carets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct BandRef {
    pub band: usize,
    pub col: usize,
}
/// Replaces every subtree without band references by its value, using the
/// same scalar semantics the vector kernels use.
pub(super) fn fold(e: Expr) -> Expr {
    let num = |e: &Expr| match e.node {
        Node::Num(v) => Some(v),
        _ => None,
    };
    let depth = e.depth;
    let node = match e.node {
        Node::Un(op, a) => {
            let a = fold(*a);
            match num(&a) {
                Some(x) => Node::Num(op.apply(x)),
                None => Node::Un(op, Box::new(a)),
            }
        }
        Node::Bin(op, a, b) => {
            let (a, b) = (fold(*a), fold(*b));
            match (num(&a), num(&b)) {
                (Some(x), Some(y)) => Node::Num(op.apply(x, y)),
                _ => Node::Bin(op, Box::new(a), Box::new(b)),
            }
        }
        Node::Where(v) => {
            let v = v.map(fold);
            match (num(&v[0]), num(&v[1]), num(&v[2])) {
                (Some(c), Some(a), Some(b)) => Node::Num(where_(c, a, b)),
                _ => Node::Where(Box::new(v)),
            }
        }
        Node::Clamp(v) => {
            let v = v.map(fold);
            match (num(&v[0]), num(&v[1]), num(&v[2])) {
                (Some(x), Some(lo), Some(hi)) => Node::Num(clamp(x, lo, hi)),
                _ => Node::Clamp(Box::new(v)),
            }
        }
        Node::Mean(v) => {
            let v: Vec<Expr> = v.into_iter().map(fold).collect();
            match v.iter().map(num).collect::<Option<Vec<f64>>>() {
                Some(xs) => Node::Num(mean(&xs)),
                None => Node::Mean(v),
            }
        }
        leaf => leaf,
    };
    let depth = if matches!(node, Node::Num(_)) {
        1
    } else {
        depth
    };
    Expr { node, depth }
}
