//! Reading and writing PyTorch scheduler configs.

use super::*;
use serde_json::{Map, Value};

// The one wording of a JSON value's kind in messages, the config reader's.
use crate::config::kind;

/// Turns serde's messages for a class's keyword arguments into typed errors; a negative
/// or fractional count reads as an invalid value of that key.
fn typed<T: serde::de::DeserializeOwned>(class: &str, body: Value) -> Result<T, ScheduleError> {
    let map = body.as_object().cloned().unwrap_or_default();
    crate::config::typed::<T>(class, body).map_err(|e| match e {
        ScheduleError::Invalid { path, message } => {
            let key = path
                .strip_prefix(class)
                .unwrap_or(&path)
                .trim_start_matches('.')
                .split(['.', '['])
                .next()
                .unwrap_or("")
                .to_string();
            let int_like = message.contains("u64") || message.contains("integer");
            match map.get(&key) {
                Some(v) if int_like && v.is_number() => {
                    ScheduleError::invalid(class, &key, v, count_rule(class, &key))
                }
                Some(v) => ScheduleError::Invalid {
                    path,
                    message: format!("{message} (found {})", kind(v)),
                },
                None => ScheduleError::Invalid { path, message },
            }
        }
        other => other,
    })
}

/// The rule of an integer key, as its class's `validate` states it, so a fractional or
/// negative value is refused with the same words as an out-of-range integer (`T_mult =
/// 0.5` and `T_mult = 0` both "an integer >= 1", as PyTorch's one check says).
fn count_rule(class: &str, key: &str) -> &'static str {
    const AT_LEAST_ONE: &[(&str, &str)] = &[
        ("CosineAnnealingLR", "T_max"),
        ("CosineAnnealingWarmRestarts", "T_0"),
        ("CosineAnnealingWarmRestarts", "T_mult"),
        ("CyclicLR", "step_size_up"),
        ("LinearLR", "total_iters"),
        ("OneCycleLR", "total_steps"),
        ("OneCycleLR", "epochs"),
        ("OneCycleLR", "steps_per_epoch"),
        ("PolynomialLR", "total_iters"),
        ("StepLR", "step_size"),
    ];
    if AT_LEAST_ONE.contains(&(class, key)) {
        "an integer >= 1"
    } else {
        "an integer >= 0"
    }
}

fn per_group(class: &str, key: &str, v: &Value) -> Result<Vec<f64>, ScheduleError> {
    let bad = || {
        ScheduleError::invalid(
            class,
            key,
            v,
            "a number, or a non-empty list of numbers (one per param group)",
        )
    };
    match v {
        Value::Number(n) => n.as_f64().map(|x| vec![x]).ok_or_else(bad),
        Value::Array(items) if !items.is_empty() => {
            items.iter().map(|x| x.as_f64().ok_or_else(bad)).collect()
        }
        _ => Err(bad()),
    }
}

impl TorchSchedule {
    /// Reads a config object (with its `type`): the class's keyword arguments, `lr` and
    /// `momentum`. Unknown keys are errors that suggest the nearest allowed key.
    pub fn from_value(v: &Value) -> Result<Self, ScheduleError> {
        parse(v, false, "")
    }

    /// Writes the config object (`type`, `lr`, `momentum`, then the class's arguments).
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), Value::String(self.class_name().into()));
        match self.lr.as_slice() {
            [] => {}
            [one] => {
                out.insert("lr".into(), Value::from(*one));
            }
            many => {
                out.insert("lr".into(), Value::from(many.to_vec()));
            }
        }
        if let Some(m) = &self.momentum {
            if let Ok(v) = serde_json::to_value(m) {
                out.insert("momentum".into(), v);
            }
        }
        let params = match &self.class {
            TorchClass::LambdaLR(c) => serde_json::to_value(c),
            TorchClass::MultiplicativeLR(c) => serde_json::to_value(c),
            TorchClass::StepLR(c) => serde_json::to_value(c),
            TorchClass::MultiStepLR(c) => serde_json::to_value(c),
            TorchClass::ConstantLR(c) => serde_json::to_value(c),
            TorchClass::LinearLR(c) => serde_json::to_value(c),
            TorchClass::ExponentialLR(c) => serde_json::to_value(c),
            TorchClass::PolynomialLR(c) => serde_json::to_value(c),
            TorchClass::CosineAnnealingLR(c) => serde_json::to_value(c),
            TorchClass::CosineAnnealingWarmRestarts(c) => serde_json::to_value(c),
            TorchClass::CyclicLR(c) => serde_json::to_value(c),
            TorchClass::OneCycleLR(c) => serde_json::to_value(c),
            TorchClass::ReduceLROnPlateau(c) => serde_json::to_value(c),
            TorchClass::SequentialLR(c) => {
                let subs: Vec<Value> = c.schedulers.iter().map(|s| s.to_value()).collect();
                Ok(serde_json::json!({"schedulers": subs, "milestones": c.milestones}))
            }
            TorchClass::ChainedScheduler(c) => {
                let subs: Vec<Value> = c.schedulers.iter().map(|s| s.to_value()).collect();
                Ok(serde_json::json!({ "schedulers": subs }))
            }
        };
        if let Ok(Value::Object(fields)) = params {
            out.extend(fields);
        }
        Value::Object(out)
    }
}

