//! Where a replay stands, kept between calls so that stepping costs one step.
//!
//! [`Schedule::value`](crate::Schedule::value) of a replayed class is a pure function of
//! the step, but computing it from scratch costs the replay. A [`Cursor`] is the replay
//! paused at a step; asking for a later step moves it on from there. Every value goes
//! through a cursor, from scratch or resumed, and the moves are built so that where the
//! cursor stopped on the way does not change a single bit (see [`Cursor::seek`]), so a
//! stepped value is the random-access value.

use super::{TorchSchedule, TorchSimulator, ROUNDING_SLACK};
use crate::Schedule;
use std::sync::Mutex;

/// Past the replay limit, the steps are taken in windows of this many: the start of each
/// window is one jump from where the limited replay stopped, the steps inside it are
/// replayed. A value there costs at most this many steps beyond the limit; stepping costs
/// one step, and one jump per window.
pub(crate) const FAR_WINDOW: u64 = 1024;

/// The replay of one schedule, paused at `step`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    sim: TorchSimulator,
    /// The step whose value `sim` holds.
    step: u64,
    /// Where the limited replay ran out, and its state there: every later window starts
    /// from it.
    far: Option<(u64, TorchSimulator)>,
    /// `ReduceLROnPlateau`: how many of the observed metrics `sim` has taken.
    used: usize,
    /// The largest negative that is rounding (see [`TorchSchedule::clamp`]).
    slack: f64,
    /// Whether the schedule reports a momentum (asked once: it walks the class tree).
    momentum: bool,
    /// The value just before `step` (a caller that looks one step back costs nothing).
    prev: Option<(u64, f64, Option<f64>)>,
}

impl Cursor {
    /// A cursor at step 0 (the constructor's state).
    pub(crate) fn new(s: &TorchSchedule) -> Cursor {
        Cursor {
            sim: TorchSimulator::new(s),
            step: 0,
            far: None,
            used: 0,
            slack: if s.has_one_cycle() {
                ROUNDING_SLACK * s.scale()
            } else {
                f64::INFINITY
            },
            momentum: s.tracks_momentum(),
            prev: None,
        }
    }

    // Only the serde-gated replay tests use it.
    #[cfg(all(test, feature = "serde"))]
    pub(crate) fn with_replay_limit(mut self, limit: u64) -> Cursor {
        self.sim = self.sim.with_replay_limit(limit);
        self
    }

    /// The value (lr of group 0, momentum of group 0 if tracked) at `to`, moving the
    /// cursor there; a step behind the cursor starts over (unless it is the one just
    /// behind).
    pub(crate) fn at(&mut self, s: &TorchSchedule, to: u64) -> (f64, Option<f64>) {
        if to < self.step {
            match self.prev {
                Some((p, lr, m)) if p == to => return (lr, m),
                _ => *self = Cursor::new(s),
            }
        }
        if to > self.step {
            self.prev = Some((self.step, self.read_lr(s), self.read_momentum(s)));
            self.seek(s, to);
        }
        (self.read_lr(s), self.read_momentum(s))
    }

    fn read_lr(&self, s: &TorchSchedule) -> f64 {
        let lr = self.sim.last_lr().first().copied().unwrap_or(f64::NAN);
        s.clamp(lr, self.slack)
    }

    fn read_momentum(&self, _: &TorchSchedule) -> Option<f64> {
        if self.momentum {
            self.sim.momentum_all().first().copied()
        } else {
            None
        }
    }

    /// Moves on to `to >= self.step`.
    ///
    /// Bit for bit the same wherever the cursor stopped before: the limited replay
    /// counts only the steps no class can skip, which do not depend on how the steps
    /// are grouped, so it runs out at the same step `at`; past it, step `n` is the state
    /// at `at` jumped to the start of `n`'s window (`at + j * FAR_WINDOW`) and replayed
    /// from there, the same operations whether the cursor comes from the window's start
    /// or from an earlier step of the window.
    fn seek(&mut self, s: &TorchSchedule, to: u64) {
        if s.needs_metric() {
            // Metrics measured before step `to` are in force at `to`.
            let (metrics, steps) = (s.metrics(), s.metric_steps());
            while self.used < metrics.len() && steps[self.used] < to {
                self.sim.step_with_metric(metrics[self.used]);
                self.used += 1;
            }
            self.step = to;
            return;
        }
        if self.far.is_none() {
            let left = self.sim.replay(to - self.step);
            if left == 0 {
                self.step = to;
                return;
            }
            let at = to - left;
            self.far = Some((at, self.sim.clone()));
            self.step = at;
        }
        let Some((at, snapshot)) = &self.far else {
            return;
        };
        let window = |n: u64| at + (n - at) / FAR_WINDOW * FAR_WINDOW;
        let start = window(to);
        if start > window(self.step) {
            self.sim.clone_from(snapshot);
            self.sim.jump(start - at);
            self.step = start;
        }
        self.sim.replay_unlimited(to - self.step);
        self.step = to;
    }
}

/// A [`Cursor`] shared by the calls on one [`TorchSchedule`], behind a lock so the
/// schedule stays `Sync`. It is a cache, never state: cloning copies it, comparing
/// ignores it, and a call that finds it busy (another thread) replays on its own.
#[derive(Default)]
// Boxed: a schedule without a cursor yet stays small (`AnySchedule` holds it inline).
pub(crate) struct CursorCache(Mutex<Option<Box<Cursor>>>);

impl CursorCache {
    /// Runs `f` on the shared cursor (made if there is none), or on a fresh one if
    /// another thread holds it.
    pub(crate) fn with<R>(&self, s: &TorchSchedule, f: impl FnOnce(&mut Cursor) -> R) -> R {
        match self.0.try_lock() {
            Ok(mut guard) => f(guard.get_or_insert_with(|| Box::new(Cursor::new(s)))),
            Err(std::sync::TryLockError::Poisoned(p)) => {
                let mut guard = p.into_inner();
                *guard = None;
                f(guard.get_or_insert_with(|| Box::new(Cursor::new(s))))
            }
            Err(std::sync::TryLockError::WouldBlock) => f(&mut Cursor::new(s)),
        }
    }

    /// Forgets the cursor if, after the metrics were cut to their first `keep` and one
    /// measured at step `at` was added, it holds a state they change: it took a metric
    /// that is gone, or it is past `at` (where the new metric is in force).
    pub(crate) fn forget_stale(&mut self, keep: usize, at: u64) {
        let slot = self.0.get_mut().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| c.used > keep || c.step > at) {
            *slot = None;
        }
    }

    /// Forgets the cursor (the metrics were replaced: only a restored state does that).
    #[cfg(feature = "serde")]
    pub(crate) fn clear(&mut self) {
        *self.0.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Clone for CursorCache {
    fn clone(&self) -> Self {
        let copy = match self.0.try_lock() {
            Ok(guard) => guard.clone(),
            Err(_) => None,
        };
        CursorCache(Mutex::new(copy))
    }
}

impl std::fmt::Debug for CursorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A cache: what it holds says nothing about the schedule.
        f.write_str("CursorCache")
    }
}
