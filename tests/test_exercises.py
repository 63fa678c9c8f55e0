"""Every exercise checks itself from a hashed key: right answers pass in the forms students write them, each
foreseen mistake gets its own hint, nothing printed or shipped gives an answer away, and the key is the YAML's."""

import builtins
import importlib.util
import json
import math
import re
import subprocess
import sys

import nbformat
import pytest
import yaml

from conftest import REPO
from nasedu import exercises

spec = importlib.util.spec_from_file_location("make_exercise_key", REPO / "scripts" / "make_exercise_key.py")
make_key = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_key)

ANSWERS = yaml.safe_load((REPO / "teacher" / "answers.yaml").read_text(encoding="utf-8"))["exercises"]
KEY_FILE = REPO / "nasedu" / "exercise_key.json"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = sorted(ANSWERS)


def right_answers(entry: dict) -> list:
    """The answer, its synonyms and the forms students write them in."""
    return [entry["answer"], *entry.get("synonyms", []), *entry.get("forms", [])]


def mistakes(entry: dict) -> list[tuple]:
    """(wrong answer, its hint) for every foreseen mistake; a words mistake may list several answers."""
    pairs = []
    for mistake in entry.get("mistakes", []):
        for answer in make_key.alternatives(entry, mistake["answer"]):
            pairs.append((answer, mistake["hint"]))
    return pairs


def spelled(exercise_id: str) -> list[str]:
    """How each right answer could be read off a text: words of 3 or more characters, numbers of 3 or more digits."""
    entry, texts = ANSWERS[exercise_id], []
    for answer in [entry["answer"], *entry.get("synonyms", [])]:
        if entry["kind"] == "number":
            value = float(answer)
            if value == int(value):
                texts += [str(int(value)), f"{int(value):,}"]
            else:
                texts += [f"{value:.2f}", f"{value:.3f}".rstrip("0"), f"{value:g}"]
        elif entry["kind"] == "arch":
            texts += [answer, exercises.arch(answer, exercises.key()[exercise_id]["choices"])[2:]]
        elif isinstance(answer, list):
            texts.append(", ".join(map(str, answer)))
        else:
            texts.append(str(answer))
    return [t for t in texts if len(re.sub(r"\D", "", t) if entry["kind"] == "number" else t) >= 3]


def gives_away(exercise_id: str, text: str) -> list[str]:
    """The right answers that can be read in ``text``, as whole words or numbers."""
    return [answer for answer in spelled(exercise_id)
            if re.search(rf"(?<![\w.]){re.escape(answer)}(?!\w|\.\d)", text, re.IGNORECASE)]


def printed(capsys, exercise_id, answer) -> tuple[bool, str]:
    result = exercises.check(exercise_id, answer)
    return result, capsys.readouterr().out


def test_the_shipped_key_is_the_yaml_hashed():
    """Regenerating the key from teacher/answers.yaml gives the shipped file exactly."""
    assert make_key.key_text(make_key.load_answers()) == KEY_FILE.read_text(encoding="utf-8"), (
        "nasedu/exercise_key.json is stale: run python scripts/make_exercise_key.py")
    assert exercises.ids() == sorted(ANSWERS, key=lambda i: tuple(map(int, i.split("."))))


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_right_answer_passes_in_every_form_without_being_printed(exercise_id, capsys):
    entry = ANSWERS[exercise_id]
    for answer in right_answers(entry):
        result, out = printed(capsys, exercise_id, answer)
        assert result is True and out.startswith(f"{exercise_id} right: "), (answer, out)
        assert not gives_away(exercise_id, out), f"the praise gives it away: {out}"


@pytest.mark.parametrize("exercise_id", IDS)
def test_every_foreseen_mistake_gets_its_own_hint_and_others_the_default(exercise_id, capsys):
    entry = ANSWERS[exercise_id]
    for answer, hint in mistakes(entry):
        result, out = printed(capsys, exercise_id, answer)
        assert result is False and out == f"{exercise_id} not yet. Hint: {hint}\n", (answer, out)
        assert not gives_away(exercise_id, out), f"the hint gives it away: {out}"
    wrong = {"number": -987654.321, "words": "not an answer", "arch": "3030", "set": [3], "sequence": [1, 2]}
    result, out = printed(capsys, exercise_id, wrong[entry["kind"]])
    assert result is False and out == f"{exercise_id} not yet. Hint: {entry['hint']}\n"


@pytest.mark.parametrize("exercise_id", [i for i in IDS if ANSWERS[i]["kind"] == "number"])
def test_a_number_is_right_within_its_tolerance_and_not_beyond(exercise_id, capsys):
    entry = ANSWERS[exercise_id]
    value, tolerance = entry["answer"], entry["tolerance"]
    step = make_key.grid_step(tolerance)
    for inside in (value - 0.99 * tolerance, value + 0.99 * tolerance):
        assert printed(capsys, exercise_id, inside)[0], inside
    for outside in (value - tolerance - 1.5 * step, value + tolerance + 1.5 * step):  # grid: a step lenient
        assert not printed(capsys, exercise_id, outside)[0], outside
    if tolerance == 0:
        assert not printed(capsys, exercise_id, value + 0.5)[0]  # a count or an index is a whole number


