//! The trial and the command trainer the protocol tests share.
#![allow(dead_code)] // each test file uses its own part

use lrsched_tools::process::CommandTrainer;
use lrsched_tools::protocol::TrialInput;
use std::path::Path;
use std::time::Duration;

/// A 3-epoch trial of a cosine schedule, seed 5, in `dir/trial`.
pub fn input(dir: &Path) -> TrialInput {
    TrialInput {
        name: "t".into(),
        schedule: lrsched::ScheduleSpec::from_value(
            serde_json::json!({"type": "cosine", "lr": 0.1, "steps": "100%"}),
        )
        .unwrap(),
        seed: 5,
        epochs: 3,
        max_steps: None,
        dir: dir.join("trial"),
    }
}

/// `script` as a trial's program: polled every 10 ms, stopped 300 ms after SIGTERM, timed
/// out after `timeout`.
pub fn trainer(script: &str, timeout: Duration) -> CommandTrainer {
    let mut t = CommandTrainer::new(script);
    t.timeout = Some(timeout);
    t.grace = Duration::from_millis(300);
    t.poll = Duration::from_millis(10);
    t
}
