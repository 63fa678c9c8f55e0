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
