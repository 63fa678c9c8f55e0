"""Benchmark single-path one-shot NAS on this machine and print ratios measured in one run.

    python scripts/bench_spos.py [--space teaching] [--batch-size 128] [--device cpu]

1. single-path supernet train step / stand-alone network train step, same arch (goal <= 1.10):
   the supernet should cost no more than the one network it activates;
2. SPOS training throughput (images/s) with a new random path every step;
3. candidates scored per second with inherited weights, with and without BN recalibration.
Timings of the two models are interleaved, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch

import nasedu as nd
from nasedu import data, spos
from nasedu.training import sgd


def train_step_seconds(model, forward, x, y, steps: int) -> list[float]:
    """Wall-clock seconds of each of ``steps`` SGD steps (forward, backward, update)."""
    optimizer = sgd(model, lr=0.01)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(forward(x), y).backward()
        optimizer.step()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="teaching", choices=nd.spaces.names())
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--archs", type=int, default=6, help="random archs to compare")
    args = parser.parse_args()
    space, device = nd.spaces.get(args.space), torch.device(args.device)
    fmt = torch.channels_last
    print(f"space {space.name}, batch {args.batch_size}, {nd.hardware.device_description(device)}, channels_last")

    x = torch.randn(args.batch_size, *space.input_shape, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, space.num_classes, (args.batch_size,), device=device)
    supernet = nd.Supernet(space).to(device, memory_format=fmt)
    ratios = []
    for arch in [space.sample(random.Random(s)) for s in range(args.archs)]:
        alone = space.build(arch).to(device, memory_format=fmt)
        path_times, alone_times = [], []
        for _ in range(4):  # interleave rounds so load affects both alike
            path_times += train_step_seconds(supernet, lambda t: supernet(t, arch=arch), x, y, 5)[1:]
            alone_times += train_step_seconds(alone, alone, x, y, 5)[1:]
        ratio = statistics.median(path_times) / statistics.median(alone_times)
        ratios.append(ratio)
        print(f"  {space.readable(arch):40s} supernet path {1e3 * statistics.median(path_times):7.2f} ms"
              f"   stand-alone {1e3 * statistics.median(alone_times):7.2f} ms   ratio {ratio:.3f}")
    print(f"single-path supernet step / stand-alone step: {statistics.median(ratios):.3f} (goal <= 1.10)")

    if space.input_shape == (1, 28, 28):
        splits = data.load("digits", val_size=300)
    else:
        splits = data.synthetic(space.input_shape, space.num_classes, train_size=4 * args.batch_size, val_size=300)
    trainer = spos.SPOSTrainer(nd.Supernet(space), splits, spos.SPOSConfig(
        epochs=2, batch_size=args.batch_size, device=args.device, progress=False))
    history = trainer.fit()
    print(f"SPOS training, random path every step: {history[-1]['images_per_s']:,.0f} images/s")

    for recalibrate in (False, True):
        score = spos.InheritedEvaluator(trainer.supernet, splits, recalibrate=recalibrate, calib_batches=10)
        archs = [space.sample(random.Random(100 + s)) for s in range(20)]
        start = time.perf_counter()
        for arch in archs:
            score(arch)
        rate = len(archs) / (time.perf_counter() - start)
        print(f"candidates scored per second, BN recalibration {'on ' if recalibrate else 'off'}: {rate:6.1f}"
              f"  (validation {len(splits.val[1])} images"
              + (f", recalibration 10 x {256} images)" if recalibrate else ")"))


if __name__ == "__main__":
    main()
