//! Combinators: one per file, each built from other schedules.

pub(crate) mod clamp;
pub(crate) mod cycles;
pub(crate) mod join;
pub(crate) mod offset;
pub(crate) mod one_child;
pub(crate) mod product;
pub(crate) mod repeat;
pub(crate) mod scale;
pub(crate) mod stretch;
