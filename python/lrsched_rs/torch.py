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
from .trial import _shown

__all__ = ["LRScheduler"]

_TORCH_CLASSES = frozenset(t["name"] for t in _catalog() if t["group"] == "torch")
# Keys of a PyTorch class config that may hold one value per param group.
_PER_GROUP_KEYS = ("lr", "max_lr", "base_lr", "min_lr", "eta_min", "momentum",
                   "base_momentum", "max_momentum", "lr_lambda")


def _group_configs(config: Dict[str, Any], initial: List[float]) -> List[Dict[str, Any]]:
    """One config per param group for a pasted PyTorch class: PyTorch runs the class's
    recursion on each group's own base rate, so each group gets its own schedule (the
    same bits as PyTorch's, where scaling one group's rates would round differently).
    A per-group list (``max_lr=[...]``, ``lr_lambda=[...]``) gives each group its entry."""
    n = len(initial)
    name = config["type"]
    base = config.get("lr")
    out = []
    for i in range(n):
        c = dict(config)
        for key in _PER_GROUP_KEYS:
            v = c.get(key)
            if isinstance(v, (list, tuple)):
                if len(v) != n:
                    raise ScheduleError(
                        f"{name}: `{key}` = {list(v)!r} is not allowed: must be a number or a "
                        f"list of {n} numbers (one per param group)"
                    )
                c[key] = v[i]
        if not isinstance(base, (list, tuple)):  # a list's entry was taken above
            if base is None or base == initial[0]:
                c["lr"] = initial[i]
            elif i > 0 and initial[0]:
                # The config names another base rate: the groups keep their ratios to it
                # (the first group takes it as written, not rounded through a ratio).
                c["lr"] = base * initial[i] / initial[0]
        out.append(c)
    return out


