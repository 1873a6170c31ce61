#!/usr/bin/env python3
"""How far `lrsched predict` is from what really happens (issue 23's measurement).

Trains the seeds' MNIST network (784-128-10, SGD momentum 0.9, batch 64, 3 epochs) with
`lrsched train` under two fitting schedules (constant and cosine at 0.05) and the held-out
ones below, runs `lrsched predict` on the two fitting runs, and compares each held-out
schedule's predicted final loss (mean step loss over the last 5% of steps) with the
measured one: Spearman's rank correlation and the median relative error.

With --command, the same for a PyTorch program run through `lrsched compare --command`
(examples/pytorch/train_mnist.py on 6000 images by default): its trial folders are the runs.

    python3 scripts/predict_check.py --lrsched target/release/lrsched --data-dir ../shared/data/mnist --out /tmp/pc
    python3 scripts/predict_check.py ... --command "python3 examples/pytorch/train_mnist.py --data-dir D --limit 6000"

Needs only the Python standard library (and, for --command, the program's own needs).
"""

import argparse
import json
import os
import subprocess
import sys

FIT = [("constant", "constant(lr=0.05)"), ("cosine", "cosine(lr=0.05, steps=\"100%\")")]
HELD_OUT = [
    ("step", "step(lr=0.05, step_size=\"1ep\", gamma=0.3)"),
    ("wsd-10", "wsd(lr=0.05, stable_steps=\"90%\", decay_steps=\"10%\")"),
    ("wsd-30", "wsd(lr=0.05, stable_steps=\"70%\", decay_steps=\"30%\")"),
    ("one-cycle", "one_cycle(max_lr=0.05, total_steps=\"100%\")"),
    ("exponential", "exponential(lr=0.05, gamma=0.999)"),
    ("linear", "linear(start_lr=0.05, end_lr=0, steps=\"100%\")"),
    ("cosine-half", "cosine(lr=0.025, steps=\"100%\")"),
]


def final_loss(path):
    """The mean step loss over the last 5% of steps, as lrsched_predict's Run measures it."""
    steps = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if "step" in o and "loss" in o and "epoch" not in o and "event" not in o:
                steps[o["step"]] = o["loss"]
    n = max(steps) + 1
    start = n - max(n // 20, 1)
    tail = [v for s, v in steps.items() if s >= start]
    return sum(tail) / len(tail)


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0] * len(v)
    for rank, i in enumerate(order):
        r[i] = rank
    return r


def spearman(a, b):
    ra, rb = ranks(a), ranks(b)
    n = len(a)
    return 1 - 6 * sum((x - y) ** 2 for x, y in zip(ra, rb)) / (n * (n * n - 1))


def schedules_file(path, entries):
    with open(path, "w") as f:
        json.dump([{"name": n, "schedule": s} for n, s in entries], f, indent=1)


def builtin_runs(args):
    common = ["--data", "mnist", "--data-dir", args.data_dir, "--model", "784-128-10",
              "--optimizer", "momentum", "--momentum", "0.9", "--batch-size", "64",
              "--epochs", "3", "--seed", "0"]
    paths = {}
    for name, schedule in FIT + HELD_OUT:
        metrics = os.path.join(args.out, f"{name}.jsonl")
        subprocess.run([args.lrsched, "train", *common, "--schedule", schedule,
                        "--metrics-out", metrics], check=True, stdout=subprocess.DEVNULL)
        paths[name] = os.path.join(args.out, f"{name}.steps.jsonl")
    return paths


def command_runs(args):
    path = os.path.join(args.out, "all.json")
    schedules_file(path, FIT + HELD_OUT)
    out = os.path.join(args.out, "compare")
    subprocess.run([args.lrsched, "compare", "--command", args.command, "--schedules", path,
                    "--epochs", "3", "--seeds", "1", "--out", out], check=True,
                   stdout=subprocess.DEVNULL)
    # compare keeps each trial in trials/<name>-seed<k>/, its lines in metrics.jsonl.
    paths = {}
    for name, _ in FIT + HELD_OUT:
        path = os.path.join(out, "trials", f"{name}-seed0", "metrics.jsonl")
        if os.path.exists(path):
            paths[name] = path
    missing = [n for n, _ in FIT + HELD_OUT if n not in paths]
    if missing:
        sys.exit(f"no trial folder found for {missing} under {out}")
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lrsched", default="target/release/lrsched")
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--command", help="a PyTorch program for compare --command")
    ap.add_argument("--out", required=True, help="a fresh folder")
    ap.add_argument("--law", default="both")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=False)
    paths = command_runs(args) if args.command else builtin_runs(args)
    candidates = os.path.join(args.out, "held_out.json")
    schedules_file(candidates, HELD_OUT)
    predicted_dir = os.path.join(args.out, "predicted")
    subprocess.run([args.lrsched, "predict", "--runs", paths["constant"], "--runs", paths["cosine"],
                    "--schedules", candidates, "--epochs", "3", "--law", args.law,
                    "--out", predicted_dir], check=True)
    with open(os.path.join(predicted_dir, "predictions.json")) as f:
        result = json.load(f)
    rows, predicted, measured, errors = [], [], [], []
    for p in result["predictions"]:
        m = final_loss(paths[p["name"]])
        e = (p["final_loss"] - m) / m
        lo, hi = p["interval"]
        inside = lo <= m <= (hi if hi is not None else float("inf"))
        rows.append(f"| {p['name']} | {p['final_loss']:.4f} | [{lo:.4f}, {hi if hi is None else round(hi, 4)}] | {m:.4f} | {e * 100:+.1f}% | {'yes' if inside else 'no'} |")
        predicted.append(p["final_loss"])
        measured.append(m)
        errors.append(abs(e))
    errors.sort()
    median = errors[len(errors) // 2] if len(errors) % 2 else (errors[len(errors) // 2 - 1] + errors[len(errors) // 2]) / 2
    print(f"law: {result['law']} ({result['chosen_because']}); fit poor: {result['fit']['poor']}")
    print("| schedule | predicted | 95% interval | measured | error | inside |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"Spearman {spearman(predicted, measured):.3f}, median relative error {median * 100:.1f}%")


if __name__ == "__main__":
    main()
