//! What network to build: sizes, activation, normalisation, dropout, initialisation.

use crate::data::Task;
use std::fmt;

/// A hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `x * Phi(x)` with the exact normal CDF, as PyTorch's default `nn.GELU()`.
    Gelu,
}

/// How the weights start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// PyTorch's `nn.Linear` default: weights and biases uniform in `±1/sqrt(fan_in)`.
    Torch,
    /// He (Kaiming) uniform: `±sqrt(6/fan_in)`, zero biases.
    HeUniform,
    /// He (Kaiming) normal: std `sqrt(2/fan_in)`, zero biases.
    HeNormal,
    /// Xavier (Glorot) uniform: `±sqrt(6/(fan_in+fan_out))`, zero biases.
    XavierUniform,
    /// Xavier (Glorot) normal: std `sqrt(2/(fan_in+fan_out))`, zero biases.
    XavierNormal,
}

/// The loss, fixed by the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Softmax cross-entropy over class logits (`nn.CrossEntropyLoss`).
    CrossEntropy,
    /// Binary cross-entropy on a sigmoid of one logit (`nn.BCEWithLogitsLoss`).
    BinaryCrossEntropy,
    /// Mean squared error (`nn.MSELoss`).
    Mse,
}

impl Loss {
    /// The loss a task is trained with.
    pub fn for_task(task: &Task) -> Loss {
        match task {
            Task::Classification { .. } => Loss::CrossEntropy,
            Task::BinaryClassification => Loss::BinaryCrossEntropy,
            Task::Regression => Loss::Mse,
        }
    }
}

/// A multi-layer perceptron: `sizes[0]` inputs, `sizes[last]` outputs, hidden layers
/// between, each hidden layer `Linear -> [BatchNorm] -> activation -> [Dropout]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    /// Layer widths, inputs first, outputs last.
    pub sizes: Vec<usize>,
    /// Hidden activation.
    pub activation: Activation,
    /// BatchNorm after each hidden linear layer.
    pub batch_norm: bool,
    /// Dropout probability after each hidden activation, in `[0, 1)`.
    pub dropout: f32,
    /// Weight initialisation.
    pub init: Init,
    /// The loss.
    pub loss: Loss,
}

/// A model spec that cannot be built.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// The most parameters a model may have (10^8: 400 MB per buffer of them, and the
/// optimizer keeps up to three more); a larger `--model` is refused before any allocation.
pub const MAX_PARAMS: usize = 100_000_000;

