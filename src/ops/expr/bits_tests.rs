//! Unit tests of the integer side of the language: bitwise operators and
//! their precedence, `bit`/`bits`, membership, `nodata`, radix literals,
//! the integer type check, and named inputs. Expected values come from
//! closures written here; columns are counted by hand.

use gdal_sys::GDALDataType::{self, GDT_Byte, GDT_Float32, GDT_Float64, GDT_Int16, GDT_UInt16};
use ndarray::{Array2, ArrayView2};

use super::error_tests::bad_in as bad;
use super::tests::{check_program, int_data, single};
use super::{Bindings, Program, Slot};

/// The documented integer semantics: whole finite values as i64, NaN
/// otherwise or when `f` has no answer.
fn iop(x: f64, y: f64, f: impl Fn(i64, i64) -> Option<i64>) -> f64 {
    let int = |v: f64| (v.is_finite() && v.trunc() == v).then_some(v as i64);
    match (int(x), int(y)) {
        (Some(a), Some(b)) => f(a, b).map_or(f64::NAN, |v| v as f64),
        _ => f64::NAN,
    }
}

fn b(v: bool) -> f64 {
    f64::from(u8::from(v))
}

/// Checks `src` over four UInt16-typed bands of whole numbers with NaN.
fn icheck(src: &str, oracle: impl Fn(&[f64]) -> f64) {
    let p = Program::compile(src, &single(4, GDT_UInt16)).unwrap_or_else(|e| panic!("{e}"));
    let bands: Vec<Array2<f64>> = (1..=4).map(|k| int_data(37, 123, k + 30)).collect();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    check_program(&p, &views, &[&oracle]);
}

#[test]
fn bitwise_operators() {
    icheck("b1 & b2", |v| iop(v[0], v[1], |a, b| Some(a & b)));
    icheck("b1 | 0x10", |v| iop(v[0], 16.0, |a, b| Some(a | b)));
    icheck("b1 ^ 0b1010", |v| iop(v[0], 10.0, |a, b| Some(a ^ b)));
    icheck("~b1", |v| iop(v[0], 0.0, |a, _| Some(-a - 1)));
    icheck("b1 << 3", |v| iop(v[0], 3.0, |a, b| Some(a << b)));
    icheck("b1 >> 2", |v| iop(v[0], 2.0, |a, b| Some(a >> b)));
    // Shift counts come from data too; outside 0..=63 the result is NaN.
    icheck("b1 >> b2", |v| {
        iop(v[0], v[1], |a, b| (0..64).contains(&b).then(|| a >> b))
    });
    icheck("b1 << (b2 - 100)", |v| {
        iop(v[0], v[1] - 100.0, |a, b| {
            (0..64).contains(&b).then(|| a << b)
        })
    });
    icheck("0o17 + 0X1f + 0B11 + b1 * 0", |v| {
        15.0 + 31.0 + 3.0 + v[0] * 0.0
    });
}

#[test]
fn bitwise_precedence_follows_python() {
    // & binds tighter than ==, unlike C.
    icheck("b1 & 1 == 0", |v| {
        b(iop(v[0], 1.0, |a, b| Some(a & b)) == 0.0)
    });
    icheck("b1 | b2 & b3", |v| {
        let and = iop(v[1], v[2], |a, b| Some(a & b));
        iop(v[0], and, |a, b| Some(a | b))
    });
    icheck("b1 ^ b2 & b3", |v| {
        let and = iop(v[1], v[2], |a, b| Some(a & b));
        iop(v[0], and, |a, b| Some(a ^ b))
    });
    icheck("b1 | b2 ^ b3", |v| {
        let xor = iop(v[1], v[2], |a, b| Some(a ^ b));
        iop(v[0], xor, |a, b| Some(a | b))
    });
    icheck("b1 << 1 + 1", |v| iop(v[0], 2.0, |a, b| Some(a << b)));
    icheck("b1 & 0xF0 >> 4", |v| iop(v[0], 15.0, |a, b| Some(a & b)));
    icheck("~b1 & 0xFF", |v| iop(v[0], 0.0, |a, _| Some(!a & 0xFF)));
    icheck("-b1 & 3", |v| iop(-v[0], 3.0, |a, b| Some(a & b)));
    icheck("b1 * 2 ^ b2", |v| iop(v[0] * 2.0, v[1], |a, b| Some(a ^ b)));
    icheck("b1 & 1 and b2 > 3 or b3 == 0", |v| {
        let t = |x: f64| !x.is_nan() && x != 0.0;
        b((t(iop(v[0], 1.0, |a, b| Some(a & b))) && v[1] > 3.0) || v[2] == 0.0)
    });
}

