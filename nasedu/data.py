"""Datasets, seeded train/validation/test splits and a tensor-resident batch iterator.

Three datasets, all returned the same way (a :class:`Splits` of normalised tensors)::

    >>> from nasedu import data
    >>> splits = data.load("digits", seed=0)        # no files, no download: inside scikit-learn
    >>> splits.input_shape, splits.num_classes
    ((1, 28, 28), 10)
    >>> x, y = splits.train                         # x: (N, 1, 28, 28) float32, y: (N,) int64
    >>> batches = data.Batches(x, y, batch_size=128, seed=0)

- ``"fashion-mnist"`` (1x28x28, the default teaching dataset) is looked for, in order, in the
  ``root`` you give, the folder named by the environment variable ``NASEDU_DATA``, the user
  cache (``~/.cache/nasedu`` on Linux) and Debian's package ``dataset-fashion-mnist``.
- ``"cifar10"`` (3x32x32) is for GPU runs; looked for in the same folders but Debian's.
- ``"digits"`` is scikit-learn's 8x8 digits, resized to 1x28x28 so it fits the ``teaching``
  space; ``"digits-8x8"`` is the raw 1x8x8 images. Instant, for tests and zero-setup demos.

``download=True`` (or ``nasedu data fetch`` in a terminal) lets torchvision download a dataset
that is found nowhere, once, into the user cache (or ``root``), where every later call finds it.
When nothing is found, :class:`DataNotFoundError` lists the folders searched and the ways to
get the files; :func:`folders` and :func:`locate` say where ``load`` looks and what it would read.

The validation split is carved from the training data (DNAS updates alpha on it, search scores
candidates on it); the test split stays untouched until the end. Images are normalised with the
per-channel mean and std of the training split only.

Small datasets are faster as tensors on the device than through a DataLoader with workers:
:class:`Batches` moves them once and slices batches out of them.

Nothing is read or downloaded at import time.

Used in: every notebook that trains (03_dnas onwards).
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import platformdirs
import torch
import torch.nn.functional as F

Tensor = torch.Tensor
Size = Union[int, float, None]  # a count, a fraction of the pool in (0, 1], or None for "all"

DATA_VARIABLE = "NASEDU_DATA"  # environment variable naming a folder that holds dataset files
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # files of `apt-get install dataset-fashion-mnist`

FASHION_MNIST_FILES = {  # split -> (images, labels), without the optional .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_FOLDER = "cifar-10-batches-py"  # what torchvision's download unpacks
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
DIGITS_TEST_SIZE = 297  # digits has no official test set: a fixed 297 of its 1797 images, 1500 left to train
DATASETS = ("fashion-mnist", "digits", "digits-8x8", "cifar10")
FILE_DATASETS = ("fashion-mnist", "cifar10")  # the ones read from files, which may need a download
TITLES = {"fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the folders searched; the message says where it looked and what to do."""

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show instead of a traceback: the message alone (the cell still fails)."""
        return [f"DataNotFoundError: {self}"]


@dataclass(frozen=True, eq=False)
class Splits:
    """A dataset split three ways; every ``x`` is normalised float32 (N, C, H, W), every ``y`` int64 (N,)."""

    name: str  # the dataset, e.g. "fashion-mnist"
    train: tuple[Tensor, Tensor]  # (x, y) to fit the weights
    val: tuple[Tensor, Tensor]  # (x, y) carved from the training data: alpha updates and search scores
    test: tuple[Tensor, Tensor]  # (x, y) from the official test set: report it once, at the end
    num_classes: int  # number of labels, 0..num_classes-1
    input_shape: tuple[int, int, int]  # (C, H, W) of one image
    classes: tuple[str, ...]  # classes[label]: a readable name
    mean: tuple[float, ...]  # per-channel mean subtracted, in pixel units of [0, 1]
    std: tuple[float, ...]  # per-channel std divided by, in pixel units of [0, 1]
    source: str  # where the images were read from

    def __repr__(self) -> str:
        sizes = ", ".join(f"{split}={len(getattr(self, split)[1])}" for split in ("train", "val", "test"))
        return f"Splits({self.name!r}, {sizes}, input_shape={self.input_shape}, source={self.source!r})"


def names() -> list[str]:
    """The dataset names :func:`load` accepts."""
    return list(DATASETS)


def load(name: str = "fashion-mnist", root: Union[str, Path, None] = None, train_size: Size = None,
         val_size: Size = 0.1, test_size: Size = None, seed: int = 0, download: bool = False) -> Splits:
    """Load a dataset as seeded train/validation/test tensors.

    ``val_size`` images of the training set become the validation split and ``train_size`` of
    the rest the training split (None: all the rest); ``test_size`` subsamples the test set
    (None: all of it). Sizes are counts, or fractions in (0, 1] of the training (or test) set.
    The same ``seed`` picks the same images; the validation split does not depend on
    ``train_size``. Files are read from the first of :func:`folders` that holds them;
    ``download=True`` lets torchvision fetch them when none does (see :func:`fetch`).
    Raises :class:`DataNotFoundError` when the files are nowhere.
    """
    if name in FILE_DATASETS:
        folder = locate(name, root) or (fetch(name, root) if download else None)
        if folder is None:
            raise DataNotFoundError(_not_found(name, root))
        read = _read_fashion_mnist if name == "fashion-mnist" else _read_cifar10
        x_pool, y_pool, x_test_all, y_test_all, source = read(folder)
        classes = FASHION_MNIST_CLASSES if name == "fashion-mnist" else CIFAR10_CLASSES
    elif name in ("digits", "digits-8x8"):
        x_pool, y_pool, x_test_all, y_test_all, source = _digits(resize_to=28 if name == "digits" else None)
        classes = tuple(str(d) for d in range(10))
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {names()}")

    train_idx, val_idx = split_indices(len(y_pool), val_size=val_size, train_size=train_size, seed=seed)
    test_idx = subset_indices(len(y_test_all), test_size, seed=seed, what="test_size")
    x_train, x_val, x_test = (_to_unit_float(x) for x in (x_pool[train_idx], x_pool[val_idx], x_test_all[test_idx]))
    mean = x_train.mean(dim=(0, 2, 3))  # (C,), from the training split only
    std = x_train.std(dim=(0, 2, 3)).clamp_min(1e-6)  # (C,)
    for x in (x_train, x_val, x_test):  # in place: each is a fresh copy
        x.sub_(mean[:, None, None]).div_(std[:, None, None])
    return Splits(
        name=name,
        train=(x_train, y_pool[train_idx]),
        val=(x_val, y_pool[val_idx]),
        test=(x_test, y_test_all[test_idx]),
        num_classes=len(classes),
        input_shape=tuple(x_train.shape[1:]),
        classes=classes,
        mean=tuple(mean.tolist()),
        std=tuple(std.tolist()),
        source=source,
    )


def cache_dir() -> Path:
    """The user cache, where downloads go when no ``root`` is given: ``~/.cache/nasedu`` on Linux."""
    return Path(platformdirs.user_cache_dir("nasedu"))


def folders(name: str = "fashion-mnist", root: Union[str, Path, None] = None) -> list[tuple[str, Path]]:
    """The folders :func:`load` searches for the files of ``name``, in order, each as (what it is, folder).

    ``root`` (when given), then ``$NASEDU_DATA`` (when set), the user cache, and for
    Fashion-MNIST Debian's package folder. In each, the files may lie directly or in
    torchvision's layout (``FashionMNIST/raw/``, ``cifar-10-batches-py/``).
    """
    _check_file_dataset(name)
    searched = [("root", Path(root))] if root is not None else []
    if os.environ.get(DATA_VARIABLE):
        searched.append((f"${DATA_VARIABLE}", Path(os.environ[DATA_VARIABLE])))
    searched.append(("user cache", cache_dir()))
    if name == "fashion-mnist":
        searched.append(("Debian package dataset-fashion-mnist", DEBIAN_FASHION_MNIST))
    return searched


def locate(name: str = "fashion-mnist", root: Union[str, Path, None] = None) -> Optional[Path]:
    """The folder whose files :func:`load` would read for ``name``, or None when no folder searched holds them."""
    for _, folder in folders(name, root):
        found = find(name, folder)
        if found is not None:
            return found
    return None


def find(name: str, folder: Path) -> Optional[Path]:
    """The folder holding all the files of ``name``: ``folder`` itself or its torchvision sub-folder; else None."""
    if name == "fashion-mnist":
        return _find_fashion_mnist(folder)
    for candidate in (folder, folder / CIFAR10_FOLDER):
        if all((candidate / file).is_file() for file in CIFAR10_FILES):
            return candidate
    return None


def fetch(name: str = "fashion-mnist", root: Union[str, Path, None] = None) -> Path:
    """Download ``name`` with torchvision (needs internet) into ``root``, else the user cache, and
    return the folder holding its files; nothing is downloaded when they are there already."""
    _check_file_dataset(name)
    target = Path(root) if root is not None else cache_dir()
    if find(name, target) is None:
        from torchvision.datasets import CIFAR10, FashionMNIST

        download = FashionMNIST if name == "fashion-mnist" else CIFAR10
        try:
            download(str(target), train=True, download=True)  # fetches the training and the test files
        except (OSError, RuntimeError) as error:
            raise DataNotFoundError(_not_found(name, root, failure=f"Downloading into {target} failed ({error}); "
                                                                   f"check the internet connection."))
    found = find(name, target)
    if found is None:
        raise DataNotFoundError(_not_found(name, root, failure=f"torchvision's download left no complete copy in "
                                                               f"{target}; delete that folder and try again."))
    return found


def synthetic(input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10, train_size: int = 4096,
              val_size: int = 512, test_size: int = 512, seed: int = 0) -> Splits:
    """Generated images of any shape, for speed tests and for code paths whose data is absent (CIFAR-10 here).

    Each class has its own random mean image plus noise, so a network can learn it.
    """
    generator = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(num_classes, *input_shape, generator=generator)  # (classes, C, H, W)

    def draw(n: int) -> tuple[Tensor, Tensor]:
        y = torch.randint(0, num_classes, (n,), generator=generator)
        return prototypes[y] + 2.0 * torch.randn(n, *input_shape, generator=generator), y

    return Splits(name="synthetic", train=draw(train_size), val=draw(val_size), test=draw(test_size),
                  num_classes=num_classes, input_shape=tuple(input_shape), classes=tuple(map(str, range(num_classes))),
                  mean=(0.0,) * input_shape[0], std=(1.0,) * input_shape[0], source="generated")


def split_indices(n: int, val_size: Size, train_size: Size = None, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Seeded (train_idx, val_idx) into a pool of ``n`` training images; the two never overlap.

    One seeded permutation of the pool: its first ``val_size`` indices are the validation
    split, the next ``train_size`` (None: all the rest) the training split.
    """
    n_val = _count(val_size, n, "val_size")
    n_train = n - n_val if train_size is None else _count(train_size, n, "train_size")
    if n_train < 1 or n_train + n_val > n:
        raise ValueError(f"train_size={train_size} and val_size={val_size} ask for {n_train} + {n_val} images "
                         f"but the training set has {n}: ask for at least 1 and at most {n} in all")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_val:n_val + n_train], perm[:n_val]


