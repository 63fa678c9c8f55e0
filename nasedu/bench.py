"""Benchmarks that print ratios measured in one run on this machine (``nasedu bench``).

Each measurement times the things it compares in *interleaved* rounds, so a change in the
machine's load slows all of them alike and the ratio holds. Rows:

- single-path supernet step / stand-alone step of the same arch (goal <= 1.10);
- DNAS mixed-op step / sum of the stand-alone steps of its K candidates (goal <= 1.2);
- memory-light DNAS peak activation memory / full mixture's (goal <= 0.4 for K = 4);
- candidates scored per second with inherited weights and BN recalibration;
- images per second of SPOS training.

On a machine with a GPU every row is measured on the CPU and on the GPU.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from nasedu import data, hardware, methods, spaces, spos
from nasedu.spaces import SearchSpace
from nasedu.supernet import Supernet


@dataclass(frozen=True)
class Row:
    """One line of the benchmark table."""

    name: str  # what was measured
    value: float  # the measured number
    unit: str  # "x" for a ratio, else the unit
    goal: str = ""  # the target, e.g. "<= 1.10"
    detail: str = ""  # the raw numbers behind a ratio


def interleaved_seconds(steps: dict[str, Callable[[], None]], device: torch.device, repeats: int,
                        warmup: int = 3) -> dict[str, float]:
    """Median seconds of each ``steps[name]()``, run in turn ``warmup + repeats`` times."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for i in range(warmup + repeats):
        for name, step in steps.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def training_step(model: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
                  y: torch.Tensor) -> Callable[[], None]:
    """A closure running forward, cross-entropy, backward and an SGD step of ``model``."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(forward(x), y).backward()
        optimizer.step()

    return step


def saved_activation_bytes(run: Callable[[], None], module: nn.Module) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``run()`` (weights excluded).

    This is the activation memory a training step holds at its peak, on any device.
    """
    weights = {p.untyped_storage().data_ptr() for p in module.parameters()}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        run()
    return sum(kept.values())


