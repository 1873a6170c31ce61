#!/usr/bin/env python3
"""Writes crates/lrsched/tests/fixtures/transformers_timm_golden.json by running
Hugging Face transformers and timm themselves.

Run it from anywhere: it uses the virtualenv .venv-torch at the repo root (gitignored),
creating it and pip-installing torch, transformers and timm from PyPI the first time, and
re-runs itself there.

Each config below is written in the JSON form lrsched's parser takes (`type` is
`transformers.<function>` or `timm.<class>`, `lr` the optimizer's base rate, every other
key the function's or class's own keyword argument). For every step i the script records:

* transformers: the lr after i calls of `scheduler.step()` (value 0 right after
  construction); for `get_reduce_on_plateau_schedule`, value i is the lr after
  `step(metrics[i - 1])`;
* timm: the lr after `scheduler.step_update(i)` (the configs say `t_in_epochs: false`);
  for `PlateauLRScheduler` (epoch-driven), value 0 is the lr after construction and value i
  the lr after `scheduler.step(i, metrics[i - 1])`.

Floats are written as Python `repr` strings so they survive JSON exactly. A config with
timm noise also records `clean`: the same config without `noise_range_t`, since timm's
noise comes from torch's generator, which lrsched does not reproduce (the Rust test checks
the noisy values against the bounds `(1 +- noise_pct) * clean` instead).
"""
import os
import sys
import warnings

from golden_common import ROOT, ensure, fixture, q, write_json

VENV = os.path.join(ROOT, ".venv-torch")
OUT = fixture("lrsched", "transformers_timm_golden.json")


def ensure_libraries():
    ensure(
        __file__,
        VENV,
        ["torch", "transformers", "timm"],
        ["torch", "transformers", "timm", "numpy"],
        "torch, transformers and timm are not importable in ",
    )


FALLING = q(*([80, 72, 64, 64, 64, 64, 63, 64, 64, 64, 60, 60, 60, 60, 60, 56, 56, 56, 56, 56]
              + [56] * 10 + [40, 40, 40, 40, 40, 40, 40, 40]))
RISING = q(*([8, 9, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 20, 20, 20, 20, 20]
             + [20] * 15))

T = "transformers."
TM = "timm."
PU = {"t_in_epochs": False}

