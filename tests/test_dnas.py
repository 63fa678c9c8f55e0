import copy
import json
import math
import warnings

import pytest
import torch
from torch import nn
from torch.func import functional_call

import nasedu as nd
from nasedu import checkpoint, data, dnas, hardware, methods, relax
from nasedu.bench import saved_activation_bytes
from conftest import one_hot, randomise_bn


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", val_size=300, seed=0)


@pytest.fixture(scope="module")
def teaching():
    return nd.spaces.get("teaching")


@pytest.fixture(scope="module")
def macs(teaching):
    return hardware.lookup_table(teaching, "macs")


def config(**changes):
    base = dict(epochs=2, batch_size=64, lr=0.05, alpha_lr=0.05, progress=False, seed=0)
    base.update(changes)
    return dnas.DNASConfig(**base)


# -- relaxations ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("relaxation", dnas.RELAXATIONS)
def test_one_hot_alpha_gives_the_single_path(teaching, relaxation):
    supernet = nd.Supernet(teaching).eval()
    randomise_bn(supernet)
    x = torch.randn(3, *teaching.input_shape)
    for arch in [(0, 1, 2, 3), (3, 0, 1, 2), (2, 2, 0, 1)]:
        gates = methods.relax(one_hot(teaching, arch, 1e4), teaching, relaxation, temperature=5.0,
                              generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            mixed = supernet(x, **gates.forward_args())
            path = supernet(x, arch=arch)
        torch.testing.assert_close(mixed, path)


def test_sampled_paths_follow_softmax_alpha(teaching):
    """Gumbel-max (GDAS) and multinomial (ProxylessNAS) draws land on candidate k with probability softmax(alpha)_k."""
    alpha = torch.tensor([[2.0, 0.0, -1.0, 1.0]] * 4)
    expected = torch.softmax(alpha[0], 0)
    generator = torch.Generator().manual_seed(0)
    for relaxation in ("hard_gumbel", "binary"):
        counts = torch.zeros(4)
        for _ in range(500):
            active = methods.relax(alpha, teaching, relaxation, paths=1, generator=generator).run
            assert active.sum(1).tolist() == [1, 1, 1, 1]  # one candidate runs per layer
            counts += active.sum(0)
        torch.testing.assert_close(counts / 2000, expected, atol=0.03, rtol=0)
    for relaxation in ("hard_gumbel", "hard_gumbel_all_gates", "binary"):  # the path the weight step trains
        counts = torch.zeros(4)
        for _ in range(500):
            counts += nn.functional.one_hot(torch.tensor(methods.get(relaxation).path(
                alpha, teaching, generator=generator)), 4).sum(0)
        torch.testing.assert_close(counts / 2000, expected, atol=0.03, rtol=0)


def test_binary_gates_run_one_path_forward_and_two_for_the_gradient(teaching):
    alpha = torch.zeros(4, 4)
    drawn = methods.relax(alpha, teaching, "binary", paths=2, generator=torch.Generator().manual_seed(0))
    gates, active = drawn.weights, drawn.run
    assert active.sum(1).tolist() == [2, 2, 2, 2]
    assert sorted(gates[active].tolist()) == [0.0] * 4 + [1.0] * 4  # values: one path on, the other at 0
    assert bool((gates[~active] == 0).all())
    assert torch.equal(drawn.detached, active & (gates == 0))  # the path switched off runs detached
    torch.testing.assert_close(drawn.cost_probs, active * 0.5)  # priced on the pair: p' = 1/2 each at uniform


def test_low_gumbel_temperature_is_nearly_one_hot_high_is_nearly_uniform(teaching):
    alpha = torch.tensor([[1.0, 0.0, 0.5, -0.5]] * 4)
    generator = torch.Generator().manual_seed(0)
    cold = torch.stack([methods.relax(alpha, teaching, "gumbel", temperature=0.01, generator=generator).weights
                        for _ in range(100)])  # (100, L, K)
    hot = methods.relax(alpha, teaching, "gumbel", temperature=1000.0, generator=generator).weights
    assert cold.max(-1).values.mean() > 0.99
    torch.testing.assert_close(hot, torch.full((4, 4), 0.25), atol=0.01, rtol=0)


def test_temperature_schedules_of_fbnet_and_gdas():
    fbnet = dnas.preset("fbnet", epochs=12, warmup_epochs=2)
    assert dnas.temperature_at(fbnet, 0) == dnas.temperature_at(fbnet, 2) == 5.0  # held during warm-up
    assert dnas.temperature_at(fbnet, 5) == pytest.approx(5.0 * math.exp(-0.045 * 3))
    gdas = dnas.preset("gdas", epochs=11)
    assert [dnas.temperature_at(gdas, e) for e in (0, 5, 10)] == pytest.approx([10.0, 5.05, 0.1])
    assert dnas.temperature_at(dnas.preset("darts"), 3) == 1.0  # softmax has no temperature


# -- costs, losses, gradients --------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["params", "macs"])
def test_expected_cost_and_derived_cost_at_one_hot_equal_the_table(teaching, metric):
    table = hardware.lookup_table(teaching, metric)
    arch = (0, 3, 1, 2)
    alpha = one_hot(teaching, arch, 1e4)
    assert table.expected_cost(relax.probabilities(alpha, teaching)).item() == pytest.approx(table.cost(arch), rel=1e-6)
    derived = dnas.derive(alpha, teaching, table)
    assert derived.arch == arch and derived.ops == ("skip", "conv3", "k3e1", "k5e3")
    assert derived.cost == table.cost(arch) == derived.base_cost + sum(derived.layer_costs)
    assert derived.probs == (1.0, 1.0, 1.0, 1.0)


def test_hardware_loss_formulas():
    ce, cost = torch.tensor(2.0), torch.tensor(300.0)
    assert relax.AdditiveLoss(0.5, reference=200.0)(ce, cost).item() == pytest.approx(2.0 + 0.5 * 1.5)
    fbnet = relax.MultiplicativeLoss(0.2, 0.6, reference=300.0)  # the reference measures 25 units
    assert fbnet(ce, cost).item() == pytest.approx(2.0 * 0.2 * math.log(25.0) ** 0.6)
    assert fbnet.term(cost).item() == pytest.approx(0.2 * math.log(25.0) ** 0.6)  # the factor, as recorded
    hinge = relax.HingeLoss(4.0, budget=200.0)
    assert hinge(ce, cost).item() == pytest.approx(2.0 + 4.0 * 0.5)
    assert hinge(ce, torch.tensor(150.0)).item() == 2.0  # within budget: no penalty


@pytest.mark.parametrize("relaxation", dnas.RELAXATIONS)
def test_gradients_reach_alpha_through_task_and_hardware_loss(digits, teaching, macs, relaxation):
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, config(relaxation=relaxation, hardware_weight=2.0), macs)
    x, y = digits.val[0][:32].contiguous(memory_format=torch.channels_last), digits.val[1][:32]
    drawn = trainer.generator.get_state()
    total, task, cost = trainer.arch_loss(x, y)
    (task_grad,) = torch.autograd.grad(task, trainer.alpha, retain_graph=True)
    (hardware_grad,) = torch.autograd.grad(total - task, trainer.alpha)
    assert task_grad.abs().sum() > 0
    c, scale = macs.as_tensor(), 2.0 / trainer.hardware_loss.reference
    if relaxation != "softmax" and relaxation != "binary":  # the cost of the sample drawn, through the soft sample
        trainer.generator.set_state(drawn)
        tau = dnas.temperature_at(trainer.config, trainer.epoch)
        soft = methods.relax(trainer.alpha.detach(), teaching, "gumbel", tau, generator=trainer.generator).weights
        expected = scale / tau * soft * (c - (soft * c).sum(1, keepdim=True))
        sample = soft if relaxation == "gumbel" else nn.functional.one_hot(soft.argmax(1), 4).float()
        assert cost.item() == pytest.approx(macs.expected_cost(sample).item(), rel=1e-6)
    elif relaxation == "binary":  # ProxylessNAS: the cost under p' of the drawn pair (1/2 each), zero off the pair
        trainer.generator.set_state(drawn)
        pair = methods.relax(trainer.alpha.detach(), teaching, "binary", generator=trainer.generator).run.float()
        expected = scale * 0.5 * pair * (c - (0.5 * pair * c).sum(1, keepdim=True))
        assert cost.item() == pytest.approx(macs.expected_cost(0.5 * pair).item(), rel=1e-6)
    else:
        # d(lambda * E[c] / ref) / d alpha_ik = lambda / ref * p_ik * (c_ik - sum_j p_ij c_ij), at uniform p = 1/4
        expected = scale * 0.25 * (c - c.mean(1, keepdim=True))
        assert cost.item() == pytest.approx(trainer.hardware_loss.reference)  # the mean cost: E[c] at uniform alpha
    torch.testing.assert_close(hardware_grad, expected)


