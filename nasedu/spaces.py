"""Search spaces: a chain of searchable layers, each choosing one candidate op.

An architecture (``arch``) is a tuple of choice indices, one per searchable layer. It prints
as a digit string (``"02012100"``) or as a readable string (``"skip-k3e3-k5e6-..."``);
``decode`` accepts either.

Every network of a space is ``stem -> layer 0 -> ... -> layer L-1 -> head`` where the stem is
conv3x3 + BN + ReLU, and the head is conv1x1 + BN + ReLU, global average pooling and a
linear classifier.

A custom space is a few lines::

    >>> from nasedu.spaces import SearchSpace, LayerSpec
    >>> tiny = SearchSpace(
    ...     name="tiny", input_shape=(1, 28, 28), num_classes=10, stem_channels=8, stem_stride=2,
    ...     layers=(LayerSpec(8, 16, 2, ("skip", "k3e3")), LayerSpec(16, 16, 1, ("skip", "k3e3", "k5e6"))),
    ...     head_channels=32)
    >>> tiny.num_archs
    6
    >>> tiny.readable(tiny.decode("12"))
    'k3e3-k5e6'
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator, Sequence, Union

from torch import nn

from nasedu import ops
from nasedu.search import check_arch

if TYPE_CHECKING:
    from nasedu.data import Splits

Arch = tuple[int, ...]
ArchLike = Union[str, Sequence[int]]

MAX_ENUMERATE = 100_000


@dataclass(frozen=True)
class LayerSpec:
    """One searchable layer."""

    in_channels: int  # channels entering the layer
    out_channels: int  # channels leaving it
    stride: int  # 1 keeps the resolution, 2 halves it
    candidates: tuple[str, ...]  # op names, index = choice in an arch


@dataclass(frozen=True)
class SearchSpace:
    """A chain of searchable layers between a fixed stem and head."""

    name: str  # how the space is called, e.g. "teaching"
    input_shape: tuple[int, int, int]  # (C, H, W) of one input image
    num_classes: int  # outputs of the classifier
    stem_channels: int  # channels after the stem conv3x3
    stem_stride: int  # stride of the stem conv3x3
    layers: tuple[LayerSpec, ...]  # the searchable layers, in order
    head_channels: int  # channels of the head conv1x1 before pooling

    def __post_init__(self) -> None:
        channels = self.stem_channels
        for i, layer in enumerate(self.layers):
            if layer.in_channels != channels:
                raise ValueError(
                    f"space {self.name!r}: layer {i} expects {layer.in_channels} input channels "
                    f"but the layer before it gives {channels}"
                )
            if not layer.candidates:
                raise ValueError(f"space {self.name!r}: layer {i} has no candidate ops")
            for op in layer.candidates:
                if op not in ops.names():
                    raise KeyError(f"space {self.name!r}: layer {i} uses unknown op {op!r}; known ops are {ops.names()}")
            channels = layer.out_channels

    # -- size -----------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """Number of searchable layers L."""
        return len(self.layers)

    @property
    def candidates(self) -> list[tuple[str, ...]]:
        """``candidates[i]``: the op names layer i chooses from."""
        return [layer.candidates for layer in self.layers]

    @property
    def max_choices(self) -> int:
        """K, the largest number of candidates of any layer (the width of alpha)."""
        return max(len(c) for c in self.candidates)

    @property
    def op_names(self) -> list[str]:
        """Every op used in the space, in order of first appearance (for colours and legends)."""
        return list(dict.fromkeys(op for layer in self.layers for op in layer.candidates))

    @property
    def num_archs(self) -> int:
        """How many architectures the space holds."""
        return math.prod(len(c) for c in self.candidates)

    # -- codec ----------------------------------------------------------------------------
    def validate(self, arch: Sequence[int]) -> Arch:
        """Return ``arch`` as a tuple after checking its length and every choice."""
        return check_arch(self.candidates, arch, f"space {self.name!r}")

    def decode(self, text: ArchLike) -> Arch:
        """Parse ``"02012100"``, ``"skip-k3e3-..."`` or a sequence of ints into an arch."""
        if not isinstance(text, str):
            return self.validate(text)
        if "-" in text or (self.num_layers == 1 and not text.isdigit()):
            names = text.split("-")
            if len(names) != self.num_layers:
                raise ValueError(f"arch {text!r} names {len(names)} ops but space {self.name!r} has {self.num_layers} layers")
            arch = []
            for i, (name, options) in enumerate(zip(names, self.candidates)):
                if name not in options:
                    raise ValueError(f"arch {text!r}: layer {i} cannot be {name!r}; choose one of {options}")
                arch.append(options.index(name))
            return tuple(arch)
        if not text.isdigit():
            raise ValueError(f"arch {text!r} is neither digits like '0120' nor op names like 'skip-k3e3'")
        if self.max_choices > 10:
            raise ValueError(f"space {self.name!r} has more than 10 choices per layer; use op names joined by '-'")
        return self.validate(int(c) for c in text)

    def encode(self, arch: ArchLike) -> str:
        """The digit string of an arch, e.g. ``"02012100"``."""
        arch = self.decode(arch)
        if self.max_choices > 10:
            return self.readable(arch)
        return "".join(str(a) for a in arch)

    def readable(self, arch: ArchLike) -> str:
        """The op names of an arch joined by '-', e.g. ``"skip-k3e3-k5e6"``."""
        arch = self.decode(arch)
        return "-".join(options[a] for a, options in zip(arch, self.candidates))

    # -- sampling -------------------------------------------------------------------------
    def sample(self, rng: Union[random.Random, int, None] = None) -> Arch:
        """One architecture drawn uniformly; ``rng`` is a ``random.Random`` or a seed."""
        if not isinstance(rng, random.Random):
            rng = random.Random(rng)
        return tuple(rng.randrange(len(options)) for options in self.candidates)

    def enumerate(self) -> Iterator[Arch]:
        """Every architecture, in lexicographic order (small spaces only)."""
        if self.num_archs > MAX_ENUMERATE:
            raise ValueError(
                f"space {self.name!r} has {self.num_archs:,} archs, too many to enumerate "
                f"(limit {MAX_ENUMERATE:,}); use sample() instead"
            )
        return itertools.product(*(range(len(c)) for c in self.candidates))

    # -- networks -------------------------------------------------------------------------
    def build_stem(self) -> nn.Module:
        """conv3x3 + BN + ReLU from the input channels to ``stem_channels``."""
        return nn.Sequential(
            *ops.conv_bn(self.input_shape[0], self.stem_channels, 3, self.stem_stride), nn.ReLU(inplace=True)
        )

    def build_head(self) -> nn.Module:
        """conv1x1 + BN + ReLU, global average pool, linear classifier."""
        last = self.layers[-1].out_channels if self.layers else self.stem_channels
        return nn.Sequential(
            *ops.conv_bn(last, self.head_channels, 1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(self.head_channels, self.num_classes),
        )

    def build_op(self, layer: int, choice: int) -> nn.Module:
        """A fresh module for candidate ``choice`` of searchable ``layer``."""
        spec = self.layers[layer]
        return ops.build(spec.candidates[choice], spec.in_channels, spec.out_channels, spec.stride)

    def build(self, arch: ArchLike) -> "ChildNet":
        """A fresh, randomly initialised stand-alone network for ``arch``."""
        arch = self.decode(arch)
        layers = [self.build_op(i, a) for i, a in enumerate(arch)]
        return ChildNet(self, arch, self.build_stem(), layers, self.build_head())


class ChildNet(nn.Module):
    """A stand-alone network of one architecture: stem, one op per layer, head."""

    def __init__(self, space: SearchSpace, arch: Arch, stem: nn.Module, layers: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.space = space
        self.arch = arch
        self.stem = stem
        self.layers = nn.ModuleList(layers)
        self.head = head

    def forward(self, x):  # (B, C, H, W) -> (B, classes)
        check_input(self.space, x)
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)

    def extra_repr(self) -> str:
        return f"space={self.space.name!r}, arch={self.space.readable(self.arch)!r}"


def check_input(space: SearchSpace, x) -> None:
    """Raise a clear error unless ``x`` is a batch of the space's input shape."""
    if x.dim() != 4 or tuple(x.shape[1:]) != tuple(space.input_shape):
        raise ValueError(
            f"space {space.name!r} expects input of shape (batch, {', '.join(map(str, space.input_shape))}), "
            f"got {tuple(x.shape)}"
        )


