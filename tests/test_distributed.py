"""Two processes (torchrun, gloo on CPU) train like one process that sees the same global batches.

The module-scoped fixture launches this file under ``python -m torch.distributed.run
--nproc_per_node=2``; each rank runs :func:`worker` and saves what it trained, and the tests
compare the ranks with each other and with runs in this process.

The oracle: the ranks normalise each half of a batch with that half's BatchNorm statistics,
so a single process that runs BatchNorm on the two halves separately (``halves=True``) must
give the same weights and alpha, up to float rounding (measured: weights bit for bit, alpha
within 2e-7 of the distance it moved). Bugs land far away (measured after 3 epochs): a rank
that skips the gradient averaging 0.97 (SPOS) and 0.9 (DNAS; alpha 0.16), ranks that take the
same half of each batch the same, ranks on different paths 1.0 to 1.4.

A plain single process (BatchNorm over the whole batch) differs more: after one epoch the
weights by 0.26 (SPOS) and 0.23 (DNAS; alpha 0.13, ProxylessNAS's two-path estimator moving only
two logits per layer and step) of the distance they moved, while a rank that skips the averaging
is 0.84 and 0.92 away from it, and one that skips only alpha's averaging 0.22 in alpha.

Training multiplies rounding differences about tenfold per step here, so both sides run one
thread: the same ops then round alike.
"""

import functools
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

import nasedu as nd
from nasedu import checkpoint, data, distributed, dnas, hardware, spos

METHODS = ("spos", "dnas")
CRASH_AFTER = {"spos": 6, "dnas": 12}  # paths drawn (DNAS: 2 per step) before a crash inside epoch 2
SHORT_RUNS = {  # 2 steps of 128 images: code paths with more than one all-reduce per step, and FBNet cold
    "fair": ("spos", dict(sampler="fair", batch_size=128, epochs=1)),  # 4 paths, 4 backward passes per step
    "second_order": ("dnas", dict(relaxation="softmax", second_order=True, batch_size=128, epochs=1)),
    # FBNet late in its schedule: the Gumbel gates of all but one candidate underflow to exactly 0 in float32,
    # yet every candidate runs with its graph, so DDP (find_unused_parameters=False) sees every weight used
    "fbnet_cold": ("dnas", dict(relaxation="gumbel", temperature=0.01, temperature_schedule="constant",
                                hardware_loss="multiplicative", batch_size=128, epochs=1)),
}


@functools.cache
def splits():
    return data.load("digits", train_size=256, val_size=128, seed=0)  # 4 steps of 64 images per epoch


def make_trainer(method, checkpoint_path=None, **changes):
    torch.manual_seed(0)  # the same initial weights in every process
    space = nd.spaces.get("teaching")
    settings = dict(epochs=3, batch_size=64, progress=False)
    if method == "spos":
        config = spos.SPOSConfig(**{**settings, **changes})
        return spos.SPOSTrainer(nd.Supernet(space), splits(), config, checkpoint_path=checkpoint_path)
    config = dnas.DNASConfig(**{**settings, "lr": 0.05, "alpha_lr": 0.05, "relaxation": "binary", "paths": 2,
                                "hardware_weight": 0.3, "record_every": 2, **changes})
    return dnas.DNASTrainer(nd.Supernet(space), splits(), config, hardware.lookup_table(space, "macs"),
                            checkpoint_path=checkpoint_path)


class Recorder:
    """Keeps the results of the functions it wraps, in call order, and raises like a killed process
    after ``crash_after`` calls."""

    def __init__(self, crash_after=None):
        self.crash_after, self.results = crash_after, []

    def wrap(self, function):
        def call(*args, **kwargs):
            if len(self.results) == self.crash_after:
                raise KeyboardInterrupt("simulated crash")
            self.results.append(function(*args, **kwargs))
            return self.results[-1]
        return call


