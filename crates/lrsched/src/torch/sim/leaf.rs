//! One scheduler object (a single class, not a composite) bound to the shared param
//! groups: its constructor, its step, and the jumps that skip many steps at once. The
//! composites and the simulator that own leaves are in [`super`].

use super::{epoch_headroom, lrs, Group, LeafState};
use crate::torch::{bisect_right, TorchClass};
use std::f64::consts::PI;

/// One scheduler object (not a composite) bound to the shared groups.
#[derive(Debug, Clone)]
pub(super) struct Leaf {
    pub(super) class: TorchClass,
    pub(super) st: LeafState,
}

impl Leaf {
    /// The constructor: class-specific param-group setup, `LRScheduler.__init__`, and its
    /// initial step.
    pub(super) fn construct(class: TorchClass, groups: &mut [Group]) -> Leaf {
        let mut st = LeafState {
            last_epoch: -1,
            step_count: 0,
            is_initial: false,
            base_lrs: Vec::new(),
            last_lr: Vec::new(),
            t_cur: -1.0,
            t_i: 0.0,
        };
        match &class {
            TorchClass::CyclicLR(c) => c.setup(groups),
            TorchClass::OneCycleLR(c) => c.setup(groups),
            TorchClass::CosineAnnealingWarmRestarts(c) => {
                st.t_i = c.t_0 as f64;
                st.t_cur = -1.0;
            }
            _ => {}
        }
        for g in groups.iter_mut() {
            if g.initial_lr.is_none() {
                g.initial_lr = Some(g.lr);
            }
        }
        st.base_lrs = groups
            .iter()
            .map(|g| g.initial_lr.unwrap_or(g.lr))
            .collect();
        let mut class = class;
        if let TorchClass::MultiStepLR(c) = &mut class {
            // PyTorch keeps a Counter of the milestones, in any order; sorted once here,
            // every step finds its milestones by binary search instead of a scan of all
            // of them (a replay was quadratic in the milestones).
            c.milestones.sort_unstable();
        }
        let mut leaf = Leaf { class, st };
        leaf.initial_step(groups);
        if let TorchClass::CyclicLR(c) = &leaf.class {
            leaf.st.base_lrs = (0..groups.len()).map(|i| c.base_lr.get(i)).collect();
        }
        leaf
    }

    /// How many of the next `max` steps can be skipped: steps after which PyTorch's
    /// state differs only in `last_epoch`, or whose lr the step after them overwrites
    /// (classes whose lr is a pure function of the epoch).
    pub(super) fn skippable(&self, max: u64, groups: &[Group]) -> u64 {
        let e = self.st.last_epoch;
        let past = |horizon: u64| e >= 0 && e as u64 >= horizon;
        match &self.class {
            TorchClass::LambdaLR(_) | TorchClass::CyclicLR(_) => max,
            TorchClass::OneCycleLR(c) => {
                let total = c.steps() as i64;
                if e >= total {
                    max
                } else {
                    max.min((total - e - 1).max(0) as u64)
                }
            }
            TorchClass::ConstantLR(c) if past(c.total_iters) => max,
            TorchClass::LinearLR(c) if past(c.total_iters) => max,
            TorchClass::PolynomialLR(c) if past(c.total_iters) => max,
            TorchClass::MultiStepLR(c) if e >= 0 => {
                // The first milestone after `e` (sorted at construction).
                match c.milestones.get(bisect_right(&c.milestones, e)) {
                    Some(&m) => max.min(m - e as u64 - 1),
                    None => max,
                }
            }
            TorchClass::StepLR(c) if e >= 0 => {
                let size = c.step_size.max(1);
                let next = (e as u64 / size).saturating_add(1).saturating_mul(size);
                max.min(next - e as u64 - 1)
            }
            TorchClass::ExponentialLR(c)
                if c.gamma == 1.0 || groups.iter().all(|g| g.lr == 0.0) =>
            {
                max
            }
            _ => 0,
        }
    }

