"""The command line end to end on tiny runs: SPOS -> search -> export -> train, resume, errors."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nasedu as nd
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


def test_search_a_tabular_benchmark(tmp_path):
    run("search", "--run-dir", tmp_path, "--benchmark", "nas-bench-macro",
        "--metric", "flops", "--max-cost", "45.5e6", "--max-evaluations", "400", "--quiet")
    arch = json.loads((tmp_path / "arch.json").read_text())
    best_arch, best_acc = NASBenchMacro().best(max_cost=45.5e6)
    assert arch["fitness"] == best_acc and arch["cost"] <= 45.5e6


def test_dnas_run_writes_its_history_and_derived_arch(tmp_path):
    run("dnas", "--run-dir", tmp_path, *DIGITS, "--method", "fbnet", "--epochs", "1", "--alpha-betas", "0.6", "0.99",
        "--record-every", "1")  # the last record is the final alpha
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


def test_same_seed_same_run_whatever_ran_before(tmp_path):
    for global_seed, name in ((1, "a"), (2, "b")):
        torch.manual_seed(global_seed)
        run("spos", "--run-dir", tmp_path / name, *DIGITS, "--epochs", "1", "--batch-size", "64", "--seed", "3")
    a, b = (checkpoint.load(tmp_path / name / "checkpoint.pt")["supernet"] for name in "ab")
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_yaml_numbers_without_a_dot_are_numbers(tmp_path):
    config = tmp_path / "run.yaml"  # YAML 1.1 reads 3e-4 and 1e-2 as strings
    config.write_text("dataset: digits\nval_size: 300\nepochs: 1\nalpha_lr: 3e-4\nlr: 1e-2\nalpha_betas: [0.5, 9.99e-1]\n"
                      "progress: false\nrecord_every: '5'\n")
    assert isinstance(cli.cfg.read_file(config)["alpha_lr"], str)
    run("dnas", "--run-dir", tmp_path / "r", "--config", config)
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert saved["alpha_lr"] == 3e-4 and saved["lr"] == 0.01 and saved["alpha_betas"] == [0.5, 0.999]
    assert saved["record_every"] == 5


def test_every_option_has_help_from_its_field_metadata():
    from nasedu import config, dnas, training

    for cls in (cli.DataConfig, cli.SearchConfig, spos.SPOSConfig, dnas.DNASConfig, training.TrainConfig):
        helps = config.field_help(cls)
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help") and helps[field.name] == field.metadata["help"], (cls, field.name)
    out = subprocess.run([sys.executable, "-m", "nasedu", "dnas", "--help"], capture_output=True, text=True)
    assert "Adam learning rate of alpha (default: 0.0003)" in " ".join(out.stdout.split())


def test_train_reports_validation_per_epoch_and_test_once(tmp_path, monkeypatch):
    from nasedu import training

    seen = []
    original = training.evaluate

    def spy(forward, batches, max_batches=None):
        seen.append(len(batches.y))
        return original(forward, batches, max_batches)

    monkeypatch.setattr(training, "evaluate", spy)
    run("train", "--run-dir", tmp_path, "--space", "teaching", "--arch", "1111", *DIGITS, "--epochs", "2")
    splits = cli.load_splits(cli.DataConfig(dataset="digits", val_size=300), nd.spaces.get("teaching"))
    assert seen == [len(splits.val[1]), len(splits.val[1]), len(splits.test[1])]  # val, val, then test once
    record = json.loads((tmp_path / "arch.json").read_text())
    assert {"val_acc", "test_acc"} <= set(record)


def test_every_json_the_cli_writes_is_written_atomically(tmp_path, monkeypatch):
    written = []
    original = checkpoint.atomic_write

    def spy(path, write, mode="wb"):
        written.append(Path(path).resolve())
        return original(path, write, mode)

    monkeypatch.setattr(checkpoint, "atomic_write", spy)
    run("spos", "--run-dir", tmp_path / "s", *DIGITS, "--epochs", "1", "--batch-size", "64")
    run("search", "--run-dir", tmp_path / "s", "--max-cost", "400000", "--population", "4", "--generations", "1",
        "--calib-batches", "1", "--quiet")
    run("dnas", "--run-dir", tmp_path / "d", *DIGITS, "--epochs", "1")
    run("train", "--run-dir", tmp_path / "t", "--space", "teaching", "--arch", "1111", *DIGITS, "--epochs", "1")
    files = {p.resolve() for p in tmp_path.rglob("*") if p.suffix in (".json", ".pt")}
    assert files and files <= set(written), sorted(str(f) for f in files - set(written))
