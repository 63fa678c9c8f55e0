"""The mathematics of differentiable NAS as pure functions: relaxations, temperatures, hardware losses.

Every searchable layer i has one logit ``alpha[i, k]`` per candidate k. A *relaxation* turns
alpha into gates ``g[i, k]``, and the supernet's layer i outputs ``sum_k g[i, k] * op_ik(x)``:

- ``"softmax"`` (DARTS, Liu et al. 2019, eq. 2): ``g = softmax(alpha)``; every candidate runs.
- ``"gumbel"`` (FBNet, Wu et al. 2019, eq. 6): ``g = softmax((alpha + G) / tau)`` with Gumbel
  noise ``G = -log(-log(U))``; a random, nearly one-hot mixture as tau falls.
- ``"hard_gumbel"`` (GDAS, Dong & Yang 2019, eq. 5-7): the one-hot argmax of that sample in the
  forward pass, the soft sample's gradient in the backward pass (straight-through); one
  candidate runs with a graph. (GDAS's alpha step also runs the others at gate 0, without a
  graph, so that each gate's gradient ``<dL/d out, op_k(x)>`` exists; see ``DNASTrainer.alpha_gates``.)
- ``"binary"`` (ProxylessNAS, Cai et al. 2019, sec. 3.2): binary gates. With ``paths=2`` (the
  paper's estimator) two candidates are drawn from ``p = softmax(alpha)``, the probabilities are
  renormalised over that pair, one of the two is switched on; both run (the other at gate 0,
  its output detached) so that ``dL/dalpha_i = sum_j dL/dg_j * p'_j * (delta_ij - p'_i)`` over
  the pair only. After the Adam step :func:`rescale_pair` shifts the pair's two logits so the
  candidates outside the pair keep their probabilities. ``paths=1`` runs only the drawn path and
  passes the gradient through all of ``p`` (a cheaper approximation, not the paper's).

A straight-through gate ``hard - soft.detach() + soft`` has the value of ``hard`` and the
gradient of ``soft``.

Hardware losses add the cost of a lookup table, ``E[c] = base + sum_ik g[i, k] * cost[i][k]``,
to the cross-entropy: :class:`AdditiveLoss` (ProxylessNAS), :class:`MultiplicativeLoss` (FBNet),
:class:`HingeLoss` (a budget).

Used in: 03_dnas, 04_hardware_dnas.
"""

from __future__ import annotations

import math
from typing import Optional, Union

import torch
from torch import nn

from nasedu.spaces import SearchSpace

RELAXATIONS = ("softmax", "gumbel", "hard_gumbel", "binary")
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


# -- relaxations ------------------------------------------------------------------------------------

def relax(alpha: torch.Tensor, space: SearchSpace, relaxation: str = "softmax", temperature: float = 1.0,
          paths: int = 2, generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates (L, K) and the candidates to run (L, K) booleans for one step; see the module docstring.

    ``temperature`` tau is used by the Gumbel relaxations, ``paths`` by ``"binary"``. Random
    draws come from ``generator`` (a CPU generator, so runs match across devices). A candidate
    that runs with a gate of exactly 0 (the second path of ``"binary"``) runs detached: its gate
    gets a gradient, its weights none.
    """
    check_alpha(alpha, space)
    if relaxation not in RELAXATIONS:
        raise ValueError(f"unknown relaxation {relaxation!r}; choose one of {RELAXATIONS}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; the Gumbel-softmax divides by it")
    mask = candidate_mask(space, alpha.device)
    if relaxation == "softmax":
        return masked_softmax(alpha, mask), mask
    if relaxation in ("gumbel", "hard_gumbel"):
        soft = masked_softmax((alpha + gumbel(alpha.shape, generator).to(alpha.device)) / temperature, mask)
        if relaxation == "gumbel":
            return soft, mask
        hard = nn.functional.one_hot(soft.argmax(-1), alpha.shape[-1]).to(soft.dtype)
        return straight_through(hard, soft), hard.bool()
    return binary_gates(alpha, mask, paths, generator)


def binary_gates(alpha: torch.Tensor, mask: torch.Tensor, paths: int = 2,
                 generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """ProxylessNAS's binary gates: (gates, active), one gate at 1 per layer, the rest at 0.

    ``paths=2``: draw two candidates from ``p = softmax(alpha)`` without replacement, renormalise
    over the pair (``p'``), switch one of them on with probability ``p'``; the gates carry the
    straight-through gradient of ``p'``, so alpha outside the pair gets none. ``paths=1``: one
    candidate drawn from ``p``, the gradient through all of ``p``.
    """
    fewest = int(mask.sum(1).min())
    if paths not in (1, 2) or paths > fewest:
        raise ValueError(f"paths must be 1 or 2 (and at most {fewest}, the fewest candidates of a layer), got {paths}")
    p = masked_softmax(alpha, mask)
    drawn = torch.multinomial(p.detach().float().cpu(), paths, generator=generator).to(alpha.device)  # (L, paths)
    active = torch.zeros_like(mask).scatter_(1, drawn, True)
    if paths == 1:
        return straight_through(active.to(p.dtype), p), active
    pair = masked_softmax(alpha, active)  # p' over the drawn pair
    on = drawn.gather(1, torch.multinomial(pair.detach().float().cpu().gather(1, drawn.cpu()), 1,
                                           generator=generator).to(alpha.device))  # (L, 1)
    hard = torch.zeros_like(p).scatter_(1, on, 1.0)
    return straight_through(hard, pair), active


@torch.no_grad()
def rescale_pair(alpha: torch.Tensor, before: torch.Tensor, active: torch.Tensor) -> None:
    """ProxylessNAS after an alpha step: shift each layer's updated logits (``active``) by one offset so
    that their ``logsumexp`` is what it was ``before`` the step; the other candidates keep their
    probabilities. Changes ``alpha`` in place."""
    new = alpha.masked_fill(~active, float("-inf")).logsumexp(-1, keepdim=True)
    old = before.masked_fill(~active, float("-inf")).logsumexp(-1, keepdim=True)
    alpha.sub_(torch.where(active, new - old, torch.zeros_like(alpha)))


def sample_path(alpha: torch.Tensor, space: SearchSpace, generator: Optional[torch.Generator] = None) -> tuple[int, ...]:
    """One arch drawn from ``softmax(alpha)``, a layer at a time (the path ProxylessNAS trains the weights on)."""
    probs = probabilities(alpha.detach(), space).float().cpu()
    return tuple(int(k) for k in torch.multinomial(probs, 1, generator=generator)[:, 0])


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

    def __init__(self, a: float, b: float, reference: float) -> None:
        _check_weight("FBNet's a", a)
        _check_weight("FBNet's b", b)
        _check_cost("reference", reference)
        self.a = a  # overall scale
        self.b = b  # exponent: the cost/accuracy trade-off
        self.unit = reference / FBNET_UNITS  # the cost unit inside the log

    def __call__(self, task_loss: torch.Tensor, expected_cost: torch.Tensor) -> torch.Tensor:
        return task_loss * self.term(expected_cost)

    def term(self, expected_cost: torch.Tensor) -> torch.Tensor:
        """The factor ``a * log(E[c] / unit) ** b`` that multiplies the cross-entropy."""
        units = expected_cost / self.unit
        if not units.item() > 1:
            raise ValueError(f"FBNet's loss needs E[c] above 1 unit ({self.unit:g}) so that its log is positive, "
                             f"got {expected_cost.item():g}; pass a smaller reference")
        return self.a * torch.log(units) ** self.b


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
