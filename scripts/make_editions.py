"""Write the student edition and the teacher key of the notebook series with nbgrader.

    python scripts/make_editions.py              # build/student/ and build/teacher/
    python scripts/make_editions.py --out DIR    # DIR/student/ and DIR/teacher/

The notebooks are marked up for nbgrader: each "From scratch" cell holds its solution between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` and is followed by a locked test cell (its asserts,
some between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``); each notebook's folded
worked solutions are a manually graded answer cell. ``nbgrader generate_assignment`` turns them into:

- ``student/``: the notebooks to hand out, without solutions, hidden tests or outputs; each "From
  scratch" cell is a blank to fill (``# YOUR CODE HERE``) and its test cell stays, locked;
  ``README-STUDENT.md`` says how to work through them.
- ``teacher/``: the notebooks with their solutions and hidden tests, the exercises' answer key,
  ``GRADING.md`` (how to grade), ``TEACHING.md``, and ``course/``: the nbgrader course directory
  (one assignment per notebook, its gradebook, its ``nbgrader_config.py``) to autograde in.

Nothing is written into the repository. The script stops rather than overwrite a course directory
that already holds students' submissions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
ANSWER_KEY_SCRIPT = REPO / "scripts" / "make_exercise_key.py"

# The course's nbgrader settings: the script generates with them, the teacher autogrades with them.
NBGRADER_CONFIG = """\
# nbgrader's settings for the nasedu course (written by scripts/make_editions.py)
c = get_config()
c.Execute.timeout = 1200  # seconds a cell may run when autograding: some train for minutes outside quick mode
"""

STUDENT_README = """\
# nasedu: the student edition

Ten notebooks on one-shot neural architecture search. Read them in order.

- **Set up**: install the wheel your teacher gives you, with JupyterLab (`pip install nasedu-*.whl jupyterlab`,
  then `nasedu data fetch` for Fashion-MNIST), or run `make setup` in a clone of the repository. Then start
  `jupyter lab` in this folder. In a hurry, run the notebooks in quick mode: `NASEDU_QUICK=1 jupyter lab`.
- **From scratch**: each such section has a cell with `# YOUR CODE HERE` and `raise NotImplementedError()`.
  Replace these two lines by your code, run the cell, then run the locked cell below it: its asserts compare your
  code with the package's. When they pass, your code is right on these inputs; your teacher's grading adds a few
  more checks of the same kind.
- **Exercises** check themselves: `nd.exercises.check("03.2", answer)` says right or not yet, with a hint.
  Write your reasoning in the cell that says "YOUR ANSWER HERE" after the exercises: your teacher reads it.
- **Hand in** each notebook as it is: do not rename it, and do not delete, copy or split its cells (the grader
  finds them by their ids). If nbgrader is installed, JupyterLab's "Validate" button runs the notebook's checks.
"""


def numbered_notebooks() -> list[Path]:
    """The course's notebooks, in order (00_overview.ipynb, ...)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def nbgrader_cells(path: Path) -> list[dict]:
    """The nbgrader metadata of a notebook's marked cells."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [cell["metadata"]["nbgrader"] for cell in cells if "nbgrader" in cell["metadata"]]


def points(path: Path) -> tuple[int, int, int]:
    """A notebook's autograded test cells, their points, and its manually graded answer cells."""
    cells = nbgrader_cells(path)
    tests = [c for c in cells if c.get("grade") and not c.get("solution")]
    answers = [c for c in cells if c.get("grade") and c.get("solution")]
    return len(tests), sum(c["points"] for c in tests), len(answers)


def make_course(paths: list[Path], course: Path) -> None:
    """A new nbgrader course directory in ``course``: one assignment per notebook in source/, released into release/."""
    for path in paths:
        (course / "source" / path.stem).mkdir(parents=True)
        shutil.copy2(path, course / "source" / path.stem / path.name)
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.merge(Config({"CourseDirectory": {"root": str(course)}}))
    # nbgrader's gradebook runs alembic, installed beside this Python
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    api = NbGraderAPI(config=config)
    for path in paths:
        result = api.generate_assignment(path.stem)
        if not result["success"]:
            sys.exit(f"nbgrader generate_assignment {path.stem} failed:\n{result.get('log', '')}{result['error']}")


