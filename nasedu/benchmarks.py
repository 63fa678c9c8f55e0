"""Tabular benchmarks: ground truth to check a search against. NAS-Bench-Macro (Su et al., CVPR 2021).

Every one of the 3^8 = 6,561 archs of the ``nas-bench-macro`` space was trained alone on
CIFAR-10 (3 seeds, 50 epochs). The table gives their test accuracy, parameters and FLOPs
(multiply-accumulates), so a search that uses ``bench.fitness`` costs dict lookups, and its
answer can be compared with the true best, ``bench.best(max_cost)``::

    >>> bench = NASBenchMacro("../shared/data/nas-bench-macro")  # NASBenchMacro() downloads it once
    >>> bench.best()
    ((2, 2, 2, 1, 2, 2, 0, 2), 93.12666320800781)

Used in: 06_evolution, 07_truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import Optional, Union

from nasedu import spaces
from nasedu.spaces import Arch, ArchLike

FILENAME = "nas-bench-macro_cifar10.json"
URL = f"https://raw.githubusercontent.com/xiusu/NAS-Bench-Macro/master/data/{FILENAME}"
SHA256 = "686dee8363cc21cca8c1f321ad5749454f2d9b9ca5972682e137e539bc522297"
FIELDS = ("mean_acc", "test_acc", "std", "params", "flops")
COSTS = ("flops", "params")


def cache_dir() -> Path:
    """Where downloads are kept: ``$NASEDU_CACHE`` if set, else ``~/.cache/nasedu``."""
    return Path(os.environ.get("NASEDU_CACHE") or Path.home() / ".cache" / "nasedu")


def download(url: str, dest: Path, sha256: str) -> Path:
    """Download ``url`` to ``dest`` if its sha256 matches; the file appears whole or not at all."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except OSError as error:  # urllib's URLError and timeouts are OSErrors
        raise ConnectionError(
            f"could not download {url} ({error}). If this machine is offline, download the file "
            f"elsewhere and pass its path or folder: NASBenchMacro('path/to/{dest.name}'), or put it at {dest}."
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ValueError(
            f"the file downloaded from {url} has sha256 {digest}, expected {sha256}: it is corrupt or changed "
            f"upstream, and was not saved. Download it by hand and pass its path: NASBenchMacro('path/to/{dest.name}')."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=dest.name, suffix=".part", delete=False) as part:
        part.write(data)
    os.replace(part.name, dest)  # atomic: a reader never sees half a file
    return dest


def _locate(path: Union[str, os.PathLike, None]) -> Path:
    """The table file: ``path`` (the file or its folder), else the cache, else a fresh download."""
    if path is None:
        cached = cache_dir() / FILENAME
        return cached if cached.exists() else download(URL, cached, SHA256)
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"no NAS-Bench-Macro table at {path}; pass the path of {FILENAME} or of its folder, "
            f"or pass nothing to download it from {URL}"
        )
    return path


class NASBenchMacro:
    """The NAS-Bench-Macro table: CIFAR-10 accuracy, params and FLOPs of all 6,561 archs."""

    def __init__(self, path: Union[str, os.PathLike, None] = None) -> None:
        self.path = _locate(path)
        self.space = spaces.get("nas-bench-macro")
        with open(self.path) as f:
            raw = json.load(f)
        self._table: dict[Arch, dict] = {}
        for key, entry in raw.items():
            missing = [name for name in FIELDS if name not in entry]
            if missing:
                raise ValueError(f"{self.path}: entry {key!r} lacks {missing}; is this the NAS-Bench-Macro table?")
            self._table[self.space.decode(key)] = {name: entry[name] for name in FIELDS}

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"NASBenchMacro({len(self)} archs from {str(self.path)!r})"

    def archs(self) -> list[Arch]:
        """Every arch in the table, in digit order."""
        return sorted(self._table)

    def query(self, arch: ArchLike) -> dict:
        """``{"mean_acc", "test_acc", "std", "params", "flops"}`` of an arch (tuple or ``"02012100"``)."""
        arch = self.space.decode(arch)
        if arch not in self._table:
            raise KeyError(f"arch {self.space.encode(arch)} is not in the table {self.path}")
        entry = self._table[arch]
        return {**entry, "test_acc": list(entry["test_acc"])}

    def fitness(self, arch: ArchLike) -> float:
        """Mean CIFAR-10 test accuracy (%) over 3 seeds: pass ``bench.fitness`` (or ``bench``) to a search."""
        return float(self.query(arch)["mean_acc"])

    __call__ = fitness

    def cost(self, arch: ArchLike, metric: str = "flops") -> float:
        """``"flops"`` (multiply-accumulates) or ``"params"`` of an arch."""
        if metric not in COSTS:
            raise ValueError(f"unknown cost metric {metric!r}; NAS-Bench-Macro has {COSTS}")
        return float(self.query(arch)[metric])

    def best(self, max_cost: Optional[float] = None, metric: str = "flops") -> tuple[Arch, float]:
        """The arch with the highest mean accuracy among those costing at most ``max_cost``.

        Several archs may share the best accuracy (an identity in a different place can give the
        same network); the first in digit order is returned.
        """
        if metric not in COSTS:
            raise ValueError(f"unknown cost metric {metric!r}; NAS-Bench-Macro has {COSTS}")
        feasible = [a for a in self.archs() if max_cost is None or self._table[a][metric] <= max_cost]
        if not feasible:
            cheapest = min(entry[metric] for entry in self._table.values())
            raise ValueError(f"no arch has {metric} <= {max_cost:g}; the cheapest has {cheapest:g}")
        arch = max(feasible, key=lambda a: self._table[a]["mean_acc"])
        return arch, float(self._table[arch]["mean_acc"])
