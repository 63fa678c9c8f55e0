"""Tabular benchmarks: ground truth to check a search or a supernet against.

- ``NASBenchMacro`` (Su et al., CVPR 2021): every one of the 3^8 = 6,561 archs of the
  ``nas-bench-macro`` space trained alone on CIFAR-10 (3 seeds, 50 epochs).
- ``TeachingGroundTruth``: every one of the 256 archs of the ``teaching`` space trained alone
  on Fashion-MNIST with several seeds by ``scripts/teaching_ground_truth.py`` (recipe and
  seed-to-seed noise inside the file).

Each gives the archs' test accuracy and costs, so a search that uses ``bench.fitness`` costs
dict lookups, and its answer can be compared with the true best, ``bench.best(max_cost)``.
Both tables work offline: NAS-Bench-Macro ships inside the package (``nasedu/tables/``, with its
Apache-2.0 licence and a NOTICE naming its source commit), the teaching table in ``resource/``::

    >>> bench = NASBenchMacro()          # the shipped copy; NASBenchMacro("my/table.json") reads another
    >>> bench.best()
    ((2, 2, 2, 1, 2, 2, 0, 2), 93.12666320800781)

Used in: 06_evolution, 07_truth.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from nasedu import resources, spaces
from nasedu.spaces import Arch, ArchLike, SearchSpace

FILENAME = "nas-bench-macro_cifar10.json"
SHIPPED = Path(__file__).resolve().parent / "tables" / "nas-bench-macro" / (FILENAME + ".gz")  # inside the package
SHA256 = "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297"  # of the JSON, as published
FIELDS = ("mean_acc", "test_acc", "std", "params", "flops")

TEACHING_FILENAME = "teaching_ground_truth.json"
TEACHING_FIELDS = ("acc", "mean_acc", "params", "macs", "latency_ms")
# the best archs trained again with more seeds and a longer recipe (scripts/teaching_ground_truth.py --top);
# resource/ also keeps the first, 3-epoch attempt (teaching_ground_truth_top_3ep.json: its seeds agreed less)
TEACHING_TOP_FILENAME = "teaching_ground_truth_top_6ep.json"


def _find(path: Union[str, os.PathLike], *filenames: str) -> Path:
    """The table file ``path``, or the first of ``filenames`` in the folder ``path``."""
    path = Path(path)
    if path.is_dir():
        path = next((path / name for name in filenames if (path / name).is_file()), path / filenames[0])
    if not path.is_file():
        raise FileNotFoundError(f"no table at {path}; pass the path of {' or '.join(filenames)} or of its folder")
    return path


class _Table:
    """What every ground-truth table answers; subclasses fill ``space``, ``path`` and ``_table``."""

    costs: tuple[str, ...] = ()  # the cost metrics of each entry; the first is the default
    space: SearchSpace
    path: Path
    _table: dict[Arch, dict]

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        package = Path(__file__).resolve().parents[1]  # a checkout's root, or site-packages
        shown = self.path.relative_to(package) if self.path.is_relative_to(package) else self.path
        return f"{type(self).__name__}({len(self)} archs from {str(shown)!r})"

    def archs(self) -> list[Arch]:
        """Every arch in the table, in digit order."""
        return sorted(self._table)

    def query(self, arch: ArchLike) -> dict:
        """The table's entry for an arch (tuple or digit string), as a fresh dict."""
        arch = self.space.decode(arch)
        if arch not in self._table:
            raise KeyError(f"arch {self.space.encode(arch)} is not in the table {self.path}")
        return {name: list(value) if isinstance(value, list) else value for name, value in self._table[arch].items()}

    def fitness(self, arch: ArchLike) -> float:
        """Mean test accuracy (%) over the seeds: pass ``bench.fitness`` (or ``bench``) to a search."""
        return float(self.query(arch)["mean_acc"])

    __call__ = fitness

    def cost(self, arch: ArchLike, metric: Optional[str] = None) -> float:
        """The arch's cost in ``metric`` (one of ``costs``; default the first)."""
        return float(self.query(arch)[self._metric(metric)])

    def best(self, max_cost: Optional[float] = None, metric: Optional[str] = None) -> tuple[Arch, float]:
        """The arch with the highest mean accuracy among those costing at most ``max_cost``.

        Several archs may share the best accuracy (an identity in a different place can give the
        same network); the first in digit order is returned.
        """
        metric = self._metric(metric)
        feasible = [a for a in self.archs() if max_cost is None or self._table[a][metric] <= max_cost]
        if not feasible:
            cheapest = min(entry[metric] for entry in self._table.values())
            raise ValueError(f"no arch has {metric} <= {max_cost:g}; the cheapest has {cheapest:g}")
        arch = max(feasible, key=lambda a: self._table[a]["mean_acc"])
        return arch, float(self._table[arch]["mean_acc"])

    def _metric(self, metric: Optional[str]) -> str:
        metric = metric or self.costs[0]
        if metric not in self.costs:
            raise ValueError(f"unknown cost metric {metric!r}; {type(self).__name__} has {self.costs}")
        return metric

    def _load(self, fields: Sequence[str], entries: dict) -> dict[Arch, dict]:
        table = {}
        for key, entry in entries.items():
            missing = [name for name in fields if name not in entry]
            if missing:
                raise ValueError(f"{self.path}: entry {key!r} lacks {missing}; is this a {type(self).__name__} table?")
            table[self.space.decode(key)] = {name: entry[name] for name in fields}
        return table


