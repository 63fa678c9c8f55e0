"""Interactive views over ``nasedu.plots`` for JupyterLab (ipywidgets 8).

Each view is an object that holds its controls and its current state as attributes, and
displays as a widget box::

    >>> from nasedu import widgets
    >>> explorer = widgets.ArchExplorer(space)       # one dropdown per layer
    >>> explorer                                      # last line of a cell: shows it
    >>> explorer.dropdowns[0].value = 2               # the same as choosing in the browser
    >>> explorer.arch, explorer.costs

How they behave:

- The figure is drawn when the view is made, as a PNG in an ``Image`` widget, and redrawn
  after each change. A saved notebook also carries that PNG as a static fallback, so GitHub
  and nbviewer show the figure where they cannot run widgets.
- Messages and errors of callbacks go to the view's ``output`` (an ``Output`` widget).
- Sliders use ``continuous_update=False``; slow work (a search, an evaluation) waits for a
  button. No threads: the live DNAS playground trains as an asyncio task of the kernel's own
  event loop, a few steps at a time, so that its Stop button is heard between them.
- Every control has a ``description`` and a CSS class ``nasedu-...`` (``controls`` maps the
  class names to the controls), so a browser test can find and move it.

Used in: 01_supernet, 03_dnas, 04_hardware_dnas, 06_evolution.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import io
from typing import Any, Callable, Mapping, Optional, Sequence

import ipywidgets as W
import numpy as np
from matplotlib.figure import Figure

from nasedu import plots, search
from nasedu.hardware import LookupTable, lookup_table
from nasedu.spaces import Arch, ArchLike, SearchSpace

DPI = 100  # figures are drawn at this resolution; 10 inches fill a notebook's width
SLIDER_STYLE = {"description_width": "initial"}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


class FigureView:
    """Controls above a figure and an ``Output``; subclasses draw the figure in ``draw()``."""

    def __init__(self, name: str, controls: Mapping[str, W.Widget], rows: Sequence[W.Widget],
                 figsize: tuple[float, float]) -> None:
        self.controls = dict(controls)  # CSS class "nasedu-<key>" -> control, for tests and browsers
        for key, control in self.controls.items():
            control.add_class(f"nasedu-{key}")
        self.figure = Figure(figsize=figsize, dpi=DPI, facecolor="white", layout="constrained")
        self.image = W.Image(format="png", layout=W.Layout(max_width="100%", height="auto"))
        self.image.add_class("nasedu-figure")
        self.output = W.Output()
        self.output.add_class("nasedu-output")
        self.widget = W.VBox([*rows, self.image, self.output])
        self.widget.add_class(f"nasedu-{name}")

    def draw(self) -> None:
        """Draw the current state on ``self.figure`` (which is empty)."""
        raise NotImplementedError

    def redraw(self) -> None:
        """Draw the figure again and show it."""
        self.figure.clear()
        self.draw()
        self.image.value = _png(self.figure)

    def _repr_mimebundle_(self, **kwargs) -> dict:
        """The live widget for Jupyter, and the figure as a PNG for renderers without widgets."""
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        return bundle


@functools.lru_cache(maxsize=8)
def _counted_tables(space: SearchSpace) -> dict[str, LookupTable]:
    """The params and MACs tables of a space (counting them runs every op once, so keep them)."""
    return {"params": lookup_table(space, "params"), "macs": lookup_table(space, "macs")}


def _html_table(rows: Mapping[str, str]) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{k}</th><td>{v}</td></tr>"
                    for k, v in rows.items())
    return f"<table>{cells}</table>"


# -- architecture explorer -------------------------------------------------------------------

class ArchExplorer(FigureView):
    """Pick one op per layer; see the path in the supernet, its costs and (optionally) its accuracy.

    Costs: parameters and MACs (counted), and latency when ``latency`` (a ``latency_ms``
    lookup table) is given. With ``evaluator`` (``arch -> accuracy``, e.g.
    ``nasedu.spos.InheritedEvaluator(supernet, splits)``) an *Evaluate* button scores the
    current arch with the weights it inherits.

    Used in: 01_supernet, 05_spos.
    """

    def __init__(self, space: SearchSpace, arch: Optional[ArchLike] = None, latency: Optional[LookupTable] = None,
                 evaluator: Optional[Callable[[Arch], float]] = None) -> None:
        if latency is not None:
            latency.check_space(space)
        self.space = space
        self.tables = dict(_counted_tables(space))
        if latency is not None:
            self.tables["latency_ms"] = latency
        self.evaluator = evaluator
        self.accuracies: dict[Arch, float] = {}  # every arch evaluated so far
        start = space.decode(arch) if arch is not None else (0,) * space.num_layers
        self.dropdowns = [W.Dropdown(options=[(op, k) for k, op in enumerate(options)], value=start[i],
                                     description=f"layer {i}", style=SLIDER_STYLE, layout=W.Layout(width="150px"))
                          for i, options in enumerate(space.candidates)]
        self.summary = W.HTML()
        controls = {f"layer-{i}": d for i, d in enumerate(self.dropdowns)}
        rows: list[W.Widget] = [W.HBox(self.dropdowns, layout=W.Layout(flex_flow="row wrap"))]
        self.evaluate_button = None
        if evaluator is not None:
            self.evaluate_button = W.Button(description="Evaluate", tooltip="accuracy with inherited weights",
                                            button_style="primary")
            self.evaluate_button.on_click(self.evaluate)
            controls["evaluate"] = self.evaluate_button
            rows.append(self.evaluate_button)
        rows.append(self.summary)
        super().__init__("arch-explorer", controls, rows, figsize=(9, 6))
        for dropdown in self.dropdowns:
            dropdown.observe(self._changed, names="value")
        self._changed()

    @property
    def arch(self) -> Arch:
        """The arch the dropdowns show."""
        return tuple(d.value for d in self.dropdowns)

    @property
    def costs(self) -> dict[str, float]:
        """Cost of the current arch for every table: "params", "macs" and maybe "latency_ms"."""
        return {metric: table.cost(self.arch) for metric, table in self.tables.items()}

    @property
    def accuracy(self) -> Optional[float]:
        """Accuracy of the current arch if it was evaluated, else None."""
        return self.accuracies.get(self.arch)

    def evaluate(self, _button: Any = None) -> Optional[float]:
        """Score the current arch with ``evaluator`` (the Evaluate button calls this); None if it failed."""
        if self.evaluator is None:
            raise ValueError("this explorer has no evaluator; pass evaluator=... (arch -> accuracy)")
        if self.arch not in self.accuracies:
            with self.output:  # in Jupyter, an evaluator's error is shown here
                self.accuracies[self.arch] = float(self.evaluator(self.arch))
                self._changed()
        return self.accuracy

    def _changed(self, _change: Any = None) -> None:
        rows = {"arch": f"{self.space.encode(self.arch)} ({self.space.readable(self.arch)})"}
        rows.update({plots.metric_label(m): plots.format_cost(c, m) for m, c in self.costs.items()})
        if self.evaluator is not None:
            rows["accuracy"] = "press Evaluate" if self.accuracy is None else f"{self.accuracy:.2f} %"
        self.summary.value = _html_table(rows)
        self.redraw()

    def draw(self) -> None:
        top, bottom = self.figure.subplots(2, 1, height_ratios=[2.5, 1])
        title = self.space.readable(self.arch)
        if self.accuracy is not None:
            title += f": {self.accuracy:.2f} % accuracy"
        plots.supernet_diagram(self.space, arch=self.arch, ax=top, title=title)
        plots.cost_breakdown(self.space, self.tables["macs"], self.arch, ax=bottom)


# -- alpha scrubber ---------------------------------------------------------------------------

class AlphaScrubber(FigureView):
    """Slide (or play) through a recorded DNAS history: softmax(alpha) per layer at that step.

    ``history`` is the dict of ``nasedu.plots.dnas_history`` (or an object with ``as_dict()``).

    Used in: 03_dnas, 04_hardware_dnas.
    """

    def __init__(self, history: Any) -> None:
        self.history = plots.dnas_history(history)
        steps = [int(s) for s in self.history["step"]]
        self.slider = W.SelectionSlider(options=steps, value=steps[-1], description="step", continuous_update=False,
                                        style=SLIDER_STYLE, layout=W.Layout(width="500px"))
        self.play = W.Play(min=0, max=len(steps) - 1, value=len(steps) - 1, interval=800, description="play")
        W.link((self.play, "value"), (self.slider, "index"))
        super().__init__("alpha-scrubber", {"step": self.slider, "play": self.play},
                         [W.HBox([self.play, self.slider])], figsize=(9, 6.5))
        self.slider.observe(lambda _change: self.redraw(), names="value")
        self.redraw()

    @property
    def index(self) -> int:
        """Position of the current step in the history."""
        return self.slider.index

    @property
    def step(self) -> int:
        """The training step shown."""
        return self.slider.value

    @property
    def probs(self) -> np.ndarray:
        """(L, K) softmax(alpha) at the current step."""
        return self.history["probs"][self.index]

    @property
    def arch(self) -> Arch:
        """The most likely op of each layer at the current step (argmax of alpha)."""
        return tuple(int(np.argmax(row[: len(ops)])) for row, ops in zip(self.probs, self.history["op_names"]))

    @property
    def expected_cost(self) -> float:
        """E[cost] at the current step."""
        return float(self.history["expected_cost"][self.index])

    def draw(self) -> None:
        grid = self.figure.add_gridspec(2, 2, height_ratios=[1.6, 1])
        plots.supernet_diagram(self.history["op_names"], probs=self.probs, ax=self.figure.add_subplot(grid[0, :]),
                               title=f"step {self.step}: softmax(α) per layer")
        plots.dnas_cost(self.history, ax=self.figure.add_subplot(grid[1, 0]), marker_step=self.step)
        entropy = plots.dnas_entropy(self.history, ax=self.figure.add_subplot(grid[1, 1]))
        entropy.axvline(self.step, color="0.4", linewidth=1)


# -- live DNAS playground ---------------------------------------------------------------------

class DNASPlayground(FigureView):
    """Run a short DNAS search live: pick a relaxation, the hardware weight lambda and alpha's learning
    rate, press Run, and watch softmax(alpha) and the expected cost move; Stop ends the search.

    ``splits`` should be small (e.g. ``nasedu.data.load("digits")``: a search of ``steps`` steps
    takes seconds). The search is a ``DNASTrainer`` with the additive (ProxylessNAS) hardware
    loss on ``table``; the Run button starts it as an asyncio task in the kernel's event loop,
    which redraws after every ``chunk`` steps and yields, so the Stop button is handled between
    chunks. ``run()`` does the same without yielding (for scripts, tests and the static picture).

    Used in: 04_hardware_dnas.
    """

    def __init__(self, space: SearchSpace, splits: Any, table: LookupTable, steps: int = 200, chunk: int = 10,
                 config: Any = None) -> None:
        from nasedu import dnas  # imported here: the other views need no torch

        if steps < 1 or chunk < 1:
            raise ValueError(f"steps and chunk must be at least 1, got {steps} and {chunk}")
        self.space, self.splits, self.table, self.steps, self.chunk = space, splits, table, steps, chunk
        self.base = config if config is not None else dnas.DNASConfig(batch_size=64, record_every=5, progress=False)
        self.trainer: Any = None  # the search of the last Run
        self.task: Optional[asyncio.Task] = None  # the running search, if any
        self.stopping = False
        self.state = "not started"  # "running", "stopped at step N", "finished"
        self.relaxation = W.Dropdown(options=list(dnas.RELAXATIONS), value="binary", description="relaxation",
                                     style=SLIDER_STYLE)
        self.lam = W.FloatSlider(value=0.3, min=0.0, max=2.0, step=0.05, description="λ (hardware weight)",
                                 continuous_update=False, style=SLIDER_STYLE)
        self.alpha_lr = W.FloatLogSlider(value=0.1, base=10, min=-3, max=0, step=0.25, description="alpha lr",
                                         continuous_update=False, style=SLIDER_STYLE)
        self.run_button = W.Button(description="Run", button_style="primary", tooltip="start a search")
        self.stop_button = W.Button(description="Stop", button_style="warning", tooltip="stop the search")
        self.run_button.on_click(self.start)
        self.stop_button.on_click(self.stop)
        self.status = W.HTML("Set the controls and press <b>Run</b>.")
        self.status.add_class("nasedu-status")  # the state of the search, for a browser test to read
        controls = {"relaxation": self.relaxation, "lambda": self.lam, "alpha-lr": self.alpha_lr,
                    "run": self.run_button, "stop": self.stop_button}
        rows = [W.HBox([self.relaxation, self.lam, self.alpha_lr], layout=W.Layout(flex_flow="row wrap")),
                W.HBox([self.run_button, self.stop_button]), self.status]
        super().__init__("dnas-playground", controls, rows, figsize=(9, 6.5))
        self.redraw()

    @property
    def running(self) -> bool:
        """True while a search started by Run has not ended."""
        return self.task is not None and not self.task.done()

    def config(self) -> Any:
        """The search the controls describe: the base config with their relaxation, lambda and alpha lr."""
        batches = max(1, (len(self.splits.train[1]) // self.base.batch_size))
        return dataclasses.replace(self.base, relaxation=self.relaxation.value, hardware_loss="additive",
                                   hardware_weight=self.lam.value, alpha_lr=self.alpha_lr.value, warmup_epochs=0,
                                   epochs=-(-self.steps // batches),  # enough epochs for the steps
                                   collapse_threshold=1.0)  # no CollapseWarning: the status line reports collapse

    def _begin(self) -> None:
        from nasedu import dnas
        from nasedu.supernet import Supernet

        config = self.config()
        self.trainer = dnas.DNASTrainer(Supernet(self.space, seed=config.seed), self.splits, config, self.table)
        self.stopping, self.state = False, "running"

    def _steps(self):
        """Run the trainer's own steps (``DNASTrainer.epoch_steps``), epoch after epoch; yield after each chunk."""
        done = 0
        while done < self.steps and not self.stopping:
            for _ in self.trainer.epoch_steps():
                done += 1
                if done % self.chunk == 0 or done == self.steps:
                    yield done
                if done >= self.steps or self.stopping:
                    break
            else:
                self.trainer.epoch += 1  # a whole pass: the next one is the next epoch, as in fit
        self.state = f"stopped at step {done}" if self.stopping else "finished"

    def run(self) -> Any:
        """Search for ``steps`` steps now, redrawing after every chunk; returns the trainer."""
        self._begin()
        for _ in self._steps():
            self._show()
        self._show()
        return self.trainer

    async def _run(self) -> None:
        with self.output:
            try:
                for _ in self._steps():
                    self._show()
                    await asyncio.sleep(0)  # let the kernel handle a click on Stop
            finally:
                self._show()

    def start(self, _button: Any = None) -> None:
        """Start a search in the background of the kernel (the Run button calls this)."""
        if self.running:
            return
        with self.output:
            self.output.clear_output()
            self._begin()
        self.task = asyncio.get_event_loop().create_task(self._run())

    def stop(self, _button: Any = None) -> None:
        """Ask the running search to stop after its current step (the Stop button calls this)."""
        if self.running:
            self.stopping = True

    def _show(self) -> None:
        probs = self.trainer.history.probs
        mean_max = float(np.max(probs[-1], axis=-1).mean()) if probs else 1 / self.space.max_choices
        derived = self.trainer.derive()
        skips = self.collapsed_layers()
        self.status.value = (f"<b>{self.state}</b>: step {self.trainer.steps}, mean max-probability "
                             f"<b>{mean_max:.2f}</b>, argmax {derived.readable} "
                             f"({plots.format_cost(derived.cost, self.table.metric)})"
                             + (f"; skip holds over half the weight in layers {skips}" if skips else ""))
        self.redraw()

    def collapsed_layers(self) -> list[int]:
        """The layers where skip holds more than half of softmax(alpha) now (DARTS's collapse)."""
        import torch

        from nasedu import dnas

        probs = self.trainer.history.probs if self.trainer is not None else []
        return dnas.CollapseMonitor(self.space).collapsed_layers(torch.as_tensor(probs[-1])) if probs else []

    def draw(self) -> None:
        top_grid = self.figure.add_gridspec(2, 2, height_ratios=[1.6, 1])
        top = self.figure.add_subplot(top_grid[0, :])
        if self.trainer is None or not self.trainer.history.probs:
            plots.supernet_diagram(self.space, probs=np.full((self.space.num_layers, self.space.max_choices),
                                                             1 / self.space.max_choices), ax=top,
                                   title="softmax(α) before the search: uniform")
            for position in (top_grid[1, 0], top_grid[1, 1]):
                ax = self.figure.add_subplot(position)
                ax.text(0.5, 0.5, "press Run", ha="center", va="center", fontsize=12, color="0.4")
                ax.set_axis_off()
            return
        history, config = self.trainer.history, self.trainer.config
        settings = f"{config.relaxation}, λ = {config.hardware_weight:g}, alpha lr {config.alpha_lr:.3g}"
        plots.supernet_diagram(self.space, probs=history.probs[-1], ax=top,
                               title=f"{settings} — step {history.step[-1]}: softmax(α) per layer ({self.state})")
        plots.dnas_cost(history, ax=self.figure.add_subplot(top_grid[1, 0]))
        plots.dnas_entropy(history, ax=self.figure.add_subplot(top_grid[1, 1]))


