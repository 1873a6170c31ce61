//! The interval said at construction (or a note once a per-epoch schedule runs for many
//! steps without an epoch end), pasted configs taking the optimizer's rate, and
//! lrsched's refusals staying matchable as `ScheduleError`s.

use candle_core::backprop::GradStore;
use candle_nn::{Optimizer, SGD};
use lrsched::{config, Cosine, Interval, Schedule, ScheduleError};
use lrsched_candle::{Scheduled, STEPS_WITHOUT_EPOCH_END};
use serde_json::json;

fn sgd(lr: f64) -> SGD {
    SGD::new(vec![], lr).unwrap()
}

/// Optimizer steps without gradients: the wrapper's bookkeeping is all that runs.
fn steps<O: Optimizer + 'static>(opt: &mut Scheduled<O>, n: u64) {
    let grads = GradStore::default();
    for _ in 0..n {
        opt.step(&grads).unwrap();
    }
}

fn cosine_annealing() -> config::Config {
    config::load_json_str(
        r#"{"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 1000}"#,
        None,
    )
    .unwrap()
}

#[test]
fn a_per_epoch_schedule_never_ended_is_noted_once() {
    // The issue's loop: a pasted per-epoch class in a per-step loop without end_epoch.
    let mut opt = Scheduled::new(sgd(0.1), cosine_annealing()).unwrap();
    steps(&mut opt, STEPS_WITHOUT_EPOCH_END - 1);
    assert!(opt.notes().is_empty());
    steps(&mut opt, 1);
    assert_eq!(opt.notes().len(), 1, "{:?}", opt.notes());
    let note = &opt.notes()[0];
    assert!(
        note.contains("CosineAnnealingLR")
            && note.contains("end_epoch")
            && note.contains("per_step"),
        "{note}"
    );
    steps(&mut opt, 3 * STEPS_WITHOUT_EPOCH_END);
    assert_eq!(opt.notes().len(), 1);
    assert_eq!(opt.learning_rate(), 0.1); // the rate itself is the schedule's: unmoved
}

#[test]
fn epochs_ended_or_an_interval_said_keep_it_quiet() {
    let mut ended = Scheduled::new(sgd(0.1), cosine_annealing()).unwrap();
    for _ in 0..30 {
        steps(&mut ended, 1000);
        ended.end_epoch().unwrap();
    }
    assert!(ended.notes().is_empty());
    let schedule = cosine_annealing().schedule;
    assert_eq!(ended.learning_rate(), schedule.value(30));

    let mut per_epoch = Scheduled::per_epoch(sgd(0.1), schedule.clone()).unwrap();
    steps(&mut per_epoch, 2 * STEPS_WITHOUT_EPOCH_END);
    assert!(per_epoch.notes().is_empty());
    assert_eq!(per_epoch.driver().interval(), Interval::Epoch);

    // Said per step, the pasted class moves every optimizer step.
    let mut per_step = Scheduled::per_step(sgd(0.1), schedule.clone()).unwrap();
    for i in 0..2 * STEPS_WITHOUT_EPOCH_END {
        assert_eq!(per_step.learning_rate(), schedule.value(i));
        steps(&mut per_step, 1);
    }
    // Only the note that the cosine reached 0 at step 1000 (T_max), none of epochs.
    assert_eq!(per_step.notes().len(), 1, "{:?}", per_step.notes());
    assert!(per_step.notes()[0].contains("lr = 0 at step 1000"));
}

#[test]
fn a_pasted_config_without_lr_takes_the_optimizers_rate() {
    let pasted = json!({"type": "StepLR", "step_size": 2, "gamma": 0.5});
    let mut opt = Scheduled::from_config(sgd(0.05), pasted).unwrap();
    let written = config::load_json_str(
        r#"{"type": "StepLR", "lr": 0.05, "step_size": 2, "gamma": 0.5}"#,
        None,
    )
    .unwrap();
    let same = Scheduled::new(sgd(0.05), written).unwrap();
    assert_eq!(opt.state(), same.state());
    assert_eq!(opt.driver().interval(), Interval::Epoch);
    for _ in 0..2 {
        opt.end_epoch().unwrap();
    }
    assert_eq!(opt.learning_rate(), 0.025);
    // A config that names its rate keeps it; a native one still needs its own.
    let named = json!({"type": "StepLR", "lr": 0.2, "step_size": 2});
    assert_eq!(
        Scheduled::from_config(sgd(0.05), named)
            .unwrap()
            .learning_rate(),
        0.2
    );
    let e = Scheduled::from_config(sgd(0.05), json!({"type": "cosine", "steps": 10})).unwrap_err();
    assert!(e.to_string().contains("`lr`"), "{e}");
}

#[test]
fn refusals_are_schedule_errors_to_match_and_candle_errors_for_question_mark() {
    let mut opt = Scheduled::new(sgd(0.1), Cosine::new(0.1, 100)).unwrap();
    let other = Scheduled::new(sgd(0.1), Cosine::new(0.2, 100)).unwrap();
    match opt.restore(&other.state()) {
        Err(lrsched_candle::Error(ScheduleError::StateMismatch { differences })) => {
            assert_eq!(differences, ["schedule.lr: 0.2 -> 0.1"]);
        }
        other => panic!("expected a state mismatch, got {other:?}"),
    }
    // `?` in candle code: the message unchanged inside candle's error.
    fn candle_code(opt: &mut Scheduled<SGD>, s: &lrsched::DriverState) -> candle_core::Result<()> {
        opt.restore(s)?;
        Ok(())
    }
    let e = candle_code(&mut opt, &other.state()).unwrap_err();
    assert!(e.to_string().contains("schedule.lr: 0.2 -> 0.1"), "{e}");
}
