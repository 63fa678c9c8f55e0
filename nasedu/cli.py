"""The ``nasedu`` command line (also ``python -m nasedu``).

Every training or search command writes a *run directory*::

    runs/my-run/
      config.json     every option the run used (``--config runs/my-run/config.json`` repeats it)
      log.txt         one line per epoch or result
      checkpoint.pt   the full training state after each epoch (``--resume`` continues from it)
      history.json    per-epoch records (SPOS, training), the alpha history (DNAS), or the evaluations (search)
      arch.json       the final architecture, per-layer ops and costs (``nasedu train --arch-file``)

Options come from typed dataclass configs: their defaults, then a JSON/YAML file given with
``--config``, then command-line flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from nasedu import config as cfg
from nasedu import bench, data, distributed, dnas, export, hardware, search, spaces, spos
from nasedu.training import TrainConfig, train_standalone


@dataclass(frozen=True)
class DataConfig:
    """Which space and which data a run uses."""

    space: str = "teaching"  # search space: teaching, nas-bench-macro or mobile
    dataset: str = "fashion-mnist"  # fashion-mnist, digits, cifar10 or synthetic (generated images)
    root: Optional[str] = None  # folder holding the dataset files (default: the usual places)
    download: bool = False  # let torchvision download a dataset that is not found locally
    train_size: Optional[int] = None  # training images (default: all that are left after validation)
    val_size: int = 5000  # validation images, carved from the training set
    data_seed: int = 0  # which images go to which split


@dataclass(frozen=True)
class SearchConfig:
    """How a trained supernet or a tabular benchmark is searched."""

    strategy: str = "evolution"  # evolution, regularized-evolution or random
    metric: str = "macs"  # cost: params, macs or latency_ms (supernet); flops or params (benchmark)
    max_cost: Optional[float] = None  # hardware budget: only archs costing at most this are evaluated
    population: int = 50  # archs per generation (evolution, regularized evolution)
    generations: int = 20  # generations of evolution
    max_evaluations: Optional[int] = None  # stop after this many distinct archs (random search: default 400)
    recalibrate: bool = True  # re-estimate BatchNorm statistics of each path before scoring it
    calib_batches: int = 10  # training batches used for the recalibration
    seed: int = 0  # seed of the search


# -- run directories ------------------------------------------------------------------------------

class Run:
    """A run directory: its config, its log and its results. Under torchrun only rank 0 writes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def log(self, line: str) -> None:
        """Print ``line`` and append it to log.txt."""
        if not distributed.is_main():
            return
        print(line, flush=True)
        with open(self.path / "log.txt", "a") as f:
            f.write(line + "\n")

    def write_json(self, name: str, value) -> None:
        """Write ``value`` to ``name`` in the run directory."""
        if distributed.is_main():
            (self.path / name).write_text(json.dumps(value, indent=1, default=str))

    def saved_config(self) -> dict:
        """The config.json of an earlier run here, or {}."""
        path = self.path / "config.json"
        return json.loads(path.read_text()) if path.exists() else {}


def device_report(device: str, settings: dict) -> str:
    """One line naming the device and the speed settings in use."""
    on = [name for name, value in settings.items() if value is True]
    return f"device: {hardware.device_description(torch.device(device))}; settings: {', '.join(on) or 'plain fp32'}"


def load_splits(data_config: DataConfig, space: spaces.SearchSpace) -> data.Splits:
    """The dataset a run asks for; synthetic data takes the space's input shape."""
    if data_config.dataset == "synthetic":
        return data.synthetic(space.input_shape, space.num_classes, train_size=data_config.train_size or 4096,
                              val_size=data_config.val_size, seed=data_config.data_seed)
    return data.load(data_config.dataset, root=data_config.root, train_size=data_config.train_size,
                     val_size=data_config.val_size, seed=data_config.data_seed, download=data_config.download)


