//! A small seeded generator and resumable batch order.
//!
//! Written here rather than taken from a crate so the stream is fixed by this code
//! alone: a checkpoint's batch order must replay the same after a dependency upgrade.

use super::DataError;

/// SplitMix64 (Steele, Lea & Flood 2014): one `u64` of state, so it is trivially
/// saved and restored, and good enough for shuffles, splits and noise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser alone (the increment taken back out of `lrsched::splitmix64`).
fn mix(z: u64) -> u64 {
    lrsched::splitmix64(z.wrapping_sub(GAMMA))
}

impl Rng {
    /// A generator seeded with `seed`; the same seed gives the same stream.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The whole state: `Rng::from_state(r.state())` continues exactly where `r` is.
    pub fn state(&self) -> u64 {
        self.state
    }

    /// A generator continuing from a saved [`Rng::state`].
    pub fn from_state(state: u64) -> Rng {
        Rng { state }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let out = lrsched::splitmix64(self.state);
        self.state = self.state.wrapping_add(GAMMA);
        out
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` without modulo bias (Lemire's multiply-and-reject); 0 when `n`
    /// is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A standard normal draw (Box-Muller; the second value is dropped so the state
    /// stays a single `u64`).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u = 1.0 - self.next_f64();
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Shuffles `items` in place (Fisher-Yates), every order equally likely.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The row order of one epoch: a permutation of `0..n` fixed by `seed` and `epoch`
/// alone, so any epoch can be recomputed without replaying the ones before it.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    // Hashing (seed, epoch) gives each epoch an unrelated stream.
    let mut rng = Rng::new(mix(seed ^ mix(epoch.wrapping_add(GAMMA))));
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    order
}

/// Where a [`Batches`] stands: save it in a checkpoint and [`Batches::resume`] from it
/// to continue with exactly the batches that were coming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchState {
    /// The shuffle seed.
    pub seed: u64,
    /// Epochs finished.
    pub epoch: u64,
    /// Rows of the current epoch already handed out.
    pub position: u64,
}

/// Mini-batches of row indices in a seeded order that changes every epoch. Each epoch
/// visits every row once; its last batch is short when the batch size does not divide
/// the row count.
#[derive(Debug, Clone)]
pub struct Batches {
    n: usize,
    batch_size: usize,
    state: BatchState,
    order: Vec<usize>,
}

impl Batches {
    /// Batches of `batch_size` over `n` rows, starting at epoch 0. Errors if either is 0;
    /// a `batch_size` above `n` is `n` (one batch per epoch).
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Result<Batches, DataError> {
        Batches::resume(
            n,
            batch_size,
            BatchState {
                seed,
                epoch: 0,
                position: 0,
            },
        )
    }

    /// Batches continuing from a saved state. Errors if `n` or `batch_size` is 0 or the
    /// position is past the end of an epoch (the state is from another data set).
    pub fn resume(n: usize, batch_size: usize, state: BatchState) -> Result<Batches, DataError> {
        if n == 0 || batch_size == 0 {
            return Err(DataError::invalid(
                "batches",
                format!("need rows and a batch size, got {n} rows and batch size {batch_size}"),
            ));
        }
        if state.position > n as u64 {
            return Err(DataError::invalid(
                "batches",
                format!(
                    "saved position {} is past the {n} rows of an epoch",
                    state.position
                ),
            ));
        }
        Ok(Batches {
            n,
            // A batch larger than the data is the whole data: kept as `n`, so nothing
            // downstream sizes a buffer by (or overflows adding) the number asked for.
            batch_size: batch_size.min(n),
            state,
            order: epoch_order(n, state.seed, state.epoch),
        })
    }

    /// The state to save; resuming from it yields the same next batch as this one would.
    pub fn state(&self) -> BatchState {
        self.state
    }

    /// Epochs finished so far.
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }

    /// Rows per batch (the last of an epoch may have fewer): the size asked for, or the
    /// row count when that is smaller.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches in one epoch (the last may be short).
    pub fn per_epoch(&self) -> usize {
        self.n.div_ceil(self.batch_size)
    }

    /// The next batch's row indices, moving to the next epoch (and its new order) when
    /// the current one is used up.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.state.position >= self.n as u64 {
            self.state.epoch += 1;
            self.state.position = 0;
            self.order = epoch_order(self.n, self.state.seed, self.state.epoch);
        }
        let start = self.state.position as usize;
        let end = (start + self.batch_size).min(self.n);
        self.state.position = end as u64;
        &self.order[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs of SplitMix64 seeded with 1234567, from the reference C code.
        let mut r = Rng::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(7);
        for n in 1..50u64 {
            for _ in 0..20 {
                assert!(r.below(n) < n);
            }
        }
    }

    #[test]
    fn a_batch_above_the_rows_is_the_rows() {
        // usize::MAX once overflowed `start + batch_size` on the first batch.
        for asked in [11, 1 << 40, usize::MAX] {
            let mut b = Batches::new(10, asked, 3).unwrap();
            assert_eq!(b.batch_size(), 10);
            assert_eq!(b.per_epoch(), 1);
            assert_eq!(b.next_batch().len(), 10);
            assert_eq!(b.next_batch().len(), 10);
        }
        let mut same = Batches::new(10, 10, 3).unwrap();
        let mut big = Batches::new(10, usize::MAX, 3).unwrap();
        assert_eq!(same.next_batch(), big.next_batch());
    }

    #[test]
    fn resume_matches_uninterrupted() {
        let mut a = Batches::new(10, 3, 42).unwrap();
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(a.next_batch().to_vec());
        }
        let saved = a.state();
        let rest: Vec<Vec<usize>> = (0..7).map(|_| a.next_batch().to_vec()).collect();
        let mut b = Batches::resume(10, 3, saved).unwrap();
        let again: Vec<Vec<usize>> = (0..7).map(|_| b.next_batch().to_vec()).collect();
        assert_eq!(rest, again);
        // Epoch 0 covered every row once, in 4 batches (3 + 3 + 3 + 1).
        let mut first: Vec<usize> = seen[..4].concat();
        assert_eq!(seen[3].len(), 1);
        first.sort();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        assert_ne!(epoch_order(10, 42, 0), epoch_order(10, 42, 1));
    }
}
