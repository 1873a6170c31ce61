//! lrsched killed with SIGKILL while a `--command` trial runs: the trial's program and
//! the processes it started die with it (issue 19: before, `sh` died by PDEATHSIG and
//! the program it had forked went on appending to the trial folder).

mod support;

use std::process::Command;
use std::time::Duration;
use support::{alive, arg, read_pid, spawn_quiet, wait_for, write};

#[test]
fn kill_9_of_lrsched_ends_the_program_and_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let schedules = write(
        dir.path(),
        "s.toml",
        "[[schedules]]\nname = \"c\"\nschedule = \"constant(lr=0.1)\"\n",
    );
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).unwrap();
    // `sh -c` forks the program (a subshell here) and the program a child of its own:
    // neither is the shell PDEATHSIG reaches. Each pid file appears whole (mv).
    let program = format!(
        "(sleep 300 & echo $! > {p}/c.tmp && mv {p}/c.tmp {p}/child; sh -c 'echo $$ > {p}/p.tmp && mv {p}/p.tmp {p}/program; exec sleep 300'); echo done",
        p = pids.display()
    );
    let out = dir.path().join("out");
    let mut lrsched = spawn_quiet(&[
        "compare",
        "--command",
        &program,
        "--schedules",
        &schedules,
        "--seeds",
        "1",
        "--epochs",
        "1",
        "--out",
        arg(&out),
    ]);
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
