//! The learning-rate range test (Smith 2017, "Cyclical Learning Rates for Training Neural
//! Networks", section 3.3), done as fastai's `Learner.lr_find` does it.
//!
//! The rate rises from `start` to `end` (exponentially by default) over at most `steps`
//! updates; the training loss is smoothed with an exponential moving average (beta 0.98,
//! bias-corrected, fastai's `AvgSmoothLoss`); the test stops early once the smoothed loss
//! exceeds 4x the best so far. Four rules read a rate off the curve, with fastai's
//! definitions ([`minimum`], [`steep`], [`valley`], [`slide`]).
//!
//! The test runs on clones of the model and optimizer it is given, so the caller's
//! network and optimizer state are untouched by construction (a test checks every weight,
//! buffer and optimizer buffer anyway).
//!
//! ```
//! use lrsched_train::data::Source;
//! use lrsched_train::find_lr::{initial_state, range_test, RangeTestOptions};
//! # use lrsched_train::trainer::TrainConfig;
//! let split = Source::Xor.load().unwrap();
//! # let config = lrsched_train::find_lr::doc_config(&split);
//! let (model, optimizer) = initial_state(&config)?;
//! let test = range_test(&model, &optimizer, &split, &RangeTestOptions::new(16, 0).with_steps(30))?;
//! assert!(test.steps_run <= 30);
//! assert_eq!(test.lrs.len(), test.smoothed.len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::data::{Batches, Split};
use crate::model::Mlp;
use crate::optim::Optimizer;
use crate::trainer::{fast_step, TargetRows, TrainConfig, TrainError};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// fastai's `AvgSmoothLoss` beta.
pub const SMOOTH_BETA: f64 = 0.98;
/// fastai's `stop_div`: stop once the smoothed loss exceeds this many times the best.
pub const STOP_FACTOR: f64 = 4.0;
/// fastai's default `start_lr`.
pub const DEFAULT_START: f64 = 1e-7;
/// fastai's default `end_lr`.
pub const DEFAULT_END: f64 = 10.0;
/// The default step count: fastai's `num_it`, whatever the epoch length.
///
/// With at least 100 batches per epoch (MNIST at batch 64 has 938) the sweep costs at
/// most one epoch. On smaller data one epoch is too short a sweep to read anything from:
/// on digits (23 batches per epoch) 23-step sweeps over 5 seeds put `valley` 11x and
/// `steepest` 6700x apart, 100-step ones 6x and 1.4x; 100 steps there cost 4.3 epochs of
/// a data set whose epoch takes milliseconds.
pub const DEFAULT_STEPS: usize = 100;
/// The fewest steps a test may have: the rules look at the points after the first tenth
/// and before the last five (fastai raises `num_it` below 6 to 6).
pub const MIN_STEPS: usize = 6;
/// The most steps a test may have. The rules read a rate off a few hundred points; a
/// million-step sweep is a typo, and refusing it up front costs nothing, where running it
/// costs hours and its curve memory.
pub const MAX_STEPS: usize = 100_000;

/// A setting of a range test that is not allowed: the field (`start`, `end`, `steps`,
/// ...), its value and what is allowed. Names fields, not command-line flags, so any
/// front end can name its own spelling of them.
///
/// ```
/// use lrsched_train::find_lr::RangeTestOptions;
/// let mut o = RangeTestOptions::new(64, 0);
/// o.steps = 3;
/// let e = o.validate().unwrap_err();
/// assert_eq!((e.field, e.value.as_str()), ("steps", "3"));
/// assert!(e.to_string().starts_with("steps = 3 is not allowed: must be at least 6"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OptionError {
    /// The field at fault.
    pub field: &'static str,
    /// Its value, as given.
    pub value: String,
    /// What is allowed.
    pub allowed: String,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} = {} is not allowed: {}",
            self.field, self.value, self.allowed
        )
    }
}

impl std::error::Error for OptionError {}

/// Checks a sweep's rates and length: `start` finite and > 0, `end` finite and above
/// `start`, `steps` in [`MIN_STEPS`, `MAX_STEPS`]. The one check behind
/// [`RangeTestOptions::validate`] and the tools' range test over any trainer.
pub fn validate_sweep(start: f64, end: f64, steps: u64) -> Result<(), OptionError> {
    let err = |field, value: String, allowed: String| {
        Err(OptionError {
            field,
            value,
            allowed,
        })
    };
    if !(start.is_finite() && start > 0.0) {
        return err(
            "start",
            start.to_string(),
            "must be a finite rate > 0".into(),
        );
    }
    if !(end.is_finite() && end > start) {
        return err(
            "end",
            end.to_string(),
            format!("must be finite and greater than the start rate {start}"),
        );
    }
    if steps < MIN_STEPS as u64 {
        return err(
            "steps",
            steps.to_string(),
            format!("must be at least {MIN_STEPS} (the rules skip the first tenth and the last 5 points)"),
        );
    }
    if steps > MAX_STEPS as u64 {
        return err(
            "steps",
            steps.to_string(),
            format!("must be at most {MAX_STEPS} (the rules read a rate off a few hundred points)"),
        );
    }
    Ok(())
}