def subset_indices(n: int, size: Size, seed: int = 0, what: str = "size") -> Tensor:
    """Seeded indices of ``size`` of ``n`` items; None keeps all ``n`` in their order."""
    if size is None:
        return torch.arange(n)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[:_count(size, n, what)]


def read_idx(path: Union[str, Path]) -> np.ndarray:
    """Read an IDX file of unsigned bytes (the MNIST format), gzipped when its name ends in .gz."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    # header: two zero bytes, a type code (0x08 = unsigned byte), the number of dims,
    # then each dim as a big-endian int32; then the values, row by row
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (it starts with {raw[:4].hex()}, "
                         f"expected 0000 08 then the number of dims); re-download or reinstall it")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}i", raw[4:4 + 4 * ndim])
    values = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if values.size != math.prod(shape):
        raise ValueError(f"{path} holds {values.size} values but its header promises shape {shape}; "
                         f"the file is truncated or corrupt, re-download or reinstall it")
    return values.reshape(shape).copy()


class Batches:
    """Seeded mini-batches sliced out of tensors that live on one device.

    Each ``for`` loop over it is one epoch, in a new seeded order when ``shuffle``. Breaking
    out of a loop ends that epoch. ``state_dict()`` taken inside a loop resumes at the next
    batch; taken between loops it resumes at the next epoch.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 device: Union[str, torch.device, None] = None, channels_last: bool = False,
                 drop_last: bool = False) -> None:
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} samples but y has {len(y)}; pass matching tensors")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if channels_last and x.dim() != 4:
            raise ValueError(f"channels_last needs images (N, C, H, W), got x of shape {tuple(x.shape)}; "
                             f"pass channels_last=False")
        self.x = x.to(device)  # (N, C, H, W), moved once
        if channels_last:
            self.x = self.x.contiguous(memory_format=torch.channels_last)
        self.y = y.to(device)  # (N,)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0  # the epoch being iterated, or the next one between loops
        self._next_batch = 0  # batches of this epoch already handed out
        self._generator = torch.Generator().manual_seed(seed)  # on the CPU, so orders match across devices
        self._epoch_start = self._generator.get_state()  # generator state before this epoch's shuffle

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.y)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n = len(self.y)
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        order = order.to(self.y.device)
        try:
            for b in range(self._next_batch, len(self)):
                self._next_batch = b + 1
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                yield self.x[idx], self.y[idx]
        finally:  # the epoch ends when its loop ends, finished or not
            self.epoch += 1
            self._next_batch = 0
            self._epoch_start = self._generator.get_state()

    def state_dict(self) -> dict:
        """Where the iteration stands: epoch, batches handed out, and the shuffling generator."""
        return {"epoch": self.epoch, "next_batch": self._next_batch, "generator": self._epoch_start.clone()}

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where the :meth:`state_dict` this comes from left off."""
        if not 0 <= state["next_batch"] <= len(self):
            raise ValueError(f"state has next_batch={state['next_batch']} but this iterator has {len(self)} "
                             f"batches per epoch; load it into Batches made with the same data and batch_size")
        self.epoch = state["epoch"]
        self._next_batch = state["next_batch"]
        self._epoch_start = state["generator"].clone()
        self._generator.set_state(self._epoch_start)


# --- sources: where the files are, and readers of them ---

_Raw = tuple[Tensor, Tensor, Tensor, Tensor, str]  # (x_pool, y_pool, x_test, y_test, source); x (N, C, H, W), y int64


def _check_file_dataset(name: str) -> None:
    if name not in FILE_DATASETS:
        raise ValueError(f"{name!r} is not read from files; choose one of {list(FILE_DATASETS)}")


def _not_found(name: str, root: Union[str, Path, None], failure: str = "") -> str:
    """Where :func:`load` looked for ``name`` and every way to get its files."""
    if name == "fashion-mnist":
        files = ", ".join(f"{stem}[.gz]" for pair in FASHION_MNIST_FILES.values() for stem in pair)
        files += " (directly or in FashionMNIST/raw/)"
    else:
        files = f"{', '.join(CIFAR10_FILES)} (directly or in {CIFAR10_FOLDER}/)"
    searched = [f"  {i}. {folder}  ({what})" for i, (what, folder) in enumerate(folders(name, root), 1)]
    command = "nasedu data fetch" + ("" if name == "fashion-mnist" else f" {name}")
    command += "" if root is None else f" --root {root}"
    target = Path(root) if root is not None else cache_dir()
    lines = [f"{TITLES[name]} not found. Looked for {files} in these folders, in order:", *searched]
    if failure:
        lines.append(failure)
    lines += ["Get the files in one of these ways:",
              f"  - in a terminal, once (needs internet): `{command}`; it saves them in {target}",
              f"  - or in Python, once (needs internet): load({name!r}, download=True), the same download"]
    if name == "fashion-mnist":
        lines.append("  - or on Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`")
    lines += [f"  - or, if you have the files: `export {DATA_VARIABLE}=/folder/with/them`, or pass root=",
              "To start without any files, use load('digits')."]
    return "\n".join(lines)


def _find_fashion_mnist(folder: Path) -> Optional[Path]:
    """The folder holding all four files: ``folder`` itself or torchvision's FashionMNIST/raw in it."""
    for candidate in (folder, folder / "FashionMNIST" / "raw"):
        if all(_idx_path(candidate, stem) is not None for pair in FASHION_MNIST_FILES.values() for stem in pair):
            return candidate
    return None


