//! lrsched killed with SIGKILL while a `--command` trial runs: the trial's program and
//! the processes it started die with it (issue 19: before, `sh` died by PDEATHSIG and
//! the program it had forked went on appending to the trial folder).

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::{alive, read_pid, wait_for};

#[test]
fn kill_9_of_lrsched_ends_the_program_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let schedules = dir.path().join("s.toml");
    std::fs::write(
        &schedules,
        "[[schedules]]\nname = \"c\"\nschedule = \"constant(lr=0.1)\"\n",
    )
    .unwrap();
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).unwrap();
    // `sh -c` forks the program (a subshell here) and the program a child of its own:
    // neither is the shell PDEATHSIG reaches. Each pid file appears whole (mv).
    let program = format!(
        "(sleep 300 & echo $! > {p}/c.tmp && mv {p}/c.tmp {p}/child; sh -c 'echo $$ > {p}/p.tmp && mv {p}/p.tmp {p}/program; exec sleep 300'); echo done",
        p = pids.display()
    );
    let mut lrsched = Command::new(env!("CARGO_BIN_EXE_lrsched"))
        .args(["compare", "--command", &program, "--schedules"])
        .arg(&schedules)
        .args(["--seeds", "1", "--epochs", "1", "--out"])
        .arg(dir.path().join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&pids.join("child"), Duration::from_secs(60));
    wait_for(&pids.join("program"), Duration::from_secs(60));
    let (child, program) = (
        read_pid(&pids.join("child")),
        read_pid(&pids.join("program")),
    );
    assert!(alive(child) && alive(program), "the trial is running");
    lrsched.kill().unwrap(); // SIGKILL
    lrsched.wait().unwrap();
    let child_alive = alive(child);
    let program_alive = alive(program);
    if child_alive || program_alive {
        // Leave nothing behind for the next test, then fail.
        for pid in [child, program] {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
    assert!(!program_alive, "the program outlived a SIGKILLed lrsched");
    assert!(
        !child_alive,
        "the program's child outlived a SIGKILLed lrsched"
    );
}
