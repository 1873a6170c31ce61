//! Running a user's training command as one trial: its own process group, the protocol's
//! environment, its metrics read as they are written, a timeout, and a clean stop
//! (SIGTERM, then SIGKILL after a grace period) that leaves no process behind.

use crate::protocol::{Line, MetricsReader, TrialInput};
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_train::divergence::{DivergenceRule, Watch};
use std::collections::BTreeSet;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A training program run once per trial (`--command`).
///
/// ```
/// use lrsched_tools::process::CommandTrainer;
/// let t = CommandTrainer::new("python train.py --data-dir data");
/// assert_eq!(t.grace, std::time::Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CommandTrainer {
    /// The command line, run by `sh -c` (so quoting and `&&` work as in a shell).
    pub command: String,
    /// The folder it runs in (default: lrsched's own).
    pub cwd: Option<PathBuf>,
    /// The program's optimizer steps per epoch, when the user gave it: durations such as
    /// `"3ep"` are then resolved before the trial starts (`LRSCHED_STEPS_PER_EPOCH`).
    pub steps_per_epoch: Option<u64>,
    /// A trial running longer is stopped and reported as timed out.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when a trial is stopped.
    pub grace: Duration,
    /// How often the metrics file is read.
    pub poll: Duration,
    /// When a loss that is still finite counts as diverged: on the step lines' `loss`, or,
    /// for a program that reports only epochs, on the epochs' `train_loss` (else `loss`).
    pub divergence: DivergenceRule,
    /// The optimizer the program is asked to build (`LRSCHED_OPTIMIZER`, a JSON object;
    /// docs/protocol.md): set by compare for an optimizer baseline, and only for a program
    /// that declared it honours the request. `None`: the variable is removed.
    pub optimizer: Option<serde_json::Value>,
}

pub use crate::protocol::MAX_LINES_PER_TRIAL;

impl CommandTrainer {
    /// A command with the defaults: no timeout, 5 s grace, metrics read every 20 ms.
    pub fn new(command: impl Into<String>) -> Self {
        CommandTrainer {
            command: command.into(),
            cwd: None,
            steps_per_epoch: None,
            timeout: None,
            grace: Duration::from_secs(5),
            // Short enough that a quick trial's end is seen at once (the default compare
            // runs 33 trials of a fraction of a second), long enough to cost nothing.
            poll: Duration::from_millis(20),
            divergence: DivergenceRule::default(),
            optimizer: None,
        }
    }

    /// `LRSCHED_OPTIMIZER` and its value, when the trainer carries a request.
    ///
    /// ```
    /// let mut t = lrsched_tools::process::CommandTrainer::new("python train.py");
    /// assert_eq!(t.optimizer_env(), None);
    /// t.optimizer = Some(serde_json::json!({"name": "prodigy", "lr": 1.0}));
    /// assert_eq!(t.optimizer_env().unwrap(), ("LRSCHED_OPTIMIZER", r#"{"lr":1.0,"name":"prodigy"}"#.to_string()));
    /// ```
    pub fn optimizer_env(&self) -> Option<(&'static str, String)> {
        self.optimizer
            .as_ref()
            .map(|o| (crate::protocol::ENV_OPTIMIZER, o.to_string()))
    }
}

/// Process groups of the trials running now, so [`cancel_all`] can end them.
static RUNNING: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());
static CANCELLED: AtomicBool = AtomicBool::new(false);

/// What [`cancel_all`] also calls: the SLURM launcher's `scancel` of the jobs it
/// submitted, set through [`on_cancel`] before it submits any. A slot rather than a call
/// by name, so this launcher, which the SLURM one is built on, does not depend on it.
static CANCEL_ABOVE: OnceLock<fn() -> Option<String>> = OnceLock::new();

/// Makes [`cancel_all`] also call `cancel` and return what it says: how a launcher built
/// on this one has its own jobs cancelled on Ctrl-C. The first one given stays.
pub(crate) fn on_cancel(cancel: fn() -> Option<String>) {
    let _ = CANCEL_ABOVE.set(cancel);
}

/// Stops every running trial at once (SIGKILL to each process group, `scancel` of the
/// SLURM jobs this process submitted) and makes running and later trials end as
/// [`TrialStatus::Cancelled`]: what a Ctrl-C handler calls. Returns what it said to the
/// cluster, if anything.
pub fn cancel_all() -> Option<String> {
    CANCELLED.store(true, Ordering::SeqCst);
    let groups = RUNNING.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        kill_group(pgid, libc::SIGKILL);
    }
    CANCEL_ABOVE.get().and_then(|cancel| cancel())
}

