"""Hash the teachers' answer key into the key the package ships, or write it as Markdown for teachers.

    python scripts/make_exercise_key.py                    # teacher/answers.yaml -> nasedu/exercise_key.json
    python scripts/make_exercise_key.py --check            # exit 1 when the shipped key is stale
    python scripts/make_exercise_key.py --out ANSWERS.md   # the answer key as Markdown (also: --markdown)

The shipped key holds no answer in plain text: for each exercise a salt, the salted SHA-256 of every
accepted answer after ``nasedu.exercises`` normalised it (a number: every point of a grid within its
tolerance), the hashes of the foreseeable mistakes mapped to their hints, and what is not secret
(praise, hints, difficulty, minutes, the number of possible answers). ``check()`` hashes a student's
answer the same way, so the normalisation rules live in one place, ``nasedu/exercises.py``.
The key is deterministic: the salts come from ``salt_seed`` in the YAML, so regenerating an unchanged
YAML gives the same file (a test checks it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ANSWERS = REPO / "teacher" / "answers.yaml"
KEY = REPO / "nasedu" / "exercise_key.json"
sys.path.insert(0, str(REPO))  # the clone's nasedu, also when another one is installed

from nasedu import exercises  # noqa: E402

KINDS = ("number", "words", "arch", "set", "sequence")
DIFFICULTIES = ("warm-up", "core", "stretch")
EXPECTS = {"number": "a number", "words": "a word", "arch": "an arch, e.g. 'skip-k3e1-k5e3-conv3' or '0123'",
           "set": "a list of numbers", "sequence": "numbers in order, e.g. (3, 1)"}
SHARED = ("kind", "difficulty", "minutes", "possible_answers", "praise", "hint")  # copied into the key as they are


def load_answers(path: Path = ANSWERS) -> dict:
    """The plain key: ``{"salt_seed": ..., "exercises": {id: {...}}}``, checked field by field."""
    answers = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for exercise_id, entry in answers["exercises"].items():
        where = f"{path}: exercise {exercise_id}"
        assert exercises.normalise_id(exercise_id) == exercise_id, f"{where}: write the id as '03.2'"
        missing = [f for f in (*SHARED, "question", "answer", "explanation") if f not in entry]
        assert not missing, f"{where} lacks {missing}"
        assert entry["kind"] in KINDS, f"{where}: kind must be one of {KINDS}"
        assert entry["difficulty"] in DIFFICULTIES, f"{where}: difficulty must be one of {DIFFICULTIES}"
        assert isinstance(entry["minutes"], int) and entry["minutes"] > 0, f"{where}: minutes must be a whole number"
        possible = entry["possible_answers"]
        assert possible == "many" or (isinstance(possible, int) and possible >= 2), f"{where}: possible_answers"
        assert entry["kind"] != "number" or "tolerance" in entry, f"{where}: a number needs a tolerance"
        assert entry["kind"] != "arch" or "space" in entry, f"{where}: an arch needs its space"
    return answers


def salt(answers: dict, exercise_id: str) -> str:
    return hashlib.sha256(f"{answers['salt_seed']}:{exercise_id}".encode()).hexdigest()[:16]


def grid_step(tolerance: float) -> float:
    """The grid a number is rounded onto: 1 for whole numbers, else a tenth of the tolerance (21 points)."""
    return 1 if tolerance == 0 else tolerance / 10


def alternatives(entry: dict, answer) -> list:
    """A mistake's ``answer`` as a list of alternatives: words may list several; a set or a sequence is one."""
    return answer if isinstance(answer, list) and entry["kind"] in ("words", "number") else [answer]


def forms(entry: dict, answer, tolerance: float, key_entry: dict) -> list[str]:
    """Every normalised form that ``answer`` stands for: one, or for a number the grid points around it."""
    if entry["kind"] != "number":
        return exercises.canonical(answer, key_entry)
    step = key_entry["step"]
    # every grid point that a number within tolerance rounds to (at most a step more lenient)
    low, high = math.ceil((answer - tolerance) / step - 0.5), math.floor((answer + tolerance) / step + 0.5)
    assert low <= high, f"no grid point of step {step} within {tolerance} of {answer}; widen the tolerance"
    return [f"n:{k}" for k in range(low, high + 1)]


