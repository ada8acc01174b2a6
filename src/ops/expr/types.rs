//! Integer/float typing, so bitwise operators only ever see whole numbers.
//!
//! Everything is evaluated in f64, but `qa & 8` on a Float32 band, or on
//! `b1 / 2`, would have to truncate fractions silently. Like numpy (which
//! raises a TypeError), we refuse at compile time instead, and say which
//! operand is fractional: the input and its GDAL type, the operator that
//! divides, or the constant. Integer-valued: integer inputs, whole-number
//! constants, `nan`/`nodata` (NaN stays NaN), and what `+ - *`, `min`,
//! `max`, `abs`, `where`, `clamp`, comparisons, logic, bitwise operators,
//! `bit`, `bits` and `in` make of them; `/`, powers, `sqrt`, `log`, `exp`
//! and `mean` are fractional.

use std::cell::Cell;
use std::ffi::CStr;

use gdal_sys::GDALDataType;

use super::ast::Ref;
use super::ast::{Expr, Node};
use super::bind::{Bindings, Slot};
use super::scalar::{BinOp, UnOp};
use super::ExprError;

/// Why a value may be fractional: the column to point at and the cause.
/// Small and `Copy`, so the recursion in `ty` keeps small stack frames
/// (trees may be 1000 deep); messages are only built on error.
#[derive(Clone, Copy)]
struct Frac {
    col: usize,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    /// A float input: the index of its reference.
    Input(usize),
    Op(&'static str),
    Const(f64),
}

/// `None` for integer-valued.
type Ty = Option<Frac>;

struct Checker<'a> {
    refs: &'a [Ref],
    slots: &'a [Slot],
    inputs: &'a Bindings,
    /// A bitwise operator (its symbol) with a fractional operand. Recorded rather than returned through `?`, which costs
    /// kilobytes of stack per level in debug builds.
    bad: Cell<Option<(&'static str, Frac)>>,
}

/// Checks every bitwise operand of `outputs`; `slots[i]` is what `refs[i]`
/// resolved to.
pub(super) fn check(
    outputs: &[Expr],
    refs: &[Ref],
    slots: &[Slot],
    inputs: &Bindings,
    src: &str,
) -> Result<(), ExprError> {
    let c = Checker {
        refs,
        slots,
        inputs,
        bad: Cell::new(None),
    };
    for e in outputs {
        c.ty(e);
        // Outputs are checked in order, so an error in the first wins.
        if let Some((sym, f)) = c.bad.get() {
            let mut err = ExprError::new(c.message(sym, f), f.col, src);
            if let Kind::Input(i) = f.kind {
                err.input = Some(slots[i].input);
            }
            return Err(err);
        }
    }
    Ok(())
}

fn frac(col: usize, kind: Kind) -> Ty {
    Some(Frac { col, kind })
}

impl Checker<'_> {
    fn ty(&self, e: &Expr) -> Ty {
        let col = e.col;
        match &e.node {
            Node::Num(v) if v.is_nan() || v.fract() == 0.0 => None,
            Node::Num(v) => frac(col, Kind::Const(*v)),
            Node::Ref(i) => self.slot_ty(*i),
            Node::Un(op, a) => {
                let t = self.ty(a);
                match op {
                    UnOp::Neg | UnOp::Abs => t,
                    UnOp::Not | UnOp::IsNan => None,
                    UnOp::BitNot => self.int("~", t),
                    UnOp::Sqrt => frac(col, Kind::Op("sqrt()")),
                    UnOp::Ln => frac(col, Kind::Op("log()")),
                    UnOp::Exp => frac(col, Kind::Op("exp()")),
                }
            }
            Node::Bin(op, a, b) => {
                let (ta, tb) = (self.ty(a), self.ty(b));
                match op {
                    _ if bitwise(*op).is_some() => {
                        let sym = bitwise(*op).expect("bitwise");
                        self.int(sym, ta);
                        self.int(sym, tb)
                    }
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Min | BinOp::Max => ta.or(tb),
                    BinOp::Div => frac(col, Kind::Op("'/'")),
                    BinOp::Pow => frac(col, Kind::Op("a power")),
                    _ => None,
                }
            }
            Node::Where(v) => {
                self.ty(&v[0]);
                self.ty(&v[1]).or(self.ty(&v[2]))
            }
            Node::Clamp(v) => self.ty(&v[0]).or(self.ty(&v[1])).or(self.ty(&v[2])),
            Node::Mean(v) => {
                for a in v {
                    self.ty(a);
                }
                frac(col, Kind::Op("mean()"))
            }
            Node::Bits { x, name, .. } => {
                let t = self.ty(x);
                self.int(if *name == "bit" { "bit()" } else { "bits()" }, t)
            }
            Node::In(x, _) => {
                self.ty(x);
                None
            }
        }
    }

    fn slot_ty(&self, i: usize) -> Ty {
        let (integer, _) = type_info(self.inputs.band_type(self.slots[i]));
        match integer {
            true => None,
            false => frac(self.refs[i].col, Kind::Input(i)),
        }
    }

    /// Records a fractional operand of the bitwise operator `sym` (the
    /// leftmost one is reported); the result of a bitwise operator is an
    /// integer.
    fn int(&self, sym: &'static str, t: Ty) -> Ty {
        if let Some(f) = t {
            if self.bad.get().is_none_or(|(_, b)| f.col < b.col) {
                self.bad.set(Some((sym, f)));
            }
        }
        None
    }

    fn message(&self, sym: &str, f: Frac) -> String {
        let op = if sym.ends_with(')') {
            format!("{sym} needs")
        } else {
            format!("bitwise '{sym}' needs")
        };
        let msg = match f.kind {
            Kind::Input(i) => {
                let (_, type_name) = type_info(self.inputs.band_type(self.slots[i]));
                format!(
                    "{op} an integer input; '{}' is {type_name}",
                    self.refs[i].text()
                )
            }
            Kind::Op(what) => format!("{op} whole numbers, but {what} can give fractions"),
            Kind::Const(v) => format!("{op} whole numbers, but {v} is not one"),
        };
        match sym {
            "^" => msg + " ('^' is bitwise xor; for a power write '**' or pow())",
            _ => msg,
        }
    }
}

/// Whether a GDAL sample type holds integers, and its name.
fn type_info(t: GDALDataType::Type) -> (bool, String) {
    // SAFETY: pure queries on a type code.
    unsafe {
        let n = gdal_sys::GDALGetDataTypeName(t);
        let name = if n.is_null() {
            "of an unknown type".to_string()
        } else {
            CStr::from_ptr(n).to_string_lossy().into_owned()
        };
        let integer = gdal_sys::GDALDataTypeIsInteger(t) != 0 && t != GDALDataType::GDT_Unknown;
        (integer, name)
    }
}

/// The symbol of a bitwise operator, `None` for the others.
fn bitwise(op: BinOp) -> Option<&'static str> {
    Some(match op {
        BinOp::BitAnd => "&",
        BinOp::BitOr => "|",
        BinOp::BitXor => "^",
        BinOp::Shl => "<<",
        BinOp::Shr => ">>",
        _ => return None,
    })
}