def grading_guide(paths: list[Path], key: str) -> str:
    """GRADING.md: how to autograde and grade by hand with nbgrader, and the points of each notebook."""
    rows = []
    for path in paths:
        tests, score, answers = points(path)
        rows.append(f"| `{path.stem}` | {tests} | {score} | {answers} |")
    table = "\n".join(rows)
    return f"""\
# Grading the nasedu notebooks with nbgrader

This folder is the teacher's edition, made by `make student` (`scripts/make_editions.py`): the notebooks with
their solutions and hidden tests, the exercises' answer key (`{key}`) and `course/`, an nbgrader course
directory. Hand out `../student/` (the same notebooks without solutions, hidden tests or outputs;
`course/release/` holds the same files, one folder per assignment).

The repository and the nasedu wheel (as `nasedu/course/`) carry the notebooks with their solutions: a student
who has either can read them. The hidden tests catch code written to pass the visible asserts, not copying.

## Points

Each notebook is one assignment, named after it. Each "From scratch" section is a solution cell followed
by a locked test cell worth 1 point: its asserts compare the student's code with the package's, and its
hidden asserts (removed from the student edition, restored by the autograder) try other inputs. The
exercises check themselves in class (`nd.exercises.check`); the cell after them, where students write
their reasoning, is graded by hand and worth 0 points (give it points in the source notebook's cell
metadata and run `make student` again if you want it to count).

| assignment | autograded test cells | points | answer cells graded by hand |
|---|---|---|---|
{table}

## Autograde

nbgrader works in `course/` (its `nbgrader_config.py` and `gradebook.db` are there). Copy the folder out
of `build/` first if you grade over a term: `make student` refuses to overwrite it once it holds submissions,
and `make clean` deletes `build/`.

1. Collect each student's notebook into `course/submitted/<student>/<assignment>/<notebook>`, e.g.
   `course/submitted/ada/07_truth/07_truth.ipynb`. On a JupyterHub with nbgrader's exchange, set
   `c.CourseDirectory.course_id` in `course/nbgrader_config.py`, then `nbgrader release_assignment 07_truth`
   and, after the deadline, `nbgrader collect 07_truth`; files downloaded from an LMS: `nbgrader zip_collect --help`.
2. Run the autograder, in the virtual environment that runs the notebooks (the kernel `python3`):

       cd build/teacher/course
       NASEDU_QUICK=1 nbgrader autograde 07_truth             # every student who submitted 07_truth
       NASEDU_QUICK=1 nbgrader autograde 07_truth --student ada

   Each notebook runs top to bottom on a fresh kernel in `course/autograded/<student>/07_truth/`, its test
   cells replaced by the locked originals with the hidden tests. Quick mode (`NASEDU_QUICK=1`) tests the
   same code on less data: the series runs in about 2 minutes per student on a 2-core CPU (without it,
   about 5 minutes; the README's table gives each notebook's time).
3. Grade the answer cells by hand and read the failures in the formgrader: `jupyter lab` in `course/`, then
   the menu Nbgrader > Formgrader (the "Manual Grading" tab).
4. Export the scores: `nbgrader export` writes `grades.csv`. Feedback for the students:
   `nbgrader generate_feedback 07_truth` writes HTML into `course/feedback/`.

A blank from-scratch cell raises `NotImplementedError`, so its test cell fails and scores 0; a correct
solution scores 1.
"""


def answer_key(out: Path) -> Path:
    """Write the exercises' answer key into ``out`` with the script that owns the answers; return its path."""
    key = out / "ANSWERS.md"
    subprocess.run([sys.executable, str(ANSWER_KEY_SCRIPT), "--out", str(key)], check=True)
    return key


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build", help="where student/ and teacher/ go")
    args = parser.parse_args()
    out = args.out.resolve()
    student, teacher = out / "student", out / "teacher"
    paths = numbered_notebooks()
    if (teacher / "course" / "submitted").exists():
        sys.exit(f"{teacher / 'course'} holds submissions: copy it elsewhere or delete it, then run this again")
    for folder in (student, teacher):
        shutil.rmtree(folder, ignore_errors=True)

    make_course(paths, teacher / "course")
    student.mkdir(parents=True)
    for path in paths:
        shutil.copy2(teacher / "course" / "release" / path.stem / path.name, student / path.name)
        shutil.copy2(path, teacher / path.name)
    (student / "README-STUDENT.md").write_text(STUDENT_README, encoding="utf-8")
    shutil.copy2(NOTEBOOKS / "TEACHING.md", teacher / "TEACHING.md")
    key = answer_key(teacher)
    (teacher / "GRADING.md").write_text(grading_guide(paths, key.name), encoding="utf-8")

    print(f"student edition: {student}/ ({len(paths)} notebooks, README-STUDENT.md)")
    print(f"teacher edition: {teacher}/ ({len(paths)} notebooks, {key.name}, GRADING.md, TEACHING.md)")
    print(f"nbgrader course: {teacher / 'course'}/ (source/, release/, gradebook.db, nbgrader_config.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
