//! [`AnySchedule`]: the one value type that every schedule, combinator and compatible
//! config becomes, so that any of them nests in any other and saves as a config.

use crate::*;

macro_rules! schedules {
    ($($variant:ident($ty:ty) = $name:literal,)*) => {
        /// Any schedule: a native family, a combinator or a PyTorch-compatible config.
        ///
        /// Combinators hold their children as `AnySchedule`, so trees of any shape can be
        /// built in code, read from a config and written back.
        ///
        /// ```
        /// use lrsched::{AnySchedule, Cosine, Schedule};
        /// let s: AnySchedule = Cosine::new(0.1, 100).into();
        /// assert_eq!(s.type_name(), "cosine");
        /// assert_eq!(s.value(100), 0.0);
        /// ```
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnySchedule {
            $(
                #[doc = concat!("`", $name, "`: see [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
            /// A `torch.optim.lr_scheduler` class, reproduced exactly.
            Torch(crate::torch::TorchSchedule),
        }

        $(
            impl From<$ty> for AnySchedule {
                fn from(s: $ty) -> Self {
                    AnySchedule::$variant(s)
                }
            }
        )*

        impl From<crate::torch::TorchSchedule> for AnySchedule {
            fn from(s: crate::torch::TorchSchedule) -> Self {
                AnySchedule::Torch(s)
            }
        }

        /// The `type` names of the native schedules and combinators, as configs spell them.
        pub const NATIVE_TYPES: &[&str] = &[$($name),*];

        impl AnySchedule {
            /// The config `type` of this schedule (`cosine`, `StepLR`, ...).
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(AnySchedule::$variant(_) => $name,)*
                    AnySchedule::Torch(t) => t.class_name(),
                }
            }

            fn inner(&self) -> &dyn Schedule {
                match self {
                    $(AnySchedule::$variant(s) => s,)*
                    AnySchedule::Torch(s) => s,
                }
            }

            fn inner_mut(&mut self) -> &mut dyn Schedule {
                match self {
                    $(AnySchedule::$variant(s) => s,)*
                    AnySchedule::Torch(s) => s,
                }
            }
        }

        #[cfg(feature = "serde")]
        pub(crate) fn native_from_value(
            name: &str,
            body: serde_json::Value,
        ) -> Option<Result<AnySchedule, ScheduleError>> {
            Some(match name {
                $($name => crate::config::typed::<$ty>(name, body).map(AnySchedule::$variant),)*
                _ => return None,
            })
        }

        #[cfg(feature = "serde")]
        pub(crate) fn native_to_value(s: &AnySchedule) -> serde_json::Value {
            match s {
                $(AnySchedule::$variant(x) => crate::config::tagged($name, x),)*
                AnySchedule::Torch(t) => t.to_value(),
            }
        }
    };
}

schedules! {
    Constant(Constant) = "constant",
    Step(StepDecay) = "step",
    MultiStep(MultiStep) = "multi_step",
    Exponential(Exponential) = "exponential",
    InverseTime(InverseTime) = "inverse_time",
    InverseSqrt(InverseSqrt) = "inverse_sqrt",
    Polynomial(Polynomial) = "polynomial",
    Linear(Linear) = "linear",
    Cosine(Cosine) = "cosine",
    Tanh(Tanh) = "tanh",
    WarmRestarts(WarmRestarts) = "warm_restarts",
    Cyclic(Cyclic) = "cyclic",
    OneCycle(OneCycle) = "one_cycle",
    Warmup(Warmup) = "warmup",
    Wsd(Wsd) = "wsd",
    Rex(Rex) = "rex",
    Noam(Noam) = "noam",
    Plateau(Plateau) = "plateau",
    Noise(Noise) = "noise",
    Join(Join) = "join",
    Product(Product) = "product",
    Scale(Scale) = "scale",
    Clamp(Clamp) = "clamp",
    Offset(Offset) = "offset",
    Repeat(Repeat) = "repeat",
    Stretch(Stretch) = "stretch",
    Cycles(Cycles) = "cycles",
}

impl Schedule for AnySchedule {
    fn value(&self, step: u64) -> f64 {
        self.inner().value(step)
    }
    fn validate(&self) -> Result<(), ScheduleError> {
        self.inner().validate()
    }
    fn len(&self) -> Option<u64> {
        self.inner().len()
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        self.inner().momentum(step)
    }
    fn observe(&mut self, step: u64, metric: f64) -> Result<(), ScheduleError> {
        self.inner_mut().observe(step, metric)
    }
    fn needs_metric(&self) -> bool {
        self.inner().needs_metric()
    }
    fn values(&self, steps: std::ops::Range<u64>) -> Vec<f64> {
        self.inner().values(steps)
    }
    fn momenta(&self, steps: std::ops::Range<u64>) -> Vec<Option<f64>> {
        self.inner().momenta(steps)
    }
    fn children(&self) -> Vec<&AnySchedule> {
        self.inner().children()
    }
    fn children_mut(&mut self) -> Vec<&mut AnySchedule> {
        self.inner_mut().children_mut()
    }
    #[cfg(feature = "serde")]
    fn save_state(&self, out: &mut Vec<serde_json::Value>) {
        self.inner().save_state(out)
    }
    #[cfg(feature = "serde")]
    fn load_state(
        &mut self,
        saved: &mut dyn Iterator<Item = serde_json::Value>,
    ) -> Result<(), ScheduleError> {
        self.inner_mut().load_state(saved)
    }
}
