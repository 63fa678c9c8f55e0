"""Searches against known answers: a toy space solved by brute force, and NAS-Bench-Macro."""

import itertools
import random
import statistics
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nasedu import search



@dataclass(frozen=True)
class ToySpace:
    """The least a search needs from a space: 3 choices in each of ``num_layers`` layers."""

    num_layers: int = 4

    @property
    def candidates(self):
        return [("a", "b", "c")] * self.num_layers

    def sample(self, rng):
        return tuple(rng.randrange(3) for _ in range(self.num_layers))


WEIGHTS = (4, 3, 2, 1, 1, 1)


def fitness(arch):  # early layers matter more; the best arch is (2, 2, ...)
    return float(sum(w * a for w, a in zip(WEIGHTS, arch)))


def cost(arch):
    return float(sum(arch))


def brute_force_best(space, max_cost=None):
    archs = itertools.product(range(3), repeat=space.num_layers)
    return max(fitness(a) for a in archs if max_cost is None or cost(a) <= max_cost)


SEARCHES = {
    "evolution": lambda space, **kw: search.evolution(space, fitness, population=10, top_k=3, mutations=5,
                                                      crossovers=5, generations=10, **kw),
    "regularized_evolution": lambda space, **kw: search.regularized_evolution(space, fitness, population=10,
                                                                              sample_size=3, cycles=60, **kw),
    "random_search": lambda space, **kw: search.random_search(space, fitness, budget=60, **kw),
}


@pytest.mark.parametrize("name", SEARCHES)
def test_search_finds_the_known_best_under_a_constraint(name):
    space = ToySpace(4)  # 31 of its 81 archs cost <= 3, about half of each budget
    result = SEARCHES[name](space, cost=cost, max_cost=3)
    assert result.best_fitness == brute_force_best(space, max_cost=3) == 11.0  # (2, 1, 0, 0)
    assert result.best_arch == (2, 1, 0, 0)
    assert result.best_cost == 3.0
    assert all(e.cost <= 3 for e in result.history)


@pytest.mark.parametrize("name", ["evolution", "random_search"])
def test_a_small_space_is_evaluated_once_and_completely(name):
    calls = []

    def counting_fitness(arch):
        calls.append(arch)
        return fitness(arch)

    budget = dict(population=10, generations=10) if name == "evolution" else dict(budget=60)
    result = getattr(search, name)(ToySpace(3), counting_fitness, seed=1, **budget)  # 27 archs, budget 60
    assert sorted(calls) == sorted(itertools.product(range(3), repeat=3))  # every arch, once each
    assert [e.arch for e in result.history] == calls
    assert result.num_evaluations == 27


def test_regularized_evolution_never_evaluates_an_arch_twice():
    calls = []

    def counting_fitness(arch):
        calls.append(arch)
        return fitness(arch)

    result = search.regularized_evolution(ToySpace(4), counting_fitness, population=10, sample_size=3, cycles=70)
    assert len(set(calls)) == len(calls) == result.num_evaluations == 70  # 70 of the 81 archs



def test_regularized_evolution_with_duplicates_lets_an_arch_come_back():
    calls = []

    def counting_fitness(arch):
        calls.append(arch)
        return fitness(arch)

    result = search.regularized_evolution(ToySpace(2), counting_fitness, population=4, sample_size=2, cycles=60,
                                          allow_duplicates=True)
    archs = [e.arch for e in result.history]
    assert result.num_evaluations == 60 and len(set(archs)) <= 9  # 60 evaluations of the 9 archs
    assert sorted(calls) == sorted(set(archs))  # a repeat is looked up, not computed again
    assert result.best_fitness == max(fitness(a) for a in itertools.product(range(3), repeat=2))
    deduped = search.regularized_evolution(ToySpace(2), fitness, population=4, sample_size=2, cycles=60)
    assert deduped.num_evaluations == 9  # the default stops once every arch is evaluated


