"""Regenerate the figures in resource/figures/ with nasedu.plots.

    python scripts/make_figures.py                 # diagrams, DNAS, search and ranking figures
    python scripts/make_figures.py --latency       # also the hardware figures, measured on this machine

- supernet_*.png: the three pictures of the supernet encoding (teaching space).
- dnas_*.png: what a DNAS history looks like, drawn from a *synthetic* history (logits drifting
  towards one op per layer); the figures say so in their title.
- dnas_collapse_truth.png: the shipped 30-epoch DARTS run (resource/teaching_darts_long.pt): the
  weight on skips per layer, and the true accuracy of the arch it would answer at every step, by
  argmax and by perturbation (notebook 03, section 6).
- search_*.png, ranking_params.png: real searches on NAS-Bench-Macro (the table shipped with nasedu,
  or --bench PATH).
- hardware_*.png (with --latency): MACs against latency measured here; a busy machine gives
  noisy numbers, so measure on an idle one.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import nasedu as nd  # noqa: E402
from nasedu import plots, search  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "resource" / "figures"
DPI = 110
SYNTHETIC = "illustration: a synthetic DNAS history"


def save(ax_or_axes, name: str) -> None:
    figure = np.asarray(ax_or_axes).flat[0].figure
    figure.savefig(OUT / name, dpi=DPI)
    plt.close(figure)
    print("wrote", (OUT / name).relative_to(REPO))


def synthetic_history(space: nd.SearchSpace, table: nd.hardware.LookupTable, target: tuple[int, ...],
                      steps: int = 150, seed: int = 0) -> dict:
    """A DNAS history of the documented shape: noisy logits drifting towards ``target``, under a budget."""
    rng = np.random.default_rng(seed)
    alpha = np.zeros((space.num_layers, space.max_choices))  # (L, K)
    pull = np.eye(space.max_choices)[list(target)]  # (L, K) one-hot
    budget = 1.05 * table.cost(target)
    history = {key: [] for key in ("step", "probs", "entropy", "expected_cost", "task_loss", "hardware_loss",
                                   "temperature")}
    for t in range(steps):
        alpha += 0.04 * pull + rng.normal(0, 0.08, size=alpha.shape)
        probs = np.exp(alpha - alpha.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        cost = table.base + float((probs * np.array(table.costs)).sum())
        history["step"].append(10 * t)
        history["probs"].append(probs.tolist())
        history["entropy"].append((-(probs * np.log(probs)).sum(1)).tolist())
        history["expected_cost"].append(cost)
        history["task_loss"].append(2.3 * np.exp(-t / 40) + 0.4 + rng.normal(0, 0.03))
        history["hardware_loss"].append(0.5 * max(0.0, cost / budget - 1))
        history["temperature"].append(5.0 * 0.98 ** t)
    return {**history, "op_names": [list(c) for c in space.candidates], "metric": table.metric, "budget": budget}


def supernet_figures(space: nd.SearchSpace, history: dict) -> None:
    save(plots.supernet_diagram(space), "supernet_all.png")
    save(plots.supernet_diagram(space, arch=space.decode("k3e1-k5e3-skip-conv3")), "supernet_path.png")
    late = history["probs"][len(history["probs"]) * 2 // 3]
    save(plots.supernet_diagram(space, probs=late), "supernet_alpha.png")


def dnas_figures(history: dict) -> None:
    axes = plots.dnas_summary(history)
    axes.flat[0].figure.suptitle(SYNTHETIC, color="0.4")
    save(axes, "dnas_summary.png")
    axes = plots.alpha_areas(history)
    axes.flat[0].figure.suptitle(SYNTHETIC, color="0.4")
    save(axes, "dnas_alpha_areas.png")


def search_figures(bench_path: Optional[Path]) -> None:
    bench = nd.benchmarks.NASBenchMacro(bench_path)
    archs = bench.archs()
    flops = [bench.cost(a) for a in archs]
    accuracy = [bench.fitness(a) for a in archs]
    budget = 50e6
    optimum = bench.best(budget)[1]
    ylabel = "CIFAR-10 accuracy (%)"
    result = search.evolution(bench.space, bench.fitness, bench.cost, budget, generations=15, seed=0)
    save(plots.fitness_per_generation(result, optimum=optimum, ylabel=ylabel), "search_generations.png")
    save(plots.population_scatter(result, max_cost=budget, metric="flops", ylabel=ylabel), "search_population.png")
    save(plots.pareto(result, max_cost=budget, background=(flops, accuracy), metric="flops", ylabel=ylabel),
         "search_pareto.png")
    runs = {
        "random search": [search.random_search(bench.space, bench.fitness, bench.cost, budget, budget=200, seed=s)
                          for s in range(10)],
        "evolution": [search.evolution(bench.space, bench.fitness, bench.cost, budget, population=20, top_k=5,
                                       mutations=10, crossovers=10, generations=10, seed=s) for s in range(10)],
    }
    ax = plots.search_comparison(runs, optimum=optimum, ylabel="best accuracy so far (%)")
    ax.set_ylim(optimum - 1.5, optimum + 0.3)
    save(ax, "search_random_vs_evolution.png")
    sample = archs[::20]
    ax = plots.ranking([bench.cost(a, "params") for a in sample], [bench.fitness(a) for a in sample], xlabel=ylabel)
    plots.cost_axis(ax.yaxis, "params")
    ax.set_ylabel("parameters (a naive proxy)")
    save(ax, "ranking_params.png")


def collapse_figure(space: nd.SearchSpace) -> None:
    """The collapse of the shipped long DARTS run, judged by the teaching space's ground truth."""
    splits = nd.data.load("fashion-mnist", train_size=10000, val_size=5000, seed=0)
    long = nd.dnas.load_or_train(REPO / "resource" / "teaching_darts_long.pt", space, splits)
    truth = nd.benchmarks.TeachingGroundTruth()
    probs = np.array(long.history.probs)  # (records, L, K)
    skip = space.candidates[0].index("skip")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, layout="constrained")
    for i in range(space.num_layers):
        top.plot(long.history.step, probs[:, i, skip], label=f"layer {i}")
    top.axhline(0.5, color="0.5", linestyle="--", label="collapse threshold")
    top.set(ylabel="P(skip)", title="DARTS, 30 epochs: the weight on skip connections")
    top.set_ylim(0, 1.3)
    top.legend(frameon=False, fontsize=8, ncol=5, loc="upper left")
    steps_per_epoch = long.history.step[-1] // len(long.log)
    perturbation = ([steps_per_epoch * e["epoch"] for e in long.log], [e["perturbation_arch"] for e in long.log])
    plots.derived_truth(long.history, truth.fitness, ax=bottom, label="argmax(α) at each step",
                        others={"selected by perturbation, after each epoch": perturbation})
    save(bottom, "dnas_collapse_truth.png")


def hardware_figures(space: nd.SearchSpace, macs: nd.hardware.LookupTable) -> None:
    latency = nd.hardware.lookup_table(space, "latency_ms")
    save(plots.op_cost_vs_latency(space, macs, latency), "hardware_ops.png")
    archs = [space.sample(seed) for seed in range(30)]
    check = nd.hardware.latency_check(space, latency, archs)
    save(plots.arch_cost_vs_latency([macs.cost(a) for a in archs], check["measured"]), "hardware_archs.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=None,
                        help="another NAS-Bench-Macro table or its folder (default: the copy shipped with nasedu)")
    parser.add_argument("--latency", action="store_true", help="also measure latency here and draw hardware figures")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    space = nd.spaces.get("teaching")
    macs = nd.hardware.lookup_table(space, "macs")
    history = synthetic_history(space, macs, target=space.decode("k3e1-k5e3-skip-k5e3"))
    supernet_figures(space, history)
    dnas_figures(history)
    collapse_figure(space)
    search_figures(args.bench)
    if args.latency:
        hardware_figures(space, macs)


if __name__ == "__main__":
    main()
