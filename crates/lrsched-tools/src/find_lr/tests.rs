use super::*;
use crate::process::CommandTrainer;
use crate::trainer::{BuiltIn, Trainer};
use lrsched_train::find_lr::suggest;
use std::sync::{Arc, Mutex};

fn builtin() -> Trainer {
    let split = lrsched_train::data::Source::Digits.load().unwrap();
    let mut config = lrsched_train::find_lr::doc_config(&split);
    config.model = lrsched_train::model::ModelSpec::parse(
        "32",
        split.train.dim(),
        split.train.task(),
        lrsched_train::model::Activation::Relu,
        lrsched_train::model::Init::Torch,
    )
    .unwrap();
    config.batch_size = 64;
    Trainer::BuiltIn(Box::new(BuiltIn {
        config,
        split: Arc::new(split),
    }))
}

#[test]
fn built_in_sweep_is_the_in_process_range_test() {
    // The same model, batches and rates as lrsched_train's range test on clones, so
    // moving the built-in path behind the Trainer changed no number.
    let trainer = builtin();
    let Trainer::BuiltIn(b) = &trainer else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.steps = 60;
    spec.seed = 3;
    let result = find_lr(&spec, &trainer, &|_| {}).unwrap();
    let mut config = b.config.clone();
    config.seed = 3;
    let (m, o) = lrsched_train::find_lr::initial_state(&config).unwrap();
    let mut opts = lrsched_train::find_lr::RangeTestOptions::new(64, 3).with_steps(60);
    opts.start = spec.start;
    opts.end = spec.end;
    let direct = lrsched_train::find_lr::range_test(&m, &o, &b.split, &opts).unwrap();
    let run = &result.runs[0];
    assert_eq!(run.lrs, direct.lrs);
    assert_eq!(run.losses, direct.losses);
    assert_eq!(run.smoothed, direct.smoothed);
    assert_eq!(run.suggestions, direct.suggestions);
    assert_eq!(result.steps_per_epoch, Some(23));
    assert_eq!(result.epochs, 3);
    assert!(dir.path().join("trials/seed-3/trial.json").exists());
}

#[test]
fn a_huge_end_is_stopped_by_the_four_times_rule() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.start = 1e-4;
    spec.end = 1e4;
    spec.steps = 200;
    let result = find_lr(&spec, &builtin(), &|_| {}).unwrap();
    let run = &result.runs[0];
    assert!(run.usable(), "{:?}", run.problem);
    assert!(run.steps_run() < 200, "ran {}", run.steps_run());
    assert_ne!(run.stop, Stop::Completed);
}

fn sh(script: &str) -> Trainer {
    let mut c = CommandTrainer::new(script);
    c.poll = std::time::Duration::from_millis(5);
    c.grace = std::time::Duration::from_millis(500);
    Trainer::Command(c)
}

/// A program whose loss is a bowl in log rate, lowest at 1e-2: it reads the rate
/// from the schedule lrsched hands it, as a real program would.
const BOWL: &str = r#"awk -v n="$LRSCHED_MAX_STEPS" -v f="$LRSCHED_METRICS" 'BEGIN {
    for (i = 0; i < n; i++) { lr = 1e-7 * (1e8 ^ (i / n)); x = log(lr / 1e-2) / log(10);
      printf "{\"step\": %d, \"lr\": %.17g, \"loss\": %.17g}\n", i, lr, 1 + x * x / 4 >> f; fflush(f) } }'"#;

#[test]
fn a_command_sweep_reads_the_rate_off_its_step_lines() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 2;
    spec.jobs = 2;
    let steps = Mutex::new(0usize);
    let result = find_lr(&spec, &sh(BOWL), &|e| {
        if let FindLrEvent::Step { .. } = e {
            *steps.lock().unwrap() += 1;
        }
    })
    .unwrap();
    assert!(result.runs.iter().all(|r| r.usable()));
    // The bowl rises to 3.25 at the end from a best of about 1: never 4x, so every
    // step is read.
    assert!(result.runs.iter().all(|r| r.steps_run() == 100));
    assert_eq!(*steps.lock().unwrap(), 200);
    // The same curve computed here gives the same suggestions.
    let lrs: Vec<f64> = (0..100).map(|i| spec.rate(i)).collect();
    let losses: Vec<f64> = lrs
        .iter()
        .map(|lr| 1.0 + (lr / 1e-2).log10().powi(2) / 4.0)
        .collect();
    let want = suggest(
        &lrs,
        &lrsched_train::find_lr::smooth(&losses, SMOOTH_BETA),
        100,
    );
    for (got, want) in result.runs[0].suggestions.named().iter().zip(want.named()) {
        let (g, w) = (got.1.unwrap(), want.1.unwrap());
        assert!((g / w - 1.0).abs() < 1e-9, "{}: {g} vs {w}", got.0);
    }
    assert_eq!(result.epochs, 100);
    assert_eq!(result.steps_per_epoch, None);
}

