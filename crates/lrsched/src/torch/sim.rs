//! The stateful model of PyTorch's schedulers and the optimizer param groups they share.

use super::{bisect_right, TorchClass, TorchSchedule, DEFAULT_LR};
use crate::ScheduleError;

/// One optimizer param group: the keys PyTorch's schedulers read and write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Group {
    pub lr: f64,
    /// Set by the first scheduler constructed (`setdefault`), or by `OneCycleLR`.
    pub initial_lr: Option<f64>,
    pub momentum: f64,
    pub max_momentum: f64,
    pub base_momentum: f64,
    pub max_lr: f64,
    pub min_lr: f64,
}

/// `LRScheduler`'s own attributes, plus `CosineAnnealingWarmRestarts`'s `T_cur`/`T_i`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeafState {
    pub last_epoch: i64,
    pub step_count: u64,
    pub is_initial: bool,
    pub base_lrs: Vec<f64>,
    pub last_lr: Vec<f64>,
    pub t_cur: f64,
    pub t_i: f64,
}

pub(crate) fn lrs(groups: &[Group]) -> Vec<f64> {
    groups.iter().map(|g| g.lr).collect()
}

/// One scheduler object (not a composite) bound to the shared groups.
#[derive(Debug, Clone)]
struct Leaf {
    class: TorchClass,
    st: LeafState,
}

