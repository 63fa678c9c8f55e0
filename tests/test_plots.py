"""Plots draw what they claim: the right artists, labels and data, headless (Agg)."""

import random

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex, to_rgba  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402
from scipy import stats  # noqa: E402

import nasedu  # noqa: E402
from nasedu import hardware, plots, search, spaces  # noqa: E402
from nasedu.hardware import LookupTable  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def space():
    return spaces.get("teaching")


@pytest.fixture(scope="module")
def macs(space):
    return hardware.lookup_table(space, "macs")


def synthetic_history(space, steps=40, budget=5e5, seed=0):
    """A DNAS history of the documented shape: logits drift towards one op per layer."""
    rng = np.random.default_rng(seed)
    num_layers, k = space.num_layers, space.max_choices
    target = np.eye(k)[rng.integers(k, size=num_layers)]
    alpha = np.zeros((num_layers, k))
    probs = []
    for _ in range(steps):
        alpha += 0.2 * target + rng.normal(0, 0.05, size=alpha.shape)
        p = np.exp(alpha) / np.exp(alpha).sum(1, keepdims=True)
        probs.append(p.tolist())
    p = np.array(probs)
    return {
        "step": list(range(0, 5 * steps, 5)), "probs": probs, "entropy": (-(p * np.log(p)).sum(-1)).tolist(),
        "expected_cost": list(np.linspace(7e5, 4e5, steps)), "task_loss": list(np.linspace(2.3, 0.5, steps)),
        "hardware_loss": list(np.linspace(0.4, 0.0, steps)), "temperature": list(np.linspace(5, 0.5, steps)),
        "op_names": [list(c) for c in space.candidates], "metric": "macs", "budget": budget,
    }


def toy_result(space, seed=0):
    fitness = lambda arch: float(sum((i + 1) * a for i, a in enumerate(arch)))  # noqa: E731
    cost = lambda arch: float(sum(arch))  # noqa: E731
    return search.evolution(space, fitness, cost, max_cost=8, population=10, top_k=3, mutations=5, crossovers=5,
                            generations=4, seed=seed)


# -- colours ----------------------------------------------------------------------------------

def test_each_op_keeps_its_colour_in_every_space():
    colors = {name: plots.op_colors(spaces.get(name).op_names) for name in spaces.names()}
    for name, mapping in colors.items():
        assert len(set(mapping.values())) == len(mapping), f"two ops of {name!r} share a colour"
        assert mapping["skip"] == plots.PALETTE[7]
    shared = set(colors["teaching"]) & set(colors["mobile"])
    assert all(colors["teaching"][op] == colors["mobile"][op] for op in shared)


def test_unknown_ops_take_unused_colours_and_too_many_ops_raise():
    mapping = plots.op_colors(["skip", "mine", "k3e3", "yours"])
    assert len(set(mapping.values())) == 4 and mapping["k3e3"] == plots.FIXED_COLORS["k3e3"]
    with pytest.raises(ValueError, match="colours"):
        plots.op_colors([f"op{i}" for i in range(11)])


# -- supernet diagram ----------------------------------------------------------------------------

def boxes(ax):
    return [p for p in ax.patches if isinstance(p, FancyBboxPatch)]


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_diagram_draws_every_candidate_box(space):
    ax = plots.supernet_diagram(space)
    assert len(boxes(ax)) == space.num_layers * space.max_choices + 2  # + stem and head
    assert texts(ax).count("conv3") == space.num_layers and "stem" in texts(ax) and "head" in texts(ax)
    assert "256 archs" in ax.get_title()
    assert all(b.get_facecolor()[3] == pytest.approx(1.0) for b in boxes(ax))


def test_diagram_highlights_one_path(space):
    arch = (1, 0, 3, 2)
    ax = plots.supernet_diagram(space, arch=arch)
    assert space.readable(arch) in ax.get_title()
    strong = [b for b in boxes(ax)[2:] if b.get_facecolor()[3] == pytest.approx(1.0)]
    assert len(strong) == space.num_layers
    assert all(to_hex(b.get_edgecolor()) == "#000000" for b in strong)
    layer_of = lambda b: round(b.get_x() + b.get_width() / 2) - 1  # noqa: E731
    row_of = lambda b: -round(b.get_y() + b.get_height() / 2)  # noqa: E731
    assert sorted((layer_of(b), row_of(b)) for b in strong) == list(enumerate(arch))


def test_diagram_opacity_follows_probabilities(space):
    probs = np.full((4, 4), 0.1)
    probs[:, 2] = 0.7
    ax = plots.supernet_diagram(space, probs=probs)
    alphas = sorted(round(b.get_facecolor()[3], 3) for b in boxes(ax)[2:])
    assert alphas == [round(0.12 + 0.88 * 0.1, 3)] * 12 + [round(0.12 + 0.88 * 0.7, 3)] * 4
    assert "k5e3\n0.70" in texts(ax)


