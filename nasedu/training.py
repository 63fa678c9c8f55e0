"""Loops shared by every trainer: optimizer groups, evaluation, BatchNorm recalibration, and the
epoch loop with checkpoints, exact resume and ``load_or_train`` that SPOS and DNAS both use.

Used in: 02_weight_sharing, 05_spos, 07_truth, 08_export.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar, Union

import torch
from torch import nn

from nasedu import checkpoint, distributed
from nasedu.config import option
from nasedu.progress import progress_bar
from nasedu.spaces import SearchSpace
from nasedu.supernet import Supernet

Forward = Callable[[torch.Tensor], torch.Tensor]
BatchSource = Iterable[tuple[torch.Tensor, torch.Tensor]]


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two optimizer groups: weight decay on conv/linear weights, none on BN parameters and biases.

    This follows the SPOS reference implementation (megvii SinglePathOneShot).
    """
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.dim() <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def sgd(model: nn.Module, lr: float, momentum: float = 0.9, weight_decay: float = 4e-5,
        nesterov: bool = False) -> torch.optim.SGD:
    """SGD with momentum and no weight decay on BN and biases."""
    return torch.optim.SGD(parameter_groups(model, weight_decay), lr=lr, momentum=momentum, nesterov=nesterov)


@torch.no_grad()
def evaluate(forward: Forward, batches: BatchSource, max_batches: Optional[int] = None) -> tuple[float, float]:
    """Mean cross-entropy and accuracy (in %) of ``forward`` over ``batches``.

    Call ``model.eval()`` first: this only runs the forward passes.
    """
    loss_sum, correct, count = 0.0, 0, 0
    for b, (x, y) in enumerate(batches):
        if max_batches is not None and b >= max_batches:
            break
        logits = forward(x)
        loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    if count == 0:
        raise ValueError("evaluate() got no batches; pass a non-empty dataset")
    return loss_sum / count, 100.0 * correct / count


