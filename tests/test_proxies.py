"""Zero-cost proxies against values computed by hand on tiny networks."""

import math

import pytest
import torch
from torch import nn

from nasedu import proxies, spaces


def linear(weight, bias=False) -> nn.Linear:
    weight = torch.tensor(weight, dtype=torch.float32)
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias:
            layer.bias.zero_()
    return layer


def test_synflow_of_a_two_layer_linear_net_is_twice_its_positive_output():
    # |W1| = [[1, 2], [.5, 1], [1, 0]] maps ones(2) to [3, 1.5, 1]; |W2| = [1, 1, 2] gives R = 6.5.
    # R is linear in each layer's weights, so sum(theta * dR/dtheta) over one layer is R: 2 layers, 13.
    net = nn.Sequential(linear([[1, -2], [0.5, 1], [-1, 0]]), nn.ReLU(), linear([[1, -1, 2]]))
    before = [p.detach().clone() for p in net.parameters()]
    assert proxies.synflow(net, (2,)) == pytest.approx(13.0)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # signs and values kept


def test_naswot_is_the_log_determinant_of_the_agreement_kernel():
    # ReLU codes of the three inputs: [1, 1], [1, 0], [0, 0]; K = 2 - Hamming = [[2, 1, 0], [1, 2, 1], [0, 1, 2]]
    net = nn.Sequential(linear([[1, 0], [0, 1]]), nn.ReLU())
    x = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    assert proxies.naswot(net, x) == pytest.approx(math.log(4.0))  # det K = 2*3 - 1*2 = 4


def test_grad_norm_and_snip_match_the_cross_entropy_gradient_by_hand():
    # z = W x = [1, 2] for x = [1, 2], W = I; p = softmax(z); dL/dz = p - onehot(0); dL/dW = outer(dL/dz, x)
    net = linear([[1, 0], [0, 1]])
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    p1 = math.exp(2) / (math.exp(1) + math.exp(2))
    grad = [[-p1 * 1, -p1 * 2], [p1 * 1, p1 * 2]]  # p0 - 1 = -p1
    assert proxies.grad_norm(net, x, y) == pytest.approx(math.sqrt(sum(g * g for row in grad for g in row)), rel=1e-5)
    assert proxies.snip(net, x, y) == pytest.approx(abs(grad[0][0]) + abs(grad[1][1]), rel=1e-5)  # |W * g|, W = I
    assert net.weight.grad is None  # the caller's model keeps no gradient


def test_every_proxy_scores_teaching_archs_reproducibly_and_params_is_the_parameter_count():
    space = spaces.get("teaching")
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, *space.input_shape, generator=gen), torch.randint(0, 10, (8,), generator=gen)
    archs = [(0, 0, 0, 0), (3, 3, 3, 3)]
    for name in proxies.NAMES:
        first = proxies.score_space(space, name, x, y, seed=1, archs=archs)
        assert first == proxies.score_space(space, name, x, y, seed=1, archs=archs), name
        assert all(math.isfinite(v) for v in first.values()), name
    params = proxies.score_space(space, "params", archs=archs)
    assert params == {space.encode(a): float(sum(p.numel() for p in space.build(a).parameters())) for a in archs}
    seeds = [proxies.score(space, (1, 1, 1, 1), "snip", x, y, seed=s) for s in (0, 1)]
    assert seeds[0] != seeds[1]  # the seed sets the initial weights


def test_proxy_errors_say_what_to_pass():
    space = spaces.get("teaching")
    with pytest.raises(ValueError, match="unknown proxy 'zen'.*synflow"):
        proxies.score(space, (0, 0, 0, 0), "zen")
    with pytest.raises(ValueError, match="'snip' needs a batch: pass x and y"):
        proxies.score(space, (0, 0, 0, 0), "snip")
    with pytest.raises(ValueError, match="at least 2 images"):
        proxies.naswot(nn.ReLU(), torch.ones(1, 3))
    with pytest.raises(ValueError, match="ReLU modules"):
        proxies.naswot(nn.Identity(), torch.ones(2, 3))
