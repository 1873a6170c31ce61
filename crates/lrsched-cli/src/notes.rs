//! The libraries' notes (`log::warn!`, `log::info!`) printed on stderr as the command has
//! always printed them: a warning as `note: ...`, information as it is. A library user
//! chooses their own logger, or none, and so can silence them; the command shows them.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Notes;

impl Log for Notes {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record) {
        match record.level() {
            Level::Error | Level::Warn => eprintln!("note: {}", record.args()),
            Level::Info => eprintln!("{}", record.args()),
            Level::Debug | Level::Trace => {}
        }
    }

    fn flush(&self) {}
}

static NOTES: Notes = Notes;

/// Installs the printer; called once, first thing in `main`.
pub fn install() {
    // Only fails if a logger is set already, which this binary never does elsewhere.
    let _ = log::set_logger(&NOTES).map(|()| log::set_max_level(LevelFilter::Info));
}