#[test]
fn bit_and_bits() {
    icheck("bit(b1, 0) + bit(b1, 7) * 10", |v| {
        let bit = |n: u32| iop(v[0], 0.0, |a, _| Some((a >> n) & 1));
        bit(0) + bit(7) * 10.0
    });
    icheck("bits(b1, 8, 2)", |v| {
        iop(v[0], 0.0, |a, _| Some((a >> 8) & 3))
    });
    icheck("bits(b1, 0, 64)", |v| iop(v[0], 0.0, |a, _| Some(a)));
    icheck("bits(-1 + b1 * 0, 60, 4)", |v| {
        iop(v[0] * 0.0, 0.0, |_, _| Some(15))
    });
    icheck("bit(b1, 1 + 2)", |v| {
        iop(v[0], 0.0, |a, _| Some((a >> 3) & 1))
    });
}

#[test]
fn membership() {
    let isin = |x: f64, s: &[f64]| b(s.contains(&x));
    icheck("b1 in (3, 8, 9, 10)", |v| {
        isin(v[0], &[3.0, 8.0, 9.0, 10.0])
    });
    icheck("b1 not in (0, 1)", |v| b(!(v[0] == 0.0 || v[0] == 1.0)));
    icheck("isin(b1 & 3, 1, 2)", |v| {
        isin(iop(v[0], 3.0, |a, b| Some(a & b)), &[1.0, 2.0])
    });
    icheck("not b1 in (-1, 2 + 1)", |v| {
        b(!(v[0] == -1.0 || v[0] == 3.0))
    });
    icheck("b1 in (0) and b2 in (1)", |v| b(v[0] == 0.0 && v[1] == 1.0));
    // Fractional inputs may be tested too: membership is ==.
    let p = Program::compile("b1 in (0.5, 2)", &single(1, GDT_Float32)).unwrap();
    let x = Array2::from_shape_vec((1, 4), vec![0.5, 2.0, f64::NAN, 1.0]).unwrap();
    assert_eq!(
        p.eval(&[x.view()])[0].as_slice().unwrap(),
        [1.0, 1.0, 0.0, 0.0]
    );
}

#[test]
fn nodata_is_nan_and_bitwise_keeps_nan() {
    icheck("where(bit(b1, 3), nodata, b1)", |v| {
        match iop(v[0], 0.0, |a, _| Some((a >> 3) & 1)) {
            x if x.is_nan() => f64::NAN,
            0.0 => v[0],
            _ => f64::NAN,
        }
    });
    icheck("nodata + b1", |_| f64::NAN);
    icheck("isnan(nodata) + b1 * 0", |v| 1.0 + v[0] * 0.0);
}

#[test]
fn syntax_errors() {
    let u16s = single(2, GDT_UInt16);
    let bad = |src, col, msg| bad(src, &u16s, col, msg);
    bad("b1 in 3", 6, "expected '(' after 'in'");
    bad("b1 in ()", 3, "'in' needs at least one value");
    bad("b1 in (1, b2)", 10, "constant numbers");
    bad("b1 in (1, nan)", 10, "nothing equals nan");
    bad("isin(b1, nodata)", 9, "nothing equals nan");
    bad("isin(b1)", 0, "isin() takes at least 2 arguments");
    bad("b1 in (1) in (2)", 10, "cannot be chained");
    bad("b1 == 1 in (1)", 8, "cannot be chained");
    bad(
        "bit(b1, 64)",
        8,
        "bit(): the bit number must be a constant whole number from 0 to 63",
    );
    bad("bit(b1, b2)", 8, "constant whole number");
    bad("bit(b1, 1.5)", 8, "constant whole number");
    bad(
        "bits(b1, 60, 5)",
        13,
        "bits(): count must be a constant whole number from 1 to 4",
    );
    bad("bits(b1, 0, 0)", 12, "from 1 to 64");
    bad(
        "bits(b1, 2)",
        0,
        "bits() takes 3 arguments: bits(x, first, count)",
    );
    bad("b1 == nodata", 6, "nothing equals 'nodata'");
    bad("nodata != b1", 0, "nothing equals 'nodata'");
    bad("b1 && b2", 3, "'&&' is not an operator; use 'and'");
    bad("b1 || b2", 3, "use 'or'");
    bad("b1 & 0x", 5, "invalid number '0x'");
    bad("b1 & 0b102", 5, "invalid number '0b102'");
    bad("b1 & 0x20000000000001", 5, "number too large");
    bad("b1 + not in (1)", 5, "expected a value, found 'not'");
    bad("in (1)", 0, "expected a value, found 'in'");
    bad("red.x + 1", 0, "'red.x' is not a band: write NAME.b1");
    bad("a.b.c", 0, "'a.b.c' is not a band");
    bad("b1.b2", 0, "'b1.b2' is not a band");
}