/// fastai's `AvgSmoothLoss` and `stop_div` as a running state: feed each step's loss,
/// read the bias-corrected moving average, ask whether it has passed the stop factor
/// times its best. The one smoother behind [`range_test`] and the tools' range test on
/// a program's reported losses.
///
/// ```
/// use lrsched_train::find_lr::Smoother;
/// let mut s = Smoother::new(0.98);
/// assert_eq!(s.push(2.0), 2.0); // bias-corrected: the first value is the loss itself
/// assert!(s.push(1.0) < 2.0);
/// assert!(!s.diverging(4.0));
/// for _ in 0..200 { s.push(100.0); }
/// assert!(s.diverging(4.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Smoother {
    beta: f64,
    avg: f64,
    count: i32,
    last: f64,
    best: f64,
}

impl Smoother {
    /// A smoother with moving-average `beta` (fastai: [`SMOOTH_BETA`]).
    pub fn new(beta: f64) -> Self {
        Smoother {
            beta,
            avg: 0.0,
            count: 0,
            last: f64::NAN,
            best: f64::INFINITY,
        }
    }

    /// Takes one step's loss; returns the smoothed loss after it.
    pub fn push(&mut self, loss: f64) -> f64 {
        // fastai's AvgSmoothLoss: torch.lerp(loss, val, beta), then / (1 - beta^count).
        self.avg = self.beta * self.avg + (1.0 - self.beta) * loss;
        self.count = self.count.saturating_add(1);
        self.last = self.avg / (1.0 - self.beta.powi(self.count));
        // As fastai's LRFinder.after_batch: the best so far includes this point.
        self.best = self.best.min(self.last);
        self.last
    }

    /// The last smoothed loss (NaN before the first).
    pub fn smoothed(&self) -> f64 {
        self.last
    }

    /// The lowest smoothed loss so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    /// Whether the last smoothed loss is above `factor` times the best: fastai's
    /// `stop_div`, and what the range test calls a diverging loss.
    pub fn diverging(&self, factor: f64) -> bool {
        self.last > factor * self.best
    }
}

/// The bias-corrected moving average of `losses` ([`Smoother`] over the whole series).
///
/// ```
/// let s = lrsched_train::find_lr::smooth(&[2.0, 1.0, 1.0], 0.98);
/// assert_eq!(s[0], 2.0);
/// assert!(s[2] < s[1] && s[1] < 2.0);
/// ```
pub fn smooth(losses: &[f64], beta: f64) -> Vec<f64> {
    let mut s = Smoother::new(beta);
    losses.iter().map(|&l| s.push(l)).collect()
}

/// How the rate rises from `start` to `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RangeMode {
    /// `start * (end/start)^(i/steps)`: equal ratios per step (fastai's `SchedExp`).
    #[default]
    Exponential,
    /// `start + (end - start) * i/steps` (fastai's `SchedLin`).
    Linear,
}

impl RangeMode {
    /// Reads `exp`/`exponential` or `linear`/`lin`.
    ///
    /// ```
    /// use lrsched_train::find_lr::RangeMode;
    /// assert_eq!(RangeMode::from_name("exp"), Some(RangeMode::Exponential));
    /// assert_eq!(RangeMode::from_name("cubic"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "exp" | "exponential" => Some(RangeMode::Exponential),
            "linear" | "lin" => Some(RangeMode::Linear),
            _ => None,
        }
    }

    /// `exponential` or `linear`.
    pub fn name(self) -> &'static str {
        match self {
            RangeMode::Exponential => "exponential",
            RangeMode::Linear => "linear",
        }
    }

    /// The rate at step `i` of `steps`; step 0 is `start`, and `end` itself is never
    /// reached (fastai evaluates the schedule at `train_iter / num_it`).
    pub fn rate(self, start: f64, end: f64, i: usize, steps: usize) -> f64 {
        let p = i as f64 / steps as f64;
        match self {
            RangeMode::Exponential => start * (end / start).powf(p),
            RangeMode::Linear => start + (end - start) * p,
        }
    }
}

/// Settings of one range test.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeTestOptions {
    /// The first rate (> 0).
    pub start: f64,
    /// The rate the rise aims at (> `start`; reached after `steps` updates).
    pub end: f64,
    /// The most updates to run (at least [`MIN_STEPS`]).
    pub steps: usize,
    /// Exponential or linear rise.
    pub mode: RangeMode,
    /// Samples per batch.
    pub batch_size: usize,
    /// Seeds the batch order (the model's initialisation comes with the model).
    pub seed: u64,
    /// The moving average's beta.
    pub beta: f64,
    /// Stop once the smoothed loss exceeds this many times the best; `None` never stops early.
    pub stop_factor: Option<f64>,
}

