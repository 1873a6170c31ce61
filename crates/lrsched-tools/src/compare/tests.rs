use super::report::join_names;
use super::run::{rank, round_easy};
use super::score::score;
use super::sentences::verdict;
use super::*;
use crate::scoring::{iqm, median};

#[test]
fn targets_round_to_the_easy_side() {
    let acc = Metric::named("val_acc");
    assert_eq!(round_easy(0.9787, &acc), 0.975);
    let loss = Metric::named("val_loss");
    assert_eq!(round_easy(0.1234, &loss), 0.13);
}

#[test]
fn names_join_as_a_sentence() {
    assert_eq!(join_names(&["a", "b", "c"]), "a, b and c");
    assert_eq!(join_names(&["a"]), "a");
}

fn stats(per_seed: &[f64], epochs_to_target: &[f64]) -> CandidateStats {
    let scores: Vec<TrialScore> = per_seed
        .iter()
        .enumerate()
        .map(|(k, &v)| TrialScore {
            seed: k as u64,
            final_value: Some(v),
            epochs_to_target: epochs_to_target.get(k).copied().unwrap_or(f64::INFINITY),
            steps_to_target: f64::NAN,
            seconds_to_target: epochs_to_target.get(k).map_or(f64::INFINITY, |e| e * 0.1),
            completed: true,
        })
        .collect();
    CandidateStats {
        runs: per_seed.len(),
        completed: per_seed.len(),
        per_seed_final: per_seed.to_vec(),
        final_value: Summary::of(per_seed.iter().copied()),
        final_median: median(per_seed),
        final_iqm: iqm(per_seed),
        scores,
        reached: epochs_to_target.len(),
        epochs_to_target: Summary::of(epochs_to_target.iter().copied()),
        seconds_to_target: Summary::of(epochs_to_target.iter().map(|e| e * 0.1)),
        ..CandidateStats::default()
    }
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn verdict_names_equivalent_worse_and_undecided_schedules() {
    let m = Metric::named("val_acc");
    // b overlaps a seed by seed (undecided), c is clearly worse, d is a's twin.
    let s = vec![
        stats(&[0.95, 0.93, 0.96], &[3.0, 3.0, 3.0]),
        stats(&[0.94, 0.94, 0.95], &[3.0, 3.0, 3.0]),
        stats(&[0.80, 0.81, 0.79], &[]),
        stats(&[0.95, 0.93, 0.96], &[3.0, 3.0, 3.0]),
    ];
    let order = rank(&s, &m);
    assert_eq!(order[0], 0);
    let board = score(
        &names(&["a", "b", "c", "d"]),
        &s,
        &order,
        &m,
        Some(0.9),
        None,
        None,
    );
    let words: Vec<&str> = board.schedules.iter().map(|x| x.verdict.word()).collect();
    assert_eq!(words, ["best", "undecided", "worse", "equivalent"]);
    let Verdict::Undecided {
        seeds_needed: Some(n),
    } = board.schedules[1].verdict
    else {
        panic!("{:?}", board.schedules[1]);
    };
    assert!(n > 3, "{n}");
    let v = verdict(&board, &s, false);
    assert!(v[0].starts_with("a has the best final val_acc"), "{v:?}");
    assert!(
        v.iter()
            .any(|l| l.starts_with("Equivalent to a within ±0.5 percentage points: d")),
        "{v:?}"
    );
    assert!(v.iter().any(|l| l.starts_with("Worse than a: c")), "{v:?}");
    assert!(
        v.iter()
            .any(|l| l.contains(&format!("b (about {n} seeds would decide)"))),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|l| l.starts_with("a, b and d reached 90% first (a tie)")),
        "{v:?}"
    );
    assert_eq!(board.to_json()["best"], "a");
}

#[test]
fn one_seed_calls_every_other_schedule_undecided() {
    let m = Metric::named("val_acc");
    let s = vec![stats(&[0.9832], &[1.0]), stats(&[0.9806], &[1.0])];
    let board = score(&names(&["a", "b"]), &s, &[0, 1], &m, Some(0.97), None, None);
    assert_eq!(
        board.schedules[1].verdict,
        Verdict::Undecided { seeds_needed: None }
    );
    let v = verdict(&board, &s, false);
    assert!(v[1].contains("With one seed"), "{v:?}");
    assert!(v.iter().any(|l| l.contains("measures nothing")), "{v:?}");
}

#[test]
fn an_incomplete_schedule_is_never_best_even_with_the_best_values() {
    let m = Metric::named("val_acc");
    let mut top = stats(&[0.99, 0.99], &[1.0, 1.0]);
    top.completed = 1;
    top.failed = vec![(1, "failed", "exited with status 1".into())];
    let s = vec![top, stats(&[0.5, 0.52], &[])];
    let order = rank(&s, &m);
    assert_eq!(order, vec![1, 0]);
    let board = score(&names(&["top", "low"]), &s, &order, &m, None, None, None);
    assert_eq!(board.best, Some(1));
    assert!(
        matches!(&board.schedules[0].verdict, Verdict::Incomplete { failure } if failure == "seed 1: exited with status 1")
    );
    let j = board.to_json();
    assert_eq!(j["schedules"][0]["name"], "low");
    assert_eq!(j["schedules"][1]["note"], "seed 1: exited with status 1");
}
