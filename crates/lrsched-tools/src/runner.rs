//! Runs many trials, `jobs` at a time, each on its own worker thread; results come back
//! in the trials' order whatever finished first, so a tool's output depends only on the
//! trials, never on timing.

use crate::protocol::{Line, TrialInput};
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What happens while trials run, for progress bars and logs.
#[derive(Debug)]
pub enum TrialEvent<'a> {
    /// Trial `index` started.
    Started {
        /// Its position in the list.
        index: usize,
        /// Its input.
        input: &'a TrialInput,
    },
    /// Trial `index` reported a line.
    Line {
        /// Its position in the list.
        index: usize,
        /// Its input.
        input: &'a TrialInput,
        /// What it reported.
        line: &'a Line,
    },
    /// Trial `index` ended.
    Finished {
        /// Its position in the list.
        index: usize,
        /// Its input.
        input: &'a TrialInput,
        /// How it ended and what it reported.
        result: &'a TrialResult,
    },
    /// The cluster's queue changed (SLURM launcher): trials waiting, running, finished
    /// with a usable result, finished without one.
    Queue {
        /// Waiting to be submitted or queued.
        pending: usize,
        /// Running on a node.
        running: usize,
        /// Finished with a usable result.
        done: usize,
        /// Finished failed, diverged, cancelled, ...
        failed: usize,
    },
    /// Something the launcher did or saw that a user should know (a submission, a retry,
    /// a task watched again after a restart).
    Note {
        /// One line.
        text: &'a str,
    },
}

/// Where trials run.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Launcher {
    /// Here, `jobs` at a time ([`run_all`]).
    #[default]
    Local,
    /// On a SLURM cluster, as a job array ([`crate::slurm::run_all`]).
    Slurm(crate::slurm::SlurmConfig),
}

impl Launcher {
    /// The launcher a tool's flags name: `name` local (the default) or slurm, with
    /// `sbatch_args` (split as a shell would) and `retries` for slurm only; its state goes
    /// to `state` (`out/slurm/`), its jobs are named `job`. Errors are one line naming the
    /// flag (`--launcher`, `--slurm-args`, `--retries`).
    pub fn named(
        name: Option<&str>,
        sbatch_args: Option<&str>,
        retries: Option<u32>,
        state: &std::path::Path,
        job: &str,
    ) -> Result<Launcher, String> {
        use crate::slurm::{self, SlurmConfig};
        match name {
            None | Some("local") => match (sbatch_args, retries) {
                (None, None) => Ok(Launcher::Local),
                (s, _) => Err(format!(
                    "{} is for --launcher slurm; trials run here without it",
                    if s.is_some() {
                        "--slurm-args"
                    } else {
                        "--retries"
                    }
                )),
            },
            Some("slurm") => {
                let mut c = SlurmConfig::new(state.to_path_buf(), job);
                if let Some(a) = sbatch_args {
                    c.sbatch_args = slurm::split_sbatch_args(a)?;
                }
                if let Some(r) = retries {
                    if r > slurm::MAX_RETRIES {
                        return Err(format!(
                            "--retries {r} is not allowed: must be between 0 and {}",
                            slurm::MAX_RETRIES
                        ));
                    }
                    c.retries = r;
                }
                Ok(Launcher::Slurm(c))
            }
            Some(other) => Err(format!(
                "--launcher `{}` is unknown: must be local or slurm",
                lrsched::shorten(other)
            )),
        }
    }
}

/// Runs `trials` where `launcher` says: [`run_all`] here, or the SLURM launcher (which
/// can fail as a whole: no `sbatch`, a folder the nodes cannot see). The figures of a
/// SLURM run come back for a closing line.
pub fn launch(
    launcher: &Launcher,
    jobs: usize,
    trials: &[(&Trainer, TrialInput)],
    control: &(dyn Fn(usize, &Line) -> Control + Sync),
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<(Vec<TrialResult>, Option<crate::slurm::Timings>), String> {
    match launcher {
        Launcher::Local => Ok((run_all(jobs, trials, control, events), None)),
        Launcher::Slurm(c) => {
            crate::slurm::run_all(c, jobs, trials, control, events).map(|(r, t)| (r, Some(t)))
        }
    }
}

/// Runs `trials` (each with its trainer), at most `jobs` at once. `control` hears every
/// line of trial `i` as `control(i, line)` and may stop it; `events` hears starts, lines
/// and ends. Returns the results in the order of `trials`.
///
/// ```
/// use lrsched_tools::process::CommandTrainer;
/// use lrsched_tools::protocol::TrialInput;
/// use lrsched_tools::runner::run_all;
/// use lrsched_tools::trainer::Trainer;
/// use lrsched_tools::trial::{Control, TrialStatus};
/// let dir = tempfile::tempdir().unwrap();
/// let t = Trainer::Command(CommandTrainer::new(
///     r#"echo "{\"epoch\": 1, \"val_acc\": 0.$LRSCHED_SEED}" >> "$LRSCHED_METRICS""#,
/// ));
/// let trials: Vec<_> = (1..=3)
///     .map(|seed| (&t, TrialInput {
///         name: format!("s{seed}"),
///         schedule: "constant(lr=0.1)".parse().unwrap(),
///         seed, epochs: 1, max_steps: None,
///         dir: dir.path().join(format!("s{seed}")),
///     }))
///     .collect();
/// let results = run_all(2, &trials, &|_, _| Control::Continue, &|_| {});
/// assert!(results.iter().all(|r| r.status == TrialStatus::Completed));
/// assert_eq!(results[2].last("val_acc"), Some(0.3));
/// ```
pub fn run_all(
    jobs: usize,
    trials: &[(&Trainer, TrialInput)],
    control: &(dyn Fn(usize, &Line) -> Control + Sync),
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Vec<TrialResult> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<TrialResult>>> = Mutex::new(vec![None; trials.len()]);
    let workers = jobs.clamp(1, trials.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some((trainer, input)) = trials.get(index) else {
                    break;
                };
                events(TrialEvent::Started { index, input });
                let result = trainer.run(input, &mut |line| {
                    events(TrialEvent::Line { index, input, line });
                    control(index, line)
                });
                events(TrialEvent::Finished {
                    index,
                    input,
                    result: &result,
                });
                if let Ok(mut r) = results.lock() {
                    r[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect()
}
