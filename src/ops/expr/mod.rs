//! Band-math expression language: `(b4 - b3) / (b4 + b3)`, `where(...)`, ...
//!
//! Why a language of our own instead of an expression crate: the crates.io
//! evaluators (evalexpr, fasteval, meval) interpret one value at a time, so a
//! window would cost an AST walk per pixel. We need the AST itself, compiled
//! once to vector instructions (see `eval`), plus exact error columns. The
//! grammar is tiny, so a hand-written tokenizer (`lex`) and recursive-descent
//! parser (`parse`) are less code than adapting a parser generator.
//!
//! Language summary (documented for users in the README):
//! - operands: numbers (`2`, `0.5`, `.5`, `1e-3`, `0x1F`, `0b1010`, `0o17`),
//!   band references, `nan`, `nodata`, parentheses. References are resolved
//!   against a [`Bindings`] table: `b1`..`bN` (1-based, case-insensitive)
//!   for the bands of a single input, `NAME` (band 1) or `NAME.bK` for
//!   named inputs;
//! - operators, loosest first, as in Python: `or`, `and`, `not`, `< <= > >=
//!   == !=` and `in (v, ...)`/`not in (...)` (not chainable), `|`, `^`
//!   (xor), `&`, `<< >>`, `+ -`, `* /`, unary `- ~`, `**`
//!   (right-associative);
//! - functions: `where(c, a, b)`, `min`/`max`/`mean(a, b, ...)`, `abs`,
//!   `sqrt`, `log` (natural), `exp`, `isnan`, `pow(x, y)`, `clamp(x, lo,
//!   hi)`, `bit(x, n)`, `bits(x, first, count)`, `isin(x, v, ...)`;
//! - `;` separates outputs (one per output band); one trailing `;` is allowed.
//!
//! Semantics, all in f64: NaN propagates through arithmetic (including
//! `pow`, unlike IEEE's `pow(1, NaN) = 1`). Comparisons follow IEEE (any
//! comparison with NaN is false, except `!=`) and yield 1 or 0; `and`, `or`,
//! `not` treat a value as true when it is nonzero and not NaN. `where` with a
//! NaN condition gives NaN. `min`, `max`, `mean` skip NaN arguments (NaN only
//! if all are NaN): this is how the "ignore" nodata policy works. Division by
//! zero gives inf/NaN like IEEE; the caller decides what non-finite means.
//! `nodata` is NaN, which the engine writes as the output's nodata.
//!
//! Bitwise operators, `bit` and `bits` act on the exact i64 value (two's
//! complement, so `~x` is `-x - 1`); their operands must be integer-valued,
//! checked at compile time (`types`), and NaN gives NaN. A shift count
//! outside 0..=63 gives NaN. `in` and `isin` compare with `==` against
//! constants.

mod ast;
mod bind;
#[cfg(test)]
mod bits_tests;
mod calls;
mod compile;
#[cfg(test)]
mod error_tests;
mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod proptests;
mod scalar;
#[cfg(test)]
mod tests;
mod types;

use ndarray::{Array2, ArrayView2};

pub use bind::{Bindings, NameError, Slot};

/// A parse or band error, pointing at a 0-based character column of the
/// expression. Displays over three lines, with a caret under the column
/// (the message counts columns from 1, as editors do):
///
/// ```text
/// expression error at column 20: expected ')' to close '(' at column 12, found end of expression
///   (b4 - b3 / (b4 + b3
///                      ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expression error at column {}: {message}\n  {}\n  {}^", .column + 1, one_line(.expr), pad(.column))]
pub struct ExprError {
    pub message: String,
    /// 0-based character (not byte) column; may equal the length of the
    /// expression when the error is at its end.
    pub column: usize,
    /// The whole expression text.
    pub expr: String,
    /// The input ([`Slot::input`]) whose band is at fault, when the error
    /// is about one input's type: the caller can then name its file.
    pub input: Option<usize>,
}

impl ExprError {
    pub(crate) fn new(message: String, column: usize, expr: &str) -> Self {
        ExprError {
            message,
            column,
            expr: expr.to_string(),
            input: None,
        }
    }
}

/// Line breaks and tabs would misplace the caret: show them as spaces.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn pad(n: &usize) -> String {
    " ".repeat(*n)
}

/// What [`Program::eval_with`] does after evaluating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// Output NaN wherever any input band is NaN (the "propagate" policy).
    pub nan_if_any_input_nan: bool,
    /// Turn inf and -inf results into NaN (NaN means nodata to the engine).
    pub nonfinite_to_nan: bool,
}

/// A parsed and compiled expression (one or more outputs), cheap to share
/// between threads.
#[derive(Debug, Clone)]
pub struct Program {
    src: String,
    texts: Vec<String>,
    slots: Vec<Slot>,
    code: compile::Code,
}

impl Program {
    /// Parses `src`, resolves its band references against `inputs`, checks
    /// that bitwise operands are integers, constant-folds and compiles.
    /// Errors point at the column: syntax first, then the leftmost
    /// unresolvable reference, then a fractional bitwise operand.
    pub fn compile(src: &str, inputs: &Bindings) -> Result<Program, ExprError> {
        let parsed = parse::parse(src)?;
        let ref_slots = parsed
            .refs
            .iter()
            .map(|r| inputs.resolve(r, src))
            .collect::<Result<Vec<Slot>, _>>()?;
        types::check(&parsed.outputs, &parsed.refs, &ref_slots, inputs, src)?;
        let mut slots = ref_slots.clone();
        slots.sort_unstable();
        slots.dedup();
        let regs: Vec<usize> = ref_slots
            .iter()
            .map(|s| slots.binary_search(s).expect("slot listed"))
            .collect();
        let mut outputs = parsed.outputs;
        outputs.iter_mut().for_each(ast::fold);
        let code = compile::compile(&outputs, &regs, slots.len());
        Ok(Program {
            src: src.to_string(),
            texts: parsed.texts,
            slots,
            code,
        })
    }

    /// The input bands referenced anywhere in the text (even where folded
    /// away), sorted by input then band, without repeats: the views given to
    /// [`Program::eval`] are these, in this order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Number of `;`-separated expressions, i.e. output bands.
    pub fn outputs(&self) -> usize {
        self.code.outputs()
    }

    /// Evaluates every output over the views; `inputs[i]` holds slot
    /// `self.slots()[i]`, all of one shape (any strides), nodata as NaN. With
    /// no inputs the shape is unknown and the outputs are 0×0.
    ///
    /// # Panics
    /// If the number of views is not `slots().len()` or their shapes differ.
    pub fn eval(&self, inputs: &[ArrayView2<f64>]) -> Vec<Array2<f64>> {
        self.eval_with(inputs, EvalOptions::default())
    }

    /// [`Program::eval`] with nodata post-processing fused into the same
    /// chunked pass.
    pub fn eval_with(&self, inputs: &[ArrayView2<f64>], opts: EvalOptions) -> Vec<Array2<f64>> {
        self.code.run(inputs, opts)
    }

    /// The expression text as given.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The text of output `i` (0-based), trimmed: a band description.
    pub fn output_source(&self, i: usize) -> Option<&str> {
        self.texts.get(i).map(String::as_str)
    }
}
