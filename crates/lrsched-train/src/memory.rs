//! The memory a training run will allocate, counted before any of it is, and checked
//! against what the machine has.
//!
//! Each size a user types is bounded on its own (`--model` layers, `--batch-size` by the
//! rows, `--spirals-size`), but their product is not: a million-unit layer times a batch
//! of 100000 rows is terabytes of activations. [`estimate`] counts the buffers the fused
//! engine sizes from a run's settings (parameters, gradients and optimizer state; each
//! slice's activations, deltas and gathered rows for a batch, and each thread's for an
//! evaluation chunk; the data set and its batch order), rounded up, and [`check`] refuses
//! a run that does not fit in [`available`] memory, so the error is one line instead of
//! an abort on an allocation.

use crate::model::ModelSpec;
use crate::optim::OptimizerKind;
use std::fmt;

/// Bytes of one stored value (`f32`).
const FLOAT: u64 = 4;

/// Rows one thread evaluates at a time (the engine's evaluation chunk); each thread has
/// buffers for this many rows, or the validation rows if fewer.
pub const EVAL_ROWS: usize = 512;

/// The limit used where the machine's free memory cannot be read (no `/proc/meminfo`).
pub const FALLBACK_LIMIT: u64 = 16 << 30;

/// What a run will allocate, in bytes, by what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Parameters, gradients, the optimizer's state and a saved copy of the weights.
    pub parameters: u64,
    /// Each training slice's activations and deltas for a batch, and each thread's for
    /// an evaluation chunk.
    pub activations: u64,
    /// The data set (features and targets, training and validation) and its batch order.
    pub data: u64,
}

impl Estimate {
    /// All of it.
    ///
    /// ```
    /// let e = lrsched_train::memory::Estimate { parameters: 1, activations: 2, data: 3 };
    /// assert_eq!(e.total(), 6);
    /// ```
    pub fn total(&self) -> u64 {
        self.parameters
            .saturating_add(self.activations)
            .saturating_add(self.data)
    }

    /// `runs` such runs at once: each has its own model and buffers; the data is held
    /// once when the runs share it (in one process), else once per run.
    ///
    /// ```
    /// use lrsched_train::memory::Estimate;
    /// let one = Estimate { parameters: 10, activations: 20, data: 5 };
    /// assert_eq!(one.times(3, true).total(), 95);
    /// assert_eq!(one.times(3, false).total(), 105);
    /// ```
    pub fn times(&self, runs: usize, shared_data: bool) -> Estimate {
        let n = runs.max(1) as u64;
        Estimate {
            parameters: self.parameters.saturating_mul(n),
            activations: self.activations.saturating_mul(n),
            data: if shared_data {
                self.data
            } else {
                self.data.saturating_mul(n)
            },
        }
    }
}

impl fmt::Display for Estimate {
    /// `2.1 TB (parameters and optimizer state 64 MB, activations 2.1 TB, data 200 MB)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (parameters and optimizer state {}, activations {}, data {})",
            bytes(self.total()),
            bytes(self.parameters),
            bytes(self.activations),
            bytes(self.data)
        )
    }
}

/// Optimizer buffers per parameter, at most (RMSProp's centred average and momentum
/// counted; schedule-free kinds keep their evaluation weights too).
fn state_buffers(kind: OptimizerKind) -> u64 {
    match kind {
        OptimizerKind::Sgd => 0,
        OptimizerKind::Momentum | OptimizerKind::Nesterov | OptimizerKind::Dog => 1,
        OptimizerKind::ScheduleFreeSgd
        | OptimizerKind::Adam
        | OptimizerKind::AdamW
        | OptimizerKind::DAdaptSgd => 2,
        OptimizerKind::RmsProp | OptimizerKind::ScheduleFreeAdamW | OptimizerKind::DAdaptAdam => 3,
        OptimizerKind::Prodigy => 4,
    }
}

/// Per row, the gathered inputs, the batch-wide copy of them the first layer's product
/// reads, for the sparse products the lists of their nonzeros by row and by input (an
/// index and a value each, as many as the inputs at most) and the rows transposed, and the
/// first layer's linear output.
fn first_layer_copies(model: &ModelSpec) -> u64 {
    let inputs = model.sizes.first().copied().unwrap_or(0) as u64;
    let first = model.sizes.get(1).copied().unwrap_or(0) as u64;
    inputs.saturating_mul(7).saturating_add(first)
}

