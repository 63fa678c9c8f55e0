"""Zero-cost proxies: score an architecture at its fresh initialisation, without training it.

Each proxy looks at an untrained network once (one batch, or one input of ones) and returns a
number that should be higher for archs that train better. They cost milliseconds instead of
minutes, and how well they rank is exactly what ``nasedu.metrics`` measures against the truth:

- ``synflow`` (Tanaka et al. 2020): with every parameter made positive and an input of ones,
  R = sum(net(ones)); the score sums |theta * dR/dtheta| over conv and linear weights. No data.
- ``naswot`` (Mellor et al. 2021): each image's binary code is which ReLUs fire; the kernel
  K[i, j] = (number of ReLUs) - Hamming(code_i, code_j); the score is log|K|. Archs that
  separate the images of a batch well score higher.
- ``grad_norm``: the sum over conv and linear layers of ||dL/dW|| for one batch (cross-entropy).
- ``snip`` (Lee et al. 2019): the sum of |W * dL/dW| over conv and linear weights.
- ``params`` and ``macs``: the baselines every proxy must beat (bigger often trains better).

Grad-norm, SNIP and synflow are computed as in Abdelfattah et al. 2021 ("Zero-Cost Proxies for
Lightweight NAS"), which compares them on NAS-Bench-201.

Used in: 09_why_sharing_misleads.
"""

from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nasedu.hardware import count_macs, count_params
from nasedu.spaces import ArchLike, SearchSpace

NAMES = ("synflow", "naswot", "grad_norm", "snip", "params", "macs")


def _weighted_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def synflow(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Synaptic flow of ``model`` for inputs of ``input_shape`` (C, H, W); ``model`` is left unchanged.

    Computed in float64 on a copy whose parameters and buffers are made positive, with BatchNorm in
    eval mode at its initial statistics (then almost the identity; the reference removes BN).
    """
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    net.zero_grad()
    net(torch.ones(1, *input_shape, dtype=torch.float64)).sum().backward()
    return float(sum((m.weight * m.weight.grad).abs().sum().item() for m in _weighted_layers(net)))


def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log|K| of the ReLU activation-pattern kernel of the batch ``x`` (at least 2 images)."""
    if len(x) < 2:
        raise ValueError(f"naswot compares the images of a batch: pass at least 2 images, got {len(x)}")
    kernel = torch.zeros(len(x), len(x), dtype=torch.float64)

    def count(module: nn.Module, inputs, output) -> None:
        nonlocal kernel
        codes = (output.detach().reshape(len(x), -1) > 0).double()  # ReLU(z) > 0 exactly where z > 0
        kernel += codes @ codes.T + (1 - codes) @ (1 - codes).T  # units that agree = N_A - Hamming

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    if not hooks:
        raise ValueError("naswot needs a network with ReLU modules (nn.ReLU or nn.ReLU6)")
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def _loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, dL/dweight) for every conv and linear layer, on a copy (``model`` keeps no gradient)."""
    net = copy.deepcopy(model)
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return [(m.weight.detach(), m.weight.grad) for m in _weighted_layers(net) if m.weight.grad is not None]


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum over conv and linear layers of the L2 norm of the loss gradient of their weights."""
    return float(sum(g.norm().item() for _, g in _loss_gradients(model, x, y)))


def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum of |W * dL/dW| over every conv and linear weight (SNIP's connection sensitivity)."""
    return float(sum((w * g).abs().sum().item() for w, g in _loss_gradients(model, x, y)))


def score(space: SearchSpace, arch: ArchLike, proxy: str, x: Optional[torch.Tensor] = None,
          y: Optional[torch.Tensor] = None, seed: int = 0) -> float:
    """``proxy`` (one of ``NAMES``) of ``arch`` built fresh with initial weights from ``seed``.

    ``naswot`` needs the images ``x``; ``grad_norm`` and ``snip`` need ``x`` and labels ``y``;
    ``synflow``, ``params`` and ``macs`` need no data. The network is in train mode (BatchNorm
    uses the batch's statistics), as in the papers.
    """
    if proxy not in NAMES:
        raise ValueError(f"unknown proxy {proxy!r}; choose one of {', '.join(NAMES)}")
    needs = {"naswot": ("x",), "grad_norm": ("x", "y"), "snip": ("x", "y")}.get(proxy, ())
    missing = [name for name, value in (("x", x), ("y", y)) if name in needs and value is None]
    if missing:
        raise ValueError(f"proxy {proxy!r} needs a batch: pass {' and '.join(missing)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = space.build(arch)
    rules: dict[str, Callable[[], float]] = {
        "synflow": lambda: synflow(net, space.input_shape),
        "naswot": lambda: naswot(net, x),
        "grad_norm": lambda: grad_norm(net, x, y),
        "snip": lambda: snip(net, x, y),
        "params": lambda: float(count_params(net)),
        "macs": lambda: float(count_macs(net, space.input_shape)),
    }
    return rules[proxy]()


def score_space(space: SearchSpace, proxy: str, x: Optional[torch.Tensor] = None, y: Optional[torch.Tensor] = None,
                seed: int = 0, archs: Optional[Sequence[ArchLike]] = None) -> dict[str, float]:
    """``{arch code: proxy score}`` for ``archs`` (default: every arch of ``space``), same seed and batch for all."""
    archs = list(space.enumerate()) if archs is None else archs
    return {space.encode(a): score(space, a, proxy, x, y, seed) for a in archs}
