"""Ranking metrics against answers worked out by hand."""

import math

import numpy as np

import pytest

from nasedu import metrics


def test_kendall_tau_counts_concordant_pairs():
    assert metrics.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert metrics.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # 6 pairs; only (2, 3) is ordered differently: (5 - 1) / 6
    assert metrics.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)


def test_spearman_is_one_minus_scaled_squared_rank_differences():
    # rank differences 0, 1, 1, 0, 0: 1 - 6 * 2 / (5 * (25 - 1)) = 0.9
    assert metrics.spearman([1, 2, 3, 4, 5], [1, 3, 2, 4, 5]) == pytest.approx(0.9)
    assert metrics.spearman([0.1, 0.5, 0.2], [1, 100, 7]) == pytest.approx(1.0)  # only the order matters


def test_constant_scores_have_no_correlation():
    assert math.isnan(metrics.kendall_tau([1, 2, 3], [5, 5, 5]))


def test_top_k_overlap():
    proxy = [0.9, 0.8, 0.7, 0.1]  # top-2: archs 0 and 1
    truth = [0.1, 0.8, 0.7, 0.9]  # top-2: archs 3 and 1
    assert metrics.top_k_overlap(proxy, truth, k=1) == 0.0
    assert metrics.top_k_overlap(proxy, truth, k=2) == 0.5
    assert metrics.top_k_overlap(proxy, truth, k=3) == pytest.approx(2 / 3)
    assert metrics.top_k_overlap(proxy, truth, k=4) == 1.0


def test_top_k_overlap_breaks_ties_by_position_deterministically():
    proxy = [5, 5, 5, 1]  # a three-way tie for the top: the first listed wins
    truth = [1, 2, 9, 8]  # top-1: arch 2
    assert metrics.top_k(proxy, 1) == {0} and metrics.top_k(proxy, 2) == {0, 1}
    assert metrics.top_k_overlap(proxy, truth, k=1) == 0.0
    assert metrics.top_k_overlap(proxy, truth, k=3) == pytest.approx(2 / 3)  # {0, 1, 2} vs {2, 3, 1}
    assert metrics.top_k(proxy[::-1], 1) == {1}  # listed in reverse, another of the tied archs comes first


