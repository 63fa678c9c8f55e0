"""The project installs as the README says, and its two dependency lists agree."""

import re
import subprocess
import sys
import tomllib
import zipfile

import yaml

from conftest import REPO, UNDER_CI


def requirement_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt must pin exact versions: {line!r}"
            pins[name.lower()] = version
    return pins


def test_requirements_pin_the_torch_on_disk():
    pins = requirement_pins()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    for needed in ["jupyterlab", "ipywidgets", "matplotlib", "seaborn", "tqdm", "scipy", "scikit-learn", "pytest"]:
        assert needed in pins, f"{needed} missing from requirements.txt"


def test_environment_yml_installs_requirements_txt():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-r requirements.txt" in pip_section and "-e ." in pip_section
    # conda packages listed beside pip must not contradict the pins
    pins = requirement_pins()
    for dep in deps:
        if isinstance(dep, str) and "=" in dep and not dep.startswith("python"):
            name, version = re.split(r"=+", dep, maxsplit=1)
            assert pins.get(name.lower()) == version, f"environment.yml pins {dep} but requirements.txt {pins.get(name)}"


def lower_bounds() -> dict[str, str]:
    """The ``name>=version`` bounds of pyproject's dependencies (what users elsewhere may install)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    bounds = {}
    for spec in project["dependencies"]:
        name, _, version = spec.partition(">=")
        bounds[name.strip().lower()] = version.strip()
    return bounds


def as_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def test_installed_versions_are_the_pins_under_ci_and_compatible_elsewhere():
    """CI installs requirements.txt exactly; Colab or conda users may have other compatible versions."""
    from importlib.metadata import version

    if UNDER_CI:
        for name, pinned in requirement_pins().items():
            assert version(name).split("+")[0] == pinned, f"{name} {version(name)} installed, {pinned} pinned"
    for name, bound in lower_bounds().items():
        if bound:
            assert as_tuple(version(name)) >= as_tuple(bound), f"{name} {version(name)} is older than {bound}"


def test_pyproject_bounds_admit_the_pins():
    pins = requirement_pins()
    for name, bound in lower_bounds().items():
        assert name in pins, f"{name} is a dependency in pyproject.toml but not pinned in requirements.txt"
        assert not bound or as_tuple(pins[name]) >= as_tuple(bound), (name, bound, pins[name])


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci
    assert "make run" in readme


def test_command_line_help():
    out = subprocess.run([sys.executable, "-m", "nasedu", "--help"], capture_output=True, text=True, check=True)
    assert "usage: nasedu" in out.stdout
    for command in ["spaces", "show", "lut"]:
        assert command in out.stdout


def test_command_line_reports_bad_arch_clearly():
    out = subprocess.run([sys.executable, "-m", "nasedu", "show", "teaching", "01234"],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "has 5 choices but space 'teaching' has 4 layers" in out.stderr
    out = subprocess.run([sys.executable, "-m", "nasedu", "show", "teaching", "0123"], capture_output=True, text=True)
    assert "skip-k3e1-k5e3-conv3" in out.stdout


def test_nothing_reads_the_workplace_folder_beside_the_clone():
    """A user's clone has nothing beside it: the product ships what it needs."""
    pattern = re.compile(r"\.\./(\.\./)?shared|parents\[\d\]\.parent|parent / [\"']shared")
    offenders = []
    for folder in ("nasedu", "notebooks", "tests", "scripts"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".ipynb", ".md") and path.is_file() and pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == [], offenders


def test_the_wheel_carries_the_nas_bench_macro_table(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
                    str(REPO)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("nasedu-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("nas-bench-macro_cifar10.json.gz", "LICENSE", "NOTICE"):
        assert f"nasedu/tables/nas-bench-macro/{name}" in names, name
