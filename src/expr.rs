//! TEMPORARY STUB — replaced by the expression helper's module.
use ndarray::{Array2, ArrayView2};
#[derive(Debug, thiserror::Error)]
#[error("expression error: {0}")]
pub struct ExprError(String);
#[derive(Debug, Clone)]
pub struct Program {
    src: String,
    bands: Vec<usize>,
}
impl Program {
    pub fn parse(src: &str) -> Result<Program, ExprError> {
        // (b4 - b3) / (b4 + b3) only
        Ok(Program {
            src: src.into(),
            bands: vec![3, 4],
        })
    }
    pub fn bands(&self) -> &[usize] {
        &self.bands
    }
    pub fn outputs(&self) -> usize {
        1
    }
    pub fn check_bands(&self, n: usize) -> Result<(), ExprError> {
        if n < 4 {
            Err(ExprError("band".into()))
        } else {
            Ok(())
        }
    }
    pub fn eval(&self, i: &[ArrayView2<f64>]) -> Vec<Array2<f64>> {
        vec![(&i[1] - &i[0]) / (&i[1] + &i[0])]
    }
    pub fn source(&self) -> &str {
        &self.src
    }
}
