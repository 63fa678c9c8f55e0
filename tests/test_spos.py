import random

import pytest
import torch

import nasedu as nd
from nasedu import checkpoint, data, hardware, search, spos


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", val_size=300, seed=0)


def tiny_config(**changes):
    base = dict(epochs=2, batch_size=64, lr=0.1, progress=False, seed=0)
    base.update(changes)
    return spos.SPOSConfig(**base)


def weights_of(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


class CrashingSampler:
    """Wraps a sampler and raises after ``after`` samples, like a killed process."""

    def __init__(self, inner, after):
        self.inner, self.left = inner, after

    def sample(self):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt("simulated crash")
        return self.inner.sample()

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_resume_after_a_crash_gives_the_same_weights(digits, tmp_path):
    space = nd.spaces.get("teaching")
    path = tmp_path / "spos.pt"
    full = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(epochs=3))
    full.fit()

    crashing = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(epochs=3), checkpoint_path=path)
    steps_per_epoch = len(crashing.batches)
    crashing.sampler = CrashingSampler(crashing.sampler, after=steps_per_epoch + 3)  # dies inside epoch 2
    with pytest.raises(KeyboardInterrupt):
        crashing.fit()
    assert checkpoint.load(path)["epoch"] == 1

    torch.manual_seed(999)  # a different process state: resume must not depend on it
    resumed = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(epochs=3), checkpoint_path=path)
    history = resumed.fit(resume=True)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert_same_weights(weights_of(resumed.supernet), weights_of(full.supernet))
    assert history[-1]["train_loss"] == full.log[-1]["train_loss"]
    assert torch.equal(resumed.path_counts, full.path_counts)


def test_same_seed_same_result_other_seed_other_result(digits):
    space = nd.spaces.get("teaching")
    runs = [spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(epochs=1, seed=s)) for s in (0, 0, 1)]
    for run in runs:
        run.fit()
    assert_same_weights(weights_of(runs[0].supernet), weights_of(runs[1].supernet))
    assert not torch.equal(runs[0].supernet.head[-1].weight, runs[2].supernet.head[-1].weight)


def test_training_lowers_the_loss(digits):
    trainer = spos.SPOSTrainer(nd.Supernet(nd.spaces.get("teaching")), digits, tiny_config(epochs=8, batch_size=32))
    history = trainer.fit()
    assert history[-1]["train_loss"] < 0.75 * history[0]["train_loss"]
    assert history[-1]["lr"] == pytest.approx(0.0, abs=1e-9)  # cosine decays to zero


def test_fair_sampler_trains_every_candidate_equally_often(digits):
    trainer = spos.SPOSTrainer(nd.Supernet(nd.spaces.get("teaching")), digits, tiny_config(epochs=1, sampler="fair"))
    trainer.fit()
    steps = len(trainer.batches)
    assert torch.equal(trainer.path_counts, torch.full((4, 4), steps))


def test_uniform_sampler_is_roughly_uniform_but_not_exactly(digits):
    sampler = spos.UniformSampler(nd.spaces.get("teaching"), seed=0)
    counts = torch.zeros(4, 4)
    for _ in range(400):
        for i, a in enumerate(sampler.sample()[0]):
            counts[i, a] += 1
    assert (counts / 400 - 0.25).abs().max() < 0.08
    assert counts.unique().numel() > 1


def test_budget_sampler_keeps_every_path_within_budget():
    space = nd.spaces.get("teaching")
    macs = hardware.lookup_table(space, "macs")
    budget = (macs.min_cost() + macs.max_cost()) / 2
    sampler = spos.BudgetSampler(space, macs.cost, budget, seed=0)
    archs = [sampler.sample()[0] for _ in range(200)]
    assert all(macs.cost(a) <= budget for a in archs)
    assert len(set(archs)) > 50
    infeasible = spos.BudgetSampler(space, macs.cost, macs.min_cost() - 1, seed=0, max_tries=50)
    with pytest.raises(ValueError, match="no arch with cost <= .* in 50 uniform draws"):
        infeasible.sample()



def bin_shares(sampler, macs, edges, draws):
    """How often ``draws`` paths of ``sampler`` fall in each cost bin (np.histogram's ``edges``)."""
    import numpy as np

    costs = [macs.cost(sampler.sample()[0]) for _ in range(draws)]
    return costs, np.histogram(costs, bins=edges)[0] / draws


