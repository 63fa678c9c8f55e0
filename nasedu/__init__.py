"""nasedu: learn one-shot neural architecture search with a small PyTorch package and notebooks."""

from nasedu import benchmarks, checkpoint, data, dnas, export, hardware, metrics, ops, plots, search, spaces, spos, training, widgets
from nasedu.spaces import LayerSpec, SearchSpace
from nasedu.supernet import Supernet

__version__ = "0.1.0"

__all__ = [
    "LayerSpec", "SearchSpace", "Supernet", "benchmarks", "checkpoint", "data", "dnas", "export", "hardware", "metrics", "ops",
    "plots", "search", "spaces", "spos", "training", "widgets", "__version__",
]
