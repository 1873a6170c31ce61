//! Models: the spec of an MLP and the fused fast path that trains it.

mod mlp;
mod spec;

pub use mlp::{BatchTargets, Mlp};
pub use spec::{Activation, Init, Loss, ModelSpec, SpecError};
