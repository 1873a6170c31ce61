"""PyTorch Lightning accepts lrsched_rs.torch.LRScheduler unchanged and steps it per step.

The rate of every optimizer step is checked against the schedule's trace (the values
`lrsched trace` prints; the same binary's output when LRSCHED_BIN is set).
"""

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("lightning")
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
    trace = lrsched_rs.Schedule(ex.SCHEDULE).values(steps).tolist()
    assert model.rates == trace
    binary = os.environ.get("LRSCHED_BIN")
    if binary and os.path.exists(binary):
        out = subprocess.run(
            [binary, "trace", "--schedule", ex.SCHEDULE, "--steps", str(steps)],
            capture_output=True, text=True, check=True,
        ).stdout.split()
        assert model.rates == [float(v) for v in out]