def test_diagram_accepts_a_list_of_candidates_and_rejects_bad_input(space):
    ax = plots.supernet_diagram([["skip", "k3e3"], ["k3e3", "k5e6", "skip"]], arch=(1, 2))
    assert "k3e3-skip" in ax.get_title()
    with pytest.raises(ValueError, match="out of range"):
        plots.supernet_diagram(space, arch=(0, 0, 0, 4))
    with pytest.raises(ValueError, match="shape"):
        plots.supernet_diagram(space, probs=np.ones((3, 4)))
    with pytest.raises(ValueError, match="not both"):
        plots.supernet_diagram(space, arch=(0, 0, 0, 0), probs=np.ones((4, 4)) / 4)



@pytest.mark.parametrize("module", sorted(nasedu.SUBMODULES))
def test_no_function_is_longer_than_60_lines(module):
    """Short enough to read in class (supernet_diagram had 82 lines before its helpers)."""
    import ast
    import importlib
    import inspect

    tree = ast.parse(inspect.getsource(importlib.import_module(f"nasedu.{module}")))
    long = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60}
    assert not long, long

# -- DNAS histories ------------------------------------------------------------------------------

class History:
    def __init__(self, data):
        self.data = data

    def as_dict(self):
        return self.data


def test_history_is_checked(space):
    history = synthetic_history(space)
    assert plots.dnas_history(History(history))["probs"].shape == (40, 4, 4)
    with pytest.raises(ValueError, match="lacks"):
        plots.dnas_history({k: v for k, v in history.items() if k != "entropy"})
    with pytest.raises(ValueError, match="entropy"):
        plots.dnas_history({**history, "entropy": history["entropy"][:-1]})
    with pytest.raises(TypeError):
        plots.dnas_history([1, 2, 3])


def test_alpha_area_stacks_the_layer_probabilities(space):
    history = synthetic_history(space)
    ax = plots.alpha_area(history, layer=2)
    assert len(ax.collections) == 4  # one band per candidate
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(space.candidates[2])
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(1.0)
    colors = plots.op_colors(space.op_names)
    assert to_hex(ax.collections[0].get_facecolor()[0]) == colors["skip"]
    with pytest.raises(ValueError, match="out of range"):
        plots.alpha_area(history, layer=4)


def test_alpha_areas_draws_one_panel_per_layer(space):
    axes = plots.alpha_areas(synthetic_history(space))
    assert sum(ax.get_visible() and ax.axison for ax in axes.flat) == space.num_layers
    legend = axes.flat[0].figure.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == space.op_names


def test_alpha_heatmap_holds_every_layer_and_candidate(space):
    history = synthetic_history(space)
    ax = plots.alpha_heatmap(history)
    data = ax.collections[0].get_array().reshape(16, 40)
    assert np.allclose(data[5], np.array(history["probs"])[:, 1, 1])
    assert ax.get_yticklabels()[5].get_text() == "1: k3e1"


def test_dnas_curves(space):
    history = synthetic_history(space)
    ax = plots.dnas_cost(history, marker_step=50)
    assert "MACs" in ax.get_title()
    assert [line.get_ydata()[0] for line in ax.lines[1:2]] == [5e5]  # the budget
    assert ax.lines[2].get_xdata()[0] == 50
    assert len(plots.dnas_cost({**history, "budget": None}).lines) == 1
    ax = plots.dnas_entropy(history)
    assert np.allclose(ax.lines[5].get_ydata(), np.array(history["entropy"]).mean(1))
    ax = plots.dnas_losses(history)
    assert np.allclose(ax.lines[0].get_ydata(), history["task_loss"])
    assert np.allclose(ax.lines[1].get_ydata(), history["hardware_loss"])
    axes = plots.dnas_summary(History(history))
    assert [ax.get_title() for ax in axes.flat] == ["softmax(α) per layer and candidate", "How undecided α is",
                                                    "Expected MACs", "Losses"]


# -- searches ------------------------------------------------------------------------------------

def test_fitness_per_generation_draws_best_and_mean(space):
    result = toy_result(space)
    ax = plots.fitness_per_generation(result, optimum=20.0)
    by_gen = {}
    for e in result.history:
        by_gen.setdefault(e.generation, []).append(e.fitness)
    mean, best = ax.lines[0], ax.lines[1]
    assert list(best.get_ydata()) == [max(v) for _, v in sorted(by_gen.items())]
    assert np.allclose(mean.get_ydata(), [np.mean(v) for _, v in sorted(by_gen.items())])
    assert ax.lines[2].get_ydata()[0] == 20.0 and ax.get_xlabel() == "generation"


