//! A resumed driver continues bit-identically: 1000 steps straight equal 400 steps, a save
//! through JSON text, a restore into a freshly parsed schedule, and 600 more steps. For
//! every family, combinator and PyTorch class, plateau schedules included.
#![cfg(feature = "serde")]

use lrsched::{oneline, Driver, DriverState, Schedule};

/// A metric that improves, stalls and worsens, so plateau schedules reduce several times.
fn metric(step: u64) -> f64 {
    let t = step as f64;
    1.0 / (1.0 + t / 50.0) + 0.05 * ((t / 37.0).sin()).max(0.0) + if step > 700 { 0.5 } else { 0.0 }
}

/// Runs `steps` steps from `driver`, returning every (lr, momentum) in force.
fn run(driver: &mut Driver, steps: u64) -> Vec<(u64, u64)> {
    let needs_metric = driver.schedule().needs_metric();
    (0..steps)
        .map(|_| {
            let here = (
                driver.lr().to_bits(),
                driver.momentum().map_or(0, f64::to_bits),
            );
            if needs_metric {
                driver
                    .step_with_metric(metric(driver.current_step()))
                    .unwrap();
            } else {
                driver.step();
            }
            here
        })
        .collect()
}

fn check_resume(one_line: &str) {
    let fresh =
        || Driver::new(oneline::parse(one_line).unwrap_or_else(|e| panic!("{one_line}: {e}")));
    let straight = run(&mut fresh(), 1000);

    let mut first = fresh();
    let mut resumed = run(&mut first, 400);
    let saved = serde_json::to_string(&first.state()).unwrap();
    let state: DriverState = serde_json::from_str(&saved).unwrap();
    let mut second = fresh()
        .restore(&state)
        .unwrap_or_else(|e| panic!("{one_line}: {e}"));
    resumed.extend(run(&mut second, 600));

    for (step, (a, b)) in straight.iter().zip(&resumed).enumerate() {
        assert_eq!(
            a,
            b,
            "{one_line}: step {step}: straight lr {} vs resumed lr {}",
            f64::from_bits(a.0),
            f64::from_bits(b.0)
        );
    }
}

macro_rules! resume_tests {
    ($($name:ident: $schedule:expr,)*) => {
        $(
            #[test]
            fn $name() {
                check_resume($schedule);
            }
        )*
    };
}

resume_tests! {
    constant: "constant(lr=0.1)",
    step: "step(lr=0.1, step_size=30, gamma=0.5)",
    multi_step: "multi_step(lr=0.1, milestones=[100, 300, 300, 700], gamma=0.5)",
    exponential: "exponential(lr=0.1, gamma=0.995)",
    exponential_rate: "exponential(lr=0.1, k=0.003, staircase=true, transition_steps=50, min_lr=0.001)",
    inverse_time: "inverse_time(lr=0.1, k=0.01)",
    inverse_sqrt: "inverse_sqrt(lr=0.1, k=0.1)",
    inverse_sqrt_timescale: "inverse_sqrt(lr=0.1, timescale=100, warmup_steps=50)",
    cosine: "cosine(lr=0.1, steps=800, min_lr=0.001, exponent=2, k_decay=0.5)",
    warmup_cosine: "warmup(steps=100, schedule=cosine(lr=0.1, steps=800))",
    join: "join(schedules=[constant(lr=0.1), cosine(lr=0.1, steps=500), constant(lr=0.001)], boundaries=[100, 600])",
    product: "product(schedules=[cosine(lr=0.1, steps=1000), step(lr=1, step_size=250, gamma=0.5)])",
    scale: "scale(schedule=cosine(lr=0.1, steps=1000), factor=0.5)",
    clamp: "clamp(schedule=cosine(lr=0.1, steps=1000), min=0.01, max=0.05)",
    offset: "offset(schedule=cosine(lr=0.1, steps=1000), shift=-100)",
    repeat: "repeat(schedule=cosine(lr=0.1, steps=300), times=3)",
    torch_step: "StepLR(lr=0.1, step_size=30, gamma=0.5)",
    torch_cosine_past_t_max: "CosineAnnealingLR(lr=0.1, T_max=300, eta_min=0.001)",
}