impl RangeTestOptions {
    /// fastai's defaults (1e-7 to 10, exponential, beta 0.98, stop at 4x) with
    /// [`DEFAULT_STEPS`] steps.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        RangeTestOptions {
            start: DEFAULT_START,
            end: DEFAULT_END,
            steps: DEFAULT_STEPS,
            mode: RangeMode::Exponential,
            batch_size,
            seed,
            beta: SMOOTH_BETA,
            stop_factor: Some(STOP_FACTOR),
        }
    }

    /// Sets the step count.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Checks the settings; the error names the field at fault (`start`, `end`,
    /// `steps`, `batch_size`, `beta`).
    pub fn validate(&self) -> Result<(), OptionError> {
        validate_sweep(self.start, self.end, self.steps as u64)?;
        if self.batch_size == 0 {
            return Err(OptionError {
                field: "batch_size",
                value: "0".into(),
                allowed: "must be at least 1".into(),
            });
        }
        if !(self.beta >= 0.0 && self.beta < 1.0) {
            return Err(OptionError {
                field: "beta",
                value: self.beta.to_string(),
                allowed: "must lie in [0, 1)".into(),
            });
        }
        Ok(())
    }
}

/// Why a test ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// All steps ran.
    Completed,
    /// The smoothed loss exceeded the stop factor times the best.
    Diverging,
    /// A loss, gradient or parameter became NaN or infinite (that step is not recorded).
    NotFinite,
}

/// fastai's `slide` default `lr_diff`: the gap, in points, between the two gradients
/// compared.
pub const SLIDE_LR_DIFF: usize = 15;
/// fastai's `slide` default `thresh`: the gradients (loss per point) count as level once
/// they differ by at most this.
pub const SLIDE_THRESH: f64 = 0.005;
/// fastai's `slide` default `adjust_value`: the factor on the rate found.
pub const SLIDE_ADJUST: f64 = 1.0;

/// The rules' suggestions; `None` where the curve is too short for a rule.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Suggestions {
    /// The rate at the lowest smoothed loss, divided by 10 (fastai's `minimum`).
    pub minimum_div_10: Option<f64>,
    /// The rate where the smoothed loss falls fastest against log rate (fastai's `steep`).
    pub steepest: Option<f64>,
    /// The rate in the middle of the longest falling stretch of the curve (fastai's
    /// `valley`, its default rule since fastai 2.5).
    pub valley: Option<f64>,
    /// The rate where the loss's gradient, walking left from the end, first matches the
    /// gradient [`SLIDE_LR_DIFF`] points to its right (fastai's `slide` with its
    /// defaults). Absent from files written before it existed.
    #[serde(default)]
    pub slide: Option<f64>,
}

/// The rules' names in the order [`Suggestions::named`] gives them.
pub const RULES: [&str; 4] = ["valley", "steepest", "minimum/10", "slide"];

impl Suggestions {
    /// The rules by name, in a fixed order ([`RULES`]): `valley`, `steepest`,
    /// `minimum/10`, `slide`.
    ///
    /// ```
    /// use lrsched_train::find_lr::{Suggestions, RULES};
    /// let s = Suggestions { slide: Some(0.1), ..Suggestions::default() };
    /// assert_eq!(s.named().map(|(n, _)| n), RULES);
    /// assert_eq!(s.named()[3], ("slide", Some(0.1)));
    /// ```
    pub fn named(&self) -> [(&'static str, Option<f64>); 4] {
        [
            (RULES[0], self.valley),
            (RULES[1], self.steepest),
            (RULES[2], self.minimum_div_10),
            (RULES[3], self.slide),
        ]
    }

    /// The rate to train with: valley (fastai's default), else steepest, else minimum/10.
    pub fn best(&self) -> Option<f64> {
        self.valley.or(self.steepest).or(self.minimum_div_10)
    }
}

/// What one range test measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeTest {
    /// The rate of each step run.
    pub lrs: Vec<f64>,
    /// The raw training loss of each step.
    pub losses: Vec<f64>,
    /// The bias-corrected moving average of the loss, per step.
    pub smoothed: Vec<f64>,
    /// What the rules read off the smoothed curve.
    pub suggestions: Suggestions,
    /// Updates run.
    pub steps_run: usize,
    /// Why it ended.
    pub stop: Stop,
    /// Wall time of the test (building the clones included).
    pub seconds: f64,
}