/// What a run of `model` with `optimizer`, batches of `batch` rows (already bounded by the
/// training rows), `threads` threads and `train_rows` + `val_rows` rows of data will
/// allocate. Saturating arithmetic: a product too large for `u64` is `u64::MAX` bytes.
///
/// ```
/// use lrsched_train::data::Task;
/// use lrsched_train::memory::estimate;
/// use lrsched_train::model::{Activation, Init, ModelSpec};
/// use lrsched_train::optim::OptimizerKind;
/// let task = Task::Classification { classes: 10 };
/// let small = ModelSpec::parse("128", 784, &task, Activation::Relu, Init::Torch).unwrap();
/// let e = estimate(&small, OptimizerKind::Momentum, 64, 2, 60_000, 10_000);
/// assert!(e.total() < 1 << 30, "{e}");
/// let wide = ModelSpec::parse("1048576", 2, &task, Activation::Relu, Init::Torch).unwrap();
/// let e = estimate(&wide, OptimizerKind::Momentum, 100_000, 2, 9_000_000, 1_000_000);
/// assert!(e.activations > 1 << 40, "{e}");
/// ```
pub fn estimate(
    model: &ModelSpec,
    optimizer: OptimizerKind,
    batch: usize,
    threads: usize,
    train_rows: usize,
    val_rows: usize,
) -> Estimate {
    let params = model.parameter_count() as u64;
    // Parameters, gradients, the optimizer's buffers, one copy of the weights (the best
    // epoch's, kept for early stopping and the best checkpoint), and one more
    // parameter-sized allowance: the engine's scratch for the hidden layers' weights after
    // the first, transposed block by block (fewer values than the parameters).
    let parameters = params
        .saturating_mul(4 + state_buffers(optimizer))
        .saturating_mul(FLOAT);
    // Per row: each layer's linear output, normalised output, activation, dropout mask
    // and delta (and BatchNorm's normalised input), plus the row's gathered inputs, the
    // batch-wide copies the first layer's product reads and writes (its inputs and its
    // linear output once more) and the lists of the inputs' nonzeros (`first_layer_copies`).
    let layers = model.layers();
    let per_row =
        model
            .sizes
            .iter()
            .skip(1)
            .enumerate()
            .fold(first_layer_copies(model), |n, (l, &width)| {
                let norm = model.batch_norm && l + 1 < layers;
                n.saturating_add((width as u64).saturating_mul(if norm { 6 } else { 5 }))
            });
    // The training slices hold the batch's rows; each thread's evaluation buffers hold
    // a chunk (the engine reuses the larger of the two, so this is an upper bound).
    let rows = (batch as u64).saturating_add(
        (threads.max(1) as u64).saturating_mul(EVAL_ROWS.min(val_rows.max(1)) as u64),
    );
    let activations = rows.saturating_mul(per_row).saturating_mul(FLOAT);
    // Features and one target per row, and the training rows' order (one index each).
    let data_rows = (train_rows as u64).saturating_add(val_rows as u64);
    let data = data_rows
        .saturating_mul(model.sizes[0] as u64 + 1)
        .saturating_mul(FLOAT)
        .saturating_add((train_rows as u64).saturating_mul(8));
    Estimate {
        parameters,
        activations,
        data,
    }
}

/// Memory this process may still allocate, and where the number comes from: the
/// smaller of `/proc/meminfo`'s `MemAvailable` and a cgroup v2 limit (`memory.max` less
/// `memory.current`) when there is one; [`FALLBACK_LIMIT`] where neither can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Available {
    /// Bytes.
    pub bytes: u64,
    /// `MemAvailable`, `the cgroup's memory.max` or `a fixed cap`.
    pub source: &'static str,
}

