//! The `expr` op: evaluates a band-math [`Program`] over each window.
//!
//! A thin adapter: the language lives in `crate::ops::expr`; this file only maps
//! the nodata policy onto evaluation options and slices the block's core.

use ndarray::{s, Array2, ArrayView2};

use super::{Block, InputInfo, NodataPolicy, Op};
use crate::ops::expr::{Bindings, EvalOptions, ExprError, Program, Slot};

#[derive(Debug, Clone)]
pub struct BandMath {
    program: Program,
    /// The bands of input 0 the program reads, in slot order (all of them
    /// for a single input).
    bands: Vec<usize>,
    opts: EvalOptions,
}

impl BandMath {
    /// Compiles `src` against the input's bands (`b1`..`bN`, with their
    /// sample types for the bitwise type check). An expression reading no
    /// band is refused: the output would have no input to take its size
    /// from, and is almost certainly a typo.
    pub fn new(src: &str, info: &InputInfo, policy: NodataPolicy) -> Result<BandMath, ExprError> {
        Self::with_bindings(src, &Bindings::single(&info.band_types), policy)
    }

    /// Compiles `src` against `bindings`: one unnamed input or named ones.
    pub fn with_bindings(
        src: &str,
        bindings: &Bindings,
        policy: NodataPolicy,
    ) -> Result<BandMath, ExprError> {
        let program = Program::compile(src, bindings)?;
        if program.slots().is_empty() {
            let how = if bindings.name(0).is_some() {
                "name the inputs"
            } else {
                "write bands as b1, b2, ..."
            };
            return Err(ExprError {
                message: format!("the expression reads no band ({how})"),
                column: 0,
                expr: src.to_string(),
                input: None,
            });
        }
        let opts = EvalOptions {
            nan_if_any_input_nan: policy == NodataPolicy::Propagate,
            nonfinite_to_nan: true,
        };
        let bands = program
            .slots()
            .iter()
            .filter(|s| s.input == 0)
            .map(|s| s.band)
            .collect();
        Ok(BandMath {
            program,
            bands,
            opts,
        })
    }
}

impl Op for BandMath {
    fn name(&self) -> &str {
        "expr"
    }

    fn bands(&self) -> &[usize] {
        &self.bands
    }

    fn slots(&self) -> Vec<Slot> {
        self.program.slots().to_vec()
    }

    fn out_bands(&self) -> usize {
        self.program.outputs()
    }

    fn compute(&self, block: &Block<'_>) -> Vec<Array2<f64>> {
        let c = block.core;
        let views: Vec<ArrayView2<f64>> = block
            .bands
            .iter()
            .map(|b| b.slice(s![c.row..c.row + c.rows, c.col..c.col + c.cols]))
            .collect();
        self.program.eval_with(&views, self.opts)
    }

    fn describe(&self) -> String {
        self.program.source().to_string()
    }

