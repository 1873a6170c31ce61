#!/usr/bin/env python3
"""Writes crates/lrsched-train/tests/fixtures/optim_golden.json: PyTorch's optimizer updates.

Each case runs a few optimizer steps in float32 on a 7-element parameter vector (split into
tensors by parameter group) and records the parameters after every step as float32 bit
patterns, so that the Rust test can compare them exactly. The gradient is made by a rule the
Rust test repeats bit for bit: before each step, grad = p * c + d elementwise (two separate
float32 operations, a multiply then an add), with fixed float32 vectors c and d.

How the options map onto PyTorch:
  * sgd / momentum / nesterov -> torch.optim.SGD; rmsprop -> torch.optim.RMSprop;
    adam / adamw -> torch.optim.Adam / torch.optim.AdamW (non-foreach, the CPU default);
  * schedule_free_sgd / schedule_free_adamw -> schedulefree.SGDScheduleFree /
    schedulefree.AdamWScheduleFree; their evaluation weights are recorded after every step
    with the same `lerp_` their `eval()` does (on a copy, so training is not disturbed),
    and one case calls the real `eval()` / `train()` around every record;
  * l1: added to the gradient by hand, `grad.add_(torch.sign(p), alpha=l1)`, which is what
    autograd adds for a loss term `l1 * p.abs().sum()`; it comes before clipping, as a loss
    term would;
  * clip: `torch.nn.utils.clip_grad_norm_` / `clip_grad_value_` after the gradient is made
    and before `optimizer.step()`;
  * decoupled weight decay for optimizers PyTorch has no such option for (SGD family,
    RMSProp): `p.mul_(1 - lr * weight_decay)` before the step, AdamW's rule;
  * lr and momentum / beta1 are set in the parameter groups before each step, as an
    lrsched schedule (or PyTorch's OneCycleLR with cycle_momentum) would.

Usage: python3 scripts/torch_optim_golden.py [--out PATH]

It runs under the torch venv at .venv-torch (the one scripts/torch_golden.py makes) when the
running interpreter lacks torch or schedulefree, installing schedulefree there if missing;
without that venv it makes /tmp/lrsched-optim-venv and installs torch and schedulefree from
PyPI.
"""

import argparse
import importlib.util
import os
import struct
import subprocess
import sys

from golden_common import ROOT, first_venv, fixture, rerun_with, write_json

VENVS = [os.path.join(ROOT, ".venv-torch"), "/tmp/lrsched-optim-venv"]
OUT = fixture("lrsched-train", "optim_golden.json")


def have(module):
    return importlib.util.find_spec(module) is not None


def ensure_deps():
    """Re-runs this script under a Python that has torch and schedulefree."""
    if have("torch") and have("schedulefree"):
        return
    if os.environ.get("LRSCHED_OPTIM_REEXEC"):
        sys.exit("torch or schedulefree is not importable even in the venv")
    py = first_venv(VENVS, ["torch"])
    # schedulefree needs nothing torch does not already bring.
    probe = subprocess.run([py, "-c", "import schedulefree"], capture_output=True)
    if probe.returncode != 0:
        subprocess.check_call(
            [py, "-m", "pip", "install", "--quiet", "--no-deps", "schedulefree"]
        )
    rerun_with(py, __file__, "LRSCHED_OPTIM_REEXEC")


def bits(t):
    """float32 bit patterns of a tensor's values, as unsigned integers."""
    return [struct.unpack("<I", struct.pack("<f", v))[0] for v in t.tolist()]


N = 7
INIT = [0.5, -1.25, 2.0, 0.0, -0.3, 0.75, 1.5]
C = [0.8, 1.3, -0.2, 0.5, 2.1, 0.05, 0.9]
D = [0.1, -0.4, 0.3, 0.02, -1.1, 0.6, -0.25]

# Schedules sampled at each step: short decimals, so that JSON numbers parse exactly.
LR = [0.1, 0.08, 0.06, 0.05, 0.03, 0.02]
LR_CONST = [0.1] * 6
MOM = [0.95, 0.9, 0.85, 0.8, 0.85, 0.9]
BETA1 = [0.95, 0.9, 0.85, 0.8, 0.85, 0.9]
ONE = [{"start": 0, "end": N, "lr_scale": 1.0, "weight_decay": None}]
TWO = [
    {"start": 0, "end": 4, "lr_scale": 1.0, "weight_decay": None},
    {"start": 4, "end": N, "lr_scale": 0.5, "weight_decay": 0.0},
]


