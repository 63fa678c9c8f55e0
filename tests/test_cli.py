"""The command line end to end on tiny runs: SPOS -> search -> export -> train, resume, errors."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import nasedu as nd
from nasedu import checkpoint, cli, data, dnas, spos, training
from nasedu.benchmarks import NASBenchMacro
from test_data import write_fake_fashion_mnist

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
    arch = json.loads((supernet_dir / "search-001.json").read_text())
    assert arch["macs"] <= 400000 and arch["cost"] == arch["macs"] and len(arch["layers"]) == 4
    assert max(e["fitness"] for e in arch["history"]) == arch["fitness"]
    latest = json.loads((supernet_dir / "arch.json").read_text())
    assert latest["arch"] == arch["arch"] and latest["search_file"] == "search-001.json"

    run("train", "--run-dir", model_dir, "--arch-file", supernet_dir / "search-001.json", *DIGITS, "--epochs", "1")
    trained = json.loads((model_dir / "arch.json").read_text())
    assert trained["arch"] == arch["arch"] and 0 <= trained["test_acc"] <= 100
    state = torch.load(model_dir / "model.pt", weights_only=True)
    assert state["head.5.weight"].shape == (10, 96)

    run("export", "teaching", "k3e1-k5e3-conv3-skip", "--out", tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text())["arch"] == "1230"


def test_interrupted_spos_run_resumes_exactly_from_its_directory(tmp_path, monkeypatch):
    argv = [*DIGITS, "--epochs", "3", "--batch-size", "64"]
    run("spos", "--run-dir", tmp_path / "full", *argv)
    interrupt_in_epoch_two(monkeypatch, spos.SPOSTrainer, "spos", tmp_path / "cut", *argv)
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
    arch = json.loads((tmp_path / "search-001.json").read_text())
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


@pytest.mark.parametrize("command", ["spaces", "show", "lut", "spos", "dnas", "search", "export", "train", "bench",
                                     "data", "data fetch", "data where", "notebooks"])
def test_every_command_explains_itself(command):
    out = subprocess.run([sys.executable, "-m", "nasedu", *command.split(), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and f"usage: nasedu {command}" in out.stdout


def test_help_answers_without_importing_torch():
    code = ("import sys\nfrom nasedu import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "usage: nasedu" in out.stdout and out.stdout.strip().endswith("False")


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


# -- searching a trained supernet: costs, numbered results, budgets -------------------------------------

@pytest.fixture(scope="module")
def trained_supernet(tmp_path_factory) -> Path:
    """A supernet trained for one epoch on digits; copy it before searching (searches write into it)."""
    path = tmp_path_factory.mktemp("spos") / "run"
    run("spos", "--run-dir", path, *DIGITS, "--epochs", "1", "--batch-size", "64")
    return path


def copy_run(trained: Path, dest: Path) -> Path:
    dest.mkdir()
    for name in ("config.json", "checkpoint.pt"):
        shutil.copy(trained / name, dest / name)
    return dest


SMALL_SEARCH = ["--population", "4", "--generations", "1", "--calib-batches", "1", "--quiet"]


def test_format_cost_keeps_three_significant_digits():
    assert cli.format_cost(0.41234, "latency_ms") == "0.412 ms"
    assert cli.format_cost(512345.0, "macs") == "5.12e5 MACs"
    assert cli.format_cost(31402.0, "params") == "3.14e4 params"
    assert cli.format_cost(45.5e6, "flops") == "4.55e7 FLOPs"
    assert cli.format_cost(896.0, "params") == "896 params"


def test_search_prints_a_latency_with_its_precision(trained_supernet, tmp_path, capsys):
    run_dir = copy_run(trained_supernet, tmp_path / "run")
    run("search", "--run-dir", run_dir, "--metric", "latency_ms", "--max-cost", "1000", *SMALL_SEARCH)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    printed = re.search(r"fitness [\d.]+, ([\d.e-]+) ms,", line)
    assert printed, line  # not "latency_ms 0": a latency below 1 ms would round away
    cost = json.loads((run_dir / "arch.json").read_text())["cost"]
    assert float(printed.group(1)) == pytest.approx(cost, rel=0.01)


def test_every_search_keeps_its_own_result(trained_supernet, tmp_path, capsys):
    run_dir = copy_run(trained_supernet, tmp_path / "run")
    for max_cost in ("400000", "700000"):
        run("search", "--run-dir", run_dir, "--max-cost", max_cost, *SMALL_SEARCH)
        assert str(run_dir / f"search-00{1 if max_cost == '400000' else 2}.json") in capsys.readouterr().out
    first, second = (json.loads((run_dir / f"search-00{i}.json").read_text()) for i in (1, 2))
    assert first["config"]["max_cost"] == 400000 and first["macs"] <= 400000
    assert second["config"]["max_cost"] == 700000 and second["macs"] <= 700000
    latest = json.loads((run_dir / "arch.json").read_text())
    assert latest["search_file"] == "search-002.json" and latest["arch"] == second["arch"]
    (run_dir / "search-001.json").unlink()  # a gap does not make a later search reuse a number
    run("search", "--run-dir", run_dir, "--max-cost", "500000", *SMALL_SEARCH)
    assert sorted(p.name for p in run_dir.glob("search-*.json")) == ["search-002.json", "search-003.json"]


def test_an_infeasible_budget_names_only_flags_that_exist(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["search", "--run-dir", str(tmp_path), "--benchmark", "nas-bench-macro", "--metric", "flops",
                  "--max-cost", "1", "--max-tries", "20", "--quiet"])
    assert exit_info.value.code == 2
    message = capsys.readouterr().err
    assert "--max-cost" in message and "--max-tries" in message and "the cheapest arch seen costs" in message
    parser = cli.build_parser(only=["search"])
    search_parser = parser._subparsers._group_actions[0].choices["search"]
    flags = {flag for action in search_parser._actions for flag in action.option_strings}
    assert set(re.findall(r"--[a-z][a-z-]*", message)) <= flags
    assert "max_tries" not in message.replace("max_tries (--max-tries", "")  # the flag beside the name


# -- a run that learnt nothing says so ------------------------------------------------------------------

TINY = ["--epochs", "1", "--train-size", "64", "--batch-size", "64"]
DNAS_EPOCH = dnas.DNASTrainer.train_epoch


def fake_accuracy(monkeypatch, command: str, accuracy: float) -> None:
    """The accuracy (%) the command judges its run by becomes ``accuracy``."""
    if command == "dnas":  # the supernet's training accuracy in the last epoch
        monkeypatch.setattr(dnas.DNASTrainer, "train_epoch", lambda self: {**DNAS_EPOCH(self), "train_acc": accuracy})
    else:  # validation accuracy: of sampled paths (spos), of the trained network (train)
        monkeypatch.setattr(spos if command == "spos" else training, "evaluate", lambda *args, **kw: (2.3, accuracy))


@pytest.mark.parametrize("command", ["spos", "dnas", "train"])
def test_a_run_near_chance_warns_and_names_the_flags_to_raise(tmp_path, capsys, monkeypatch, command):
    arch = ["--space", "teaching", "--arch", "1111"] if command == "train" else []
    fake_accuracy(monkeypatch, command, 11.0)  # chance is 10% for 10 classes
    run(command, "--run-dir", tmp_path / "chance", *DIGITS, *TINY, *arch)
    out = capsys.readouterr().out
    assert "accuracy" in out and "is 11.0%, near chance (10.0% for 10 classes)" in out and "WARNING" in out
    assert "Raise --epochs and --train-size" in out
    assert "WARNING" in (tmp_path / "chance" / "log.txt").read_text()
    fake_accuracy(monkeypatch, command, 40.0)
    run(command, "--run-dir", tmp_path / "learnt", *DIGITS, *TINY, *arch)
    assert "WARNING" not in capsys.readouterr().out


# -- nasedu data ----------------------------------------------------------------------------------------

@pytest.fixture
def user_cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache, no $NASEDU_DATA and no Debian package: nothing of the machine's is found."""
    monkeypatch.setattr(data, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")
    monkeypatch.delenv(data.DATA_VARIABLE, raising=False)
    return tmp_path / "cache"


def test_data_fetch_downloads_into_the_user_cache_and_where_finds_it(user_cache, monkeypatch, capsys):
    calls = []

    def fake_download(root, train, download):
        calls.append(root)
        write_fake_fashion_mnist(Path(root) / "FashionMNIST" / "raw")

    monkeypatch.setattr("torchvision.datasets.FashionMNIST", fake_download)
    run("data", "where")
    out = capsys.readouterr().out
    assert str(user_cache) in out and "no files" in out and "nasedu data fetch fashion-mnist" in out
    run("data", "fetch")
    assert calls == [str(user_cache)]
    assert f"Fashion-MNIST is in {user_cache / 'FashionMNIST' / 'raw'}" in capsys.readouterr().out
    run("data", "where")
    assert f"it reads {user_cache / 'FashionMNIST' / 'raw'}" in capsys.readouterr().out
    run("data", "fetch")  # already there: no second download
    assert len(calls) == 1


def test_data_fetch_offline_says_what_else_to_do(user_cache, monkeypatch, capsys):
    def offline(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr("torchvision.datasets.CIFAR10", offline)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["data", "fetch", "cifar10"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no route to host" in err and "NASEDU_DATA" in err and "load('digits')" in err


# -- nasedu notebooks -----------------------------------------------------------------------------------

@pytest.fixture
def copy_course_calls(monkeypatch) -> list:
    """Replace nasedu.resources.copy_course by a fake that writes one notebook and records its calls."""
    import nasedu

    calls = []

    def copy_course(dest: Path, overwrite: bool = False) -> list[Path]:
        calls.append((dest, overwrite))
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "00_overview.ipynb").write_text("{}")
        return [dest / "00_overview.ipynb"]

    fake = types.ModuleType("nasedu.resources")
    fake.copy_course = copy_course
    monkeypatch.setitem(sys.modules, "nasedu.resources", fake)
    monkeypatch.setattr(nasedu, "resources", fake, raising=False)
    return calls


def test_notebooks_copies_the_course_and_says_what_next(tmp_path, capsys, copy_course_calls):
    dest = tmp_path / "my course"
    run("notebooks", dest)
    assert copy_course_calls == [(dest, False)]
    out = capsys.readouterr().out
    assert str(dest) in out and f"jupyter lab '{dest}'" in out


def test_notebooks_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path, capsys, copy_course_calls):
    (tmp_path / "mine.txt").write_text("my notes")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["notebooks", str(tmp_path)])
    assert exit_info.value.code == 2 and "is not empty" in capsys.readouterr().err and copy_course_calls == []
    run("notebooks", tmp_path, "--force")
    assert copy_course_calls == [(tmp_path, True)]