CONFIGS = [
    # transformers ------------------------------------------------------------------------
    ("const_a", {"type": T + "get_constant_schedule", "lr": 0.1}, 10),
    ("const_b", {"type": T + "get_constant_schedule", "lr": 3e-4}, 10),
    ("const_c", {"type": T + "get_constant_schedule", "lr": 1.0}, 5),
    ("constw_zero", {"type": T + "get_constant_schedule_with_warmup", "lr": 0.1, "num_warmup_steps": 0}, 10),
    ("constw_ten", {"type": T + "get_constant_schedule_with_warmup", "lr": 3e-4, "num_warmup_steps": 10}, 20),
    ("constw_one", {"type": T + "get_constant_schedule_with_warmup", "lr": 0.7, "num_warmup_steps": 1}, 5),
    ("linear_basic", {"type": T + "get_linear_schedule_with_warmup", "lr": 0.1,
                      "num_warmup_steps": 10, "num_training_steps": 100}, 130),
    ("linear_no_warmup", {"type": T + "get_linear_schedule_with_warmup", "lr": 5e-5,
                          "num_warmup_steps": 0, "num_training_steps": 50}, 70),
    ("linear_train_before_warmup", {"type": T + "get_linear_schedule_with_warmup", "lr": 0.1,
                                    "num_warmup_steps": 20, "num_training_steps": 10}, 30),
    ("linear_equal", {"type": T + "get_linear_schedule_with_warmup", "lr": 0.1,
                      "num_warmup_steps": 5, "num_training_steps": 5}, 10),
    ("cosine_basic", {"type": T + "get_cosine_schedule_with_warmup", "lr": 3e-4,
                      "num_warmup_steps": 10, "num_training_steps": 100}, 250),
    ("cosine_no_warmup", {"type": T + "get_cosine_schedule_with_warmup", "lr": 0.1,
                          "num_warmup_steps": 0, "num_training_steps": 50}, 120),
    ("cosine_cycles", {"type": T + "get_cosine_schedule_with_warmup", "lr": 0.1,
                       "num_warmup_steps": 10, "num_training_steps": 110, "num_cycles": 1.5}, 200),
    ("cosine_short", {"type": T + "get_cosine_schedule_with_warmup", "lr": 0.1,
                      "num_warmup_steps": 5, "num_training_steps": 3}, 12),
    ("hard_one", {"type": T + "get_cosine_with_hard_restarts_schedule_with_warmup", "lr": 0.1,
                  "num_warmup_steps": 10, "num_training_steps": 100}, 120),
    ("hard_three", {"type": T + "get_cosine_with_hard_restarts_schedule_with_warmup", "lr": 0.1,
                    "num_warmup_steps": 0, "num_training_steps": 90, "num_cycles": 3}, 100),
    ("hard_uneven", {"type": T + "get_cosine_with_hard_restarts_schedule_with_warmup", "lr": 0.1,
                     "num_warmup_steps": 5, "num_training_steps": 105, "num_cycles": 3}, 120),
    ("hard_seven", {"type": T + "get_cosine_with_hard_restarts_schedule_with_warmup", "lr": 1.0,
                    "num_warmup_steps": 0, "num_training_steps": 100, "num_cycles": 7}, 110),
    ("hard_zero", {"type": T + "get_cosine_with_hard_restarts_schedule_with_warmup", "lr": 1.0,
                   "num_warmup_steps": 3, "num_training_steps": 20, "num_cycles": 0}, 30),
    ("poly_default", {"type": T + "get_polynomial_decay_schedule_with_warmup", "lr": 0.1,
                      "num_warmup_steps": 10, "num_training_steps": 100}, 120),
    ("poly_square", {"type": T + "get_polynomial_decay_schedule_with_warmup", "lr": 0.1,
                     "num_warmup_steps": 0, "num_training_steps": 50, "lr_end": 0.01, "power": 2.0}, 70),
    ("poly_sqrt", {"type": T + "get_polynomial_decay_schedule_with_warmup", "lr": 1e-3,
                   "num_warmup_steps": 3, "num_training_steps": 40, "lr_end": 0.0, "power": 0.5}, 50),
    ("poly_train_before_warmup", {"type": T + "get_polynomial_decay_schedule_with_warmup", "lr": 0.1,
                                  "num_warmup_steps": 20, "num_training_steps": 10, "lr_end": 1e-3}, 30),
    ("invsqrt_warmup", {"type": T + "get_inverse_sqrt_schedule", "lr": 0.1, "num_warmup_steps": 10}, 200),
    ("invsqrt_no_warmup", {"type": T + "get_inverse_sqrt_schedule", "lr": 0.1, "num_warmup_steps": 0}, 100),
    ("invsqrt_small_timescale", {"type": T + "get_inverse_sqrt_schedule", "lr": 0.1,
                                 "num_warmup_steps": 10, "timescale": 3}, 100),
    ("invsqrt_big_timescale", {"type": T + "get_inverse_sqrt_schedule", "lr": 1.0,
                               "num_warmup_steps": 100, "timescale": 50}, 300),
    ("minlr_abs", {"type": T + "get_cosine_with_min_lr_schedule_with_warmup", "lr": 3e-4,
                   "num_warmup_steps": 10, "num_training_steps": 100, "min_lr": 1e-5}, 220),
    ("minlr_rate_cycles", {"type": T + "get_cosine_with_min_lr_schedule_with_warmup", "lr": 0.1,
                           "num_warmup_steps": 5, "num_training_steps": 65, "num_cycles": 1.0,
                           "min_lr_rate": 0.1}, 150),
    ("minlr_rate_no_warmup", {"type": T + "get_cosine_with_min_lr_schedule_with_warmup", "lr": 1.0,
                              "num_warmup_steps": 0, "num_training_steps": 40, "min_lr_rate": 0.5}, 90),
    ("wsd_default", {"type": T + "get_wsd_schedule", "lr": 0.1, "num_warmup_steps": 10,
                     "num_decay_steps": 20, "num_training_steps": 100}, 120),
    ("wsd_stable_linear", {"type": T + "get_wsd_schedule", "lr": 0.1, "num_warmup_steps": 10,
                           "num_decay_steps": 20, "num_stable_steps": 30, "warmup_type": "cosine",
                           "decay_type": "linear", "min_lr_ratio": 0.1}, 80),
    ("wsd_sqrt", {"type": T + "get_wsd_schedule", "lr": 1.0, "num_warmup_steps": 16,
                  "num_decay_steps": 25, "num_stable_steps": 9, "warmup_type": "1-sqrt",
                  "decay_type": "1-sqrt", "min_lr_ratio": 0.01}, 70),
    ("wsd_cycles", {"type": T + "get_wsd_schedule", "lr": 0.1, "num_warmup_steps": 0,
                    "num_decay_steps": 40, "num_training_steps": 60, "num_cycles": 1.0,
                    "min_lr_ratio": 0.2}, 80),
    ("wsd_both_given", {"type": T + "get_wsd_schedule", "lr": 0.1, "num_warmup_steps": 5,
                        "num_decay_steps": 0, "num_training_steps": 100, "num_stable_steps": 10,
                        "decay_type": "linear", "min_lr_ratio": 0.5}, 30),
    ("rop_default", {"type": T + "get_reduce_on_plateau_schedule", "lr": 0.1, "patience": 2}, FALLING),
    ("rop_max_cooldown", {"type": T + "get_reduce_on_plateau_schedule", "lr": 1.0, "mode": "max",
                          "factor": 0.5, "patience": 1, "cooldown": 2, "min_lr": 0.1}, RISING),
    ("rop_abs", {"type": T + "get_reduce_on_plateau_schedule", "lr": 0.1, "factor": 0.3,
                 "patience": 0, "threshold": 0.5, "threshold_mode": "abs", "eps": 0.0}, FALLING),
    # timm -------------------------------------------------------------------------------
    ("tcos_warmup", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 50, "warmup_t": 5,
                     "warmup_lr_init": 1e-4, **PU}, 70),
    ("tcos_cycles_decay_prefix", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 20,
                                  "lr_min": 1e-3, "cycle_decay": 0.5, "cycle_limit": 3, "k_decay": 0.5,
                                  "warmup_t": 4, "warmup_lr_init": 1e-3, "warmup_prefix": True, **PU}, 80),
    ("tcos_mul", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 10, "cycle_mul": 2.0,
                  "cycle_limit": 3, "lr_min": 1e-4, **PU}, 90),
    # float cycle_mul: timm's cycle index floor(log(1 - t / t_initial * (1 - m), m))
    ("tcos_mul_float", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 10, "cycle_mul": 1.5,
                        "cycle_limit": 5, "lr_min": 1e-4, **PU}, 150),
    ("tcos_mul_float_decay_warmup", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 7, "cycle_mul": 2.5,
                                     "cycle_decay": 0.8, "cycle_limit": 4, "k_decay": 2.0, "warmup_t": 4,
                                     "warmup_lr_init": 1e-3, "warmup_prefix": True, **PU}, 160),
    ("tcos_mul_three_early_boundary", {"type": TM + "CosineLRScheduler", "lr": 1.0, "t_initial": 4,
                                       "cycle_mul": 3.0, "cycle_limit": 7, **PU}, 500),
    ("tcos_mul_shrinking", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 16, "cycle_mul": 0.5,
                            "cycle_limit": 3, "lr_min": 0.01, **PU}, 31),
    ("tcos_many_cycles", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 3, "cycle_decay": 0.99,
                          "cycle_limit": 20000, **PU}, 100),
    ("tcos_restart_forever", {"type": TM + "CosineLRScheduler", "lr": 1.0, "t_initial": 7,
                              "cycle_limit": 4, "k_decay": 2.0, **PU}, 40),
    ("tcos_noise", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 40,
                    "noise_range_t": [10, 30], "noise_pct": 0.2, "noise_std": 0.5, "noise_seed": 3, **PU}, 50),
    ("ttanh_default", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 30, **PU}, 40),
    ("ttanh_warmup_no_prefix", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 30, "warmup_t": 5,
                                "warmup_lr_init": 1e-3, "lb": -5.0, "ub": 2.0, "lr_min": 1e-3, **PU}, 40),
    ("ttanh_cycles", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 8, "cycle_mul": 2.0,
                      "cycle_decay": 0.7, "cycle_limit": 3, "warmup_t": 3, "warmup_prefix": True, **PU}, 70),
    ("ttanh_mul_float", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 8, "cycle_mul": 1.5,
                         "cycle_decay": 0.7, "cycle_limit": 4, "lr_min": 1e-3, "warmup_t": 3,
                         "warmup_lr_init": 1e-3, **PU}, 90),
    ("ttanh_noise", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 30, "noise_range_t": 5,
                     "noise_pct": 0.1, **PU}, 40),
    ("tstep_basic", {"type": TM + "StepLRScheduler", "lr": 0.1, "decay_t": 10, "decay_rate": 0.5,
                     "warmup_t": 5, "warmup_lr_init": 1e-3, **PU}, 60),
    ("tstep_float", {"type": TM + "StepLRScheduler", "lr": 0.1, "decay_t": 2.5, "decay_rate": 0.9, **PU}, 30),
    ("tstep_no_prefix", {"type": TM + "StepLRScheduler", "lr": 1.0, "decay_t": 4, "decay_rate": 0.1,
                         "warmup_t": 6, "warmup_prefix": False, **PU}, 20),
    ("tstep_noise", {"type": TM + "StepLRScheduler", "lr": 0.1, "decay_t": 10, "decay_rate": 0.5,
                     "noise_range_t": [0, 15], "noise_pct": 0.67, **PU}, 30),
    ("tmulti_repeated", {"type": TM + "MultiStepLRScheduler", "lr": 0.1, "decay_t": [10, 20, 20, 30],
                         "decay_rate": 0.5, **PU}, 40),
    ("tmulti_warmup", {"type": TM + "MultiStepLRScheduler", "lr": 0.1, "decay_t": [5, 8],
                       "decay_rate": 0.1, "warmup_t": 3, "warmup_lr_init": 0.01, **PU}, 15),
    ("tmulti_zero_one", {"type": TM + "MultiStepLRScheduler", "lr": 1.0, "decay_t": [0, 1, 2],
                         "decay_rate": 0.3, "warmup_t": 2, "warmup_prefix": False, **PU}, 8),
    ("tmulti_noise", {"type": TM + "MultiStepLRScheduler", "lr": 0.1, "decay_t": [10],
                      "decay_rate": 0.5, "noise_range_t": 0, "noise_pct": 0.3, "noise_std": 2.0, **PU}, 20),
    ("tpoly_default", {"type": TM + "PolyLRScheduler", "lr": 0.1, "t_initial": 40, **PU}, 50),
    ("tpoly_cycles", {"type": TM + "PolyLRScheduler", "lr": 0.1, "t_initial": 10, "power": 2.0,
                      "k_decay": 2.0, "cycle_decay": 0.5, "cycle_limit": 3, "lr_min": 1e-3,
                      "warmup_t": 5, "warmup_lr_init": 1e-3, **PU}, 45),
    ("tpoly_mul", {"type": TM + "PolyLRScheduler", "lr": 1.0, "t_initial": 5, "power": 1.0, "cycle_mul": 3.0,
                   "cycle_limit": 3, "lr_min": 0.01, **PU}, 80),
    ("tpoly_mul_float", {"type": TM + "PolyLRScheduler", "lr": 1.0, "t_initial": 6, "power": 2.0,
                         "k_decay": 0.5, "cycle_mul": 1.25, "cycle_decay": 0.5, "cycle_limit": 6,
                         "lr_min": 0.01, **PU}, 70),
    ("tpoly_mul_float_sqrt", {"type": TM + "PolyLRScheduler", "lr": 0.1, "t_initial": 5, "cycle_mul": 2.5,
                              "cycle_limit": 4, **PU}, 110),
    ("tpoly_noise", {"type": TM + "PolyLRScheduler", "lr": 0.1, "t_initial": 30, "noise_range_t": [5, 25],
                     "noise_pct": 0.05, **PU}, 35),
    ("tplat_default_max", {"type": TM + "PlateauLRScheduler", "lr": 0.1, "patience_t": 2}, RISING),
    ("tplat_min_warmup", {"type": TM + "PlateauLRScheduler", "lr": 0.1, "mode": "min", "decay_rate": 0.5,
                          "patience_t": 1, "cooldown_t": 1, "warmup_t": 5, "warmup_lr_init": 1e-3,
                          "lr_min": 0.01}, FALLING),
    ("tplat_min_threshold", {"type": TM + "PlateauLRScheduler", "lr": 1.0, "mode": "min", "decay_rate": 0.3,
                             "patience_t": 0, "threshold": 0.05}, FALLING),
    ("tplat_noise", {"type": TM + "PlateauLRScheduler", "lr": 0.1, "mode": "min", "patience_t": 2,
                     "warmup_t": 3, "noise_range_t": [2, 20], "noise_type": "uniform", "noise_pct": 0.1}, FALLING),
]

