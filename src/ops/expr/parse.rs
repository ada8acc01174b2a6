//! Recursive-descent parser from tokens to the syntax tree.
//!
//! Hand-written rather than generated: the grammar is a dozen rules, and
//! owning the parser is what gives exact error columns and messages that say
//! what was expected ("where() takes 3 arguments"). The AST is only an
//! intermediate form: `compile` turns it to vector instructions.
//!
//! Precedence, loosest first: `or`, `and`, `not`, comparisons (not
//! chainable), `+ -`, `* /`, unary `-`/`+`, `^`/`**` (right-associative, so
//! `-2^2` is -4 and `2^-1` is 0.5, as in Python).

use super::ast::{fold, BandRef, Expr, Node};
use super::lex::{lex, Tok, Token};
use super::scalar::{BinOp, UnOp};
use super::ExprError;

/// Deepest AST accepted: folding, compiling and dropping recurse over the
/// tree, and must not overflow a worker thread's stack on hostile input.
const MAX_DEPTH: usize = 1000;
/// Deepest parser recursion (parentheses, call arguments, prefix operators).
const MAX_NEST: usize = 100;

pub(super) struct Parsed {
    pub outputs: Vec<Expr>,
    /// Source text of each output, trimmed.
    pub texts: Vec<String>,
    pub refs: Vec<BandRef>,
}

/// Parses `;`-separated expressions; one trailing `;` is allowed.
pub(super) fn parse(src: &str) -> Result<Parsed, ExprError> {
    let mut p = Parser {
        src,
        toks: lex(src)?,
        pos: 0,
        nest: 0,
        refs: Vec::new(),
    };
    let mut outputs = Vec::new();
    let mut texts = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    loop {
        let start = p.peek().col;
        outputs.push(fold(p.expr()?));
        let text: String = chars[start..p.peek().col].iter().collect();
        texts.push(text.trim_end().to_string());
        match p.peek().tok {
            Tok::Semi => {
                p.pos += 1;
                if p.peek().tok == Tok::End {
                    break;
                }
            }
            Tok::End => break,
            Tok::RParen => return Err(p.err_here("unmatched ')'".into())),
            _ => {
                let found = p.peek().tok.describe();
                return Err(p.err_here(format!("expected an operator or ';', found {found}")));
            }
        }
    }
    Ok(Parsed {
        outputs,
        texts,
        refs: p.refs,
    })
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    nest: usize,
    refs: Vec<BandRef>,
}