#[test]
fn failures_are_results_and_the_others_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 3;
    // Seed 0 sweeps, seed 1 exits 1, seed 2 reports only epochs.
    let script = format!(
        r#"case $LRSCHED_SEED in 0) {BOWL} ;; 1) echo boom >&2; exit 1 ;; *) echo '{{"epoch": 1, "val_loss": 1}}' >> "$LRSCHED_METRICS" ;; esac"#
    );
    let result = find_lr(&spec, &sh(&script), &|_| {}).unwrap();
    assert!(result.runs[0].usable());
    assert_eq!(result.runs[1].status.word(), "failed");
    assert_eq!(result.runs[1].stderr_tail, vec!["boom".to_string()]);
    assert_eq!(result.runs[2].problem.as_deref(), Some(NEEDS_STEP_LINES));
    assert_eq!(result.spread[0].values.len(), 1);
    assert!(result.suggested.is_some());
    assert!(result.all_failed().is_none());
    let titles: Vec<_> = sections(&result).into_iter().map(|s| s.heading).collect();
    assert!(titles.contains(&"Failed seeds".to_string()));
}

#[test]
fn nan_before_any_step_fails_the_seed_and_all_failed_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let spec = FindLrSpec::new(dir.path());
    let t = sh(r#"echo '{"step": 0, "lr": 1e-7, "loss": NaN}' >> "$LRSCHED_METRICS"; sleep 30"#);
    let started = std::time::Instant::now();
    let result = find_lr(&spec, &t, &|_| {}).unwrap();
    assert!(started.elapsed().as_secs() < 10, "not stopped at the NaN");
    assert_eq!(result.runs[0].status.word(), "diverged");
    assert!(!result.runs[0].usable());
    let why = result.all_failed().unwrap();
    assert!(why.contains("seed 0") && why.contains("NaN"), "{why}");
    assert!(result.suggested.is_none());
}

#[test]
fn a_rate_that_is_not_the_sweeps_is_bad_output_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 3;
    // Seed 0 reports the sweep's rates as f32 text, seed 1 a rate of 0 at step 7,
    // seed 2 the negated rates.
    let script = format!(
        r#"case $LRSCHED_SEED in 0) {} ;; 1) {} ;; *) {} ;; esac"#,
        BOWL.replace("%.17g, \\\"loss", "%.7g, \\\"loss"),
        BOWL.replace(", i, lr, 1", ", i, (i == 7 ? 0 : lr), 1"),
        BOWL.replace(", i, lr, 1", ", i, -lr, 1"),
    );
    let result = find_lr(&spec, &sh(&script), &|_| {}).unwrap();
    assert!(result.runs[0].usable(), "{:?}", result.runs[0].problem);
    for (run, step) in [(&result.runs[1], 7), (&result.runs[2], 0)] {
        assert_eq!(run.status.word(), "bad output");
        let p = run.problem.as_deref().unwrap();
        assert!(p.contains(&format!("step {step}: `lr` = ")), "{p}");
        assert!(
            p.contains(&format!("expected {:.3e}", spec.rate(step))),
            "{p}"
        );
    }
    let (_, lr) = result.suggested.unwrap();
    assert!(lr > 0.0 && lr.is_finite());
    assert!(result.spread.iter().all(|s| s.values.len() == 1));
}

#[test]
fn bad_specs_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (f, field) in [
        (
            Box::new(|s: &mut FindLrSpec| s.steps = 5) as Box<dyn Fn(&mut _)>,
            "steps",
        ),
        (
            Box::new(|s: &mut FindLrSpec| s.steps = MAX_STEPS as u64 + 1),
            "steps",
        ),
        (Box::new(|s: &mut FindLrSpec| s.end = 1e-9), "end"),
        (Box::new(|s: &mut FindLrSpec| s.seeds = 0), "seeds"),
        (Box::new(|s: &mut FindLrSpec| s.jobs = 0), "jobs"),
    ] {
        let mut spec = FindLrSpec::new(dir.path());
        f(&mut spec);
        match find_lr(&spec, &sh("true"), &|_| {}) {
            Err(FindLrError::Spec(e)) => assert_eq!(e.field, field),
            other => panic!("{other:?}"),
        }
    }
    // Nothing ran: no trial folder was made.
    assert!(!dir.path().join("trials").exists());
}
