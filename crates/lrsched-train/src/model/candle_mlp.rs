//! The same MLP on candle's tensors and automatic differentiation: the general engine,
//! and the reference the fused path ([`super::Mlp`]) is checked against.
//!
//! Parameters stay in a flat buffer in PyTorch's order (the fused path's, but for its first
//! hidden layer's weights: see [`super::Mlp::to_torch_order`]), so optimizers, checkpoints
//! and the trainer are shared; before each step they are copied into candle variables and
//! the gradients candle's `backward` computes are copied back out.

use super::mlp::{draw_mask, dropout_seed, layout, Layer, BN_EPS, BN_MOMENTUM};
use super::spec::{Activation, Loss, ModelSpec};
use super::BatchTargets;
use crate::data::Rng;
use candle_core::{DType, Device, Tensor, Var, D};

/// An MLP on candle: the parameters in a flat buffer in PyTorch's order (as
/// [`super::Mlp::to_torch_order`] gives the fused engine's), one candle variable per
/// weight, bias, gamma and beta.
///
/// ```
/// use lrsched_train::data::Task;
/// use lrsched_train::model::{Activation, BatchTargets, CandleMlp, Init, Mlp, ModelSpec};
/// let spec = ModelSpec::parse("8", 2, &Task::BinaryClassification, Activation::Tanh, Init::Torch).unwrap();
/// let mut fast = Mlp::new(spec.clone(), 7, 4);
/// let mut start = fast.params().to_vec();
/// fast.to_torch_order(&mut start);
/// let mut reference = CandleMlp::new(spec, &start, fast.buffers(), 7).unwrap();
/// let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let y = BatchTargets::Classes(&[0, 1, 1, 0]);
/// let a = fast.train_step(&x, y, 4);
/// let b = reference.train_step(&x, y, 4).unwrap();
/// assert!((a - b).abs() < 1e-5);
/// ```
#[derive(Debug)]
pub struct CandleMlp {
    spec: ModelSpec,
    layers: Vec<Layer>,
    params: Vec<f32>,
    grads: Vec<f32>,
    running: Vec<f32>,
    /// `(range in the flat buffer, variable)` for every parameter tensor.
    vars: Vec<(std::ops::Range<usize>, Var)>,
    dropout_rng: Rng,
    device: Device,
}

impl CandleMlp {
    /// A candle network holding `params` and BatchNorm `buffers` in [`super::Mlp`]'s
    /// layout; `seed` fixes the dropout stream as the fused path's.
    pub fn new(
        spec: ModelSpec,
        params: &[f32],
        buffers: &[f32],
        seed: u64,
    ) -> candle_core::Result<CandleMlp> {
        let (layers, n, r) = layout(&spec);
        if params.len() != n || buffers.len() != r {
            candle_core::bail!(
                "{} parameters and {} buffers given, the spec has {n} and {r}",
                params.len(),
                buffers.len()
            );
        }
        let device = Device::Cpu;
        let mut vars = Vec::new();
        for layer in &layers {
            let (fi, fo) = (layer.fan_in, layer.fan_out);
            let w = Var::from_slice(&params[layer.w..layer.b], (fo, fi), &device)?;
            vars.push((layer.w..layer.b, w));
            let b = Var::from_slice(&params[layer.b..layer.b + fo], fo, &device)?;
            vars.push((layer.b..layer.b + fo, b));
            if let Some((g, beta, _)) = layer.bn {
                vars.push((g..g + fo, Var::from_slice(&params[g..g + fo], fo, &device)?));
                vars.push((
                    beta..beta + fo,
                    Var::from_slice(&params[beta..beta + fo], fo, &device)?,
                ));
            }
        }
        Ok(CandleMlp {
            spec,
            layers,
            params: params.to_vec(),
            grads: vec![0.0; n],
            running: buffers.to_vec(),
            vars,
            dropout_rng: Rng::new(dropout_seed(seed)),
            device,
        })
    }

