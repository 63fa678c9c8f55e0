"""Architectures as JSON files a person can read and a program can rebuild.

    {"space": "teaching", "arch": "1230", "readable": "k3e1-k5e3-conv3-skip",
     "layers": [{"layer": 0, "op": "k3e1", "params": 896, "macs": 76048}, ...],
     "params": 31402, "macs": 611400, ...}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Union

from nasedu import checkpoint, hardware, spaces
from nasedu.spaces import Arch, ArchLike, SearchSpace


def arch_record(space: SearchSpace, arch: ArchLike, **extra) -> dict:
    """The arch with per-layer op names, params and MACs, plus any ``extra`` fields (e.g. accuracy)."""
    arch = space.decode(arch)
    params, macs = hardware.lookup_table(space, "params"), hardware.lookup_table(space, "macs")
    layers = [{"layer": i, "op": space.candidates[i][a], "params": params.costs[i][a], "macs": macs.costs[i][a]}
              for i, a in enumerate(arch)]
    return {"space": space.name, "arch": space.encode(arch), "readable": space.readable(arch), "layers": layers,
            "params": params.cost(arch), "macs": macs.cost(arch), **extra}


def save_arch(path: Union[str, Path], space: SearchSpace, arch: ArchLike, **extra) -> dict:
    """Write :func:`arch_record` to ``path`` atomically and return it."""
    record = arch_record(space, arch, **extra)
    checkpoint.atomic_write(path, lambda f: json.dump(record, f, indent=1), mode="w")
    return record


def load_arch(path: Union[str, Path]) -> tuple[SearchSpace, Arch]:
    """The built-in space and the arch of a file written by :func:`save_arch`."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no arch file at {path}; write one with `nasedu export` or nasedu.export.save_arch")
    try:
        record = json.loads(path.read_text())
        name, arch = record["space"], record["arch"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not an arch file of nasedu ({error!r}); it needs 'space' and 'arch'") from error
    space = spaces.get(name)
    return space, space.decode(arch)
