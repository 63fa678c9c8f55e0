"""The lessons' claims hold in the committed (default-mode) outputs that readers see on GitHub.

These read the saved outputs; they do not execute anything (tests/test_notebooks.py does).
"""

import re

import nbformat
from conftest import REPO


def printed(name: str) -> str:
    """Everything a committed notebook printed, in order."""
    nb = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def numbers(pattern: str, text: str) -> list[float]:
    found = re.findall(pattern, text)
    assert found, f"no line matches {pattern!r}"
    return [float(x.replace(",", "")) for x in found]


def test_04_a_larger_lambda_never_gives_a_dearer_arch():
    costs = numbers(r"lambda +[\d.]+: \S+ +([\d,]+) MACs", printed("04_hardware_dnas"))
    assert len(costs) >= 3 and costs == sorted(costs, reverse=True) and costs[-1] < costs[0]


def test_05_recalibration_improves_inherited_accuracy():
    text = printed("05_spos")
    (without, with_), = re.findall(r"without recalibration ([\d.]+)%, with ([\d.]+)%", text)
    assert float(with_) > float(without) + 5


def test_06_evolution_beats_random_search_at_equal_budget():
    text = printed("06_evolution")
    evolution = numbers(r"evolution +mean best ([\d.]+)%", text)
    random = numbers(r"random search +mean best ([\d.]+)%", text)
    found_evolution, found_random = numbers(r"found the optimum in (\d+)/", text)
    assert evolution[0] > random[0] and found_evolution > found_random


def test_07_prints_the_supernet_tau_beside_the_noise_and_the_rules():
    text = printed("07_truth")
    for row in ["supernet (inherited)", "supernet, fair sampling", "seed vs seed (noise)", "rule: MACs",
                "rule: params", "rule: fewest skips"]:
        assert re.search(rf"{re.escape(row)} +(-?[\d.]+|nan) +(-?[\d.]+|nan)\n", text), row
    assert "scored 256 archs" in text, "the committed run scores every arch (default mode)"
    from nasedu import metrics

    questions = metrics.usefulness((0.5, 0.5), {}, 0.5, 1, 10)
    for question in questions:  # the practitioner's questions, each answered for both supernets
        assert len(re.findall(rf"(yes|no ) +{re.escape(question)}", text)) == 2, question


def test_07_fair_sampling_ranks_better_than_uniform_as_the_text_says():
    text = printed("07_truth")
    taus = {row: [float(x) for x in re.search(rf"{re.escape(row)} +(-?[\d.]+) +(-?[\d.]+)\n", text).groups()]
            for row in ["supernet (inherited)", "supernet, fair sampling"]}
    assert all(f > u for f, u in zip(taus["supernet, fair sampling"], taus["supernet (inherited)"]))


def test_03_every_shipped_search_but_darts_and_the_papers_gdas_decided_on_average():
    text = printed("03_dnas")
    assert numbers(r"runs other than DARTS and the paper's GDAS: lowest ([\d.]+)", text)[0] >= 0.7
    assert numbers(r"DARTS, the paper's alpha budget +([\d.]+)", text)[0] < 0.7  # the lesson: DARTS stays flat


def test_03_the_papers_gdas_gets_almost_no_task_gradient_and_only_the_all_gates_one_decides():
    """Section 7: the chosen gate's dL/dg is ~0 behind conv + BN, so the paper's alpha step learns from the cost alone."""
    text = printed("03_dnas")
    (chosen, unchosen), = re.findall(r"chosen gate ([\d.e+-]+), unchosen gates ([\d.]+)", text)
    assert float(chosen) < 1e-3 and float(unchosen) > 0.1
    (low, high), = re.findall(r"cosine between the two alpha gradients: ([+-][\d.]+) to ([+-][\d.]+)", text)
    assert float(low) < 0 < float(high) < 0.9  # not the same direction
    rows = {method: (float(rank), float(p)) for method, rank, p in re.findall(
        r"^(gdas|gdas_all_gates) +picks .*: median rank ([\d.]+) of \d+ within the budget, mean max-probability ([\d.]+)$",
        text, re.M)}
    assert rows["gdas_all_gates"][0] < rows["gdas"][0] and rows["gdas_all_gates"][1] >= 0.7 > rows["gdas"][1]


