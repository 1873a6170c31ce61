#!/usr/bin/env python3
"""Writes crates/lrsched-train/tests/fixtures/lrfree_optim_golden.json: the LR-free optimizers'
updates by their reference PyTorch implementations.

The problem is that of scripts/torch_optim_golden.py: a 7-element float32 parameter vector
(split into tensors by parameter group), and before each step grad = p * c + d elementwise (a
float32 multiply, then a float32 add) with fixed float32 vectors c and d. The parameters after
every step are recorded as float32 bit patterns, and the references' scalar estimates (D, or
DoG's step size) as floats, so that the Rust test can compare them.

Each case is run twice: as the references are (`params_bits`), and with the references'
reductions (`torch.dot`, `sum`, `norm`, which PyTorch computes in float32 in an order of its
own) replaced by correctly rounded ones: summed exactly (math.fsum over float64), then rounded
to float32 (`params_bits_exact_sums`); in that run `sqrt` is correctly rounded too (PyTorch's
float32 sqrt is off by one ulp for a few inputs, which some cases meet). lrsched sums with
compensation in f64, in a fixed order, and its sqrt is IEEE's, so it must match the second
run bit for bit (every other operation is the references'), and the first within what
PyTorch's float32 summation and sqrt add.

The references, from PyPI:
  * prodigy      -> prodigyopt.Prodigy
  * dadapt_adam  -> dadaptation.DAdaptAdam
  * dadapt_sgd   -> dadaptation.DAdaptSGD
  * dog          -> dog.DoG (package dog-optimizer)

How lrsched's config maps onto them: `betas`, `eps`, `weight_decay`, `d0`, `d_coef`,
`growth_rate` (absent: unbounded, the references' inf), `beta3`, `safeguard_warmup`,
`reps_rel`, `init_eta` and `momentum` (DAdaptSGD) by name; `bias_correction` is
`use_bias_correction`; Prodigy's `decouple` is `not coupled_weight_decay`, DAdaptAdam's is
`decoupled_weight_decay`. A group's `lr_scale` multiplies its `lr` (Prodigy and DAdaptSGD
accept only one rate for all groups, or 0), except for DAdaptAdam, where it is the group's
`layer_scale`, its own way to scale a layer's rate.

The schedule multiplies the rate as lrsched's trainer does: before each step, every group's
`lr` (and `betas[0]` or `momentum` when the case schedules it) is set to the step's value.

Usage: python3 scripts/lrfree_optim_golden.py [--out PATH]

It runs under .venv-test (the repository's test venv) when the running interpreter lacks
torch or a reference, pip-installing torch and the references there when it lacks them
(`pip install torch prodigyopt dadaptation dog-optimizer`).
"""

import argparse
import os
import struct
import sys

from golden_common import ROOT, ensure, fixture, write_json

VENV = os.path.join(ROOT, ".venv-test")
OUT = fixture("lrsched-train", "lrfree_optim_golden.json")


def ensure_deps():
    """Re-runs this script under a Python that has torch and the three references."""
    ensure(__file__, VENV, ["torch", "prodigyopt", "dadaptation", "dog"],
           ["torch", "prodigyopt", "dadaptation", "dog-optimizer"],
           "torch or a reference optimizer is not importable even in ")


def bits(t):
    """float32 bit patterns of a tensor's values, as unsigned integers."""
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in t.tolist()]


N = 7
INIT = [0.5, -1.25, 2.0, 0.0, -0.3, 0.75, 1.5]
C = [0.8, 1.3, -0.2, 0.5, 2.1, 0.05, 0.9]
D = [0.1, -0.4, 0.3, 0.02, -1.1, 0.6, -0.25]

