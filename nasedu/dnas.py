"""Differentiable NAS (DNAS): architecture parameters alpha, a bilevel trainer, its history and answer.

The relaxations, temperature schedules and hardware losses are pure functions in
``nasedu.relax``; this module trains with them. Each step (after weights-only warm-up epochs):

1. **alpha step** on a validation batch: gates from alpha by the relaxation, the supernet's gated
   mixture, cross-entropy *plus a hardware loss* of the cost of a lookup table, one Adam step of
   alpha (DARTS's unrolled gradient when ``second_order``). GDAS's unchosen candidates run too, at
   gate 0 without a graph, so that every gate gets its straight-through gradient. The cost is the expectation under
   ``softmax(alpha)`` (DARTS, ProxylessNAS) or, for the Gumbel relaxations, under the sample that
   was drawn (FBNet eq. 6). ProxylessNAS then rescales the pair of logits it updated.
2. **weight step** on a training batch: SGD on cross-entropy, alpha detached. DARTS and FBNet
   train the (sampled) mixture; GDAS the path its Gumbel sample picks; ProxylessNAS one path
   drawn from ``softmax(alpha)`` (sec. 3.2.1: one path in memory).

The answer is ``argmax(alpha)`` per layer (:func:`derive`), a stand-alone net is
``space.build(derived.arch)``. The run keeps a :class:`History` of softmax(alpha), entropy,
expected cost and losses that the plots read. :func:`preset` gives each paper's settings.

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
from typing import Callable, Iterator, Optional, Sequence, Union

import torch
from torch import nn

from nasedu import checkpoint, distributed, hardware, ops, training
from nasedu.config import option
from nasedu.data import Batches, Splits
from nasedu.hardware import LookupTable
from nasedu.progress import progress_bar
from nasedu.relax import (RELAXATIONS, SCHEDULES, AdditiveLoss, HardwareLoss, HingeLoss, MultiplicativeLoss,
                          _check_weight, candidate_mask, check_alpha, entropy, probabilities, relax, rescale_pair,
                          temperature)
from nasedu.spaces import Arch, SearchSpace
from nasedu.supernet import Supernet
from nasedu.training import Trainer, sgd

HARDWARE_LOSSES = ("additive", "multiplicative", "hinge")


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
    hardware_loss: list = field(default_factory=list)  # (N,) the hardware term: what the cost adds to the CE
    # (additive, hinge), or the factor a * log(E[c] / unit) ** b that multiplies it (multiplicative)
    temperature: list = field(default_factory=list)  # (N,) tau of the relaxation (1 when it has none)

    def __len__(self) -> int:
        return len(self.step)

    def record(self, step: int, probs: torch.Tensor, expected_cost: float, task_loss: float,
               hardware_term: float, temperature: float) -> None:
        """Append one row; ``probs`` is (L, K)."""
        probs = probs.detach().cpu().double()
        self.step.append(int(step))
        self.probs.append(probs.tolist())
        self.entropy.append(entropy(probs).tolist())
        self.expected_cost.append(float(expected_cost))
        self.task_loss.append(float(task_loss))
        self.hardware_loss.append(float(hardware_term))
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
                        max_batches: int = 10) -> tuple[Arch, list[list[float]]]:
    """Select an arch by perturbation (Wang et al., ICLR 2021, alg. 1) instead of by ``argmax(alpha)``.

    Layer after layer (in ``order``), remove each candidate from the mixture ``softmax(alpha)`` in
    turn and measure the supernet's validation accuracy without it; choose the candidate whose
    removal costs the most, and fix the layer to it before deciding the next. Alpha's size says
    how much a candidate is *used*, not how much it *matters*: on DARTS's nearly flat alphas the
    two can differ. (The paper fine-tunes the supernet after each decision; this does not.)
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
    for layer in order if order is not None else range(space.num_layers):
        base = accuracy(weights)
        for k in range(len(space.candidates[layer])):
            removed = weights.clone()
            removed[layer, k] = 0.0
            drops[layer].append(base - accuracy(removed) if bool(removed[layer].any()) else 0.0)
        arch[layer] = max(range(len(drops[layer])), key=drops[layer].__getitem__)
        weights[layer] = 0.0
        weights[layer, arch[layer]] = 1.0  # decided: this layer is now its chosen candidate alone
    return tuple(arch), drops


