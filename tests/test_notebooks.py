"""The notebook series: each runs top to bottom on a fresh kernel in quick mode, and is committed clean."""

import re

import nbformat
import pytest
from nbclient import NotebookClient

from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def source(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def test_the_series_is_numbered_in_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers == sorted(set(numbers)) and numbers[0] == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "widgets" not in nb.metadata, "strip metadata.widgets (python scripts/run_notebooks.py does)"
    assert all(c.execution_count is None for c in code), "clear execution counts"
    assert any(c.outputs for c in code), "commit the outputs so readers on GitHub see the figures"
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs), "a committed output is an error"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_the_course_structure(path):
    nb = nbformat.read(path, as_version=4)
    header = nb.cells[0].source
    assert header.startswith("# ") and "colab.research.google.com" in header and "mybinder.org" in header
    assert "You will learn" in header and "Prerequisites" in header and "Run time" in header
    assert "except ImportError" in nb.cells[1].source and "pip install" in nb.cells[1].source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "NASEDU_QUICK" in tagged[0].source
    text = source(nb)
    assert "## Summary" in text and "## Exercises" in text and "Solution" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, monkeypatch):
    monkeypatch.setenv("NASEDU_QUICK", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_readme_gives_every_notebooks_run_times():
    rows = (REPO / "README.md").read_text().splitlines()
    for path in NOTEBOOKS:
        row = next((r for r in rows if f"(notebooks/{path.name})" in r), None)
        assert row is not None, f"README's notebook table lacks a link to notebooks/{path.name}"
        default, quick = [cell.strip() for cell in row.strip().strip("|").split("|")][-2:]
        assert re.fullmatch(r"\d+ s", default) and re.fullmatch(r"\d+ s", quick), row
