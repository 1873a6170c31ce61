//! `join`: one schedule after another, switching at milestones.

use crate::families::declare::family;
use crate::{check, AnySchedule, Schedule, ScheduleError};

/// Which clock the parts of a [`Join`] read.
///
/// ```
/// use lrsched::{Constant, Join, JoinTime, Schedule, StepDecay};
/// // Local (default): the second part starts at its own step 0 at the boundary.
/// let local = Join::new(vec![Constant::new(1.0).into(), StepDecay::new(1.0, 10, 0.5).into()], vec![10]);
/// assert_eq!(local.value(10), 1.0);
/// // Global: the second part reads the run's step, so it has already decayed once.
/// let global = local.clone().with_time(JoinTime::Global);
/// assert_eq!(global.value(10), 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum JoinTime {
    /// Each part sees `step - start of the part`, as optax's `join_schedules` does.
    #[default]
    Local,
    /// Each part sees the global step, as PyTorch's `SequentialLR` classes that were
    /// built for the whole run expect.
    Global,
}

impl JoinTime {
    /// `true` when this is the default (`local`), so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == JoinTime::Local
    }
}

family! {
    /// Parts in sequence: part `i` is in force on `[boundaries[i-1], boundaries[i])`
    /// (part 0 from step 0, the last part for ever after the last boundary).
    ///
    /// ```text
    /// i      = #{ b in boundaries : b <= t }          (binary search)
    /// start  = 0 if i == 0 else boundaries[i-1]
    /// lr(t)  = schedules[i](t - start)   time = local (default; optax's join_schedules)
    /// lr(t)  = schedules[i](t)           time = global
    /// ```
    ///
    /// `boundaries` has exactly one entry fewer than `schedules` and never decreases. Equal
    /// boundaries are allowed, as in optax: the part between them lasts zero steps and is
    /// never in force (useful when a duration like `"1%"` rounds to nothing on a short run).
    ///
    /// The length is the last boundary plus the last part's length (local time), or the
    /// larger of the two (global time); `None` when the last part has no length.
    ///
    /// Only the part in force at `step` receives [`Schedule::observe`], on its own clock: a
    /// reduce-on-plateau placed after a warmup must not spend its patience on, nor record
    /// reductions for, metrics measured while the warmup was driving the rate. Every part
    /// still saves and loads its state, in order.
    ///
    /// Config: `{"type": "join", "schedules": [{...}, {...}], "boundaries": [100]}`, plus
    /// optional `"time": "global"`.
    ///
    /// ```
    /// use lrsched::{Constant, Cosine, Join, Schedule};
    /// // 100 steps at 0.01, then a cosine from 0.1 to 0 over 1000 steps.
    /// let s = Join::sequence(vec![(Constant::new(0.01).into(), 100)], Cosine::new(0.1, 1000));
    /// assert_eq!(s.value(99), 0.01);
    /// assert_eq!(s.value(100), 0.1);
    /// assert_eq!(s.value(1100), 0.0);
    /// assert_eq!(s.len(), Some(1100));
    /// ```
    #[derive(Debug, Clone, PartialEq)]
    pub struct Join("join") {
        /// The parts, in order; at least one.
        schedules: Vec<AnySchedule>;
        /// The steps at which each part after the first starts; one fewer than `schedules`,
        /// non-decreasing.
        boundaries: Vec<u64>;
        /// The clock the parts read (default `local`).
        time: JoinTime = {JoinTime::Local} "local", with with_time "Sets the clock the parts read.";
    }
    /// Parts `schedules` switching at `boundaries` (one fewer than the parts), local time.
    pub fn new;
}

impl Join {
    /// Each `(schedule, length)` in turn for `length` steps, then `last` for ever.
    pub fn sequence(parts: Vec<(AnySchedule, u64)>, last: impl Into<AnySchedule>) -> Self {
        let mut schedules = Vec::with_capacity(parts.len() + 1);
        let mut boundaries = Vec::with_capacity(parts.len());
        let mut at = 0u64;
        for (s, len) in parts {
            at = at.saturating_add(len);
            schedules.push(s);
            boundaries.push(at);
        }
        schedules.push(last.into());
        Join::new(schedules, boundaries)
    }

