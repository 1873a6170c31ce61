//! `LambdaLR`: the base lr times a function of the epoch.

use super::expr::Expr;
use super::sim::LeafState;
use crate::ScheduleError;

/// One `lr_lambda`: a Python expression in the epoch, or a constant factor.
#[derive(Debug, Clone, PartialEq)]
pub enum LrLambda {
    /// A constant (`lambda epoch: 0.95`).
    Factor(f64),
    /// An expression in one variable (`"0.95 ** epoch"`, `"lambda e: 1 / (e + 1)"`).
    Expr(Expr),
}

impl LrLambda {
    /// The factor at `epoch`; NaN where Python would raise.
    pub fn eval(&self, epoch: i64) -> f64 {
        match self {
            LrLambda::Factor(f) => *f,
            LrLambda::Expr(e) => e.eval(epoch as f64).unwrap_or(f64::NAN),
        }
    }
}

impl LrLambda {
    /// The factor, where it does not depend on the epoch.
    pub(crate) fn constant(&self) -> Option<f64> {
        match self {
            LrLambda::Factor(f) => Some(*f),
            LrLambda::Expr(e) if !e.uses_var() => Some(e.eval(0.0).unwrap_or(f64::NAN)),
            LrLambda::Expr(_) => None,
        }
    }
}

/// `lr_lambda`: one function for every param group, or one per group.
#[derive(Debug, Clone, PartialEq)]
pub enum Lambdas {
    /// The same function for every group.
    One(LrLambda),
    /// One function per group.
    Each(Vec<LrLambda>),
}

impl Lambdas {
    /// The function of group `i` (never panics: a short list repeats its last entry).
    pub fn get(&self, i: usize) -> LrLambda {
        match self {
            Lambdas::One(l) => l.clone(),
            Lambdas::Each(v) => v
                .get(i)
                .or(v.last())
                .cloned()
                .unwrap_or(LrLambda::Factor(f64::NAN)),
        }
    }

    /// The function of group `i` (as [`Lambdas::get`]), without a copy: a replay
    /// evaluates it at every step.
    pub(crate) fn at(&self, i: usize) -> &LrLambda {
        const NAN: LrLambda = LrLambda::Factor(f64::NAN);
        match self {
            Lambdas::One(l) => l,
            Lambdas::Each(v) => v.get(i).or(v.last()).unwrap_or(&NAN),
        }
    }

    /// Checks the list length and that each function gives a finite value >= 0 on the
    /// first epochs (an expression can only be spot-checked).
    pub(crate) fn check(&self, class: &str, groups: usize) -> Result<(), ScheduleError> {
        if let Lambdas::Each(v) = self {
            if v.len() != groups {
                return Err(ScheduleError::invalid(
                    class,
                    "lr_lambda",
                    format!("a list of {}", v.len()),
                    format!("one function, or a list of {groups} (one per param group)"),
                ));
            }
        }
        for i in 0..groups {
            let l = self.get(i);
            for epoch in 0..=100 {
                let v = match &l {
                    LrLambda::Factor(f) => Ok(*f),
                    LrLambda::Expr(e) => e.eval(epoch as f64),
                };
                match v {
                    Ok(v) if v.is_finite() && v >= 0.0 => {}
                    Ok(v) => {
                        return Err(ScheduleError::invalid(
                            class,
                            "lr_lambda",
                            describe(&l),
                            format!(
                            "a function giving a finite factor >= 0 (gives {} at epoch {epoch})",
                            crate::check::fmt(v)
                        ),
                        ))
                    }
                    Err(msg) => {
                        return Err(ScheduleError::invalid(
                            class,
                            "lr_lambda",
                            describe(&l),
                            format!("a function defined at every epoch ({msg} at epoch {epoch})"),
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

fn describe(l: &LrLambda) -> String {
    match l {
        LrLambda::Factor(f) => crate::check::fmt(*f),
        LrLambda::Expr(e) => format!("\"{}\"", e.source()),
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Str(String),
        List(Vec<Raw>),
    }

    fn one<E: serde::de::Error>(r: Raw) -> Result<LrLambda, E> {
        match r {
            Raw::Num(f) => Ok(LrLambda::Factor(f)),
            Raw::Str(s) => Expr::parse_any(&s)
                .map(LrLambda::Expr)
                .map_err(|e| E::custom(format!("invalid expression \"{s}\": {e}"))),
            Raw::List(_) => Err(E::custom(
                "expected a number or an expression string, found a nested list",
            )),
        }
    }

    impl<'de> Deserialize<'de> for Lambdas {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let raw = Raw::deserialize(d).map_err(|_| {
                serde::de::Error::custom(
                    "expected an expression string (e.g. \"0.95 ** epoch\"), a number, or a list of them",
                )
            })?;
            match raw {
                Raw::List(items) => items
                    .into_iter()
                    .map(one)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Lambdas::Each),
                r => one(r).map(Lambdas::One),
            }
        }
    }

    impl Serialize for LrLambda {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                LrLambda::Factor(f) => s.serialize_f64(*f),
                LrLambda::Expr(e) => e.serialize(s),
            }
        }
    }

    impl Serialize for Lambdas {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Lambdas::One(l) => l.serialize(s),
                Lambdas::Each(v) => v.serialize(s),
            }
        }
    }
}

/// `torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)`: `lr = base_lr *
/// lr_lambda(epoch)`, with `lr_lambda` a Python expression in one variable (see
/// [`super::expr`]) or a number, or a list of them (one per param group).
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use lrsched::{config, Schedule};
/// let s = config::from_json_str(
///     r#"{"type": "LambdaLR", "lr": 1.0, "lr_lambda": "min(1.0, (epoch + 1) / 4)"}"#).unwrap();
/// assert_eq!(s.values(0..5), vec![0.25, 0.5, 0.75, 1.0, 1.0]);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(deny_unknown_fields)
)]
pub struct LambdaLR {
    /// The factor as a function of the epoch.
    pub lr_lambda: Lambdas,
}

impl LambdaLR {
    /// `LambdaLR(lr_lambda)`.
    pub fn new(lr_lambda: Lambdas) -> Self {
        LambdaLR { lr_lambda }
    }
    pub(crate) fn check(&self, groups: usize) -> Result<(), ScheduleError> {
        self.lr_lambda.check("LambdaLR", groups)
    }
    pub(crate) fn get_lr(&self, st: &LeafState) -> Vec<f64> {
        st.base_lrs
            .iter()
            .enumerate()
            .map(|(i, b)| b * self.lr_lambda.at(i).eval(st.last_epoch))
            .collect()
    }
}
