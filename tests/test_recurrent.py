"""RNN, LSTM, GRU and Embedding: values by hand, BPTT against numeric gradients, the per-step
gradients, stacks and the checker's nudged hints, bad input, and the layers inside a Model."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn
from minnet.layers.recurrent import sigmoid

RECURRENT = [mn.RNN, mn.LSTM, mn.GRU]


def randomized(layer, seed=0, scale=0.8):
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-scale, scale, v.shape)
    return layer


def states(cls, n, h, seed=5):
    rng = np.random.default_rng(seed)
    s = {"h0": rng.standard_normal((n, h))}
    if cls is mn.LSTM:
        s["c0"] = rng.standard_normal((n, h))
    return s


# ---- values by hand -------------------------------------------------------------------------


def test_rnn_two_steps_by_hand():
    layer = mn.RNN(1, 1)
    layer.params.update(Wx=np.array([[0.5]]), Wh=np.array([[-2.0]]), b=np.array([0.1]))
    x = np.array([[[1.0], [3.0]]])  # N = 1, T = 2, D = 1
    h1 = np.tanh(0.5 * 1 + 0.1)
    h2 = np.tanh(0.5 * 3 - 2.0 * h1 + 0.1)
    assert_allclose(layer.forward(x), [[[h1], [h2]]], rtol=1e-15)
    layer.return_sequences = False
    assert_allclose(layer.forward(x, h0=np.array([[1.0]])),
                    [[np.tanh(0.5 * 3 - 2 * np.tanh(0.5 - 2 + 0.1) + 0.1)]], rtol=1e-15)


def test_lstm_one_step_by_hand_in_cs231n_gate_order():
    layer = mn.LSTM(1, 1)
    layer.params.update(Wx=np.array([[1.0, 2.0, 3.0, 4.0]]), Wh=np.zeros((1, 4)),
                        b=np.array([0.1, 0.2, 0.3, 0.4]))
    i, f, o = sigmoid(1.1), sigmoid(2.2), sigmoid(3.3)
    g = np.tanh(4.4)
    c = f * 0.5 + i * g  # c0 = 0.5
    out = layer.forward(np.ones((1, 1, 1)), c0=np.full((1, 1), 0.5))
    assert_allclose(out, [[[o * np.tanh(c)]]], rtol=1e-15)
    assert_allclose(layer.last_state[1], [[c]], rtol=1e-15)


def test_gru_one_step_by_hand_with_torchs_reset_inside():
    layer = mn.GRU(1, 1)
    layer.params.update(Wx=np.array([[1.0, 2.0, 3.0]]), Wh=np.array([[0.5, -1.0, 2.0]]),
                        bx=np.array([0.1, 0.2, 0.3]), bh=np.array([-0.1, 0.4, 0.6]))
    h0 = 0.7
    r = sigmoid(1.0 + 0.1 + 0.5 * h0 - 0.1)
    z = sigmoid(2.0 + 0.2 - 1.0 * h0 + 0.4)
    n = np.tanh(3.0 + 0.3 + r * (2.0 * h0 + 0.6))  # r multiplies h Wh_n + bh_n, bias included
    out = layer.forward(np.ones((1, 1, 1)), h0=np.full((1, 1), h0))
    assert_allclose(out, [[[(1 - z) * n + z * h0]]], rtol=1e-15)


def test_sigmoid_is_exact_and_never_overflows():
    a = np.array([-1000.0, -30.0, -1.0, 0.0, 2.0, 1000.0])
    with np.errstate(all="raise"):
        s = sigmoid(a)
    assert_allclose(s[1:5], 1 / (1 + np.exp(-a[1:5])), rtol=1e-15, atol=1e-16)
    assert s[0] == 0.0 and s[-1] == 1.0


# ---- backprop through time --------------------------------------------------------------


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("sequences", [True, False])
def test_bptt_matches_numeric_gradients_of_x_h0_c0_and_every_weight(cls, sequences):
    N, T, D, H = 3, 4, 2, 3
    layer = randomized(cls(D, H, return_sequences=sequences), seed=1)
    rng = np.random.default_rng(2)
    x, s = rng.standard_normal((N, T, D)), states(cls, N, H)
    G = rng.standard_normal((N, T, H) if sequences else (N, H))
    J = lambda: float(np.sum(layer.forward(x, **s) * G))  # noqa: E731
    layer.forward(x, **s)
    dx = layer.backward(G)
    got = {"x": dx, "h0": layer.dh0, **({"c0": layer.dc0} if cls is mn.LSTM else {}),
           **{k: g.copy() for k, g in layer.grads.items()}}
    arrays = {"x": x, **s, **layer.params}
    for name, a in arrays.items():
        assert_allclose(got[name], mn.numeric_gradient(lambda _: J(), a), rtol=1e-7, atol=1e-9,
                        err_msg=name)


@pytest.mark.parametrize("cls", RECURRENT)
def test_dh_is_the_gradient_reaching_each_step_from_the_output_and_from_later_steps(cls):
    """dh[:, t] = dout_t + dL/dh_t through the steps after t, which is the dh0 of the same
    layer run on x[:, t+1:] from h_t (and c_t)."""
    N, T, D, H = 2, 5, 3, 4
    layer = randomized(cls(D, H), seed=3)
    rng = np.random.default_rng(4)
    x, G = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    layer.forward(x)
    hs, cs = layer.forward(x), None
    if cls is mn.LSTM:
        cs = np.moveaxis(layer.cache[4], 0, 1)
    layer.backward(G)
    dh = layer.dh.copy()
    assert dh.shape == (N, T, H)
    assert_allclose(dh[:, -1], G[:, -1])  # the last step hears from the output only
    for t in range(T - 1):
        start = {"h0": hs[:, t], **({"c0": cs[:, t]} if cls is mn.LSTM else {})}
        suffix = randomized(cls(D, H), seed=3)
        suffix.forward(x[:, t + 1:], **start)
        suffix.backward(G[:, t + 1:])
        assert_allclose(dh[:, t], G[:, t] + suffix.dh0, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", RECURRENT)
def test_the_last_step_alone_is_the_sequence_with_zero_gradient_elsewhere(cls):
    rng = np.random.default_rng(0)
    x, G = rng.standard_normal((3, 6, 2)), rng.standard_normal((3, 4))
    last = randomized(cls(2, 4, return_sequences=False), seed=1)
    every = randomized(cls(2, 4), seed=1)
    assert_allclose(last.forward(x), every.forward(x)[:, -1])
    full = np.zeros((3, 6, 4))
    full[:, -1] = G
    last.forward(x)
    assert_allclose(last.backward(G), every.backward(full))
    for k in last.grads:
        assert_allclose(last.grads[k], every.grads[k])
    assert_allclose(last.dh0, every.dh0)


def test_vanishing_and_exploding_show_in_the_per_step_gradient():
    """Wh = s·Q (Q orthogonal) multiplies ‖dL/dh_t‖ by about s at every step back while tanh
    stays linear (small inputs): s = 0.1 vanishes toward t = 0, s = 3 explodes."""
    rng = np.random.default_rng(0)
    x, G = rng.standard_normal((8, 20, 3)) * 1e-12, rng.standard_normal((8, 4))
    norms = {}
    for scale in (0.1, 3.0):
        layer = mn.RNN(3, 4, seed=0, return_sequences=False)
        layer.params["Wh"] = scale * np.linalg.qr(rng.standard_normal((4, 4)))[0]
        layer.forward(x)
        layer.backward(G)
        norms[scale] = np.linalg.norm(layer.dh, axis=(0, 2))
    assert norms[0.1][0] < 1e-10 * norms[0.1][-1]
    assert np.all(np.diff(norms[0.1]) > 0)  # larger and larger toward the end
    assert_allclose(norms[0.1][:-1] / norms[0.1][1:], 0.1, rtol=1e-6)
    assert_allclose(norms[3.0][:-1] / norms[3.0][1:], 3.0, rtol=1e-6)


def test_check_layer_passes_every_recurrent_layer_on_input_weights_and_initial_states():
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    for cls in RECURRENT:
        states = ["h0", "c0"] if cls is mn.LSTM else ["h0"]
        for sequences in (True, False):
            result = mn.check_layer(randomized(cls(2, 3, return_sequences=sequences)), x)
            assert result.passed, result
            assert [c.param for c in result.checks] == ["input", "Wx", "Wh", *cls.biases,
                                                        *states]


# ---- stacks and the checker's hints ------------------------------------------------------


@pytest.mark.parametrize("cls", RECURRENT)
@pytest.mark.parametrize("sequences", [True, False])
def test_a_stack_is_k_batches_and_nudged_is_k_moved_weights(cls, sequences):
    layer = randomized(cls(3, 4, return_sequences=sequences), seed=2)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3))
    xs = np.stack([x, 2 * x, -x])
    assert_allclose(layer.forward(xs), np.stack([layer.forward(v) for v in xs]), atol=1e-15)
    for name, p in layer.params.items():
        before, values = p, p.copy()
        idx = rng.choice(p.size, min(p.size, 5), replace=False)
        delta = rng.standard_normal(len(idx))
        plain = []
        for i, d in zip(idx, delta):
            p.flat[i] += d
            plain.append(layer.forward(x))
            p.flat[i] -= d
        assert_allclose(layer.nudged(x, name, idx, delta), np.stack(plain), atol=1e-14)
        dirs = rng.standard_normal((2, *p.shape))
        along = []
        for sign in (1, -1):
            for u in dirs:
                p += sign * 1e-3 * u
                along.append(layer.forward(x))
                p[...] = values
        assert_allclose(layer.nudged_along(x, name, dirs, 1e-3), np.stack(along), atol=1e-14)
        assert layer.params[name] is before and np.array_equal(p, values)


def test_embedding_nudged_moves_the_rows_of_its_ids_only():
    layer = mn.Embedding(5, 3, seed=0)
    x = np.array([[0, 2, 2], [4, 0, 1]])
    idx, delta = np.array([2 * 3 + 1, 3 * 3 + 0, 0]), np.array([0.5, -1.0, 2.0])
    plain = []
    for i, d in zip(idx, delta):
        layer.params["W"].flat[i] += d
        plain.append(layer.forward(x))
        layer.params["W"].flat[i] -= d
    out = layer.nudged(x, "W", idx, delta)
    assert_allclose(out, np.stack(plain), atol=1e-15)
    assert_array_equal(out[1], layer.forward(x))  # id 3 is not in x: nothing moves
    dirs = np.random.default_rng(1).standard_normal((2, 5, 3))
    along = layer.nudged_along(x, "W", dirs, 0.1)
    assert_allclose(along[0], (layer.params["W"] + 0.1 * dirs[0])[x])
    assert_allclose(along[3], (layer.params["W"] - 0.1 * dirs[1])[x])


# ---- dtypes, bad input ------------------------------------------------------------------


@pytest.mark.parametrize("cls", RECURRENT)
def test_float32_stays_float32(cls):
    layer = cls(3, 4, seed=0).astype(np.float32)
    x = np.ones((2, 5, 3), dtype=np.float32)
    out = layer.forward(x)
    dx = layer.backward(np.ones_like(out))
    assert out.dtype == dx.dtype == layer.dh0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


@pytest.mark.parametrize("cls", RECURRENT)
def test_bad_inputs_are_named(cls):
    layer = cls(3, 4)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 3\) with T >= 1, "
                                         r"got \(2, 5, 2\)"):
        layer.forward(np.ones((2, 5, 2)))
    with pytest.raises(ValueError, match=r"got \(2, 0, 3\)"):
        layer.forward(np.ones((2, 0, 3)))
    with pytest.raises(ValueError, match=r"got \(5, 3\)"):
        layer.forward(np.ones((5, 3)))
    with pytest.raises(TypeError, match="float inputs.*int64.*Embedding first"):
        layer.forward(np.ones((2, 5, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4\), one state per sample, "
                                         r"got \(4,\)"):
        layer.forward(np.ones((2, 5, 3)), h0=np.zeros(4))
    layer.forward(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the output, \(2, 5, 4\)"):
        layer.backward(np.ones((2, 4)))


def test_bad_constructor_arguments_are_named():
    with pytest.raises(ValueError, match="LSTM: hidden_size must be a positive integer, got 0"):
        mn.LSTM(3, 0)
    with pytest.raises(ValueError, match="GRU: input_size must be a positive integer"):
        mn.GRU(2.5, 3)
    with pytest.raises(TypeError, match="RNN: return_sequences must be True or False"):
        mn.RNN(2, 3, return_sequences="last")


def test_repr_and_config_rebuild_the_layer():
    layer = mn.LSTM(3, 4, seed=7, return_sequences=False)
    assert repr(layer) == "LSTM(input_size=3, hidden_size=4, return_sequences=False)"
    twin = mn.LSTM(**layer.config())
    assert all(np.array_equal(twin.params[k], v) for k, v in layer.params.items())
    assert sorted(mn.GRU(2, 3).params) == ["Wh", "Wx", "bh", "bx"]
    assert mn.GRU(2, 3).params["Wx"].shape == (2, 9) and mn.LSTM(2, 3).params["b"].shape == (12,)