fn parse(v: &Value, nested: bool, path: &str) -> Result<TorchSchedule, ScheduleError> {
    let Value::Object(map) = v else {
        return Err(ScheduleError::Invalid {
            path: path.to_string(),
            message: format!(
                "a scheduler must be an object with a `type` key, found {}",
                kind(v)
            ),
        });
    };
    let name = match map.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(ScheduleError::Invalid {
                path: format!("{path}type"),
                message: format!("`type` must be a string, found {}", kind(other)),
            })
        }
        None => {
            return Err(ScheduleError::MissingKey {
                schedule: if path.is_empty() {
                    "schedule".into()
                } else {
                    path.to_string()
                },
                key: "type".into(),
            })
        }
    };
    let Some(&class) = CLASS_NAMES.iter().find(|c| **c == name) else {
        return Err(ScheduleError::UnknownType {
            name: name.to_string(),
            suggestion: suggest(name, CLASS_NAMES.iter().copied()),
        });
    };
    // Unknown keys first, so a typo is reported as such rather than as a missing key.
    let own = class_keys(class);
    for key in map.keys() {
        let top = !nested && (key == "lr" || key == "momentum");
        if key != "type" && !top && !own.contains(&key.as_str()) {
            if nested && (key == "lr" || key == "momentum") {
                return Err(ScheduleError::Invalid {
                    path: format!("{path}{key}"),
                    message: format!(
                        "sub-schedulers share the outer optimizer: give `{key}` on the outer config only"
                    ),
                });
            }
            return Err(unknown_key(class, key, nested));
        }
    }
    let lr = match map.get("lr") {
        Some(v) => per_group(class, "lr", v)?,
        None if nested => Vec::new(),
        // CyclicLR and OneCycleLR overwrite the optimizer's lr: SGD's default will do.
        None if matches!(class, "CyclicLR" | "OneCycleLR") => vec![DEFAULT_LR],
        None => {
            return Err(ScheduleError::MissingKey {
                schedule: class.into(),
                key: "lr".into(),
            })
        }
    };
    let momentum = match map.get("momentum") {
        Some(v) => Some(match per_group(class, "momentum", v)?.as_slice() {
            [one] if v.is_number() => PerGroup::One(*one),
            many => PerGroup::Each(many.to_vec()),
        }),
        None => None,
    };
    let mut body: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "lr" | "momentum"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let subs = |body: &mut Map<String, Value>| -> Result<Vec<TorchSchedule>, ScheduleError> {
        match body.remove("schedulers") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| parse(item, true, &format!("{path}schedulers[{i}].")))
                .collect(),
            Some(other) => Err(ScheduleError::Invalid {
                path: format!("{path}schedulers"),
                message: format!(
                    "`schedulers` must be a list of scheduler configs, found {}",
                    kind(&other)
                ),
            }),
            None => Err(ScheduleError::MissingKey {
                schedule: class.into(),
                key: "schedulers".into(),
            }),
        }
    };
    let b = Value::Object(body.clone());
    let class = match class {
        "LambdaLR" => TorchClass::LambdaLR(typed(class, b)?),
        "MultiplicativeLR" => TorchClass::MultiplicativeLR(typed(class, b)?),
        "StepLR" => TorchClass::StepLR(typed(class, b)?),
        "MultiStepLR" => TorchClass::MultiStepLR(typed(class, b)?),
        "ConstantLR" => TorchClass::ConstantLR(typed(class, b)?),
        "LinearLR" => TorchClass::LinearLR(typed(class, b)?),
        "ExponentialLR" => TorchClass::ExponentialLR(typed(class, b)?),
        "PolynomialLR" => TorchClass::PolynomialLR(typed(class, b)?),
        "CosineAnnealingLR" => TorchClass::CosineAnnealingLR(typed(class, b)?),
        "CosineAnnealingWarmRestarts" => TorchClass::CosineAnnealingWarmRestarts(typed(class, b)?),
        "CyclicLR" => TorchClass::CyclicLR(typed(class, b)?),
        "OneCycleLR" => TorchClass::OneCycleLR(typed(class, b)?),
        "ReduceLROnPlateau" => TorchClass::ReduceLROnPlateau(typed(class, b)?),
        "SequentialLR" => {
            let schedulers = subs(&mut body)?;
            let milestones = match body.remove("milestones") {
                Some(v) => serde_json::from_value::<Vec<u64>>(v.clone()).map_err(|_| {
                    ScheduleError::invalid(class, "milestones", &v, "a list of integers >= 0")
                })?,
                None => {
                    return Err(ScheduleError::MissingKey {
                        schedule: class.into(),
                        key: "milestones".into(),
                    })
                }
            };
            TorchClass::SequentialLR(SequentialLR::new(schedulers, milestones))
        }
        _ => TorchClass::ChainedScheduler(ChainedScheduler::new(subs(&mut body)?)),
    };
    Ok(TorchSchedule {
        lr,
        momentum,
        class,
        run: Box::default(),
    })
}

