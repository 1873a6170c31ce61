//! How many cores a run may use, decided in one place: the machine's count, the threads
//! of one run, and how many built-in runs at once share them.
//!
//! Threads change no result (the engine gives the same bits for any count), only the
//! time, so every rule here is about speed and memory, never about numbers.

/// The most threads one run takes: a matrix product of these sizes gains nothing past a
/// few dozen, and every thread costs start-up time and memory, so more is a typo.
pub const MAX_THREADS: usize = 256;

/// The machine's cores, as the threads of one process see them (affinity included).
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The threads of one run: `requested` (0 counts as not given), else every core, at most
/// [`MAX_THREADS`].
pub fn threads(requested: Option<usize>) -> usize {
    requested
        .filter(|n| *n > 0)
        .unwrap_or_else(available)
        .min(MAX_THREADS)
}

/// How `trials` runs of the built-in trainer share the machine's `cores`: at most `jobs`
/// (default: the cores) at once, never more than there are trials, and the cores split
/// among them, so one run alone gets every core and many runs one each. Returns
/// `(runs at once, threads per run)`. E.g. 33 runs on 2 cores: 2 at once, 1 thread each;
/// 1 run: 2 threads.
///
/// ```
/// use lrsched_tools::cores::share;
/// assert_eq!(share(33, None, 2), (2, 1));
/// assert_eq!(share(1, None, 2), (1, 2));
/// ```
pub fn share(trials: usize, jobs: Option<usize>, cores: usize) -> (usize, usize) {
    let jobs = jobs.unwrap_or(cores).clamp(1, trials.max(1));
    (jobs, (cores / jobs).max(1))
}

/// Trials at once when each is a program of its own (a `--command`, or the built-in
/// trainer as a process): `jobs` if given, else the cores, at most `trials` when that is
/// known.
pub fn jobs(jobs: Option<usize>, trials: Option<usize>) -> usize {
    let n = jobs.unwrap_or_else(available);
    match trials {
        Some(t) if jobs.is_none() => n.min(t.max(1)),
        _ => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_are_shared_among_the_runs() {
        assert_eq!(share(33, None, 2), (2, 1));
        assert_eq!(share(1, None, 2), (1, 2));
        assert_eq!(share(3, None, 8), (3, 2));
        assert_eq!(share(10, Some(4), 2), (4, 1));
        assert_eq!(share(0, None, 2), (1, 2));
    }

    #[test]
    fn threads_are_the_request_or_the_cores_within_the_cap() {
        assert_eq!(threads(Some(3)), 3);
        assert_eq!(threads(Some(0)), threads(None));
        assert_eq!(threads(Some(10_000)), MAX_THREADS);
        assert_eq!(jobs(Some(5), Some(2)), 5);
        assert!(jobs(None, Some(1)) == 1);
    }
}