# Configs timm refuses: it asserts in the constructor or raises at the first steps.
REJECTED = [
    ("tcos_zero_t_initial", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 0, **PU}),
    ("tcos_zero_cycle_mul", {"type": TM + "CosineLRScheduler", "lr": 0.1, "t_initial": 10, "cycle_mul": 0.0,
                             "cycle_limit": 3, **PU}),
    ("ttanh_negative_cycle_mul", {"type": TM + "TanhLRScheduler", "lr": 0.1, "t_initial": 10,
                                  "cycle_mul": -1.5, "cycle_limit": 3, **PU}),
    ("tpoly_zero_cycle_mul", {"type": TM + "PolyLRScheduler", "lr": 0.1, "t_initial": 10, "cycle_mul": 0.0,
                              **PU}),
]


def optimizer(torch, lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def build(module, cfg):
    """SGD at the config's `lr` and the scheduler `module.<name>` (the config's type after
    its library prefix) built with the config's other keys, its warnings silenced."""
    import torch

    kwargs = {k: v for k, v in cfg.items() if k not in ("type", "lr")}
    make = getattr(module, cfg["type"].split(".", 1)[1])
    o = optimizer(torch, cfg["lr"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = make(o, **kwargs)
    return o, sched


def run_transformers(cfg, n):
    import transformers.optimization as opt

    o, sched = build(opt, cfg)
    metrics = n if isinstance(n, list) else None
    steps = len(metrics) + 1 if metrics else n
    out = []
    for i in range(steps):
        out.append(o.param_groups[0]["lr"])
        if i + 1 < steps:
            sched.step(metrics[i]) if metrics else sched.step()
    return out


def run_timm(cfg, n):
    import timm.scheduler as ts

    o, sched = build(ts, cfg)
    out = []
    if isinstance(n, list):
        out.append(o.param_groups[0]["lr"])
        for i, m in enumerate(n):
            sched.step(i + 1, m)
            out.append(o.param_groups[0]["lr"])
        return out
    for t in range(n):
        sched.step_update(t)
        out.append(o.param_groups[0]["lr"])
    return out


def main():
    ensure_libraries()
    # Stepping a scheduler without an optimizer step warns; the rates are what is recorded.
    warnings.simplefilter("ignore")
    import timm
    import torch
    import transformers

    cases = []
    for name, cfg, n in CONFIGS:
        run = run_timm if cfg["type"].startswith("timm.") else run_transformers
        case = {"name": name, "config": cfg, "values": [repr(float(v)) for v in run(cfg, n)]}
        if isinstance(n, list):
            case["metrics"] = n
        if "noise_range_t" in cfg:
            clean = {k: v for k, v in cfg.items() if k != "noise_range_t"}
            case["clean"] = [repr(float(v)) for v in run(clean, n)]
        cases.append(case)
    rejected = []
    for name, cfg in REJECTED:
        try:
            run_timm(cfg, 20)
        except (AssertionError, ValueError, ZeroDivisionError) as e:
            rejected.append({"name": name, "config": cfg, "error": repr(e)})
        else:
            sys.exit(f"{name}: timm accepted {cfg}")
    doc = {
        "generator": "scripts/transformers_timm_golden.py",
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "timm": timm.__version__,
        },
        "cases": cases,
        "rejected": rejected,
    }
    write_json(OUT, doc)
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
