#!/usr/bin/env python3
"""PyTorch Lightning with an lrsched schedule, stepped after every optimizer step.

``configure_optimizers`` returns ``lrsched_rs.torch.LRScheduler`` with ``"interval": "step"``;
Lightning steps it like any PyTorch scheduler. The schedule here is a linear warmup into a
cosine decay, in lrsched's one-line form; any config ``lrsched_rs.Schedule`` reads works.

    python examples/pytorch/lightning_example.py --epochs 3
"""

import argparse

import lightning as L
import torch

import lrsched_rs.torch

SCHEDULE = "warmup(steps=10, schedule=cosine(lr=0.05, steps=50))"


class Regression(L.LightningModule):
    """A small MLP fitting y = sin(x0) + x1^2; it records the rate of every step."""

    def __init__(self, schedule=SCHEDULE):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(2, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)
        )
        self.schedule = schedule
        self.rates = []  # the rate each optimizer step used

    def training_step(self, batch, batch_idx):
        x, y = batch
        self.rates.append(self.optimizers().param_groups[0]["lr"])
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
        sched = lrsched_rs.torch.LRScheduler(opt, self.schedule, interval="step")
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def data(n=640, batch_size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    y = (torch.sin(x[:, 0]) + x[:, 1] ** 2).unsqueeze(1)
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=batch_size, shuffle=False
    )


def train(epochs=3, schedule=SCHEDULE, quiet=False):
    torch.manual_seed(0)
    model = Regression(schedule)
    trainer = L.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=not quiet,
        enable_model_summary=not quiet,
    )
    trainer.fit(model, data())
    return model


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    m = train(args.epochs)
    print("rates of the first steps:", [round(r, 5) for r in m.rates[:12]])