def record_paths(trainer, crash_after=None):
    """Record the path (SPOS) or the candidates run and the path trained (DNAS) of every draw."""
    recorder = Recorder(crash_after)
    if isinstance(trainer, spos.SPOSTrainer):
        trainer.sampler.sample = recorder.wrap(trainer.sampler.sample)
    else:  # the alpha step's gates and the weight step's path
        trainer.method.gates = recorder.wrap(trainer.method.gates)
        trainer.method.path = recorder.wrap(trainer.method.path)
    return recorder


def paths_of(recorder):
    """SPOS: the sampled archs; DNAS: the (L, K) booleans of the candidates run, or the path trained."""
    return [r if isinstance(r, (list, tuple)) else r.run.tolist() for r in recorder.results]


def result(trainer, recorder):
    """What a finished run holds: its full state, the paths it ran, and which weights have no gradient."""
    return {"state": trainer.state_dict(), "paths": paths_of(recorder),
            "no_grad": sorted(k for k, p in trainer.supernet.named_parameters() if p.grad is None)}


def local_gradients_only(state, bucket):
    """A DDP communication hook that skips the all-reduce: each rank keeps its own gradient."""
    future = torch.futures.Future()
    future.set_result(bucket.buffer())
    return future


def worker(out: Path) -> None:
    """One rank of the 2-process run: trains, crashes and resumes, then saves its results to out/rank{r}.pt."""
    torch.set_num_threads(1)
    written = []
    save = checkpoint.save

    def recording_save(state, path):
        written.append(Path(path).name)
        save(state, path)

    checkpoint.save = recording_save
    results = {"written": written}
    for method in METHODS:  # a full run; a run that crashes in epoch 2, then resumes
        full = make_trainer(method, out / f"{method}-full.pt")
        recorder = record_paths(full)
        full.fit()
        results[method] = result(full, recorder)

        crashing = make_trainer(method, out / f"{method}-resumed.pt")
        record_paths(crashing, crash_after=CRASH_AFTER[method])
        with pytest.raises(KeyboardInterrupt):
            crashing.fit()
        results[method]["after_epoch_1"] = checkpoint.load(out / f"{method}-resumed.pt")
        resumed = make_trainer(method, out / f"{method}-resumed.pt")
        recorder = record_paths(resumed)
        resumed.fit(resume=True)
        results[method]["resumed"] = result(resumed, recorder)

    for name, (method, changes) in SHORT_RUNS.items():
        short = make_trainer(method, **changes)
        recorder = record_paths(short)
        short.fit()
        results[name] = short.state_dict()
        if name == "fbnet_cold":
            results["fbnet_cold_zero_gates"] = sum(int((g.weights == 0).sum()) for g in recorder.results)

    with pytest.raises(RuntimeError) as other_seeds:  # each rank its own seed: other paths and batches
        make_trainer("spos", seed=distributed.rank()).fit()
    results["other_seeds"] = str(other_seeds.value)
    unsynced = make_trainer("spos")
    unsynced.model.register_comm_hook(None, local_gradients_only)
    with pytest.raises(RuntimeError) as no_averaging:
        unsynced.fit()
    results["no_averaging"] = (str(no_averaging.value), unsynced.epoch)
    torch.save(results, out / f"rank{distributed.rank()}.pt")
    distributed.cleanup()


# -- the tests --------------------------------------------------------------------------------------

pytestmark = pytest.mark.usefixtures("one_thread")  # as in the ranks: the same ops then round alike


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Both ranks' results of one ``torchrun --nproc_per_node=2`` launch of :func:`worker`, and its folder."""
    out = tmp_path_factory.mktemp("two_ranks")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", __file__, str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return [torch.load(out / f"rank{r}.pt", weights_only=False) for r in range(2)], out


def one_process(method, halves=False, stop_after=None, **changes):
    """The same run in this process and its epoch records; ``halves`` runs BatchNorm per half batch."""
    trainer, records = make_trainer(method, **changes), []
    if halves:  # every forward (weight and alpha steps) normalises each half batch on its own
        forward = trainer.supernet.forward
        trainer.supernet.forward = lambda x, **kw: torch.cat([forward(h, **kw) for h in x.chunk(2)])
    for _ in range(stop_after or trainer.config.epochs):
        records.append(trainer.train_epoch())
        trainer.epoch += 1
    return trainer, records


