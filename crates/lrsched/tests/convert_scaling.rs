//! `convert` is linear in the size of the config (issue 19, item 8): a join of 100k parts
//! took 8 s and one of 400k parts over 120 s, because the PyTorch replay scanned every
//! sub-scheduler at every step and the `lr_lambda` of a join was rebuilt from the whole
//! expression so far once per part.
//!
//! Two measures, each comparing a config with ten times as many parts as another:
//! the bytes allocated (deterministic: a quadratic string build allocates ~100x as much),
//! and the time (loose, for the work that allocates nothing: linear is ~10x, quadratic
//! ~100x; the bound is 30x).
#![cfg(feature = "serde")]

use lrsched::convert::{convert, Target};
use lrsched::{AnySchedule, Constant, Cosine, Join, MultiStep};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes each thread asks for: tests run on their own
/// threads, so one test's count is its own.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: a thread being torn down has no counter left, and needs none.
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size() as u64));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + new_size as u64));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Bytes allocated and time taken by one conversion (the best time of `tries`).
fn cost(s: &AnySchedule, to: Target, tries: usize) -> (u64, Duration) {
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..tries {
        let before = ALLOCATED.with(Cell::get);
        let t = Instant::now();
        let r = convert(s, to);
        best = best.min(t.elapsed());
        bytes = ALLOCATED.with(Cell::get) - before;
        drop(r);
    }
    (bytes, best)
}

/// `n` parts two steps each. `same`: constants of one rate (PyTorch's form is a
/// `SequentialLR` of n classes); otherwise rates that all differ (a `LambdaLR` whose
/// expression has n branches, which PyTorch's reader then refuses as too long).
fn join(n: usize, kind: &str) -> AnySchedule {
    let parts: Vec<AnySchedule> = (0..n)
        .map(|i| match kind {
            "same" => Constant::new(0.1).into(),
            "cosine" => Cosine::new(0.1, 2).into(),
            _ => Constant::new(0.1 + i as f64 * 1e-7).into(),
        })
        .collect();
    Join::new(parts, (1..n as u64).map(|i| 2 * i).collect()).into()
}

fn multi_step(n: usize) -> AnySchedule {
    MultiStep::new(0.1, (1..=n as u64).map(|i| 3 * i).collect())
        .with_gamma(0.999)
        .into()
}

/// Ten times the parts must cost at most 20 times the bytes and 30 times the time.
fn assert_linear(name: &str, small: &AnySchedule, large: &AnySchedule, to: Target) {
    // A first conversion of each warms caches and the allocator (a cold one also pays
    // for the pages it is the first to touch), then the best of three.
    let _ = cost(small, to, 1);
    let _ = cost(large, to, 1);
    let (b1, t1) = cost(small, to, 3);
    let (b10, t10) = cost(large, to, 3);
    let bytes = b10 as f64 / b1.max(1) as f64;
    assert!(
        bytes < 20.0,
        "{name} to {to}: 10x the parts allocated {bytes:.1}x the bytes ({b1} -> {b10})"
    );
    // The time of a fast conversion is mostly noise: compare only above a floor.
    let floor = Duration::from_millis(10);
    let time = t10.as_secs_f64() / t1.max(floor).as_secs_f64();
    assert!(
        time < 30.0,
        "{name} to {to}: 10x the parts took {time:.1}x the time ({t1:?} -> {t10:?})"
    );
}

#[test]
fn a_join_of_many_parts_converts_in_linear_time_to_every_target() {
    for kind in ["same", "differ", "cosine"] {
        let (small, large) = (join(1_000, kind), join(10_000, kind));
        for to in Target::ALL {
            assert_linear(&format!("join of {kind}"), &small, &large, to);
        }
    }
}

#[test]
fn many_milestones_convert_in_linear_time() {
    let (small, large) = (multi_step(1_000), multi_step(10_000));
    for to in Target::ALL {
        assert_linear("multi_step", &small, &large, to);
    }
}

#[test]
fn a_large_join_still_converts_exactly() {
    // The golden tests cover the forms; this covers their size.
    let s = join(5_000, "same");
    let c = convert(&s, Target::Torch).unwrap();
    assert!(c.exact, "{:?}", c.notes);
    assert_eq!(c.config["type"], "SequentialLR");
    let c = convert(&s, Target::Optax).unwrap();
    assert!(c.exact, "{:?}", c.notes);
    let c = convert(&s, Target::Keras).unwrap();
    assert!(c.exact, "{:?}", c.notes);
}
