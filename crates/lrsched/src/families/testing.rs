//! Test helpers the families' and combinators' unit tests share.

use crate::{AnySchedule, Schedule};

/// Each `(schedule, key)` fails validation with a message naming `key`, and still gives
/// a value at the steps the families' tests probe, `u64::MAX` included (an invalid
/// schedule never panics).
pub(crate) fn rejects<S: Schedule>(cases: impl IntoIterator<Item = (S, &'static str)>) {
    for (s, key) in cases {
        let e = s.validate().unwrap_err();
        assert!(e.to_string().contains(key), "{e}");
        for t in [0, 3, 4, 5, 10, 11, 20, 21, u64::MAX] {
            let _ = s.value(t);
        }
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