# -- training -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DNASConfig:
    """How DNAS runs; the defaults are DARTS's, except the epochs and batch size of a small CPU run."""

    epochs: int = option(10, "passes over the training split, warm-up included")
    warmup_epochs: int = option(0, "the first epochs train the weights only; alpha stays put")
    batch_size: int = option(64, "images per weight step")
    val_batch_size: Optional[int] = option(None, "images per alpha step (default: batch_size)")
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
    paths: int = option(2, "'binary': 2 is ProxylessNAS's two-path estimator; 1 runs one path (cheaper, approximate)")
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
    seed: int = option(0, "seeds the initial weights, the batch order and the relaxation's samples")
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
        if self.paths not in (1, 2):
            raise ValueError(f"paths must be 1 or 2, got {self.paths}")


PRESETS = {  # each paper's relaxation, alpha optimiser, temperature schedule and hardware loss
    # DARTS (Liu et al., ICLR 2019, sec. 3.1 and A.1.1): softmax mixture; Adam 3e-4, betas (0.5, 0.999), wd 1e-3
    "darts": dict(relaxation="softmax", alpha_lr=3e-4, alpha_betas=(0.5, 0.999), alpha_weight_decay=1e-3,
                  hardware_loss="additive", hardware_weight=0.0),
    # FBNet (Wu et al., CVPR 2019, sec. 3.3 and 4.1): Gumbel-softmax, tau 5.0 x exp(-0.045) per epoch;
    # Adam lr 1e-2 (betas: Adam's defaults), wd 5e-4; loss CE * a * log(LAT) ** b with a = 0.2, b = 0.6
    "fbnet": dict(relaxation="gumbel", alpha_lr=1e-2, alpha_betas=(0.9, 0.999), alpha_weight_decay=5e-4,
                  temperature=5.0, temperature_schedule="exponential", temperature_decay=0.045,
                  hardware_loss="multiplicative", fbnet_a=0.2, fbnet_b=0.6),
    # GDAS (Dong & Yang, CVPR 2019, sec. 3.2 and 4.1): hard Gumbel (straight-through), tau linear 10 -> 0.1;
    # alpha as in DARTS: Adam 3e-4, betas (0.5, 0.999), wd 1e-3; no hardware loss in the paper
    "gdas": dict(relaxation="hard_gumbel", alpha_lr=3e-4, alpha_betas=(0.5, 0.999), alpha_weight_decay=1e-3,
                 temperature=10.0, temperature_schedule="linear", temperature_end=0.1, hardware_weight=0.0),
    # ProxylessNAS (Cai et al., ICLR 2019, sec. 3.2-3.3; its code's defaults): two-path binary gates,
    # Adam lr 1e-3, betas (0, 0.999), no weight decay; additive cost lambda 0.1 (our gentle default: sweep it)
    "proxylessnas": dict(relaxation="binary", paths=2, alpha_lr=1e-3, alpha_betas=(0.0, 0.999),
                         alpha_weight_decay=0.0, hardware_loss="additive", hardware_weight=0.1),
}


def preset(method: str, **changes) -> DNASConfig:
    """The config of ``"darts"``, ``"fbnet"``, ``"gdas"`` or ``"proxylessnas"``, with ``changes`` on top."""
    if method not in PRESETS:
        raise ValueError(f"unknown method {method!r}; presets are {list(PRESETS)}")
    return DNASConfig(**{**PRESETS[method], **changes})


def temperature_at(config: DNASConfig, epoch: int) -> float:
    """tau during ``epoch`` (0-based, warm-up included; warm-up holds the first value); 1 for
    relaxations without a temperature. See ``nasedu.relax.temperature``."""
    if config.relaxation not in ("gumbel", "hard_gumbel"):
        return 1.0
    return temperature(config.temperature_schedule, config.temperature, epoch - config.warmup_epochs,
                       config.epochs - config.warmup_epochs, config.temperature_decay, config.temperature_end)


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


