"""Shared test fixtures and paths, and the rule that CI runs every test.

Under CI (``CI=true``, as ``.ci/run`` sets) a skipped test is a failure, except for tests that
need a CUDA device: a missing browser, dataset or package must not pass unnoticed. Elsewhere a
test may skip when something optional is missing, and says what.
"""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
UNDER_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ALLOWED_SKIP = "no CUDA device"  # the only reason a test may skip under CI


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if ALLOWED_SKIP not in reason:
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, where every test must run ({reason}); install what it needs"


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


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