@pytest.mark.parametrize("loss", ["multiplicative", "hinge"])
def test_fbnet_and_hinge_losses_push_alpha_toward_cheap_ops(digits, teaching, macs, loss):
    budget = macs.min_cost() + 0.2 * (macs.max_cost() - macs.min_cost())  # below the start: the hinge is active
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits,
                               config(hardware_loss=loss, hardware_weight=1.0, budget=budget), macs)
    x, y = digits.val[0][:32].contiguous(memory_format=torch.channels_last), digits.val[1][:32]
    _, task, cost = trainer.arch_loss(x, y)
    (grad,) = torch.autograd.grad(trainer.hardware_loss(task.detach(), cost), trainer.alpha)  # through E[c] only
    c = macs.as_tensor()
    # a descent step raises the logits of cheaper-than-average ops and lowers the others
    assert torch.equal(torch.sign(-grad), torch.sign(c.mean(1, keepdim=True) - c))


def test_second_order_gradient_matches_the_exact_unrolled_gradient(digits, teaching, macs):
    """DARTS's finite difference against autograd's exact Hessian-vector product, in float64.

    ReLU's kinks make the gradient jump under tiny weight changes, so the oracle runs on a smooth
    copy of the supernet (Softplus instead of ReLU), where the finite difference must converge.
    """
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, config(second_order=True, channels_last=False,
                                                                      lr=0.5, grad_clip=0.0), macs)
    supernet = trainer.supernet.train()
    for module in list(supernet.modules()):
        for name, child in module.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(module, name, torch.nn.Softplus())
    supernet.double()
    trainer.alpha.data = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64) / 2
    xt, yt = digits.train[0][:8].double(), digits.train[1][:8]
    xv, yv = digits.val[0][:8].double(), digits.val[1][:8]
    before = {k: v.detach().clone() for k, v in supernet.named_parameters()}
    approx, _, _ = trainer.unrolled_alpha_grad(xv, yv, xt, yt)
    for k, v in supernet.named_parameters():
        assert torch.equal(v, before[k]), f"{k} was not restored"

    params = dict(supernet.named_parameters())

    def loss(p, x, y):  # the DARTS mixture, softmax(alpha), with the weights p
        weights = relax.probabilities(trainer.alpha, teaching)
        return torch.nn.functional.cross_entropy(functional_call(supernet, p, (x,), {"weights": weights}), y)

    step = torch.autograd.grad(loss(params, xt, yt), list(params.values()), create_graph=True)
    unrolled = {name: p - 0.5 * g for (name, p), g in zip(params.items(), step)}  # w' = w - xi * grad, xi = lr
    (exact,) = torch.autograd.grad(loss(unrolled, xv, yv), trainer.alpha)
    (first_order,) = torch.autograd.grad(loss(params, xv, yv), trainer.alpha)
    error = (approx - exact).norm() / exact.norm()
    first_order_error = (first_order - exact).norm() / exact.norm()
    print(f"relative error of the alpha gradient: second order {error:.1e}, first order {first_order_error:.2f}")
    assert error < 1e-3
    assert first_order_error > 0.1  # the unrolled step changes the answer


