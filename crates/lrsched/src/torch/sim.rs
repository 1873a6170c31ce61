//! The stateful model of PyTorch's schedulers and the optimizer param groups they share.

use super::{bisect_right, TorchClass, TorchSchedule, DEFAULT_LR, REPLAY_LIMIT};
use crate::ScheduleError;

mod leaf;
use leaf::Leaf;

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

/// The largest epoch [`TorchSimulator::step_to_epoch`] takes: 2^62, exact in an f64 and
/// half of `last_epoch`'s range.
const MAX_STEP_TO_EPOCH: f64 = (1u64 << 62) as f64;

/// How many more steps a scheduler at `epoch` may take: `last_epoch` is PyTorch's int,
/// an `i64` here, and stays clear of its end (later steps hold).
fn epoch_headroom(epoch: i64) -> u64 {
    (i64::MAX - 2).saturating_sub(epoch).max(0) as u64
}

/// `ReduceLROnPlateau`'s state as [`TorchSimulator::plateau_state`] gives it: PyTorch's
/// `best`, `num_bad_epochs`, `cooldown_counter` and `last_epoch`, and each param group's
/// rate.
#[derive(Debug, Clone, PartialEq)]
pub struct PlateauSnapshot {
    /// The best metric so far (the mode's worst value, an infinity, before any).
    pub best: f64,
    /// Epochs since the last improvement.
    pub num_bad_epochs: u64,
    /// Epochs of cooldown left.
    pub cooldown_counter: u64,
    /// Metrics seen (PyTorch's `last_epoch`).
    pub last_epoch: i64,
    /// Each param group's rate.
    pub lrs: Vec<f64>,
}

#[derive(Debug, Clone)]
struct PlateauState {
    best: f64,
    num_bad_epochs: u64,
    cooldown_counter: u64,
    last_epoch: i64,
}

/// One scheduler object: a single class, or a composite of scheduler objects (PyTorch
/// nests `SequentialLR` and `ChainedScheduler` in each other freely).
#[derive(Debug, Clone)]
enum Node {
    Leaf(Box<Leaf>),
    Sequential {
        subs: Vec<Node>,
        milestones: Vec<u64>,
        last_epoch: i64,
        /// `_last_lr`: what the scheduler it last ran reported.
        last_lr: Vec<f64>,
    },
    Chained {
        subs: Vec<Node>,
        /// `_last_lr`: the groups' lr after its last step.
        last_lr: Vec<f64>,
    },
    Plateau {
        cfg: super::ReduceLROnPlateau,
        st: PlateauState,
    },
}

impl Node {
    /// The constructor of a scheduler (not `ReduceLROnPlateau`, which is only ever the
    /// top) on the shared groups, with everything it does to them.
    fn construct(class: &TorchClass, groups: &mut [Group]) -> Node {
        match class {
            TorchClass::SequentialLR(seq) => {
                let mut subs: Vec<Node> = seq
                    .schedulers
                    .iter()
                    .map(|c| Node::construct(&c.class, groups))
                    .collect();
                for g in groups.iter_mut() {
                    if let Some(l) = g.initial_lr {
                        g.lr = l;
                    }
                }
                // `recursive_undo`: every single scheduler in the tree, not a nested
                // SequentialLR's own epoch.
                for sub in subs.iter_mut() {
                    sub.undo();
                }
                let idx = bisect_right(&seq.milestones, 0).min(subs.len().saturating_sub(1));
                let last_lr = match subs.get_mut(idx) {
                    Some(sub) => {
                        sub.initial_step(groups);
                        sub.last_lr(groups)
                    }
                    None => lrs(groups),
                };
                Node::Sequential {
                    subs,
                    milestones: seq.milestones.clone(),
                    last_epoch: 0,
                    last_lr,
                }
            }
            TorchClass::ChainedScheduler(ch) => {
                let subs = ch
                    .schedulers
                    .iter()
                    .map(|c| Node::construct(&c.class, groups))
                    .collect();
                Node::Chained {
                    subs,
                    last_lr: lrs(groups),
                }
            }
            class => Node::Leaf(Box::new(Leaf::construct(class.clone(), groups))),
        }
    }

