#!/usr/bin/env python3
"""Writes crates/lrsched/tests/fixtures/optax_keras_golden.json by running optax and Keras.

Run it from anywhere: it creates a virtualenv (.venv-jax at the repo root, gitignored),
pip-installs jax (CPU), optax and keras (Keras 3, jax backend) from PyPI into it the
first time, and re-runs itself there.

Each config below is written in the JSON form lrsched's parser takes (`type` is
`optax.<function>` or `keras.<class>`, every other key that function's or class's own
keyword argument). The script calls the real function or class with those arguments and
records, for steps 0..n-1, the value the schedule returns for an int32 step count (the
type of optax's `count` and, with jax's default 32-bit mode, Keras' `iterations`),
evaluated op by op. Both libraries
compute in float32; the values are those float32 numbers, written exactly.

`rejected` lists configs the library itself refuses (it raises when the schedule is
built); lrsched must refuse them too.
"""
import os
import sys

from golden_common import ROOT, ensure, fixture, write_json

VENV = os.path.join(ROOT, ".venv-jax")
OUT = fixture("lrsched", "optax_keras_golden.json")
PACKAGES = ["jax", "optax", "keras"]

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def ensure_libraries():
    ensure(__file__, VENV, ["jax", "optax", "keras"], PACKAGES, "jax/optax/keras are not importable in ")


def wcd(**kw):
    return {"type": "optax.warmup_cosine_decay_schedule", **kw}


