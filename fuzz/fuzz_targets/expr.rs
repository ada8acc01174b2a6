//! Fuzz the band-math language: parsing must return Ok or an error (never
//! panic, overflow the stack or hang), and whatever parses must evaluate on
//! NaN-laced data to one array of the window's shape per output.
#![no_main]

use gdal_sys::GDALDataType::{GDT_Float32, GDT_UInt16};
use libfuzzer_sys::fuzz_target;
use ndarray::{Array2, ArrayView2};
use tilerun::ops::expr::{Bindings, Program};

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Both kinds of binding: four b1..b4 bands (integer and float, so the
    // bitwise type check runs both ways), and named inputs.
    let single = Bindings::single(&[GDT_UInt16, GDT_Float32, GDT_UInt16, GDT_Float32]);
    let named = Bindings::named(&[("red", &[GDT_Float32][..]), ("qa", &[GDT_UInt16, GDT_UInt16])])
        .expect("valid names");
    for inputs in [&single, &named] {
        match Program::compile(src, inputs) {
            Ok(p) => eval(&p),
            // Rendering the caret message must not panic either.
            Err(e) => drop(e.to_string()),
        }
    }
});

fn eval(p: &Program) {
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e308,
        5e-324,
    ];
    let bands: Vec<Array2<f64>> = (0..p.slots().len())
        .map(|b| Array2::from_shape_fn((3, 4), |(r, c)| specials[(b + r * 4 + c) % specials.len()]))
        .collect();
    let views: Vec<ArrayView2<f64>> = bands.iter().map(|b| b.view()).collect();
    let outs = p.eval(&views);
    assert_eq!(outs.len(), p.outputs());
    if !views.is_empty() {
        assert!(outs.iter().all(|o| o.dim() == (3, 4)));
    }
}