def test_03_the_written_out_darts_matches_the_package():
    text = printed("03_dnas")
    assert "the written-out search ends with the package's alpha, weights and derived arch" in text
    assert "the package's second-order gradient" in text


def test_03_the_long_darts_run_loses_true_accuracy_as_skips_win():
    text = printed("03_dnas")
    first, last = numbers(r"after epoch +\d+ *: argmax \S+ +true accuracy ([\d.]+)%", text)
    (p_first, p_last), = re.findall(r"mean P\(skip\): ([\d.]+) at the first record, ([\d.]+) at the last", text)
    assert last < first - 1 and float(p_last) > float(p_first)


def test_04_the_sweep_has_eight_lambdas_that_all_decided_and_spos_is_never_further_from_the_front():
    text = printed("04_hardware_dnas")
    lambdas = numbers(r"lambda +([\d.]+): \S+ +[\d,]+ MACs", text)
    assert len(lambdas) >= 8 and sum(0 < lam < 0.3 for lam in lambdas) >= 3
    assert min(numbers(r"mean max-probability ([\d.]+)\n", text)) >= 0.7
    gaps = re.findall(r"^ *([\d.]+) +([\d.]+) +([\d.]+) +SPOS:", text, re.MULTILINE)
    assert len(gaps) == len(lambdas) and all(float(spos) <= float(dnas) for _, dnas, spos in gaps)
    dnas_gaps = [float(dnas) for _, dnas, _ in gaps]  # the text: 0 to 0.8 points below the front; SPOS on it at five
    assert min(dnas_gaps) == 0 and max(dnas_gaps) <= 0.8 and sum(float(spos) == 0 for *_, spos in gaps) == 5


def test_04_binary_gates_leave_the_others_alone_and_the_hinge_ends_well_below_its_budget():
    text = printed("04_hardware_dnas")
    (on, off, before), = re.findall(r"p moved by up to ([\d.e+-]+) on the pair, ([\d.e+-]+) off it \(priced under p, "
                                    r"as before the fix: ([\d.e+-]+) off it\)", text)
    assert float(off) <= 1e-6 and float(on) > 1e-3 and float(before) > 1e-4  # the fix: nothing moves off the pair
    (budget, end), = re.findall(r"budget ([\d,]+) MACs; E\[c\] at the end ([\d,]+);", text)
    assert float(end.replace(",", "")) < 0.8 * float(budget.replace(",", ""))  # priced on the pair, it kept falling


def test_methods_json_agrees_with_the_ground_truth():
    """An outside check: every pick's rank and accuracy in resource/teaching_methods.json follow from the truth."""
    import json
    import statistics

    from nasedu.benchmarks import TeachingGroundTruth

    result = json.loads((REPO / "resource" / "teaching_methods.json").read_text())
    truth = TeachingGroundTruth()
    feasible = sorted((a for a in truth.archs() if truth.cost(a) <= result["budget"]), key=truth.fitness, reverse=True)
    assert result["feasible_archs"] == len(feasible) and set(result["summary"]) >= {"darts", "fbnet", "gdas",
                                                                                     "proxylessnas", "spos"}
    for run in result["runs"]:
        arch = truth.space.decode(run["arch"])
        assert run["truth_acc"] == truth.fitness(arch) and run["cost"] == truth.cost(arch) <= result["budget"]
        assert run["rank"] == feasible.index(arch) + 1
    for method, summary in result["summary"].items():
        ranks = [r["rank"] for r in result["runs"] if r["method"] == method]
        assert len(ranks) == summary["runs"] >= 3 and statistics.median(ranks) == summary["median_rank"]