# (name, config, number of steps)
OPTAX = [
    # constant_schedule
    ("constant", {"type": "optax.constant_schedule", "value": 0.1}, 20),
    ("constant_zero", {"type": "optax.constant_schedule", "value": 0.0}, 5),
    ("constant_small", {"type": "optax.constant_schedule", "value": 3e-4}, 5),
    # linear_schedule
    ("linear_decay", {"type": "optax.linear_schedule", "init_value": 0.1, "end_value": 0.001,
                      "transition_steps": 100}, 120),
    ("linear_rise_begin", {"type": "optax.linear_schedule", "init_value": 0.0, "end_value": 0.5,
                           "transition_steps": 10, "transition_begin": 5}, 25),
    ("linear_zero_steps", {"type": "optax.linear_schedule", "init_value": 0.3, "end_value": 0.1,
                           "transition_steps": 0}, 6),
    ("linear_negative_begin", {"type": "optax.linear_schedule", "init_value": 0.2, "end_value": 0.0,
                               "transition_steps": 7, "transition_begin": -3}, 12),
    # polynomial_schedule
    ("poly_square", {"type": "optax.polynomial_schedule", "init_value": 1.0, "end_value": 0.01,
                     "power": 2, "transition_steps": 100}, 110),
    ("poly_square_begin", {"type": "optax.polynomial_schedule", "init_value": 1.0, "end_value": 0.01,
                           "power": 2, "transition_steps": 100, "transition_begin": 5}, 110),
    ("poly_sqrt_rise", {"type": "optax.polynomial_schedule", "init_value": 0.01, "end_value": 0.5,
                        "power": 0.5, "transition_steps": 20}, 30),
    ("poly_zero_steps", {"type": "optax.polynomial_schedule", "init_value": 0.3, "end_value": 0.0,
                         "power": 3, "transition_steps": -1}, 5),
    ("poly_power_zero", {"type": "optax.polynomial_schedule", "init_value": 0.3, "end_value": 0.1,
                         "power": 0, "transition_steps": 5}, 8),
    # piecewise_constant_schedule
    ("pwc_two", {"type": "optax.piecewise_constant_schedule", "init_value": 1.0,
                 "boundaries_and_scales": {"10": 0.1, "20": 0.5}}, 30),
    ("pwc_zero_boundary_zero_scale", {"type": "optax.piecewise_constant_schedule", "init_value": 0.1,
                                      "boundaries_and_scales": {"0": 0.5, "3": 0.0, "7": 4.0}}, 12),
    ("pwc_numeric_order", {"type": "optax.piecewise_constant_schedule", "init_value": 0.2,
                           "boundaries_and_scales": {"100": 0.5, "20": 3.0, "3": 0.1}}, 110),
    ("pwc_none", {"type": "optax.piecewise_constant_schedule", "init_value": 0.2}, 5),
    ("pwc_negative_init", {"type": "optax.piecewise_constant_schedule", "init_value": -0.1,
                           "boundaries_and_scales": {"5": 0.5, "10": 2.0}}, 15),
    # piecewise_interpolate_schedule
    ("pwi_linear", {"type": "optax.piecewise_interpolate_schedule", "interpolate_type": "linear",
                    "init_value": 0.1, "boundaries_and_scales": {"10": 10.0, "30": 0.01}}, 40),
    ("pwi_cosine_zero_and_one_step", {"type": "optax.piecewise_interpolate_schedule",
                                      "interpolate_type": "cosine", "init_value": 1.0,
                                      "boundaries_and_scales": {"0": 2.0, "5": 0.5, "6": 3.0}}, 15),
    ("pwi_cosine_none", {"type": "optax.piecewise_interpolate_schedule", "interpolate_type": "cosine",
                         "init_value": 0.5, "boundaries_and_scales": None}, 5),
    ("pwi_linear_to_zero", {"type": "optax.piecewise_interpolate_schedule", "interpolate_type": "linear",
                            "init_value": 0.01, "boundaries_and_scales": {"4": 0.0}}, 8),
    # exponential_decay
    ("exp_smooth", {"type": "optax.exponential_decay", "init_value": 1.0, "transition_steps": 10,
                    "decay_rate": 0.5}, 50),
    ("exp_staircase_begin", {"type": "optax.exponential_decay", "init_value": 0.1, "transition_steps": 3,
                             "decay_rate": 0.9, "transition_begin": 5, "staircase": True}, 30),
    ("exp_floor", {"type": "optax.exponential_decay", "init_value": 1.0, "transition_steps": 2,
                   "decay_rate": 0.5, "end_value": 0.1}, 20),
    ("exp_growth_ceiling", {"type": "optax.exponential_decay", "init_value": 0.01, "transition_steps": 5,
                            "decay_rate": 2.0, "transition_begin": 2, "end_value": 0.1}, 30),
    ("exp_growth_ceiling_staircase", {"type": "optax.exponential_decay", "init_value": 0.01,
                                      "transition_steps": 3, "decay_rate": 1.5, "staircase": True,
                                      "end_value": 0.05}, 20),
    ("exp_ceiling_below_init", {"type": "optax.exponential_decay", "init_value": 0.5, "transition_steps": 5,
                                "decay_rate": 2.0, "end_value": 0.1}, 10),
    ("exp_floor_above_init", {"type": "optax.exponential_decay", "init_value": 0.05, "transition_steps": 1,
                              "decay_rate": 0.5, "transition_begin": 3, "end_value": 0.1}, 6),
    ("exp_zero_steps", {"type": "optax.exponential_decay", "init_value": 0.3, "transition_steps": 0,
                        "decay_rate": 0.5}, 5),
    ("exp_zero_rate", {"type": "optax.exponential_decay", "init_value": 0.3, "transition_steps": 2,
                       "decay_rate": 0.0, "end_value": 0.5}, 5),
    ("exp_rate_one_end_below", {"type": "optax.exponential_decay", "init_value": 1.0, "transition_steps": 2,
                                "decay_rate": 1.0, "end_value": 0.5}, 5),
    # cosine_decay_schedule
    ("cos_basic", {"type": "optax.cosine_decay_schedule", "init_value": 0.1, "decay_steps": 100}, 120),
    ("cos_alpha_exponent", {"type": "optax.cosine_decay_schedule", "init_value": 1.0, "decay_steps": 50,
                            "alpha": 0.1, "exponent": 2.0}, 60),
    ("cos_one_step", {"type": "optax.cosine_decay_schedule", "init_value": 0.5, "decay_steps": 1}, 3),
    # growth without an end_value, as range tests use it
    ("exp_growth_free", {"type": "optax.exponential_decay", "init_value": 0.01, "transition_steps": 5,
                         "decay_rate": 1.5}, 60),
    ("exp_growth_free_staircase_begin", {"type": "optax.exponential_decay", "init_value": 1e-4,
                                         "transition_steps": 3, "decay_rate": 2.0, "staircase": True,
                                         "transition_begin": 4}, 50),
    ("exp_growth_free_begin", {"type": "optax.exponential_decay", "init_value": 1e-3, "transition_steps": 1,
                               "decay_rate": 1.1, "transition_begin": 10}, 60),
    # warmup_cosine_decay_schedule
    ("wcd_basic", wcd(init_value=0.0, peak_value=1e-3, warmup_steps=10, decay_steps=100), 120),
    ("wcd_no_warmup", wcd(init_value=1e-4, peak_value=0.1, warmup_steps=0, decay_steps=50, end_value=1e-3,
                          exponent=1.5), 60),
    ("wcd_zero_peak", wcd(init_value=0.0, peak_value=0.0, warmup_steps=5, decay_steps=10, end_value=0.1), 15),
    ("wcd_zero_peak_negative_end", wcd(init_value=0.1, peak_value=0.0, warmup_steps=5, decay_steps=10,
                                       end_value=-0.1), 15),
    ("wcd_negative_end", wcd(init_value=0.0, peak_value=0.1, warmup_steps=5, decay_steps=30, end_value=-0.05),
     40),
    ("wcd_one_decay_step", wcd(init_value=0.05, peak_value=0.1, warmup_steps=3, decay_steps=4,
                               end_value=0.01), 7),
    # warmup_constant_schedule
    ("wc_basic", {"type": "optax.warmup_constant_schedule", "init_value": 0.0, "peak_value": 0.1,
                  "warmup_steps": 10}, 20),
    ("wc_zero_warmup", {"type": "optax.warmup_constant_schedule", "init_value": 0.05, "peak_value": 0.1,
                        "warmup_steps": 0}, 5),
    ("wc_down", {"type": "optax.warmup_constant_schedule", "init_value": 0.2, "peak_value": 0.1,
                 "warmup_steps": 3}, 6),
    # warmup_exponential_decay_schedule
    ("wed_basic", {"type": "optax.warmup_exponential_decay_schedule", "init_value": 0.0, "peak_value": 0.1,
                   "warmup_steps": 5, "transition_steps": 10, "decay_rate": 0.5}, 60),
    ("wed_staircase_floor", {"type": "optax.warmup_exponential_decay_schedule", "init_value": 0.01,
                             "peak_value": 0.1, "warmup_steps": 0, "transition_steps": 3, "decay_rate": 0.8,
                             "transition_begin": 4, "staircase": True, "end_value": 0.05}, 40),
    ("wed_floor_above_peak", {"type": "optax.warmup_exponential_decay_schedule", "init_value": 0.0,
                              "peak_value": 0.1, "warmup_steps": 4, "transition_steps": 2, "decay_rate": 0.5,
                              "end_value": 0.2}, 10),
    ("wed_growth", {"type": "optax.warmup_exponential_decay_schedule", "init_value": 0.0, "peak_value": 0.1,
                    "warmup_steps": 3, "transition_steps": 2, "decay_rate": 1.5, "end_value": 0.3}, 20),
    # cosine_onecycle_schedule
    ("cos1c_basic", {"type": "optax.cosine_onecycle_schedule", "transition_steps": 100, "peak_value": 0.1}, 110),
    ("cos1c_zero_start", {"type": "optax.cosine_onecycle_schedule", "transition_steps": 10, "peak_value": 1.0,
                          "pct_start": 0.05, "div_factor": 10.0, "final_div_factor": 100.0}, 15),
    ("cos1c_colliding", {"type": "optax.cosine_onecycle_schedule", "transition_steps": 7, "peak_value": 0.5,
                         "pct_start": 1.0}, 10),
    # linear_onecycle_schedule
    ("lin1c_basic", {"type": "optax.linear_onecycle_schedule", "transition_steps": 100, "peak_value": 0.1}, 110),
    ("lin1c_colliding", {"type": "optax.linear_onecycle_schedule", "transition_steps": 20, "peak_value": 1.0,
                         "pct_start": 0.25, "pct_final": 0.25}, 25),
    ("lin1c_tiny", {"type": "optax.linear_onecycle_schedule", "transition_steps": 3, "peak_value": 0.3}, 6),
    # join_schedules
    ("join_two", {"type": "optax.join_schedules", "schedules": [
        {"type": "optax.constant_schedule", "value": 0.1},
        {"type": "optax.linear_schedule", "init_value": 0.1, "end_value": 0.0, "transition_steps": 10}],
        "boundaries": [5]}, 20),
    ("join_repeated_boundary", {"type": "optax.join_schedules", "schedules": [
        {"type": "optax.warmup_constant_schedule", "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 10},
        {"type": "optax.constant_schedule", "value": 5.0},
        {"type": "optax.cosine_decay_schedule", "init_value": 0.1, "decay_steps": 8}],
        "boundaries": [10, 10]}, 22),
    ("join_zero_boundary", {"type": "optax.join_schedules", "schedules": [
        {"type": "optax.constant_schedule", "value": 9.0},
        {"type": "optax.piecewise_constant_schedule", "init_value": 0.1,
         "boundaries_and_scales": {"3": 0.5}}], "boundaries": [0]}, 8),
    # sgdr_schedule
    ("sgdr_two", {"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 2, "decay_steps": 10},
        {"init_value": 0.0, "peak_value": 0.05, "warmup_steps": 0, "decay_steps": 20, "end_value": 0.001}]}, 40),
    ("sgdr_three", {"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 1e-3, "peak_value": 0.1, "warmup_steps": 3, "decay_steps": 8, "exponent": 2.0},
        {"init_value": 1e-3, "peak_value": 0.08, "warmup_steps": 3, "decay_steps": 8, "exponent": 2.0},
        {"init_value": 1e-3, "peak_value": 0.06, "warmup_steps": 3, "decay_steps": 8, "exponent": 2.0}]}, 30),
    ("sgdr_four_restarts", {"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 1e-4, "peak_value": 0.1 * 0.7 ** i, "warmup_steps": 3, "decay_steps": 30 * (i + 1),
         "end_value": 1e-3} for i in range(5)]}, 460),
    ("sgdr_same_cycles_small_end", {"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 50, "end_value": 1e-4}] * 4},
     205),
    ("sgdr_one", {"type": "optax.sgdr_schedule", "cosine_kwargs": [
        {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 5, "decay_steps": 10}]}, 15),
]