@pytest.mark.parametrize("relaxation", dnas.RELAXATIONS)
@pytest.mark.parametrize("loss", ["additive", "multiplicative", "hinge"])
def test_the_mixture_forward_and_its_loss_never_read_a_tensor_on_the_host(digits, teaching, macs, monkeypatch,
                                                                          relaxation, loss):
    """On a GPU each read (.item(), bool(t), float(t)) waits for the device; the masks are on the CPU instead.

    Before, a gate of exactly 0 meant "run detached", read with .item() for every candidate of every layer
    (84 reads per forward on the mobile space), and FBNet's loss read E[c] each step.
    """
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, config(relaxation=relaxation, hardware_loss=loss,
                                                                      hardware_weight=1.0, budget=4e5), macs)
    x, y = digits.val[0][:16].contiguous(memory_format=torch.channels_last), digits.val[1][:16]
    gates = trainer.gates(trainer.alpha)
    assert gates.run.device.type == gates.detached.device.type == "cpu"
    reads = []
    for name in ("item", "__bool__", "__float__", "__int__"):
        original = getattr(torch.Tensor, name)
        monkeypatch.setattr(torch.Tensor, name, lambda t, *a, _name=name, _f=original: reads.append(_name) or _f(t, *a))
    total, _, _ = trainer.arch_loss(x, y, gates)
    total.backward()
    monkeypatch.undo()
    assert reads == []


# -- memory ----------------------------------------------------------------------------------------------

def test_memory_light_mode_keeps_about_one_path_of_activations(teaching):
    supernet = nd.Supernet(teaching)
    x = torch.randn(32, *teaching.input_shape)
    alpha = torch.zeros(4, 4, requires_grad=True)
    generator = torch.Generator().manual_seed(0)

    def mixture_bytes(gates):
        return saved_activation_bytes(lambda: supernet(x, **gates.forward_args()).sum(), supernet)

    full = mixture_bytes(methods.relax(alpha, teaching, "softmax"))
    one, two = [], []
    for _ in range(20):
        gates = methods.relax(alpha, teaching, "binary", paths=1, generator=generator)
        arch = tuple(gates.run.float().argmax(1).tolist())
        path = saved_activation_bytes(lambda: supernet(x, arch=arch).sum(), supernet)
        one.append(mixture_bytes(gates))
        assert one[-1] <= 1.3 * path  # the sampled path's own activations, plus its gated output
        two.append(mixture_bytes(methods.relax(alpha, teaching, "binary", paths=2, generator=generator)))
    print(f"saved activations: full mixture {full / 2**20:.1f} MiB; one path {sum(one) / len(one) / full:.2f}x, "
          f"two paths {sum(two) / len(two) / full:.2f}x of it")
    assert sum(one) / len(one) <= 0.4 * full
    assert sum(one) < sum(two) and max(two) < full