    /// `SequentialLR.recursive_undo` on this scheduler.
    fn undo(&mut self) {
        match self {
            Node::Leaf(l) => l.st.last_epoch -= 1,
            Node::Sequential { subs, .. } | Node::Chained { subs, .. } => {
                subs.iter_mut().for_each(Node::undo)
            }
            Node::Plateau { .. } => {}
        }
    }

    /// `_initial_step()`: a single scheduler's step in its initial mode; a composite's
    /// is its plain `step()` (only the composite itself is in initial mode).
    fn initial_step(&mut self, groups: &mut [Group]) {
        match self {
            Node::Leaf(l) => l.initial_step(groups),
            other => other.step(groups),
        }
    }

    /// `get_last_lr()`.
    fn last_lr(&self, groups: &[Group]) -> Vec<f64> {
        match self {
            Node::Leaf(l) => l.st.last_lr.clone(),
            Node::Sequential { last_lr, .. } | Node::Chained { last_lr, .. } => last_lr.clone(),
            Node::Plateau { .. } => lrs(groups),
        }
    }

    /// `step()` (a `ReduceLROnPlateau` needs a metric: nothing).
    fn step(&mut self, groups: &mut [Group]) {
        match self {
            Node::Leaf(l) => l.step(groups),
            Node::Sequential {
                subs,
                milestones,
                last_epoch,
                last_lr,
            } => {
                *last_epoch += 1;
                if subs.is_empty() {
                    return;
                }
                let idx = bisect_right(milestones, *last_epoch).min(subs.len() - 1);
                if idx > 0 && milestones.get(idx - 1).map(|&m| m as i64) == Some(*last_epoch) {
                    // `_update_lr(0)`; PyTorch has it only for single schedulers (a
                    // composite raises NotImplementedError, which validate refuses).
                    if let Node::Leaf(l) = &mut subs[idx] {
                        l.update_lr(groups, Some(0));
                    }
                } else {
                    subs[idx].step(groups);
                }
                *last_lr = subs[idx].last_lr(groups);
            }
            Node::Chained { subs, last_lr } => {
                for s in subs.iter_mut() {
                    s.step(groups);
                }
                last_lr.clear();
                last_lr.extend(groups.iter().map(|g| g.lr));
            }
            Node::Plateau { .. } => {}
        }
    }

    /// The largest epoch counter in the tree.
    fn max_epoch(&self) -> i64 {
        match self {
            Node::Leaf(l) => l.st.last_epoch,
            Node::Sequential {
                subs, last_epoch, ..
            } => subs.iter().map(Node::max_epoch).fold(*last_epoch, i64::max),
            Node::Chained { subs, .. } => subs.iter().map(Node::max_epoch).max().unwrap_or(0),
            Node::Plateau { st, .. } => st.last_epoch,
        }
    }

