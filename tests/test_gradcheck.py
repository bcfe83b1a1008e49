"""The gradient checker: planted bugs are caught and located, correct networks always pass."""

import json

import numpy as np
import pytest
from planted import BUGS, DenseForgetsBias, DenseTimes2, ReLUInvertedMask, mlp
from randnets import random_net

import minnet as mn
from minnet import gradcheck
from minnet.gradcheck.checker import _directions
from minnet.gradcheck.probe import ModelProbe
from minnet.testing import assert_gradients_ok


def check(model, X, y, **options):
    options.setdefault("progress", False)
    return mn.GradientChecker(**options).check(model, X, y)


def failing_hints(report):
    """Every hint the report gives for what failed: tensors, suspects and their tensors."""
    hints = [c.hint for c in report.params if not c.passed]
    for s in report.suspects:
        hints += [s.hint] + [c.hint for c in [s.input, *s.params] if c and not c.passed]
    return " | ".join(h for h in hints if h)


# ---- the planted-bug corpus ---------------------------------------------------------------


def test_corpus_has_at_least_15_bugs_of_distinct_kinds():
    assert len(BUGS) >= 15
    assert len({b.name for b in BUGS}) == len(BUGS)


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_bug_fails_names_its_layer_and_its_pattern(bug, seed):
    model, X, y = bug.build(seed)
    report = check(model, X, y, mode="full")
    assert not report.passed
    suspects = [s.layer_index for s in report.suspects]
    if bug.suspect is None:
        assert suspects == []
    else:
        assert suspects == [bug.suspect], str(report)
    if bug.hint:
        assert bug.hint in failing_hints(report), str(report)


def test_loss_counts_as_the_layer_after_the_last_one():
    bug = next(b for b in BUGS if b.name == "softmax CE forgets the one-hot")
    model, X, y = bug.build(0)
    report = check(model, X, y)
    assert [s.layer_index for s in report.suspects] == [len(model.layers)]
    assert report.suspects[0].layer_name == "SoftmaxCEForgetsOneHot"


def test_wrong_activation_is_named_not_the_dense_layers_it_spoils():
    model, X, y = mlp(act=ReLUInvertedMask, init="he")(0)
    report = check(model, X, y)
    assert [s.layer_index for s in report.suspects] == [1]
    spoiled = [c for c in report.params if not c.passed]
    assert spoiled and all(c.layer_index == 0 for c in spoiled)
    assert all("follows from layer 1" in c.hint for c in spoiled)


@pytest.mark.parametrize("fast", [True, False])
def test_factor_hint_prints_the_factor(fast):
    model, X, y = mlp(first=DenseTimes2)(0)
    report = check(model, X, y, fast=fast)
    w = report.params[0]
    assert (w.param, w.passed) == ("W", False)
    assert w.hint.startswith("factor: analytic ≈ 2 × numeric")
    assert w.analytic == pytest.approx(2 * w.numeric, rel=1e-4)


def test_worst_entry_points_at_the_largest_error():
    model, X, y = mlp(first=DenseForgetsBias)(0)
    b = check(model, X, y).params[1]
    assert (b.param, b.passed, b.analytic) == ("b", False, 0.0)
    assert abs(b.numeric) == pytest.approx(np.nanmax(np.abs(b.errors)))
    model.layers[0].__class__ = mn.Dense  # the same weights with the correct backward
    model.compute_loss(X, y)
    model.backward()
    true_db = model.layers[0].grads["b"]
    assert b.worst_index == (int(np.argmax(np.abs(true_db))),)
    assert b.numeric == pytest.approx(true_db[b.worst_index], rel=1e-6)


# ---- correct networks never raise a false alarm ------------------------------------------


@pytest.mark.parametrize("start", range(0, 200, 50))
def test_correct_random_networks_pass(start):
    for seed in range(start, start + 50):
        model, X, y = random_net(seed)
        report = check(model, X, y, mode="full")
        assert report.passed, f"seed {seed}\n{report}"
        assert report.suspects == [] and report.layers == []