# -- training --------------------------------------------------------------------------------------------

def weights_of(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.filterwarnings("ignore::nasedu.dnas.CollapseWarning")
def test_resume_after_a_crash_gives_the_same_weights_alpha_and_history(teaching, macs, tmp_path):
    digits = data.load("digits", train_size=640, val_size=300, seed=0)  # 10 steps per epoch
    settings = dict(epochs=3, warmup_epochs=1, relaxation="binary", paths=2, hardware_weight=0.3, record_every=4)
    path = tmp_path / "dnas.pt"
    full = dnas.DNASTrainer(nd.Supernet(teaching, seed=0), digits, config(**settings), macs)
    full.fit()

    crashing = dnas.DNASTrainer(nd.Supernet(teaching, seed=0), digits, config(**settings), macs, checkpoint_path=path)
    steps_per_epoch, step = len(crashing.batches), crashing.step

    def crash(x, y):
        if crashing.steps == steps_per_epoch + 5:  # dies inside epoch 2, the first search epoch
            raise KeyboardInterrupt("simulated crash")
        return step(x, y)

    crashing.step = crash
    with pytest.raises(KeyboardInterrupt):
        crashing.fit()
    assert checkpoint.load(path)["epoch"] == 1

    torch.manual_seed(999)  # a different process state: resume must not depend on it
    resumed = dnas.DNASTrainer(nd.Supernet(teaching, seed=0), digits, config(**settings), macs, checkpoint_path=path)
    history = resumed.fit(resume=True)
    assert [e["epoch"] for e in resumed.log] == [1, 2, 3]
    assert torch.equal(resumed.alpha, full.alpha) and not torch.equal(full.alpha, torch.zeros(4, 4))
    for k, v in weights_of(full.supernet).items():
        assert torch.equal(resumed.supernet.state_dict()[k], v), k
    assert history.as_dict() == full.history.as_dict()
    assert len(history) == 3 * steps_per_epoch // 4
    assert dnas.History.load(tmp_path / "dnas.history.json").as_dict() == history.as_dict()

    loaded = dnas.load_or_train(path, teaching, digits, table=macs)  # the saved config, no training
    assert torch.equal(loaded.alpha, full.alpha) and loaded.derive() == full.derive()
    with pytest.raises(ValueError, match=r"made with another config: {'alpha_lr': \(0.05, 0.1\)}"):
        dnas.DNASTrainer(nd.Supernet(teaching, seed=0), digits, config(**settings, alpha_lr=0.1), macs).load_checkpoint(path)


@pytest.mark.parametrize("method", list(dnas.PRESETS))
def test_every_method_runs_and_records_its_temperature(teaching, macs, method):
    small = data.load("digits", train_size=256, val_size=128, seed=0)  # 4 steps per epoch
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), small,
                               dnas.preset(method, epochs=3, warmup_epochs=1, batch_size=64, record_every=2,
                                           alpha_lr=0.01, progress=False), macs)
    history = trainer.fit()
    assert history.step == [2, 4, 6, 8, 10, 12]
    expected_tau = {"darts": [1.0] * 3, "proxylessnas": [1.0] * 3, "fbnet": [5.0, 5.0, 5.0 * math.exp(-0.045)],
                    "gdas": [10.0, 10.0, 0.1], "gdas_all_gates": [10.0, 10.0, 0.1]}[method]  # per epoch; warm-up holds the first value
    assert history.temperature == pytest.approx([t for t in expected_tau for _ in range(2)])
    assert history.probs[1] == [[0.25] * 4] * 4 != history.probs[-1]  # alpha moves only after warm-up
    assert [e["searching"] for e in trainer.log] == [False, True, True]


def test_history_format_and_json_round_trip(digits, teaching, macs, tmp_path):
    budget = 0.5 * (macs.min_cost() + macs.max_cost())
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits,
                               config(epochs=1, relaxation="binary", record_every=4, hardware_loss="hinge",
                                      hardware_weight=1.0, budget=budget), macs)
    history = trainer.fit().as_dict()
    assert set(history) == {"step", "probs", "entropy", "expected_cost", "task_loss", "hardware_loss",
                            "temperature", "op_names", "metric", "budget"}
    n = len(trainer.batches) // 4
    assert history["step"] == [4 * (i + 1) for i in range(n)]
    assert torch.tensor(history["probs"]).shape == (n, 4, 4)
    torch.testing.assert_close(torch.tensor(history["probs"], dtype=torch.float64).sum(-1),
                               torch.ones(n, 4, dtype=torch.float64))
    assert torch.tensor(history["entropy"]).shape == (n, 4)
    assert all(0 < h <= math.log(4) + 1e-9 for row in history["entropy"] for h in row)
    for key in ("expected_cost", "task_loss", "hardware_loss", "temperature"):
        assert len(history[key]) == n and all(isinstance(v, float) for v in history[key])
    assert history["op_names"] == [["skip", "k3e1", "k5e3", "conv3"]] * 4
    assert (history["metric"], history["budget"]) == ("macs", budget)

    trainer.history.save(tmp_path / "history.json")
    assert json.loads((tmp_path / "history.json").read_text()) == history
    assert dnas.History.load(tmp_path / "history.json").as_dict() == history
    damaged = dict(history, entropy=history["entropy"][:-1])
    with pytest.raises(ValueError, match=f"history has {n} steps but {n - 1} entries of 'entropy'"):
        dnas.History.from_dict(damaged)


