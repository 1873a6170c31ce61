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

/// The sweep of [`BOWL`] when lrsched sweeps (LRSCHED_MAX_STEPS set); a training run
/// otherwise, whose last val_acc is a bowl in log rate peaking at 3e-2 (0.95 there, 0.05
/// lower per decade squared, plus 0.001 per seed) and which fails above 0.2.
fn bowl_and_train(metric: &str) -> String {
    let value = match metric {
        "val_acc" => "0.95 - 0.05 * x * x + s / 1000",
        _ => "0.1 + 0.05 * x * x + s / 1000",
    };
    format!(
        r#"if [ -n "$LRSCHED_MAX_STEPS" ]; then {BOWL}; else
lr=$(printf '%s' "$LRSCHED_SCHEDULE" | sed -E 's/.*"lr": ?([-0-9.eE+]+).*/\1/')
awk -v lr="$lr" -v s="$LRSCHED_SEED" -v f="$LRSCHED_METRICS" 'BEGIN {{
  if (lr > 0.2) {{ print "diverged" > "/dev/stderr"; exit 1 }}
  x = log(lr / 3e-2) / log(10);
  printf "{{\"epoch\": 1, \"{metric}\": %.17g}}\n", {value} >> f }}'; fi"#
    )
}

fn expected_acc(lr: f64, seed: u64) -> Option<f64> {
    let x = (lr / 3e-2).log10();
    (lr <= 0.2).then(|| 0.95 - 0.05 * x * x + seed as f64 / 1000.0)
}

#[test]
fn validation_trains_a_grid_around_the_suggestions_and_ranks_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 3;
    spec.jobs = 2;
    let t = sh(&bowl_and_train("val_acc"));
    let result = find_lr(&spec, &t, &|_| {}).unwrap();
    let vspec = ValidateSpec {
        jobs: 2,
        ..ValidateSpec::default()
    };
    let finished = Mutex::new(0usize);
    let v = validate(&result, &vspec, &t, None, &|e| {
        if let FindLrEvent::Validate(crate::runner::TrialEvent::Finished { .. }) = e {
            *finished.lock().unwrap() += 1;
        }
    })
    .unwrap();
    assert_eq!((v.metric.as_str(), v.higher_is_better), ("val_acc", true));
    // The grid is the rules' medians times 1/3, 1, 3, by rate.
    let named = rule_medians(&result.spread);
    assert!(named.len() >= 3, "{named:?}");
    let want = grid_rates(&named, &DEFAULT_FACTORS);
    assert_eq!(
        v.points.iter().map(|p| p.lr).collect::<Vec<_>>(),
        want.iter().map(|(lr, _)| *lr).collect::<Vec<_>>()
    );
    assert_eq!(*finished.lock().unwrap(), v.points.len() * 3);
    assert_eq!(v.runs(), v.points.len() * 3);
    for p in &v.points {
        assert_eq!(p.seeds, [0, 1, 2]);
        for (k, value) in p.values.iter().enumerate() {
            match expected_acc(p.lr, k as u64) {
                Some(a) => assert!((value.unwrap() - a).abs() < 1e-9, "{}: {value:?}", p.lr),
                None => assert_eq!((value, p.outcomes[k].as_str()), (&None, "failed")),
            }
        }
        assert!(p.dirs.iter().all(|d| d.join("trial.json").exists()));
    }
    // The best is the grid's rate closest to 3e-2 in log among those under 0.2, its
    // median the seed-1 value.
    let best = v.best_point().unwrap();
    let closest = v
        .points
        .iter()
        .filter(|p| p.lr <= 0.2)
        .min_by(|a, b| {
            let d = |p: &&GridPoint| (p.lr / 3e-2).log10().abs();
            d(a).total_cmp(&d(b))
        })
        .unwrap();
    assert_eq!(best.lr, closest.lr);
    assert!((best.median.unwrap() - expected_acc(best.lr, 1).unwrap()).abs() < 1e-9);
    let mut result = result;
    result.validation = Some(v.clone());
    assert_eq!(result.rate_to_use(), Some(("validated".into(), best.lr)));
    let j = to_json(&result);
    assert_eq!(j["validated"]["lr"], best.lr);
    assert_eq!(j["validated"]["metric"], "val_acc");
    assert_eq!(
        j["validated"]["grid"].as_array().unwrap().len(),
        v.points.len()
    );
    let titles: Vec<_> = sections(&result).into_iter().map(|s| s.heading).collect();
    assert!(titles.contains(&"Validation".to_string()));
}

