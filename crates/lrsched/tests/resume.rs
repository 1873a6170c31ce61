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
    if fresh().schedule().needs_metric() {
        // The metric must really drive the rate, or the comparison proves nothing.
        let reductions = straight.windows(2).filter(|w| w[1].0 < w[0].0).count();
        assert!(reductions >= 2, "{one_line}: only {reductions} reductions");
    }

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
    polynomial: "polynomial(lr=0.1, steps=700, power=2, end_lr=0.001)",
    polynomial_cycle: "polynomial(lr=0.1, steps=300, cycle=true)",
    linear: "linear(start_lr=0.1, end_lr=0.0, steps=900)",
    tanh: "tanh(lr=0.1, steps=900, min_lr=0.001)",
    noam: "noam(d_model=512, warmup_steps=100)",
    rex: "rex(lr=0.1, steps=900)",
    warm_restarts: "warm_restarts(lr=0.1, period=50, period_mult=1.5, peak_decay=0.8, min_lr=0.001)",
    cyclic: "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=70, mode=exp_range, gamma=0.999, cycle_momentum=true)",
    one_cycle: "one_cycle(max_lr=0.1, total_steps=900, three_phase=true)",
    wsd: "wsd(lr=0.1, warmup_steps=100, stable_steps=500, decay_steps=300, cooldown=1-sqrt)",
    noise: "noise(schedule=cosine(lr=0.1, steps=1000), pct=0.2, seed=7)",
    plateau: "plateau(lr=0.1, factor=0.5, patience=20, cooldown=5, min_lr=0.0001)",
    warmup_plateau_floor: "clamp(schedule=warmup(steps=50, schedule=plateau(lr=0.1, patience=10, threshold_mode=abs, threshold=0.001)), min=0.001)",
    join_then_plateau: "join(schedules=[linear(start_lr=0, end_lr=0.1, steps=100), plateau(lr=0.1, patience=15, mode=min)], boundaries=[100])",
    stretch: "stretch(schedule=cosine(lr=0.1, steps=600), ratio=1.5)",
    torch_lambda: "LambdaLR(lr=0.1, lr_lambda=\"0.99 ** epoch\")",
    torch_multiplicative: "MultiplicativeLR(lr=0.1, lr_lambda=0.999)",
    torch_step: "StepLR(lr=0.1, step_size=30, gamma=0.5)",
    torch_multi_step: "MultiStepLR(lr=0.1, milestones=[100, 400, 400], gamma=0.5)",
    torch_constant: "ConstantLR(lr=0.1, factor=0.5, total_iters=450)",
    torch_linear: "LinearLR(lr=0.1, start_factor=0.1, total_iters=450)",
    torch_exponential: "ExponentialLR(lr=0.1, gamma=0.999)",
    torch_polynomial: "PolynomialLR(lr=0.1, total_iters=800, power=2)",
    torch_cosine_past_t_max: "CosineAnnealingLR(lr=0.1, T_max=300, eta_min=0.001)",
    torch_warm_restarts: "CosineAnnealingWarmRestarts(lr=0.1, T_0=50, T_mult=2, eta_min=0.001)",
    torch_cyclic: "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=70, mode=triangular2, momentum=0.9)",
    torch_one_cycle: "OneCycleLR(max_lr=0.1, total_steps=1000, momentum=0.9)",
    torch_sequential: "SequentialLR(lr=0.1, schedulers=[LinearLR(start_factor=0.1, total_iters=100), CosineAnnealingLR(T_max=900)], milestones=[100])",
    torch_chained: "ChainedScheduler(lr=0.1, schedulers=[ConstantLR(factor=0.5, total_iters=300), ExponentialLR(gamma=0.999)])",
    torch_plateau: "ReduceLROnPlateau(lr=0.1, factor=0.5, patience=20, cooldown=5)",
}
