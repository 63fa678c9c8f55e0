"""Exercises that check themselves: ``check("03.2", answer)`` says right or not yet, with a hint.

Every exercise of the notebooks asks for an answer that can be checked: a number, a word out
of a few, an arch, a set of layers. ``check`` never prints the expected answer, only whether
yours is right and, if not, a hint towards it; the worked solution stays folded in the notebook.

    >>> import nasedu as nd
    >>> nd.exercises.check("00.1", 7 ** 12)
    00.1 right: the mobile space holds 7^12 archs.
    True

Used in: every notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Exercise:
    """One checkable exercise."""

    praise: str  # printed when the answer is right: what it shows
    is_right: Callable[[Any], bool]  # answer -> right?
    hint: str  # printed when it is not: where to look, never the answer


def _words(answer: Any) -> str:
    return str(answer).strip().strip("'\"").lower().replace("_", " ").replace("-", " ")


def one_of(*right: str) -> Callable[[Any], bool]:
    """Right when the answer is one of these words (case, quotes, dashes and underscores ignored)."""
    accepted = {_words(r) for r in right}
    return lambda answer: _words(answer) in accepted


def number(value: float, tolerance: float = 0.0) -> Callable[[Any], bool]:
    """Right when the answer is a number within ``tolerance`` of ``value``."""
    return lambda answer: math.isclose(float(answer), value, rel_tol=0.0, abs_tol=tolerance)


def same_set(*items: Any) -> Callable[[Any], bool]:
    """Right when the answer holds exactly these items, in any order."""
    return lambda answer: {int(a) for a in answer} == set(items)


def arch_of(space_name: str, right: str) -> Callable[[Any], bool]:
    """Right when the answer is this arch of the space: digits, op names or a tuple."""
    def is_right(answer: Any) -> bool:
        from nasedu import spaces  # imported here: checking a number needs no torch

        space = spaces.get(space_name)
        return space.decode(answer) == space.decode(right)
    return is_right


EXERCISES: dict[str, Exercise] = {
    "00.1": Exercise("the mobile space holds 7^12 archs.", number(7 ** 12),
                     "each of the 12 layers picks one of 7 candidates, independently of the others."),
    "00.2": Exercise("the first step pays one-off costs (memory allocation, choosing algorithms).", number(1),
                     "which step pays for allocating memory and choosing convolution algorithms?"),
    "01.1": Exercise("the supernet holds every candidate once: larger than any arch, far smaller than all 6,561.",
                     number(4_221_386), "nd.hardware.count_params(nd.Supernet(nd.spaces.get('nas-bench-macro')))"),
    "01.2": Exercise("3 layers x 3 candidates: 27 archs.", number(27),
                     "the number of archs is the product of each layer's number of candidates."),
    "01.3": Exercise("the cheapest candidate without a skip, in every layer.", arch_of("teaching", "1111"),
                     "look at the MACs of each candidate per layer (the explorer's cost panel, or the table of 04)."),
    "02.1": Exercise("the skip of layers 0 and 2 is a 1x1 convolution + BN: the shape changes there.",
                     same_set(0, 2), "which layers change the resolution or the number of channels?"),
    "02.2": Exercise("4 x 4 x 4 archs share that one candidate: a step on it changes all of them.", number(64),
                     "fix layer 0's choice: how many ways are there to choose the other three layers?"),
    "02.3": Exercise("every path runs through the stem and the head.", one_of("b"),
                     "draw two paths of the supernet diagram: which boxes do they both pass?"),
    "03.1": Exercise("at a low temperature the sample is nearly one-hot, on a random candidate each draw.",
                     one_of("a"), "run the cell several times: does the winner change from draw to draw?"),
    "03.2": Exercise("each step of the binary gates moves only the two logits of the pair it drew.",
                     one_of("binary", "proxylessnas"), "which estimator gives a gradient to only some logits per step?"),
    "03.3": Exercise("alpha should pick what generalises, judged on data the weights did not fit.",
                     one_of("validation", "val"), "on which split do the weights *not* train?"),
    "03.4": Exercise("after epoch 7 the argmax first held two skips.", number(7),
                     "print [(e['epoch'], e['arch']) for e in long.log] and count the 0s (skip) in each arch."),
    "04.1": Exercise("layer 1 gave up its k5e3 first (lambda = 0.06); layers 0 and 3 followed at 0.1.",
                     number(1), "look at the sweep's answers for lambda = 0.03 and 0.06: which layer changed?"),
    "04.2": Exercise("a log(25) ** 0.6 with a = 0.2: the factor at the mean cost.", number(0.2 * math.log(25) ** 0.6, 0.005),
                     "at E[c] = c_ref the cost measures 25 units of u = c_ref / 25."),
    "04.3": Exercise("a budget no arch can meet is refused before any training.", one_of("ValueError"),
                     "run it: the name of the exception is the first word of its last line."),
    "05.1": Exercise("a larger budget rejects fewer archs, so the counts even out.", one_of("yes", "y", "true"),
                     "at the largest budget every arch is allowed: which sampler is that?"),
    "05.2": Exercise("256 images x 14 x 14 positions: tens of thousands of values per channel.", number(256 * 14 * 14),
                     "BatchNorm averages over the batch and over every position of the 14 x 14 feature map."),
    "05.3": Exercise("recalibration noise is small next to the differences between archs.", one_of("yes", "y", "true"),
                     "compute nd.metrics.kendall_tau between the two lists of 20 scores."),
    "06.1": Exercise("with a handful of feasible archs both searches evaluate them all and tie.",
                     one_of("no", "n", "false"), "count the feasible archs at the cheapest budget."),
    "06.2": Exercise("a mutant that copies its parent was seen before and is drawn again; random archs and "
                     "crossovers keep exploring, so evolution finds the optimum about as often.",
                     one_of("no", "n", "false"), "count the runs that found the optimum, with and without mutation."),
    "06.3": Exercise("with 200 evaluations evolution finds the optimum in about half the runs, random search in none.",
                     one_of("evolution"), "run the comparison of section 3 with EVALUATIONS = 200."),
    "07.1": Exercise("without recalibration the ranking falls apart.", one_of("down", "lower", "falls"),
                     "notebook 05 measured inherited accuracy with and without recalibration."),
    "07.2": Exercise("a tau from 32 archs moves by about 0.07: too much to separate methods 0.1 apart.",
                     number(0.07, 0.03), "np.std of the 200 taus."),
    "07.3": Exercise("the space is small enough for evolution on the truth to find its best.",
                     one_of("yes", "y", "true"), "compare result.best_fitness with truth.best(budget)[1]."),
    "07.4": Exercise("the hinge bounds the expected cost, not the argmax.", one_of("no", "n", "false"),
                     "compare dnas.derive().cost with budget."),
    "07.5": Exercise("with equal compute the two samplers ranked alike, within the seeds' spread.",
                     one_of("no", "n", "false"), "compare the 12-epoch uniform supernet's taus with the fair ones'."),
    "08.1": Exercise("few archs fit, but they differ a lot (skips are cheap and bad): a random pick risks a poor one.",
                     one_of("grows", "grow"), "look up the feasible archs in the truth: how far apart are they?"),
    "08.2": Exercise("by the truth the two archs are 0.08 points apart, within the seeds' spread.",
                     one_of("no", "n", "false"), "the truth table printed above has each arch's three seeds."),
    "08.3": Exercise("nasedu train writes the weights to model.pt in the run directory.", one_of("model.pt"),
                     "list the files in runs/mine/."),
    "09.1": Exercise("SNIP is the best of the four without skips, yet no better than counting MACs.",
                     one_of("snip"), "look at the 'without skips' column of section 1 (or section 3's medians)."),
    "09.2": Exercise("layer 2 splits best, but within the spread of the other layers' seeds.", number(2),
                     "compare the 'tau, no skip' medians of fewshot_l0 to fewshot_l3 in section 3."),
    "09.3": Exercise("without recalibration the supernet's ranking is almost noise.", number(0.10, 0.02),
                     "the row uniform_no_recal in section 3."),
    "09.4": Exercise("averaging with the MACs rank helps among similar archs (and costs over all archs).",
                     one_of("yes", "y", "true"), "compare the medians of fair_6ep and of your combination."),
}


def check(exercise_id: str, answer: Any) -> bool:
    """Print whether ``answer`` to exercise ``exercise_id`` (e.g. ``"03.2"``) is right, with a hint if not."""
    if exercise_id not in EXERCISES:
        same_notebook = sorted(e for e in EXERCISES if e.split(".")[0] == str(exercise_id).split(".")[0])
        raise ValueError(f"no exercise {exercise_id!r}; this notebook's are {same_notebook or sorted(EXERCISES)}")
    exercise = EXERCISES[exercise_id]
    try:
        right = bool(exercise.is_right(answer))
    except (TypeError, ValueError, KeyError) as error:
        print(f"{exercise_id}: could not read {answer!r} as an answer ({error}). Hint: {exercise.hint}")
        return False
    print(f"{exercise_id} right: {exercise.praise}" if right else f"{exercise_id} not yet. Hint: {exercise.hint}")
    return right
