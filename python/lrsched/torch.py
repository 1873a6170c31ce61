"""lrsched schedules as a PyTorch learning-rate scheduler.

``LRScheduler(optimizer, schedule)`` is a real subclass of
``torch.optim.lr_scheduler.LRScheduler``, so PyTorch Lightning and Hugging Face's
``Trainer`` take it unchanged. ``schedule`` is an ``lrsched.Schedule`` or anything
``lrsched.Schedule`` accepts; a pasted PyTorch class config may leave out ``lr``, which
then comes from the optimizer, as PyTorch takes it.

>>> import torch, lrsched.torch
>>> model = torch.nn.Linear(2, 1)
>>> opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> sched = lrsched.torch.LRScheduler(opt, {"type": "StepLR", "step_size": 2, "gamma": 0.5})
>>> for epoch in range(3):
...     opt.step()
...     sched.step()
>>> sched.get_last_lr()
[0.05]

Each step costs one step of the schedule (O(1)), whatever the step count.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler as _TorchLRScheduler

from . import Schedule, ScheduleError
from . import list as _catalog
from ._lrsched import _Driver, parse_config

__all__ = ["LRScheduler"]

_TORCH_CLASSES = frozenset(t["name"] for t in _catalog() if t["group"] == "torch")
# Keys of a PyTorch class config that may hold one value per param group.
_PER_GROUP_KEYS = ("lr", "max_lr", "base_lr", "min_lr", "eta_min", "momentum",
                   "base_momentum", "max_momentum", "lr_lambda")


def _as_schedule(schedule: Any, optimizer: Optimizer) -> Schedule:
    """The schedule, with the optimizer's ``lr`` filled into a PyTorch class config that
    leaves it out (PyTorch takes the base rate from the optimizer)."""
    if isinstance(schedule, Schedule):
        return schedule
    config = schedule
    if isinstance(config, str):
        config = parse_config(config)
    if isinstance(config, dict) and config.get("type") in _TORCH_CLASSES:
        groups = len(optimizer.param_groups)
        if groups > 1:
            for key in _PER_GROUP_KEYS:
                if isinstance(config.get(key), (list, tuple)):
                    raise ScheduleError(
                        f"{config['type']}: `{key}` = {config[key]!r} is not allowed: must be one "
                        "value; lrsched.torch.LRScheduler scales each param group by its "
                        "initial lr over the first group's"
                    )
        if "lr" not in config:
            config = dict(config)
            config["lr"] = float(optimizer.param_groups[0]["lr"])
    return Schedule(config)


def _scalar(x: Any) -> float:
    return float(x.item()) if isinstance(x, torch.Tensor) else float(x)


class LRScheduler(_TorchLRScheduler):
    """Drives an optimizer's learning rates (and momentum) with an lrsched schedule.

    Args:
        optimizer: the optimizer. Group ``i``'s rate is the schedule's value times the
            group's initial ``lr`` over the first group's, so each group keeps its own
            base rate, as PyTorch's schedulers keep theirs.
        schedule: an ``lrsched.Schedule``, a config dict, JSON, TOML or one-line string.
        interval: ``"step"`` or ``"epoch"``, how often the loop calls ``step()``; by
            default the schedule's own (``Schedule.interval``: per epoch for PyTorch's
            classes other than OneCycleLR and CyclicLR, per step for everything else).
            Lightning reads it as the scheduler config's ``"interval"``.

    Where the schedule sets a momentum (one-cycle, cyclic), each group's ``momentum``,
    or Adam's ``betas[0]``, follows it.

    ``step()`` advances one step; ``step(metric)`` feeds a metric first (plateau and
    ``ReduceLROnPlateau`` schedules need one at every per-epoch step). ``state_dict()``
    and ``load_state_dict()`` resume bit-identically, and refuse a state saved from
    another config, naming every difference.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedule: Union[Schedule, Dict[str, Any], str],
        interval: Optional[str] = None,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a torch.optim.Optimizer")
        schedule = _as_schedule(schedule, optimizer)
        if interval is None:
            interval = schedule.interval
        if interval not in ("step", "epoch"):
            raise ScheduleError(
                f"`interval` = {interval!r} is not allowed: must be \"step\" or \"epoch\""
            )
        initial = [_scalar(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        if len(initial) > 1 and initial[0] == 0.0:
            raise ScheduleError(
                "param_groups[0]: `lr` = 0 is not allowed: must be > 0 when there are several "
                "groups (each group's rate is the schedule's times its lr over group 0's)"
            )
        scales = [1.0] + [lr / initial[0] for lr in initial[1:]]
        self.schedule = schedule
        self.interval = interval
        self._driver = _Driver(schedule, scales, interval)
        self._started = False
        super().__init__(optimizer)
        self._started = True

    def _apply(self, lrs: List[float], momentum: Optional[float]) -> None:
        groups = self.optimizer.param_groups
        for g, lr in zip(groups, lrs):
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr
        if momentum is not None:
            for g in groups:
                if "momentum" in g:
                    g["momentum"] = momentum
                elif "betas" in g:
                    g["betas"] = (momentum, *g["betas"][1:])
        self._last_lr = lrs
        self.last_epoch = self._driver.step_count

    def step(self, metric: Optional[float] = None) -> None:  # type: ignore[override]
        """Advances one step (feeding ``metric`` first when given) and sets the rates.

        A per-epoch metric-driven schedule (``ReduceLROnPlateau``, ``plateau``) must be
        given its metric: ``scheduler.step(val_loss)``.
        """
        self._step_count = getattr(self, "_step_count", 0) + 1
        if not self._started:
            # The base class's constructor calls step() once: apply step 0's rates.
            self._apply(*self._driver.current())
            return
        if metric is None:
            if self.interval == "epoch" and self._driver.needs_metric:
                raise ScheduleError(
                    f"{self.schedule.type}: the schedule is metric-driven and step() was called "
                    "without its metric: call scheduler.step(metric) with the validation metric"
                )
            self._apply(*self._driver.step())
        else:
            if isinstance(metric, torch.Tensor):
                metric = metric.item()
            try:
                value = float(metric)
            except (TypeError, ValueError):
                raise ScheduleError(
                    f"metric = {metric!r} is not allowed: must be a number"
                ) from None
            self._apply(*self._driver.step(value))

    def end_epoch(self, metric: Optional[float] = None) -> None:
        """Ends an epoch, with its validation metric when there is one.

        For a per-step schedule the metric takes effect from the next step (the driver
        has stepped past the epoch's batches already); for a per-epoch one this is
        ``step(metric)``.
        """
        m = None if metric is None else float(metric)
        self._apply(*self._driver.end_epoch(m))

    def get_lr(self) -> List[float]:
        """The rates in force, one per param group."""
        return self._driver.current()[0]

    def state_dict(self) -> Dict[str, Any]:
        """The state to checkpoint: plain values (the config, the step, any metric
        history), so ``torch.save`` and JSON both hold it."""
        return {
            "lrsched": self._driver.state(),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "interval": self.interval,
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Continues from a saved state, bit-identically.

        Raises ``lrsched.ScheduleError`` naming every difference when the state was saved
        from another config, and when it is not an lrsched state at all.
        """
        if not isinstance(state_dict, dict) or "lrsched" not in state_dict:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ScheduleError(
                f"not an lrsched scheduler state (keys: {keys}): load the state_dict() of an "
                "lrsched.torch.LRScheduler"
            )
        self._driver.restore(state_dict["lrsched"])
        self._step_count = state_dict.get("_step_count", self._driver.step_count + 1)
        self._apply(*self._driver.current())
