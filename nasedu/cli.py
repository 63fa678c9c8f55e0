"""The ``nasedu`` command line (also ``python -m nasedu``).

Every training or search command writes a *run directory*::

    runs/my-run/
      config.json     every option the run used (``--config runs/my-run/config.json`` repeats it)
      log.txt         one line per epoch or result
      checkpoint.pt   the full training state after each epoch (``--resume`` continues from it)
      history.json    per-epoch records (SPOS, training) or the alpha history (DNAS)
      arch.json       the latest architecture found (search, DNAS) or trained, per-layer ops and costs
      search-001.json one file per ``nasedu search``, never overwritten: its best arch, options and evaluations

Both kinds of arch file go to ``nasedu train --arch-file``.

Options come from typed dataclass configs: their defaults, then a JSON/YAML file given with
``--config``, then command-line flags. Per-epoch numbers are measured on the validation split;
``nasedu train`` touches the test split once, after the last epoch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from nasedu import config as cfg
from nasedu.config import option

if TYPE_CHECKING:
    from nasedu import data, hardware, spaces

# torch and the modules that need it are imported inside the commands, so that `nasedu --help`
# answers at once; `nasedu COMMAND --help` imports what that command's options come from.


@dataclass(frozen=True)
class DataConfig:
    """Which space and which data a run uses."""

    space: str = option("teaching", "search space: teaching, nas-bench-macro or mobile")
    dataset: str = option("fashion-mnist", "fashion-mnist, digits, cifar10 or synthetic (generated images)")
    root: Optional[str] = option(None, "folder searched first for the dataset files "
                                       "(then $NASEDU_DATA, the user cache, Debian's package)")
    download: bool = option(False, "let torchvision download a dataset found nowhere (into --root, else the "
                                   "user cache; see `nasedu data fetch`)")
    train_size: Optional[int] = option(None, "training images (default: all that are left after validation)")
    val_size: int = option(5000, "validation images, carved from the training set")
    data_seed: int = option(0, "which images go to which split")


@dataclass(frozen=True)
class SearchConfig:
    """How a trained supernet or a tabular benchmark is searched."""

    strategy: str = option("evolution", "evolution, regularized-evolution or random")
    metric: str = option("macs", "cost: params, macs or latency_ms (supernet); flops or params (benchmark)")
    max_cost: Optional[float] = option(None, "hardware budget: only archs costing at most this are evaluated")
    population: int = option(50, "archs per generation (evolution, regularized evolution)")
    generations: int = option(20, "generations of evolution")
    max_evaluations: Optional[int] = option(None, "stop after this many distinct archs (random search: default 400)")
    max_tries: int = option(1000, "draws allowed to find each new arch within --max-cost before giving up")
    recalibrate: bool = option(True, "re-estimate BatchNorm statistics of each path before scoring it")
    calib_batches: int = option(10, "training batches used for the recalibration")
    seed: int = option(0, "seed of the search")


@dataclass(frozen=True)
class CostConfig:
    """Which cost table a DNAS run's hardware loss reads; stored in config.json and the checkpoint."""

    metric: str = option("macs", "cost of the hardware loss: params, macs or latency_ms")

    def __post_init__(self) -> None:  # a --config file skips argparse's choices
        from nasedu.hardware import METRICS  # only `nasedu dnas` builds this config, and it imports torch anyway

        if self.metric not in METRICS:
            raise ValueError(f"unknown metric {self.metric!r}; choose one of {list(METRICS)}")


@dataclass(frozen=True)
class ArchConfig:
    """Which arch ``nasedu train`` trains (with --space); config.json keeps it, so that the run can be repeated."""

    arch: Optional[str] = option(None, "the arch to train, with --space")


def run_config_classes() -> list[type]:
    """Every config whose options some command writes to a run's config.json."""
    from nasedu import dnas, spos, training

    return [DataConfig, SearchConfig, CostConfig, ArchConfig, spos.SPOSConfig, dnas.DNASConfig,
            training.TrainConfig]


# -- run directories ------------------------------------------------------------------------------

