#!/usr/bin/env python3
"""Seconds per epoch of the MNIST recipe in lrsched and in PyTorch, same machine, same threads.

The recipe (issue 4): 784-128-10 ReLU MLP, SGD lr 0.1 momentum 0.9, batch 64, StepLR
step 10 gamma 0.1 stepped per epoch. Each epoch is one pass over the 60,000 training
images plus an evaluation of the 10,000 test images, in both.

    python3 scripts/bench_mnist.py --data-dir ../shared/data/mnist --epochs 3 --threads 2

PyTorch runs when `import torch` works (e.g. with .venv-torch/bin/python, which
scripts/torch_golden.py creates); otherwise only lrsched is timed. The PyTorch side holds
the data set once in memory as tensors and indexes batches from it (faster than a
DataLoader), so the comparison is against PyTorch's best case.
"""

import argparse
import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    return shape, data[4 + 4 * dims :]


def find(dir_, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(dir_, name)
        if os.path.exists(p):
            return p
    sys.exit(f"{stem}(.gz) not found in {dir_}")


def bench_lrsched(args):
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    binary = getattr(args, "binary", None) or os.path.join(target, "release", "lrsched")
    if not getattr(args, "binary", None):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "lrsched-cli"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = os.path.join(tmp, "m.jsonl")
        cmd = [
            binary, "train", "--quiet", "--data", "mnist", "--data-dir", args.data_dir,
            "--model", getattr(args, "hidden", "128"), "--optimizer", "momentum", "--lr", "0.1",
            "--momentum", "0.9", "--batch-size", str(getattr(args, "batch_size", 64)), "--schedule", "StepLR(step_size=10, gamma=0.1)",
            "--epochs", str(args.epochs), "--threads", str(args.threads), "--seed", "0",
            "--metrics-out", metrics,
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        peak_kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
        records = [json.loads(l) for l in open(metrics)]
    return [r["epoch_seconds"] for r in records], records[-1]["val_acc"], peak_kib


def bench_torch(args):
    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tensors = {}
    for key, stem in [("xtr", "train-images-idx3-ubyte"), ("ytr", "train-labels-idx1-ubyte"),
                      ("xte", "t10k-images-idx3-ubyte"), ("yte", "t10k-labels-idx1-ubyte")]:
        shape, raw = read_idx(find(args.data_dir, stem))
        t = torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        tensors[key] = t.reshape(shape[0], -1).float().div_(255.0) if key.startswith("x") else t.long()
    sizes = [784] + [int(h) for h in getattr(args, "hidden", "128").split("-")] + [10]
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    batch = getattr(args, "batch_size", 64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
    loss_fn = nn.CrossEntropyLoss()
    xtr, ytr, xte, yte = tensors["xtr"], tensors["ytr"], tensors["xte"], tensors["yte"]
    seconds, acc = [], 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(xtr.shape[0])
        for i in range(0, xtr.shape[0], batch):
            idx = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = 0
            for i in range(0, xte.shape[0], 1000):
                correct += (model(xte[i : i + 1000]).argmax(1) == yte[i : i + 1000]).sum().item()
        acc = correct / xte.shape[0]
        sched.step()
        seconds.append(time.perf_counter() - t0)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return seconds, acc, peak_kib, torch.__version__


def summary(seconds):
    # The first epoch pays for warm-up (page faults, allocator growth) in both.
    steady = seconds[1:] or seconds
    return sum(steady) / len(steady)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.path.join(ROOT, "..", "shared", "data", "mnist"))
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    args = p.parse_args()

    ours, our_acc, our_peak = bench_lrsched(args)
    print(f"lrsched : {summary(ours):.3f} s/epoch (epochs: {', '.join(f'{s:.3f}' for s in ours)}), "
          f"val_acc {our_acc:.4f}, peak RSS {our_peak / 1024:.0f} MiB, threads {args.threads}")
    try:
        theirs, their_acc, their_peak, version = bench_torch(args)
    except ImportError:
        print("PyTorch: not installed in this Python; run with .venv-torch/bin/python to compare")
        return
    print(f"PyTorch : {summary(theirs):.3f} s/epoch (epochs: {', '.join(f'{s:.3f}' for s in theirs)}), "
          f"val_acc {their_acc:.4f}, peak RSS {their_peak / 1024:.0f} MiB, torch {version}")
    print(f"ratio   : lrsched is {summary(theirs) / summary(ours):.2f}x faster per epoch")


if __name__ == "__main__":
    main()