def test_population_scatter_colours_by_generation(space):
    result = toy_result(space)
    ax = plots.population_scatter(result, max_cost=8, metric="params")
    points = ax.collections[0]
    assert np.allclose(points.get_offsets(), [(e.cost, e.fitness) for e in result.history])
    assert list(points.get_array()) == [e.generation for e in result.history]
    assert ax.get_xlabel() == "parameters" and len(ax.figure.axes) == 2  # + colour bar
    no_cost = search.random_search(space, lambda a: 1.0, budget=5)
    with pytest.raises(ValueError, match="no costs"):
        plots.population_scatter(no_cost)


def test_pareto_indices_match_brute_force():
    rng = random.Random(0)
    costs = [rng.randint(0, 20) for _ in range(60)]
    fitness = [rng.randint(0, 20) for _ in range(60)]

    def dominated(i):
        return any(costs[j] <= costs[i] and fitness[j] >= fitness[i]
                   and (costs[j], fitness[j]) != (costs[i], fitness[i]) for j in range(60))

    front = plots.pareto_indices(costs, fitness)
    assert {(costs[i], fitness[i]) for i in front} == {(costs[i], fitness[i]) for i in range(60) if not dominated(i)}
    assert [costs[i] for i in front] == sorted(costs[i] for i in front)
    with pytest.raises(ValueError, match="same length"):
        plots.pareto_indices([1, 2], [1])


def test_pareto_draws_the_found_and_the_true_front(space):
    result = toy_result(space)
    archs = list(space.enumerate())
    background = ([float(sum(a)) for a in archs], [float(sum((i + 1) * x for i, x in enumerate(a))) for a in archs])
    ax = plots.pareto(result, max_cost=8, background=background)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["every arch", "true front", "evaluated", "found front", "budget"]
    found = ax.lines[1]
    costs = [e.cost for e in result.history]
    front = plots.pareto_indices(costs, [e.fitness for e in result.history])
    assert list(found.get_xdata()) == [costs[i] for i in front]


def test_search_comparison_draws_best_so_far(space):
    fitness = lambda arch: float(sum(arch))  # noqa: E731
    randoms = [search.random_search(space, fitness, budget=30, seed=s) for s in range(3)]
    evo = search.evolution(space, fitness, population=10, generations=3, seed=0)
    ax = plots.search_comparison({"random": randoms, "evolution": evo}, optimum=12.0)
    random_line, evo_line = ax.lines[0], ax.lines[1]
    curves = [np.maximum.accumulate([e.fitness for e in r.history]) for r in randoms]
    assert np.allclose(random_line.get_ydata(), np.mean(curves, axis=0))
    assert np.all(np.diff(evo_line.get_ydata()) >= 0) and len(evo_line.get_xdata()) == evo.num_evaluations
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["random (mean of 3)", "evolution", "optimum 12.00"]
    with pytest.raises(ValueError):
        plots.search_comparison({})


# -- ranking and hardware ----------------------------------------------------------------------------

def test_ranking_puts_kendall_tau_in_the_title():
    truth = [90.0, 91.0, 92.5, 89.0, 93.0, 88.0]
    estimate = [60.0, 62.0, 61.0, 58.0, 65.0, 59.0]
    ax = plots.ranking(estimate, truth)
    tau = stats.kendalltau(estimate, truth).statistic
    assert f"Kendall τ = {tau:.2f}" in ax.get_title() and "6 archs" in ax.get_title()
    assert np.allclose(ax.collections[0].get_offsets(), list(zip(truth, estimate)))
    assert tuple(ax.collections[1].get_offsets()[0]) == (93.0, 65.0)  # the best by estimate


def fake_latency(space, macs):
    costs = [[1e-5 * c + 0.01 for c in row] for row in macs.costs]
    return LookupTable(space.name, "latency_ms", 0.2, costs, device="test")


def test_op_cost_vs_latency_colours_each_op(space, macs):
    ax = plots.op_cost_vs_latency(space, macs, fake_latency(space, macs))
    assert len(ax.collections) == len(space.op_names)
    colors = plots.op_colors(space.op_names)
    for points, op in zip(ax.collections, space.op_names):
        assert to_hex(points.get_facecolor()[0]) == colors[op]
        assert len(points.get_offsets()) == space.num_layers
    assert "Kendall τ = 1.00" in ax.get_title()
    assert ax.get_xlabel() == "MACs" and ax.get_ylabel() == "latency (ms)"
    with pytest.raises(ValueError, match="made for space"):
        plots.op_cost_vs_latency(spaces.get("nas-bench-macro"), macs, fake_latency(space, macs))


