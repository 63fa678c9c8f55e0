"""Differentiable NAS (DNAS): architecture parameters alpha, relaxations, hardware losses, a bilevel trainer.

Every searchable layer i gets one logit ``alpha[i, k]`` per candidate k; the supernet's layer
outputs the gated sum ``sum_k gate[i, k] * op_ik(x)`` where the gates come from alpha by a
*relaxation*:

- ``"softmax"`` (DARTS): ``gate = softmax(alpha)``; every candidate runs (memory of K paths).
- ``"gumbel"`` (FBNet): ``gate = softmax((alpha + g) / tau)``, ``g ~ Gumbel(0, 1)``; tau decays.
- ``"hard_gumbel"`` (GDAS): the one-hot argmax of that sample in the forward pass, its soft
  value's gradient in the backward pass (straight-through); only the chosen candidate runs.
- ``"binary"`` (ProxylessNAS, memory-light): one path sampled from ``softmax(alpha)`` runs; a
  straight-through binary gate ``onehot - p.detach() + p`` still gives alpha a gradient. With
  ``paths=2`` a second sampled candidate is run at gate 0 so that its gate gets a gradient too.

Weights and alpha are trained in turn (first-order bilevel): weights by SGD on cross-entropy on
the training split, alpha by Adam on a validation batch with cross-entropy *plus a hardware
loss* of the differentiable expected cost of a lookup table::

    E[c] = base + sum_i sum_k softmax(alpha)[i, k] * cost[i][k]

The answer is ``argmax(alpha)`` per layer (:func:`derive`), a stand-alone net is
``space.build(derived.arch)``. The run keeps a :class:`History` of softmax(alpha), entropy,
expected cost and losses that the plots read.

    >>> import nasedu as nd
    >>> from nasedu import dnas
    >>> space = nd.spaces.get("teaching")
    >>> splits = nd.data.load("digits", val_size=300)
    >>> config = dnas.DNASConfig(epochs=2, hardware_loss="additive", hardware_weight=1.0, progress=False)
    >>> trainer = dnas.DNASTrainer(nd.Supernet(space, seed=config.seed), splits, config)
    >>> history = trainer.fit()
    >>> trainer.derive().readable            # e.g. 'k3e1-skip-k3e1-skip'

Used in: 03_dnas, 04_hardware_dnas.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import torch
from torch import nn

from nasedu import checkpoint, distributed, hardware, ops
from nasedu.config import option
from nasedu.data import Batches, Splits
from nasedu.hardware import LookupTable
from nasedu.progress import progress_bar
from nasedu.spaces import Arch, SearchSpace, check_input
from nasedu.supernet import Supernet
from nasedu.training import sgd

RELAXATIONS = ("softmax", "gumbel", "hard_gumbel", "binary")
SCHEDULES = ("constant", "exponential", "linear")
HARDWARE_LOSSES = ("additive", "multiplicative", "hinge")
FBNET_UNITS = 25.0  # the space's mean arch measures this many units in FBNet's log (its nets took ~25 ms)


# -- alpha and relaxations ------------------------------------------------------------------------

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


def probabilities(alpha: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """(L, K) ``softmax(alpha)`` per layer; padded candidates get probability 0."""
    check_alpha(alpha, space)
    return _masked_softmax(alpha, candidate_mask(space, alpha.device))


def entropy(probs: torch.Tensor) -> torch.Tensor:
    """(L,) entropy in nats of each layer's distribution, ``H_i = -sum_k p_ik log p_ik`` (0 log 0 = 0).

    It starts at log K (uniform) and reaches 0 when a layer has decided.
    """
    return -torch.special.xlogy(probs, probs).sum(-1)


def relax(alpha: torch.Tensor, space: SearchSpace, relaxation: str = "softmax", temperature: float = 1.0,
          paths: int = 1, generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Gates (L, K) and the candidates to run (L, K) booleans for one step; see the module docstring.

    ``temperature`` tau is used by the Gumbel relaxations, ``paths`` by ``"binary"``. Random
    draws come from ``generator`` (a CPU generator, so runs match across devices).

    A straight-through gate ``hard - soft.detach() + soft`` has the value of the one-hot
    ``hard`` and the gradient of ``soft``; for ``"binary"`` (soft = p = softmax(alpha)) this
    is ProxylessNAS's ``dL/dalpha_i = sum_j dL/dg_j * p_j * (delta_ij - p_i)`` over the
    candidates j that ran.
    """
    check_alpha(alpha, space)
    if relaxation not in RELAXATIONS:
        raise ValueError(f"unknown relaxation {relaxation!r}; choose one of {RELAXATIONS}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}; the Gumbel-softmax divides by it")
    mask = candidate_mask(space, alpha.device)
    if relaxation == "softmax":
        return _masked_softmax(alpha, mask), mask
    if relaxation in ("gumbel", "hard_gumbel"):
        uniform = torch.rand(alpha.shape, generator=generator).clamp_min(1e-20).to(alpha.device)
        soft = _masked_softmax((alpha - torch.log(-torch.log(uniform))) / temperature, mask)  # Gumbel-softmax
        if relaxation == "gumbel":
            return soft, mask
        hard = nn.functional.one_hot(soft.argmax(-1), alpha.shape[-1]).to(soft.dtype)
        return hard - soft.detach() + soft, hard.bool()  # straight-through: forward hard, backward soft
    fewest = min(len(c) for c in space.candidates)
    if not 1 <= paths <= fewest:
        raise ValueError(f"paths must be between 1 and {fewest} (the fewest candidates of a layer), got {paths}")
    p = _masked_softmax(alpha, mask)
    odds = (p.detach().float().clamp_min(1e-6) * mask).cpu()  # every candidate stays drawable as a second path
    drawn = torch.multinomial(odds, paths, generator=generator).to(alpha.device)  # (L, paths), distinct
    hard = nn.functional.one_hot(drawn[:, 0], alpha.shape[-1]).to(p.dtype)  # the first draw is the path that runs
    active = torch.zeros_like(mask).scatter_(1, drawn, True)  # the others run at gate 0 to get a gradient
    return hard - p.detach() + p, active


