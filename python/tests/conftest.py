"""Fixtures shared by the Python package's tests."""

import json
import os

import pytest

import lrsched_rs.trial as trial


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A trial's `LRSCHED_*` environment (cosine over 100% of 4 epochs, stepped per step);
    the metrics file's path."""
    for k in list(os.environ):
        if k.startswith("LRSCHED_"):
            monkeypatch.delenv(k)
    metrics = tmp_path / "metrics.jsonl"
    values = {
        "LRSCHED_PROTOCOL": "1",
        "LRSCHED_TRIAL": "cosine-seed3",
        "LRSCHED_SCHEDULE": json.dumps({"type": "cosine", "lr": 0.1, "steps": "100%"}),
        "LRSCHED_SCHEDULE_FILE": str(tmp_path / "schedule.json"),
        "LRSCHED_INTERVAL": "step",
        "LRSCHED_SEED": "3",
        "LRSCHED_EPOCHS": "4",
        "LRSCHED_OUT_DIR": str(tmp_path),
        "LRSCHED_METRICS": str(metrics),
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    trial._reset()
    yield metrics
    trial._reset()
