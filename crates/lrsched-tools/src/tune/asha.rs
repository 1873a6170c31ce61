//! Asynchronous successive halving (ASHA, Li et al. 2018) in one pass: every trial is
//! started for the full budget and reports its epochs; at each rung (epoch `min_epochs *
//! eta^k` below the budget) it is compared with the trials that already reached that rung,
//! and stopped unless it is in their top `1/eta` (at least the best one goes on).
//!
//! The decision for a trial depends on which trials reached the rung before it. With one
//! job the trials run in a fixed order, so the search is deterministic given its seeds;
//! with several jobs the order in which trials reach a rung depends on timing, so which
//! trials are pruned may differ from run to run (each trial's own numbers do not).

use std::sync::Mutex;

/// The rung epochs below `epochs`: `min_epochs`, `min_epochs * eta`, ...
///
/// ```
/// use lrsched_tools::tune::asha::rungs;
/// assert_eq!(rungs(1, 9, 3).unwrap(), vec![1, 3]);
/// assert_eq!(rungs(1, 10, 3).unwrap(), vec![1, 3, 9]);
/// assert_eq!(rungs(2, 2, 3).unwrap(), Vec::<u64>::new());
/// assert!(rungs(0, 2, 3).is_err());
/// assert!(rungs(1, 2, 1).is_err());
/// ```
pub fn rungs(min_epochs: u64, epochs: u64, eta: u64) -> Result<Vec<u64>, String> {
    if eta < 2 {
        return Err(format!("eta = {eta} is not allowed: must be at least 2"));
    }
    if min_epochs == 0 || min_epochs > epochs {
        return Err(format!(
            "min epochs = {min_epochs} is not allowed: must be between 1 and the epochs ({epochs})"
        ));
    }
    let mut r = Vec::new();
    let mut e = min_epochs;
    while e < epochs {
        r.push(e);
        e = e.saturating_mul(eta);
    }
    Ok(r)
}

/// The rungs and what reached each, shared by the trials' threads.
///
/// Scores are "goodness": higher is better (a loss is negated by the caller).
///
/// ```
/// use lrsched_tools::tune::asha::Asha;
/// let a = Asha::new(vec![1, 3], 3);
/// assert_eq!(a.decide(1, 0.5), None); // the first at a rung is the best so far
/// assert_eq!(a.decide(1, 0.4), Some(0)); // below the top 1/3 (at least one): pruned
/// assert_eq!(a.decide(2, 0.1), None); // not a rung
/// ```
#[derive(Debug)]
pub struct Asha {
    rungs: Vec<u64>,
    eta: u64,
    reached: Mutex<Vec<Vec<f64>>>,
}

impl Asha {
    /// Empty rungs at these epochs, keeping the best `1/eta` of each.
    pub fn new(rungs: Vec<u64>, eta: u64) -> Asha {
        let reached = Mutex::new(vec![Vec::new(); rungs.len()]);
        Asha {
            rungs,
            eta: eta.max(2),
            reached,
        }
    }

    /// The rung epochs.
    pub fn rungs(&self) -> &[u64] {
        &self.rungs
    }

    /// Records a trial that reached `epoch` earlier (a finished trial of a resumed search),
    /// without deciding anything.
    pub fn record(&self, epoch: u64, goodness: f64) {
        if let Some(i) = self.rungs.iter().position(|&r| r == epoch) {
            if let Ok(mut t) = self.reached.lock() {
                t[i].push(goodness);
            }
        }
    }

    /// A trial reports `goodness` at `epoch`: `Some(rung index)` when it is to be stopped
    /// there. A trial with no usable score (NaN) at a rung is stopped.
    pub fn decide(&self, epoch: u64, goodness: f64) -> Option<usize> {
        let i = self.rungs.iter().position(|&r| r == epoch)?;
        let mut t = self.reached.lock().ok()?;
        let g = if goodness.is_nan() {
            f64::NEG_INFINITY
        } else {
            goodness
        };
        t[i].push(g);
        let keep = (t[i].len() / self.eta as usize).max(1);
        let better = t[i].iter().filter(|&&x| x > g).count();
        (better >= keep).then_some(i)
    }
}