KERAS = [
    # ExponentialDecay
    ("k_exp_smooth", {"type": "keras.ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
                      "decay_rate": 0.96}, 50),
    ("k_exp_staircase", {"type": "keras.ExponentialDecay", "initial_learning_rate": 1.0, "decay_steps": 3,
                         "decay_rate": 0.5, "staircase": True}, 20),
    ("k_exp_rate_one", {"type": "keras.ExponentialDecay", "initial_learning_rate": 0.01, "decay_steps": 1,
                        "decay_rate": 1.0, "name": "flat"}, 5),
    # PiecewiseConstantDecay
    ("k_pwc_basic", {"type": "keras.PiecewiseConstantDecay", "boundaries": [10, 20],
                     "values": [1.0, 0.5, 0.1]}, 30),
    ("k_pwc_repeated", {"type": "keras.PiecewiseConstantDecay", "boundaries": [5, 5, 8],
                        "values": [0.3, 0.2, 0.1, 0.05]}, 12),
    ("k_pwc_zero", {"type": "keras.PiecewiseConstantDecay", "boundaries": [0], "values": [1.0, 2.0]}, 4),
    # PolynomialDecay
    ("k_poly_default_end", {"type": "keras.PolynomialDecay", "initial_learning_rate": 0.1,
                            "decay_steps": 10}, 15),
    ("k_poly_cycle", {"type": "keras.PolynomialDecay", "initial_learning_rate": 1.0, "decay_steps": 10,
                      "end_learning_rate": 0.1, "power": 2.0, "cycle": True}, 45),
    ("k_poly_sqrt", {"type": "keras.PolynomialDecay", "initial_learning_rate": 0.5, "decay_steps": 7,
                     "end_learning_rate": 0.0, "power": 0.5}, 10),
    ("k_poly_rise_cycle", {"type": "keras.PolynomialDecay", "initial_learning_rate": 0.01, "decay_steps": 5,
                           "end_learning_rate": 0.1, "cycle": True}, 12),
    # InverseTimeDecay
    ("k_inv_smooth", {"type": "keras.InverseTimeDecay", "initial_learning_rate": 0.1, "decay_steps": 10,
                      "decay_rate": 0.5}, 50),
    ("k_inv_staircase", {"type": "keras.InverseTimeDecay", "initial_learning_rate": 1.0, "decay_steps": 3,
                         "decay_rate": 1.0, "staircase": True}, 12),
    ("k_inv_zero_rate", {"type": "keras.InverseTimeDecay", "initial_learning_rate": 0.3, "decay_steps": 1,
                         "decay_rate": 0.0}, 3),
    # CosineDecay
    ("k_cos_basic", {"type": "keras.CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 100}, 110),
    ("k_cos_warmup_alpha", {"type": "keras.CosineDecay", "initial_learning_rate": 0.0, "decay_steps": 20,
                            "alpha": 0.1, "warmup_target": 0.1, "warmup_steps": 10}, 40),
    ("k_cos_zero_warmup", {"type": "keras.CosineDecay", "initial_learning_rate": 0.01, "decay_steps": 10,
                           "warmup_target": 0.1, "warmup_steps": 0}, 15),
    ("k_cos_steps_without_target", {"type": "keras.CosineDecay", "initial_learning_rate": 1.0,
                                    "decay_steps": 5, "warmup_steps": 10}, 8),
    # CosineDecayRestarts
    ("k_sgdr_default", {"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1,
                        "first_decay_steps": 10}, 80),
    ("k_sgdr_fixed_period", {"type": "keras.CosineDecayRestarts", "initial_learning_rate": 1.0,
                             "first_decay_steps": 5, "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}, 30),
    ("k_sgdr_float_mult", {"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.5,
                           "first_decay_steps": 4, "t_mul": 1.5, "m_mul": 0.9, "alpha": 0.2}, 60),
]

# Configs the library itself refuses when the schedule is built.
REJECTED = [
    ("cos_zero_steps", {"type": "optax.cosine_decay_schedule", "init_value": 0.1, "decay_steps": 0}),
    ("wcd_warmup_covers_decay", wcd(init_value=0.0, peak_value=0.1, warmup_steps=10, decay_steps=10)),
    ("pwc_negative_scale", {"type": "optax.piecewise_constant_schedule", "init_value": 0.1,
                            "boundaries_and_scales": {"5": -0.5}}),
    ("pwi_bad_type", {"type": "optax.piecewise_interpolate_schedule", "interpolate_type": "cubic",
                      "init_value": 0.1}),
    ("cos1c_zero_steps", {"type": "optax.cosine_onecycle_schedule", "transition_steps": 0, "peak_value": 0.1}),
    ("lin1c_zero_steps", {"type": "optax.linear_onecycle_schedule", "transition_steps": 0, "peak_value": 0.1}),
    ("k_exp_zero_steps", {"type": "keras.ExponentialDecay", "initial_learning_rate": 0.1, "decay_steps": 0,
                          "decay_rate": 0.5}),
    ("k_pwc_lengths", {"type": "keras.PiecewiseConstantDecay", "boundaries": [10, 20], "values": [1.0, 0.5]}),
    ("k_poly_zero_steps", {"type": "keras.PolynomialDecay", "initial_learning_rate": 0.1, "decay_steps": 0}),
    ("k_inv_zero_steps", {"type": "keras.InverseTimeDecay", "initial_learning_rate": 0.1, "decay_steps": 0,
                          "decay_rate": 0.5}),
    ("k_cos_zero_steps", {"type": "keras.CosineDecay", "initial_learning_rate": 0.1, "decay_steps": 0}),
    ("k_sgdr_zero_steps", {"type": "keras.CosineDecayRestarts", "initial_learning_rate": 0.1,
                           "first_decay_steps": 0}),
]


def kwargs_of(config):
    kw = {k: v for k, v in config.items() if k != "type"}
    if isinstance(kw.get("boundaries_and_scales"), dict):
        kw["boundaries_and_scales"] = {int(k): v for k, v in kw["boundaries_and_scales"].items()}
    return kw


def build(config):
    import keras
    import optax

    library, function = config["type"].split(".", 1)
    kw = kwargs_of(config)
    if library == "optax":
        if function == "join_schedules":
            kw["schedules"] = [build(c) for c in kw["schedules"]]
        return getattr(optax, function)(**kw)
    if library == "keras":
        return getattr(keras.optimizers.schedules, function)(**kw)
    raise ValueError(config["type"])


def trace(config, n):
    import jax.numpy as jnp
    import numpy as np

    # Op by op, not under jax.jit: XLA's CPU compiler turns a division by a constant
    # into a multiplication by its reciprocal, which is not the library's arithmetic
    # (under jit, optax's polynomial_schedule with power 0.5 gives NaN at its last step:
    # 1 - 20 * (1/20) is -1.5e-8 in float32).
    fn = build(config)
    out = []
    for i in range(n):
        v = fn(jnp.asarray(i, dtype=jnp.int32))
        # constant_schedule returns its Python number; the optimizer uses it in float32.
        assert isinstance(v, (int, float)) or v.dtype == np.float32, (config, v)
        out.append(float(np.float32(v)))
    return out


def main():
    ensure_libraries()
    from importlib.metadata import version

    cases = []
    for name, config, n in OPTAX + KERAS:
        cases.append({"name": name, "config": config, "values": trace(config, n)})
    rejected = []
    for name, config in REJECTED:
        try:
            build(config)
        except (ValueError, TypeError) as e:
            rejected.append({"name": name, "config": config, "error": str(e)})
        else:
            sys.exit(f"{name}: the library accepted {config}")
    doc = {
        "generated_by": "scripts/jax_keras_golden.py",
        "versions": {p: version(p) for p in ["jax", "jaxlib", "optax", "keras"]},
        "python": sys.version.split()[0],
        "keras_backend": "jax",
        "cases": cases,
        "rejected": rejected,
    }
    write_json(OUT, doc)
    print(f"wrote {len(cases)} traces and {len(rejected)} rejections to {OUT}")


if __name__ == "__main__":
    main()
