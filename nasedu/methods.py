"""Differentiable NAS methods, one class each: how a method gates, prices, steps and trains.

A method turns the architecture logits alpha (L, K) into :class:`Gates` for one step and says,
in one place, with its paper cited:

- how it gates the forward pass: the gates ``g`` of the mixture ``sum_k g[i, k] * op_ik(x)``,
  which candidates *run* and which run *detached* (their gate gets a gradient, their weights none);
- which probabilities price the expected cost ``E[c]`` of the hardware loss;
- what runs after the alpha step (ProxylessNAS's rescale);
- which path the weight step trains (the mixture, or one sampled path);
- its temperature schedule and its alpha optimiser (its ``preset``: the paper's settings).

``DNASTrainer`` only calls these; adding a method is adding one class to :data:`METHODS`.
Random draws come from a CPU ``torch.Generator``, so runs match across devices; the masks live
on the CPU, so the supernet decides what to run without reading the device (no host sync).

Used in: 03_dnas, 04_hardware_dnas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import nn

from nasedu.relax import candidate_mask, check_alpha, gumbel, masked_softmax, rescale_pair, straight_through
from nasedu.spaces import Arch, SearchSpace


@dataclass(frozen=True)
class Gates:
    """One draw of a method: what the supernet's mixture runs and what prices the cost.

    ``weights`` (L, K) are differentiable in alpha; ``run`` and ``detached`` are (L, K) CPU
    booleans; ``cost_probs`` (L, K) gives ``E[c] = base + sum_ik cost_probs[i, k] * cost[i][k]``.
    Pass it on with ``supernet(x, **gates.forward_args())``.
    """

    weights: torch.Tensor  # g[i, k]
    run: torch.Tensor  # candidates in the forward pass
    detached: torch.Tensor  # of those, the ones run without a graph through their weights
    cost_probs: torch.Tensor  # the probabilities that price the expected cost

    def forward_args(self) -> dict:
        """The keyword arguments of ``Supernet.forward`` for this draw."""
        return {"weights": self.weights, "active": self.run, "detached": self.detached}


class Method:
    """A differentiable NAS method; subclasses set the class attributes and override :meth:`gates`."""

    relaxation: ClassVar[str] = ""  # its name in DNASConfig(relaxation=...)
    preset: ClassVar[dict] = {}  # the paper's settings of DNASConfig, see nasedu.dnas.preset
    warmup_fraction: ClassVar[float] = 0.0  # weights-only warm-up in the paper, as a fraction of the epochs
    uses_temperature: ClassVar[bool] = False  # whether the config's temperature schedule applies
    single_path: ClassVar[bool] = False  # whether the weight step trains one sampled path
    unrollable: ClassVar[bool] = False  # whether DARTS's second-order (unrolled) alpha gradient applies

    @classmethod
    def create(cls, paths: int = 2) -> "Method":
        """The method with its options from the config (only ProxylessNAS has one: ``paths``)."""
        return cls()

    def gates(self, alpha: torch.Tensor, space: SearchSpace, temperature: float = 1.0,
              generator: Optional[torch.Generator] = None) -> Gates:
        """The gates of one alpha step (and of a mixture's weight step)."""
        raise NotImplementedError

    def path(self, alpha: torch.Tensor, space: SearchSpace, temperature: float = 1.0,
             generator: Optional[torch.Generator] = None) -> Arch:
        """The path the weight step trains, for a :attr:`single_path` method."""
        raise NotImplementedError(f"{type(self).__name__} trains the mixture, not one path")

    def after_alpha_step(self, alpha: torch.Tensor, before: torch.Tensor, gates: Gates) -> None:
        """What runs after the optimiser's step of alpha (in place); nothing by default."""


def _all_run(space: SearchSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """(run, detached) masks of a full mixture: every candidate runs with its graph."""
    run = candidate_mask(space)
    return run, torch.zeros_like(run)


def _gumbel_sample(alpha: torch.Tensor, space: SearchSpace, temperature: float,
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """The soft Gumbel-softmax sample ``softmax((alpha + G) / tau)`` over each layer's candidates."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; the Gumbel-softmax divides by it")
    noise = gumbel(tuple(alpha.shape), generator).to(alpha.device)
    return masked_softmax((alpha + noise) / temperature, candidate_mask(space, alpha.device))


class DARTS(Method):
    """DARTS (Liu et al., ICLR 2019, eq. 2): ``g = softmax(alpha)``; every candidate runs.

    The cost is priced under ``softmax(alpha)``; the weight step trains the same mixture.
    """

    relaxation = "softmax"
    unrollable = True
    # sec. 3.1 and A.1.1: Adam 3e-4, betas (0.5, 0.999), weight decay 1e-3; no hardware loss, no warm-up
    preset = dict(relaxation="softmax", alpha_lr=3e-4, alpha_betas=(0.5, 0.999), alpha_weight_decay=1e-3,
                  hardware_loss="additive", hardware_weight=0.0)

    def gates(self, alpha, space, temperature=1.0, generator=None) -> Gates:
        probs = masked_softmax(alpha, candidate_mask(space, alpha.device))
        return Gates(probs, *_all_run(space), cost_probs=probs)


class FBNet(Method):
    """FBNet (Wu et al., CVPR 2019, eq. 6): the soft Gumbel-softmax sample ``softmax((alpha + G) / tau)``.

    Every candidate runs with its graph, even at a gate that underflowed to 0 at a low tau
    (so every weight takes part, as DistributedDataParallel expects). The cost is priced
    under the sample, and the weight step trains a fresh sample's mixture.
    """

    relaxation = "gumbel"
    # sec. 3.3 and 4.1: tau 5.0 x exp(-0.045) per epoch; Adam lr 1e-2 (betas: Adam's defaults), wd 5e-4;
    # loss CE * a * log(LAT) ** b with a = 0.2, b = 0.6; the first 10 of 90 epochs train the weights only
    preset = dict(relaxation="gumbel", alpha_lr=1e-2, alpha_betas=(0.9, 0.999), alpha_weight_decay=5e-4,
                  temperature=5.0, temperature_schedule="exponential", temperature_decay=0.045,
                  hardware_loss="multiplicative", fbnet_a=0.2, fbnet_b=0.6)
    warmup_fraction = 10 / 90
    uses_temperature = True

    def gates(self, alpha, space, temperature=1.0, generator=None) -> Gates:
        soft = _gumbel_sample(alpha, space, temperature, generator)
        return Gates(soft, *_all_run(space), cost_probs=soft)


class GDAS(Method):
    """GDAS (Dong & Yang, CVPR 2019, eq. 5-7): the one-hot argmax ``h`` of a Gumbel sample in the
    forward pass, the soft sample's gradient in the backward pass (``g = h - soft.detach() + soft``).

    As in the paper's code, only the chosen candidate runs, so alpha's gradient is
    ``dL/dg_chosen * d soft_chosen / d alpha``. The cost is priced under the gates (the chosen
    arch's cost, with the soft sample's gradient); the weight step trains the argmax of a fresh sample.
    """

    relaxation = "hard_gumbel"
    # sec. 3.2 and 4.1: tau linear 10 -> 0.1; alpha as in DARTS: Adam 3e-4, betas (0.5, 0.999), wd 1e-3;
    # no hardware loss and no warm-up in the paper
    preset = dict(relaxation="hard_gumbel", alpha_lr=3e-4, alpha_betas=(0.5, 0.999), alpha_weight_decay=1e-3,
                  temperature=10.0, temperature_schedule="linear", temperature_end=0.1, hardware_weight=0.0)
    uses_temperature = True
    single_path = True

    def gates(self, alpha, space, temperature=1.0, generator=None) -> Gates:
        soft = _gumbel_sample(alpha, space, temperature, generator)
        chosen = soft.detach().argmax(-1).cpu()  # the one read of the device per draw
        hard = nn.functional.one_hot(chosen, alpha.shape[-1]).bool()
        weights = straight_through(hard.to(device=alpha.device, dtype=soft.dtype), soft)
        return Gates(weights, run=hard, detached=torch.zeros_like(hard), cost_probs=weights)

    def path(self, alpha, space, temperature=1.0, generator=None) -> Arch:
        return tuple(int(k) for k in _gumbel_sample(alpha.detach(), space, temperature, generator).argmax(-1).cpu())


class GDASAllGates(GDAS):
    """GDAS's forward with an all-gates alpha gradient (not the paper's; compare with :class:`GDAS`).

    The unchosen candidates run too, detached at gate 0, so that *every* gate gets
    ``dL/dg_k = <dL/d out, op_k(x)>``: the full straight-through Gumbel estimator. Only the
    chosen path keeps a graph through its weights. Costs K forward passes per layer instead of one.
    """

    relaxation = "hard_gumbel_all_gates"
    preset = {**GDAS.preset, "relaxation": "hard_gumbel_all_gates"}

    def gates(self, alpha, space, temperature=1.0, generator=None) -> Gates:
        chosen = super().gates(alpha, space, temperature, generator)
        run = candidate_mask(space)
        return Gates(chosen.weights, run=run, detached=run & ~chosen.run, cost_probs=chosen.cost_probs)


class ProxylessNAS(Method):
    """ProxylessNAS (Cai et al., ICLR 2019, sec. 3.2-3.3): binary gates, one path switched on.

    ``paths=2`` (the paper's estimator): two candidates drawn from ``p = softmax(alpha)`` without
    replacement, ``p'`` renormalised over that pair, one of the two switched on with probability
    ``p'``; both run (the other detached at gate 0), so that
    ``dL/dalpha_i = sum_j dL/dg_j * p'_j * (delta_ij - p'_i)`` over the pair only. The cost is
    priced under ``p'`` (zeros off the pair), so the hardware loss also moves only the pair's
    logits; after the Adam step :meth:`after_alpha_step` shifts the pair's two logits so that the
    candidates off the pair keep their probabilities. ``paths=1`` runs only the drawn path and
    passes the gradient (and prices the cost) through all of ``p``: cheaper, not the paper's.
    The weight step trains one path drawn from ``softmax(alpha)`` (sec. 3.2.1).
    """

    relaxation = "binary"
    # sec. 3.2-3.3, the paper's two-path estimator: Adam lr 1e-3, betas (0, 0.999), no weight decay (beta1 = 0:
    # a logit off the pair, with no gradient, does not move); additive cost, lambda 0.1 (our gentle default: sweep
    # it). Its released code defaults differ: the 'full_v2' estimator (every candidate's gate), the 'mul#log' loss
    # (beta 0.3), an alpha step every 5 weight steps and 40 weights-only warm-up epochs.
    preset = dict(relaxation="binary", paths=2, alpha_lr=1e-3, alpha_betas=(0.0, 0.999), alpha_weight_decay=0.0,
                  hardware_loss="additive", hardware_weight=0.1)
    single_path = True

    def __init__(self, paths: int = 2) -> None:
        if paths not in (1, 2):
            raise ValueError(f"paths must be 1 or 2, got {paths}")
        self.paths = paths

    @classmethod
    def create(cls, paths: int = 2) -> "ProxylessNAS":
        return cls(paths)

    def gates(self, alpha, space, temperature=1.0, generator=None) -> Gates:
        mask = candidate_mask(space, alpha.device)
        fewest = min(len(options) for options in space.candidates)  # from the space: no read of the device
        if self.paths > fewest:
            raise ValueError(f"paths={self.paths} needs every layer to have that many candidates; "
                             f"one has {fewest}")
        p = masked_softmax(alpha, mask)
        drawn = torch.multinomial(p.detach().float().cpu(), self.paths, generator=generator)  # (L, paths)
        run = torch.zeros(mask.shape, dtype=torch.bool).scatter_(1, drawn, True)
        if self.paths == 1:
            return Gates(straight_through(run.to(alpha.device, p.dtype), p), run, torch.zeros_like(run), p)
        pair = masked_softmax(alpha, run.to(alpha.device))  # p' over the drawn pair, 0 elsewhere
        on = drawn.gather(1, torch.multinomial(pair.detach().float().cpu().gather(1, drawn), 1, generator=generator))
        hard = torch.zeros(mask.shape, dtype=torch.bool).scatter_(1, on, True)
        weights = straight_through(hard.to(alpha.device, pair.dtype), pair)
        return Gates(weights, run, detached=run & ~hard, cost_probs=pair)

    def path(self, alpha, space, temperature=1.0, generator=None) -> Arch:
        probs = masked_softmax(alpha.detach(), candidate_mask(space, alpha.device))
        return tuple(int(k) for k in torch.multinomial(probs.float().cpu(), 1, generator=generator)[:, 0])

    def after_alpha_step(self, alpha: torch.Tensor, before: torch.Tensor, gates: Gates) -> None:
        if self.paths == 2:
            rescale_pair(alpha, before, gates.run.to(alpha.device))


METHODS: dict[str, type[Method]] = {m.relaxation: m for m in (DARTS, FBNet, GDAS, GDASAllGates, ProxylessNAS)}
PRESETS: dict[str, type[Method]] = {"darts": DARTS, "fbnet": FBNet, "gdas": GDAS, "gdas_all_gates": GDASAllGates,
                                    "proxylessnas": ProxylessNAS}  # preset name -> method


def get(relaxation: str, paths: int = 2) -> Method:
    """The method of ``DNASConfig(relaxation=...)``; ``paths`` is ProxylessNAS's option."""
    if relaxation not in METHODS:
        raise ValueError(f"unknown relaxation {relaxation!r}; choose one of {tuple(METHODS)}")
    return METHODS[relaxation].create(paths)


def relax(alpha: torch.Tensor, space: SearchSpace, relaxation: str = "softmax", temperature: float = 1.0,
          paths: int = 2, generator: Optional[torch.Generator] = None) -> Gates:
    """The :class:`Gates` of one draw of ``relaxation`` (see each method's class)."""
    check_alpha(alpha, space)
    return get(relaxation, paths).gates(alpha, space, temperature, generator)
