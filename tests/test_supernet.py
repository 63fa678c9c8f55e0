import random

import pytest
import torch

import nasedu as nd
from conftest import one_hot, randomise_bn


@pytest.mark.parametrize("name", nd.spaces.names())
def test_one_hot_mixture_equals_single_path_and_subnet(name):
    space = nd.spaces.get(name)
    supernet = nd.Supernet(space).eval()
    randomise_bn(supernet)
    x = torch.randn(2, *space.input_shape)
    rng = random.Random(0)
    for _ in range(3):
        arch = space.sample(rng)
        with torch.no_grad():
            path = supernet(x, arch=arch)
            mixed = supernet(x, weights=one_hot(space, arch))
            sub = supernet.subnet(arch).eval()(x)
        torch.testing.assert_close(mixed, path)
        torch.testing.assert_close(sub, path)


def test_different_paths_give_different_outputs():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space).eval()
    x = torch.randn(2, *space.input_shape)
    with torch.no_grad():
        assert not torch.allclose(supernet(x, arch=(1, 1, 1, 1)), supernet(x, arch=(2, 2, 2, 2)))


def test_mixture_is_the_weighted_sum_of_candidates():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space).eval()
    weights = torch.tensor([[0.5, 0.5, 0.0, 0.0]] + [[1.0, 0.0, 0.0, 0.0]] * 3)
    x = torch.randn(2, *space.input_shape)
    with torch.no_grad():
        h = supernet.stem(x)
        expected_first = 0.5 * supernet.layers[0][0](h) + 0.5 * supernet.layers[0][1](h)
        h = expected_first
        for i in range(1, 4):
            h = supernet.layers[i][0](h)
        expected = supernet.head(h)
        torch.testing.assert_close(supernet(x, weights=weights), expected)


def test_zero_weight_candidates_are_not_run():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space)
    calls = []
    for i, layer in enumerate(supernet.layers):
        for k, op in enumerate(layer):
            op.register_forward_hook(lambda m, inp, out, i=i, k=k: calls.append((i, k)))
    weights = one_hot(space, (3, 2, 1, 0))
    weights[1, 0] = 0.3
    supernet(torch.randn(2, *space.input_shape), weights=weights)
    assert sorted(calls) == [(0, 3), (1, 0), (1, 2), (2, 1), (3, 0)]


def test_gradients_reach_only_the_active_path():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space)
    arch = (1, 2, 3, 1)
    supernet(torch.randn(4, *space.input_shape), arch=arch).sum().backward()
    used = {id(p) for p in supernet.path_parameters(arch)}
    for p in supernet.parameters():
        assert (p.grad is not None) == (id(p) in used)


def test_subnet_is_independent_of_the_supernet():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space)
    sub = supernet.subnet((1, 1, 1, 1))
    assert sub.arch == (1, 1, 1, 1)
    assert nd.hardware.count_params(sub) == nd.hardware.count_params(space.build((1, 1, 1, 1)))
    for p in sub.parameters():
        p.data.zero_()
    assert any(p.abs().sum() > 0 for p in supernet.parameters())


def test_bad_forward_arguments():
    space = nd.spaces.get("teaching")
    supernet = nd.Supernet(space)
    x = torch.randn(2, *space.input_shape)
    with pytest.raises(ValueError, match="exactly one of arch"):
        supernet(x)
    with pytest.raises(ValueError, match=r"weights must have shape \(layers, candidates\) = \(4, 4\), got \(4, 3\)"):
        supernet(x, weights=torch.ones(4, 3))
    with pytest.raises(ValueError, match="layer 2 has all-zero weights"):
        w = torch.ones(4, 4)
        w[2] = 0
        supernet(x, weights=w)
    with pytest.raises(ValueError, match="out of range"):
        supernet(x, arch=(0, 0, 0, 4))
    with pytest.raises(ValueError, match="expects input of shape"):
        supernet(torch.randn(2, 3, 28, 28), arch=(0, 0, 0, 0))


def test_a_seed_fixes_the_initial_weights_and_leaves_the_global_generator_alone():
    space = nd.spaces.get("teaching")
    torch.manual_seed(1)
    a = nd.Supernet(space, seed=3)
    after_a = torch.rand(1)
    torch.manual_seed(1)
    after_nothing = torch.rand(1)
    torch.manual_seed(2)
    b = nd.Supernet(space, seed=3)
    c = nd.Supernet(space, seed=4)
    assert torch.equal(after_a, after_nothing)  # building with a seed drew nothing from the global generator
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
    assert not torch.equal(nd.Supernet(space).stem[0].weight, nd.Supernet(space).stem[0].weight)  # no seed: fresh
