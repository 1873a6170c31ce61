//! lrsched's scores against `scripts/scoring_reference.py` (numpy and scipy, rliable's
//! definitions), whose output is committed in `fixtures/scoring_reference.json`.
//!
//! The script draws the bootstrap's indices with the same SplitMix64 from the same seed,
//! so medians, IQMs, probabilities of improvement and the `shared` intervals must agree to
//! 1e-12 (only the summation order differs). Its `numpy` intervals come from numpy's own
//! generator with 20000 resamples: an independent bootstrap, which ours must match within
//! 0.1 of the pooled samples' range for the IQM and median (the 2.5% point of a few seeds
//! moves by whole sample gaps) and 0.1 for a probability.

use lrsched_tools::scoring::{
    bootstrap_ci, iqm, median, poi_ci, probability_of_improvement, t95, SplitMix64,
};
use lrsched_tools::stats::t975;
use serde_json::Value;

fn fixture() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scoring_reference.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: lrsched {a}, reference {b}");
}

#[test]
fn the_rng_is_splitmix64() {
    let f = fixture();
    assert_eq!(
        SplitMix64::new(0).next_u64(),
        f["splitmix64_seed0_first"].as_u64().unwrap()
    );
}

#[test]
fn medians_iqms_and_probabilities_match_scipy_exactly() {
    for c in fixture()["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        close(median(&x), c["median_x"].as_f64().unwrap(), 1e-12, name);
        close(iqm(&x), c["iqm_x"].as_f64().unwrap(), 1e-12, name);
        close(iqm(&y), c["iqm_y"].as_f64().unwrap(), 1e-12, name);
        close(
            probability_of_improvement(&x, &y),
            c["poi_xy"].as_f64().unwrap(),
            1e-12,
            name,
        );
    }
}

#[test]
fn bootstrap_intervals_match_the_reference_with_shared_indices() {
    for c in fixture()["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        let seed = c["seed"].as_u64().unwrap();
        let reps = c["reps"].as_u64().unwrap() as usize;
        let s = &c["shared"];
        let pairs = [
            ("iqm", bootstrap_ci(&x, iqm, reps, seed), &s["iqm_ci_x"]),
            (
                "median",
                bootstrap_ci(&x, median, reps, seed),
                &s["median_ci_x"],
            ),
            ("poi", poi_ci(&x, &y, reps, seed), &s["poi_ci_xy"]),
        ];
        for (what, (lo, hi), want) in pairs {
            let want = nums(want);
            close(lo, want[0], 1e-12, &format!("{name} {what} low"));
            close(hi, want[1], 1e-12, &format!("{name} {what} high"));
        }
    }
}

#[test]
fn bootstrap_intervals_agree_with_an_independent_numpy_bootstrap() {
    for c in fixture()["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (nums(&c["x"]), nums(&c["y"]));
        let reps = c["reps"].as_u64().unwrap() as usize;
        let all: Vec<f64> = x.iter().chain(&y).copied().collect();
        let range = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
            - all.iter().cloned().fold(f64::INFINITY, f64::min);
        let n = &c["numpy"];
        let pairs = [
            (
                "iqm",
                bootstrap_ci(&x, iqm, reps, 99),
                &n["iqm_ci_x"],
                0.1 * range,
            ),
            (
                "median",
                bootstrap_ci(&x, median, reps, 99),
                &n["median_ci_x"],
                0.1 * range,
            ),
            ("poi", poi_ci(&x, &y, reps, 99), &n["poi_ci_xy"], 0.1),
        ];
        for (what, (lo, hi), want, tol) in pairs {
            let want = nums(want);
            close(lo, want[0], tol, &format!("{name} {what} low"));
            close(hi, want[1], tol, &format!("{name} {what} high"));
        }
    }
}

#[test]
fn t_tables_match_scipy_to_their_printed_digits() {
    let f = fixture();
    let t = &f["t"];
    for ((df, a), b) in nums(&t["df"])
        .iter()
        .zip(nums(&t["t975"]))
        .zip(nums(&t["t95"]))
    {
        let df = *df as usize;
        // Three decimals in the table; the formula beyond df 30 within 0.002.
        close(t975(df), a, 0.002, &format!("t975({df})"));
        close(t95(df), b, 0.002, &format!("t95({df})"));
    }
}

fn opt(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::INFINITY)
}

#[test]
fn performance_profiles_and_the_integrated_score_match_algoperf_numerically() {
    use lrsched_tools::scoring::{
        geometric_mean_speedup, integrated_score, performance_profile, performance_ratios,
    };
    let f = fixture();
    let p = &f["profiles"];
    let rows = |v: &Value| -> Vec<Vec<f64>> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(opt).collect())
            .collect()
    };
    let times = rows(&p["times"]);
    let ratios = performance_ratios(&times);
    assert_eq!(
        ratios,
        rows(&p["ratios"]),
        "ratios to the fastest, missed = inf"
    );
    let taus = nums(&p["taus"]);
    for (s, r) in ratios.iter().enumerate() {
        for (k, tau) in taus.iter().enumerate() {
            let want = p["rho"][s][k].as_f64().unwrap();
            close(
                performance_profile(r, *tau),
                want,
                1e-12,
                &format!("rho_{s}({tau})"),
            );
        }
        // Ours is exact; numpy's trapezoid on a 0.001 grid is within 1e-3 of it.
        let want = p["score"][s].as_f64().unwrap();
        close(integrated_score(r, 4.0), want, 2e-3, &format!("score {s}"));
        let want = p["speedup_vs_first"][s].as_f64().unwrap();
        close(
            geometric_mean_speedup(&times[0], &times[s]),
            want,
            1e-12,
            &format!("speed-up {s}"),
        );
    }
}