    /// Each output band is described by its own expression.
    fn band_description(&self, out: usize) -> Option<String> {
        self.program.output_source(out).map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;
    use crate::ops::Core;

    fn info(band_count: usize) -> InputInfo {
        InputInfo {
            width: 100,
            height: 100,
            band_count,
            geo_transform: None,
            geographic: false,
            nodata: vec![None; band_count],
            band_types: vec![gdal_sys::GDALDataType::GDT_Float32; band_count],
        }
    }

    /// Two bands with NaN, zeros (for division by zero) and ordinary values
    /// in every combination, on a 10x12 block.
    fn bands() -> (Array2<f64>, Array2<f64>) {
        let vals = [f64::NAN, 0.0, 2.0, -3.0, 7.5];
        let a = Array2::from_shape_fn((10, 12), |(r, c)| vals[(r * 12 + c) % 5]);
        let b = Array2::from_shape_fn((10, 12), |(r, c)| vals[((r * 12 + c) / 5) % 5]);
        (a, b)
    }

    fn full(rows: usize, cols: usize) -> Core {
        Core {
            row: 0,
            col: 0,
            rows,
            cols,
        }
    }

    /// Runs `op` over the core of the fixture and checks every output pixel
    /// against `oracle(b1, b2)` per output.
    fn check(op: &BandMath, core: Core, oracle: &dyn Fn(f64, f64) -> Vec<f64>) {
        let (a, b) = bands();
        let block = Block {
            bands: vec![a.view(), b.view()],
            core,
        };
        let outs = op.compute(&block);
        assert_eq!(outs.len(), op.out_bands());
        for (o, out) in outs.iter().enumerate() {
            assert_eq!(out.dim(), (core.rows, core.cols));
            for ((r, c), &got) in out.indexed_iter() {
                let (x, y) = (
                    a[(core.row + r, core.col + c)],
                    b[(core.row + r, core.col + c)],
                );
                let want = oracle(x, y)[o];
                let ok = (got.is_nan() && want.is_nan()) || got == want;
                assert!(
                    ok,
                    "output {o} at {r},{c} for {x},{y}: got {got}, want {want}"
                );
            }
        }
    }

    /// NaN for anything inf or NaN, which the engine writes as nodata.
    fn finite(v: f64) -> f64 {
        if v.is_finite() {
            v
        } else {
            f64::NAN
        }
    }

    const SRC: &str = "mean(b1, b2); b1 / b2; max(b1, 1)";

    #[test]
    fn propagate_masks_any_nan_input() {
        let op = BandMath::new(SRC, &info(2), NodataPolicy::Propagate).unwrap();
        check(&op, full(10, 12), &|x, y| {
            if x.is_nan() || y.is_nan() {
                vec![f64::NAN; 3]
            } else {
                vec![(x + y) / 2.0, finite(x / y), if x > 1.0 { x } else { 1.0 }]
            }
        });
    }

    #[test]
    fn ignore_lets_nan_skipping_functions_skip() {
        let op = BandMath::new(SRC, &info(2), NodataPolicy::Ignore).unwrap();
        check(&op, full(10, 12), &|x, y| {
            let mean = match (x.is_nan(), y.is_nan()) {
                (true, true) => f64::NAN,
                (true, false) => y,
                (false, true) => x,
                _ => (x + y) / 2.0,
            };
            let max = if x.is_nan() || x < 1.0 { 1.0 } else { x };
            vec![mean, finite(x / y), max]
        });
    }

    #[test]
    fn none_evaluates_raw_values() {
        // With policy none the engine passes nodata values through as is.
        let op = BandMath::new("b1 * 2 + b2; 1 / b2", &info(2), NodataPolicy::None).unwrap();
        check(&op, full(10, 12), &|x, y| {
            vec![x * 2.0 + y, finite(1.0 / y)]
        });
    }

    #[test]
    fn computes_only_the_core() {
        let op = BandMath::new("b2 - b1", &info(3), NodataPolicy::Ignore).unwrap();
        let core = Core {
            row: 2,
            col: 3,
            rows: 5,
            cols: 6,
        };
        check(&op, core, &|x, y| vec![y - x]);
    }

    #[test]
    fn describes_itself() {
        let op = BandMath::new("b3 * 2; b1 + b3", &info(4), NodataPolicy::default()).unwrap();
        assert_eq!(op.name(), "expr");
        assert_eq!(op.halo(), 0);
        assert_eq!(Op::bands(&op), &[1, 3]);
        assert_eq!(op.out_bands(), 2);
        assert_eq!(op.describe(), "b3 * 2; b1 + b3");
        assert_eq!(op.band_description(0).as_deref(), Some("b3 * 2"));
        assert_eq!(op.band_description(1).as_deref(), Some("b1 + b3"));
        assert_eq!(op.band_description(2), None);
    }

    #[test]
    fn build_errors_point_into_the_expression() {
        let e = BandMath::new("b1 + b5", &info(4), NodataPolicy::Propagate).unwrap_err();
        assert_eq!(e.message, "band b5 does not exist: the input has 4 bands");
        assert_eq!(e.column, 5);
        let e = BandMath::new("b1 +", &info(4), NodataPolicy::Propagate).unwrap_err();
        assert_eq!(e.column, 4);
        let e = BandMath::new("1 + 2", &info(4), NodataPolicy::Propagate).unwrap_err();
        assert!(e.message.contains("reads no band"), "{e}");
    }
}
