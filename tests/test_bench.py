"""The benchmark's measuring tools measure what they claim (the numbers themselves are printed, not asserted)."""

import torch

import nasedu as nd
from nasedu import bench


def test_saved_activation_bytes_counts_what_backward_keeps():
    layer = torch.nn.Linear(100, 100)
    x = torch.randn(32, 100, requires_grad=True)
    kept = bench.saved_activation_bytes(lambda: layer(x).sum().backward(), layer)
    assert kept == 32 * 100 * 4  # the input, saved for the weight gradient; the weight itself is excluded


def test_memory_light_mode_keeps_fewer_activations_than_the_mixture():
    row = bench.memory_ratio(nd.spaces.get("teaching"), batch_size=8, device=torch.device("cpu"), samples=3)
    assert 0 < row.value < 1 and "MiB" in row.detail


def test_interleaved_timing_runs_each_step_warmup_plus_repeats_times():
    calls = {"a": 0, "b": 0}
    seconds = bench.interleaved_seconds({"a": lambda: calls.__setitem__("a", calls["a"] + 1),
                                         "b": lambda: calls.__setitem__("b", calls["b"] + 1)},
                                        torch.device("cpu"), repeats=5, warmup=2)
    assert calls == {"a": 7, "b": 7} and set(seconds) == {"a", "b"} and all(s >= 0 for s in seconds.values())


def test_the_table_has_every_row(capsys, monkeypatch):
    rows = bench.run("teaching", batch_size=8, devices=["cpu"])
    names = [row.name for _, row in rows]
    assert names == ["SPOS path step / stand-alone step", "DNAS mixed-op step / sum of candidate steps",
                     "memory-light DNAS / full DNAS peak activations", "archs scored with BN recalibration",
                     "SPOS training, random paths"]
    assert all(row.value > 0 for _, row in rows)
    assert "goal <= 1.10" in capsys.readouterr().out
