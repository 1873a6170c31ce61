//! Watching the submitted trials to the end: one track per trial through its phases, its
//! lines read as they come, retried or finished as the scheduler reports.

use super::cluster::{check_installed, check_shared, exit_code_of, query, TaskState};
use super::submit::{
    cancel_submitted, read_exit_status, read_history, submit, wall_now, Phase, Track,
    CANCELLED_FILE, NOT_SHARED_EXIT, SUBMITTED,
};
use super::{SlurmConfig, Timings};
use crate::process::{self, CommandTrainer, LineWatch};
use crate::protocol::{Line, MetricsReader, TrialInput};
use crate::runner::TrialEvent;
use crate::trainer::Trainer;
use crate::trial::{Control, TrialResult, TrialStatus};
use lrsched_train::divergence::DivergenceRule;
use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::time::Instant;

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
    // Before any job is submitted or watched: Ctrl-C then cancels them too.
    process::on_cancel(cancel_submitted);
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
