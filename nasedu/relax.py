"""The mathematics of differentiable NAS as pure functions: masks, softmax, Gumbel noise, temperatures, losses.

Every searchable layer i has one logit ``alpha[i, k]`` per candidate k; a method
(``nasedu.methods``: DARTS, FBNet, GDAS, ProxylessNAS) turns alpha into gates ``g[i, k]`` and the
supernet's layer i outputs ``sum_k g[i, k] * op_ik(x)``. The pieces the methods share live here:
the masked softmax, Gumbel noise ``G = -log(-log(U))``, the straight-through gate
``hard - soft.detach() + soft`` (the value of ``hard``, the gradient of ``soft``), ProxylessNAS's
rescale of the updated pair, and the temperature schedules.

Hardware losses add the cost of a lookup table, ``E[c] = base + sum_ik g[i, k] * cost[i][k]``,
to the cross-entropy: :class:`AdditiveLoss` (ProxylessNAS), :class:`MultiplicativeLoss` (FBNet),
:class:`HingeLoss` (a budget).

Used in: 03_dnas, 04_hardware_dnas.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch

from nasedu.spaces import SearchSpace

SCHEDULES = ("constant", "exponential", "linear")
FBNET_UNITS = 25.0  # the space's mean arch measures this many units in FBNet's log (its nets took ~25 ms)


# -- alpha ------------------------------------------------------------------------------------------

def candidate_mask(space: SearchSpace, device: Optional[torch.device] = None) -> torch.Tensor:
    """(L, K) booleans: True where layer i has a candidate k (layers with fewer candidates are padded)."""
    mask = torch.zeros(space.num_layers, space.max_choices, dtype=torch.bool, device=device)
    for i, options in enumerate(space.candidates):
        mask[i, : len(options)] = True
    return mask


def check_alpha(alpha: torch.Tensor, space: SearchSpace) -> None:
    """Raise a clear error unless ``alpha`` is a finite float tensor of shape (L, K) of ``space``."""
    expected = (space.num_layers, space.max_choices)
    if tuple(alpha.shape) != expected:
        raise ValueError(f"alpha must have shape (layers, candidates) = {expected} for space {space.name!r}, "
                         f"got {tuple(alpha.shape)}; start from torch.zeros{expected}")
    if not alpha.is_floating_point() or not bool(torch.isfinite(alpha).all()):
        raise ValueError("alpha must hold finite floats; use large finite logits (e.g. 1e4) for a one-hot choice")


def masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension where ``mask`` is True; 0 elsewhere."""
    return logits.masked_fill(~mask, float("-inf")).softmax(-1)