    /// `k` steps without replaying them: single schedulers by their closed forms
    /// ([`Leaf::jump`]), a chain's children in turn, a `SequentialLR` by jumping its
    /// running scheduler to just before each milestone in reach and taking the
    /// milestone's step for real (the last of the `k` steps is then real too).
    fn jump(&mut self, k: u64, groups: &mut [Group]) {
        match self {
            Node::Leaf(l) => l.jump(k, groups),
            Node::Chained { subs, last_lr } => {
                for s in subs.iter_mut() {
                    s.jump(k, groups);
                }
                last_lr.clear();
                last_lr.extend(groups.iter().map(|g| g.lr));
            }
            Node::Sequential { .. } => {
                let mut left = k;
                // One pass per milestone, and the last: bounded by the milestones.
                while left > 0 {
                    let Node::Sequential {
                        subs,
                        milestones,
                        last_epoch,
                        ..
                    } = self
                    else {
                        return;
                    };
                    // The next milestone after `last_epoch`, by binary search: a scan of
                    // every milestone per milestone in reach was quadratic.
                    let e = *last_epoch as i128;
                    let gap = milestones
                        .get(bisect_right(milestones, *last_epoch))
                        .map(|&m| m as i128 - e)
                        .filter(|&d| d > 0)
                        .map_or(left, |d| (d.min(left as i128)) as u64);
                    let plain = gap - 1;
                    if !subs.is_empty() && plain > 0 {
                        let idx = bisect_right(milestones, *last_epoch).min(subs.len() - 1);
                        subs[idx].jump(plain, groups);
                    }
                    *last_epoch += plain as i64;
                    self.step(groups);
                    left -= gap;
                }
            }
            Node::Plateau { .. } => {}
        }
    }
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
    /// Steps [`TorchSimulator::advance`] has replayed one by one.
    replayed: u64,
    /// How many it may replay before it jumps.
    limit: u64,
    /// At least the largest epoch counter in the tree (see [`TorchSimulator::headroom`]).
    epoch_bound: i64,
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
            TorchClass::ReduceLROnPlateau(p) => Node::Plateau {
                cfg: p.clone(),
                st: PlateauState {
                    best: p.mode_worse(),
                    num_bad_epochs: 0,
                    cooldown_counter: 0,
                    last_epoch: 0,
                },
            },
            class => Node::construct(class, &mut groups),
        };
        let epoch_bound = node.max_epoch();
        let mut sim = TorchSimulator {
            last_lr: Vec::new(),
            momenta: Vec::new(),
            groups,
            node,
            track_momentum: s.tracks_momentum(),
            replayed: 0,
            limit: REPLAY_LIMIT,
            epoch_bound,
        };
        sim.refresh_last_lr();
        sim
    }

    fn refresh_last_lr(&mut self) {
        match &self.node {
            Node::Leaf(l) => self.last_lr.clone_from(&l.st.last_lr),
            Node::Sequential { last_lr, .. } | Node::Chained { last_lr, .. } => {
                self.last_lr.clone_from(last_lr)
            }
            Node::Plateau { .. } => {
                self.last_lr.clear();
                self.last_lr.extend(self.groups.iter().map(|g| g.lr));
            }
        }
        self.momenta.clear();
        self.momenta.extend(self.groups.iter().map(|g| g.momentum));
    }

    /// `scheduler.step()`. On `ReduceLROnPlateau`, which needs a metric, it does nothing:
    /// use [`TorchSimulator::step_with_metric`].
    pub fn step(&mut self) {
        if let Node::Plateau { .. } = self.node {
            return;
        }
        self.node.step(&mut self.groups);
        self.moved(1);
        self.refresh_last_lr();
    }

    /// Records that every epoch counter moved on by at most `k` (a step moves each by at
    /// most one; a jump of `k` by at most `k`).
    fn moved(&mut self, k: u64) {
        self.epoch_bound = self
            .epoch_bound
            .saturating_add(i64::try_from(k).unwrap_or(i64::MAX));
    }

    /// `n` calls of [`TorchSimulator::step`], skipping the steps that cannot change the
    /// result: a class whose lr is a pure function of the epoch (`LambdaLR`, `CyclicLR`,
    /// `OneCycleLR`) jumps straight to the last one, and the recursive classes jump
    /// between the epochs where they change the lr (`StepLR` multiples, `MultiStepLR`
    /// milestones, the end of `ConstantLR`/`LinearLR`/`PolynomialLR`). The others
    /// (`ExponentialLR`, `MultiplicativeLR`, `CosineAnnealingLR`, warm restarts, the
    /// composites) replay every step, as PyTorch's recursion requires, up to
    /// [`REPLAY_LIMIT`](super::REPLAY_LIMIT) replayed steps over this simulator's life;
    /// past that, the steps go in windows of 1024: the start of the window the last step
    /// is in is one jump by closed forms (see the [module docs](super)), the rest of the
    /// window is replayed. Epochs stop at `2^63 - 2` (PyTorch's `last_epoch` is an int):
    /// steps beyond hold.
    pub fn advance(&mut self, n: u64) {
        let left = self.replay(n);
        let window = left / super::cursor::FAR_WINDOW * super::cursor::FAR_WINDOW;
        self.jump(window);
        self.replay_unlimited(left - window);
    }

    /// The replay part of [`TorchSimulator::advance`]: up to `n` steps, stopping where
    /// the limit is reached; returns the steps left.
    ///
    /// Only the steps no class could skip count towards the limit (a skippable step
    /// taken for real, the last of a run, does not), so the step where the limit is
    /// reached does not depend on how the `n` steps are split between calls: a cursor
    /// stepping one at a time stops where one call for all of them does.
    pub(crate) fn replay(&mut self, n: u64) -> u64 {
        self.run(n, true)
    }

    /// `n` steps replayed (skipping what can be skipped), whatever the limit.
    pub(crate) fn replay_unlimited(&mut self, n: u64) {
        self.run(n, false);
    }

    fn run(&mut self, n: u64, limited: bool) -> u64 {
        let mut left = n.min(self.headroom(n));
        while left > 0 {
            if limited && self.replayed >= self.limit {
                return left;
            }
            if let Node::Leaf(l) = &mut self.node {
                let free = l.skippable(u64::MAX, &self.groups);
                if free > 0 {
                    let skip = free.min(left - 1);
                    if skip > 0 {
                        l.st.last_epoch += skip as i64;
                        l.st.step_count = l.st.step_count.saturating_add(skip);
                        left -= skip;
                        self.moved(skip);
                    } else {
                        // The last step of a skippable run: real (it may overwrite the
                        // lr), not counted.
                        self.step();
                        left -= 1;
                    }
                    continue;
                }
            }
            self.step();
            if limited {
                self.replayed += 1;
            }
            left -= 1;
        }
        0
    }

    /// The same simulator with another replay limit (tests compare jumps with replays
    /// at a small one; only the serde-gated replay tests).
    #[cfg(all(test, feature = "serde"))]
    pub(crate) fn with_replay_limit(mut self, limit: u64) -> Self {
        self.limit = limit;
        self
    }

    /// Steps this simulator may still take before an epoch counter nears `i64::MAX`, or
    /// at least `want` of them.
    ///
    /// Walking the tree for its largest counter at every step made a replay quadratic in
    /// the schedulers of a `SequentialLR` (100k of them: seconds). Every counter moves on
    /// by at most one a step, so `epoch_bound` (the largest at the last walk plus the
    /// steps since) bounds them all, and the tree is walked again only when that bound
    /// leaves fewer than `want` steps: near `i64::MAX`, never in a run of ordinary length.
    fn headroom(&mut self, want: u64) -> u64 {
        if epoch_headroom(self.epoch_bound) < want {
            self.epoch_bound = self.node.max_epoch();
        }
        epoch_headroom(self.epoch_bound)
    }

    /// `k >= 1` steps: all but the last one or three jumped by closed forms
    /// ([`Leaf::jump`]), the others real, so that classes which overwrite the lr, and
    /// the last step's own factors, are exact. A `CosineAnnealingLR` forgets the lr at
    /// each minimum (its factor there is `1 + cos(pi) = 0`) and adds to it at the next
    /// step: the last such pair in reach is stepped for real, so that in a
    /// `ChainedScheduler` the other schedulers' factors before it are forgotten and those
    /// after it kept, as in the replay.
    pub(crate) fn jump(&mut self, k: u64) {
        if k == 0 {
            return;
        }
        let leaves: Vec<&Leaf> = match &self.node {
            Node::Leaf(l) => vec![l.as_ref()],
            Node::Chained { subs, .. } => subs
                .iter()
                .filter_map(|s| match s {
                    Node::Leaf(l) => Some(l.as_ref()),
                    _ => None,
                })
                .collect(),
            Node::Sequential { .. } => {
                self.node.jump(k, &mut self.groups);
                self.moved(k);
                self.refresh_last_lr();
                return;
            }
            Node::Plateau { .. } => return,
        };
        // Steps from now to the last restart in reach (cosine epochs are their own:
        // a jump keeps them within a period or two, see `Leaf::jump`).
        let target = k as i128;
        let restart = leaves
            .iter()
            .filter_map(|l| match &l.class {
                TorchClass::CosineAnnealingLR(c) if c.t_max > 0 => {
                    let t = c.t_max as i128;
                    let e0 = l.st.last_epoch as i128;
                    let s = e0 + target - (e0 + target - t - 1).rem_euclid(2 * t);
                    (s > e0).then_some(s - e0)
                }
                _ => None,
            })
            .max();
        let mut at = 0;
        if let Some(s) = restart {
            let pre = (s - 2).max(0);
            self.jump_leaves(pre as u64);
            at = pre;
            while at < s {
                self.step();
                at += 1;
            }
        }
        if at < target {
            self.jump_leaves((target - at - 1) as u64);
            self.step();
        }
    }

    fn jump_leaves(&mut self, k: u64) {
        self.node.jump(k, &mut self.groups);
        self.moved(k);
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
        let epoch = st.last_epoch;
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
        self.epoch_bound = self.epoch_bound.max(epoch);
        self.refresh_last_lr();
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
        // The epoch goes into PyTorch's int `last_epoch`, an i64 here: a float-to-int cast
        // would clamp a larger one silently (and the next step overflow it). Half the
        // range leaves room for the steps after it.
        if epoch > MAX_STEP_TO_EPOCH {
            return Err(ScheduleError::invalid(
                l.class.name(),
                "epoch",
                crate::check::fmt(epoch),
                format!("at most {MAX_STEP_TO_EPOCH:.0} (2^62)"),
            ));
        }
        if let TorchClass::CosineAnnealingWarmRestarts(_) = l.class {
            l.cawr_step(&mut self.groups, Some(epoch));
        } else {
            if epoch.fract() != 0.0 {
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
        self.epoch_bound = self.node.max_epoch();
        self.refresh_last_lr();
        Ok(())
    }

    /// `ReduceLROnPlateau`'s state: its counters and the groups' rates, what PyTorch's
    /// scheduler and optimizer `state_dict()`s hold. A few numbers however many metrics it
    /// has seen, so a checkpoint stays small. `None` for the other classes.
    ///
    /// ```
    /// use lrsched::torch::{ReduceLROnPlateau, TorchClass, TorchSchedule, TorchSimulator};
    /// let s = TorchSchedule::new(
    ///     vec![0.1],
    ///     TorchClass::ReduceLROnPlateau(ReduceLROnPlateau::default().with_patience(0)),
    /// );
    /// let mut run = TorchSimulator::new(&s);
    /// for m in [1.0, 2.0, 0.5, 3.0] {
    ///     run.step_with_metric(m);
    /// }
    /// let mut resumed = TorchSimulator::new(&s);
    /// resumed.restore_plateau(&run.plateau_state().unwrap()).unwrap();
    /// for m in [4.0, 0.1] {
    ///     run.step_with_metric(m);
    ///     resumed.step_with_metric(m);
    ///     assert_eq!(run.last_lr(), resumed.last_lr());
    /// }
    /// ```
    pub fn plateau_state(&self) -> Option<PlateauSnapshot> {
        let Node::Plateau { st, .. } = &self.node else {
            return None;
        };
        Some(PlateauSnapshot {
            best: st.best,
            num_bad_epochs: st.num_bad_epochs,
            cooldown_counter: st.cooldown_counter,
            last_epoch: st.last_epoch,
            lrs: self.groups.iter().map(|g| g.lr).collect(),
        })
    }

    /// Continues a `ReduceLROnPlateau` from [`TorchSimulator::plateau_state`]; refuses a
    /// state of another number of param groups, or any other class.
    pub fn restore_plateau(&mut self, state: &PlateauSnapshot) -> Result<(), ScheduleError> {
        let groups = self.groups.len();
        let Node::Plateau { st, .. } = &mut self.node else {
            return Err(ScheduleError::Invalid {
                path: String::new(),
                message: "only a ReduceLROnPlateau has a plateau state to restore".into(),
            });
        };
        if state.lrs.len() != groups {
            return Err(ScheduleError::invalid(
                "ReduceLROnPlateau",
                "lrs",
                format!("{:?}", state.lrs),
                format!("{groups} rates, one per param group"),
            ));
        }
        st.best = state.best;
        st.num_bad_epochs = state.num_bad_epochs;
        st.cooldown_counter = state.cooldown_counter;
        st.last_epoch = state.last_epoch;
        for (g, &lr) in self.groups.iter_mut().zip(&state.lrs) {
            g.lr = lr;
        }
        self.epoch_bound = self.epoch_bound.max(state.last_epoch);
        self.refresh_last_lr();
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