class Run:
    """A run directory: its config, its log and its results. Under torchrun only rank 0 writes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def log(self, line: str) -> None:
        """Print ``line`` and append it to log.txt."""
        from nasedu import distributed

        if not distributed.is_main():
            return
        print(line, flush=True)
        with open(self.path / "log.txt", "a") as f:
            f.write(line + "\n")

    def write_json(self, name: str, value) -> None:
        """Write ``value`` to ``name`` in the run directory, atomically (a crash never leaves half a file)."""
        from nasedu import checkpoint, distributed

        if distributed.is_main():
            text = json.dumps(value, indent=1, default=str)
            checkpoint.atomic_write(self.path / name, lambda f: f.write(text), mode="w")

    def saved_config(self) -> dict:
        """The config.json of an earlier run here, or {}."""
        path = self.path / "config.json"
        return json.loads(path.read_text()) if path.exists() else {}


def device_report(device: str, settings: dict) -> str:
    """One line naming the device and the speed settings in use."""
    import torch

    from nasedu import hardware

    on = [name for name, value in settings.items() if value is True]
    return f"device: {hardware.device_description(torch.device(device))}; settings: {', '.join(on) or 'plain fp32'}"


def load_splits(data_config: DataConfig, space: "spaces.SearchSpace") -> "data.Splits":
    """The dataset a run asks for; synthetic data takes the space's input shape."""
    from nasedu import data

    if data_config.dataset == "synthetic":
        return data.synthetic(space.input_shape, space.num_classes, train_size=data_config.train_size or 4096,
                              val_size=data_config.val_size, seed=data_config.data_seed)
    return data.load(data_config.dataset, root=data_config.root, train_size=data_config.train_size,
                     val_size=data_config.val_size, seed=data_config.data_seed, download=data_config.download)


def numbered_path(folder: Path, stem: str) -> Path:
    """A new file ``folder/stem-001.json``, numbered one past the highest there; it is created empty, so
    that no other run can take the name (and no earlier file is ever overwritten)."""
    numbers = [int(p.stem[len(stem) + 1:]) for p in folder.glob(f"{stem}-*.json") if p.stem[len(stem) + 1:].isdigit()]
    number = max(numbers, default=0) + 1
    while True:
        path = folder / f"{stem}-{number:03d}.json"
        try:
            path.touch(exist_ok=False)
            return path
        except FileExistsError:  # another search in this folder took it a moment ago
            number += 1


UNITS = {"latency_ms": "ms", "macs": "MACs", "params": "params", "flops": "FLOPs"}  # metric -> unit


def format_cost(value: float, metric: str) -> str:
    """A cost with 3 significant digits and its unit: ``0.412 ms``, ``5.12e5 MACs``, ``3.14e4 params``."""
    number = f"{value:.3g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
    return f"{number} {UNITS.get(metric, metric)}"


NEAR_CHANCE = 1.5  # a final accuracy below 1.5x chance (100% / classes) means the run learnt almost nothing


def warn_if_near_chance(run: Run, what: str, accuracy: float, num_classes: int, epochs: int,
                        train_size: Optional[int]) -> None:
    """Log a warning naming the flags to raise when ``accuracy`` (%, named ``what``) is near chance."""
    chance = 100.0 / num_classes
    if accuracy >= NEAR_CHANCE * chance:
        return
    images = "all the training images" if train_size is None else f"{train_size} training images"
    raise_flags = "--epochs" if train_size is None else "--epochs and --train-size"
    run.log(f"WARNING: {what} is {accuracy:.1f}%, near chance ({chance:.1f}% for {num_classes} classes): "
            f"the network learnt almost nothing in {epochs} epoch(s) on {images}. Raise {raise_flags}.")


def resolve(args: argparse.Namespace, classes: list[type], run: Optional[Run] = None,
            base: Optional[dict] = None) -> list:
    """Build each config of ``classes``: defaults < ``base`` (a preset) < saved run config (on --resume)
    < --config file < flags."""
    values: dict = dict(base or {})
    if run is not None and getattr(args, "resume", False):
        values.update(run.saved_config())
    if args.config:
        file_values = cfg.read_file(args.config)
        if is_run_config(file_values):  # another command's config.json: drop the options this one does not take
            cfg.check_known(file_values, run_config_classes(), str(args.config))
            known = {f.name for cls in classes for f in dataclasses.fields(cls)}
            ignored = sorted(set(file_values) - known)
            if ignored:
                (run.log if run is not None else print)(
                    f"note: {args.config} is a run's config.json; ignored the options that `nasedu {args.command}` "
                    f"does not take: {ignored}")
            file_values = {k: v for k, v in file_values.items() if k in known}
        cfg.check_known(file_values, classes, str(args.config))
        values.update(file_values)
    return [cfg.build(cls, values, args) for cls in classes]


