"""nasedu: learn one-shot neural architecture search with a small PyTorch package and notebooks.

Submodules load on first use (PEP 562): ``import nasedu`` is instant, ``nd.search`` needs no
torch, and ``nd.Supernet`` or ``nd.dnas`` import torch the first time they are touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

SUBMODULES = (
    "bench", "benchmarks", "checkpoint", "cli", "config", "data", "diagnostics", "distributed", "dnas", "exercises",
    "export", "fewshot", "hardware", "methods", "metrics", "ops", "plots", "progress", "proxies", "relax", "resources",
    "search", "selection", "spaces", "spos", "supernet", "training", "widgets",
)
# names re-exported from a submodule: name -> submodule
ATTRIBUTES = {"LayerSpec": "spaces", "SearchSpace": "spaces", "Supernet": "supernet"}

__all__ = [*ATTRIBUTES, *SUBMODULES, "__version__"]

if TYPE_CHECKING:  # for editors and type checkers; at run time __getattr__ below does the work
    from nasedu import benchmarks, checkpoint, data, diagnostics, dnas, export, hardware, methods  # noqa: F401
    from nasedu import metrics, ops, plots, relax, search, selection, spaces, spos, training, widgets  # noqa: F401
    from nasedu.spaces import LayerSpec, SearchSpace  # noqa: F401
    from nasedu.supernet import Supernet  # noqa: F401


def __getattr__(name: str) -> Any:
    """Import a submodule or a re-exported class the first time it is asked for."""
    if name in ATTRIBUTES:
        value = getattr(importlib.import_module(f"nasedu.{ATTRIBUTES[name]}"), name)
    elif name in SUBMODULES:
        value = importlib.import_module(f"nasedu.{name}")
    else:
        raise AttributeError(f"module 'nasedu' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
