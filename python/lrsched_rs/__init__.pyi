from typing import Any, Dict, List as _List

from . import torch as torch
from . import trial as trial

from ._lrsched import Conversion as Conversion
from ._lrsched import Schedule as Schedule
from ._lrsched import ScheduleError as ScheduleError
from ._lrsched import __version__ as __version__

def list() -> _List[Dict[str, Any]]: ...