def is_run_config(values: dict) -> bool:
    """Whether a config file is the config.json of a run (spos, dnas and train write every data option)."""
    return {f.name for f in dataclasses.fields(DataConfig)} <= set(values)


# -- commands -------------------------------------------------------------------------------------

def cmd_spaces(args: argparse.Namespace) -> None:
    """List the built-in search spaces."""
    from nasedu import spaces

    for name in spaces.names():
        space = spaces.get(name)
        print(f"{name:16s} {space.num_layers:2d} layers  {space.num_archs:>16,d} archs  "
              f"input {space.input_shape}  ops {', '.join(space.op_names)}")


def cmd_show(args: argparse.Namespace) -> None:
    """Describe one architecture: readable form and its costs."""
    from nasedu import export, spaces

    record = export.arch_record(spaces.get(args.space), args.arch)
    print(f"arch      {record['arch']}  ({record['readable']})")
    print(f"params    {record['params']:,.0f}\nmacs      {record['macs']:,.0f}")


def cmd_lut(args: argparse.Namespace) -> None:
    """Build a lookup table on this device and save it as JSON."""
    from nasedu import hardware, spaces

    space = spaces.get(args.space)
    table = hardware.lookup_table(space, args.metric, device=args.device, batch_size=args.batch_size)
    table.save(args.out)
    print(f"wrote the {args.metric} table of {space.name!r} to {args.out}"
          + (f" (measured on {table.device})" if table.device else ""))


CHECKED_PATHS = 3  # paths scored after training a supernet, to tell a trained one from an untrained one


def cmd_spos(args: argparse.Namespace) -> None:
    """Train a supernet with single-path uniform (or budget/fair) sampling, then score a few of its paths."""
    from nasedu import distributed, hardware, spaces, spos
    from nasedu.supernet import Supernet

    run = Run(args.run_dir)
    data_config, spos_config = resolve(args, [DataConfig, spos.SPOSConfig], run)
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(spos_config)})
    space = spaces.get(data_config.space)
    run.log(device_report(spos_config.device, {"channels_last": spos_config.channels_last, "bf16": spos_config.bf16,
                                               "cudnn_benchmark": spos_config.cudnn_benchmark}))
    splits = load_splits(data_config, space)
    cost = hardware.lookup_table(space, "macs").cost if spos_config.sampler == "budget" else None
    trainer = spos.SPOSTrainer(Supernet(space, seed=spos_config.seed), splits, spos_config, cost=cost,
                               checkpoint_path=run.path / "checkpoint.pt")
    if args.resume and trainer.checkpoint_path.exists():
        run.log(f"resuming from {trainer.checkpoint_path}")
    done_before = len(trainer.log)
    history = trainer.fit(resume=args.resume)
    for record in history[done_before:]:
        run.log(format_record(record))
    run.write_json("history.json", history)
    if not distributed.is_main():
        return
    paths = [path for _ in range(CHECKED_PATHS) for path in trainer.sampler.sample()][:CHECKED_PATHS]
    score = spos.InheritedEvaluator(trainer.supernet, splits)  # validation accuracy, BatchNorm recalibrated
    accuracy = sum(score(path) for path in paths) / len(paths)
    run.log(f"validation accuracy with inherited weights: {accuracy:.1f}% (mean of {len(paths)} sampled paths)")
    warn_if_near_chance(run, "validation accuracy", accuracy, splits.num_classes, spos_config.epochs,
                        data_config.train_size)


