//! Tests of error reporting: messages, and columns counted by hand from the
//! source text.

use gdal_sys::GDALDataType;

use super::tests::{bands, compile, single};
use super::{Bindings, Program};

/// Asserts that `src` fails at 0-based `col` with a message containing `msg`
/// (compiled against 300 Float64 bands).
fn bad(src: &str, col: usize, msg: &str) {
    bad_in(src, &single(300, GDALDataType::GDT_Float64), col, msg);
}

/// [`bad`] against the given inputs.
pub(super) fn bad_in(src: &str, inputs: &Bindings, col: usize, msg: &str) {
    match Program::compile(src, inputs) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(e) => {
            assert_eq!(e.column, col, "{src:?}: {e}");
            assert!(e.message.contains(msg), "{src:?}: {e}");
            assert_eq!(e.expr, src);
        }
    }
}

#[test]
fn error_columns() {
    bad(
        "(b4 - b3 / (b4 + b3",
        19,
        "expected ')' to close '(' at column 12",
    );
    bad("b1 + * b2", 5, "expected a value, found '*'");
    bad("b1 +", 4, "found end of expression");
    bad("", 0, "found end of expression");
    bad("b1;;b2", 3, "expected a value, found ';'");
    bad(";", 0, "expected a value");
    bad("b1 b2", 3, "expected an operator or ';', found 'b2'");
    bad("b1 + b2)", 7, "unmatched ')'");
    bad("b1 < b2 < b3", 8, "cannot be chained");
    bad("b1 = 2", 3, "'=='");
    bad("b1 ! b2", 3, "'not'");
    bad("b1 && b2", 3, "'and'");
    bad("b1 || b2", 3, "'or'");
    bad("b1 # 2", 3, "unexpected character '#'");
    bad("2b1 + 1", 0, "invalid number '2b1'");
    bad("b1 + 1.2.3", 5, "invalid number '1.2.3'");
    bad("b1 * 2e", 5, "invalid number '2e'");
    bad("b0 + 1", 0, "numbered from 1");
    bad("1 + b99999999999999999999999", 4, "too large");
    bad("b1 + not b2", 5, "put 'not ...' in parentheses");
    bad(
        "min(b1 b2)",
        7,
        "expected ',' or ')' in 'min(' opened at column 4",
    );
    bad("sqrt + 1", 0, "'sqrt' is a function: write sqrt(x)");
    bad(
        "b1 + x",
        5,
        "unknown function or name 'x' (bands are written b1, b2, ...)",
    );
    // Columns count characters: U+00A0 is whitespace, two bytes in UTF-8 (byte offset 7).
    bad("b1\u{a0}+\u{a0})", 5, "expected a value, found ')'");
    bad("b1 + é", 5, "unexpected character 'é'");
}

#[test]
fn unknown_function_and_arity() {
    bad("foo(b1)", 0, "unknown function 'foo'");
    bad(
        "b1 + where(b1, b2)",
        5,
        "where() takes 3 arguments: where(cond, a, b); got 2",
    );
    bad("clamp(b1)", 0, "clamp() takes 3 arguments");
    bad("min(b1)", 0, "min() takes at least 2 arguments");
    bad("max()", 0, "max() takes at least 2 arguments");
    bad("mean(b1)", 0, "mean() takes at least 2 arguments");
    bad("sqrt(b1, b2)", 0, "sqrt() takes 1 argument: sqrt(x); got 2");
    bad("1 + abs()", 4, "abs() takes 1 argument");
    bad("pow(b1)", 0, "pow() takes 2 arguments");
    bad("log(1, 2)", 0, "log() takes 1 argument");
    bad("exp()", 0, "exp() takes 1 argument");
}

#[test]
fn nesting_limits_give_errors_not_stack_overflows() {
    let deep = format!("{}b1{}", "(".repeat(500), ")".repeat(500));
    assert!(compile(&deep)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    let long = format!("b1{}", " + b1".repeat(5000));
    assert!(compile(&long)
        .unwrap_err()
        .message
        .contains("nested too deeply"));
    assert!(compile(&"-".repeat(5000)).is_err());
    // The deepest tree accepted compiles on a 2 MiB thread (a worker's
    // default), even with debug builds' large stack frames.
    let deepest = format!("b1{}", " + b1".repeat(999));
    let ok = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || compile(&deepest).map(|p| p.outputs()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(ok, Ok(1));
    assert!(compile(&format!("b1{}", " + b1".repeat(1000))).is_err());
    // Realistic sizes are fine: a 300-band sum.
    let sum: Vec<String> = (1..=300).map(|k| format!("b{k}")).collect();
    assert_eq!(bands(&compile(&sum.join(" + ")).unwrap()).len(), 300);
}

#[test]
fn error_display_has_caret_under_column() {
    let e = compile("(b4 - b3 / (b4 + b3").unwrap_err();
    let want = format!(
        "expression error at column 20: expected ')' to close '(' at column 12, \
         found end of expression\n  (b4 - b3 / (b4 + b3\n  {}^",
        " ".repeat(19)
    );
    assert_eq!(e.to_string(), want);
    // Newlines and tabs are shown as spaces so the caret stays aligned.
    let e = compile("b1 +\n\tb2 )").unwrap_err();
    assert_eq!(e.column, 9);
    assert_eq!(e.to_string().lines().nth(1), Some("  b1 +  b2 )"));
    assert_eq!(e.to_string().lines().nth(2), Some("           ^"));
}

#[test]
fn missing_bands_are_named() {
    let f64s = |n| single(n, GDALDataType::GDT_Float64);
    assert!(Program::compile("b1 + b5 * b5", &f64s(5)).is_ok());
    let e = Program::compile("b1 + b5 * b5", &f64s(4)).unwrap_err();
    assert_eq!(e.column, 5);
    assert_eq!(e.message, "band b5 does not exist: the input has 4 bands");
    let e = Program::compile("B2", &f64s(1)).unwrap_err();
    assert_eq!(e.message, "band b2 does not exist: the input has 1 band");
    assert_eq!(e.column, 0);
}
