"""The answer of a DNAS search: ``argmax(alpha)`` per layer (:func:`derive`) or selection by
perturbation (DARTS-PT, :func:`perturbation_select`).

Used in: 03_dnas, 04_hardware_dnas, 07_truth.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from nasedu import checkpoint
from nasedu.data import Batches
from nasedu.hardware import LookupTable
from nasedu.relax import probabilities
from nasedu.spaces import Arch, SearchSpace
from nasedu.supernet import Supernet


# -- the answer ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DerivedArch:
    """The architecture DNAS answers: ``argmax(alpha)`` per layer, with the cost of each choice."""

    space: str  # the space's name
    arch: Arch  # one choice index per layer
    ops: tuple[str, ...]  # the chosen op of each layer
    probs: tuple[float, ...]  # softmax(alpha) of each chosen op: how sure the search was
    metric: str  # the cost table's metric
    layer_costs: tuple[float, ...]  # the chosen op's cost in each layer
    base_cost: float  # stem and head
    cost: float  # base_cost + sum(layer_costs), as table.cost(arch)

    @property
    def readable(self) -> str:
        """The op names joined by '-', e.g. ``"k3e1-skip-k5e3-skip"``; ``space.decode`` reads it back."""
        return "-".join(self.ops)

    def to_dict(self) -> dict:
        """A JSON-ready dict with one entry per layer."""
        return {"space": self.space, "arch": list(self.arch), "readable": self.readable, "metric": self.metric,
                "cost": self.cost, "base_cost": self.base_cost,
                "layers": [{"layer": i, "choice": a, "op": o, "prob": p, "cost": c}
                           for i, (a, o, p, c) in enumerate(zip(self.arch, self.ops, self.probs, self.layer_costs))]}

    @classmethod
    def from_dict(cls, d: dict) -> "DerivedArch":
        """The inverse of :meth:`to_dict`."""
        layers = d["layers"]
        return cls(d["space"], tuple(l["choice"] for l in layers), tuple(l["op"] for l in layers),
                   tuple(l["prob"] for l in layers), d["metric"], tuple(l["cost"] for l in layers),
                   d["base_cost"], d["cost"])

    def save(self, path: Union[str, Path]) -> None:
        """Write :meth:`to_dict` as JSON, atomically."""
        checkpoint.write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "DerivedArch":
        """Read an arch written by :meth:`save`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


def derive(alpha: torch.Tensor, space: SearchSpace, table: LookupTable, max_cost: Optional[float] = None
           ) -> DerivedArch:
    """``argmax(alpha)`` per layer with its cost from ``table``; build it with ``space.build(d.arch)``.

    With ``max_cost``: the most probable arch (the largest ``sum_i log p[i, a_i]``) that costs at
    most ``max_cost``. A hinge loss bounds the *expected* cost, so ``argmax`` may still cost more,
    above all while alpha is undecided. The feasible archs are enumerated: small spaces only.
    """
    table.check_space(space)
    probs = probabilities(alpha.detach(), space).cpu()
    arch = tuple(int(a) for a in probs.argmax(-1))
    if max_cost is not None and table.cost(arch) > max_cost:
        if table.min_cost() > max_cost:
            raise ValueError(f"no arch of {space.name!r} costs at most {max_cost:g} {table.metric}; "
                             f"the cheapest costs {table.min_cost():g}")
        log_p = torch.log(probs.double().clamp_min(1e-300))
        feasible = (a for a in space.enumerate() if table.cost(a) <= max_cost)
        arch = max(feasible, key=lambda a: float(sum(log_p[i, k] for i, k in enumerate(a))))
    return DerivedArch(
        space=space.name, arch=arch, ops=tuple(c[a] for c, a in zip(space.candidates, arch)),
        probs=tuple(float(probs[i, a]) for i, a in enumerate(arch)), metric=table.metric,
        layer_costs=tuple(table.costs[i][a] for i, a in enumerate(arch)), base_cost=table.base,
        cost=table.cost(arch))


@torch.no_grad()
def perturbation_select(supernet: Supernet, alpha: torch.Tensor, batches, order: Optional[Sequence[int]] = None,
                        max_batches: int = 10, seed: int = 0) -> tuple[Arch, list[list[float]]]:
    """Select an arch by perturbation (Wang et al., ICLR 2021, alg. 1) instead of by ``argmax(alpha)``.

    Layer after layer, remove each candidate from the mixture ``softmax(alpha)`` in
    turn and measure the supernet's validation accuracy without it; choose the candidate whose
    removal costs the most, and fix the layer to it before deciding the next. Alpha's size says
    how much a candidate is *used*, not how much it *matters*: on DARTS's nearly flat alphas the
    two can differ. The layers are decided in ``order``, by default a random order drawn from
    ``seed`` (as in the paper's code, which picks the next edge at random; pass
    ``order=range(L)`` to go front to back). The paper fine-tunes the supernet after each
    decision; this does not (a CPU lesson cannot afford it).
    BatchNorm uses batch statistics, on a copy of the supernet. Returns the arch and, per layer,
    the accuracy drop (points) of removing each candidate.
    """
    space = supernet.space
    model = copy.deepcopy(supernet).train()  # batch statistics; the copy's running stats may drift
    weights = probabilities(alpha.detach(), space).to(next(model.parameters()).device)
    held_out = [(x, y) for _, (x, y) in zip(range(max_batches), batches)]

    def accuracy(w: torch.Tensor) -> float:
        correct = sum(int((model(x, weights=w).argmax(1) == y).sum()) for x, y in held_out)
        return 100.0 * correct / sum(len(y) for _, y in held_out)

    arch, drops = [0] * space.num_layers, [[] for _ in range(space.num_layers)]
    if order is None:
        order = random.Random(seed).sample(range(space.num_layers), space.num_layers)
    for layer in order:
        base = accuracy(weights)
        for k in range(len(space.candidates[layer])):
            removed = weights.clone()
            removed[layer, k] = 0.0
            drops[layer].append(base - accuracy(removed) if bool(removed[layer].any()) else 0.0)
        arch[layer] = max(range(len(drops[layer])), key=drops[layer].__getitem__)
        weights[layer] = 0.0
        weights[layer, arch[layer]] = 1.0  # decided: this layer is now its chosen candidate alone
    return tuple(arch), drops


def record_perturbation_choice(trainer: Any, images: int = 2000) -> None:
    """An ``on_epoch`` callback: add to the epoch's record the arch that :func:`perturbation_select`
    picks on the first ``images`` validation images, and the accuracy drops it measured.

    Used in: 03_dnas.
    """
    x, y = trainer.val_batches.x[:images], trainer.val_batches.y[:images]
    batches = Batches(x, y, 500, shuffle=False, device=trainer.device, channels_last=trainer.config.channels_last)
    arch, drops = perturbation_select(trainer.supernet, trainer.alpha, batches)
    trainer.log[-1].update(perturbation_arch=list(arch), perturbation_drops=drops)