def cmd_dnas(args: argparse.Namespace) -> None:
    """Search with differentiable NAS: alpha and the supernet's weights, trained in turn."""
    from nasedu import distributed, dnas, export, spaces
    from nasedu.supernet import Supernet

    run = Run(args.run_dir)
    base = dnas.PRESETS[args.method] if args.method else {}
    data_config, dnas_config, cost_config = resolve(args, [DataConfig, dnas.DNASConfig, CostConfig], run, base)
    metric = cost_config.metric
    checkpoint_path = run.path / "checkpoint.pt"
    if args.resume and checkpoint_path.exists():  # refuse before config.json is rewritten
        from nasedu import checkpoint

        saved = dnas.checkpoint_metric(checkpoint.load(checkpoint_path))
        if saved != metric:
            raise ValueError(f"{checkpoint_path} was searched with --metric {saved}, not {metric}: a resumed run "
                             f"keeps its cost table; resume without --metric (or with --metric {saved}), or start "
                             f"a new run in another --run-dir")
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(dnas_config),
                                   **dataclasses.asdict(cost_config)})
    space = spaces.get(data_config.space)
    run.log(device_report(dnas_config.device, {"channels_last": dnas_config.channels_last}))
    device = distributed.init(dnas_config.device)
    table = shared_table(run, space, metric, device)
    splits = load_splits(data_config, space)
    trainer = dnas.DNASTrainer(Supernet(space, seed=dnas_config.seed), splits, dnas_config, table=table,
                               checkpoint_path=checkpoint_path)
    if args.resume and trainer.checkpoint_path.exists():
        run.log(f"resuming from {trainer.checkpoint_path}")
    done_before = len(trainer.log)
    history = trainer.fit(resume=args.resume)
    for record in trainer.log[done_before:]:
        run.log(format_record(record))
    derived = trainer.derive()
    if not distributed.is_main():
        return
    history.save(run.path / "history.json")
    export.save_arch(run.path / "arch.json", space, derived.arch, cost=derived.cost, metric=derived.metric,
                     probs=list(derived.probs), found_by=f"dnas ({dnas_config.relaxation})")
    run.log(f"derived arch {space.encode(derived.arch)} ({derived.readable}): {format_cost(derived.cost, metric)}"
            f" -> {run.path / 'arch.json'}")
    # the supernet's own accuracy says whether it learnt; the derived arch's inherited accuracy would add the
    # gap between a mixture and one path (notebook 03), which is large for DARTS even after a good run
    warn_if_near_chance(run, "the supernet's training accuracy in the last epoch", trainer.log[-1]["train_acc"],
                        splits.num_classes, dnas_config.epochs, data_config.train_size)


def shared_table(run: Run, space: "spaces.SearchSpace", metric: str, device) -> "hardware.LookupTable":
    """The lookup table of ``metric``; under torchrun rank 0 measures latency and every rank reads its table."""
    import torch

    from nasedu import distributed, hardware

    if metric != "latency_ms" or distributed.world_size() == 1:
        return hardware.lookup_table(space, metric, device=device)
    path = run.path / "latency_table.json"
    if distributed.is_main():
        hardware.lookup_table(space, metric, device=device).save(str(path))
    torch.distributed.barrier()
    return hardware.LookupTable.load(str(path))


def cmd_bench(args: argparse.Namespace) -> None:
    """Print the benchmark table: ratios measured in one run on this machine."""
    from nasedu import bench

    bench.run(args.space, args.batch_size, args.device)