#[test]
fn validation_falls_back_to_val_loss_and_ranks_failures_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 1;
    let t = sh(&bowl_and_train("val_loss"));
    let result = find_lr(&spec, &t, &|_| {}).unwrap();
    // A wide grid, so that some rates fail (above 0.2).
    let vspec = ValidateSpec {
        factors: vec![0.01, 1.0, 100.0],
        ..ValidateSpec::default()
    };
    let v = validate(&result, &vspec, &t, None, &|_| {}).unwrap();
    assert_eq!((v.metric.as_str(), v.higher_is_better), ("val_loss", false));
    let failed: Vec<_> = v.points.iter().filter(|p| p.lr > 0.2).collect();
    assert!(!failed.is_empty());
    assert!(failed
        .iter()
        .all(|p| p.median.is_none() && p.completed == 0));
    let best = v.best_point().unwrap();
    assert!(best.lr <= 0.2);
    let lowest = v
        .points
        .iter()
        .filter_map(|p| p.median)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.median, Some(lowest));
}

#[test]
fn at_chance_runs_rank_last_and_a_grid_of_only_failures_has_no_best() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 1;
    let t = sh(&bowl_and_train("val_acc"));
    let result = find_lr(&spec, &t, &|_| {}).unwrap();
    // A chance of 0.99: every accuracy of the bowl (at most 0.95) is at chance.
    let v = validate(&result, &ValidateSpec::default(), &t, Some(0.99), &|_| {}).unwrap();
    assert!(v.best.is_none() && v.lr().is_none());
    assert!(v
        .points
        .iter()
        .flat_map(|p| &p.outcomes)
        .all(|o| o == "at chance" || o == "failed"));
    let mut result = result;
    let rules = result.suggested.map(|(r, lr)| (r.to_string(), lr));
    result.validation = Some(v);
    // Nothing validated: the rules' rate stands.
    assert_eq!(result.rate_to_use(), rules);
}

#[test]
fn validation_settings_are_checked_before_any_run() {
    let ok = ValidateSpec::default();
    assert!(ok.validate(41).is_ok());
    for (v, seeds, field) in [
        (
            ValidateSpec {
                factors: vec![],
                ..ok.clone()
            },
            1,
            "validate_factors",
        ),
        (
            ValidateSpec {
                factors: vec![1.0; 10],
                ..ok.clone()
            },
            1,
            "validate_factors",
        ),
        (
            ValidateSpec {
                factors: vec![1.0, -3.0],
                ..ok.clone()
            },
            1,
            "validate_factors",
        ),
        (
            ValidateSpec {
                factors: vec![f64::NAN],
                ..ok.clone()
            },
            1,
            "validate_factors",
        ),
        (
            ValidateSpec {
                epochs: 0,
                ..ok.clone()
            },
            1,
            "validate_epochs",
        ),
        (
            ValidateSpec {
                epochs: MAX_EPOCHS + 1,
                ..ok.clone()
            },
            1,
            "validate_epochs",
        ),
        (
            ValidateSpec {
                jobs: 0,
                ..ok.clone()
            },
            1,
            "jobs",
        ),
        (ok.clone(), 42, "seeds"),
        (ok.clone(), 0, "seeds"),
    ] {
        let e = v.validate(seeds).unwrap_err();
        assert_eq!(e.field, field, "{e}");
    }
    // Through `validate`: refused before any folder is made.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = FindLrSpec::new(dir.path());
    spec.seeds = 1;
    let t = sh(&bowl_and_train("val_acc"));
    let result = find_lr(&spec, &t, &|_| {}).unwrap();
    let bad = ValidateSpec { epochs: 0, ..ok };
    assert!(matches!(
        validate(&result, &bad, &t, None, &|_| {}),
        Err(FindLrError::Spec(_))
    ));
    assert!(!dir.path().join("validate").exists());
}