def test_bin_sampler_draws_every_cost_bin_equally_often_unlike_the_uniform_one():
    import numpy as np

    space = nd.spaces.get("teaching")
    macs = hardware.lookup_table(space, "macs")
    budget = macs.min_cost() + 0.6 * (macs.max_cost() - macs.min_cost())  # bins of 12, 30, 55 and 67 archs
    edges = np.linspace(macs.min_cost(), budget, 5)
    bins = spos.make_sampler(tiny_config(sampler="budget", max_cost=budget, budget_bins=4), space, macs.cost)
    assert isinstance(bins, spos.BinSampler) and bins.min_cost == macs.min_cost()
    costs, shares = bin_shares(bins, macs, edges, 4000)
    assert max(costs) <= budget
    assert shares == pytest.approx([0.25] * 4, abs=0.03)  # SPOS: each bin 1/num_bins
    uniform = spos.make_sampler(tiny_config(sampler="budget", max_cost=budget), space, macs.cost)
    assert type(uniform) is spos.BudgetSampler  # the default is unchanged
    costs, shares = bin_shares(uniform, macs, edges, 4000)
    assert max(costs) <= budget
    assert shares == pytest.approx([12 / 164, 30 / 164, 55 / 164, 67 / 164], abs=0.03)  # each arch 1/164


def test_bin_sampler_resumes_exactly_and_rejects_bad_settings():
    space = nd.spaces.get("teaching")
    macs = hardware.lookup_table(space, "macs")
    budget = (macs.min_cost() + macs.max_cost()) / 2
    sampler = spos.BinSampler(space, macs.cost, budget, num_bins=5, seed=0)
    [sampler.sample() for _ in range(10)]
    state = sampler.state_dict()
    later = [sampler.sample() for _ in range(50)]
    resumed = spos.BinSampler(space, macs.cost, budget, num_bins=5, seed=123)
    resumed.load_state_dict(state)
    assert [resumed.sample() for _ in range(50)] == later
    with pytest.raises(ValueError, match="budget_bins=4 needs sampler='budget', not 'uniform'"):
        spos.make_sampler(tiny_config(budget_bins=4), space, macs.cost)
    with pytest.raises(ValueError, match="num_bins must be a whole number of at least 1, got 0"):
        spos.BinSampler(space, macs.cost, budget, num_bins=0)
    with pytest.raises(ValueError, match="need min_cost < max_cost"):
        spos.BinSampler(space, macs.cost, macs.min_cost(), num_bins=3)
    mobile = nd.spaces.get("mobile")
    with pytest.raises(ValueError, match=r"too large to find its cheapest arch; .*SPOSConfig\(min_cost=...\)"):
        spos.BinSampler(mobile, lambda arch: 1.0, 2.0, num_bins=3)


def test_a_checkpoint_saved_before_the_bin_options_still_loads(digits, tmp_path):
    """Shipped checkpoints have no budget_bins or min_cost in their config; their None default matches."""
    space = nd.spaces.get("teaching")
    trainer = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(epochs=0))
    state = trainer.state_dict()
    del state["config"]["budget_bins"], state["config"]["min_cost"]
    checkpoint.save(state, tmp_path / "old.pt")
    loaded = spos.load_or_train(tmp_path / "old.pt", space, digits, tiny_config(epochs=0))
    assert loaded.config.budget_bins is None and type(loaded.sampler) is spos.UniformSampler

def test_bad_config_and_checkpoint_errors(digits, tmp_path):
    space = nd.spaces.get("teaching")
    with pytest.raises(ValueError, match="unknown sampler 'greedy'"):
        spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(sampler="greedy"))
    with pytest.raises(ValueError, match="'budget' sampler needs cost"):
        spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(sampler="budget"))
    with pytest.raises(ValueError, match=r"has images \(1, 28, 28\) but space 'nas-bench-macro' expects \(3, 32, 32\)"):
        spos.SPOSTrainer(nd.Supernet(nd.spaces.get("nas-bench-macro")), digits, tiny_config())
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint at all")
    trainer = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(), checkpoint_path=corrupt)
    with pytest.raises(ValueError, match="corrupt or not a nasedu checkpoint"):
        trainer.fit(resume=True)
    good = tmp_path / "good.pt"
    trainer.save_checkpoint(good)
    other = spos.SPOSTrainer(nd.Supernet(space), digits, tiny_config(lr=0.5))
    with pytest.raises(ValueError, match="made with another config: {'lr': \\(0.1, 0.5\\)}"):
        other.load_checkpoint(good)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        other.load_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    checkpoint.save({"epoch": 1}, path)

    def broken_save(obj, f):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save({"epoch": 2}, path)
    monkeypatch.undo()
    assert checkpoint.load(path) == {"epoch": 1}
    assert list(tmp_path.iterdir()) == [path]