def interrupt_in_epoch_two(monkeypatch, trainer_class, command, run_dir, *argv):
    """Start ``nasedu command`` with ``argv`` in ``run_dir`` and crash its trainer in its second epoch."""
    original = trainer_class.train_epoch

    def dies_in_epoch_two(self):
        if self.epoch == 1:
            raise KeyboardInterrupt("simulated crash")
        return original(self)

    monkeypatch.setattr(trainer_class, "train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        run(command, "--run-dir", run_dir, *argv)
    monkeypatch.undo()


def interrupt_dnas_in_epoch_two(monkeypatch, run_dir, *argv):
    """Start a DNAS run with ``argv`` in ``run_dir`` and crash it in its second epoch."""
    interrupt_in_epoch_two(monkeypatch, dnas.DNASTrainer, "dnas", run_dir, *argv)


def test_a_resumed_dnas_run_keeps_its_metric(tmp_path, monkeypatch):
    argv = [*DIGITS, "--train-size", "256", "--epochs", "2", "--batch-size", "64", "--metric", "params"]
    interrupt_dnas_in_epoch_two(monkeypatch, tmp_path, *argv)
    assert json.loads((tmp_path / "config.json").read_text())["metric"] == "params"
    assert checkpoint.load(tmp_path / "checkpoint.pt")["metric"] == "params"
    run("dnas", "--run-dir", tmp_path, "--resume")  # no --metric: the run's own comes back
    assert json.loads((tmp_path / "config.json").read_text())["metric"] == "params"
    assert json.loads((tmp_path / "history.json").read_text())["metric"] == "params"
    assert json.loads((tmp_path / "arch.json").read_text())["metric"] == "params"
    assert checkpoint.load(tmp_path / "checkpoint.pt")["epoch"] == 2


def test_a_resume_with_another_metric_is_refused(tmp_path, monkeypatch, capsys):
    argv = [*DIGITS, "--train-size", "256", "--epochs", "2", "--batch-size", "64", "--metric", "params"]
    interrupt_dnas_in_epoch_two(monkeypatch, tmp_path, *argv)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["dnas", "--run-dir", str(tmp_path), "--resume", "--metric", "macs"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "params" in err and "macs" in err and "--metric" in err
    assert json.loads((tmp_path / "config.json").read_text())["metric"] == "params"  # left as the run made it
    assert checkpoint.load(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_a_dnas_trainer_refuses_a_checkpoint_of_another_metric(tmp_path):
    splits = data.load("digits", val_size=300, train_size=256)
    space = nd.spaces.get("teaching")
    config = dnas.DNASConfig(epochs=1, batch_size=64, progress=False)
    path = tmp_path / "run.pt"
    params = nd.hardware.lookup_table(space, "params")
    dnas.DNASTrainer(nd.supernet.Supernet(space), splits, config, table=params, checkpoint_path=path).fit()
    assert checkpoint.load(path)["metric"] == "params"
    trainer = dnas.DNASTrainer(nd.supernet.Supernet(space), splits, config, checkpoint_path=path)  # macs
    with pytest.raises(ValueError, match="params"):
        trainer.load_checkpoint(path)


TINY = [*DIGITS, "--train-size", "256", "--epochs", "1", "--batch-size", "64"]


def test_dnas_repeats_a_run_from_its_config_json(tmp_path):
    run("dnas", "--run-dir", tmp_path / "a", *TINY, "--metric", "params", "--method", "fbnet")
    run("dnas", "--run-dir", tmp_path / "b", "--config", tmp_path / "a" / "config.json")
    first, second = (json.loads((tmp_path / r / "config.json").read_text()) for r in "ab")
    assert second == first and second["metric"] == "params" and second["relaxation"] == "gumbel"
    assert json.loads((tmp_path / "b" / "arch.json").read_text())["metric"] == "params"


def test_spos_repeats_a_run_from_its_config_json(tmp_path):
    run("spos", "--run-dir", tmp_path / "a", *TINY, "--sampler", "fair")
    run("spos", "--run-dir", tmp_path / "b", "--config", tmp_path / "a" / "config.json")
    first, second = (json.loads((tmp_path / r / "config.json").read_text()) for r in "ab")
    assert second == first and second["sampler"] == "fair"


def test_search_takes_the_config_json_of_its_run(trained_supernet, tmp_path, capsys):
    run_dir = copy_run(trained_supernet, tmp_path / "run")
    run("search", "--run-dir", run_dir, "--config", run_dir / "config.json", "--max-cost", "400000", *SMALL_SEARCH)
    result = json.loads((run_dir / "search-001.json").read_text())
    assert result["macs"] <= 400000
    assert "ignored" in capsys.readouterr().out  # the options that only `nasedu spos` takes are named


def test_train_repeats_a_run_from_its_config_json(tmp_path):
    run("train", "--run-dir", tmp_path / "a", *TINY, "--space", "teaching", "--arch", "1230")
    run("train", "--run-dir", tmp_path / "b", "--config", tmp_path / "a" / "config.json")
    first, second = (json.loads((tmp_path / r / "config.json").read_text()) for r in "ab")
    assert second == first and second["arch"] == "1230"
    assert json.loads((tmp_path / "b" / "arch.json").read_text())["arch"] == "1230"


def test_a_config_file_with_options_of_no_command_is_still_refused(tmp_path, capsys):
    run("spos", "--run-dir", tmp_path / "a", *TINY)
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    (tmp_path / "bad.json").write_text(json.dumps({**config, "learning_rate": 0.1}))
    with pytest.raises(SystemExit):
        cli.main(["train", "--run-dir", str(tmp_path / "b"), "--config", str(tmp_path / "bad.json")])
    assert "unknown option(s) ['learning_rate']" in capsys.readouterr().err
