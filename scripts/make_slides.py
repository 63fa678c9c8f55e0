"""Build a reveal.js slide deck of each executed notebook, for the lecture part of the course.

    python scripts/make_slides.py          # decks in build/slides/ from build/notebooks/ (executed first if empty)

The slides are chosen by rule, the notebooks are not edited: the title with what you will learn;
each ``## `` section's heading with its first paragraph (the Summary whole); and each figure that a
code cell draws, alone, without its code. The decks work offline: their maths is MathML made at
build time, and reveal.js is copied beside them from a local install, which ``make slides`` makes:

    npm install --no-save --prefix build/reveal reveal.js@5.2.1     # npm: apt-get install npm
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

from run_notebooks import REPO, MathMLMarkdown, build_book, drop_remote_images, static, title

REVEAL = REPO / "build" / "reveal" / "node_modules" / "reveal.js"
INSTALL = "npm install --no-save --prefix build/reveal reveal.js@5.2.1"
SLIDE = {"slideshow": {"slide_type": "slide"}}

# nbconvert's reveal.js page without the scripts it loads from a CDN (jQuery, require.js, mermaid,
# MathJax, the widget manager); reveal.js itself comes from resources.reveal.url_prefix.
DECK_TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_css %}
<style>
:root { --jp-content-font-size1: 17px; --jp-content-line-height: 1.4; --jp-code-font-size: 15px; }
.reveal .slides { text-align: left; }
.reveal .slides section img { max-height: 560px; max-width: 100%; object-fit: contain; }
.reveal .jp-OutputArea-output { text-align: center; }
</style>
{% endblock html_head_css %}
{% block footer_js %}
<script src="{{ resources.reveal.url_prefix }}/dist/reveal.js"></script>
<script>
Reveal.initialize({controls: true, progress: true, history: true, slideNumber: "c/t",
                   transition: "{{ resources.reveal.transition }}", width: 960, height: 700});
</script>
{% endblock footer_js %}
"""


class DeckExporter(MathMLMarkdown, SlidesExporter):
    """nbconvert's reveal.js slides with MathML maths."""


def paragraphs(markdown: str) -> list[str]:
    """The blocks of ``markdown`` between blank lines, leaving out what <details> folds away."""
    text = re.sub(r"<details\b.*?</details>", "", markdown, flags=re.S)
    return [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]


def opening(blocks: list[str]) -> str:
    """The first block, with the next one when it introduces it (ends with ':' or is a bold line)."""
    if len(blocks) > 1 and blocks[0].endswith((":", "**")):
        return f"{blocks[0]}\n\n{blocks[1]}"
    return blocks[0] if blocks else ""


def slide_texts(source: str, is_title: bool) -> list[str]:
    """The slides one markdown cell gives: the title slide (first cell only) and one per ``## `` section."""
    parts = re.split(r"^(?=## )", source, flags=re.M)
    texts = []
    if is_title:
        heading, _, rest = parts[0].partition("\n")
        blocks = [b for b in paragraphs(rest) if not b.startswith(("![", "[!["))]  # no badges
        texts.append(f"{heading}\n\n{opening(blocks)}")
    for part in parts[1:]:
        heading, _, body = part.partition("\n")
        blocks = paragraphs(body)
        text = "\n\n".join(blocks) if heading.strip() == "## Summary" else opening(blocks)
        texts.append(f"{heading}\n\n{text}")
    return texts


def figures(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The outputs of a code cell that hold an image, reduced to the image."""
    found = []
    for output in cell.get("outputs", []):
        images = {kind: data for kind, data in output.get("data", {}).items() if kind.startswith("image/")}
        if images:
            found.append(nbformat.v4.new_output("display_data", data=images, metadata=output.get("metadata", {})))
    return found


def deck(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook's slides as a notebook of its own, one cell per slide."""
    cells = []
    for i, cell in enumerate(static(nb).cells):
        if cell.cell_type == "markdown":
            cells += [nbformat.v4.new_markdown_cell(text, metadata=SLIDE) for text in slide_texts(cell.source, i == 0)]
        elif cell.cell_type == "code":
            cells += [nbformat.v4.new_code_cell("", outputs=[figure], metadata=SLIDE) for figure in figures(cell)]
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


def render_deck(nb: nbformat.NotebookNode, name: str) -> str:
    """One notebook's deck as a reveal.js page that loads reveal.js from ``reveal.js/`` beside it."""
    exporter = DeckExporter(raw_template=DECK_TEMPLATE, reveal_url_prefix="reveal.js", reveal_theme="white",
                            exclude_input=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(deck(nb), resources={"metadata": {"name": name}})
    return drop_remote_images(body)


def render_index(decks: list[tuple[str, str]]) -> str:
    """A page linking each deck (title, file)."""
    items = "\n".join(f'<li><a href="{page}">{html.escape(name)}</a></li>' for name, page in decks)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nasedu: slides</title>
<style>body{{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto;padding:0 1em}}</style></head>
<body><h1>nasedu: the lecture slides</h1>
<p>One deck per notebook: arrow keys or space to move, Esc for an overview.</p>
<ul>
{items}
</ul></body></html>
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", default=REPO / "notebooks",
                        help="the numbered notebooks, executed first when the build holds none")
    parser.add_argument("--build", type=Path, default=REPO / "build", help="where the executed notebooks are and the decks go")
    parser.add_argument("--reveal", type=Path, default=REVEAL, help="an installed reveal.js package (with dist/)")
    args = parser.parse_args()
    if not (args.reveal / "dist" / "reveal.js").is_file():
        print(f"reveal.js not found in {args.reveal}. The decks need a local copy; `make slides` installs it,\n"
              f"or by hand from the repository root (npm comes with Debian's package npm):\n    {INSTALL}")
        return 1
    executed, out = args.build / "notebooks", args.build / "slides"
    if not list(executed.glob("[0-9][0-9]_*.ipynb")):
        sources = sorted(args.folder.glob("[0-9][0-9]_*.ipynb"))
        if not sources:
            print(f"no notebooks found in {executed} nor in {args.folder}")
            return 1
        print(f"no executed notebooks in {executed}: running the series first")
        build_book(sources, args.build, os.environ.get("NASEDU_QUICK") == "1")
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.reveal / "dist", out / "reveal.js" / "dist", dirs_exist_ok=True)
    decks = []
    for path in sorted(executed.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        (out / f"{path.stem}.html").write_text(render_deck(nb, path.stem), encoding="utf-8")
        decks.append((title(nb, path), f"{path.stem}.html"))
    index = out / "index.html"
    index.write_text(render_index(decks), encoding="utf-8")
    print(f"{len(decks)} decks; open {index.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