def test_inherited_evaluator_caches_and_leaves_the_supernet_alone(digits):
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space)
    before = weights_of(supernet)
    score = spos.InheritedEvaluator(supernet, digits, calib_batches=2)
    first = score((1, 2, 3, 1))
    assert 0.0 <= first <= 100.0
    assert score("k3e1-k5e3-conv3-k3e1") == first and len(score.cache) == 1
    assert_same_weights(weights_of(supernet), before)  # BN statistics included
    with pytest.raises(ValueError, match="has 8 choices but space 'teaching' has 4 layers"):
        score("02012100")  # an arch of nas-bench-macro


def test_inherited_evaluator_scores_by_minus_the_validation_loss_on_request(digits):
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space, seed=0)
    arch = (1, 2, 3, 1)
    model = supernet.subnet(arch).eval()
    x, y = digits.val
    with torch.no_grad():
        expected = -torch.nn.functional.cross_entropy(model(x), y).item()
    score = spos.InheritedEvaluator(supernet, digits, recalibrate=False, score="loss")
    assert score(arch) == pytest.approx(expected, rel=1e-4)
    with pytest.raises(ValueError, match="score must be 'accuracy'.*or 'loss'.*got 'acc'"):
        spos.InheritedEvaluator(supernet, digits, score="acc")


def test_recalibration_helps_and_evolution_respects_the_budget():
    """A tiny real run: a few hundred SPOS steps on Fashion-MNIST (digits if it is absent)."""
    try:
        splits = data.load("fashion-mnist", train_size=6000, val_size=1000, test_size=100, seed=0)
    except FileNotFoundError:
        splits = data.load("digits", val_size=300, seed=0)
    space = nd.spaces.get("teaching")
    trainer = spos.SPOSTrainer(nd.Supernet(space), splits, tiny_config(epochs=4, batch_size=64, lr=0.2))
    trainer.fit()
    archs = random.Random(0).sample(list(space.enumerate()), 24)
    plain = spos.InheritedEvaluator(trainer.supernet, splits, recalibrate=False)
    recal = spos.InheritedEvaluator(trainer.supernet, splits, recalibrate=True, calib_batches=8)
    plain_mean = sum(map(plain, archs)) / len(archs)
    recal_mean = sum(map(recal, archs)) / len(archs)
    print(f"inherited accuracy without BN recalibration {plain_mean:.1f}%, with {recal_mean:.1f}%")
    assert recal_mean > plain_mean

    macs = hardware.lookup_table(space, "macs")
    budget = macs.min_cost() + 0.4 * (macs.max_cost() - macs.min_cost())
    result = search.evolution(space, recal, cost=macs.cost, max_cost=budget, population=10, top_k=4,
                              mutations=5, crossovers=5, generations=3, seed=0)
    assert macs.cost(result.best_arch) <= budget
    assert result.best_fitness == recal(result.best_arch)


def test_same_seed_same_supernet_whatever_ran_before(digits, tmp_path):
    """load_or_train seeds the supernet's initial weights with config.seed, not with whatever state torch was in."""
    space = nd.spaces.get("teaching")
    config = tiny_config(epochs=1, seed=5)
    torch.manual_seed(1)
    a = spos.load_or_train(tmp_path / "a.pt", space, digits, config)
    torch.manual_seed(2)
    b = spos.load_or_train(tmp_path / "b.pt", space, digits, config)
    assert_same_weights(weights_of(a.supernet), weights_of(b.supernet))
    c = spos.load_or_train(tmp_path / "c.pt", space, digits, tiny_config(epochs=1, seed=6))
    assert not torch.equal(a.supernet.stem[0].weight, c.supernet.stem[0].weight)