class NASBenchMacro(_Table):
    """The NAS-Bench-Macro table: CIFAR-10 accuracy, params and FLOPs of all 6,561 archs.

    Entries: ``{"mean_acc", "test_acc", "std", "params", "flops"}``; "flops" counts
    multiply-accumulates. Without ``path`` the copy shipped inside the package is read (no
    network); its sha256 is checked against the published file's. ``path`` may name another
    copy (``.json`` or ``.json.gz``) or its folder.
    """

    costs = ("flops", "params")

    def __init__(self, path: Union[str, os.PathLike, None] = None) -> None:
        self.path = SHIPPED if path is None else _find(path, FILENAME, FILENAME + ".gz")
        self.space = spaces.get("nas-bench-macro")
        raw = gzip.decompress(self.path.read_bytes()) if self.path.suffix == ".gz" else self.path.read_bytes()
        if path is None and hashlib.sha256(raw).hexdigest() != SHA256:
            raise ValueError(f"the shipped table {self.path} is corrupt (its sha256 is not the published "
                             f"{SHA256}); reinstall nasedu or restore the file with `git checkout`")
        try:
            entries = json.loads(raw)
        except ValueError as error:
            raise ValueError(f"{self.path} is not a JSON table ({error}); pass the NAS-Bench-Macro JSON") from error
        self._table = self._load(FIELDS, entries)


class TeachingGroundTruth(_Table):
    """Fashion-MNIST test accuracy of all 256 teaching-space archs, each trained alone with several seeds.

    Entries: ``{"acc" (one per seed), "mean_acc", "params", "macs", "latency_ms"}``. Also
    ``recipe`` (how each arch was trained), ``noise`` (Kendall tau between seeds, overall and
    in the top 10%: the yardstick for any estimate), ``seeds`` and ``seconds`` (one-thread training
    time summed over all trainings). Without ``path`` the shipped table is read (``nasedu.resources``:
    ``resource/`` in a clone, inside the package when installed). ``table="top"``: the best
    archs only, trained again with more seeds and a longer recipe (a sharper truth where it matters).
    """

    costs = ("macs", "params", "latency_ms")

    def __init__(self, path: Union[str, os.PathLike, None] = None, table: str = "all") -> None:
        """``table="top"`` loads the sharper table of the best archs only (more seeds, a longer recipe),
        which ships beside the full one; ``"all"`` (the default) every arch."""
        if table not in ("all", "top"):
            raise ValueError(f"table must be 'all' (every arch) or 'top' (the best archs, trained longer), got {table!r}")
        filename = TEACHING_FILENAME if table == "all" else TEACHING_TOP_FILENAME
        if path is None and not resources.path(filename).is_file():
            make = "" if table == "all" else " --top 32 --seeds 5 --train-size 0 --epochs 6"
            raise FileNotFoundError(f"{resources.path(filename)} is missing: reinstall nasedu from its wheel, pass the "
                                    f"table's path, or make it with `python scripts/teaching_ground_truth.py{make} "
                                    f"--out resource/{filename}`")
        self.path = _find(resources.path(filename) if path is None else path, filename)
        self.space = spaces.get("teaching")
        with open(self.path) as f:
            raw = json.load(f)
        self.recipe, self.noise, self.seeds = raw["recipe"], raw["noise"], raw["seeds"]
        self.seconds = raw.get("train_seconds_all_runs")
        self._table = self._load(TEACHING_FIELDS, raw["archs"])
        missing = self.space.num_archs - len(self._table)
        if missing and table == "all":
            raise ValueError(f"{self.path} lacks {missing} of the {self.space.num_archs} archs; finish it with "
                             "`python scripts/teaching_ground_truth.py` (it resumes where it stopped)")

    def accs(self) -> np.ndarray:
        """Test accuracy (%) per arch (rows, in ``archs()`` order) and seed (columns)."""
        return np.array([self._table[a]["acc"] for a in self.archs()])
