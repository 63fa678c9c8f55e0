"""Exercises that check themselves: ``check("03.2", answer)`` says right or not yet, with a hint.

Every exercise of the notebooks asks for an answer that can be checked: a number, a word, an arch,
a set of layers or a pair of counts. The answers ship only as salted SHA-256 hashes
(``nasedu/exercise_key.json``, made from the teachers' plain key by ``scripts/make_exercise_key.py``):
``check`` normalises your answer, hashes it and compares. A number is right within a tolerance: the
key holds the hash of every point of a grid (a tenth of the tolerance apart) within it. Known mistakes
have hashes too, each with its own hint. Nothing printed restates the answer; the worked solution
stays folded in the notebook. No torch needed: checking works offline, anywhere.

    >>> import nasedu as nd
    >>> nd.exercises.check("0.1", 12 * 7)
    00.1 not yet. Hint: that is 12 x 7; the choices of independent layers multiply, they do not add up.
    False

Accepted forms: ids such as ``"3.2"`` or ``" 03.2 "``; numbers as ``12544``, ``"12,544"``, ``"2^10"``,
``"256 x 7 x 7"``, ``"epoch 3"`` or ``"layer 2"`` (the number the question asks for, numbered as the
question numbers it), ``"12/20"`` for a count of runs, a percentage as ``42`` or ``0.42``; words in any
case, with quotes, dashes or underscores, a letter as ``"c"``, ``"(c)"`` or ``"c)"``, an exception as
its name or its class; an arch as digits, op names or a tuple; a set or a pair as
a list, a tuple or a string of numbers.

Used in: every notebook.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from importlib import resources
from typing import Any

KEY_FILE = "exercise_key.json"  # inside the package, beside this module
NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")
ARITHMETIC = re.compile(r"\d+(?:\.\d+)?(?:\s*(?:\*\*|\^|[x*\u00d7])\s*\d+(?:\.\d+)?)+")  # 2^10, 256 x 7 x 7


@functools.lru_cache(maxsize=None)
def key() -> dict:
    """The hashed key shipped with the package: one entry per exercise id."""
    return json.loads(resources.files("nasedu").joinpath(KEY_FILE).read_text(encoding="utf-8"))["exercises"]


def ids() -> list[str]:
    """Every exercise id, in order (``"00.1"`` ... ``"09.4"``)."""
    return sorted(key(), key=lambda i: tuple(int(part) for part in i.split(".")))


def digest(salt: str, canonical: str) -> str:
    """The salted SHA-256 of a normalised answer: what the key stores instead of the answer."""
    return hashlib.sha256(f"{salt}:{canonical}".encode()).hexdigest()


# -- normalisation: one small function per kind of answer ------------------------------------

def normalise_id(exercise_id: Any) -> str:
    """``"3.2"``, ``" 03.2 "``, ``"03-2"`` -> ``"03.2"``."""
    text = re.sub(r"\s+", "", str(exercise_id)).replace("-", ".").replace("_", ".")
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})", text)
    if not match:
        raise ValueError(f"{exercise_id!r} is not an exercise id; write it as in the notebook, e.g. '03.2'")
    return f"{int(match[1]):02d}.{int(match[2])}"


def read_number(answer: Any) -> float:
    """A number from ``12544``, ``"12,544"``, ``"2^10"``, ``"epoch 3"``, ``"-0.5 points"``, numpy or torch scalars."""
    if isinstance(answer, bool):
        raise ValueError("a number, not True or False")
    if not isinstance(answer, str):
        return float(answer)  # int, float, numpy or torch scalars
    text = answer.strip().lower().replace("\u2212", "-").replace("_", "").replace("\u2009", "")
    text = re.sub(r"(?<=\d)[, '](?=\d{3}(?!\d))", "", text)  # thousands separators: 12,544 / 12 544
    if ARITHMETIC.fullmatch(text):
        return arithmetic(text)
    count = re.fullmatch(r"(\d+)\s*(?:/|of|out of)\s*\d+\b.*", text)  # "12/20", "100 of 256": the count
    if count:
        return float(count[1])
    found = NUMBER.findall(text)
    if len(found) != 1:
        raise ValueError("one number")
    return float(found[0])


def arithmetic(text: str) -> float:
    """``"2^10"``, ``"2**10"``, ``"256 x 7 x 7"``: powers first, then products."""
    product = 1.0
    for factor in re.split(r"\s*[x*\u00d7]\s*", text.replace("**", "^")):
        base, *exponents = factor.split("^")
        value = float(base)
        for exponent in exponents:
            value **= float(exponent)
        product *= value
    return product


def number_point(answer: Any, entry: dict) -> str:
    """The grid point a number falls on (``"n:<index>"``); a percentage may be given as a fraction."""
    value = read_number(answer)
    if entry.get("percent") and 0 < abs(value) <= 1:
        value *= 100
    if not math.isfinite(value):
        raise ValueError("a finite number")
    step = entry["step"]
    if step == 1 and value != round(value):
        return "n:not-a-whole-number"  # a count or an index: hashed nowhere
    return f"n:{round(value / step)}"


def words(answer: Any) -> list[str]:
    """``"  'Test' "`` -> ``["w:test"]``; ``"(c)"`` -> ``["w:c"]``; also the part before a colon
    (a pasted error message) and after the last slash (a path)."""
    if isinstance(answer, type):
        answer = answer.__name__
    elif isinstance(answer, BaseException):
        answer = type(answer).__name__
    text = re.sub(r"[-_\s]+", " ", str(answer).strip().strip("'\"`").lower()).strip()
    letter = re.fullmatch(r"(?:option |answer )?\(?([a-z])[).]?", text)
    if letter:
        return [f"w:{letter[1]}"]
    forms = [text, text.split(":")[0], text.rsplit("/", 1)[-1]]
    forms = [re.sub(r"^(the|a|an) ", "", form.strip()) for form in forms]
    return [f"w:{form}" for form in dict.fromkeys(forms) if form]


def integers(answer: Any, ordered: bool) -> str:
    """``[3, 1]``, ``"layers 1 and 3"``, ``(12, 3)`` -> ``"s:1,3"`` (a set) or ``"q:12,3"`` (a sequence)."""
    if isinstance(answer, str):
        items = [int(x) for x in re.findall(r"-?\d+", answer)]
    else:
        items = []
        for item in getattr(answer, "tolist", lambda: answer)():
            if float(item) != int(float(item)):
                raise ValueError("whole numbers")
            items.append(int(float(item)))
    if not items:
        raise ValueError("numbers")
    return ("q:" + ",".join(map(str, items))) if ordered else ("s:" + ",".join(map(str, sorted(set(items)))))


def arch(answer: Any, choices: list[list[str]]) -> str:
    """``"k3e1-k5e3-conv3-skip"``, ``"1230"``, ``(1, 2, 3, 0)`` -> ``"a:1230"`` (choices: each layer's op names)."""
    if isinstance(answer, str):
        text = answer.strip().strip("'\"`").lower()
        items = list(text) if text.isdigit() else [t for t in re.split(r"[-\s,/()\[\]]+", text) if t]
    else:
        items = list(answer)
    if len(items) != len(choices):
        raise ValueError(f"one choice for each of the {len(choices)} layers")
    digits = []
    for item, options in zip(items, choices):
        names = [name.lower() for name in options]
        index = names.index(item.lower()) if str(item).lower() in names else int(item)
        if not 0 <= index < len(options):
            raise ValueError(f"a choice out of 0..{len(options) - 1}")
        digits.append(str(index))
    return "a:" + "".join(digits)


def canonical(answer: Any, entry: dict) -> list[str]:
    """Every normalised form of ``answer`` for this exercise's kind; ValueError if it cannot be read."""
    kind = entry["kind"]
    if kind == "number":
        return [number_point(answer, entry)]
    if kind == "words":
        return words(answer)
    if kind in ("set", "sequence"):
        return [integers(answer, ordered=kind == "sequence")]
    if kind == "arch":
        return [arch(answer, entry["choices"])]
    raise ValueError(f"unknown kind {kind!r}")


# -- the check ------------------------------------------------------------------------------

def check(exercise_id: str, answer: Any) -> bool:
    """Print whether ``answer`` to exercise ``exercise_id`` (e.g. ``"03.2"``) is right, with a hint if not."""
    exercise_id = normalise_id(exercise_id)
    if exercise_id not in key():
        same_notebook = [e for e in ids() if e.split(".")[0] == exercise_id.split(".")[0]]
        raise ValueError(f"no exercise {exercise_id!r}; this notebook's are {same_notebook or ids()}")
    entry = key()[exercise_id]
    try:
        hashes = [digest(entry["salt"], form) for form in canonical(answer, entry)]
    except (TypeError, ValueError, OverflowError) as error:
        print(f"{exercise_id}: could not read {answer!r} as {entry['expects']} ({error}). Hint: {entry['hint']}")
        return False
    if any(h in entry["accepted"] for h in hashes):
        print(f"{exercise_id} right: {entry['praise']}")
        return True
    mistake = next((entry["mistakes"][h] for h in hashes if h in entry["mistakes"]), None)
    print(f"{exercise_id} not yet. Hint: {entry['hints'][mistake] if mistake is not None else entry['hint']}")
    return False