def test_arch_cost_vs_latency(space):
    ax = plots.arch_cost_vs_latency([1e5, 2e5, 3e5], [1.0, 1.5, 1.4])
    assert ax.get_xlabel() == "MACs" and "Kendall τ = 0.33" in ax.get_title()
    ax = plots.arch_cost_vs_latency([1.0, 2.0, 3.0], [1.1, 2.2, 2.9], metric="latency_ms")
    assert ax.get_legend().get_texts()[0].get_text() == "y = x"


def test_cost_breakdown_shows_base_and_each_layer(space, macs):
    arch = (0, 1, 2, 3)
    ax = plots.cost_breakdown(space, macs, arch)
    heights = [bar.get_height() for bar in ax.patches]
    assert heights == [macs.base] + [macs.costs[i][a] for i, a in enumerate(arch)]
    assert plots.format_cost(macs.cost(arch), "macs") in ax.get_title()
    colors = plots.op_colors(space.op_names)
    assert to_rgba(ax.patches[4].get_facecolor()) == to_rgba(colors["conv3"])


def test_every_plot_draws_on_a_given_axes(space, macs):
    fig, ax = plt.subplots()
    assert plots.supernet_diagram(space, ax=ax) is ax
    for draw in (lambda a: plots.dnas_losses(synthetic_history(space), ax=a),
                 lambda a: plots.pareto(toy_result(space), ax=a),
                 lambda a: plots.cost_breakdown(space, macs, (0, 0, 0, 0), ax=a)):
        fig, ax = plt.subplots()
        assert draw(ax) is ax


def test_cost_formatting():
    assert plots.format_cost(1_234_567, "macs") == "1.2 M"
    assert plots.format_cost(0.8412, "latency_ms") == "0.84 ms"
    assert [plots.metric_label(m) for m in ("macs", "latency_ms", "flops")] == ["MACs", "latency (ms)", "FLOPs (MACs)"]


def test_derived_truth_plots_the_truth_of_each_recorded_argmax(space):
    history = {"op_names": [list(c) for c in space.candidates], "metric": "macs", "budget": None,
               "step": [10, 20], "probs": [[[0.7, 0.1, 0.1, 0.1]] * 4, [[0.1, 0.1, 0.1, 0.7]] * 4],
               "entropy": [[1.0] * 4] * 2, "expected_cost": [1.0, 1.0], "task_loss": [1.0, 1.0],
               "hardware_loss": [0.0, 0.0], "temperature": [1.0, 1.0]}
    truth = {(0, 0, 0, 0): 67.0, (3, 3, 3, 3): 88.0, (1, 1, 1, 1): 86.0}
    ax = plots.derived_truth(history, truth.__getitem__, others={"other": ([20], [(1, 1, 1, 1)])})
    line, markers = ax.lines[0], ax.lines[1]
    assert list(line.get_ydata()) == [67.0, 88.0] and list(markers.get_ydata()) == [86.0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["argmax(α)", "other"]


def test_pipeline_diagram_names_the_four_stages_in_order():
    ax = plots.pipeline_diagram()
    texts = [t.get_text() for t in ax.texts]
    stages = ["search space", "train the supernet", "search", "retrain and check"]
    assert [t for t in texts if t in stages] == stages
    assert sum(t.startswith("notebooks ") for t in texts) == 4


def test_scoreboard_draws_two_bars_per_row_and_skips_nan():
    ax = plots.scoreboard({"supernet": (0.62, 0.26), "rule: skips": (0.55, float("nan"))})
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [0.62, 0.55, 0.26, 0.0] and [t.get_text() for t in ax.get_yticklabels()] == ["supernet",
                                                                                                   "rule: skips"]


def test_seed_spread_draws_a_dot_per_seed_and_a_median_bar_per_row():
    ax = plots.seed_spread({"uniform": [[0.6, 0.2], [0.7, 0.4], [0.5, 0.3]], "rule": [[0.5, float("nan")]]},
                           noise=(0.72, 0.47))
    dots = [c.get_offsets() for c in ax.collections]
    assert sorted(len(d) for d in dots) == [1, 3, 3]  # the rule's NaN column draws nothing
    medians = sorted(line.get_xdata()[0] for line in ax.lines if len(set(line.get_xdata())) == 1
                     and line.get_linestyle() == "-" and line.get_xdata()[0] not in (0,))
    assert 0.3 in medians and 0.6 in medians and 0.5 in medians
    assert [t.get_text() for t in ax.get_yticklabels()] == ["uniform", "rule"]
