//! Compilation of the syntax tree to a linear list of register
//! instructions, done once per expression.
//!
//! Registers are chunk-sized buffers (see `eval`). Temporaries are recycled
//! as soon as they are consumed, so even long expressions need few registers
//! and the working set stays in cache.

use super::ast::{Expr, Node};
use super::scalar::{BinOp, UnOp};

/// Register index. Registers `0..inputs` hold the input bands, then come
/// constants (filled once per eval), then temporaries.
pub(super) type Reg = usize;

#[derive(Debug, Clone)]
pub(super) enum Instr {
    Un(UnOp, Reg, Reg),
    Bin(BinOp, Reg, Reg, Reg),
    Where(Reg, [Reg; 3]),
    Clamp(Reg, [Reg; 3]),
    /// dst, a scratch register for the counts, arguments.
    Mean(Reg, Reg, Vec<Reg>),
    /// dst, src, first bit, bit count.
    Bits(Reg, Reg, u32, u32),
    /// dst, src, the values to match.
    In(Reg, Reg, Vec<f64>),
}

#[derive(Debug, Clone)]
pub(super) struct Code {
    pub(super) inputs: usize,
    pub(super) consts: Vec<(Reg, f64)>,
    pub(super) regs: usize,
    pub(super) instrs: Vec<Instr>,
    pub(super) outputs: Vec<Reg>,
}

/// Compiles the outputs; reference `i` (`Node::Ref(i)`) reads input
/// register `ref_regs[i]`, one of `0..inputs`.
pub(super) fn compile(outputs: &[Expr], ref_regs: &[Reg], inputs: usize) -> Code {
    let mut c = Compiler {
        ref_regs,
        consts: Vec::new(),
        next: inputs,
        free: Vec::new(),
        instrs: Vec::new(),
    };
    // Output registers are never freed: they must survive until the chunk
    // is stored, so later outputs cannot clobber them.
    let outputs = outputs.iter().map(|e| c.gen(e).0).collect();
    Code {
        inputs,
        consts: c.consts,
        regs: c.next,
        instrs: c.instrs,
        outputs,
    }
}

struct Compiler<'a> {
    ref_regs: &'a [Reg],
    consts: Vec<(Reg, f64)>,
    next: Reg,
    free: Vec<Reg>,
    instrs: Vec<Instr>,
}

impl Compiler<'_> {
    fn alloc(&mut self) -> Reg {
        self.free.pop().unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn release(&mut self, (r, temp): (Reg, bool)) {
        if temp {
            self.free.push(r);
        }
    }

    /// Emits code for a one-operand instruction built by `mk(dst, src)`.
    fn unary(&mut self, a: &Expr, mk: impl FnOnce(Reg, Reg) -> Instr) -> Reg {
        let a = self.gen(a);
        let d = self.alloc();
        self.instrs.push(mk(d, a.0));
        self.release(a);
        d
    }

    /// Emits code for `e`; returns its register and whether it is a
    /// temporary (reusable once consumed). The destination is allocated
    /// before the operands are released, so a kernel never writes a
    /// register it reads.
    fn gen(&mut self, e: &Expr) -> (Reg, bool) {
        let dst = match &e.node {
            Node::Num(v) => {
                let found = self.consts.iter().find(|(_, c)| c.to_bits() == v.to_bits());
                if let Some(&(r, _)) = found {
                    return (r, false);
                }
                self.next += 1;
                self.consts.push((self.next - 1, *v));
                return (self.next - 1, false);
            }
            Node::Ref(i) => return (self.ref_regs[*i], false),
            Node::Un(op, a) => self.unary(a, |d, s| Instr::Un(*op, d, s)),
            Node::Bits {
                x, first, count, ..
            } => self.unary(x, |d, s| Instr::Bits(d, s, *first, *count)),
            Node::In(x, set) => self.unary(x, |d, s| Instr::In(d, s, set.clone())),
            Node::Bin(op, a, b) => {
                let (a, b) = (self.gen(a), self.gen(b));
                let d = self.alloc();
                self.instrs.push(Instr::Bin(*op, d, a.0, b.0));
                self.release(a);
                self.release(b);
                d
            }
            Node::Where(v) | Node::Clamp(v) => {
                let args = [self.gen(&v[0]), self.gen(&v[1]), self.gen(&v[2])];
                let d = self.alloc();
                let regs = args.map(|a| a.0);
                self.instrs.push(match e.node {
                    Node::Where(_) => Instr::Where(d, regs),
                    _ => Instr::Clamp(d, regs),
                });
                args.into_iter().for_each(|a| self.release(a));
                d
            }
            Node::Mean(v) => {
                let args: Vec<(Reg, bool)> = v.iter().map(|a| self.gen(a)).collect();
                let d = self.alloc();
                let cnt = self.alloc();
                self.instrs
                    .push(Instr::Mean(d, cnt, args.iter().map(|a| a.0).collect()));
                self.free.push(cnt);
                args.into_iter().for_each(|a| self.release(a));
                d
            }
        };
        (dst, true)
    }
}
