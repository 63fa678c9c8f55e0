"""Ground truth for the teaching space: train every arch stand-alone with several seeds.

    python scripts/teaching_ground_truth.py                 # all 256 archs x 3 seeds -> resource/
    python scripts/teaching_ground_truth.py --archs 24 --seeds 2 --out /tmp/pilot.json   # a pilot
    python scripts/teaching_ground_truth.py --top 32 --seeds 5 --train-size 0 --epochs 6 \
        --out resource/teaching_ground_truth_top_6ep.json    # the best 32 archs again, all 60,000 images

Each worker process trains one network at a time on one CPU thread (on a 2-core machine,
two one-thread workers train almost twice as many networks per hour as one two-thread
process). Results are appended to ``<out>.partial.jsonl`` as they come, so an interrupted run
continues where it stopped. The table records the recipe, the time it took, each arch's
test accuracy per seed, params, MACs and latency, and the seed-to-seed noise: Kendall tau
between seeds over all archs and within the top 10% -- the yardstick for any estimate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

import nasedu as nd
from nasedu import data, hardware, metrics
from nasedu.training import TrainConfig, train_standalone


def _init_worker(train_size: int) -> None:
    """Per worker: one CPU thread and its own copy of the data."""
    global _SPLITS
    torch.set_num_threads(1)
    if train_size:
        _SPLITS = data.load("fashion-mnist", train_size=train_size, val_size=0.1, seed=0)
    else:  # every training image: the truth is measured on the official test set, no validation split is needed
        _SPLITS = data.load("fashion-mnist", val_size=0, seed=0)


def _train_one(job: tuple[str, int, TrainConfig]) -> dict:
    """Train one arch with one seed; return its row: arch, seed, test accuracy (%), seconds."""
    key, seed, config = job
    space = nd.spaces.get("teaching")
    start = time.perf_counter()
    _, history = train_standalone(lambda: space.build(key), _SPLITS.train, _SPLITS.test, config)
    return {"arch": key, "seed": seed, "acc": history[-1]["eval_acc"], "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--archs", type=int, default=0, help="a random subset of this many archs (0: all)")
    parser.add_argument("--top", type=int, default=0,
                        help="only the best this many archs by the shipped table's mean accuracy (0: all)")
    parser.add_argument("--train-size", type=int, default=20000, help="training images (0: all 60,000)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel one-thread trainings")
    parser.add_argument("--out", type=Path, default=Path("resource/teaching_ground_truth.json"))
    args = parser.parse_args()

    space = nd.spaces.get("teaching")
    archs = list(space.enumerate())
    if args.archs:
        archs = sorted(random.Random(0).sample(archs, args.archs))
    if args.top:
        shipped = nd.benchmarks.TeachingGroundTruth()
        archs = sorted(sorted(archs, key=shipped.fitness, reverse=True)[: args.top])
    base = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, progress=False,
                       eval_every_epoch=False)
    recipe = {"dataset": "fashion-mnist", "train_size": args.train_size or 60000, "evaluated_on": "official test set (10,000)",
              **dataclasses.asdict(base)}
    for key in ("seed", "progress", "eval_every_epoch"):
        recipe.pop(key)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial.jsonl")
    done, train_seconds = {}, 0.0
    if partial.exists():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            done[(row["arch"], row["seed"])] = row["acc"]
            if row["seed"] < args.seeds:  # rows of further seeds wait for a run with more --seeds
                train_seconds += row.get("seconds", 0.0)
    jobs = [(space.encode(arch), seed, dataclasses.replace(base, seed=seed))
            for seed in range(args.seeds) for arch in archs if (space.encode(arch), seed) not in done]
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with partial.open("a") as log, context.Pool(args.workers, _init_worker, (args.train_size,)) as pool:
        for row in pool.imap_unordered(_train_one, jobs):
            done[(row["arch"], row["seed"])] = row["acc"]
            train_seconds += row["seconds"]
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(f"seed {row['seed']} {space.readable(row['arch']):28s} {row['acc']:.2f}%  "
                  f"({len(done)}/{len(archs) * args.seeds}, {time.perf_counter() - start:.0f} s)", flush=True)
    seconds = time.perf_counter() - start

    params, macs = hardware.lookup_table(space, "params"), hardware.lookup_table(space, "macs")
    latency = hardware.lookup_table(space, "latency_ms", batch_size=32)
    accs = np.array([[done[(space.encode(a), s)] for s in range(args.seeds)] for a in archs])
    table = {
        "space": space.name,
        "recipe": recipe,
        "seeds": args.seeds,
        "train_seconds_all_runs": round(train_seconds, 1),  # summed over runs (workers run side by side)
        "latency_device": latency.device,
        "noise": {"kendall_tau_between_seeds": metrics.seed_to_seed_tau(accs),
                  "kendall_tau_between_seeds_top10": metrics.seed_to_seed_tau(accs, top_fraction=0.1)},
        "archs": {space.encode(a): {"acc": accs[i].tolist(), "mean_acc": float(accs[i].mean()),
                                    "params": params.cost(a), "macs": macs.cost(a), "latency_ms": latency.cost(a)}
                  for i, a in enumerate(archs)},
    }
    args.out.write_text(json.dumps(table, indent=1))
    print(json.dumps(table["noise"], indent=1), f"\n{seconds:.0f} s this run; wrote {args.out}")


if __name__ == "__main__":
    main()
