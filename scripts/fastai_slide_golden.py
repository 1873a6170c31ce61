#!/usr/bin/env python3
"""Writes crates/lrsched-train/tests/fixtures/fastai_slide_golden.json: fastai's four
lr_find suggestion rules (valley, slide, minimum, steep) run on recorded range-test
curves, the reference for lrsched_train::find_lr::{suggest, slide_with}.

fastai itself is a heavy install (and pulls its own torch); its four functions and the
window `lr_find` applies are copied below unchanged from fastai/callback/schedule.py
(fastai 2.7, the version where `slide` and `valley` arrived is 2.5), with `to_np` from
fastai.torch_core. They run on float64 tensors so the reference is the algorithm's, not
float32 rounding (fastai's `lr_find` hands them float32 tensors).

Needs torch and numpy: run it with a Python that has them, e.g.
    .venv-test/bin/python scripts/fastai_slide_golden.py
Rates and losses are written as Python's repr strings, read exactly by Rust's parse.
"""
import math

import numpy as np
import torch

from golden_common import fixture, write_json

OUT = fixture("lrsched-train", "fastai_slide_golden.json")


def to_np(x):
    return x.detach().cpu().numpy()


# --- copied from fastai/callback/schedule.py -------------------------------------------
def valley(lrs: list, losses: list, num_it: int):
    "Suggests a learning rate from the longest valley and returns its index"
    n = len(losses)
    max_start, max_end = 0, 0

    # find the longest valley
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]

    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)

    return float(lrs[idx]), (float(lrs[idx]), losses[idx])


def slide(lrs: list, losses: list, num_it: int, lr_diff: int = 15, thresh: float = .005, adjust_value: float = 1.):
    "Suggests a learning rate following an interval slide rule and returns its index"
    losses = to_np(losses)
    loss_grad = np.gradient(losses)

    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1

    suggestion = float(local_min_lr) * adjust_value
    idx = np.interp(np.log10(suggestion), np.log10(lrs), losses)
    return suggestion, (suggestion, idx)


def minimum(lrs: list, losses: list, num_it: int):
    "Suggests a learning rate one-tenth the minumum before divergance and returns its index"
    lr_min = lrs[losses.argmin()].item()
    loss_idx = losses[min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_min))]
    return lr_min / 10, (lr_min, loss_idx)


def steep(lrs: list, losses: list, num_it: int) -> (float, tuple):
    "Suggests a learning rate when the slope is the steepest and returns its index"
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    lr_steep = lrs[grads.argmin()].item()
    loss_idx = losses[min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_steep))]
    return lr_steep, (lr_steep, loss_idx)


def lr_find_window(rec_lrs, rec_losses, num_it):
    "lr_find's slice of the recorder and its cut at the first NaN"
    lrs = torch.tensor(rec_lrs[num_it // 10:-5], dtype=torch.float64)
    losses = torch.tensor(rec_losses[num_it // 10:-5], dtype=torch.float64)
    nan_idxs = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan_idxs) > 0:
        drop_idx = min(nan_idxs)
        lrs = lrs[:drop_idx]
        losses = losses[:drop_idx]
    return lrs, losses
# ----------------------------------------------------------------------------------------


def smooth(losses, beta=0.98):
    "fastai's AvgSmoothLoss, bias-corrected, as the Recorder records it"
    out, avg = [], 0.0
    for i, l in enumerate(losses):
        avg = beta * avg + (1 - beta) * l
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def sweep(num_it, start=1e-7, end=10.0):
    return [start * (end / start) ** (i / num_it) for i in range(num_it)]


def curve(kind, rng, num_it, stop=None):
    "A recorded curve: the sweep's rates and the smoothed loss, cut at `stop` points"
    lrs = sweep(num_it)
    raw = []
    for lr in lrs:
        x = math.log10(lr)
        if kind == "mnist-like":
            # flat near log 2.3, a fall between 1e-4 and 1e-1, blow-up after 0.3
            base = 2.3 - 2.0 / (1 + math.exp(-(x + 2.5) * 2.5)) + max(0.0, x + 0.5) ** 2 * 8
        elif kind == "bowl":
            base = 1 + ((x + 2) / 2) ** 2
        elif kind == "scaled":
            # the same fall on a loss 100x larger: slide's thresh is absolute
            base = 100 * (2.3 - 2.0 / (1 + math.exp(-(x + 2.5) * 2.5)))
        raw.append(base * (1 + 0.05 * rng.standard_normal()))
    sm = smooth(raw)
    n = stop or num_it
    return lrs[:n], sm[:n]


def rules(rec_lrs, rec_losses, num_it):
    lrs, losses = lr_find_window(rec_lrs, rec_losses, num_it)
    out = {}
    for name, f in [("valley", valley), ("steep", steep), ("minimum", minimum), ("slide", slide)]:
        if len(losses) == 0:
            out[name] = None
            continue
        try:
            out[name] = repr(float(f(lrs, losses, num_it)[0]))
        except (IndexError, ValueError, RuntimeError):
            # what fastai raises on a window too short for the rule
            out[name] = None
    return out


def main():
    rng = np.random.default_rng(22)
    cases = []
    for name, kind, num_it, stop in [
        ("mnist-like, all 100 steps", "mnist-like", 100, None),
        ("mnist-like, stopped at 85", "mnist-like", 100, 85),
        ("bowl, 200 steps", "bowl", 200, None),
        ("loss 100x larger", "scaled", 100, None),
        ("window of 10 points: slide has too few", "mnist-like", 100, 25),
        ("window of exactly 16 points", "bowl", 100, 31),
    ]:
        lrs, losses = curve(kind, rng, num_it, stop)
        cases.append({"name": name, "num_it": num_it, "lrs": [repr(v) for v in lrs],
                      "smoothed": [repr(v) for v in losses], "rules": rules(lrs, losses, num_it)})
    # A NaN inside the window cuts it there.
    lrs, losses = curve("mnist-like", rng, 100)
    losses[60] = float("nan")
    cases.append({"name": "NaN at 60", "num_it": 100, "lrs": [repr(v) for v in lrs],
                  "smoothed": [repr(v) for v in losses], "rules": rules(lrs, losses, 100)})
    # slide's own arguments, on one window.
    lrs, losses = curve("mnist-like", rng, 100)
    wl, wy = lr_find_window(lrs, losses, 100)
    args = []
    for lr_diff, thresh, adjust in [(15, 0.005, 1.0), (5, 0.05, 0.5), (30, 0.001, 2.0), (0, 0.0, 1.0), (84, 0.0, 1.0)]:
        try:
            v = repr(float(slide(wl, wy, 100, lr_diff, thresh, adjust)[0]))
        except IndexError:
            v = None
        args.append({"lr_diff": lr_diff, "thresh": thresh, "adjust_value": adjust, "slide": v})
    write_json(OUT, {
        "source": "fastai/callback/schedule.py (valley, slide, minimum, steep, lr_find's window), float64",
        "numpy": np.__version__, "torch": torch.__version__,
        "cases": cases,
        "slide_args": {"lrs": [repr(float(v)) for v in wl], "losses": [repr(float(v)) for v in wy], "runs": args},
    })
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