@torch.no_grad()
def recalibrate_bn(model: nn.Module, forward: Forward, batches: BatchSource, num_batches: int) -> None:
    """Re-estimate every BatchNorm's running statistics, then leave ``model`` in eval mode.

    A path cut out of a supernet inherits running statistics averaged over *all* the paths
    trained through it, which do not match this path's activations. SPOS resets them and
    recomputes them from ``num_batches`` training batches in train mode (here an exact
    cumulative average, ``momentum=None``), with no weight update.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    seen = 0
    for x, _ in batches:
        if seen == num_batches:
            break
        forward(x)
        seen += 1
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    model.eval()
    if seen == 0:
        raise ValueError("recalibrate_bn() got no batches; pass training data")


@dataclass(frozen=True)
class TrainConfig:
    """How a stand-alone network is trained from scratch."""

    epochs: int = option(3, "passes over the training split")
    batch_size: int = option(128, "images per step")
    lr: float = option(0.1, "peak SGD learning rate, cosine-decayed to 0 over all steps")
    momentum: float = option(0.9, "SGD momentum")
    weight_decay: float = option(5e-4, "on conv/linear weights only")
    label_smoothing: float = option(0.0, "softens the one-hot targets")
    seed: int = option(0, "seeds the initial weights and the batch order")
    device: str = option("cpu", "'cpu' or 'cuda'")
    channels_last: bool = option(True, "NHWC memory: faster convs on CPU")
    progress: bool = option(True, "tqdm progress bars")
    eval_every_epoch: bool = option(True, "False: evaluate only after the last epoch (faster)")


def train_standalone(model_fn: Callable[[], nn.Module], train: tuple[torch.Tensor, torch.Tensor],
                     evaluation: tuple[torch.Tensor, torch.Tensor], config: TrainConfig = TrainConfig()
                     ) -> tuple[nn.Module, list[dict]]:
    """Train ``model_fn()`` from scratch on ``train``; return it and one record per epoch.

    Each record holds the epoch, training loss and accuracy (%), and the loss and accuracy
    on ``evaluation`` (validation or test images; only in the last record when
    ``config.eval_every_epoch`` is False). The model is built after seeding, so the
    same seed gives the same initial weights. Used in: 07_truth, 08_export.
    """
    from nasedu.data import Batches

    torch.manual_seed(config.seed)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model_fn().to(config.device, memory_format=fmt)
    batches = Batches(*train, config.batch_size, seed=config.seed, device=config.device,
                      channels_last=config.channels_last, drop_last=True)
    held_out = Batches(*evaluation, 512, shuffle=False, device=config.device, channels_last=config.channels_last)
    optimizer = sgd(model, config.lr, config.momentum, config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, config.epochs * len(batches))
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    history = []
    for epoch in progress_bar(range(config.epochs), config.progress, desc="training"):
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for x, y in progress_bar(batches, config.progress, desc=f"epoch {epoch + 1}", leave=False):
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = criterion(logits, y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        model.eval()
        record = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": 100.0 * correct / seen}
        if config.eval_every_epoch or epoch + 1 == config.epochs:
            record["eval_loss"], record["eval_acc"] = evaluate(model, held_out)
        history.append(record)
    return model, history


# -- the epoch loop of the supernet trainers ---------------------------------------------------------

class Trainer:
    """What SPOS and DNAS share: epochs, a checkpoint after each (atomic), exact resume, rank checks.

    A subclass names its checkpoints (``kind``) and config class, builds its optimizers in
    ``__init__`` (after ``super().__init__``) and implements :meth:`train_epoch`; it adds what
    else it must save to :meth:`state_dict` / :meth:`load_state_dict` and what must agree across
    ranks to :meth:`shared_state`. ``fit(resume=True)`` continues from ``checkpoint_path`` exactly:
    the result equals an uninterrupted run with the same seed.
    """

    kind = ""  # stored in checkpoints, e.g. "nasedu.spos"
    config_class: type = object  # the config dataclass, to rebuild a run from its checkpoint

    def __init__(self, supernet: Supernet, config, checkpoint_path: Union[str, Path, None] = None) -> None:
        self.config = config
        self.space = supernet.space
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
        self.device = distributed.init(config.device)  # cuda:LOCAL_RANK under torchrun
        distributed.check_batch_size(config.batch_size)
        torch.manual_seed(config.seed)
        self.supernet = supernet.to(self.device)
        if config.channels_last:
            self.supernet = self.supernet.to(memory_format=torch.channels_last)
        self.epoch = 0  # epochs finished
        self.log: list[dict] = []  # one record per epoch

    def train_epoch(self) -> dict:
        """One pass over the training split; returns the epoch's record."""
        raise NotImplementedError

    def fit(self, resume: bool = False, on_epoch: Optional[Callable[["Trainer"], None]] = None) -> list[dict]:
        """Train until ``config.epochs``; ``resume=True`` first loads the checkpoint if there is one.

        ``on_epoch(trainer)`` runs after every epoch, before the checkpoint: it may add to the
        epoch's record, ``trainer.log[-1]`` (e.g. a measurement of the supernet as it is then).
        """
        if resume and self.checkpoint_path and self.checkpoint_path.exists():
            self.load_checkpoint(self.checkpoint_path)
        self.check_ranks_agree()
        epochs = range(self.epoch, self.config.epochs)
        for _ in progress_bar(epochs, self.config.progress and distributed.is_main() and bool(epochs),
                              desc=self.kind.split(".")[-1].upper()):
            self.log.append(self.train_epoch())
            self.epoch += 1
            if on_epoch is not None:
                on_epoch(self)
            self.check_ranks_agree()
            if self.checkpoint_path:
                self.save_checkpoint(self.checkpoint_path)
        return self.log

    def shared_state(self) -> list:
        """What must be equal on every rank besides the config, epoch and weights (samplers, alpha)."""
        return []

    def check_ranks_agree(self) -> None:
        """Under torchrun, raise unless every rank holds the same config, epoch, samplers and weights.

        Equal sampler states after equal seeds mean that every rank drew the same paths.
        """
        distributed.check_same("the config, epoch, sampled paths and weights", dataclasses.asdict(self.config),
                               self.epoch, *self.shared_state(), *self.supernet.state_dict().values())

    def state_dict(self) -> dict:
        """Everything needed to continue exactly; subclasses add their own entries."""
        return {"kind": self.kind, "space": self.space.name, "config": dataclasses.asdict(self.config),
                "epoch": self.epoch, "log": self.log, "supernet": self.supernet.state_dict(),
                "rng": checkpoint.rng_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; subclasses restore their own entries too."""
        self.supernet.load_state_dict(state["supernet"])
        checkpoint.set_rng_state(state["rng"])
        self.epoch = state["epoch"]
        self.log = list(state["log"])

    def save_checkpoint(self, path: Union[str, Path]) -> None:
        """Write :meth:`state_dict` atomically to ``path``; under torchrun only rank 0 writes."""
        if distributed.is_main():
            checkpoint.save(self.state_dict(), path)

    def load_checkpoint(self, path: Union[str, Path]) -> None:
        """Restore a state written by :meth:`save_checkpoint` (same space and config)."""
        state = checkpoint.load(path)
        checkpoint.check_matches(state, path, self.kind, self.space.name, dataclasses.asdict(self.config))
        self.load_state_dict(state)


T = TypeVar("T", bound=Trainer)


def load_or_train(trainer_class: type[T], path: Union[str, Path], space: SearchSpace, splits, config,
                  on_epoch: Optional[Callable[[Trainer], None]] = None, **options) -> T:
    """A run loaded from ``path`` when it exists (whatever its config: the saved one is used), else
    trained with ``config`` from a supernet seeded by ``config.seed`` and saved there.

    Notebooks use it to start from a small checkpoint shipped in ``resource/`` and to train
    only when it is absent. ``on_epoch`` goes to ``fit``, ``options`` to the trainer (e.g.
    ``cost=`` or ``table=``).
    """
    path = Path(path)
    if path.exists():
        saved = checkpoint.load(path)
        if saved.get("kind") != trainer_class.kind or saved.get("space") != space.name:
            raise ValueError(f"{path} is not a {trainer_class.kind} run on space {space.name!r} (kind="
                             f"{saved.get('kind')!r}, space={saved.get('space')!r}); pass another path")
        config = dataclasses.replace(trainer_class.config_class(**saved["config"]), device=config.device,
                                     progress=config.progress)
        trainer = trainer_class(Supernet(space, seed=config.seed), splits, config, **options)
        trainer.load_checkpoint(path)
        return trainer
    trainer = trainer_class(Supernet(space, seed=config.seed), splits, config, checkpoint_path=path, **options)
    trainer.fit(on_epoch=on_epoch)
    return trainer
