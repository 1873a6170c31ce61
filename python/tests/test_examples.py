"""examples/pytorch/train_mnist.py as lrsched runs it: as a trial of the protocol.

The first test plays lrsched's part (the LRSCHED_* variables in, the metrics file out) so
it needs no lrsched binary; the second runs the real `lrsched compare --command` when one
is found (LRSCHED_BIN, else target/{release,debug}/lrsched; scripts/test-all points it at
the one `cargo test --workspace` built).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
import lrsched_rs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pytorch" / "train_mnist.py"
DATA = Path(os.environ.get("LRSCHED_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))
if not (DATA / "train-images-idx3-ubyte.gz").exists():
    DATA = Path("/work/shared/data/mnist")
needs_data = pytest.mark.skipif(
    not (DATA / "train-images-idx3-ubyte.gz").exists(), reason=f"MNIST not at {DATA}"
)
ARGS = ["--data-dir", str(DATA), "--limit", "640", "--test-limit", "1000", "--threads", "1"]


def lrsched_bin():
    for c in [os.environ.get("LRSCHED_BIN"),
              os.path.join(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"), "release", "lrsched"),
              os.path.join(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"), "debug", "lrsched"),
              shutil.which("lrsched")]:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


@needs_data
@pytest.mark.parametrize(
    "schedule, interval",
    [({"type": "cosine", "lr": 0.1, "steps": "100%"}, "step"),
     ({"type": "StepLR", "lr": 0.1, "step_size": 1, "gamma": 0.5}, "epoch")],
)
def test_the_example_speaks_the_protocol(tmp_path, schedule, interval):
    metrics = tmp_path / "metrics.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRSCHED_")}
    env.update({
        "LRSCHED_PROTOCOL": "1", "LRSCHED_TRIAL": "t", "LRSCHED_SCHEDULE": json.dumps(schedule),
        "LRSCHED_SCHEDULE_FILE": str(tmp_path / "s.json"), "LRSCHED_INTERVAL": interval,
        "LRSCHED_SEED": "1", "LRSCHED_EPOCHS": "2", "LRSCHED_OUT_DIR": str(tmp_path),
        "LRSCHED_METRICS": str(metrics),
    })
    subprocess.run([sys.executable, str(EXAMPLE), *ARGS], env=env, check=True, timeout=300)
    lines = [json.loads(line) for line in metrics.read_text().splitlines()]
    steps = [line for line in lines if "step" in line]
    epochs = [line for line in lines if "epoch" in line]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(0 < e["val_acc"] <= 1 for e in epochs)
    assert [s["step"] for s in steps] == list(range(20))  # 640 / 64 = 10 steps per epoch
    # The rate each step used is the schedule's, at the trial's interval.
    s = lrsched_rs.Schedule(schedule, steps_per_epoch=10, epochs=2)
    want = [s.value(k if interval == "step" else k // 10) for k in range(20)]
    assert [x["lr"] for x in steps] == want


@needs_data
@pytest.mark.skipif(lrsched_bin() is None, reason="no lrsched binary (LRSCHED_BIN)")
def test_lrsched_compare_runs_the_example(tmp_path):
    (tmp_path / "s.toml").write_text(
        '[[schedules]]\nname = "cosine"\nschedule = "cosine(lr=0.1, steps=100%)"\n\n'
        '[[schedules]]\nname = "step"\n'
        'schedule = { type = "StepLR", lr = 0.1, step_size = 1, gamma = 0.5 }\n'
    )
    cmd = f"{sys.executable} {EXAMPLE} " + " ".join(ARGS)
    out = tmp_path / "out"
    o = subprocess.run(
        [lrsched_bin(), "compare", "--command", cmd, "--schedules", str(tmp_path / "s.toml"),
         "--seeds", "1", "--epochs", "2", "--jobs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert o.returncode == 0, o.stderr + o.stdout
    assert "has the best final val_acc" in o.stdout, o.stdout
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 2 * 2
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    step_lr = {s["step"]: s["lr"] for s in steps if s["schedule"] == "step"}
    assert step_lr[9] == 0.1 and step_lr[10] == 0.05


@needs_data
@pytest.mark.skipif(lrsched_bin() is None, reason="no lrsched binary (LRSCHED_BIN)")
def test_lrsched_find_lr_runs_the_example(tmp_path):
    cmd = f"{sys.executable} {EXAMPLE} " + " ".join(ARGS)
    out = tmp_path / "lr"
    o = subprocess.run(
        [lrsched_bin(), "find-lr", "--quiet", "--command", cmd, "--seeds", "1",
         "--steps", "40", "--steps-per-epoch", "10", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert o.returncode == 0, o.stderr + o.stdout
    assert "suggested lr:" in o.stdout, o.stdout
    run = json.loads((out / "find_lr.json").read_text())["runs"][0]
    assert run["problem"] is None, run
    # The example stepped the rate lrsched handed it: geometric from 1e-7, per step.
    lrs = run["lrs"]
    assert len(lrs) >= 5 and abs(lrs[0] / 1e-7 - 1) < 1e-6
    assert abs(lrs[1] / lrs[0] - lrs[2] / lrs[1]) < 1e-6