    /// Appends `next`, in force from global step `at`.
    pub fn then(mut self, at: u64, next: impl Into<AnySchedule>) -> Self {
        self.boundaries.push(at);
        self.schedules.push(next.into());
        self
    }

    /// The index of the part in force at `step` and the step that part reads.
    /// `None` only for an empty (invalid) join.
    fn part(&self, step: u64) -> Option<(usize, u64)> {
        let last = self.schedules.len().checked_sub(1)?;
        // Clamped so that an invalid join with too many boundaries still never indexes
        // past its parts.
        let i = self.boundaries.partition_point(|&b| b <= step).min(last);
        let t = match self.time {
            JoinTime::Global => step,
            JoinTime::Local => {
                let start = if i == 0 { 0 } else { self.boundaries[i - 1] };
                step.saturating_sub(start)
            }
        };
        Some((i, t))
    }
}

impl Schedule for Join {
    fn value(&self, step: u64) -> f64 {
        match self.part(step) {
            Some((i, t)) => self.schedules[i].value(t),
            None => 0.0,
        }
    }

    fn validate(&self) -> Result<(), ScheduleError> {
        self.declared_checks()?;
        if self.schedules.is_empty() {
            return Err(ScheduleError::invalid(
                "join",
                "schedules",
                "[]",
                "a list of at least one schedule",
            ));
        }
        if self.boundaries.len() + 1 != self.schedules.len() {
            return Err(ScheduleError::invalid(
                "join",
                "boundaries",
                format!("{:?}", self.boundaries),
                format!(
                    "a list of exactly {} step(s), one fewer than `schedules`",
                    self.schedules.len() - 1
                ),
            ));
        }
        check::increasing("join", "boundaries", &self.boundaries, false)?;
        for (i, s) in self.schedules.iter().enumerate() {
            in_child("join", &format!("schedules[{i}]"), s.validate())?;
        }
        Ok(())
    }

    fn len(&self) -> Option<u64> {
        let last = self.schedules.last()?.len()?;
        let start = self.boundaries.last().copied().unwrap_or(0);
        Some(match self.time {
            JoinTime::Local => start.saturating_add(last),
            JoinTime::Global => start.max(last),
        })
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        let (i, t) = self.part(step)?;
        self.schedules[i].momentum(t)
    }

    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        match self.part(step) {
            Some((i, t)) => self.schedules[i].observe(t, metric),
            None => Ok(()),
        }
    }

    fn children(&self) -> Vec<&AnySchedule> {
        self.schedules.iter().collect()
    }

    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        self.schedules.iter_mut().collect()
    }
}

