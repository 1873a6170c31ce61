//! What an optimizer is: its kind and hyperparameters, and the parameter groups.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::OptimError;

/// The update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Plain SGD: `p -= lr * g` (`torch.optim.SGD`, momentum 0).
    Sgd,
    /// SGD with heavy-ball momentum (`torch.optim.SGD`, momentum > 0).
    Momentum,
    /// SGD with Nesterov momentum (`torch.optim.SGD`, `nesterov=True`).
    Nesterov,
    /// RMSProp (`torch.optim.RMSprop`), optionally centered and with momentum.
    #[serde(rename = "rmsprop")]
    RmsProp,
    /// Adam (`torch.optim.Adam`); L2 weight decay unless `decoupled_weight_decay`.
    Adam,
    /// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay, always.
    #[serde(rename = "adamw")]
    AdamW,
    /// Schedule-free SGD (Defazio et al. 2024; `schedulefree.SGDScheduleFree`).
    ScheduleFreeSgd,
    /// Schedule-free AdamW (Defazio et al. 2024; `schedulefree.AdamWScheduleFree`).
    #[serde(rename = "schedule_free_adamw")]
    ScheduleFreeAdamW,
    /// Prodigy (Mishchenko & Defazio 2024; `prodigyopt.Prodigy`): Adam whose step size is
    /// a running estimate of the distance to the solution; the learning rate multiplies it.
    Prodigy,
    /// D-Adaptation Adam (Defazio & Mishchenko 2023; `dadaptation.DAdaptAdam`).
    #[serde(rename = "dadapt_adam")]
    DAdaptAdam,
    /// D-Adaptation SGD (Defazio & Mishchenko 2023; `dadaptation.DAdaptSGD`).
    #[serde(rename = "dadapt_sgd")]
    DAdaptSgd,
    /// DoG, distance over gradients (Ivgi et al. 2023; `dog.DoG` of `dog-optimizer`).
    Dog,
}

impl OptimizerKind {
    /// Whether the kind keeps separate evaluation weights (see
    /// [`Optimizer::eval_params`](super::Optimizer::eval_params)).
    pub fn is_schedule_free(self) -> bool {
        matches!(
            self,
            OptimizerKind::ScheduleFreeSgd | OptimizerKind::ScheduleFreeAdamW
        )
    }

    /// Whether the `momentum` argument of a step sets beta1 (Adam family, Prodigy,
    /// D-Adaptation Adam) rather than a momentum factor.
    pub fn uses_betas(self) -> bool {
        matches!(
            self,
            OptimizerKind::Adam
                | OptimizerKind::AdamW
                | OptimizerKind::ScheduleFreeAdamW
                | OptimizerKind::Prodigy
                | OptimizerKind::DAdaptAdam
        )
    }

    /// Whether the kind sets its own step size (Prodigy, D-Adaptation, DoG): the learning
    /// rate only scales it, 1 by the references' default.
    pub fn is_lr_free(self) -> bool {
        matches!(
            self,
            OptimizerKind::Prodigy
                | OptimizerKind::DAdaptAdam
                | OptimizerKind::DAdaptSgd
                | OptimizerKind::Dog
        )
    }

    /// The learning rate the kind's reference implementation defaults to, for a run that
    /// names none: 1.0 for the LR-free kinds (they exist so that nobody tunes a rate: the
    /// rate multiplies their own estimate), `None` for the others, whose rate must be
    /// chosen.
    ///
    /// ```
    /// use lrsched_train::optim::OptimizerKind;
    /// assert_eq!(OptimizerKind::Prodigy.default_lr(), Some(1.0));
    /// assert_eq!(OptimizerKind::AdamW.default_lr(), None);
    /// ```
    pub fn default_lr(self) -> Option<f64> {
        self.is_lr_free().then_some(1.0)
    }

    /// The name used in configs.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::RmsProp => "rmsprop",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
            OptimizerKind::ScheduleFreeSgd => "schedule_free_sgd",
            OptimizerKind::ScheduleFreeAdamW => "schedule_free_adamw",
            OptimizerKind::Prodigy => "prodigy",
            OptimizerKind::DAdaptAdam => "dadapt_adam",
            OptimizerKind::DAdaptSgd => "dadapt_sgd",
            OptimizerKind::Dog => "dog",
        }
    }
}

