"""The PyTorch bridge: to_torch and from_torch keep weights and outputs, autograd_check judges
backprop against torch autograd and names the same suspects as the numeric checker.

Skipped as a whole when torch is not installed (pip install ".[torch]").
"""

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from planted import BUGS, DenseTimes2, mlp
from randnets import random_net

import minnet as mn
from minnet import bridge

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def make_model(p=0.3, l2=0.0):
    """Every fully connected layer the bridge knows, with weights and statistics that are not
    the defaults."""
    model = mn.Model([mn.Dense(4, 8, seed=0), mn.BatchNorm(8, momentum=0.8, eps=1e-3),
                      mn.LeakyReLU(0.2), mn.Dropout(p, seed=1), mn.Dense(8, 6, seed=2),
                      mn.Sigmoid(), mn.Dense(6, 5, seed=3), mn.Tanh(), mn.Dense(5, 5, seed=4),
                      mn.ReLU(), mn.Dense(5, 3, seed=5)], loss=mn.SoftmaxCE(), l2=l2)
    rng = np.random.default_rng(7)
    for p_ in model.parameters():
        p_[...] = rng.standard_normal(p_.shape)
    bn = model.layers[1]
    bn.running_mean[...] = rng.standard_normal(8)
    bn.running_var[...] = rng.uniform(0.5, 2.0, 8)
    return model


def randomized(model):
    """The model with every parameter drawn from N(0, 1): no zero bias, no unit gamma."""
    rng = np.random.default_rng(7)
    for p in model.parameters():
        p[...] = rng.standard_normal(p.shape)
    return model


def conv_net():
    """x (N, 1, 8, 8) -> conv (4, 8, 8) -> pool (4, 4, 4) -> 64 -> 3."""
    return randomized(mn.Model([mn.Conv2D(1, 4, 3, padding=1, seed=0), mn.ReLU(),
                                mn.MaxPool2D(2), mn.Flatten(), mn.Dense(64, 3, seed=1)],
                               loss=mn.SoftmaxCE()))


def strided_net():
    """x (N, 2, 9, 9) -> conv stride 2 (3, 5, 5) -> LayerNorm over the rows -> overlapping
    pool (3, 3, 3) -> 27 -> 3, with the hinge loss."""
    return randomized(mn.Model([mn.Conv2D(2, 3, 5, stride=2, padding=2, seed=0), mn.Tanh(),
                                mn.LayerNorm(5, eps=1e-3), mn.MaxPool2D(3, stride=1),
                                mn.Flatten(), mn.Dense(27, 3, seed=1)],
                               loss=mn.SVMLoss(margin=0.5)))


def layernorm_net():
    return randomized(mn.Model([mn.Dense(4, 6, seed=0), mn.LayerNorm(6, eps=1e-3), mn.Tanh(),
                                mn.Dense(6, 3, seed=1)], loss=mn.SoftmaxCE()))


NETS = {"conv": (conv_net, (1, 8, 8)), "strided conv": (strided_net, (2, 9, 9)),
        "layernorm": (layernorm_net, (4,))}


def data(n=16, seed=0, shape=(4,)):
    rng = np.random.default_rng(seed)
    return 2 * rng.standard_normal((n, *shape)), rng.integers(0, 3, n)


def torch_out(net, X):
    with torch.no_grad():
        return net(torch.from_numpy(X)).numpy()


def arrays(model):
    """Every parameter and state array of a model, by name."""
    found = dict(model.named_parameters())
    found.update({f"{i}.{k}": v for i, layer in enumerate(model.layers)
                  for k, v in layer.state().items()})
    return found


def snapshot(model):
    """Parameters, gradients, state, flags and random state: what a check must not change."""
    snap = {k: v.copy() for k, v in arrays(model).items()}
    snap.update({f"{i}.grad.{k}": g.copy() for i, layer in enumerate(model.layers)
                 for k, g in layer.grads.items()})
    for i, layer in enumerate(model.layers):
        snap[f"{i}.training"] = layer.training
        snap[f"{i}.frozen"] = layer.frozen
        if isinstance(layer, mn.Dropout):
            snap[f"{i}.rng"] = layer.rng.bit_generator.state
    return snap


def assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert_array_equal(a[k], b[k], err_msg=k)
            assert a[k].dtype == b[k].dtype, k
        else:
            assert a[k] == b[k], k


# ---- to_torch ------------------------------------------------------------------------------


def test_to_torch_maps_each_layer_to_its_module_with_w_transposed():
    model = make_model()
    net = bridge.to_torch(model)
    nn = torch.nn
    assert [type(m) for m in net] == [nn.Linear, nn.BatchNorm1d, nn.LeakyReLU, nn.Dropout,
                                      nn.Linear, nn.Sigmoid, nn.Linear, nn.Tanh, nn.Linear,
                                      nn.ReLU, nn.Linear]
    assert_array_equal(net[0].weight.detach().numpy(), model.layers[0].params["W"].T)
    assert_array_equal(net[0].bias.detach().numpy(), model.layers[0].params["b"])
    assert net[0].weight.dtype == torch.float64
    assert net[2].negative_slope == 0.2 and net[3].p == 0.3
    bn = net[1]
    assert bn.momentum == pytest.approx(0.2) and bn.eps == 1e-3  # torch weighs the new batch
    assert_array_equal(bn.running_mean.numpy(), model.layers[1].running_mean)
    assert_array_equal(bn.running_var.numpy(), model.layers[1].running_var)


def test_to_torch_outputs_equal_in_eval_mode():
    model = make_model().eval()
    net = bridge.to_torch(model)
    assert not any(m.training for m in net.modules())
    X, _ = data(seed=1)
    assert_allclose(torch_out(net, X), model.forward(X), rtol=1e-12, atol=1e-12)


def test_to_torch_outputs_equal_in_training_mode_with_batch_statistics():
    model = make_model(p=0.0)  # dropout aside: its masks are random on both sides
    net = bridge.to_torch(model, mode="train")
    assert all(m.training for m in net.modules())
    X, _ = data(seed=2)
    assert_allclose(torch_out(net, X), model.forward(X), rtol=1e-12, atol=1e-12)


def trained(p=0.3):
    """make_model after a few epochs of fit: left in training mode, as fit leaves a model."""
    model = make_model(p=p)
    X, y = data(n=64, seed=11)
    model.fit(X, y, epochs=3, batch_size=16, optimizer=mn.Adam(1e-2), progress=False)
    assert all(layer.training for layer in model.layers)
    return model, X


def test_to_torch_gives_eval_mode_by_default_so_the_net_predicts_as_the_model_does():
    model, X = trained()
    net = bridge.to_torch(model)
    assert not any(m.training for m in net.modules())
    assert all(layer.training for layer in model.layers)  # the model is left as it was
    logits = torch_out(net, X)
    assert_allclose(torch.softmax(torch.from_numpy(logits), dim=1).numpy(),
                    model.predict_proba(X), rtol=1e-12, atol=1e-14)
    assert_array_equal(logits.argmax(axis=1), model.predict(X))
    # its own (training) mode would differ: Dropout drops and BatchNorm uses batch statistics
    assert np.abs(torch_out(bridge.to_torch(model, mode="train"), X) - logits).max() > 0.1


def test_the_nets_repr_shows_its_mode_and_dtype():
    model, _ = trained()
    net = bridge.to_torch(model)
    assert repr(net).splitlines()[:2] == ["Sequential(", "  mode=eval, dtype=float64"]
    net.train()
    assert repr(net).splitlines()[1] == "  mode=train, dtype=float64"
    net32 = bridge.to_torch(model, mode="train", dtype=torch.float32)
    assert repr(net32).splitlines()[1] == "  mode=train, dtype=float32"
    assert isinstance(net, torch.nn.Sequential)


def test_to_torch_in_float32_takes_float32_input():
    model, X = trained()
    net = bridge.to_torch(model, dtype=torch.float32)
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    assert {b.dtype for name, b in net.named_buffers() if "running" in name} == {torch.float32}
    out = net(torch.from_numpy(X).float()).detach().numpy()
    assert out.dtype == np.float32
    assert_allclose(out, torch_out(bridge.to_torch(model), X), rtol=1e-4, atol=1e-5)
    assert model.dtype == np.float64  # the model itself is not cast


