//! The flags that run a user's program once per trial (`--command`, `--cwd`,
//! `--steps-per-epoch`, `--trial-timeout`), one definition and one set of checks for
//! `compare` and `find-lr`, and the refusal of built-in trainer flags typed beside
//! `--command` (they would be silently ignored).

use crate::train::TrainArgs;
use crate::UserError;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use lrsched_tools::process::CommandTrainer;
use lrsched_tools::runner::Launcher;
use lrsched_tools::slurm;
use std::path::PathBuf;
use std::time::Duration;

/// Longest `--trial-timeout` (a week): past it a typo, not a plan.
pub const MAX_TRIAL_TIMEOUT: f64 = 7.0 * 86_400.0;

/// How a trial runs when it is a user's program.
#[derive(Args, Debug, Clone, Default)]
pub struct CommandArgs {
    /// Train with this command instead of the built-in trainer: run once per trial by
    /// `sh -c`, given the trial as LRSCHED_* variables, reporting JSON lines to
    /// $LRSCHED_METRICS (docs/protocol.md).
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,
    /// The folder --command runs in (default: this one).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// The program's optimizer steps per epoch (with --command): durations such as "3ep"
    /// or "10%" are then resolved before the trial starts, for programs that use no
    /// lrsched helper.
    #[arg(long, value_name = "N")]
    pub steps_per_epoch: Option<u64>,
    /// Stop a trial of --command that runs longer than this many seconds and report it as
    /// timed out.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    pub trial_timeout: Option<f64>,
}

impl CommandArgs {
    /// The checked trainer when `--command` is given; without it, an error for any flag
    /// that only a command uses.
    pub fn trainer(&self) -> Result<Option<CommandTrainer>, UserError> {
        self.checked(false)
    }

    /// As [`CommandArgs::trainer`]; with `built_in_process` (tune, whose built-in trials
    /// are processes too) `--trial-timeout` also bounds the built-in trainer.
    pub fn checked(&self, built_in_process: bool) -> Result<Option<CommandTrainer>, UserError> {
        let timeout = self.timeout()?;
        let Some(command) = &self.command else {
            let given = [
                ("--cwd", self.cwd.is_some()),
                ("--steps-per-epoch", self.steps_per_epoch.is_some()),
                (
                    "--trial-timeout",
                    self.trial_timeout.is_some() && !built_in_process,
                ),
            ];
            if let Some((flag, _)) = given.iter().find(|(_, typed)| *typed) {
                return Err(UserError(format!(
                    "{flag} is for --command (a program of yours); the built-in trainer knows its own"
                )));
            }
            return Ok(None);
        };
        if command.trim().is_empty() {
            return Err(UserError(
                "--command is empty: give the program to run per trial, e.g. --command \"python train.py\"".into(),
            ));
        }
        let mut t = CommandTrainer::new(command.clone());
        if let Some(dir) = &self.cwd {
            if !dir.is_dir() {
                return Err(UserError(format!(
                    "--cwd {} is not a folder",
                    dir.display()
                )));
            }
            t.cwd = Some(dir.clone());
        }
        t.steps_per_epoch = match self.steps_per_epoch {
            Some(0) => {
                return Err(UserError(
                    "--steps-per-epoch 0 is not allowed: must be at least 1".into(),
                ))
            }
            n => n,
        };
        t.timeout = timeout;
        Ok(Some(t))
    }

    /// `--trial-timeout`, checked.
    pub fn timeout(&self) -> Result<Option<Duration>, UserError> {
        match self.trial_timeout {
            None => Ok(None),
            Some(s) if s.is_finite() && s > 0.0 && s <= MAX_TRIAL_TIMEOUT => {
                Ok(Some(Duration::from_secs_f64(s)))
            }
            Some(s) => Err(UserError(format!(
                "--trial-timeout {s} is not allowed: must be seconds between 0 and {MAX_TRIAL_TIMEOUT} (a week)"
            ))),
        }
    }
}

