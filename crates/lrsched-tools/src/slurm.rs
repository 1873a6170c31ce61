//! The SLURM launcher: a tool's trials go to a cluster as one job array, each array task
//! running one trial's shell line ([`process::shell_line`]), and come back through the
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

use crate::process::{self, CommandTrainer, LineWatch};
use crate::protocol::{Line, MetricsReader, TrialInput};
use crate::runner::TrialEvent;
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_train::divergence::DivergenceRule;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// A task's state as the scheduler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    /// `PENDING`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, ...
    pub state: String,
    /// The scheduler's reason (`Priority`, `TimeLimit`, `NonZeroExitCode`, `None`).
    pub reason: String,
    /// The node it ran on, when known.
    pub node: String,
}

impl TaskState {
    /// Whether the task has ended (it will not run again by itself).
    pub fn ended(&self) -> bool {
        matches!(
            self.state.as_str(),
            "COMPLETED"
                | "FAILED"
                | "CANCELLED"
                | "TIMEOUT"
                | "OUT_OF_MEMORY"
                | "NODE_FAIL"
                | "PREEMPTED"
                | "BOOT_FAIL"
                | "DEADLINE"
                | "SPECIAL_EXIT"
                | "REVOKED"
        )
    }

    /// Whether the scheduler ended it (cancelled, time limit, out of memory, node
    /// failure, preempted, ...) rather than the program's own exit.
    pub fn stopped_by_scheduler(&self) -> bool {
        self.ended() && !matches!(self.state.as_str(), "COMPLETED" | "FAILED")
    }

    /// Whether it is running (or finishing) rather than waiting in the queue.
    pub fn running(&self) -> bool {
        matches!(
            self.state.as_str(),
            "RUNNING" | "COMPLETING" | "SIGNALING" | "STAGE_OUT"
        )
    }

    /// `TIMEOUT (TimeLimit) on node1`: what a report says of a task the scheduler ended.
    pub fn describe(&self) -> String {
        let mut s = self.state.clone();
        if !self.reason.is_empty() && self.reason != "None" {
            s.push_str(&format!(" ({})", self.reason));
        }
        if !self.node.is_empty() && self.node != "(null)" {
            s.push_str(&format!(" on {}", self.node));
        }
        s
    }
}

/// Parses `squeue -h -r -t all -o '%i|%T|%r|%N'` output into states by task id
/// (`123_4`).
///
/// ```
/// use lrsched_tools::slurm::parse_squeue;
/// let s = parse_squeue("123_0|COMPLETED|None|node1\n123_1|TIMEOUT|TimeLimit|node1\n");
/// assert_eq!(s["123_1"].state, "TIMEOUT");
/// assert!(s["123_1"].ended());
/// ```
pub fn parse_squeue(text: &str) -> HashMap<String, TaskState> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split('|');
            let id = f.next()?.trim();
            let state = f.next()?.trim();
            if id.is_empty() || state.is_empty() {
                return None;
            }
            // `CANCELLED by 0` is how some versions write a cancelled state.
            let state = state.split_whitespace().next().unwrap_or(state);
            Some((
                id.to_string(),
                TaskState {
                    state: state.to_string(),
                    reason: f.next().unwrap_or("").trim().to_string(),
                    node: f.next().unwrap_or("").trim().to_string(),
                },
            ))
        })
        .collect()
}

/// One line of `submissions.jsonl`: a task lrsched submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Submission {
    job: String,
    task: usize,
    dir: PathBuf,
    attempt: u32,
}

/// Jobs submitted and still watched, with the launcher's folder, for [`cancel_submitted`].
static SUBMITTED: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());

/// The file listing jobs lrsched cancelled itself (Ctrl-C): their tasks are not failed
/// attempts, and a rerun submits them again without counting a retry.
const CANCELLED_FILE: &str = "cancelled-by-lrsched.txt";

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

