"""The supernet: one over-parameterised network that holds every candidate of every layer.

Activating one candidate per layer (``supernet(x, arch=arch)``) runs one architecture with
the supernet's shared weights; a weighted mixture (``supernet(x, weights=w)``) is what
differentiable NAS trains; ``subnet(arch)`` copies one path out as a stand-alone network
that *inherits* the supernet's weights.

Used in: 01_supernet, 02_weight_sharing, 03_dnas, 05_spos.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Optional

import torch
from torch import nn

from nasedu.spaces import ArchLike, ChildNet, SearchSpace, check_input


class Supernet(nn.Module):
    """Every candidate op of every searchable layer of ``space``, sharing one stem and head."""

    def __init__(self, space: SearchSpace, seed: Optional[int] = None) -> None:
        """Build every candidate; with ``seed`` the initial weights depend on it alone (the global
        random state is left as it was), else they come from torch's global generator."""
        super().__init__()
        self.space = space
        with torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext():
            if seed is not None:
                torch.manual_seed(seed)
            self.stem = space.build_stem()
            self.layers = nn.ModuleList(
                nn.ModuleList(space.build_op(i, k) for k in range(len(options)))
                for i, options in enumerate(space.candidates)
            )
            self.head = space.build_head()

    def forward(
        self, x: torch.Tensor, arch: Optional[ArchLike] = None, weights: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Logits of a single path (``arch``) or of an (L, K) mixture of candidates (``weights``).

        In a mixture, layer i's output is ``sum_k weights[i, k] * op_ik(x)``; candidates whose
        weight is exactly zero are not run at all.
        """
        if (arch is None) == (weights is None):
            raise ValueError("pass exactly one of arch=... (a single path) or weights=... (an (L, K) mixture)")
        check_input(self.space, x)
        x = self.stem(x)  # (B, C, H, W)
        if arch is not None:
            for layer, choice in zip(self.layers, self.space.decode(arch)):
                x = layer[choice](x)
        else:
            self.check_weights(weights)
            for i, layer in enumerate(self.layers):
                x = sum(weights[i, k] * op(x) for k, op in enumerate(layer) if weights[i, k].item() != 0.0)
        return self.head(x)

    def check_weights(self, weights: torch.Tensor) -> None:
        """Raise a clear error unless ``weights`` is (L, K) with zeros past each layer's candidates."""
        expected = (self.space.num_layers, self.space.max_choices)
        if tuple(weights.shape) != expected:
            raise ValueError(f"weights must have shape (layers, candidates) = {expected}, got {tuple(weights.shape)}")
        for i, options in enumerate(self.space.candidates):
            if len(options) < expected[1] and bool((weights[i, len(options):] != 0).any()):
                raise ValueError(f"layer {i} has only {len(options)} candidates; its extra weights must be 0")
            if bool((weights[i, : len(options)] == 0).all()):
                raise ValueError(f"layer {i} has all-zero weights: at least one candidate must be active")

    def subnet(self, arch: ArchLike) -> ChildNet:
        """A stand-alone copy of one path with the supernet's current weights (and BN statistics)."""
        arch = self.space.decode(arch)
        layers = [copy.deepcopy(self.layers[i][a]) for i, a in enumerate(arch)]
        return ChildNet(self.space, arch, copy.deepcopy(self.stem), layers, copy.deepcopy(self.head))

    def path_parameters(self, arch: ArchLike) -> list[nn.Parameter]:
        """The parameters one path uses (stem, chosen candidates, head)."""
        arch = self.space.decode(arch)
        modules = [self.stem, self.head] + [self.layers[i][a] for i, a in enumerate(arch)]
        return [p for m in modules for p in m.parameters()]