/// The `train` flags typed on the command line (not defaults), as `(id, --long)`, in
/// the order `train` declares them; `skip` names ids left out.
pub fn typed_train_flags(m: &ArgMatches, skip: &[&str]) -> Vec<(String, String)> {
    let defs = TrainArgs::augment_args(clap::Command::new("train"));
    defs.get_arguments()
        .map(|a| a.get_id().as_str())
        .filter(|id| !skip.contains(id) && m.value_source(id) == Some(ValueSource::CommandLine))
        .map(|id| {
            let arg = defs.get_arguments().find(|a| a.get_id() == id);
            let long = arg.and_then(|a| a.get_long()).unwrap_or(id);
            (id.to_string(), format!("--{long}"))
        })
        .collect()
}

/// Refuses the built-in trainer's flags typed beside `--command`: every `train` flag but
/// `allowed` (ids such as `seed`, `epochs`, `quiet`, which a trial passes on), and the
/// tool's own built-in-only flags named in `also` (e.g. `preset`).
pub fn refuse_built_in_flags(
    m: &ArgMatches,
    allowed: &[&str],
    also: &[&str],
) -> Result<(), UserError> {
    let typed = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    let given: Vec<String> = typed_train_flags(m, allowed)
        .into_iter()
        .map(|(_, long)| long)
        .chain(
            also.iter()
                .filter(|id| typed(id))
                .map(|id| format!("--{}", id.replace('_', "-"))),
        )
        .collect();
    if given.is_empty() {
        return Ok(());
    }
    Err(UserError(format!(
        "{} {} for the built-in trainer and would be ignored with --command (your program picks its own data, model and optimizer)",
        given.join(", "),
        if given.len() == 1 { "is" } else { "are" }
    )))
}

/// Where `tune` and `compare` run their trials: here, or on a SLURM cluster.
#[derive(Args, Debug, Clone, Default)]
pub struct LauncherArgs {
    /// local (default: trials run here, --jobs at a time) or slurm (one job array on the
    /// cluster, at most --jobs tasks at once; --out must be on a filesystem the nodes share).
    #[arg(long, value_name = "NAME")]
    pub launcher: Option<String>,
    /// Words passed to sbatch, e.g. "--partition gpu --gres=gpu:1 --time=02:00:00".
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub slurm_args: Option<String>,
    /// With --launcher slurm: resubmit a trial whose task failed (non-zero exit, cancelled
    /// by someone else, time limit, out of memory, node failure) up to N times (default 1).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

impl LauncherArgs {
    /// The checked launcher; `out` holds its state (`out/slurm/`), `tool` names the job.
    pub fn launcher(&self, out: &std::path::Path, tool: &str) -> Result<Launcher, UserError> {
        Launcher::named(
            self.launcher.as_deref(),
            self.slurm_args.as_deref(),
            self.retries,
            &out.join("slurm"),
            &format!("lrsched-{tool}"),
        )
        .map_err(UserError)
    }

    /// Checks the flags (and that `sbatch` runs, for slurm) before any folder is made.
    pub fn check(&self) -> Result<(), UserError> {
        if let Launcher::Slurm(_) = self.launcher(std::path::Path::new(""), "check")? {
            slurm::check_installed().map_err(UserError)?;
        }
        Ok(())
    }

    /// Whether trials go to a cluster.
    pub fn is_slurm(&self) -> bool {
        self.launcher.as_deref() == Some("slurm")
    }
}

/// The train flags every trial takes from the trial itself (or that act once, here).
pub const PER_TRIAL: [&str; 6] = [
    "epochs",
    "seed",
    "threads",
    "quiet",
    "download",
    "download_url",
];

/// The built-in trainer as a trial's command: this executable's `train`, reading the
/// run from the spec file at `spec` and the trial (schedule, seed, epochs) from the
/// `LRSCHED_*` variables.
pub fn built_in_command(spec: &std::path::Path) -> Result<String, UserError> {
    let exe = std::env::current_exe()
        .map_err(|e| UserError(format!("cannot find this program's path: {e}")))?;
    let quote = |p: &std::path::Path| crate::report::shell_quote(&p.display().to_string());
    // `exec`: the shell becomes lrsched train, so the trial's process is the one that
    // dies with this process (PR_SET_PDEATHSIG) and gets the stop signals.
    Ok(format!(
        "exec {} train --quiet --spec {}",
        quote(&exe),
        quote(spec)
    ))
}