def test_random_networks_cover_every_layer_l2_and_loss():
    kinds = set()
    for seed in range(200):
        model, _, _ = random_net(seed)
        kinds |= {type(layer).__name__ for layer in model.layers}
        kinds |= {type(model.loss).__name__, "l2" if model.l2 else "no l2"}
    assert kinds >= {"ReLU", "LeakyReLU", "Sigmoid", "Tanh", "BatchNorm", "Dropout", "l2",
                     "no l2", "SoftmaxCE", "MSE", "SigmoidBCE"}


@pytest.mark.parametrize("mode", ["sample", "directional", "auto"])
def test_other_modes_pass_correct_networks_and_catch_bugs(mode):
    for seed in range(20):
        model, X, y = random_net(seed)
        assert check(model, X, y, mode=mode).passed, seed
    for bug in BUGS:
        model, X, y = bug.build(0)
        assert not check(model, X, y, mode=mode).passed, bug.name


@pytest.mark.parametrize("mode", ["full", "directional"])
def test_fast_path_gives_the_generic_paths_verdicts(mode):
    cases = [random_net(seed) for seed in range(30)] + [b.build(0) for b in BUGS]
    for model, X, y in cases:
        fast = check(model, X, y, mode=mode, fast=True)
        slow = check(model, X, y, mode=mode, fast=False)
        assert [c.passed for c in fast.params] == [c.passed for c in slow.params]
        assert [s.layer_index for s in fast.suspects] == [s.layer_index for s in slow.suspects]
        assert [c.kinks for c in fast.params] == [c.kinks for c in slow.params]
        for f, s in zip(fast.params, slow.params):
            assert f.rel_error == pytest.approx(s.rel_error, rel=1e-2, abs=1e-7)


def test_a_wrong_bias_hidden_by_the_global_number_is_caught_per_tensor():
    """dW dwarfs db, so a zero bias gradient moves the global difference by < 1e-7."""
    rng = np.random.default_rng(0)
    X = 100 * rng.standard_normal((16, 4))
    layer = DenseForgetsBias(4, 2, seed=0)
    y = X @ layer.params["W"] + rng.standard_normal((16, 2))
    residual = (X @ layer.params["W"] - y).mean(axis=0)
    layer.params["b"][:] = -residual + 5e-7  # db = 2 * 5e-7 / 2 per output: tiny, not zero
    report = check(mn.Model([layer], loss=mn.MSE()), X, y)
    assert report.difference < 1e-7
    assert not report.passed
    W, b = report.params
    assert W.passed and not b.passed and b.hint.startswith("zero")


# ---- modes, kinks, numerics ----------------------------------------------------------------


def test_sample_mode_is_seeded():
    model, X, y = mlp(first=DenseTimes2)(0)
    a = check(model, X, y, mode="sample", samples=5, seed=1)
    b = check(model, X, y, mode="sample", samples=5, seed=1)
    c = check(model, X, y, mode="sample", samples=5, seed=2)
    assert a.to_dict() == b.to_dict()
    assert a.params[0].worst_index != c.params[0].worst_index or \
        a.params[0].rel_error != c.params[0].rel_error
    assert a.params[0].checked == 5


def test_auto_mode_is_full_for_small_models_and_sampled_above_the_limit():
    model, X, y = mlp()(0)
    assert check(model, X, y).mode == "full"
    big = mn.Model([mn.Dense(150, 150, seed=0), mn.Tanh(), mn.Dense(150, 3, seed=1)],
                   loss=mn.SoftmaxCE())
    assert big.get_flat_params().size > gradcheck.FULL_LIMIT
    X = np.random.default_rng(0).standard_normal((8, 150))
    report = check(big, X, np.arange(8) % 3)
    assert report.mode == "sample+directional" and report.passed
    w = report.params[0]
    assert w.checked == gradcheck.SAMPLES + gradcheck.DIRECTIONS


def test_directions_have_no_tiny_components():
    rng = np.random.default_rng(0)
    for shape in [(3,), (5, 7), (64, 10)]:
        for u in np.abs(_directions(rng, 3, shape)):
            assert np.linalg.norm(u) == pytest.approx(1.0)
            assert u.min() >= 0.5 * u.max()


