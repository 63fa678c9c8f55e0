import pytest
import torch

import nasedu as nd
from nasedu import data
from nasedu.training import TrainConfig, evaluate, parameter_groups, recalibrate_bn, train_standalone


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", val_size=300, seed=0)


def test_a_stand_alone_network_learns_digits(digits):
    space = nd.spaces.get("teaching")
    config = TrainConfig(epochs=4, batch_size=32, lr=0.05, progress=False)
    model, history = train_standalone(lambda: space.build("1313"), digits.train, digits.val, config)
    assert history[-1]["eval_acc"] > 85.0
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert evaluate(model, [digits.val])[1] == pytest.approx(history[-1]["eval_acc"])


def test_same_seed_same_model(digits):
    space = nd.spaces.get("teaching")
    config = TrainConfig(epochs=1, batch_size=64, progress=False, seed=3)
    a, _ = train_standalone(lambda: space.build("2020"), digits.train, digits.val, config)
    b, _ = train_standalone(lambda: space.build("2020"), digits.train, digits.val, config)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_evaluating_only_after_the_last_epoch_gives_the_same_model(digits):
    space = nd.spaces.get("teaching")
    every = TrainConfig(epochs=2, batch_size=64, progress=False, seed=1)
    last = TrainConfig(epochs=2, batch_size=64, progress=False, seed=1, eval_every_epoch=False)
    _, history_every = train_standalone(lambda: space.build("1020"), digits.train, digits.val, every)
    _, history_last = train_standalone(lambda: space.build("1020"), digits.train, digits.val, last)
    assert "eval_acc" in history_every[0] and "eval_acc" not in history_last[0]
    assert history_last[-1]["eval_acc"] == history_every[-1]["eval_acc"]


def test_no_weight_decay_on_batchnorm_and_biases():
    model = nd.spaces.get("teaching").build("3333")
    decay, no_decay = parameter_groups(model, 1e-4)
    assert decay["weight_decay"] == 1e-4 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() > 1 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_recalibration_recovers_the_true_statistics():
    bn = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    bn[0].running_mean.fill_(5.0)  # stale statistics, as inherited from a supernet
    x = torch.randn(400, 3, 4, 4) * 2.0 + 1.5
    batches = [(x[i:i + 100], None) for i in range(0, 400, 100)]
    recalibrate_bn(bn, bn, batches, num_batches=4)
    assert not bn.training and bn[0].momentum == 0.1
    torch.testing.assert_close(bn[0].running_mean, x.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(bn[0].running_var, x.var(dim=(0, 2, 3)), rtol=0.02, atol=0.02)
