"""What does regularized evolution's dedup change on the 256-arch teaching space?

Real et al. (2019) let a child that was evaluated before enter the population again (and count as an
evaluation); nasedu's default redraws it, so every evaluation is a new arch. This runs both on the
teaching ground truth (fitness = an arch's mean test accuracy) for several seeds, with random search
(distinct archs) as the baseline, and prints two tables:

- after N evaluations: the mean rank of the best arch found (1 = the true best of 256), how many runs
  found the true best, and how many distinct archs were evaluated;
- after N distinct archs (the cost when a repeat is a free lookup): how many runs found the true best,
  and how many evaluations that took.

    .venv/bin/python scripts/regularized_evolution_duplicates.py [--seeds 50] [--population 20] [--sample-size 5]
"""

import argparse
import statistics

import nasedu as nd

EVALUATIONS = (25, 50, 100, 150, 200)  # the first table compares the runs after this many evaluations
DISTINCT = (25, 50, 75, 100)  # the second after this many distinct archs
CYCLES = 2000  # long enough for the paper's rule to reach 100 distinct archs


def first_distinct(history: list, n: int) -> list:
    """The start of ``history`` that holds its first ``n`` distinct archs (all of it if it holds fewer)."""
    seen = set()
    for i, arch in enumerate(history):
        seen.add(arch)
        if len(seen) == n:
            return history[:i + 1]
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50, help="runs per rule")
    parser.add_argument("--population", type=int, default=20, help="living archs (the package's default is 50)")
    parser.add_argument("--sample-size", type=int, default=5, help="tournament size (the package's default is 10)")
    args = parser.parse_args()

    truth = nd.benchmarks.TeachingGroundTruth()
    ranked = sorted(truth.archs(), key=truth.fitness, reverse=True)
    rank = {arch: i + 1 for i, arch in enumerate(ranked)}  # 1 = the true best
    print(f"teaching space, {len(ranked)} archs; population {args.population}, sample size {args.sample_size}, "
          f"{args.seeds} seeds; fitness = mean test accuracy of the teaching ground truth")
    rules = {"dedup (nasedu default)": False, "duplicates (Real et al.)": True}
    runs = {rule: [[e.arch for e in nd.search.regularized_evolution(
                truth.space, truth.fitness, population=args.population, sample_size=args.sample_size,
                cycles=CYCLES, allow_duplicates=duplicates, seed=seed).history] for seed in range(args.seeds)]
            for rule, duplicates in rules.items()}
    runs["random search (baseline)"] = [[e.arch for e in nd.search.random_search(
        truth.space, truth.fitness, budget=len(ranked), seed=seed).history] for seed in range(args.seeds)]

    print(f"\nafter N evaluations\n{'N':>5}  {'rule':<24}  {'mean rank of best found':>23}  {'found the best':>14}  "
          f"{'distinct archs':>14}")
    for n in EVALUATIONS:
        for rule, histories in runs.items():
            ranks = [min(rank[a] for a in history[:n]) for history in histories]
            found = sum(r == 1 for r in ranks)
            print(f"{n:>5}  {rule:<24}  {statistics.mean(ranks):>23.1f}  {f'{found}/{args.seeds}':>14}  "
                  f"{statistics.mean(len(set(history[:n])) for history in histories):>14.1f}")
        print()

    print(f"after N distinct archs (a repeat is a free lookup)\n{'N':>5}  {'rule':<24}  {'found the best':>14}  "
          f"{'evaluations spent':>17}")
    for n in DISTINCT:
        for rule, histories in runs.items():
            starts = [first_distinct(history, n) for history in histories]
            found = sum(min(rank[a] for a in start) == 1 for start in starts)
            print(f"{n:>5}  {rule:<24}  {f'{found}/{args.seeds}':>14}  "
                  f"{statistics.mean(len(start) for start in starts):>17.1f}")
        print()


if __name__ == "__main__":
    main()