def check_splits(space: SearchSpace, splits: "Splits") -> None:
    """Raise a clear error unless the dataset's images have the shape the space expects."""
    if tuple(splits.input_shape) != tuple(space.input_shape):
        raise ValueError(f"dataset {splits.name!r} has images {tuple(splits.input_shape)} but space {space.name!r} "
                         f"expects {tuple(space.input_shape)}; pick a matching pair")


# -- built-in spaces ------------------------------------------------------------------------

def _stages(stem: int, widths: Sequence[tuple[int, int, int]], candidates: tuple[str, ...]) -> tuple[LayerSpec, ...]:
    """Layers from (channels, repeats, first stride) stages."""
    layers, c_in = [], stem
    for c_out, repeats, stride in widths:
        for r in range(repeats):
            layers.append(LayerSpec(c_in, c_out, stride if r == 0 else 1, candidates))
            c_in = c_out
    return tuple(layers)


def nas_bench_macro() -> SearchSpace:
    """NAS-Bench-Macro (Su et al., CVPR 2021): 3^8 archs on CIFAR-10, exactly as published."""
    return SearchSpace(
        name="nas-bench-macro", input_shape=(3, 32, 32), num_classes=10, stem_channels=32, stem_stride=1,
        layers=_stages(32, [(64, 2, 2), (128, 3, 2), (256, 3, 2)], ("skip", "k3e3", "k5e6")),
        head_channels=1280,
    )


