"""Differentiable NAS (DNAS): a generic bilevel trainer of the supernet's weights and alpha.

What differs between DARTS, FBNet, GDAS and ProxylessNAS lives in one class per method in
``nasedu.methods``; the maths they share (temperatures, hardware losses) in ``nasedu.relax``.
Each step of :class:`DNASTrainer` (after weights-only warm-up epochs):

1. **alpha step** on a validation batch: the method's gates, the supernet's gated mixture,
   cross-entropy *plus a hardware loss* of the expected cost under the method's probabilities,
   one Adam step of alpha (DARTS's unrolled gradient when ``second_order``), then whatever the
   method does after it (ProxylessNAS rescales the pair it updated).
2. **weight step** on a training batch: SGD on cross-entropy, alpha detached, on the method's
   mixture or on the one path it samples.

The answer is ``argmax(alpha)`` per layer (``nasedu.selection.derive``), a stand-alone net is
``space.build(derived.arch)``. The run keeps a ``History`` (``nasedu.diagnostics``) of
softmax(alpha), entropy, expected cost and losses that the plots read. :func:`preset` gives each
paper's settings.

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import torch
from torch import nn

from nasedu import distributed, hardware, methods, training
from nasedu.config import option
from nasedu.data import Batches, Splits
from nasedu.diagnostics import CollapseMonitor, CollapseWarning, History  # noqa: F401 (CollapseWarning: API)
from nasedu.hardware import LookupTable
from nasedu.methods import Gates
from nasedu.progress import progress_bar
from nasedu.relax import (SCHEDULES, AdditiveLoss, HardwareLoss, HingeLoss, MultiplicativeLoss, _check_weight,
                          check_alpha, probabilities, temperature)
from nasedu.selection import DerivedArch, derive, perturbation_select, record_perturbation_choice  # noqa: F401
from nasedu.spaces import SearchSpace, check_splits
from nasedu.supernet import Supernet
from nasedu.training import Trainer, sgd

HARDWARE_LOSSES = ("additive", "multiplicative", "hinge")
RELAXATIONS = tuple(methods.METHODS)


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
        "softmax", "the method: 'softmax' (DARTS), 'gumbel' (FBNet), 'hard_gumbel' (GDAS), 'hard_gumbel_all_gates' "
                   "(GDAS's forward, every gate's gradient) or 'binary' (ProxylessNAS); see nasedu.methods")
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
    second_order: bool = option(
        False, "DARTS's unrolled alpha gradient (softmax only; 3 more passes per step; its virtual step is plain SGD)")
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
        if self.second_order and not methods.get(self.relaxation, 2).unrollable:
            raise ValueError(f"second_order=True unrolls DARTS's softmax relaxation; set relaxation='softmax' "
                             f"(got {self.relaxation!r}) or second_order=False")
        if self.record_every < 1:
            raise ValueError(f"record_every must be at least 1, got {self.record_every}")
        if self.paths not in (1, 2):
            raise ValueError(f"paths must be 1 or 2, got {self.paths}")


PRESETS = {name: method.preset for name, method in methods.PRESETS.items()}  # each paper's settings


def preset(method: str, **changes) -> DNASConfig:
    """The config of ``"darts"``, ``"fbnet"``, ``"gdas"``, ``"gdas_all_gates"`` or ``"proxylessnas"``
    (see ``nasedu.methods``), with ``changes`` on top.

    Unless ``changes`` sets ``warmup_epochs``, the paper's share of weights-only warm-up epochs
    is kept (FBNet: 10 of 90).
    """
    if method not in PRESETS:
        raise ValueError(f"unknown method {method!r}; presets are {list(PRESETS)}")
    settings = {**PRESETS[method], **changes}
    if "warmup_epochs" not in changes:
        epochs = settings.get("epochs", DNASConfig.epochs)
        settings["warmup_epochs"] = round(methods.PRESETS[method].warmup_fraction * epochs)
    return DNASConfig(**settings)


def temperature_at(config: DNASConfig, epoch: int) -> float:
    """tau during ``epoch`` (0-based, warm-up included; warm-up holds the first value); 1 for
    methods without a temperature. See ``nasedu.relax.temperature``."""
    if not methods.get(config.relaxation, config.paths).uses_temperature:
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
        return MultiplicativeLoss(config.fbnet_a, config.fbnet_b, reference, table.min_cost())
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
        check_splits(supernet.space, splits)
        self.table = table if table is not None else hardware.lookup_table(supernet.space, "macs")
        self.table.check_space(supernet.space)
        super().__init__(supernet, config, checkpoint_path)
        self.method = methods.get(config.relaxation, config.paths)  # how it gates, prices, steps and trains
        self.model = distributed.wrap(self.supernet, self.device, unused_parameters=self.method.single_path)
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

    def gates(self, alpha: torch.Tensor) -> Gates:
        """The method's gates for this step, from the trainer's temperature and generator."""
        return self.method.gates(alpha, self.space, temperature_at(self.config, self.epoch), self.generator)

    def arch_loss(self, x: torch.Tensor, y: torch.Tensor, gates: Optional[Gates] = None
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, cross-entropy, cost) of one batch, differentiable in alpha and the weights.

        Without ``gates`` a fresh draw is made; the cost is priced under ``gates.cost_probs``.
        """
        gates = gates if gates is not None else self.gates(self.alpha)
        task = self.criterion(self.supernet(x, **gates.forward_args()), y)
        cost = self.table.expected_cost(gates.cost_probs)
        return self.hardware_loss(task, cost), task, cost

    def alpha_step(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor,
                   y_train: torch.Tensor) -> tuple[float, float, float]:
        """One Adam step of alpha; returns (total, cross-entropy, hardware term) of the validation batch."""
        before = self.alpha.detach().clone()
        if self.config.second_order:
            grad, gates, (total, task, cost) = self.unrolled_alpha_grad(x_val, y_val, x_train, y_train)
        else:
            gates = self.gates(self.alpha)
            total, task, cost = self.arch_loss(x_val, y_val, gates)
            (grad,) = torch.autograd.grad(total, [self.alpha])  # no gradients for the weights
        self.alpha.grad = distributed.average(grad)  # the global batch's gradient: alpha stays equal on all ranks
        self.alpha_optimizer.step()
        self.method.after_alpha_step(self.alpha.data, before, gates)  # ProxylessNAS: rescale the pair
        return total.item(), task.item(), self.hardware_loss.term(cost.detach()).item()

    def unrolled_alpha_grad(self, x_val: torch.Tensor, y_val: torch.Tensor, x_train: torch.Tensor,
                            y_train: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """DARTS's second-order gradient of alpha, by its finite-difference Hessian-vector product.

        With ``w' = w - xi * grad_w L_train(w, alpha)`` (a virtual SGD step, xi = current lr)::

            grad_alpha L_val(w', alpha) - xi * (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps)

        where ``w+- = w +- eps * grad_w' L_val(w', alpha)`` and ``eps = 0.01 / ||grad_w' L_val||``.
        The weights are left as they were. Returns the gradient, the gates at w' and (total, CE, E[c]) there.
        The virtual step is plain SGD, as in the paper's eq. 6-7; DARTS's code also adds the
        optimiser's momentum and weight decay to it.
        On smooth networks this converges to the exact unrolled gradient; ReLU's kinks make
        the gradient jump under small weight changes, so with ReLU it is a rough estimate.
        """
        weights = list(self.supernet.parameters())
        xi = self.scheduler.get_last_lr()[0]
        saved = [w.detach().clone() for w in weights]

        def train_loss(alpha: torch.Tensor) -> torch.Tensor:
            return self.criterion(self.supernet(x_train, **self.gates(alpha).forward_args()), y_train)

        step = torch.autograd.grad(train_loss(self.alpha.detach()), weights)
        for g in step:
            distributed.average(g)  # the global batch's gradient (the weights are not in DDP here)
        with torch.no_grad():
            for w, g in zip(weights, step):
                w.sub_(xi * g)  # w' (plain SGD: DARTS's code also adds momentum and weight decay here)
        gates = self.gates(self.alpha)
        total, task, cost = self.arch_loss(x_val, y_val, gates)
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
        return grad_alpha - xi * (hessian_grad[0] - hessian_grad[1]) / (2 * eps), gates, (total, task, cost)

    def weight_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int]:
        """One SGD step of the weights with cross-entropy; returns (loss, correct predictions).

        The method says what is trained: its mixture (DARTS, FBNet) or one path it samples (GDAS:
        the argmax of a Gumbel sample; ProxylessNAS: a path drawn from ``softmax(alpha)``).
        """
        alpha, tau = self.alpha.detach(), temperature_at(self.config, self.epoch)
        if self.method.single_path:
            arch = self.method.path(alpha, self.space, tau, self.generator)
            logits = self.model(x, arch=arch)  # through DDP if distributed
        else:
            logits = self.model(x, **self.method.gates(alpha, self.space, tau, self.generator).forward_args())
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
    def epoch_steps(self) -> Iterator[dict]:
        """One pass over the training split, a step at a time: yields each :meth:`step`'s output and its
        number of images. :meth:`train_epoch` runs them all; the live playground redraws between them."""
        self.supernet.train()
        bar = progress_bar(self.batches, self.config.progress and distributed.is_main(),
                           desc=f"epoch {self.epoch + 1}", leave=False)
        for x, y in bar:
            x, y = distributed.shard(x), distributed.shard(y)  # this rank's part of the global batch
            out = self.step(x, y)
            bar.set_postfix(loss=f"{out['train_loss']:.3f}", cost=f"{out['expected_cost']:.4g}")
            yield {**out, "images": len(y)}

    def train_epoch(self) -> dict:
        """One pass over the training split, and its record."""
        start, searching = time.perf_counter(), self.searching
        steps = list(self.epoch_steps())
        loss_sum, val_sum, correct, seen = distributed.sum_over_ranks(
            sum(o["train_loss"] * o["images"] for o in steps), sum(o["val_loss"] * o["images"] for o in steps),
            sum(o["correct"] for o in steps), sum(o["images"] for o in steps))
        distributed.average_buffers(self.supernet)
        derived = self.derive()
        return {"epoch": self.epoch + 1, "searching": searching, "train_loss": loss_sum / seen,
                "train_acc": 100.0 * correct / seen, "val_loss": val_sum / seen if searching else None,
                "expected_cost": steps[-1]["expected_cost"], "arch": self.space.encode(derived.arch),
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