/// Makes Ctrl-C (SIGINT), SIGTERM and SIGHUP end the whole run cleanly: every running
/// trial's process group is killed, a line says so, and the process exits with 128 + the
/// signal. Call it at the start of `main`, before any other thread is started (the
/// signals are blocked in every thread and taken by one waiting thread).
pub fn cancel_on_interrupt() {
    // SAFETY: plain libc signal-mask calls on a local set; the waiting thread owns a copy.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        std::thread::spawn(move || {
            let mut sig = 0;
            libc::sigwait(&set, &mut sig);
            let cluster = cancel_all();
            eprintln!("\ninterrupted (signal {sig}): every running trial was stopped");
            if let Some(line) = cluster {
                eprintln!("{line}");
            }
            std::process::exit(128 + sig);
        });
    }
}

/// Whether [`cancel_all`] was called.
pub fn cancelled() -> bool {
    CANCELLED.load(Ordering::SeqCst)
}

fn kill_group(pgid: i32, signal: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

/// Removes the group from the registry and kills what is left of it when dropped, so
/// neither an error path nor a panic leaves the trial's processes running.
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0, libc::SIGKILL);
        if let Ok(mut g) = RUNNING.lock() {
            g.remove(&self.0);
        }
    }
}

/// Kills a trial's process group when lrsched goes away, however it goes (SIGKILL
/// included): a small `sh` in a process group of its own, deaf to the terminal's and
/// lrsched's signals, that reads its standard input until end of file and then kills the
/// group. lrsched holds the input's only write end, which the kernel closes when lrsched
/// exits for any reason; dropping the `Reaper` closes it on purpose when the trial ends.
///
/// `PR_SET_PDEATHSIG` alone reaches only the trial's shell: `sh -c` forks the program (and
/// the program its own children), and those would outlive a killed lrsched and go on
/// appending to a folder a rerun uses.
struct Reaper {
    child: Option<std::process::Child>,
}