def scores_taus() -> tuple[dict, dict]:
    """Per variant of resource/teaching_scores.json: its (seeds, 2) taus against the truth (all, no skip); the file."""
    import json

    import numpy as np

    import nasedu as nd

    truth = nd.benchmarks.TeachingGroundTruth()
    archs = truth.archs()
    codes = [truth.space.encode(a) for a in archs]
    mean_acc = np.array([truth.fitness(a) for a in archs])
    no_skip = np.array(["skip" not in truth.space.readable(a) for a in archs])
    results = json.loads((REPO / "resource" / "teaching_scores.json").read_text())
    for variant, entry in results.items():  # the format outside checks read
        assert set(entry) == {"seconds", "seeds"} and len(entry["seeds"]) == 3, variant
        assert all(sorted(scores) == sorted(codes) for scores in entry["seeds"].values()), variant
    return {v: np.array([nd.metrics.kendall_taus([s[c] for c in codes], mean_acc, no_skip)
                         for s in e["seeds"].values()]) for v, e in results.items()}, results


def test_09_scores_hold_every_variant_and_the_notebooks_ranking_claims():
    import numpy as np

    taus, results = scores_taus()
    median = {v: np.median(t, axis=0) for v, t in taus.items()}
    trained = ["uniform", "uniform_24ep", "fair", "fair_6ep", *(f"fewshot_l{layer}" for layer in range(4))]
    proxies = ["synflow", "naswot", "grad_norm", "snip", "params", "macs"]
    assert set(trained + proxies + ["uniform_no_recal", "uniform_loss", "uniform+macs", "fair_6ep+macs"]) <= set(taus)
    assert all(results[v]["seconds"] <= 180 for v in trained)  # each within 3 minutes of training
    best = max(trained, key=lambda v: median[v][0])
    assert best == "fair_6ep" and 0.69 <= median[best][0] < 0.72 and median[best][1] >= 0.47
    assert median["uniform_no_recal"][0] < 0.2 < median["uniform"][0]
    assert all(median[f"fewshot_l{layer}"][0] < median["uniform_24ep"][0] for layer in range(4))
    assert max(range(4), key=lambda layer: median[f"fewshot_l{layer}"][1]) == 2
    assert max(("synflow", "naswot", "grad_norm", "snip"), key=lambda v: median[v][1]) == "snip"
    assert all(median[v][0] < median["macs"][0] for v in ("synflow", "naswot", "grad_norm", "snip"))
    assert median["fair_6ep+macs"][1] > median["fair_6ep"][1] and median["fair_6ep+macs"][0] < median["fair_6ep"][0]
    assert abs(median["uniform_loss"][0] - median["uniform"][0]) < 0.02


def test_09_on_the_sharper_top_truth_the_leaders_are_a_supernet_with_params_and_none_reaches_one_real_training():
    import numpy as np

    import nasedu as nd

    top = nd.benchmarks.TeachingGroundTruth(table="top")
    accs = top.accs()
    top_mean = accs.mean(axis=1)
    one_real_training = np.mean([nd.metrics.kendall_tau(accs[:, s], np.delete(accs, s, axis=1).mean(axis=1))
                                 for s in range(accs.shape[1])])
    _, results = scores_taus()
    codes = [top.space.encode(a) for a in top.archs()]
    within = {v: np.median([nd.metrics.kendall_tau([s[c] for c in codes], top_mean) for s in e["seeds"].values()])
              for v, e in results.items()}
    leaders = sorted(within, key=within.get, reverse=True)[:3]
    assert set(leaders) == {"fair_6ep+params", "uniform+params", "fewshot_l3"}
    assert max(within.values()) < one_real_training
    assert max(within[v] for v in ("synflow", "naswot")) < 0.1
    printed_table = printed("09_why_sharing_misleads")
    assert numbers(r"fair_6ep\+params +(-?\d\.\d\d) ", printed_table)[-1] == round(within["fair_6ep+params"], 2)
