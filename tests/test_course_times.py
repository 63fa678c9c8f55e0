"""Each notebook's reading time is measured, and its header and TEACHING.md give the measured number."""

import re
import sys

import nbformat
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from course_times import prose_words, reading_line, reading_minutes  # noqa: E402

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_prose_words_count_the_text_outside_folds_code_and_formulas():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("One two three, $x^2 + y$ four.\n\n```python\nnot counted at all\n```"),
        nbformat.v4.new_markdown_cell("<details><summary>Solution</summary>\n\nhidden words here\n\n</details>\nfive"),
        nbformat.v4.new_code_cell("# code is not prose"),
        nbformat.v4.new_markdown_cell(reading_line(1234)),
    ])
    assert prose_words(nb) == 5
    assert reading_minutes(150) == 1 and reading_minutes(151) == 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_header_gives_the_measured_reading_time(path):
    nb = nbformat.read(path, as_version=4)
    assert reading_line(prose_words(nb)) in nb.cells[0].source, "run python scripts/course_times.py --write"


def test_teaching_md_gives_every_notebooks_reading_time_and_none_is_missing():
    rows = (REPO / "notebooks" / "TEACHING.md").read_text().split("## How long each notebook takes")[1]
    for path in NOTEBOOKS:
        minutes = reading_minutes(prose_words(nbformat.read(path, as_version=4)))
        row = next((r for r in rows.splitlines() if r.startswith(f"| {path.name[:2]} ")), None)
        assert row is not None, f"TEACHING.md's table lacks notebook {path.name[:2]}"
        assert re.search(rf"\| {minutes} min \|", row), (row, minutes)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_header_and_teaching_md_give_readmes_measured_run_times(path):
    row = next(r for r in (REPO / "README.md").read_text().splitlines() if f"(notebooks/{path.name})" in r)
    default, quick = [cell.strip() for cell in row.strip().strip("|").split("|")][-2:]
    header = nbformat.read(path, as_version=4).cells[0].source
    assert f"**Run time:** {default} on a 2-core CPU" in header and re.search(rf"quick mode:\s+{quick}", header)
    teaching = (REPO / "notebooks" / "TEACHING.md").read_text()
    assert re.search(rf"\| {path.name[:2]} [^|]*\| \d+ min \| {default} \|", teaching), path.name
