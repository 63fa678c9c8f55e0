"""Where the course's shipped files are: the trained artefacts and the notebooks, in a clone or an installed wheel.

In the repository they live in ``resource/`` (trained supernets, searches, ground-truth tables)
and ``notebooks/``; the wheel carries the same files as ``nasedu/resource/`` and
``nasedu/course/``. Everything finds them through this module, never by a relative path::

    >>> import nasedu as nd
    >>> nd.resources.path("teaching_spos.pt").name
    'teaching_spos.pt'
    >>> nd.resources.copy_course("course")          # the notebooks + TEACHING.md, to run anywhere  # doctest: +SKIP

Used in: every notebook that loads a trained artefact (03 onwards), ``nasedu notebooks``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Union

PACKAGE = Path(__file__).resolve().parent
COURSE_FILES = ("[0-9][0-9]_*.ipynb", "*.md")  # what `nasedu notebooks` copies: the series and the teachers' notes


def _first_folder(installed: Path, in_clone: Path) -> Path:
    """The wheel's copy when installed, else the clone's folder beside the package."""
    for folder in (installed, in_clone):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"neither {installed} (an installed wheel) nor {in_clone} (a clone) exists; "
                            f"reinstall nasedu from its wheel, or run from a complete clone of the repository")


def resource_dir() -> Path:
    """The folder of the shipped artefacts: ``nasedu/resource`` in a wheel, ``resource/`` in a clone."""
    return _first_folder(PACKAGE / "resource", PACKAGE.parent / "resource")


def course_dir() -> Path:
    """The folder of the notebooks: ``nasedu/course`` in a wheel, ``notebooks/`` in a clone."""
    return _first_folder(PACKAGE / "course", PACKAGE.parent / "notebooks")


def path(name: str) -> Path:
    """The path of the shipped artefact ``name`` (e.g. ``"teaching_spos.pt"``).

    The file may be absent (a clone without it): ``load_or_train`` then trains and writes it there.
    """
    if Path(name).name != name:
        raise ValueError(f"pass a file name such as 'teaching_spos.pt', not a path ({name!r})")
    return resource_dir() / name


def copy_course(dest: Union[str, Path], overwrite: bool = False) -> list[Path]:
    """Copy the notebooks and TEACHING.md into ``dest`` (created); return the copied files.

    Existing files are kept unless ``overwrite``: a student's edited notebook is never lost.
    """
    dest = Path(dest)
    sources = sorted({p for pattern in COURSE_FILES for p in course_dir().glob(pattern)})
    clashes = [dest / p.name for p in sources if (dest / p.name).exists()]
    if clashes and not overwrite:
        raise FileExistsError(f"{len(clashes)} course files already exist in {dest} (e.g. {clashes[0].name}); "
                              f"choose an empty folder, or overwrite them on purpose (overwrite=True, --force)")
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(source, dest / source.name)) for source in sources]
