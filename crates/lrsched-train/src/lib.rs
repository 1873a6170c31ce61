//! Training pipeline for lrsched: data sets, models, optimizers and the training loop,
//! with lrsched schedules driving the learning rate and momentum.
#![deny(missing_docs)]

pub mod checkpoint;
pub mod data;
pub mod divergence;
pub mod find_lr;
pub mod lock;
pub mod memory;
pub mod model;
pub mod optim;
pub mod outputs;
pub mod trainer;