/// Gradient clipping, applied to the gradients of all groups together before the update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Clip {
    /// No clipping.
    #[default]
    None,
    /// Scale all gradients by `min(1, max_norm / (total_norm + 1e-6))`, as
    /// `torch.nn.utils.clip_grad_norm_` does with the 2-norm.
    Norm(f64),
    /// Clamp each gradient value to `[-v, v]`, as `torch.nn.utils.clip_grad_value_` does.
    Value(f64),
}

/// An optimizer's kind and hyperparameters. The learning rate is not here: it comes from
/// the schedule at every step, and so can momentum / beta1.
///
/// In configs (JSON, TOML) only `kind` is required; every other key defaults as in PyTorch:
///
/// ```
/// use lrsched_train::optim::{OptimizerConfig, OptimizerKind};
/// let c: OptimizerConfig =
///     serde_json::from_str(r#"{"kind": "adamw", "weight_decay": 0.05}"#).unwrap();
/// assert_eq!(c, OptimizerConfig { weight_decay: 0.05, ..OptimizerConfig::new(OptimizerKind::AdamW) });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// The update rule.
    pub kind: OptimizerKind,
    /// Momentum factor (SGD momentum / Nesterov, RMSProp, schedule-free SGD's interpolation
    /// beta). `None`: the kind's default, 0.9 except RMSProp's 0 (PyTorch's and
    /// `schedulefree`'s defaults). Ignored by plain SGD and the Adam family (see `betas`).
    #[serde(default)]
    pub momentum: Option<f64>,
    /// Dampening of SGD momentum (PyTorch's `dampening`); must be 0 for Nesterov.
    #[serde(default)]
    pub dampening: f64,
    /// Adam's `(beta1, beta2)`; beta1 is schedule-free AdamW's interpolation beta.
    #[serde(default = "default_betas")]
    pub betas: (f64, f64),
    /// Added to the denominator (Adam family, RMSProp).
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// RMSProp's smoothing constant.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// RMSProp: normalise by the estimated variance instead of the second moment.
    #[serde(default)]
    pub centered: bool,
    /// Weight decay; a group's own value, if any, replaces it.
    #[serde(default)]
    pub weight_decay: f64,
    /// Decoupled weight decay, `p *= 1 - lr * weight_decay` before the update (AdamW's rule,
    /// here for every non-schedule-free kind) instead of L2, `g += weight_decay * p`.
    /// AdamW is always decoupled; schedule-free kinds have their own rule (decay applied
    /// at the gradient point `y`) and reject `true`.
    #[serde(default)]
    pub decoupled_weight_decay: bool,
    /// L1 penalty: `g += l1 * sign(p)`, what autograd adds for a loss term
    /// `l1 * sum(|p|)`. Added before clipping, as a loss term would be.
    #[serde(default)]
    pub l1: f64,
    /// Gradient clipping.
    #[serde(default)]
    pub clip: Clip,
    /// Schedule-free: linear warmup of the learning rate over this many steps.
    #[serde(default)]
    pub warmup_steps: u64,
    /// Schedule-free: polynomial weighting power of the average.
    #[serde(default)]
    pub r: f64,
    /// Schedule-free: the weights of the average are `lr_max ^ weight_lr_power`.
    #[serde(default = "default_weight_lr_power")]
    pub weight_lr_power: f64,
    /// Prodigy, D-Adaptation: the initial estimate of D (the references' `d0`, 1e-6).
    #[serde(default = "default_d0", skip_serializing_if = "is_default_d0")]
    pub d0: f64,
    /// Prodigy: multiplies the estimate of D (`d_coef`, 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub d_coef: f64,
    /// Prodigy, D-Adaptation: D grows by at most this factor per step (`growth_rate`);
    /// `None` (the references' `inf`) leaves it unbounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth_rate: Option<f64>,
    /// Prodigy: the decay of its D estimate's running sums (`beta3`); `None`: the square
    /// root of beta2, the reference's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta3: Option<f64>,
    /// Prodigy, D-Adaptation Adam: Adam's bias correction in the step size
    /// (`use_bias_correction`, off by the references' default).
    #[serde(default, skip_serializing_if = "is_false")]
    pub bias_correction: bool,
    /// Prodigy: leave the learning rate out of the D estimate's denominator
    /// (`safeguard_warmup`), for schedules with a warmup.
    #[serde(default, skip_serializing_if = "is_false")]
    pub safeguard_warmup: bool,
    /// Prodigy: add weight decay to the gradient (L2) instead of its default decoupled
    /// decay (the reference's `decouple=False`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub coupled_weight_decay: bool,
    /// DoG: the initial distance relative to `1 + |x0|` (`reps_rel`, 1e-6).
    #[serde(default = "default_d0", skip_serializing_if = "is_default_d0")]
    pub reps_rel: f64,
    /// DoG: the first step size, replacing the one `reps_rel` gives (`init_eta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_eta: Option<f64>,
}

