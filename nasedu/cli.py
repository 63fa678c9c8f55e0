"""The ``nasedu`` command line (also ``python -m nasedu``)."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from nasedu import hardware, spaces


def cmd_spaces(args: argparse.Namespace) -> None:
    """List the built-in search spaces."""
    for name in spaces.names():
        space = spaces.get(name)
        print(f"{name:16s} {space.num_layers:2d} layers  {space.num_archs:>16,d} archs  "
              f"input {space.input_shape}  ops {', '.join(space.op_names)}")


def cmd_show(args: argparse.Namespace) -> None:
    """Describe one architecture: readable form and its costs."""
    space = spaces.get(args.space)
    arch = space.decode(args.arch)
    print(f"arch      {space.encode(arch)}  ({space.readable(arch)})")
    for metric in ("params", "macs"):
        print(f"{metric:9s} {hardware.lookup_table(space, metric).cost(arch):,.0f}")


def cmd_lut(args: argparse.Namespace) -> None:
    """Build a lookup table on this device and save it as JSON."""
    space = spaces.get(args.space)
    table = hardware.lookup_table(space, args.metric, device=args.device, batch_size=args.batch_size)
    table.save(args.out)
    print(f"wrote the {args.metric} table of {space.name!r} to {args.out}"
          + (f" (measured on {table.device})" if table.device else ""))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per task."""
    parser = argparse.ArgumentParser(prog="nasedu", description="One-shot neural architecture search, for learning.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("spaces", help="list the built-in search spaces")
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser("show", help="describe an architecture of a space")
    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("arch", help="digits like 0123 or op names like skip-k3e1-k5e3-conv3")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("lut", help="build a params/macs/latency lookup table and save it as JSON")
    p.add_argument("space", help=f"one of {spaces.names()}")
    p.add_argument("--metric", choices=hardware.METRICS, default="latency_ms", help="what to tabulate")
    p.add_argument("--device", default="cpu", help="device to measure latency on, e.g. cpu or cuda")
    p.add_argument("--batch-size", type=int, default=1, help="batch size of the latency measurement")
    p.add_argument("--out", default="lut.json", help="where to write the table")
    p.set_defaults(func=cmd_lut)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``nasedu`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (KeyError, ValueError, FileNotFoundError) as error:
        message = error.args[0] if error.args else str(error)
        parser.exit(2, f"nasedu {args.command}: error: {message}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
