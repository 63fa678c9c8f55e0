"""The course travels inside the package: nasedu.resources finds it in a clone and in an installed wheel.

The slow test does what a student without a clone does: the wheel installed into a fresh venv,
``nasedu notebooks course``, then every notebook executed from ``course/`` in quick mode with
Debian's dataset folder masked and Fashion-MNIST only in ``NASEDU_DATA``.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import nbformat
import pytest

import nasedu as nd
from conftest import REPO

NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DEBIAN_DATA = Path("/usr/share/datasets")


def shipped_names() -> set[str]:
    """Every artefact a notebook asks for with nd.resources.path("...")."""
    names = set()
    for path in NOTEBOOKS:
        for cell in nbformat.read(path, as_version=4).cells:
            names |= set(re.findall(r'nd\.resources\.path\("([\w.]+)"\)', cell.source))
    return names


def test_every_artefact_the_notebooks_load_ships_in_the_clone():
    names = shipped_names()
    assert {"teaching_spos.pt", "teaching_scores.json", "teaching_darts.pt"} <= names
    for name in names:
        assert nd.resources.path(name) == REPO / "resource" / name and nd.resources.path(name).is_file(), name
    assert nd.resources.course_dir() == REPO / "notebooks"


def test_a_path_is_a_file_name():
    with pytest.raises(ValueError, match="pass a file name such as 'teaching_spos.pt'"):
        nd.resources.path("../resource/teaching_spos.pt")


def test_copy_course_copies_the_series_and_never_overwrites_by_accident(tmp_path):
    copied = nd.resources.copy_course(tmp_path / "course")
    names = sorted(p.name for p in copied)
    assert names == sorted([p.name for p in NOTEBOOKS] + ["TEACHING.md"])
    assert (tmp_path / "course" / NOTEBOOKS[0].name).read_bytes() == NOTEBOOKS[0].read_bytes()
    (tmp_path / "course" / NOTEBOOKS[0].name).write_text("my edits")
    with pytest.raises(FileExistsError, match=r"11 course files already exist.*overwrite=True, --force"):
        nd.resources.copy_course(tmp_path / "course")
    assert (tmp_path / "course" / NOTEBOOKS[0].name).read_text() == "my edits"  # nothing lost
    nd.resources.copy_course(tmp_path / "course", overwrite=True)
    assert (tmp_path / "course" / NOTEBOOKS[0].name).read_bytes() == NOTEBOOKS[0].read_bytes()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `make wheel` builds (here without build isolation: the venv's setuptools, offline)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(REPO)], check=True, capture_output=True)
    (found,) = out.glob("nasedu-*.whl")
    return found


def test_the_wheel_carries_the_course_and_its_artefacts(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in shipped_names():
        assert f"nasedu/resource/{name}" in names, name
    for path in NOTEBOOKS:
        assert f"nasedu/course/{path.name}" in names, path.name
    assert "nasedu/course/TEACHING.md" in names and "nasedu/tables/nas-bench-macro/LICENSE" in names
    assert not any(n.endswith(".partial.jsonl") for n in names)  # the scripts' resume logs stay in the clone
    assert wheel.stat().st_size < 20e6
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "License-Expression: MIT" in metadata


def fresh_venv(folder: Path, wheel: Path) -> Path:
    """A new venv with the wheel installed; the pinned dependencies come from this venv's site-packages by a
    .pth line (which adds the folder but not its .pth files: this clone's editable nasedu stays out)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "pinned_requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip --python installs into that venv only (its scripts run its python); --prefix would also uninstall ours
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--ignore-installed",
                    "-q", str(wheel)], check=True, capture_output=True)
    subprocess.run([python, "-m", "ipykernel", "install", "--prefix", str(folder), "--name", "python3"],
                   check=True, capture_output=True)
    ours = subprocess.run([sys.executable, "-c", "import nasedu; print(nasedu.__file__)"], cwd=folder,
                          capture_output=True, text=True)
    assert ours.stdout.startswith(str(REPO)), "installing the wheel must leave this clone's venv alone"
    return folder


RUN_COURSE = """
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

results = {}
for path in sorted(Path(".").glob("[0-9][0-9]_*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("import nasedu; print(nasedu.__file__)"))
    try:
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
        results[path.name] = nb.cells[0].outputs[0]["text"].strip()
    except Exception as error:
        results[path.name] = "FAILED: " + str(error)[-2000:]
    print(path.name, results[path.name][:200], flush=True)
Path("results.json").write_text(json.dumps(results))
"""


@pytest.mark.slow
def test_a_student_without_a_clone_runs_the_whole_course_from_the_wheel(wheel, tmp_path):
    if not (DEBIAN_DATA / "fashion-mnist").is_dir():
        pytest.skip("needs Fashion-MNIST's files to copy into NASEDU_DATA (apt-get install dataset-fashion-mnist)")
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mask Debian's dataset folder")
    venv = fresh_venv(tmp_path / "venv", wheel)
    data = tmp_path / "my-data"
    shutil.copytree(DEBIAN_DATA / "fashion-mnist", data)
    course = tmp_path / "course"
    out = subprocess.run([venv / "bin" / "nasedu", "notebooks", str(course)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in course.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    (course / "run_course.py").write_text(RUN_COURSE)
    env = {**os.environ, "NASEDU_DATA": str(data), "NASEDU_QUICK": "1", "TQDM_DISABLE": "1",
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path)}  # no user cache of ours either
    env.pop("VIRTUAL_ENV", None)
    masked = tmp_path / "empty"
    masked.mkdir()
    script = f"mount --bind {masked} {DEBIAN_DATA} && test ! -e {DEBIAN_DATA}/fashion-mnist && exec {venv}/bin/python run_course.py"
    ran = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                         cwd=course, env=env, capture_output=True, text=True, timeout=1500)
    if ran.returncode != 0 and "unshare" in ran.stderr and not (course / "results.json").exists():
        pytest.fail(f"could not mask Debian's folder (unshare needs root): {ran.stderr[-500:]}")
    results = json.loads((course / "results.json").read_text())
    assert list(results) == [p.name for p in NOTEBOOKS]
    for name, where in results.items():
        assert where.startswith(str(venv)), f"{name}: {where}"  # the wheel's nasedu, not this clone's
    assert not (REPO / "notebooks" / "outputs").exists()
    nbformat.read(course / NOTEBOOKS[-1].name, as_version=4)  # the copies are untouched notebooks
