"""Execute the notebook series in order, each on a fresh kernel, and render it as a small HTML book.

    python scripts/run_notebooks.py                      # executed copies in build/notebooks, the book in build/html
    NASEDU_QUICK=1 python scripts/run_notebooks.py       # the same in quick mode
    python scripts/run_notebooks.py --in-place           # maintainers: refresh the committed outputs in notebooks/

The committed notebooks are left alone unless ``--in-place`` is given. Each notebook runs in
``notebooks/`` (so its relative paths such as ``../resource`` resolve; what it writes goes to the
git-ignored ``notebooks/outputs/``). Saved notebooks keep their outputs (so GitHub shows the
figures) but carry no widget state and no execution counts; progress bars are switched off
(TQDM_DISABLE=1) so that no half-drawn bar is saved. Prints the run time of each notebook.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


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


def title(nb: nbformat.NotebookNode, path: Path) -> str:
    """The notebook's first heading, e.g. "00 · What NAS searches for"."""
    first = nb.cells[0].source.splitlines()[0] if nb.cells and nb.cells[0].source else ""
    return first.lstrip("# ").strip() or path.stem


def render_page(nb: nbformat.NotebookNode, path: Path) -> str:
    """One notebook as a standalone HTML page with its figures inline.

    A widget's live view needs a kernel; its static picture (the PNG every nasedu widget carries
    beside the view) is shown instead.
    """
    from nbconvert import HTMLExporter

    static = nbformat.from_dict(nb)
    for cell in static.cells:
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                del output["data"][WIDGET_VIEW]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(static, resources={"metadata": {"name": path.stem}})
    return body


def render_index(rows: list[tuple[str, str, float]], quick: bool) -> str:
    """The book's table of contents: one link per notebook with its run time."""
    items = "\n".join(f'<tr><td><a href="{page}">{html.escape(name)}</a></td><td>{seconds:.0f} s</td></tr>'
                      for name, page, seconds in rows)
    total = sum(seconds for _, _, seconds in rows)
    mode = "quick mode (NASEDU_QUICK=1)" if quick else "default mode"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nasedu: the notebooks</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td{{padding:.4em;border-bottom:1px solid #ddd}}
td:last-child{{text-align:right;white-space:nowrap}}</style></head>
<body><h1>nasedu: learn one-shot neural architecture search</h1>
<p>The notebook series, executed in order on this machine in {mode}, {time.strftime('%Y-%m-%d %H:%M')}.
Total run time {total:.0f} s. Read them in order.</p>
<table><tr><th align="left">notebook</th><th align="right">run time</th></tr>
{items}
</table></body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=REPO / "notebooks", help="folder of numbered .ipynb files")
    parser.add_argument("--build", type=Path, default=REPO / "build", help="where executed copies and the book go")
    parser.add_argument("--in-place", action="store_true",
                        help="maintainers: write the outputs back into the committed notebooks (no HTML)")
    parser.add_argument("--only", nargs="*", default=None, help="run only notebooks whose names start with these")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")  # the kernels inherit it
    paths = sorted(args.folder.glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print(f"no notebooks found in {args.folder}")
        return 1
    executed, book = args.build / "notebooks", args.build / "html"
    if not args.in_place:
        executed.mkdir(parents=True, exist_ok=True)
        book.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in paths:
        seconds, nb = run(path)
        if args.in_place:
            nbformat.write(nb, path)
        else:
            nbformat.write(nb, executed / path.name)
            (book / f"{path.stem}.html").write_text(render_page(nb, path), encoding="utf-8")
        rows.append((title(nb, path), f"{path.stem}.html", seconds))
        print(f"{path.name:40s} {seconds:7.1f} s", flush=True)
    print(f"{'total':40s} {sum(r[2] for r in rows):7.1f} s")
    if not args.in_place:
        index = book / "index.html"
        index.write_text(render_index(rows, os.environ.get("NASEDU_QUICK") == "1"), encoding="utf-8")
        print(f"\nThe executed notebooks are in {executed}; open the book at {index.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