/// Re-roots a child's validation error at the combinator `outer`, so the message names the
/// whole path from the top of the config (`join: \`schedules[1].lr\` = -1 ...`).
pub(crate) fn in_child(
    outer: &str,
    path: &str,
    result: Result<(), ScheduleError>,
) -> Result<(), ScheduleError> {
    result.map_err(|e| match e {
        ScheduleError::InvalidValue {
            key,
            value,
            allowed,
            ..
        } => ScheduleError::InvalidValue {
            schedule: outer.to_string(),
            key: format!("{path}.{key}"),
            value,
            allowed,
        },
        ScheduleError::Invalid {
            path: inner,
            message,
        } => ScheduleError::Invalid {
            path: if inner.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{inner}")
            },
            message,
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Constant, Cosine, StepDecay};

    fn three() -> Join {
        Join::new(
            vec![
                Constant::new(1.0).into(),
                StepDecay::new(2.0, 5, 0.5).into(),
                Cosine::new(3.0, 10).into(),
            ],
            vec![10, 20],
        )
    }

    #[test]
    fn parts_switch_at_boundaries_on_local_time() {
        let s = three();
        assert_eq!(s.value(0), 1.0);
        assert_eq!(s.value(9), 1.0);
        assert_eq!(s.value(10), 2.0);
        assert_eq!(s.value(14), 2.0);
        assert_eq!(s.value(15), 1.0);
        assert_eq!(s.value(20), 3.0);
        assert_eq!(s.value(30), 0.0);
        assert_eq!(s.value(u64::MAX), 0.0);
        assert_eq!(s.len(), Some(30));
        assert!(s.validate().is_ok());
    }

    #[test]
    fn global_time() {
        let s = three().with_time(JoinTime::Global);
        assert_eq!(s.value(10), 2.0 * 0.25);
        // The cosine already finished at global step 10.
        assert_eq!(s.value(20), 0.0);
        assert_eq!(s.len(), Some(20));
    }

    #[test]
    fn equal_boundaries_skip_a_part() {
        let s = Join::new(
            vec![
                Constant::new(1.0).into(),
                Constant::new(2.0).into(),
                Constant::new(3.0).into(),
            ],
            vec![5, 5],
        );
        assert!(s.validate().is_ok());
        assert_eq!(s.value(4), 1.0);
        assert_eq!(s.value(5), 3.0);
        let zero_first = Join::sequence(vec![(Constant::new(1.0).into(), 0)], Constant::new(2.0));
        assert_eq!(zero_first.value(0), 2.0);
    }

    #[test]
    fn sequence_and_then_build_the_same_join() {
        let a = Join::sequence(
            vec![
                (Constant::new(1.0).into(), 10),
                (StepDecay::new(2.0, 5, 0.5).into(), 10),
            ],
            Cosine::new(3.0, 10),
        );
        assert_eq!(a, three());
        let b = Join::new(vec![Constant::new(1.0).into()], vec![])
            .then(10, StepDecay::new(2.0, 5, 0.5))
            .then(20, Cosine::new(3.0, 10));
        assert_eq!(b, three());
    }

    #[test]
    fn nesting() {
        let inner = three();
        let s = Join::sequence(vec![(inner.into(), 30)], Constant::new(7.0));
        assert_eq!(s.value(15), 1.0);
        assert_eq!(s.value(29), three().value(29));
        assert_eq!(s.value(30), 7.0);
        assert_eq!(s.len(), None);
    }

    #[test]
    fn invalid_parameters_are_errors_not_panics() {
        let empty = Join::new(vec![], vec![]);
        assert!(empty
            .validate()
            .unwrap_err()
            .to_string()
            .contains("`schedules`"));
        assert_eq!(empty.value(3), 0.0);
        assert_eq!(empty.momentum(3), None);
        assert_eq!(empty.len(), None);

        let mut wrong_count = three();
        wrong_count.boundaries.push(40);
        let e = wrong_count.validate().unwrap_err().to_string();
        assert!(e.contains("`boundaries`") && e.contains("exactly 2"), "{e}");
        assert_eq!(wrong_count.value(50), 0.0);
        wrong_count.boundaries = vec![];
        assert!(wrong_count.validate().is_err());
        assert_eq!(wrong_count.value(50), 1.0);

        let mut decreasing = three();
        decreasing.boundaries = vec![20, 10];
        let e = decreasing.validate().unwrap_err().to_string();
        assert!(
            e.contains("`boundaries`") && e.contains("non-decreasing"),
            "{e}"
        );
        for t in [0, 10, 15, 20, u64::MAX] {
            assert!(decreasing.value(t).is_finite());
        }

        let mut bad_child = three();
        bad_child.schedules[2] = Cosine::new(f64::NAN, 10).into();
        let e = bad_child.validate().unwrap_err().to_string();
        assert!(e.contains("`schedules[2].lr`"), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        use crate::config::{from_value, to_value};
        for s in [three(), three().with_time(JoinTime::Global)] {
            let s: AnySchedule = s.into();
            let v = to_value(&s);
            assert_eq!(from_value(v.clone()).unwrap(), s, "{v}");
        }
        let v = to_value(&three().into());
        assert_eq!(v["type"], "join");
        assert!(v.get("time").is_none());
        let v = serde_json::json!({
            "type": "join",
            "schedules": [{"type": "constant", "lr": 1.0}, {"type": "constant", "lr": 2.0}],
            "boundaries": [3],
            "time": "global"
        });
        let s = from_value(v).unwrap();
        assert_eq!(s.value(3), 2.0);
        let bad = serde_json::json!({
            "type": "join",
            "schedules": [{"type": "constant", "lr": 1.0}],
            "boundaries": [3]
        });
        assert!(from_value(bad).is_err());
    }
}