class DNASTrainer(Trainer):
    """Searches alpha and trains the supernet's weights in turn, with a checkpoint after every epoch.

    Each step: (1) unless in warm-up, one Adam step of alpha on a validation batch with
    ``hardware_loss(CE, cost)`` (see the module docstring); (2) one SGD step of the weights on a
    training batch with CE. ``fit(resume=True)`` continues exactly from ``checkpoint_path``.

    Under torchrun each rank takes its own shard of both batches; DistributedDataParallel
    averages the weights' gradients and the trainer averages alpha's, so alpha, the sampled
    gates and the weights stay identical on every rank (see ``nasedu.distributed``).
    """

    kind = "nasedu.dnas"
    config_class = DNASConfig

    def __init__(self, supernet: Supernet, splits: Splits, config: DNASConfig = DNASConfig(),
                 table: Optional[LookupTable] = None, checkpoint_path: Union[str, Path, None] = None,
                 alpha: Optional[torch.Tensor] = None) -> None:
        if tuple(splits.input_shape) != tuple(supernet.space.input_shape):
            raise ValueError(f"dataset {splits.name!r} has images {splits.input_shape} but space "
                             f"{supernet.space.name!r} expects {supernet.space.input_shape}; pick a matching pair")
        self.table = table if table is not None else hardware.lookup_table(supernet.space, "macs")
        self.table.check_space(supernet.space)
        super().__init__(supernet, config, checkpoint_path)
        self.single_path = config.relaxation in ("hard_gumbel", "binary")  # the weight step runs one path
        self.model = distributed.wrap(self.supernet, self.device, unused_parameters=self.single_path)
        if alpha is None:
            alpha = torch.zeros(self.space.num_layers, self.space.max_choices)  # uniform over the candidates
        check_alpha(alpha, self.space)
        self.alpha = nn.Parameter(alpha.detach().clone().float().to(self.device))  # (L, K) logits
        self.hardware_loss = make_hardware_loss(config, self.table)
        common = dict(device=self.device, channels_last=config.channels_last, drop_last=True)  # global batches
        self.batches = Batches(*splits.train, config.batch_size, seed=config.seed, **common)
        self.val_batches = Batches(*splits.val, config.val_batch_size or config.batch_size, seed=config.seed + 1,
                                   **common)
        for split, loader in (("training", self.batches), ("validation", self.val_batches)):
            if len(loader) == 0:
                raise ValueError(f"the {split} split has {len(loader.y)} images, fewer than one batch of "
                                 f"{loader.batch_size}; load more data or lower the batch size")
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
        self.steps = 0  # steps finished

    # -- one step -----------------------------------------------------------------------------------
    @property
    def searching(self) -> bool:
        """False during the weights-only warm-up epochs."""
        return self.epoch >= self.config.warmup_epochs

    def gates(self, alpha: torch.Tensor, paths: Optional[int] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Gates and candidates to run for this step, from the trainer's relaxation and generator."""
        return relax(alpha, self.space, self.config.relaxation, temperature_at(self.config, self.epoch),
                     paths or self.config.paths, self.generator)

    def alpha_gates(self, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The gates of an alpha step. GDAS (eq. 7) differentiates the soft sample of *every* candidate:
        its unchosen candidates run too, at gate 0 and without a graph, so that each gate gets its
        gradient ``<dL/d out, op_k(x)>`` while only the chosen path is kept in memory."""
        gates, active = self.gates(alpha)
        if self.config.relaxation == "hard_gumbel":
            active = candidate_mask(self.space, active.device)
        return gates, active

    def arch_loss(self, x: torch.Tensor, y: torch.Tensor, gates: Optional[torch.Tensor] = None,
                  active: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, cross-entropy, cost) of one batch, differentiable in alpha and the weights.

        Without ``gates`` a fresh draw is made. The cost is taken under the Gumbel sample for
        the Gumbel relaxations (FBNet), under ``softmax(alpha)`` otherwise.
        """
        if gates is None:
            gates, active = self.alpha_gates(self.alpha)
        task = self.criterion(self.supernet(x, weights=gates, active=active), y)
        sampled = self.config.relaxation in ("gumbel", "hard_gumbel")
        cost = self.table.expected_cost(gates if sampled else probabilities(self.alpha, self.space))
        return self.hardware_loss(task, cost), task, cost

    def alpha_step(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor,
                   y_train: torch.Tensor) -> tuple[float, float, float]:
        """One Adam step of alpha; returns (total, cross-entropy, hardware term) of the validation batch."""
        before = self.alpha.detach().clone()
        if self.config.second_order:
            grad, (total, task, cost) = self.unrolled_alpha_grad(x_val, y_val, x_train, y_train)
            active = None
        else:
            gates, active = self.alpha_gates(self.alpha)
            total, task, cost = self.arch_loss(x_val, y_val, gates, active)
            (grad,) = torch.autograd.grad(total, [self.alpha])  # no gradients for the weights
        self.alpha.grad = distributed.average(grad)  # the global batch's gradient: alpha stays equal on all ranks
        self.alpha_optimizer.step()
        if self.config.relaxation == "binary" and self.config.paths == 2:
            rescale_pair(self.alpha.data, before, active)  # the candidates off the pair keep their probabilities
        return total.item(), task.item(), self.hardware_loss.term(cost.detach()).item()

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
            return self.criterion(self.supernet(x_train, weights=self.gates(alpha)[0]), y_train)

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
        """One SGD step of the weights with cross-entropy; returns (loss, correct predictions).

        DARTS and FBNet train the (sampled) mixture; GDAS and ProxylessNAS one sampled path:
        GDAS the argmax of its Gumbel sample, ProxylessNAS a path drawn from ``softmax(alpha)``.
        """
        if self.single_path:
            _, active = self.gates(self.alpha.detach(), paths=1)
            logits = self.model(x, arch=tuple(int(k) for k in active.float().argmax(1)))  # through DDP if distributed
        else:
            gates, active = self.gates(self.alpha.detach())
            logits = self.model(x, weights=gates, active=active)
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
            _, task, term = self.alpha_step(x_val, y_val, x, y)
        train_loss, correct = self.weight_step(x, y)
        self.steps += 1
        with torch.no_grad():
            probs = probabilities(self.alpha.detach(), self.space)
            expected = self.table.expected_cost(probs).item()  # E[c] under softmax(alpha), for the record
        if not self.searching:  # warm-up: the losses alpha would see, on the training batch, for the record
            task, term = train_loss, self.hardware_loss.term(torch.tensor(expected)).item()
        if self.steps % self.config.record_every == 0:
            task, term = (t / distributed.world_size() for t in distributed.sum_over_ranks(task, term))  # global
            self.history.record(self.steps, probs, expected, task, term, temperature_at(self.config, self.epoch))
            if distributed.is_main():
                self.monitor.check(probs, self.steps)
        return {"train_loss": train_loss, "correct": correct, "val_loss": task, "expected_cost": expected}

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

    def fit(self, resume: bool = False, on_epoch: Optional[Callable[[Trainer], None]] = None) -> History:
        """Train until ``config.epochs`` (see ``Trainer.fit``); returns the alpha history."""
        super().fit(resume, on_epoch)
        return self.history

    def shared_state(self) -> list:
        """Equal generator states and alpha mean that every rank sampled the same gates and paths."""
        return [self.steps, self.generator.get_state(), self.alpha]

    def derive(self, max_cost: Optional[float] = None) -> DerivedArch:
        """The current answer: ``argmax(alpha)`` per layer with its costs (see :func:`derive`)."""
        return derive(self.alpha, self.space, self.table, max_cost)

    # -- checkpoints --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, alpha, optimizers, data order, samplers, history."""
        return {**super().state_dict(), "metric": self.table.metric, "steps": self.steps,
                "history": self.history.as_dict(),
                "collapse_warned_at": self.monitor.warned_at, "alpha": self.alpha.detach().cpu(),
                "optimizer": self.optimizer.state_dict(), "alpha_optimizer": self.alpha_optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "batches": self.batches.state_dict(),
                "val_batches": self.val_batches.state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        saved = checkpoint_metric(state)
        if saved != self.table.metric:
            raise ValueError(f"this DNAS run was searched with the {saved!r} cost table, not {self.table.metric!r}; "
                             f"continue it with the {saved!r} table (nasedu dnas --metric {saved}) or start a new run")
        super().load_state_dict(state)
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
        self.history = History.from_dict(state["history"])
        self.monitor.warned_at = state["collapse_warned_at"]
        self.steps = state["steps"]

    def save_checkpoint(self, path: Union[str, Path]) -> None:
        """Write :meth:`state_dict` atomically to ``path``, and the history as JSON beside it (rank 0 only)."""
        super().save_checkpoint(path)
        if distributed.is_main():
            self.history.save(Path(path).with_suffix(".history.json"))


def checkpoint_metric(state: dict) -> str:
    """The cost table's metric of a DNAS checkpoint (older ones keep it only in their history)."""
    return state.get("metric", state["history"]["metric"])


def load_or_train(path: Union[str, Path], space: SearchSpace, splits: Splits, config: DNASConfig = DNASConfig(),
                  table: Optional[LookupTable] = None, on_epoch: Optional[Callable[[Trainer], None]] = None
                  ) -> DNASTrainer:
    """A DNAS run: loaded from ``path`` when it exists (whatever its config), else trained and saved there.

    Notebooks use it to start from a small checkpoint shipped in ``resource/`` and to search
    again only when it is absent (``nasedu.training.load_or_train``). Used in: 03_dnas, 04_hardware_dnas.
    """
    return training.load_or_train(DNASTrainer, path, space, splits, config, on_epoch, table=table)


def record_perturbation_choice(trainer: DNASTrainer, images: int = 2000) -> None:
    """An ``on_epoch`` callback: add to the epoch's record the arch that :func:`perturbation_select`
    picks on the first ``images`` validation images, and the accuracy drops it measured.

    Used in: 03_dnas.
    """
    x, y = trainer.val_batches.x[:images], trainer.val_batches.y[:images]
    batches = Batches(x, y, 500, shuffle=False, device=trainer.device, channels_last=trainer.config.channels_last)
    arch, drops = perturbation_select(trainer.supernet, trainer.alpha, batches)
    trainer.log[-1].update(perturbation_arch=list(arch), perturbation_drops=drops)


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