def cmd_search(args: argparse.Namespace) -> None:
    """Search a trained supernet (``--run-dir`` of ``nasedu spos``) or a tabular benchmark."""
    from nasedu import export, search

    run = Run(args.run_dir)
    (search_config,) = resolve(args, [SearchConfig])
    if args.benchmark:
        from nasedu.benchmarks import NASBenchMacro

        bench = NASBenchMacro(args.benchmark_path)
        space, fitness = bench.space, bench.fitness
        metric = search_config.metric if search_config.metric in ("flops", "params") else "flops"
        cost = lambda arch: bench.cost(arch, metric)  # noqa: E731
    else:
        from nasedu import checkpoint, hardware, spaces, spos
        from nasedu.supernet import Supernet

        if not (run.path / "checkpoint.pt").exists():
            raise FileNotFoundError(f"{run.path} holds no checkpoint.pt: train a supernet there first "
                                    f"(nasedu spos --run-dir {run.path}) or pass --benchmark nas-bench-macro")
        data_config = cfg.build(DataConfig, run.saved_config())
        space = spaces.get(data_config.space)
        supernet = Supernet(space)
        supernet.load_state_dict(checkpoint.load(run.path / "checkpoint.pt")["supernet"])
        fitness = spos.InheritedEvaluator(supernet, load_splits(data_config, space),
                                          recalibrate=search_config.recalibrate,
                                          calib_batches=search_config.calib_batches)
        metric = search_config.metric
        cost = hardware.lookup_table(space, metric).cost
    common = dict(cost=cost, max_cost=search_config.max_cost, max_tries=search_config.max_tries,
                  seed=search_config.seed, progress=not args.quiet)
    if search_config.strategy == "evolution":
        result = search.evolution(space, fitness, population=search_config.population,
                                  generations=search_config.generations,
                                  max_evaluations=search_config.max_evaluations, **common)
    elif search_config.strategy == "regularized-evolution":
        result = search.regularized_evolution(space, fitness, population=search_config.population,
                                              cycles=search_config.max_evaluations or 400, **common)
    elif search_config.strategy == "random":
        result = search.random_search(space, fitness, budget=search_config.max_evaluations or 400, **common)
    else:
        raise ValueError(f"unknown strategy {search_config.strategy!r}; choose evolution, regularized-evolution or random")
    found = dict(fitness=result.best_fitness, cost=result.best_cost, metric=metric, found_by=search_config.strategy)
    path = numbered_path(run.path, "search")  # this search's own file
    export.save_arch(path, space, result.best_arch, **found, config=dataclasses.asdict(search_config),
                     history=[dataclasses.asdict(e) for e in result.history])
    export.save_arch(run.path / "arch.json", space, result.best_arch, **found, search_file=path.name)  # the latest
    run.log(f"best arch {space.encode(result.best_arch)} ({space.readable(result.best_arch)}): "
            f"fitness {result.best_fitness:.2f}, {format_cost(result.best_cost, metric)}, "
            f"{result.num_evaluations} archs evaluated -> {path} (copied to arch.json, the latest answer)")


def cmd_export(args: argparse.Namespace) -> None:
    """Write an arch of a space to a JSON file."""
    from nasedu import export, spaces

    record = export.save_arch(args.out, spaces.get(args.space), args.arch)
    print(f"wrote {record['readable']} ({record['params']:,.0f} params, {record['macs']:,.0f} MACs) to {args.out}")


def cmd_train(args: argparse.Namespace) -> None:
    """Train one arch from scratch (from --arch-file, or --space and --arch): validation accuracy after
    every epoch, test accuracy once at the end."""
    from nasedu import checkpoint, export, spaces
    from nasedu.data import Batches
    from nasedu.training import TrainConfig, evaluate, train_standalone

    run = Run(args.run_dir)
    data_config, train_config, arch_config = resolve(args, [DataConfig, TrainConfig, ArchConfig])
    if args.arch_file:
        space, arch = export.load_arch(args.arch_file)
        data_config = dataclasses.replace(data_config, space=space.name)
    elif arch_config.arch:  # --arch, else the arch of a --config file (a train run's config.json)
        space = spaces.get(data_config.space)
        arch = space.decode(arch_config.arch)
    else:
        raise ValueError("say which arch to train: --arch-file runs/x/arch.json (or runs/x/search-001.json), "
                         "or --space S --arch 0123")
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(train_config),
                                   "arch": space.encode(arch)})
    run.log(device_report(train_config.device, {"channels_last": train_config.channels_last}))
    splits = load_splits(data_config, space)
    model, history = train_standalone(lambda: space.build(arch), splits.train, splits.val, train_config)
    for record in history:
        run.log(format_record(record))
    test = Batches(*splits.test, 512, shuffle=False, device=train_config.device,
                   channels_last=train_config.channels_last)
    test_loss, test_acc = evaluate(model, test)  # the only time the test split is used
    run.write_json("history.json", history)
    export.save_arch(run.path / "arch.json", space, arch, val_acc=history[-1]["eval_acc"], test_acc=test_acc)
    checkpoint.save(model.state_dict(), run.path / "model.pt")
    run.log(f"{space.readable(arch)}: validation accuracy {history[-1]['eval_acc']:.2f}%, test accuracy "
            f"{test_acc:.2f}% (loss {test_loss:.3f}) after {train_config.epochs} epochs -> {run.path / 'model.pt'}")
    warn_if_near_chance(run, "validation accuracy", history[-1]["eval_acc"], splits.num_classes, train_config.epochs,
                        data_config.train_size)


