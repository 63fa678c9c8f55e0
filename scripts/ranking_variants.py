"""Which way of training and scoring a supernet ranks the 256 teaching archs best in ~3 CPU minutes?

    python scripts/ranking_variants.py                      # every variant x 3 seeds -> resource/teaching_scores.json
    python scripts/ranking_variants.py --seeds 1 --epochs-scale 0.25 --out /tmp/pilot.json

Trained variants (SPOS on the notebooks' Fashion-MNIST splits, ``make_resources.TEACHING_SPOS``
otherwise; compute in image-paths, 1 unit = one uniform epoch of 55,000 images):

- ``uniform``: 8 uniform epochs (the shipped supernet's recipe), 8 units;
- ``uniform_24ep``: 24 uniform epochs, 24 units;
- ``fair`` / ``fair_6ep``: FairNAS sampling, 2 / 6 epochs of 4 paths per step, 8 / 24 units;
- ``fewshot_l<L>``: ``uniform`` then split on layer L into 4 sub-supernets, 4 epochs each, 24 units;
- ``uniform_no_recal``: ``uniform`` scored without BatchNorm recalibration;
- ``uniform_loss``: ``uniform`` scored by minus the validation loss instead of accuracy.

Every supernet is scored by validation accuracy with inherited weights (BN recalibrated).
Free scores: the zero-cost proxies of ``nasedu.proxies`` (seed = the init seed and the batch of
64 training images) and combinations ``uniform+<proxy>`` and ``fair_6ep+<proxy>`` (the mean of the
two rank scores, seed by seed).

Writes ``{"<variant>": {"seconds": s, "seeds": {"<seed>": {"<arch code>": score}}}}`` with a
score for each of the 256 archs (higher = better); ``seconds`` is the median over the seeds of
the training time on one thread (proxies: scoring time). Runs go to one-thread worker processes
and are appended to ``<out>.partial.jsonl``, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

import nasedu as nd
from make_resources import RESOURCE, TEACHING_DATA, TEACHING_SPOS
from resumable import run_all

# variant -> (sampler, epochs of the one-shot supernet, few-shot split layer or None)
TRAINED = {
    "uniform": ("uniform", 8, None),
    "uniform_24ep": ("uniform", 24, None),
    "fair": ("fair", 2, None),
    "fair_6ep": ("fair", 6, None),
    **{f"fewshot_l{layer}": ("uniform", 8, layer) for layer in range(4)},
}
FEWSHOT_EPOCHS = 4  # per sub-supernet: 4 sub-supernets x 4 epochs = 16 units on top of the 8 of "uniform"
PROXY_BATCH = 64
COMBINED = ("uniform", "fair_6ep")  # supernets also scored combined with each proxy


def units(variant: str) -> int:
    """Training compute of a variant in uniform epochs (image-paths / 55,000); 0 for a proxy."""
    if variant not in TRAINED:
        return 0
    sampler, epochs, layer = TRAINED[variant]
    return epochs * (4 if sampler == "fair" else 1) + (0 if layer is None else 4 * FEWSHOT_EPOCHS)


def codes(space: nd.SearchSpace) -> list[str]:
    return [space.encode(a) for a in space.enumerate()]


def train(job: tuple[str, int, float]) -> dict:
    """One trained variant and seed -> {variant: scores} (uniform also gives its no-recal and loss scorings)."""
    variant, seed, scale = job
    sampler, epochs, layer = TRAINED[variant]
    space, splits = nd.spaces.get("teaching"), nd.data.load(**TEACHING_DATA)
    config = dataclasses.replace(TEACHING_SPOS, sampler=sampler, epochs=max(1, round(epochs * scale)), seed=seed,
                                 progress=False)
    start = time.perf_counter()
    trainer = nd.spos.SPOSTrainer(nd.Supernet(space, seed=seed), splits, config)
    trainer.fit()
    scorers = {variant: nd.spos.InheritedEvaluator(trainer.supernet, splits)}
    if layer is not None:
        subnets = nd.fewshot.split(trainer.supernet, layer)
        sub_config = dataclasses.replace(config, epochs=max(1, round(FEWSHOT_EPOCHS * scale)))
        for sub in subnets:
            nd.spos.SPOSTrainer(sub, splits, sub_config).fit()
        scorers = {variant: nd.fewshot.FewShotEvaluator(space, subnets, layer, splits)}
    seconds = time.perf_counter() - start
    if variant == "uniform":
        scorers["uniform_no_recal"] = nd.spos.InheritedEvaluator(trainer.supernet, splits, recalibrate=False)
        scorers["uniform_loss"] = nd.spos.InheritedEvaluator(trainer.supernet, splits, score="loss")
    scores = {name: {code: score(code) for code in codes(space)} for name, score in scorers.items()}
    return {"job": variant, "seed": seed, "seconds": round(seconds, 1), "scores": scores}


def proxy(job: tuple[str, int, float]) -> dict:
    """One zero-cost proxy and seed (initial weights and the batch of images) -> its scores."""
    name, seed, _ = job
    space, splits = nd.spaces.get("teaching"), nd.data.load(**TEACHING_DATA)
    x, y = splits.train
    batch = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:PROXY_BATCH]
    start = time.perf_counter()
    scores = nd.proxies.score_space(space, name, x[batch], y[batch], seed=seed)
    return {"job": name, "seed": seed, "seconds": round(time.perf_counter() - start, 1), "scores": {name: scores}}


def run(job: tuple[str, int, float]) -> dict:
    return train(job) if job[0] in TRAINED else proxy(job)


def rank_scores(scores: dict[str, float]) -> dict[str, float]:
    """Scores replaced by their rank in 0..1 (1 = the best); ties share their mean rank."""
    names = list(scores)
    ranks = rankdata([scores[n] for n in names]) - 1
    return {n: float(r) / (len(names) - 1) for n, r in zip(names, ranks)}


def collect(records: list[dict], seeds: int) -> dict:
    """The teaching_scores.json layout, with the combinations <supernet>+<proxy>."""
    result: dict = {}
    for r in sorted(records, key=lambda r: (r["job"], r["seed"])):
        if r["seed"] >= seeds:
            continue
        for variant, scores in r["scores"].items():
            entry = result.setdefault(variant, {"seconds": [], "seeds": {}})
            entry["seconds"].append(r["seconds"])
            entry["seeds"][str(r["seed"])] = scores
    for base, name in itertools.product(COMBINED, nd.proxies.NAMES):
        if base in result and name in result:
            seeds_both = sorted(set(result[base]["seeds"]) & set(result[name]["seeds"]))
            combined = {}
            for seed in seeds_both:
                a, b = rank_scores(result[base]["seeds"][seed]), rank_scores(result[name]["seeds"][seed])
                combined[seed] = {code: (a[code] + b[code]) / 2 for code in a}
            result[f"{base}+{name}"] = {"seconds": list(result[base]["seconds"]), "seeds": combined}
    for entry in result.values():
        entry["seconds"] = statistics.median(entry["seconds"])
    return result


def summary(result: dict) -> list[str]:
    """One line per variant: median (min..max) tau over its seeds, overall and without skips."""
    truth = nd.benchmarks.TeachingGroundTruth()
    space = truth.space
    archs = list(space.enumerate())
    no_skip = [a for a in archs if "skip" not in space.readable(a)]
    lines = []
    for variant, entry in sorted(result.items()):
        taus = {"all": [], "no skip": []}
        for scores in entry["seeds"].values():
            for key, subset in (("all", archs), ("no skip", no_skip)):
                taus[key].append(nd.metrics.kendall_tau([scores[space.encode(a)] for a in subset],
                                                        [truth.fitness(a) for a in subset]))
        parts = [f"{k} {np.median(v):.2f} ({min(v):.2f}..{max(v):.2f})" for k, v in taus.items()]
        lines.append(f"{variant:22s} {entry['seconds']:7.1f} s  tau {parts[0]}  {parts[1]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", nargs="*", default=[*TRAINED, *nd.proxies.NAMES],
                        choices=[*TRAINED, *nd.proxies.NAMES])
    parser.add_argument("--epochs-scale", type=float, default=1.0, help="shrink every epoch count (pilot runs)")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=RESOURCE / "teaching_scores.json")
    args = parser.parse_args()
    jobs = sorted(((v, s, args.epochs_scale) for s in range(args.seeds) for v in args.variants),
                  key=lambda job: -units(job[0]))  # the longest runs first
    done = run_all(run, jobs, args.out.with_suffix(".partial.jsonl"), args.workers, "job",
                   lambda r: f"{r['job']:14s} seed {r['seed']}: {r['seconds']:7.1f} s")
    result = collect([r for r in done if r["job"] in args.variants], args.seeds)
    nd.checkpoint.atomic_write(args.out, lambda f: json.dump(result, f, separators=(",", ":")), mode="w")
    print("\n".join(summary(result)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
