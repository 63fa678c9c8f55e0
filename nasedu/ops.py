"""Candidate operations and the op registry.

Every candidate op is built by a constructor ``(in_channels, out_channels, stride) -> nn.Module``.
Names are short and readable: ``skip``, ``conv3``, and ``k{kernel}e{expansion}`` for a
MobileNetV2 inverted residual block (``k5e6`` = kernel 5, expansion 6).

Example -- registering your own op::

    >>> import torch.nn as nn
    >>> from nasedu import ops
    >>> ops.register("avgpool", lambda c_in, c_out, stride: nn.Sequential(
    ...     nn.AvgPool2d(3, stride, 1), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)))
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

OpConstructor = Callable[[int, int, int], nn.Module]

_REGISTRY: dict[str, OpConstructor] = {}


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    """A bias-free convolution with 'same' padding followed by BatchNorm."""
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]


class Skip(nn.Module):
    """Identity; a 1x1 convolution + BN with stride when the shape changes (NAS-Bench-Macro)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.project = (
            nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if (c_in != c_out or stride != 1) else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.project is None else self.project(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, BN, ReLU; depthwise kxk, BN, ReLU; 1x1 project, BN.

    The hidden width is ``c_in * expansion``; the input is added back when the stride is 1
    and the channels are unchanged.
    """

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int, expansion: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.use_residual = stride == 1 and c_in == c_out
        self.body = nn.Sequential(
            *conv_bn(c_in, hidden, 1),
            nn.ReLU(inplace=True),
            *conv_bn(hidden, hidden, kernel, stride, groups=hidden),
            nn.ReLU(inplace=True),
            *conv_bn(hidden, c_out, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.use_residual else out


class PlainConv(nn.Module):
    """A full (dense) kxk convolution, BN, ReLU: expensive in params and MACs."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*conv_bn(c_in, c_out, kernel, stride), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def register(name: str, constructor: OpConstructor) -> None:
    """Add an op under ``name``; it can then be used as a candidate in any SearchSpace."""
    if name in _REGISTRY:
        raise ValueError(f"op {name!r} is already registered; pick another name")
    _REGISTRY[name] = constructor


def names() -> list[str]:
    """Names of every registered op."""
    return sorted(_REGISTRY)


def build(name: str, c_in: int, c_out: int, stride: int) -> nn.Module:
    """Construct op ``name`` for the given channels and stride."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown op {name!r}; registered ops are {names()} (add one with nasedu.ops.register)")
    return _REGISTRY[name](c_in, c_out, stride)


def is_parameter_free(name: str) -> bool:
    """True for ops that carry no weights when the shape is unchanged (skip connections)."""
    return name == "skip"


register("skip", Skip)
for _k in (3, 5, 7):
    register(f"conv{_k}", lambda c_in, c_out, s, k=_k: PlainConv(c_in, c_out, s, k))
    for _e in (1, 3, 4, 6):
        register(f"k{_k}e{_e}", lambda c_in, c_out, s, k=_k, e=_e: InvertedResidual(c_in, c_out, s, k, e))
