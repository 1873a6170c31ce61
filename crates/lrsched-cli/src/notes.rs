//! What the command prints on stderr besides its results: the libraries' notes
//! (`log::warn!`, `log::info!`) as the command has always printed them (a warning as
//! `note: ...`, information as it is; a library user chooses their own logger, or none,
//! and so can silence them), and the progress bars of the long commands.

use indicatif::{ProgressBar, ProgressStyle};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::IsTerminal;

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

/// A progress bar of `len` steps drawn with `template` (indicatif's), or none when `quiet`
/// or when stderr is not a terminal (a log file gets the commands' lines, not redraws).
pub fn progress_bar(quiet: bool, len: u64, template: &str) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    })
}
