//! Families: one per file, each a pure function of the step (plateau: of the step and the metrics it saw).

pub(crate) mod constant;
pub(crate) mod cosine;
pub(crate) mod cyclic;
pub(crate) mod declare;
pub(crate) mod exponential;
pub(crate) mod inverse_sqrt;
pub(crate) mod inverse_time;
pub(crate) mod linear;
pub(crate) mod multi_step;
pub(crate) mod noam;
pub(crate) mod noise;
pub(crate) mod one_cycle;
pub(crate) mod plateau;
pub(crate) mod polynomial;
pub(crate) mod rex;
pub(crate) mod step;
pub(crate) mod tanh;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod warm_restarts;
pub(crate) mod warmup;
pub(crate) mod wsd;
