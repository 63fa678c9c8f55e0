"""Search for the best architecture: evolution, regularized evolution and random search.

Nothing here knows about torch. A search sees three things:

- ``space``: anything with ``num_layers``, ``candidates`` and ``sample(rng)``, e.g. a ``SearchSpace``;
- ``fitness(arch) -> float``: higher is better, e.g. the accuracy of a subnet with weights
  inherited from a supernet, or a lookup in a tabular benchmark;
- ``cost(arch) -> float`` and ``max_cost``: an optional hardware constraint. It is enforced by
  rejection: an arch that costs more than ``max_cost`` is never evaluated.

Fitness is the expensive call, so every arch is evaluated at most once, and
``SearchResult.history`` holds one ``Evaluation`` per evaluated arch, in order (regularized
evolution with ``allow_duplicates=True``, Real et al.'s rule, records an arch again each time it
comes back, its fitness looked up rather than computed again). Nothing
corrupt gets through: an arch outside the space (from ``sample``, a mutation or a crossover)
and a fitness or cost that is NaN or infinite stop the search with an error naming the arch.

Used in: 05_spos, 06_evolution.
"""

from __future__ import annotations

import math
import operator
import os
import random
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional, Protocol, Sequence

Arch = tuple[int, ...]
Fitness = Callable[[Arch], float]
Cost = Callable[[Arch], float]


class Space(Protocol):
    """All a search needs from a space; ``nasedu.spaces.SearchSpace`` is one."""

    @property
    def num_layers(self) -> int: ...  # L, the number of searchable layers

    @property
    def candidates(self) -> Sequence[Sequence[str]]: ...  # candidates[i]: the op names layer i chooses from

    def sample(self, rng: random.Random) -> Arch: ...  # one arch drawn uniformly


@dataclass(frozen=True)
class Evaluation:
    """One evaluated arch."""

    generation: int  # 0: initial random archs; then the generation (evolution) or cycle (regularized evolution)
    arch: Arch  # the evaluated arch
    fitness: float  # fitness(arch), higher is better
    cost: Optional[float]  # cost(arch), None when the search had no cost function


@dataclass(frozen=True)
class SearchResult:
    """What a search found, and every evaluation on the way."""

    best_arch: Arch  # the fittest evaluated arch (the first one found, on ties)
    best_fitness: float  # its fitness
    best_cost: Optional[float]  # its cost, None when the search had no cost function
    history: tuple[Evaluation, ...]  # one record per evaluated arch, in order

    @property
    def num_evaluations(self) -> int:
        """How many evaluations the search made: distinct archs unless duplicates were allowed."""
        return len(self.history)


