//! The cost of one evaluation, `value(step)`, for every native family and combinator, and
//! of one step of the stateful driver.
//!
//! ```text
//! cargo bench -p lrsched --bench schedules
//! ```
//!
//! Goals (issue): at most 50 ns per evaluation of a closed form and at most 100 ns per
//! driver step (`step()` then `lr()`); PyTorch's `scheduler.step()` on the same machine
//! is timed by `scripts/bench_torch_step.py`. `convert` of a join is linear in its parts
//! (issue 19: 100k parts took 8 s, 400k over 120 s): `convert/*/10000` about ten times
//! `convert/*/1000`.
//!
//! Every schedule is built from its one-line form, so the bench also checks that each
//! string still parses. Each evaluation takes the next of 1024 pseudo-random steps
//! (spread over the schedule's length and past it), through `black_box`, so nothing is
//! constant-folded and branches are not all predicted the same way.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lrsched::{oneline, Driver, Schedule};
use std::time::Duration;

/// One line per type: every native family, then every combinator, then a few nested
/// trees and PyTorch classes. A name that fails to parse is reported and skipped, so a
/// family that changes its keys shows up here instead of breaking the bench.
const SCHEDULES: &[(&str, &str)] = &[
    // Families.
    ("constant", "constant(lr=0.1)"),
    ("step", "step(lr=0.1, step_size=3000, gamma=0.5)"),
    (
        "multi_step",
        "multi_step(lr=0.1, milestones=[3000, 6000, 8000, 9000], gamma=0.1)",
    ),
    ("exponential", "exponential(lr=0.1, gamma=0.9995)"),
    (
        "exponential_staircase",
        "exponential(lr=0.1, gamma=0.5, transition_steps=1000, staircase=true, min_lr=1e-5)",
    ),
    (
        "inverse_time",
        "inverse_time(lr=0.1, k=0.5, decay_steps=1000)",
    ),
    ("inverse_sqrt", "inverse_sqrt(lr=0.1, k=1, warmup_steps=1000)"),
    (
        "polynomial",
        "polynomial(lr=0.1, steps=10000, end_lr=0.001, power=2)",
    ),
    (
        "linear",
        "linear(start_lr=0.1, end_lr=0.001, steps=10000)",
    ),
    ("cosine", "cosine(lr=0.1, steps=10000, min_lr=0.001)"),
    (
        "cosine_k_decay",
        "cosine(lr=0.1, steps=10000, exponent=2, k_decay=1.5)",
    ),
    ("tanh", "tanh(lr=0.1, steps=10000, min_lr=0.001)"),
    (
        "warm_restarts",
        "warm_restarts(lr=0.1, period=500, period_mult=2, peak_decay=0.9)",
    ),
    (
        "cyclic",
        "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=500, mode=triangular2)",
    ),
    (
        "cyclic_exp_range",
        "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=500, mode=exp_range, gamma=0.9999)",
    ),
    ("one_cycle", "one_cycle(max_lr=0.1, total_steps=10000)"),
    (
        "one_cycle_three_phase",
        "one_cycle(max_lr=0.1, total_steps=10000, three_phase=true, anneal_strategy=linear)",
    ),
    (
        "warmup",
        "warmup(steps=1000, schedule=cosine(lr=0.1, steps=9000))",
    ),
    (
        "wsd",
        "wsd(lr=0.1, warmup_steps=500, stable_steps=7000, decay_steps=2500)",
    ),
    ("rex", "rex(lr=0.1, steps=10000)"),
    ("noam", "noam(d_model=512, warmup_steps=4000)"),
    ("plateau", "plateau(lr=0.1)"),
    (
        "plateau_over_cosine",
        "plateau(schedule=cosine(lr=0.1, steps=10000))",
    ),
    (
        "noise",
        "noise(schedule=cosine(lr=0.1, steps=10000), std=0.01, seed=7)",
    ),
    // Combinators.
    (
        "join",
        "join(schedules=[linear(start_lr=0, end_lr=0.1, steps=1000), constant(lr=0.1), cosine(lr=0.1, steps=5000)], boundaries=[1000, 5000])",
    ),
    (
        "product",
        "product(schedules=[cosine(lr=0.1, steps=10000), step(lr=1, step_size=2000, gamma=0.5)])",
    ),
    ("scale", "scale(schedule=cosine(lr=1, steps=10000), factor=0.1)"),
    (
        "clamp",
        "clamp(schedule=exponential(lr=0.1, gamma=0.999), min=0.001, max=0.05)",
    ),
    (
        "offset",
        "offset(schedule=cosine(lr=0.1, steps=10000), shift=500)",
    ),
    (
        "repeat",
        "repeat(schedule=cosine(lr=0.1, steps=1000), times=10)",
    ),
    (
        "stretch",
        "stretch(schedule=cosine(lr=0.1, steps=1000), ratio=10)",
    ),
    // A typical nested tree: warmup into a cosine, floored and scaled.
    (
        "tree_warmup_cosine_clamp_scale",
        "scale(factor=0.5, schedule=clamp(min=1e-4, schedule=warmup(steps=500, schedule=cosine(lr=0.2, steps=9500))))",
    ),
    // PyTorch classes, where their closed forms apply.
    ("StepLR", "StepLR(lr=0.1, step_size=3000, gamma=0.5)"),
    (
        "MultiStepLR",
        "MultiStepLR(lr=0.1, milestones=[3000, 6000, 8000], gamma=0.1)",
    ),
    ("ExponentialLR", "ExponentialLR(lr=0.1, gamma=0.9995)"),
    (
        "CosineAnnealingLR",
        "CosineAnnealingLR(lr=0.1, T_max=10000, eta_min=0.001)",
    ),
    ("OneCycleLR", "OneCycleLR(max_lr=0.1, total_steps=10000)"),
    (
        "CosineAnnealingWarmRestarts",
        "CosineAnnealingWarmRestarts(lr=0.1, T_0=500, T_mult=2)",
    ),
];