def teaching() -> SearchSpace:
    """A 4^4 = 256-arch space on 1x28x28 images that trains in seconds on a CPU.

    Candidates differ clearly in cost: ``skip`` (free), ``k3e1`` (cheap), and two dear ones
    with similar parameters and MACs but very different latency on a CPU: ``k5e3`` (a wider,
    larger-kernel inverted residual block, depthwise) and ``conv3`` (a dense 3x3 conv).
    """
    return SearchSpace(
        name="teaching", input_shape=(1, 28, 28), num_classes=10, stem_channels=16, stem_stride=2,
        layers=_stages(16, [(24, 2, 2), (48, 2, 2)], ("skip", "k3e1", "k5e3", "conv3")),
        head_channels=96,
    )


def mobile() -> SearchSpace:
    """A ProxylessNAS/FBNet-like space: kernel 3/5/7 x expansion 3/6 + skip, 12 layers, CIFAR-size input."""
    return SearchSpace(
        name="mobile", input_shape=(3, 32, 32), num_classes=10, stem_channels=32, stem_stride=1,
        layers=_stages(32, [(32, 2, 1), (48, 3, 2), (96, 4, 2), (160, 3, 2)],
                       ("skip", "k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6")),
        head_channels=640,
    )


_BUILTIN = {"nas-bench-macro": nas_bench_macro, "teaching": teaching, "mobile": mobile}


def names() -> list[str]:
    """Names of the built-in spaces."""
    return list(_BUILTIN)


def get(name: str) -> SearchSpace:
    """A built-in space by name: ``"nas-bench-macro"``, ``"teaching"`` or ``"mobile"``."""
    if name not in _BUILTIN:
        raise KeyError(f"unknown space {name!r}; built-in spaces are {names()}")
    return _BUILTIN[name]()
