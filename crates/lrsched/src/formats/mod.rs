//! Formats a schedule is read from and written to: JSON/TOML configs and the one-line form.

pub mod config;
pub mod oneline;
