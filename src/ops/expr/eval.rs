//! Vectorized execution of compiled instructions.
//!
//! Walking the tree per pixel costs a dispatch per node per pixel. Instead,
//! numexpr-style, the tree is compiled once to a linear instruction list over
//! chunk-sized registers; evaluation copies a chunk of every input into its
//! register, then runs each instruction as one tight loop over the chunk, so
//! dispatch is paid per chunk and the loops auto-vectorize. Chunks are small
//! enough that all registers stay in cache.

use ndarray::{s, Array2, ArrayView2};

use super::compile::{Code, Instr, Reg};
use super::scalar::{bits, clamp, flag, isin, where_, BinOp, UnOp};
use super::EvalOptions;

/// Elements per chunk: 2048 f64 = 16 KiB per register, so a typical
/// expression's working set fits in L2.
const CHUNK: usize = 2048;

impl Code {
    pub(super) fn outputs(&self) -> usize {
        self.outputs.len()
    }

    pub(super) fn run(&self, inputs: &[ArrayView2<f64>], opts: EvalOptions) -> Vec<Array2<f64>> {
        assert_eq!(inputs.len(), self.inputs, "one input view per band");
        let shape = inputs.first().map_or((0, 0), |v| v.dim());
        assert!(
            inputs.iter().all(|v| v.dim() == shape),
            "input views differ in shape"
        );
        let total = shape.0 * shape.1;
        let len = total.min(CHUNK);
        let mut regs = vec![vec![0.0; len]; self.regs];
        for &(r, v) in &self.consts {
            regs[r].fill(v);
        }
        let mut mask = vec![false; len];
        let mut outs: Vec<Vec<f64>> = self
            .outputs
            .iter()
            .map(|_| Vec::with_capacity(total))
            .collect();
        let mut start = 0;
        while start < total {
            let n = (total - start).min(CHUNK);
            for (reg, view) in regs.iter_mut().zip(inputs) {
                gather(view, start, &mut reg[..n]);
            }
            for ins in &self.instrs {
                exec(ins, &mut regs, n);
            }
            let mask = &mut mask[..n];
            mask.fill(false);
            if opts.nan_if_any_input_nan {
                for reg in &regs[..self.inputs] {
                    mask.iter_mut()
                        .zip(&reg[..n])
                        .for_each(|(m, x)| *m |= x.is_nan());
                }
            }
            for (out, &r) in outs.iter_mut().zip(&self.outputs) {
                let vals = regs[r][..n].iter().zip(mask.iter());
                if opts.nonfinite_to_nan {
                    out.extend(vals.map(|(&v, &m)| if m || !v.is_finite() { f64::NAN } else { v }));
                } else {
                    out.extend(vals.map(|(&v, &m)| if m { f64::NAN } else { v }));
                }
            }
            start += n;
        }
        outs.into_iter()
            .map(|v| Array2::from_shape_vec(shape, v).expect("one value per pixel"))
            .collect()
    }
}

/// Copies elements `start..start + dst.len()` (row-major) of `view` into
/// `dst`, coping with views that are strided sub-windows.
fn gather(view: &ArrayView2<f64>, start: usize, dst: &mut [f64]) {
    if let Some(all) = view.as_slice() {
        dst.copy_from_slice(&all[start..start + dst.len()]);
        return;
    }
    let cols = view.ncols();
    let mut done = 0;
    while done < dst.len() {
        let (r, c) = ((start + done) / cols, (start + done) % cols);
        let take = (cols - c).min(dst.len() - done);
        let seg = view.slice(s![r, c..c + take]);
        let out = &mut dst[done..done + take];
        match seg.as_slice() {
            Some(src) => out.copy_from_slice(src),
            None => out.iter_mut().zip(seg.iter()).for_each(|(d, &x)| *d = x),
        }
        done += take;
    }
}

#[inline(always)]
fn map1(d: &mut [f64], a: &[f64], f: impl Fn(f64) -> f64) {
    d.iter_mut().zip(a).for_each(|(d, &a)| *d = f(a));
}

#[inline(always)]
fn map2(d: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
    d.iter_mut()
        .zip(a)
        .zip(b)
        .for_each(|((d, &a), &b)| *d = f(a, b));
}

#[inline(always)]
fn map3(d: &mut [f64], a: &[f64], b: &[f64], c: &[f64], f: impl Fn(f64, f64, f64) -> f64) {
    for (((d, &a), &b), &c) in d.iter_mut().zip(a).zip(b).zip(c) {
        *d = f(a, b, c);
    }
}

/// Expands one monomorphized loop per operator, so each kernel inlines its
/// scalar op instead of matching on it per element.
macro_rules! dispatch {
    ($op:expr, $ty:ident, [$($v:ident),*], $run:ident) => {
        match $op { $($ty::$v => $run!(|| $ty::$v),)* }
    };
}

fn exec(ins: &Instr, regs: &mut [Vec<f64>], n: usize) {
    let dst = match ins {
        Instr::Un(_, d, _) | Instr::Bin(_, d, _, _) | Instr::Where(d, _) | Instr::Clamp(d, _) => *d,
        Instr::Mean(d, _, _) | Instr::Bits(d, _, _, _) | Instr::In(d, _, _) => *d,
    };
    // Taking the destination out lets the kernel borrow it mutably while
    // reading other registers; the compiler never makes dst an operand.
    let mut out = std::mem::take(&mut regs[dst]);
    let d = &mut out[..n];
    let r = |i: Reg| &regs[i][..n];
    match ins {
        Instr::Un(op, _, a) => {
            macro_rules! run1 {
                ($k:expr) => {
                    map1(d, r(*a), |x| $k().apply(x))
                };
            }
            dispatch!(
                op,
                UnOp,
                [Neg, Not, Abs, Sqrt, Ln, Exp, IsNan, BitNot],
                run1
            )
        }
        Instr::Bin(op, _, a, b) => {
            macro_rules! run2 {
                ($k:expr) => {
                    map2(d, r(*a), r(*b), |x, y| $k().apply(x, y))
                };
            }
            dispatch!(
                op,
                BinOp,
                [
                    Add, Sub, Mul, Div, Pow, Lt, Le, Gt, Ge, Eq, Ne, And, Or, Min, Max, BitAnd,
                    BitOr, BitXor, Shl, Shr
                ],
                run2
            )
        }
        Instr::Where(_, [c, a, b]) => map3(d, r(*c), r(*a), r(*b), where_),
        Instr::Clamp(_, [x, lo, hi]) => map3(d, r(*x), r(*lo), r(*hi), clamp),
        Instr::Bits(_, a, first, count) => map1(d, r(*a), |x| bits(x, *first, *count)),
        Instr::In(_, a, set) => map1(d, r(*a), |x| isin(x, set)),
        Instr::Mean(_, cnt, args) => {
            let mut counts = std::mem::take(&mut regs[*cnt]);
            let k = &mut counts[..n];
            d.fill(0.0);
            k.fill(0.0);
            for &a in args {
                for ((s, c), &x) in d.iter_mut().zip(k.iter_mut()).zip(&regs[a][..n]) {
                    let ok = !x.is_nan();
                    *s += if ok { x } else { 0.0 };
                    *c += flag(ok);
                }
            }
            for (s, &c) in d.iter_mut().zip(k.iter()) {
                *s = if c == 0.0 { f64::NAN } else { *s / c };
            }
            regs[*cnt] = counts;
        }
    }
    regs[dst] = out;
}
