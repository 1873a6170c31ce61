//! Submitting: each trial's [`Track`] (where it is), the job array and its script, the
//! history of what was submitted (`submissions.jsonl`), and cancelling what this process
//! submitted.

use super::cluster::run_tool;
use super::SlurmConfig;
use crate::process::{self, CommandTrainer, LineWatch};
use crate::protocol::{MetricsReader, TrialInput};
use crate::runner::TrialEvent;
use crate::trainer::Trainer;
use crate::trial::{TrialResult, TrialStatus};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

/// Where one trial is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// To be submitted.
    Waiting,
    /// Submitted; the scheduler has not started it.
    Queued,
    /// Running on a node.
    Running,
    /// Its result is final.
    Done,
}

pub(super) struct Track {
    pub(super) phase: Phase,
    pub(super) job: Option<String>,
    pub(super) task: usize,
    pub(super) attempt: u32,
    pub(super) failures: Vec<String>,
    pub(super) reader: MetricsReader,
    pub(super) watch: LineWatch,
    pub(super) result: TrialResult,
    /// Set when lrsched ended the task itself (pruned, diverged, timed out).
    pub(super) ended_by_us: Option<TrialStatus>,
    pub(super) started_event: bool,
    /// Wall clock of the submission, to compare with the task's own start stamp.
    pub(super) submitted_wall: Option<f64>,
    pub(super) started_at: Option<Instant>,
    /// Seconds from submission to the task's start and to its result (the last attempt).
    pub(super) to_start: Option<f64>,
    pub(super) to_result: Option<f64>,
    /// Polls in a row the scheduler did not know the task.
    pub(super) unknown_polls: u32,
    /// The summed `epoch_seconds` of the lines read.
    pub(super) clock: f64,
}

impl Track {
    pub(super) fn id(&self) -> Option<String> {
        self.job.as_ref().map(|j| format!("{j}_{}", self.task))
    }
}

/// Seconds since the Unix epoch, as the tasks' `date +%s.%N` stamps write them.
pub(super) fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One line of `submissions.jsonl`: a task lrsched submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Submission {
    pub(super) job: String,
    pub(super) task: usize,
    pub(super) dir: PathBuf,
    pub(super) attempt: u32,
}

/// Jobs submitted and still watched, with the launcher's folder, for [`cancel_submitted`].
pub(super) static SUBMITTED: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());

/// The file listing jobs lrsched cancelled itself (Ctrl-C): their tasks are not failed
/// attempts, and a rerun submits them again without counting a retry.
pub(super) const CANCELLED_FILE: &str = "cancelled-by-lrsched.txt";

/// Cancels (`scancel`) every job this process submitted and still watches; what it did,
/// in one line, or `None` when there was nothing to cancel. [`process::cancel_all`]
/// calls it on Ctrl-C.
pub fn cancel_submitted() -> Option<String> {
    let submitted = SUBMITTED
        .lock()
        .map(|mut s| std::mem::take(&mut *s))
        .unwrap_or_default();
    if submitted.is_empty() {
        return None;
    }
    for (job, dir) in &submitted {
        // Appended before scancel: a rerun must not take our own cancel for a failure.
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(CANCELLED_FILE))
            .and_then(|mut f| f.write_all(format!("{job}\n").as_bytes()));
    }
    let jobs: Vec<String> = submitted.into_keys().collect();
    let done = Command::new("scancel").args(&jobs).output();
    Some(match done {
        Ok(o) if o.status.success() => {
            format!("cancelled SLURM job(s) {} (scancel)", jobs.join(", "))
        }
        Ok(o) => format!(
            "scancel {} failed: {}",
            jobs.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("cannot run scancel {}: {e}", jobs.join(" ")),
    })
}

/// What a task exits with when it cannot see the launcher's folder.
pub(super) const NOT_SHARED_EXIT: i32 = 97;

