"""Few-shot NAS: the split covers the space exactly once and starts from the one-shot weights."""

import collections

import pytest
import torch

from nasedu import data, fewshot, spaces
from nasedu.spos import InheritedEvaluator, SPOSConfig, SPOSTrainer
from nasedu.supernet import Supernet


@pytest.mark.parametrize("layer", [0, 2, 3])
def test_sub_supernets_together_cover_the_space_exactly_once(layer):
    space = spaces.get("teaching")
    parts = [fewshot.subspace(space, layer, k) for k in range(len(space.candidates[layer]))]
    covered = collections.Counter(part.readable(a) for part in parts for a in part.enumerate())
    assert set(covered) == {space.readable(a) for a in space.enumerate()}
    assert set(covered.values()) == {1}  # no arch in two sub-supernets
    for arch in space.enumerate():  # locate finds the part that holds it, under the same op names
        k, sub_arch = fewshot.locate(space, layer, arch)
        assert parts[k].readable(sub_arch) == space.readable(arch)


def test_split_supernets_start_as_the_one_shot_weights():
    space = spaces.get("teaching")
    supernet = Supernet(space, seed=0)
    x = torch.randn(16, *space.input_shape, generator=torch.Generator().manual_seed(1))
    supernet.train()
    supernet(x, arch=(1, 2, 3, 0))  # move the BN running statistics away from their defaults
    supernet.eval()
    subnets = fewshot.split(supernet, layer=1)
    assert len(subnets) == len(space.candidates[1])
    for arch in [(0, 0, 0, 0), (1, 2, 3, 0), (3, 1, 2, 2), (2, 3, 1, 3)]:
        k, sub_arch = fewshot.locate(space, 1, arch)
        subnets[k].eval()
        assert torch.equal(subnets[k](x, arch=sub_arch), supernet(x, arch=arch))
    own = dict(supernet.named_parameters())
    for k, sub in enumerate(subnets):
        for name, p in sub.named_parameters():
            source = name.replace("layers.1.0.", f"layers.1.{k}.")
            assert torch.equal(p, own[source]) and p.data_ptr() != own[source].data_ptr(), name  # a copy


def test_few_shot_evaluator_scores_each_arch_with_its_own_sub_supernet():
    space = spaces.get("teaching")
    splits = data.synthetic(space.input_shape, train_size=64, val_size=32, test_size=32)
    supernet = Supernet(space, seed=0)
    subnets = fewshot.split(supernet, layer=0)
    with torch.no_grad():  # break one sub-supernet: only the archs it holds may change their score
        for p in subnets[2].head.parameters():
            p.zero_()
    score = fewshot.FewShotEvaluator(space, subnets, 0, splits, recalibrate=False, calib_batches=1, batch_size=32)
    one_shot = InheritedEvaluator(supernet, splits, recalibrate=False, calib_batches=1, batch_size=32)
    for arch in [(0, 1, 2, 3), (1, 1, 1, 1), (3, 0, 0, 2)]:
        assert score(arch) == one_shot(arch)
    # a zero head gives equal logits: argmax picks class 0 for every image
    assert score((2, 1, 1, 1)) == pytest.approx(100.0 * float((splits.val[1] == 0).float().mean()))


def test_a_sub_supernet_trains_with_spos_on_its_part_of_the_space_only():
    space = spaces.get("teaching")
    splits = data.synthetic(space.input_shape, train_size=256, val_size=32, test_size=32)
    sub = fewshot.split(Supernet(space, seed=0), layer=2)[3]
    before = {n: p.detach().clone() for n, p in sub.named_parameters()}
    trainer = SPOSTrainer(sub, splits, SPOSConfig(epochs=1, batch_size=32, progress=False))
    trainer.fit()
    assert trainer.path_counts[2].tolist() == [8, 0, 0, 0]  # 8 steps, all through the one candidate it holds
    assert not torch.equal(before["layers.2.0.body.0.weight"], sub.layers[2][0].body[0].weight)


def test_few_shot_errors_name_the_valid_range():
    space = spaces.get("teaching")
    with pytest.raises(ValueError, match="layers 0..3; cannot split on layer 4"):
        fewshot.split(Supernet(space), 4)
    with pytest.raises(ValueError, match="candidates 0..3, not 7"):
        fewshot.subspace(space, 0, 7)
    splits = data.synthetic(space.input_shape, train_size=64, val_size=32, test_size=32)
    with pytest.raises(ValueError, match="4 candidates but 2 sub-supernets"):
        fewshot.FewShotEvaluator(space, fewshot.split(Supernet(space), 0)[:2], 0, splits)
