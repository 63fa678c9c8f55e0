"""Does the evolutionary search of SPOS find NAS-Bench-Macro's best arch under a FLOPs limit?

For each limit, runs evolution (SPOS defaults), regularized evolution and random search with
the same number of evaluations for several seeds, with fitness = the table's mean accuracy and
cost = its FLOPs, and prints how often each found the true best feasible arch.

    .venv/bin/python scripts/bench_search.py [--table path/to/nas-bench-macro] [--seeds 20] [--evaluations 400]
"""

import argparse
import statistics
import time

from nasedu import search
from nasedu.benchmarks import NASBenchMacro

LIMITS = (45.5e6, 55.4e6, None)  # max FLOPs; None: no limit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=None, help="another nas-bench-macro_cifar10.json or its folder "
                        "(default: the copy shipped with nasedu)")
    parser.add_argument("--seeds", type=int, default=20, help="runs per search and limit")
    parser.add_argument("--evaluations", type=int, default=400, help="unique archs each run may evaluate")
    args = parser.parse_args()

    bench = NASBenchMacro(args.table)
    n = args.evaluations
    searches = {
        "evolution": lambda limit, seed: search.evolution(
            bench.space, bench.fitness, bench.cost, limit, max_evaluations=n, seed=seed),
        "regularized evolution": lambda limit, seed: search.regularized_evolution(
            bench.space, bench.fitness, bench.cost, limit, cycles=n, seed=seed),
        "random search": lambda limit, seed: search.random_search(
            bench.space, bench.fitness, bench.cost, limit, budget=n, seed=seed),
    }
    print(f"{bench}; {args.seeds} seeds, at most {n} unique evaluations per run\n")
    print(f"{'max FLOPs':>9}  {'best feasible arch':>24}  {'search':<21}  {'found best':>10}  "
          f"{'mean best acc':>13}  {'mean evals':>10}  {'s/run':>6}")
    for limit in LIMITS:
        arch, best = bench.best(limit)
        for name, run in searches.items():
            start = time.perf_counter()
            results = [run(limit, seed) for seed in range(args.seeds)]
            seconds = (time.perf_counter() - start) / args.seeds
            found = sum(r.best_fitness == best for r in results)
            mean_acc = statistics.mean(r.best_fitness for r in results)
            mean_evals = statistics.mean(r.num_evaluations for r in results)
            print(f"{'none' if limit is None else f'{limit / 1e6:.1f}M':>9}  "
                  f"{f'{bench.space.encode(arch)} ({best:.2f}%)':>24}  {name:<21}  "
                  f"{f'{found}/{args.seeds}':>10}  {mean_acc:>12.3f}%  {mean_evals:>10.1f}  {seconds:>6.3f}")
        print()


if __name__ == "__main__":
    main()
