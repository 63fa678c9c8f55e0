import gzip
import json
import random

import numpy as np
import pytest
from scipy import stats
import torch
from torch.utils.flop_counter import FlopCounterMode

import nasedu as nd
from nasedu import hardware


def test_every_nas_bench_macro_arch_matches_the_published_params_and_flops():
    table = json.loads(gzip.decompress(nd.benchmarks.SHIPPED.read_bytes()))
    space = nd.spaces.get("nas-bench-macro")
    params = hardware.lookup_table(space, "params")
    macs = hardware.lookup_table(space, "macs")
    assert len(table) == 6561
    wrong = [key for key, row in table.items()
             if params.cost(space.decode(key)) != row["params"] or macs.cost(space.decode(key)) != row["flops"]]
    assert wrong == []


@pytest.mark.parametrize("name", nd.spaces.names())
def test_table_cost_equals_the_whole_network_counted_directly(name):
    space = nd.spaces.get(name)
    params = hardware.lookup_table(space, "params")
    macs = hardware.lookup_table(space, "macs")
    rng = random.Random(0)
    for _ in range(4):
        arch = space.sample(rng)
        model = space.build(arch)
        assert params.cost(arch) == hardware.count_params(model)
        assert macs.cost(arch) == hardware.count_macs(model, space.input_shape)


@pytest.mark.parametrize("name", nd.spaces.names())
def test_macs_agree_with_torch_flop_counter(name):
    space = nd.spaces.get(name)
    macs = hardware.lookup_table(space, "macs")
    arch = space.sample(1)
    model = space.build(arch).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *space.input_shape))
    assert counter.get_total_flops() == 2 * macs.cost(arch)  # torch counts a multiply-add as 2 FLOPs


@pytest.mark.parametrize("metric", ["params", "macs"])
def test_expected_cost_at_one_hot_equals_cost_and_is_differentiable(metric):
    space = nd.spaces.get("teaching")
    table = hardware.lookup_table(space, metric)
    arch = (0, 3, 1, 2)
    logits = torch.full((4, 4), -1e4)
    for i, a in enumerate(arch):
        logits[i, a] = 1e4
    logits.requires_grad_(True)
    expected = table.expected_cost(logits.softmax(-1))
    assert expected.item() == pytest.approx(table.cost(arch), rel=1e-6)
    uniform = torch.zeros(4, 4, requires_grad=True)
    cost = table.expected_cost(uniform.softmax(-1))
    cost.backward()
    assert cost.item() == pytest.approx(table.base + sum(sum(row) / 4 for row in table.costs), rel=1e-6)
    assert uniform.grad.abs().sum() > 0
    # the gradient pushes probability towards cheaper candidates: d cost / d logit has the sign of (c_k - mean)
    row = torch.tensor(table.costs[1])
    assert torch.equal(uniform.grad[1].sign(), (row - row.mean()).sign())


def test_candidates_have_clearly_different_costs_in_the_teaching_space():
    space = nd.spaces.get("teaching")
    macs = hardware.lookup_table(space, "macs")
    params = hardware.lookup_table(space, "params")
    for i in range(space.num_layers):
        # skip < k3e1 < k5e3 in MACs and params; the dense conv3 costs more params than k3e1
        assert macs.costs[i][0] < macs.costs[i][1] < macs.costs[i][2]
        assert params.costs[i][1] < params.costs[i][2] and params.costs[i][1] < params.costs[i][3]
        assert macs.costs[i][2] > 2 * macs.costs[i][1]
    assert macs.max_cost() > 5 * macs.min_cost()


def test_latency_table_round_trips_through_json(tmp_path):
    space = nd.spaces.get("teaching")
    table = hardware.lookup_table(space, "latency_ms", repeats=5)
    assert table.device.startswith("CPU") and table.settings["batch_size"] == 1
    assert all(c >= 0 for row in table.costs for c in row) and table.base > 0
    path = tmp_path / "lut.json"
    table.save(str(path))
    loaded = hardware.LookupTable.load(str(path))
    assert loaded == table
    assert loaded.cost((1, 2, 3, 0)) == table.cost((1, 2, 3, 0))
    assert not list(tmp_path.glob("*.tmp"))


def test_latency_check_reports_correlation():
    space = nd.spaces.get("teaching")
    table = hardware.lookup_table(space, "latency_ms", batch_size=8, repeats=3)
    archs = [(0, 0, 0, 0), (3, 3, 3, 3), (2, 2, 2, 2), (1, 1, 1, 1), (0, 2, 0, 2)]
    report = hardware.latency_check(space, table, archs)
    assert report["predicted"] == [table.cost(a) for a in archs]
    assert len(report["measured"]) == len(archs) and min(report["measured"]) > 0
    assert report["pearson"] == pytest.approx(np.corrcoef(report["predicted"], report["measured"])[0, 1])
    assert report["kendall_tau"] == pytest.approx(stats.kendalltau(report["predicted"], report["measured"]).statistic)


def test_bad_table_input():
    space = nd.spaces.get("teaching")
    table = hardware.lookup_table(space, "params")
    with pytest.raises(ValueError, match="unknown metric 'flops'"):
        hardware.lookup_table(space, "flops")
    with pytest.raises(ValueError, match=r"probs must have shape \(4, 4\)"):
        table.expected_cost(torch.ones(3, 4))
    with pytest.raises(ValueError, match="has 3 choices but the params table of 'teaching' has 4 layers"):
        table.cost((0, 0, 0))
    with pytest.raises(ValueError, match="made for space 'teaching', not for 'mobile'"):
        table.check_space(nd.spaces.get("mobile"))


def test_expected_cost_builds_its_matrix_once_and_never_waits_for_the_device(monkeypatch, tmp_path):
    table = hardware.lookup_table(nd.spaces.get("teaching"), "macs")
    built = []
    as_tensor = hardware.LookupTable.as_tensor
    monkeypatch.setattr(hardware.LookupTable, "as_tensor", lambda self, *a: built.append(a) or as_tensor(self, *a))
    for name in ("item", "__float__", "tolist", "cpu"):  # each would copy to the host, i.e. wait on a GPU
        monkeypatch.setattr(torch.Tensor, name, lambda *a, _name=name: pytest.fail(f"expected_cost called {_name}"))
    probs = torch.rand(4, 4).softmax(-1)
    first, second = table.expected_cost(probs), table.expected_cost(0.5 * probs)
    table.expected_cost(probs.double())
    monkeypatch.undo()
    assert built == [(probs.device, torch.float32), (probs.device, torch.float64)]  # once per dtype, not per call
    fresh = table.base + (probs * table.as_tensor()).sum()
    assert first.item() == fresh.item() and second.item() == pytest.approx(0.5 * (fresh.item() + table.base))
    table.save(tmp_path / "macs.json")  # the kept matrix is not part of the table's data
    assert hardware.LookupTable.load(tmp_path / "macs.json") == table
