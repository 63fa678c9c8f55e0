"""The student edition and the teacher key (scripts/make_editions.py, nbgrader).

The student edition gives away no solution, hidden test or answer, and keeps every test cell, locked;
the autograder gives the teacher version full points and a blank 0 on every from-scratch test.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbgrader.api import Gradebook

from conftest import REPO

SOURCES = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REGION = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.S)
BIN = Path(sys.executable).parent
ROUND_TRIP = ["01_supernet", "07_truth"]  # the fast notebooks with a from-scratch test


def nbgrader_meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def split_source(nb) -> tuple[str, str]:
    """A source notebook's text as (what students may see, what only teachers see: solutions, hidden tests,
    folded answers)."""
    shown, hidden = [], []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and nbgrader_meta(cell).get("solution"):
            hidden.append(cell.source)
        else:
            hidden += [match.group(2) for match in REGION.finditer(cell.source)]
            shown.append(REGION.sub("", cell.source))
    return "\n".join(shown), "\n".join(hidden)


def by_grade_id(nb) -> dict:
    return {nbgrader_meta(cell)["grade_id"]: cell for cell in nb.cells if nbgrader_meta(cell)}


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("editions")
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "make_editions.py"), "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "student edition" in run.stdout and "teacher edition" in run.stdout
    return out


@pytest.fixture(scope="module")
def student_text(editions) -> str:
    """Everything the student edition holds: its notebooks' cells and its README."""
    notebooks = [nbformat.read(editions / "student" / path.name, as_version=4) for path in SOURCES]
    cells = "\n".join(cell.source for nb in notebooks for cell in nb.cells)
    return cells + (editions / "student" / "README-STUDENT.md").read_text()


def test_the_student_edition_has_every_notebook_without_outputs(editions):
    assert sorted(p.name for p in (editions / "student").iterdir()) == sorted(
        [p.name for p in SOURCES] + ["README-STUDENT.md"])
    for path in SOURCES:
        nb = nbformat.read(editions / "student" / path.name, as_version=4)
        assert not any(cell.get("outputs") for cell in nb.cells), path.name


def test_the_student_edition_has_no_solution_and_no_hidden_test(editions, student_text):
    for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "HIDDEN TESTS", "<details><summary><b>Solution"):
        assert marker not in student_text
    texts = {path.name: split_source(nbformat.read(path, as_version=4)) for path in SOURCES}
    shown = "\n".join(text for text, _ in texts.values())
    for name, (_, hidden) in texts.items():  # the lines of 25+ characters that only solutions and hidden tests hold
        lines = [line.strip() for line in hidden.splitlines() if len(line.strip()) > 25 and line.strip() not in shown]
        assert lines, f"{name}: no solution text to look for"
        assert [line for line in lines if line in student_text] == [], name


def test_the_student_edition_gives_no_plain_answer(student_text):
    """Every right answer of teacher/answers.yaml that the source notebooks write only in their solutions is
    absent from the student edition (the lesson may mention others, e.g. "validation", as it should)."""
    exercises = yaml.safe_load((REPO / "teacher" / "answers.yaml").read_text())["exercises"]
    answers = {str(value) for entry in exercises.values()
               for value in [entry["answer"], *entry.get("synonyms", []), *entry.get("forms", [])]
               if not isinstance(value, list) and len(str(value)) >= 3}
    shown, hidden = map("\n".join, zip(*(split_source(nbformat.read(p, as_version=4)) for p in SOURCES)))
    only_in_solutions = sorted(a for a in answers if a in hidden and a not in shown)
    assert only_in_solutions, "the folded solutions give no answer of answers.yaml: nothing to check"
    assert [a for a in only_in_solutions if a in student_text] == []


def test_each_from_scratch_cell_is_a_blank_before_its_locked_test(editions):
    for path in SOURCES:
        source = by_grade_id(nbformat.read(path, as_version=4))
        student = by_grade_id(nbformat.read(editions / "student" / path.name, as_version=4))
        assert source.keys() == student.keys(), path.name
        for grade_id, cell in source.items():
            mine, meta = student[grade_id], nbgrader_meta(cell)
            if meta["solution"] and cell.cell_type == "code":  # a from-scratch cell: the code around the blank stays
                assert "# YOUR CODE HERE\n" in mine.source and "raise NotImplementedError()" in mine.source
                kept = [line for line in REGION.sub("", cell.source).splitlines() if line.strip()]
                assert all(line in mine.source.splitlines() for line in kept), grade_id
            elif meta["solution"]:  # the folded answers
                assert mine.source == "YOUR ANSWER HERE", grade_id
            else:  # a test cell: its visible asserts, locked
                assert mine.source.strip() == REGION.sub("", cell.source).strip(), grade_id
                assert nbgrader_meta(mine)["locked"] and mine.metadata["editable"] is False, grade_id
                assert "from-scratch-test" in mine.metadata["tags"], grade_id


def test_the_teacher_edition_holds_the_solutions_the_key_and_the_course(editions):
    teacher = editions / "teacher"
    for path in SOURCES:
        assert (teacher / path.name).read_bytes() == path.read_bytes()
    key = (teacher / "ANSWERS.md").read_text()
    exercises = yaml.safe_load((REPO / "teacher" / "answers.yaml").read_text())["exercises"]
    assert all(f"## {exercise_id}" in key for exercise_id in exercises)
    grading = (teacher / "GRADING.md").read_text()
    assert "nbgrader autograde" in grading and "submitted/<student>/<assignment>/" in grading
    course = teacher / "course"
    assert (course / "nbgrader_config.py").is_file() and not (REPO / "gradebook.db").exists()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for path in SOURCES:
            points = sum(nbgrader_meta(c).get("points", 0) for c in nbformat.read(path, as_version=4).cells)
            assert gradebook.find_assignment(path.stem).max_score == points
            assert f"| `{path.stem}` |" in grading


@pytest.mark.slow
def test_the_autograder_passes_the_teacher_version_and_fails_a_blank(editions):
    """nbgrader autograde in the course directory, as GRADING.md says, on the source and the student notebook."""
    course = editions / "teacher" / "course"
    for name in ROUND_TRIP:
        for student, edition in (("teacher", "teacher"), ("blank", "student")):
            (course / "submitted" / student / name).mkdir(parents=True)
            shutil.copy2(editions / edition / f"{name}.ipynb", course / "submitted" / student / name)
    # the kernels inherit quick mode and one thread each (on shared cores a second thread slows torch down many times)
    env = {**os.environ, "NASEDU_QUICK": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    for name in ROUND_TRIP:
        run = subprocess.run([str(BIN / "nbgrader"), "autograde", name], cwd=course, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for name in ROUND_TRIP:
            nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
            tests = [nbgrader_meta(c)["grade_id"] for c in nb.cells if "from-scratch-test" in c.metadata.get("tags", [])]
            assert tests, name
            for test in tests:
                full = gradebook.find_grade_cell(test, name, name).max_score
                assert gradebook.find_grade(test, name, name, "teacher").score == full > 0, test
                assert gradebook.find_grade(test, name, name, "blank").score == 0, test
