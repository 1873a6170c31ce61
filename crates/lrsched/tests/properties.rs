//! Property tests of the invariants every schedule keeps: finite, non-negative, within its
//! declared bounds, continuous where its formula is, and the one-line form round-trips.
#![cfg(feature = "serde")]

use lrsched::{oneline, AnySchedule, Schedule};
use proptest::prelude::*;

/// A valid schedule in the one-line form with the bounds its values must stay within.
#[derive(Debug, Clone)]
struct Case {
    text: String,
    lo: f64,
    hi: f64,
}

fn case(text: String, lo: f64, hi: f64) -> Case {
    Case { text, lo, hi }
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), 1e-6..1.0f64, Just(1.0)]
}

fn steps() -> impl Strategy<Value = u64> {
    prop_oneof![Just(1u64), 1..50u64, 1..100_000u64]
}

fn after_end() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("hold"), Just("continue"), Just("restart")]
}

/// Leaf families with exact bounds.
fn leaf() -> impl Strategy<Value = Case> {
    prop_oneof![
        rate().prop_map(|lr| case(format!("constant(lr={lr:?})"), lr, lr)),
        (rate(), steps(), 1e-3..1.0f64).prop_map(|(lr, s, g)| case(
            format!("step(lr={lr:?}, step_size={s}, gamma={g:?})"),
            0.0,
            lr
        )),
        (rate(), prop::collection::vec(0..1000u64, 0..6), 1e-3..1.0f64).prop_map(
            |(lr, mut m, g)| {
                m.sort();
                case(
                    format!("multi_step(lr={lr:?}, milestones={m:?}, gamma={g:?})"),
                    0.0,
                    lr,
                )
            }
        ),
        (rate(), 0.5..1.0f64, any::<bool>(), 1..100u64, rate()).prop_map(
            |(lr, g, stair, ts, floor)| {
                let floor = floor.min(lr);
                case(
                    format!("exponential(lr={lr:?}, gamma={g:?}, staircase={stair}, transition_steps={ts}, min_lr={floor:?})"),
                    floor,
                    lr,
                )
            }
        ),
        (rate(), 0.0..10.0f64).prop_map(|(lr, k)| case(
            format!("inverse_time(lr={lr:?}, k={k:?})"),
            0.0,
            lr
        )),
        (rate(), 0.0..10.0f64).prop_map(|(lr, k)| case(
            format!("inverse_sqrt(lr={lr:?}, k={k:?})"),
            0.0,
            lr
        )),
        (rate(), rate(), steps(), 0.1..4.0f64, after_end()).prop_map(|(a, b, s, e, ae)| {
            let (hi, lo) = (a.max(b), a.min(b));
            case(
                format!("cosine(lr={hi:?}, min_lr={lo:?}, steps={s}, exponent={e:?}, after_end={ae})"),
                lo,
                hi,
            )
        }),
        (rate(), rate(), steps(), 0.1..4.0f64, any::<bool>()).prop_map(|(a, b, s, p, c)| {
            let (hi, lo) = (a.max(b), a.min(b));
            case(
                format!("polynomial(lr={hi:?}, end_lr={lo:?}, steps={s}, power={p:?}, cycle={c})"),
                lo,
                hi,
            )
        }),
        // A rising line continued past its end leaves its bounds by design.
        (rate(), rate(), steps(), prop_oneof![Just("hold"), Just("restart")]).prop_map(|(a, b, s, ae)| case(
            format!("linear(start_lr={a:?}, end_lr={b:?}, steps={s}, after_end={ae})"),
            a.min(b),
            a.max(b)
        )),
        (rate(), rate(), steps(), prop_oneof![Just("triangular"), Just("triangular2"), Just("exp_range")], 0.9..1.0f64)
            .prop_map(|(a, b, s, mode, g)| case(
                format!("cyclic(base_lr={:?}, max_lr={:?}, step_size_up={s}, mode={mode}, gamma={g:?})", a.min(b), a.max(b)),
                a.min(b),
                a.max(b)
            )),
        (1e-4..1.0f64, 2..10_000u64, 0.05..0.95f64, any::<bool>(), prop_oneof![Just("cos"), Just("linear")])
            .prop_map(|(lr, s, pct, three, anneal)| case(
                format!("one_cycle(max_lr={lr:?}, total_steps={s}, pct_start={pct:?}, three_phase={three}, anneal_strategy={anneal})"),
                0.0,
                lr
            )),
    ]
}