def test_regularized_evolution_with_duplicates_is_the_papers_loop():
    """Real et al.'s Algorithm 1 written plainly evaluates the same archs as the package, draw for draw."""
    space, population, sample_size, cycles = ToySpace(5), 8, 3, 80
    rng, history = random.Random(7), []
    alive = deque()
    while len(history) < cycles:
        if len(alive) < population:  # the random initial population
            arch = space.sample(rng)
        else:  # tournament, then mutate one layer of the winner to another choice
            parent = max(rng.sample(alive, sample_size), key=fitness)
            layer = rng.randrange(space.num_layers)
            arch = parent[:layer] + (rng.choice([c for c in range(3) if c != parent[layer]]),) + parent[layer + 1:]
        alive.append(arch)
        history.append(arch)
        if len(alive) > population:
            alive.popleft()  # the oldest dies
    result = search.regularized_evolution(space, fitness, population=population, sample_size=sample_size,
                                          cycles=cycles, allow_duplicates=True, seed=7)
    assert [e.arch for e in result.history] == history
    assert len(set(history)) < cycles  # some archs came back

@pytest.mark.parametrize("name", SEARCHES)
def test_same_seed_same_result(name):
    space = ToySpace(6)
    a, b, c = (SEARCHES[name](space, cost=cost, max_cost=8, seed=s) for s in (3, 3, 4))
    assert a == b
    assert a.history != c.history


def test_evolution_generations_follow_spos():
    space = ToySpace(6)  # 729 archs: room for every generation to be full
    result = search.evolution(space, fitness, generations=3, seed=0)
    per_generation = [sum(e.generation == g for e in result.history) for g in range(3)]
    assert per_generation == [50, 50, 50]  # population 50 = 25 mutations + 25 crossovers
    first = {e.arch for e in result.history if e.generation == 0}
    assert len(first) == 50


def test_evolution_stops_at_max_evaluations():
    result = search.evolution(ToySpace(6), fitness, max_evaluations=73, seed=0)
    assert result.num_evaluations == 73
    assert {e.generation for e in result.history} == {0, 1}


def test_regularized_evolution_counts_the_initial_population_in_cycles():
    result = search.regularized_evolution(ToySpace(6), fitness, population=20, cycles=50, seed=0)
    assert result.num_evaluations == 50
    assert [e.generation for e in result.history] == [0] * 20 + list(range(1, 31))


def test_infeasible_budget_says_what_is_cheapest():
    with pytest.raises(ValueError, match=r"no arch with cost <= 0.5 found in 100 tries; the cheapest arch seen costs 1\."):
        search.random_search(ToySpace(4), fitness, cost=lambda arch: 1.0, max_cost=0.5, max_tries=100)
    with pytest.raises(ValueError, match=r"no arch with cost <= -1 found in \d+ tries; the cheapest arch seen costs 0\."):
        search.evolution(ToySpace(4), fitness, cost=cost, max_cost=-1)  # stops once all 81 archs are seen


@pytest.mark.parametrize("kwargs, message", [
    (dict(max_cost=3), "max_cost needs a cost function"),
    (dict(population=0), "population must be at least 1"),
    (dict(mutation_prob=1.5), "mutation_prob is a probability"),
])
def test_bad_arguments_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        search.evolution(ToySpace(4), fitness, **kwargs)


def test_progress_bar_does_not_change_the_result():
    quiet = search.random_search(ToySpace(6), fitness, budget=30, seed=2)
    loud = search.random_search(ToySpace(6), fitness, budget=30, seed=2, progress=True)
    assert quiet == loud