    /// Moves this scheduler `k` epochs on without replaying them: its counters as after
    /// `k` steps, and each group's lr by the closed form of those `k` steps (see the
    /// module docs for the forms and how far they are from a replay). A class whose lr
    /// is a pure function of the epoch leaves the lr alone: the step after a jump
    /// overwrites it.
    pub(super) fn jump(&mut self, k: u64, groups: &mut [Group]) {
        let e0 = self.st.last_epoch;
        let k = k.min(epoch_headroom(e0));
        if k == 0 {
            return;
        }
        let mut e1 = e0 + k as i64;
        let kf = k as f64;
        let (a, b) = (e0 as i128, e1 as i128);
        // How many epochs t in (e0, e1] have t == x (mod m).
        let hits = |x: i128, m: i128| -> i128 {
            let m = m.max(1);
            (b - x).div_euclid(m) - (a - x).div_euclid(m)
        };
        let scale = |groups: &mut [Group], f: &dyn Fn(usize) -> f64| {
            for (i, g) in groups.iter_mut().enumerate() {
                // A zero lr stays zero in the replay, whatever the factors.
                if g.lr != 0.0 {
                    g.lr *= f(i);
                }
            }
        };
        match &self.class {
            TorchClass::ExponentialLR(c) => scale(groups, &|_| c.gamma.powf(kf)),
            TorchClass::MultiplicativeLR(c) => scale(groups, &|i| {
                // An epoch-dependent factor has no bounded product: the lr holds.
                c.lr_lambda.at(i).constant().map_or(1.0, |f| f.powf(kf))
            }),
            TorchClass::StepLR(c) => {
                let n = hits(0, c.step_size as i128);
                scale(groups, &|_| c.gamma.powf(n as f64));
            }
            TorchClass::MultiStepLR(c) => {
                // Milestones in (e0, e1], sorted at construction.
                let n = bisect_right(&c.milestones, e1) - bisect_right(&c.milestones, e0);
                scale(groups, &|_| c.gamma.powf(n as f64));
            }
            TorchClass::ConstantLR(c) => {
                let t = c.total_iters as i128;
                if t > a && t <= b {
                    scale(groups, &|_| 1.0 / c.factor);
                }
            }
            TorchClass::LinearLR(c) => {
                let t = c.total_iters as i128;
                if a < t {
                    let (s, e, n) = (c.start_factor, c.end_factor, c.total_iters as f64);
                    let at = |x: i128| s + (e - s) * (x.min(t) as f64) / n;
                    let f = at(b) / at(a);
                    scale(groups, &|_| f);
                }
            }
            TorchClass::PolynomialLR(c) => {
                let t = c.total_iters as i128;
                if a < t {
                    let n = c.total_iters as f64;
                    let at = |x: i128| (1.0 - (x.min(t) as f64) / n).powf(c.power);
                    let f = at(b) / at(a);
                    scale(groups, &|_| f);
                }
            }
            TorchClass::CosineAnnealingLR(c) => {
                let tm = c.t_max as f64;
                let eta = c.eta_min;
                // Its own epoch moves on by whole periods less: the same cosines, from
                // arguments small enough to keep their precision (and PyTorch's
                // ill-conditioned quotient near each minimum within its range).
                let period = 2 * (c.t_max.max(1) as i128);
                e1 -= ((b - a) / period * period) as i64;
                let to = 1.0 + (PI * e1 as f64 / tm).cos();
                // The step after each minimum adds (base - eta) (1 - cos(pi / T)) / 2 to
                // an lr that is eta up to rounding: from there on the recursion is the
                // closed form. Between those steps its factors telescope.
                let restarts = hits(c.t_max as i128 + 1, 2 * (c.t_max as i128));
                let from = 1.0 + (PI * e0 as f64 / tm).cos();
                for (g, base) in groups.iter_mut().zip(&self.st.base_lrs) {
                    // A quotient by 0 (T_max too large for 1 - cos(pi / T_max) to be
                    // more than 0) starts from eta_min: the closed form.
                    g.lr = if restarts > 0 || from == 0.0 {
                        eta + (base - eta) * to / 2.0
                    } else {
                        eta + (g.lr - eta) * to / from
                    };
                }
            }
            TorchClass::CosineAnnealingWarmRestarts(c) => {
                let mut t_cur = self.st.t_cur + kf;
                let mut t_i = self.st.t_i;
                if c.t_mult <= 1 {
                    t_cur %= t_i;
                } else {
                    // Each period is at least twice the last: 130 of them pass 2^64.
                    for _ in 0..130 {
                        if t_cur < t_i || t_cur.is_nan() || t_i.is_nan() {
                            break;
                        }
                        t_cur -= t_i;
                        t_i *= c.t_mult as f64;
                    }
                }
                self.st.t_cur = t_cur;
                self.st.t_i = t_i;
            }
            _ => {}
        }
        self.st.last_epoch = e1;
        self.st.step_count = self.st.step_count.saturating_add(k);
        self.st.last_lr = lrs(groups);
    }

