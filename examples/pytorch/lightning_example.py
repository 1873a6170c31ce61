#!/usr/bin/env python3
"""PyTorch Lightning with an lrsched schedule: ``LRScheduler.lightning_config()``.

``configure_optimizers`` returns the scheduler's ``lightning_config()``: the interval
(per step for native schedules, OneCycleLR and CyclicLR, per epoch for PyTorch's other
classes) comes from the schedule itself, and a metric-driven schedule (``plateau``,
``ReduceLROnPlateau``) also gets Lightning's ``monitor`` and ``reduce_on_plateau``, which
Lightning sets by itself only for its own ReduceLROnPlateau class. Any config
``lrsched_rs.Schedule`` reads works; a pasted PyTorch class takes ``lr`` from the
optimizer.

    python examples/pytorch/lightning_example.py --epochs 3
    python examples/pytorch/lightning_example.py --epochs 6 \\
        --schedule '{"type": "ReduceLROnPlateau", "patience": 0}' --monitor val_loss
"""

import argparse

import lightning as L
import torch

import lrsched_rs.torch

SCHEDULE = "warmup(steps=10, schedule=cosine(lr=0.05, steps=50))"


class Regression(L.LightningModule):
    """A small MLP fitting y = sin(x0) + x1^2; it records the rate of every step."""

    def __init__(self, schedule=SCHEDULE, monitor=None):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)
        )
        self.schedule = schedule
        self.monitor = monitor
        self.rates = []  # the rate each optimizer step used

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.rates.append(self.optimizers().param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
        sched = lrsched_rs.torch.LRScheduler(opt, self.schedule)
        return {"optimizer": opt, "lr_scheduler": sched.lightning_config(monitor=self.monitor)}


def data(n=640, batch_size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (torch.sin(x[:, 0]) + x[:, 1] ** 2).unsqueeze(1)
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=False
    )


def train(epochs=3, schedule=SCHEDULE, monitor=None, quiet=False, module=Regression):
    torch.manual_seed(0)
    model = module(schedule, monitor)
    trainer = L.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
    )
    # A validation set (other data) gives the plateau its metric each epoch.
    trainer.fit(model, data(), data(n=256, seed=1))
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--schedule", default=SCHEDULE)
    ap.add_argument("--monitor", default=None, help="the logged metric a plateau reacts to")
    args = ap.parse_args()
    m = train(args.epochs, args.schedule, args.monitor)
    print("rates of the first steps:", [round(r, 5) for r in m.rates[:12]])