fn default_betas() -> (f64, f64) {
    (0.9, 0.999)
}
fn default_eps() -> f64 {
    1e-8
}
fn default_alpha() -> f64 {
    0.99
}
fn default_weight_lr_power() -> f64 {
    2.0
}
fn default_d0() -> f64 {
    1e-6
}
// The keys the LR-free kinds brought are written only when set, so that the configs of
// the other kinds serialise as they always have.
fn is_default_d0(v: &f64) -> bool {
    *v == default_d0()
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
fn is_false(v: &bool) -> bool {
    !*v
}

impl OptimizerConfig {
    /// A config of `kind` with PyTorch's (and `schedulefree`'s, `prodigyopt`'s,
    /// `dadaptation`'s and `dog-optimizer`'s) defaults.
    pub fn new(kind: OptimizerKind) -> Self {
        OptimizerConfig {
            kind,
            momentum: None,
            dampening: 0.0,
            betas: default_betas(),
            eps: default_eps(),
            alpha: default_alpha(),
            centered: false,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            l1: 0.0,
            clip: Clip::None,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: default_weight_lr_power(),
            d0: default_d0(),
            d_coef: 1.0,
            growth_rate: None,
            beta3: None,
            bias_correction: false,
            safeguard_warmup: false,
            coupled_weight_decay: false,
            reps_rel: default_d0(),
            init_eta: None,
        }
    }

    /// The momentum factor in force when a step passes none: `momentum`, or the kind's
    /// default (0.9; RMSProp and D-Adaptation SGD 0; plain SGD, DoG and the Adam family 0,
    /// unused).
    pub fn effective_momentum(&self) -> f64 {
        match self.kind {
            OptimizerKind::Momentum | OptimizerKind::Nesterov | OptimizerKind::ScheduleFreeSgd => {
                self.momentum.unwrap_or(0.9)
            }
            OptimizerKind::RmsProp | OptimizerKind::DAdaptSgd => self.momentum.unwrap_or(0.0),
            _ => 0.0,
        }
    }

    /// Whether weight decay is applied as `p *= 1 - lr * wd` rather than added to the
    /// gradient (Prodigy's decoupled decay is by its step size instead, unless
    /// `coupled_weight_decay`).
    pub fn is_decoupled(&self) -> bool {
        match self.kind {
            OptimizerKind::AdamW => true,
            OptimizerKind::Prodigy => !self.coupled_weight_decay,
            _ => self.decoupled_weight_decay,
        }
    }

    /// Checks every hyperparameter; the error names the first bad one.
    pub fn validate(&self) -> Result<(), OptimError> {
        let kind = self.kind;
        let finite_nonneg = |key: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(OptimError::invalid(key, v, "a finite number >= 0"))
            }
        };
        if let Some(m) = self.momentum {
            check_momentum(kind, "momentum", m)?;
        }
        if !(self.dampening.is_finite() && (0.0..=1.0).contains(&self.dampening)) {
            return Err(OptimError::invalid(
                "dampening",
                self.dampening,
                "0 <= dampening <= 1",
            ));
        }
        if kind == OptimizerKind::Nesterov && self.dampening != 0.0 {
            return Err(OptimError::invalid(
                "dampening",
                self.dampening,
                "0 for nesterov (PyTorch's rule: Nesterov momentum requires zero dampening)",
            ));
        }
        check_beta("betas[0]", self.betas.0)?;
        check_beta("betas[1]", self.betas.1)?;
        if kind == OptimizerKind::ScheduleFreeAdamW && self.betas.0 == 0.0 {
            return Err(OptimError::invalid(
                "betas[0]",
                self.betas.0,
                "0 < beta1 < 1 for schedule-free (the evaluation weights divide by it)",
            ));
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(OptimError::invalid("eps", self.eps, "a finite number > 0"));
        }
        if !(self.alpha.is_finite() && (0.0..=1.0).contains(&self.alpha)) {
            return Err(OptimError::invalid("alpha", self.alpha, "0 <= alpha <= 1"));
        }
        finite_nonneg("weight_decay", self.weight_decay)?;
        finite_nonneg("l1", self.l1)?;
        match self.clip {
            Clip::None => {}
            Clip::Norm(v) if !(v.is_finite() && v > 0.0) => {
                return Err(OptimError::invalid("clip.norm", v, "a finite number > 0"))
            }
            Clip::Value(v) if !(v.is_finite() && v > 0.0) => {
                return Err(OptimError::invalid("clip.value", v, "a finite number > 0"))
            }
            _ => {}
        }
        finite_nonneg("r", self.r)?;
        finite_nonneg("weight_lr_power", self.weight_lr_power)?;
        if kind.is_schedule_free() && self.decoupled_weight_decay {
            return Err(OptimError::invalid(
                "decoupled_weight_decay",
                true,
                "false for schedule-free kinds (they apply weight decay at the gradient point y)",
            ));
        }
        if matches!(kind, OptimizerKind::DAdaptSgd | OptimizerKind::Dog)
            && self.decoupled_weight_decay
        {
            return Err(OptimError::invalid(
                "decoupled_weight_decay",
                true,
                "false for dadapt_sgd and dog (their references add weight decay to the gradient)",
            ));
        }
        if kind == OptimizerKind::Prodigy
            && self.decoupled_weight_decay
            && self.coupled_weight_decay
        {
            return Err(OptimError::invalid(
                "coupled_weight_decay",
                true,
                "false with decoupled_weight_decay (one of the two)",
            ));
        }
        if kind != OptimizerKind::Prodigy && self.coupled_weight_decay {
            return Err(OptimError::invalid(
                "coupled_weight_decay",
                true,
                "false except for prodigy (the others' weight decay is coupled unless \
                 decoupled_weight_decay)",
            ));
        }
        let finite_pos = |key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(OptimError::invalid(key, v, "a finite number > 0"))
            }
        };
        finite_pos("d0", self.d0)?;
        finite_pos("d_coef", self.d_coef)?;
        if let Some(g) = self.growth_rate {
            finite_pos("growth_rate", g)?;
        }
        if let Some(b) = self.beta3 {
            check_beta("beta3", b)?;
        }
        finite_pos("reps_rel", self.reps_rel)?;
        if let Some(e) = self.init_eta {
            finite_pos("init_eta", e)?;
        }
        Ok(())
    }
}