def test_to_torch_takes_the_dtype_of_a_float32_model():
    model = make_model().astype(np.float32)
    assert {p.dtype for p in bridge.to_torch(model).parameters()} == {torch.float32}


@pytest.mark.parametrize("kwargs, words", [
    ({"mode": "training"}, "mode must be 'eval' or 'train', got 'training'"),
    ({"dtype": torch.int64}, "dtype must be a floating type"),
])
def test_to_torch_refuses_a_mode_or_dtype_it_does_not_know(kwargs, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        bridge.to_torch(make_model(), **kwargs)


def test_the_net_pickles_as_a_whole():
    """torch.save(net) of the whole module, not only its state_dict, loads back."""
    net = bridge.to_torch(make_model())
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    again = torch.load(buffer, weights_only=False)
    assert repr(again) == repr(net)
    X, _ = data(seed=12)
    assert_array_equal(torch_out(again, X), torch_out(net, X))


def test_a_training_step_moves_weights_and_running_statistics_alike():
    """One SGD step on both sides: same loss, same new weights, same running mean and var
    (minnet's momentum 0.8 is torch's 0.2; both keep the unbiased running variance)."""
    model = make_model(p=0.0, l2=0.0)
    net = bridge.to_torch(model, mode="train")
    X, y = data(seed=3)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert model.compute_loss(X, y) == pytest.approx(loss.item(), rel=1e-12)
        model.backward()
        mn.SGD(0.1).step(model)
    back = bridge.from_torch(net, loss=mn.SoftmaxCE())
    for k, v in arrays(model).items():
        assert_allclose(arrays(back)[k], v, rtol=1e-10, atol=1e-12, err_msg=k)
    assert not np.allclose(model.layers[1].running_mean, make_model().layers[1].running_mean)


def test_to_torch_maps_image_layers_and_layernorm_to_their_modules():
    model = strided_net()
    net = bridge.to_torch(model)
    nn = torch.nn
    assert [type(m) for m in net] == [nn.Conv2d, nn.Tanh, nn.LayerNorm, nn.MaxPool2d,
                                      nn.Flatten, nn.Linear]
    conv, norm, pool = net[0], net[2], net[3]
    assert_array_equal(conv.weight.detach().numpy(), model.layers[0].params["W"])  # as is
    assert_array_equal(conv.bias.detach().numpy(), model.layers[0].params["b"])
    assert conv.weight.dtype == torch.float64
    assert (conv.kernel_size, conv.stride, conv.padding) == ((5, 5), (2, 2), (2, 2))
    assert_array_equal(norm.weight.detach().numpy(), model.layers[2].params["gamma"])
    assert_array_equal(norm.bias.detach().numpy(), model.layers[2].params["beta"])
    assert norm.normalized_shape == (5,) and norm.eps == 1e-3
    assert (pool.kernel_size, pool.stride) == (3, 1)


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", NETS)
def test_to_torch_outputs_of_conv_and_layernorm_nets_are_equal(name, mode):
    build, shape = NETS[name]
    model = getattr(build(), mode)()
    net = bridge.to_torch(model, mode=mode)
    X, _ = data(seed=8, shape=shape)
    out = model.forward(X)
    assert out.shape == (16, 3)
    assert_allclose(torch_out(net, X), out, rtol=1e-12, atol=1e-12)


def test_to_torch_refuses_a_layer_of_ones_own_naming_it():
    class Square(mn.Layer):
        def forward(self, x):
            return x**2

    model = mn.Model([mn.Dense(4, 3, seed=0), Square()], loss=mn.MSE())
    with pytest.raises(TypeError, match=r"layer 1 \(Square\) has no torch counterpart"):
        bridge.to_torch(model)


def test_a_subclass_that_changes_forward_is_not_mistaken_for_its_parent():
    class Shifted(mn.Tanh):
        def f(self, x):
            return np.tanh(x) + 1

    model = mn.Model([mn.Dense(4, 3, seed=0), Shifted()], loss=mn.MSE())
    with pytest.raises(TypeError, match=r"layer 1 \(Shifted\)"):
        bridge.to_torch(model)
    # one that only changes backward (a planted bug) keeps its forward: it converts
    bridge.to_torch(mn.Model([DenseTimes2(4, 3, seed=0)], loss=mn.MSE()))


# ---- from_torch and round trips -----------------------------------------------------------


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_round_trip_model_torch_model_is_bit_for_bit(mode):
    model = make_model()
    getattr(model, mode)()
    back = bridge.from_torch(bridge.to_torch(model, mode=mode), loss=mn.SoftmaxCE(), l2=model.l2,
                             seed=1)
    assert [type(a) for a in back.layers] == [type(a) for a in model.layers]
    assert [a.config() | {"seed": None} for a in back.layers] == \
        [a.config() | {"seed": None} for a in model.layers]
    assert [a.training for a in back.layers] == [a.training for a in model.layers]
    assert_same(arrays(back), arrays(model))
    X, y = data(seed=4)
    if mode == "eval":
        assert_array_equal(back.forward(X), model.forward(X))


def test_round_trip_keeps_outputs_and_gradients_equal_to_torch_autograd():
    model = make_model(p=0.0, l2=0.01)
    back = bridge.from_torch(bridge.to_torch(model, mode="train"), loss=mn.SoftmaxCE(), l2=0.01)
    assert_same_function_and_gradients(back, model, *data(seed=5))


@pytest.mark.parametrize("name", NETS)
def test_round_trip_of_conv_and_layernorm_nets_keeps_weights_outputs_and_gradients(name):
    build, shape = NETS[name]
    model = build()
    back = bridge.from_torch(bridge.to_torch(model, mode="train"), loss=model.loss)
    assert [a.config() | {"seed": None} for a in back.layers] == \
        [a.config() | {"seed": None} for a in model.layers]
    assert_same(arrays(back), arrays(model))
    report = assert_same_function_and_gradients(back, model, *data(seed=9, shape=shape))
    assert max(c.rel_error for c in report.params) < 1e-12


def assert_same_function_and_gradients(back, model, X, y):
    """The same loss and gradients bit for bit, and torch autograd agrees; returns its report."""
    assert back.compute_loss(X, y) == model.compute_loss(X, y)
    back.backward()
    model.backward()
    assert_array_equal(back.get_flat_grads(), model.get_flat_grads())
    report = bridge.autograd_check(back, X, y)
    assert report.passed, str(report)
    return report


def test_from_torch_reads_a_torch_conv_net():
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.LayerNorm(64), nn.Linear(64, 10)).double()
    model = bridge.from_torch(net, loss=mn.SoftmaxCE())
    conv = model.layers[0]
    assert (conv.kernel_size, conv.stride, conv.padding) == (3, 1, 1)
    assert_array_equal(conv.params["W"], net[0].weight.detach().numpy())
    X = np.random.default_rng(0).random((5, 1, 8, 8))
    assert_allclose(model.forward(X), torch_out(net, X), rtol=1e-12, atol=1e-12)


