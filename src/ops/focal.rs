//! TEMPORARY STUB
use super::*;
pub fn build(_p: &Params, _i: &InputInfo) -> Result<Box<dyn Op>, OpError> {
    Err(OpError::new("focal", "not yet"))
}