/// Checks a momentum factor for `kind`; `key` names where it came from.
pub(crate) fn check_momentum(kind: OptimizerKind, key: &str, m: f64) -> Result<(), OptimError> {
    if kind == OptimizerKind::DAdaptSgd {
        // The reference's range: the step interpolates with weight 1 - momentum.
        if !(0.0..1.0).contains(&m) {
            return Err(OptimError::invalid(
                key,
                m,
                "0 <= momentum < 1 for dadapt_sgd",
            ));
        }
    } else if kind == OptimizerKind::ScheduleFreeSgd {
        // schedulefree's rule: the evaluation weights divide by momentum.
        if !(m > 0.0 && m < 1.0) {
            return Err(OptimError::invalid(
                key,
                m,
                "0 < momentum < 1 for schedule-free SGD",
            ));
        }
    } else if !(m.is_finite() && m >= 0.0) {
        return Err(OptimError::invalid(key, m, "a finite number >= 0"));
    }
    Ok(())
}

/// Checks an Adam beta; `key` names where it came from.
pub(crate) fn check_beta(key: &str, b: f64) -> Result<(), OptimError> {
    if (0.0..1.0).contains(&b) {
        Ok(())
    } else {
        Err(OptimError::invalid(key, b, "0 <= beta < 1"))
    }
}

/// A parameter group: an index range into the flat parameter and gradient buffers, with
/// its own learning-rate factor and, optionally, its own weight decay (e.g. biases and
/// BatchNorm parameters with no decay and a different rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamGroup {
    /// The parameters of the group, as indices into the flat buffers.
    pub range: Range<usize>,
    /// Multiplies the scheduled learning rate (in f64, before anything else uses it).
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// Replaces the config's weight decay for this group.
    #[serde(default)]
    pub weight_decay: Option<f64>,
}

fn one() -> f64 {
    1.0
}

impl ParamGroup {
    /// A group over `range` with the scheduled rate and the config's weight decay.
    pub fn new(range: Range<usize>) -> Self {
        ParamGroup {
            range,
            lr_scale: 1.0,
            weight_decay: None,
        }
    }

    /// The same group with its learning rate multiplied by `lr_scale`.
    pub fn with_lr_scale(mut self, lr_scale: f64) -> Self {
        self.lr_scale = lr_scale;
        self
    }

    /// The same group with its own weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }
}
