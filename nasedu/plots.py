"""Figures for one-shot NAS: the supernet, DNAS histories, searches, rankings and hardware costs.

Every function draws on ``ax`` (a new figure when it is None) and returns the Axes; nothing
here calls ``plt.show()``. Each candidate op keeps one colour in every figure (``op_colors``),
from seaborn's colourblind-safe palette, so ``skip`` is always grey::

    >>> import nasedu as nd
    >>> from nasedu import plots
    >>> space = nd.spaces.get("teaching")
    >>> plots.supernet_diagram(space)                      # every candidate of every layer
    >>> plots.supernet_diagram(space, arch=(0, 1, 2, 3))  # one path = one arch

Plots read results only -- histories, search results, lookup tables -- never trainers.

Used in: 01_supernet, 03_dnas, 04_hardware_dnas, 05_spos, 06_evolution, 07_truth.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import EngFormatter, MaxNLocator

from nasedu.hardware import LookupTable
from nasedu.metrics import kendall_tau
from nasedu.search import SearchResult, check_arch

PALETTE = sns.color_palette("colorblind").as_hex()  # 10 colourblind-safe colours
# Fixed colours of the ops of the built-in spaces, so an op looks the same in every notebook.
FIXED_COLORS = {
    "skip": PALETTE[7],  # grey: an identity does nothing
    "k3e3": PALETTE[0],  # blue
    "k5e6": PALETTE[1],  # orange
    "k5e3": PALETTE[2],  # green
    "conv3": PALETTE[3],  # vermillion
    "k3e6": PALETTE[4],  # purple
    "k7e3": PALETTE[5],  # brown
    "k7e6": PALETTE[6],  # pink
    "k3e1": PALETTE[9],  # sky blue
}
HISTORY_KEYS = ("step", "probs", "entropy", "expected_cost", "task_loss", "hardware_loss", "temperature",
                "op_names", "metric", "budget")
METRIC_LABELS = {"macs": "MACs", "flops": "FLOPs (MACs)", "params": "parameters", "latency_ms": "latency (ms)"}


# -- shared helpers ----------------------------------------------------------------------------

def op_colors(op_names: Sequence[str]) -> dict[str, str]:
    """One colour per op name: fixed for the ops of the built-in spaces, the palette's unused colours for others."""
    names = list(dict.fromkeys(op_names))
    colors = {name: FIXED_COLORS[name] for name in names if name in FIXED_COLORS}
    free = [c for c in PALETTE if c not in colors.values()]
    others = [name for name in names if name not in colors]
    if len(others) > len(free):
        raise ValueError(f"{len(names)} ops are more than the {len(PALETTE)} colours that stay distinguishable; "
                         f"plot fewer ops at once")
    colors.update(zip(others, free))
    return colors


def metric_label(metric: str) -> str:
    """Axis label of a cost metric: ``"macs"`` -> ``"MACs"``, ``"latency_ms"`` -> ``"latency (ms)"``."""
    return METRIC_LABELS.get(metric, metric)


def format_cost(value: float, metric: str) -> str:
    """A cost as a person reads it: ``"1.2 M"`` MACs, ``"0.84 ms"``."""
    if metric == "latency_ms":
        return f"{value:.2f} ms"
    return EngFormatter(places=1, sep=" ")(value)