/// What [`Available`] says for this machine now.
///
/// ```
/// let a = lrsched_train::memory::available();
/// assert!(a.bytes > 0, "{a:?}");
/// ```
pub fn available() -> Available {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_available(&t));
    let cgroup = cgroup_room();
    match (meminfo, cgroup) {
        (Some(m), Some(c)) if c < m => Available {
            bytes: c,
            source: "the cgroup's memory.max",
        },
        (Some(m), _) => Available {
            bytes: m,
            source: "MemAvailable",
        },
        (None, Some(c)) => Available {
            bytes: c,
            source: "the cgroup's memory.max",
        },
        (None, None) => Available {
            bytes: FALLBACK_LIMIT,
            source: "a fixed cap",
        },
    }
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
fn mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut words = line.split_whitespace().skip(1);
    let n: u64 = words.next()?.parse().ok()?;
    let unit = match words.next() {
        Some("kB") => 1024,
        None => 1,
        Some(_) => return None,
    };
    Some(n.saturating_mul(unit))
}

/// Room left under this process's cgroup v2 limit, if it has one.
fn cgroup_room() -> Option<u64> {
    let rel = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = rel.lines().find_map(|l| l.strip_prefix("0::"))?.trim();
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let max: u64 = std::fs::read_to_string(dir.join("memory.max"))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let current: u64 = std::fs::read_to_string(dir.join("memory.current"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// A run that does not fit: what it needs and what there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// What the run would allocate.
    pub needed: Estimate,
    /// What the machine has.
    pub available: Available,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "needs about {}, more than the {} this machine has free ({})",
            self.needed,
            bytes(self.available.bytes),
            self.available.source
        )
    }
}

impl std::error::Error for TooLarge {}

/// Refuses an estimate above `available`.
///
/// ```
/// use lrsched_train::memory::{check, Available, Estimate};
/// let there = Available { bytes: 1 << 30, source: "MemAvailable" };
/// let e = Estimate { parameters: 1 << 20, activations: 2 << 30, data: 0 };
/// let err = check(&e, there).unwrap_err();
/// assert_eq!(err.to_string(), "needs about 2.0 GB (parameters and optimizer state 1.0 MB, activations 2.0 GB, data 0 B), more than the 1.0 GB this machine has free (MemAvailable)");
/// assert!(check(&Estimate { activations: 1 << 29, ..e }, there).is_ok());
/// ```
pub fn check(needed: &Estimate, available: Available) -> Result<(), TooLarge> {
    if needed.total() > available.bytes {
        return Err(TooLarge {
            needed: *needed,
            available,
        });
    }
    Ok(())
}

/// Bytes for people: `0 B`, `512 B`, `1.5 KB` ... `2.1 TB` (powers of 1024).
///
/// ```
/// assert_eq!(lrsched_train::memory::bytes(3 << 30), "3.0 GB");
/// assert_eq!(lrsched_train::memory::bytes(u64::MAX), "16.0 EB");
/// ```
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;
    use crate::model::{Activation, Init};

    #[test]
    fn meminfo_is_read_in_kilobytes() {
        let text = "MemTotal:       24683792 kB\nMemFree:  1 kB\nMemAvailable:   22056584 kB\n";
        assert_eq!(mem_available(text), Some(22056584 * 1024));
        assert_eq!(mem_available("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn the_issue_run_is_terabytes_and_a_small_one_is_not() {
        let task = Task::BinaryClassification;
        let wide = ModelSpec::parse("1048576", 2, &task, Activation::Relu, Init::Torch).unwrap();
        let e = estimate(
            &wide,
            OptimizerKind::Momentum,
            100_000,
            2,
            9_000_000,
            1_000_000,
        );
        assert!(e.activations > 400 << 30, "{e}");
        assert!(e.data > 100 << 20 && e.data < 1 << 30, "{e}");
        let small = ModelSpec::parse("64", 64, &task, Activation::Relu, Init::Torch).unwrap();
        let e = estimate(&small, OptimizerKind::Adam, 64, 2, 1500, 300);
        assert!(e.total() < 8 << 20, "{e}");
    }

    #[test]
    fn sizes_past_u64_saturate() {
        let task = Task::Regression;
        let wide = ModelSpec::parse("1048576-1048576", 1, &task, Activation::Relu, Init::Torch);
        // Refused by the parameter cap already; the estimate never overflows either way.
        assert!(wide.is_err());
        let m = ModelSpec::parse("1048576", 1, &task, Activation::Relu, Init::Torch).unwrap();
        let e = estimate(
            &m,
            OptimizerKind::Adam,
            usize::MAX,
            usize::MAX,
            usize::MAX,
            1,
        );
        assert_eq!(e.total(), u64::MAX);
    }
}
