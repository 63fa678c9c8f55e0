"""How good is a proxy? Ranking correlation, top-k overlap and regret.

One-shot NAS ranks archs by a cheap proxy (accuracy with weights inherited from a supernet)
instead of the truth (accuracy after training alone). The proxy is useful when it *orders*
archs like the truth, above all the best ones; its absolute values do not matter:

- ``kendall_tau``: the share of pairs both agree on, minus the share they disagree on (-1..1);
- ``spearman``: the correlation of the two rankings (-1..1);
- ``top_k_overlap``: how many of the proxy's k best are among the truth's k best (0..1);
- ``regret``: how much worse the found arch is than the true best (0 is perfect);
- ``seed_to_seed_tau``: how well the truth agrees with itself when trained again with another
  seed; no proxy can be expected to agree with the truth better than that.

Used in: 07_truth, 09_why_sharing_misleads.
"""

from __future__ import annotations

import itertools
import math
from typing import Optional, Sequence

import numpy as np
from scipy import stats


def scores(values: Sequence[float], name: str = "scores") -> np.ndarray:
    """``values`` as a 1-D float array, or a clear error: no dicts, no 2-D input, no NaN or infinity."""
    if isinstance(values, dict):
        raise ValueError(f"{name} is a dict; pass a list of scores in a fixed arch order, e.g. "
                         f"[d[a] for a in archs] for both scorings")
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one score per arch (1-D), got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if len(bad):
        raise ValueError(f"{name} holds {len(bad)} NaN or infinite value(s), first at index {bad[0]}; "
                         f"a ranking needs a finite score for every arch")
    return array


def _check_pair(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a, b = scores(a, "the first scores"), scores(b, "the second scores")
    if len(a) != len(b):
        raise ValueError(f"the two score lists must score the same archs, in the same order; got {len(a)} and {len(b)} scores")
    if len(a) < 2:
        raise ValueError(f"a ranking needs at least 2 scores, got {len(a)}")
    return a, b


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b between two scorings of the same archs (nan if one is constant)."""
    a, b = _check_pair(a, b)
    return float(stats.kendalltau(a, b).statistic)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rank correlation between two scorings of the same archs (nan if one is constant)."""
    a, b = _check_pair(a, b)
    return float(stats.spearmanr(a, b).statistic)


def top_k(values: Sequence[float], k: int) -> set[int]:
    """Indices of the k highest values; among equal values the earlier index wins (deterministic)."""
    return set(np.argsort(-np.asarray(values, dtype=float), kind="stable")[:k].tolist())


def top_k_overlap(scores_a: Sequence[float], scores_b: Sequence[float], k: int) -> float:
    """The fraction of the k best archs by ``scores_a`` that are also among the k best by ``scores_b``.

    Ties at the k-th place are broken by position: among equal scores the arch listed first
    counts as better, so the answer is deterministic but depends on the order of the archs
    when a tie straddles the cut. Pass both lists in one fixed order (e.g. ``truth.archs()``).
    """
    scores_a, scores_b = _check_pair(scores_a, scores_b)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= len(scores_a):
        raise ValueError(f"k must be a whole number between 1 and the number of scores ({len(scores_a)}), got {k!r}")
    return len(top_k(scores_a, k) & top_k(scores_b, k)) / k


def regret(found_fitness: float, best_fitness: float) -> float:
    """``best_fitness - found_fitness``: how far a search's answer is from the true best (>= 0)."""
    found_fitness, best_fitness = scores([found_fitness, best_fitness], "the two fitnesses")
    if found_fitness > best_fitness:
        raise ValueError(
            f"found fitness {found_fitness} is above the best fitness {best_fitness}; "
            "pass the found fitness first and the true best second"
        )
    return float(best_fitness - found_fitness)


def seed_to_seed_tau(accs: Sequence[Sequence[float]], top_fraction: Optional[float] = None) -> float:
    """Mean Kendall tau between every pair of seeds; ``accs`` has one row per arch, one column per seed.

    With ``top_fraction`` (e.g. 0.1) only the best archs count (at least 2): do the seeds agree on how
    to order the best archs? For each pair of seeds the best archs are chosen by the mean of the *other*
    seeds, so this needs at least 3 seeds. Choosing them by the same seeds that are then compared would
    bias the answer down: an arch lands in the top set partly because one seed was lucky on it, and the
    other seed then disagrees (Berkson's paradox; on pure noise that way gives a clearly negative tau).
    """
    accs = np.asarray(accs, dtype=float)
    if accs.ndim != 2 or accs.shape[1] < 2:
        raise ValueError(f"accs needs one row per arch and at least 2 seed columns, got shape {accs.shape}")
    if not np.isfinite(accs).all():
        raise ValueError("accs holds NaN or infinite values; every arch needs a finite accuracy for every seed")
    seeds = range(accs.shape[1])
    if top_fraction is None:
        return float(np.mean([kendall_tau(accs[:, a], accs[:, b]) for a, b in itertools.combinations(seeds, 2)]))
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    if accs.shape[1] < 3:
        raise ValueError("top_fraction needs at least 3 seeds: the top archs are chosen by a seed that is not "
                         f"compared, got {accs.shape[1]} seed columns")
    size = max(2, round(len(accs) * top_fraction))
    taus = []
    for a, b in itertools.combinations(seeds, 2):
        held_out = [s for s in seeds if s not in (a, b)]
        top = np.argsort(-accs[:, held_out].mean(1), kind="stable")[:size]
        taus.append(kendall_tau(accs[top, a], accs[top, b]))
    return float(np.mean(taus))


def kendall_taus(estimate: Sequence[float], truth: Sequence[float], subset: Sequence[bool]) -> tuple[float, float]:
    """Kendall tau of ``estimate`` with ``truth`` over all archs, and over the archs in ``subset`` (a mask).

    Used in: 07_truth, 09_why_sharing_misleads.
    """
    estimate, truth = _check_pair(estimate, truth)
    subset = np.asarray(subset, dtype=bool)
    if subset.shape != estimate.shape:
        raise ValueError(f"subset must mark each of the {len(estimate)} archs, got shape {subset.shape}")
    return kendall_tau(estimate, truth), kendall_tau(estimate[subset], truth[subset])


def true_rank(value: float, truth: Sequence[float]) -> int:
    """Where an arch whose true score is ``value`` ranks among ``truth`` (1 = nothing is better).

    Used in: 07_truth, 09_why_sharing_misleads.
    """
    return 1 + int((scores(truth, "truth") > value).sum())


def usefulness(taus: tuple[float, float], rules: dict[str, tuple[float, float]], noise: float, favourite_rank: int,
               num_archs: int) -> dict[str, bool]:
    """What a supernet's ranking is good for, as yes/no answers to the questions a practitioner asks.

    ``taus`` is its (tau over all archs, tau among similar archs), ``rules`` the same for free rules
    (NaN where a rule cannot rank), ``noise`` the seed-to-seed tau over all archs, and
    ``favourite_rank`` the true rank of its favourite arch among ``num_archs``.

    Used in: 07_truth.
    """
    overall, similar = taus
    return {
        "telling good archs from bad ones better than a free rule": all(overall > r[0] for r in rules.values()
                                                                        if not math.isnan(r[0])),
        "ranking similar archs better than a free rule": all(similar > r[1] for r in rules.values()
                                                             if not math.isnan(r[1])),
        "agreeing with the truth as well as a second training run does": overall >= noise,
        "pointing at a top-10% arch with its favourite": favourite_rank <= 0.1 * num_archs,
    }
