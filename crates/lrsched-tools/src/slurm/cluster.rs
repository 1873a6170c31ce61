//! Asking the cluster: its tools (`squeue`, `sacct`) read into task states, and whether
//! the launcher's folder is on a filesystem the compute nodes share.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

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

/// Runs a command and returns its standard output, or a one-line error naming it.
pub(super) fn run_tool(program: &str, args: &[String]) -> Result<String, String> {
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
pub(super) fn query(job: &str) -> Result<HashMap<String, TaskState>, String> {
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
pub(super) fn exit_code_of(task: &str) -> Option<i32> {
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

pub(super) fn hostname() -> String {
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
pub(super) fn filesystem(dir: &Path) -> Option<(&'static str, bool)> {
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
