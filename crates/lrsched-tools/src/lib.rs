//! lrsched's tools as a library: compare schedules, the learning-rate range test and
//! hyper-parameter search, over any training program.
//!
//! The key type is [`trainer::Trainer`]: lrsched's built-in trainer run in-process, or a
//! user's command that speaks the trial protocol (`docs/protocol.md`; the program's side
//! is `lrsched::trial`). Each trial is a [`protocol::TrialInput`] (schedule, seed,
//! epochs, folder) and comes back as a [`trial::TrialResult`] (the metrics it reported
//! and how it ended), so the tools never know which trainer ran.
#![deny(missing_docs)]

pub mod candidates;
pub mod charts;
pub mod compare;
pub mod cores;
pub mod files;
pub mod find_lr;
pub mod find_lr_files;
pub mod predict;
pub mod process;
pub mod protocol;
pub mod run_spec;
pub mod runner;
pub mod scoring;
pub mod slurm;
pub mod stats;
pub mod trace;
pub mod trainer;
pub mod trial;
pub mod tune;
