"""Ground-truth tables: NAS-Bench-Macro shipped in the package, the teaching table in resource/, found offline."""

import gzip
import hashlib
import json
import re
import socket
from pathlib import Path

import numpy as np
import pytest

import nasedu as nd
from nasedu import benchmarks, metrics
from nasedu.benchmarks import NASBenchMacro, TeachingGroundTruth


RESOURCE = Path(__file__).parents[1] / "resource"
TEACHING = RESOURCE / benchmarks.TEACHING_FILENAME


@pytest.fixture(scope="module")
def bench():
    return NASBenchMacro()  # the copy shipped inside the package


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def no_network(*args, **kwargs):
        pytest.fail("nasedu tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)


def test_query_a_known_entry(bench):
    entry = bench.query("02012100")  # the first entry of the published file
    assert entry["mean_acc"] == 89.19666544596355
    assert entry["test_acc"] == [89.47000122070312, 88.94999694824219, 89.16999816894531]
    assert entry["params"] == 890666
    assert entry["flops"] == 47327744
    assert bench.query((0, 2, 0, 1, 2, 1, 0, 0)) == entry
    assert bench.fitness("02012100") == bench("02012100") == 89.19666544596355
    assert bench.cost("02012100") == 47327744.0
    assert bench.cost("02012100", metric="params") == 890666.0


def test_table_holds_every_arch_of_the_space(bench):
    assert len(bench) == 6561 == bench.space.num_archs
    assert bench.archs() == list(bench.space.enumerate())


@pytest.mark.parametrize("max_flops, arch, acc", [
    (None, "22212202", 93.12666320800781),  # ties with 22212220: identity in either of the last two layers
    (55.4e6, "21111200", 92.3066635131836),
    (45.5e6, "11101201", 91.93999735514323),
])
def test_best_under_a_flops_limit(bench, max_flops, arch, acc):
    assert bench.best(max_flops) == (bench.space.decode(arch), acc)
    feasible = [a for a in bench.archs() if max_flops is None or bench.cost(a) <= max_flops]
    assert acc == max(bench.fitness(a) for a in feasible)


def test_best_by_params(bench):
    arch, acc = bench.best(1e6, metric="params")
    assert bench.cost(arch, "params") <= 1e6
    assert acc == max(bench.fitness(a) for a in bench.archs() if bench.cost(a, "params") <= 1e6)


def test_errors_say_what_to_do(bench, tmp_path):
    with pytest.raises(ValueError, match="the cheapest has 7.71328e"):
        bench.best(1e6)
    with pytest.raises(ValueError, match="unknown cost metric 'latency'"):
        bench.cost("02012100", metric="latency")
    with pytest.raises(ValueError, match="choice 3 at layer 7 is out of range"):
        bench.query("00000003")
    with pytest.raises(FileNotFoundError, match="pass the path of nas-bench-macro_cifar10.json"):
        NASBenchMacro(tmp_path / "missing")


def test_the_shipped_table_is_the_published_file_with_its_licence(bench, offline):
    assert bench.path == benchmarks.SHIPPED and bench.path.is_relative_to(Path(benchmarks.__file__).parent)
    raw = gzip.decompress(bench.path.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == benchmarks.SHA256
    folder = bench.path.parent
    assert "Apache License" in (folder / "LICENSE").read_text()
    notice = (folder / "NOTICE").read_text()
    assert "github.com/xiusu/NAS-Bench-Macro" in notice and benchmarks.SHA256 in notice
    assert re.search(r"Commit:\s+[0-9a-f]{40}", notice)
    assert len(NASBenchMacro()) == 6561  # offline: no download was tried


def test_a_corrupt_shipped_table_is_refused(tmp_path, monkeypatch):
    raw = gzip.decompress(benchmarks.SHIPPED.read_bytes()).replace(b"89.47000122070312", b"99.47000122070312", 1)
    corrupt = tmp_path / (benchmarks.FILENAME + ".gz")
    corrupt.write_bytes(gzip.compress(raw))
    monkeypatch.setattr(benchmarks, "SHIPPED", corrupt)
    with pytest.raises(ValueError, match="the shipped table .* is corrupt .* reinstall nasedu"):
        NASBenchMacro()


def test_a_path_may_name_a_json_or_gz_file_or_its_folder(bench, tmp_path, offline):
    plain = tmp_path / benchmarks.FILENAME
    plain.write_bytes(gzip.decompress(bench.path.read_bytes()))
    assert NASBenchMacro(plain).query("02012100") == bench.query("02012100")
    assert NASBenchMacro(tmp_path).path == plain
    assert NASBenchMacro(bench.path.parent).path == bench.path  # the folder of the .gz
    assert NASBenchMacro(bench.path).query("22212220") == bench.query("22212220")


def test_a_table_without_the_fields_is_refused(tmp_path):
    (tmp_path / benchmarks.FILENAME).write_text(json.dumps({"02012100": {"mean_acc": 90.0}}))
    with pytest.raises(ValueError, match=r"entry '02012100' lacks \['test_acc', 'std', 'params', 'flops'\]"):
        NASBenchMacro(tmp_path)
    (tmp_path / benchmarks.FILENAME).write_text("{not json")
    with pytest.raises(ValueError, match="is not a JSON table"):
        NASBenchMacro(tmp_path)


# -- the teaching space's own ground truth (resource/teaching_ground_truth.json) -------------------------


@pytest.fixture(scope="module")
def truth():
    return TeachingGroundTruth(TEACHING)


def test_teaching_truth_covers_every_arch_with_at_least_3_seeds(truth):
    accs = truth.accs()
    assert len(truth) == truth.space.num_archs == 256 and truth.seeds >= 3
    assert accs.shape == (256, truth.seeds)
    assert 10.0 < accs.min() and accs.max() < 100.0
    for arch, row in zip(truth.archs(), accs):
        assert truth.fitness(arch) == pytest.approx(row.mean())
    assert {"dataset", "train_size", "epochs", "lr", "batch_size"} <= set(truth.recipe)
    assert truth.seconds > 0


def test_teaching_truth_costs_match_the_lookup_tables(truth):
    for metric in ("params", "macs"):
        table = nd.hardware.lookup_table(truth.space, metric)
        assert all(truth.cost(a, metric) == table.cost(a) for a in truth.archs()), metric
    assert truth.cost("1111") == truth.cost("1111", "macs")


def test_teaching_truth_records_its_seed_noise(truth):
    accs = truth.accs()
    assert truth.noise["kendall_tau_between_seeds"] == pytest.approx(metrics.seed_to_seed_tau(accs))
    assert truth.noise["kendall_tau_between_seeds_top10"] == pytest.approx(metrics.seed_to_seed_tau(accs, 0.1))


def test_teaching_truth_best_under_a_budget(truth):
    budget = 500e3
    arch, acc = truth.best(budget)
    assert truth.cost(arch) <= budget
    assert acc == max(truth.fitness(a) for a in truth.archs() if truth.cost(a) <= budget)
    with pytest.raises(ValueError, match="no arch has macs <= 1000; the cheapest has 140160"):
        truth.best(1000)


def test_teaching_truth_without_a_path_reads_the_shipped_table(offline):
    assert TeachingGroundTruth().path == TEACHING  # resource/ of this clone, through nasedu.resources


def test_a_missing_shipped_table_says_how_to_get_it_back(monkeypatch, tmp_path):
    monkeypatch.setattr(nd.resources, "resource_dir", lambda: tmp_path)
    with pytest.raises(FileNotFoundError, match="reinstall nasedu.*teaching_ground_truth.py --out resource/teach"):
        TeachingGroundTruth()


def test_an_unfinished_teaching_truth_says_how_to_finish_it(truth, tmp_path):
    raw = json.loads(TEACHING.read_text())
    raw["archs"] = dict(list(raw["archs"].items())[:10])
    (tmp_path / benchmarks.TEACHING_FILENAME).write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="lacks 246 of the 256 archs; finish it with `python scripts/teaching_gr"):
        TeachingGroundTruth(tmp_path)


def test_the_top_table_loads_a_few_archs_and_says_where_it_comes_from(tmp_path, monkeypatch):
    raw = json.loads(TEACHING.read_text())
    raw["archs"] = dict(list(raw["archs"].items())[:5])
    raw["seeds"] = 3
    (tmp_path / benchmarks.TEACHING_TOP_FILENAME).write_text(json.dumps(raw))
    top = TeachingGroundTruth(tmp_path, table="top")
    assert len(top) == 5 and top.accs().shape == (5, 3)
    assert top.fitness(top.archs()[0]) == pytest.approx(np.mean(raw["archs"][top.space.encode(top.archs()[0])]["acc"]))
    monkeypatch.setattr(nd.resources, "resource_dir", lambda: tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="teaching_ground_truth.py --top 32"):
        TeachingGroundTruth(table="top")
    with pytest.raises(ValueError, match="table must be 'all'.*or 'top'.*got 'best'"):
        TeachingGroundTruth(table="best")


def test_the_shipped_top_table_retrains_the_32_best_archs_with_5_seeds_for_6_epochs_on_all_images(truth):
    top = TeachingGroundTruth(table="top")
    assert len(top) == 32 and top.seeds == 5 and top.accs().shape == (32, 5)
    assert top.recipe["train_size"] == 60000 and top.recipe["epochs"] == 6
    best = sorted(truth.archs(), key=truth.fitness, reverse=True)[:32]
    assert sorted(best) == top.archs()  # the best 32 of the full table, chosen before the new seeds ran
    assert top.noise["kendall_tau_between_seeds"] == pytest.approx(metrics.seed_to_seed_tau(top.accs()))
    assert top.noise["kendall_tau_between_seeds"] > 0.3  # the bar: single runs agree on the top's order
    assert all(top.cost(a) == truth.cost(a) for a in top.archs())


def test_the_first_3_epoch_top_table_ships_beside_it_and_its_seeds_agree_less():
    first = TeachingGroundTruth(RESOURCE / "teaching_ground_truth_top_3ep.json", table="top")
    top = TeachingGroundTruth(table="top")
    assert first.recipe["epochs"] == 3 and first.recipe["train_size"] == 60000 and first.archs() == top.archs()
    assert metrics.seed_to_seed_tau(first.accs()) < metrics.seed_to_seed_tau(top.accs())