/// 1024 steps spread over `[0, 2 * span]`, from a fixed LCG.
fn steps(span: u64) -> Vec<u64> {
    let mut x: u64 = 0x853C_49E6_748F_EA9B;
    (0..1024)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 33) % (2 * span).max(1)
        })
        .collect()
}

fn configure(c: &mut Criterion) -> criterion::BenchmarkGroup<'_, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group("value");
    g.measurement_time(Duration::from_millis(500))
        .warm_up_time(Duration::from_millis(200))
        .sample_size(20);
    g
}

fn bench_values(c: &mut Criterion) {
    let mut g = configure(c);
    for (name, text) in SCHEDULES {
        let s = match oneline::parse(text) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping {name}: {text}: {e}");
                continue;
            }
        };
        let at = steps(s.len().unwrap_or(10_000).clamp(1, 1 << 40));
        let mut i = 0usize;
        g.bench_function(*name, |b| {
            b.iter(|| {
                i = (i + 1) & 1023;
                s.value(black_box(at[i]))
            })
        });
    }
    g.finish();
}

fn bench_driver(c: &mut Criterion) {
    let mut g = c.benchmark_group("driver");
    g.measurement_time(Duration::from_millis(500))
        .warm_up_time(Duration::from_millis(200))
        .sample_size(20);
    // Lengths far beyond what criterion runs, so every step stays inside the decay.
    let cases = [
        ("cosine", "cosine(lr=0.1, steps=1000000000000)"),
        (
            "warmup_cosine",
            "warmup(steps=1000, schedule=cosine(lr=0.1, steps=1000000000000))",
        ),
    ];
    for (name, text) in cases {
        let mut d = Driver::new(oneline::parse(text).expect(text));
        g.bench_function(format!("step_lr/{name}"), |b| {
            b.iter(|| {
                d.step();
                black_box(d.lr())
            })
        });
    }
    // Plateau: a metric that improves, then stalls for a while, over and over, so the
    // reduction logic runs; the floor stops the reductions list growing without end.
    let mut d =
        Driver::new(oneline::parse("plateau(lr=0.1, patience=5, min_lr=1e-6)").expect("plateau"));
    let metrics: Vec<f64> = (0..1024)
        .map(|i| {
            if i % 32 < 16 {
                1.0 / (1 + i) as f64
            } else {
                1.0
            }
        })
        .collect();
    let mut i = 0usize;
    g.bench_function("step_with_metric_lr/plateau", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            d.step_with_metric(black_box(metrics[i])).unwrap();
            black_box(d.lr())
        })
    });
    g.finish();
}

/// `convert` of a join of `n` one-rate parts, two steps each: PyTorch's form is a
/// `SequentialLR` of `n` classes replayed over the comparison, optax's a `join_schedules`.
fn bench_convert(c: &mut Criterion) {
    use lrsched::convert::{convert, Target};
    use lrsched::{AnySchedule, Constant, Join};
    let mut g = c.benchmark_group("convert");
    g.measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(200))
        .sample_size(10);
    for n in [1_000u64, 10_000] {
        let parts: Vec<AnySchedule> = (0..n).map(|_| Constant::new(0.1).into()).collect();
        let s: AnySchedule = Join::new(parts, (1..n).map(|i| 2 * i).collect()).into();
        for to in [Target::Torch, Target::Optax] {
            g.bench_function(format!("join/{to}/{n}"), |b| {
                b.iter(|| convert(black_box(&s), to).map(|c| c.exact))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_values, bench_driver, bench_convert);
criterion_main!(benches);
