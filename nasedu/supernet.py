"""The supernet: one over-parameterised network that holds every candidate of every layer.

Activating one candidate per layer (``supernet(x, arch=arch)``) runs one architecture with
the supernet's shared weights; a gated mixture (``supernet(x, weights=w)``, optionally with the
candidates to run, ``active=``) is what differentiable NAS trains; ``subnet(arch)`` copies one
path out as a stand-alone network that *inherits* the supernet's weights.

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

    def forward(self, x: torch.Tensor, arch: Optional[ArchLike] = None, weights: Optional[torch.Tensor] = None,
                active: Optional[torch.Tensor] = None, detached: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits of a single path (``arch``) or of a gated mixture of candidates (``weights``, (L, K)).

        In a mixture, layer i outputs ``sum_k weights[i, k] * op_ik(x)`` over the candidates that
        run: those in ``active`` ((L, K) booleans; by default those with a non-zero weight). Those
        also in ``detached`` run without a graph: their weight (a gate of GDAS or ProxylessNAS)
        still gets a gradient, their parameters none. Pass the masks on the CPU (as
        ``nasedu.methods`` makes them) and the forward pass never waits to read the device.
        """
        if (arch is None) == (weights is None):
            raise ValueError("pass exactly one of arch=... (a single path) or weights=... (an (L, K) mixture)")
        check_input(self.space, x)
        x = self.stem(x)  # (B, C, H, W)
        if arch is not None:
            for layer, choice in zip(self.layers, self.space.decode(arch)):
                x = layer[choice](x)
            return self.head(x)
        runs, frozen = self.check_masks(weights, active, detached)
        for i, layer in enumerate(self.layers):
            outputs = []
            for k, op in enumerate(layer):
                if runs[i][k]:
                    with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen[i][k]):
                        out = op(x)  # detached: no graph through the candidate, its output is a constant
                    outputs.append(weights[i, k] * out)
            x = sum(outputs)
        return self.head(x)

    def check_masks(self, weights: torch.Tensor, active: Optional[torch.Tensor] = None,
                    detached: Optional[torch.Tensor] = None) -> tuple[list[list[bool]], list[list[bool]]]:
        """The candidates to run and those to run detached, as (L, K) lists of bools, after checking
        the shapes, that nothing past a layer's candidates runs and that each layer runs one at least."""
        expected = (self.space.num_layers, self.space.max_choices)
        if tuple(weights.shape) != expected:
            raise ValueError(f"weights must have shape (layers, candidates) = {expected}, got {tuple(weights.shape)}")
        if active is None:
            active = weights.detach() != 0
        masks = []
        for name, mask in (("active", active), ("detached", detached)):
            if mask is not None and (tuple(mask.shape) != expected or mask.dtype != torch.bool):
                raise ValueError(f"{name} must be (layers, candidates) = {expected} booleans, got "
                                 f"{tuple(mask.shape)} {mask.dtype}; make it with nasedu.methods.relax()")
            masks.append(mask.tolist() if mask is not None else [[False] * expected[1]] * expected[0])
        runs, frozen = masks
        for i, options in enumerate(self.space.candidates):
            if any(runs[i][len(options):]):
                raise ValueError(f"layer {i} has only {len(options)} candidates; nothing past them can run")
            if not any(runs[i]):
                raise ValueError(f"layer {i} has all-zero weights: at least one candidate must be active")
        return runs, frozen

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
