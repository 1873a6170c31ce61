#!/usr/bin/env python3
"""The MNIST recipe in PyTorch, its schedule driven by lrsched.

784-128-10 ReLU MLP, SGD lr 0.1 momentum 0.9, batch 64, StepLR(step_size=10, gamma=0.1)
stepped per epoch: the recipe `lrsched train --data mnist` runs. The data are the IDX
files (gzip or not) in --data-dir.

On its own it trains with the StepLR above:

    python examples/pytorch/train_mnist.py --data-dir ../shared/data/mnist --epochs 2

Under lrsched it takes the trial's schedule, seed and epochs and reports its metrics:

    lrsched compare --command "python examples/pytorch/train_mnist.py --data-dir D --limit 6000" \\
        --epochs 3 --seeds 1
    lrsched find-lr --command "python examples/pytorch/train_mnist.py --data-dir D --limit 6000"

It builds its optimizer through lrsched_rs.trial.optimizer, so it honours lrsched's optimizer
requests: with --honours-optimizer, compare runs its LR-free baselines (Prodigy, D-Adaptation,
DoG, schedule-free) on it too:

    lrsched compare --command "python examples/pytorch/train_mnist.py --data-dir D --limit 6000" \\
        --honours-optimizer --epochs 3 --seeds 1

The lrsched lines are marked `# lrsched`: four changes to a plain PyTorch script.
"""

import argparse
import gzip
import os
import struct
import sys

import torch

import lrsched_rs.torch  # lrsched
import lrsched_rs.trial  # lrsched

DEFAULT_SCHEDULE = {"type": "StepLR", "lr": 0.1, "step_size": 10, "gamma": 0.1}


def read_idx(path):
    """An IDX file (big-endian u32 magic and dims, then u8 data) as a uint8 tensor."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    if magic >> 8 != 0x08:
        sys.exit(f"{path}: not an IDX file of bytes (magic {magic:#010x})")
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4 : 4 + 4 * dims])
    body = data[4 + 4 * dims :]
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)


def load(data_dir, split, limit):
    def find(stem):
        for name in (stem + ".gz", stem):
            p = os.path.join(data_dir, name)
            if os.path.exists(p):
                return p
        sys.exit(f"{stem}(.gz) not found in {data_dir}")

    prefix = "train" if split == "train" else "t10k"
    x = read_idx(find(f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
    if limit:
        x, y = x[:limit], y[:limit]
    # Pixels scaled to [0, 1], as `lrsched train` reads them.
    return x.reshape(len(x), -1).float() / 255.0, y.long()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    ap.add_argument("--test-limit", type=int, default=0, help="evaluate the first N test images")
    ap.add_argument("--epochs", type=int, default=20, help="when not run by lrsched")
    ap.add_argument("--seed", type=int, default=0, help="when not run by lrsched")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    seed = lrsched_rs.trial.seed(default=args.seed)  # lrsched
    epochs = lrsched_rs.trial.epochs(default=args.epochs)  # lrsched
    torch.manual_seed(seed)

    x, y = load(args.data_dir, "train", args.limit)
    tx, ty = load(args.data_dir, "test", args.test_limit)
    steps_per_epoch = (len(x) + args.batch_size - 1) // args.batch_size

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    # The trial's optimizer when lrsched asks for one (its LR-free baselines, under
    # --honours-optimizer), else the recipe's SGD.
    opt = lrsched_rs.trial.optimizer(  # lrsched
        model.parameters(), default=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)
    )
    # Schedule-free optimizers keep two sets of weights: train with one, evaluate the other.
    switch = hasattr(opt, "train") and hasattr(opt, "eval")
    schedule = lrsched_rs.trial.schedule(steps_per_epoch, default=DEFAULT_SCHEDULE)  # lrsched
    scheduler = lrsched_rs.torch.LRScheduler(opt, schedule)  # lrsched
    per_step = scheduler.interval == "step"
    max_steps = lrsched_rs.trial.max_steps()

    g = torch.Generator().manual_seed(seed)
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        if switch:
            opt.train()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), args.batch_size):
            idx = order[i : i + args.batch_size]
            lr = opt.param_groups[0]["lr"]
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            lrsched_rs.trial.report_step(step, lr=lr, loss=loss.item())  # lrsched
            step += 1
            if per_step:
                scheduler.step()
            if max_steps is not None and step >= max_steps:
                return
        model.eval()
        if switch:
            opt.eval()
        with torch.no_grad():
            logits = model(tx)
            val_loss = torch.nn.functional.cross_entropy(logits, ty).item()
            val_acc = (logits.argmax(1) == ty).float().mean().item()
        lrsched_rs.trial.report(epoch, val_loss=val_loss, val_acc=val_acc)  # lrsched
        if not lrsched_rs.trial.active():
            print(f"epoch {epoch}: lr {opt.param_groups[0]['lr']:.4g} "
                  f"val_loss {val_loss:.4f} val_acc {val_acc:.4f}", flush=True)
        if not per_step:
            if scheduler.schedule.needs_metric:
                scheduler.step(val_loss)
            else:
                scheduler.step()
        elif scheduler.schedule.needs_metric:
            scheduler.end_epoch(val_loss)


if __name__ == "__main__":
    main()
