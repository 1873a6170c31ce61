//! A small persistent thread pool for the fused path's steps: `threads - 1` helper threads
//! and the calling thread share the units of one job, claimed one by one from a counter.
//!
//! Why not rayon's pool: a training step of the MNIST recipe is ~0.4 ms of arithmetic in two
//! phases. Through rayon the caller (not a pool thread) hands each step to the pool and
//! sleeps, and the pool's own threads keep spinning after it, so that on a 2-core machine
//! three threads compete for two cores: measured, a second thread gained nothing at that
//! size. Here the caller works too, a helper spins briefly between jobs (the next step comes
//! within microseconds) and then sleeps, and no job allocates.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper spins for the next job before it sleeps.
const SPIN: Duration = Duration::from_micros(200);

/// `entry`: the job's generation above [`GEN_SHIFT`], a closed bit, and the helpers inside.
const CLOSED: u64 = 1 << 20;
const GEN_SHIFT: u32 = 21;
const INSIDE: u64 = CLOSED - 1;

/// A job: `f(unit, worker)` for units `0..n`, lifetime erased (valid while [`Pool::run`]
/// is inside, which waits for every helper that entered to leave).
#[derive(Clone, Copy)]
struct Job {
    f: *const (dyn Fn(usize, usize) + Sync),
    n: usize,
}

struct Shared {
    entry: AtomicU64,
    job: UnsafeCell<Job>,
    /// Per unit, the generation of the job that last claimed it: a unit is claimed by
    /// swapping in the current generation, so nothing is reset between jobs.
    claims: UnsafeCell<Vec<AtomicU64>>,
    threads: usize,
    panicked: AtomicBool,
    stop: AtomicBool,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by `run` while no helper is inside a job (see `run`), and
// read by helpers only while inside; the closure it points to is `Sync`.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

/// The pool; dropping it stops and joins its helpers.
pub(crate) struct Pool {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    /// One job at a time: a second caller (a clone of the model on another thread) runs
    /// its units inline instead.
    busy: Mutex<()>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool({} threads)", self.helpers.len() + 1)
    }
}

impl Pool {
    /// A pool of `threads` workers: the caller of [`Pool::run`] and `threads - 1` helpers.
    pub(crate) fn new(threads: usize) -> Pool {
        let noop: &'static (dyn Fn(usize, usize) + Sync) = &|_, _| {};
        let shared = Arc::new(Shared {
            entry: AtomicU64::new(CLOSED),
            job: UnsafeCell::new(Job { f: noop, n: 0 }),
            claims: UnsafeCell::new(Vec::new()),
            threads: threads.max(1),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let helpers = (1..threads.max(1))
            .map(|worker| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("lrsched-mlp-{worker}"))
                    .spawn(move || helper(&shared, worker))
                    .expect("spawning a training thread")
            })
            .collect();
        Pool {
            shared,
            helpers,
            busy: Mutex::new(()),
        }
    }