    /// The parameters (flat, in PyTorch's order).
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Parameters and gradients, for an optimizer step.
    pub fn params_and_grads(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.params, &mut self.grads)
    }

    /// Gradients of the last step (flat, in PyTorch's order).
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }

    /// The dropout generator's state (saved with checkpoints).
    pub fn rng_state(&self) -> u64 {
        self.dropout_rng.state()
    }

    /// Restores the dropout generator.
    pub fn set_rng_state(&mut self, state: u64) {
        self.dropout_rng = Rng::from_state(state);
    }

    /// BatchNorm running statistics.
    pub fn buffers(&self) -> &[f32] {
        &self.running
    }

    /// Forward and backward through candle's autodiff; fills [`CandleMlp::grads`] and
    /// returns the mean loss.
    pub fn train_step(
        &mut self,
        x: &[f32],
        targets: BatchTargets<'_>,
        rows: usize,
    ) -> candle_core::Result<f32> {
        for (range, var) in &self.vars {
            var.set(&Tensor::from_slice(
                &self.params[range.clone()],
                var.shape(),
                &self.device,
            )?)?;
        }
        let logits = self.forward(x, rows, true)?;
        let loss = self.loss(&logits, targets, rows)?;
        let grads = loss.backward()?;
        for (range, var) in &self.vars {
            match grads.get(var.as_tensor()) {
                Some(g) => {
                    self.grads[range.clone()].copy_from_slice(&g.flatten_all()?.to_vec1::<f32>()?)
                }
                None => self.grads[range.clone()].fill(0.0),
            }
        }
        loss.to_scalar::<f32>()
    }

    fn forward(&mut self, x: &[f32], rows: usize, train: bool) -> candle_core::Result<Tensor> {
        let mut h = Tensor::from_slice(
            &x[..rows * self.layers[0].fan_in],
            (rows, self.layers[0].fan_in),
            &self.device,
        )?;
        let mut v = 0;
        let count = self.layers.len();
        for (l, layer) in self.layers.iter().enumerate() {
            let (w, b) = (self.vars[v].1.as_tensor(), self.vars[v + 1].1.as_tensor());
            v += 2;
            let z = h.matmul(&w.t()?)?.broadcast_add(b)?;
            if l + 1 == count {
                return Ok(z);
            }
            let fo = layer.fan_out;
            let pre = match layer.bn {
                Some((_, _, run)) => {
                    let (gamma, beta) =
                        (self.vars[v].1.as_tensor(), self.vars[v + 1].1.as_tensor());
                    v += 2;
                    let (mean, var) = if train {
                        let mean = z.mean_keepdim(0)?;
                        let centered = z.broadcast_sub(&mean)?;
                        let var = centered.sqr()?.mean_keepdim(0)?;
                        // Running statistics move outside the graph, as PyTorch's do.
                        let (m, biased) = (
                            mean.flatten_all()?.to_vec1::<f32>()?,
                            var.flatten_all()?.to_vec1::<f32>()?,
                        );
                        let correction = if rows > 1 {
                            rows as f32 / (rows as f32 - 1.0)
                        } else {
                            1.0
                        };
                        for j in 0..fo {
                            let (mr, vr) = (run + j, run + fo + j);
                            self.running[mr] =
                                (1.0 - BN_MOMENTUM) * self.running[mr] + BN_MOMENTUM * m[j];
                            self.running[vr] = (1.0 - BN_MOMENTUM) * self.running[vr]
                                + BN_MOMENTUM * biased[j] * correction;
                        }
                        (mean, var)
                    } else {
                        (
                            Tensor::from_slice(
                                &self.running[run..run + fo],
                                (1, fo),
                                &self.device,
                            )?,
                            Tensor::from_slice(
                                &self.running[run + fo..run + 2 * fo],
                                (1, fo),
                                &self.device,
                            )?,
                        )
                    };
                    let xhat = z
                        .broadcast_sub(&mean)?
                        .broadcast_div(&(var + BN_EPS as f64)?.sqrt()?)?;
                    xhat.broadcast_mul(gamma)?.broadcast_add(beta)?
                }
                None => z,
            };
            let mut a = match self.spec.activation {
                Activation::Relu => pre.relu()?,
                Activation::Tanh => pre.tanh()?,
                Activation::Sigmoid => candle_nn::ops::sigmoid(&pre)?,
                Activation::Gelu => pre.gelu_erf()?,
            };
            if train && self.spec.dropout > 0.0 {
                let mut mask = vec![0.0f32; rows * fo];
                draw_mask(&mut self.dropout_rng, self.spec.dropout, &mut mask);
                a = (a * Tensor::from_vec(mask, (rows, fo), &self.device)?)?;
            }
            h = a;
        }
        unreachable!("the loop returns at the output layer")
    }

    fn loss(
        &self,
        logits: &Tensor,
        targets: BatchTargets<'_>,
        rows: usize,
    ) -> candle_core::Result<Tensor> {
        match (self.spec.loss, targets) {
            (Loss::CrossEntropy, BatchTargets::Classes(c)) => {
                let t = Tensor::from_slice(&c[..rows], rows, &self.device)?;
                candle_nn::loss::cross_entropy(logits, &t)
            }
            (Loss::BinaryCrossEntropy, BatchTargets::Classes(c)) => {
                let y: Vec<f32> = c[..rows].iter().map(|&v| v.min(1) as f32).collect();
                let y = Tensor::from_vec(y, (rows, 1), &self.device)?;
                // max(z, 0) - z y + log(1 + exp(-|z|)): stable for large |z|.
                let softplus = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
                (logits.relu()? - (logits * y)?)?.add(&softplus)?.mean_all()
            }
            (_, BatchTargets::Values(v)) => {
                let y =
                    Tensor::from_slice(&v[..logits.elem_count()], logits.shape(), &self.device)?;
                candle_nn::loss::mse(logits, &y)
            }
            (_, BatchTargets::Classes(c)) => {
                let y: Vec<f32> = c[..rows].iter().map(|&v| v as f32).collect();
                let y = Tensor::from_vec(y, logits.shape(), &self.device)?;
                candle_nn::loss::mse(logits, &y)
            }
        }
        .and_then(|l| l.to_dtype(DType::F32))
        .and_then(|l| {
            if l.rank() == 0 {
                Ok(l)
            } else {
                l.squeeze(D::Minus1)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Task;
    use crate::model::{Init, Mlp};

    fn data(rows: usize, inputs: usize) -> Vec<f32> {
        let mut rng = Rng::new(9);
        (0..rows * inputs).map(|_| rng.normal() as f32).collect()
    }

    /// The fused path's loss, gradients and BatchNorm statistics equal candle's autodiff,
    /// for every activation, with and without BatchNorm and dropout, for all three losses.
    #[test]
    fn fused_path_matches_candle_autodiff() {
        // 80 rows: the fused path cuts them into 3 uneven slices (without BatchNorm).
        const ROWS: usize = 80;
        let x = data(ROWS, 7);
        let labels: Vec<u32> = (0..ROWS).map(|i| (i * 7 % 3) as u32).collect();
        let binary: Vec<u32> = (0..ROWS).map(|i| (i % 2) as u32).collect();
        let values: Vec<f32> = (0..ROWS).map(|i| i as f32 / 40.0 - 1.0).collect();
        let cases: [(Task, BatchTargets); 3] = [
            (
                Task::Classification { classes: 3 },
                BatchTargets::Classes(&labels),
            ),
            (Task::BinaryClassification, BatchTargets::Classes(&binary)),
            (Task::Regression, BatchTargets::Values(&values)),
        ];
        for (task, targets) in &cases {
            for act in [
                Activation::Relu,
                Activation::Tanh,
                Activation::Sigmoid,
                Activation::Gelu,
            ] {
                for (bn, dropout) in [(false, 0.0), (true, 0.0), (true, 0.3), (false, 0.5)] {
                    // Non-zero biases: with zero ones a dropped-out row puts ReLU exactly on
                    // its kink, where candle takes slope 1 and PyTorch (and we) take 0.
                    let spec = ModelSpec::parse("6-5", 7, task, act, Init::Torch)
                        .unwrap()
                        .with_batch_norm(bn)
                        .with_dropout(dropout)
                        .unwrap();
                    let mut fast = Mlp::new(spec.clone(), 21, ROWS);
                    let mut start = fast.params().to_vec();
                    fast.to_torch_order(&mut start);
                    let mut reference = CandleMlp::new(spec, &start, fast.buffers(), 21).unwrap();
                    for it in 0..2 {
                        let a = fast.train_step(&x, *targets, ROWS);
                        let b = reference.train_step(&x, *targets, ROWS).unwrap();
                        let what =
                            format!("{task:?} {act:?} bn={bn} dropout={dropout} iteration {it}");
                        assert!(
                            (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                            "{what}: loss {a} vs {b}"
                        );
                        let mut grads = fast.grads().to_vec();
                        fast.to_torch_order(&mut grads);
                        for (i, (g, r)) in grads.iter().zip(reference.grads()).enumerate() {
                            assert!(
                                (g - r).abs() <= 1e-4 * (1.0 + r.abs()),
                                "{what}: grad {i}: {g} vs {r}"
                            );
                        }
                        for (s, r) in fast.buffers().iter().zip(reference.buffers()) {
                            assert!(
                                (s - r).abs() <= 1e-5 * (1.0 + r.abs()),
                                "{what}: running stats"
                            );
                        }
                    }
                }
            }
        }
    }
}
