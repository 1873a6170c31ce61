//! What a finite schedule does once its length has passed.

/// The policy of a schedule with a length for steps at or past that length.
///
/// Every family with a length takes an `after_end` key; the default is [`AfterEnd::Hold`].
///
/// ```
/// use lrsched::AfterEnd;
/// assert_eq!(AfterEnd::Hold.local_step(150, 100), 100);
/// assert_eq!(AfterEnd::Restart.local_step(150, 100), 50);
/// assert_eq!(AfterEnd::Continue.local_step(150, 100), 150);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum AfterEnd {
    /// Keep the value of the last step (`lr(len)`).
    #[default]
    Hold,
    /// Keep evaluating the formula past its length.
    Continue,
    /// Start again from step 0 every `len` steps.
    Restart,
}

impl AfterEnd {
    /// The step at which the formula is evaluated for global `step` under a length `len`.
    ///
    /// A zero length is treated as "already finished": `Hold` and `Restart` give 0.
    pub fn local_step(self, step: u64, len: u64) -> u64 {
        match self {
            AfterEnd::Hold => step.min(len),
            AfterEnd::Continue => step,
            AfterEnd::Restart => {
                if len == 0 {
                    0
                } else {
                    step % len
                }
            }
        }
    }

    /// `true` when `after_end` is the default, so configs can omit it.
    pub fn is_default(&self) -> bool {
        *self == AfterEnd::Hold
    }
}