class _Archive:
    """Every arch a search has looked at: the cost of all, the fitness of the evaluated ones."""

    def __init__(self, space: Space, fitness: Fitness, cost: Optional[Cost], max_cost: Optional[float],
                 max_evaluations: Optional[int], max_tries: int, bar, allow_duplicates: bool = False) -> None:
        self.fitness, self.cost, self.max_cost = fitness, cost, max_cost
        self.max_evaluations, self.max_tries, self.bar = max_evaluations, max_tries, bar
        self.allow_duplicates = allow_duplicates  # True: an arch evaluated before may be evaluated (looked up) again
        self.size = math.prod(len(options) for options in space.candidates)  # archs in the space
        self.costs: dict[Arch, Optional[float]] = {}  # every arch seen, evaluated or rejected
        self.fitnesses: dict[Arch, float] = {}  # every evaluated arch
        self.num_infeasible = 0  # archs seen that cost more than max_cost
        self.history: list[Evaluation] = []
        self.best: Optional[Evaluation] = None  # the fittest evaluation so far (the first, on ties)
        self.space = space

    @property
    def done(self) -> bool:
        """True when the evaluation budget is spent or (without duplicates) every feasible arch has been evaluated."""
        if self.max_evaluations is not None and len(self.history) >= self.max_evaluations:
            return True
        return not self.allow_duplicates and len(self.fitnesses) + self.num_infeasible >= self.size

    def add(self, draw: Callable[[], Arch], generation: int, source: str) -> bool:
        """Evaluate the first new (or, with duplicates allowed, any), feasible arch among up to ``max_tries``
        draws; False if there was none.

        ``source`` names where the draws come from (e.g. "space.sample"), for error messages.
        """
        tries = 0
        while tries < self.max_tries and not self.done:
            arch = self._in_space(draw(), source)
            tries += 1
            if (self.allow_duplicates or arch not in self.fitnesses) and self._feasible(arch):
                self._evaluate(arch, generation)
                return True
        if not self.history:
            raise ValueError(self._nothing_found(tries))
        return False

    def _in_space(self, arch: Sequence[int], source: str) -> Arch:
        """``arch`` as a tuple, or an error saying that ``source`` gave an arch outside the space."""
        try:
            return check_arch(self.space.candidates, arch)
        except ValueError as error:
            raise ValueError(f"{source} gave a bad arch: {error}") from None

    def _nothing_found(self, tries: int) -> str:
        """Why the search found no arch to evaluate."""
        costs = [c for c in self.costs.values() if c is not None]
        if self.max_cost is None or not costs:
            return (f"no new arch found in {tries} tries of {self.max_tries}; raise max_tries "
                    f"(--max-tries on the command line)")
        return (f"no arch with cost <= {self.max_cost:g} found in {tries} tries; the cheapest arch seen costs "
                f"{min(costs):g}. Raise max_cost (--max-cost on the command line) to at least that, or max_tries "
                f"(--max-tries) if archs within the budget are rare.")

    def top(self, k: int) -> list[Arch]:
        """The k fittest archs evaluated so far, fittest first."""
        return sorted(self.fitnesses, key=self.fitnesses.__getitem__, reverse=True)[:k]

    def result(self) -> SearchResult:
        best = self.best
        return SearchResult(best.arch, best.fitness, best.cost, tuple(self.history))

    def _feasible(self, arch: Arch) -> bool:
        if arch not in self.costs:
            self.costs[arch] = None if self.cost is None else _finite(self.cost(arch), "cost", arch)
            if not self._within_budget(self.costs[arch]):
                self.num_infeasible += 1
        return self._within_budget(self.costs[arch])

    def _within_budget(self, cost: Optional[float]) -> bool:
        return self.max_cost is None or cost <= self.max_cost

    def _evaluate(self, arch: Arch, generation: int) -> None:
        if arch not in self.fitnesses:  # an arch evaluated again is looked up: fitness is the expensive call
            self.fitnesses[arch] = _finite(self.fitness(arch), "fitness", arch)
        evaluation = Evaluation(generation, arch, self.fitnesses[arch], self.costs[arch])
        self.history.append(evaluation)
        if self.best is None or evaluation.fitness > self.best.fitness:  # constant work per evaluation
            self.best = evaluation
        self.bar.update()
        self.bar.set_postfix(best=self.best.fitness, refresh=False)


def check_arch(candidates: Sequence[Sequence], arch: Sequence[int], where: str = "the space") -> Arch:
    """``arch`` as a tuple of ints after checking it has one choice per layer, each in range.

    ``candidates[i]`` holds layer i's options (op names, or a cost table's row); ``where`` names
    them in the error, e.g. "space 'teaching'". This is the package's one arch check: spaces,
    lookup tables, plots and searches all call it (it lives here because this module needs no torch).
    """
    try:
        arch = tuple(operator.index(a) for a in arch)  # ints (numpy ints too), never floats
    except TypeError:
        raise ValueError(f"{arch!r} is not an arch: give {len(candidates)} integer choices, one per layer "
                         f"of {where}") from None
    if len(arch) != len(candidates):
        raise ValueError(f"arch {arch} has {len(arch)} choices but {where} has {len(candidates)} layers; "
                         f"give one choice per layer")
    for layer, (choice, options) in enumerate(zip(arch, candidates)):
        if not 0 <= choice < len(options):
            names = f" ({', '.join(options)})" if all(isinstance(o, str) for o in options) else ""
            raise ValueError(f"arch {arch}: choice {choice} at layer {layer} is out of range; "
                             f"{where} allows 0..{len(options) - 1} there{names}")
    return arch


