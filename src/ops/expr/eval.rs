//! Vectorized execution of compiled instructions.
//!
//! Walking the tree per pixel costs a dispatch per node per pixel. Instead,
//! numexpr-style, the tree is compiled once to a linear instruction list over
//! chunk-sized registers; evaluation takes a chunk of every input (in place
//! when the view is contiguous, else gathered into a buffer), then runs each
//! instruction as one tight loop over the chunk, so dispatch is paid per
//! chunk and the loops auto-vectorize. Chunks are small enough that all
//! registers stay in cache.

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

    /// Evaluates over the views. Where the CPU has AVX2 (checked at run
    /// time; the build targets baseline x86-64), the same loops are
    /// compiled for 4-wide registers: IEEE operations give the same results
    /// at any width, and Rust never fuses a multiply and an add, so the
    /// output is identical, only cheaper.
    pub(super) fn run(&self, inputs: &[ArrayView2<f64>], opts: EvalOptions) -> Vec<Array2<f64>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { self.run_avx2(inputs, opts) };
        }
        self.run_any(inputs, opts)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, inputs: &[ArrayView2<f64>], opts: EvalOptions) -> Vec<Array2<f64>> {
        self.run_any(inputs, opts)
    }

    #[inline(always)]
    fn run_any(&self, inputs: &[ArrayView2<f64>], opts: EvalOptions) -> Vec<Array2<f64>> {
        assert_eq!(inputs.len(), self.inputs, "one input view per band");
        let shape = inputs.first().map_or((0, 0), |v| v.dim());
        assert!(
            inputs.iter().all(|v| v.dim() == shape),
            "input views differ in shape"
        );
        let total = shape.0 * shape.1;
        let len = total.min(CHUNK);
        // Input registers stay empty: kernels read contiguous views in
        // place, and only strided ones are gathered into `strided`.
        let mut regs: Vec<Vec<f64>> = (0..self.regs)
            .map(|r| {
                if r < self.inputs {
                    Vec::new()
                } else {
                    vec![0.0; len]
                }
            })
            .collect();
        for &(r, v) in &self.consts {
            regs[r].fill(v);
        }
        let mut strided: Vec<Vec<f64>> = inputs
            .iter()
            .map(|v| {
                if v.is_standard_layout() {
                    Vec::new()
                } else {
                    vec![0.0; len]
                }
            })
            .collect();
        let mut mask = vec![0u64; len];
        let mut outs: Vec<Vec<f64>> = self
            .outputs
            .iter()
            .map(|_| Vec::with_capacity(total))
            .collect();
        let mut start = 0;
        while start < total {
            let n = (total - start).min(CHUNK);
            let srcs: Vec<&[f64]> = inputs
                .iter()
                .zip(&mut strided)
                .map(|(view, buf)| match view.as_slice() {
                    Some(all) => &all[start..start + n],
                    None => {
                        gather(view, start, &mut buf[..n]);
                        &buf[..n]
                    }
                })
                .collect();
            for ins in &self.instrs {
                exec(ins, &self.consts, &srcs, &mut regs, n);
            }
            let mask = &mut mask[..n];
            let propagate = opts.nan_if_any_input_nan;
            if propagate {
                // u64 lanes, not bool: the NaN test and the OR vectorize.
                // The first input sets the mask, so it needs no clearing.
                let (first, rest) = srcs.split_first().expect("pixels come from inputs");
                mask.iter_mut()
                    .zip(first.iter())
                    .for_each(|(m, x)| *m = u64::from(x.is_nan()));
                for src in rest {
                    mask.iter_mut()
                        .zip(src.iter())
                        .for_each(|(m, x)| *m |= u64::from(x.is_nan()));
                }
            }
            for (out, &r) in outs.iter_mut().zip(&self.outputs) {
                let reg = operand(&srcs, &regs, r, n);
                let vals = reg.iter().zip(mask.iter());
                let nan = |bad: bool, v: f64| if bad { f64::NAN } else { v };
                match (propagate, opts.nonfinite_to_nan) {
                    (true, true) => {
                        out.extend(vals.map(|(&v, &m)| nan(m != 0 || !v.is_finite(), v)))
                    }
                    (true, false) => out.extend(vals.map(|(&v, &m)| nan(m != 0, v))),
                    (false, true) => out.extend(reg.iter().map(|&v| nan(!v.is_finite(), v))),
                    (false, false) => out.extend_from_slice(reg),
                }
            }
            start += n;
        }
        outs.into_iter()
            .map(|v| Array2::from_shape_vec(shape, v).expect("one value per pixel"))
            .collect()
    }
}

