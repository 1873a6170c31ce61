#!/usr/bin/env python3
"""Writes crates/lrsched/tests/fixtures/torch_golden.json by running PyTorch itself.

Run it from anywhere: it creates a virtualenv (.venv-torch at the repo root, gitignored),
pip-installs torch from PyPI into it the first time, and re-runs itself there.

Each config below is written in the JSON form lrsched's parser takes; the script turns it
into the optimizer (SGD, one dummy parameter per param group) and the scheduler, and
records, for every step i, the lr and momentum of every param group:

* value 0 is `get_last_lr()` right after construction, value i the one after i calls of
  `scheduler.step()`;
* for ReduceLROnPlateau, value i is the lr after `step(metrics[i - 1])`;
* for a config with `epochs`, value i is the lr after `step(epochs[i - 1])`
  (CosineAnnealingWarmRestarts' fractional epochs).

Lambdas (`lr_lambda`, `scale_fn`) are the same expression strings lrsched evaluates;
here Python evaluates them (`lambda epoch: <expr>`, or the text as written when it
starts with `lambda`).
"""
import math
import os
import sys

from golden_common import ROOT, ensure, fixture, q, write_json

VENV = os.path.join(ROOT, ".venv-torch")
OUT = fixture("lrsched", "torch_golden.json")


def ensure_torch():
    ensure(__file__, VENV, ["torch"], ["torch"], "torch is not importable in ")


PLATEAU_METRICS = q(*([80, 72, 64, 64, 64, 64, 63, 64, 64, 64, 60, 60, 60, 60, 60, 56, 56, 56, 56, 56]
                      + [56] * 10 + [40, 40, 40, 40, 40, 40, 40, 40]))
RISING = q(*([8, 9, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 20, 20, 20, 20, 20]
             + [20] * 15))