def test_the_hinge_loss_is_cs231n_s_not_torch_s_mean_over_classes():
    """scores of one sample (1, 3, 2), y = 0, margin 1: max(0, 3-1+1) + max(0, 2-1+1) = 5,
    where torch's multi_margin_loss divides by the 3 classes."""
    s, y = torch.tensor([[1.0, 3.0, 2.0]], dtype=torch.float64), np.array([0])
    loss = mn.SVMLoss()
    assert bridge.LOSSES[mn.SVMLoss](loss, s, y, torch).item() == pytest.approx(5.0, rel=1e-15)
    X, y = data(seed=10, shape=(2, 9, 9))
    model = strided_net()
    model.loss = mn.SVMLoss(margin=2.0)
    scores = torch.from_numpy(model.forward(X))
    assert bridge.LOSSES[mn.SVMLoss](model.loss, scores, y, torch).item() == \
        pytest.approx(model.loss.forward(scores.numpy(), y), rel=1e-14)


def test_round_trip_torch_model_torch_keeps_the_state_dict():
    nn = torch.nn
    net = nn.Sequential(nn.Linear(3, 7), nn.BatchNorm1d(7, momentum=0.3), nn.ReLU(),
                        nn.Dropout(0.25), nn.Linear(7, 2)).double()
    net(torch.randn(10, 3, dtype=torch.float64))  # running statistics away from 0 and 1
    again = bridge.to_torch(bridge.from_torch(net, loss=mn.MSE()))
    theirs, ours = net.state_dict(), again.state_dict()
    for k, v in theirs.items():
        if k.endswith("num_batches_tracked"):
            continue  # a counter minnet has no use for: its momentum is never None
        assert torch.equal(ours[k], v), k


