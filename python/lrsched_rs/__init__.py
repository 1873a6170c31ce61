"""lrsched: learning-rate schedules computed by lrsched's Rust core.

A schedule is a pure function of the step. Write it as a dict, a JSON or TOML string or
the one-line form; paste in PyTorch, transformers, timm, optax or Keras configs as they
are written there.

>>> import lrsched_rs
>>> s = lrsched_rs.Schedule("warmup(steps=10, schedule=cosine(lr=0.1, steps=100))")
>>> s.value(10)
0.1
>>> s = lrsched_rs.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 30})
>>> s.interval
'epoch'
>>> [t["name"] for t in lrsched_rs.list()][:3]
['constant', 'step', 'multi_step']

``lrsched_rs.torch.LRScheduler`` drives a PyTorch optimizer with any schedule, and
``lrsched_rs.trial`` lets a training script run under ``lrsched compare/find-lr/tune --command``.
"""

from __future__ import annotations

from typing import Any, Dict, List as _List

from ._lrsched import Conversion, Schedule, ScheduleError, __version__
from ._lrsched import catalog_list as _catalog_list

__all__ = ["Schedule", "ScheduleError", "Conversion", "list", "__version__"]


def list() -> _List[Dict[str, Any]]:  # noqa: A001 - the catalog is `lrsched_rs.list()`
    """Every schedule type lrsched reads: what ``lrsched list`` prints.

    Each entry is a dict with ``name`` (the config ``type``), ``group`` (``schedule``,
    ``combinator``, ``torch`` or a library's name), ``summary``, ``params`` (key ->
    default as written, ``None`` for a required key) and a one-line ``example``.

    >>> import lrsched_rs
    >>> cosine = next(t for t in lrsched_rs.list() if t["name"] == "cosine")
    >>> cosine["params"]["steps"] is None, cosine["params"]["min_lr"]
    (True, '0')
    """
    return _catalog_list()


def __getattr__(name: str) -> Any:
    """``lrsched_rs.torch`` and ``lrsched_rs.trial`` after a plain ``import lrsched_rs``.

    They are imported on first use, so ``import lrsched_rs`` stays quick and does not need
    torch installed.

    >>> import lrsched_rs
    >>> lrsched_rs.trial.active()
    False
    """
    if name in ("torch", "trial"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

