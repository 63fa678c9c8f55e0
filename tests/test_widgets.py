"""Widgets driven from Python: set a control's value, then check the state and the figure changed."""

import matplotlib

matplotlib.use("Agg")

import base64  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nasedu import hardware, spaces, widgets  # noqa: E402
from nasedu.benchmarks import NASBenchMacro  # noqa: E402
from test_plots import synthetic_history  # noqa: E402

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def space():
    return spaces.get("teaching")


@pytest.fixture(scope="module")
def macs(space):
    return hardware.lookup_table(space, "macs")


def assert_displayable(view):
    """Live widget for Jupyter, the current figure as PNG for GitHub, and classes a browser test can find."""
    bundle = view._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    assert base64.b64decode(bundle["image/png"]) == view.image.value
    assert bytes(view.image.value).startswith(b"\x89PNG")
    for key, control in view.controls.items():
        assert f"nasedu-{key}" in control._dom_classes
        assert control.description, f"control {key!r} has no description label"


# -- architecture explorer -----------------------------------------------------------------------

def test_arch_explorer_follows_the_dropdowns(space, macs):
    latency = hardware.LookupTable(space.name, "latency_ms", 0.5, [[0.1] * 4] * 4)
    calls = []

    def evaluator(arch):
        calls.append(arch)
        return 50.0 + sum(arch)

    explorer = widgets.ArchExplorer(space, arch="0000", latency=latency, evaluator=evaluator)
    assert_displayable(explorer)
    before, summary = explorer.image.value, explorer.summary.value
    assert explorer.arch == (0, 0, 0, 0) and explorer.accuracy is None and "press Evaluate" in summary

    explorer.dropdowns[2].value = 3  # as if chosen in the browser
    assert explorer.arch == (0, 0, 3, 0)
    assert explorer.costs["macs"] == macs.cost((0, 0, 3, 0)) and explorer.costs["latency_ms"] == pytest.approx(0.9)
    assert explorer.image.value != before and explorer.summary.value != summary
    assert "skip-skip-conv3-skip" in explorer.summary.value
    assert explorer.figure.axes[0].get_title() == "skip-skip-conv3-skip"

    before = explorer.image.value
    explorer.evaluate_button.click()
    explorer.evaluate_button.click()  # cached: evaluated once
    assert calls == [(0, 0, 3, 0)] and explorer.accuracy == 53.0
    assert "53.00 %" in explorer.summary.value and "53.00 % accuracy" in explorer.figure.axes[0].get_title()
    assert explorer.image.value != before

    explorer.dropdowns[0].value = 1
    assert explorer.accuracy is None  # a new arch is not evaluated yet


def test_arch_explorer_without_evaluator(space):
    explorer = widgets.ArchExplorer(space)
    assert explorer.evaluate_button is None and "accuracy" not in explorer.summary.value
    assert set(explorer.costs) == {"params", "macs"}
    with pytest.raises(ValueError, match="evaluator"):
        explorer.evaluate()
    with pytest.raises(ValueError, match="made for space"):
        widgets.ArchExplorer(space, latency=hardware.LookupTable("other", "latency_ms", 0.0, [[1.0]]))


# -- alpha scrubber --------------------------------------------------------------------------------

def test_alpha_scrubber_redraws_the_probabilities_at_a_step(space):
    history = synthetic_history(space)
    scrubber = widgets.AlphaScrubber(history)
    assert_displayable(scrubber)
    assert scrubber.step == history["step"][-1]
    before = scrubber.image.value

    scrubber.slider.value = history["step"][3]
    assert scrubber.index == 3 and scrubber.step == 15
    assert np.allclose(scrubber.probs, history["probs"][3])
    assert scrubber.arch == tuple(np.argmax(history["probs"][3], axis=1))
    assert scrubber.expected_cost == pytest.approx(history["expected_cost"][3])
    assert scrubber.image.value != before
    assert scrubber.figure.axes[0].get_title() == "step 15: softmax(α) per layer"

    scrubber.play.value = 7  # the Play button moves the slider
    assert scrubber.index == 7 and scrubber.figure.axes[0].get_title() == "step 35: softmax(α) per layer"


# -- evolution playground ------------------------------------------------------------------------

def test_evolution_playground_runs_with_the_sliders(space, macs):
    fitness = lambda arch: float(sum((i + 1) * a for i, a in enumerate(arch)))  # noqa: E731
    playground = widgets.EvolutionPlayground(space, fitness, macs.cost, (macs.base, macs.max_cost()), metric="macs")
    assert_displayable(playground)
    assert playground.result is None
    before = playground.image.value

    playground.budget.value = 6e5
    playground.population.value = 8
    playground.generations.value = 3
    playground.mutation_prob.value = 0.3
    playground.run_button.click()
    result = playground.result
    assert result is not None and playground.run_budget == 6e5
    assert all(e.cost <= 6e5 for e in result.history)
    assert max(e.generation for e in result.history) <= 2
    assert playground.progress.value == result.num_evaluations and playground.progress.max == 24
    assert f"{result.best_fitness:.2f}" in playground.status.value
    assert playground.image.value != before
    assert playground.figure.axes[0].lines[-1].get_xdata()[0] == 6e5  # the budget line

    playground.budget.value = macs.base  # below the cheapest arch
    playground.run_button.click()
    assert "Could not run" in playground.status.value and playground.result is result


def test_evolution_playground_rejects_an_empty_budget_range(space, macs):
    with pytest.raises(ValueError, match="budget_range"):
        widgets.EvolutionPlayground(space, lambda a: 0.0, macs.cost, (1.0, 1.0))


