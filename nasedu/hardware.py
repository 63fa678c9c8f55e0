"""Hardware cost lookup tables: params, MACs and latency per (layer, candidate).

A network's cost is the fixed cost of its stem and head plus one entry per searchable
layer, so the cost of any of the K**L architectures is a sum of L table entries, and the
*expected* cost under candidate probabilities is differentiable -- which is what the
hardware-constraint losses of differentiable NAS need::

    E[cost] = base + sum_i sum_k p[i, k] * cost[i][k]

Latency is measured on the current device (warm-up, repeats, median) and stored with a
description of the device, since a latency table only holds for the machine it was made on.

Used in: 04_hardware_dnas, 05_spos, 06_evolution.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from nasedu.checkpoint import atomic_write
from nasedu.search import check_arch
from nasedu.spaces import ArchLike, SearchSpace

METRICS = ("params", "macs", "latency_ms")


@dataclass
class LookupTable:
    """Cost of every (layer, candidate) of a space for one metric, plus the stem+head cost."""

    space_name: str  # the space the table was made for
    metric: str  # "params", "macs" or "latency_ms"
    base: float  # cost of the stem and head, paid by every arch
    costs: list[list[float]]  # costs[i][k]: cost of candidate k in layer i
    device: str = ""  # where latency was measured ("" for params and MACs)
    settings: dict = field(default_factory=dict)  # how latency was measured (batch size, repeats)

    def cost(self, arch: Sequence[int]) -> float:
        """The cost of one arch: base plus the chosen entry of every layer."""
        arch = check_arch(self.costs, arch, f"the {self.metric} table of {self.space_name!r}")
        return self.base + sum(self.costs[i][a] for i, a in enumerate(arch))

    def __post_init__(self) -> None:
        self._tensors: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}  # as_tensor's, for expected_cost

    def as_tensor(self, device: Optional[torch.device] = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The (L, K) cost matrix, a new tensor; layers with fewer candidates are padded with zeros."""
        k = max(len(row) for row in self.costs)
        rows = [row + [0.0] * (k - len(row)) for row in self.costs]
        return torch.tensor(rows, dtype=dtype, device=device)

    def expected_cost(self, probs: torch.Tensor) -> torch.Tensor:
        """Differentiable ``base + sum_ik probs[i, k] * cost[i][k]`` for (L, K) probabilities.

        The cost matrix is built once per device and dtype and kept (so a table is not to be
        edited after its first use); nothing here waits for the device (no ``.item()``).
        """
        key = (probs.device, probs.dtype)
        if key not in self._tensors:
            self._tensors[key] = self.as_tensor(probs.device, probs.dtype)
        table = self._tensors[key]
        if probs.shape != table.shape:
            raise ValueError(f"probs must have shape {tuple(table.shape)} (layers, candidates) "
                             f"for the {self.metric} table of {self.space_name!r}, got {tuple(probs.shape)}")
        return self.base + (probs * table).sum()

    def min_cost(self) -> float:
        """The cheapest arch's cost."""
        return self.base + sum(min(row) for row in self.costs)

    def max_cost(self) -> float:
        """The most expensive arch's cost."""
        return self.base + sum(max(row) for row in self.costs)

    def save(self, path: str) -> None:
        """Write the table as JSON (atomically: a crash never leaves half a file)."""
        atomic_write(path, lambda f: json.dump(asdict(self), f, indent=1), mode="w")

    @classmethod
    def load(cls, path: str) -> "LookupTable":
        """Read a table written by ``save``."""
        with open(path) as f:
            data = json.load(f)
        missing = {"space_name", "metric", "base", "costs"} - set(data)
        if missing:
            raise ValueError(f"{path} is not a nasedu lookup table: it lacks {sorted(missing)}")
        return cls(**data)

    def check_space(self, space: SearchSpace) -> None:
        """Raise a clear error unless the table was made for ``space``."""
        shape = [len(c) for c in space.candidates]
        if self.space_name != space.name or [len(row) for row in self.costs] != shape:
            raise ValueError(f"this {self.metric} table was made for space {self.space_name!r}, "
                             f"not for {space.name!r}; build one with nasedu.hardware.lookup_table(space)")


# -- counting ---------------------------------------------------------------------------------

def count_params(module: nn.Module) -> int:
    """Number of parameters (weights and biases; BN affine parameters included)."""
    return sum(p.numel() for p in module.parameters())


