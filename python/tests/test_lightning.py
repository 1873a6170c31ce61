"""PyTorch Lightning steps lrsched_rs.torch.LRScheduler through `lightning_config()`.

The example's documented way (examples/pytorch/lightning_example.py): the rate of every
optimizer step is checked against the schedule's trace (the values `lrsched trace`
prints; the same binary's output when LRSCHED_BIN is set), and pasted PyTorch classes,
ReduceLROnPlateau included, against the torch class in the same Lightning run.
"""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("lightning")
import torch.optim.lr_scheduler as S  # noqa: E402

import lrsched_rs  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pytorch" / "lightning_example.py"


def load_example():
    spec = importlib.util.spec_from_file_location("lightning_example", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.filterwarnings("ignore")
def test_every_step_follows_the_trace():
    ex = load_example()
    model = ex.train(epochs=3, quiet=True)
    steps = 3 * 20  # 640 samples / batch 32
    assert len(model.rates) == steps
    trace = list(lrsched_rs.Schedule(ex.SCHEDULE).values(steps))
    assert model.rates == trace
    binary = os.environ.get("LRSCHED_BIN")
    if binary and os.path.exists(binary):
        out = subprocess.run(
            [binary, "trace", "--schedule", ex.SCHEDULE, "--steps", str(steps)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        assert model.rates == [float(v) for v in out]


def torch_run(ex, epochs, lr_scheduler):
    """The example's model, its scheduler the torch class configured as Lightning's docs
    configure it."""

    class WithTorch(ex.Regression):
        def configure_optimizers(self):
            import torch

            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            return {"optimizer": opt, "lr_scheduler": lr_scheduler(opt)}

    return ex.train(epochs=epochs, quiet=True, module=WithTorch)


@pytest.mark.filterwarnings("ignore")
def test_reduce_on_plateau_gets_its_metric_from_lightning():
    ex = load_example()
    config = {"type": "ReduceLROnPlateau", "patience": 0, "factor": 0.5}
    ours = ex.train(epochs=6, schedule=config, monitor="val_loss", quiet=True)
    ref = torch_run(ex, 6, lambda o: {"scheduler": S.ReduceLROnPlateau(o, patience=0, factor=0.5),
                                      "monitor": "val_loss"})
    assert ours.rates == ref.rates
    assert len(set(ours.rates)) > 1  # the plateau did cut the rate
    with pytest.raises(lrsched_rs.ScheduleError, match="monitor"):
        ex.train(epochs=1, schedule=config, quiet=True)


@pytest.mark.filterwarnings("ignore")
def test_a_pasted_per_epoch_class_steps_per_epoch():
    ex = load_example()
    ours = ex.train(epochs=3, schedule={"type": "StepLR", "step_size": 1, "gamma": 0.5},
                    quiet=True)
    ref = torch_run(ex, 3, lambda o: S.StepLR(o, step_size=1, gamma=0.5))
    assert ours.rates == ref.rates == [0.05] * 20 + [0.025] * 20 + [0.0125] * 20
