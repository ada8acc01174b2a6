//! TEMPORARY STUB
use super::*;
pub fn build(op: &str, _p: &Params, _i: &InputInfo) -> Result<(Box<dyn Op>, Vec<String>), OpError> {
    Err(OpError::new(op, "not yet"))
}