def batch(space: SearchSpace, batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A random channels-last batch of the space's input shape."""
    x = torch.randn(batch_size, *space.input_shape, device=device).contiguous(memory_format=torch.channels_last)
    return x, torch.randint(space.num_classes, (batch_size,), device=device)


def spos_step_ratio(space: SearchSpace, batch_size: int, device: torch.device, archs: int = 4,
                    repeats: int = 10) -> Row:
    """Single-path supernet train step / stand-alone train step of the same arch (median over archs)."""
    x, y = batch(space, batch_size, device)
    supernet = Supernet(space).to(device, memory_format=torch.channels_last)
    ratios, details = [], []
    for seed in range(archs):
        arch = space.sample(random.Random(seed))
        alone = space.build(arch).to(device, memory_format=torch.channels_last)
        seconds = interleaved_seconds({
            "path": training_step(supernet, lambda t: supernet(t, arch=arch), x, y),
            "alone": training_step(alone, alone, x, y)}, device, repeats)
        ratios.append(seconds["path"] / seconds["alone"])
        details.append(f"{space.encode(arch)}: {1e3 * seconds['path']:.1f}/{1e3 * seconds['alone']:.1f} ms")
    return Row("SPOS path step / stand-alone step", statistics.median(ratios), "x", "<= 1.10", ", ".join(details))


def dnas_step_ratio(space: SearchSpace, batch_size: int, device: torch.device, repeats: int = 10) -> Row:
    """DARTS mixed-op step (every candidate runs) / summed steps of the K one-candidate networks."""
    x, y = batch(space, batch_size, device)
    supernet = Supernet(space).to(device, memory_format=torch.channels_last)
    alpha = torch.zeros(space.num_layers, space.max_choices, device=device)
    gates = methods.relax(alpha, space, "softmax")
    steps = {"mixture": training_step(supernet, lambda t: supernet(t, **gates.forward_args()), x, y)}
    for choice in range(space.max_choices):
        arch = tuple(min(choice, len(c) - 1) for c in space.candidates)
        model = space.build(arch).to(device, memory_format=torch.channels_last)
        steps[space.readable(arch)] = training_step(model, model, x, y)
    seconds = interleaved_seconds(steps, device, repeats)
    alone = sum(s for name, s in seconds.items() if name != "mixture")
    return Row("DNAS mixed-op step / sum of candidate steps", seconds["mixture"] / alone, "x", "<= 1.2",
               f"{1e3 * seconds['mixture']:.1f} ms / {1e3 * alone:.1f} ms")


def memory_ratio(space: SearchSpace, batch_size: int, device: torch.device, samples: int = 10) -> Row:
    """Peak activation memory of ProxylessNAS's two-path binary gates / the full mixture's.

    The second path runs detached (without a graph), so about one path's activations are kept.
    """
    x, y = batch(space, batch_size, device)
    supernet = Supernet(space).to(device, memory_format=torch.channels_last)
    alpha = torch.zeros(space.num_layers, space.max_choices, device=device, requires_grad=True)
    generator = torch.Generator().manual_seed(0)

    def step(gates: methods.Gates) -> Callable[[], None]:
        return lambda: nn.functional.cross_entropy(supernet(x, **gates.forward_args()), y).backward()

    full = saved_activation_bytes(step(methods.relax(alpha, space, "softmax")), supernet)
    light = statistics.mean(saved_activation_bytes(step(methods.relax(alpha, space, "binary", generator=generator)),
                                                   supernet) for _ in range(samples))
    return Row("memory-light DNAS / full DNAS peak activations", light / full, "x", "<= 0.4",
               f"{light / 2**20:.1f} MiB / {full / 2**20:.1f} MiB")


def spos_throughput(space: SearchSpace, batch_size: int, device: torch.device, steps: int = 30) -> Row:
    """Images per second of SPOS training with a new random path every step (no hidden warm-up)."""
    splits = data.synthetic(space.input_shape, space.num_classes, train_size=steps * batch_size, val_size=256)
    trainer = spos.SPOSTrainer(Supernet(space), splits, spos.SPOSConfig(
        epochs=1, batch_size=batch_size, device=str(device), progress=False))
    return Row("SPOS training, random paths", trainer.fit()[-1]["images_per_s"], "images/s",
               detail=f"batch {batch_size}, {steps} steps from the first")


def scoring_rate(space: SearchSpace, device: torch.device, archs: int = 10, calib_batches: int = 10) -> Row:
    """Archs scored per second with inherited weights and BN recalibration."""
    splits = data.synthetic(space.input_shape, space.num_classes, train_size=calib_batches * 256, val_size=1000)
    score = spos.InheritedEvaluator(Supernet(space).to(device), splits, calib_batches=calib_batches,
                                    device=str(device))
    start = time.perf_counter()
    for seed in range(archs):
        score(space.sample(random.Random(seed)))
    return Row("archs scored with BN recalibration", archs / (time.perf_counter() - start), "archs/s",
               detail=f"{calib_batches} x 256 images recalibration, 1000 validation images")


def run(space_name: str = "teaching", batch_size: int = 128, devices: Optional[list[str]] = None,
        print_row: Callable[[str, Row], None] = None) -> list[tuple[str, Row]]:
    """Every benchmark on every device (CPU, and the GPU when there is one); prints rows as they come."""
    space = spaces.get(space_name)
    devices = devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print_row = print_row or print_table_row
    rows = []
    for name in devices:
        device = torch.device(name)
        print(f"-- {hardware.device_description(device)}; space {space.name}, batch {batch_size}, channels_last")
        for measure in (lambda: spos_step_ratio(space, batch_size, device),
                        lambda: dnas_step_ratio(space, batch_size, device),
                        lambda: memory_ratio(space, batch_size, device),
                        lambda: scoring_rate(space, device),
                        lambda: spos_throughput(space, batch_size, device)):
            row = measure()
            rows.append((name, row))
            print_row(name, row)
    return rows


def print_table_row(device: str, row: Row) -> None:
    """One aligned line: device, what, value, goal, detail."""
    value = f"{row.value:.3f} {row.unit}" if row.unit == "x" else f"{row.value:,.1f} {row.unit}"
    print(f"{device:5s} {row.name:48s} {value:>18s}  {('goal ' + row.goal) if row.goal else '':12s} {row.detail}",
          flush=True)
