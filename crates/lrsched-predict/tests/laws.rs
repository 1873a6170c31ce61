//! The laws fitted to curves whose parameters are known, and bad runs refused.

use lrsched_predict::{fit, predict, Candidate, Law, LawChoice, Run};
use std::f64::consts::PI;

const STEPS: usize = 1000;

fn constant() -> Vec<f64> {
    vec![0.1; STEPS]
}

fn cosine(peak: f64) -> Vec<f64> {
    (0..STEPS)
        .map(|s| peak * 0.5 * (1.0 + (PI * s as f64 / STEPS as f64).cos()))
        .collect()
}

fn wsd(cooldown: f64) -> Vec<f64> {
    let start = (STEPS as f64 * (1.0 - cooldown)) as usize;
    (0..STEPS)
        .map(|s| {
            if s < start {
                0.1
            } else {
                0.1 * (1.0 - (s - start) as f64 / (STEPS - start) as f64)
            }
        })
        .collect()
}

/// A run that follows `law` with `theta`, with deterministic multiplicative noise of
/// `noise` (a batch loss's spread) at every step.
fn run(law: Law, theta: &[f64], lrs: Vec<f64>, noise: f64) -> Run {
    let steps: Vec<usize> = (0..lrs.len()).collect();
    let mut losses = law.evaluate(theta, &lrs, &steps);
    let mut state = 12345u64;
    for l in losses.iter_mut() {
        state = lrsched::splitmix64(state);
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        *l *= 1.0 + noise * (2.0 * u - 1.0);
    }
    Run::new("synthetic", lrs, steps.into_iter().zip(losses).collect()).unwrap()
}