/// The first `n` values of register `r`: an input's chunk or a register.
#[inline(always)]
fn operand<'a>(srcs: &[&'a [f64]], regs: &'a [Vec<f64>], r: Reg, n: usize) -> &'a [f64] {
    match srcs.get(r) {
        Some(src) => src,
        None => &regs[r][..n],
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

/// Runs one instruction over the first `n` values; `consts` lists the
/// registers holding constants.
#[inline(always)]
fn exec(ins: &Instr, consts: &[(Reg, f64)], srcs: &[&[f64]], regs: &mut [Vec<f64>], n: usize) {
    let dst = match ins {
        Instr::Un(_, d, _) | Instr::Bin(_, d, _, _) | Instr::Where(d, _) | Instr::Clamp(d, _) => *d,
        Instr::Mean(d, _, _) | Instr::Bits(d, _, _, _) | Instr::In(d, _, _) => *d,
    };
    // Taking the destination out lets the kernel borrow it mutably while
    // reading other registers; the compiler never makes dst an operand.
    let mut out = std::mem::take(&mut regs[dst]);
    let d = &mut out[..n];
    let r = |i: Reg| operand(srcs, regs, i, n);
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
            // A constant operand is passed as a scalar: one register fewer
            // to stream, and what the kernel derives from it (such as a
            // bitwise operand's integer) is hoisted out of the loop.
            let konst = |i: Reg| consts.iter().find(|c| c.0 == i).map(|c| c.1);
            macro_rules! run2 {
                ($k:expr) => {
                    match (konst(*a), konst(*b)) {
                        (_, Some(y)) => map1(d, r(*a), |x| $k().apply(x, y)),
                        (Some(x), None) => map1(d, r(*b), |y| $k().apply(x, y)),
                        (None, None) => map2(d, r(*a), r(*b), |x, y| $k().apply(x, y)),
                    }
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
                for ((s, c), &x) in d
                    .iter_mut()
                    .zip(k.iter_mut())
                    .zip(operand(srcs, regs, a, n))
                {
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

#[cfg(test)]
mod tests {
    use gdal_sys::GDALDataType::GDT_Int32;
    use ndarray::Array2;

    use super::super::tests::{int_data, single};
    use super::super::{EvalOptions, Program};

    /// The scalar-operand kernels against the register-operand ones: `b1 OP
    /// K` and `K OP b1` must give, bit for bit, what `b1 OP b2` and `b2 OP
    /// b1` give with `b2` filled with K, for every binary operator, over
    /// integers, NaN, infinities, fractions and values beyond 2^53.
    #[test]
    fn constant_operands_match_register_operands() {
        let mut x = int_data(37, 123, 5);
        let edge = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -0.0,
            0.5,
            2f64.powi(60),
        ];
        for (i, v) in x.iter_mut().step_by(97).enumerate() {
            *v = edge[i % edge.len()];
        }
        let ops = [
            "+", "-", "*", "/", "**", "<", "<=", ">", ">=", "==", "!=", "and", "or", "&", "|", "^",
            "<<", ">>",
        ];
        let konsts = ["0", "1", "3", "26", "-2", "63", "64", "0.5", "nan"];
        let types = single(2, GDT_Int32);
        let mut compared = 0;
        for op in ops {
            for k in konsts {
                let kval: f64 = if k == "nan" {
                    f64::NAN
                } else {
                    k.parse().unwrap()
                };
                let y = Array2::from_elem(x.dim(), kval);
                for (with_k, with_reg) in [
                    (format!("b1 {op} ({k})"), format!("b1 {op} b2")),
                    (format!("({k}) {op} b1"), format!("b2 {op} b1")),
                ] {
                    let (Ok(pk), Ok(pr)) = (
                        Program::compile(&with_k, &types),
                        Program::compile(&with_reg, &types),
                    ) else {
                        continue; // A fractional bitwise operand is refused.
                    };
                    let got = &pk.eval(&[x.view()])[0];
                    let want = &pr.eval(&[x.view(), y.view()])[0];
                    for (g, w) in got.iter().zip(want.iter()) {
                        let ok = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan());
                        assert!(ok, "{with_k}: got {g}, want {w}");
                    }
                    compared += 1;
                }
            }
        }
        assert!(compared > 250, "only {compared} programs compared");
    }

    /// The AVX2 build of the loops against the baseline one, bit for bit,
    /// over every operator and function, on data with NaN, infinities,
    /// signed zeros, fractions and huge values. (Without AVX2 both calls
    /// take the baseline path; the boxes tilerun is built on have it.)
    #[test]
    fn wide_registers_give_identical_bits() {
        let mut x = super::super::tests::data(37, 123, 9);
        let mut y = int_data(37, 123, 11);
        let edge = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
            -0.0,
            0.0,
            0.5,
            -2.5,
            2f64.powi(60),
        ];
        for (i, v) in x.iter_mut().step_by(7).enumerate() {
            *v = edge[i % edge.len()];
        }
        for (i, v) in y.iter_mut().step_by(5).enumerate() {
            *v = edge[(i + 3) % edge.len()];
        }
        let srcs = [
            "b1 + b2; b1 - b2; b1 * b2; b1 / b2; b1 ** b2; -b1; abs(b1); sqrt(b1); log(b1); exp(b2)",
            "b1 < b2; b1 <= b2; b1 > b2; b1 >= b2; b1 == b2; b1 != b2; b1 and b2; b1 or b2; not b1",
            "min(b1, b2); max(b1, -0.0); min(-0.0, b2); mean(b1, b2, 3); clamp(b1, -1, b2); isnan(b1)",
            "where(b1, b2, nan); where(b2 > 1, b1, nodata); b2 in (0, 3, 26); isin(b1, 0.5, -0.0)",
            "b2 & 26; b2 | b2; b2 ^ 7; ~b2; b2 << 3; b2 >> 1; 1 << b2; bit(b2, 2); bits(b2, 1, 3)",
        ];
        let types = single(2, GDT_Int32);
        for src in srcs {
            // b1 holds fractions: the bitwise line reads b2 only.
            let p = Program::compile(src, &types).unwrap_or_else(|e| panic!("{e}"));
            let views = [x.view(), y.view()];
            let inputs: Vec<_> = p.slots().iter().map(|s| views[s.band - 1]).collect();
            for opts in [
                EvalOptions::default(),
                EvalOptions {
                    nan_if_any_input_nan: true,
                    nonfinite_to_nan: true,
                },
            ] {
                let wide = p.code.run(&inputs, opts);
                let base = p.code.run_any(&inputs, opts);
                for (o, (w, b)) in wide.iter().zip(&base).enumerate() {
                    for (a, c) in w.iter().zip(b.iter()) {
                        assert_eq!(a.to_bits(), c.to_bits(), "{src} output {o}: {a} vs {c}");
                    }
                }
            }
        }
    }
}
