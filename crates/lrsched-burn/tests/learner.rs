//! Trains with burn's own `Learner` and checks, step by step, the rate burn handed the
//! optimizer against lrsched's own values (what `lrsched trace` prints); resumes from burn's
//! own checkpoint files and checks the run continues exactly.

mod common;

use burn::lr_scheduler::LrScheduler;
use burn::prelude::Device;
use common::{fit, Model, BATCHES_PER_EPOCH};
use lrsched::{AnySchedule, Cosine, OneCycle, Plateau, PlateauMode, Schedule, Warmup};
use lrsched_burn::LrschedScheduler;

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lrsched-burn-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn learner_uses_the_scheduled_rates() {
    let dir = tempdir("rates");
    let schedule = Warmup::linear(3, Cosine::new(0.05, 9).with_min_lr(0.001));
    let (model, _) = Model::new(&Device::default().autodiff(), None);
    let seen = fit(
        &dir,
        LrschedScheduler::new(schedule.clone()).unwrap(),
        model,
        3,
        None,
    );
    let n = 3 * BATCHES_PER_EPOCH;
    assert_eq!(seen, schedule.values(0..n));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resume_from_burn_checkpoint_continues_exactly() {
    let one_cycle = OneCycle::new(0.05, 4 * BATCHES_PER_EPOCH);
    let full = {
        let dir = tempdir("full");
        let (model, _) = Model::new(&Device::default().autodiff(), None);
        let s = LrschedScheduler::new(one_cycle.clone()).unwrap();
        let seen = fit(&dir, s, model, 4, None);
        let _ = std::fs::remove_dir_all(&dir);
        seen
    };
    assert_eq!(full, one_cycle.values(0..4 * BATCHES_PER_EPOCH));

    let dir = tempdir("resume");
    let (model, _) = Model::new(&Device::default().autodiff(), None);
    let first = fit(
        &dir,
        LrschedScheduler::new(one_cycle.clone()).unwrap(),
        model,
        2,
        None,
    );
    // A fresh process would build the same scheduler at step 0; burn loads its record.
    let (model, _) = Model::new(&Device::default().autodiff(), None);
    let rest = fit(
        &dir,
        LrschedScheduler::new(one_cycle.clone()).unwrap(),
        model,
        4,
        Some(2),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!([first, rest].concat(), full);
}

#[test]
fn plateau_fed_from_the_validation_step() {
    let dir = tempdir("plateau");
    // Per-epoch plateau in `max` mode: a falling validation loss counts as bad, so the rate
    // is halved every epoch after the first; the reference is rebuilt from the very losses
    // the validation step recorded.
    let plateau = Plateau::new(0.05)
        .with_mode(PlateauMode::Max)
        .with_patience(0)
        .with_factor(0.5);
    let scheduler = LrschedScheduler::new(plateau.clone())
        .unwrap()
        .with_steps_per_epoch(BATCHES_PER_EPOCH)
        .unwrap();
    let feed = scheduler.metric_feed();
    let (model, recorded) = Model::new(&Device::default().autodiff(), Some(feed.clone()));
    let epochs = 4;
    let seen = fit(&dir, scheduler, model, epochs, None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(feed.last_error(), None);

    let recorded = recorded.lock().unwrap().clone();
    let per_epoch = recorded.len() / epochs;
    let mut reference: AnySchedule = plateau.into();
    for (epoch, batches) in recorded.chunks(per_epoch).enumerate() {
        let sum: f64 = batches.iter().map(|(l, n)| l * n).sum();
        let weight: f64 = batches.iter().map(|(_, n)| n).sum();
        reference.observe(epoch as u64, sum / weight).unwrap();
    }
    let expected: Vec<f64> = (0..epochs as u64 * BATCHES_PER_EPOCH)
        .map(|i| reference.value(i / BATCHES_PER_EPOCH))
        .collect();
    assert_eq!(seen, expected);
    assert!(seen.last() < seen.first(), "the plateau reduced the rate");
}

#[test]
fn scheduler_called_as_burn_calls_it() {
    let schedule = Warmup::linear(10, OneCycle::new(0.1, 90));
    let mut s = LrschedScheduler::new(schedule.clone()).unwrap();
    let rates: Vec<f64> = (0..120).map(|_| s.step()).collect();
    assert_eq!(rates, schedule.values(0..120));
}

#[test]
fn record_keeps_metrics_fed_but_not_yet_used() {
    // burn checkpoints after validation, before the next training step: the metrics of
    // that validation are still in the feed and must be in the record.
    let plateau = Plateau::new(0.1).with_patience(0).with_factor(0.5);
    let mut a = LrschedScheduler::new(plateau.clone()).unwrap();
    let feed = a.metric_feed();
    for m in [1.0, 2.0, 3.0] {
        a.step();
        a.step();
        feed.observe(m);
    }
    let record = a.to_record();
    let mut b = LrschedScheduler::new(plateau).unwrap();
    b.load_record(record);
    assert_eq!(b.metric_feed().last_error(), None);
    let ra: Vec<f64> = (0..5).map(|_| a.step()).collect();
    let rb: Vec<f64> = (0..5).map(|_| b.step()).collect();
    assert_eq!(ra, rb);
    assert_eq!(ra[0], 0.025);
}

#[test]
fn record_round_trips_through_burnpack_bytes() {
    let schedule = Warmup::linear(5, Cosine::new(0.1, 50));
    let mut a = LrschedScheduler::new(schedule.clone()).unwrap();
    (0..17).for_each(|_| {
        a.step();
    });
    let bytes = a.to_record().into_bytes().unwrap();
    let record = burn::lr_scheduler::LrSchedulerRecord::from_bytes(bytes).unwrap();
    let mut b = LrschedScheduler::new(schedule.clone()).unwrap();
    b.load_record(record);
    assert_eq!(b.steps_taken(), 17);
    assert_eq!(b.step(), schedule.value(17));
}

#[test]
fn record_from_another_schedule_is_refused_and_changes_nothing() {
    let mut a = LrschedScheduler::new(Cosine::new(0.1, 10)).unwrap();
    a.step();
    let mut b = LrschedScheduler::new(Cosine::new(0.2, 10)).unwrap();
    let err = b.try_load_record(a.to_record()).unwrap_err();
    assert_eq!(
        err,
        lrsched::ScheduleError::StateMismatch {
            differences: vec!["schedule.lr: 0.1 -> 0.2".into()]
        }
    );
    let reported = b.metric_feed().last_error().unwrap();
    assert!(reported.contains("schedule.lr: 0.1 -> 0.2"), "{reported}");
    assert_eq!(b.steps_taken(), 0);
    assert_eq!(b.step(), 0.2);

    // A record from burn's own cosine scheduler: refused too, naming what is missing.
    let mut c = LrschedScheduler::new(Cosine::new(0.1, 10)).unwrap();
    let burns = burn::lr_scheduler::LrSchedulerRecord::new().with_scalar("current_iter", 3u64);
    let err = c.try_load_record(burns).unwrap_err().to_string();
    assert!(err.contains("no step count"), "{err}");
    assert_eq!(c.step(), 0.1);
    // An empty record is a fresh run's: nothing to restore, nothing refused.
    c.load_record(burn::lr_scheduler::LrSchedulerRecord::new());
    assert_eq!(c.steps_taken(), 1);
}

/// burn resumes a run by loading the scheduler's record into the scheduler the code builds
/// now: with a changed config, going on would restart the schedule at step 0 while the
/// model and optimizer continue, so burn's `load_record` refuses loudly, as burn does for a
/// model record that does not fit.
#[test]
#[should_panic(expected = "saved state does not match the config: schedule.lr: 0.1 -> 0.2")]
fn resuming_with_a_changed_config_is_refused_loudly() {
    let mut a = LrschedScheduler::new(Cosine::new(0.1, 10)).unwrap();
    a.step();
    let mut changed = LrschedScheduler::new(Cosine::new(0.2, 10)).unwrap();
    changed.load_record(a.to_record());
}

#[test]
#[should_panic(expected = "steps_per_epoch: 3 -> 4")]
fn resuming_with_another_epoch_length_is_refused_loudly() {
    let s = lrsched::StepDecay::new(0.1, 2, 0.5);
    let mut a = LrschedScheduler::per_epoch(s.clone(), 3).unwrap();
    a.step();
    LrschedScheduler::per_epoch(s, 4)
        .unwrap()
        .load_record(a.to_record());
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    assert!(LrschedScheduler::new(Cosine::new(f64::NAN, 10)).is_err());
    let s = LrschedScheduler::new(Cosine::new(0.1, 10)).unwrap();
    assert!(s.with_steps_per_epoch(0).is_err());
    let s = LrschedScheduler::new(Plateau::new(0.1)).unwrap();
    let feed = s.metric_feed();
    feed.record(1.0, -3.0);
    assert!(feed.last_error().is_some());
    feed.record(1.0, f64::NAN);
    let mut s = s;
    assert!(s.step().is_finite());
}

#[test]
fn a_pasted_pytorch_config_follows_the_interval_rule() {
    let text = r#"{"type": "StepLR", "lr": 0.1, "step_size": 2, "gamma": 0.5}"#;
    let config = lrsched::config::load_json_str(text, None).unwrap();
    let reference = config.schedule.clone();
    // PyTorch steps StepLR per epoch: `new`, which steps per batch, refuses and says what to
    // do instead, rather than stepping it 3x too fast.
    let e = LrschedScheduler::new(config.clone())
        .unwrap_err()
        .to_string();
    assert!(e.contains("StepLR") && e.contains("per_epoch"), "{e}");
    let mut s = LrschedScheduler::per_epoch(config, 3).unwrap();
    let rates: Vec<f64> = (0..15).map(|_| s.step()).collect();
    let want: Vec<f64> = (0..15).map(|i| reference.value(i / 3)).collect();
    assert_eq!(rates, want);
    // The config's own `"interval": "step"` wins: per batch.
    let stated = text.replace('}', r#", "interval": "step"}"#);
    let mut s =
        LrschedScheduler::new(lrsched::config::load_json_str(&stated, None).unwrap()).unwrap();
    let rates: Vec<f64> = (0..6).map(|_| s.step()).collect();
    assert_eq!(rates, reference.values(0..6));
    // OneCycleLR is stepped per batch by PyTorch, so `new` takes it as pasted.
    let one_cycle = lrsched::config::load_json_str(
        r#"{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 10}"#,
        None,
    )
    .unwrap();
    let reference = one_cycle.schedule.clone();
    let mut s = LrschedScheduler::new(one_cycle).unwrap();
    let rates: Vec<f64> = (0..10).map(|_| s.step()).collect();
    assert_eq!(rates, reference.values(0..10));
}

#[test]
fn errors_take_question_mark_in_box_dyn_error_and_anyhow() {
    fn boxed() -> Result<LrschedScheduler, Box<dyn std::error::Error>> {
        Ok(LrschedScheduler::new(Cosine::new(f64::NAN, 10))?)
    }
    fn any() -> anyhow::Result<LrschedScheduler> {
        Ok(LrschedScheduler::new(Cosine::new(f64::NAN, 10))?)
    }
    assert!(boxed().unwrap_err().to_string().contains("NaN"));
    assert!(any().unwrap_err().to_string().contains("NaN"));
}
