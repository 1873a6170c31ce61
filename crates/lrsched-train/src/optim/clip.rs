//! Gradient preparation before the update: the L1 term, then clipping by value or norm.

use super::Clip;

/// Adds `l1 * sign(p)` to each gradient, clamps by value, and scales by the clipping
/// coefficient when clipping by norm, over the given ranges together. Returns the total
/// gradient norm when clipping by norm.
///
/// The order is that of a PyTorch loop: the L1 term is part of the loss gradient, then
/// `clip_grad_value_` / `clip_grad_norm_` run before `optimizer.step()`.
// Inlined into the FMA-enabled caller (`fused`): target features do not reach
// callees that are not inlined, and without them `mul_add` is a libm call.
#[inline(always)]
pub(super) fn prepare(
    params: &[f32],
    grads: &mut [f32],
    ranges: impl Iterator<Item = std::ops::Range<usize>> + Clone,
    l1: f64,
    clip: Clip,
) -> Option<f32> {
    let (clamp, norm) = match clip {
        Clip::None => (None, None),
        Clip::Value(v) => (Some(v as f32), None),
        Clip::Norm(n) => (None, Some(n)),
    };
    if l1 == 0.0 && clip == Clip::None {
        return None;
    }
    let l1 = l1 as f32;
    // The sum of squares is accumulated in f64 over 8 lanes: deterministic, and at least
    // as accurate as PyTorch's f32 reduction.
    let mut lanes = [0.0f64; 8];
    for r in ranges.clone() {
        let (p, g) = (&params[r.clone()], &mut grads[r]);
        for (k, (g, &p)) in g.iter_mut().zip(p).enumerate() {
            let mut x = *g;
            if l1 != 0.0 {
                x += l1 * sign(p);
            }
            if let Some(c) = clamp {
                // clamp_min then clamp_max; NaN stays NaN, as in PyTorch.
                if !x.is_nan() {
                    x = x.max(-c).min(c);
                }
            }
            *g = x;
            lanes[k & 7] += f64::from(x) * f64::from(x);
        }
    }
    let max_norm = norm?;
    let total = lanes.iter().sum::<f64>().sqrt() as f32;
    // PyTorch: clip_coef = max_norm / (total_norm + 1e-6), where `float / tensor` is
    // `tensor.reciprocal() * float`; then clamp(max = 1.0).
    let coef = (1.0f32 / (total + 1e-6f32)) * max_norm as f32;
    // Multiplying by 1.0 changes nothing, so that pass is skipped; NaN still scales.
    if coef < 1.0 || coef.is_nan() {
        for r in ranges {
            for g in &mut grads[r] {
                *g *= coef;
            }
        }
    }
    Some(total)
}

/// `torch.sign`: -1, 0 or 1 (0 for both zeros), NaN for NaN.
#[inline(always)]
fn sign(p: f32) -> f32 {
    if p > 0.0 {
        1.0
    } else if p < 0.0 {
        -1.0
    } else {
        p * 0.0
    }
}
