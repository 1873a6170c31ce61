//! What `lrsched list` prints: every schedule type with its parameters and defaults.
//!
//! Summaries and examples are written here; each native type's parameter list is its
//! declaration's `PARAMS` (`family!` in `families/declare.rs`), so a default is stated
//! once. A test checks the table against the parsers themselves (every key listed is
//! accepted, every accepted key is listed, every default shown is the one the parser
//! applies, and every example parses).

/// One schedule type.
#[derive(Debug, Clone, Copy)]
pub struct TypeInfo {
    /// The config `type`.
    pub name: &'static str,
    /// `schedule`, `combinator` or `torch`.
    pub group: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Parameters, comma-separated: `key` is required, `key=value` has that default.
    pub params: &'static str,
    /// A complete one-line example.
    pub example: &'static str,
}

impl TypeInfo {
    /// The parameters as `(key, default)` pairs; `None` for required keys.
    ///
    /// ```
    /// let cosine = lrsched::catalog::find("cosine").unwrap();
    /// assert!(cosine.param_list().contains(&("min_lr", Some("0"))));
    /// ```
    pub fn param_list(&self) -> Vec<(&'static str, Option<&'static str>)> {
        self.params
            .split(", ")
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (p, None),
            })
            .collect()
    }
}

/// The entry for a config `type`.
pub fn find(name: &str) -> Option<&'static TypeInfo> {
    all().find(|t| t.name == name)
}

/// Every entry: native schedules, combinators, PyTorch classes, then (with the `serde`
/// feature) the paste-in types of each library.
pub fn all() -> impl Iterator<Item = &'static TypeInfo> {
    #[cfg(feature = "serde")]
    let compat = crate::compat::LIBRARIES.iter().flat_map(|(_, c)| c.iter());
    #[cfg(not(feature = "serde"))]
    let compat = std::iter::empty();
    CATALOG.iter().chain(compat)
}

macro_rules! catalog {
    ($($name:literal, $group:literal, $summary:literal, $params:expr, $example:literal;)*) => {
        /// Every schedule type, in the order `lrsched list` prints them.
        pub const CATALOG: &[TypeInfo] = &[
            $(TypeInfo { name: $name, group: $group, summary: $summary, params: $params, example: $example },)*
        ];
    };
}

