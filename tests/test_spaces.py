import random

import pytest
import torch

import nasedu as nd
from nasedu import ops
from nasedu.spaces import LayerSpec, SearchSpace


@pytest.mark.parametrize("name", nd.spaces.names())
def test_codec_round_trips(name):
    space = nd.spaces.get(name)
    rng = random.Random(1)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.decode(space.encode(arch)) == arch
        assert space.decode(space.readable(arch)) == arch
        assert space.readable(arch).split("-")[0] in space.candidates[0]


def test_nas_bench_macro_matches_published_layout():
    space = nd.spaces.get("nas-bench-macro")
    assert space.num_layers == 8 and space.num_archs == 3**8
    assert space.decode("02012100") == (0, 2, 0, 1, 2, 1, 0, 0)
    assert space.encode((0, 2, 0, 1, 2, 1, 0, 0)) == "02012100"
    assert space.readable("02012100") == "skip-k5e6-skip-k3e3-k5e6-k3e3-skip-skip"
    assert [layer.stride for layer in space.layers] == [2, 1, 2, 1, 1, 2, 1, 1]
    assert [layer.out_channels for layer in space.layers] == [64, 64, 128, 128, 128, 256, 256, 256]


def test_teaching_is_enumerable_and_mobile_is_not():
    teaching = nd.spaces.get("teaching")
    archs = list(teaching.enumerate())
    assert len(archs) == teaching.num_archs <= 300
    assert len(set(archs)) == len(archs)
    mobile = nd.spaces.get("mobile")
    assert set(mobile.op_names) == {"skip", "k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6"}
    with pytest.raises(ValueError, match="too many to enumerate"):
        mobile.enumerate()


def test_sample_is_seeded():
    space = nd.spaces.get("mobile")
    assert space.sample(3) == space.sample(3)
    assert [space.sample(random.Random(s)) for s in range(5)] != [space.sample(random.Random(s + 5)) for s in range(5)]


def test_sample_is_uniform_per_layer():
    space = nd.spaces.get("teaching")
    rng = random.Random(0)
    counts = torch.zeros(space.num_layers, 4)
    for _ in range(4000):
        for i, a in enumerate(space.sample(rng)):
            counts[i, a] += 1
    assert (counts / 4000 - 0.25).abs().max() < 0.03


@pytest.mark.parametrize("name", nd.spaces.names())
def test_build_gives_logits(name):
    space = nd.spaces.get(name)
    model = space.build(space.sample(0)).eval()
    out = model(torch.randn(2, *space.input_shape))
    assert out.shape == (2, space.num_classes)


def test_custom_space_in_a_few_lines():
    tiny = SearchSpace(
        name="tiny", input_shape=(1, 28, 28), num_classes=10, stem_channels=8, stem_stride=2,
        layers=(LayerSpec(8, 16, 2, ("skip", "k3e3")), LayerSpec(16, 16, 1, ("skip", "k3e3", "k5e6"))),
        head_channels=32)
    assert tiny.num_archs == 6
    assert sorted(tiny.enumerate()) == [(a, b) for a in range(2) for b in range(3)]
    assert tiny.max_choices == 3
    assert tiny.build("12")(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="layer 0 cannot be 'k5e6'"):
        tiny.decode("k5e6-skip")


def test_custom_op_registration():
    name = "test_avgpool"
    if name not in ops.names():
        ops.register(name, lambda c_in, c_out, s: torch.nn.Sequential(
            torch.nn.AvgPool2d(3, s, 1), torch.nn.Conv2d(c_in, c_out, 1)))
    space = SearchSpace("pooling", (1, 28, 28), 10, 8, 2, (LayerSpec(8, 8, 1, ("skip", name)),), 16)
    assert space.build((1,))(torch.randn(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(ValueError, match="already registered"):
        ops.register(name, lambda *a: None)


def test_bad_input_messages():
    space = nd.spaces.get("nas-bench-macro")
    with pytest.raises(KeyError, match=r"unknown space 'cifar'.*nas-bench-macro"):
        nd.spaces.get("cifar")
    with pytest.raises(KeyError, match=r"unknown op 'k9e9'.*registered ops are"):
        ops.build("k9e9", 8, 8, 1)
    with pytest.raises(KeyError, match="unknown op 'sep3'"):
        SearchSpace("bad", (1, 28, 28), 10, 8, 1, (LayerSpec(8, 8, 1, ("sep3",)),), 16)
    with pytest.raises(ValueError, match="has 7 choices but space 'nas-bench-macro' has 8 layers"):
        space.decode("0201210")
    with pytest.raises(ValueError, match=r"choice 3 at layer 1 is out of range; .* allows 0..2"):
        space.decode("03012100")
    with pytest.raises(ValueError, match="neither digits"):
        space.decode("0201x100")
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 3, 32, 32\), got \(2, 1, 28, 28\)"):
        space.build("00000000")(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="layer 1 expects 16 input channels but the layer before it gives 8"):
        SearchSpace("bad", (1, 28, 28), 10, 8, 1, (LayerSpec(8, 8, 1, ("skip",)), LayerSpec(16, 8, 1, ("skip",))), 16)


def test_check_splits_names_the_dataset_and_the_space():
    from types import SimpleNamespace

    digits = SimpleNamespace(name="digits", input_shape=(1, 28, 28))
    nd.spaces.check_splits(nd.spaces.get("teaching"), digits)  # a matching pair passes
    with pytest.raises(ValueError, match=r"^dataset 'digits' has images \(1, 28, 28\) but space 'nas-bench-macro' "
                                         r"expects \(3, 32, 32\); pick a matching pair$"):
        nd.spaces.check_splits(nd.spaces.get("nas-bench-macro"), digits)