def case(name, config, lr=LR, momentum=None, groups=ONE, switch_eval=False):
    return dict(name=name, config=config, lr=lr, momentum=momentum, groups=groups,
                switch_eval=switch_eval)


CASES = [
    case("sgd", {"kind": "sgd"}),
    case("sgd_l2", {"kind": "sgd", "weight_decay": 0.05}),
    case("sgd_decoupled", {"kind": "sgd", "weight_decay": 0.05, "decoupled_weight_decay": True}),
    case("sgd_l1", {"kind": "sgd", "l1": 0.01}),
    case("sgd_clip_value", {"kind": "sgd", "clip": {"value": 0.5}}),
    case("sgd_two_groups", {"kind": "sgd", "weight_decay": 0.1}, groups=TWO),
    case("momentum", {"kind": "momentum", "momentum": 0.9}),
    case("momentum_dampening_sched", {"kind": "momentum", "dampening": 0.1}, momentum=MOM),
    case("momentum_l2_clip_norm_l1",
         {"kind": "momentum", "weight_decay": 0.01, "l1": 0.005, "clip": {"norm": 1.0}}),
    case("nesterov", {"kind": "nesterov", "momentum": 0.9, "weight_decay": 0.02}),
    case("nesterov_sched", {"kind": "nesterov"}, momentum=MOM),
    case("rmsprop", {"kind": "rmsprop"}),
    case("rmsprop_l2", {"kind": "rmsprop", "alpha": 0.9, "weight_decay": 0.05}),
    case("rmsprop_centered_momentum",
         {"kind": "rmsprop", "centered": True, "momentum": 0.5, "eps": 1e-6}),
    case("rmsprop_momentum_sched", {"kind": "rmsprop", "momentum": 0.9}, momentum=MOM),
    case("adam", {"kind": "adam"}),
    case("adam_l2", {"kind": "adam", "weight_decay": 0.1, "betas": [0.8, 0.99]}),
    case("adam_decoupled", {"kind": "adam", "weight_decay": 0.1, "decoupled_weight_decay": True}),
    case("adam_beta1_sched", {"kind": "adam"}, momentum=BETA1),
    case("adam_clip_norm", {"kind": "adam", "clip": {"norm": 0.5}}),
    case("adamw", {"kind": "adamw", "weight_decay": 0.1}, momentum=BETA1),
    case("adamw_two_groups", {"kind": "adamw", "weight_decay": 0.1, "eps": 1e-6}, groups=TWO),
    case("adamw_l1_clip_value", {"kind": "adamw", "weight_decay": 0.01, "l1": 0.02,
                                 "clip": {"value": 0.3}}),
    case("sf_sgd", {"kind": "schedule_free_sgd"}, lr=LR_CONST),
    case("sf_sgd_warmup_wd", {"kind": "schedule_free_sgd", "momentum": 0.8, "warmup_steps": 3,
                              "weight_decay": 0.05}, lr=LR_CONST),
    case("sf_sgd_lr_sched", {"kind": "schedule_free_sgd", "r": 1.0}, lr=LR),
    case("sf_adamw", {"kind": "schedule_free_adamw"}, lr=LR_CONST),
    case("sf_adamw_warmup_wd_switch",
         {"kind": "schedule_free_adamw", "warmup_steps": 2, "weight_decay": 0.01},
         lr=LR_CONST, switch_eval=True),
    case("sf_adamw_two_groups",
         {"kind": "schedule_free_adamw", "betas": [0.95, 0.99], "weight_decay": 0.1,
          "weight_lr_power": 1.0}, lr=LR_CONST, groups=TWO),
]