/// Runs a command and returns its standard output, or a one-line error naming it.
fn run_tool(program: &str, args: &[String]) -> Result<String, String> {
    let o = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{program}` (is SLURM installed here?): {e}"))?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        let err = err.trim().lines().last().unwrap_or("").to_string();
        return Err(format!(
            "`{program} {}` failed ({}): {err}",
            args.join(" "),
            o.status
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Whether SLURM's commands are here: `Err` names what is missing.
///
/// ```no_run
/// lrsched_tools::slurm::check_installed().unwrap();
/// ```
pub fn check_installed() -> Result<(), String> {
    for tool in ["sbatch", "squeue", "scancel", "sinfo"] {
        run_tool(tool, &["--version".into()]).map_err(|e| {
            format!("--launcher slurm needs SLURM's commands on PATH ({tool}): {e}")
        })?;
    }
    Ok(())
}

/// The states of every task of `job`; empty when the scheduler no longer knows it.
fn query(job: &str) -> Result<HashMap<String, TaskState>, String> {
    let args: Vec<String> = ["-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T|%r|%N"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    match run_tool("squeue", &args) {
        Ok(text) => Ok(parse_squeue(&text)),
        // An id the controller has purged is an error, not an empty list.
        Err(e) if e.contains("Invalid job id") => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

/// The exit code the scheduler recorded for a task (`ExitCode=97:0`), when it still
/// knows it.
fn exit_code_of(task: &str) -> Option<i32> {
    let text = run_tool(
        "scontrol",
        &["-o".into(), "show".into(), "job".into(), task.into()],
    )
    .ok()?;
    let field = text
        .split_whitespace()
        .find(|w| w.starts_with("ExitCode="))?;
    field["ExitCode=".len()..].split(':').next()?.parse().ok()
}

/// Whether the compute nodes can see `dir`: `Ok(None)` when they can (every node is this
/// machine, or `dir` is on a network filesystem), `Ok(Some(note))` when lrsched cannot
/// tell (the first task then checks, and fails saying so), `Err` when they cannot (a
/// local filesystem while the nodes are other machines).
pub fn check_shared(dir: &Path) -> Result<Option<String>, String> {
    let nodes: BTreeSet<String> = run_tool(
        "sinfo",
        &["-h".into(), "-N".into(), "-o".into(), "%N".into()],
    )?
    .lines()
    .map(|l| l.trim().to_string())
    .filter(|l| !l.is_empty())
    .collect();
    let host = hostname();
    let short = host.split('.').next().unwrap_or(&host).to_string();
    if !nodes.is_empty()
        && nodes
            .iter()
            .all(|n| *n == short || *n == host || n == "localhost")
    {
        return Ok(None);
    }
    let others: Vec<&str> = nodes.iter().map(String::as_str).take(5).collect();
    let others = format!(
        "{}{}",
        others.join(", "),
        if nodes.len() > 5 { ", ..." } else { "" }
    );
    match filesystem(dir) {
        Some((name, true)) => {
            let _ = name;
            Ok(None)
        }
        Some((name, false)) => Err(format!(
            "--out {} is on a local filesystem ({name}) of this machine, and the cluster's nodes ({others}) cannot see it: put --out on a filesystem every node mounts (NFS, Lustre, GPFS, BeeGFS, CephFS, ...)",
            dir.display()
        )),
        None => Ok(Some(format!(
            "cannot tell whether --out {} is on a filesystem the nodes ({others}) share; each task checks, and one that cannot see it fails saying so",
            dir.display()
        ))),
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into our buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The filesystem `dir` is on, by name, and whether it is one that nodes share.
fn filesystem(dir: &Path) -> Option<(&'static str, bool)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs fills the zeroed struct we own; the path is a valid C string.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    let magic = s.f_type as i64 as u32;
    let known: &[(u32, &str, bool)] = &[
        (0x6969, "nfs", true),
        (0x0BD0_0BD0, "lustre", true),
        (0x4750_4653, "gpfs", true),
        (0x1983_0326, "beegfs", true),
        (0x00C3_6400, "cephfs", true),
        (0xFF53_4D42, "cifs", true),
        (0xFE53_4D42, "smb2", true),
        (0x6B41_4653, "afs", true),
        (0xEF53, "ext4", false),
        (0x5846_5342, "xfs", false),
        (0x9123_683E, "btrfs", false),
        (0x0102_1994, "tmpfs", false),
        (0x2FC1_2FC1, "zfs", false),
        (0x794C_7630, "overlay", false),
    ];
    known
        .iter()
        .find(|(m, _, _)| *m == magic)
        .map(|(_, n, shared)| (*n, *shared))
}

/// Where one trial is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// To be submitted.
    Waiting,
    /// Submitted; the scheduler has not started it.
    Queued,
    /// Running on a node.
    Running,
    /// Its result is final.
    Done,
}

struct Track {
    phase: Phase,
    job: Option<String>,
    task: usize,
    attempt: u32,
    failures: Vec<String>,
    reader: MetricsReader,
    watch: LineWatch,
    result: TrialResult,
    /// Set when lrsched ended the task itself (pruned, diverged, timed out).
    ended_by_us: Option<TrialStatus>,
    started_event: bool,
    /// Wall clock of the submission, to compare with the task's own start stamp.
    submitted_wall: Option<f64>,
    started_at: Option<Instant>,
    /// Seconds from submission to the task's start and to its result (the last attempt).
    to_start: Option<f64>,
    to_result: Option<f64>,
    /// Polls in a row the scheduler did not know the task.
    unknown_polls: u32,
    /// The summed `epoch_seconds` of the lines read.
    clock: f64,
}

impl Track {
    fn id(&self) -> Option<String> {
        self.job.as_ref().map(|j| format!("{j}_{}", self.task))
    }
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

/// Runs `trials` on the cluster: the SLURM counterpart of [`crate::runner::run_all`],
/// with the same `control` and `events` (plus [`TrialEvent::Queue`] and
/// [`TrialEvent::Note`]). At most `jobs` tasks run at once (`%J` of the array). Every
/// trainer must be a command (a trial is a process on a node); results come back in the
/// order of `trials`.
pub fn run_all(
    config: &SlurmConfig,
    jobs: usize,
    trials: &[(&Trainer, TrialInput)],
    control: &(dyn Fn(usize, &Line) -> Control + Sync),
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) -> Result<(Vec<TrialResult>, Timings), String> {
    let commands: Vec<&CommandTrainer> = trials
        .iter()
        .map(|(t, _)| match t {
            Trainer::Command(c) => Ok(c),
            Trainer::BuiltIn(_) => Err(
                "the SLURM launcher runs trials as programs: give the built-in trainer as a command (`lrsched train ...`)".to_string(),
            ),
        })
        .collect::<Result<_, _>>()?;
    if trials.is_empty() {
        return Ok((Vec::new(), Timings::default()));
    }
    check_installed()?;
    std::fs::create_dir_all(config.state_dir.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", config.state_dir.display()))?;
    if let Some(note) = check_shared(&config.state_dir)? {
        events(TrialEvent::Note { text: &note });
    }
    // What a task checks first: a file only a node that shares --out can read.
    let token = config.state_dir.join("visible-from-nodes");
    crate::files::write_atomic(&token, b"lrsched\n")?;
    let history = read_history(&config.state_dir.join("submissions.jsonl"));
    let cancelled_by_us: BTreeSet<String> =
        std::fs::read_to_string(config.state_dir.join(CANCELLED_FILE))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().to_string())
            .collect();
    let mut tracks: Vec<Track> = trials
        .iter()
        .map(|(_, input)| Track {
            phase: Phase::Waiting,
            job: None,
            task: 0,
            attempt: 0,
            failures: Vec::new(),
            reader: MetricsReader::for_trial(input),
            watch: LineWatch::new(DivergenceRule::default()),
            result: TrialResult::new(),
            ended_by_us: None,
            started_event: false,
            submitted_wall: None,
            started_at: None,
            to_start: None,
            to_result: None,
            unknown_polls: 0,
            clock: 0.0,
        })
        .collect();
    let mut timings = Timings::default();
    // Attach to what an earlier run submitted.
    let mut asked: HashMap<String, HashMap<String, TaskState>> = HashMap::new();
    for (i, (_, input)) in trials.iter().enumerate() {
        let Some(sub) = history.get(&input.dir) else {
            // A trial run from a --print-trials line, or whose earlier run was never
            // submitted, may have ended already.
            if let Some(code) = read_exit_status(&input.dir) {
                tracks[i].attempt = 1;
                finish_track(config, &mut tracks[i], i, input, None, Some(code), events);
            }
            continue;
        };
        let t = &mut tracks[i];
        t.job = Some(sub.job.clone());
        t.task = sub.task;
        t.attempt = sub.attempt;
        if !asked.contains_key(&sub.job) {
            asked.insert(sub.job.clone(), query(&sub.job)?);
        }
        let id = format!("{}_{}", sub.job, sub.task);
        let state = asked[&sub.job].get(&id).cloned();
        let code = read_exit_status(&input.dir);
        let stopped_from_outside =
            state.as_ref().is_none_or(|s| s.stopped_by_scheduler()) && code.is_none_or(|c| c > 128);
        if stopped_from_outside && cancelled_by_us.contains(&sub.job) {
            // Stopped by our own Ctrl-C: not a failed attempt; it runs again.
            t.attempt = sub.attempt.saturating_sub(1);
            t.job = None;
            continue;
        }
        match (&state, code) {
            (Some(s), _) if !s.ended() && code.is_none() => {
                t.phase = if s.running() {
                    Phase::Running
                } else {
                    Phase::Queued
                };
                if let Ok(mut set) = SUBMITTED.lock() {
                    set.insert(sub.job.clone(), config.state_dir.clone());
                }
                events(TrialEvent::Note {
                    text: &format!(
                        "{}: task {id} of an earlier run is {}: watching it, not submitting it again",
                        input.name,
                        s.state.to_lowercase()
                    ),
                });
            }
            _ => finish_track(
                config,
                &mut tracks[i],
                i,
                input,
                state.as_ref(),
                code,
                events,
            ),
        }
    }
    let mut last_queue = Instant::now() - config.queue_poll;
    let mut last_counts = None;
    loop {
        if process::cancelled() {
            for (i, t) in tracks.iter_mut().enumerate() {
                if t.phase != Phase::Done {
                    t.phase = Phase::Done;
                    t.result.status = TrialStatus::Cancelled;
                    events(TrialEvent::Finished {
                        index: i,
                        input: &trials[i].1,
                        result: &t.result,
                    });
                }
            }
            break;
        }
        // Submit what waits, as one array.
        let waiting: Vec<usize> = (0..tracks.len())
            .filter(|i| tracks[*i].phase == Phase::Waiting)
            .collect();
        if !waiting.is_empty() {
            submit(
                config,
                jobs,
                trials,
                &commands,
                &mut tracks,
                &waiting,
                events,
            )?;
            timings.submitted += waiting.len();
        }
        // Read what the running trials wrote.
        for (i, t) in tracks.iter_mut().enumerate() {
            if matches!(t.phase, Phase::Queued | Phase::Running) {
                let input = &trials[i].1;
                read_lines(config, t, i, input, control, events, false);
                // A trial that wrote its status has ended: no need to wait for the queue,
                // unless a signal ended it (the queue then says who: the scheduler?).
                if let Some(code) = read_exit_status(&input.dir).filter(|c| *c <= 128) {
                    finish_track(config, t, i, input, None, Some(code), events);
                }
            }
        }
        // Ask the scheduler.
        if last_queue.elapsed() >= config.queue_poll {
            last_queue = Instant::now();
            let jobs_now: BTreeSet<String> = tracks
                .iter()
                .filter(|t| matches!(t.phase, Phase::Queued | Phase::Running))
                .filter_map(|t| t.job.clone())
                .collect();
            let mut states = HashMap::new();
            let mut failed_query = None;
            for j in &jobs_now {
                match query(j) {
                    Ok(s) => states.extend(s),
                    Err(e) => failed_query = Some(e),
                }
            }
            if let Some(e) = failed_query {
                // A busy controller answers late or not at all: say so, ask again.
                events(TrialEvent::Note {
                    text: &format!("the scheduler did not answer ({e}); asking again"),
                });
            } else {
                for (i, t) in tracks.iter_mut().enumerate() {
                    if !matches!(t.phase, Phase::Queued | Phase::Running) {
                        continue;
                    }
                    let input = &trials[i].1;
                    let id = t.id().unwrap_or_default();
                    let code = read_exit_status(&input.dir);
                    match states.get(&id) {
                        Some(s) if s.ended() => {
                            finish_track(config, t, i, input, Some(s), code, events)
                        }
                        Some(s) => {
                            t.unknown_polls = 0;
                            if s.running() && t.phase == Phase::Queued {
                                t.phase = Phase::Running;
                                t.started_at = Some(Instant::now());
                                if !t.started_event {
                                    t.started_event = true;
                                    events(TrialEvent::Started { index: i, input });
                                }
                            }
                            if let Some(limit) = commands[i].timeout {
                                if t.started_at.is_some_and(|s| s.elapsed() >= limit) {
                                    let status = TrialStatus::TimedOut {
                                        seconds: limit.as_secs_f64(),
                                    };
                                    cancel_task(t, status);
                                    finish_track(config, t, i, input, None, None, events);
                                }
                            }
                        }
                        // Ended by itself, or by lrsched (a task cancelled while pending
                        // leaves no trace in the queue).
                        None if code.is_some() || t.ended_by_us.is_some() => {
                            finish_track(config, t, i, input, None, code, events)
                        }
                        None => {
                            t.unknown_polls += 1;
                            // Three polls in a row: not a race with a fresh submission.
                            if t.unknown_polls >= 3 {
                                let gone = TaskState {
                                    state: "UNKNOWN".into(),
                                    reason: "it left the queue without a trace: cancelled while pending, or purged"
                                        .into(),
                                    node: String::new(),
                                };
                                finish_track(config, t, i, input, Some(&gone), None, events);
                            }
                        }
                    }
                }
            }
            let counts = count(&tracks);
            if last_counts != Some(counts) {
                last_counts = Some(counts);
                events(TrialEvent::Queue {
                    pending: counts.0,
                    running: counts.1,
                    done: counts.2,
                    failed: counts.3,
                });
            }
        }
        if tracks.iter().all(|t| t.phase == Phase::Done) {
            break;
        }
        std::thread::sleep(config.poll);
    }
    // Nothing of ours is left to cancel.
    if let Ok(mut set) = SUBMITTED.lock() {
        for t in &tracks {
            if let Some(j) = &t.job {
                set.remove(j);
            }
        }
    }
    timings.to_start = tracks.iter().filter_map(|t| t.to_start).collect();
    timings.to_result = tracks.iter().filter_map(|t| t.to_result).collect();
    Ok((tracks.into_iter().map(|t| t.result).collect(), timings))
}

/// `(pending, running, done, failed)`.
fn count(tracks: &[Track]) -> (usize, usize, usize, usize) {
    let mut c = (0, 0, 0, 0);
    for t in tracks {
        match t.phase {
            Phase::Waiting | Phase::Queued => c.0 += 1,
            Phase::Running => c.1 += 1,
            Phase::Done if t.result.status.is_usable() => c.2 += 1,
            Phase::Done => c.3 += 1,
        }
    }
    c
}

/// Reads the lines a trial wrote since the last read; ends the trial (scancel) when it
/// diverged or `control` stops it. `all`: the task has ended, read to the end.
fn read_lines(
    config: &SlurmConfig,
    t: &mut Track,
    index: usize,
    input: &TrialInput,
    control: &(dyn Fn(usize, &Line) -> Control + Sync),
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
    all: bool,
) {
    let batch = if all {
        t.reader.finish()
    } else {
        t.reader.poll()
    };
    for mut line in batch.lines {
        if t.ended_by_us.is_some() {
            break;
        }
        if !t.started_event {
            t.started_event = true;
            events(TrialEvent::Started { index, input });
        }
        if let Line::Epoch(e) = &mut line {
            // The built-in trainer's own clock where the line has it (as a local run
            // sums it); else the time the line was read, from the task's start stamp,
            // while the task runs (a line read only at the end has no time).
            e.elapsed = match e.get("epoch_seconds") {
                Some(s) => {
                    t.clock += s;
                    Some(t.clock)
                }
                None if !all => start_stamp(config, t).map(|s| (wall_now() - s).max(0.0)),
                None => None,
            };
        }
        events(TrialEvent::Line {
            index,
            input,
            line: &line,
        });
        let stop = if let Some(what) = t.watch.diverged(&line) {
            Some(TrialStatus::Diverged {
                at: process::at(&line),
                what,
            })
        } else if all {
            None
        } else if let Control::Stop(reason) = control(index, &line) {
            Some(TrialStatus::Stopped { reason })
        } else {
            None
        };
        t.result.push(line);
        if let Some(s) = stop {
            cancel_task(t, s);
        }
    }
    if let Some(e) = batch.error {
        if t.ended_by_us.is_none() {
            cancel_task(t, TrialStatus::Malformed(e));
        }
    }
}

/// Ends a task lrsched decided to end (pruned, diverged, timed out, bad output).
fn cancel_task(t: &mut Track, status: TrialStatus) {
    if let Some(id) = t.id() {
        let _ = Command::new("scancel").arg(&id).output();
    }
    t.ended_by_us = Some(status);
}

/// A task has ended (or lrsched ended it): its result, or a retry.
fn finish_track(
    config: &SlurmConfig,
    t: &mut Track,
    index: usize,
    input: &TrialInput,
    state: Option<&TaskState>,
    code: Option<i32>,
    events: &(dyn Fn(TrialEvent<'_>) + Sync),
) {
    if t.ended_by_us.is_none() {
        // Lines written after the last read, and a last line without its newline.
        let noop = |_: usize, _: &Line| Control::Continue;
        read_lines(config, t, index, input, &noop, events, true);
    }
    let id = t.id().unwrap_or_else(|| "outside lrsched".into());
    // A status of death by a signal from a task the scheduler stopped (cancelled, time
    // limit, out of memory, node failure) is the scheduler's doing: its state says more.
    let scheduler_stopped = state.is_some_and(TaskState::stopped_by_scheduler);
    let code = code.filter(|c| !(scheduler_stopped && *c > 128));
    let status = if let Some(s) = t.ended_by_us.take() {
        s
    } else if let Some(code) = code {
        // The trial ended by itself: its own exit status and the lines just read to the
        // end of its file say how (no second reading of a file that may be 100 MB).
        t.result.stderr_tail = process::tail(&input.dir.join("stderr.log"), 20);
        process::status_from_exit(&t.result, code)
    } else {
        // The scheduler ended it before its line could say anything.
        let s = state.cloned().unwrap_or(TaskState {
            state: "UNKNOWN".into(),
            reason: String::new(),
            node: String::new(),
        });
        let exit = t.id().and_then(|id| exit_code_of(&id));
        let message = if exit == Some(NOT_SHARED_EXIT) {
            format!(
                "task {id} could not see {} from node {}: --out is not on a filesystem the nodes share",
                config.state_dir.display(),
                if s.node.is_empty() { "?" } else { &s.node }
            )
        } else {
            format!("SLURM task {id}: {}", s.describe())
        };
        t.result.stderr_tail = process::tail(&input.dir.join("stderr.log"), 20);
        TrialStatus::Failed {
            code: exit.filter(|c| *c != 0),
            signal: None,
            message: Some(message),
        }
    };
    let retry = matches!(status, TrialStatus::Failed { .. }) && t.attempt <= config.retries;
    if retry {
        let what = format!("attempt {} ({id}): {status}", t.attempt.max(1));
        events(TrialEvent::Note {
            text: &format!(
                "{}: {what}; retrying ({} of {} retries)",
                input.name,
                t.attempt.max(1),
                config.retries
            ),
        });
        t.failures.push(what);
        t.phase = Phase::Waiting;
        t.result = TrialResult::new();
        t.clock = 0.0;
        t.watch = LineWatch::new(DivergenceRule::default());
        t.reader = MetricsReader::for_trial(input);
        return;
    }
    t.result.status = status;
    t.result.attempts = std::mem::take(&mut t.failures);
    let now = wall_now();
    let started = start_stamp(config, t);
    if let Some(start) = started {
        t.result.seconds = (now - start).max(0.0);
    } else if let Some(s) = t.started_at {
        t.result.seconds = s.elapsed().as_secs_f64();
    }
    if let Some(sub) = t.submitted_wall {
        t.to_start = started.map(|s| (s - sub).max(0.0));
        t.to_result = Some((now - sub).max(0.0));
    }
    t.phase = Phase::Done;
    events(TrialEvent::Finished {
        index,
        input,
        result: &t.result,
    });
}

/// When the task's script started (its `date +%s.%N` stamp in the logs folder).
fn start_stamp(config: &SlurmConfig, t: &Track) -> Option<f64> {
    let id = t.id()?;
    let stamp = config.state_dir.join("logs").join(format!("{id}.start"));
    std::fs::read_to_string(stamp)
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
}

/// Seconds since the Unix epoch, as the tasks' `date +%s.%N` stamps write them.
fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// What a task exits with when it cannot see the launcher's folder.
const NOT_SHARED_EXIT: i32 = 97;

fn read_exit_status(dir: &Path) -> Option<i32> {
    // Never blocking: the trial's program could have put a FIFO there.
    let bytes = crate::protocol::read_trial_file(&dir.join("exit_status"), 64).ok()?;
    std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
}

/// The latest submission of each trial folder.
fn read_history(path: &Path) -> HashMap<PathBuf, Submission> {
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
fn submit(
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
    use super::*;

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
