//! TODO: the stateful driver.
/// TODO
#[derive(Debug)]
pub struct Driver {}