def moved(state, trainer, start):
    """The distance from ``trainer``'s weights (and alpha) to ``state``'s, as a fraction of how far training moved them."""
    names = [name for name, _ in trainer.supernet.named_parameters()]
    end = torch.cat([p.detach().flatten() for p in trainer.supernet.parameters()])
    other = torch.cat([state["supernet"][name].flatten() for name in names])
    distances = {"weights": ((other - end).norm() / (end - start).norm()).item()}
    if "alpha" in state:
        distances["alpha"] = ((state["alpha"] - trainer.alpha.detach()).norm() / trainer.alpha.detach().norm()).item()
    return distances


def start_weights(method):
    return torch.cat([p.detach().flatten() for p in make_trainer(method).supernet.parameters()])


def assert_same(a, b, where="state"):
    """Exactly equal, tensors included; measured times and the global RNG states (unused by training) aside."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a.keys() - {"seconds", "images_per_s", "rng"}:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b)):
            assert_same(u, v, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("method", METHODS)
def test_two_ranks_hold_identical_weights_and_ran_the_same_paths(ranks, method):
    (rank0, rank1), _ = ranks
    assert_same(rank0[method]["state"], rank1[method]["state"])  # weights, BN statistics, alpha, optimizer, history
    assert rank0[method]["paths"] == rank1[method]["paths"]
    assert len(rank0[method]["paths"]) == {"spos": 12, "dnas": 24}[method]  # DNAS: alpha and weight step draws
    assert rank0[method]["no_grad"] == rank1[method]["no_grad"] != []  # unused candidates: grad None


@pytest.mark.parametrize("method", METHODS)
def test_two_ranks_equal_one_process_that_normalises_the_same_half_batches(ranks, method):
    (rank0, _), _ = ranks
    reference, records = one_process(method, halves=True)
    distances = moved(rank0[method]["state"], reference, start_weights(method))
    print(f"{method}: 2 ranks vs 1 process with BatchNorm per half batch: {distances}")
    assert all(d < 1e-5 for d in distances.values())  # bugs: 0.1 or more (see the module docstring)
    assert rank0[method]["no_grad"] == sorted(k for k, p in reference.supernet.named_parameters() if p.grad is None)
    losses = [e["train_loss"] for e in rank0[method]["state"]["log"]]
    assert losses == pytest.approx([e["train_loss"] for e in records], rel=1e-5)  # summed over the ranks


@pytest.mark.parametrize("method", METHODS)
def test_two_ranks_are_close_to_a_plain_single_process(ranks, method):
    """BatchNorm over the whole batch: a small difference after one epoch, well below a rank that averages nothing."""
    (rank0, _), _ = ranks
    reference, _ = one_process(method, stop_after=1)
    distances = moved(rank0[method]["after_epoch_1"], reference, start_weights(method))
    print(f"{method}: 2 ranks vs 1 process after one epoch: {distances}")
    assert distances["weights"] < 0.5  # measured 0.26 and 0.24; a rank that skips the averaging: 0.84 and 0.92
    assert distances.get("alpha", 0) < 0.18  # measured 0.13; skipping alpha's averaging: 0.22


@pytest.mark.parametrize("name", SHORT_RUNS)
def test_short_runs_average_like_one_process(ranks, name):
    """Fair: DDP averages after each of the K backward passes. Second order: the unrolled step averages too."""
    (rank0, rank1), _ = ranks
    assert_same(rank0[name], rank1[name])
    method, changes = SHORT_RUNS[name]
    reference, _ = one_process(method, halves=True, **changes)
    distances = moved(rank0[name], reference, start_weights(method))
    print(f"{name}: 2 ranks vs 1 process with BatchNorm per half batch: {distances}")
    # measured: second order 4e-8; fair 1.2e-4: rounding, amplified by two big steps (the K gradients add up:
    # in one process a 1e-7 relative nudge of the initial weights moves the result by 7e-3); bugs: 1 or more
    # fbnet_cold: alpha's gradient is divided by tau = 0.01, so its rounding differences grow 100-fold (9.5e-4)
    assert all(d < {"fair": 1e-3, "fbnet_cold": 1e-2}.get(name, 1e-5) for d in distances.values())


def test_fbnet_trains_under_ddp_when_its_gumbel_gates_underflow_to_zero(ranks):
    """Gates of exactly 0 used to mean "run detached": DDP then found unused weights and stopped the run."""
    (rank0, rank1), _ = ranks
    assert rank0["fbnet_cold_zero_gates"] == rank1["fbnet_cold_zero_gates"] > 0  # the gates did underflow
    assert rank0["fbnet_cold"]["epoch"] == 1  # and the epoch finished on both ranks (compared above)


def test_only_rank_0_writes_checkpoints(ranks):
    (rank0, rank1), out = ranks
    assert rank1["written"] == []
    assert Counter(rank0["written"]) == {f"{m}-{run}.pt": 3 for m in METHODS for run in ("full", "resumed")}
    assert checkpoint.load(out / "dnas-full.pt")["epoch"] == 3
    assert (out / "dnas-full.history.json").exists()


@pytest.mark.parametrize("method", METHODS)
def test_two_ranks_resume_exactly_from_their_checkpoint(ranks, method):
    (rank0, rank1), _ = ranks
    assert rank0[method]["after_epoch_1"]["epoch"] == 1  # the crash came inside epoch 2
    first_epoch = len(rank0[method]["paths"]) // 3
    for rank in (rank0, rank1):
        assert_same(rank[method]["resumed"]["state"], rank0[method]["state"])  # = the uninterrupted run
        assert rank[method]["resumed"]["paths"] == rank0[method]["paths"][first_epoch:]


def test_ranks_that_disagree_are_stopped(ranks):
    (rank0, rank1), _ = ranks
    for rank in (rank0, rank1):
        assert "disagree on the config, epoch, sampled paths and weights: rank(s) [1] differ from rank 0" \
            in rank["other_seeds"]
        message, epochs_done = rank["no_averaging"]
        assert "ranks disagree" in message and epochs_done == 1  # caught at the end of the first epoch


# -- the helpers in one process ----------------------------------------------------------------------

def test_helpers_do_nothing_in_one_process():
    module = torch.nn.Linear(2, 2)
    tensor = torch.tensor([1.0, 2.0])
    assert distributed.init("cpu") == torch.device("cpu") and not torch.distributed.is_initialized()
    assert (distributed.world_size(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.wrap(module, torch.device("cpu")) is module
    assert distributed.shard(tensor) is tensor and distributed.average(tensor) is tensor
    assert tensor.tolist() == [1.0, 2.0] and distributed.sum_over_ranks(1.5, 3) == [1.5, 3]
    distributed.check_same("anything", tensor)
    distributed.cleanup()


def test_shards_of_all_ranks_make_up_the_batch_once(monkeypatch):
    batch = torch.arange(12)
    monkeypatch.setattr(distributed, "world_size", lambda: 3)
    shards = []
    for r in range(3):
        monkeypatch.setattr(distributed, "rank", lambda: r)
        shards.append(distributed.shard(batch))
    assert [s.tolist() for s in shards] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    with pytest.raises(ValueError, match="a batch of 10 does not split evenly over 3 processes"):
        distributed.shard(torch.arange(10))
    with pytest.raises(ValueError, match="batch_size=64 does not split evenly over 3 processes; make it a multiple"):
        make_trainer("spos")


def test_under_torchrun_cuda_means_nccl_and_each_rank_its_own_gpu(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    calls = []  # instead of touching a GPU or joining a group
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(device))
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend: calls.append(backend))
    assert distributed.init("cuda") == torch.device("cuda", 1)
    assert distributed.init("cpu") == torch.device("cpu")
    assert calls == [torch.device("cuda", 1), "nccl", "gloo"]
    with pytest.raises(ValueError, match="under torchrun pass device='cuda', not 'cuda:0'"):
        distributed.init("cuda:0")


if __name__ == "__main__":  # a rank started by the fixture `ranks`
    worker(Path(sys.argv[1]))