#[test]
fn bitwise_on_fractions_is_a_type_error() {
    let mixed = Bindings::named(&[
        ("red", &[GDT_Float32][..]),
        ("qa", &[GDT_UInt16, GDT_Float64]),
    ])
    .unwrap();
    bad(
        "qa & red",
        &mixed,
        5,
        "bitwise '&' needs an integer input; 'red' is Float32",
    );
    bad(
        "qa.b2 >> 1",
        &mixed,
        0,
        "bitwise '>>' needs an integer input; 'qa.b2' is Float64",
    );
    bad(
        "bit(red, 3)",
        &mixed,
        4,
        "bit() needs an integer input; 'red' is Float32",
    );
    bad(
        "bits(qa.b2, 0, 2)",
        &mixed,
        5,
        "bits() needs an integer input; 'qa.b2' is Float64",
    );
    bad("~red", &mixed, 1, "bitwise '~' needs an integer input");
    bad(
        "red ^ 2",
        &mixed,
        0,
        "'red' is Float32 ('^' is bitwise xor; for a power write '**' or pow())",
    );
    bad(
        "(qa / 2) & 1",
        &mixed,
        4,
        "bitwise '&' needs whole numbers, but '/' can give fractions",
    );
    bad(
        "2 ** 3 ^ qa",
        &mixed,
        2,
        "but a power can give fractions ('^' is bitwise xor",
    );
    bad("qa & 2.5", &mixed, 5, "but 2.5 is not one");
    bad("sqrt(qa) | 1", &mixed, 0, "sqrt() can give fractions");
    bad("qa | mean(qa, 1)", &mixed, 5, "mean() can give fractions");
    bad("where(qa, red, 1) & 1", &mixed, 10, "'red' is Float32");
    // The leftmost offender is reported, whatever the nesting.
    bad("red & (qa.b2 & 1)", &mixed, 0, "'red' is Float32");
    bad("qa; red | 1", &mixed, 4, "'red' is Float32");
    // The input at fault is named for the caller (which shows its file);
    // an operator's fraction is no one input's fault.
    let at = |src: &str| Program::compile(src, &mixed).unwrap_err().input;
    assert_eq!(at("qa & red"), Some(0));
    assert_eq!(at("qa.b2 >> 1"), Some(1));
    assert_eq!(at("(qa / 2) & 1"), None);
    // Integer-valued results are fine: arithmetic, where, clamp, logic, nan.
    let ints = "(qa * 2 + 1 - abs(qa)) & max(qa, 3) | where(red > 0, qa, nan) ^ (red > qa) \
                | clamp(qa, 0, 9) << 1 | (qa in (1, 2)) | bits(qa, 2, 2) | -qa | ~qa";
    assert!(Program::compile(ints, &mixed).is_ok());
    // Every integer GDAL type passes.
    for t in [
        GDT_Byte,
        GDT_UInt16,
        GDT_Int16,
        GDALDataType::GDT_UInt32,
        GDALDataType::GDT_Int32,
    ] {
        assert!(Program::compile("b1 & 1", &single(1, t)).is_ok(), "{t}");
    }
}

