"""Execute the notebook series in order on a fresh kernel each, and save their outputs.

    python scripts/run_notebooks.py notebooks            # run all, write outputs back
    NASEDU_QUICK=1 python scripts/run_notebooks.py notebooks --no-save   # a quick check

Saved notebooks keep their outputs (so GitHub shows the figures) but carry no widget
state and no execution counts. Progress bars are switched off (TQDM_DISABLE=1) so that no
half-drawn bar is saved. Prints the run time of each notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop widget state and execution counts, keep outputs."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
        cell.metadata.pop("execution", None)
    return nb


def run(path: Path, timeout: int = 1200) -> tuple[float, nbformat.NotebookNode]:
    """Execute one notebook in its own folder; return the seconds it took and the cleaned notebook."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    return seconds, clean(nb)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="folder of numbered .ipynb files")
    parser.add_argument("--no-save", action="store_true", help="do not write the outputs back")
    parser.add_argument("--only", nargs="*", default=None, help="run only notebooks whose names start with these")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the kernels inherit it
    paths = sorted(args.folder.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print(f"no notebooks found in {args.folder}")
        return 0
    total = 0.0
    for path in paths:
        seconds, nb = run(path)
        total += seconds
        if not args.no_save:
            nbformat.write(nb, path)
        print(f"{path.name:40s} {seconds:7.1f} s", flush=True)
    print(f"{'total':40s} {total:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