fn final_of(law: Law, theta: &[f64], lrs: &[f64]) -> f64 {
    let at: Vec<usize> = (STEPS - STEPS / 20..STEPS).collect();
    let v = law.evaluate(theta, lrs, &at);
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn the_annealing_law_is_recovered_from_a_constant_and_a_cosine_run() {
    let truth = [0.3, 1.5, 0.5, 0.004, 0.995];
    let runs = [
        run(Law::Annealing, &truth, constant(), 0.0),
        run(Law::Annealing, &truth, cosine(0.1), 0.0),
    ];
    let fitted = fit(Law::Annealing, &runs).unwrap();
    for ((name, got), want) in Law::Annealing
        .parameters()
        .iter()
        .zip(&fitted.parameters)
        .zip(truth)
    {
        assert!(
            (got - want).abs() / want < 0.02,
            "{name}: fitted {got}, truth {want}"
        );
    }
    assert!(fitted.quality.poor.is_none(), "{:?}", fitted.quality);
    assert!(fitted.quality.r2 > 0.999);
}

#[test]
fn the_annealing_law_predicts_held_out_shapes_through_noise() {
    let truth = [0.3, 1.5, 0.5, 0.004, 0.995];
    let runs = [
        run(Law::Annealing, &truth, constant(), 0.05),
        run(Law::Annealing, &truth, cosine(0.1), 0.05),
    ];
    let candidates: Vec<Candidate> = [
        ("wsd 10%", wsd(0.1)),
        ("wsd 30%", wsd(0.3)),
        ("cosine 0.05", cosine(0.05)),
    ]
    .into_iter()
    .map(|(name, lrs)| Candidate {
        name: name.into(),
        lrs,
    })
    .collect();
    let outcome = predict(&runs, &candidates, LawChoice::One(Law::Annealing), 40, 3).unwrap();
    for (c, p) in candidates.iter().zip(&outcome.predictions) {
        let want = final_of(Law::Annealing, &truth, &c.lrs);
        assert!(
            (p.final_loss - want).abs() / want < 0.01,
            "{}: predicted {}, truth {want}",
            c.name,
            p.final_loss
        );
        assert!(p.interval[0] <= p.final_loss && p.final_loss <= p.interval[1]);
        assert!(
            p.interval[1] - p.interval[0] < 0.1 * want,
            "{:?}",
            p.interval
        );
    }
}

#[test]
fn the_multi_power_law_predicts_its_own_curves() {
    let truth = [0.3, 1.5, 0.5, 2.0, 3.0, 0.6, 0.5];
    let runs = [
        run(Law::MultiPower, &truth, constant(), 0.0),
        run(Law::MultiPower, &truth, cosine(0.1), 0.0),
    ];
    let fitted = fit(Law::MultiPower, &runs).unwrap();
    assert!(fitted.quality.r2 > 0.999, "{:?}", fitted.quality);
    for lrs in [wsd(0.1), wsd(0.3), cosine(0.05)] {
        let want = final_of(Law::MultiPower, &truth, &lrs);
        let got = fitted.final_loss(&lrs);
        assert!(
            (got - want).abs() / want < 0.01,
            "predicted {got}, truth {want}"
        );
    }
    // The floor and the power law, which the constant run pins alone, come back.
    let names = Law::MultiPower.parameters();
    for ((name, got), want) in names.iter().zip(&fitted.parameters).zip(truth).take(3) {
        assert!((got - want).abs() / want < 0.05, "{name}: {got} vs {want}");
    }
}

#[test]
fn choosing_between_the_laws_says_why() {
    let truth = [0.3, 1.5, 0.5, 0.004, 0.995];
    let runs = [
        run(Law::Annealing, &truth, constant(), 0.02),
        run(Law::Annealing, &truth, cosine(0.1), 0.02),
    ];
    let outcome = predict(&runs, &[], LawChoice::Both, 0, 1).unwrap();
    assert_eq!(outcome.fits.len(), 2);
    assert!(!outcome.chosen_because.is_empty());
    let json = outcome.to_json();
    assert!(json["law"].is_string() && json["fit"]["parameters"].is_object());
}

#[test]
fn a_curve_no_law_describes_is_called_poor() {
    // Losses that rise and fall with no relation to the rate.
    let lrs = constant();
    let losses: Vec<(usize, f64)> = (0..STEPS)
        .map(|s| (s, 1.0 + 0.8 * (s as f64 / 40.0).sin()))
        .collect();
    let runs = [Run::new("wavy", lrs, losses).unwrap()];
    let fitted = fit(Law::Annealing, &runs).unwrap();
    let poor = fitted.quality.poor.expect("a wavy curve is no power law");
    assert!(poor.contains("R^2") || poor.contains("off"), "{poor}");
}

#[test]
fn bad_runs_are_refused_with_what_is_wrong() {
    let err = |lrs: Vec<f64>, losses: Vec<(usize, f64)>| Run::new("r", lrs, losses).unwrap_err().0;
    assert!(err(vec![0.1], vec![(0, 1.0)]).contains("at least 4"));
    assert!(err(vec![0.1; 5], (0..5).map(|s| (s, 0.7)).collect()).contains("every loss is 0.7"));
    assert!(err(
        vec![0.1; 5],
        vec![(0, 1.0), (1, f64::NAN), (2, 1.0), (3, 1.0)]
    )
    .contains("NaN"));
    assert!(
        err(vec![0.1; 3], (0..5).map(|s| (s, 1.0 + s as f64)).collect())
            .contains("past the 3 steps")
    );
    assert!(
        err(vec![0.0; 5], (0..5).map(|s| (s, 1.0 + s as f64)).collect())
            .contains("every rate is 0")
    );
    assert!(
        err(vec![0.1; 5], vec![(0, 1.0), (2, 2.0), (1, 3.0), (3, 1.0)]).contains("must increase")
    );
}

#[test]
fn metrics_files_are_read_as_the_protocol_writes_them() {
    let text = "{\"epoch\":1,\"event\":\"lr_change\",\"from\":null,\"step\":0,\"to\":0.1}\n\
                {\"loss\":2.3,\"lr\":0.1,\"step\":0}\n{\"loss\":2.0,\"lr\":0.1,\"step\":1}\n\
                {\"loss\":1.5,\"lr\":0.05,\"step\":3}\n{\"epoch\":1,\"val_loss\":1.2}\n\
                {\"loss\":1.2,\"lr\":0.05,\"step\":4}\n";
    let run = Run::read_lines("m", text.as_bytes()).unwrap();
    let want = [0.1, 0.1, 0.075, 0.05, 0.05];
    assert!(
        run.lrs.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
        "{:?}",
        run.lrs
    );
    assert_eq!(run.losses, vec![(0, 2.3), (1, 2.0), (3, 1.5), (4, 1.2)]);
    assert_eq!(run.gaps(), 1);
    let nan = "{\"loss\":2.3,\"lr\":0.1,\"step\":0}\n{\"loss\":NaN,\"lr\":0.1,\"step\":1}\n";
    assert!(Run::read_lines("m", nan.as_bytes())
        .unwrap_err()
        .0
        .contains("non-finite"));
    let epochs_only = "{\"epoch\":1,\"val_loss\":1.2}\n";
    assert!(Run::read_lines("m", epochs_only.as_bytes())
        .unwrap_err()
        .0
        .contains("no step lines"));
    let no_loss = "{\"lr\":0.1,\"step\":0}\n";
    assert!(Run::read_lines("m", no_loss.as_bytes())
        .unwrap_err()
        .0
        .contains("without `lr` and `loss`"));
}