impl Reaper {
    /// A reaper for process group `pgid`; `None` inside when `sh` cannot be started (the
    /// trial's shell still dies with lrsched through PDEATHSIG).
    fn watch(pgid: i32) -> Reaper {
        use std::io::Write;
        let spawned = Command::new("sh")
            .arg("-c")
            // `kill` is dash's and bash's builtin: no process to start after lrsched died.
            .arg(r#"trap '' INT TERM HUP QUIT PIPE; read pg; while read _; do :; done; kill -KILL -"$pg" 2>/dev/null; exit 0"#)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let Ok(mut child) = spawned else {
            return Reaper { child: None };
        };
        let told = child
            .stdin
            .as_mut()
            .map(|i| writeln!(i, "{pgid}").and_then(|_| i.flush()));
        if !matches!(told, Some(Ok(()))) {
            let _ = child.kill();
            let _ = child.wait();
            return Reaper { child: None };
        }
        Reaper { child: Some(child) }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // End of file: the reaper kills what is left of the group and exits.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// The lock that fences a trial folder: `.trial.lock` in it, locked (`flock`) by lrsched
/// and inherited, open, by the trial's program and every process it starts. The kernel
/// drops the lock only when the last of them has closed it, so while any process of an
/// earlier attempt lives (lrsched killed before it could end the trial, a daemon the
/// program started in a session of its own) a new attempt refuses the folder instead of
/// running beside it.
struct TrialFence {
    file: std::fs::File,
}

impl TrialFence {
    /// How long a new attempt waits for the processes of an earlier one to finish dying.
    const WAIT: Duration = Duration::from_secs(3);

    fn take(input: &TrialInput) -> Result<TrialFence, String> {
        std::fs::create_dir_all(&input.dir)
            .map_err(|e| format!("cannot create {}: {e}", input.dir.display()))?;
        let path = input.dir.join(".trial.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let until = Instant::now() + Self::WAIT;
        loop {
            if lrsched_train::lock::try_lock(&file)
                .map_err(|e| format!("cannot lock {}: {e}", path.display()))?
            {
                return Ok(TrialFence { file });
            }
            if Instant::now() >= until {
                return Err(format!(
                    "{} is still in use by a process of an earlier attempt (it holds {}): \
                     not starting a second writer there; end that process (fuser -k {}) and run again",
                    input.dir.display(),
                    path.display(),
                    path.display()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.file.as_raw_fd()
    }
}

/// Runs one trial of `trainer`: calls `control` with every line the program writes
/// (return [`Control::Stop`] to end the trial, e.g. a pruned ASHA trial or a range test
/// past its stop rule) and returns what it reported and how it ended.
pub fn run(
    trainer: &CommandTrainer,
    input: &TrialInput,
    control: &mut dyn FnMut(&Line) -> Control,
) -> TrialResult {
    let started = Instant::now();
    let mut result = TrialResult::new();
    if cancelled() {
        result.status = TrialStatus::Cancelled;
        return result;
    }
    // The folder's fence first: while a process of an earlier attempt lives, nothing of
    // this one may start writing there.
    let fence = match TrialFence::take(input) {
        Ok(f) => f,
        Err(e) => {
            result.status = TrialStatus::Failed {
                code: None,
                signal: None,
                message: Some(e),
            };
            return result;
        }
    };
    if let Err(e) = prepare_dir(input) {
        result.status = TrialStatus::Failed {
            code: None,
            signal: None,
            message: Some(e),
        };
        return result;
    }
    let open = |name: &str| std::fs::File::create(input.dir.join(name));
    let (stdout, stderr) = match (open("stdout.log"), open("stderr.log")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            result.status = TrialStatus::Failed {
                code: None,
                signal: None,
                message: Some(format!(
                    "cannot create logs in {}: {e}",
                    input.dir.display()
                )),
            };
            return result;
        }
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&trainer.command)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .envs(input.env(trainer.steps_per_epoch))
        .env_remove(crate::protocol::ENV_OPTIMIZER)
        .envs(trainer.optimizer_env())
        .process_group(0);
    if let Some(dir) = &trainer.cwd {
        cmd.current_dir(dir);
    }
    let fence_fd = fence.fd();
    // SAFETY: prctl, fcntl and pthread_sigmask are async-signal-safe and touch no memory
    // of the parent. PDEATHSIG makes the kernel kill the trial's shell if lrsched itself
    // dies, even by SIGKILL (its children are the reaper's: `Reaper`).
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The fence's open file goes to the program and everything it starts: the
            // folder stays fenced while any of them lives (`TrialFence`).
            libc::fcntl(fence_fd, libc::F_SETFD, 0);
            // `cancel_on_interrupt` blocks SIGINT/SIGTERM in lrsched's threads, and a
            // blocked mask survives exec: unblock them so the trial can be stopped.
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &all, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            result.status = TrialStatus::Failed {
                code: None,
                signal: None,
                message: Some(format!("cannot start `sh -c {}`: {e}", trainer.command)),
            };
            return result;
        }
    };
    let pgid = child.id() as i32;
    if let Ok(mut g) = RUNNING.lock() {
        g.insert(pgid);
    }
    // Dropped in reverse order: the group is killed, then the reaper ends, then the fence
    // is released (held on by any process of the trial that escaped its group).
    let _fence = fence;
    let _reaper = Reaper::watch(pgid);
    let _guard = GroupGuard(pgid);
    let mut reader = MetricsReader::for_trial(input);
    let mut watch = LineWatch::new(trainer.divergence);
    // Set when lrsched ends the trial itself; the exit status then says nothing new.
    let mut ended: Option<TrialStatus> = None;
    let exit = loop {
        let waited = child.try_wait();
        // Once the program has exited, the file is read to its end, however long.
        let batch = if matches!(waited, Ok(Some(_))) {
            reader.finish()
        } else {
            reader.poll()
        };
        for mut line in batch.lines {
            if ended.is_some() {
                break;
            }
            if let Line::Epoch(e) = &mut line {
                e.elapsed = Some(started.elapsed().as_secs_f64());
            }
            if let Some(why) = watch.diverged(&line) {
                ended = Some(TrialStatus::Diverged {
                    at: at(&line),
                    what: why,
                });
            } else if let Control::Stop(reason) = control(&line) {
                ended = Some(TrialStatus::Stopped { reason });
            }
            result.push(line);
        }
        if let Some(e) = batch.error {
            ended = ended.or(Some(TrialStatus::Malformed(e)));
        }
        if ended.is_none() && cancelled() {
            ended = Some(TrialStatus::Cancelled);
        }
        if ended.is_none() {
            if let Some(limit) = trainer.timeout {
                if started.elapsed() >= limit {
                    ended = Some(TrialStatus::TimedOut {
                        seconds: limit.as_secs_f64(),
                    });
                }
            }
        }
        match waited {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        if ended.is_some() {
            break stop(&mut child, pgid, trainer.grace);
        }
        std::thread::sleep(trainer.poll);
    };
    result.seconds = started.elapsed().as_secs_f64();
    result.stderr_tail = tail(&input.dir.join("stderr.log"), 20);
    result.status = match ended {
        Some(s) => s,
        None => match exit {
            Some(s) if s.success() => {
                if result.epochs.is_empty() && result.steps.is_empty() {
                    TrialStatus::NoReport
                } else {
                    TrialStatus::Completed
                }
            }
            Some(s) => TrialStatus::Failed {
                code: s.code(),
                signal: s.signal(),
                message: None,
            },
            None => TrialStatus::Failed {
                code: None,
                signal: None,
                message: Some("lost track of the process".into()),
            },
        },
    };
    result
}

/// SIGTERM to the group, SIGKILL after `grace` if it is still there; the exit status.
fn stop(
    child: &mut std::process::Child,
    pgid: i32,
    grace: Duration,
) -> Option<std::process::ExitStatus> {
    kill_group(pgid, libc::SIGTERM);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_group(pgid, libc::SIGKILL);
    child.wait().ok()
}

/// A trial as one shell line that runs it anywhere (a cluster node, another machine):
/// the `LRSCHED_*` assignments, the command, its logs in the trial folder and its exit
/// status written atomically to `exit_status` (which marks the attempt as ended: the
/// next `tune` or the SLURM launcher reads the trial's outcome from it); the line exits
/// with the program's status, so a scheduler sees a failure as one. A line whose shell is
/// signalled (a cancelled job) writes no status.
///
/// ```
/// use lrsched_tools::process::{shell_line, CommandTrainer};
/// use lrsched_tools::protocol::TrialInput;
/// let dir = tempfile::tempdir().unwrap();
/// let input = TrialInput {
///     name: "t".into(), schedule: "constant(lr=0.1)".parse().unwrap(),
///     seed: 1, epochs: 1, max_steps: None, dir: dir.path().to_path_buf(),
/// };
/// let line = shell_line(&CommandTrainer::new("echo \"{\\\"epoch\\\": 1}\" >> $LRSCHED_METRICS; exit 3"), &input);
/// let status = std::process::Command::new("sh").arg("-c").arg(&line).status().unwrap();
/// assert_eq!(status.code(), Some(3));
/// assert_eq!(std::fs::read_to_string(dir.path().join("exit_status")).unwrap(), "3\n");
/// ```
pub fn shell_line(trainer: &CommandTrainer, input: &TrialInput) -> String {
    use crate::files::shell_quote as q;
    let dir = input.dir.display().to_string();
    let env: Vec<String> = input
        .env(trainer.steps_per_epoch)
        .into_iter()
        .chain(trainer.optimizer_env())
        .map(|(k, v)| format!("{k}={}", q(&v)))
        .collect();
    let cd = trainer.cwd.as_ref().map_or(String::new(), |c| {
        format!("cd {} && ", q(&c.display().to_string()))
    });
    // A trial without an optimizer request must not inherit one from the shell that runs
    // the line (a login environment, the submitting lrsched's own): unset it, as the local
    // path does.
    let unset = if trainer.optimizer_env().is_none() {
        "-u LRSCHED_OPTIMIZER "
    } else {
        ""
    };
    // A line stopped from outside (scancel, Ctrl-C, a node going down) signals this shell
    // too: it then exits without writing a status, so the attempt counts as not ended
    // (run again), never as the program's own failure.
    format!(
        "trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP; {cd}env {unset}{} sh -c {} >{} 2>{}; s=$?; echo $s >{} && mv -f {} {}; exit $s",
        env.join(" "),
        q(&trainer.command),
        q(&format!("{dir}/stdout.log")),
        q(&format!("{dir}/stderr.log")),
        q(&format!("{dir}/.exit_status.tmp")),
        q(&format!("{dir}/.exit_status.tmp")),
        q(&format!("{dir}/exit_status")),
    )
}

/// A fresh trial folder: an earlier attempt's metrics are kept beside it, never
/// overwritten (`metrics.prev-1.jsonl`, ...), and its `exit_status` removed.
pub(crate) fn prepare_dir(input: &TrialInput) -> Result<(), String> {
    std::fs::create_dir_all(&input.dir)
        .map_err(|e| format!("cannot create {}: {e}", input.dir.display()))?;
    // A kill during an earlier attempt's atomic write leaves its temporary file behind:
    // the folder is being used again, so clean it.
    if let Ok(entries) = std::fs::read_dir(&input.dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.contains(".tmp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let status = input.dir.join("exit_status");
    if status.exists() {
        std::fs::remove_file(&status)
            .map_err(|e| format!("cannot remove {}: {e}", status.display()))?;
    }
    let metrics = input.metrics_path();
    if metrics.exists() {
        let mut k = 1;
        let kept = loop {
            let p = input.dir.join(format!("metrics.prev-{k}.jsonl"));
            if !p.exists() {
                break p;
            }
            k += 1;
        };
        std::fs::rename(&metrics, &kept)
            .map_err(|e| format!("cannot keep {}: {e}", metrics.display()))?;
    }
    // The wire form (config + a stated `interval`), not the spec's one-line Display.
    let text = format!("{}\n", input.schedule.to_value());
    lrsched_train::checkpoint::write_bytes_atomic(&input.schedule_path(), text.as_bytes())
        .map_err(|e| e.to_string())
}

/// The result of a trial that ran elsewhere (a `--print-trials` line, a SLURM task) and
/// exited with `code`, read from its folder: its metrics file (diverged by the same rule
/// as a trial run here), the tail of its stderr, and its status from the code (a shell
/// reports death by signal N as 128 + N).
pub fn result_from_folder(input: &TrialInput, code: i32) -> TrialResult {
    let mut result = TrialResult::new();
    let mut ended = None;
    let mut watch = LineWatch::new(DivergenceRule::default());
    // To the end of the file, however long: a result is never decided on part of it.
    let batch = MetricsReader::for_trial(input).finish();
    for line in batch.lines {
        if ended.is_none() {
            if let Some(what) = watch.diverged(&line) {
                ended = Some(TrialStatus::Diverged {
                    at: at(&line),
                    what,
                });
            }
        }
        result.push(line);
    }
    if let Some(e) = batch.error {
        ended = ended.or(Some(TrialStatus::Malformed(e)));
    }
    // Bounded: a program's stderr may be gigabytes.
    result.stderr_tail = tail(&input.dir.join("stderr.log"), 20);
    result.status = ended.unwrap_or_else(|| status_from_exit(&result, code));
    result
}

/// How a trial that ended by itself with exit status `code` went, given the lines it
/// reported (none read wrong, none diverged): a shell reports death by signal N as 128 + N.
pub(crate) fn status_from_exit(result: &TrialResult, code: i32) -> TrialStatus {
    match code {
        0 if result.epochs.is_empty() && result.steps.is_empty() => TrialStatus::NoReport,
        0 => TrialStatus::Completed,
        c if c > 128 => TrialStatus::Failed {
            code: None,
            signal: Some(c - 128),
            message: None,
        },
        c => TrialStatus::Failed {
            code: Some(c),
            signal: None,
            message: None,
        },
    }
}

/// The divergence rule ([`lrsched_train::divergence`]) over a trial's lines: any value not
/// finite; a runaway step `loss`; for a program that reports no step losses, a runaway
/// epoch `train_loss` (else `loss`).
pub(crate) struct LineWatch {
    steps: Watch,
    epochs: Watch,
    saw_step_loss: bool,
}

impl LineWatch {
    pub(crate) fn new(rule: DivergenceRule) -> LineWatch {
        LineWatch {
            steps: Watch::new(rule),
            epochs: Watch::new(rule.per_epoch()),
            saw_step_loss: false,
        }
    }

    /// `Some(what)` once the trial has diverged.
    pub(crate) fn diverged(&mut self, line: &Line) -> Option<String> {
        if let Some(why) = nonfinite(line) {
            return Some(why);
        }
        match line {
            Line::Step(s) => {
                let loss = s.loss?;
                self.saw_step_loss = true;
                self.steps.observe(loss)
            }
            Line::Epoch(e) if !self.saw_step_loss => {
                let (key, loss) = ["train_loss", "loss"]
                    .iter()
                    .find_map(|k| e.get(k).map(|v| (*k, v)))?;
                self.epochs.observe(loss).map(|w| format!("{key}: {w}"))
            }
            Line::Epoch(_) => None,
        }
    }
}

fn nonfinite(line: &Line) -> Option<String> {
    match line {
        Line::Epoch(e) => e
            .values
            .iter()
            .find(|(_, v)| !v.is_finite())
            .map(|(k, v)| format!("{k} = {v}")),
        Line::Step(s) => match (s.loss, s.lr) {
            (Some(l), _) if !l.is_finite() => Some(format!("loss = {l}")),
            (_, Some(r)) if !r.is_finite() => Some(format!("lr = {r}")),
            _ => None,
        },
    }
}

/// Where a line is, for a divergence message: `epoch 3`, `step 120`.
pub(crate) fn at(line: &Line) -> String {
    match line {
        Line::Epoch(e) => format!("epoch {}", e.epoch),
        Line::Step(s) => format!("step {}", s.step),
    }
}

/// The last `n` lines of a file (at most 64 KiB read, never blocking on a FIFO put in its
/// place), for failure reports.
pub fn tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let Ok(buf) = crate::protocol::read_trial_file(path, 64 * 1024) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.chars().take(300).collect())
        .collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::protocol::parse_line;
    use proptest::prelude::*;

    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<f64>().prop_map(|v| format!("{v:?}")),
            Just("NaN".to_string()),
            Just("Infinity".to_string()),
            Just("-Infinity".to_string()),
            Just("null".to_string()),
            Just("1e999".to_string()),
            Just("\"text\"".to_string()),
        ]
    }

    proptest! {
        /// Whatever a program writes, reading it never panics: a line is read or refused.
        #[test]
        fn any_text_is_read_or_refused(text in "\\PC{0,200}") {
            let _ = parse_line(&text);
        }

        /// Lines shaped like the protocol's, with hostile numbers: the divergence watch
        /// never panics, and a NaN or infinite value always ends the trial.
        #[test]
        fn the_watch_flags_every_non_finite_value(
            values in proptest::collection::vec((any::<bool>(), any::<u64>(), number()), 1..60)
        ) {
            let mut watch = LineWatch::new(DivergenceRule::default());
            for (is_step, n, v) in values {
                let text = if is_step {
                    format!("{{\"step\": {n}, \"loss\": {v}}}")
                } else {
                    format!("{{\"epoch\": {n}, \"train_loss\": {v}}}")
                };
                let Ok(line) = parse_line(&text) else { continue };
                let said = watch.diverged(&line);
                let non_finite = match &line {
                    Line::Step(s) => s.loss.is_some_and(|l| !l.is_finite()),
                    Line::Epoch(e) => e.values.values().any(|v| !v.is_finite()),
                };
                if non_finite {
                    prop_assert!(said.is_some(), "{text}");
                }
            }
        }
    }
}

#[cfg(test)]
mod lines {
    use super::*;

    /// A trial line run from a shell that has `LRSCHED_OPTIMIZER` set: the program sees the
    /// request only when the trial carries one.
    #[test]
    fn a_shell_line_never_passes_on_an_inherited_optimizer_request() {
        let dir = tempfile::tempdir().unwrap();
        let input = TrialInput {
            name: "t".into(),
            schedule: lrsched::ScheduleSpec::parse("constant(lr=0.1)").unwrap(),
            seed: 0,
            epochs: 1,
            max_steps: None,
            dir: dir.path().to_path_buf(),
        };
        let mut trainer =
            CommandTrainer::new(r#"echo "${LRSCHED_OPTIMIZER:-none}" > "$LRSCHED_OUT_DIR/seen""#);
        let seen = |trainer: &CommandTrainer| {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(shell_line(trainer, &input))
                .env("LRSCHED_OPTIMIZER", r#"{"name": "inherited"}"#)
                .status()
                .unwrap();
            assert!(status.success());
            std::fs::read_to_string(dir.path().join("seen")).unwrap()
        };
        assert_eq!(seen(&trainer), "none\n");
        trainer.optimizer = Some(serde_json::json!({"name": "prodigy"}));
        assert_eq!(seen(&trainer), "{\"name\":\"prodigy\"}\n");
    }
}
