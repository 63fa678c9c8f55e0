"""Every exercise checks itself: a right answer passes, a wrong one gets a hint that does not give it away."""

import math
import re

import nbformat
import pytest

from conftest import REPO
from nasedu import exercises

RIGHT = {  # one right answer per exercise (the notebooks' folded solutions explain them)
    "00.1": 13_841_287_201, "00.2": 1, "01.1": 4_221_386, "01.2": 27, "01.3": "k3e1-k3e1-k3e1-k3e1",
    "02.1": [2, 0], "02.2": 64, "02.3": "b", "03.1": "a", "03.2": "binary", "03.3": "validation", "03.4": 7,
    "04.1": 1, "04.2": 0.2 * math.log(25) ** 0.6, "04.3": "ValueError", "05.1": "yes", "05.2": 50176, "05.3": "yes",
    "06.1": "no", "06.2": "no", "06.3": "evolution", "07.1": "down", "07.2": 0.07, "07.3": "yes",
    "07.4": "no", "07.5": "no", "08.1": "grows", "08.2": "no", "08.3": "model.pt",
    "09.1": "snip", "09.2": 2, "09.3": 0.10, "09.4": "yes",
}
WRONG = {key: ("c" if isinstance(value, str) else (-1 if not isinstance(value, list) else [1])) for key, value in
         RIGHT.items()}
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_exercise_has_a_known_right_answer():
    assert set(RIGHT) == set(exercises.EXERCISES)


@pytest.mark.parametrize("exercise_id", sorted(RIGHT))
def test_a_right_answer_passes_and_a_wrong_one_gets_a_hint_without_the_answer(exercise_id, capsys):
    assert exercises.check(exercise_id, RIGHT[exercise_id]) is True
    assert capsys.readouterr().out.startswith(f"{exercise_id} right:")
    assert exercises.check(exercise_id, WRONG[exercise_id]) is False
    out = capsys.readouterr().out
    assert "not yet. Hint:" in out or "could not read" in out
    right = str(RIGHT[exercise_id])
    assert len(right) < 3 or right.lower() not in out.lower(), f"the hint gives the answer away: {out}"


def test_answers_are_read_generously():
    assert exercises.check("03.3", "  'Validation' ") and exercises.check("01.3", (1, 1, 1, 1))
    assert exercises.check("01.3", "1111") and exercises.check("02.1", (0, 2))
    assert not exercises.check("01.3", "not an arch")  # an unreadable answer is wrong, with a hint
    with pytest.raises(ValueError, match=r"no exercise '03.9'; this notebook's are \['03.1', '03.2'"):
        exercises.check("03.9", 1)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_of_a_notebook_has_a_check_call(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    exercises_section = text[text.index("## Exercises"):]
    exercises_section = exercises_section[:exercises_section.index("Solution")]
    numbered = re.findall(r"^(\d+)\. ", exercises_section, re.MULTILINE)
    checked = re.findall(r'nd\.exercises\.check\("(\d\d)\.(\d+)"', exercises_section)
    notebook = path.name[:2]
    assert numbered and sorted(int(n) for n in numbered) == sorted(int(k) for nb, k in checked if nb == notebook)
    assert all(f"{nb}.{k}" in exercises.EXERCISES for nb, k in checked)


def test_the_search_exercise_answers_hold_on_the_benchmark():
    """06.2: without mutation evolution finds the optimum about as often; 06.3: at 200 evaluations evolution wins."""
    import nasedu as nd

    bench, space, max_flops = nd.benchmarks.NASBenchMacro(), nd.spaces.get("nas-bench-macro"), 55.4e6
    best = bench.best(max_flops)[1]

    def found(search, seeds=10, **options) -> int:
        return sum(search(space, bench.fitness, cost=bench.cost, max_cost=max_flops, seed=s, **options).best_fitness
                   == best for s in range(seeds))

    with_mutation = found(nd.search.evolution, max_evaluations=400)
    without = found(nd.search.evolution, max_evaluations=400, mutation_prob=0.0)
    assert with_mutation >= 8 and abs(with_mutation - without) <= 2, (with_mutation, without)
    assert found(nd.search.evolution, max_evaluations=200) >= found(nd.search.random_search, budget=200) + 3


def test_a_tight_budget_spreads_the_feasible_archs_apart():
    """08.1: at 10% of the MACs range few archs fit but they differ by many points, unlike at 40%."""
    import nasedu as nd

    truth = nd.benchmarks.TeachingGroundTruth()
    macs = nd.hardware.lookup_table(truth.space, "macs")

    def feasible_accs(fraction: float) -> list[float]:
        budget = macs.min_cost() + fraction * (macs.max_cost() - macs.min_cost())
        return sorted(truth.fitness(a) for a in truth.archs() if macs.cost(a) <= budget)

    tight, loose = feasible_accs(0.1), feasible_accs(0.4)
    assert len(tight) < 10 < len(loose)
    expected_loss = [accs[-1] - sum(accs) / len(accs) for accs in (tight, loose)]  # best minus a random pick's mean
    assert expected_loss[0] > expected_loss[1] + 2, expected_loss  # 5.5 against 2.8 points