def cmd_data(args: argparse.Namespace) -> None:
    """Download a dataset once (``fetch``), or say where ``nasedu.data.load`` finds it (``where``)."""
    from nasedu import data

    if args.action == "fetch":
        folder = data.fetch(args.name, root=args.root)
        print(f"{data.TITLES[args.name]} is in {folder}")
        used = data.locate(args.name, root=args.root)
        if used != folder:  # a folder searched before this one holds the files too
            print(f"note: load({args.name!r}) reads {used}, which comes first in the search order "
                  f"(`nasedu data where {args.name}` lists it)")
        return
    print(f"{data.TITLES[args.name]}: load({args.name!r}) looks in these folders, in order:")
    for i, (what, folder) in enumerate(data.folders(args.name, root=args.root), 1):
        print(f"  {i}. {folder}  ({what}): {'found' if data.find(args.name, folder) else 'no files'}")
    if data.DATA_VARIABLE not in os.environ:
        print(f"  ({data.DATA_VARIABLE} is not set: `export {data.DATA_VARIABLE}=DIR` adds DIR after --root)")
    used = data.locate(args.name, root=args.root)
    print(f"it reads {used}" if used else f"not found: `nasedu data fetch {args.name}` downloads it (needs internet)")


def cmd_notebooks(args: argparse.Namespace) -> None:
    """Copy the course (the notebooks and the files they read) into a folder of your own."""
    from nasedu import resources

    dest = args.dest
    if dest.exists() and not dest.is_dir():
        raise ValueError(f"{dest} is a file; name a folder to copy the course into")
    if dest.is_dir() and any(dest.iterdir()) and not args.force:
        raise ValueError(f"{dest} is not empty; name a new or empty folder, or pass --force to copy the course "
                         f"into it anyway (the course's files there are replaced)")
    copied = resources.copy_course(dest, overwrite=args.force)
    print(f"copied the course ({len(copied)} files) to {dest}\nnext: jupyter lab {shlex.quote(str(dest))}")