def test_collapse_monitor_warns_when_skips_take_over_layer_after_layer(teaching):
    """In the teaching space layers 0 and 2 change the shape: their skip is a 1x1 conv + BN, not free."""
    monitor = dnas.CollapseMonitor(teaching, threshold=0.5, min_layers=2)
    skip_heavy, healthy = [0.7, 0.1, 0.1, 0.1], [0.1, 0.3, 0.3, 0.3]
    assert monitor.free[:, 0].tolist() == [False, True, False, True] and not monitor.free[:, 1:].any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert monitor.check(torch.tensor([skip_heavy, healthy, skip_heavy, healthy]), step=5) == []  # strided
        assert monitor.check(torch.tensor([healthy, skip_heavy, healthy, healthy]), step=10) == [1]  # one: quiet
    with pytest.warns(dnas.CollapseWarning, match=r"step 20: .* in 2 of 4 layers \[1, 3\]"):
        monitor.check(torch.tensor([healthy, skip_heavy, healthy, skip_heavy]), step=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.check(torch.tensor([skip_heavy] * 4), step=30)  # no news: quiet


def test_derived_arch_exports_to_json_and_builds(teaching, tmp_path):
    params = hardware.lookup_table(teaching, "params")
    alpha = torch.tensor([[0.0, 2.0, 1.0, 0.0], [3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 5.0, 0.0]])
    derived = dnas.derive(alpha, teaching, params)
    assert derived.readable == "k3e1-skip-conv3-k5e3" and teaching.decode(derived.readable) == derived.arch
    derived.save(tmp_path / "arch.json")
    exported = json.loads((tmp_path / "arch.json").read_text())
    assert [layer["op"] for layer in exported["layers"]] == ["k3e1", "skip", "conv3", "k5e3"]
    assert [layer["cost"] for layer in exported["layers"]] == [896.0, 0.0, 10464.0, 18096.0]
    assert dnas.DerivedArch.load(tmp_path / "arch.json") == derived
    model = teaching.build(derived.arch)
    assert hardware.count_params(model) == derived.cost


@pytest.fixture(scope="module")
def warm_supernet(teaching, macs):
    """A supernet after 2 weights-only epochs on digits, shared by the search runs below."""
    splits = data.load("digits", val_size=300, seed=0)
    torch.manual_seed(0)  # the same initial weights whichever test asks first
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), splits, config(epochs=2, warmup_epochs=2), macs)
    trainer.fit()
    assert torch.equal(trainer.alpha, torch.zeros(4, 4))  # warm-up leaves alpha alone
    return trainer.supernet


@pytest.mark.filterwarnings("ignore::nasedu.dnas.CollapseWarning")  # cost pressure favours skip, as asked
def test_a_larger_hardware_weight_gives_cheaper_archs(digits, teaching, macs, warm_supernet):
    costs = []
    for weight in (0.0, 0.3, 1.0, 3.0):
        trainer = dnas.DNASTrainer(copy.deepcopy(warm_supernet), digits, config(epochs=1, hardware_weight=weight), macs)
        trainer.fit()
        derived = trainer.derive()
        costs.append(derived.cost)
        print(f"lambda {weight}: {derived.readable} {derived.cost:,.0f} MACs, "
              f"train acc {trainer.log[-1]['train_acc']:.1f}%")
    assert costs == sorted(costs, reverse=True)
    assert costs[0] > 2 * costs[-1]


@pytest.mark.filterwarnings("ignore::nasedu.dnas.CollapseWarning")
def test_hinge_loss_lands_within_its_budget(digits, teaching, macs, warm_supernet):
    budget = macs.min_cost() + 0.3 * (macs.max_cost() - macs.min_cost())  # below the mean cost where search starts
    trainer = dnas.DNASTrainer(copy.deepcopy(warm_supernet), digits,
                               config(hardware_loss="hinge", hardware_weight=3.0, budget=budget), macs)
    history = trainer.fit()
    print(f"hinge: E[c] {history.expected_cost[0]:,.0f} -> {history.expected_cost[-1]:,.0f} MACs, budget {budget:,.0f}")
    assert history.expected_cost[0] > budget
    assert abs(history.expected_cost[-1] / budget - 1) < 0.03  # pushed to the budget, and no further
    assert trainer.derive().cost <= budget


# -- bad input -------------------------------------------------------------------------------------------

