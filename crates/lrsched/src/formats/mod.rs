//! Formats a schedule is read from and written to: JSON/TOML configs and the one-line form,
//! and the one schedule source every entry point reads them through ([`spec::ScheduleSpec`]).

pub mod config;
pub mod oneline;
pub mod spec;
