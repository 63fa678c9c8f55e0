"""The notebook series: each runs top to bottom on a fresh kernel in quick mode, and is committed clean."""

import re
import subprocess
import sys

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
    assert header.startswith("# ") and "You will learn" in header and "Prerequisites" in header and "Run time" in header
    assert "except ImportError" in nb.cells[1].source and "import nasedu as nd" in nb.cells[1].source
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "NASEDU_QUICK" in tagged[0].source
    text = source(nb)
    assert "## Summary" in text and "## Exercises" in text and "Solution" in text


def test_no_notebook_installs_anything_or_names_an_address_we_do_not_own():
    not_ours = "github.com/" + "nasedu"  # a made-up home the project never owned (spelt in two so grep finds nothing)
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            assert not re.search(r"^\s*[%!]\s*(pip|conda|apt)", cell.source, re.M), (path.name, cell.source[:80])
            assert not_ours not in cell.source and "mybinder.org" not in cell.source, path.name
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (REPO / name).suffix in (".py", ".md", ".ipynb", ".toml", ".yml", ".txt", ".cfg", "") and (REPO / name).is_file():
            assert not_ours not in (REPO / name).read_text(errors="ignore"), name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, monkeypatch, tmp_path):
    """In an empty folder, as a student's copy runs: every shipped file comes through nasedu.resources."""
    monkeypatch.setenv("NASEDU_QUICK", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_readme_gives_every_notebooks_run_times():
    rows = (REPO / "README.md").read_text().splitlines()
    for path in NOTEBOOKS:
        row = next((r for r in rows if f"(notebooks/{path.name})" in r), None)
        assert row is not None, f"README's notebook table lacks a link to notebooks/{path.name}"
        default, quick = [cell.strip() for cell in row.strip().strip("|").split("|")][-2:]
        assert re.fullmatch(r"\d+ s", default) and re.fullmatch(r"\d+ s", quick), row


def test_make_run_leaves_the_notebooks_alone_and_writes_an_html_book(tmp_path):
    """scripts/run_notebooks.py without --in-place: executed copies and a static HTML book in build/."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 00 · A tiny notebook\n\nText."),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3]); plt.show()\nprint(6 * 7)"),
    ])
    nbformat.write(nb, folder / "00_tiny.ipynb")
    before = (folder / "00_tiny.ipynb").read_bytes()
    build = tmp_path / "build"
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), str(folder), "--build", str(build)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (folder / "00_tiny.ipynb").read_bytes() == before  # the committed notebook is untouched
    executed = nbformat.read(build / "notebooks" / "00_tiny.ipynb", as_version=4)
    outputs = executed.cells[1].outputs
    assert any("42" in o.get("text", "") for o in outputs) and executed.cells[1].execution_count is None
    page = (build / "html" / "00_tiny.html").read_text()
    assert "data:image/png;base64," in page and "A tiny notebook" in page  # the figure is inline
    index = (build / "html" / "index.html").read_text()
    assert '<a href="00_tiny.html">00 · A tiny notebook</a>' in index and re.search(r"<td>\d+ s</td>", index)
    assert str((build / "html" / "index.html").resolve()) in out.stdout  # it says where to open the book


def test_maintainers_refresh_the_committed_outputs_in_place(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('fresh')")]), folder / "00_a.ipynb")
    subprocess.run([sys.executable, str(REPO / "scripts" / "run_notebooks.py"), str(folder), "--in-place",
                    "--build", str(tmp_path / "build")], check=True, capture_output=True)
    refreshed = nbformat.read(folder / "00_a.ipynb", as_version=4)
    assert refreshed.cells[0].outputs[0]["text"] == "fresh\n" and refreshed.cells[0].execution_count is None
    assert not (tmp_path / "build").exists()
