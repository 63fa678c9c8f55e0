"""Loops shared by every trainer: optimizer groups, evaluation, BatchNorm recalibration.

Used in: 02_weight_sharing, 05_spos, 07_truth, 08_export.
"""

from __future__ import annotations

from typing import Callable, Iterable, Optional

import torch
from torch import nn

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