def key_entry(answers: dict, exercise_id: str) -> dict:
    """One exercise of the shipped key."""
    entry = answers["exercises"][exercise_id]
    out = {field: entry[field] for field in SHARED}
    out["salt"] = salt(answers, exercise_id)
    out["expects"] = entry.get("expects", EXPECTS[entry["kind"]])
    tolerance = entry.get("tolerance", 0)
    if entry["kind"] == "number":
        out["step"] = grid_step(tolerance)
        if entry.get("percent"):
            out["percent"] = True
    if entry["kind"] == "arch":
        from nasedu import spaces  # torch: only the script needs it, check() reads the names from the key

        out["choices"] = [list(options) for options in spaces.get(entry["space"]).candidates]
    right = [entry["answer"], *entry.get("synonyms", [])]
    accepted = {exercises.digest(out["salt"], form) for a in right for form in forms(entry, a, tolerance, out)}
    out["accepted"] = sorted(accepted)
    out["hints"], out["mistakes"] = [], {}
    for mistake in entry.get("mistakes", []):
        out["hints"].append(mistake["hint"])
        for answer in alternatives(entry, mistake["answer"]):
            for form in forms(entry, answer, mistake.get("tolerance", tolerance), out):
                digest = exercises.digest(out["salt"], form)
                assert digest not in accepted, f"exercise {exercise_id}: the mistake {answer!r} is a right answer"
                out["mistakes"][digest] = len(out["hints"]) - 1
    out["mistakes"] = dict(sorted(out["mistakes"].items()))
    return out


def build_key(answers: dict) -> dict:
    ids = sorted(answers["exercises"], key=lambda i: tuple(map(int, i.split("."))))
    return {"about": "nasedu's exercise key: salted SHA-256 hashes of the answers, made by "
                     "scripts/make_exercise_key.py from the teachers' plain key (not shipped)",
            "exercises": {i: key_entry(answers, i) for i in ids}}


def key_text(answers: dict) -> str:
    """The shipped file's exact text."""
    return json.dumps(build_key(answers), indent=1, ensure_ascii=False) + "\n"


def shown(entry: dict, value) -> str:
    """An answer as a teacher reads it."""
    if entry["kind"] == "number":
        tolerance = entry["tolerance"]
        text = f"{value:,}" if tolerance == 0 else f"{value:g} ± {tolerance:g}"
        return text + (" (%; a fraction is read as a percentage)" if entry.get("percent") else "")
    if entry["kind"] in ("set", "sequence") and all(isinstance(v, int) for v in value):
        return f"`{sorted(value)}` (any order)" if entry["kind"] == "set" else f"`{tuple(value)}`"
    return f"`{value}`" if not isinstance(value, list) else ", ".join(f"`{v}`" for v in value)


def answer_key_markdown(answers: dict | None = None) -> str:
    """The teachers' answer key as Markdown: a table of every exercise, then each answer with its explanation."""
    answers = answers or load_answers()
    table = answers["exercises"]
    lines = ["# nasedu: the exercises' answer key (for teachers)", "",
             "Made from `teacher/answers.yaml` by `scripts/make_exercise_key.py`; keep it from students. "
             "`nd.exercises.check(id, answer)` accepts each answer below, its synonyms and the usual ways to write "
             "it; a number within its tolerance. Possible answers: how many answers the question allows.", "",
             "| id | difficulty | minutes | possible answers | answer |", "|---|---|---|---|---|"]
    for i, entry in table.items():
        lines.append(f"| {i} | {entry['difficulty']} | {entry['minutes']} | {entry['possible_answers']} | "
                     f"{shown(entry, entry['answer'])} |")
    lines.append("")
    for i, entry in table.items():
        lines += [f"## {i} · {entry['difficulty']} · about {entry['minutes']} min", "",
                  f"**Question.** {entry['question']}", "", f"**Answer.** {shown(entry, entry['answer'])}"]
        if entry.get("synonyms"):
            lines.append(f"  Also accepted: {', '.join(f'`{v}`' for v in entry['synonyms'])}.")
        if entry.get("forms"):
            lines.append(f"  Read as right, e.g.: {', '.join(f'`{v!r}`' for v in entry['forms'])}.")
        lines += ["", f"**Why.** {entry['explanation']}", ""]
        if entry.get("mistakes"):
            lines.append("**Foreseen mistakes and their hints.**")
            lines += [f"- {shown(entry, m['answer'])}: {m['hint']}" for m in entry["mistakes"]]
            lines.append("")
        lines += [f"Hint for any other answer: {entry['hint']}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=Path, default=ANSWERS, help="the plain key (default: teacher/answers.yaml)")
    parser.add_argument("--check", action="store_true", help="only check that the shipped key is up to date")
    parser.add_argument("--out", "--markdown", dest="markdown", type=Path,
                        help="write the Markdown answer key here instead of the hashed key")
    args = parser.parse_args(argv)
    answers = load_answers(args.answers)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(answer_key_markdown(answers), encoding="utf-8")
        print(f"wrote {args.markdown}")
        return 0
    text = key_text(answers)
    if args.check:
        stale = not KEY.is_file() or KEY.read_text(encoding="utf-8") != text
        print(f"{KEY} is {'stale: run scripts/make_exercise_key.py' if stale else 'up to date'}")
        return int(stale)
    KEY.write_text(text, encoding="utf-8")
    print(f"wrote {KEY} ({len(answers['exercises'])} exercises)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