# -- evolution playground -------------------------------------------------------------------

class EvolutionPlayground(FigureView):
    """Evolution under a cost budget: set budget, population, mutation and generations, press Run.

    Works on any ``fitness(arch)``: a tabular benchmark (instant, see ``from_benchmark``) or
    a supernet's ``InheritedEvaluator`` (seconds to minutes). ``background`` = (costs,
    fitnesses) of every arch draws the whole space and its true Pareto front behind the
    search; ``optimum(budget)`` gives the true best fitness under a budget.

    Used in: 06_evolution.
    """

    def __init__(self, space: Any, fitness: Callable[[Arch], float], cost: Callable[[Arch], float],
                 budget_range: tuple[float, float], *, metric: str = "cost", ylabel: str = "fitness",
                 background: Optional[tuple[Sequence[float], Sequence[float]]] = None,
                 optimum: Optional[Callable[[float], float]] = None, run: bool = False) -> None:
        low, high = budget_range
        if not low < high:
            raise ValueError(f"budget_range must be (cheapest, dearest) with cheapest < dearest, got {budget_range}")
        self.space, self.fitness, self.cost = space, fitness, cost
        self.metric, self.ylabel, self.background, self.optimum = metric, ylabel, background, optimum
        self.result: Optional[search.SearchResult] = None  # the last run
        self.run_budget: Optional[float] = None  # the budget of the last run
        self.budget = W.FloatSlider(value=(low + high) / 2, min=low, max=high, step=(high - low) / 100,
                                    description=f"budget ({plots.metric_label(metric)})", readout_format=".3s",
                                    continuous_update=False, style=SLIDER_STYLE)
        self.population = W.IntSlider(value=20, min=4, max=100, description="population", continuous_update=False,
                                      style=SLIDER_STYLE)
        self.mutation_prob = W.FloatSlider(value=0.1, min=0.0, max=1.0, step=0.05, description="mutation prob.",
                                           continuous_update=False, style=SLIDER_STYLE)
        self.generations = W.IntSlider(value=10, min=1, max=50, description="generations", continuous_update=False,
                                       style=SLIDER_STYLE)
        self.seed = W.IntText(value=0, description="seed", style=SLIDER_STYLE, layout=W.Layout(width="120px"))
        self.run_button = W.Button(description="Run", button_style="primary", tooltip="run evolution")
        self.run_button.on_click(self.run)
        self.progress = W.IntProgress(value=0, min=0, max=1, description="evaluations", style=SLIDER_STYLE)
        self.status = W.HTML("Set the sliders and press <b>Run</b>.")
        controls = {"budget": self.budget, "population": self.population, "mutation-prob": self.mutation_prob,
                    "generations": self.generations, "seed": self.seed, "run": self.run_button,
                    "progress": self.progress}
        rows = [W.HBox([self.budget, self.population]), W.HBox([self.mutation_prob, self.generations, self.seed]),
                W.HBox([self.run_button, self.progress]), self.status]
        super().__init__("evolution-playground", controls, rows, figsize=(9, 7))
        if run:
            self.run()
        else:
            self.redraw()

    @classmethod
    def from_benchmark(cls, bench: Any, metric: str = "flops", run: bool = True) -> "EvolutionPlayground":
        """A playground on a tabular benchmark such as ``NASBenchMacro``: every run takes a blink."""
        archs = bench.archs()
        costs = [bench.cost(a, metric) for a in archs]
        fitnesses = [bench.fitness(a) for a in archs]
        return cls(bench.space, bench.fitness, lambda arch: bench.cost(arch, metric), (min(costs), max(costs)),
                   metric=metric, ylabel="accuracy (%)", background=(costs, fitnesses),
                   optimum=lambda budget: bench.best(budget, metric)[1], run=run)

    def run(self, _button: Any = None) -> Optional[search.SearchResult]:
        """Run evolution with the sliders' settings (the Run button calls this); None if it failed."""
        population, generations = self.population.value, self.generations.value
        self.progress.max, self.progress.value = population * generations, 0

        def counted(arch: Arch) -> float:
            self.progress.value += 1
            return self.fitness(arch)

        result = None
        with self.output:  # in Jupyter, a fitness function's error is shown here
            self.output.clear_output()
            try:
                result = search.evolution(
                    self.space, counted, self.cost, self.budget.value, population=population,
                    top_k=max(2, population // 5), mutations=population // 2, crossovers=population // 2,
                    mutation_prob=self.mutation_prob.value, generations=generations, seed=self.seed.value)
            except ValueError as error:  # e.g. a budget below the cheapest arch
                self.status.value = f"<span style='color:#d55e00'>Could not run: {error}</span>"
                return None
            self.result, self.run_budget = result, self.budget.value
            self.status.value = self._status()
            self.redraw()
        return result

    def _status(self) -> str:
        best = self.result
        text = (f"Best of {best.num_evaluations} evaluated archs: <b>{best.best_fitness:.2f}</b> at "
                f"{plots.format_cost(best.best_cost, self.metric)}")
        if self.optimum is not None:
            text += f"; the true best within this budget is {self.optimum(self.run_budget):.2f}"
        return text

    def draw(self) -> None:
        top, bottom = self.figure.subplots(2, 1)
        if self.result is None:
            for ax in (top, bottom):
                ax.text(0.5, 0.5, "press Run", ha="center", va="center", fontsize=12, color="0.4")
                ax.set_axis_off()
            return
        plots.pareto(self.result, ax=top, max_cost=self.run_budget, background=self.background, metric=self.metric,
                     ylabel=self.ylabel)
        optimum = None if self.optimum is None else self.optimum(self.run_budget)
        plots.fitness_per_generation(self.result, ax=bottom, optimum=optimum, ylabel=self.ylabel)


# -- lambda explorer -----------------------------------------------------------------------------

class LambdaExplorer(FigureView):
    """Slide the hardware-loss weight lambda over a DNAS sweep: the arch it derives, its cost and accuracy.

    ``sweep`` is a list of ``{"lambda": float, "arch": tuple, "cost": float, "history": dict or
    None}``, one record per DNAS run; a record may also hold ``"accuracy"`` (e.g. the arch's
    ground-truth accuracy), drawn beside the cost. ``space`` (or, without it, the first
    history's op names) names the candidates.

    Used in: 04_hardware_dnas.
    """

    def __init__(self, sweep: Sequence[Mapping], space: Optional[SearchSpace] = None) -> None:
        if not sweep:
            raise ValueError("the sweep is empty; it needs one record per lambda")
        for record in sweep:
            missing = [key for key in ("lambda", "arch", "cost", "history") if key not in record]
            if missing:
                raise ValueError(f"sweep record {record} lacks {missing}")
        self.records = sorted(sweep, key=lambda r: r["lambda"])
        lambdas = [float(r["lambda"]) for r in self.records]
        if len(set(lambdas)) != len(lambdas):
            raise ValueError(f"each lambda may appear once in the sweep, got {lambdas}")
        self.histories = [None if r["history"] is None else plots.dnas_history(r["history"]) for r in self.records]
        if space is not None:
            self.candidates = space.candidates
        elif any(h is not None for h in self.histories):
            self.candidates = next(h for h in self.histories if h is not None)["op_names"]
        else:
            raise ValueError("no record has a history to name the candidates; pass space=...")
        known = [h for h in self.histories if h is not None]
        self.metric = known[0]["metric"] if known else "cost"
        self.budget = known[0]["budget"] if known else None
        self.slider = W.SelectionSlider(options=[(f"{lam:g}", i) for i, lam in enumerate(lambdas)],
                                        value=len(lambdas) // 2, description="λ (hardware weight)",
                                        continuous_update=False, style=SLIDER_STYLE, layout=W.Layout(width="500px"))
        super().__init__("lambda-explorer", {"lambda": self.slider}, [self.slider], figsize=(9, 6))
        self.slider.observe(lambda _change: self.redraw(), names="value")
        self.redraw()

    @property
    def record(self) -> Mapping:
        """The sweep record of the current lambda."""
        return self.records[self.slider.value]

    @property
    def lam(self) -> float:
        """The current hardware weight lambda."""
        return float(self.record["lambda"])

    @property
    def arch(self) -> Arch:
        """The arch DNAS derived at the current lambda."""
        return tuple(int(a) for a in self.record["arch"])

    @property
    def cost(self) -> float:
        """The cost of that arch."""
        return float(self.record["cost"])

    def draw(self) -> None:
        top, bottom = self.figure.subplots(2, 1, height_ratios=[1.6, 1])
        history = self.histories[self.slider.value]
        readable = "-".join(ops[a] for a, ops in zip(self.arch, self.candidates))
        title = f"λ = {self.lam:g}: {readable}, {plots.format_cost(self.cost, self.metric)}"
        if "accuracy" in self.record:
            title += f", {float(self.record['accuracy']):.2f}%"
        if history is None:
            plots.supernet_diagram(self.candidates, arch=self.arch, ax=top, title=title)
        else:
            plots.supernet_diagram(self.candidates, probs=history["probs"][-1], ax=top, title=title)
        positions = range(len(self.records))  # evenly spaced, like the slider: sweeps are often 0, 0.01, 0.1, 1
        bottom.plot(positions, [r["cost"] for r in self.records], color="black", marker="o", markersize=4)
        bottom.plot([self.slider.value], [self.cost], marker="o", markersize=11, color=plots.PALETTE[3], zorder=3)
        bottom.set_xticks(positions, [f"{r['lambda']:g}" for r in self.records])
        if self.budget is not None:
            bottom.axhline(self.budget, color=plots.PALETTE[3], linestyle="--", linewidth=1.5, label="budget")
            bottom.legend(frameon=False, fontsize=9)
        plots.cost_axis(bottom.yaxis, self.metric)
        bottom.set(xlabel="λ, weight of the hardware loss (the sweep's values, evenly spaced: not to scale)",
                   title="Cost of the derived arch")
        if all("accuracy" in r for r in self.records):
            accuracy = bottom.twinx()
            accuracy.plot(positions, [float(r["accuracy"]) for r in self.records], color=plots.PALETTE[0],
                          marker="s", markersize=4)
            accuracy.set_ylabel("accuracy (%)", color=plots.PALETTE[0])
            bottom.set_title("Cost (black) and accuracy (blue) of the derived arch")
