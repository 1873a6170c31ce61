//! `compare --workloads`' cross-workload score against AlgoPerf's own formulas,
//! transcribed by `scripts/algoperf_reference.py` from mlcommons/algorithmic-efficiency's
//! `scoring/performance_profile.py` (commit 2c90454f); its output is committed in
//! `fixtures/algoperf_reference.json`.
//!
//! The per-seed times go through the same path as a real run's (median over seeds, then
//! [`CrossWorkload::score`]), and must give AlgoPerf's medians, ratios (AlgoPerf sets a
//! time above 4x the fastest to infinity first, which changes no `rho` up to 4), `rho` at
//! every one of its 100 `tau` points, and its trapezoid score, all to 1e-12; lrsched's
//! exact area must be within half a grid step (1/198) of that trapezoid.

use lrsched_tools::compare::workloads::{CrossWorkload, TimeUnit, WorkloadTimes, R_MAX};
use lrsched_tools::scoring::median;
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/algoperf_reference.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::INFINITY)
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    let same = (a.is_infinite() && a == b) || (a - b).abs() <= tol;
    assert!(same, "{what}: lrsched {a}, AlgoPerf {b}");
}

fn scored(f: &Value) -> CrossWorkload {
    let names: Vec<String> = f["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let workloads = f["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(w, name)| WorkloadTimes {
            name: name.as_str().unwrap().into(),
            target: 0.9,
            metric: "val_acc".into(),
            times: names
                .iter()
                .map(|s| {
                    let seeds: Vec<f64> = f["seed_times"][s][w]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(num)
                        .collect();
                    (s.clone(), median(&seeds))
                })
                .collect(),
        })
        .collect();
    CrossWorkload::score(workloads, None, TimeUnit::Epochs).unwrap()
}

#[test]
fn medians_ratios_and_profiles_are_algoperfs() {
    let f = fixture();
    let c = scored(&f);
    assert_eq!(c.schedules.len(), 4);
    let taus = CrossWorkload::taus();
    for (k, t) in taus.iter().enumerate() {
        assert_eq!(*t, f["tau"][k].as_f64().unwrap(), "tau {k} as np.linspace");
    }
    for s in 0..c.schedules.len() {
        for w in 0..c.workloads.len() {
            let what = format!("{} on {}", c.schedules[s], c.workloads[w].name);
            close(c.times[s][w], num(&f["median_times"][s][w]), 1e-12, &what);
            // AlgoPerf's 4x rule, then the division (a workload nobody reached: NaN there,
            // infinite here; both count as never within any tau).
            let ours = if c.ratios[s][w] > R_MAX {
                f64::INFINITY
            } else {
                c.ratios[s][w]
            };
            close(ours, num(&f["ratios"][s][w]), 1e-12, &what);
        }
        for (k, &tau) in taus.iter().enumerate() {
            let ours = lrsched_tools::scoring::performance_profile(&c.ratios[s], tau);
            assert_eq!(
                ours,
                f["rho"][s][k].as_f64().unwrap(),
                "rho of {} at tau {tau}",
                c.schedules[s]
            );
        }
    }
}

#[test]
fn scores_are_algoperfs_trapezoid_and_its_exact_limit() {
    let f = fixture();
    let c = scored(&f);
    for s in 0..c.schedules.len() {
        let name = &c.schedules[s];
        let trapezoid = f["score_trapezoid"][s].as_f64().unwrap();
        close(
            c.scores_grid[s],
            trapezoid,
            1e-12,
            &format!("trapezoid {name}"),
        );
        close(
            c.scores[s],
            f["score_exact"][s].as_f64().unwrap(),
            1e-12,
            &format!("exact {name}"),
        );
        close(
            c.scores[s],
            trapezoid,
            1.0 / 198.0,
            &format!("exact vs trapezoid {name}"),
        );
        close(
            c.speedups[s],
            f["speedup_vs_first"][s].as_f64().unwrap(),
            1e-12,
            &format!("speed-up {name}"),
        );
    }
    // The written file says the same.
    let j = c.to_json();
    let best = &j["schedules"][0];
    assert_eq!(best["name"], "one-cycle");
    assert_eq!(best["rho"].as_array().unwrap().len(), 100);
    assert!(best["ratio"]["never"].is_null());
}
