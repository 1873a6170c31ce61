//! `lrsched_rs._lrsched`: the extension module behind the `lrsched` Python package.
//!
//! A thin layer over the `lrsched` crate: every schedule, every config form, every error
//! message is the crate's own. Python sees [`PySchedule`] (`lrsched_rs.Schedule`), the
//! catalog, conversions, a driver the PyTorch scheduler steps, and the trial protocol.
//! The Python package (`python/lrsched_rs/`) adds the PyTorch subclass and the trial helpers
//! on top. Errors raise `lrsched_rs.ScheduleError`, a `ValueError`, with the message the
//! CLI prints.
//!
//! The functions the module is built from are plain Rust too, so the crate's own tests
//! check the conversions between Python values and configs without a Python package:
//!
//! ```
//! use _lrsched::load_text;
//! let (s, interval) = load_text("StepLR(lr=0.1, step_size=2)", None).unwrap();
//! assert_eq!(lrsched::Schedule::value(&s, 2), 0.1 * 0.1);
//! assert_eq!(interval, lrsched::Interval::Epoch);
//! ```
//!
//! Modules: [`schedule`] (`Schedule`, conversions, the catalog, config text), [`driver`]
//! (the driver and PyTorch's scheduler the torch wrapper steps), [`trial`] (the trial
//! protocol), and the readers of Python arguments and values, [`args`] and [`values`].

mod args;
mod driver;
mod schedule;
mod trial;
mod values;

pub use driver::{PyDriver, PyTorchSim};
pub use schedule::{load_text, text_config, PyConversion, PySchedule};
pub use trial::{PyMetrics, PyTrial};

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The most values [`PySchedule::values`] returns from one call: the most `lrsched trace
/// --steps` prints (`MAX_TRACE_STEPS` in `crates/lrsched-cli/src/main.rs`, private there,
/// so the number is stated again here). A billion float64s are 8 GB; more is a typo, and
/// a count past memory used to abort the interpreter.
pub const MAX_VALUES: u64 = 1_000_000_000;

/// The most steps a run's shape may have, per epoch and in all (epochs x steps per
/// epoch): durations (`"3ep"`, `"10%"`) are resolved in floating point, exact up to 2^53
/// steps; past that a duration would be rounded or clamped, not resolved.
pub const MAX_RUN_STEPS: u64 = 1 << 53;

/// The longest metrics line the trial protocol reads, newline included: lrsched's reader
/// refuses longer ones, so the writer refuses them before writing anything.
pub use lrsched::trial::MAX_LINE_BYTES;

/// Why a step is at most `u64::MAX`, for [`int_arg`]'s message.
pub(crate) const STEP_RANGE: &str = " (steps are 64-bit counts)";

create_exception!(
    lrsched_rs,
    ScheduleError,
    PyValueError,
    "A schedule, config, state or trial that lrsched refuses.\n\n\
     The message is the one the `lrsched` command line prints: the key, the value, what is\n\
     allowed and, for a misspelling, the nearest spelling. A `ValueError`, so code that\n\
     catches `ValueError` catches it too.\n\n\
     >>> import lrsched_rs\n\
     >>> try:\n\
     ...     lrsched_rs.Schedule({\"type\": \"cosine\", \"lr\": 0.1, \"stepz\": 100})\n\
     ... except lrsched_rs.ScheduleError as e:\n\
     ...     print(\"did you mean `steps`\" in str(e))\n\
     True"
);

/// A `ScheduleError` with `e`'s text, every quoted part cut as the CLI cuts it
/// ([`lrsched::shorten`]).
pub(crate) fn err(e: impl std::fmt::Display) -> PyErr {
    ScheduleError::new_err(lrsched::shorten(&e.to_string()).into_owned())
}

#[pymodule]
fn _lrsched(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ScheduleError", m.py().get_type::<ScheduleError>())?;
    m.add_class::<PySchedule>()?;
    m.add_class::<PyConversion>()?;
    m.add_class::<PyDriver>()?;
    m.add_class::<PyTorchSim>()?;
    m.add_class::<PyTrial>()?;
    m.add_class::<PyMetrics>()?;
    m.add_function(wrap_pyfunction!(schedule::catalog_list, m)?)?;
    m.add_function(wrap_pyfunction!(schedule::parse_config, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
