//! A schedule's loss curve predicted before it is run, from one to three finished runs.
//!
//! Two laws describe a run's training loss as a function of its learning-rate schedule
//! (formulas and sources in `docs/predict.md`):
//!
//! - [`Law::Annealing`], Tissue et al. 2024 ("Scaling law with learning rate annealing",
//!   arXiv 2408.11029): `L(s) = L0 + A * S1^-alpha - C * S2`, `S1` the area under the rate,
//!   `S2` the annealing area, a momentum sum of the rate's decreases with decay `lambda`.
//! - [`Law::MultiPower`], Luo et al. 2025 ("A multi-power law for loss curve prediction
//!   across learning rate schedules", arXiv 2503.12811): `L(t) = L0 + A * S1^-alpha - B * LD(t)`,
//!   each decrease of the rate bringing a loss drop that saturates as a power law.
//!
//! [`fit`] fits a law to observed runs (their exact rate at every step and their losses) by
//! Levenberg-Marquardt on log losses; [`Fit::curve`] and [`Fit::final_loss`] predict any
//! other rate sequence; [`bootstrap`] gives the prediction's interval from the fit's
//! uncertainty, and [`Fit::quality`] says when a fit should not be trusted.
//!
//! ```
//! use lrsched_predict::{fit, Law, Run};
//! // Two synthetic runs of 400 steps that follow the annealing law exactly.
//! let truth = [0.5, 2.0, 0.4, 0.02, 0.99];
//! let constant = vec![0.1; 400];
//! let linear: Vec<f64> = (0..400).map(|s| 0.1 * (1.0 - s as f64 / 400.0)).collect();
//! let runs: Vec<Run> = [constant, linear]
//!     .into_iter()
//!     .map(|lrs| {
//!         let losses = Law::Annealing.evaluate(&truth, &lrs, &(0..400).collect::<Vec<_>>());
//!         Run::new("synthetic", lrs, (0..400).zip(losses).collect()).unwrap()
//!     })
//!     .collect();
//! let fitted = fit(Law::Annealing, &runs).unwrap();
//! let cosine: Vec<f64> = (0..400)
//!     .map(|s| 0.05 * (1.0 + (std::f64::consts::PI * s as f64 / 400.0).cos()))
//!     .collect();
//! let want = Law::Annealing.evaluate(&truth, &cosine, &(380..400).collect::<Vec<_>>());
//! let want = want.iter().sum::<f64>() / want.len() as f64;
//! assert!((fitted.final_loss(&cosine) - want).abs() / want < 1e-3);
//! ```
#![deny(missing_docs)]

mod accuracy;
mod error;
mod fitting;
mod interval;
mod law;
mod outcome;
mod run;

pub use accuracy::{median_relative_error, spearman};
pub use error::PredictError;
pub use fitting::{fit, Fit, Quality, SKIPPED_START};
pub use interval::{bootstrap, Interval};
pub use law::Law;
pub use outcome::{predict, Candidate, LawChoice, Outcome, Prediction, RunCheck};
pub use run::{Run, MAX_STEPS};
