//! Recursive-descent parser from tokens to the syntax tree.
//!
//! Hand-written rather than generated: the grammar is a dozen rules, and
//! owning the parser is what gives exact error columns and messages that say
//! what was expected ("where() takes 3 arguments"). The AST is only an
//! intermediate form: `compile` turns it to vector instructions.
//!
//! Precedence, loosest first, as in Python: `or`, `and`, `not`,
//! comparisons and `in`/`not in` (not chainable), `|`, `^`, `&`, `<< >>`,
//! `+ -`, `* /`, unary `-`/`+`/`~`, `**` (right-associative, so `-2**2` is
//! -4 and `2**-1` is 0.5). So `qa & 8 == 0` is `(qa & 8) == 0`, unlike C.
//! Function calls and names are in `calls`.

use super::ast::Ref;
use super::ast::{Expr, Node};
use super::lex::{lex, Tok, Token};
use super::scalar::{BinOp, UnOp};
use super::ExprError;

/// Deepest AST accepted: folding, compiling and dropping recurse over the
/// tree, and must not overflow a worker thread's stack on hostile input.
const MAX_DEPTH: usize = 1000;
/// Deepest parser recursion (parentheses, call arguments, prefix operators).
const MAX_NEST: usize = 100;

pub(super) struct Parsed {
    /// One unfolded tree per output: the type check needs them as written.
    pub outputs: Vec<Expr>,
    /// Source text of each output, trimmed.
    pub texts: Vec<String>,
    /// Band references in source order; `Node::Ref(i)` is `refs[i]`.
    pub refs: Vec<Ref>,
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
        outputs.push(p.expr()?);
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

pub(super) struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    nest: usize,
    pub(super) refs: Vec<Ref>,
}

pub(super) type PResult = Result<Expr, ExprError>;

