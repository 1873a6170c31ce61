//! Process checks the CLI tests and the tools' trial tests share (the tools include this
//! file by path): whether a test program still runs, waiting for it, its process id.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;
use std::time::{Duration, Instant};

/// Whether a process is running: no /proc entry, or a zombie (killed, awaiting a reaper),
/// is not. A signal is delivered asynchronously: the kernel gets up to 2 s to finish it.
pub fn alive(pid: u32) -> bool {
    let running = || match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    };
    let until = Instant::now() + Duration::from_secs(2);
    while running() {
        if Instant::now() > until {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Waits until `path` exists (a test program got that far), failing the test after `limit`.
pub fn wait_for(path: &Path, limit: Duration) {
    let until = Instant::now() + limit;
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The process id a test program wrote into `path`.
pub fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