def test_bad_inputs_give_clear_errors(digits, teaching, macs):
    with pytest.raises(ValueError, match=r"alpha must have shape \(layers, candidates\) = \(4, 4\) for space "
                                         r"'teaching', got \(4, 3\)"):
        methods.relax(torch.zeros(4, 3), teaching)
    with pytest.raises(ValueError, match=r"= \(4, 4\) for space 'teaching', got \(8, 3\)"):
        dnas.DNASTrainer(nd.Supernet(teaching), digits, config(), macs, alpha=torch.zeros(8, 3))
    other = hardware.lookup_table(nd.spaces.get("nas-bench-macro"), "params")
    with pytest.raises(ValueError, match="table was made for space 'nas-bench-macro', not for 'teaching'"):
        dnas.DNASTrainer(nd.Supernet(teaching), digits, config(), other)
    with pytest.raises(ValueError, match="hardware_weight must be >= 0, got -0.1"):
        config(hardware_weight=-0.1)
    with pytest.raises(ValueError, match="lambda must be >= 0, got -1"):
        relax.AdditiveLoss(-1, reference=1.0)
    with pytest.raises(ValueError, match="temperature must be > 0, got -1.0"):
        config(relaxation="gumbel", temperature=-1.0)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        methods.relax(torch.zeros(4, 4), teaching, "gumbel", temperature=0)
    with pytest.raises(ValueError, match="unknown relaxation 'sparsemax'"):
        config(relaxation="sparsemax")
    with pytest.raises(ValueError, match=r"hinge loss needs a target: DNASConfig\(budget=...\)"):
        config(hardware_loss="hinge")
    with pytest.raises(ValueError, match="budget 1000 is below the cheapest arch"):
        dnas.DNASTrainer(nd.Supernet(teaching), digits, config(hardware_loss="hinge", budget=1000.0), macs)
    with pytest.raises(ValueError, match="second_order=True unrolls DARTS's softmax relaxation"):
        config(second_order=True, relaxation="binary")
    with pytest.raises(ValueError, match=r"paths must be 1 or 2, got 5"):
        methods.relax(torch.zeros(4, 4), teaching, "binary", paths=5)
    with pytest.raises(ValueError, match=r"paths=2 needs every layer to have that many candidates; one has 1"):
        one_choice = nd.SearchSpace("one", (1, 8, 8), 10, 8, 1, (nd.LayerSpec(8, 8, 1, ("skip",)),), 16)
        methods.relax(torch.zeros(1, 1), one_choice, "binary")


def test_same_seed_same_search_whatever_ran_before(digits, teaching, macs, tmp_path):
    """load_or_train seeds the supernet's initial weights with config.seed, not with torch's global state."""
    runs = []
    for global_seed, name in ((1, "a.pt"), (2, "b.pt")):
        torch.manual_seed(global_seed)
        runs.append(dnas.load_or_train(tmp_path / name, teaching, digits, config(epochs=1, seed=5), macs))
    a, b = runs
    assert torch.equal(a.alpha, b.alpha)
    for key, value in a.supernet.state_dict().items():
        assert torch.equal(value, b.supernet.state_dict()[key]), key


# -- faithful to the papers ------------------------------------------------------------------------------

@pytest.mark.parametrize("hardware_weight", [0.0, 1.0])
def test_proxylessnas_two_path_gradient_stays_on_the_pair_and_the_others_keep_their_probabilities(
        digits, teaching, macs, hardware_weight):
    """ProxylessNAS sec. 3.2.1: the gradient reaches only the two sampled logits, and after the rescaling
    the candidates outside the pair keep exactly the probabilities they had, with the hardware loss on
    too (its cost is priced under the pair's renormalised probabilities)."""
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, dnas.preset(
        "proxylessnas", hardware_weight=hardware_weight, alpha_lr=0.05, progress=False), macs)
    trainer.alpha.data = torch.randn(4, 4, generator=torch.Generator().manual_seed(1))
    x, y = digits.val[0][:32].contiguous(memory_format=torch.channels_last), digits.val[1][:32]
    for _ in range(5):
        gates = trainer.gates(trainer.alpha)
        active = gates.run
        assert active.sum(1).tolist() == [2, 2, 2, 2] and gates.weights.sum(1).tolist() == [1.0] * 4
        total, _, _ = trainer.arch_loss(x, y, gates)
        (grad,) = torch.autograd.grad(total, trainer.alpha)
        assert bool((grad[~active] == 0).all()) and bool((grad[active] != 0).any())
        # the pair's two gradients cancel: the gradient of a softmax over two logits sums to 0
        torch.testing.assert_close(grad.sum(1), torch.zeros(4), atol=1e-6, rtol=0)

        before = relax.probabilities(trainer.alpha.detach(), teaching)
        generator_state = trainer.generator.get_state()
        drawn = trainer.gates(trainer.alpha).run  # the pair the step below draws
        trainer.generator.set_state(generator_state)
        trainer.alpha_step(x, y, x, y)
        after = relax.probabilities(trainer.alpha.detach(), teaching)
        assert (after[~drawn] - before[~drawn]).abs().max() <= 1e-6
        assert not torch.allclose(after[drawn], before[drawn])  # the pair moved