STEPS = 10
# The rate multiplier at each step (the references' default lr is 1): short decimals, so
# that JSON numbers parse exactly.
LR_CONST = [1.0] * STEPS
LR_SCHED = [1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
BETA1 = [0.95, 0.9, 0.85, 0.8, 0.85, 0.9, 0.9, 0.9, 0.95, 0.95]
MOM = [0.0, 0.5, 0.9, 0.8, 0.85, 0.9, 0.9, 0.9, 0.95, 0.95]
ONE = [{"start": 0, "end": N, "lr_scale": 1.0, "weight_decay": None}]
# Two groups, the second with its own rate factor and no weight decay.
TWO = [
    {"start": 0, "end": 4, "lr_scale": 1.0, "weight_decay": None},
    {"start": 4, "end": N, "lr_scale": 0.5, "weight_decay": 0.0},
]
# Two groups at one rate (Prodigy and DAdaptSGD take one rate for all groups).
TWO_SAME = [
    {"start": 0, "end": 4, "lr_scale": 1.0, "weight_decay": None},
    {"start": 4, "end": N, "lr_scale": 1.0, "weight_decay": None},
]
# The second group frozen by a zero rate (the references' only other allowed rate).
TWO_FROZEN = [
    {"start": 0, "end": 4, "lr_scale": 1.0, "weight_decay": None},
    {"start": 4, "end": N, "lr_scale": 0.0, "weight_decay": 0.0},
]


def case(name, config, lr=LR_CONST, momentum=None, groups=ONE):
    return dict(name=name, config=config, lr=lr, momentum=momentum, groups=groups)


CASES = [
    case("prodigy", {"kind": "prodigy"}),
    case("prodigy_d0_sched_wd", {"kind": "prodigy", "d0": 0.001, "weight_decay": 0.1},
         lr=LR_SCHED),
    case("prodigy_coupled_bc_beta1_sched",
         {"kind": "prodigy", "d0": 0.001, "weight_decay": 0.05, "coupled_weight_decay": True,
          "bias_correction": True}, momentum=BETA1),
    case("prodigy_safeguard_growth",
         {"kind": "prodigy", "d0": 0.01, "safeguard_warmup": True, "growth_rate": 1.5,
          "d_coef": 0.5, "beta3": 0.95, "eps": 1e-6}, lr=LR_SCHED),
    case("prodigy_beta1_zero", {"kind": "prodigy", "d0": 0.001, "betas": [0.0, 0.99],
                                "growth_rate": 1.5}, lr=LR_SCHED),
    case("prodigy_two_groups", {"kind": "prodigy", "d0": 0.001, "weight_decay": 0.1},
         lr=LR_SCHED, groups=TWO_SAME),
    case("prodigy_frozen_group", {"kind": "prodigy", "d0": 0.001, "weight_decay": 0.1},
         groups=TWO_FROZEN),
    case("dadapt_adam", {"kind": "dadapt_adam"}),
    case("dadapt_adam_decoupled_sched",
         {"kind": "dadapt_adam", "d0": 0.001, "weight_decay": 0.1,
          "decoupled_weight_decay": True}, lr=LR_SCHED),
    case("dadapt_adam_l2_bc_growth_beta1_sched",
         {"kind": "dadapt_adam", "d0": 0.001, "weight_decay": 0.05, "bias_correction": True,
          "growth_rate": 2.0, "eps": 1e-6}, momentum=BETA1),
    case("dadapt_adam_two_groups", {"kind": "dadapt_adam", "d0": 0.001, "weight_decay": 0.1,
                                    "betas": [0.8, 0.99]}, lr=LR_SCHED, groups=TWO),
    case("dadapt_sgd", {"kind": "dadapt_sgd"}),
    case("dadapt_sgd_momentum_wd_sched",
         {"kind": "dadapt_sgd", "d0": 0.001, "momentum": 0.9, "weight_decay": 0.01},
         lr=LR_SCHED),
    case("dadapt_sgd_momentum_sched_growth",
         {"kind": "dadapt_sgd", "d0": 0.001, "growth_rate": 1.2}, momentum=MOM),
    case("dadapt_sgd_two_groups", {"kind": "dadapt_sgd", "d0": 0.001, "weight_decay": 0.05},
         lr=LR_SCHED, groups=TWO_SAME),
    case("dog", {"kind": "dog"}),
    case("dog_wd_sched", {"kind": "dog", "weight_decay": 0.05}, lr=LR_SCHED),
    case("dog_init_eta", {"kind": "dog", "init_eta": 0.01, "eps": 1e-6}),
    case("dog_two_groups", {"kind": "dog", "reps_rel": 1e-4, "weight_decay": 0.1},
         lr=LR_SCHED, groups=TWO),
]


def build(kind, cfg, groups, lr0):
    from prodigyopt import Prodigy
    from dadaptation import DAdaptAdam, DAdaptSGD
    from dog import DoG

    betas = tuple(cfg.get("betas", (0.9, 0.999)))
    eps = cfg.get("eps", 1e-8)
    wd = cfg.get("weight_decay", 0.0)
    growth = cfg.get("growth_rate", float("inf"))
    d0 = cfg.get("d0", 1e-6)
    if kind == "prodigy":
        return Prodigy(groups, lr=lr0, betas=betas, beta3=cfg.get("beta3"), eps=eps,
                       weight_decay=wd, decouple=not cfg.get("coupled_weight_decay", False),
                       use_bias_correction=cfg.get("bias_correction", False),
                       safeguard_warmup=cfg.get("safeguard_warmup", False), d0=d0,
                       d_coef=cfg.get("d_coef", 1.0), growth_rate=growth)
    if kind == "dadapt_adam":
        return DAdaptAdam(groups, lr=lr0, betas=betas, eps=eps, weight_decay=wd,
                          decouple=cfg.get("decoupled_weight_decay", False),
                          use_bias_correction=cfg.get("bias_correction", False), d0=d0,
                          growth_rate=growth)
    if kind == "dadapt_sgd":
        return DAdaptSGD(groups, lr=lr0, momentum=cfg.get("momentum", 0.0), weight_decay=wd,
                         d0=d0, growth_rate=growth)
    if kind == "dog":
        return DoG(groups, reps_rel=cfg.get("reps_rel", 1e-6), lr=lr0, weight_decay=wd,
                   eps=eps, init_eta=cfg.get("init_eta"))
    raise ValueError(kind)


class ExactSums:
    """Within it, torch.dot, Tensor.sum, the norms and sqrt of float32 tensors are correctly
    rounded: exact sums (math.fsum over float64), rounded once to float32; sqrt in float64,
    rounded to float32 (which is the correctly rounded float32 sqrt)."""

    def __enter__(self):
        import math
        import torch

        self.saved = (torch.dot, torch.Tensor.sum, torch.Tensor.norm, torch.norm,
                      torch.Tensor.sqrt, torch.sqrt)
        dot, tsum, tnorm, norm, tsqrt, sqrt = self.saved

        def f32(x):
            return torch.tensor(x, dtype=torch.float32)

        def exact_dot(a, b):
            if a.dtype != torch.float32:
                return dot(a, b)
            return f32(math.fsum(x * y for x, y in zip(a.double().tolist(),
                                                       b.double().tolist())))

        def exact_sum(t, *args, **kwargs):
            if args or kwargs or t.dtype != torch.float32:
                return tsum(t, *args, **kwargs)
            return f32(math.fsum(t.double().flatten().tolist()))

        def exact_norm(t, *args, **kwargs):
            if args or kwargs or t.dtype != torch.float32:
                return tnorm(t, *args, **kwargs)
            return f32(math.sqrt(math.fsum(x * x for x in t.double().flatten().tolist())))

        def exact_sqrt(t):
            if t.dtype != torch.float32:
                return tsqrt(t)
            return tsqrt(t.double()).float()

        torch.Tensor.sqrt = exact_sqrt
        torch.sqrt = exact_sqrt
        torch.dot = exact_dot
        torch.Tensor.sum = exact_sum
        torch.Tensor.norm = exact_norm
        torch.norm = exact_norm
        return self

    def __exit__(self, *exc):
        import torch

        (torch.dot, torch.Tensor.sum, torch.Tensor.norm, torch.norm, torch.Tensor.sqrt,
         torch.sqrt) = self.saved


def estimate(kind, opt):
    """The reference's scalar estimate after a step: D (Prodigy, D-Adaptation) or each
    group's DoG step size."""
    if kind == "dog":
        return [float(g["eta"][0]) for g in opt.param_groups]
    return [float(opt.param_groups[0]["d"])]


def run(spec):
    res = dict(spec)
    res["params_bits"], res["estimates"] = trace(spec, exact_sums=False)
    res["params_bits_exact_sums"], _ = trace(spec, exact_sums=True)
    return res


def trace(spec, exact_sums):
    import torch

    cfg = spec["config"]
    kind = cfg["kind"]
    full = torch.tensor(INIT, dtype=torch.float32)
    cfull = torch.tensor(C, dtype=torch.float32)
    dfull = torch.tensor(D, dtype=torch.float32)
    wd = cfg.get("weight_decay", 0.0)
    params, cs, ds, groups = [], [], [], []
    for g in spec["groups"]:
        p = torch.nn.Parameter(full[g["start"]:g["end"]].clone())
        params.append(p)
        cs.append(cfull[g["start"]:g["end"]].clone())
        ds.append(dfull[g["start"]:g["end"]].clone())
        group = {"params": [p], "weight_decay": wd if g["weight_decay"] is None
                 else g["weight_decay"], "_scale": g["lr_scale"]}
        if kind == "dadapt_adam":
            group["layer_scale"] = g["lr_scale"]
        groups.append(group)
    opt = build(kind, cfg, groups, spec["lr"][0])

    out_params, out_est = [], []
    for t, lr in enumerate(spec["lr"]):
        for group in opt.param_groups:
            group["lr"] = lr if kind == "dadapt_adam" else lr * group["_scale"]
            if spec["momentum"] is not None:
                m = spec["momentum"][t]
                if "betas" in group:
                    group["betas"] = (m, group["betas"][1])
                else:
                    group["momentum"] = m
        with torch.no_grad():
            for p, c, d in zip(params, cs, ds):
                p.grad = p.detach() * c + d
        if exact_sums:
            with ExactSums():
                opt.step()
        else:
            opt.step()
        with torch.no_grad():
            out_params.append(bits(torch.cat([p.detach() for p in params])))
        out_est.append(estimate(kind, opt))
    return out_params, out_est


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    ensure_deps()
    import torch
    from importlib.metadata import version

    torch.set_num_threads(1)
    # Prodigy and DAdaptAdam print a line when weight decay is decoupled; keep stdout ours.
    real_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        cases = [run(spec) for spec in CASES]
    finally:
        sys.stdout.close()
        sys.stdout = real_stdout
    doc = {
        "generator": "scripts/lrfree_optim_golden.py",
        "torch_version": torch.__version__,
        "references": {
            "prodigyopt": version("prodigyopt"),
            "dadaptation": version("dadaptation"),
            "dog-optimizer": version("dog-optimizer"),
        },
        "gradient": "before each step: grad = p * c + d (float32 multiply, then float32 add)",
        "n": N,
        "init_bits": bits(torch.tensor(INIT, dtype=torch.float32)),
        "c_bits": bits(torch.tensor(C, dtype=torch.float32)),
        "d_bits": bits(torch.tensor(D, dtype=torch.float32)),
        "cases": cases,
    }
    write_json(args.out, doc)
    print(f"wrote {len(doc['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()
