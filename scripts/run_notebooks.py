"""Execute the notebook series in order, each on a fresh kernel, and render it as a small HTML book.

    python scripts/run_notebooks.py                      # executed copies in build/notebooks, the book in build/html
    NASEDU_QUICK=1 python scripts/run_notebooks.py       # the same in quick mode
    python scripts/run_notebooks.py --in-place           # maintainers: refresh the committed outputs in notebooks/

The committed notebooks are left alone unless ``--in-place`` is given. Each notebook runs with its
working folder in ``build/notebooks/`` (with ``--in-place``: a temporary folder, removed afterwards),
so whatever it writes lands in the build, never beside the sources; the notebooks find the files the
course ships through ``nasedu.resources``. Saved notebooks keep their outputs (so GitHub shows the
figures) but carry no widget state and no execution counts; progress bars are switched off
(TQDM_DISABLE=1) so that no half-drawn bar is saved. Prints the run time of each notebook.

The book works offline: its maths is MathML made at build time (latex2mathml), and its pages load
no script, style sheet, font or image from the network. Each page links to the previous and the next
notebook and to the index, which gives each notebook's reading and run time.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from jinja2 import pass_context
from latex2mathml.converter import convert
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

from course_times import prose_words, reading_minutes

REPO = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# nbconvert's JupyterLab page without the scripts it loads from a CDN (require.js, MathJax, mermaid,
# the widget manager), with a navigation bar at the top and the bottom.
BOOK_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block extra_css %}
<style>
.book-nav{display:flex;justify-content:space-between;gap:1em;max-width:60em;margin:1em auto;padding:.5em 1em;
  font-family:system-ui,sans-serif;border-top:1px solid #ddd;border-bottom:1px solid #ddd}
.book-nav span{flex:1}.book-nav span:last-child{text-align:right}
math[display="block"]{margin:.8em 0}
</style>
{% endblock extra_css %}
{% block body_header %}{{ super() }}{{ resources.nav }}{% endblock body_header %}
{% block body_footer %}{{ resources.nav }}{{ super() }}{% endblock body_footer %}
"""


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


def run(path: Path, cwd: Path, timeout: int = 1200) -> tuple[float, nbformat.NotebookNode]:
    """Execute one notebook with its kernel working in ``cwd``; return the seconds it took and the cleaned notebook."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    seconds = time.perf_counter() - start
    return seconds, clean(nb)


def title(nb: nbformat.NotebookNode, path: Path) -> str:
    """The notebook's first heading, e.g. "00 · What NAS searches for"."""
    first = nb.cells[0].source.splitlines()[0] if nb.cells and nb.cells[0].source else ""
    return first.lstrip("# ").strip() or path.stem


def mathml(latex: str, display: str) -> str:
    """LaTeX as MathML (``display`` is "inline" or "block"); a formula latex2mathml cannot parse stays LaTeX, in <code>."""
    tex = re.sub(r"\\arg(?![A-Za-z])", r"\\operatorname{arg}", latex)  # latex2mathml 3.81 lacks \arg
    try:  # HTML needs no xmlns on <math> (and nbconvert's heading anchors would mangle one)
        return convert(tex, display=display).replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)
    except Exception:  # latex2mathml's errors share no base class
        delimiter = "$$" if display == "block" else "$"
        return f'<code class="latex">{html.escape(delimiter + latex + delimiter)}</code>'


class MathMLRenderer(IPythonRenderer):
    """nbconvert's markdown renderer, writing the maths it finds as MathML instead of leaving it to MathJax.

    Its parser decides what is maths, as in JupyterLab: never inside code, and ``\\$`` is a dollar sign.
    """

    def inline_math(self, body: str) -> str:
        return mathml(body, "inline")

    def block_math(self, body: str) -> str:
        return mathml(body, "block")

    def latex_environment(self, name: str, body: str) -> str:
        return mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", "block")


class MathMLMarkdown:
    """Mixin for nbconvert's HTML exporters: markdown cells render with their maths as MathML."""

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        attachments = context.get("cell", {}).get("attachments", {})
        renderer = MathMLRenderer(escape=False, attachments=attachments, anchor_link_text=self.anchor_link_text)
        return MarkdownWithMath(renderer=renderer).render(source)


class BookExporter(MathMLMarkdown, HTMLExporter):
    """One notebook as a page of the offline book (``resources["nav"]`` is its navigation bar)."""