def _finite(value: float, what: str, arch: Arch) -> float:
    """``value`` as a float, or a clear error if it is NaN or infinite (a search must not rank those)."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what}({arch}) returned {value}; a search needs finite values. Check the {what} "
                         f"function (a diverged supernet gives NaN; a missing table entry should raise instead)")
    return value


def _check(cost: Optional[Cost], max_cost: Optional[float], at_least: int = 1, **counts: Optional[int]) -> None:
    """Raise a clear error for a constraint without a cost function, or a count that is not a whole
    number of at least ``at_least``."""
    if max_cost is not None and cost is None:
        raise ValueError("max_cost needs a cost function: pass cost=..., e.g. cost=table.cost")
    if max_cost is not None and not math.isfinite(max_cost):
        raise ValueError(f"max_cost must be a finite number, got {max_cost}; pass None for no limit")
    for name, value in counts.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        if value < at_least:
            raise ValueError(f"{name} must be at least {at_least}, got {value}")


def _progress_bar(progress: bool, total: int, desc: str):
    from tqdm.auto import tqdm  # imported here so that importing nasedu.search stays light

    # like nasedu.progress.progress_bar, which this module cannot import without importing torch
    return tqdm(total=total, desc=desc, disable=not progress or os.environ.get("TQDM_DISABLE") == "1")


def _mutate(space: Space, arch: Arch, prob: float, rng: random.Random) -> Arch:
    """Redraw each layer's choice uniformly with probability ``prob`` (it may draw the same choice)."""
    return tuple(rng.randrange(len(options)) if rng.random() < prob else a
                 for a, options in zip(arch, space.candidates))


def _mutate_one(space: Space, arch: Arch, rng: random.Random) -> Arch:
    """Change the choice of one random layer to a different one."""
    layer = rng.randrange(space.num_layers)
    others = [c for c in range(len(space.candidates[layer])) if c != arch[layer]]
    if not others:  # a layer with a single candidate cannot change
        return arch
    return arch[:layer] + (rng.choice(others),) + arch[layer + 1:]


def _crossover(a: Arch, b: Arch, rng: random.Random) -> Arch:
    """Uniform crossover: each layer's choice comes from ``a`` or ``b`` with equal chance."""
    return tuple(x if rng.random() < 0.5 else y for x, y in zip(a, b))


def _fill(archive: _Archive, draw: Callable[[], Arch], count: int, generation: int, source: str) -> int:
    """Evaluate up to ``count`` new archs from ``draw``; return how many were evaluated."""
    found = 0
    while found < count and archive.add(draw, generation, source):
        found += 1
    return found