    /// Runs `f(unit, worker)` for every unit in `0..n`, each exactly once, on any of the
    /// workers (`worker` is below the thread count; the caller is worker 0), and returns
    /// when all are done.
    pub(crate) fn run(&self, n: usize, f: &(dyn Fn(usize, usize) + Sync)) {
        let Ok(_busy) = self.busy.try_lock() else {
            (0..n).for_each(|unit| f(unit, 0));
            return;
        };
        let s = &*self.shared;
        if self.helpers.is_empty() || n <= 1 {
            (0..n).for_each(|unit| f(unit, 0));
            return;
        }
        // SAFETY: no helper is inside a job (the last `run` waited for all to leave and
        // closed it), so nobody reads `job` now; the erased lifetime is sound because this
        // function does not return before every helper that entered has left.
        unsafe {
            let f: *const (dyn Fn(usize, usize) + Sync + '_) = f;
            *s.job.get() = Job {
                f: std::mem::transmute::<
                    *const (dyn Fn(usize, usize) + Sync + '_),
                    *const (dyn Fn(usize, usize) + Sync + 'static),
                >(f),
                n,
            };
        }
        let generation = (s.entry.load(Relaxed) >> GEN_SHIFT) + 1;
        // SAFETY: as for `job` above: no helper is inside, so none reads the claims.
        unsafe {
            let claims = &mut *s.claims.get();
            if claims.len() < n {
                claims.resize_with(n, || AtomicU64::new(0));
            }
        }
        s.entry.store(generation << GEN_SHIFT, SeqCst);
        if s.sleepers.load(SeqCst) > 0 {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        let work = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work_through(s, generation, n, 0, f)
        }));
        // Close the job to helpers not yet inside, then wait for those inside to leave.
        s.entry.fetch_or(CLOSED, SeqCst);
        // Spin (a helper's last unit ends within microseconds); yield only after a long
        // wait, for a machine where the helper waits for a core.
        let mut spins = 0u32;
        while s.entry.load(Acquire) & INSIDE != 0 {
            spins = spins.wrapping_add(1);
            if spins < 4096 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if let Err(e) = work {
            std::panic::resume_unwind(e);
        }
        if s.panicked.swap(false, Relaxed) {
            panic!("a training thread panicked");
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let s = &*self.shared;
        s.stop.store(true, SeqCst);
        {
            let _guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Runs the units of job `generation` that this worker claims: first its own (unit `u`
/// belongs to worker `u % threads`, so the same unit lands on the same thread step after
/// step and its data stays in that core's cache: the first layer's weights are read,
/// differentiated and updated by unit `b` of three jobs; measured with benches/epoch.rs on
/// 784-128-10, the 2-thread update went from 0.056 to 0.016 s per epoch once those weights
/// stayed on one core), then any another worker has not taken (a helper still asleep).
fn work_through(
    s: &Shared,
    generation: u64,
    n: usize,
    worker: usize,
    f: &(dyn Fn(usize, usize) + Sync),
) {
    // SAFETY: the claims are resized only while no worker is inside a job.
    let claims = unsafe { &*s.claims.get() };
    let mut claim = |unit: usize| {
        if claims[unit].load(Relaxed) != generation
            && claims[unit].swap(generation, AcqRel) != generation
        {
            f(unit, worker);
        }
    };
    (worker..n).step_by(s.threads).for_each(&mut claim);
    (0..n).for_each(claim);
}

fn helper(s: &Shared, worker: usize) {
    let mut seen = 0u64;
    loop {
        // Wait for a new generation: spin a little, then sleep.
        let start = Instant::now();
        let mut spins = 0u32;
        let current = loop {
            let e = s.entry.load(SeqCst);
            if s.stop.load(Relaxed) {
                return;
            }
            if e >> GEN_SHIFT != seen && e & CLOSED == 0 {
                break e;
            }
            spins += 1;
            // Spin without system calls (a `sched_yield` per turn cost the caller's
            // serial work twice its time on 2 threads: measured, the update 0.057 s per
            // epoch alone, 0.110 s beside a yielding helper), reading the clock only
            // every 64 turns.
            if !spins.is_multiple_of(64) || start.elapsed() < SPIN {
                std::hint::spin_loop();
                continue;
            }
            s.sleepers.fetch_add(1, SeqCst);
            let mut guard = s.lock.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let e = s.entry.load(SeqCst);
                if s.stop.load(SeqCst) || (e >> GEN_SHIFT != seen && e & CLOSED == 0) {
                    break;
                }
                guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            drop(guard);
            s.sleepers.fetch_sub(1, SeqCst);
            spins = 0;
        };
        seen = current >> GEN_SHIFT;
        // Enter unless the job closed (or a newer one started) meanwhile.
        let mut e = current;
        let entered = loop {
            if e >> GEN_SHIFT != seen || e & CLOSED != 0 {
                break false;
            }
            match s.entry.compare_exchange_weak(e, e + 1, AcqRel, Acquire) {
                Ok(_) => break true,
                Err(now) => e = now,
            }
        };
        if !entered {
            continue;
        }
        // SAFETY: inside the job, `run` keeps `job` and the closure alive.
        let job = unsafe { *s.job.get() };
        let f = unsafe { &*job.f };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work_through(s, seen, job.n, worker, f)
        }));
        if result.is_err() {
            s.panicked.store(true, Relaxed);
        }
        s.entry.fetch_sub(1, Release);
    }
}