def resolve(args: argparse.Namespace, classes: list[type], run: Optional[Run] = None,
            base: Optional[dict] = None) -> list:
    """Build each config of ``classes``: defaults < ``base`` (a preset) < saved run config (on --resume)
    < --config file < flags."""
    values: dict = dict(base or {})
    if run is not None and getattr(args, "resume", False):
        values.update(run.saved_config())
    if args.config:
        file_values = cfg.read_file(args.config)
        cfg.check_known(file_values, classes, str(args.config))
        values.update(file_values)
    return [cfg.build(cls, values, args) for cls in classes]


# -- commands -------------------------------------------------------------------------------------

def cmd_spaces(args: argparse.Namespace) -> None:
    """List the built-in search spaces."""
    for name in spaces.names():
        space = spaces.get(name)
        print(f"{name:16s} {space.num_layers:2d} layers  {space.num_archs:>16,d} archs  "
              f"input {space.input_shape}  ops {', '.join(space.op_names)}")


def cmd_show(args: argparse.Namespace) -> None:
    """Describe one architecture: readable form and its costs."""
    space = spaces.get(args.space)
    record = export.arch_record(space, args.arch)
    print(f"arch      {record['arch']}  ({record['readable']})")
    print(f"params    {record['params']:,.0f}\nmacs      {record['macs']:,.0f}")


def cmd_lut(args: argparse.Namespace) -> None:
    """Build a lookup table on this device and save it as JSON."""
    space = spaces.get(args.space)
    table = hardware.lookup_table(space, args.metric, device=args.device, batch_size=args.batch_size)
    table.save(args.out)
    print(f"wrote the {args.metric} table of {space.name!r} to {args.out}"
          + (f" (measured on {table.device})" if table.device else ""))


def cmd_spos(args: argparse.Namespace) -> None:
    """Train a supernet with single-path uniform (or budget/fair) sampling."""
    run = Run(args.run_dir)
    data_config, spos_config = resolve(args, [DataConfig, spos.SPOSConfig], run)
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(spos_config)})
    space = spaces.get(data_config.space)
    run.log(device_report(spos_config.device, {"channels_last": spos_config.channels_last, "bf16": spos_config.bf16,
                                               "cudnn_benchmark": spos_config.cudnn_benchmark}))
    splits = load_splits(data_config, space)
    cost = hardware.lookup_table(space, "macs").cost if spos_config.sampler == "budget" else None
    from nasedu.supernet import Supernet

    trainer = spos.SPOSTrainer(Supernet(space), splits, spos_config, cost=cost,
                               checkpoint_path=run.path / "checkpoint.pt")
    if args.resume and trainer.checkpoint_path.exists():
        run.log(f"resuming from {trainer.checkpoint_path}")
    done_before = len(trainer.history)
    history = trainer.fit(resume=args.resume)
    for record in history[done_before:]:
        run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    run.write_json("history.json", history)


def cmd_dnas(args: argparse.Namespace) -> None:
    """Search with differentiable NAS: alpha and the supernet's weights, trained in turn."""
    run = Run(args.run_dir)
    base = dnas.PRESETS[args.method] if args.method else {}
    data_config, dnas_config = resolve(args, [DataConfig, dnas.DNASConfig], run, base)
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(dnas_config),
                                   "metric": args.metric})
    space = spaces.get(data_config.space)
    run.log(device_report(dnas_config.device, {"channels_last": dnas_config.channels_last}))
    device = distributed.init(dnas_config.device)
    table = shared_table(run, space, args.metric, device)
    from nasedu.supernet import Supernet

    trainer = dnas.DNASTrainer(Supernet(space), load_splits(data_config, space), dnas_config, table=table,
                               checkpoint_path=run.path / "checkpoint.pt")
    if args.resume and trainer.checkpoint_path.exists():
        run.log(f"resuming from {trainer.checkpoint_path}")
    done_before = len(trainer.log)
    history = trainer.fit(resume=args.resume)
    for record in trainer.log[done_before:]:
        run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    derived = trainer.derive()
    if not distributed.is_main():
        return
    history.save(run.path / "history.json")
    export.save_arch(run.path / "arch.json", space, derived.arch, cost=derived.cost, metric=derived.metric,
                     probs=list(derived.probs), found_by=f"dnas ({dnas_config.relaxation})")
    run.log(f"derived arch {space.encode(derived.arch)} ({derived.readable}): {args.metric} {derived.cost:,.4g} "
            f"-> {run.path / 'arch.json'}")