def test_regret():
    assert metrics.regret(90.5, 93.0) == 2.5
    assert metrics.regret(93.0, 93.0) == 0.0
    with pytest.raises(ValueError, match="pass the found fitness first"):
        metrics.regret(93.0, 90.5)


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.kendall_tau([1, 2, 3], [1, 2]), "got 3 and 2 scores"),
    (lambda: metrics.spearman([1], [1]), "at least 2 scores"),
    (lambda: metrics.top_k_overlap([1, 2], [2, 1], k=3), "k must be a whole number between 1 and the number of"),
    (lambda: metrics.top_k_overlap([1, 2], [2, 1], k=1.5), r"k must be a whole number .* got 1\.5"),
    (lambda: metrics.kendall_tau([1, float("nan"), 3], [1, 2, 3]), "the first scores holds 1 NaN or infinite value"),
    (lambda: metrics.spearman([1, 2, 3], [1, 2, float("inf")]), "the second scores holds 1 NaN .* at index 2"),
    (lambda: metrics.kendall_tau({"0000": 1, "0001": 2}, [1, 2]), "is a dict; pass a list of scores in a fixed"),
    (lambda: metrics.kendall_tau([[1, 2], [3, 4]], [1, 2]), r"one score per arch \(1-D\), got shape \(2, 2\)"),
    (lambda: metrics.top_k_overlap([1, 2, 3], [1, 2], k=1), "got 3 and 2 scores"),
    (lambda: metrics.regret(float("nan"), 93.0), "the two fitnesses holds 1 NaN"),
    (lambda: metrics.seed_to_seed_tau([[1, 2], [3, float("nan")]]), "NaN or infinite values"),
])
def test_bad_inputs_are_explained(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_seed_to_seed_tau_known_answers():
    ranks = np.arange(10.0)
    agree = np.stack([ranks, ranks * 2, ranks + 1], axis=1)  # three seeds, same order
    assert metrics.seed_to_seed_tau(agree) == pytest.approx(1.0)
    opposed = np.stack([ranks, -ranks], axis=1)
    assert metrics.seed_to_seed_tau(opposed) == pytest.approx(-1.0)
    # seeds 0 and 1 agree, seed 2 reverses them: pairs give 1, -1, -1
    mixed = np.stack([ranks, ranks, -ranks], axis=1)
    assert metrics.seed_to_seed_tau(mixed) == pytest.approx(-1 / 3)


def test_seed_to_seed_tau_within_the_top():
    # every seed puts the same 3 archs on top but orders them differently: each pair of seeds agrees on
    # 1 of their 3 pairs (tau -1/3), while over all 10 archs the seeds mostly agree
    rest = [[v, v, v] for v in range(1, 8)]
    accs = np.array(rest + [[10, 12, 11], [11, 10, 12], [12, 11, 10]], float)
    assert metrics.seed_to_seed_tau(accs) > 0.8
    assert metrics.seed_to_seed_tau(accs, top_fraction=0.3) == pytest.approx(-1 / 3)


def test_seed_to_seed_tau_top_is_chosen_by_a_held_out_seed():
    # pure noise: the seeds agree on nothing, so the honest answer is 0. Choosing the top archs by the
    # mean of the compared seeds would give a clearly negative tau (Berkson's paradox).
    accs = np.random.default_rng(0).normal(size=(3000, 3))
    assert abs(metrics.seed_to_seed_tau(accs, top_fraction=0.1)) < 0.05
    top = np.argsort(-accs[:, :2].mean(1))[:300]
    assert metrics.kendall_tau(accs[top, 0], accs[top, 1]) < -0.2  # what the biased choice would report


def test_seed_to_seed_tau_needs_two_seeds():
    with pytest.raises(ValueError, match="at least 2 seed columns"):
        metrics.seed_to_seed_tau(np.ones((5, 1)))
    with pytest.raises(ValueError, match="top_fraction must be in"):
        metrics.seed_to_seed_tau(np.ones((5, 3)), top_fraction=0)
    with pytest.raises(ValueError, match="at least 3 seeds"):
        metrics.seed_to_seed_tau(np.ones((5, 2)), top_fraction=0.5)


def test_kendall_taus_over_all_and_a_subset():
    estimate, truth = [1, 2, 3, 4, 5], [1, 2, 3, 5, 4]
    overall, subset = metrics.kendall_taus(estimate, truth, [False, False, True, True, True])
    assert overall == pytest.approx(0.8) and subset == pytest.approx(1 / 3)  # 9 of 10 pairs agree; 2 of 3
    with pytest.raises(ValueError, match="subset must mark each of the 5 archs"):
        metrics.kendall_taus(estimate, truth, [True])


def test_true_rank_counts_the_better_archs():
    assert metrics.true_rank(88.0, [89.0, 88.0, 87.0, 88.5]) == 3 and metrics.true_rank(90, [89.0]) == 1


def test_usefulness_answers_each_question_from_the_numbers():
    rules = {"MACs": (0.5, 0.45), "fewest skips": (0.55, float("nan"))}
    answers = metrics.usefulness((0.62, 0.26), rules, noise=0.72, favourite_rank=1, num_archs=256)
    assert list(answers.values()) == [True, False, False, True]
    assert not metrics.usefulness((0.5, 0.5), rules, 0.72, 30, 256)["pointing at a top-10% arch with its favourite"]


def test_usefulness_skips_a_rule_that_cannot_rank_in_both_comparisons():
    nan = float("nan")
    rules = {"MACs": (0.5, 0.45), "constant rule": (nan, nan)}
    answers = metrics.usefulness((0.62, 0.5), rules, noise=0.72, favourite_rank=1, num_archs=256)
    assert answers["telling good archs from bad ones better than a free rule"]  # NaN ranks nothing: skipped
    assert answers["ranking similar archs better than a free rule"]
    alone = metrics.usefulness((0.62, 0.5), {"MACs": (0.5, 0.45)}, noise=0.72, favourite_rank=1, num_archs=256)
    assert answers == alone