def test_rescale_pair_keeps_the_logsumexp_of_the_pair():
    before = torch.tensor([[0.0, 1.0, -1.0, 2.0]])
    alpha = before + torch.tensor([[0.5, -0.3, 0.0, 0.0]])  # a step moved candidates 0 and 1
    active = torch.tensor([[True, True, False, False]])
    relax.rescale_pair(alpha, before, active)
    assert torch.logsumexp(alpha[active], 0) == pytest.approx(torch.logsumexp(before[active], 0).item())
    assert alpha[0, 2:].tolist() == [-1.0, 2.0]
    assert (alpha[0, 0] - alpha[0, 1]).item() == pytest.approx(-1.0 + 0.8)  # the step's effect within the pair stays


def test_proxylessnas_trains_the_weights_on_one_sampled_path(digits, teaching):
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, dnas.preset("proxylessnas", progress=False))
    x, y = next(iter(trainer.batches))
    trainer.weight_step(x, y)
    for layer in trainer.supernet.layers:
        trained = [k for k, op in enumerate(layer) if any(p.grad is not None for p in op.parameters())]
        assert len(trained) <= 1  # one candidate (none if it is a parameter-free skip)


def test_gdas_trains_the_weights_on_the_path_its_gumbel_sample_picks(digits, teaching):
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, dnas.preset("gdas", progress=False))
    x, y = next(iter(trainer.batches))
    trainer.weight_step(x, y)
    assert all(sum(any(p.grad is not None for p in op.parameters()) for op in layer) <= 1
               for layer in trainer.supernet.layers)


@pytest.mark.parametrize("method, lr, betas, weight_decay, schedule", [
    ("darts", 3e-4, (0.5, 0.999), 1e-3, "constant"),
    ("fbnet", 1e-2, (0.9, 0.999), 5e-4, "exponential"),
    ("gdas", 3e-4, (0.5, 0.999), 1e-3, "linear"),
    ("proxylessnas", 1e-3, (0.0, 0.999), 0.0, "constant"),
])
def test_each_preset_has_its_papers_alpha_optimiser(digits, teaching, method, lr, betas, weight_decay, schedule):
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, dnas.preset(method, epochs=11, progress=False))
    group = trainer.alpha_optimizer.param_groups[0]
    assert isinstance(trainer.alpha_optimizer, torch.optim.Adam)
    assert (group["lr"], tuple(group["betas"]), group["weight_decay"]) == (lr, betas, weight_decay)
    taus = [dnas.temperature_at(trainer.config, e) for e in range(11)]
    if schedule == "constant":
        assert taus == [1.0] * 11
    elif schedule == "exponential":  # FBNet: one warm-up epoch (10 of 90 in the paper), then 5.0 x exp(-0.045)
        assert trainer.config.warmup_epochs == 1 and dnas.preset(method, epochs=90).warmup_epochs == 10
        assert taus == pytest.approx([5.0] + [5.0 * math.exp(-0.045 * e) for e in range(10)])
    else:  # GDAS: 10 down to 0.1, linearly
        assert taus[0] == 10.0 and taus[-1] == pytest.approx(0.1) and taus == sorted(taus, reverse=True)
    assert dnas.preset(method, alpha_lr=0.5).alpha_lr == 0.5  # changes go on top


def test_the_multiplicative_loss_records_its_factor(digits, teaching, macs):
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), digits, dnas.preset("fbnet", epochs=1, record_every=2,
                                                                        progress=False), macs)
    history = trainer.fit()
    factors = [trainer.hardware_loss.term(torch.tensor(c)).item() for c in history.expected_cost]
    assert all(h > 0 for h in history.hardware_loss)  # a factor, not 'total minus CE' (negative below 1)
    # recorded on the Gumbel sample's cost, close to the factor of the expected cost
    assert history.hardware_loss == pytest.approx(factors, rel=0.1)


