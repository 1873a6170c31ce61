"""lrsched schedules as a PyTorch learning-rate scheduler.

``LRScheduler(optimizer, schedule)`` is a real subclass of
``torch.optim.lr_scheduler.LRScheduler``, so PyTorch Lightning and Hugging Face's
``Trainer`` take it unchanged. ``schedule`` is an ``lrsched_rs.Schedule`` or anything
``lrsched_rs.Schedule`` accepts; a pasted PyTorch class config may leave out ``lr``, which
then comes from the optimizer, as PyTorch takes it.

>>> import torch, lrsched_rs.torch
>>> model = torch.nn.Linear(2, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = lrsched_rs.torch.LRScheduler(opt, {"type": "StepLR", "step_size": 2, "gamma": 0.5})
>>> for epoch in range(3):
...     opt.step()
...     sched.step()
>>> sched.get_last_lr()
[0.05]

A pasted PyTorch class is stepped as PyTorch steps it: ``step()``, the deprecated
``step(epoch)`` (the class's closed form, ``CosineAnnealingWarmRestarts``' fractional
epochs, PyTorch's warning), ``step(metrics)`` for ``ReduceLROnPlateau``, and
``OneCycleLR`` raising past ``total_steps``. Each step costs one step (O(1)), whatever
the step count and for all param groups in one call.
"""

from __future__ import annotations

import warnings
from itertools import repeat
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as _TorchLRScheduler

from . import Schedule, ScheduleError
from . import list as _catalog
from ._lrsched import _Driver, _TorchSim, parse_config
from .trial import _shown

try:  # PyTorch's own text, so a filter written for torch's warning catches ours too
    from torch.optim.lr_scheduler import EPOCH_DEPRECATION_WARNING as _EPOCH_WARNING
except ImportError:  # pragma: no cover - every torch >= 1.4 has it
    _EPOCH_WARNING = (
        "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
        "where possible. Please use `scheduler.step()` to step the scheduler."
    )

__all__ = ["LRScheduler"]

_TORCH_CLASSES = frozenset(t["name"] for t in _catalog() if t["group"] == "torch")
# Keys of a PyTorch class config that may hold one value per param group.
_PER_GROUP_KEYS = ("lr", "max_lr", "base_lr", "min_lr", "eta_min", "momentum",
                   "base_momentum", "max_momentum", "lr_lambda")


def _torch_config(config: Dict[str, Any], initial: List[float]) -> Dict[str, Any]:
    """A pasted PyTorch class's config for this optimizer: ``lr`` becomes one base rate per
    param group, as PyTorch's scheduler reads each group's own (the groups' initial rates
    when the config gives none or the first group's; a rate it names, with the groups'
    ratios kept). One simulator then runs all groups, as PyTorch's one scheduler does."""
    n = len(initial)
    name = config["type"]
    for key in _PER_GROUP_KEYS:
        v = config.get(key)
        if isinstance(v, (list, tuple)) and len(v) != n:
            raise ScheduleError(
                f"{name}: `{key}` = {list(v)!r} is not allowed: must be a number or a "
                f"list of {n} numbers (one per param group)"
            )
    c = dict(config)
    base = c.get("lr")
    if base is None or (not isinstance(base, (list, tuple)) and base == initial[0]):
        c["lr"] = list(initial)
    elif not isinstance(base, (list, tuple)):
        # The config names another base rate: the groups keep their ratios to it (the
        # first group takes it as written, not rounded through a ratio).
        c["lr"] = [base] + [base * lr / initial[0] if initial[0] else base for lr in initial[1:]]
    return c


def _schedule(config: Any, shape: Dict[str, Any]) -> Schedule:
    try:
        return Schedule(config, **shape)
    except ScheduleError as e:
        if shape or "needs the run's shape" not in str(e):
            raise
        raise ScheduleError(
            f"{e}; or give the scheduler the run's shape: LRScheduler(optimizer, schedule, "
            "epochs=..., steps_per_epoch=...)"
        ) from None


def _interval(interval: Optional[str], schedule: Schedule) -> str:
    if interval is None:
        return schedule.interval
    if interval not in ("step", "epoch"):
        raise ScheduleError(
            f"`interval` = {interval!r} is not allowed: must be \"step\" or \"epoch\""
        )
    return interval


