"""Shared test fixtures and paths."""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
NAS_BENCH_MACRO = SHARED_DATA / "nas-bench-macro" / "nas-bench-macro_cifar10.json"


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def nas_bench_macro_path() -> Path:
    if not NAS_BENCH_MACRO.exists():
        pytest.skip(f"NAS-Bench-Macro table not found at {NAS_BENCH_MACRO} (it lives in ../shared beside the repo)")
    return NAS_BENCH_MACRO


@pytest.fixture(scope="module")
def one_thread():
    """One CPU thread for a module: small networks gain little from a second, lose much on shared cores,
    and two processes given one thread each round alike."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_hot(space, arch, value: float = 1.0) -> torch.Tensor:
    """An (L, K) tensor with ``value`` at each layer's chosen candidate and 0 elsewhere."""
    weights = torch.zeros(space.num_layers, space.max_choices)
    for i, a in enumerate(arch):
        weights[i, a] = value
    return weights


def randomise_bn(module) -> None:
    """Give every BN non-trivial statistics so eval-mode comparisons test something."""
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
