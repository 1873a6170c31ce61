//! Test helpers the families' and combinators' unit tests share.

use crate::{AnySchedule, Schedule};

/// Each `(schedule, key)` fails validation with a message naming `key`, and still gives
/// a value at step 0 and at `u64::MAX` (an invalid schedule never panics).
pub(crate) fn rejects<S: Schedule>(cases: impl IntoIterator<Item = (S, &'static str)>) {
    for (s, key) in cases {
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains(key), "{e}");
        let _ = s.value(0);
        let _ = s.value(u64::MAX);
    }
}

/// Each schedule reads back from its config as it was (without `serde`, only the
/// conversion to `AnySchedule` is exercised).
pub(crate) fn round_trips<S: Into<AnySchedule>>(schedules: impl IntoIterator<Item = S>) {
    for s in schedules {
        let s: AnySchedule = s.into();
        #[cfg(feature = "serde")]
        {
            let v = crate::config::to_value(&s);
            assert_eq!(crate::config::from_value(v).unwrap(), s);
        }
        #[cfg(not(feature = "serde"))]
        let _ = s;
    }
}