def test_from_torch_keeps_a_float32_network_in_float32():
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    model = bridge.from_torch(net, loss=mn.MSE())
    assert model.dtype == np.float32
    assert_array_equal(model.layers[0].params["W"], net[0].weight.detach().numpy().T)


def test_from_torch_names_an_unsupported_module_and_its_index():
    nn = torch.nn
    net = nn.Sequential(nn.Linear(3, 4), nn.SiLU(), nn.Linear(4, 2))
    with pytest.raises(TypeError, match=r"module 1 \(SiLU.*\) has no minnet counterpart"):
        bridge.from_torch(net, loss=mn.MSE())


@pytest.mark.parametrize("module, words", [
    (lambda: torch.nn.Linear(3, 3, bias=False), "no bias"),
    (lambda: torch.nn.BatchNorm1d(3, momentum=None), "momentum"),
    (lambda: torch.nn.BatchNorm1d(3, affine=False), "affine"),
    (lambda: torch.nn.Conv2d(3, 3, (3, 5)), "one kernel_size for both axes"),
    (lambda: torch.nn.Conv2d(3, 3, 3, stride=(1, 2)), "one stride for both axes"),
    (lambda: torch.nn.Conv2d(3, 3, 3, dilation=2), "dilation=1"),
    (lambda: torch.nn.Conv2d(3, 3, 2, padding="same"), "'same' with an even kernel"),
    (lambda: torch.nn.Conv2d(3, 3, 3, bias=False), "has a bias"),
    (lambda: torch.nn.MaxPool2d(2, padding=1), "padding=0"),
    (lambda: torch.nn.MaxPool2d(2, ceil_mode=True), "ceil_mode=False"),
    (lambda: torch.nn.Flatten(0), "start_dim=1"),
    (lambda: torch.nn.LayerNorm((3, 3)), "last axis"),
    (lambda: torch.nn.LayerNorm(3, elementwise_affine=False), "elementwise_affine=True"),
])
def test_from_torch_explains_settings_minnet_lacks(module, words):
    net = torch.nn.Sequential(torch.nn.Linear(3, 3), module())
    with pytest.raises(ValueError, match=f"module 1: .*{words}"):
        bridge.from_torch(net, loss=mn.MSE())


def test_from_torch_needs_a_sequential():
    with pytest.raises(TypeError, match="Sequential"):
        bridge.from_torch(torch.nn.Linear(3, 3), loss=mn.MSE())


# ---- autograd_check --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_autograd_check_passes_correct_networks_and_leaves_them_untouched(seed):
    model, X, y = random_net(seed)
    model.compute_loss(X, y)  # grads and Dropout masks that are not the defaults
    model.backward()
    before = snapshot(model)
    report = bridge.autograd_check(model, X, y)
    assert report.passed, str(report)
    assert report.mode == "autograd" and report.suspects == [] and report.layers == []
    assert max(c.rel_error for c in report.params) < 1e-12
    assert [(c.layer_index, c.param) for c in report.params] == \
        [(i, k) for i, layer in enumerate(model.layers) for k in layer.params]
    assert_same(snapshot(model), before)


def test_autograd_check_covers_dropout_batchnorm_and_l2():
    model = make_model(p=0.4, l2=0.05)
    report = bridge.autograd_check(model, *data(seed=6))
    assert report.passed, str(report)
    assert "torch autograd" in str(report)