def probabilities(alpha: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """(L, K) ``softmax(alpha)`` per layer; padded candidates get probability 0."""
    check_alpha(alpha, space)
    return masked_softmax(alpha, candidate_mask(space, alpha.device))


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """(L,) entropy in nats of each layer's distribution, ``H_i = -sum_k p_ik log p_ik`` (0 log 0 = 0).

    It starts at log K (uniform) and reaches 0 when a layer has decided.
    """
    return -torch.special.xlogy(probs, probs).sum(-1)


def gumbel(shape: tuple[int, ...], generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Standard Gumbel noise ``-log(-log(U))``, ``U ~ Uniform(0, 1)``, drawn on the CPU (same on every device)."""
    uniform = torch.rand(shape, generator=generator).clamp_min(1e-20)
    return -torch.log(-torch.log(uniform))


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """The value of ``hard`` with the gradient of ``soft``."""
    return hard - soft.detach() + soft


# -- ProxylessNAS ------------------------------------------------------------------------------------

@torch.no_grad()
def rescale_pair(alpha: torch.Tensor, before: torch.Tensor, active: torch.Tensor) -> None:
    """ProxylessNAS after an alpha step: shift each layer's updated logits (``active``) by one offset so
    that their ``logsumexp`` is what it was ``before`` the step; the other candidates keep their
    probabilities. Changes ``alpha`` in place."""
    new = alpha.masked_fill(~active, float("-inf")).logsumexp(-1, keepdim=True)
    old = before.masked_fill(~active, float("-inf")).logsumexp(-1, keepdim=True)
    alpha.sub_(torch.where(active, new - old, torch.zeros_like(alpha)))


# -- temperature ------------------------------------------------------------------------------------

def temperature(schedule: str, start: float, search_epoch: int, search_epochs: int, decay: float = 0.045,
                end: float = 0.1) -> float:
    """tau during ``search_epoch`` (0-based) of ``search_epochs``.

    ``"exponential"`` (FBNet sec. 4.1): ``start * exp(-decay * s)``; ``"linear"`` (GDAS sec. 4):
    from ``start`` to ``end`` over the search epochs; ``"constant"``: ``start``.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown temperature schedule {schedule!r}; choose one of {SCHEDULES}")
    s = max(0, search_epoch)
    if schedule == "exponential":
        return start * math.exp(-decay * s)
    if schedule == "linear":
        last = max(1, search_epochs - 1)
        return start + (end - start) * min(s, last) / last
    return start


# -- hardware-constraint losses ---------------------------------------------------------------------

def _check_weight(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}; a negative weight would reward cost (0 turns it off)")


def _check_cost(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be a positive cost in the table's units, got {value}")


class AdditiveLoss:
    """ProxylessNAS (eq. 5 with a linear cost): ``L = CE + lambda * E[c] / reference``.

    Dividing by ``reference`` (by default the space's mean cost, i.e. E[c] at uniform alpha,
    where the search starts) makes the cost ~1 whatever the metric, so ``lambda`` reads as
    "how much cross-entropy one mean-cost network is worth": 0 is plain DARTS, 0.1 is gentle,
    1 or more favours small networks strongly. Without it, E[c] in MACs is ~1e6.
    """

    def __init__(self, weight: float, reference: float) -> None:
        _check_weight("the additive loss weight lambda", weight)
        _check_cost("reference", reference)
        self.weight = weight  # lambda
        self.reference = reference  # cost that counts as 1

    def __call__(self, task_loss: torch.Tensor, expected_cost: torch.Tensor) -> torch.Tensor:
        return task_loss + self.term(expected_cost)

    def term(self, expected_cost: torch.Tensor) -> torch.Tensor:
        """What the cost adds to the cross-entropy."""
        return self.weight * expected_cost / self.reference


class MultiplicativeLoss:
    """FBNet (eq. 4): ``L = CE * a * log(E[c] / unit) ** b`` with ``unit = reference / 25``.

    The factor scales the cross-entropy: a 1% cheaper net lowers the loss by about
    ``b / log(E[c] / unit)`` %, so the exponent b sets the trade-off and a the overall size
    (a=0.2, b=0.6 in FBNet). FBNet applied the log to latencies in ms of nets taking ~25 ms;
    measuring cost in units of 1/25 of the space's mean cost (``reference``) keeps that
    trade-off for any metric (raw MACs, ~1e6, would make the log ~14 and the cost barely
    matter; latencies below 1 ms would make it negative).
    """

    def __init__(self, a: float, b: float, reference: float, min_cost: Optional[float] = None) -> None:
        """``min_cost``: the cheapest arch's cost; E[c] never goes below it, so the log is checked
        to stay positive here, once, instead of on every step."""
        _check_weight("FBNet's a", a)
        _check_weight("FBNet's b", b)
        _check_cost("reference", reference)
        self.a = a  # overall scale
        self.b = b  # exponent: the cost/accuracy trade-off
        self.unit = reference / FBNET_UNITS  # the cost unit inside the log
        if min_cost is not None and not min_cost > self.unit:
            raise ValueError(f"FBNet's loss needs every E[c] above 1 unit ({self.unit:g}) so that its log is "
                             f"positive, but the cheapest arch costs {min_cost:g}; pass a smaller reference")

    def __call__(self, task_loss: torch.Tensor, expected_cost: torch.Tensor) -> torch.Tensor:
        return task_loss * self.term(expected_cost)

    def term(self, expected_cost: torch.Tensor) -> torch.Tensor:
        """The factor ``a * log(E[c] / unit) ** b`` that multiplies the cross-entropy (no host sync:
        the unit is checked against the cheapest arch when the loss is made)."""
        return self.a * torch.log(expected_cost / self.unit) ** self.b


class HingeLoss:
    """A budget: ``L = CE + lambda * max(0, E[c] / budget - 1)``.

    No penalty while the expected cost is within ``budget``; above it, lambda per 100% of
    overshoot. Relative to the budget, so lambda means the same for any metric.
    """

    def __init__(self, weight: float, budget: float) -> None:
        _check_weight("the hinge loss weight lambda", weight)
        _check_cost("budget", budget)
        self.weight = weight  # lambda
        self.budget = budget  # target cost, in the table's units

    def __call__(self, task_loss: torch.Tensor, expected_cost: torch.Tensor) -> torch.Tensor:
        return task_loss + self.term(expected_cost)

    def term(self, expected_cost: torch.Tensor) -> torch.Tensor:
        """What the overshoot adds to the cross-entropy."""
        return self.weight * torch.relu(expected_cost / self.budget - 1)


HardwareLoss = Union[AdditiveLoss, MultiplicativeLoss, HingeLoss]