catalog! {
    "constant", "schedule", "the same value at every step",
        crate::Constant::PARAMS, "constant(lr=0.1)";
    "step", "schedule", "multiply by gamma every step_size steps",
        crate::StepDecay::PARAMS, "step(lr=0.1, step_size=30, gamma=0.1)";
    "multi_step", "schedule", "multiply by gamma at each milestone (repeats count again)",
        crate::MultiStep::PARAMS, "multi_step(lr=0.1, milestones=[30, 80], gamma=0.1)";
    "exponential", "schedule", "lr * gamma^(t/transition_steps) or lr * exp(-k t), optional staircase, floor and (for a growth) ceiling",
        crate::Exponential::PARAMS,
        "exponential(lr=0.1, gamma=0.99)";
    "inverse_time", "schedule", "time-based decay lr / (1 + k t/decay_steps)",
        crate::InverseTime::PARAMS, "inverse_time(lr=0.1, k=0.01)";
    "inverse_sqrt", "schedule", "lr / (1 + k sqrt(t)), or lr / sqrt((t + shift) / timescale) after a warmup",
        crate::InverseSqrt::PARAMS, "inverse_sqrt(lr=0.1, timescale=1000, warmup_steps=100)";
    "cosine", "schedule", "half a cosine from lr to min_lr over steps (exponent, k-decay)",
        crate::Cosine::PARAMS, "cosine(lr=0.1, steps=1000)";
    "polynomial", "schedule", "(lr - end_lr) * (1 - t/steps)^power + end_lr, optionally cycling",
        crate::Polynomial::PARAMS, "polynomial(lr=0.1, steps=1000, power=2)";
    "linear", "schedule", "a straight line from start_lr to end_lr over steps",
        crate::Linear::PARAMS, "linear(start_lr=0.1, end_lr=0.001, steps=1000)";
    "cyclic", "schedule", "cyclical rates between base_lr and max_lr (triangular, triangular2, exp_range, sine), momentum inversely",
        crate::Cyclic::PARAMS,
        "cyclic(base_lr=0.001, max_lr=0.1, step_size_up=10, mode=triangular2)";
    "one_cycle", "schedule", "one cycle up to max_lr and down far below it (two or three phases), momentum inversely",
        crate::OneCycle::PARAMS,
        "one_cycle(max_lr=0.1, total_steps=1000)";
    "tanh", "schedule", "timm's tanh decay from lr to min_lr over steps (lb, ub shape it)",
        crate::Tanh::PARAMS, "tanh(lr=0.1, steps=1000)";
    "noam", "schedule", "the transformer schedule: factor * d_model^-0.5 * min(n^-0.5, n * warmup_steps^-1.5), n = step + 1",
        crate::Noam::PARAMS, "noam(d_model=512, warmup_steps=4000)";
    "rex", "schedule", "REX: min_lr + (lr - min_lr) * (1 - z) / (0.5 + 0.5 (1 - z)), z = t/steps",
        crate::Rex::PARAMS, "rex(lr=0.1, steps=1000)";
    "warmup", "schedule", "a rise from start_lr (linear, cosine, exponential, 1-sqrt) in front of any schedule",
        crate::Warmup::PARAMS, "warmup(steps=100, schedule=cosine(lr=0.1, steps=1000))";
    "warm_restarts", "schedule", "cosine with warm restarts (SGDR): period growing by period_mult, peak decaying by peak_decay",
        crate::WarmRestarts::PARAMS,
        "warm_restarts(lr=0.1, period=10, period_mult=2)";
    "wsd", "schedule", "warmup-stable-decay with a linear, cosine, 1-sqrt or 1-square cooldown",
        crate::Wsd::PARAMS,
        "wsd(lr=0.1, warmup_steps=100, stable_steps=800, decay_steps=100, cooldown=1-sqrt)";
    "plateau", "schedule", "reduce-on-plateau: lr (or a schedule) times factor after patience steps without improvement",
        crate::Plateau::PARAMS,
        "plateau(lr=0.1, factor=0.5, patience=5)";
    "noise", "schedule", "multiplicative noise on any schedule (uniform percent or truncated normal), reproducible from a seed",
        crate::Noise::PARAMS,
        "noise(schedule=cosine(lr=0.1, steps=1000), pct=0.1)";
    "join", "combinator", "schedules one after another, switching at boundaries (local or global time)",
        crate::Join::PARAMS,
        "join(schedules=[constant(lr=0.1), cosine(lr=0.1, steps=900)], boundaries=[100])";
    "product", "combinator", "the pointwise product of schedules (a base rate times factors)",
        crate::Product::PARAMS, "product(schedules=[cosine(lr=0.1, steps=1000), step(lr=1, step_size=100, gamma=0.9)])";
    "scale", "combinator", "a schedule's values times a factor",
        crate::Scale::PARAMS, "scale(schedule=cosine(lr=1, steps=100), factor=0.1)";
    "clamp", "combinator", "a schedule kept within [min, max]",
        crate::Clamp::PARAMS, "clamp(schedule=exponential(lr=0.1, gamma=0.9), min=0.001)";
    "offset", "combinator", "a schedule shifted in time (shift > 0 skips ahead, < 0 delays)",
        crate::Offset::PARAMS, "offset(schedule=cosine(lr=0.1, steps=1000), shift=-100)";
    "repeat", "combinator", "a schedule repeated every period steps, optionally a number of times",
        crate::Repeat::PARAMS, "repeat(schedule=cosine(lr=0.1, steps=100), times=3)";
    "stretch", "combinator", "a schedule stretched in time by ratio (Composer's scale_schedule_ratio)",
        crate::Stretch::PARAMS, "stretch(schedule=cosine(lr=0.1, steps=100), ratio=1.5)";
    "cycles", "combinator", "a cosine, tanh or polynomial decay in cycles growing by a float cycle_mul, peaks by cycle_decay (timm's cycles)",
        crate::Cycles::PARAMS, "cycles(schedule=cosine(lr=0.1, steps=10), cycle_mul=1.5, cycle_limit=4)";
    "LambdaLR", "torch", "lr * lr_lambda(epoch), lr_lambda an expression in epoch (or a list, one per group)",
        "lr, lr_lambda, momentum=none", "LambdaLR(lr=0.1, lr_lambda=\"0.95 ** epoch\")";
    "MultiplicativeLR", "torch", "multiply the rate by lr_lambda(epoch) every step",
        "lr, lr_lambda, momentum=none", "MultiplicativeLR(lr=0.1, lr_lambda=0.95)";
    "StepLR", "torch", "multiply by gamma every step_size epochs",
        "lr, step_size, gamma=0.1, momentum=none", "StepLR(lr=0.1, step_size=30)";
    "MultiStepLR", "torch", "multiply by gamma at each milestone",
        "lr, milestones, gamma=0.1, momentum=none", "MultiStepLR(lr=0.1, milestones=[30, 80])";
    "ConstantLR", "torch", "lr * factor until total_iters, then lr",
        "lr, factor=0.3333333333333333, total_iters=5, momentum=none", "ConstantLR(lr=0.1, factor=0.5, total_iters=4)";
    "LinearLR", "torch", "lr * a factor moving linearly from start_factor to end_factor over total_iters",
        "lr, start_factor=0.3333333333333333, end_factor=1, total_iters=5, momentum=none",
        "LinearLR(lr=0.1, start_factor=0.1, total_iters=10)";
    "ExponentialLR", "torch", "multiply by gamma every epoch",
        "lr, gamma, momentum=none", "ExponentialLR(lr=0.1, gamma=0.95)";
    "PolynomialLR", "torch", "lr * (1 - t/total_iters)^power",
        "lr, total_iters=5, power=1, momentum=none", "PolynomialLR(lr=0.1, total_iters=10, power=2)";
    "CosineAnnealingLR", "torch", "cosine from lr to eta_min over T_max (PyTorch's recursive form, also past T_max)",
        "lr, T_max, eta_min=0, momentum=none", "CosineAnnealingLR(lr=0.1, T_max=50)";
    "CosineAnnealingWarmRestarts", "torch", "SGDR: cosine restarting every T_0 * T_mult^i epochs",
        "lr, T_0, T_mult=1, eta_min=0, momentum=none", "CosineAnnealingWarmRestarts(lr=0.1, T_0=10, T_mult=2)";
    "CyclicLR", "torch", "cyclical rates (triangular, triangular2, exp_range, or scale_fn), momentum inversely",
        "lr=0.001, base_lr, max_lr, step_size_up=2000, step_size_down=none, mode=triangular, gamma=1, scale_fn=none, scale_mode=cycle, cycle_momentum=true, base_momentum=0.8, max_momentum=0.9, momentum=none",
        "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=10, momentum=0.9)";
    "OneCycleLR", "torch", "one cycle to max_lr and down (total_steps or epochs x steps_per_epoch)",
        "lr=0.001, max_lr, total_steps=none, epochs=none, steps_per_epoch=none, pct_start=0.3, anneal_strategy=cos, cycle_momentum=true, base_momentum=0.85, max_momentum=0.95, div_factor=25, final_div_factor=10000, three_phase=false, momentum=none",
        "OneCycleLR(max_lr=0.1, total_steps=100, momentum=0.9)";
    "SequentialLR", "torch", "schedulers one after another at milestones (configs without lr)",
        "lr, schedulers, milestones, momentum=none",
        "SequentialLR(lr=0.1, schedulers=[LinearLR(start_factor=0.1, total_iters=5), ExponentialLR(gamma=0.9)], milestones=[5])";
    "ChainedScheduler", "torch", "schedulers applied together, each multiplying the rate",
        "lr, schedulers, momentum=none",
        "ChainedScheduler(lr=0.1, schedulers=[ConstantLR(factor=0.5, total_iters=3), ExponentialLR(gamma=0.9)])";
    "ReduceLROnPlateau", "torch", "multiply by factor after patience epochs without improvement (needs --metrics)",
        "lr, mode=min, factor=0.1, patience=10, threshold=0.0001, threshold_mode=rel, cooldown=0, min_lr=0, eps=0.00000001, momentum=none",
        "ReduceLROnPlateau(lr=0.1, patience=5)";
}
