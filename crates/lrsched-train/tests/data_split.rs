//! Splits, standardisation, batch order and the generated sets (XOR, spirals).

use lrsched_train::data::{
    spirals, xor, BatchState, Batches, Dataset, Rng, Source, Split, Standardizer, Task,
};

fn labelled(n: usize, classes: u32) -> Dataset {
    let features = (0..n).map(|i| i as f32).collect();
    let labels = (0..n as u32).map(|i| i % classes).collect();
    Dataset::classification("t", features, 1, labels, classes as usize).unwrap()
}

#[test]
fn split_is_deterministic_for_a_seed_and_differs_across_seeds() {
    let d = labelled(200, 4);
    let a = d.split(0.25, 1).unwrap();
    assert_eq!(a, d.split(0.25, 1).unwrap());
    let b = d.split(0.25, 2).unwrap();
    assert_ne!(a.val.features(), b.val.features());
    // Stratified: 50 rows per class, 12.5 -> 13 held out of each (round half away).
    assert_eq!(a.val.class_counts().unwrap(), vec![13; 4]);
    assert_eq!(a.train.len() + a.val.len(), 200);
    // Train and validation are disjoint and cover every row.
    let mut rows: Vec<f32> = a.train.features().to_vec();
    rows.extend_from_slice(a.val.features());
    rows.sort_by(f32::total_cmp);
    assert_eq!(rows, (0..200).map(|i| i as f32).collect::<Vec<_>>());
}

#[test]
fn regression_split_and_bad_fractions() {
    let d = Dataset::regression("r", (0..10).map(|i| i as f32).collect(), 2, vec![0.5; 5]).unwrap();
    let s = d.split(0.4, 3).unwrap();
    assert_eq!((s.train.len(), s.val.len()), (3, 2));
    for f in [0.0, 1.0, -0.1, f64::NAN] {
        assert!(d.split(f, 3).is_err(), "fraction {f}");
    }
    // Too few rows to give validation anything.
    let tiny = labelled(2, 2);
    let e = tiny.split(0.2, 0).unwrap_err().to_string();
    assert!(e.contains("too few"), "{e}");
}

#[test]
fn standardisation_uses_training_statistics_only() {
    // Feature 0 varies, feature 1 is constant in training.
    let train = Dataset::regression("tr", vec![1.0, 5.0, 3.0, 5.0], 2, vec![0.0, 1.0]).unwrap();
    let val = Dataset::regression("va", vec![100.0, 7.0], 2, vec![0.0]).unwrap();
    let mut s = Split { train, val };
    let st = s.standardize();
    assert_eq!(
        st,
        Standardizer {
            mean: vec![2.0, 5.0],
            scale: vec![1.0, 1.0]
        }
    );
    assert_eq!(s.train.features(), &[-1.0, 0.0, 1.0, 0.0]);
    // The outlying validation value does not move the statistics; the constant feature
    // is only centered.
    assert_eq!(s.val.features(), &[98.0, 2.0]);

    let d = labelled(100, 2);
    let mut s = d.split(0.5, 9).unwrap();
    s.standardize();
    let mean: f64 = s.train.features().iter().map(|&x| x as f64).sum::<f64>() / 50.0;
    let var: f64 = s
        .train
        .features()
        .iter()
        .map(|&x| (x as f64 - mean).powi(2))
        .sum::<f64>()
        / 50.0;
    assert!(
        mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5,
        "{mean} {var}"
    );
}

#[test]
fn constructors_reject_inconsistent_shapes() {
    assert!(Dataset::classification("x", vec![0.0; 5], 2, vec![0, 1], 2).is_err());
    assert!(Dataset::classification("x", vec![0.0; 4], 2, vec![0, 2], 2).is_err());
    assert!(Dataset::classification("x", vec![0.0; 2], 2, vec![0], 1).is_err());
    assert!(Dataset::regression("x", vec![0.0; 2], 0, vec![]).is_err());
    assert!(Dataset::regression("x", vec![0.0; 2], 2, vec![f32::NAN]).is_err());
}

#[test]
fn xor_is_the_four_points_in_both_parts() {
    let s = xor::split().unwrap();
    assert_eq!(s.train, s.val);
    assert_eq!(s.train.task(), &Task::BinaryClassification);
    assert_eq!(s.train.task().outputs(), 1);
    assert_eq!(
        s.train.features(),
        &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    );
    assert_eq!(s.train.labels().unwrap(), &[0, 1, 1, 0]);
}

#[test]
fn spirals_follow_size_noise_and_seed() {
    let o = spirals::SpiralsOptions {
        size: 301,
        noise: 0.0,
        seed: 5,
    };
    let d = spirals::dataset(&o).unwrap();
    assert_eq!(d.len(), 301);
    assert_eq!(d.class_counts().unwrap(), vec![151, 150]);
    // Without noise, class 1 is class 0 turned half a turn: r is the same, the point
    // opposite.
    assert_eq!(d.row(0), &[0.0, 0.0]);
    let (x, y) = (d.row(151 + 75)[0], d.row(151 + 75)[1]);
    assert!(((x * x + y * y).sqrt() - 0.5).abs() < 1e-6);
    let noisy = spirals::SpiralsOptions {
        noise: 0.1,
        ..o.clone()
    };
    assert_eq!(
        spirals::dataset(&noisy).unwrap(),
        spirals::dataset(&noisy).unwrap()
    );
    let other = spirals::SpiralsOptions {
        seed: 6,
        ..noisy.clone()
    };
    assert_ne!(
        spirals::dataset(&noisy).unwrap(),
        spirals::dataset(&other).unwrap()
    );
    let s = spirals::split(&noisy).unwrap();
    assert_eq!((s.train.len(), s.val.len()), (241, 60));
    assert!(spirals::dataset(&spirals::SpiralsOptions {
        size: 3,
        ..o.clone()
    })
    .is_err());
    assert!(spirals::dataset(&spirals::SpiralsOptions {
        noise: -1.0,
        ..o.clone()
    })
    .is_err());
    assert_eq!(Source::Spirals(noisy.clone()).load().unwrap(), s);
}

#[test]
fn batch_order_is_seeded_and_resumable() {
    let order = |seed| {
        let mut b = Batches::new(100, 16, seed).unwrap();
        (0..20).map(|_| b.next_batch().to_vec()).collect::<Vec<_>>()
    };
    assert_eq!(order(1), order(1));
    assert_ne!(order(1), order(2));
    let mut b = Batches::new(100, 16, 1).unwrap();
    assert_eq!(b.per_epoch(), 7);
    for _ in 0..9 {
        b.next_batch();
    }
    let st = b.state();
    assert_eq!(
        st,
        BatchState {
            seed: 1,
            epoch: 1,
            position: 32
        }
    );
    let mut r = Batches::resume(100, 16, st).unwrap();
    for want in &order(1)[9..] {
        assert_eq!(r.next_batch(), want.as_slice());
    }
    assert!(Batches::new(0, 4, 1).is_err());
    assert!(Batches::new(4, 0, 1).is_err());
    assert!(Batches::resume(
        4,
        2,
        BatchState {
            seed: 0,
            epoch: 0,
            position: 5
        }
    )
    .is_err());

    let mut g = Rng::new(3);
    g.next_u64();
    let mut h = Rng::from_state(g.state());
    assert_eq!(g.next_u64(), h.next_u64());
}