def shared_table(run: Run, space: spaces.SearchSpace, metric: str, device: torch.device) -> hardware.LookupTable:
    """The lookup table of ``metric``; under torchrun rank 0 measures latency and every rank reads its table."""
    if metric != "latency_ms" or distributed.world_size() == 1:
        return hardware.lookup_table(space, metric, device=device)
    path = run.path / "latency_table.json"
    if distributed.is_main():
        hardware.lookup_table(space, metric, device=device).save(str(path))
    torch.distributed.barrier()
    return hardware.LookupTable.load(str(path))


def cmd_bench(args: argparse.Namespace) -> None:
    """Print the benchmark table: ratios measured in one run on this machine."""
    bench.run(args.space, args.batch_size, args.device)


def cmd_search(args: argparse.Namespace) -> None:
    """Search a trained supernet (``--run-dir`` of ``nasedu spos``) or a tabular benchmark."""
    run = Run(args.run_dir)
    (search_config,) = resolve(args, [SearchConfig])
    if args.benchmark:
        from nasedu.benchmarks import NASBenchMacro

        bench = NASBenchMacro(args.benchmark_path)
        space, fitness = bench.space, bench.fitness
        metric = search_config.metric if search_config.metric in ("flops", "params") else "flops"
        cost = lambda arch: bench.cost(arch, metric)  # noqa: E731
    else:
        saved = run.saved_config()
        if not (run.path / "checkpoint.pt").exists():
            raise FileNotFoundError(f"{run.path} holds no checkpoint.pt: train a supernet there first "
                                    f"(nasedu spos --run-dir {run.path}) or pass --benchmark nas-bench-macro")
        data_config = cfg.build(DataConfig, saved)
        space = spaces.get(data_config.space)
        from nasedu.supernet import Supernet
        from nasedu import checkpoint

        supernet = Supernet(space)
        supernet.load_state_dict(checkpoint.load(run.path / "checkpoint.pt")["supernet"])
        fitness = spos.InheritedEvaluator(supernet, load_splits(data_config, space),
                                          recalibrate=search_config.recalibrate,
                                          calib_batches=search_config.calib_batches)
        metric = search_config.metric
        cost = hardware.lookup_table(space, metric).cost
    common = dict(cost=cost, max_cost=search_config.max_cost, seed=search_config.seed, progress=not args.quiet)
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
    run.write_json("search.json", {"config": dataclasses.asdict(search_config), "metric": metric,
                                   "history": [dataclasses.asdict(e) for e in result.history]})
    export.save_arch(run.path / "arch.json", space, result.best_arch, fitness=result.best_fitness,
                     cost=result.best_cost, metric=metric, found_by=search_config.strategy)
    run.log(f"best arch {space.encode(result.best_arch)} ({space.readable(result.best_arch)}): "
            f"fitness {result.best_fitness:.2f}, {metric} {result.best_cost:,.0f}, "
            f"{result.num_evaluations} archs evaluated -> {run.path / 'arch.json'}")


def cmd_export(args: argparse.Namespace) -> None:
    """Write an arch of a space to a JSON file."""
    space = spaces.get(args.space)
    record = export.save_arch(args.out, space, args.arch)
    print(f"wrote {record['readable']} ({record['params']:,.0f} params, {record['macs']:,.0f} MACs) to {args.out}")


