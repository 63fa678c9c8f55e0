"""nasedu: learn one-shot neural architecture search with a small PyTorch package and notebooks."""

from nasedu import hardware, ops, spaces
from nasedu.spaces import LayerSpec, SearchSpace
from nasedu.supernet import Supernet

__version__ = "0.1.0"

__all__ = ["LayerSpec", "SearchSpace", "Supernet", "hardware", "ops", "spaces", "__version__"]
