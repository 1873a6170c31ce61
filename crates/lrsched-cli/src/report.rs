//! The CLI's view of the shared report and file helpers (`lrsched_report::html`,
//! `lrsched_tools::files`), with errors as one-line [`UserError`]s.

use crate::UserError;
use indicatif::ProgressBar;
pub use lrsched_report::html::{render_html, Section, Table};
pub use lrsched_tools::files::{shell_quote, timestamp};
use lrsched_tools::runner::TrialEvent;

/// This process's command line as typed, quoted for a shell.
pub fn command_line() -> String {
    lrsched_tools::files::command_line(std::env::args())
}
use std::path::{Path, PathBuf};

/// Writes `path` as a self-contained HTML report (atomically).
pub fn write_html(
    path: &Path,
    title: &str,
    command_line: &str,
    sections: &[Section],
) -> Result<(), UserError> {
    write_atomic(path, render_html(title, command_line, sections).as_bytes())
}

/// The output folder: `out` if given, else `runs/<command>-<timestamp>`; created and
/// checked to be writable.
pub fn out_dir(command: &str, out: Option<&Path>) -> Result<PathBuf, UserError> {
    lrsched_tools::files::out_dir(command, out).map_err(UserError)
}

/// The output folder of one run, locked while the returned lock lives; with `fresh`, a
/// folder holding another run's files is refused (`lrsched_tools::files::locked_out_dir`).
pub fn locked_out_dir(
    command: &str,
    out: Option<&Path>,
    fresh: bool,
) -> Result<(PathBuf, lrsched_train::lock::FolderLock), UserError> {
    lrsched_tools::files::locked_out_dir(command, out, fresh).map_err(UserError)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    lrsched_tools::files::write_atomic(path, bytes).map_err(UserError)
}

/// Exit status of compare and tune when no trial completed (as find-lr's when no sweep
/// gave a curve): the report and files are written, but there is nothing to use.
pub const EXIT_NO_TRIAL: i32 = 1;

/// Ends a tool whose trials all failed: says so on one line (`what` counts them by
/// outcome) and exits with [`EXIT_NO_TRIAL`], after everything was written. The locks
/// it held are the kernel's to drop.
pub fn exit_no_trial_completed(what: &str) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    eprintln!("error: no trial completed ({what}): nothing to rank; see the report");
    std::process::exit(EXIT_NO_TRIAL)
}

/// Trials counted by outcome word: `2 failed, 1 timed out`.
pub fn count_outcomes<'a>(words: impl Iterator<Item = &'a str>) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for w in words {
        match counts.iter_mut().find(|(x, _)| *x == w) {
            Some((_, n)) => *n += 1,
            None => counts.push((w, 1)),
        }
    }
    counts
        .iter()
        .map(|(w, n)| format!("{n} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A launcher's notes and queue counts (SLURM), said the same way by every tool: on the
/// progress bar (a note above it, the queue line where `on_bar` puts it) or, without
/// one, on stderr unless `quiet`. Other events are left to the caller.
pub fn queue_or_note(
    e: &TrialEvent<'_>,
    bar: Option<&ProgressBar>,
    quiet: bool,
    on_bar: fn(&ProgressBar, String),
) {
    let line = match (e, bar) {
        (TrialEvent::Note { text }, Some(b)) => return b.println(text),
        (TrialEvent::Note { text }, None) => text.to_string(),
        (
            TrialEvent::Queue {
                pending,
                running,
                done,
                failed,
            },
            bar,
        ) => {
            let line = format!(
                "queue: {pending} pending, {running} running, {done} done, {failed} failed"
            );
            match bar {
                Some(b) => return on_bar(b, line),
                None => line,
            }
        }
        _ => return,
    };
    if !quiet {
        eprintln!("{line}");
    }
}