#[test]
fn named_inputs_resolve_to_slots() {
    let (f, u) = (GDT_Float32, GDT_UInt16);
    let inputs = Bindings::named(&[("Red", &[f][..]), ("nir", &[f]), ("qa", &[u, u, u])]).unwrap();
    assert_eq!(inputs.len(), 3);
    assert_eq!(inputs.name(0), Some("red"));
    assert_eq!(inputs.index("QA"), Some(2));
    assert_eq!(inputs.band_type(Slot { input: 2, band: 3 }), u);
    let src = "where(bits(QA.b3, 1, 2) in (1, 3), nodata, (nir - RED) / (nir + red)); qa.b1 & 1";
    let p = Program::compile(src, &inputs).unwrap();
    let s = |input, band| Slot { input, band };
    assert_eq!(p.slots(), [s(0, 1), s(1, 1), s(2, 1), s(2, 3)]);
    let red = Array2::from_shape_vec((1, 4), vec![0.1, 0.2, 0.3, f64::NAN]).unwrap();
    let nir = Array2::from_shape_vec((1, 4), vec![0.5, 0.4, 0.3, 0.2]).unwrap();
    let qa1 = Array2::from_shape_vec((1, 4), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
    let qa3 = Array2::from_shape_vec((1, 4), vec![0.0, 2.0, 6.0, 0.0]).unwrap();
    let out = p.eval(&[red.view(), nir.view(), qa1.view(), qa3.view()]);
    let ndvi = |r: f64, n: f64| (n - r) / (n + r);
    let want0 = [ndvi(0.1, 0.5), f64::NAN, f64::NAN, f64::NAN];
    for (g, w) in out[0].iter().zip(want0) {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{g} {w}"
        );
    }
    assert_eq!(out[1].as_slice().unwrap(), [1.0, 0.0, 1.0, 0.0]);
    // The issue's example, with unscaled (float) red and NIR.
    let issue = "where((qa & 0b11010) != 0, nodata, (nir - red) / (nir + red))";
    let p = Program::compile(issue, &inputs).unwrap();
    assert_eq!(p.slots(), [s(0, 1), s(1, 1), s(2, 1)]);
    let out = p.eval(&[red.view(), nir.view(), qa3.view()]);
    let want = [ndvi(0.1, 0.5), f64::NAN, f64::NAN, f64::NAN];
    for (g, w) in out[0].iter().zip(want) {
        assert!(
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()),
            "{g} {w}"
        );
    }
    // One named input: its bands may also be written b1..bN.
    let one = Bindings::named(&[("qa", &[u, u][..])]).unwrap();
    let p = Program::compile("b2 + qa + qa.b2", &one).unwrap();
    assert_eq!(p.slots(), [s(0, 1), s(0, 2)]);
}

#[test]
fn reference_errors_name_the_inputs() {
    let f = GDT_Float32;
    let two = Bindings::named(&[("red", &[f][..]), ("nir", &[f, f])]).unwrap();
    bad(
        "red + b1",
        &two,
        6,
        "'b1' is ambiguous with 2 inputs: write NAME.b1 (the inputs are red, nir)",
    );
    bad(
        "red + blue",
        &two,
        6,
        "unknown function or name 'blue' (the inputs are red, nir)",
    );
    bad(
        "nir.b3",
        &two,
        0,
        "band nir.b3 does not exist: input 'nir' has 2 bands",
    );
    bad(
        "red.b2",
        &two,
        0,
        "band red.b2 does not exist: input 'red' has 1 band",
    );
    bad(
        "x.b1",
        &two,
        0,
        "unknown input 'x' in 'x.b1' (the inputs are red, nir)",
    );
    bad("red.b0", &two, 0, "numbered from 1");
    bad("foo(red)", &two, 0, "unknown function 'foo'");
    let anon = single(3, f);
    bad(
        "red",
        &anon,
        0,
        "unknown function or name 'red' (bands are written b1, b2, ...)",
    );
    bad(
        "b1 + x.b1",
        &anon,
        5,
        "unknown input 'x' in 'x.b1' (bands are written b1, b2, ...)",
    );
}

#[test]
fn input_names_are_checked() {
    let t = [GDT_UInt16];
    let err = |name: &str| Bindings::named(&[(name, &t[..])]).unwrap_err().to_string();
    for name in ["where", "bits", "nodata", "in", "NaN", "and"] {
        assert!(
            err(name).contains("keyword or function"),
            "{name}: {}",
            err(name)
        );
    }
    assert!(err("b2").contains("band number"));
    assert!(err("B10").contains("band number"));
    for name in ["", "1a", "red.b1", "é", "a-b", "a b"] {
        assert!(
            err(name).contains("use letters, digits and '_'"),
            "{name:?}"
        );
    }
    let e = Bindings::named(&[("red", &t[..]), ("RED", &t[..])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "input name 'red': given twice (names ignore case)"
    );
    let e = Bindings::named(&[("red", &[][..])]).unwrap_err();
    assert!(e.to_string().contains("no bands"), "{e}");
    assert!(Bindings::named(&[]).is_err());
    assert_eq!(Bindings::check_name("SR_B4").unwrap(), "sr_b4");
    assert_eq!(Bindings::check_name("_b1").unwrap(), "_b1");
    assert_eq!(Bindings::check_name("band1").unwrap(), "band1");
}