def test_autograd_check_agrees_with_the_numeric_checker_on_a_correct_model():
    model, X, y = random_net(3)
    ours = mn.GradientChecker(progress=False).check(model, X, y)
    theirs = bridge.autograd_check(model, X, y)
    assert ours.passed and theirs.passed
    assert theirs.difference < 1e-12 < ours.difference  # no eps: round-off only


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_autograd_check_names_the_suspect_of_a_planted_bug(bug):
    model, X, y = bug.build(0)
    before = snapshot(model)
    report = bridge.autograd_check(model, X, y)
    assert not report.passed
    assert [s.layer_index for s in report.suspects] == \
        ([] if bug.suspect is None else [bug.suspect]), str(report)
    if bug.hint:
        hints = [c.hint or "" for c in report.params] + \
            [c.hint or "" for s in report.suspects for c in [s.input, *s.params]]
        assert any(bug.hint in h for h in hints), str(report)
    assert_same(snapshot(model), before)


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_autograd_check_fails_the_same_tensors_and_suspects_as_the_numeric_checker(bug):
    model, X, y = bug.build(1)
    numeric = mn.GradientChecker(progress=False).check(model, X, y)
    exact = bridge.autograd_check(model, X, y)
    failing = lambda r: [(c.layer_index, c.param) for c in r.params if not c.passed]  # noqa: E731
    assert failing(exact) == failing(numeric)
    assert [s.layer_index for s in exact.suspects] == [s.layer_index for s in numeric.suspects]


def test_the_loss_is_the_suspect_after_the_last_layer():
    bug = next(b for b in BUGS if b.name == "softmax CE forgets the one-hot")
    model, X, y = bug.build(1)
    report = bridge.autograd_check(model, X, y)
    (suspect,) = report.suspects
    assert suspect.layer_index == len(model.layers)
    assert suspect.layer_name == "SoftmaxCEForgetsOneHot"
    assert "the loss (SoftmaxCEForgetsOneHot)" in str(report)


def test_the_report_reads_like_the_numeric_one():
    model, X, y = mlp(first=DenseTimes2)(0)
    text = str(bridge.autograd_check(model, X, y))
    assert "FAILED" in text and "mode=autograd" in text
    assert "the backward of layer 0 (DenseTimes2) is wrong" in text
    assert "factor: analytic ≈ 2 × numeric" in text


def test_a_float32_model_is_checked_on_a_float64_copy():
    model, X, y = random_net(5)
    model.astype(np.float32)
    report = bridge.autograd_check(model, X, y)
    assert report.passed, str(report)
    assert "float64 copy of this float32 model" in str(report)
    assert model.dtype == np.float32


def test_autograd_check_refuses_a_layer_of_ones_own_naming_it():
    class Cube(mn.Layer):
        def forward(self, x):
            self.x = x
            return x**3

        def backward(self, dout):
            return 3 * self.x**2 * dout

    model = mn.Model([mn.Dense(4, 3, seed=0), Cube()], loss=mn.MSE())
    with pytest.raises(TypeError, match=r"autograd_check: layer 1 \(Cube\).*cannot translate"
                                        r".*GradientChecker"):
        bridge.autograd_check(model, *data())


# ---- without torch ---------------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def test_minnet_never_imports_torch():
    result = run_python("import sys, minnet, minnet.bridge, minnet.cli, minnet.plot\n"
                        "print('torch' in sys.modules)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_torch_the_bridge_says_how_to_install_it():
    result = run_python(
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "import minnet as mn\n"
        "from minnet import bridge\n"
        "model = mn.Model([mn.Dense(2, 2)], loss=mn.MSE())\n"
        "for call in (lambda: bridge.to_torch(model), lambda: bridge.from_torch(None, mn.MSE()),\n"
        "             lambda: bridge.autograd_check(model, [[1.0, 2.0]], [[0.0, 0.0]])):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as e:\n"
        "        print(e)\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert all('pip install "minnet-edu[torch]"' in line and 'pip install ".[torch]"' in line
               for line in lines), lines



def test_a_shared_array_becomes_one_torch_parameter_and_comes_back_shared():
    first, last = mn.Dense(5, 5, seed=0), mn.Dense(5, 5, seed=1)
    last.params["W"] = first.params["W"]  # tied weights
    model = mn.Model([first, mn.Tanh(), last], loss=mn.MSE())
    net = bridge.to_torch(model)
    assert net[2].weight is net[0].weight
    assert sum(p.numel() for p in net.parameters()) == 25 + 5 + 5
    X = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_allclose(net(torch.tensor(X)).detach().numpy(), model.forward(X),
                               rtol=1e-12, atol=1e-12)
    back = bridge.from_torch(net, loss=mn.MSE())
    assert back.layers[2].params["W"] is back.layers[0].params["W"]
    assert back.get_flat_params().size == model.get_flat_params().size == 35