impl ModelSpec {
    /// Builds a spec from `--model` text and the data's shape.
    ///
    /// `"128"` or `"128-64"` give the hidden sizes alone (the data fixes inputs and
    /// outputs); a spec of two or more sizes that starts with the data's input size is a
    /// full spec (`"784-128-10"`), whose last size must then equal the outputs the task
    /// needs (the error spells out both readings).
    /// `""` or `"none"` is a model with no hidden layer. At most [`MAX_PARAMS`] parameters.
    ///
    /// ```
    /// use lrsched_train::model::{Activation, Init, ModelSpec};
    /// use lrsched_train::data::Task;
    /// let task = Task::Classification { classes: 10 };
    /// let s = ModelSpec::parse("128", 784, &task, Activation::Relu, Init::Torch).unwrap();
    /// assert_eq!(s.sizes, vec![784, 128, 10]);
    /// let e = ModelSpec::parse("784-128-2", 784, &task, Activation::Relu, Init::Torch).unwrap_err();
    /// assert!(e.to_string().contains("for hidden layers 784-128-2 write `784-784-128-2-10`"));
    /// assert!(e.to_string().contains("for a full spec, `784-128-10`"));
    /// ```
    pub fn parse(
        text: &str,
        inputs: usize,
        task: &Task,
        activation: Activation,
        init: Init,
    ) -> Result<ModelSpec, SpecError> {
        let outputs = task.outputs();
        let text = text.trim();
        let mut sizes = Vec::new();
        if !(text.is_empty() || text == "none") {
            for part in text.split(['-', ',', 'x']) {
                let n: usize = part.trim().parse().map_err(|_| {
                    SpecError(format!(
                        "`model` = `{text}`: `{part}` is not a layer size (write sizes like 128 or 784-128-10)"
                    ))
                })?;
                if n == 0 || n > 1 << 20 {
                    return Err(SpecError(format!(
                        "`model` = `{text}`: layer size {n} must be between 1 and 1048576"
                    )));
                }
                sizes.push(n);
            }
        }
        let full = sizes.len() >= 2 && sizes[0] == inputs;
        let sizes = if full {
            let last = *sizes.last().unwrap();
            if last != outputs {
                // Both readings spelled out: hidden sizes that happen to start with the
                // input size (`64-32` on the 64-pixel digits) and a full spec that ends
                // wrong (`784-128-2` on MNIST) look the same.
                let join = |s: &[usize]| {
                    s.iter()
                        .map(|s| s.to_string())
                        .collect::<Vec<_>>()
                        .join("-")
                };
                return Err(SpecError(format!(
                    "`model` = `{text}` starts with the data's {inputs} inputs, so it is read as a full spec, and then its last size {last} must be the {outputs} outputs the data needs ({}): for hidden layers {} write `{inputs}-{}-{outputs}`; for a full spec, `{}-{outputs}`",
                    describe(task),
                    join(&sizes),
                    join(&sizes),
                    join(&sizes[..sizes.len() - 1]),
                )));
            }
            sizes
        } else {
            let mut all = vec![inputs];
            all.extend(sizes);
            all.push(outputs);
            all
        };
        // Counted with checked arithmetic before anything is allocated: parameters,
        // gradients and optimizer state are each one buffer of this many floats.
        let params = sizes.windows(2).try_fold(0usize, |n, w| {
            w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(n)
        });
        match params {
            Some(p) if p <= MAX_PARAMS => {}
            p => {
                return Err(SpecError(format!(
                    "`model` = `{text}` has {} parameters: at most {MAX_PARAMS} (each is a few floats of memory)",
                    p.map_or("too many".to_string(), |p| p.to_string())
                )))
            }
        }
        Ok(ModelSpec {
            sizes,
            activation,
            batch_norm: false,
            dropout: 0.0,
            init,
            loss: Loss::for_task(task),
        })
    }

    /// Adds BatchNorm after each hidden linear layer.
    pub fn with_batch_norm(mut self, on: bool) -> Self {
        self.batch_norm = on;
        self
    }

    /// Sets the dropout probability; must be in `[0, 1)`.
    pub fn with_dropout(mut self, p: f32) -> Result<Self, SpecError> {
        if !(0.0..1.0).contains(&p) {
            return Err(SpecError(format!(
                "`dropout` = {p} is not allowed: must be in [0, 1)"
            )));
        }
        self.dropout = p;
        Ok(self)
    }

    /// Number of linear layers.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Total trainable parameters.
    pub fn parameter_count(&self) -> usize {
        let mut n = 0;
        for l in 0..self.layers() {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            n += i * o + o;
            if self.batch_norm && l + 1 < self.layers() {
                n += 2 * o;
            }
        }
        n
    }

    /// `784-128-10` style.
    pub fn describe(&self) -> String {
        self.sizes
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

fn describe(task: &Task) -> String {
    match task {
        Task::Classification { classes } => format!("{classes} classes"),
        Task::BinaryClassification => "two classes, one logit".into(),
        Task::Regression => "one regression target".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_only_and_full_specs() {
        let t = Task::Classification { classes: 10 };
        let p = |s| ModelSpec::parse(s, 64, &t, Activation::Relu, Init::Torch).map(|m| m.sizes);
        assert_eq!(p("32").unwrap(), vec![64, 32, 10]);
        assert_eq!(p("32-16").unwrap(), vec![64, 32, 16, 10]);
        assert_eq!(p("64-32-10").unwrap(), vec![64, 32, 10]);
        assert_eq!(p("").unwrap(), vec![64, 10]);
        let e = p("64-32").unwrap_err().to_string();
        assert!(e.contains("last size 32 must be the 10 outputs"), "{e}");
        assert!(
            e.contains("write `64-64-32-10`") && e.contains("full spec, `64-10`"),
            "{e}"
        );
        assert!(p("abc").unwrap_err().to_string().contains("`abc`"));
        assert!(p("0").is_err());
    }
}