def count_macs(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of conv and linear layers for one input of ``input_shape`` (C, H, W).

    This is how NAS-Bench-Macro counts "flops": BN, ReLU, additions and pooling are free.
    """
    total = 0

    def conv_hook(conv: nn.Conv2d, inputs, output) -> None:
        nonlocal total
        kh, kw = conv.kernel_size
        total += output[0].numel() * (conv.in_channels // conv.groups) * kh * kw

    def linear_hook(linear: nn.Linear, inputs, output) -> None:
        nonlocal total
        total += output[0].numel() * linear.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    try:
        run_once(module, input_shape)
    finally:
        for h in hooks:
            h.remove()
    return total


def run_once(module: nn.Module, input_shape: Sequence[int], batch_size: int = 1,
             device: Optional[torch.device] = None) -> torch.Tensor:
    """One eval-mode forward of zeros shaped (batch_size, *input_shape), leaving the mode as it was."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            return module(torch.zeros(batch_size, *input_shape, device=device))
    finally:
        module.train(was_training)


def layer_input_shapes(space: SearchSpace) -> list[tuple[int, int, int]]:
    """The (C, H, W) entering each searchable layer, and last the shape entering the head."""
    x = run_once(space.build_stem(), space.input_shape)
    shapes = [tuple(x.shape[1:])]
    for i in range(space.num_layers):
        x = run_once(space.build_op(i, 0), shapes[-1])
        shapes.append(tuple(x.shape[1:]))
    return shapes


# -- latency ------------------------------------------------------------------------------------

def device_description(device: Optional[torch.device] = None) -> str:
    """A human-readable name of the device latency is measured on."""
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda}), torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def measure_latency_ms(module: nn.Module, input_shape: Sequence[int], batch_size: int = 1,
                       device: Optional[torch.device] = None, warmup: int = 10, repeats: int = 30) -> float:
    """Median wall-clock time of one eval-mode forward, in milliseconds, after ``warmup`` runs."""
    device = torch.device(device or "cpu")
    module = module.to(device).eval()
    x = torch.randn(batch_size, *input_shape, device=device)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            module(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# -- tables -------------------------------------------------------------------------------------

def lookup_table(space: SearchSpace, metric: str = "macs", device: Optional[torch.device] = None,
                 batch_size: int = 1, repeats: int = 30) -> LookupTable:
    """Build the ``metric`` table of ``space``: "params", "macs" or "latency_ms" (measured here)."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
    shapes = layer_input_shapes(space)
    stem, head = space.build_stem(), space.build_head()
    costs: list[list[float]] = []
    if metric == "params":
        base = count_params(stem) + count_params(head)
        for i, options in enumerate(space.candidates):
            costs.append([float(count_params(space.build_op(i, k))) for k in range(len(options))])
        return LookupTable(space.name, metric, float(base), costs)
    if metric == "macs":
        base = count_macs(stem, space.input_shape) + count_macs(head, shapes[-1])
        for i, options in enumerate(space.candidates):
            costs.append([float(count_macs(space.build_op(i, k), shapes[i])) for k in range(len(options))])
        return LookupTable(space.name, metric, float(base), costs)

    def latency(module: nn.Module, shape: Sequence[int]) -> float:
        return measure_latency_ms(module, shape, batch_size, device, repeats=repeats)

    base = latency(stem, space.input_shape) + latency(head, shapes[-1])
    for i, options in enumerate(space.candidates):
        costs.append([latency(space.build_op(i, k), shapes[i]) for k in range(len(options))])
    settings = {"batch_size": batch_size, "repeats": repeats, "statistic": "median"}
    return LookupTable(space.name, metric, base, costs, device_description(device), settings)


def latency_check(space: SearchSpace, table: LookupTable, archs: Sequence[ArchLike],
                  device: Optional[torch.device] = None) -> dict:
    """Compare the table's predicted latency with whole networks measured on ``device``.

    Returns ``{"predicted": [...], "measured": [...], "pearson": r, "kendall_tau": tau}``:
    a high correlation means the per-layer table ranks whole networks as the device does.
    """
    from scipy import stats

    table.check_space(space)
    batch_size = table.settings.get("batch_size", 1)
    predicted = [table.cost(space.decode(a)) for a in archs]
    measured = [measure_latency_ms(space.build(a), space.input_shape, batch_size, device) for a in archs]
    return {
        "predicted": predicted,
        "measured": measured,
        "pearson": float(np.corrcoef(predicted, measured)[0, 1]),
        "kendall_tau": float(stats.kendalltau(predicted, measured).statistic),
    }