def _plan(schedule: Any, optimizer: Optimizer, interval: Optional[str]):
    """The drivers and the param groups each one sets: ``[(driver, [group, ...])]``, and
    the first group's schedule."""
    initial = [_scalar(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
    n = len(initial)
    config = schedule
    if isinstance(config, str):
        config = parse_config(config)
    elif isinstance(config, Schedule) and config.type in _TORCH_CLASSES and n > 1:
        config = config.to_config()
    if isinstance(config, dict) and config.get("type") in _TORCH_CLASSES:
        configs = _group_configs(config, initial)
        groups: Dict[str, List[int]] = {}
        built: Dict[str, Schedule] = {}
        for i, c in enumerate(configs):
            key = repr(sorted(c.items()))
            if key not in built:
                built[key] = Schedule(c)
                groups[key] = []
            groups[key].append(i)
        first = next(iter(built.values()))
        interval = _interval(interval, first)
        plan = [(_Driver(built[k], [1.0] * len(idx), interval), idx) for k, idx in groups.items()]
        return plan, first, interval
    if not isinstance(schedule, Schedule):
        schedule = Schedule(schedule)
    if n > 1 and initial[0] == 0.0:
        raise ScheduleError(
            "param_groups[0]: `lr` = 0 is not allowed: must be > 0 when there are several "
            "groups (each group's rate is the schedule's times its lr over group 0's)"
        )
    scales = [1.0] + [lr / initial[0] for lr in initial[1:]]
    interval = _interval(interval, schedule)
    return [(_Driver(schedule, scales, interval), list(range(n)))], schedule, interval


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


class LRScheduler(_TorchLRScheduler):
    """Drives an optimizer's learning rates (and momentum) with an lrsched schedule.

    Args:
        optimizer: the optimizer. Each param group keeps its own base rate, as with
            PyTorch's schedulers: a pasted PyTorch class runs on each group's initial
            ``lr`` (per-group lists such as ``max_lr=[...]`` give each group its entry),
            exactly as PyTorch runs it; any other schedule sets group ``i`` to its value
            times the group's initial ``lr`` over the first group's.
        schedule: an ``lrsched_rs.Schedule``, a config dict, JSON, TOML or one-line string.
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
        self._plan, self.schedule, self.interval = _plan(schedule, optimizer, interval)
        self._driver = self._plan[0][0]
        self._single = len(self._plan) == 1
        self._started = False
        super().__init__(optimizer)
        self._started = True

    def _each(self, call) -> None:
        """Runs ``call`` on every driver and sets the groups' rates and momenta."""
        if self._single:
            lrs, momentum = call(self._driver)
            self._apply(lrs, momentum)
            return
        n = len(self.optimizer.param_groups)
        lrs: List[float] = [0.0] * n
        momenta: List[Optional[float]] = [None] * n
        for driver, idx in self._plan:
            got, m = call(driver)
            for j, g in enumerate(idx):
                lrs[g] = got[j]
                momenta[g] = m
        self._apply(lrs, momenta)

    def _apply(self, lrs: List[float], momentum: Union[None, float, List[Optional[float]]]) -> None:
        groups = self.optimizer.param_groups
        for g, lr in zip(groups, lrs):
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr
        if momentum is not None:
            each = momentum if isinstance(momentum, list) else [momentum] * len(groups)
            for g, m in zip(groups, each):
                if m is None:
                    continue
                if "momentum" in g:
                    g["momentum"] = m
                elif "betas" in g:
                    g["betas"] = (m, *g["betas"][1:])
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
            self._each(lambda d: d.current())
            return
        if metric is None:
            if self.interval == "epoch" and self._driver.needs_metric:
                raise ScheduleError(
                    f"{self.schedule.type}: the schedule is metric-driven and step() was called "
                    "without its metric: call scheduler.step(metric) with the validation metric"
                )
            if self._single:
                self._apply(*self._driver.step())
            else:
                self._each(lambda d: d.step())
        else:
            value = _metric(metric)
            self._each(lambda d: d.step(value))

    def end_epoch(self, metric: Optional[float] = None) -> None:
        """Ends an epoch, with its validation metric when there is one.

        For a per-step schedule the metric takes effect from the next step (the driver
        has stepped past the epoch's batches already); for a per-epoch one this is
        ``step(metric)``.
        """
        m = None if metric is None else _metric(metric)
        self._each(lambda d: d.end_epoch(m))

    def get_lr(self) -> List[float]:
        """The rates in force, one per param group."""
        if self._single:
            return self._driver.current()[0]
        lrs = [0.0] * len(self.optimizer.param_groups)
        for driver, idx in self._plan:
            for j, g in enumerate(idx):
                lrs[g] = driver.current()[0][j]
        return lrs

    def state_dict(self) -> Dict[str, Any]:
        """The state to checkpoint: plain values (the config, the step, any metric
        history), so ``torch.save`` and JSON both hold it."""
        state = {
            "lrsched": self._driver.state(),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "interval": self.interval,
        }
        if not self._single:
            state["lrsched_groups"] = [d.state() for d, _ in self._plan[1:]]
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Continues from a saved state, bit-identically.

        Raises ``lrsched_rs.ScheduleError`` naming every difference when the state was saved
        from another config, and when it is not an lrsched state at all.
        """
        if not isinstance(state_dict, dict) or "lrsched" not in state_dict:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ScheduleError(
                f"not an lrsched scheduler state (keys: {keys}): load the state_dict() of an "
                "lrsched_rs.torch.LRScheduler"
            )
        saved = [state_dict["lrsched"], *state_dict.get("lrsched_groups", [])]
        if len(saved) != len(self._plan):
            raise ScheduleError(
                f"saved state does not match the config: it drives {len(saved)} distinct "
                f"param-group schedules, this scheduler {len(self._plan)}"
            )
        for (driver, _), st in zip(self._plan, saved):
            driver.restore(st)
        self._step_count = state_dict.get("_step_count", self._driver.step_count + 1)
        self._each(lambda d: d.current())


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
