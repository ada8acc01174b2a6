//! Names in the grammar: literals (`nan`, `nodata`), band references,
//! function calls and the constant arguments some functions and `in` take.
//!
//! Separate from `parse` (the operator grammar) because this is where the
//! language's vocabulary lives: the function list here is also the list of
//! reserved words that input names must avoid (`bind`).

use super::ast::{fold, Expr, Node, Ref, Target};
use super::lex::Tok;
use super::parse::{PResult, Parser};
use super::scalar::{BinOp, UnOp};
use super::ExprError;

/// Words that are not names: operators spelled as words and literals.
const KEYWORDS: &[&str] = &["and", "or", "not", "in", "nan", "nodata"];

/// True for keywords and function names, which no input may be called.
pub(super) fn is_reserved(name: &str) -> bool {
    KEYWORDS.contains(&name) || signature(name).is_some()
}

impl Parser<'_> {
    /// An identifier in value position: literal, band reference or call.
    pub(super) fn ident(&mut self, name: String, col: usize) -> PResult {
        // `nodata` is NaN, which the engine writes as the output nodata.
        if name == "nan" || name == "nodata" {
            return Ok(Expr::leaf(Node::Num(f64::NAN), col));
        }
        if KEYWORDS.contains(&name.as_str()) {
            let hint = if name == "not" {
                " (put 'not ...' in parentheses here)"
            } else {
                ""
            };
            return Err(self.err(format!("expected a value, found '{name}'{hint}"), col));
        }
        let Some(sig) = signature(&name) else {
            if self.peek().tok == Tok::LParen {
                return Err(self.err(format!("unknown function '{name}'"), col));
            }
            let target = self.target(&name, col)?;
            self.refs.push(Ref { target, col });
            return Ok(Expr::leaf(Node::Ref(self.refs.len() - 1), col));
        };
        if self.peek().tok != Tok::LParen {
            return Err(self.err(format!("'{name}' is a function: write {sig}"), col));
        }
        let open = self.bump().col;
        let args = self.args(&name, open)?;
        self.call(&name, sig, args, col)
    }

    /// What a reference names: `bK`, `NAME` or `NAME.bK`.
    fn target(&self, name: &str, col: usize) -> Result<Target, ExprError> {
        let Some((input, band)) = name.split_once('.') else {
            return match band_number(name) {
                Some(k) => Ok(Target::Band(k.map_err(|m| self.err(m, col))?)),
                None => Ok(Target::Input(name.to_string())),
            };
        };
        match band_number(band) {
            Some(k) if !input.contains('.') && band_number(input).is_none() => {
                let k = k.map_err(|m| self.err(m, col))?;
                Ok(Target::InputBand(input.to_string(), k))
            }
            _ => Err(self.err(
                format!("'{name}' is not a band: write NAME.b1, NAME.b2, ..."),
                col,
            )),
        }
    }

    fn args(&mut self, name: &str, open: usize) -> Result<Vec<Expr>, ExprError> {
        let mut args = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(args);
                }
                ref other => {
                    return Err(self.err_here(format!(
                        "expected ',' or ')' in '{name}(' opened at column {}, found {}",
                        open + 1,
                        other.describe()
                    )))
                }
            }
        }
    }

    /// The `(v, ...)` after `in` (at column `col`): constants only.
    pub(super) fn value_list(&mut self, col: usize) -> Result<Vec<f64>, ExprError> {
        if self.peek().tok != Tok::LParen {
            let found = self.peek().tok.describe();
            return Err(self.err_here(format!(
                "expected '(' after 'in', as in x in (3, 8), found {found}"
            )));
        }
        let open = self.bump().col;
        let args = self.args("in", open)?;
        if args.is_empty() {
            return Err(self.err("'in' needs at least one value".into(), col));
        }
        args.into_iter().map(|a| self.member(a)).collect()
    }

    /// A value of `in (...)` or `isin(x, ...)`: a finite constant.
    fn member(&self, mut e: Expr) -> Result<f64, ExprError> {
        fold(&mut e);
        match e.node {
            Node::Num(v) if v.is_finite() => Ok(v),
            Node::Num(_) => Err(self.err(
                "nothing equals nan, nodata or inf; test nodata with isnan(x)".into(),
                e.col,
            )),
            _ => Err(self.err("the values to match must be constant numbers".into(), e.col)),
        }
    }

    /// A whole-number constant argument in `lo..=hi`.
    fn whole(&self, mut e: Expr, what: &str, lo: u32, hi: u32) -> Result<u32, ExprError> {
        fold(&mut e);
        match e.node {
            Node::Num(v) if v.fract() == 0.0 && v >= lo as f64 && v <= hi as f64 => Ok(v as u32),
            _ => Err(self.err(
                format!("{what} must be a constant whole number from {lo} to {hi}"),
                e.col,
            )),
        }
    }

    fn call(&self, name: &str, sig: &str, mut args: Vec<Expr>, col: usize) -> PResult {
        let n = args.len();
        let variadic = matches!(name, "min" | "max" | "mean" | "isin");
        let want = match name {
            "where" | "clamp" | "bits" => 3,
            "pow" | "bit" => 2,
            _ if variadic => 2,
            _ => 1,
        };
        if (variadic && n < want) || (!variadic && n != want) {
            let at_least = if variadic { "at least " } else { "" };
            let s = if want == 1 { "" } else { "s" };
            return Err(self.err(
                format!("{name}() takes {at_least}{want} argument{s}: {sig}; got {n}"),
                col,
            ));
        }
        let three = |mut a: Vec<Expr>| {
            let z = a.pop().expect("arity checked");
            let y = a.pop().expect("arity checked");
            let x = a.pop().expect("arity checked");
            Box::new([x, y, z])
        };
        let unary = match name {
            "abs" => Some(UnOp::Abs),
            "sqrt" => Some(UnOp::Sqrt),
            "log" => Some(UnOp::Ln),
            "exp" => Some(UnOp::Exp),
            "isnan" => Some(UnOp::IsNan),
            _ => None,
        };
        if let Some(op) = unary {
            let x = args.pop().expect("arity checked");
            return self.mk(Node::Un(op, Box::new(x)), col);
        }
        match name {
            "where" => self.mk(Node::Where(three(args)), col),
            "clamp" => self.mk(Node::Clamp(three(args)), col),
            "mean" => self.mk(Node::Mean(args), col),
            "bit" | "bits" => self.bits(name, args, col),
            "isin" => {
                let set = args.split_off(1);
                let set = set
                    .into_iter()
                    .map(|a| self.member(a))
                    .collect::<Result<_, _>>()?;
                let x = args.pop().expect("arity checked");
                self.mk(Node::In(Box::new(x), set), col)
            }
            _ => {
                let op = match name {
                    "min" => BinOp::Min,
                    "max" => BinOp::Max,
                    "pow" => BinOp::Pow,
                    _ => unreachable!("signature() and call() list the same functions"),
                };
                let rest = args.split_off(1);
                let mut acc = args.pop().expect("arity checked");
                for a in rest {
                    acc = self.mk(Node::Bin(op, Box::new(acc), Box::new(a)), col)?;
                }
                Ok(acc)
            }
        }
    }

    /// `bit(x, n)` is `bits(x, n, 1)`; positions count from the least
    /// significant bit, 0 to 63.
    fn bits(&self, name: &str, mut args: Vec<Expr>, col: usize) -> PResult {
        let count = (name == "bits").then(|| args.pop().expect("arity checked"));
        let first = args.pop().expect("arity checked");
        let x = args.pop().expect("arity checked");
        let (name, what) = match count {
            Some(_) => ("bits", "bits(): first"),
            None => ("bit", "bit(): the bit number"),
        };
        let first = self.whole(first, what, 0, 63)?;
        let count = match count {
            Some(c) => self.whole(c, "bits(): count", 1, 64 - first)?,
            None => 1,
        };
        let node = Node::Bits {
            x: Box::new(x),
            first,
            count,
            name,
        };
        self.mk(node, col)
    }
}

/// `Some` when `name` looks like a band reference (`b` + digits); the inner
/// result says whether the number is usable.
pub(super) fn band_number(name: &str) -> Option<Result<usize, String>> {
    let digits = name.strip_prefix('b')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match digits.parse::<usize>() {
        Ok(0) => Err("bands are numbered from 1: b0 does not exist".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("band number too large: {name}")),
    })
}

/// The usage line of each function, which also serves as the function list.
fn signature(name: &str) -> Option<&'static str> {
    Some(match name {
        "where" => "where(cond, a, b)",
        "min" => "min(a, b, ...)",
        "max" => "max(a, b, ...)",
        "mean" => "mean(a, b, ...)",
        "abs" => "abs(x)",
        "sqrt" => "sqrt(x)",
        "log" => "log(x)",
        "exp" => "exp(x)",
        "isnan" => "isnan(x)",
        "pow" => "pow(x, y)",
        "clamp" => "clamp(x, lo, hi)",
        "bit" => "bit(x, n)",
        "bits" => "bits(x, first, count)",
        "isin" => "isin(x, v, ...)",
        _ => return None,
    })
}
