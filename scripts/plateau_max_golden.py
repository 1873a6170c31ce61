#!/usr/bin/env python3
"""Writes crates/lrsched-train/tests/fixtures/plateau_max_golden.json by running PyTorch's
ReduceLROnPlateau(mode="max") over accuracy sequences with ties and falls, the case a
trainer that monitors val_acc must get right (tests/plateau_monitor.rs).

Run it from anywhere: it uses the virtualenv .venv-torch at the repo root (gitignored),
creating it and pip-installing torch the first time, and re-runs itself there.
Value i of `lrs` is the lr after `step(metrics[i - 1])` (value 0 right after construction).
"""
import os
import subprocess
import sys

from golden_common import ROOT, fixture, write_json

VENV = os.path.join(ROOT, ".venv-torch")
OUT = fixture("lrsched-train", "plateau_max_golden.json")

CASES = [
    # ties right after the best: not improvements in max mode
    {"kwargs": {"factor": 0.5, "patience": 1}, "metrics": [0.5, 0.6, 0.6, 0.6, 0.6, 0.61, 0.61, 0.61, 0.7, 0.7]},
    # falling accuracy
    {"kwargs": {"factor": 0.1, "patience": 2}, "metrics": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.95, 0.94, 0.93]},
    # relative threshold around a tie, cooldown
    {"kwargs": {"factor": 0.5, "patience": 0, "threshold": 0.01, "cooldown": 1},
     "metrics": [0.5, 0.504, 0.506, 0.52, 0.52, 0.52, 0.53, 0.5, 0.5, 0.5]},
    # absolute threshold, min_lr
    {"kwargs": {"factor": 0.5, "patience": 1, "threshold": 0.02, "threshold_mode": "abs", "min_lr": 0.02},
     "metrics": [0.1, 0.11, 0.12, 0.13, 0.2, 0.21, 0.21, 0.21, 0.21, 0.21, 0.21, 0.21]},
]


def main():
    import torch

    out = {"torch": torch.__version__, "cases": []}
    for case in CASES:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", **case["kwargs"])
        lrs = [opt.param_groups[0]["lr"]]
        for m in case["metrics"]:
            sched.step(m)
            lrs.append(opt.param_groups[0]["lr"])
        out["cases"].append({"lr": 0.1, **case, "lrs": [repr(x) for x in lrs]})
    write_json(OUT, out)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    py = os.path.join(VENV, "bin", "python")
    if os.path.abspath(sys.prefix) != os.path.abspath(VENV):
        if not os.path.exists(py):
            subprocess.check_call([sys.executable, "-m", "venv", VENV])
            subprocess.check_call([py, "-m", "pip", "install", "-q", "torch"])
        os.execv(py, [py, os.path.abspath(__file__)] + sys.argv[1:])
    main()
