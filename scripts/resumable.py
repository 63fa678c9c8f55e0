"""Independent runs on one-thread worker processes, each appended to a ``.partial.jsonl`` file as it
finishes, so that an interrupted script continues where it stopped.

On a 2-core CPU two one-thread workers finish almost twice as many small trainings per hour as
one two-thread process. Used by compare_methods.py and ranking_variants.py.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Callable, Sequence

import torch


def one_thread() -> None:
    """Worker initialiser: one CPU thread per process."""
    torch.set_num_threads(1)


def run_all(run: Callable[[tuple], dict], jobs: Sequence[tuple], partial: Path, workers: int, name: str,
            describe: Callable[[dict], str]) -> list[dict]:
    """The records already in ``partial`` plus ``run(job)`` for every job not yet there, in ``jobs``' order.

    A job is ``(name, seed, ...)`` and its record holds ``record[name]`` and ``record["seed"]``;
    ``describe(record)`` is the line printed as each run ends.
    """
    done = [json.loads(line) for line in partial.read_text().splitlines()] if partial.exists() else []
    finished = {(r[name], r["seed"]) for r in done}
    todo = [job for job in jobs if tuple(job[:2]) not in finished]
    print(f"{len(done)} runs done, {len(todo)} to go on {workers} one-thread workers", flush=True)
    with multiprocessing.Pool(workers, initializer=one_thread) as pool:
        for record in pool.imap_unordered(run, todo):
            done.append(record)
            with open(partial, "a") as f:
                f.write(json.dumps(record) + "\n")
            print(describe(record), flush=True)
    return done