def cmd_train(args: argparse.Namespace) -> None:
    """Train one arch from scratch (from --arch-file, or --space and --arch)."""
    run = Run(args.run_dir)
    data_config, train_config = resolve(args, [DataConfig, TrainConfig])
    if args.arch_file:
        space, arch = export.load_arch(args.arch_file)
        data_config = dataclasses.replace(data_config, space=space.name)
    elif args.arch:
        space = spaces.get(data_config.space)
        arch = space.decode(args.arch)
    else:
        raise ValueError("say which arch to train: --arch-file runs/x/arch.json, or --space S --arch 0123")
    run.write_json("config.json", {**dataclasses.asdict(data_config), **dataclasses.asdict(train_config),
                                   "arch": space.encode(arch)})
    run.log(device_report(train_config.device, {"channels_last": train_config.channels_last}))
    splits = load_splits(data_config, space)
    model, history = train_standalone(lambda: space.build(arch), splits.train, splits.test, train_config)
    for record in history:
        run.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
    run.write_json("history.json", history)
    export.save_arch(run.path / "arch.json", space, arch, test_acc=history[-1]["eval_acc"])
    torch.save(model.state_dict(), run.path / "model.pt")
    run.log(f"{space.readable(arch)}: test accuracy {history[-1]['eval_acc']:.2f}% after "
            f"{train_config.epochs} epochs -> {run.path / 'model.pt'}")


# -- the parser ----------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(prog="nasedu", description="One-shot neural architecture search, for learning.",
                                     epilog="`nasedu COMMAND --help` explains each command's options.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, text: str, run_dir: bool = False, config: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        if run_dir:
            p.add_argument("--run-dir", type=Path, required=True, help="directory for the config, log and results")
        if config:
            p.add_argument("--config", type=Path, help="JSON or YAML file of options (flags override it)")
        return p

    command("spaces", cmd_spaces, "list the built-in search spaces")

    p = command("show", cmd_show, "describe an architecture of a space: its ops, params and MACs")
    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("arch", help="digits like 0123 or op names like skip-k3e1-k5e3-conv3")

    p = command("lut", cmd_lut, "build a params/macs/latency lookup table on this device and save it as JSON")
    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("--metric", choices=hardware.METRICS, default="latency_ms", help="what to tabulate")
    p.add_argument("--device", default="cpu", help="device to measure latency on, e.g. cpu or cuda")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the latency measurement")
    p.add_argument("--out", default="lut.json", help="where to write the table")

    p = command("spos", cmd_spos, "train a supernet by single-path one-shot sampling (SPOS)", run_dir=True,
                config=True)
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, spos.SPOSConfig)

    p = command("search", cmd_search, "search a trained supernet (--run-dir of `nasedu spos`) or a benchmark",
                run_dir=True, config=True)
    p.add_argument("--benchmark", choices=["nas-bench-macro"], help="search the tabular benchmark instead")
    p.add_argument("--benchmark-path", help="the NAS-Bench-Macro JSON or its folder (default: cache or download)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    cfg.add_arguments(p, SearchConfig)

    p = command("dnas", cmd_dnas, "search by differentiable NAS (DARTS, FBNet, GDAS, ProxylessNAS)", run_dir=True,
                config=True)
    p.add_argument("--resume", action="store_true", help="continue from the run directory's checkpoint")
    p.add_argument("--method", choices=list(dnas.PRESETS), help="start from this method's settings")
    p.add_argument("--metric", choices=hardware.METRICS, default="macs", help="cost of the hardware loss")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, dnas.DNASConfig)

    p = command("bench", cmd_bench, "print ratios measured in one run: supernet vs stand-alone steps, memory, speed")
    p.add_argument("--space", default="teaching", choices=spaces.names(), help="the space to measure")
    p.add_argument("--batch-size", type=int, default=128, help="images per step")
    p.add_argument("--device", nargs="*", default=None, help="devices (default: cpu, and cuda when present)")

    p = command("export", cmd_export, "write an arch of a space to a JSON file (per-layer ops and costs)")
    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("arch", help="digits like 0123 or op names like skip-k3e1-k5e3-conv3")
    p.add_argument("--out", default="arch.json", help="where to write it")

    p = command("train", cmd_train, "train one architecture from scratch", run_dir=True, config=True)
    p.add_argument("--arch-file", help="an arch.json written by search, dnas or export")
    p.add_argument("--arch", help="the arch to train, with --space")
    cfg.add_arguments(p, DataConfig)
    cfg.add_arguments(p, TrainConfig)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``nasedu`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (KeyError, ValueError, FileNotFoundError, ConnectionError) as error:
        message = error.args[0] if error.args else str(error)
        parser.exit(2, f"nasedu {args.command}: error: {message}\n")
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
