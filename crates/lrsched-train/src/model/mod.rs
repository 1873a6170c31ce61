//! Models: the spec of an MLP, the fused fast path that trains it, and the same network
//! on candle's autodiff.

mod candle_mlp;
mod mlp;
mod pool;
mod spec;

pub use candle_mlp::CandleMlp;
pub(crate) use mlp::{abs_sum, FlushDenormals};
pub use mlp::{BatchInput, BatchTargets, Mlp, Threads, MAX_RESERVED_ROWS};
pub use spec::{Activation, Init, Loss, ModelSpec, SpecError, MAX_PARAMS};