def test_evolution_playground_on_nas_bench_macro():
    playground = widgets.EvolutionPlayground.from_benchmark(NASBenchMacro())
    first = playground.result
    assert first is not None  # a benchmark runs at once, so the static figure shows a search
    playground.population.value = 10
    playground.generations.value = 5
    playground.budget.value = 40e6
    before = playground.image.value
    playground.run()
    assert playground.result is not first and playground.result.best_cost <= 40e6
    truth = playground.optimum(40e6)
    assert playground.result.best_fitness <= truth and f"{truth:.2f}" in playground.status.value
    assert playground.image.value != before


# -- lambda explorer ---------------------------------------------------------------------------

def sweep(space):
    records = []
    for i, lam in enumerate([0.0, 0.1, 0.01, 1.0]):
        history = synthetic_history(space, steps=10, seed=i)
        arch = tuple(int(a) for a in np.argmax(history["probs"][-1], axis=1))
        records.append({"lambda": lam, "arch": arch, "cost": 1e5 * (4 - i), "history": history})
    return records


def test_lambda_explorer_shows_the_arch_of_each_lambda(space):
    records = sweep(space)
    explorer = widgets.LambdaExplorer(records)
    assert_displayable(explorer)
    assert [r["lambda"] for r in explorer.records] == [0.0, 0.01, 0.1, 1.0]  # sorted
    before, title = explorer.image.value, explorer.figure.axes[0].get_title()

    explorer.slider.value = 3
    assert explorer.lam == 1.0 and explorer.arch == records[3]["arch"] and explorer.cost == 1e5
    assert explorer.image.value != before and explorer.figure.axes[0].get_title() != title
    assert explorer.figure.axes[0].get_title().startswith(f"λ = 1: {space.readable(records[3]['arch'])}")
    cost_axes = explorer.figure.axes[1]
    assert cost_axes.lines[1].get_ydata()[0] == 1e5  # the current point
    assert [t.get_text() for t in cost_axes.get_xticklabels()] == ["0", "0.01", "0.1", "1"]


def test_lambda_explorer_draws_accuracy_when_the_records_have_it(space):
    records = [{**r, "accuracy": 80.0 + i} for i, r in enumerate(sweep(space))]
    explorer = widgets.LambdaExplorer(records)
    explorer.slider.value = 3
    assert explorer.figure.axes[0].get_title().endswith("83.00%")
    accuracy_axes = explorer.figure.axes[2]  # the twin of the cost axes
    assert list(accuracy_axes.lines[0].get_ydata()) == [80.0, 82.0, 81.0, 83.0]  # in lambda order 0, 0.01, 0.1, 1


def test_lambda_explorer_without_histories_needs_a_space(space):
    records = [{**r, "history": None} for r in sweep(space)]
    explorer = widgets.LambdaExplorer(records, space=space)
    explorer.slider.value = 0
    assert explorer.figure.axes[0].get_title().startswith("λ = 0:")
    with pytest.raises(ValueError, match="space="):
        widgets.LambdaExplorer(records)
    with pytest.raises(ValueError, match="once"):
        widgets.LambdaExplorer(records + records[:1], space=space)
    with pytest.raises(ValueError, match="lacks"):
        widgets.LambdaExplorer([{"lambda": 0.1}], space=space)


# -- the live DNAS playground ------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from nasedu import data

    return data.load("digits", val_size=300, seed=0)


def playground(space, digits, steps=40):
    from nasedu import hardware

    return widgets.DNASPlayground(space, digits, hardware.lookup_table(space, "macs"), steps=steps, chunk=10)


def test_dnas_playground_searches_with_the_controls_settings(space, digits):
    view = playground(space, digits)
    assert_displayable(view)
    before = view.image.value
    view.relaxation.value, view.lam.value, view.alpha_lr.value = "softmax", 1.0, 0.3
    trainer = view.run()
    assert trainer.config.relaxation == "softmax" and trainer.config.hardware_weight == 1.0
    assert trainer.config.alpha_lr == pytest.approx(0.3) and trainer.steps == 40
    assert view.state == "finished" and "finished" in view.status.value and view.image.value != before
    assert "softmax, λ = 1, alpha lr 0.3" in view.figure.axes[0].get_title()  # the static picture says how it ran
    probs = np.array(trainer.history.probs[-1])
    assert probs.max(axis=1).mean() > 0.3  # alpha moved away from uniform (0.25)
    assert trainer.derive().cost < trainer.table.cost((3, 3, 3, 3))  # lambda = 1 favours cheaper ops


def test_dnas_playground_runs_as_a_task_and_stops_when_asked(space, digits):
    import asyncio

    view = playground(space, digits, steps=400)

    async def press_run_then_stop():
        view.start()  # the Run button
        view.start()  # a second press while it runs changes nothing
        while view.trainer.steps < 20:
            await asyncio.sleep(0)  # the kernel's loop: other messages are handled here
        view.stop()  # the Stop button
        await view.task

    asyncio.run(press_run_then_stop())
    assert view.state.startswith("stopped at step") and 20 <= view.trainer.steps < 400
    assert not view.running and f"stopped at step {view.trainer.steps}" in view.status.value


def test_dnas_playground_reports_collapse_in_its_status_not_as_a_warning(space, digits):
    import warnings

    view = playground(space, digits)
    view.lam.value, view.alpha_lr.value = 2.0, 1.0  # a heavy hardware weight and a fast alpha: skips win
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the test
        view.run()
    layers = view.collapsed_layers()
    assert layers, "lambda = 2 with alpha lr 1 should leave skip above one half somewhere"
    assert f"skip holds over half the weight in layers {layers}" in view.status.value