def _scalar(x: Any) -> float:
    return float(x.item()) if isinstance(x, torch.Tensor) else float(x)


def _args(args: Tuple[Any, ...], kwargs: Dict[str, Any], names: Sequence[str]) -> List[Any]:
    """``step``'s arguments bound as PyTorch's signature for this schedule binds them."""
    if len(args) > len(names):
        raise TypeError(
            f"step() takes at most {len(names)} argument{'s' * (len(names) > 1)} "
            f"({', '.join(names)}) for this schedule, {len(args)} given"
        )
    got = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(
                f"step() got an unexpected keyword argument {key!r} (it takes {', '.join(names)})"
            )
        if key in got:
            raise TypeError(f"step() got multiple values for argument {key!r}")
        got[key] = value
    return [got.get(n) for n in names]


class LRScheduler(_TorchLRScheduler):
    """Drives an optimizer's learning rates (and momentum) with an lrsched schedule.

    Args:
        optimizer: the optimizer. Each param group keeps its own base rate, as with
            PyTorch's schedulers: a pasted PyTorch class runs on each group's initial
            ``lr`` (per-group lists such as ``max_lr=[...]`` give each group its entry),
            exactly as PyTorch runs it; any other schedule sets group ``i`` to its value
            times the group's initial ``lr`` over the first group's.
        schedule: an ``lrsched_rs.Schedule``, a config dict, JSON, TOML or one-line string.
            A pasted PyTorch class may leave out ``lr``: the optimizer's rates are used.
        interval: ``"step"`` or ``"epoch"``, how often the loop calls ``step()``; by
            default the schedule's own (``Schedule.interval``: per epoch for PyTorch's
            classes other than OneCycleLR and CyclicLR, per step for everything else).
            Lightning does not read it: use :meth:`lightning_config`.
        epochs, steps_per_epoch: the run's shape, for durations written ``"3ep"`` or
            ``"10%"`` (as ``lrsched_rs.Schedule`` takes them).

    Where the schedule sets a momentum (one-cycle, cyclic), each group's ``momentum``,
    or Adam's ``betas[0]``, follows it.

    ``step()`` advances one step. The one argument ``step`` takes is PyTorch's for the same
    kind of schedule: a metric-driven one (``ReduceLROnPlateau``, ``plateau``) is stepped
    ``step(metrics)``, as torch's ``ReduceLROnPlateau``; any other ``step(epoch)``, torch's
    deprecated form, with its warning (``CosineAnnealingWarmRestarts`` takes fractional
    epochs without one, as in torch). ``state_dict()`` and ``load_state_dict()`` resume
    bit-identically, and refuse a state saved from another config, naming every
    difference.

    >>> import torch, lrsched_rs.torch
    >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
    >>> sched = lrsched_rs.torch.LRScheduler(
    ...     opt, "cosine(lr=0.1, steps=10%)", epochs=10, steps_per_epoch=100)
    >>> sched.schedule.length
    100
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Union[Schedule, Dict[str, Any], str],
        interval: Optional[str] = None,
        *,
        epochs: Optional[float] = None,
        steps_per_epoch: Optional[int] = None,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a torch.optim.Optimizer")
        shape: Dict[str, Any] = {}
        if epochs is not None:
            shape["epochs"] = epochs
        if steps_per_epoch is not None:
            shape["steps_per_epoch"] = steps_per_epoch
        initial = [_scalar(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        config: Any = schedule
        if isinstance(config, str):
            config = parse_config(config)
        elif isinstance(config, Schedule) and config.type in _TORCH_CLASSES:
            config = config.to_config()
        self._sim: Optional[_TorchSim] = None
        self._driver: Optional[_Driver] = None
        if isinstance(config, dict) and config.get("type") in _TORCH_CLASSES:
            self.schedule = _schedule(_torch_config(config, initial), shape)
            self.interval = _interval(interval, self.schedule)
            self._sim = _TorchSim(self.schedule)
            self._runner: Any = self._sim
        else:
            if not isinstance(schedule, Schedule) or shape:
                schedule = _schedule(config, shape)
            self.schedule = schedule
            if len(initial) > 1 and initial[0] == 0.0:
                raise ScheduleError(
                    "param_groups[0]: `lr` = 0 is not allowed: must be > 0 when there are "
                    "several groups (each group's rate is the schedule's times its lr over "
                    "group 0's)"
                )
            scales = [1.0] + [lr / initial[0] for lr in initial[1:]]
            self.interval = _interval(interval, schedule)
            self._driver = _Driver(schedule, scales, self.interval)
            self._runner = self._driver
        self._needs_metric = self.schedule.needs_metric
        # PyTorch's CosineAnnealingWarmRestarts takes epochs (fractional ones too) without
        # the deprecation warning: it is that class's documented use.
        self._warns_on_epoch = self.schedule.type != "CosineAnnealingWarmRestarts"
        self._started = False
        super().__init__(optimizer)
        self._started = True

    @property
    def needs_metric(self) -> bool:
        """Whether ``step`` takes a metric (``ReduceLROnPlateau``, ``plateau``)."""
        return self._needs_metric

    def _apply(self, lrs: List[float], momentum: Union[None, float, List[float]]) -> None:
        groups = self.optimizer.param_groups
        for g, lr in zip(groups, lrs):
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr
        if momentum is not None:
            each = momentum if isinstance(momentum, list) else repeat(momentum)
            for g, m in zip(groups, each):
                if "momentum" in g:
                    g["momentum"] = m
                elif "betas" in g:
                    g["betas"] = (m, *g["betas"][1:])
        self._last_lr = lrs
        self.last_epoch = self._sim.last_epoch if self._sim is not None \
            else self._runner.step_count

    def step(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Advances the schedule and sets the rates, as PyTorch's ``step`` for the same kind
        of schedule:

        - ``step()``: one step.
        - ``step(metrics, epoch=None)`` for a metric-driven schedule (``ReduceLROnPlateau``,
          ``plateau``), as torch's ``ReduceLROnPlateau.step``: the metric is required at
          every per-epoch step.
        - ``step(epoch)`` for any other: PyTorch's deprecated form (its warning is
          raised): the rate at ``epoch`` by the class's closed form (the schedule's value
          for a native schedule), then ``step()`` goes on from there;
          ``CosineAnnealingWarmRestarts`` takes fractional epochs, as its docs show
          (``scheduler.step(epoch + i / iters)``), without a warning. ``SequentialLR`` and
          ``ChainedScheduler`` take no epoch, as in PyTorch.

        A number given positionally is never taken as a metric by a schedule that has none.
        """
        self._step_count = getattr(self, "_step_count", 0) + 1
        if not self._started:
            # The base class's constructor calls step() once: apply step 0's rates.
            self._apply(*self._runner.current())
            return
        metric = epoch = None
        if self._needs_metric:
            metric, epoch = _args(args, kwargs, ("metrics", "epoch")) if args or kwargs \
                else (None, None)
            if epoch is not None:
                warnings.warn(_EPOCH_WARNING, UserWarning, stacklevel=2)
            epoch = None  # torch's plateau only records it; the metric decides the rate
        elif args or kwargs:
            (epoch,) = _args(args, kwargs, ("epoch",))
        if metric is not None:
            value = _metric(metric)
            self._apply(*(self._sim.step_metric(value) if self._sim is not None
                          else self._driver.step(value)))  # type: ignore[union-attr]
        elif epoch is not None:
            if isinstance(epoch, (bool, str, bytes)) or not hasattr(type(epoch), "__float__"):
                raise ScheduleError(
                    f"epoch = {_shown(epoch)} is not allowed: must be a number of epochs "
                    f"(`{self.schedule.type}` takes no metric)"
                )
            if self._warns_on_epoch:
                warnings.warn(_EPOCH_WARNING, UserWarning, stacklevel=2)
            self._apply(*(self._sim.step_epoch(epoch) if self._sim is not None
                          else self._driver.seek(epoch)))  # type: ignore[union-attr]
        else:
            if self._needs_metric and (self._sim is not None or self.interval == "epoch"):
                raise ScheduleError(
                    f"{self.schedule.type}: the schedule is metric-driven and step() was called "
                    "without its metric: call scheduler.step(metric) with the validation metric"
                )
            self._apply(*self._runner.step())

    def end_epoch(self, metric: Optional[float] = None) -> None:
        """Ends an epoch, with its validation metric when there is one.

        A per-epoch schedule steps (``step(metric)`` for a metric-driven one). A per-step
        schedule has stepped past the epoch's batches already: a metric takes effect from
        the next step (a pasted ``ReduceLROnPlateau`` is stepped with it, as PyTorch's
        reacts only to its ``step(metrics)`` calls), and without one nothing happens.
        """
        m = None if metric is None else _metric(metric)
        if self._sim is None:
            self._apply(*self._driver.end_epoch(m))  # type: ignore[union-attr]
        elif self._needs_metric:
            if m is None:
                raise ScheduleError(
                    f"{self.schedule.type}: the schedule is metric-driven and an epoch ended "
                    "without its metric: call end_epoch(metric) with the validation metric"
                )
            self._apply(*self._sim.step_metric(m))
        elif self.interval == "epoch":
            self._apply(*self._sim.step())

    def get_lr(self) -> List[float]:
        """The rates in force, one per param group."""
        return list(self._runner.current()[0])

    def lightning_config(self, monitor: Optional[str] = None) -> Dict[str, Any]:
        """The ``"lr_scheduler"`` entry for Lightning's ``configure_optimizers``, read from
        the schedule itself: its ``interval``, and for a metric-driven schedule the
        ``monitor`` (required) and ``reduce_on_plateau`` (Lightning sets it only for its
        own ``ReduceLROnPlateau`` class and otherwise steps without the metric).

        >>> import torch, lrsched_rs.torch
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> s = lrsched_rs.torch.LRScheduler(opt, {"type": "ReduceLROnPlateau", "patience": 2})
        >>> c = s.lightning_config(monitor="val_loss")
        >>> c["interval"], c["monitor"], c["reduce_on_plateau"]
        ('epoch', 'val_loss', True)
        >>> # def configure_optimizers(self):
        >>> #     return {"optimizer": opt, "lr_scheduler": s.lightning_config("val_loss")}
        """
        if self._needs_metric and not monitor:
            raise ScheduleError(
                f"{self.schedule.type} is metric-driven: lightning_config(monitor=...) needs "
                "the name of the logged metric it reacts to (e.g. \"val_loss\")"
            )
        config: Dict[str, Any] = {
            "scheduler": self,
            "interval": self.interval,
            "frequency": 1,
            "reduce_on_plateau": self._needs_metric,
        }
        if monitor:
            config["monitor"] = monitor
        return config

    def state_dict(self) -> Dict[str, Any]:
        """The state to checkpoint: plain values (the config, the steps and calls that
        decide the rates), so ``torch.save`` and JSON both hold it."""
        return {
            "lrsched": self._runner.state(),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "interval": self.interval,
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Continues from a saved state, bit-identically.

        Raises ``lrsched_rs.ScheduleError`` naming every difference when the state was
        saved from another config, and when it is not an lrsched state at all.
        """
        if not isinstance(state_dict, dict) or "lrsched" not in state_dict:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ScheduleError(
                f"not an lrsched scheduler state (keys: {keys}): load the state_dict() of an "
                "lrsched_rs.torch.LRScheduler"
            )
        self._runner.restore(state_dict["lrsched"])
        self._step_count = state_dict.get("_step_count", self.last_epoch + 1)
        self._apply(*self._runner.current())


def _metric(metric: Any) -> float:
    bad = ScheduleError(f"metric = {_shown(metric)} is not allowed: must be a number")
    try:
        if isinstance(metric, torch.Tensor):
            metric = metric.item()  # fails for more than one element
        number = None if isinstance(metric, bool) else float(metric)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise bad from None
    if number is None:
        raise bad
    return number


# The optimizers an optimizer request (``LRSCHED_OPTIMIZER``, docs/protocol.md) may name:
# name -> (module, class, the pip package that has it, settings it implies). The names
# are lrsched's (`--optimizer`, a schedules file's `optimizer`); each is built from its
# reference implementation, with that implementation's defaults for what the request
# leaves out.
_OPTIMIZERS: Dict[str, Tuple[str, str, str, Dict[str, Any]]] = {
    "sgd": ("torch.optim", "SGD", "torch", {}),
    "momentum": ("torch.optim", "SGD", "torch", {"momentum": 0.9}),
    "nesterov": ("torch.optim", "SGD", "torch", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("torch.optim", "RMSprop", "torch", {}),
    "adam": ("torch.optim", "Adam", "torch", {}),
    "adamw": ("torch.optim", "AdamW", "torch", {}),
    "prodigy": ("prodigyopt", "Prodigy", "prodigyopt", {}),
    "dadapt-adam": ("dadaptation", "DAdaptAdam", "dadaptation", {}),
    "dadapt-sgd": ("dadaptation", "DAdaptSGD", "dadaptation", {}),
    "dog": ("dog", "DoG", "dog-optimizer", {}),
    "sf-adamw": ("schedulefree", "AdamWScheduleFree", "schedulefree", {}),
    "sf-sgd": ("schedulefree", "SGDScheduleFree", "schedulefree", {}),
}

OPTIMIZER_NAMES = tuple(_OPTIMIZERS)
__all__ += ["build_optimizer", "OPTIMIZER_NAMES"]


def build_optimizer(params: Any, request: Union[Dict[str, Any], str]) -> Optimizer:
    """The torch optimizer an optimizer request names, over ``params``.

    ``request`` is ``{"name": NAME, **settings}`` (or its JSON text): ``NAME`` one of
    ``OPTIMIZER_NAMES`` (``adam``, ``adamw``, ``sgd``, ``momentum``, ``nesterov``,
    ``rmsprop`` from ``torch.optim``; ``prodigy`` from prodigyopt, ``dadapt-adam`` and
    ``dadapt-sgd`` from dadaptation, ``dog`` from dog-optimizer, ``sf-adamw`` and
    ``sf-sgd`` from schedulefree, when installed), the other keys its constructor's
    keyword arguments (``lr`` is the LR-free optimizers' multiplier of their own step
    size). Anything else raises ``lrsched_rs.ScheduleError`` naming it and what is
    allowed. A schedule-free optimizer needs ``optimizer.train()`` before training and
    ``optimizer.eval()`` before evaluating, as schedulefree documents.

    >>> import torch, lrsched_rs.torch
    >>> opt = lrsched_rs.torch.build_optimizer(torch.nn.Linear(2, 1).parameters(),
    ...                                        {"name": "adamw", "lr": 0.01})
    >>> type(opt).__name__, opt.param_groups[0]["lr"]
    ('AdamW', 0.01)
    >>> lrsched_rs.torch.build_optimizer([], {"name": "lion"})
    Traceback (most recent call last):
    ...
    lrsched_rs.ScheduleError: optimizer request: name = 'lion' is not allowed: one of sgd, momentum, nesterov, rmsprop, adam, adamw, prodigy, dadapt-adam, dadapt-sgd, dog, sf-adamw, sf-sgd
    """
    import importlib
    import json

    if isinstance(request, str):
        try:
            request = json.loads(request)
        except ValueError as e:
            raise ScheduleError(f"optimizer request: not JSON ({e}): {_shown(request)}") from None
    if not isinstance(request, dict):
        raise ScheduleError(
            f"optimizer request: {_shown(request)} is not allowed: must be an object "
            '{"name": ..., ...}'
        )
    name = request.get("name")
    if name not in _OPTIMIZERS:
        raise ScheduleError(
            f"optimizer request: name = {_shown(name)} is not allowed: one of "
            + ", ".join(_OPTIMIZERS)
        )
    module_name, class_name, package, implied = _OPTIMIZERS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ScheduleError(
            f"optimizer `{name}` needs the {package} package, which is not installed: "
            f"pip install {package}"
        ) from None
    settings = {**implied, **{k: v for k, v in request.items() if k != "name"}}
    if "betas" in settings and isinstance(settings["betas"], list):
        settings["betas"] = tuple(settings["betas"])
    try:
        return getattr(module, class_name)(params, **settings)
    except (TypeError, ValueError) as e:
        raise ScheduleError(
            f"optimizer `{name}` ({module_name}.{class_name}) refused its settings "
            f"{_shown(settings)}: {e}"
        ) from None
