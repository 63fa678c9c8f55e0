"""Typed configs for the command line: dataclass fields become options and file keys.

Every config is a frozen dataclass whose fields are made by :func:`option`, which keeps the
field's help text in ``dataclasses.field(metadata={"help": ...})``; that text is the option's
``--help``. Values come, in increasing priority, from the dataclass defaults, a JSON or YAML
file (``--config run.yaml``) and the command-line flags. File values are converted to the
field's type where that is safe (YAML reads ``3e-4`` as a string, since its 1.1 spec wants
``3.0e-4``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from pathlib import Path
from typing import Any, Optional, TypeVar, Union

import yaml

C = TypeVar("C")


def option(default: Any, help: str) -> Any:
    """A dataclass field with a default and its help text: ``epochs: int = option(10, "passes over the data")``."""
    return dataclasses.field(default=default, metadata={"help": help})


def field_help(cls: type) -> dict[str, str]:
    """The help text of every field of dataclass ``cls``, by field name."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(cls) if "help" in f.metadata}


def _base_type(annotation: Any) -> type:
    """``Optional[float]`` -> float, ``int`` -> int, ``tuple[float, float]`` -> tuple."""
    if typing.get_origin(annotation) is tuple:
        return tuple
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if args else annotation


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One ``--field-name`` option per field of ``cls``; unset options stay None."""
    helps = field_help(cls)
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").strip().splitlines()[0])
    for f in dataclasses.fields(cls):
        kind = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        text = helps.get(f.name, "") + ("" if f.default is None else f" (default: {f.default})")
        if kind is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        elif kind is tuple:  # e.g. tuple[float, float]: that many values after the flag
            items = typing.get_args(hints[f.name])
            group.add_argument(flag, type=items[0], nargs=len(items), default=None,
                               metavar=items[0].__name__.upper(), help=text)
        else:
            group.add_argument(flag, type=kind, default=None, metavar=kind.__name__.upper(), help=text)


def read_file(path: Union[str, Path]) -> dict:
    """A config file: JSON (``.json``) or YAML (anything else), holding one mapping."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        values = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"config file {path} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {error}")
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping of option: value, not {type(values).__name__}")
    return values


def build(cls: type[C], file_values: dict, args: Optional[argparse.Namespace] = None) -> C:
    """An instance of ``cls`` from its defaults, then ``file_values``, then command-line ``args``."""
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in file_values.items() if k in names}
    if args is not None:
        values.update({k: v for k, v in vars(args).items() if k in names and v is not None})
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        values[name] = _convert(name, value, hints[name])
    return cls(**values)


def _convert(name: str, value: Any, annotation: Any) -> Any:
    """``value`` as the field's type: lists become tuples, numbers written as strings become numbers."""
    kind = _base_type(annotation)
    if value is None:
        return None
    if kind is tuple:
        if not isinstance(value, (list, tuple)):  # JSON and YAML have lists, not tuples
            raise ValueError(f"option {name!r} must be a list of {len(typing.get_args(annotation))} values, got {value!r}")
        return tuple(_convert(name, v, item) for v, item in zip(value, typing.get_args(annotation)))
    if kind is float and isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 3e-4 (no dot) as a string
        except ValueError:
            pass
    if kind is int and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ValueError(f"option {name!r} must be {kind.__name__}, got {value!r}")
    return value


def check_known(file_values: dict, classes: list[type], source: str) -> None:
    """Raise a clear error for keys that no config of the command knows."""
    known = {f.name for cls in classes for f in dataclasses.fields(cls)}
    unknown = sorted(set(file_values) - known)
    if unknown:
        raise ValueError(f"{source}: unknown option(s) {unknown}; this command takes {sorted(known)}")
