"""What a DNAS run records and watches: the :class:`History` of softmax(alpha) that the plots read,
and the :class:`CollapseMonitor` that warns when parameter-free ops take over (DARTS's collapse).

Used in: 03_dnas, 04_hardware_dnas.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import torch

from nasedu import checkpoint
from nasedu.relax import entropy
from nasedu.spaces import SearchSpace


def is_parameter_free(space: SearchSpace, layer: int, choice: int) -> bool:
    """True when candidate ``choice`` of ``layer`` has no weights as built there (e.g. a skip that keeps the shape)."""
    return not any(True for _ in space.build_op(layer, choice).parameters())


# -- collapse -----------------------------------------------------------------------------------------

class CollapseWarning(UserWarning):
    """Parameter-free candidates (skip) are taking over the architecture, as in DARTS on NAS-Bench-201."""


class CollapseMonitor:
    """Warns when parameter-free candidates hold most of the weight in layer after layer.

    A candidate is parameter-free when the op built in its layer has no weights: a skip that
    keeps the shape, not a strided skip (a 1x1 convolution + BN in NAS-Bench-Macro's spaces).

    A layer has *collapsed* when the probability on its parameter-free candidates exceeds
    ``threshold``. The monitor warns once ``min_layers`` layers (default: half) have
    collapsed, and again each time one more does.
    """

    def __init__(self, space: SearchSpace, threshold: float = 0.5, min_layers: Optional[int] = None) -> None:
        self.space = space
        self.threshold = threshold
        self.min_layers = min_layers or math.ceil(space.num_layers / 2)
        self.free = torch.tensor([[k < len(c) and is_parameter_free(space, i, k) for k in range(space.max_choices)]
                                  for i, c in enumerate(space.candidates)])  # (L, K)
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
        checkpoint.write_json(self.as_dict(), path)

    @classmethod
    def load(cls, path: Union[str, Path]) -> "History":
        """Read a history written by :meth:`save`."""
        with open(path) as f:
            return cls.from_dict(json.load(f))