CONFIGS = [
    # LambdaLR
    ("lambda_pow", {"type": "LambdaLR", "lr": 0.1, "lr_lambda": "0.95 ** epoch"}, 40),
    ("lambda_two_groups", {"type": "LambdaLR", "lr": [0.1, 0.05], "momentum": 0.9,
                           "lr_lambda": ["1 / (epoch + 1)", "min(1.0, (epoch + 1) / 10)"]}, 30),
    ("lambda_warmup_cosine", {"type": "LambdaLR", "lr": 1.0,
                              "lr_lambda": "epoch / 5 if epoch < 5 else 0.5 * (1 + math.cos(math.pi * (epoch - 5) / 20))"}, 40),
    ("lambda_floor_div", {"type": "LambdaLR", "lr": 0.3, "lr_lambda": "lambda e: 0.1 ** (e // 10)"}, 35),
    # MultiplicativeLR
    ("mult_const", {"type": "MultiplicativeLR", "lr": 0.1, "lr_lambda": 0.95}, 40),
    ("mult_every_third", {"type": "MultiplicativeLR", "lr": [0.1, 0.01],
                          "lr_lambda": "0.9 if epoch % 3 == 0 else 1.0"}, 30),
    ("mult_linear", {"type": "MultiplicativeLR", "lr": 1.0, "lr_lambda": "1 - 0.01 * epoch"}, 60),
    # StepLR
    ("step_30", {"type": "StepLR", "lr": 0.1, "step_size": 30, "gamma": 0.1}, 100),
    ("step_every", {"type": "StepLR", "lr": [1.0, 0.3], "momentum": [0.9, 0.5], "step_size": 1, "gamma": 0.5}, 60),
    ("step_default_gamma", {"type": "StepLR", "lr": 0.7, "step_size": 3}, 40),
    # MultiStepLR
    ("multistep_basic", {"type": "MultiStepLR", "lr": 0.1, "milestones": [30, 80], "gamma": 0.1}, 100),
    ("multistep_repeated_unsorted", {"type": "MultiStepLR", "lr": 1.0, "milestones": [5, 5, 10, 3], "gamma": 0.5}, 30),
    ("multistep_zero_milestone", {"type": "MultiStepLR", "lr": [0.1, 0.2], "milestones": [0, 2, 2], "gamma": 0.3}, 10),
    ("multistep_empty", {"type": "MultiStepLR", "lr": 0.1, "milestones": []}, 10),
    # ConstantLR
    ("constant_defaults", {"type": "ConstantLR", "lr": 0.1}, 20),
    ("constant_zero_iters", {"type": "ConstantLR", "lr": 0.1, "factor": 0.5, "total_iters": 0}, 10),
    ("constant_two_groups", {"type": "ConstantLR", "lr": [0.1, 0.7], "factor": 0.3, "total_iters": 10}, 30),
    # LinearLR
    ("linear_defaults", {"type": "LinearLR", "lr": 0.1}, 20),
    ("linear_decay", {"type": "LinearLR", "lr": 0.1, "start_factor": 1.0, "end_factor": 0.1, "total_iters": 10}, 30),
    ("linear_tiny_start", {"type": "LinearLR", "lr": [0.1, 0.3], "start_factor": 0.001, "end_factor": 1.0, "total_iters": 7}, 20),
    ("linear_to_zero", {"type": "LinearLR", "lr": 0.5, "start_factor": 0.25, "end_factor": 0.0, "total_iters": 4}, 10),
    # ExponentialLR
    ("exp_09", {"type": "ExponentialLR", "lr": 0.1, "gamma": 0.9}, 100),
    ("exp_one", {"type": "ExponentialLR", "lr": 0.1, "gamma": 1.0}, 10),
    ("exp_two_groups", {"type": "ExponentialLR", "lr": [1.0, 0.3], "gamma": 0.5}, 60),
    # PolynomialLR
    ("poly_defaults", {"type": "PolynomialLR", "lr": 0.1}, 10),
    ("poly_square", {"type": "PolynomialLR", "lr": 0.1, "total_iters": 20, "power": 2.0}, 30),
    ("poly_sqrt", {"type": "PolynomialLR", "lr": [0.1, 1.0], "total_iters": 7, "power": 0.5}, 12),
    # CosineAnnealingLR
    ("cos_past_tmax", {"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 10}, 50),
    ("cos_eta_min_groups", {"type": "CosineAnnealingLR", "lr": [0.1, 0.05], "T_max": 7, "eta_min": 0.01}, 60),
    ("cos_tmax_one", {"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 1}, 20),
    ("cos_long", {"type": "CosineAnnealingLR", "lr": 0.1, "T_max": 100, "eta_min": 0.001}, 120),
    # CosineAnnealingWarmRestarts
    ("cawr_plain", {"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 10}, 40),
    ("cawr_tmult2", {"type": "CosineAnnealingWarmRestarts", "lr": [0.1, 0.2], "T_0": 3, "T_mult": 2, "eta_min": 0.001}, 60),
    ("cawr_fractional_tmult3", {"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 5, "T_mult": 3},
     {"epochs": [0.5, 1.0, 2.3, 4.99, 5.0, 7.7, 19.9, 20.0, 21.25, 64.9, 65, 100.5, 3.0, 200.0, 0]}),
    ("cawr_fractional_tmult1", {"type": "CosineAnnealingWarmRestarts", "lr": 0.1, "T_0": 4, "eta_min": 0.01},
     {"epochs": [0.25, 3.75, 4.0, 4.5, 9.1, 12.0, 13.999, 1.5]}),
    ("cawr_fractional_tmult2", {"type": "CosineAnnealingWarmRestarts", "lr": 1.0, "T_0": 2, "T_mult": 2},
     {"epochs": [round(i * 0.7, 1) for i in range(40)]}),
    # CyclicLR
    ("cyclic_triangular", {"type": "CyclicLR", "lr": 0.01, "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5}, 40),
    ("cyclic_triangular2_groups", {"type": "CyclicLR", "lr": [0.01, 0.02], "base_lr": [0.01, 0.02], "max_lr": [0.1, 0.2],
                                   "step_size_up": 4, "step_size_down": 6, "mode": "triangular2",
                                   "base_momentum": 0.85, "max_momentum": 0.95}, 60),
    ("cyclic_exp_range_no_momentum", {"type": "CyclicLR", "lr": 0.05, "momentum": 0.9, "base_lr": 0.001, "max_lr": 0.1,
                                      "step_size_up": 3, "mode": "exp_range", "gamma": 0.95, "cycle_momentum": False}, 40),
    ("cyclic_scale_fn_iterations", {"type": "CyclicLR", "lr": 0.01, "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4,
                                    "step_size_down": 2, "scale_fn": "0.99 ** x", "scale_mode": "iterations"}, 40),
    ("cyclic_scale_fn_cycle", {"type": "CyclicLR", "lr": 0.01, "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3,
                               "scale_fn": "1 / (x + 1)", "scale_mode": "cycle", "base_momentum": 0.7}, 40),
    # OneCycleLR
    ("onecycle_cos", {"type": "OneCycleLR", "lr": 0.1, "max_lr": 0.1, "total_steps": 20}, 21),
    ("onecycle_three_phase_linear", {"type": "OneCycleLR", "lr": [0.1, 0.2], "max_lr": [0.1, 0.2], "epochs": 4,
                                     "steps_per_epoch": 5, "anneal_strategy": "linear", "three_phase": True}, 21),
    ("onecycle_linear_no_momentum", {"type": "OneCycleLR", "lr": 1.0, "momentum": 0.9, "max_lr": 1.0, "total_steps": 30,
                                     "pct_start": 0.25, "anneal_strategy": "linear", "cycle_momentum": False,
                                     "div_factor": 10.0, "final_div_factor": 100.0}, 31),
    ("onecycle_three_phase_cos", {"type": "OneCycleLR", "lr": 0.5, "max_lr": 0.5, "total_steps": 25, "pct_start": 0.4,
                                  "three_phase": True, "base_momentum": 0.8, "max_momentum": 0.9}, 26),
    # SequentialLR
    ("seq_warmup_cosine", {"type": "SequentialLR", "lr": 0.1, "milestones": [5], "schedulers": [
        {"type": "LinearLR", "start_factor": 0.1, "total_iters": 5},
        {"type": "CosineAnnealingLR", "T_max": 20}]}, 40),
    ("seq_three", {"type": "SequentialLR", "lr": [0.1, 0.2], "milestones": [4, 10], "schedulers": [
        {"type": "ConstantLR", "factor": 0.5, "total_iters": 3},
        {"type": "ExponentialLR", "gamma": 0.9},
        {"type": "StepLR", "step_size": 3, "gamma": 0.5}]}, 30),
    ("seq_multiplicative_after", {"type": "SequentialLR", "lr": 0.1, "milestones": [6], "schedulers": [
        {"type": "ExponentialLR", "gamma": 0.9},
        {"type": "MultiplicativeLR", "lr_lambda": 0.8}]}, 20),
    ("seq_cawr_first", {"type": "SequentialLR", "lr": 0.1, "milestones": [10], "schedulers": [
        {"type": "CosineAnnealingWarmRestarts", "T_0": 4},
        {"type": "LinearLR", "start_factor": 1.0, "end_factor": 0.1, "total_iters": 5}]}, 25),
    ("seq_cawr_second", {"type": "SequentialLR", "lr": 0.1, "milestones": [3], "schedulers": [
        {"type": "LinearLR", "start_factor": 0.5, "total_iters": 3},
        {"type": "CosineAnnealingWarmRestarts", "T_0": 5, "T_mult": 2}]}, 30),
    ("seq_constant_then_cyclic", {"type": "SequentialLR", "lr": 0.05, "momentum": 0.9, "milestones": [3], "schedulers": [
        {"type": "ConstantLR", "factor": 0.5, "total_iters": 2},
        {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}]}, 25),
    ("seq_lambda_then_poly", {"type": "SequentialLR", "lr": 0.1, "milestones": [0, 5], "schedulers": [
        {"type": "LambdaLR", "lr_lambda": "0.5"},
        {"type": "LambdaLR", "lr_lambda": "(epoch + 1) / 5"},
        {"type": "PolynomialLR", "total_iters": 8, "power": 2.0}]}, 20),
    # ChainedScheduler
    ("chain_constant_exp", {"type": "ChainedScheduler", "lr": 1.0, "schedulers": [
        {"type": "ConstantLR", "factor": 0.1, "total_iters": 2},
        {"type": "ExponentialLR", "gamma": 0.9}]}, 20),
    ("chain_linear_cosine", {"type": "ChainedScheduler", "lr": 0.1, "schedulers": [
        {"type": "LinearLR", "start_factor": 0.2, "total_iters": 5},
        {"type": "CosineAnnealingLR", "T_max": 10}]}, 30),
    ("chain_three_groups", {"type": "ChainedScheduler", "lr": [1.0, 0.5], "momentum": 0.5, "schedulers": [
        {"type": "ConstantLR", "factor": 0.3, "total_iters": 5},
        {"type": "StepLR", "step_size": 4, "gamma": 0.5},
        {"type": "MultiStepLR", "milestones": [3, 3, 8]}]}, 30),
    ("chain_cyclic_exp", {"type": "ChainedScheduler", "lr": 0.1, "schedulers": [
        {"type": "CyclicLR", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3},
        {"type": "ExponentialLR", "gamma": 0.95}]}, 20),
    # Composites nested as PyTorch allows (its own tests chain a SequentialLR's parts)
    ("seq_chain_first", {"type": "SequentialLR", "lr": 0.1, "milestones": [6], "schedulers": [
        {"type": "ChainedScheduler", "schedulers": [
            {"type": "ConstantLR", "factor": 0.5, "total_iters": 3},
            {"type": "ExponentialLR", "gamma": 0.9}]},
        {"type": "CosineAnnealingLR", "T_max": 10, "eta_min": 0.01}]}, 25),
    ("seq_chain_at_zero", {"type": "SequentialLR", "lr": 0.1, "milestones": [0], "schedulers": [
        {"type": "StepLR", "step_size": 2},
        {"type": "ChainedScheduler", "schedulers": [
            {"type": "LinearLR", "start_factor": 0.2, "total_iters": 4},
            {"type": "StepLR", "step_size": 3, "gamma": 0.5}]}]}, 20),
    ("seq_in_seq_first", {"type": "SequentialLR", "lr": 1.0, "milestones": [8], "schedulers": [
        {"type": "SequentialLR", "milestones": [3], "schedulers": [
            {"type": "LinearLR", "start_factor": 0.25, "total_iters": 3},
            {"type": "ExponentialLR", "gamma": 0.8}]},
        {"type": "StepLR", "step_size": 4, "gamma": 0.5}]}, 25),
    ("chain_with_seq", {"type": "ChainedScheduler", "lr": 1.0, "schedulers": [
        {"type": "SequentialLR", "milestones": [4], "schedulers": [
            {"type": "ConstantLR", "factor": 0.5, "total_iters": 4},
            {"type": "ExponentialLR", "gamma": 0.9}]},
        {"type": "MultiStepLR", "milestones": [6, 12], "gamma": 0.5}]}, 25),
    ("chain_in_chain", {"type": "ChainedScheduler", "lr": 1.0, "schedulers": [
        {"type": "ChainedScheduler", "schedulers": [
            {"type": "ExponentialLR", "gamma": 0.95},
            {"type": "StepLR", "step_size": 5, "gamma": 0.5}]},
        {"type": "CosineAnnealingLR", "T_max": 7}]}, 25),
    # ReduceLROnPlateau
    ("plateau_min_rel", {"type": "ReduceLROnPlateau", "lr": 0.1, "patience": 2}, {"metrics": PLATEAU_METRICS}),
    ("plateau_max_abs_cooldown", {"type": "ReduceLROnPlateau", "lr": [0.1, 0.5], "mode": "max", "threshold_mode": "abs",
                                  "threshold": 0.1, "cooldown": 2, "factor": 0.5, "patience": 1,
                                  "min_lr": [0.02, 0.1]}, {"metrics": RISING}),
    ("plateau_eps", {"type": "ReduceLROnPlateau", "lr": 0.1, "factor": 0.5, "patience": 0, "eps": 0.01,
                     "threshold": 0.0}, {"metrics": PLATEAU_METRICS}),
    ("plateau_min_abs", {"type": "ReduceLROnPlateau", "lr": 1.0, "threshold_mode": "abs", "threshold": 0.5,
                         "patience": 3, "cooldown": 1, "min_lr": 0.05, "momentum": 0.9}, {"metrics": PLATEAU_METRICS}),
    ("plateau_max_rel", {"type": "ReduceLROnPlateau", "lr": 0.2, "mode": "max", "patience": 2, "factor": 0.3},
     {"metrics": RISING}),
]


def to_fn(spec, var):
    import torch  # noqa: F401

    if isinstance(spec, (int, float)):
        return lambda _x, v=spec: v
    env = {"math": math, "min": min, "max": max, "abs": abs, "pi": math.pi, "e": math.e}
    for f in ("exp", "log", "sqrt", "cos", "sin", "floor", "ceil"):
        env[f] = getattr(math, f)
    text = spec if spec.strip().startswith("lambda") else "lambda %s: %s" % (var, spec)
    return eval(text, env)


def build(cfg, opt):
    from torch.optim import lr_scheduler as lrs

    cfg = dict(cfg)
    name = cfg.pop("type")
    cfg.pop("lr", None)
    cfg.pop("momentum", None)
    cls = getattr(lrs, name)
    if name == "SequentialLR":
        subs = [build(s, opt) for s in cfg.pop("schedulers")]
        return cls(opt, schedulers=subs, **cfg)
    if name == "ChainedScheduler":
        subs = [build(s, opt) for s in cfg.pop("schedulers")]
        return cls(subs, optimizer=opt)
    if name in ("LambdaLR", "MultiplicativeLR"):
        lam = cfg["lr_lambda"]
        cfg["lr_lambda"] = [to_fn(x, "epoch") for x in lam] if isinstance(lam, list) else to_fn(lam, "epoch")
    if name == "CyclicLR" and cfg.get("scale_fn") is not None:
        cfg["scale_fn"] = to_fn(cfg["scale_fn"], "x")
    return cls(opt, **cfg)


def run(name, cfg, how):
    import torch

    lrs = cfg.get("lr", 1e-3)
    lrs = lrs if isinstance(lrs, list) else [lrs]
    mom = cfg.get("momentum", 0.0)
    moms = mom if isinstance(mom, list) else [mom] * len(lrs)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr, "momentum": m}
              for lr, m in zip(lrs, moms)]
    opt = torch.optim.SGD(groups, lr=lrs[0])
    sched = build(cfg, opt)

    def record(out_lr, out_m):
        # As repr strings: the shortest text that reads back as the same double with a
        # correctly rounded parser (Rust's str::parse), which JSON number readers need not be.
        out_lr.append([repr(float(g["lr"])) for g in opt.param_groups])
        out_m.append([repr(float(g["momentum"])) for g in opt.param_groups])

    lr_trace, m_trace = [], []
    entry = {"name": name, "config": cfg}
    record(lr_trace, m_trace)
    # get_last_lr() agrees with the groups' lr; check that once, so the fixture means both.
    assert [repr(float(x)) for x in sched.get_last_lr()] == lr_trace[0], name
    if isinstance(how, int):
        for _ in range(how - 1):
            opt.step()
            sched.step()
            record(lr_trace, m_trace)
            assert [repr(float(x)) for x in sched.get_last_lr()] == lr_trace[-1], name
    elif "metrics" in how:
        entry["metrics"] = how["metrics"]
        for m in how["metrics"]:
            opt.step()
            sched.step(m)
            record(lr_trace, m_trace)
    else:
        entry["epochs"] = how["epochs"]
        for e in how["epochs"]:
            opt.step()
            sched.step(e)
            record(lr_trace, m_trace)
    entry["lr"] = lr_trace
    entry["momentum"] = m_trace
    return entry


def main():
    ensure_torch()
    import warnings

    import torch

    warnings.simplefilter("ignore")
    cases = [run(n, c, h) for n, c, h in CONFIGS]
    doc = {
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "semantics": "lr[i] / momentum[i]: every param group's value in force for optimizer step i "
                     "(after i scheduler.step() calls; step(metrics[i-1]) or step(epochs[i-1]) where given), "
                     "written as Python repr strings so they read back bit-exact",
        "cases": cases,
    }
    write_json(OUT, doc)
    print("wrote %d cases to %s (torch %s)" % (len(cases), OUT, torch.__version__))


if __name__ == "__main__":
    main()
