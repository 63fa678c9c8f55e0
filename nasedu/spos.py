"""Single-path one-shot NAS (SPOS, Guo et al. 2019): train a supernet one sampled path at a time.

Each step activates one architecture of the space (a *path*) and updates only its weights,
so training costs the memory and time of one network. Afterwards any architecture can be
scored with the weights it *inherits* from the supernet -- after re-estimating BatchNorm
statistics for that path -- and searched with evolution (``nasedu.search``).

    >>> import nasedu as nd
    >>> space = nd.spaces.get("teaching")
    >>> splits = nd.data.load("digits", val_size=300)
    >>> trainer = nd.spos.SPOSTrainer(nd.Supernet(space), splits, nd.spos.SPOSConfig(epochs=1, progress=False))
    >>> history = trainer.fit()
    >>> score = nd.spos.InheritedEvaluator(trainer.supernet, splits)   # score(arch) -> val accuracy in %

Used in: 05_spos, 06_evolution, 07_truth.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import torch
from torch import nn

from nasedu import distributed, training
from nasedu.config import option
from nasedu.data import Batches, Splits
from nasedu.progress import progress_bar
from nasedu.spaces import MAX_ENUMERATE, Arch, ArchLike, SearchSpace, check_splits
from nasedu.supernet import Supernet
from nasedu.training import Trainer, evaluate, recalibrate_bn, sgd

Cost = Callable[[Arch], float]
SAMPLERS = ("uniform", "budget", "fair")


# -- path samplers ------------------------------------------------------------------------------

class UniformSampler:
    """One path per step, every candidate of every layer equally likely (the SPOS default)."""

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        self.space = space
        self.rng = random.Random(seed)

    def sample(self) -> list[Arch]:
        """The paths to train in the next step."""
        return [self.space.sample(self.rng)]

    def state_dict(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: dict) -> None:
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


class BudgetSampler(UniformSampler):
    """Uniform over the archs whose cost is at most ``max_cost``, by rejection (nasedu's, not SPOS's).

    Training only paths that the search may return spends no steps on archs it would reject.
    Every feasible arch is equally likely, so cost ranges holding many archs get most steps;
    ``BinSampler`` is SPOS's own, which gives every cost range the same share.
    """

    def __init__(self, space: SearchSpace, cost: Cost, max_cost: float, seed: int = 0, max_tries: int = 1000) -> None:
        super().__init__(space, seed)
        self.cost = cost
        self.max_cost = max_cost
        self.max_tries = max_tries

    def sample(self) -> list[Arch]:
        cheapest = float("inf")
        for _ in range(self.max_tries):
            arch = self.space.sample(self.rng)
            cost = self.cost(arch)
            if cost <= self.max_cost:
                return [arch]
            cheapest = min(cheapest, cost)
        raise ValueError(f"no arch with cost <= {self.max_cost:g} in {self.max_tries} uniform draws (the cheapest "
                         f"drawn cost {cheapest:g}); raise max_cost or use the 'uniform' sampler")


class BinSampler(BudgetSampler):
    """SPOS's budget sampler (its released code): a cost bin drawn uniformly, then an arch inside it.

    ``[min_cost, max_cost]`` is cut into ``num_bins`` equal bins (SPOS: 290-360M FLOPs in 7 bins
    of 10M). Each step draws a bin uniformly, then uniform archs until one costs within it, so
    every cost range gets the same share of steps however few archs it holds; ``BudgetSampler``
    gives every feasible arch the same share instead. A bin with no arch in ``max_tries`` draws
    falls back to ``BudgetSampler``'s draw (SPOS's code falls back to any arch, even over the cap).
    ``min_cost=None`` takes the cheapest arch's cost, found by enumerating the space.
    """

    def __init__(self, space: SearchSpace, cost: Cost, max_cost: float, num_bins: int,
                 min_cost: Optional[float] = None, seed: int = 0, max_tries: int = 1000) -> None:
        super().__init__(space, cost, max_cost, seed, max_tries)
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 1:
            raise ValueError(f"num_bins must be a whole number of at least 1, got {num_bins!r}")
        if min_cost is None:
            if space.num_archs > MAX_ENUMERATE:
                raise ValueError(f"space {space.name!r} is too large to find its cheapest arch; give the lower edge "
                                 f"of the first cost bin (SPOSConfig(min_cost=...))")
            min_cost = min(cost(arch) for arch in space.enumerate())
        if not min_cost < max_cost:
            raise ValueError(f"the cost bins need min_cost < max_cost, got {min_cost:g} and {max_cost:g}")
        self.min_cost, self.num_bins = min_cost, num_bins
        self.width = (max_cost - min_cost) / num_bins  # of one bin

    def bin_of(self, cost: float) -> Optional[int]:
        """The bin a cost falls in (the last bin includes ``max_cost``), None outside ``[min_cost, max_cost]``."""
        if not self.min_cost <= cost <= self.max_cost:
            return None
        return min(int((cost - self.min_cost) / self.width), self.num_bins - 1)

    def sample(self) -> list[Arch]:
        chosen = self.rng.randrange(self.num_bins)
        for _ in range(self.max_tries):
            arch = self.space.sample(self.rng)
            if self.bin_of(self.cost(arch)) == chosen:
                return [arch]
        return super().sample()


class FairSampler(UniformSampler):
    """FairNAS strict fairness: K paths per step that together use every candidate of every layer once.

    Each layer takes a fresh random permutation of its K candidates; path j uses the j-th
    entry of every layer's permutation. The trainer sums the K paths' gradients into one
    update (FairNAS, Chu et al. 2021, Alg. 1), so every candidate receives exactly as many
    updates as any other, each at the full learning rate.
    """

    def __init__(self, space: SearchSpace, seed: int = 0) -> None:
        sizes = {len(c) for c in space.candidates}
        if len(sizes) != 1:
            raise ValueError(f"the fair sampler needs the same number of candidates in every layer; "
                             f"space {space.name!r} has {sorted(sizes)}")
        super().__init__(space, seed)

    def sample(self) -> list[Arch]:
        k = self.space.max_choices
        permutations = [self.rng.sample(range(k), k) for _ in range(self.space.num_layers)]
        return [tuple(perm[j] for perm in permutations) for j in range(k)]


# -- training -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SPOSConfig:
    """How a supernet is trained; defaults follow the SPOS reference, scaled to a small CPU run."""

    epochs: int = option(10, "passes over the training split")
    batch_size: int = option(128, "images per step")
    lr: float = option(0.1, "peak learning rate of SGD, decayed to 0 with a cosine over all steps")
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(4e-5, "on conv/linear weights only (none on BN and biases)")
    label_smoothing: float = option(0.0, "0.1 in the ImageNet reference")
    sampler: str = option("uniform", "'uniform', 'budget' (needs cost and max_cost) or 'fair'")
    max_cost: Optional[float] = option(None, "cost budget of the 'budget' sampler")
    budget_bins: Optional[int] = option(None, "the 'budget' sampler's draw: None, uniform over the archs within "
                                              "max_cost; N, SPOS's: one of N equal cost bins uniformly, then an "
                                              "arch in it")
    min_cost: Optional[float] = option(None, "lower edge of the first of budget_bins (None: the cheapest arch's "
                                             "cost)")
    seed: int = option(0, "seeds weights, paths and batch order")
    device: str = option("cpu", "'cpu' or 'cuda' (under torchrun each rank takes cuda:LOCAL_RANK)")
    channels_last: bool = option(True, "NHWC memory: 2-2.5x faster convs on CPU")
    bf16: bool = option(False, "bfloat16 autocast of the forward pass (fast on recent GPUs)")
    cudnn_benchmark: bool = option(False, "cuDNN autotuning: off, as a supernet meets too many conv shapes to tune")
    progress: bool = option(True, "tqdm progress bars")


def make_sampler(config: SPOSConfig, space: SearchSpace, cost: Optional[Cost] = None) -> UniformSampler:
    """The path sampler that ``config.sampler`` names (with ``budget_bins``: SPOS's ``BinSampler``)."""
    if config.budget_bins is not None and config.sampler != "budget":
        raise ValueError(f"budget_bins={config.budget_bins} needs sampler='budget', not {config.sampler!r}")
    if config.sampler == "uniform":
        return UniformSampler(space, config.seed)
    if config.sampler == "fair":
        return FairSampler(space, config.seed)
    if config.sampler == "budget":
        if cost is None or config.max_cost is None:
            raise ValueError("the 'budget' sampler needs cost=... (e.g. table.cost) and SPOSConfig(max_cost=...)")
        if config.budget_bins is not None:
            return BinSampler(space, cost, config.max_cost, config.budget_bins, config.min_cost, config.seed)
        return BudgetSampler(space, cost, config.max_cost, config.seed)
    raise ValueError(f"unknown sampler {config.sampler!r}; choose one of {SAMPLERS}")


class SPOSTrainer(Trainer):
    """Trains a supernet by single-path sampling, with a checkpoint after every epoch.

    ``fit()`` trains up to ``config.epochs``; with a ``checkpoint_path`` it writes the full
    state there after each epoch, and ``fit(resume=True)`` continues from it exactly: the
    result equals an uninterrupted run with the same seed (see ``nasedu.training.Trainer``).

    Under torchrun every rank runs the same path on its own shard of each batch and
    DistributedDataParallel averages the gradients (see ``nasedu.distributed``).
    """

    kind = "nasedu.spos"
    config_class = SPOSConfig

    def __init__(self, supernet: Supernet, splits: Splits, config: SPOSConfig = SPOSConfig(),
                 cost: Optional[Cost] = None, checkpoint_path: Union[str, Path, None] = None) -> None:
        check_splits(supernet.space, splits)
        super().__init__(supernet, config, checkpoint_path)
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
        self.model = distributed.wrap(self.supernet, self.device)  # in DistributedDataParallel when distributed
        self.sampler = make_sampler(config, self.space, cost)  # seeded alike on every rank: the same paths
        self.batches = Batches(*splits.train, config.batch_size, seed=config.seed, device=self.device,
                               channels_last=config.channels_last, drop_last=True)  # global batches
        self.optimizer = sgd(self.supernet, config.lr, config.momentum, config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, config.epochs * len(self.batches))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.path_counts = torch.zeros(self.space.num_layers, self.space.max_choices, dtype=torch.long)

    def backward(self, x: torch.Tensor, y: torch.Tensor, paths: list[Arch]) -> tuple[float, int]:
        """Fresh gradients of the summed loss of ``paths`` on one batch; returns (loss sum, correct).

        With the K paths of the fair sampler this is FairNAS's step: the K gradients add up, so
        every candidate gets a full-size gradient in the one update that follows.
        """
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum, correct = 0.0, 0
        for arch in paths:  # several paths: DDP averages after each backward, all ranks alike
            with torch.autocast(x.device.type, torch.bfloat16, enabled=self.config.bf16):
                logits = self.model(x, arch=arch)
                loss = self.criterion(logits, y)
            loss.backward()  # gradients accumulate: a sum over the paths
            loss_sum += loss.item()
            correct += int((logits.argmax(1) == y).sum())
        return loss_sum, correct

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, int, int]:
        """One SGD update on the paths the sampler draws; returns (summed loss, correct, paths)."""
        paths = self.sampler.sample()
        loss_sum, correct = self.backward(x, y, paths)
        self.optimizer.step()
        self.scheduler.step()
        for arch in paths:
            for i, a in enumerate(arch):
                self.path_counts[i, a] += 1
        return loss_sum, correct, len(paths)

    def train_epoch(self) -> dict:
        """One pass over the training split, one sampled path (or K fair paths) per step."""
        self.supernet.train()
        loss_sum, correct, seen, start = 0.0, 0, 0, time.perf_counter()
        bar = progress_bar(self.batches, self.config.progress and distributed.is_main(),
                           desc=f"epoch {self.epoch + 1}", leave=False)
        for x, y in bar:
            x, y = distributed.shard(x), distributed.shard(y)  # this rank's part of the global batch
            step_loss, step_correct, paths = self.step(x, y)
            loss_sum += step_loss * len(y)
            correct += step_correct
            seen += paths * len(y)
            bar.set_postfix(loss=f"{step_loss / paths:.3f}")
        loss_sum, correct, seen = distributed.sum_over_ranks(loss_sum, correct, seen)
        distributed.average_buffers(self.supernet)
        seconds = time.perf_counter() - start
        return {"epoch": self.epoch + 1, "train_loss": loss_sum / seen, "train_acc": 100.0 * correct / seen,
                "lr": self.scheduler.get_last_lr()[0], "seconds": seconds, "images_per_s": seen / seconds}

    def shared_state(self) -> list:
        return [self.sampler.state_dict(), self.path_counts]

    def state_dict(self) -> dict:
        """Everything needed to continue exactly: weights, optimizer, schedule, sampler, data order, RNGs."""
        return {**super().state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "sampler": self.sampler.state_dict(),
                "batches": self.batches.state_dict(), "path_counts": self.path_counts}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.sampler.load_state_dict(state["sampler"])
        self.batches.load_state_dict(state["batches"])
        self.path_counts = state["path_counts"]


