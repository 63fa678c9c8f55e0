"""Loops shared by every trainer: optimizer groups, evaluation, BatchNorm recalibration.

Used in: 02_weight_sharing, 05_spos, 07_truth, 08_export.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch
from torch import nn

from nasedu.config import option
from nasedu.progress import progress_bar

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