def test_answers_are_read_in_the_forms_the_issue_names(capsys):
    for exercise_id, answer in [("05.2", "50,176"), ("02.3", "(b)"), ("02.3", "b)"), ("04.1", "layer 1"),
                                ("03.4", "epoch 7"), ("03.2", "binary gates"), ("03.3", "  'Validation' "),
                                ("04.3", ValueError), ("04.3", ValueError("budget")), ("01.3", (1, 1, 1, 1)),
                                ("02.1", (2, 0)), ("03.1", 0.58), ("06.2", "19/20"), ("00.1", 7 ** 12)]:
        assert exercises.check(exercise_id, answer), (exercise_id, answer)
    import numpy as np

    assert exercises.check("09.4", np.float64(0.53)) and exercises.check("02.1", np.array([0, 2]))
    capsys.readouterr()


def test_ids_are_normalised_and_an_unknown_id_names_the_notebooks_exercises(capsys):
    for exercise_id in ("3.2", " 03.2 ", "03-2", "3_2", 3.2):
        assert exercises.normalise_id(exercise_id) == "03.2"
        assert exercises.check(exercise_id, "binary") is True
    with pytest.raises(ValueError, match=r"no exercise '03.9'; this notebook's are \['03.1', '03.2'"):
        exercises.check("3.9", 1)
    with pytest.raises(ValueError, match="is not an exercise id"):
        exercises.check("three", 1)
    capsys.readouterr()


def test_an_unreadable_answer_says_what_was_expected_with_the_hint(capsys):
    for exercise_id, answer in [("01.3", "not an arch"), ("01.3", "11111"), ("00.1", "many"), ("02.1", 0),
                                ("06.1", "none")]:
        result, out = printed(capsys, exercise_id, answer)
        assert result is False and out.startswith(f"{exercise_id}: could not read {answer!r} as "), out
        assert out.rstrip().endswith(ANSWERS[exercise_id]["hint"])


def test_no_answer_can_be_read_off_the_package():
    """Neither exercises.py nor the shipped key holds an answer in plain text; nor does any module of nasedu hold
    a numeric answer of 3 or more digits (words such as ValueError are the package's own vocabulary)."""
    key_text = KEY_FILE.read_text(encoding="utf-8")
    module = (REPO / "nasedu" / "exercises.py").read_text(encoding="utf-8")
    package = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "nasedu").glob("*.py")))
    for exercise_id, entry in ANSWERS.items():
        assert not gives_away(exercise_id, key_text), exercise_id
        in_module = [answer for answer in gives_away(exercise_id, module) if not hasattr(builtins, answer)]
        assert not in_module, (exercise_id, in_module)  # the module raises ValueError itself: Python's word
        if entry["kind"] == "number":
            assert not gives_away(exercise_id, package), (exercise_id, gives_away(exercise_id, package))
    assert set(json.loads(key_text)["exercises"]["00.1"]) >= {"salt", "accepted", "mistakes"}
    assert not {"answer", "synonyms", "explanation"} & set(json.loads(key_text)["exercises"]["00.1"])


def test_importing_and_checking_needs_no_torch():
    code = ("import sys, nasedu.exercises as e; assert e.check('01.3', '1111') and e.check('00.1', 7 ** 12); "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=REPO)


def test_at_most_a_third_of_the_exercises_are_coin_flips():
    """Exercises with 4 or fewer possible answers are few; each has a difficulty and a time."""
    few = [i for i, e in ANSWERS.items() if e["possible_answers"] != "many" and e["possible_answers"] <= 4]
    assert len(few) <= len(ANSWERS) / 3, few
    assert {e["difficulty"] for e in ANSWERS.values()} == {"warm-up", "core", "stretch"}
    assert all(isinstance(e["minutes"], int) and 0 < e["minutes"] <= 30 for e in ANSWERS.values())
    for exercise_id, entry in ANSWERS.items():  # declared counts match the kind
        if entry["kind"] == "number" and entry["tolerance"] > 0:
            assert entry["possible_answers"] == "many", exercise_id


def test_the_markdown_answer_key_lists_every_exercise(tmp_path):
    out = tmp_path / "teacher" / "ANSWERS.md"
    subprocess.run([sys.executable, str(REPO / "scripts" / "make_exercise_key.py"), "--out", str(out)], check=True,
                   capture_output=True)
    text = out.read_text(encoding="utf-8")
    for exercise_id, entry in ANSWERS.items():
        assert f"## {exercise_id} · {entry['difficulty']} · about {entry['minutes']} min" in text
        assert entry["explanation"] in text
    assert "| 05.2 | warm-up | 3 | many | 50,176 |" in text and "`binary gates`" in text


def exercise_section(path) -> str:
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    section = text[text.index("## Exercises"):]
    return section[:section.index("Solution")]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_of_a_notebook_has_a_check_call_and_its_tags(path):
    section = exercise_section(path)
    numbered = re.findall(r"^(\d+)\. ", section, re.MULTILINE)
    checked = re.findall(r'nd\.exercises\.check\("(\d\d)\.(\d+)"', section)
    notebook = path.name[:2]
    assert numbered and sorted(int(n) for n in numbered) == sorted(int(k) for nb, k in checked if nb == notebook)
    assert {f"{notebook}.{n}" for n in numbered} == {i for i in ANSWERS if i.startswith(notebook + ".")}
    for n in numbered:
        entry = ANSWERS[f"{notebook}.{n}"]
        tag = f"{n}. *({entry['difficulty']}, {entry['minutes']} min)*"
        assert re.search(rf"^{re.escape(tag)}", section, re.MULTILINE), f"{path.name}: exercise {n} needs {tag!r}"