# -- scoring archs with inherited weights -----------------------------------------------------------

class InheritedEvaluator:
    """Scores archs by validation accuracy (%) with weights inherited from a supernet; results are cached.

    ``score="loss"`` scores by minus the validation cross-entropy instead (higher is better too).
    With ``recalibrate=True`` each path's BatchNorm statistics are re-estimated on
    ``calib_batches`` training batches (always the same ones) before it is scored; the
    supernet itself is never changed (each arch is scored on a copy of its path).
    Usable directly as ``fitness`` in ``nasedu.search``.
    """

    def __init__(self, supernet: Supernet, splits: Splits, recalibrate: bool = True, calib_batches: int = 10,
                 batch_size: int = 256, device: Optional[str] = None, channels_last: bool = True,
                 score: str = "accuracy") -> None:
        if score not in ("accuracy", "loss"):
            raise ValueError(f"score must be 'accuracy' (validation accuracy in %) or 'loss' (minus the validation "
                             f"cross-entropy), got {score!r}")
        self.supernet = supernet
        self.score = score
        self.recalibrate = recalibrate
        self.calib_batches = calib_batches
        self.device = device or next(supernet.parameters()).device
        self.channels_last = channels_last
        x, y = splits.train
        fixed = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))[: calib_batches * batch_size]
        self.calibration = Batches(x[fixed], y[fixed], batch_size, shuffle=False, device=self.device,
                                   channels_last=channels_last)  # the same images for every arch
        self.validation = Batches(*splits.val, batch_size, shuffle=False, device=self.device,
                                  channels_last=channels_last)
        self.cache: dict[Arch, float] = {}

    def __call__(self, arch: ArchLike) -> float:
        """Validation accuracy in % (or minus the loss) of ``arch`` with inherited weights."""
        arch = self.supernet.space.decode(arch)
        if arch not in self.cache:
            model = self.supernet.subnet(arch).to(self.device)
            if self.channels_last:
                model = model.to(memory_format=torch.channels_last)
            if self.recalibrate:
                recalibrate_bn(model, model, self.calibration, self.calib_batches)
            model.eval()
            loss, accuracy = evaluate(model, self.validation)
            self.cache[arch] = accuracy if self.score == "accuracy" else -loss
        return self.cache[arch]


def load_or_train(path: Union[str, Path], space: SearchSpace, splits: Splits, config: SPOSConfig = SPOSConfig(),
                  cost: Optional[Cost] = None) -> SPOSTrainer:
    """A trained SPOS run: loaded from ``path`` when it exists (whatever its config), else trained and saved there.

    Notebooks use it to start from the small checkpoint shipped in ``resource/`` and to
    retrain only when it is absent (``nasedu.training.load_or_train``).
    Used in: 02_weight_sharing, 05_spos, 06_evolution, 07_truth.
    """
    return training.load_or_train(SPOSTrainer, path, space, splits, config, cost=cost)
