//! One driver step (`step()` then `lr()`) of every PyTorch class, near the start and
//! around step 10^6 (past the replay limit), amortised over runs of 100 steps.
//!
//! ```text
//! cargo bench -p lrsched --features serde --bench torch_step
//! ```
//!
//! Goal (issue 10): at most 100 ns per step, at any step; PyTorch's own
//! `scheduler.step()` takes 1.5-2.2 us (`scripts/bench_torch_step.py`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lrsched::{config, Driver};
use std::time::{Duration, Instant};

/// One config per class; its benchmark is named after its type (and the type it wraps).
const CLASSES: &[&str] = &[
    r#"{"type": "LambdaLR", "lr": 0.1, "lr_lambda": "0.95 ** epoch"}"#,
    r#"{"type": "MultiplicativeLR", "lr": 0.1, "lr_lambda": 0.99999}"#,
    r#"{"type": "StepLR", "lr": 0.1, "step_size": 30, "gamma": 0.5}"#,
    r#"{"type": "MultiStepLR", "lr": 0.1, "milestones": [300000, 600000, 900000]}"#,
    r#"{"type": "ConstantLR", "lr": 0.1, "factor": 0.5, "total_iters": 1000}"#,
    r#"{"type": "LinearLR", "lr": 0.1, "start_factor": 0.1, "total_iters": 2000000}"#,
    r#"{"type": "ExponentialLR", "lr": 0.1, "gamma": 0.999999}"#,
    r#"{"type": "PolynomialLR", "lr": 0.1, "total_iters": 2000000, "power": 2.0}"#,
    r#"{"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 100000}"#,
    r#"{"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 1000, "T_mult": 2}"#,
    r#"{"type": "CyclicLR", "base_lr": 0.001, "max_lr": 0.1, "step_size_up": 2000}"#,
    r#"{"type": "OneCycleLR", "max_lr": 0.1, "total_steps": 2000000}"#,
    r#"{"type": "SequentialLR", "lr": 0.1, "milestones": [1000], "schedulers": [{"type": "LinearLR", "start_factor": 0.01, "total_iters": 1000}, {"type": "CosineAnnealingLR", "T_max": 2000000}]}"#,
    r#"{"type": "ChainedScheduler", "lr": 0.1, "schedulers": [{"type": "ConstantLR", "factor": 0.5, "total_iters": 1000}, {"type": "ExponentialLR", "gamma": 0.999999}]}"#,
    r#"{"type": "ReduceLROnPlateau", "lr": 0.1}"#,
    r#"{"type": "warmup", "steps": 5, "schedule": {"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 100000}}"#,
];

/// Runs of this many steps, each from a copy of the driver at the start step.
const RUN: u64 = 100;

/// `type`, or `type(inner type)` for a config that wraps one schedule.
fn name_of(cfg: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(cfg).unwrap();
    let ty = v["type"].as_str().unwrap();
    match v["schedule"]["type"].as_str() {
        Some(inner) => format!("{ty}({inner})"),
        None => ty.to_string(),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("torch_driver_step");
    group.measurement_time(Duration::from_secs(2));
    group.warm_up_time(Duration::from_millis(300));
    for &cfg in CLASSES {
        let name = name_of(cfg);
        let schedule = config::from_json_str(cfg).unwrap_or_else(|e| panic!("{name}: {e}"));
        for start in [10u64, 1_000_000] {
            let mut at = Driver::new(schedule.clone());
            at.seek(start);
            black_box(at.lr()); // the cursor is at `start` before timing
            group.bench_function(format!("{name}/step_{start}"), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(RUN);
                        let mut d = at.clone();
                        let t = Instant::now();
                        for _ in 0..n {
                            d.step();
                            black_box(d.lr());
                        }
                        total += t.elapsed();
                        left -= n;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