    pub(super) fn initial_step(&mut self, groups: &mut [Group]) {
        self.st.step_count = 0;
        self.st.is_initial = true;
        self.step(groups);
        self.st.is_initial = false;
    }

    pub(super) fn step(&mut self, groups: &mut [Group]) {
        if let TorchClass::CosineAnnealingWarmRestarts(_) = self.class {
            self.cawr_step(groups, None);
            return;
        }
        self.st.step_count += 1;
        self.update_lr(groups, None);
    }

    /// `LRScheduler._update_lr`: `epoch` given uses the closed form where the class has one.
    pub(super) fn update_lr(&mut self, groups: &mut [Group], epoch: Option<i64>) {
        let values = match epoch {
            None => {
                self.st.last_epoch += 1;
                self.get_lr(groups)
            }
            Some(e) => {
                self.st.last_epoch = e;
                match self.closed_form() {
                    Some(v) => v,
                    None => self.get_lr(groups),
                }
            }
        };
        for (g, v) in groups.iter_mut().zip(values) {
            g.lr = v;
        }
        // In place: this runs once per step of every replay.
        self.st.last_lr.clear();
        self.st.last_lr.extend(groups.iter().map(|g| g.lr));
    }

    pub(super) fn get_lr(&self, groups: &mut [Group]) -> Vec<f64> {
        let st = &self.st;
        match &self.class {
            TorchClass::LambdaLR(c) => c.get_lr(st),
            TorchClass::MultiplicativeLR(c) => c.get_lr(st, groups),
            TorchClass::StepLR(c) => c.get_lr(st, groups),
            TorchClass::MultiStepLR(c) => c.get_lr(st, groups),
            TorchClass::ConstantLR(c) => c.get_lr(st, groups),
            TorchClass::LinearLR(c) => c.get_lr(st, groups),
            TorchClass::ExponentialLR(c) => c.get_lr(st, groups),
            TorchClass::PolynomialLR(c) => c.get_lr(st, groups),
            TorchClass::CosineAnnealingLR(c) => c.get_lr(st, groups),
            TorchClass::CosineAnnealingWarmRestarts(c) => c.get_lr(st),
            TorchClass::CyclicLR(c) => c.get_lr(st, groups),
            TorchClass::OneCycleLR(c) => c.get_lr(st, groups),
            // Composites are never leaves (validate refuses nesting them); keep the lr.
            _ => lrs(groups),
        }
    }

    pub(super) fn closed_form(&self) -> Option<Vec<f64>> {
        let st = &self.st;
        Some(match &self.class {
            TorchClass::StepLR(c) => c.closed_form(st),
            TorchClass::MultiStepLR(c) => c.closed_form(st),
            TorchClass::ConstantLR(c) => c.closed_form(st),
            TorchClass::LinearLR(c) => c.closed_form(st),
            TorchClass::ExponentialLR(c) => c.closed_form(st),
            TorchClass::PolynomialLR(c) => c.closed_form(st),
            TorchClass::CosineAnnealingLR(c) => c.closed_form(st),
            _ => return None,
        })
    }

    /// `CosineAnnealingWarmRestarts.step(epoch)`, which replaces `LRScheduler.step`.
    pub(super) fn cawr_step(&mut self, groups: &mut [Group], epoch: Option<f64>) {
        let TorchClass::CosineAnnealingWarmRestarts(c) = &self.class else {
            return;
        };
        let epoch = match epoch {
            None if self.st.last_epoch < 0 => Some(0.0),
            e => e,
        };
        let epoch = match epoch {
            None => {
                let epoch = (self.st.last_epoch + 1) as f64;
                self.st.t_cur += 1.0;
                if self.st.t_cur >= self.st.t_i {
                    self.st.t_cur %= self.st.t_i;
                    self.st.t_i *= c.t_mult as f64;
                }
                epoch
            }
            Some(epoch) => {
                let (t_cur, t_i) = c.at_epoch(epoch);
                self.st.t_cur = t_cur;
                self.st.t_i = t_i;
                epoch
            }
        };
        self.st.last_epoch = epoch.floor() as i64;
        let values = c.get_lr(&self.st);
        for (g, v) in groups.iter_mut().zip(values) {
            g.lr = v;
        }
        self.st.last_lr = lrs(groups);
    }
}
