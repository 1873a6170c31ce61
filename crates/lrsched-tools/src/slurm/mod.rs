//! The SLURM launcher: a tool's trials go to a cluster as one job array, each array task
//! running one trial's shell line ([`crate::process::shell_line`]), and come back through the
//! files the trial writes in its folder (its metrics, `exit_status`), which must be on a
//! filesystem the compute nodes share.
//!
//! lrsched is not a scheduler here: it submits (`sbatch --array=0-N%J`), watches
//! (`squeue`, the trials' metrics files), cancels (`scancel`) and collects. Every task it
//! submits is appended to `<state>/submissions.jsonl` (job, task, trial folder, attempt),
//! so a rerun on the same folder asks the scheduler what became of each: a task still
//! queued or running is watched again, not submitted twice; one that ended left its
//! `exit_status` and is collected; one the scheduler ended (cancelled, time limit, out of
//! memory, node failure) is reported with the scheduler's state and reason and retried
//! up to [`SlurmConfig::retries`] times.
//!
//! Invariants: a trial folder is written by one attempt at a time (its previous metrics
//! are kept as `metrics.prev-K.jsonl` before a resubmission); `exit_status` exists only
//! for an attempt that ended by itself; every job lrsched submitted and still watches is
//! cancelled by [`crate::process::cancel_all`] (Ctrl-C).

use std::path::PathBuf;
use std::time::Duration;

mod cluster;
mod run;
mod submit;

pub use cluster::{check_installed, check_shared, parse_squeue, TaskState};
pub use run::run_all;
pub use submit::cancel_submitted;

/// Most retries of one trial: more is a loop that burns a cluster's hours.
pub const MAX_RETRIES: u32 = 100;

/// How the SLURM launcher submits and watches.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmConfig {
    /// Words passed to `sbatch` before the script (`--partition gpu --gres=gpu:1 ...`).
    pub sbatch_args: Vec<String>,
    /// Resubmissions of a trial that failed (non-zero exit, cancelled by someone else,
    /// time limit, out of memory, node failure) before its failure is its result.
    pub retries: u32,
    /// Where the launcher keeps its scripts, logs and `submissions.jsonl` (on the shared
    /// filesystem, beside the trials).
    pub state_dir: PathBuf,
    /// The job's name in the queue.
    pub job_name: String,
    /// How often the trials' metrics files are read.
    pub poll: Duration,
    /// How often the scheduler is asked for the tasks' states.
    pub queue_poll: Duration,
}

impl SlurmConfig {
    /// A launcher keeping its state in `state_dir`: no extra sbatch words, 1 retry,
    /// metrics read every 0.5 s, the queue asked every 2 s.
    ///
    /// ```
    /// use lrsched_tools::slurm::SlurmConfig;
    /// let c = SlurmConfig::new("runs/tune1/slurm", "lrsched-tune");
    /// assert_eq!(c.retries, 1);
    /// ```
    pub fn new(state_dir: impl Into<PathBuf>, job_name: &str) -> SlurmConfig {
        SlurmConfig {
            sbatch_args: Vec::new(),
            retries: 1,
            state_dir: state_dir.into(),
            job_name: job_name.to_string(),
            poll: Duration::from_millis(500),
            queue_poll: Duration::from_secs(2),
        }
    }
}

/// Splits `--slurm-args` as a shell would (quotes kept together), refusing words that
/// the launcher sets itself.
///
/// ```
/// use lrsched_tools::slurm::split_sbatch_args;
/// let w = split_sbatch_args("--partition gpu --gres=gpu:1 --comment 'lr sweep'").unwrap();
/// assert_eq!(w, ["--partition", "gpu", "--gres=gpu:1", "--comment", "lr sweep"]);
/// assert!(split_sbatch_args("--array=0-3").unwrap_err().contains("--jobs"));
/// ```
pub fn split_sbatch_args(text: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(text).ok_or_else(|| {
        format!(
            "--slurm-args {} is not allowed: its quotes do not close",
            lrsched::quote(text)
        )
    })?;
    for w in &words {
        let name = w.split('=').next().unwrap_or("");
        let owned = [
            (
                "--array",
                "the array is one task per trial; --jobs sets how many run at once",
            ),
            (
                "-a",
                "the array is one task per trial; --jobs sets how many run at once",
            ),
            ("--output", "each trial's output goes to its own folder"),
            ("-o", "each trial's output goes to its own folder"),
            ("--error", "each trial's output goes to its own folder"),
            ("-e", "each trial's output goes to its own folder"),
            ("--parsable", "lrsched reads the job id itself"),
            ("--wrap", "lrsched writes the job script"),
            ("--wait", "lrsched waits for the tasks itself"),
            ("-W", "lrsched waits for the tasks itself"),
        ];
        if let Some((flag, why)) = owned.iter().find(|(f, _)| *f == name) {
            return Err(format!(
                "--slurm-args `{flag}` is not allowed: lrsched sets it ({why})"
            ));
        }
    }
    Ok(words)
}

/// How long tasks waited and ran, for the closing figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timings {
    /// Seconds from submission to the task seen running, per task seen both ways.
    pub to_start: Vec<f64>,
    /// Seconds from submission to the result collected, per task.
    pub to_result: Vec<f64>,
    /// Tasks submitted by this call (retries included).
    pub submitted: usize,
}

/// Median of a list of seconds (for the closing figures).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The figures of a run, for a closing line: `"6 tasks: submit to start 1.2 s, to
/// result 4.3 s (medians)"`.
pub fn describe_timings(t: &Timings) -> String {
    let m = |v: &[f64]| median(v).map_or("-".to_string(), |x| format!("{x:.1} s"));
    if t.submitted == 0 {
        return "no task submitted (every trial had ended or was still queued or running)".into();
    }
    format!(
        "{} task(s) submitted: submit to start {}, to result {} (medians)",
        t.submitted,
        m(&t.to_start),
        m(&t.to_result)
    )
}

#[cfg(test)]
mod tests {
    use super::submit::read_history;
    use super::*;
    use std::path::Path;

    #[test]
    fn squeue_states_read_with_their_reasons() {
        let s = parse_squeue("7_0|PENDING|Priority|\n7_1|CANCELLED by 0|None|n1\n\ngarbage\n");
        assert_eq!(s.len(), 2);
        assert!(!s["7_0"].ended());
        assert_eq!(s["7_1"].state, "CANCELLED");
        assert_eq!(s["7_1"].describe(), "CANCELLED on n1");
    }

    #[test]
    fn history_keeps_the_latest_attempt_and_skips_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("submissions.jsonl");
        std::fs::write(
            &p,
            "{\"job\":\"1\",\"task\":0,\"dir\":\"/a\",\"attempt\":1}\n{\"job\":\"2\",\"task\":3,\"dir\":\"/a\",\"attempt\":2}\n{\"job\":\"2\",\"ta",
        )
        .unwrap();
        let h = read_history(&p);
        assert_eq!(h.len(), 1);
        assert_eq!(h[Path::new("/a")].job, "2");
        assert_eq!(h[Path::new("/a")].attempt, 2);
    }

    #[test]
    fn owned_sbatch_words_are_refused() {
        for w in ["--array=1-2", "-o x", "--wrap 'echo'", "--output x"] {
            assert!(split_sbatch_args(w).is_err(), "{w}");
        }
        assert!(split_sbatch_args("--time 'unclosed")
            .unwrap_err()
            .contains("quotes"));
        assert_eq!(split_sbatch_args("").unwrap(), Vec::<String>::new());
    }
}