@pytest.mark.parametrize("relaxation", dnas.RELAXATIONS)
def test_alpha_finds_the_only_candidates_that_fit_a_toy_target(teaching, relaxation):
    """The alpha gradient of every relaxation, on a toy with a known answer.

    Two layers of four fixed linear maps each; the target was made by path (2, 1). Only that
    path fits, so gradient descent on alpha alone must put >= 90% of each layer's probability
    on it within a few hundred steps.
    """
    generator = torch.Generator().manual_seed(0)
    maps = torch.linalg.qr(torch.randn(2, 4, 8, 8, generator=generator))[0]  # (layer, candidate, 8, 8) rotations
    toy = nd.SearchSpace("toy", (1, 8, 8), 10, 8, 1, tuple(nd.LayerSpec(8, 8, 1, teaching.candidates[0])
                                                              for _ in range(2)), 16)
    alpha = torch.zeros(2, 4, requires_grad=True)
    optimizer = torch.optim.Adam([alpha], lr=0.2, betas=(0.0, 0.999))  # ProxylessNAS's betas: no momentum
    for step in range(300):
        x = torch.randn(64, 8, generator=generator)
        target = x @ maps[0, 2].T @ maps[1, 1].T
        tau = 5.0 * (0.1 / 5.0) ** (step / 299)  # anneal the Gumbel temperature from 5 to 0.1
        drawn = methods.relax(alpha, toy, relaxation, temperature=tau, generator=generator)
        gates, active, detached = drawn.weights, drawn.run, drawn.detached
        h = x
        for layer in range(2):  # the gated sum of the candidates that run, some of them detached
            h = sum(gates[layer, k] * ((h @ maps[layer, k].T).detach() if detached[layer, k] else h @ maps[layer, k].T)
                    for k in range(4) if active[layer, k])
        loss = ((h - target) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        before = alpha.detach().clone()
        optimizer.step()
        methods.get(relaxation).after_alpha_step(alpha.data, before, drawn)
    probs = relax.probabilities(alpha.detach(), toy)
    assert probs.argmax(1).tolist() == [2, 1]
    assert probs.max(1).values.min() >= 0.9, probs


def test_a_fair_step_is_the_sum_of_the_k_single_path_gradients(digits):
    """FairNAS (Chu et al. 2021, Alg. 1): the K paths' gradients add up into one update."""
    space = nd.spaces.get("teaching")
    trainer = nd.spos.SPOSTrainer(nd.Supernet(space, seed=0), digits, nd.spos.SPOSConfig(sampler="fair",
                                                                                         progress=False))
    x, y = next(iter(trainer.batches))
    paths = trainer.sampler.sample()
    assert len(paths) == 4
    trainer.backward(x, y, paths)
    fair = {name: p.grad.clone() for name, p in trainer.supernet.named_parameters() if p.grad is not None}
    total = {}
    for arch in paths:
        trainer.backward(x, y, [arch])
        for name, p in trainer.supernet.named_parameters():
            if p.grad is not None:
                total[name] = total.get(name, 0) + p.grad
    assert fair.keys() == total.keys()
    for name in fair:
        torch.testing.assert_close(fair[name], total[name], rtol=1e-5, atol=1e-7)  # a sum, not the mean


def test_perturbation_selection_finds_the_only_trained_path(digits, teaching, macs):
    """Wang et al. 2021 on a known answer: only the candidates of path (1, 2, 3, 1) were trained, so
    removing them from a uniform mixture costs the most accuracy, though alpha is flat."""
    trainer = nd.spos.SPOSTrainer(nd.Supernet(teaching, seed=0), digits,
                                  nd.spos.SPOSConfig(epochs=3, batch_size=64, progress=False))
    trainer.sampler.sample = lambda: [(1, 2, 3, 1)]
    trainer.fit()
    val = data.Batches(*digits.val, 100, shuffle=False, channels_last=True)
    arch, drops = dnas.perturbation_select(trainer.supernet, torch.zeros(4, 4), val)
    assert arch == (1, 2, 3, 1)
    assert all(row[a] == max(row) and row[a] > 5 for row, a in zip(drops, arch))  # points of accuracy lost
    assert dnas.derive(torch.zeros(4, 4), teaching, macs).arch == (0, 0, 0, 0)  # argmax of a tie: by position


def test_on_epoch_runs_after_every_epoch_and_its_notes_are_saved(teaching, macs, tmp_path):
    small = data.load("digits", train_size=256, val_size=128, seed=0)
    trainer = dnas.DNASTrainer(nd.Supernet(teaching), small, config(epochs=2), macs, checkpoint_path=tmp_path / "r.pt")
    trainer.fit(on_epoch=lambda t: t.log[-1].update(note=f"after epoch {t.epoch}"))
    assert [e["note"] for e in trainer.log] == ["after epoch 1", "after epoch 2"]
    assert [e["note"] for e in checkpoint.load(tmp_path / "r.pt")["log"]] == ["after epoch 1", "after epoch 2"]


def test_derive_within_a_budget_gives_the_most_probable_feasible_arch(teaching, macs):
    alpha = torch.randn(4, 4, generator=torch.Generator().manual_seed(3))
    free = dnas.derive(alpha, teaching, macs)
    budget = 0.8 * free.cost
    within = dnas.derive(alpha, teaching, macs, max_cost=budget)
    log_p = relax.probabilities(alpha, teaching).log()
    feasible = [a for a in teaching.enumerate() if macs.cost(a) <= budget]
    best = max(feasible, key=lambda a: sum(log_p[i, k].item() for i, k in enumerate(a)))  # brute force
    assert within.arch == best and within.cost <= budget < free.cost
    assert dnas.derive(alpha, teaching, macs, max_cost=free.cost).arch == free.arch  # argmax already fits
    with pytest.raises(ValueError, match="no arch of 'teaching' costs at most 1000 macs; the cheapest costs 140160"):
        dnas.derive(alpha, teaching, macs, max_cost=1000.0)
