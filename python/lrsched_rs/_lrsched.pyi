"""Type stubs of lrsched's extension module (lrsched_rs._lrsched)."""

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy

__version__: str

class ScheduleError(ValueError):
    """A schedule, config, state or trial that lrsched refuses; the CLI's message."""

Config = Union[Dict[str, Any], str, "Schedule"]

class Schedule:
    """A learning-rate schedule, a pure function of the step.

    ``config`` is a dict (native, PyTorch, transformers, timm, optax or Keras form), a
    JSON or TOML string, the one-line form (``"cosine(lr=0.1, steps=1000)"``) or another
    ``Schedule``. ``steps_per_epoch`` and ``epochs`` resolve ``"3ep"`` / ``"10%"`` durations;
    the run's steps (epochs x steps per epoch) must be at most 2**53. Steps are integers
    in ``0 .. 2**64``; anything else raises ``ScheduleError`` (``TypeError`` for a
    non-integer).

    >>> import lrsched_rs
    >>> lrsched_rs.Schedule("cosine(lr=0.1, steps=100)").value(100)
    0.0
    """

    def __init__(
        self,
        config: Config,
        *,
        steps_per_epoch: Optional[int] = None,
        epochs: Optional[float] = None,
    ) -> None: ...
    def value(self, step: int) -> float:
        """The rate in force for optimizer step ``step`` (from 0, below 2**64)."""
    def momentum(self, step: int) -> Optional[float]:
        """The momentum (or Adam's beta1) the schedule sets at ``step``, or None."""
    def values(self, n: int, start: int = 0) -> Union["numpy.ndarray", List[float]]:
        """Values for steps ``start .. start + n``: a float64 numpy array when numpy is
        installed, else a list. At most 1,000,000,000 values a call (as ``lrsched trace
        --steps``); more raise ``ScheduleError``."""
    @property
    def length(self) -> Optional[int]:
        """The schedule's length in steps, or None."""
    @property
    def interval(self) -> str:
        """``"step"`` or ``"epoch"``: how often a loop advances the schedule."""
    @property
    def needs_metric(self) -> bool:
        """Whether the schedule reacts to a metric (plateau, ReduceLROnPlateau)."""
    @property
    def type(self) -> str:
        """The config ``type``."""
    def to_config(self) -> Dict[str, Any]:
        """The config as a dict (defaults left out); ``Schedule`` reads it back."""
    def to_json(self) -> str:
        """The config as JSON text."""
    def convert(self, to: str) -> "Conversion":
        """The closest config in ``native``, ``torch``, ``transformers``, ``timm``,
        ``optax`` or ``keras`` form."""
    def __eq__(self, other: object) -> bool: ...

class Conversion:
    """A schedule converted into another library's config form."""

    @property
    def config(self) -> Dict[str, Any]: ...
    @property
    def exact(self) -> bool: ...
    @property
    def notes(self) -> List[str]: ...

def catalog_list() -> List[Dict[str, Any]]: ...

class _Driver:
    def __init__(
        self, schedule: Schedule, group_scales: Sequence[float], interval: str
    ) -> None: ...
    def step(self, metric: Optional[float] = None) -> Tuple[List[float], Optional[float]]: ...
    def observe(self, metric: float) -> None: ...
    def end_epoch(self, metric: Optional[float] = None) -> Tuple[List[float], Optional[float]]: ...
    def seek(self, step: int) -> Tuple[List[float], Optional[float]]: ...
    def current(self) -> Tuple[List[float], Optional[float]]: ...
    @property
    def step_count(self) -> int: ...
    @property
    def needs_metric(self) -> bool: ...
    def state(self) -> Dict[str, Any]: ...
    def restore(self, state: Dict[str, Any]) -> None: ...

class _TorchSim:
    """A pasted PyTorch class over the optimizer's param groups, stepped as torch steps it."""

    def __init__(self, schedule: Schedule) -> None: ...
    def step(self) -> Tuple[List[float], Optional[List[float]]]: ...
    def step_epoch(self, epoch: float) -> Tuple[List[float], Optional[List[float]]]: ...
    def step_metric(self, metric: float) -> Tuple[List[float], Optional[List[float]]]: ...
    def current(self) -> Tuple[List[float], Optional[List[float]]]: ...
    @property
    def last_epoch(self) -> int: ...
    @property
    def needs_metric(self) -> bool: ...
    def state(self) -> Dict[str, Any]: ...
    def restore(self, state: Dict[str, Any]) -> None: ...

class _Trial:
    @staticmethod
    def from_env() -> Optional["_Trial"]: ...
    def schedule(self, steps_per_epoch: Optional[int] = None) -> Union[Schedule, Dict[str, Any]]: ...
    name: str
    seed: int
    epochs: int
    interval: str
    max_steps: Optional[int]
    steps_per_epoch: Optional[int]
    out_dir: str
    metrics_path: str

class _Metrics:
    def __init__(self, path: str) -> None: ...
    def epoch(self, epoch: int, values: Sequence[Tuple[str, float]]) -> None:
        """One epoch's line; a line over 64 KiB raises ``ScheduleError``, writing nothing."""
    def step(self, step: int, lr: float, loss: float) -> None: ...
def parse_config(text: str) -> Dict[str, Any]: ...
