//! What the decays over `steps` steps (cosine, tanh, polynomial, rex, linear) share: the
//! clock `after_end` gives them and the rule on `continue`.

use crate::{AfterEnd, ScheduleError};

/// The value at `step` of a decay over `steps` steps that ends at `end`: `at(t)` on the
/// local step `t` that `after_end` gives while it runs (and past `steps` under
/// `continue`), `end` once it has ended.
pub(crate) fn decay(
    after_end: AfterEnd,
    steps: u64,
    step: u64,
    end: f64,
    at: impl FnOnce(u64) -> f64,
) -> f64 {
    let t = after_end.local_step(step, steps);
    if t >= steps && after_end != AfterEnd::Continue {
        return end;
    }
    at(t)
}

/// `after_end` must be `hold` or `restart` for a decay whose curve cannot go on past
/// `steps`; `why` says what continuing would do.
pub(crate) fn hold_or_restart(
    family: &str,
    after_end: AfterEnd,
    why: &str,
) -> Result<(), ScheduleError> {
    if after_end == AfterEnd::Continue {
        return Err(ScheduleError::invalid(
            family,
            "after_end",
            "continue",
            format!("`hold` or `restart` {why}"),
        ));
    }
    Ok(())
}
