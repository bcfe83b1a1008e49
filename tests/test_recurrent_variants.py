"""The gradient checker's lean pass of RNN, LSTM and GRU on K weight variants
(minnet/layers/recurrent_variants.py): it equals forward with each entry moved, it is taken only
for the forward it was written for, and a full check's numeric gradients stay what the plain
forward and the naive loop give."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import minnet as mn
from minnet.gradcheck.calls import Calls, trusted
from minnet.gradcheck.probe import ModelProbe

RECURRENT = [mn.RNN, mn.LSTM, mn.GRU]
EPS = 1e-6


def randomized(cls, sequences=True, seed=0):
    layer = cls(3, 4, return_sequences=sequences)
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.8, 0.8, v.shape)
    return layer


def moved_one_by_one(layer, x, name, index, delta, states):
    """forward(x) with entry index[k] of params[name] moved by delta[k], one call per k."""
    p, outs = layer.params[name], []
    for i, d in zip(index, delta):
        old = p.flat[i]
        p.flat[i] = old + d
        outs.append(layer.forward(x, **states))
        p.flat[i] = old
    return np.stack(outs)


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("given", [False, True], ids=["zero states", "states given"])
def test_the_lean_pass_equals_forward_with_each_entry_moved(cls, sequences, given):
    layer = randomized(cls, sequences)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3))
    states = {s: rng.standard_normal((2, 4)) for s in layer.initial_states} if given else {}
    assert layer._variant_steps() is not None  # the lean loop is what runs below
    for name, p in layer.params.items():
        index = np.concatenate([np.arange(p.size), [0, p.size - 1]])  # an entry twice, too
        delta = np.linspace(-0.5, 0.5, len(index))
        before = p.copy()
        lean = layer.nudged(x, name, index, delta, **states)
        assert np.array_equal(p, before) and layer.params[name] is p
        assert_allclose(lean, moved_one_by_one(layer, x, name, index, delta, states),
                        rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cls", RECURRENT)
def test_the_lean_pass_leaves_what_backward_needs_alone(cls):
    layer = randomized(cls)
    rng = np.random.default_rng(2)
    x, dout = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    layer.forward(x)
    dx = layer.backward(dout)
    layer.forward(x)
    layer.nudged(x, "Wh", np.arange(6), np.full(6, 0.1))
    assert_allclose(layer.backward(dout), dx, rtol=0, atol=0)


class HalvedLSTM(mn.LSTM):
    """A forward of its own: the lean loop, written for LSTM.forward, does not describe it."""

    def forward(self, x, h0=None, c0=None):
        return 0.5 * super().forward(x, h0, c0)


def test_a_forward_of_ones_own_gets_no_lean_pass_and_no_hint():
    layer = randomized(HalvedLSTM)
    x = np.random.default_rng(4).standard_normal((2, 5, 3))
    assert layer._variant_steps() is None
    assert not trusted(layer, "nudged")  # the checker asks for no shortcut at all
    index, delta = np.arange(5), np.linspace(-0.1, 0.1, 5)
    expected = moved_one_by_one(layer, x, "Wx", index, delta, {})
    assert_allclose(layer.nudged(x, "Wx", index, delta), expected, rtol=1e-12, atol=1e-14)
    calls = Calls(layer, fast=True)
    assert_allclose(calls.nudged(x, "Wx", index, delta, layer.forward(x)), expected,
                    rtol=1e-12, atol=1e-14)
    patched = randomized(mn.LSTM)
    patched.forward = lambda x, h0=None, c0=None: 0.5 * mn.LSTM.forward(patched, x, h0, c0)
    assert patched._variant_steps() is None
    assert_allclose(patched.nudged(x, "Wx", index, delta), expected, rtol=1e-12, atol=1e-14)


def naive_slopes(model, X, y):
    """The textbook loop: every flat entry moved by ±EPS, two compute_loss calls each."""
    theta = model.get_flat_params()
    slopes = np.empty(theta.size)
    for i in range(theta.size):
        J = []
        for d in (EPS, -EPS):
            moved = theta.copy()
            moved[i] += d
            model.set_flat_params(moved)
            J.append(model.compute_loss(X, y))
        slopes[i] = (J[0] - J[1]) / (2 * EPS)
    model.set_flat_params(theta)
    return slopes


def checker_slopes(model, X, y, fast):
    probe = ModelProbe(model, X, y, EPS, fast)
    slopes = np.concatenate([probe.entries(s, np.arange(s.size)).slopes for s in probe.slots])
    lean = [probe.calls[1].proven.get(("nudged", k)) for k in model.layers[1].params]
    assert lean == [True] * len(lean) if fast else not any(lean)  # the shortcut was taken
    return slopes


@pytest.mark.parametrize("cls", RECURRENT)
def test_a_full_checks_numeric_gradient_is_the_naive_loops(cls):
    """A character model as rnn_speed.py's, smaller: the checker's centered differences, fast
    (the lean pass for the recurrent layer) and plain, against the naive loop's, entry by
    entry. Round-off in J (about 1e-16) over 2 eps makes them differ by about 1e-10."""
    V = 7
    model = mn.Model([mn.Embedding(V, 4, seed=0), cls(4, 5, seed=1), mn.Dense(5, V, seed=2)],
                     loss=mn.SoftmaxCE())
    rng = np.random.default_rng(5)
    X, y = rng.integers(0, V, (4, 6)), rng.integers(0, V, (4, 6))
    naive = naive_slopes(model, X, y)
    fast, plain = checker_slopes(model, X, y, True), checker_slopes(model, X, y, False)
    assert np.abs(naive).max() > 1e-3
    assert_allclose(fast, naive, rtol=0, atol=1e-8)
    assert_allclose(plain, naive, rtol=0, atol=1e-8)
    model.compute_loss(X, y)
    model.backward()
    assert_allclose(fast, model.get_flat_grads(), rtol=0, atol=1e-8)