def format_record(record: dict) -> str:
    """One log line: ``key=value`` pairs, floats with 4 significant digits."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())


# -- the parser ----------------------------------------------------------------------------------------

def _space_arch(p: argparse.ArgumentParser) -> None:
    from nasedu import spaces

    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("arch", help="digits like 0123 or op names like skip-k3e1-k5e3-conv3")


def _lut_options(p: argparse.ArgumentParser) -> None:
    from nasedu import hardware, spaces

    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("--metric", choices=hardware.METRICS, default="latency_ms", help="what to tabulate")
    p.add_argument("--device", default="cpu", help="device to measure latency on, e.g. cpu or cuda")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the latency measurement")
    p.add_argument("--out", default="lut.json", help="where to write the table")


def _spos_options(p: argparse.ArgumentParser) -> None:
    from nasedu import spos

    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, spos.SPOSConfig)


def _search_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--benchmark", choices=["nas-bench-macro"], help="search the tabular benchmark instead")
    p.add_argument("--benchmark-path", help="another NAS-Bench-Macro JSON or its folder "
                                            "(default: the copy shipped with nasedu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    cfg.add_arguments(p, SearchConfig)


def _dnas_options(p: argparse.ArgumentParser) -> None:
    from nasedu import dnas, hardware

    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.add_argument("--method", choices=list(dnas.PRESETS), help="start from this method's settings")
    p.add_argument("--metric", choices=hardware.METRICS, default=None,
                   help="cost of the hardware loss (default: macs; a resumed run keeps its own)")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, dnas.DNASConfig)


def _bench_options(p: argparse.ArgumentParser) -> None:
    from nasedu import spaces

    p.add_argument("--space", default="teaching", choices=spaces.names(), help="the space to measure")
    p.add_argument("--batch-size", type=int, default=128, help="images per step")
    p.add_argument("--device", nargs="*", default=None, help="devices (default: cpu, and cuda when present)")


def _export_options(p: argparse.ArgumentParser) -> None:
    _space_arch(p)
    p.add_argument("--out", default="arch.json", help="where to write it")


def _train_options(p: argparse.ArgumentParser) -> None:
    from nasedu.training import TrainConfig

    p.add_argument("--arch-file", help="an arch file written by search (arch.json or search-NNN.json), dnas or export")
    p.add_argument("--arch", help="the arch to train, with --space (or the arch of --config's file)")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, TrainConfig)


def _data_options(p: argparse.ArgumentParser) -> None:
    from nasedu import data

    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text, root_help in (
            ("fetch", "download a dataset once with torchvision (needs internet) and say where it is",
             f"save the files in DIR instead of the user cache {data.cache_dir()}"),
            ("where", "list the folders searched for a dataset and say which one its files are read from",
             "a folder of your own, searched first (like load(root=DIR))")):
        a = actions.add_parser(action, help=text, description=text)
        a.add_argument("name", nargs="?", default="fashion-mnist", choices=data.FILE_DATASETS,
                       help="the dataset (default: fashion-mnist)")
        a.add_argument("--root", type=Path, metavar="DIR", help=root_help)


def _notebooks_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("dest", type=Path, help="the folder to copy the course into (new or empty)")
    p.add_argument("--force", action="store_true", help="copy into a folder that is not empty")


@dataclass(frozen=True)
class Command:
    """One subcommand: what it does, its function, how its options are added, and its common flags."""

    run: Callable[[argparse.Namespace], None]  # does the work
    text: str  # one line for --help
    options: Optional[Callable[[argparse.ArgumentParser], None]] = None  # adds its options (may import torch)
    run_dir: bool = False  # takes --run-dir
    config: bool = False  # takes --config


COMMANDS = {
    "spaces": Command(cmd_spaces, "list the built-in search spaces"),
    "show": Command(cmd_show, "describe an architecture of a space: its ops, params and MACs", _space_arch),
    "lut": Command(cmd_lut, "build a params/macs/latency lookup table on this device and save it as JSON",
                   _lut_options),
    "spos": Command(cmd_spos, "train a supernet by single-path one-shot sampling (SPOS)", _spos_options, True, True),
    "search": Command(cmd_search, "search a trained supernet (--run-dir of `nasedu spos`) or a benchmark",
                      _search_options, True, True),
    "dnas": Command(cmd_dnas, "search by differentiable NAS (DARTS, FBNet, GDAS, ProxylessNAS)", _dnas_options,
                    True, True),
    "bench": Command(cmd_bench, "print ratios measured in one run: supernet vs stand-alone steps, memory, speed",
                     _bench_options),
    "export": Command(cmd_export, "write an arch of a space to a JSON file (per-layer ops and costs)",
                      _export_options),
    "train": Command(cmd_train, "train one architecture from scratch", _train_options, True, True),
    "data": Command(cmd_data, "download a dataset once, or see where its files are found", _data_options),
    "notebooks": Command(cmd_notebooks, "copy the course's notebooks into a folder, to open with JupyterLab",
                         _notebooks_options),
}


def build_parser(only: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The argument parser with one subcommand per task.

    Only the commands in ``only`` (default: all) get their options, so that ``nasedu --help``
    and a command's own parsing import no more than they need.
    """
    parser = argparse.ArgumentParser(prog="nasedu", description="One-shot neural architecture search, for learning.",
                                     epilog="`nasedu COMMAND --help` explains each command's options.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.text, description=command.text)
        p.set_defaults(func=command.run)
        if only is not None and name not in only:
            continue
        if command.run_dir:
            p.add_argument("--run-dir", type=Path, required=True, help="directory for the config, log and results")
        if command.config:
            p.add_argument("--config", type=Path, help="JSON or YAML file of options (flags override it)")
        if command.options:
            command.options(p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``nasedu`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=[a for a in argv if a in COMMANDS][:1])  # the first command word names the command
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (KeyError, ValueError, FileNotFoundError, FileExistsError, ConnectionError) as error:
        message = error.args[0] if error.args else str(error)
        parser.exit(2, f"nasedu {args.command}: error: {message}\n")
    finally:
        if "nasedu.distributed" in sys.modules:
            sys.modules["nasedu.distributed"].cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
