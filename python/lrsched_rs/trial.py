"""The trial protocol, program side: run a training script under ``lrsched compare
--command``, ``find-lr --command`` and ``tune --command`` (docs/protocol.md).

lrsched hands each trial its schedule, seed and epoch budget in ``LRSCHED_*`` variables
and reads back JSON lines appended to ``$LRSCHED_METRICS``. A PyTorch script takes part
with three changes:

.. code-block:: python

    import lrsched_rs.torch, lrsched_rs.trial
    torch.manual_seed(lrsched_rs.trial.seed(default=0))
    sched = lrsched_rs.torch.LRScheduler(opt, lrsched_rs.trial.schedule(
        steps_per_epoch=len(loader), default={"type": "StepLR", "step_size": 10}))
    for epoch in range(1, lrsched_rs.trial.epochs(default=20) + 1):
        ...  # train; per step: lrsched_rs.trial.report_step(step, lr=..., loss=...)
        lrsched_rs.trial.report(epoch, val_loss=val_loss, val_acc=val_acc)

Run on its own (no ``LRSCHED_PROTOCOL`` in the environment), each helper returns its
``default`` and the reports write nothing, so the same script still trains by itself.

>>> import lrsched_rs.trial
>>> lrsched_rs.trial.active()
False
>>> lrsched_rs.trial.seed(default=7)
7
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

from . import Schedule, ScheduleError
from . import list as _catalog
from ._lrsched import _Metrics, _Trial, parse_config

__all__ = [
    "active", "schedule", "seed", "epochs", "max_steps", "interval", "name", "out_dir",
    "report", "report_step", "optimizer_request", "optimizer",
]

_NOT_READ = object()
_trial: Any = _NOT_READ
_metrics: Optional[_Metrics] = None


def _get() -> Optional[_Trial]:
    global _trial
    if _trial is _NOT_READ:
        _trial = _Trial.from_env()
    return _trial


def _reset() -> None:
    """Forget the trial read from the environment (tests change the environment)."""
    global _trial, _metrics
    _trial, _metrics = _NOT_READ, None


def active() -> bool:
    """Whether lrsched started this process for a trial (``LRSCHED_PROTOCOL`` is set)."""
    return _get() is not None


def _need(what: str, default: Any) -> Any:
    if default is None:
        raise ScheduleError(
            f"lrsched_rs.trial.{what}(): not running under lrsched (LRSCHED_PROTOCOL is unset) "
            f"and no default given: pass {what}(default=...) or run through "
            "`lrsched compare --command`"
        )
    return default


def schedule(
    steps_per_epoch: Optional[int] = None,
    default: Union[Schedule, dict, str, None] = None,
    epochs: Optional[float] = None,
) -> Union[Schedule, Dict[str, Any]]:
    """The trial's schedule, ``"3ep"`` / ``"10%"`` durations resolved with the program's
    own ``steps_per_epoch`` (else ``LRSCHED_STEPS_PER_EPOCH``) and the trial's epochs, and
    its interval from ``LRSCHED_INTERVAL``. The run (epochs x steps per epoch) must be at
    most 2**53 steps, so every duration resolves exactly.

    Outside a trial, ``default``, its durations resolved with ``steps_per_epoch`` and
    ``epochs``.

    A pasted PyTorch class without ``lr`` (the trial's, or ``default``) comes back as its
    config dict, durations resolved: ``lrsched_rs.torch.LRScheduler`` takes its rate from
    the optimizer, as PyTorch does, so the program's own ``lr`` is used.

    >>> import lrsched_rs.trial
    >>> s = lrsched_rs.trial.schedule(
    ...     steps_per_epoch=60, default="warmup(steps=1ep, schedule=cosine(lr=0.1, steps=5ep))")
    >>> s.length
    360
    >>> sorted(lrsched_rs.trial.schedule(default={"type": "StepLR", "step_size": 10}).items())
    [('gamma', 0.1), ('step_size', 10), ('type', 'StepLR')]
    """
    t = _get()
    if t is None:
        config = _need("schedule", default)
        shape: Dict[str, Any] = {}
        if steps_per_epoch is not None:
            shape["steps_per_epoch"] = steps_per_epoch
        if epochs is not None:
            shape["epochs"] = epochs
        if isinstance(config, str) and not isinstance(config, Schedule):
            parsed = parse_config(config)
            if _without_lr(parsed):
                config = parsed
        if _without_lr(config):
            # Checked and resolved with a stand-in rate, then left to the optimizer.
            resolved = Schedule({**config, "lr": 1.0}, **shape).to_config()
            del resolved["lr"]
            return resolved
        return Schedule(config, **shape)
    return t.schedule(steps_per_epoch)


def _without_lr(config: Any) -> bool:
    """Whether ``config`` is a pasted PyTorch class that leaves ``lr`` to the optimizer."""
    return isinstance(config, dict) and config.get("type") in _torch_classes() \
        and "lr" not in config


def _torch_classes() -> frozenset:
    global _TORCH
    if _TORCH is None:
        _TORCH = frozenset(t["name"] for t in _catalog() if t["group"] == "torch")
    return _TORCH


_TORCH: Optional[frozenset] = None


def seed(default: Optional[int] = None) -> int:
    """The trial's seed (``LRSCHED_SEED``); outside a trial, ``default``."""
    t = _get()
    return _need("seed", default) if t is None else t.seed


def epochs(default: Optional[int] = None) -> int:
    """The trial's epoch budget (``LRSCHED_EPOCHS``); outside a trial, ``default``."""
    t = _get()
    return _need("epochs", default) if t is None else t.epochs


def max_steps() -> Optional[int]:
    """The cap on optimizer steps (``LRSCHED_MAX_STEPS``, a range test), or None."""
    t = _get()
    return None if t is None else t.max_steps


def interval() -> Optional[str]:
    """``"step"`` or ``"epoch"`` (``LRSCHED_INTERVAL``); None outside a trial."""
    t = _get()
    return None if t is None else t.interval


def name() -> Optional[str]:
    """The trial's name (``LRSCHED_TRIAL``); None outside a trial."""
    t = _get()
    return None if t is None else t.name


def out_dir() -> Optional[str]:
    """The trial's own folder (``LRSCHED_OUT_DIR``); None outside a trial."""
    t = _get()
    return None if t is None else t.out_dir


def _writer() -> Optional[_Metrics]:
    global _metrics
    t = _get()
    if t is None:
        return None
    if _metrics is None:
        _metrics = _Metrics(t.metrics_path)
    return _metrics


def _number(key: str, v: Any) -> float:
    """A metric's value as a float: anything ``float()`` takes as a number (an int, a
    float, a one-element tensor or numpy scalar, a ``Decimal``), not a bool or a string,
    and not an int too large for a float."""
    if hasattr(v, "item"):
        try:
            v = v.item()  # a tensor or numpy scalar
        except (TypeError, ValueError, RuntimeError) as e:  # more than one element
            raise ScheduleError(
                f"metric `{key}` = {_shown(v)} is not allowed: must be one number ({e})"
            ) from None
    if isinstance(v, (bool, str, bytes)) or not (
        hasattr(type(v), "__float__") or hasattr(type(v), "__index__")
    ):
        raise ScheduleError(f"metric `{key}` = {_shown(v)} is not allowed: must be a number")
    try:
        return float(v)
    except (TypeError, ValueError, OverflowError) as e:
        raise ScheduleError(
            f"metric `{key}` = {_shown(v)} is not allowed: must be a number that fits a "
            f"float ({e})"
        ) from None


def _shown(v: Any) -> str:
    """``repr(v)`` as an error quotes it: at most 80 characters (lrsched's rule)."""
    try:
        text = repr(v)
    except ValueError:  # an int past Python's digit limit
        text = f"(an integer of {v.bit_length()} bits)"
    return text if len(text) <= 80 else text[:80] + "…"


def report(epoch: int, **metrics: float) -> None:
    """Appends one epoch's line, ``{"epoch": 3, "val_loss": 0.31, ...}`` (epochs from 1).

    NaN and infinities are written ``NaN`` / ``Infinity`` / ``-Infinity``; lrsched then
    ends the trial as diverged. A line longer than the protocol's 64 KiB (thousands of
    metrics, or very long names) raises ``lrsched_rs.ScheduleError`` and writes nothing.
    Outside a trial this does nothing.
    """
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
        raise ScheduleError(f"epoch = {_shown(epoch)} is not allowed: must be an integer >= 1")
    w = _writer()
    if w is None:
        return
    w.epoch(epoch, [(k, _number(k, v)) for k, v in metrics.items()])


def report_step(step: int, lr: float, loss: float) -> None:
    """Appends one optimizer step's line, ``{"step": 120, "lr": 0.05, "loss": 0.42}``
    (steps from 0; the rate used for the step and its training loss). ``find-lr`` needs
    these; plots use them. Outside a trial this does nothing."""
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ScheduleError(f"step = {_shown(step)} is not allowed: must be an integer >= 0")
    w = _writer()
    if w is None:
        return
    w.step(step, _number("lr", lr), _number("loss", loss))



OPTIMIZER_VAR = "LRSCHED_OPTIMIZER"
OPTIMIZER_FILE = "optimizer.json"


def optimizer_request() -> Optional[Dict[str, Any]]:
    """The optimizer this trial asks for (``LRSCHED_OPTIMIZER``: ``{"name": "prodigy",
    "lr": 1.0}``), or None: outside a trial, or when lrsched asks for none (it asks only
    programs run with ``--honours-optimizer``, for its optimizer baselines).

    >>> import lrsched_rs.trial
    >>> lrsched_rs.trial.optimizer_request() is None
    True
    """
    import json
    import os

    text = os.environ.get(OPTIMIZER_VAR)
    if _get() is None or text is None or text == "":
        return None
    try:
        request = json.loads(text)
    except ValueError as e:
        raise ScheduleError(f"{OPTIMIZER_VAR} is not JSON ({e}): {_shown(text)}") from None
    if not isinstance(request, dict) or not isinstance(request.get("name"), str):
        raise ScheduleError(
            f"{OPTIMIZER_VAR} = {_shown(text)} is not allowed: must be an object with a "
            '"name", e.g. {"name": "prodigy", "lr": 1.0}'
        )
    return request


def optimizer(params: Any, default: Any = None) -> Any:
    """The trial's torch optimizer over ``params``: the one ``LRSCHED_OPTIMIZER`` asks for
    (``lrsched_rs.torch.build_optimizer``), confirmed to lrsched by writing what was built
    to ``$LRSCHED_OUT_DIR/optimizer.json``; without a request, ``default``, called with
    ``params`` when it is callable (``lambda p: torch.optim.SGD(p, lr=0.1)``).

    A program that builds its optimizer through this honours the request and may be run
    with ``lrsched compare --command ... --honours-optimizer``. An optimizer that cannot
    be built (its package not installed, a setting it refuses) raises
    ``lrsched_rs.ScheduleError`` and the trial fails, naming it.

    >>> import lrsched_rs.trial
    >>> lrsched_rs.trial.optimizer([], default=lambda params: "the program's own")
    "the program's own"
    """
    request = optimizer_request()
    if request is None:
        default = _need("optimizer", default)
        return default(params) if callable(default) else default
    from .torch import build_optimizer

    built = build_optimizer(params, request)
    _confirm(request, built)
    return built


def _confirm(request: Dict[str, Any], built: Any) -> None:
    """Writes ``optimizer.json`` in the trial's folder (atomically: lrsched reads it after
    the trial): the request's name, the class built and its first group's settings."""
    import json
    import os

    t = _get()
    if t is None:
        return
    group = built.param_groups[0] if getattr(built, "param_groups", None) else {}
    settings = {k: v for k, v in group.items() if k != "params"}
    doc = {
        "name": request["name"],
        "class": f"{type(built).__module__}.{type(built).__name__}",
        # Plain JSON (lrsched reads it strictly): a value JSON cannot hold (a tensor, an
        # infinite float such as Prodigy's growth_rate) as its repr.
        "settings": json.loads(json.dumps(_plain(settings), default=repr)),
    }
    path = os.path.join(t.out_dir, OPTIMIZER_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)


def _plain(v: Any) -> Any:
    """``v`` with every float JSON cannot hold (inf, nan) as its repr, lists for tuples."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return repr(v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
