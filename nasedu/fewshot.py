"""Few-shot NAS (Zhao et al. 2021): split the one-shot supernet on one layer's choice.

One supernet shares each candidate's weights among all archs, and those archs pull the weights
different ways. Few-shot NAS splits the space on layer ``layer``: sub-supernet k holds only the
archs whose layer ``layer`` is candidate k, so that candidate's successors no longer share with
the others' successors. Each sub-supernet starts from the one-shot supernet's weights (warm
start) and trains on its part of the space; an arch is scored by the sub-supernet it falls in.

    >>> subnets = nd.fewshot.split(trainer.supernet, layer=1)      # K sub-supernets, one per candidate
    >>> k, sub_arch = nd.fewshot.locate(space, 1, "k3e1-skip-k5e3-conv3")

Used in: 09_why_sharing_misleads.
"""

from __future__ import annotations

import dataclasses

from nasedu.data import Splits
from nasedu.spaces import Arch, ArchLike, SearchSpace
from nasedu.spos import InheritedEvaluator
from nasedu.supernet import Supernet


def _check_layer(space: SearchSpace, layer: int) -> None:
    if not 0 <= layer < space.num_layers:
        raise ValueError(f"space {space.name!r} has layers 0..{space.num_layers - 1}; cannot split on layer {layer}")


def subspace(space: SearchSpace, layer: int, choice: int) -> SearchSpace:
    """The part of ``space`` whose layer ``layer`` is candidate ``choice`` (that layer keeps one candidate)."""
    _check_layer(space, layer)
    options = space.candidates[layer]
    if not 0 <= choice < len(options):
        raise ValueError(f"layer {layer} of space {space.name!r} has candidates 0..{len(options) - 1}, not {choice}")
    layers = list(space.layers)
    layers[layer] = dataclasses.replace(layers[layer], candidates=(options[choice],))
    return dataclasses.replace(space, name=f"{space.name}[{layer}={options[choice]}]", layers=tuple(layers))


def locate(space: SearchSpace, layer: int, arch: ArchLike) -> tuple[int, Arch]:
    """(which sub-supernet holds ``arch``, the arch in that sub-space's choices)."""
    _check_layer(space, layer)
    arch = space.decode(arch)
    return arch[layer], arch[:layer] + (0,) + arch[layer + 1:]


def split(supernet: Supernet, layer: int) -> list[Supernet]:
    """One sub-supernet per candidate of ``layer``, each starting with ``supernet``'s weights and BN statistics."""
    space = supernet.space
    _check_layer(space, layer)
    state = supernet.state_dict()
    subnets = []
    for choice in range(len(space.candidates[layer])):
        sub = Supernet(subspace(space, layer, choice))
        prefix, kept = f"layers.{layer}.", f"layers.{layer}.{choice}."
        inherited = {}
        for key, value in state.items():
            if key.startswith(prefix):
                if not key.startswith(kept):
                    continue  # the other candidates of the split layer stay behind
                key = prefix + "0." + key[len(kept):]  # the kept candidate is number 0 of its sub-space
            inherited[key] = value.clone()
        sub.load_state_dict(inherited)  # strict: every weight of the sub-supernet comes from the one-shot one
        subnets.append(sub.to(next(supernet.parameters()).device))
    return subnets


class FewShotEvaluator:
    """Scores an arch of ``space`` with the weights of the sub-supernet (from ``split``) that holds it."""

    def __init__(self, space: SearchSpace, subnets: list[Supernet], layer: int, splits: Splits,
                 recalibrate: bool = True, **evaluator_options) -> None:
        _check_layer(space, layer)
        if len(subnets) != len(space.candidates[layer]):
            raise ValueError(f"layer {layer} has {len(space.candidates[layer])} candidates but {len(subnets)} "
                             f"sub-supernets were given; pass split(supernet, {layer})")
        self.space = space
        self.layer = layer
        self.evaluators = [InheritedEvaluator(sub, splits, recalibrate, **evaluator_options) for sub in subnets]

    def __call__(self, arch: ArchLike) -> float:
        """Validation accuracy in % of ``arch`` with weights inherited from its sub-supernet."""
        k, sub_arch = locate(self.space, self.layer, arch)
        return self.evaluators[k](sub_arch)