#[cfg(feature = "serde")]
impl serde::Serialize for TorchSchedule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TorchSchedule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        TorchSchedule::from_value(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips() {
        for v in [
            json!({"type": "StepLR", "lr": 0.1, "step_size": 30, "gamma": 0.1}),
            json!({"type": "LambdaLR", "lr": [0.1, 0.2], "lr_lambda": ["0.95 ** epoch", 0.5]}),
            json!({"type": "CyclicLR", "lr": 0.1, "momentum": 0.9, "base_lr": 0.1, "max_lr": [1.0],
                   "step_size_up": 3, "mode": "exp_range", "gamma": 0.9}),
            json!({"type": "SequentialLR", "lr": 1.0, "milestones": [2],
                   "schedulers": [{"type": "ConstantLR"}, {"type": "ExponentialLR", "gamma": 0.5}]}),
            json!({"type": "ReduceLROnPlateau", "lr": 1.0, "min_lr": [0.1]}),
        ] {
            let s = TorchSchedule::from_value(&v).unwrap();
            let back = TorchSchedule::from_value(&s.to_value()).unwrap();
            assert_eq!(s, back, "{v}");
        }
    }

    #[test]
    fn unknown_key_suggests() {
        let e = TorchSchedule::from_value(&json!({"type": "StepLR", "lr": 0.1, "step_sise": 3}))
            .unwrap_err();
        match e {
            ScheduleError::UnknownKey {
                suggestion,
                allowed,
                ..
            } => {
                assert_eq!(suggestion.as_deref(), Some("step_size"));
                assert!(allowed.contains(&"lr".to_string()));
            }
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn missing_and_wrong_types() {
        let e = TorchSchedule::from_value(&json!({"type": "StepLR", "lr": 0.1})).unwrap_err();
        assert!(
            matches!(e, ScheduleError::MissingKey { ref key, .. } if key == "step_size"),
            "{e:?}"
        );
        let e = TorchSchedule::from_value(&json!({"type": "StepLR", "step_size": 3})).unwrap_err();
        assert!(
            matches!(e, ScheduleError::MissingKey { ref key, .. } if key == "lr"),
            "{e:?}"
        );
        let e = TorchSchedule::from_value(&json!({"type": "StepLR", "lr": 0.1, "step_size": -3}))
            .unwrap_err();
        assert!(
            matches!(e, ScheduleError::InvalidValue { ref key, .. } if key == "step_size"),
            "{e:?}"
        );
        let e = TorchSchedule::from_value(&json!({"type": "StepLR", "lr": 0.1, "step_size": "x"}))
            .unwrap_err();
        assert!(e.to_string().contains("step_size"), "{e}");
        let e = TorchSchedule::from_value(
            &json!({"type": "LambdaLR", "lr": 0.1, "lr_lambda": "1 +* epoch"}),
        )
        .unwrap_err();
        assert!(e.to_string().contains("column 4"), "{e}");
        let e = TorchSchedule::from_value(&json!({"type": "ChainedScheduler", "lr": 0.1,
            "schedulers": [{"type": "StepLR", "lr": 0.1, "step_size": 2}]}))
        .unwrap_err();
        assert!(e.to_string().contains("outer"), "{e}");
    }
}