def test_search_module_does_not_import_torch():
    code = (
        "import importlib.util, random, sys\n"
        f"spec = importlib.util.spec_from_file_location('search', {str(Path(search.__file__))!r})\n"
        "module = importlib.util.module_from_spec(spec); sys.modules['search'] = module\n"
        "spec.loader.exec_module(module)\n"
        "class Space:\n"
        "    num_layers, candidates = 2, [('a', 'b')] * 2\n"
        "    def sample(self, rng): return (rng.randrange(2), rng.randrange(2))\n"
        "assert module.evolution(Space(), sum, progress=True).best_arch == (1, 1)\n"
        "assert 'torch' not in sys.modules, 'nasedu.search imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- NAS-Bench-Macro: the search of SPOS finds the true best arch -----------------------------

@pytest.fixture(scope="module")
def bench():
    from nasedu.benchmarks import NASBenchMacro

    return NASBenchMacro()


@pytest.mark.parametrize("max_flops", [45.5e6, 55.4e6, None])
def test_evolution_finds_the_best_arch_of_nas_bench_macro(bench, max_flops):
    _, best = bench.best(max_flops)
    evolved, sampled = [], []
    for seed in range(20):
        evolved.append(search.evolution(bench.space, bench.fitness, bench.cost, max_flops, max_evaluations=400, seed=seed))
        sampled.append(search.random_search(bench.space, bench.fitness, bench.cost, max_flops, budget=400, seed=seed))
    assert all(r.num_evaluations == 400 for r in evolved + sampled)
    assert all(max_flops is None or r.best_cost <= max_flops for r in evolved)
    assert sum(r.best_fitness == best for r in evolved) >= 19
    assert statistics.mean(r.best_fitness for r in sampled) < statistics.mean(r.best_fitness for r in evolved)


# -- bad input never gives a corrupted answer --------------------------------------------------

@pytest.mark.parametrize("name", SEARCHES)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_nan_or_infinite_fitness_is_an_error_naming_the_arch(name, bad):
    def broken(arch):
        return bad if arch[0] == 2 else fitness(arch)

    with pytest.raises(ValueError, match=rf"fitness\(\(2, \d, \d, \d\)\) returned {bad}; a search needs finite"):
        search.random_search(ToySpace(4), broken, budget=81) if name == "random_search" else \
            getattr(search, name)(ToySpace(4), broken)


def test_a_nan_cost_is_an_error_naming_the_arch():
    with pytest.raises(ValueError, match=r"cost\(\(\d, \d, \d, \d\)\) returned nan"):
        search.evolution(ToySpace(4), fitness, cost=lambda arch: float("nan"), max_cost=3)


@dataclass(frozen=True)
class BrokenSpace(ToySpace):
    """A space whose sample() gives archs outside it."""

    bad: tuple = (0, 0, 0, 3)

    def sample(self, rng):
        return self.bad


@pytest.mark.parametrize("bad, message", [
    ((0, 0, 0, 3), r"space.sample gave a bad arch: arch \(0, 0, 0, 3\): choice 3 at layer 3 is out of range; "
                   r"the space allows 0..2 there \(a, b, c\)"),
    ((0, 0, 0), r"space.sample gave a bad arch: arch \(0, 0, 0\) has 3 choices but the space has 4 layers"),
    ((0, 0, 0.5, 1), r"space.sample gave a bad arch: \(0, 0, 0.5, 1\) is not an arch: give 4 integer choices"),
    ((0, -1, 0, 0), r"choice -1 at layer 1 is out of range; the space allows 0..2"),
])
def test_an_arch_outside_the_space_is_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        search.random_search(BrokenSpace(bad=bad), fitness, budget=5)


def test_check_arch_is_the_one_arch_check():
    """Spaces, lookup tables, plots and searches all reject a bad arch in the words of search.check_arch."""
    import matplotlib

    matplotlib.use("Agg")
    import nasedu as nd

    space = nd.spaces.get("teaching")
    table = nd.hardware.LookupTable("teaching", "macs", 0.0, [[1.0] * 4] * 4)
    assert search.check_arch(space.candidates, (0, 1, 2, 3)) == (0, 1, 2, 3)
    assert search.check_arch(space.candidates, [np.int64(3)] * 4) == (3, 3, 3, 3)
    bad = (0, 1, 2, 4)
    checks = [("space 'teaching'", lambda: space.decode(bad)),
              ("the macs table of 'teaching'", lambda: table.cost(bad)),
              ("the space", lambda: nd.plots.supernet_diagram(space, arch=bad)),
              ("the space", lambda: search.check_arch(space.candidates, bad))]
    for where, check in checks:
        with pytest.raises(ValueError, match=rf"^arch \(0, 1, 2, 4\): choice 4 at layer 3 is out of range; "
                                             rf"{where} allows 0..3 there"):
            check()
    for check in (lambda: space.decode((0, 1, 2)), lambda: table.cost((0, 1, 2))):
        with pytest.raises(ValueError, match=r"has 3 choices but .* has 4 layers; give one choice per layer"):
            check()
    with pytest.raises(ValueError, match=r"is not an arch: give 4 integer choices, one per layer of space 'teaching'"):
        space.decode((0, 1, 2, 1.0))  # a float is a bug upstream, never rounded


@pytest.mark.parametrize("kwargs, message", [
    (dict(mutations=-1), "mutations must be at least 0, got -1"),
    (dict(crossovers=2.5), "crossovers must be a whole number, got 2.5"),
    (dict(population=10.0), "population must be a whole number, got 10.0"),
    (dict(generations=-3), "generations must be at least 1, got -3"),
    (dict(top_k=True), "top_k must be a whole number, got True"),
    (dict(max_evaluations=0), "max_evaluations must be at least 1, got 0"),
    (dict(max_tries=-1), "max_tries must be at least 1"),
    (dict(cost=cost, max_cost=float("nan")), "max_cost must be a finite number"),
])
def test_bad_counts_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        search.evolution(ToySpace(4), fitness, **kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda: search.random_search(ToySpace(4), fitness, budget=-5), "budget must be at least 1, got -5"),
    (lambda: search.regularized_evolution(ToySpace(4), fitness, sample_size=0), "sample_size must be at least 1"),
    (lambda: search.regularized_evolution(ToySpace(4), fitness, cycles=3.0), "cycles must be a whole number"),
])
def test_bad_counts_of_the_other_searches_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_no_feasible_arch_message_formats_whatever_the_costs():
    with pytest.raises(ValueError, match=r"no arch with cost <= 0.5 found in 10 tries; the cheapest arch seen costs 1"):
        search.random_search(ToySpace(4), fitness, cost=lambda arch: 1.0, max_cost=0.5, max_tries=10)
    with pytest.raises(ValueError, match=r"no arch with cost <= 1e\+06 found in 7 tries; the cheapest arch seen costs 2e\+06"):
        search.evolution(ToySpace(4), fitness, cost=lambda arch: 2e6, max_cost=1e6, max_tries=7)


def test_regularized_evolution_with_too_few_cycles_warns_that_it_is_random_search():
    with pytest.warns(UserWarning, match="cycles=50 <= population=50: .* this is random search"):
        search.regularized_evolution(ToySpace(6), fitness, cycles=50)


def test_the_search_loop_does_constant_work_per_evaluation(monkeypatch):
    """The progress bar's 'best' is kept as it goes, never recomputed over all fitnesses (quadratic)."""
    calls = []
    original = max

    def counting_max(*args, **kwargs):
        calls.append(len(args[0]) if len(args) == 1 and hasattr(args[0], "__len__") else len(args))
        return original(*args, **kwargs)

    monkeypatch.setattr("builtins.max", counting_max)
    result = search.random_search(ToySpace(6), fitness, budget=300, seed=0)
    assert result.num_evaluations == 300
    assert sum(calls) < 300 * 3  # no max() over the whole archive per evaluation (that would be ~45,000)
    assert result.best_fitness == original(e.fitness for e in result.history)