def run(spec):
    import torch
    import schedulefree

    cfg = spec["config"]
    kind = cfg["kind"]
    full = torch.tensor(INIT, dtype=torch.float32)
    cfull = torch.tensor(C, dtype=torch.float32)
    dfull = torch.tensor(D, dtype=torch.float32)
    params, cs, ds, groups = [], [], [], []
    wd = cfg.get("weight_decay", 0.0)
    decoupled = cfg.get("decoupled_weight_decay", False) or kind == "adamw"
    manual_decay = decoupled and kind in ("sgd", "momentum", "nesterov", "rmsprop")
    for g in spec["groups"]:
        p = torch.nn.Parameter(full[g["start"]:g["end"]].clone())
        params.append(p)
        cs.append(cfull[g["start"]:g["end"]].clone())
        ds.append(dfull[g["start"]:g["end"]].clone())
        gwd = wd if g["weight_decay"] is None else g["weight_decay"]
        groups.append({"params": [p], "weight_decay": 0.0 if manual_decay else gwd,
                       "_wd": gwd, "_scale": g["lr_scale"]})
    lr0 = spec["lr"][0]
    betas = tuple(cfg.get("betas", (0.9, 0.999)))
    eps = cfg.get("eps", 1e-8)
    if kind in ("sgd", "momentum", "nesterov"):
        mom = 0.0 if kind == "sgd" else cfg.get("momentum", 0.9)
        opt = torch.optim.SGD(groups, lr=lr0, momentum=mom,
                              dampening=cfg.get("dampening", 0.0), nesterov=kind == "nesterov",
                              foreach=False)
    elif kind == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=lr0, alpha=cfg.get("alpha", 0.99), eps=eps,
                                  momentum=cfg.get("momentum", 0.0),
                                  centered=cfg.get("centered", False), foreach=False)
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=lr0, betas=betas, eps=eps,
                               decoupled_weight_decay=decoupled, foreach=False)
    elif kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr0, betas=betas, eps=eps, foreach=False)
    elif kind == "schedule_free_sgd":
        opt = schedulefree.SGDScheduleFree(
            groups, lr=lr0, momentum=cfg.get("momentum", 0.9),
            warmup_steps=cfg.get("warmup_steps", 0), r=cfg.get("r", 0.0),
            weight_lr_power=cfg.get("weight_lr_power", 2.0), foreach=False)
    elif kind == "schedule_free_adamw":
        opt = schedulefree.AdamWScheduleFree(
            groups, lr=lr0, betas=betas, eps=eps, warmup_steps=cfg.get("warmup_steps", 0),
            r=cfg.get("r", 0.0), weight_lr_power=cfg.get("weight_lr_power", 2.0),
            foreach=False)
    else:
        raise ValueError(kind)
    sf = kind.startswith("schedule_free")
    if sf:
        opt.train()

    out_params, out_eval = [], []
    for t, lr in enumerate(spec["lr"]):
        for group in opt.param_groups:
            group["lr"] = lr * group["_scale"]
            if spec["momentum"] is not None:
                m = spec["momentum"][t]
                if "betas" in group:
                    group["betas"] = (m, group["betas"][1])
                else:
                    group["momentum"] = m
        with torch.no_grad():
            for p, c, d in zip(params, cs, ds):
                p.grad = p.detach() * c + d
                if cfg.get("l1", 0.0) != 0.0:
                    p.grad.add_(torch.sign(p.detach()), alpha=cfg["l1"])
        clip = cfg.get("clip")
        if isinstance(clip, dict) and "norm" in clip:
            torch.nn.utils.clip_grad_norm_(params, clip["norm"])
        if isinstance(clip, dict) and "value" in clip:
            torch.nn.utils.clip_grad_value_(params, clip["value"])
        if manual_decay:
            with torch.no_grad():
                for group in opt.param_groups:
                    for p in group["params"]:
                        p.mul_(1 - group["lr"] * group["_wd"])
        opt.step()
        with torch.no_grad():
            out_params.append(bits(torch.cat([p.detach() for p in params])))
            if sf and spec["switch_eval"]:
                opt.eval()
                out_eval.append(bits(torch.cat([p.detach() for p in params])))
                opt.train()
            elif sf:
                xs = []
                for group in opt.param_groups:
                    beta = group["momentum"] if "momentum" in group else group["betas"][0]
                    for p in group["params"]:
                        x = p.detach().clone()
                        x.lerp_(end=opt.state[p]["z"], weight=1 - 1 / beta)
                        xs.append(x)
                out_eval.append(bits(torch.cat(xs)))
    res = dict(spec)
    res["params_bits"] = out_params
    res["eval_bits"] = out_eval if sf else None
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    ensure_deps()
    import torch
    import schedulefree  # noqa: F401
    from importlib.metadata import version

    torch.set_num_threads(1)
    doc = {
        "generator": "scripts/torch_optim_golden.py",
        "torch_version": torch.__version__,
        "schedulefree_version": version("schedulefree"),
        "gradient": "before each step: grad = p * c + d (float32 multiply, then float32 add)",
        "n": N,
        "init_bits": bits(torch.tensor(INIT, dtype=torch.float32)),
        "c_bits": bits(torch.tensor(C, dtype=torch.float32)),
        "d_bits": bits(torch.tensor(D, dtype=torch.float32)),
        "cases": [run(spec) for spec in CASES],
    }
    write_json(args.out, doc)
    print(f"wrote {len(doc['cases'])} cases to {args.out}")


if __name__ == "__main__":
    main()