/// What went wrong before or during a test.
#[derive(Debug, thiserror::Error)]
pub enum RangeTestError {
    /// Bad settings.
    #[error("{0}")]
    Options(#[from] OptionError),
    /// The data does not fit the model.
    #[error("{0}")]
    Data(String),
    /// The optimizer rejected an update.
    #[error("optimizer: {0}")]
    Optimizer(#[from] crate::optim::OptimError),
}

/// The model and optimizer a run of `config` starts from: the same initialisation,
/// parameter groups and optimizer settings as [`crate::trainer::train`] builds (the fast
/// engine's network).
pub fn initial_state(config: &TrainConfig) -> Result<(Mlp, Optimizer), TrainError> {
    if config.batch_size == 0 {
        return Err(TrainError::Config(
            "batch_size = 0 is not allowed: must be at least 1".into(),
        ));
    }
    crate::trainer::initial_state(config)
}

/// Runs the range test on clones of `model` and `optimizer` (left untouched) over
/// `data.train`, in the batch order of `opts.seed`.
pub fn range_test(
    model: &Mlp,
    optimizer: &Optimizer,
    data: &Split,
    opts: &RangeTestOptions,
) -> Result<RangeTest, RangeTestError> {
    range_test_observed(model, optimizer, data, opts, &mut |_, _, _| {})
}

/// [`range_test`], calling `on_step(step, lr, smoothed_loss)` after each update (for a
/// progress display).
pub fn range_test_observed(
    model: &Mlp,
    optimizer: &Optimizer,
    data: &Split,
    opts: &RangeTestOptions,
    on_step: &mut dyn FnMut(usize, f64, f64),
) -> Result<RangeTest, RangeTestError> {
    let started = Instant::now();
    opts.validate()?;
    let train = &data.train;
    if train.dim() != model.spec().sizes[0] {
        return Err(RangeTestError::Data(format!(
            "the model takes {} inputs but the data has {} features",
            model.spec().sizes[0],
            train.dim()
        )));
    }
    let mut batches = Batches::new(train.len(), opts.batch_size, opts.seed)
        .map_err(|e| RangeTestError::Data(e.to_string()))?;
    // Buffers sized by the batches' real size (at most the rows), not the number asked.
    let batch = batches.batch_size();
    let mut net = model.clone();
    net.reserve(batch);
    let mut opt = optimizer.clone();
    let mut targets = TargetRows::new(batch);
    let (mut lrs, mut losses, mut smoothed) = (Vec::new(), Vec::new(), Vec::new());
    let mut smoother = Smoother::new(opts.beta);
    let mut stop = Stop::Completed;
    for i in 0..opts.steps {
        let lr = opts.mode.rate(opts.start, opts.end, i, opts.steps);
        // The trainer's step: its gathering of the rows and targets, its fused step.
        let rows = batches.next_batch();
        let loss = fast_step(&mut net, train, rows, targets.gather(train, rows));
        let (params, grads) = net.params_and_grads();
        if !loss.is_finite() || !grads.iter().all(|g| g.is_finite()) {
            stop = Stop::NotFinite;
            break;
        }
        opt.step(params, grads, lr, None)?;
        let s = smoother.push(loss as f64);
        lrs.push(lr);
        losses.push(loss as f64);
        smoothed.push(s);
        on_step(i, lr, s);
        if !params.iter().all(|p| p.is_finite()) {
            stop = Stop::NotFinite;
            break;
        }
        // As fastai's LRFinder.after_batch: the diverging point is recorded, then stop.
        if opts.stop_factor.is_some_and(|f| smoother.diverging(f)) {
            stop = Stop::Diverging;
            break;
        }
    }
    let suggestions = suggest(&lrs, &smoothed, opts.steps);
    Ok(RangeTest {
        steps_run: lrs.len(),
        lrs,
        losses,
        smoothed,
        suggestions,
        stop,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The rules on a recorded curve, as fastai's `lr_find` applies them: on the points from
/// `num_it / 10` up to the last five (fastai's `recorder.lrs[num_it//10:-5]`), cut at the
/// first NaN.
pub fn suggest(lrs: &[f64], smoothed: &[f64], num_it: usize) -> Suggestions {
    let lo = num_it / 10;
    let hi = lrs.len().min(smoothed.len()).saturating_sub(5);
    if hi <= lo {
        return Suggestions::default();
    }
    let mut end = hi;
    if let Some(k) = smoothed[lo..hi].iter().position(|l| l.is_nan()) {
        end = lo + k;
    }
    let (l, y) = (&lrs[lo..end], &smoothed[lo..end]);
    if l.is_empty() {
        return Suggestions::default();
    }
    Suggestions {
        minimum_div_10: minimum(l, y).map(|lr| lr / 10.0),
        steepest: steep(l, y),
        valley: valley(l, y),
        slide: slide(l, y),
    }
}

/// fastai's `minimum` before its division by 10: the rate at the lowest loss (the first
/// one on a tie, as `argmin`).
pub fn minimum(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let mut best: Option<usize> = None;
    for (i, l) in losses.iter().enumerate() {
        if best.is_none_or(|b| *l < losses[b]) {
            best = Some(i);
        }
    }
    best.map(|i| lrs[i])
}

/// fastai's `steep`: the rate at the left end of the segment whose slope of loss against
/// log rate is the most negative. Needs two points.
pub fn steep(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let mut best: Option<(usize, f64)> = None;
    for i in 0..losses.len().saturating_sub(1) {
        let g = (losses[i + 1] - losses[i]) / (lrs[i + 1].ln() - lrs[i].ln());
        if best.is_none_or(|(_, b)| g < b) {
            best = Some((i, g));
        }
    }
    best.map(|(i, _)| lrs[i])
}

/// fastai's `valley`: the longest decreasing subsequence of the losses (by index span),
/// and the point 1/3 + 1/6 of the way along it. Reproduces fastai's loop exactly,
/// including its update of the longest run inside the inner loop and Python's reading
/// of a negative index from the end.
pub fn valley(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    let n = losses.len();
    if n == 0 {
        return None;
    }
    let (mut max_start, mut max_end) = (0i64, 0usize);
    let mut lds = vec![1usize; n];
    for i in 1..n {
        for j in 0..i {
            if losses[i] < losses[j] && lds[i] < lds[j] + 1 {
                lds[i] = lds[j] + 1;
            }
            if lds[max_end] < lds[i] {
                max_end = i;
                max_start = max_end as i64 - lds[max_end] as i64;
            }
        }
    }
    let sections = (max_end as i64 - max_start) as f64 / 3.0;
    let idx = max_start + sections as i64 + (sections / 2.0) as i64;
    let idx = if idx < 0 { idx + n as i64 } else { idx };
    usize::try_from(idx).ok().and_then(|i| lrs.get(i)).copied()
}

/// fastai's `slide` with its defaults ([`SLIDE_LR_DIFF`], [`SLIDE_THRESH`],
/// [`SLIDE_ADJUST`]); see [`slide_with`].
///
/// ```
/// use lrsched_train::find_lr::slide;
/// let lrs: Vec<f64> = (0..40).map(|i| 1e-4 * 10f64.powf(i as f64 / 10.0)).collect();
/// // Falls steadily for 30 points, then is flat: walking left, the gradients 15 points
/// // apart differ until the right one is inside the fall (at 29, the left one at 14).
/// let losses: Vec<f64> = (0..40).map(|i| if i < 30 { 3.0 - 0.1 * i as f64 } else { 0.0 }).collect();
/// assert_eq!(slide(&lrs, &losses), Some(lrs[15]));
/// assert_eq!(slide(&lrs[..15], &losses[..15]), None); // fastai needs 16 points
/// ```
pub fn slide(lrs: &[f64], losses: &[f64]) -> Option<f64> {
    slide_with(lrs, losses, SLIDE_LR_DIFF, SLIDE_THRESH, SLIDE_ADJUST)
}

/// fastai's `slide(lrs, losses, lr_diff, thresh, adjust_value)` (fastai 2.5+,
/// `fastai/callback/schedule.py`): the loss's gradient over the point index (numpy's
/// `np.gradient`: central differences inside, one-sided at the ends); a right index from
/// the last point and a left one `lr_diff` points before it move left together while
/// their gradients differ by more than `thresh`; the rate at the last left index where
/// they did (the first left index if they never did) times `adjust_value`.
///
/// `None` where fastai raises: fewer than `lr_diff + 1` points (its first left index is
/// out of range) or fewer than 2 (`np.gradient`). A NaN gradient stops the walk, as
/// Python's `abs(nan) > thresh` is false. fastai's `lr_find` calls it on float32
/// tensors; this is the same arithmetic in f64 (the reference in
/// `tests/fixtures/fastai_slide_golden.json`, from `scripts/fastai_slide_golden.py`, is
/// fastai's code run on float64).
///
/// ```
/// use lrsched_train::find_lr::slide_with;
/// let lrs = [1e-3, 1e-2, 1e-1, 1.0];
/// // Gradients [-1, -0.75, -0.25, 0]: from the right, neighbours differ by 0.25, 0.5, 0.25.
/// let losses = [3.0, 2.0, 1.5, 1.5];
/// assert_eq!(slide_with(&lrs, &losses, 1, 0.3, 1.0), Some(1e-1));
/// assert_eq!(slide_with(&lrs, &losses, 1, 0.1, 2.0), Some(2e-3));
/// ```
pub fn slide_with(
    lrs: &[f64],
    losses: &[f64],
    lr_diff: usize,
    thresh: f64,
    adjust_value: f64,
) -> Option<f64> {
    let n = lrs.len().min(losses.len());
    if n < 2 || n <= lr_diff {
        return None;
    }
    let f = &losses[..n];
    let grad: Vec<f64> = (0..n)
        .map(|i| match i {
            0 => f[1] - f[0],
            _ if i == n - 1 => f[n - 1] - f[n - 2],
            _ => (f[i + 1] - f[i - 1]) / 2.0,
        })
        .collect();
    // Python's r_idx = -1 and l_idx = r_idx - lr_diff as positions from the start.
    let (mut r, mut l) = (n - 1, n - 1 - lr_diff);
    let mut local_min_lr = lrs[l];
    // `while l_idx >= -len(losses) and abs(g[r] - g[l]) > thresh`: NaN ends it.
    while (grad[r] - grad[l]).abs() > thresh {
        local_min_lr = lrs[l];
        if l == 0 {
            break;
        }
        r -= 1;
        l -= 1;
    }
    Some(local_min_lr * adjust_value)
}

#[doc(hidden)]
/// A small config for the module's example.
pub fn doc_config(split: &Split) -> TrainConfig {
    use crate::model::{Activation, Init, ModelSpec};
    use crate::optim::{OptimizerConfig, OptimizerKind};
    TrainConfig {
        data: "xor".into(),
        model: ModelSpec::parse(
            "8",
            split.train.dim(),
            split.train.task(),
            Activation::Relu,
            Init::Torch,
        )
        .expect("a valid spec"),
        engine: crate::trainer::Engine::Fast,
        optimizer: OptimizerConfig::new(OptimizerKind::Momentum),
        no_decay_on_bias_and_norm: false,
        schedule: lrsched::AnySchedule::from(lrsched::Constant::new(0.1)),
        interval: lrsched::driver::Interval::Step,
        momentum_schedule: None,
        batch_size: 16,
        epochs: 1,
        seed: 0,
        threads: 1,
        plateau_monitor: crate::trainer::Monitor::ValLoss,
        early_stop: None,
        checkpoint: None,
        metrics_out: None,
        divergence: Default::default(),
        overwrite: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Source;
    use crate::model::BatchTargets;

    fn log_grid(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| RangeMode::Exponential.rate(1e-4, 1.0, i, n))
            .collect()
    }

    #[test]
    fn rates_rise_as_fastai_schedules_them() {
        let r = RangeMode::Exponential;
        assert_eq!(r.rate(1e-7, 10.0, 0, 100), 1e-7);
        assert!((r.rate(1e-7, 10.0, 50, 100) / 10f64.powf(-3.0) - 1.0).abs() < 1e-12);
        assert!((RangeMode::Linear.rate(1.0, 3.0, 1, 2) - 2.0).abs() < 1e-15);
    }

    #[test]
    fn minimum_and_steep_on_a_known_curve() {
        let lrs = log_grid(10);
        // Falls slowly, drops hardest between points 4 and 5, lowest at 7, then rises.
        let losses = [2.0, 1.98, 1.95, 1.9, 1.8, 1.2, 1.0, 0.9, 1.5, 3.0];
        assert_eq!(minimum(&lrs, &losses), Some(lrs[7]));
        assert_eq!(steep(&lrs, &losses), Some(lrs[4]));
        // A tie takes the first, as argmin does.
        assert_eq!(minimum(&lrs, &[1.0, 0.5, 0.5]), Some(lrs[1]));
        assert_eq!(steep(&lrs[..1], &[1.0]), None);
    }

    #[test]
    fn valley_matches_fastais_loop() {
        let lrs = log_grid(10);
        // Values worked out by hand with fastai's loop: lds = [1,2,3,4,5,6,7,8,6,1];
        // max_end 7, max_start 7-8 = -1, sections 8/3 -> idx -1 + 2 + 1 = 2.
        let losses = [2.0, 1.98, 1.95, 1.9, 1.8, 1.2, 1.0, 0.9, 1.5, 3.0];
        assert_eq!(valley(&lrs, &losses), Some(lrs[2]));
        // A flat start then a long fall: lds = [1,1,1,2,3,4,5,6,7,1]; max_end 8,
        // max_start 8-7 = 1, sections 7/3 -> idx 1 + 2 + 1 = 4.
        let losses = [1.0, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 2.0];
        assert_eq!(valley(&lrs, &losses), Some(lrs[4]));
        // Two points falling: max_start -1, idx -1 wraps to the last point, as in Python.
        assert_eq!(valley(&lrs[..2], &[1.0, 0.5]), Some(lrs[1]));
        // Never falling: everything stays at index 0.
        assert_eq!(valley(&lrs[..3], &[1.0, 1.0, 1.0]), Some(lrs[0]));
        assert_eq!(valley(&[], &[]), None);
    }

    #[test]
    fn suggest_uses_fastais_window_and_cuts_at_nan() {
        let n = 40;
        let lrs = log_grid(n);
        // Smooth bowl in log rate, lowest at index 25.
        let mut losses: Vec<f64> = (0..n)
            .map(|i| 1.0 + ((i as f64 - 25.0) / 10.0).powi(2))
            .collect();
        let s = suggest(&lrs, &losses, n);
        assert_eq!(s.minimum_div_10, Some(lrs[25] / 10.0));
        // The steepest fall is at the window's left end (index n/10 = 4).
        assert_eq!(s.steepest, Some(lrs[4]));
        assert!(s.valley.is_some());
        // A NaN cuts the window before it: the minimum is then the last point before.
        losses[20] = f64::NAN;
        let s = suggest(&lrs, &losses, n);
        assert_eq!(s.minimum_div_10, Some(lrs[19] / 10.0));
        // Too short for the window: no suggestions.
        assert_eq!(
            suggest(&lrs[..5], &losses[..5], 100),
            Suggestions::default()
        );
    }

    fn numbers(v: &serde_json::Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().parse().unwrap())
            .collect()
    }

    fn number(v: &serde_json::Value) -> Option<f64> {
        v.as_str().map(|x| x.parse().unwrap())
    }

    /// fastai's own four functions and lr_find's window, run by
    /// scripts/fastai_slide_golden.py on recorded curves: every rule's rate, bit for bit.
    #[test]
    fn rules_match_fastais_on_recorded_curves() {
        let golden: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/fastai_slide_golden.json"))
                .unwrap();
        let cases = golden["cases"].as_array().unwrap();
        assert!(cases.len() >= 7);
        let mut slides = 0;
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let (lrs, smoothed) = (numbers(&case["lrs"]), numbers(&case["smoothed"]));
            let num_it = case["num_it"].as_u64().unwrap() as usize;
            let got = suggest(&lrs, &smoothed, num_it);
            let want = &case["rules"];
            assert_eq!(got.valley, number(&want["valley"]), "{name}: valley");
            assert_eq!(got.steepest, number(&want["steep"]), "{name}: steep");
            assert_eq!(
                got.minimum_div_10,
                number(&want["minimum"]),
                "{name}: minimum"
            );
            assert_eq!(got.slide, number(&want["slide"]), "{name}: slide");
            slides += got.slide.is_some() as usize;
        }
        // Most cases give a slide rate, and one (a 10-point window) gives none, as
        // fastai raises there.
        assert!(slides >= 5 && slides < cases.len());
        let args = &golden["slide_args"];
        let (lrs, losses) = (numbers(&args["lrs"]), numbers(&args["losses"]));
        for run in args["runs"].as_array().unwrap() {
            let lr_diff = run["lr_diff"].as_u64().unwrap() as usize;
            let thresh = run["thresh"].as_f64().unwrap();
            let adjust = run["adjust_value"].as_f64().unwrap();
            assert_eq!(
                slide_with(&lrs, &losses, lr_diff, thresh, adjust),
                number(&run["slide"]),
                "{run}"
            );
        }
        // One past the window's length is where fastai's first index is out of range.
        assert_eq!(slide_with(&lrs, &losses, lrs.len(), 0.0, 1.0), None);
    }

    #[test]
    fn slide_stops_at_a_nan_gradient_and_needs_two_points() {
        let lrs = log_grid(20);
        let mut losses: Vec<f64> = (0..20).map(|i| 2.0 - 0.1 * i as f64).collect();
        losses[19] = 5.0;
        // The last two gradients jump (2.35, 4.8 against -0.1 elsewhere): the walk takes
        // the left index from 16 to 15, then the gradients match.
        assert_eq!(slide_with(&lrs, &losses, 3, 0.01, 1.0), Some(lrs[15]));
        losses[18] = f64::NAN;
        // The last gradient is NaN: `abs(nan) > thresh` is false, the walk never moves
        // and the first left index (16) stands.
        assert_eq!(slide_with(&lrs, &losses, 3, 0.01, 1.0), Some(lrs[16]));
        assert_eq!(slide_with(&lrs[..1], &losses[..1], 0, 0.01, 1.0), None);
    }

    fn digits_setup(kind: crate::optim::OptimizerKind) -> (Split, Mlp, Optimizer) {
        let split = Source::Digits.load().unwrap();
        let mut config = doc_config(&split);
        config.model = crate::model::ModelSpec::parse(
            "32",
            split.train.dim(),
            split.train.task(),
            crate::model::Activation::Relu,
            crate::model::Init::Torch,
        )
        .unwrap()
        .with_batch_norm(true);
        config.optimizer = crate::optim::OptimizerConfig::new(kind);
        config.batch_size = 64;
        let (m, o) = initial_state(&config).unwrap();
        (split, m, o)
    }

    #[test]
    fn stops_once_the_smoothed_loss_passes_four_times_the_best() {
        let (split, model, opt) = digits_setup(crate::optim::OptimizerKind::Momentum);
        let mut opts = RangeTestOptions::new(64, 0).with_steps(200);
        opts.start = 1e-4;
        opts.end = 1e4;
        let t = range_test(&model, &opt, &split, &opts).unwrap();
        assert!(t.steps_run < 200, "ran all {} steps", t.steps_run);
        match t.stop {
            Stop::Diverging => {
                let best = t.smoothed[..t.steps_run - 1]
                    .iter()
                    .cloned()
                    .fold(f64::INFINITY, f64::min);
                let last = *t.smoothed.last().unwrap();
                assert!(last > 4.0 * best, "{last} vs best {best}");
                // Every earlier point was within 4x of the best before it.
                let mut b = f64::INFINITY;
                for s in &t.smoothed[..t.steps_run - 1] {
                    b = b.min(*s);
                    assert!(*s <= 4.0 * b);
                }
            }
            Stop::NotFinite => {}
            Stop::Completed => panic!("did not stop"),
        }
        // Without the stop rule it runs to the end or until the loss is not finite.
        opts.stop_factor = None;
        let t2 = range_test(&model, &opt, &split, &opts).unwrap();
        assert!(t2.steps_run >= t.steps_run);
    }

    #[test]
    fn smoothing_is_bias_corrected() {
        let (split, model, opt) = digits_setup(crate::optim::OptimizerKind::Sgd);
        let t = range_test(
            &model,
            &opt,
            &split,
            &RangeTestOptions::new(64, 3).with_steps(10),
        )
        .unwrap();
        // The first smoothed value is the first loss itself.
        assert!((t.smoothed[0] - t.losses[0]).abs() < 1e-12);
        let b = SMOOTH_BETA;
        let mut avg = 0.0;
        for (i, l) in t.losses.iter().enumerate() {
            avg = b * avg + (1.0 - b) * l;
            assert!((t.smoothed[i] - avg / (1.0 - b.powi(i as i32 + 1))).abs() < 1e-12);
        }
    }

    #[test]
    fn model_and_optimizer_are_untouched() {
        for kind in [
            crate::optim::OptimizerKind::Momentum,
            crate::optim::OptimizerKind::Adam,
            crate::optim::OptimizerKind::ScheduleFreeAdamW,
        ] {
            let (split, mut model, mut opt) = digits_setup(kind);
            // Give the optimizer real state first, so "untouched" is not about zeros.
            for _ in 0..3 {
                let x: Vec<f32> = split.train.features()[..64 * split.train.dim()].to_vec();
                let y: Vec<u32> = split.train.labels().unwrap()[..64].to_vec();
                model.train_step(&x, BatchTargets::Classes(&y), 64);
                let (p, g) = model.params_and_grads();
                opt.step(p, g, 0.01, None).unwrap();
            }
            let (params, buffers, grads, rng) = (
                model.params().to_vec(),
                model.buffers().to_vec(),
                model.grads().to_vec(),
                model.rng_state(),
            );
            let state = opt.state();
            let steps = opt.steps();
            let t = range_test(
                &model,
                &opt,
                &split,
                &RangeTestOptions::new(64, 1).with_steps(20),
            )
            .unwrap();
            assert!(t.steps_run > 0);
            assert_eq!(model.params(), &params[..]);
            assert_eq!(model.buffers(), &buffers[..]);
            assert_eq!(model.grads(), &grads[..]);
            assert_eq!(model.rng_state(), rng);
            assert_eq!(opt.state(), state);
            assert_eq!(opt.steps(), steps);
        }
    }

    #[test]
    fn bad_options_are_errors() {
        let (split, model, opt) = digits_setup(crate::optim::OptimizerKind::Sgd);
        let base = RangeTestOptions::new(64, 0);
        for (f, needle) in [
            (
                Box::new(|o: &mut RangeTestOptions| o.start = 0.0) as Box<dyn Fn(&mut _)>,
                "start = 0",
            ),
            (
                Box::new(|o: &mut RangeTestOptions| o.end = o.start),
                "end = ",
            ),
            (
                Box::new(|o: &mut RangeTestOptions| o.steps = 0),
                "steps = 0",
            ),
            (
                Box::new(|o: &mut RangeTestOptions| o.steps = MAX_STEPS + 1),
                "at most 100000",
            ),
            (
                Box::new(|o: &mut RangeTestOptions| o.batch_size = 0),
                "batch_size = 0",
            ),
            (
                Box::new(|o: &mut RangeTestOptions| o.start = f64::NAN),
                "start = NaN",
            ),
        ] {
            let mut o = base.clone();
            f(&mut o);
            let e = range_test(&model, &opt, &split, &o)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
            // Fields, never command-line flags: the front end names its own spelling.
            assert!(!e.contains("--"), "{e}");
        }
    }
}
