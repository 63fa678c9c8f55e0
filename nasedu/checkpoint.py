"""Checkpoints that never lose what the user had: atomic writes, safe loads, exact resume.

A checkpoint is a plain dict of tensors, numbers, strings and lists, so it loads with
``torch.load(..., weights_only=True)`` (no pickled code runs). It is written to a temporary
file in the same folder and renamed over the old one, so a crash mid-write leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path
from typing import IO, Callable, Union

import torch

PathLike = Union[str, os.PathLike]


def atomic_write(path: PathLike, write: Callable[[IO], None], mode: str = "wb") -> None:
    """Create or replace ``path`` all at once: ``write(file)`` fills a temporary file beside it,
    which is flushed to disk and renamed over ``path``.

    A crash or an error in ``write`` leaves the old ``path`` as it was and no temporary file
    behind. The new file gets the usual permissions (0666 less the umask), not the owner-only
    ones of a temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(mode, dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as f:
        try:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            os.unlink(f.name)
            raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(f.name, 0o666 & ~umask)
    os.replace(f.name, path)


def write_json(data: dict, path: PathLike) -> None:
    """Write ``data`` as indented JSON, atomically."""
    atomic_write(path, lambda f: json.dump(data, f, indent=1), mode="w")


def save(state: dict, path: PathLike) -> None:
    """Write ``state`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: torch.save(state, f))


def load(path: PathLike) -> dict:
    """Read a checkpoint written by :func:`save`, with ``weights_only=True``; clear errors otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train first or give the path of an existing one")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"checkpoint {path} is corrupt or not a nasedu checkpoint ({type(error).__name__}: "
                         f"{str(error).splitlines()[0][:200]}); delete it to start over or pass another") from error
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, not a nasedu checkpoint dict")
    return state


def check_matches(state: dict, path: PathLike, kind: str, space: str, config: dict) -> None:
    """Raise a clear error unless ``state`` is a ``kind`` checkpoint of ``space`` made with ``config``.

    ``progress`` and ``device`` may differ: a run can resume on another device, quietly.
    """
    if state.get("kind") != kind:
        raise ValueError(f"{path} is not a {kind} checkpoint (kind={state.get('kind')!r})")
    if state["space"] != space:
        raise ValueError(f"{path} was trained on space {state['space']!r}, not {space!r}")
    saved = state["config"]
    changed = {k: (saved.get(k), v) for k, v in config.items() if k not in ("progress", "device") and saved.get(k) != v}
    if changed:
        raise ValueError(f"{path} was made with another config: {changed} (saved, now); "
                         f"resume with the same settings or start a new run")


def rng_state() -> dict:
    """Every random-number state a training run uses: Python, torch CPU and CUDA."""
    version, internal, gauss = random.getstate()
    state = {"python": [version, list(internal), gauss], "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore the states taken by :func:`rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