type PResult = Result<Expr, ExprError>;

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn err(&self, msg: String, col: usize) -> ExprError {
        ExprError::new(msg, col, self.src)
    }

    fn err_here(&self, msg: String) -> ExprError {
        self.err(msg, self.peek().col)
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s == kw)
    }

    /// Builds a node from its children, refusing trees too deep to walk.
    fn mk(&self, node: Node, col: usize) -> PResult {
        let child_depth = match &node {
            Node::Num(_) | Node::Band(_) => 0,
            Node::Un(_, a) => a.depth,
            Node::Bin(_, a, b) => a.depth.max(b.depth),
            Node::Where(v) | Node::Clamp(v) => v.iter().map(|e| e.depth).max().unwrap_or(0),
            Node::Mean(v) => v.iter().map(|e| e.depth).max().unwrap_or(0),
        };
        if child_depth >= MAX_DEPTH {
            return Err(self.err("expression is nested too deeply".into(), col));
        }
        Ok(Expr {
            node,
            depth: child_depth + 1,
        })
    }

    /// Runs a recursive rule with the parser-recursion budget checked.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> PResult) -> PResult {
        if self.nest >= MAX_NEST {
            return Err(self.err_here("expression is nested too deeply".into()));
        }
        self.nest += 1;
        let r = f(self);
        self.nest -= 1;
        r
    }

    fn expr(&mut self) -> PResult {
        self.nested(Self::or)
    }

    fn or(&mut self) -> PResult {
        let mut lhs = self.and()?;
        while self.is_kw("or") {
            let col = self.bump().col;
            let rhs = self.and()?;
            lhs = self.mk(Node::Bin(BinOp::Or, Box::new(lhs), Box::new(rhs)), col)?;
        }
        Ok(lhs)
    }

    fn and(&mut self) -> PResult {
        let mut lhs = self.not()?;
        while self.is_kw("and") {
            let col = self.bump().col;
            let rhs = self.not()?;
            lhs = self.mk(Node::Bin(BinOp::And, Box::new(lhs), Box::new(rhs)), col)?;
        }
        Ok(lhs)
    }

    fn not(&mut self) -> PResult {
        if self.is_kw("not") {
            let col = self.bump().col;
            let arg = self.nested(Self::not)?;
            return self.mk(Node::Un(UnOp::Not, Box::new(arg)), col);
        }
        self.cmp()
    }

    fn cmp(&mut self) -> PResult {
        let lhs = self.add()?;
        let Some(op) = cmp_op(&self.peek().tok) else {
            return Ok(lhs);
        };
        let col = self.bump().col;
        let rhs = self.add()?;
        if cmp_op(&self.peek().tok).is_some() {
            return Err(
                self.err_here("comparisons cannot be chained; combine them with 'and'".into())
            );
        }
        self.mk(Node::Bin(op, Box::new(lhs), Box::new(rhs)), col)
    }

    fn add(&mut self) -> PResult {
        let mut lhs = self.mul()?;
        loop {
            let op = match self.peek().tok {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            let col = self.bump().col;
            let rhs = self.mul()?;
            lhs = self.mk(Node::Bin(op, Box::new(lhs), Box::new(rhs)), col)?;
        }
    }

    fn mul(&mut self) -> PResult {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek().tok {
                Tok::Star => BinOp::Mul,
                Tok::Slash => BinOp::Div,
                _ => return Ok(lhs),
            };
            let col = self.bump().col;
            let rhs = self.unary()?;
            lhs = self.mk(Node::Bin(op, Box::new(lhs), Box::new(rhs)), col)?;
        }
    }

    fn unary(&mut self) -> PResult {
        match self.peek().tok {
            Tok::Minus => {
                let col = self.bump().col;
                let arg = self.nested(Self::unary)?;
                self.mk(Node::Un(UnOp::Neg, Box::new(arg)), col)
            }
            Tok::Plus => {
                self.bump();
                self.nested(Self::unary)
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> PResult {
        let base = self.primary()?;
        if self.peek().tok != Tok::Pow {
            return Ok(base);
        }
        let col = self.bump().col;
        // The exponent may itself be negated and is right-associative.
        let exp = self.nested(Self::unary)?;
        self.mk(Node::Bin(BinOp::Pow, Box::new(base), Box::new(exp)), col)
    }

    fn primary(&mut self) -> PResult {
        let t = self.bump();
        match t.tok {
            Tok::Num(v) => Ok(Expr::leaf(Node::Num(v))),
            Tok::LParen => {
                let e = self.expr()?;
                if self.peek().tok != Tok::RParen {
                    let found = self.peek().tok.describe();
                    return Err(self.err_here(format!(
                        "expected ')' to close '(' at column {}, found {found}",
                        t.col + 1
                    )));
                }
                self.bump();
                Ok(e)
            }
            Tok::Ident(name) => self.ident(name, t.col),
            Tok::End => Err(self.err("expected a value, found end of expression".into(), t.col)),
            other => Err(self.err(
                format!("expected a value, found {}", other.describe()),
                t.col,
            )),
        }
    }

    fn ident(&mut self, name: String, col: usize) -> PResult {
        if name == "nan" {
            return Ok(Expr::leaf(Node::Num(f64::NAN)));
        }
        if let Some(band) = band_number(&name) {
            let band = band.map_err(|m| self.err(m, col))?;
            self.refs.push(BandRef { band, col });
            return Ok(Expr::leaf(Node::Band(band)));
        }
        if matches!(name.as_str(), "and" | "or" | "not") {
            let hint = if name == "not" {
                " (put 'not ...' in parentheses here)"
            } else {
                ""
            };
            return Err(self.err(format!("expected a value, found '{name}'{hint}"), col));
        }
        let Some(sig) = signature(&name) else {
            return Err(self.err(
                format!("unknown function or name '{name}' (bands are written b1, b2, ...)"),
                col,
            ));
        };
        if self.peek().tok != Tok::LParen {
            return Err(self.err(format!("'{name}' is a function: write {sig}"), col));
        }
        let open = self.bump().col;
        let args = self.args(&name, open)?;
        self.call(&name, sig, args, col)
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

    fn call(&self, name: &str, sig: &str, mut args: Vec<Expr>, col: usize) -> PResult {
        let n = args.len();
        let variadic = matches!(name, "min" | "max" | "mean");
        let want = match name {
            "where" | "clamp" => 3,
            "pow" => 2,
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
}

fn cmp_op(t: &Tok) -> Option<BinOp> {
    Some(match t {
        Tok::Lt => BinOp::Lt,
        Tok::Le => BinOp::Le,
        Tok::Gt => BinOp::Gt,
        Tok::Ge => BinOp::Ge,
        Tok::Eq => BinOp::Eq,
        Tok::Ne => BinOp::Ne,
        _ => return None,
    })
}

/// `Some` when `name` looks like a band reference (`b` + digits); the inner
/// result says whether the number is usable.
fn band_number(name: &str) -> Option<Result<usize, String>> {
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
        _ => return None,
    })
}