def _axes(ax: Optional[Axes], figsize: tuple[float, float]) -> Axes:
    """``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def cost_axis(axis: Axis, metric: str) -> None:
    """Label a cost axis and write its ticks as 1 M, 2 M ... (latency stays in plain ms)."""
    axis.set_label_text(metric_label(metric))
    if metric != "latency_ms":
        axis.set_major_formatter(EngFormatter(sep=" "))


def _candidates(space: Any) -> list[list[str]]:
    """``space.candidates`` of a SearchSpace, or a list of per-layer op-name lists as is."""
    candidates = getattr(space, "candidates", space)
    candidates = [list(options) for options in candidates]
    if not candidates or not all(candidates):
        raise ValueError("need at least one layer, and at least one candidate op in every layer")
    return candidates


def _readable(candidates: Sequence[Sequence[str]], arch: Sequence[int]) -> str:
    return "-".join(options[a] for a, options in zip(arch, candidates))


def _text_color(rgb: Sequence[float], opacity: float) -> str:
    """Black or white, whichever reads better on ``rgb`` laid over white with ``opacity``."""
    r, g, b = (opacity * c + 1 - opacity for c in rgb)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


# -- the supernet --------------------------------------------------------------------------------

def pipeline_diagram(ax: Optional[Axes] = None) -> Axes:
    """The one-shot NAS pipeline in four boxes: space, supernet training, search, retraining.

    Used in: 00_overview.
    """
    ax = _axes(ax, (11, 2.8))
    steps = [("search space", "L layers x K candidate ops\n= K^L architectures", "01"),
             ("train the supernet", "once, for all archs:\nSPOS one path per step (05)\nDNAS a mixture + alpha (03-04)",
              "02-05"),
             ("search", "SPOS: evolution on inherited\naccuracy, under a budget (06)\nDNAS: argmax of alpha (03)",
              "06"),
             ("retrain and check", "train the chosen arch alone\nfrom scratch (08); judge the\nsearch on a ground truth (07)",
              "07-08")]
    for i, (title, body, notebooks) in enumerate(steps):
        x = 0.125 + 0.25 * i
        ax.text(x, 0.78, title, ha="center", va="center", fontsize=11, fontweight="bold",
                bbox=dict(boxstyle="round,pad=0.4", facecolor=PALETTE[i], alpha=0.25, edgecolor=PALETTE[i]))
        ax.text(x, 0.45, body, ha="center", va="center", fontsize=8.5, linespacing=1.4)
        ax.text(x, 0.1, f"notebooks {notebooks}", ha="center", va="bottom", fontsize=8, color="0.45")
        if i < len(steps) - 1:
            ax.annotate("", xy=(x + 0.165, 0.78), xytext=(x + 0.085, 0.78),
                        arrowprops=dict(arrowstyle="-|>", color="0.3", linewidth=1.5))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.set_axis_off()
    return ax


def supernet_diagram(space: Any, arch: Optional[Sequence[int]] = None, probs: Optional[Any] = None,
                     ax: Optional[Axes] = None, title: Optional[str] = None) -> Axes:
    """Layers as columns, candidate ops as boxes, from the stem to the head.

    - neither ``arch`` nor ``probs``: every candidate of every layer, all encoded in the supernet;
    - ``arch``: the one path that activates that architecture, the other candidates faded;
    - ``probs`` (L, K), e.g. softmax(alpha): box opacity and line width follow each
      candidate's probability, and the most likely path is drawn in black.

    ``space`` is a SearchSpace or a list of per-layer op-name lists.

    Used in: 01_supernet, 03_dnas.
    """
    candidates = _candidates(space)
    num_layers, k_max = len(candidates), max(len(options) for options in candidates)
    weights, path = _diagram_weights(candidates, arch, probs)
    if title is None:
        title = _diagram_title(candidates, path, arch is not None, probs is not None)
    ax, size = _diagram_axes(candidates, ax)
    colors = op_colors([op for options in candidates for op in options])
    y_mid = -(k_max - 1) / 2
    strides = [getattr(layer, "stride", 1) for layer in getattr(space, "layers", [])]
    _diagram_box(ax, 0, y_mid, "stem", "0.92", "0.4", 1.0, "black", size)
    _diagram_box(ax, num_layers + 1, y_mid, "head", "0.92", "0.4", 1.0, "black", size)
    for i, options in enumerate(candidates):
        _diagram_layer(ax, i, options, weights[i], None if path is None else path[i], probs is not None, colors,
                       size, y_mid)
        label = f"layer {i}" + (f"\nstride {strides[i]}" if strides and strides[i] != 1 else "")
        ax.text(i + 1, -(k_max - 1) - 0.55, label, ha="center", va="top", fontsize=size, color="0.25")
    ax.plot([_BOX_HALF_W, 0.5], [y_mid, y_mid], color="black", linewidth=1.5, zorder=1)
    ax.plot([num_layers + 0.5, num_layers + 1 - _BOX_HALF_W], [y_mid, y_mid], color="black", linewidth=1.5,
            zorder=1)
    ax.plot(np.arange(num_layers + 1) + 0.5, np.full(num_layers + 1, y_mid), "o", color="black", markersize=4,
            zorder=3)
    ax.set_xlim(-0.5, num_layers + 1.5)
    ax.set_ylim(-(k_max - 1) - 1.15, 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=11)
    return ax


_BOX_HALF_W, _BOX_HALF_H = 0.33, 0.3  # half the width and height of a candidate's box, in data units


def _diagram_weights(candidates: Sequence[Sequence[str]], arch: Optional[Sequence[int]],
                     probs: Optional[Any]) -> tuple[np.ndarray, Optional[tuple[int, ...]]]:
    """How strongly each (layer, candidate) box is drawn (0..1), and the highlighted choice per layer (or None)."""
    num_layers, k_max = len(candidates), max(len(options) for options in candidates)
    if arch is not None and probs is not None:
        raise ValueError("pass arch=... (one path) or probs=... (a distribution per layer), not both")
    if arch is not None:
        path = check_arch(candidates, arch)
        return np.eye(k_max)[list(path)], path
    if probs is not None:
        weights = np.asarray(probs, dtype=float)
        if weights.shape != (num_layers, k_max):
            raise ValueError(f"probs must have shape (layers, candidates) = {(num_layers, k_max)}, got {weights.shape}")
        return weights, tuple(int(np.argmax(row[: len(options)])) for row, options in zip(weights, candidates))
    return np.ones((num_layers, k_max)), None


def _diagram_title(candidates: Sequence[Sequence[str]], path: Optional[tuple[int, ...]], one_arch: bool,
                   with_probs: bool) -> str:
    """The default title of ``supernet_diagram``."""
    if one_arch:
        return f"One path = one arch: {_readable(candidates, path)}"
    if with_probs:
        return "softmax(α): opacity and line width = probability, black = most likely"
    return f"Supernet: {len(candidates)} layers, {math.prod(map(len, candidates)):,} archs, one set of weights"


def _diagram_axes(candidates: Sequence[Sequence[str]], ax: Optional[Axes]) -> tuple[Axes, float]:
    """The Axes of a supernet diagram (a new figure sized to the space when None) and its font size in points."""
    x_range = len(candidates) + 2  # data units the diagram spans
    y_range = max(len(options) for options in candidates) + 0.65
    inches = min(0.95, 11.8 / x_range)  # per data unit, so that wide spaces fit in 12 inches
    ax = _axes(ax, (inches * x_range + 0.2, inches * y_range + 0.5))
    if ax.figure.get_layout_engine() is not None:
        ax.figure.get_layout_engine().execute(ax.figure)  # settle the axes' size first, to size the text for it
    extent = ax.get_window_extent()
    points = min(extent.width / x_range, extent.height / y_range) * 72 / ax.figure.dpi  # per data unit
    longest = max(len(op) for options in candidates for op in list(options) + ["stem"])
    return ax, float(np.clip(min(0.9 / longest, 0.24) * points, 6, 10))  # text fits the box's width and height


def _diagram_box(ax: Axes, x: float, y: float, text: str, face: Any, edge: Any, width: float, text_color: str,
                 size: float) -> None:
    """A rounded box centred on (x, y) with ``text`` in it."""
    ax.add_patch(FancyBboxPatch((x - _BOX_HALF_W, y - _BOX_HALF_H), 2 * _BOX_HALF_W, 2 * _BOX_HALF_H,
                                facecolor=face, edgecolor=edge, linewidth=width,
                                boxstyle="round,pad=0,rounding_size=0.08", zorder=2))
    ax.text(x, y, text, ha="center", va="center", color=text_color, fontsize=size, zorder=3)


def _diagram_layer(ax: Axes, i: int, options: Sequence[str], weights: np.ndarray, choice: Optional[int],
                   with_probs: bool, colors: Mapping[str, str], size: float, y_mid: float) -> None:
    """Layer ``i``'s candidates as boxes in column i + 1, each wired to the layer's input and output."""
    x = i + 1
    for k, op in enumerate(options):
        y, w = -k, float(weights[k])
        on_path = choice == k
        line = dict(color="black" if on_path else "0.6", linewidth=1.2 if choice is None else 0.6 + 2.4 * w,
                    alpha=0.35 + 0.65 * w, zorder=1, solid_capstyle="round")
        ax.plot([x - 0.5, x - _BOX_HALF_W], [y_mid, y], **line)
        ax.plot([x + _BOX_HALF_W, x + 0.5], [y, y_mid], **line)
        opacity = 0.12 + 0.88 * w
        rgb = to_rgb(colors[op])
        text = f"{op}\n{w:.2f}" if with_probs else op
        _diagram_box(ax, x, y, text, (*rgb, opacity), "black" if on_path else colors[op], 2.0 if on_path else 1.0,
                     _text_color(rgb, opacity), size)


# -- DNAS histories ------------------------------------------------------------------------------

def dnas_history(history: Any) -> dict:
    """A DNAS history as a dict with numpy arrays, checked; accepts the dict or an object with ``as_dict()``.

    Keys: ``step`` (N,), ``probs`` (N, L, K) = softmax(alpha) per layer, ``entropy`` (N, L),
    ``expected_cost``, ``task_loss``, ``hardware_loss``, ``temperature`` (N,), ``op_names``
    (L lists of candidate names), ``metric`` (e.g. "macs") and ``budget`` (float or None).
    """
    if hasattr(history, "as_dict"):
        history = history.as_dict()
    if not isinstance(history, Mapping):
        raise TypeError(f"a DNAS history is a dict (or has .as_dict()), got {type(history).__name__}")
    missing = [key for key in HISTORY_KEYS if key not in history]
    if missing:
        raise ValueError(f"the DNAS history lacks {missing}; it needs {list(HISTORY_KEYS)}")
    try:
        probs = np.asarray(history["probs"], dtype=float)  # (N, L, K)
    except ValueError as error:
        raise ValueError("history['probs'] must be a rectangular (steps, layers, candidates) array; "
                         "pad layers with fewer candidates with zeros") from error
    if probs.ndim != 3 or len(probs) == 0:
        raise ValueError(f"history['probs'] must be (steps, layers, candidates) with at least one step, "
                         f"got shape {probs.shape}")
    n, num_layers, k_max = probs.shape
    op_names = [list(names) for names in history["op_names"]]
    if len(op_names) != num_layers or any(not 0 < len(names) <= k_max for names in op_names):
        raise ValueError(f"history['op_names'] must name 1..{k_max} candidates for each of the {num_layers} "
                         f"layers of history['probs']")
    out = {"probs": probs, "op_names": op_names, "metric": str(history["metric"]), "budget": history["budget"]}
    shapes = {"step": (n,), "entropy": (n, num_layers), "expected_cost": (n,), "task_loss": (n,),
              "hardware_loss": (n,), "temperature": (n,)}
    for key, shape in shapes.items():
        out[key] = np.asarray(history[key], dtype=float)
        if out[key].shape != shape:
            raise ValueError(f"history[{key!r}] must have shape {shape} to match probs {probs.shape}, "
                             f"got {out[key].shape}")
    return out


def alpha_area(history: Any, layer: int, ax: Optional[Axes] = None, legend: bool = True) -> Axes:
    """Stacked area of softmax(alpha) of one layer over the steps: who takes the probability mass.

    Used in: 03_dnas.
    """
    h = dnas_history(history)
    if not 0 <= layer < len(h["op_names"]):
        raise ValueError(f"layer {layer} is out of range 0..{len(h['op_names']) - 1}")
    ops = h["op_names"][layer]
    colors = op_colors(ops)
    ax = _axes(ax, (6, 3))
    ax.stackplot(h["step"], h["probs"][:, layer, : len(ops)].T, labels=ops, colors=[colors[op] for op in ops],
                 edgecolor="white", linewidth=0.3)
    ax.set(xlim=(h["step"][0], h["step"][-1]), ylim=(0, 1), xlabel="step", ylabel="softmax(α)", title=f"layer {layer}")
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    return ax


def alpha_areas(history: Any, axes: Optional[np.ndarray] = None) -> np.ndarray:
    """``alpha_area`` for every layer, in a grid of up to 4 columns, with one legend for all ops.

    Returns the array of Axes (``axes`` must hold at least one Axes per layer).

    Used in: 03_dnas.
    """
    h = dnas_history(history)
    num_layers = len(h["op_names"])
    if axes is None:
        cols = min(4, num_layers)
        rows = math.ceil(num_layers / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 1.0, 2.1 * rows + 0.6), sharex=True, sharey=True,
                                 layout="constrained", squeeze=False)
    axes = np.asarray(axes)
    if axes.size < num_layers:
        raise ValueError(f"need {num_layers} Axes, one per layer, got {axes.size}")
    for i, ax in enumerate(axes.flat):
        if i < num_layers:
            alpha_area(h, i, ax=ax, legend=False)
            ax.label_outer()
        else:
            ax.axis("off")
    colors = op_colors([op for ops in h["op_names"] for op in ops])
    handles = [plt.Rectangle((0, 0), 1, 1, color=color) for color in colors.values()]
    axes.flat[0].figure.legend(handles, list(colors), loc="outside lower center", ncols=len(colors), frameon=False)
    return axes


def alpha_heatmap(history: Any, ax: Optional[Axes] = None) -> Axes:
    """softmax(alpha) of every (layer, candidate) row over the steps, as colour.

    Used in: 03_dnas.
    """
    h = dnas_history(history)
    rows, labels, layer_starts = [], [], []
    for i, ops in enumerate(h["op_names"]):
        layer_starts.append(len(rows))
        for k, op in enumerate(ops):
            rows.append(h["probs"][:, i, k])
            labels.append(f"{i}: {op}")
    ax = _axes(ax, (7, 0.22 * len(rows) + 1.2))
    mesh = ax.pcolormesh(h["step"], np.arange(len(rows)), np.array(rows), shading="nearest", cmap="viridis",
                         vmin=0, vmax=1)
    ax.figure.colorbar(mesh, ax=ax, label="softmax(α)", pad=0.02)
    for start in layer_starts[1:]:
        ax.axhline(start - 0.5, color="white", linewidth=1.5)
    if len(rows) <= 32:
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.set_ylabel("layer: candidate")
    else:  # too many rows to name each one legibly
        ends = layer_starts[1:] + [len(rows)]
        ax.set_yticks([(s + e - 1) / 2 for s, e in zip(layer_starts, ends)], [f"layer {i}" for i in range(len(ends))])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set(xlabel="step", title="softmax(α) per layer and candidate")
    return ax


def dnas_entropy(history: Any, ax: Optional[Axes] = None) -> Axes:
    """Entropy of softmax(alpha) per layer (thin) and on average (thick): 0 means one op is chosen.

    Used in: 03_dnas.
    """
    h = dnas_history(history)
    ax = _axes(ax, (6, 3.2))
    ax.plot(h["step"], h["entropy"], color="0.65", linewidth=0.8)
    ax.plot([], [], color="0.65", linewidth=0.8, label="each layer")
    ax.plot(h["step"], h["entropy"].mean(axis=1), color="black", linewidth=2, label="mean over layers")
    ax.axhline(math.log(max(len(ops) for ops in h["op_names"])), color="black", linestyle=":", linewidth=1,
               label="uniform (log K)")
    ax.set(xlabel="step", ylabel="entropy (nats)", title="How undecided α is")
    ax.set_ylim(0, 1.5 * math.log(max(len(ops) for ops in h["op_names"])))  # room for the legend above
    ax.legend(frameon=False, fontsize=9, loc="upper right")
    return ax


def dnas_cost(history: Any, ax: Optional[Axes] = None, marker_step: Optional[float] = None) -> Axes:
    """Expected cost E[c] of the relaxed network over the steps, against the budget if there is one.

    ``marker_step`` draws a vertical line at that step (the alpha scrubber uses it).

    Used in: 04_hardware_dnas.
    """
    h = dnas_history(history)
    ax = _axes(ax, (6, 3.2))
    ax.plot(h["step"], h["expected_cost"], color="black", linewidth=2, label="expected cost E[c]")
    if h["budget"] is not None:
        ax.axhline(h["budget"], color=PALETTE[3], linestyle="--", linewidth=1.5,
                   label=f"budget {format_cost(h['budget'], h['metric'])}")
    if marker_step is not None:
        ax.axvline(marker_step, color="0.4", linewidth=1)
    ax.set(xlabel="step", title=f"Expected {metric_label(h['metric'])}")
    cost_axis(ax.yaxis, h["metric"])
    ax.legend(frameon=False, fontsize=9)
    return ax


def dnas_losses(history: Any, ax: Optional[Axes] = None) -> Axes:
    """Task (cross-entropy) loss and hardware loss over the steps.

    Used in: 03_dnas, 04_hardware_dnas.
    """
    h = dnas_history(history)
    ax = _axes(ax, (6, 3.2))
    ax.plot(h["step"], h["task_loss"], color="black", linewidth=1.5, label="task loss")
    ax.plot(h["step"], h["hardware_loss"], color=PALETTE[3], linewidth=1.5, linestyle="--",
            label="hardware term (FBNet: its factor)")
    ax.set(xlabel="step", ylabel="loss", title="Losses")
    ax.legend(frameon=False, fontsize=9)
    return ax


def derived_truth(history: Any, fitness: Callable[[tuple[int, ...]], float], ax: Optional[Axes] = None,
                  label: str = "argmax(α)", others: Optional[Mapping[str, tuple[Sequence[int], Sequence]]] = None
                  ) -> Axes:
    """The true accuracy of the arch a DNAS run would answer at every recorded step.

    ``fitness(arch)`` is the ground truth (e.g. ``TeachingGroundTruth().fitness``); ``others``
    maps a label to ``(steps, archs)`` chosen another way (e.g. by perturbation after each epoch),
    drawn as markers on the same axes.

    Used in: 03_dnas.
    """
    h = dnas_history(history)
    ax = _axes(ax, (7, 3.2))
    archs = [tuple(int(k) for k in p.argmax(1)) for p in h["probs"]]
    ax.step(h["step"], [fitness(a) for a in archs], where="post", color="black", linewidth=1.5, label=label)
    for (name, (steps, picks)), color in zip((others or {}).items(), PALETTE[1:]):
        ax.plot(steps, [fitness(tuple(a)) for a in picks], "o", color=color, markersize=5, label=name)
    ax.set(xlabel="step", ylabel="true accuracy (%)", title="The derived arch, judged by the ground truth")
    ax.legend(frameon=False, fontsize=9)
    return ax


def dnas_summary(history: Any, axes: Optional[np.ndarray] = None) -> np.ndarray:
    """Four panels of a DNAS run: softmax(alpha) heatmap, entropy, expected cost, losses.

    Used in: 03_dnas, 04_hardware_dnas.
    """
    h = dnas_history(history)
    if axes is None:
        _, axes = plt.subplots(2, 2, figsize=(11, 7), layout="constrained")
    axes = np.asarray(axes)
    if axes.size != 4:
        raise ValueError(f"dnas_summary draws 4 panels; pass 4 Axes, got {axes.size}")
    alpha_heatmap(h, ax=axes.flat[0])
    dnas_entropy(h, ax=axes.flat[1])
    dnas_cost(h, ax=axes.flat[2])
    dnas_losses(h, ax=axes.flat[3])
    return axes


# -- searches --------------------------------------------------------------------------------------

def _costs(result: SearchResult) -> np.ndarray:
    if any(e.cost is None for e in result.history):
        raise ValueError("this search result has no costs; run the search with cost=... (e.g. cost=table.cost)")
    return np.array([e.cost for e in result.history], dtype=float)


def fitness_per_generation(result: SearchResult, ax: Optional[Axes] = None, optimum: Optional[float] = None,
                           ylabel: str = "fitness") -> Axes:
    """Every evaluation (dots), the best and the mean fitness of each generation; ``optimum`` as a line.

    Used in: 06_evolution.
    """
    if not result.history:
        raise ValueError("the search result has no evaluations to plot")
    generations = np.array([e.generation for e in result.history])
    fitness = np.array([e.fitness for e in result.history])
    gens = np.unique(generations)
    ax = _axes(ax, (6, 3.5))
    ax.scatter(generations, fitness, s=8, color="0.75", linewidths=0, label="one evaluated arch")
    ax.plot(gens, [fitness[generations == g].mean() for g in gens], color=PALETTE[0], linewidth=1.5, marker="o",
            markersize=3, label="mean")
    ax.plot(gens, [fitness[generations == g].max() for g in gens], color="black", linewidth=2, marker="o",
            markersize=4, label="best")
    if optimum is not None:
        ax.axhline(optimum, color=PALETTE[3], linestyle="--", linewidth=1.5, label=f"optimum {optimum:.2f}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="generation", ylabel=ylabel, title="Fitness per generation")
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def population_scatter(result: SearchResult, ax: Optional[Axes] = None, max_cost: Optional[float] = None,
                       metric: str = "cost", ylabel: str = "fitness") -> Axes:
    """Fitness against cost of every evaluated arch, coloured by generation; ``max_cost`` as a line.

    Used in: 06_evolution.
    """
    costs = _costs(result)
    ax = _axes(ax, (6, 4))
    points = ax.scatter(costs, [e.fitness for e in result.history], c=[e.generation for e in result.history],
                        cmap="viridis", s=14, linewidths=0)
    ax.figure.colorbar(points, ax=ax, label="generation", pad=0.02)
    if max_cost is not None:
        ax.axvline(max_cost, color=PALETTE[3], linestyle="--", linewidth=1.5, label="budget")
        ax.legend(frameon=False, fontsize=9, loc="lower right")
    cost_axis(ax.xaxis, metric)
    ax.set(ylabel=ylabel, title="Every evaluated arch, coloured by generation")
    return ax


def pareto_indices(costs: Sequence[float], fitnesses: Sequence[float]) -> list[int]:
    """Indices of the Pareto front (no other point is cheaper *and* at least as fit), cheapest first."""
    if len(costs) != len(fitnesses):
        raise ValueError(f"costs and fitnesses must have the same length, got {len(costs)} and {len(fitnesses)}")
    order = sorted(range(len(costs)), key=lambda i: (costs[i], -fitnesses[i]))
    front, best = [], -math.inf
    for i in order:
        if fitnesses[i] > best:
            front.append(i)
            best = fitnesses[i]
    return front


def pareto(result: SearchResult, ax: Optional[Axes] = None, max_cost: Optional[float] = None,
           background: Optional[tuple[Sequence[float], Sequence[float]]] = None, metric: str = "cost",
           ylabel: str = "fitness") -> Axes:
    """The evaluated archs and their Pareto front of fitness against cost.

    ``background`` = (costs, fitnesses) of every arch of the space (e.g. from a tabular
    benchmark) is drawn in light grey with its true front dashed.

    Used in: 06_evolution.
    """
    costs = _costs(result)
    fitness = np.array([e.fitness for e in result.history])
    ax = _axes(ax, (6, 4))
    if background is not None:
        all_costs, all_fitness = np.asarray(background[0], float), np.asarray(background[1], float)
        ax.scatter(all_costs, all_fitness, s=4, color="0.88", linewidths=0, label="every arch", rasterized=True)
        true = pareto_indices(all_costs, all_fitness)
        ax.step(all_costs[true], all_fitness[true], where="post", color="0.45", linestyle="--", linewidth=1,
                label="true front")
        ax.set_ylim(bottom=fitness.min() - 0.15 * (all_fitness.max() - fitness.min()))  # zoom on the search
    ax.scatter(costs, fitness, s=10, color=PALETTE[0], alpha=0.6, linewidths=0, label="evaluated")
    front = pareto_indices(costs, fitness)
    ax.step(costs[front], fitness[front], where="post", color="black", linewidth=1.8, marker="o", markersize=4,
            label="found front")
    if max_cost is not None:
        ax.axvline(max_cost, color=PALETTE[3], linestyle="--", linewidth=1.5, label="budget")
    cost_axis(ax.xaxis, metric)
    ax.set(ylabel=ylabel, title="Pareto front: the best fitness for each cost")
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def search_comparison(results: Mapping[str, Union[SearchResult, Sequence[SearchResult]]], ax: Optional[Axes] = None,
                      optimum: Optional[float] = None, ylabel: str = "best fitness so far") -> Axes:
    """Best fitness found so far against the number of evaluations, one line per search.

    A value may be a list of results (e.g. seeds): their mean is drawn, with the range shaded.

    Used in: 06_evolution.
    """
    if not results:
        raise ValueError("pass at least one search result, e.g. {'random': r1, 'evolution': r2}")
    ax = _axes(ax, (6, 3.5))
    for color, (name, runs) in zip(PALETTE, results.items()):
        runs = [runs] if isinstance(runs, SearchResult) else list(runs)
        length = min(len(r.history) for r in runs)
        if length == 0:
            raise ValueError(f"a {name!r} result has no evaluations")
        curves = np.array([np.maximum.accumulate([e.fitness for e in r.history[:length]]) for r in runs])
        x = np.arange(1, length + 1)
        label = name if len(runs) == 1 else f"{name} (mean of {len(runs)})"
        ax.plot(x, curves.mean(axis=0), color=color, linewidth=2, label=label)
        if len(runs) > 1:
            ax.fill_between(x, curves.min(axis=0), curves.max(axis=0), color=color, alpha=0.15, linewidth=0)
    if optimum is not None:
        ax.axhline(optimum, color="black", linestyle=":", linewidth=1.5, label=f"optimum {optimum:.2f}")
    ax.set(xlabel="evaluations", ylabel=ylabel, title="Same budget, which search finds more?")
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    return ax


# -- ranking ------------------------------------------------------------------------------------

def scoreboard(rows: Mapping[str, tuple[float, float]], ax: Optional[Axes] = None,
               labels: tuple[str, str] = ("all archs", "no skip layer")) -> Axes:
    """Horizontal bars of each row's two Kendall taus (over all archs, over a subset); NaN draws no bar.

    Used in: 07_truth, 09_why_sharing_misleads.
    """
    names, values = list(rows), np.array([rows[name] for name in rows], dtype=float)
    ax = _axes(ax, (7, 0.5 * len(names) + 0.7))
    y = np.arange(len(names))
    ax.barh(y - 0.2, values[:, 0], height=0.4, color=PALETTE[0], label=labels[0])
    ax.barh(y + 0.2, np.nan_to_num(values[:, 1]), height=0.4, color=PALETTE[1], label=labels[1])
    ax.set(yticks=y, yticklabels=names, xlabel="Kendall tau with the ground truth",
           xlim=(min(0, np.nanmin(values)) - 0.05, 1))
    ax.invert_yaxis()
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    return ax


def seed_spread(taus: Mapping[str, Any], noise: Optional[tuple[float, float]] = None, ax: Optional[Axes] = None,
                labels: tuple[str, str] = ("all archs", "no skip layer")) -> Axes:
    """Each row's Kendall taus per seed as dots (over all archs, over a subset), its median as a bar.

    ``taus[name]`` is (seeds, 2); ``noise`` the truth's own seed-to-seed taus, drawn as dashed lines.

    Used in: 09_why_sharing_misleads.
    """
    names = list(taus)
    ax = _axes(ax, (8, 0.42 * len(names) + 0.9))
    for column, (offset, color) in enumerate(((-0.15, PALETTE[0]), (0.15, PALETTE[1]))):
        for row, name in enumerate(names):
            values = np.asarray(taus[name], dtype=float)[:, column]
            values = values[np.isfinite(values)]
            if not len(values):
                continue
            ax.scatter(values, np.full(len(values), row + offset), s=18, color=color, alpha=0.7,
                       label=labels[column] if row == 0 else None)
            median = float(np.median(values))
            ax.plot([median, median], [row + offset - 0.13, row + offset + 0.13], color=color, linewidth=2.5)
        if noise is not None:
            ax.axvline(noise[column], color=color, linestyle="--", linewidth=1,
                       label=f"seed vs seed, {labels[column]} ({noise[column]:.2f})")
    ax.set(yticks=range(len(names)), yticklabels=names, xlabel="Kendall tau with the ground truth (dots: seeds; "
                                                              "bar: median)")
    ax.invert_yaxis()
    ax.axvline(0, color="0.5", linewidth=0.8)
    ax.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    return ax


def ranking(estimate: Sequence[float], truth: Sequence[float], ax: Optional[Axes] = None,
            xlabel: str = "ground truth accuracy (%)", ylabel: str = "supernet estimate (%)") -> Axes:
    """Each arch's estimate (e.g. inherited-weight accuracy) against its ground truth; Kendall tau in the title.

    Used in: 07_truth.
    """
    tau = kendall_tau(estimate, truth)
    ax = _axes(ax, (5, 4))
    ax.scatter(truth, estimate, s=18, color=PALETTE[0], alpha=0.7, linewidths=0)
    best = int(np.argmax(estimate))
    ax.scatter([truth[best]], [estimate[best]], s=90, marker="*", color=PALETTE[3], label="best by estimate", zorder=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=f"Kendall τ = {tau:.2f} over {len(truth)} archs")
    ax.legend(frameon=False, fontsize=9, loc="best")
    return ax


# -- hardware -----------------------------------------------------------------------------------

def op_cost_vs_latency(space: Any, cost_table: LookupTable, latency_table: LookupTable,
                       ax: Optional[Axes] = None) -> Axes:
    """Measured latency against a counted cost (MACs, params) of every (layer, candidate), coloured by op.

    Used in: 04_hardware_dnas.
    """
    for table in (cost_table, latency_table):
        table.check_space(space)
    candidates = _candidates(space)
    colors = op_colors([op for options in candidates for op in options])
    x, y = [], []
    ax = _axes(ax, (6, 4))
    for op, color in colors.items():
        pairs = [(cost_table.costs[i][k], latency_table.costs[i][k])
                 for i, options in enumerate(candidates) for k, name in enumerate(options) if name == op]
        ax.scatter(*zip(*pairs), s=36, color=color, label=op, edgecolors="black", linewidths=0.4)
        x += [p[0] for p in pairs]
        y += [p[1] for p in pairs]
    cost_axis(ax.xaxis, cost_table.metric)
    ax.set(ylabel=metric_label(latency_table.metric),
           title=f"Per candidate op: Kendall τ = {kendall_tau(x, y):.2f}")
    ax.legend(frameon=False, fontsize=9, title="op")
    return ax


def arch_cost_vs_latency(costs: Sequence[float], latency_ms: Sequence[float], metric: str = "macs",
                         ax: Optional[Axes] = None) -> Axes:
    """Measured latency of whole archs against their cost.

    With ``metric="latency_ms"`` the costs are a latency table's predictions, and y = x is drawn.

    Used in: 04_hardware_dnas.
    """
    tau = kendall_tau(costs, latency_ms)
    ax = _axes(ax, (5, 4))
    ax.scatter(costs, latency_ms, s=18, color=PALETTE[0], alpha=0.8, linewidths=0)
    if metric == "latency_ms":
        low, high = min(min(costs), min(latency_ms)), max(max(costs), max(latency_ms))
        ax.plot([low, high], [low, high], color="0.4", linestyle="--", linewidth=1, label="y = x")
        ax.legend(frameon=False, fontsize=9)
        ax.set_xlabel("predicted latency (ms): sum of the table")
    else:
        cost_axis(ax.xaxis, metric)
    ax.set(ylabel="measured latency (ms)", title=f"Per arch: Kendall τ = {tau:.2f} over {len(costs)} archs")
    return ax


def cost_breakdown(space: Any, table: LookupTable, arch: Sequence[int], ax: Optional[Axes] = None) -> Axes:
    """Where an arch's cost goes: the fixed stem + head, then each layer's chosen op.

    Used in: 04_hardware_dnas.
    """
    table.check_space(space)
    candidates = _candidates(space)
    arch = check_arch(candidates, arch)
    colors = op_colors([op for options in candidates for op in options])
    ops = [options[a] for a, options in zip(arch, candidates)]
    values = [table.base] + [table.costs[i][a] for i, a in enumerate(arch)]
    ax = _axes(ax, (0.55 * len(values) + 2.5, 3))
    ax.bar(range(len(values)), values, color=["white"] + [colors[op] for op in ops], edgecolor="black",
           linewidth=0.6)
    ax.set_xticks(range(len(values)), ["stem+\nhead"] + [f"{i}\n{op}" for i, op in enumerate(ops)], fontsize=8)
    cost_axis(ax.yaxis, table.metric)
    ax.set(xlabel="layer", title=f"Total {metric_label(table.metric)}: {format_cost(table.cost(arch), table.metric)}")
    return ax
