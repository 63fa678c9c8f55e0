"""Training in several processes at once (data parallelism) with torch.distributed and torchrun.

``torchrun --nproc_per_node=4 -m nasedu spos ...`` starts 4 copies of the program and tells
each one, through environment variables, its ``RANK`` (0..3), its ``LOCAL_RANK`` (which GPU
of this machine is its own) and the ``WORLD_SIZE`` (4). The trainers call :func:`init`,
which joins the process group (NCCL between GPUs, gloo between CPU processes) and returns
the rank's device. Then every step:

- every rank runs the *same* path (the samplers are seeded alike; :func:`check_same` verifies it),
- each rank takes its own slice of the global batch (:func:`shard`), so that together the
  ranks see exactly the images one process would see,
- DistributedDataParallel (:func:`wrap`) averages the weights' gradients over the ranks
  during ``backward()``, so every rank makes the same update and the weights stay identical,
- only rank 0 (:func:`is_main`) writes checkpoints, warns and draws progress bars.

Every helper does nothing when the program was not launched this way: one process runs the
same code unchanged.

Used in: the README's "Training on several GPUs".
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def launched() -> bool:
    """True when a launcher such as torchrun started this process as one of several (``WORLD_SIZE`` > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: str = "cpu") -> torch.device:
    """Join torchrun's process group (once per process) and return this rank's device.

    ``device="cuda"`` becomes ``cuda:LOCAL_RANK`` (one GPU per rank) with the NCCL backend;
    ``"cpu"`` uses gloo. When not launched distributed it returns ``torch.device(device)``.
    """
    device = torch.device(device)
    if not launched():
        return device
    if device.type == "cuda":
        if device.index is not None:
            raise ValueError(f"under torchrun pass device='cuda', not {str(device)!r}: "
                             f"each rank then uses its own GPU, cuda:LOCAL_RANK")
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")  # reads RANK, WORLD_SIZE, MASTER_*
    return device


def cleanup() -> None:
    """Leave the process group (call it once at the end of the program); nothing when there is none."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """The number of ranks training together (1 when not distributed)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank, 0 to world_size() - 1 (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True on rank 0, the one that writes checkpoints and logs (and in a single process)."""
    return rank() == 0


def check_batch_size(batch_size: int) -> None:
    """Raise a clear error unless the global batch splits evenly over the ranks."""
    if batch_size % world_size():
        raise ValueError(f"batch_size={batch_size} does not split evenly over {world_size()} processes; "
                         f"make it a multiple of {world_size()} (each rank takes batch_size / processes images)")


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous 1/world_size slice of a global batch (all of it when not distributed).

    Rank r takes rows ``r * B/N`` to ``(r + 1) * B/N``, so ranks 0..N-1 together hold the whole batch once.
    """
    n = world_size()
    if n == 1:
        return batch
    if len(batch) % n:
        raise ValueError(f"a batch of {len(batch)} does not split evenly over {n} processes")
    size = len(batch) // n
    return batch[rank() * size:(rank() + 1) * size]


def wrap(module: nn.Module, device: torch.device, unused_parameters: bool = True) -> nn.Module:
    """``module`` inside DistributedDataParallel when distributed, else ``module`` itself.

    ``unused_parameters=True`` (DDP's ``find_unused_parameters``): a step runs one path, so
    the other candidates get no gradient, and DDP would wait for them forever; this makes
    DDP look for them after each forward. Because every rank runs the same path, they are
    unused on *every* rank, and DDP then leaves their ``.grad`` at None, so SGD skips them
    (no momentum, no weight decay), exactly as in one process. Pass False when every step
    uses every parameter (DARTS's mixture): DDP then skips that search.
    """
    if world_size() == 1:
        return module
    model = DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                    find_unused_parameters=unused_parameters)
    # BatchNorm statistics are averaged once per epoch (average_buffers) instead of being copied from
    # rank 0 before every forward; set here rather than as an argument, as newer torch renamed it
    model.broadcast_buffers = False
    return model


def average(tensor: torch.Tensor) -> torch.Tensor:
    """Replace ``tensor`` in place by its mean over the ranks (e.g. alpha's gradient) and return it."""
    if world_size() > 1:
        dist.all_reduce(tensor)  # a sum: gloo has no AVG
        tensor.div_(world_size())
    return tensor


def average_buffers(module: nn.Module) -> None:
    """Average the floating-point buffers (BatchNorm running mean and variance) over the ranks.

    Each rank's running mean is a moving average of its shards' means; their average is the
    moving average of the global batches' means, as one process would have it.
    """
    for buffer in module.buffers():
        if buffer.is_floating_point():
            average(buffer)


def sum_over_ranks(*values: float) -> list[float]:
    """Each of ``values`` summed over the ranks (e.g. losses and image counts of an epoch)."""
    if world_size() == 1:
        return list(values)
    device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    total = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return total.tolist()


def check_same(what: str, *values: Any) -> None:
    """Raise RuntimeError unless ``values`` are identical on every rank.

    Tensors are compared by their bytes, anything else (numbers, strings, lists of them) by
    its ``repr``. Each rank sends only a SHA-256 digest of its values.
    """
    if world_size() == 1:
        return
    digest = hashlib.sha256()
    for value in values:
        if isinstance(value, torch.Tensor):
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    digests: list = [None] * world_size()
    dist.all_gather_object(digests, digest.hexdigest())
    others = [r for r, d in enumerate(digests) if d != digests[0]]
    if others:
        raise RuntimeError(f"ranks disagree on {what}: rank(s) {others} differ from rank 0; every rank must "
                           f"use the same config, seed, data and checkpoint")