impl Leaf {
    /// The constructor: class-specific param-group setup, `LRScheduler.__init__`, and its
    /// initial step.
    fn construct(class: TorchClass, groups: &mut [Group]) -> Leaf {
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
    fn skippable(&self, max: u64, groups: &[Group]) -> u64 {
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
                match c.milestones.iter().filter(|&&m| m as i64 > e).min() {
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

    fn initial_step(&mut self, groups: &mut [Group]) {
        self.st.step_count = 0;
        self.st.is_initial = true;
        self.step(groups);
        self.st.is_initial = false;
    }

    fn step(&mut self, groups: &mut [Group]) {
        if let TorchClass::CosineAnnealingWarmRestarts(_) = self.class {
            self.cawr_step(groups, None);
            return;
        }
        self.st.step_count += 1;
        self.update_lr(groups, None);
    }

    /// `LRScheduler._update_lr`: `epoch` given uses the closed form where the class has one.
    fn update_lr(&mut self, groups: &mut [Group], epoch: Option<i64>) {
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
        self.st.last_lr = lrs(groups);
    }

    fn get_lr(&self, groups: &mut [Group]) -> Vec<f64> {
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

    fn closed_form(&self) -> Option<Vec<f64>> {
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
    fn cawr_step(&mut self, groups: &mut [Group], epoch: Option<f64>) {
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

#[derive(Debug, Clone)]
struct PlateauState {
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: i64,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf(Box<Leaf>),
    Sequential {
        subs: Vec<Leaf>,
        milestones: Vec<u64>,
        last_epoch: i64,
    },
    Chained {
        subs: Vec<Leaf>,
    },
    Plateau {
        cfg: super::ReduceLROnPlateau,
        st: PlateauState,
    },
}

/// PyTorch's scheduler and the SGD optimizer's param groups, stepped as a training loop
/// steps them.
///
/// Construction performs what PyTorch's constructors do (including the initial step that
/// takes `last_epoch` from -1 to 0, and for `SequentialLR` the undo and re-run of its
/// sub-schedulers' initial steps), so [`TorchSimulator::last_lr`] right after
/// [`TorchSimulator::new`] is `get_last_lr()` right after construction.
///
/// ```
/// use lrsched::torch::{CosineAnnealingWarmRestarts, TorchClass, TorchSchedule, TorchSimulator};
/// let s = TorchSchedule::new(
///     vec![1.0],
///     TorchClass::CosineAnnealingWarmRestarts(CosineAnnealingWarmRestarts::new(4)),
/// );
/// let mut sim = TorchSimulator::new(&s);
/// assert_eq!(sim.last_lr(), &[1.0]);
/// sim.step_to_epoch(2.0).unwrap(); // half way through the first period
/// assert!((sim.last_lr()[0] - 0.5).abs() < 1e-15);
/// sim.step_to_epoch(4.0).unwrap(); // a restart
/// assert_eq!(sim.last_lr(), &[1.0]);
/// ```
#[derive(Debug, Clone)]
pub struct TorchSimulator {
    groups: Vec<Group>,
    node: Node,
    last_lr: Vec<f64>,
    momenta: Vec<f64>,
    track_momentum: bool,
}

impl TorchSimulator {
    /// Builds the optimizer and the scheduler, as `SGD(...)` then the class's constructor.
    pub fn new(s: &TorchSchedule) -> TorchSimulator {
        let n = s.groups();
        let mut groups: Vec<Group> = (0..n)
            .map(|i| Group {
                lr: s.lr.get(i).copied().unwrap_or(DEFAULT_LR),
                initial_lr: None,
                momentum: s.momentum.as_ref().map_or(0.0, |m| m.get(i)),
                max_momentum: 0.0,
                base_momentum: 0.0,
                max_lr: 0.0,
                min_lr: 0.0,
            })
            .collect();
        let node = match &s.class {
            TorchClass::SequentialLR(seq) => {
                let mut subs: Vec<Leaf> = seq
                    .schedulers
                    .iter()
                    .map(|c| Leaf::construct(c.class.clone(), &mut groups))
                    .collect();
                for g in groups.iter_mut() {
                    if let Some(l) = g.initial_lr {
                        g.lr = l;
                    }
                }
                for sub in subs.iter_mut() {
                    sub.st.last_epoch -= 1;
                }
                let idx = bisect_right(&seq.milestones, 0).min(subs.len().saturating_sub(1));
                if let Some(sub) = subs.get_mut(idx) {
                    sub.initial_step(&mut groups);
                }
                Node::Sequential {
                    subs,
                    milestones: seq.milestones.clone(),
                    last_epoch: 0,
                }
            }
            TorchClass::ChainedScheduler(ch) => Node::Chained {
                subs: ch
                    .schedulers
                    .iter()
                    .map(|c| Leaf::construct(c.class.clone(), &mut groups))
                    .collect(),
            },
            TorchClass::ReduceLROnPlateau(p) => Node::Plateau {
                cfg: p.clone(),
                st: PlateauState {
                    best: p.mode_worse(),
                    num_bad_epochs: 0,
                    cooldown_counter: 0,
                    last_epoch: 0,
                },
            },
            class => Node::Leaf(Box::new(Leaf::construct(class.clone(), &mut groups))),
        };
        let mut sim = TorchSimulator {
            last_lr: Vec::new(),
            momenta: Vec::new(),
            groups,
            node,
            track_momentum: s.tracks_momentum(),
        };
        sim.refresh_last_lr(None);
        sim
    }

    fn refresh_last_lr(&mut self, from: Option<usize>) {
        self.last_lr = match (&self.node, from) {
            (Node::Leaf(l), _) => l.st.last_lr.clone(),
            (Node::Sequential { subs, .. }, Some(i)) => subs[i].st.last_lr.clone(),
            (
                Node::Sequential {
                    subs, milestones, ..
                },
                None,
            ) => {
                let idx = bisect_right(milestones, 0).min(subs.len().saturating_sub(1));
                subs.get(idx)
                    .map_or_else(|| lrs(&self.groups), |s| s.st.last_lr.clone())
            }
            _ => lrs(&self.groups),
        };
        self.momenta = self.groups.iter().map(|g| g.momentum).collect();
    }

    /// `scheduler.step()`. On `ReduceLROnPlateau`, which needs a metric, it does nothing:
    /// use [`TorchSimulator::step_with_metric`].
    pub fn step(&mut self) {
        let mut from = None;
        match &mut self.node {
            Node::Leaf(l) => l.step(&mut self.groups),
            Node::Sequential {
                subs,
                milestones,
                last_epoch,
            } => {
                *last_epoch += 1;
                if subs.is_empty() {
                    return;
                }
                let idx = bisect_right(milestones, *last_epoch).min(subs.len() - 1);
                if idx > 0 && milestones.get(idx - 1).map(|&m| m as i64) == Some(*last_epoch) {
                    subs[idx].update_lr(&mut self.groups, Some(0));
                } else {
                    subs[idx].step(&mut self.groups);
                }
                from = Some(idx);
            }
            Node::Chained { subs } => {
                for s in subs.iter_mut() {
                    s.step(&mut self.groups);
                }
            }
            Node::Plateau { .. } => return,
        }
        self.refresh_last_lr(from);
    }

    /// `n` calls of [`TorchSimulator::step`], skipping the steps that cannot change the
    /// result: a class whose lr is a pure function of the epoch (`LambdaLR`, `CyclicLR`,
    /// `OneCycleLR`) jumps straight to the last one, and the recursive classes jump
    /// between the epochs where they change the lr (`StepLR` multiples, `MultiStepLR`
    /// milestones, the end of `ConstantLR`/`LinearLR`/`PolynomialLR`). The others
    /// (`ExponentialLR`, `MultiplicativeLR`, `CosineAnnealingLR`, warm restarts, the
    /// composites) replay every step, as PyTorch's recursion requires.
    pub fn advance(&mut self, n: u64) {
        let mut left = n;
        while left > 0 {
            if let Node::Leaf(l) = &mut self.node {
                let skip = l.skippable(left - 1, &self.groups);
                if skip > 0 {
                    l.st.last_epoch = l.st.last_epoch.saturating_add(skip as i64);
                    l.st.step_count = l.st.step_count.saturating_add(skip);
                    left -= skip;
                    continue;
                }
            }
            self.step();
            left -= 1;
        }
    }

    /// `scheduler.step(metric)` for `ReduceLROnPlateau`; other classes ignore the metric
    /// and step as [`TorchSimulator::step`].
    pub fn step_with_metric(&mut self, metric: f64) {
        let Node::Plateau { cfg, st } = &mut self.node else {
            self.step();
            return;
        };
        let current = metric;
        st.last_epoch += 1;
        if cfg.is_better(current, st.best) {
            st.best = current;
            st.num_bad_epochs = 0;
        } else {
            st.num_bad_epochs += 1;
        }
        if st.cooldown_counter > 0 {
            st.cooldown_counter -= 1;
            st.num_bad_epochs = 0;
        }
        if st.num_bad_epochs > cfg.patience {
            for (i, g) in self.groups.iter_mut().enumerate() {
                let old_lr = g.lr;
                let min_lr = cfg.min_lr.get(i);
                let scaled = old_lr * cfg.factor;
                // Python's max(a, b) keeps `a` unless `b` is greater.
                let new_lr = if min_lr > scaled { min_lr } else { scaled };
                if old_lr - new_lr > cfg.eps {
                    g.lr = new_lr;
                }
            }
            st.cooldown_counter = cfg.cooldown;
            st.num_bad_epochs = 0;
        }
        self.refresh_last_lr(None);
    }

    /// `scheduler.step(epoch)`: `CosineAnnealingWarmRestarts` takes any epoch >= 0,
    /// fractional ones included; the other single schedulers take a whole epoch and use
    /// PyTorch's closed form where the class has one (its deprecated path).
    /// `SequentialLR`, `ChainedScheduler` and `ReduceLROnPlateau` take no epoch.
    pub fn step_to_epoch(&mut self, epoch: f64) -> Result<(), ScheduleError> {
        let Node::Leaf(l) = &mut self.node else {
            return Err(ScheduleError::Invalid {
                path: String::new(),
                message: "only a single scheduler can be stepped to an epoch".into(),
            });
        };
        if !(epoch.is_finite() && epoch >= 0.0) {
            return Err(ScheduleError::invalid(
                l.class.name(),
                "epoch",
                crate::check::fmt(epoch),
                "a finite number >= 0",
            ));
        }
        if let TorchClass::CosineAnnealingWarmRestarts(_) = l.class {
            l.cawr_step(&mut self.groups, Some(epoch));
        } else {
            if epoch.fract() != 0.0 || epoch > i64::MAX as f64 / 2.0 {
                return Err(ScheduleError::invalid(
                    l.class.name(),
                    "epoch",
                    epoch,
                    "a whole number of epochs",
                ));
            }
            l.st.step_count += 1;
            l.update_lr(&mut self.groups, Some(epoch as i64));
        }
        self.refresh_last_lr(None);
        Ok(())
    }

    /// `get_last_lr()`: one lr per param group.
    pub fn last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    /// Each param group's momentum, if the config gives one or the class cycles it.
    pub fn momentum(&self) -> Option<&[f64]> {
        self.track_momentum.then_some(&self.momenta[..])
    }

    /// Each param group's momentum (SGD's default 0 where nothing sets it).
    pub(crate) fn momentum_all(&self) -> &[f64] {
        &self.momenta
    }
}
