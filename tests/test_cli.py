"""The command line end to end on tiny runs: SPOS -> search -> export -> train, resume, errors."""

import json
import subprocess
import sys

import pytest
import torch

from nasedu import checkpoint, cli, spos
from nasedu.benchmarks import NASBenchMacro

DIGITS = ["--dataset", "digits", "--val-size", "300", "--no-progress"]


def run(*argv):
    assert cli.main([str(a) for a in argv]) == 0


def test_spos_search_export_train_pipeline(tmp_path, capsys):
    supernet_dir, model_dir = tmp_path / "spos", tmp_path / "model"
    run("spos", "--run-dir", supernet_dir, *DIGITS, "--epochs", "2", "--batch-size", "64")
    config = json.loads((supernet_dir / "config.json").read_text())
    assert config["space"] == "teaching" and config["epochs"] == 2
    assert [h["epoch"] for h in json.loads((supernet_dir / "history.json").read_text())] == [1, 2]
    assert "device: CPU" in (supernet_dir / "log.txt").read_text()

    run("search", "--run-dir", supernet_dir, "--max-cost", "400000", "--population", "8", "--generations", "2",
        "--calib-batches", "2", "--quiet")
    arch = json.loads((supernet_dir / "arch.json").read_text())
    assert arch["macs"] <= 400000 and arch["cost"] == arch["macs"] and len(arch["layers"]) == 4
    evaluations = json.loads((supernet_dir / "search.json").read_text())["history"]
    assert max(e["fitness"] for e in evaluations) == arch["fitness"]

    run("train", "--run-dir", model_dir, "--arch-file", supernet_dir / "arch.json", *DIGITS, "--epochs", "1")
    trained = json.loads((model_dir / "arch.json").read_text())
    assert trained["arch"] == arch["arch"] and 0 <= trained["test_acc"] <= 100
    state = torch.load(model_dir / "model.pt", weights_only=True)
    assert state["head.5.weight"].shape == (10, 96)

    run("export", "teaching", "k3e1-k5e3-conv3-skip", "--out", tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text())["arch"] == "1230"


def test_interrupted_spos_run_resumes_exactly_from_its_directory(tmp_path, monkeypatch):
    argv = [*DIGITS, "--epochs", "3", "--batch-size", "64"]
    run("spos", "--run-dir", tmp_path / "full", *argv)

    original = spos.SPOSTrainer.train_epoch

    def dies_in_epoch_two(self):
        if self.epoch == 1:
            raise KeyboardInterrupt("simulated crash")
        return original(self)

    monkeypatch.setattr(spos.SPOSTrainer, "train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        run("spos", "--run-dir", tmp_path / "cut", *argv)
    monkeypatch.undo()
    run("spos", "--run-dir", tmp_path / "cut", "--resume")  # every option comes back from config.json
    full = checkpoint.load(tmp_path / "full" / "checkpoint.pt")
    resumed = checkpoint.load(tmp_path / "cut" / "checkpoint.pt")
    assert resumed["epoch"] == 3
    for key, value in full["supernet"].items():
        assert torch.equal(value, resumed["supernet"][key]), key
    assert "resuming from" in (tmp_path / "cut" / "log.txt").read_text()


def test_options_come_from_a_yaml_file_and_flags_override_it(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("dataset: digits\nval_size: 300\nepochs: 1\nbatch_size: 32\nlr: 0.05\nprogress: false\n")
    run("spos", "--run-dir", tmp_path / "r", "--config", config, "--lr", "0.02")
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["batch_size"] == 32 and saved["lr"] == 0.02 and saved["dataset"] == "digits"


@pytest.mark.parametrize("content, message", [
    ("dataset: digits\nlearning_rate: 0.1\n", "unknown option(s) ['learning_rate']"),
    ("epochs: three\n", "option 'epochs' must be int, got 'three'"),
    ("- just\n- a list\n", "must hold a mapping"),
])
def test_bad_config_files_get_clear_errors(tmp_path, capsys, content, message):
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["spos", "--run-dir", str(tmp_path / "r"), "--config", str(config)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_options_get_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["spos", "--run-dir", str(tmp_path), "--epochs", "many"])
    assert "invalid int value: 'many'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["search", "--run-dir", str(tmp_path / "empty")])
    assert "holds no checkpoint.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["spos", "--run-dir", str(tmp_path), "--config", str(tmp_path / "missing.yaml")])
    assert "config file" in capsys.readouterr().err


def test_search_a_tabular_benchmark(tmp_path, nas_bench_macro_path):
    run("search", "--run-dir", tmp_path, "--benchmark", "nas-bench-macro", "--benchmark-path", nas_bench_macro_path,
        "--metric", "flops", "--max-cost", "45.5e6", "--max-evaluations", "400", "--quiet")
    arch = json.loads((tmp_path / "arch.json").read_text())
    best_arch, best_acc = NASBenchMacro(nas_bench_macro_path).best(max_cost=45.5e6)
    assert arch["fitness"] == best_acc and arch["cost"] <= 45.5e6


def test_dnas_run_writes_its_history_and_derived_arch(tmp_path):
    run("dnas", "--run-dir", tmp_path, *DIGITS, "--method", "fbnet", "--epochs", "1", "--alpha-betas", "0.6", "0.99",
        "--record-every", "5")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["relaxation"] == "gumbel" and config["alpha_betas"] == [0.6, 0.99]
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["step"]) == len(history["probs"]) > 1 and history["metric"] == "macs"
    arch = json.loads((tmp_path / "arch.json").read_text())
    final = history["probs"][-1]
    assert arch["arch"] == "".join(str(max(range(4), key=row.__getitem__)) for row in final)
    assert (tmp_path / "checkpoint.pt").exists()


@pytest.mark.parametrize("command", ["spaces", "show", "lut", "spos", "dnas", "search", "export", "train", "bench"])
def test_every_command_explains_itself(command):
    out = subprocess.run([sys.executable, "-m", "nasedu", command, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and f"usage: nasedu {command}" in out.stdout