/// Leaves, and combinators over them, with bounds that follow from their children's.
fn tree() -> impl Strategy<Value = Case> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                steps(),
                rate(),
                prop_oneof![Just("linear"), Just("cosine")]
            )
                .prop_map(|(c, s, start, shape)| {
                    let start = start.min(c.lo);
                    case(
                        format!(
                            "warmup(steps={s}, start_lr={start:?}, shape={shape}, schedule={})",
                            c.text
                        ),
                        start.min(c.lo),
                        c.hi,
                    )
                }),
            (inner.clone(), inner.clone(), 0..1000u64, any::<bool>()).prop_map(
                |(a, b, at, global)| {
                    let time = if global { "global" } else { "local" };
                    case(
                        format!(
                            "join(schedules=[{}, {}], boundaries=[{at}], time={time})",
                            a.text, b.text
                        ),
                        a.lo.min(b.lo),
                        a.hi.max(b.hi),
                    )
                }
            ),
            (inner.clone(), 0.0..2.0f64).prop_map(|(c, f)| case(
                format!("scale(schedule={}, factor={f:?})", c.text),
                c.lo * f,
                c.hi * f
            )),
            (inner.clone(), -1000..1000i64).prop_map(|(c, shift)| case(
                format!("offset(schedule={}, shift={shift})", c.text),
                c.lo,
                c.hi
            )),
            (inner.clone(), 1..500u64, 1..5u64).prop_map(|(c, p, n)| case(
                format!("repeat(schedule={}, period={p}, times={n})", c.text),
                c.lo,
                c.hi
            )),
            (inner.clone(), 0.1..10.0f64).prop_map(|(c, r)| case(
                format!("stretch(schedule={}, ratio={r:?})", c.text),
                c.lo,
                c.hi
            )),
            (inner.clone(), rate(), rate()).prop_map(|(c, a, b)| {
                let (lo, hi) = (a.min(b), a.max(b));
                case(
                    format!("clamp(schedule={}, min={lo:?}, max={hi:?})", c.text),
                    lo,
                    hi,
                )
            }),
            (inner.clone(), inner).prop_map(|(a, b)| case(
                format!("product(schedules=[{}, {}])", a.text, b.text),
                a.lo * b.lo,
                a.hi * b.hi
            )),
        ]
    })
}

fn probe_steps(s: &AnySchedule, extra: u64) -> Vec<u64> {
    let mut steps = vec![0, 1, 2, extra, 1_000_000_000, u64::MAX / 2, u64::MAX];
    if let Some(len) = s.len() {
        steps.extend([len.saturating_sub(1), len, len.saturating_add(1)]);
    }
    steps
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn values_are_finite_non_negative_and_within_bounds(c in tree(), extra in 0..200_000u64) {
        let s = oneline::parse(&c.text).map_err(|e| TestCaseError::fail(format!("{}: {e}", c.text)))?;
        let slack = 1e-12 * c.hi.abs().max(1.0);
        for step in probe_steps(&s, extra) {
            let v = s.value(step);
            prop_assert!(v.is_finite() && v >= 0.0, "{}: value({step}) = {v}", c.text);
            prop_assert!(v >= c.lo - slack && v <= c.hi + slack,
                "{}: value({step}) = {v} outside [{}, {}]", c.text, c.lo, c.hi);
        }
    }

    #[test]
    fn the_one_line_form_round_trips(c in tree()) {
        let s = oneline::parse(&c.text).unwrap();
        let printed = oneline::print(&s);
        let back = oneline::parse(&printed)
            .map_err(|e| TestCaseError::fail(format!("{printed}: {e}")))?;
        prop_assert_eq!(&back, &s, "printed as {}", printed);
        prop_assert_eq!(oneline::print(&back), printed);
    }

    #[test]
    fn cosine_and_linear_move_no_faster_than_their_slope(
        a in rate(), b in rate(), steps in 1..10_000u64, t in 0..10_000u64
    ) {
        let (hi, lo) = (a.max(b), a.min(b));
        let cosine = oneline::parse(&format!("cosine(lr={hi:?}, min_lr={lo:?}, steps={steps})")).unwrap();
        let jump = (cosine.value(t + 1) - cosine.value(t)).abs();
        prop_assert!(jump <= (hi - lo) * std::f64::consts::FRAC_PI_2 / steps as f64 * (1.0 + 1e-9) + 1e-18);
        let linear = oneline::parse(&format!("linear(start_lr={a:?}, end_lr={b:?}, steps={steps})")).unwrap();
        let jump = (linear.value(t + 1) - linear.value(t)).abs();
        prop_assert!(jump <= (a - b).abs() / steps as f64 * (1.0 + 1e-9) + 1e-18);
    }
}