def evolution(
    space: Space,
    fitness: Fitness,
    cost: Optional[Cost] = None,
    max_cost: Optional[float] = None,
    *,
    population: int = 50,
    top_k: int = 10,
    mutations: int = 25,
    mutation_prob: float = 0.1,
    crossovers: int = 25,
    generations: int = 20,
    max_evaluations: Optional[int] = None,
    max_tries: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> SearchResult:
    """The evolutionary search of SPOS (Guo et al. 2019), with its defaults.

    Generation 0 evaluates ``population`` random feasible archs. Every later generation takes
    the ``top_k`` fittest archs evaluated so far as parents and evaluates ``mutations`` mutants
    (each layer redrawn with probability ``mutation_prob``) and ``crossovers`` uniform
    crossovers of two parents, topped up with random archs to ``population``. Only new archs
    with ``cost(arch) <= max_cost`` are evaluated; each may take up to ``max_tries`` draws.
    The search stops after ``generations``, after ``max_evaluations`` evaluations, or when
    every feasible arch has been evaluated; a generation ends early when ``max_tries`` draws
    give no new feasible arch.

    Used in: 06_evolution.
    """
    _check(cost, max_cost, population=population, top_k=top_k, generations=generations,
           max_evaluations=max_evaluations, max_tries=max_tries)
    _check(cost, max_cost, at_least=0, mutations=mutations, crossovers=crossovers)
    if not 0.0 <= mutation_prob <= 1.0:
        raise ValueError(f"mutation_prob is a probability per layer, between 0 and 1; got {mutation_prob}")
    rng = random.Random(seed)
    total = generations * max(population, mutations + crossovers)
    with _progress_bar(progress, min(total, max_evaluations or total), "evolution") as bar:
        archive = _Archive(space, fitness, cost, max_cost, max_evaluations, max_tries, bar)
        for generation in range(generations):
            found = 0
            parents = archive.top(top_k)
            if parents:
                found += _fill(archive, lambda: _mutate(space, rng.choice(parents), mutation_prob, rng),
                               mutations, generation, "a mutation")
            if len(parents) >= 2:
                found += _fill(archive, lambda: _crossover(*rng.sample(parents, 2), rng), crossovers, generation,
                               "a crossover")
            _fill(archive, lambda: space.sample(rng), population - found, generation, "space.sample")
            if archive.done:
                break
    return archive.result()


def regularized_evolution(
    space: Space,
    fitness: Fitness,
    cost: Optional[Cost] = None,
    max_cost: Optional[float] = None,
    *,
    population: int = 50,
    sample_size: int = 10,
    cycles: int = 400,
    allow_duplicates: bool = False,
    max_tries: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> SearchResult:
    """Aging evolution (Real et al. 2019): tournament selection, mutation, and the oldest dies.

    Start with ``population`` random feasible archs. Each cycle samples ``sample_size`` of the
    living archs, mutates one layer of the fittest of them, evaluates the child, adds it to the
    population and removes the oldest arch. ``cycles`` counts every evaluation, the initial
    population included, as in the paper. Only archs with ``cost(arch) <= max_cost`` are
    evaluated; the search stops early when ``max_tries`` draws give no feasible child.

    ``allow_duplicates=True`` is the paper's rule: a child evaluated before enters the population
    again and counts as an evaluation (its fitness is looked up, not computed again). The default,
    False, is nasedu's: a child evaluated before is drawn again, so every evaluation is a new arch,
    as in ``evolution`` and ``random_search``. On the 256-arch teaching space dedup finds the best arch
    more often per evaluation (48 vs 39 of 50 runs after 100, default settings) and about as often per
    distinct arch (scripts/regularized_evolution_duplicates.py).

    Used in: 06_evolution.
    """
    _check(cost, max_cost, population=population, sample_size=sample_size, cycles=cycles, max_tries=max_tries)
    if cycles <= population:
        warnings.warn(f"cycles={cycles} <= population={population}: every evaluation is spent on the random "
                      f"initial population, so this is random search; raise cycles above the population",
                      stacklevel=2)
    rng = random.Random(seed)
    with _progress_bar(progress, cycles, "regularized evolution") as bar:
        archive = _Archive(space, fitness, cost, max_cost, cycles, max_tries, bar, allow_duplicates)
        _fill(archive, lambda: space.sample(rng), population, 0, "space.sample")
        alive = deque(e.arch for e in archive.history)  # oldest first

        def child() -> Arch:
            parent = max(rng.sample(alive, min(sample_size, len(alive))), key=archive.fitnesses.__getitem__)
            return _mutate_one(space, parent, rng)

        cycle = 1
        while archive.add(child, cycle, "a mutation"):
            alive.append(archive.history[-1].arch)
            alive.popleft()
            cycle += 1
    return archive.result()


def random_search(
    space: Space,
    fitness: Fitness,
    cost: Optional[Cost] = None,
    max_cost: Optional[float] = None,
    budget: int = 400,
    *,
    max_tries: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> SearchResult:
    """Evaluate ``budget`` distinct random archs with ``cost(arch) <= max_cost``; keep the fittest.

    The baseline every search must beat. It stops early when ``max_tries`` draws in a row give
    no new feasible arch (or when every feasible arch has been evaluated).

    Used in: 06_evolution.
    """
    _check(cost, max_cost, budget=budget, max_tries=max_tries)
    rng = random.Random(seed)
    with _progress_bar(progress, budget, "random search") as bar:
        archive = _Archive(space, fitness, cost, max_cost, budget, max_tries, bar)
        _fill(archive, lambda: space.sample(rng), budget, 0, "space.sample")
    return archive.result()