def test_kinks_are_counted_and_compared_one_sided():
    """Bias 0 and a dead input row put a ReLU input exactly on its corner at x = 0."""
    model = mn.Model([mn.Dense(3, 4, seed=0), mn.ReLU(), mn.Dense(4, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((6, 3))
    X[0] = 0.0
    report = check(model, X, np.array([0, 1, 0, 1, 0, 1]))
    b = report.params[1]
    assert b.kinks == 4 and b.checked == 4 and report.passed
    # the kink is real: there the centered difference is off, the flat side's slope is not
    pairs = _bias_pairs(model, X, gradcheck.DEFAULT_EPS)
    assert pairs.kinks.all()
    assert np.abs(pairs.slopes - b_true(model, X)).min() > 1e-3


def _bias_pairs(model, X, eps):
    y = np.array([0, 1, 0, 1, 0, 1])
    with gradcheck.Preserved(model.layers + [model.loss]):
        probe = ModelProbe(model, X, y, eps, fast=True)
        (slot,) = [s for s in probe.slots if s.name == "0.b"]
        return probe.entries(slot, np.arange(4))


def b_true(model, X):
    """db of layer 0 by backprop, ReLU'(0) = 0: the slope on the flat side of the corner."""
    model.compute_loss(X, np.array([0, 1, 0, 1, 0, 1]))
    model.backward()
    return model.layers[0].grads["b"].copy()


class HomemadeReLU(mn.Layer):
    """A student's own ReLU: it declares no kink, so the checker must find corners itself."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * (self.x > 0)


def checked_between_dense_layers(relu):
    """The check of Dense → relu → Dense on inputs with a row of zeros: kinks at x = 0."""
    model = mn.Model([mn.Dense(3, 4, seed=0), relu, mn.Dense(4, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((6, 3))
    X[0] = 0.0
    return check(model, X, np.array([0, 1, 0, 1, 0, 1]))


def test_kinks_of_an_undeclared_layer_are_found_by_the_bend_test():
    report = checked_between_dense_layers(HomemadeReLU())
    assert report.passed and report.params[1].kinks > 0


class CornerPoolReLU(HomemadeReLU):
    """A student's layer whose own attributes are named as the checker's hints: `corners` the
    pixel offsets it pools over, `kink` the name of its nonlinearity. Neither is a hint."""

    corners = ((0, 0), (0, 1))

    def __init__(self):
        super().__init__()
        self.kink = "relu"


def test_attributes_named_as_hints_but_of_another_kind_are_not_taken_for_hints():
    report = checked_between_dense_layers(CornerPoolReLU())
    assert report.passed and report.params[1].kinks > 0  # found by the bend test, as above


def test_float32_model_is_checked_on_a_float64_copy():
    model, X, y = mlp()(0)
    model.astype(np.float32)
    before = [p.copy() for p in model.parameters()]
    report = check(model, X, y)
    assert report.passed and "float64 copy" in report.dtype_note and "float64 copy" in str(report)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert all(np.array_equal(a, b) for a, b in zip(before, model.parameters()))


def test_eps_sweep_draws_a_v_with_float32_above_float64():
    model, X, y = mlp()(0)
    sweep = gradcheck.eps_sweep(model, X, y)
    eps, e64, e32 = sweep["eps"], sweep["float64"], sweep["float32"]
    at = lambda e: e64[np.argmin(np.abs(np.log(eps / e)))]  # noqa: E731
    assert at(sweep["default"]) < 1e-8
    assert at(sweep["default"]) < at(1e-12) / 100 and at(sweep["default"]) < at(1e-1) / 100
    best = eps[np.argmin(e64)]
    assert 1e-7 <= best <= 1e-3  # the default sits near the bottom of the V
    assert e32.min() > 100 * e64.min()


# ---- state, determinism, restoration ----------------------------------------------------


def state_of(model):
    """Everything a check must leave alone, copied."""
    out = []
    for layer in model.layers:
        out.append({k: v.copy() for k, v in layer.params.items()})
        out.append({k: v.copy() for k, v in layer.grads.items()})
        out.append({k: v.copy() for k, v in layer.state().items()})
        out.append(layer.training)
        if isinstance(layer, mn.Dropout):
            out.append(json.dumps(layer.rng.bit_generator.state))
            out.append(None if layer.mask is None else layer.mask.copy())
    return out


def same_state(a, b):
    def eq(x, y):
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(eq(x[k], y[k]) for k in x)
        if isinstance(x, np.ndarray):
            return isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)
        return x == y
    return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))


def trained_model_with_state():
    model = mn.Model([mn.Dense(5, 6, seed=0), mn.BatchNorm(6), mn.ReLU(),
                      mn.Dropout(0.3, seed=1), mn.Dense(6, 3, seed=2)], loss=mn.SoftmaxCE(),
                     l2=1e-3)
    X = np.random.default_rng(0).standard_normal((20, 5))
    y = np.arange(20) % 3
    model.fit(X, y, epochs=2, batch_size=8, progress=False)
    model.eval()
    model.layers[2].training = True  # a mixed set of flags must come back as it was
    return model, X[:10], y[:10]


def test_check_leaves_the_model_bit_identical():
    model, X, y = trained_model_with_state()
    before = state_of(model)
    check(model, X, y)
    assert same_state(before, state_of(model))


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
@pytest.mark.parametrize("where, after", [("forward", 1), ("forward", 3), ("forward", 40),
                                          ("backward", 1), ("backward", 2)])
def test_model_restored_when_a_layer_raises_mid_check(error, where, after, monkeypatch):
    model, X, y = trained_model_with_state()
    before = state_of(model)
    layer = model.layers[1]
    calls = {"n": 0}
    original = getattr(type(layer), where)

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] >= after:
            raise error("raised mid-check")
        return original(self, *args)

    monkeypatch.setattr(type(layer), where, failing)
    if where == "backward" and error is Boom:  # a student's backward that raises: a FAIL row
        report = check(model, X, y, fast=False)
        assert not report.passed and "backward raised Boom" in str(report)
    else:
        with pytest.raises(error):
            check(model, X, y, fast=False)
    monkeypatch.undo()
    assert same_state(before, state_of(model))


def test_check_layer_leaves_the_layer_as_it_was():
    layer = mn.Dropout(0.5, seed=0)
    layer.forward(np.ones((4, 3)))
    rng_state, mask = json.dumps(layer.rng.bit_generator.state), layer.mask.copy()
    assert mn.check_layer(layer, np.random.default_rng(1).standard_normal((4, 3))).passed
    assert json.dumps(layer.rng.bit_generator.state) == rng_state
    assert np.array_equal(layer.mask, mask) and not layer.frozen


SHARED_RNG = np.random.default_rng(0)  # not the layer's own: the checker cannot rewind it


class NoisyLayer(mn.Layer):
    """Adds fresh noise on every call from a Generator it does not own: not a function of θ."""

    def forward(self, x):
        return x + 1e-3 * SHARED_RNG.standard_normal(x.shape)

    def backward(self, dout):
        return dout


def test_nondeterminism_is_reported_with_its_layer_and_nothing_else():
    model = mn.Model([mn.Dense(5, 4, seed=0), NoisyLayer(), mn.Dense(4, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((8, 5))
    report = check(model, X, np.arange(8) % 3)
    assert not report.passed and [s.layer_index for s in report.suspects] == [1]
    problem = " ".join(report.problems)
    assert "nondeterminism" in problem and "layer 1 (NoisyLayer" in problem
    assert "freeze()" in problem and "state carried" not in problem
    text = str(report)
    assert "accumulating" not in text and "on a kink" not in text and "FAIL " not in text
    assert {c.status for c in report.params} == {"not compared"}
    assert all(c.hint.startswith("inconclusive: J is not a fixed function of θ") and not c.passed
               for c in report.params)  # inconclusive, never passed (DESIGN.md)
    assert "no parameter was compared" in text
    assert "layer 1 (NoisyLayer): no parameters; its dx reaches layer 0's parameters, which " \
        "were not compared" in text


class StatefulRNN(mn.Layer):
    """tanh RNN over (N, T, D) that starts each call where the last call ended, as students
    carry h across batches: the output depends on the calls before it."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"Wx": rng.standard_normal((d, h)) * 0.5,
                       "Wh": rng.standard_normal((h, h)) * 0.5}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.prev_h = None

    def forward(self, x):
        N, T, _ = x.shape
        h = np.zeros((N, self.params["Wh"].shape[0])) if self.prev_h is None else self.prev_h
        self.cache = (x, [h])
        out = []
        for t in range(T):
            h = np.tanh(x[:, t] @ self.params["Wx"] + h @ self.params["Wh"])
            self.cache[1].append(h)
            out.append(h)
        self.prev_h = h
        return np.stack(out, axis=1)

    def backward(self, dout):
        x, hs = self.cache
        dx, dh = np.zeros_like(x), np.zeros_like(hs[0])
        dWx, dWh = np.zeros_like(self.params["Wx"]), np.zeros_like(self.params["Wh"])
        for t in reversed(range(x.shape[1])):
            da = (dout[:, t] + dh) * (1 - hs[t + 1] ** 2)
            dWx += x[:, t].T @ da
            dWh += hs[t].T @ da
            dx[:, t] = da @ self.params["Wx"].T
            dh = da @ self.params["Wh"].T
        self.grads["Wx"], self.grads["Wh"] = dWx, dWh
        return dx


def test_a_state_carried_between_calls_is_named_with_the_attribute_that_carries_it():
    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    model = mn.Model([StatefulRNN(2, 3), mn.Flatten(), mn.Dense(12, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    report = check(model, x, np.array([0, 1, 0]))
    assert [s.layer_index for s in report.suspects] == [0]
    head = report.headline()
    assert "layer 0 (StatefulRNN)" in head and "self.prev_h" in head
    assert "self.cache" not in head and "freeze()" not in head  # kept, but not read: no state
    assert {c.status for c in report.params} == {"not compared"}
    alone = mn.check_layer(StatefulRNN(2, 3), x)
    assert not alone.passed and "self.prev_h" in alone.summary()
    assert {c.status for c in alone.checks} == {"not compared"} and not alone.values


def test_the_same_layer_reset_in_forward_passes():
    class Reset(StatefulRNN):
        def forward(self, x):
            self.prev_h = None
            return super().forward(x)

    x = np.random.default_rng(1).standard_normal((3, 4, 2))
    assert mn.check_layer(Reset(2, 3), x).passed


class StudentDropout(mn.Layer):
    """Draws a fresh mask from np.random's global state on every call, as students write it."""

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) > 0.5) / 0.5
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


def test_randomness_from_np_random_and_own_generators_is_rewound():
    model = mn.Model([mn.Dense(5, 4, seed=0), StudentDropout(), mn.Dense(4, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((8, 5))
    state = np.random.get_state()[1].copy()
    report = check(model, X, np.arange(8) % 3)
    assert report.passed and not report.problems, str(report)
    assert np.array_equal(np.random.get_state()[1], state)  # np.random is put back too
    lone = mn.check_layer(StudentDropout(), X)
    assert lone.passed and lone.input.checked == X.size


def test_accumulating_gradients_have_their_own_verdict_and_one_ratio_everywhere():
    bug = next(b for b in BUGS if b.name == "gradients accumulate")
    model, X, y = bug.build(0)
    report = check(model, X, y)
    W = report.params[0]
    assert (W.status, W.passed) == ("accumulating", False)
    alone = report.suspects[0].params[0]
    assert alone.status == "accumulating"
    assert "a second one gave 2 × that" in W.hint and "a second one gave 2 × that" in alone.hint
    assert report.headline().startswith("Gradient check FAILED: the backward of layer 0 "
                                        "(DenseAccumulates) is wrong: its gradient for W")
    assert "do not add to them with +=" in report.advice


# ---- bad arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"eps": 0}, {"eps": -1e-6}, {"eps": float("nan")},
                                    {"eps": float("inf")}, {"eps": "small"}, {"mode": "fast"},
                                    {"tol": 0}])
def test_bad_checker_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError, match="GradientChecker"):
        mn.GradientChecker(**kwargs)


def test_bad_data_raises_and_leaves_the_model_alone():
    model, X, y = trained_model_with_state()
    before = state_of(model)
    for bad_X, bad_y, words in [(X[:0], y[:0], "empty"), (X, y[:-1], "samples"),
                                (X[:, :3], y, "shape")]:
        with pytest.raises(ValueError, match=words):
            check(model, bad_X, bad_y)
    assert same_state(before, state_of(model))


def test_model_without_parameters_is_refused():
    with pytest.raises(ValueError, match="no parameters"):
        check(mn.Model([mn.ReLU()], loss=mn.MSE()), np.ones((2, 2)), np.ones((2, 2)))


def test_check_layer_refuses_a_loss_without_targets_and_empty_input():
    with pytest.raises(ValueError, match="targets"):
        mn.check_layer(mn.SoftmaxCE(), np.ones((2, 3)))
    with pytest.raises(ValueError, match="non-empty"):
        mn.check_layer(mn.ReLU(), np.ones((0, 3)))


# ---- check_layer on every built-in ---------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: mn.Dense(4, 3, seed=0), mn.ReLU, mn.Sigmoid, mn.Tanh,
                                  lambda: mn.LeakyReLU(0.2), lambda: mn.Dropout(0.4, seed=0),
                                  lambda: mn.BatchNorm(4)])
@pytest.mark.parametrize("training", [True, False])
def test_check_layer_passes_every_built_in_layer(make, training):
    layer = make()
    layer.training = training
    x = np.random.default_rng(0).standard_normal((6, 4))
    result = mn.check_layer(layer, x)
    assert result.passed, str(result)
    assert result.input_rel_error < 1e-5
    assert [c.param for c in result.params] == list(layer.params)


@pytest.mark.parametrize("loss, y", [(mn.SoftmaxCE(), np.array([0, 2, 1, 2])),
                                     (mn.MSE(), np.arange(12.0).reshape(4, 3)),
                                     (mn.SigmoidBCE(), np.array([0, 1, 1, 0]))])
def test_check_layer_passes_every_built_in_loss(loss, y):
    width = 1 if isinstance(loss, mn.SigmoidBCE) else 3
    scores = np.random.default_rng(0).standard_normal((4, width))
    result = mn.check_layer(loss, scores, y=y)
    assert result.passed and result.params == [] and result.input_rel_error < 1e-6


def test_check_layer_names_the_pattern_of_a_wrong_layer():
    result = mn.check_layer(ReLUInvertedMask(), np.random.default_rng(0).standard_normal((5, 4)))
    assert not result.passed and "inverted mask" in result.hint
    assert "FAILED" in str(result) and "input" in str(result)


# ---- the report as a user interface ------------------------------------------------------


def test_report_table_says_where_and_what():
    model, X, y = mlp(act=ReLUInvertedMask, init="he")(0)
    text = str(check(model, X, y))
    for words in ["Gradient check FAILED", "rel_error", "worst at", "analytic", "numeric",
                  "kinks", "Checked alone", "layer 1 (ReLUInvertedMask)", "inverted mask",
                  "What to do"]:
        assert words in text, words


def test_report_to_dict_is_json_with_the_contract_names():
    model, X, y = mlp(first=DenseTimes2)(0)
    data = json.loads(json.dumps(check(model, X, y).to_dict()))
    assert {"passed", "difference", "mode", "eps", "params", "layers", "suspects"} <= set(data)
    assert {"layer_index", "layer_name", "param", "shape", "rel_error", "worst_index",
            "analytic", "numeric", "checked", "kinks", "passed", "hint"} <= set(data["params"][0])
    assert {"layer_index", "layer_name", "passed", "input_rel_error", "params",
            "hint"} <= set(data["suspects"][0])


def test_assert_gradients_ok_fails_with_the_table_and_passes_quietly():
    model, X, y = mlp(first=DenseTimes2)(0)
    with pytest.raises(AssertionError, match="factor: analytic ≈ 2") as info:
        assert_gradients_ok(model, X, y)
    assert isinstance(info.value, mn.GradientCheckError) and not info.value.report.passed
    good, X, y = mlp()(0)
    assert assert_gradients_ok(good, X, y).passed
    assert assert_gradients_ok(mn.Tanh(), X).passed
    assert assert_gradients_ok(mn.SoftmaxCE(), X[:, :3], y).passed
    with pytest.raises(AssertionError, match="inverted mask"):
        assert_gradients_ok(ReLUInvertedMask(), X)


def test_check_layer_checks_a_float32_layer_in_float64_and_leaves_it_alone():
    layer = mn.Dense(4, 3, seed=0).astype(np.float32)
    W = layer.params["W"]
    before = W.copy()
    result = mn.check_layer(layer, np.random.default_rng(0).standard_normal((5, 4)))
    assert result.passed and result.params[0].rel_error < 1e-6
    assert layer.params["W"] is W and W.dtype == np.float32 and np.array_equal(W, before)


def test_check_layer_sample_mode_on_small_tensors_checks_what_there_is():
    result = mn.check_layer(mn.Dense(2, 2, seed=0), np.ones((3, 2)), mode="sample")
    assert result.passed
    assert [c.checked for c in [result.input, *result.params]] == [6, 4, 2]


class Square(mn.Layer):
    """A smooth layer of the user's own that declares nothing: y = x², dx = 2x dout."""

    def forward(self, x):
        self.x = x
        return x**2

    def backward(self, dout):
        return 2 * self.x * dout


def test_a_smooth_undeclared_layer_gets_no_false_kinks():
    model = mn.Model([mn.Dense(6, 16, seed=0), Square(), mn.Dense(16, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((32, 6))
    report = check(model, X, np.arange(32) % 3)
    assert report.passed and sum(c.kinks for c in report.params) == 0


def test_a_corner_barely_crossed_is_caught_by_the_second_look():
    """z = 0.95 eps: ±eps crosses the corner of an undeclared ReLU, but only just."""
    eps = gradcheck.DEFAULT_EPS
    first = mn.Dense(1, 2, seed=0)
    first.params["W"][:] = [[1.0, 1.0]]
    first.params["b"][:] = [0.95 * eps, 0.5]
    model = mn.Model([first, HomemadeReLU(), mn.Dense(2, 2, seed=1)], loss=mn.SoftmaxCE())
    X, y = np.array([[0.0], [1.0]]), np.array([0, 1])
    report = check(model, X, y)
    assert report.passed and report.params[1].kinks == 1 and report.params[1].checked == 2


@pytest.mark.parametrize("start", [0, 40])
def test_random_networks_with_a_homemade_relu_pass(start):
    for seed in range(start, start + 40):
        model, X, y = random_net(seed)
        model.layers = [HomemadeReLU() if isinstance(layer, mn.ReLU) else layer
                        for layer in model.layers]
        assert check(model, X, y, mode="full").passed, seed


def test_a_tensor_whose_entries_are_all_kinks_is_compared_one_sided():
    """Zero biases and a blank input row: every bias entry of the first layer sits on x = 0."""
    model = mn.Model([mn.Dense(3, 2, seed=0), mn.ReLU(), mn.Dense(2, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    report = check(model, np.zeros((4, 3)), np.array([0, 1, 0, 1]))
    b = report.params[1]
    assert (b.checked, b.kinks, b.passed) == (2, 2, True) and report.passed


class HalfReLU(mn.ReLU):
    """A ReLU that takes slope 0.5 at the corner: between the two sides, matching neither."""

    def df(self, x, y):
        return np.where(x == 0, 0.5, x > 0)


def test_nothing_compared_is_inconclusive_never_passed():
    """At an exact corner a wrong slope matches neither side: nothing can be compared there."""
    model = mn.Model([mn.Dense(3, 2, seed=0), HalfReLU(), mn.Dense(2, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    report = check(model, np.zeros((4, 3)), np.array([0, 0, 0, 0]))
    b = report.params[1]
    assert (b.checked, b.passed, b.status) == (0, False, "inconclusive")
    assert not report.passed and "inconclusive" in str(report)


def test_a_lone_layer_check_does_not_talk_about_layer_0():
    text = str(mn.check_layer(mn.Tanh(), np.ones((2, 3))))
    assert text.startswith("Layer check of Tanh PASSED")


# ---- eps far from the bottom of the V -------------------------------------------------------


@pytest.mark.parametrize("eps", [1e-12, 1e-9, 0.5])
@pytest.mark.parametrize("build", [mlp(), mlp(act=mn.ReLU, init="he"), lambda s: random_net(3)],
                         ids=["tanh", "relu", "random"])
def test_an_eps_far_from_the_v_is_named_as_the_cause_and_no_layer_is_blamed(eps, build):
    model, X, y = build(0)
    report = check(model, X, y, eps=eps)
    if report.passed:  # 1e-9 is close enough on some models: then clean
        assert report.problems == [] and report.suspects == [] and report.warnings == []
        return
    assert report.suspects == [] and report.layers == []
    assert report.problems and report.problems[0].startswith(f"eps: at eps={eps:g}")
    cause = "round-off" if eps < 1e-5 else "truncation"
    assert f"{cause} from too" in report.problems[0]
    assert "no layer is to blame" in report.advice and "eps=1e-05" in report.advice
    assert all(c.status in ("ok", "eps") for c in report.params)


def test_every_far_eps_fails_the_demo_network_for_the_right_reason():
    """The three eps of the issue, on minnet's own demo network: each is named, none passes."""
    X, y = mn.datasets.load_digits()
    model = mn.Model([mn.Dense(64, 32, seed=0), mn.ReLU(), mn.Dense(32, 10, seed=1)],
                     loss=mn.SoftmaxCE())
    for eps in (1e-12, 1e-9, 0.5):
        report = check(model, X[:32], y[:32], eps=eps)
        assert not report.passed and report.suspects == [], eps
        assert report.problems[0].startswith(f"eps: at eps={eps:g}"), eps


def test_a_real_bug_under_a_far_eps_is_blamed_at_the_default_eps():
    model, X, y = mlp(first=DenseTimes2)(0)
    report = check(model, X, y, eps=1e-11)
    assert [s.layer_index for s in report.suspects] == [0]
    assert report.eps == gradcheck.DEFAULT_EPS
    assert report.warnings[0].startswith("eps=1e-11 is too far from the bottom of the V")


class HistoryScale(mn.Layer):
    """y = 2x, its inputs kept in a list made once in __init__ (never emptied)."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x)
        return 2 * x

    def backward(self, dout):
        return sum(2 * dout for _ in self.seen)  # one term per call so far


def test_a_list_that_grows_with_every_forward_call_is_named():
    x = np.random.default_rng(0).standard_normal((4, 3))
    r = mn.check_layer(HistoryScale(), x)
    assert not r.passed
    said = r.checks[0].findings[0]
    assert said.startswith("self.seen grows by 1 entry with every forward call (")
    assert "forward adds to it without emptying it" in said


class LoggedDoubleSlope(mn.Layer):
    """y = x², each call's batch size logged; the slope written 4x (twice the true 2x)."""

    def __init__(self):
        super().__init__()
        self.log = []

    def forward(self, x):
        self.log.append(x.shape[0])
        self.x = x
        return x**2

    def backward(self, dout):
        return dout * 4 * self.x


def test_a_log_that_grows_but_backward_never_reads_is_not_blamed():
    x = np.random.default_rng(1).standard_normal((4, 3))
    r = mn.check_layer(LoggedDoubleSlope(), x)
    assert not r.passed
    assert not any("grows by" in f for c in r.checks for f in c.findings)
