//! TEMPORARY STUB
use super::*;
use crate::expr::{ExprError, Program};
pub struct BandMath {
    p: Program,
}
impl BandMath {
    pub fn new(src: &str, info: &InputInfo, _policy: NodataPolicy) -> Result<BandMath, ExprError> {
        let p = Program::parse(src)?;
        p.check_bands(info.band_count)?;
        Ok(BandMath { p })
    }
}
impl Op for BandMath {
    fn name(&self) -> &str {
        "expr"
    }
    fn bands(&self) -> &[usize] {
        self.p.bands()
    }
    fn out_bands(&self) -> usize {
        self.p.outputs()
    }
    fn compute(&self, b: &Block<'_>) -> Vec<Array2<f64>> {
        self.p.eval(&b.bands)
    }
    fn describe(&self) -> String {
        self.p.source().into()
    }
}