def drop_remote_images(page: str) -> str:
    """Replace every <img> loaded from http(s) (e.g. a Colab badge) by its alt text."""
    soup = BeautifulSoup(page, features="html.parser")
    for img in soup.find_all("img", src=re.compile(r"^\s*(https?:)?//", re.I)):
        img.replace_with(img.get("alt", ""))
    return str(soup)


def static(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without widget views: a live view needs a kernel; the static PNG every nasedu widget
    carries beside its view is shown instead."""
    copy = nbformat.from_dict(nb)
    for cell in copy.cells:
        for output in cell.get("outputs", []):
            output.get("data", {}).pop(WIDGET_VIEW, None)
    return copy


def render_nav(pages: list[tuple[str, str]], i: int) -> str:
    """The bar above and below page ``i`` of ``pages`` (title, file): previous, contents, next."""
    previous = next_ = ""
    if i > 0:
        previous = f'<a rel="prev" href="{pages[i - 1][1]}">← {html.escape(pages[i - 1][0])}</a>'
    if i + 1 < len(pages):
        next_ = f'<a rel="next" href="{pages[i + 1][1]}">{html.escape(pages[i + 1][0])} →</a>'
    return f'<nav class="book-nav"><span>{previous}</span><a href="index.html">contents</a><span>{next_}</span></nav>'


def render_page(nb: nbformat.NotebookNode, path: Path, nav: str) -> str:
    """One notebook as a standalone HTML page with its figures inline and ``nav`` at the top and bottom."""
    exporter = BookExporter(template_name="lab", raw_template=BOOK_TEMPLATE)
    body, _ = exporter.from_notebook_node(static(nb), resources={"metadata": {"name": path.stem}, "nav": nav})
    return drop_remote_images(body)


def render_index(rows: list[tuple[str, str, int, float]], quick: bool) -> str:
    """The book's table of contents: one link per notebook (title, page, reading minutes, run seconds)."""
    items = "\n".join(f'<tr><td><a href="{page}">{html.escape(name)}</a></td><td>{minutes} min</td><td>{seconds:.0f} s</td></tr>'
                      for name, page, minutes, seconds in rows)
    total = sum(row[3] for row in rows)
    mode = "quick mode (NASEDU_QUICK=1)" if quick else "default mode"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nasedu: the notebooks</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;width:100%}}td{{padding:.4em;border-bottom:1px solid #ddd}}
td+td{{text-align:right;white-space:nowrap}}</style></head>
<body><h1>nasedu: learn one-shot neural architecture search</h1>
<p>The notebook series, executed in order on this machine in {mode}, {time.strftime('%Y-%m-%d %H:%M')}.
Total run time {total:.0f} s. Read them in order.</p>
<table><tr><th align="left">notebook</th><th align="right">reading</th><th align="right">run time</th></tr>
{items}
</table></body></html>
"""


def build_book(paths: list[Path], build: Path, quick: bool) -> Path:
    """Execute ``paths`` in ``build/notebooks``, save them there, render the book in ``build/html``; return its index."""
    executed, book = build / "notebooks", build / "html"
    executed.mkdir(parents=True, exist_ok=True)
    book.mkdir(parents=True, exist_ok=True)
    pages = [(title(nbformat.read(path, as_version=4), path), f"{path.stem}.html") for path in paths]
    rows = []
    for i, path in enumerate(paths):
        seconds, nb = run(path, executed)
        nbformat.write(nb, executed / path.name)
        (book / pages[i][1]).write_text(render_page(nb, path, render_nav(pages, i)), encoding="utf-8")
        rows.append((*pages[i], reading_minutes(prose_words(nb)), seconds))
        print(f"{path.name:40s} {seconds:7.1f} s", flush=True)
    print(f"{'total':40s} {sum(row[3] for row in rows):7.1f} s")
    index = book / "index.html"
    index.write_text(render_index(rows, quick), encoding="utf-8")
    return index


def refresh_in_place(paths: list[Path]) -> None:
    """Execute ``paths`` in a temporary folder and write their outputs back into them."""
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="nasedu-run-") as scratch:
        for path in paths:
            seconds, nb = run(path, Path(scratch))
            nbformat.write(nb, path)
            total += seconds
            print(f"{path.name:40s} {seconds:7.1f} s", flush=True)
    print(f"{'total':40s} {total:7.1f} s")


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
    if args.in_place:
        refresh_in_place(paths)
        return 0
    index = build_book(paths, args.build.resolve(), os.environ.get("NASEDU_QUICK") == "1")
    print(f"\nThe executed notebooks are in {index.parent.parent / 'notebooks'}; open the book at {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
