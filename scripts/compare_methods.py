"""Every method under one MACs budget, judged on the teaching space's ground truth.

    python scripts/compare_methods.py                 # 6 methods x 3 seeds -> resource/teaching_methods.json
    python scripts/compare_methods.py --seeds 1 --out /tmp/pilot.json
    python scripts/compare_methods.py --before OLD.json   # also keep OLD's runs of the methods that changed since

DARTS, FBNet, GDAS (the paper's alpha step and the all-gates one) and ProxylessNAS search with their papers' relaxations and alpha optimisers
(the course's recipes in ``make_resources.TEACHING_METHODS``) and a hinge loss on the budget;
their pick is the most probable arch within the budget (``argmax`` is recorded too: the hinge
bounds the expected cost, and argmax may exceed the budget). SPOS trains a supernet by uniform
single-path sampling and evolution searches it under the same budget. Each run's pick is looked up in ``resource/teaching_ground_truth.json``: its mean
accuracy over the truth's seeds and its rank among the archs within the budget (1 = the best).
The goal is every method's median pick in the top 10% of the feasible archs.

Runs go to one-thread worker processes and are appended to ``<out>.partial.jsonl`` as they
finish, so an interrupted comparison continues where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import time
from pathlib import Path

import nasedu as nd
from make_resources import DNAS_DATA, RESOURCE, TEACHING_DATA, TEACHING_METHODS, TEACHING_SPOS, budget_config, macs_budget
from resumable import run_all

METHODS = (*TEACHING_METHODS, "spos")


def run(job: tuple[str, int]) -> dict:
    """One search: (method, seed) -> its pick, the pick's cost and how sure the search was."""
    method, seed = job
    space = nd.spaces.get("teaching")
    macs = nd.hardware.lookup_table(space, "macs")
    budget = macs_budget()
    start = time.perf_counter()
    record = {"method": method, "seed": seed}
    if method == "spos":
        config = dataclasses.replace(TEACHING_SPOS, seed=seed, progress=False)
        splits = nd.data.load(**TEACHING_DATA)
        trainer = nd.spos.SPOSTrainer(nd.Supernet(space, seed=seed), splits, config)
        trainer.fit()
        score = nd.spos.InheritedEvaluator(trainer.supernet, splits)
        result = nd.search.evolution(space, score, cost=macs.cost, max_cost=budget, seed=seed)
        arch = result.best_arch
        record["evaluated"] = result.num_evaluations
    else:
        config = dataclasses.replace(budget_config(TEACHING_METHODS[method]), seed=seed, progress=False)
        trainer = nd.dnas.DNASTrainer(nd.Supernet(space, seed=seed), nd.data.load(**DNAS_DATA), config, macs)
        trainer.fit()
        argmax = trainer.derive()
        arch = trainer.derive(max_cost=budget).arch  # the most probable arch within the budget
        record.update(max_prob=sum(argmax.probs) / len(argmax.probs),  # mean over layers of the chosen op's p
                      argmax=space.encode(argmax.arch), argmax_cost=argmax.cost)
    record.update(arch=space.encode(arch), readable=space.readable(arch), cost=macs.cost(arch),
                  seconds=round(time.perf_counter() - start, 1))
    return record


def judge(records: list[dict], budget: float) -> dict:
    """Each pick's truth: mean accuracy and rank among the feasible archs; per method the median rank."""
    truth = nd.benchmarks.TeachingGroundTruth()
    feasible = sorted((a for a in truth.archs() if truth.cost(a) <= budget), key=truth.fitness, reverse=True)
    top = math.ceil(0.1 * len(feasible))
    for r in records:
        arch = truth.space.decode(r["arch"])
        r["truth_acc"] = truth.fitness(arch)
        r["feasible"] = r["cost"] <= budget
        r["rank"] = feasible.index(arch) + 1 if r["feasible"] else None  # None: over the budget
    summary = {}
    for method in dict.fromkeys(r["method"] for r in records):
        ranks = [r["rank"] if r["rank"] is not None else len(feasible) + 1 for r in records if r["method"] == method]
        summary[method] = {"median_rank": statistics.median(ranks), "in_top_10pct": sum(k <= top for k in ranks),
                           "runs": len(ranks), "goal_met": statistics.median(ranks) <= top}
    best = feasible[0]
    return {"budget": budget, "metric": "macs", "feasible_archs": len(feasible), "top_10pct_ranks": top,
            "best_feasible": {"arch": truth.space.encode(best), "readable": truth.space.readable(best),
                              "truth_acc": truth.fitness(best)},
            "summary": summary, "runs": records}


def changed_runs(before: dict, after: dict) -> dict:
    """Per method whose runs differ between two results (pick or certainty): the earlier summary and runs."""
    def runs(result: dict, method: str) -> list:
        return [(r["seed"], r["arch"], r.get("max_prob")) for r in result["runs"] if r["method"] == method]

    return {m: {"summary": s, "runs": [r for r in before["runs"] if r["method"] == m]}
            for m, s in before["summary"].items() if runs(before, m) != runs(after, m)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--out", type=Path, default=RESOURCE / "teaching_methods.json")
    parser.add_argument("--before", type=Path, help="an earlier result: its runs of the methods whose runs "
                                                    "differ now are kept under 'before' (e.g. before a fix)")
    args = parser.parse_args()
    jobs = sorted(((m, s) for s in range(args.seeds) for m in args.methods),
                  key=lambda job: job[0] != "spos")  # the longest runs first
    done = run_all(run, jobs, args.out.with_suffix(".partial.jsonl"), args.workers, "method",
                   lambda r: f"{r['method']:12s} seed {r['seed']}: {r['readable']:24s} "
                             f"{r['cost']:9,.0f} MACs  {r['seconds']:6.1f} s")
    recipes = {m: dataclasses.asdict(budget_config(c)) for m, c in TEACHING_METHODS.items()}
    recipes["spos"] = {**dataclasses.asdict(TEACHING_SPOS), "search": "nasedu.search.evolution (SPOS defaults)"}
    result = {**judge([r for r in done if r["method"] in args.methods and r["seed"] < args.seeds], macs_budget()),
              "data": {"dnas": DNAS_DATA, "spos": TEACHING_DATA}, "recipes": recipes}
    if args.before:
        result["before"] = changed_runs(json.loads(args.before.read_text()), result)
    nd.checkpoint.write_json(result, args.out)
    for method, s in result["summary"].items():
        print(f"{method:12s} median rank {s['median_rank']:>4} of {result['feasible_archs']}, "
              f"{s['in_top_10pct']}/{s['runs']} in the top {result['top_10pct_ranks']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
