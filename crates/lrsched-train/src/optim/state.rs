//! The saved state of an optimizer, for checkpoints.
//!
//! Floats are stored by their bit patterns (f32 buffers as hex strings, f64 scalars as
//! integers) so that a JSON round trip is exact whatever the JSON parser's float precision:
//! resuming from a checkpoint must continue bit for bit.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::OptimizerKind;

/// Everything an [`Optimizer`](super::Optimizer) learned while stepping: buffers, step
/// count, schedule-free averages and mode. Save it with a checkpoint (it is serde
/// serialisable) and hand it to [`Optimizer::restore`](super::Optimizer::restore) to resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerState {
    /// The kind of the optimizer that saved it; restore checks it.
    pub kind: OptimizerKind,
    /// The length of the flat parameter buffer.
    pub n_params: usize,
    /// Steps taken.
    pub steps: u64,
    /// Whether the buffers that are seeded on the first step (SGD's momentum buffer,
    /// schedule-free's `z`) hold values yet.
    pub started: bool,
    /// Schedule-free: whether the parameters held the evaluation weights when saved.
    pub eval_mode: bool,
    /// Schedule-free: the interpolation beta of the last step (used by the weight switch).
    #[serde(with = "f64_bits")]
    pub beta: f64,
    /// Per-group running values, in group order.
    pub groups: Vec<GroupState>,
    /// The per-parameter buffers, each as long as the parameters.
    pub buffers: Vec<NamedBuffer>,
    /// LR-free kinds (Prodigy, D-Adaptation, DoG): their running estimates; absent for
    /// the other kinds, whose saved states are as they always were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveState>,
}

/// The running estimates of an LR-free optimizer, as its reference keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveState {
    /// The references' step counter `k`: the steps that updated the parameters (a step
    /// with all-zero gradients, which the references skip, does not count).
    pub k: u64,
    /// Prodigy, D-Adaptation: the current estimate of D.
    #[serde(with = "f64_bits")]
    pub d: f64,
    /// Prodigy: the largest estimate so far (`d_max`).
    #[serde(with = "f64_bits")]
    pub d_max: f64,
    /// Prodigy: `d_numerator`; D-Adaptation: `numerator_weighted`.
    #[serde(with = "f64_bits")]
    pub numerator: f64,
    /// D-Adaptation SGD: the norm of the first gradient (`g0_norm`).
    #[serde(with = "f64_bits")]
    pub g0_norm: f64,
    /// DoG: per group, the largest distance from the initial point so far (`rbar`), an
    /// f32 as the reference keeps it.
    #[serde(with = "f32_hex")]
    pub rbar: Vec<f32>,
    /// DoG: per group, the sum of squared gradient norms plus eps (`G`), an f32.
    #[serde(with = "f32_hex")]
    pub grad_sq_sum: Vec<f32>,
}

/// A parameter group's running values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupState {
    /// The group's range; restore checks it.
    pub range: Range<usize>,
    /// Schedule-free: the sum of the averaging weights so far.
    #[serde(with = "f64_bits")]
    pub weight_sum: f64,
    /// Schedule-free: the largest learning rate so far (-1 before the first step).
    #[serde(with = "f64_bits")]
    pub lr_max: f64,
}

/// One per-parameter buffer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedBuffer {
    /// Its name, as PyTorch's state calls it (`momentum_buffer`, `exp_avg`, `z`, ...).
    pub name: String,
    /// Its values, one per parameter.
    #[serde(with = "f32_hex")]
    pub values: Vec<f32>,
}

/// f64 as its IEEE bit pattern (an integer).
mod f64_bits {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

/// `Vec<f32>` as one hex string, 8 digits per value (big-endian bit pattern): exact and a
/// third of the size of a JSON array of shortest decimals for large models.
mod f32_hex {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(v.len() * 8);
        for x in v {
            let b = x.to_bits();
            for shift in (0..8).rev() {
                out.push(DIGITS[((b >> (shift * 4)) & 0xf) as usize] as char);
            }
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let s = String::deserialize(d)?;
        let bytes = s.as_bytes();
        if bytes.len() % 8 != 0 {
            return Err(D::Error::custom(format!(
                "buffer hex string has {} digits, not a multiple of 8",
                bytes.len()
            )));
        }
        let mut out = Vec::with_capacity(bytes.len() / 8);
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let mut b = 0u32;
            for &c in chunk {
                let d = (c as char).to_digit(16).ok_or_else(|| {
                    D::Error::custom(format!(
                        "buffer value {i}: {:?} is not a hex digit",
                        c as char
                    ))
                })?;
                b = (b << 4) | d;
            }
            out.push(f32::from_bits(b));
        }
        Ok(out)
    }
}
