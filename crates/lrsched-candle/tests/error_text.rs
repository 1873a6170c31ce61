//! A refused schedule reads as its message under `RUST_BACKTRACE=1`, in this crate's error
//! and in candle's after `?`: candle's `Error::wrap` appends a backtrace to the text then,
//! which buried the message a user needs (what to fix) under a stack of frames.
//!
//! The only test of its binary: it sets `RUST_BACKTRACE` before anything captures one.

use candle_nn::{Optimizer, SGD};
use lrsched::{Cosine, ScheduleError};
use lrsched_candle::{Error, Scheduled};

#[test]
fn a_bad_schedule_is_a_schedule_error_with_no_backtrace_in_its_text() {
    std::env::set_var("RUST_BACKTRACE", "1");
    // Backtraces are on: candle's own wrapping would append one (the premise of the test).
    let wrapped = candle_core::Error::wrap("x").to_string();
    assert!(wrapped.lines().count() > 1, "{wrapped}");

    let bad = Cosine::new(f64::NAN, 100);
    let e = Scheduled::new(SGD::new(vec![], 0.1).unwrap(), bad).unwrap_err();
    let Error(inner) = &e;
    assert!(
        matches!(inner, ScheduleError::InvalidValue { key, .. } if key == "lr"),
        "{inner:?}"
    );
    let text = e.to_string();
    assert_eq!(text, inner.to_string());
    assert!(
        !text.contains('\n') && !text.contains("backtrace"),
        "{text}"
    );

    // The same text after `?` into candle's error.
    fn candle_code() -> candle_core::Result<()> {
        Scheduled::new(SGD::new(vec![], 0.1)?, Cosine::new(f64::NAN, 100))?;
        Ok(())
    }
    let candle = candle_code().unwrap_err().to_string();
    assert_eq!(candle, text);
}