pub(super) fn read_exit_status(dir: &Path) -> Option<i32> {
    // Never blocking: the trial's program could have put a FIFO there.
    let bytes = crate::protocol::read_trial_file(&dir.join("exit_status"), 64).ok()?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

/// The latest submission of each trial folder.
pub(super) fn read_history(path: &Path) -> HashMap<PathBuf, Submission> {
    let mut latest = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(path) {
        // A line cut by a kill mid-append is skipped: its task is then unknown and, if
        // it never wrote a status, submitted again.
        for s in text
            .lines()
            .filter_map(|l| serde_json::from_str::<Submission>(l).ok())
        {
            latest.insert(s.dir.clone(), s);
        }
    }
    latest
}

/// Submits the `waiting` trials as one job array and records it.
pub(super) fn submit(
    config: &SlurmConfig,
    jobs: usize,
    trials: &[(&Trainer, TrialInput)],
    commands: &[&CommandTrainer],
    tracks: &mut [Track],
    waiting: &[usize],
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<(), String> {
    let stamp = format!(
        "{}-{}",
        crate::files::timestamp(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    let mut lines = String::new();
    for &i in waiting {
        let input = &trials[i].1;
        process::prepare_dir(input)?;
        lines.push_str(&process::shell_line(commands[i], input));
        lines.push('\n');
    }
    let tasks = config.state_dir.join(format!("array-{stamp}.tasks"));
    crate::files::write_atomic(&tasks, lines.as_bytes())?;
    let q = |p: &Path| crate::files::shell_quote(&p.display().to_string());
    let script = format!(
        "#!/bin/sh\n\
         # Written by lrsched: task K of this array runs line K+1 of the tasks file.\n\
         if [ ! -r {token} ]; then\n\
         \x20 echo \"lrsched: node $(hostname) cannot see {token}: --out is not on a filesystem the nodes share\" >&2\n\
         \x20 exit {NOT_SHARED_EXIT}\n\
         fi\n\
         date +%s.%N >{logs}/\"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}.start\"\n\
         line=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {tasks})\n\
         exec sh -c \"$line\"\n",
        token = q(&config.state_dir.join("visible-from-nodes")),
        tasks = q(&tasks),
        logs = q(&config.state_dir.join("logs")),
    );
    let script_path = config.state_dir.join(format!("array-{stamp}.sh"));
    crate::files::write_atomic(&script_path, script.as_bytes())?;
    let limit = jobs.clamp(1, waiting.len());
    let mut args: Vec<String> = vec![
        "--parsable".into(),
        format!("--array=0-{}%{limit}", waiting.len() - 1),
        format!("--job-name={}", config.job_name),
        format!(
            "--output={}",
            config.state_dir.join("logs").join("%A_%a.out").display()
        ),
    ];
    args.extend(config.sbatch_args.iter().cloned());
    args.push(script_path.display().to_string());
    let out = run_tool("sbatch", &args)?;
    let job = out
        .trim()
        .split(';')
        .next()
        .filter(|j| !j.is_empty() && j.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| format!("sbatch printed no job id: {}", lrsched::quote(out.trim())))?
        .to_string();
    if let Ok(mut set) = SUBMITTED.lock() {
        set.insert(job.clone(), config.state_dir.clone());
    }
    let mut record = String::new();
    for (task, &i) in waiting.iter().enumerate() {
        let t = &mut tracks[i];
        t.job = Some(job.clone());
        t.task = task;
        t.attempt += 1;
        t.phase = Phase::Queued;
        t.submitted_wall = Some(wall_now());
        t.started_at = None;
        t.unknown_polls = 0;
        let s = Submission {
            job: job.clone(),
            task,
            dir: trials[i].1.dir.clone(),
            attempt: t.attempt,
        };
        record.push_str(&serde_json::to_string(&s).expect("submissions serialise"));
        record.push('\n');
    }
    // One append of whole lines: a kill loses at most the end of this record.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.state_dir.join("submissions.jsonl"))
        .and_then(|mut f| f.write_all(record.as_bytes()).and_then(|()| f.sync_data()))
        .map_err(|e| {
            format!(
                "cannot record the submission in {}: {e}",
                config.state_dir.display()
            )
        })?;
    events(TrialEvent::Note {
        text: &format!(
            "submitted {} trial(s) as SLURM job {job} (array 0-{}, at most {limit} at once)",
            waiting.len(),
            waiting.len() - 1,
        ),
    });
    Ok(())
}