def mixed_forward(supernet: Supernet, x: torch.Tensor, gates: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Logits where layer i outputs ``sum_{k active} gates[i, k] * op_ik(x)``; inactive candidates never run."""
    check_input(supernet.space, x)
    expected = (supernet.space.num_layers, supernet.space.max_choices)
    if tuple(gates.shape) != expected or tuple(active.shape) != expected or not bool(active.any(1).all()):
        raise ValueError(f"gates and active must have shape (layers, candidates) = {expected} with at least one "
                         f"active candidate per layer, got {tuple(gates.shape)} and {tuple(active.shape)}; "
                         f"make them with relax()")
    x = supernet.stem(x)  # (B, C, H, W)
    for i, (layer, run) in enumerate(zip(supernet.layers, active.tolist())):
        x = sum(gates[i, k] * op(x) for k, op in enumerate(layer) if run[k])
    return supernet.head(x)


def _masked_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return logits.masked_fill(~mask, float("-inf")).softmax(-1)


class MixedSupernet(nn.Module):
    """:func:`mixed_forward` as a module's forward, so that DistributedDataParallel can wrap it."""

    def __init__(self, supernet: Supernet) -> None:
        super().__init__()
        self.supernet = supernet

    def forward(self, x: torch.Tensor, gates: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        return mixed_forward(self.supernet, x, gates, active)


# -- hardware-constraint losses --------------------------------------------------------------------

def _check_weight(name: str, value: float) -> None:
    if not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}; a negative weight would reward cost (0 turns it off)")


def _check_cost(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be a positive cost in the table's units, got {value}")


class AdditiveLoss:
    """ProxylessNAS: ``L = CE + lambda * E[c] / reference``.

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
        return task_loss + self.weight * expected_cost / self.reference


class MultiplicativeLoss:
    """FBNet: ``L = CE * a * log(E[c] / unit) ** b`` with ``unit = reference / 25``.

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
        units = expected_cost / self.unit
        if not units.item() > 1:
            raise ValueError(f"FBNet's loss needs E[c] above 1 unit ({self.unit:g}) so that its log is positive, "
                             f"got {expected_cost.item():g}; pass a smaller reference")
        return task_loss * self.a * torch.log(units) ** self.b


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
        return task_loss + self.weight * torch.relu(expected_cost / self.budget - 1)


HardwareLoss = Union[AdditiveLoss, MultiplicativeLoss, HingeLoss]


# -- collapse -----------------------------------------------------------------------------------------

class CollapseWarning(UserWarning):
    """Parameter-free candidates (skip) are taking over the architecture, as in DARTS on NAS-Bench-201."""


class CollapseMonitor:
    """Warns when parameter-free candidates hold most of the weight in layer after layer.

    A layer has *collapsed* when the probability on its parameter-free candidates exceeds
    ``threshold``. The monitor warns once ``min_layers`` layers (default: half) have
    collapsed, and again each time one more does.
    """

    def __init__(self, space: SearchSpace, threshold: float = 0.5, min_layers: Optional[int] = None) -> None:
        self.space = space
        self.threshold = threshold
        self.min_layers = min_layers or math.ceil(space.num_layers / 2)
        self.free = torch.tensor([[k < len(c) and ops.is_parameter_free(c[k]) for k in range(space.max_choices)]
                                  for c in space.candidates])  # (L, K)
        self.warned_at = 0  # collapsed layers at the last warning

    def collapsed_layers(self, probs: torch.Tensor) -> list[int]:
        """The layers whose parameter-free candidates hold more than ``threshold`` of the probability."""
        share = (probs.detach().cpu() * self.free).sum(-1)  # (L,)
        return [i for i, s in enumerate(share.tolist()) if s > self.threshold]

    def check(self, probs: torch.Tensor, step: int) -> list[int]:
        """Warn (:class:`CollapseWarning`) if collapse reached a new layer; return the collapsed layers."""
        layers = self.collapsed_layers(probs)
        if len(layers) >= self.min_layers and len(layers) > self.warned_at:
            self.warned_at = len(layers)
            warnings.warn(
                f"step {step}: parameter-free ops hold over {self.threshold:.0%} of the weight in {len(layers)} of "
                f"{self.space.num_layers} layers {layers}. This is DARTS's collapse: the supernet learns faster "
                f"through skips than through convolutions. If a hardware loss pushes toward free ops this may be "
                f"what you asked for; otherwise add weights-only warm-up epochs, lower alpha_lr or stop earlier.",
                CollapseWarning, stacklevel=3)
        return layers


# -- history ------------------------------------------------------------------------------------------

@dataclass
class History:
    """softmax(alpha) and the losses every ``record_every`` steps: plain lists that plots read.

    ``probs[n][i][k]`` is the probability of candidate k of layer i at ``step[n]``; the
    losses are those of that step's alpha update (its weight update during warm-up).
    """

    op_names: list[list[str]]  # op_names[i]: candidate names of layer i
    metric: str  # the lookup table's metric, e.g. "macs"
    budget: Optional[float] = None  # the hinge loss's target cost, if any
    step: list[int] = field(default_factory=list)  # (N,) steps recorded
    probs: list = field(default_factory=list)  # (N, L, K) softmax(alpha)
    entropy: list = field(default_factory=list)  # (N, L) nats per layer
    expected_cost: list = field(default_factory=list)  # (N,) E[c] in the table's units
    task_loss: list = field(default_factory=list)  # (N,) cross-entropy
    hardware_loss: list = field(default_factory=list)  # (N,) total loss minus cross-entropy
    temperature: list = field(default_factory=list)  # (N,) tau of the relaxation (1 when it has none)

    def __len__(self) -> int:
        return len(self.step)

    def record(self, step: int, probs: torch.Tensor, expected_cost: float, task_loss: float,
               hardware_loss: float, temperature: float) -> None:
        """Append one row; ``probs`` is (L, K)."""
        probs = probs.detach().cpu().double()
        self.step.append(int(step))
        self.probs.append(probs.tolist())
        self.entropy.append(entropy(probs).tolist())
        self.expected_cost.append(float(expected_cost))
        self.task_loss.append(float(task_loss))
        self.hardware_loss.append(float(hardware_loss))
        self.temperature.append(float(temperature))

    def as_dict(self) -> dict:
        """The fields as a JSON-ready dict of lists."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """The inverse of :meth:`as_dict`, with checks that every series has one entry per step."""
        names = {f.name for f in dataclasses.fields(cls)}
        if set(d) != names:
            raise ValueError(f"not a DNAS history: it lacks {sorted(names - set(d))} "
                             f"and has unexpected {sorted(set(d) - names)}")
        n = len(d["step"])
        for key in ("probs", "entropy", "expected_cost", "task_loss", "hardware_loss", "temperature"):
            if len(d[key]) != n:
                raise ValueError(f"history has {n} steps but {len(d[key])} entries of {key!r}; the file is damaged")
        return cls(**{k: list(v) if isinstance(v, (list, tuple)) else v for k, v in d.items()})

    def save(self, path: Union[str, Path]) -> None:
        """Write the history as JSON, atomically (a crash never leaves half a file)."""
        _write_json(self.as_dict(), path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "History":
        """Read a history written by :meth:`save`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


def _write_json(data: dict, path: Union[str, Path]) -> None:
    checkpoint.atomic_write(path, lambda f: json.dump(data, f, indent=1), mode="w")


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
        _write_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "DerivedArch":
        """Read an arch written by :meth:`save`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))


def derive(alpha: torch.Tensor, space: SearchSpace, table: LookupTable) -> DerivedArch:
    """``argmax(alpha)`` per layer with its cost from ``table``; build it with ``space.build(d.arch)``."""
    table.check_space(space)
    probs = probabilities(alpha.detach(), space).cpu()
    arch = tuple(int(a) for a in probs.argmax(-1))
    return DerivedArch(
        space=space.name, arch=arch, ops=tuple(c[a] for c, a in zip(space.candidates, arch)),
        probs=tuple(float(probs[i, a]) for i, a in enumerate(arch)), metric=table.metric,
        layer_costs=tuple(table.costs[i][a] for i, a in enumerate(arch)), base_cost=table.base,
        cost=table.cost(arch))


# -- training -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DNASConfig:
    """How DNAS runs; the defaults are DARTS's, except the epochs and batch size of a small CPU run."""

    epochs: int = option(10, "passes over the training split, warm-up included")
    warmup_epochs: int = option(0, "the first epochs train the weights only; alpha stays put")
    batch_size: int = option(64, "images per weight step and per alpha step")
    lr: float = option(0.025, "SGD learning rate of the weights, cosine-decayed to lr_min over all steps")
    lr_min: float = option(0.001, "the learning rate at the end")
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(3e-4, "on conv/linear weights only (none on BN and biases)")
    grad_clip: float = option(5.0, "largest gradient norm of the weights; 0 turns clipping off")
    alpha_lr: float = option(3e-4, "Adam learning rate of alpha")
    alpha_betas: tuple[float, float] = option((0.5, 0.999), "Adam betas of alpha")
    alpha_weight_decay: float = option(1e-3, "L2 pull of alpha toward 0 (uniform)")
    relaxation: str = option(
        "softmax", "'softmax' (DARTS), 'gumbel' (FBNet), 'hard_gumbel' (GDAS) or 'binary' (Proxyless)")
    paths: int = option(1, "'binary': candidates run per layer and step (1: memory of one path)")
    temperature: float = option(5.0, "Gumbel-softmax tau at the first search epoch")
    temperature_schedule: str = option("exponential", "'constant', 'exponential' (FBNet) or 'linear' (GDAS)")
    temperature_decay: float = option(0.045, "exponential: tau = temperature * exp(-decay * search_epoch)")
    temperature_end: float = option(0.1, "linear: tau at the last epoch")
    hardware_loss: str = option("additive", "'additive' (ProxylessNAS), 'multiplicative' (FBNet) or 'hinge' (budget)")
    hardware_weight: float = option(0.0, "lambda of the additive and hinge losses; 0 with 'additive' is plain DARTS")
    fbnet_a: float = option(0.2, "multiplicative: overall scale a")
    fbnet_b: float = option(0.6, "multiplicative: exponent b")
    budget: Optional[float] = option(None, "hinge: target cost in the table's units")
    reference: Optional[float] = option(
        None, "the cost that counts as 1 (as 25 units in FBNet's log); None: the mean cost")
    second_order: bool = option(False, "DARTS's unrolled alpha gradient (softmax only; 3 more passes per step)")
    record_every: int = option(10, "steps between rows of the history")
    collapse_threshold: float = option(0.5, "warn when skips hold more than this in half the layers")
    seed: int = option(0, "seeds the batch order and the relaxation's samples")
    device: str = option("cpu", "'cpu' or 'cuda' (under torchrun each rank takes cuda:LOCAL_RANK)")
    channels_last: bool = option(True, "NHWC memory: 2-2.5x faster convs on CPU")
    progress: bool = option(True, "tqdm progress bars")

    def __post_init__(self) -> None:
        for name, value, options in (("relaxation", self.relaxation, RELAXATIONS),
                                     ("temperature_schedule", self.temperature_schedule, SCHEDULES),
                                     ("hardware_loss", self.hardware_loss, HARDWARE_LOSSES)):
            if value not in options:
                raise ValueError(f"unknown {name} {value!r}; choose one of {options}")
        for name in ("temperature", "temperature_end"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}; the Gumbel-softmax divides by it")
        for name in ("hardware_weight", "fbnet_a", "fbnet_b"):
            _check_weight(name, getattr(self, name))
        if not self.temperature_decay >= 0:
            raise ValueError(f"temperature_decay must be >= 0, got {self.temperature_decay}; tau would grow")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ValueError(f"warmup_epochs must be between 0 and epochs={self.epochs}, got {self.warmup_epochs}")
        if self.hardware_loss == "hinge" and self.budget is None:
            raise ValueError("the hinge loss needs a target: DNASConfig(budget=...) in the table's units")
        if self.second_order and self.relaxation != "softmax":
            raise ValueError(f"second_order=True unrolls DARTS's softmax relaxation; set relaxation='softmax' "
                             f"(got {self.relaxation!r}) or second_order=False")
        if self.record_every < 1:
            raise ValueError(f"record_every must be at least 1, got {self.record_every}")


PRESETS = {  # the relaxation, schedule and hardware loss of each method; anything else is DNASConfig's default
    "darts": dict(relaxation="softmax", hardware_loss="additive", hardware_weight=0.0),
    "fbnet": dict(relaxation="gumbel", temperature=5.0, temperature_schedule="exponential",
                  temperature_decay=0.045, hardware_loss="multiplicative"),
    "gdas": dict(relaxation="hard_gumbel", temperature=10.0, temperature_schedule="linear", temperature_end=0.1),
    "proxylessnas": dict(relaxation="binary", paths=2, hardware_loss="additive",
                         hardware_weight=0.1),  # our gentle default on the normalised cost: sweep it
}


def preset(method: str, **changes) -> DNASConfig:
    """The config of ``"darts"``, ``"fbnet"``, ``"gdas"`` or ``"proxylessnas"``, with ``changes`` on top."""
    if method not in PRESETS:
        raise ValueError(f"unknown method {method!r}; presets are {list(PRESETS)}")
    return DNASConfig(**{**PRESETS[method], **changes})


def temperature_at(config: DNASConfig, epoch: int) -> float:
    """tau during ``epoch`` (0-based, warm-up included); 1 for relaxations without a temperature.

    With s = epoch - warmup_epochs the search epoch and S the number of search epochs:
    exponential (FBNet) ``tau = temperature * exp(-decay * s)``; linear (GDAS)
    ``tau = temperature + (temperature_end - temperature) * s / (S - 1)``.
    """
    if config.relaxation not in ("gumbel", "hard_gumbel"):
        return 1.0
    s = max(0, epoch - config.warmup_epochs)
    if config.temperature_schedule == "exponential":
        return config.temperature * math.exp(-config.temperature_decay * s)
    if config.temperature_schedule == "linear":
        last = max(1, config.epochs - config.warmup_epochs - 1)
        return config.temperature + (config.temperature_end - config.temperature) * min(s, last) / last
    return config.temperature


def make_hardware_loss(config: DNASConfig, table: LookupTable) -> HardwareLoss:
    """The hardware loss ``config`` names, with its reference cost (default: the space's mean cost)."""
    mean_cost = table.base + sum(sum(row) / len(row) for row in table.costs)  # E[c] at uniform alpha
    reference = config.reference if config.reference is not None else mean_cost
    if config.hardware_loss == "additive":
        return AdditiveLoss(config.hardware_weight, reference)
    if config.hardware_loss == "multiplicative":
        return MultiplicativeLoss(config.fbnet_a, config.fbnet_b, reference)
    if config.budget < table.min_cost():
        raise ValueError(f"budget {config.budget:g} is below the cheapest arch ({table.min_cost():g} "
                         f"{table.metric}): no arch can meet it; raise the budget")
    return HingeLoss(config.hardware_weight, config.budget)


class DNASTrainer:
    """Searches alpha and trains the supernet's weights in turn, with a checkpoint after every epoch.

    Each step: (1) unless in warm-up, one Adam step of alpha on a validation batch with
    ``hardware_loss(CE, E[c])`` (DARTS's unrolled gradient when ``second_order``); (2) one SGD
    step of the weights on a training batch with CE, gates sampled afresh from the detached
    alpha. ``fit(resume=True)`` continues exactly from ``checkpoint_path``.

    Under torchrun each rank takes its own shard of both batches; DistributedDataParallel
    averages the weights' gradients and the trainer averages alpha's, so alpha, the sampled
    gates and the weights stay identical on every rank (see ``nasedu.distributed``).
    """

    def __init__(self, supernet: Supernet, splits: Splits, config: DNASConfig = DNASConfig(),
                 table: Optional[LookupTable] = None, checkpoint_path: Union[str, Path, None] = None,
                 alpha: Optional[torch.Tensor] = None) -> None:
        self.space = supernet.space
        if tuple(splits.input_shape) != tuple(self.space.input_shape):
            raise ValueError(f"dataset {splits.name!r} has images {splits.input_shape} but space "
                             f"{self.space.name!r} expects {self.space.input_shape}; pick a matching pair")
        self.table = table if table is not None else hardware.lookup_table(self.space, "macs")
        self.table.check_space(self.space)
        self.config = config
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.device = distributed.init(config.device)  # cuda:LOCAL_RANK under torchrun
        distributed.check_batch_size(config.batch_size)
        torch.manual_seed(config.seed)
        self.supernet = supernet.to(self.device)
        if config.channels_last:
            self.supernet = self.supernet.to(memory_format=torch.channels_last)
        self.model = distributed.wrap(MixedSupernet(self.supernet), self.device,  # the weight steps' forward
                                      unused_parameters=config.relaxation in ("hard_gumbel", "binary"))  # one path
        if alpha is None:
            alpha = torch.zeros(self.space.num_layers, self.space.max_choices)  # uniform over the candidates
        check_alpha(alpha, self.space)
        self.alpha = nn.Parameter(alpha.detach().clone().float().to(self.device))  # (L, K) logits
        self.hardware_loss = make_hardware_loss(config, self.table)
        batches = dict(batch_size=config.batch_size, device=self.device, channels_last=config.channels_last,
                       drop_last=True)  # global batches, the same order on every rank
        self.batches = Batches(*splits.train, seed=config.seed, **batches)
        self.val_batches = Batches(*splits.val, seed=config.seed + 1, **batches)
        for split, loader in (("training", self.batches), ("validation", self.val_batches)):
            if len(loader) == 0:
                raise ValueError(f"the {split} split has {len(loader.y)} images, fewer than one batch of "
                                 f"{config.batch_size}; load more data or lower batch_size")
        self._val_iter: Optional[Iterator] = None
        self.optimizer = sgd(self.supernet, config.lr, config.momentum, config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, config.epochs * len(self.batches), eta_min=config.lr_min)
        self.alpha_optimizer = torch.optim.Adam([self.alpha], lr=config.alpha_lr, betas=config.alpha_betas,
                                                weight_decay=config.alpha_weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)  # Gumbel noise and sampled paths
        self.criterion = nn.CrossEntropyLoss()
        self.monitor = CollapseMonitor(self.space, config.collapse_threshold)
        self.history = History([list(c) for c in self.space.candidates], self.table.metric,
                               config.budget if config.hardware_loss == "hinge" else None)
        self.epoch = 0  # epochs finished
        self.steps = 0  # steps finished
        self.log: list[dict] = []  # one summary per epoch

    # -- one step -----------------------------------------------------------------------------------
    @property
    def searching(self) -> bool:
        """False during the weights-only warm-up epochs."""
        return self.epoch >= self.config.warmup_epochs

    def gates(self, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gates and candidates to run for this step, from the trainer's relaxation and generator."""
        return relax(alpha, self.space, self.config.relaxation, temperature_at(self.config, self.epoch),
                     self.config.paths, self.generator)

    def arch_loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, cross-entropy, E[c]) of one batch, differentiable in alpha and the weights."""
        task = self.criterion(mixed_forward(self.supernet, x, *self.gates(self.alpha)), y)
        cost = self.table.expected_cost(probabilities(self.alpha, self.space))
        return self.hardware_loss(task, cost), task, cost

    def alpha_step(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor,
                   y_train: torch.Tensor) -> tuple[float, float, float]:
        """One Adam step of alpha; returns (total, cross-entropy, E[c]) of the validation batch."""
        if self.config.second_order:
            grad, (total, task, cost) = self.unrolled_alpha_grad(x_val, y_val, x_train, y_train)
        else:
            total, task, cost = self.arch_loss(x_val, y_val)
            (grad,) = torch.autograd.grad(total, [self.alpha])  # no gradients for the weights
        self.alpha.grad = distributed.average(grad)  # the global batch's gradient: alpha stays equal on all ranks
        self.alpha_optimizer.step()
        return total.item(), task.item(), cost.item()

    def unrolled_alpha_grad(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor,
                            y_train: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """DARTS's second-order gradient of alpha, by its finite-difference Hessian-vector product.

        With ``w' = w - xi * grad_w L_train(w, alpha)`` (a virtual SGD step, xi = current lr)::

            grad_alpha L_val(w', alpha) - xi * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps)

        where ``w+- = w +- eps * grad_w' L_val(w', alpha)`` and ``eps = 0.01 / ||grad_w' L_val||``.
        The weights are left as they were. Returns the gradient and (total, CE, E[c]) at w'.
        On smooth networks this converges to the exact unrolled gradient; ReLU's kinks make
        the gradient jump under small weight changes, so with ReLU it is a rough estimate.
        """
        weights = list(self.supernet.parameters())
        xi = self.scheduler.get_last_lr()[0]
        saved = [w.detach().clone() for w in weights]

        def train_loss(alpha: torch.Tensor) -> torch.Tensor:
            return self.criterion(mixed_forward(self.supernet, x_train, *self.gates(alpha)), y_train)

        step = torch.autograd.grad(train_loss(self.alpha.detach()), weights)
        for g in step:
            distributed.average(g)  # the global batch's gradient (the weights are not in DDP here)
        with torch.no_grad():
            for w, g in zip(weights, step):
                w.sub_(xi * g)  # w' (plain SGD: DARTS also adds momentum and weight decay here)
        total, task, cost = self.arch_loss(x_val, y_val)
        grad_alpha, *grad_w = torch.autograd.grad(total, [self.alpha] + weights)
        for g in grad_w:
            distributed.average(g)
        eps = 0.01 / torch.cat([g.flatten() for g in grad_w]).norm()
        hessian_grad = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, w0, g in zip(weights, saved, grad_w):
                    w.copy_(w0 + sign * eps * g)
            hessian_grad.append(torch.autograd.grad(train_loss(self.alpha), [self.alpha])[0])
        with torch.no_grad():
            for w, w0 in zip(weights, saved):
                w.copy_(w0)
        return grad_alpha - xi * (hessian_grad[0] - hessian_grad[1]) / (2 * eps), (total, task, cost)

    def weight_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One SGD step of the weights with cross-entropy; returns (loss, correct predictions)."""
        logits = self.model(x, *self.gates(self.alpha.detach()))  # through DDP when distributed
        loss = self.criterion(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.supernet.parameters(), self.config.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return loss.item(), int((logits.argmax(1) == y).sum())

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        """One alpha step (unless in warm-up) then one weight step; records the history every N steps."""
        if self.searching:
            x_val, y_val = self._next_val_batch()
            total, task, cost = self.alpha_step(x_val, y_val, x, y)
        train_loss, correct = self.weight_step(x, y)
        self.steps += 1
        if not self.searching:  # warm-up: the losses alpha would see, on the training batch, for the record
            with torch.no_grad():
                expected = self.table.expected_cost(probabilities(self.alpha, self.space)).cpu()
                total = self.hardware_loss(torch.tensor(train_loss), expected).item()
            task, cost = train_loss, expected.item()
        if self.steps % self.config.record_every == 0:
            probs = probabilities(self.alpha.detach(), self.space)
            total, task = (t / distributed.world_size() for t in distributed.sum_over_ranks(total, task))  # global
            self.history.record(self.steps, probs, cost, task, total - task, temperature_at(self.config, self.epoch))
            if distributed.is_main():
                self.monitor.check(probs, self.steps)
        return {"train_loss": train_loss, "correct": correct, "val_loss": task, "expected_cost": cost}

    def _next_val_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next validation batch, cycling through the split one seeded epoch after another."""
        for _ in range(2):
            if self._val_iter is None:
                self._val_iter = iter(self.val_batches)
            try:
                x, y = next(self._val_iter)
                return distributed.shard(x), distributed.shard(y)  # this rank's part of the global batch
            except StopIteration:
                self._val_iter = None
        raise RuntimeError("the validation split gave no batch")  # __init__ checked it has one

    # -- epochs -------------------------------------------------------------------------------------
    def train_epoch(self) -> dict:
        """One pass over the training split."""
        self.supernet.train()
        loss_sum, val_sum, correct, seen, start = 0.0, 0.0, 0, 0, time.perf_counter()
        searching = self.searching
        bar = progress_bar(self.batches, self.config.progress and distributed.is_main(),
                           desc=f"epoch {self.epoch + 1}", leave=False)
        for x, y in bar:
            x, y = distributed.shard(x), distributed.shard(y)  # this rank's part of the global batch
            out = self.step(x, y)
            loss_sum += out["train_loss"] * len(y)
            val_sum += out["val_loss"] * len(y)
            correct += out["correct"]
            seen += len(y)
            bar.set_postfix(loss=f"{out['train_loss']:.3f}", cost=f"{out['expected_cost']:.4g}")
        loss_sum, val_sum, correct, seen = distributed.sum_over_ranks(loss_sum, val_sum, correct, seen)
        distributed.average_buffers(self.supernet)
        derived = self.derive()
        return {"epoch": self.epoch + 1, "searching": searching, "train_loss": loss_sum / seen,
                "train_acc": 100.0 * correct / seen, "val_loss": val_sum / seen if searching else None,
                "expected_cost": out["expected_cost"], "arch": self.space.encode(derived.arch),
                "cost": derived.cost, "temperature": temperature_at(self.config, self.epoch),
                "lr": self.scheduler.get_last_lr()[0], "seconds": time.perf_counter() - start}

    def fit(self, resume: bool = False) -> History:
        """Train until ``config.epochs``; ``resume=True`` first loads the checkpoint if there is one."""
        if resume and self.checkpoint_path and self.checkpoint_path.exists():
            self.load_checkpoint(self.checkpoint_path)
        self.check_ranks_agree()
        epochs = range(self.epoch, self.config.epochs)
        for _ in progress_bar(epochs, self.config.progress and distributed.is_main() and bool(epochs), desc="DNAS"):
            self.log.append(self.train_epoch())
            self.epoch += 1
            self.check_ranks_agree()
            if self.checkpoint_path:
                self.save_checkpoint(self.checkpoint_path)
        return self.history

    def check_ranks_agree(self) -> None:
        """Under torchrun, raise unless every rank has the same config, step, generator, alpha and weights.

        Equal generator states and alpha mean that every rank sampled the same gates and paths.
        """
        distributed.check_same("the config, step, sampled gates, alpha and weights", dataclasses.asdict(self.config),
                               self.steps, self.generator.get_state(), self.alpha,
                               *self.supernet.state_dict().values())

    def derive(self) -> DerivedArch:
        """The current answer: ``argmax(alpha)`` per layer with its costs."""
        return derive(self.alpha, self.space, self.table)

    # -- checkpoints --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, alpha, optimizers, data order, samplers, history."""
        return {
            "kind": "nasedu.dnas",
            "space": self.space.name,
            "config": dataclasses.asdict(self.config),
            "epoch": self.epoch,
            "steps": self.steps,
            "log": self.log,
            "history": self.history.as_dict(),
            "collapse_warned_at": self.monitor.warned_at,
            "supernet": self.supernet.state_dict(),
            "alpha": self.alpha.detach().cpu(),
            "optimizer": self.optimizer.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "batches": self.batches.state_dict(),
            "val_batches": self.val_batches.state_dict(),
            "generator": self.generator.get_state(),
            "rng": checkpoint.rng_state(),
        }

    def save_checkpoint(self, path: Union[str, Path]) -> None:
        """Write :meth:`state_dict` atomically to ``path``, and the history as JSON beside it (rank 0 only)."""
        if distributed.is_main():
            path = Path(path)
            checkpoint.save(self.state_dict(), path)
            self.history.save(path.with_suffix(".history.json"))

    def load_checkpoint(self, path: Union[str, Path]) -> None:
        """Restore a state written by :meth:`save_checkpoint` (same space and config)."""
        state = checkpoint.load(path)
        checkpoint.check_matches(state, path, "nasedu.dnas", self.space.name, dataclasses.asdict(self.config))
        self.supernet.load_state_dict(state["supernet"])
        with torch.no_grad():
            self.alpha.copy_(state["alpha"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.batches.load_state_dict(state["batches"])
        if self._val_iter is not None:
            self._val_iter.close()  # closing ends its epoch: do it before the state is loaded
            self._val_iter = None
        self.val_batches.load_state_dict(state["val_batches"])
        self.generator.set_state(state["generator"])
        checkpoint.set_rng_state(state["rng"])
        self.history = History.from_dict(state["history"])
        self.monitor.warned_at = state["collapse_warned_at"]
        self.epoch = state["epoch"]
        self.steps = state["steps"]
        self.log = list(state["log"])


def load_or_train(path: Union[str, Path], space: SearchSpace, splits: Splits, config: DNASConfig = DNASConfig(),
                  table: Optional[LookupTable] = None) -> DNASTrainer:
    """A DNAS run: loaded from ``path`` when it exists (whatever its config), else trained and saved there.

    Notebooks use it to start from a small checkpoint shipped in ``resource/`` and to search
    again only when it is absent. Used in: 03_dnas, 04_hardware_dnas.
    """
    path = Path(path)
    if path.exists():
        saved = checkpoint.load(path)
        if saved.get("kind") != "nasedu.dnas" or saved.get("space") != space.name:
            raise ValueError(f"{path} is not a DNAS run on space {space.name!r} (kind={saved.get('kind')!r}, "
                             f"space={saved.get('space')!r}); pass another path")
        config = dataclasses.replace(DNASConfig(**saved["config"]), device=config.device, progress=config.progress)
        trainer = DNASTrainer(Supernet(space, seed=config.seed), splits, config, table)
        trainer.load_checkpoint(path)
        return trainer
    trainer = DNASTrainer(Supernet(space, seed=config.seed), splits, config, table, checkpoint_path=path)
    trainer.fit()
    return trainer


def lambda_sweep(supernet: Supernet, splits: Splits, lambdas: Sequence[float], config: DNASConfig,
                 table: LookupTable) -> list[dict]:
    """One DNAS run with the additive hardware loss per lambda, each from a copy of ``supernet``.

    Start from a warmed-up supernet so that every run searches from the same weights.
    Returns one record per lambda: ``{"lambda", "arch", "cost", "val_loss", "history"}``
    (the history as :meth:`History.as_dict`), what ``nasedu.widgets.LambdaExplorer`` shows.
    Used in: 04_hardware_dnas.
    """
    records = []
    for weight in lambdas:
        run_config = dataclasses.replace(config, hardware_loss="additive", hardware_weight=weight)
        trainer = DNASTrainer(copy.deepcopy(supernet), splits, run_config, table)
        history = trainer.fit()
        derived = trainer.derive()
        records.append({"lambda": weight, "arch": list(derived.arch), "cost": derived.cost,
                        "val_loss": trainer.log[-1]["val_loss"], "history": history.as_dict()})
    return records
