"""lrsched: learning-rate schedules computed by lrsched's Rust core.

A schedule is a pure function of the step. Write it as a dict, a JSON or TOML string or
the one-line form; paste in PyTorch, transformers, timm, optax or Keras configs as they
are written there.

>>> import lrsched
>>> s = lrsched.Schedule("warmup(steps=10, schedule=cosine(lr=0.1, steps=100))")
>>> s.value(10)
0.1
>>> s = lrsched.Schedule({"type": "StepLR", "lr": 0.1, "step_size": 30})
>>> s.interval
'epoch'
>>> [t["name"] for t in lrsched.list()][:3]
['constant', 'step', 'multi_step']

``lrsched.torch.LRScheduler`` drives a PyTorch optimizer with any schedule, and
``lrsched.trial`` lets a training script run under ``lrsched compare/find-lr/tune --command``.
"""

from __future__ import annotations

from typing import Any, Dict, List as _List

from ._lrsched import Conversion, Schedule, ScheduleError, __version__
from ._lrsched import catalog_list as _catalog_list

__all__ = ["Schedule", "ScheduleError", "Conversion", "list", "__version__"]


def list() -> _List[Dict[str, Any]]:  # noqa: A001 - the catalog is `lrsched.list()`
    """Every schedule type lrsched reads: what ``lrsched list`` prints.

    Each entry is a dict with ``name`` (the config ``type``), ``group`` (``schedule``,
    ``combinator``, ``torch`` or a library's name), ``summary``, ``params`` (key ->
    default as written, ``None`` for a required key) and a one-line ``example``.

    >>> import lrsched
    >>> cosine = next(t for t in lrsched.list() if t["name"] == "cosine")
    >>> cosine["params"]["steps"] is None, cosine["params"]["min_lr"]
    (True, '0')
    """
    return _catalog_list()


def __getattr__(name: str) -> Any:
    """``lrsched.torch`` and ``lrsched.trial`` after a plain ``import lrsched``.

    They are imported on first use, so ``import lrsched`` stays quick and does not need
    torch installed.

    >>> import lrsched
    >>> lrsched.trial.active()
    False
    """
    if name in ("torch", "trial"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