def _idx_path(folder: Path, stem: str) -> Optional[Path]:
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _read_fashion_mnist(folder: Path) -> _Raw:
    arrays = [read_idx(_idx_path(folder, stem)) for split in ("train", "test") for stem in FASHION_MNIST_FILES[split]]
    x_pool, y_pool, x_test, y_test = (torch.from_numpy(a) for a in arrays)
    # images (N, 28, 28) uint8 -> (N, 1, 28, 28); labels uint8 -> int64
    return x_pool[:, None], y_pool.long(), x_test[:, None], y_test.long(), str(folder)


def _digits(resize_to: Optional[int]) -> _Raw:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images).float().div(16)[:, None]  # (1797, 1, 8, 8), pixels 0..16 -> [0, 1]
    if resize_to is not None:
        x = F.interpolate(x, size=(resize_to, resize_to), mode="bilinear", align_corners=False)
    y = torch.from_numpy(digits.target).long()
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))  # fixed, whatever the seed
    test, pool = perm[:DIGITS_TEST_SIZE], perm[DIGITS_TEST_SIZE:]
    return x[pool], y[pool], x[test], y[test], "sklearn.datasets.load_digits"


def _read_cifar10(folder: Path) -> _Raw:
    pool = [_read_cifar10_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = _read_cifar10_batch(folder / "test_batch")
    x_pool = torch.cat([x for x, _ in pool])
    y_pool = torch.cat([y for _, y in pool])
    return x_pool, y_pool, x_test, y_test, str(folder)


def _read_cifar10_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One pickled CIFAR-10 batch: rows of 3072 bytes (1024 red, then green, then blue) and labels."""
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="latin1")
    x = torch.from_numpy(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
    return x, torch.tensor(batch["labels"], dtype=torch.int64)


def _to_unit_float(x: Tensor) -> Tensor:
    """Pixels as float32 in [0, 1]: uint8 images are divided by 255, float ones are already there."""
    return x.float().div(255) if x.dtype == torch.uint8 else x.float()


def _count(size: Size, n: int, what: str) -> int:
    """A size given as a count, a fraction in (0, 1] of ``n`` or None (all ``n``), checked against ``n``."""
    if size is None:
        return n
    if isinstance(size, float):
        if not 0 < size <= 1:
            raise ValueError(f"{what}={size}: a fraction must lie in (0, 1]; pass a count for more")
        return round(size * n)
    if not 0 <= size <= n:
        raise ValueError(f"{what}={size} but there are only {n} images; pass a count from 0 to {n}")
    return size
