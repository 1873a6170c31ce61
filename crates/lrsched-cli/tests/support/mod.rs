//! Helpers the CLI tests share: the user-error check, the candle example program and
//! process checks.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The candle example program (`lrsched-candle`'s `digits_trial`), from the target folder
/// this test's lrsched was built in. `cargo test --workspace` has built it already; a
/// narrower run builds it here once, with the workspace's features, so candle is never
/// compiled a second time with another feature set.
pub fn digits_trial() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let lrsched = PathBuf::from(env!("CARGO_BIN_EXE_lrsched"));
        let profile_dir = lrsched.parent().unwrap();
        let exe = profile_dir.join("examples").join("digits_trial");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-q", "--workspace", "--example", "digits_trial"])
            .arg("--target-dir")
            .arg(profile_dir.parent().unwrap())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cannot build the digits_trial example");
        assert!(exe.exists(), "{} missing", exe.display());
        exe
    })
}

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

/// A user error: exit status 2 and one line on stderr, `error: ...`, naming `needle`.
pub fn assert_user_error(o: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "`{needle}` in: {err}");
}

/// The rows of a tune's `results.jsonl`, best first.
pub fn results(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