impl Parser<'_> {
    pub(super) fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    pub(super) fn err(&self, msg: String, col: usize) -> ExprError {
        ExprError::new(msg, col, self.src)
    }

    pub(super) fn err_here(&self, msg: String) -> ExprError {
        self.err(msg, self.peek().col)
    }

    pub(super) fn is_kw(&self, word: &str) -> bool {
        kw(&self.peek().tok, word)
    }

    /// Builds a node from its children, refusing trees too deep to walk.
    pub(super) fn mk(&self, node: Node, col: usize) -> PResult {
        let child_depth = match &node {
            Node::Num(_) | Node::Ref(_) => 0,
            Node::Un(_, a) | Node::In(a, _) | Node::Bits { x: a, .. } => a.depth,
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
            col,
        })
    }

    /// Runs a recursive rule with the parser-recursion budget checked.
    pub(super) fn nested(&mut self, f: impl FnOnce(&mut Self) -> PResult) -> PResult {
        if self.nest >= MAX_NEST {
            return Err(self.err_here("expression is nested too deeply".into()));
        }
        self.nest += 1;
        let r = f(self);
        self.nest -= 1;
        r
    }

    pub(super) fn expr(&mut self) -> PResult {
        self.nested(|p| p.binary(0))
    }

    /// Operators binding at least as tightly as `min` (precedence climbing:
    /// one frame per nesting level rather than one per precedence level, so
    /// the nesting budget bounds the stack).
    fn binary(&mut self, min: u8) -> PResult {
        let start = self.pos;
        let mut lhs = if self.is_kw("not") && min <= NOT {
            let col = self.bump().col;
            let arg = self.nested(|p| p.binary(NOT))?;
            self.mk(Node::Un(UnOp::Not, Box::new(arg)), col)?
        } else {
            self.unary()?
        };
        loop {
            let t = &self.peek().tok;
            if min <= CMP && (cmp_op(t).is_some() || kw(t, "in") || self.is_not_in()) {
                lhs = self.comparison(lhs, start)?;
                continue;
            }
            let Some((bp, op)) = infix(t).filter(|(bp, _)| *bp >= min) else {
                return Ok(lhs);
            };
            let col = self.bump().col;
            let rhs = self.binary(bp + 1)?;
            lhs = self.mk(Node::Bin(op, Box::new(lhs), Box::new(rhs)), col)?;
        }
    }

    fn is_not_in(&self) -> bool {
        self.is_kw("not") && kw(&self.toks[self.pos + 1].tok, "in")
    }

    /// `lhs` (which started at token `start`) followed by a comparison or
    /// membership test; neither chains.
    fn comparison(&mut self, lhs: Expr, start: usize) -> PResult {
        let negated = self.is_not_in();
        let col = self.bump().col;
        let e = if let Some(op) = cmp_op(&self.toks[self.pos - 1].tok) {
            self.refuse_nodata_operand(start, self.pos - 1, &lhs)?;
            let rstart = self.pos;
            let rhs = self.binary(CMP + 1)?;
            self.refuse_nodata_operand(rstart, self.pos, &rhs)?;
            self.mk(Node::Bin(op, Box::new(lhs), Box::new(rhs)), col)?
        } else {
            if negated {
                self.bump();
            }
            let set = self.value_list(col)?;
            let e = self.mk(Node::In(Box::new(lhs), set), col)?;
            match negated {
                true => self.mk(Node::Un(UnOp::Not, Box::new(e)), col)?,
                false => e,
            }
        };
        let t = &self.peek().tok;
        if cmp_op(t).is_some() || kw(t, "in") || self.is_not_in() {
            return Err(
                self.err_here("comparisons cannot be chained; combine them with 'and'".into())
            );
        }
        Ok(e)
    }

    /// `x == nodata` looks reasonable but is never true (nodata is NaN
    /// here, and input nodata is already NaN or masked): refuse it. The
    /// operand spans tokens `start..end`.
    fn refuse_nodata_operand(&self, start: usize, end: usize, e: &Expr) -> Result<(), ExprError> {
        if end == start + 1 && kw(&self.toks[start].tok, "nodata") {
            return Err(self.err(
                "nothing equals 'nodata'; test input nodata with isnan(x) under \
                 --nodata-policy ignore"
                    .into(),
                e.col,
            ));
        }
        Ok(())
    }

    /// Prefix `-`, `+`, `~`, looser than `**`: `-2**2` is -4.
    fn unary(&mut self) -> PResult {
        let op = match self.peek().tok {
            Tok::Minus => UnOp::Neg,
            Tok::Tilde => UnOp::BitNot,
            Tok::Plus => {
                self.bump();
                return self.nested(Self::unary);
            }
            _ => return self.power(),
        };
        let col = self.bump().col;
        let arg = self.nested(Self::unary)?;
        self.mk(Node::Un(op, Box::new(arg)), col)
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
            Tok::Num(v) => Ok(Expr::leaf(Node::Num(v), t.col)),
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

/// Binding powers, loosest first; `**` and the prefix operators are handled
/// by `unary`/`power`.
const NOT: u8 = 3;
const CMP: u8 = 4;

/// Binding power and operator of a left-associative infix token.
fn infix(t: &Tok) -> Option<(u8, BinOp)> {
    Some(match t {
        Tok::Ident(s) if s == "or" => (1, BinOp::Or),
        Tok::Ident(s) if s == "and" => (2, BinOp::And),
        Tok::Pipe => (5, BinOp::BitOr),
        Tok::Caret => (6, BinOp::BitXor),
        Tok::Amp => (7, BinOp::BitAnd),
        Tok::Shl => (8, BinOp::Shl),
        Tok::Shr => (8, BinOp::Shr),
        Tok::Plus => (9, BinOp::Add),
        Tok::Minus => (9, BinOp::Sub),
        Tok::Star => (10, BinOp::Mul),
        Tok::Slash => (10, BinOp::Div),
        _ => return None,
    })
}

fn kw(t: &Tok, word: &str) -> bool {
    matches!(t, Tok::Ident(s) if s == word)
}
