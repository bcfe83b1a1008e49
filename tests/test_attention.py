"""MultiHeadAttention, PositionalEncoding and GELU: by hand, against the numeric gradient, and
the shortcuts the gradient checker takes (stacks, nudged) against plain forward calls."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from shortcuts import assert_nudged_is_forward_with_each_entry_moved

import minnet as mn


def attention(D=8, H=2, causal=False, seed=0):
    """An attention layer with every weight and bias drawn at random (no zero bias)."""
    layer = mn.MultiHeadAttention(D, H, causal=causal, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for p in layer.params.values():
        p[...] = rng.standard_normal(p.shape) * 0.5
    return layer


def identity_attention(D, H, causal=False):
    layer = mn.MultiHeadAttention(D, H, causal=causal)
    for n in "qkvo":
        layer.params[f"W{n}"][...] = np.eye(D)
    return layer


def seq(shape=(3, 5, 8), seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


# ---- MultiHeadAttention by hand -------------------------------------------------------------


def test_one_head_by_hand():
    # Q = K = V = x, scores x xᵀ / √2 = [[1, 0], [0, 1]] / √2, each row a softmax over keys
    x = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    layer = identity_attention(2, 1)
    assert_allclose(layer.forward(x), [[[a, 1 - a], [1 - a, a]]], rtol=1e-15)
    assert_allclose(layer.attention, [[[[a, 1 - a], [1 - a, a]]]], rtol=1e-15)


def test_causal_mask_hides_the_keys_after_each_query():
    x = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    layer = identity_attention(2, 1, causal=True)
    # position 0 sees only itself; position 1 sees both, as without the mask
    assert_allclose(layer.forward(x), [[[1.0, 0.0], [1 - a, a]]], rtol=1e-15)
    assert layer.attention[0, 0, 0, 1] == 0.0


def test_heads_take_the_features_in_order():
    # D = 4, two heads of d = 2: head 0 reads features 0, 1; head 1 reads 2, 3; scale 1/√2
    x = seq((2, 3, 4))
    layer = identity_attention(4, 2)
    layer.forward(x)
    for h in range(2):
        part = x[..., 2 * h:2 * h + 2]
        s = part @ part.swapaxes(-1, -2) / math.sqrt(2)
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        assert_allclose(layer.attention[:, h], e / e.sum(axis=-1, keepdims=True), rtol=1e-14)


def test_attention_weights_are_kept_per_head_and_rows_sum_to_one():
    layer = attention(D=8, H=4, causal=True)
    layer.forward(seq((3, 5, 8)))
    A = layer.attention
    assert A.shape == (3, 4, 5, 5)
    assert_allclose(A.sum(axis=-1), 1.0, rtol=1e-14)
    assert (A[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0).all()


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("heads", [1, 2, 4])
def test_backward_matches_the_numeric_gradient(heads, causal):
    layer = attention(D=8, H=heads, causal=causal)
    x = seq((2, 5, 8))
    dout = seq((2, 5, 8), seed=2)
    layer.forward(x)
    dx = layer.backward(dout)
    num = mn.numeric_gradient(lambda v: layer.forward(v), x.copy(), dout=dout)
    assert_allclose(dx, num, rtol=1e-6, atol=1e-8)
    for name, p in layer.params.items():
        num = mn.numeric_gradient(lambda _: layer.forward(x), p, dout=dout)
        assert_allclose(layer.grads[name], num, rtol=1e-6, atol=1e-8, err_msg=name)


def test_check_layer_passes_attention_with_every_tensor_checked():
    result = mn.check_layer(attention(causal=True), seq((2, 4, 8)))
    assert result.passed, str(result)
    assert [c.param for c in result.params] == ["Wq", "Wk", "Wv", "Wo", "bq", "bk", "bv", "bo"]


def test_the_key_bias_has_no_gradient():
    # q·(x Wk + bk) adds q·bk to every score of a row, and softmax ignores a constant per row
    layer = attention()
    layer.forward(seq())
    layer.backward(seq(seed=2))
    assert_allclose(layer.grads["bk"], 0.0, atol=1e-12)


def test_a_stack_of_batches_gives_each_batch_its_own_output():
    layer = attention(causal=True)
    xs = seq((3, 2, 5, 8))
    assert_allclose(layer.forward(xs), np.stack([layer.forward(x) for x in xs]), rtol=1e-13)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_nudged_equals_forward_with_the_entry_moved(causal):
    assert_nudged_is_forward_with_each_entry_moved(attention(D=4, H=2, causal=causal),
                                                   seq((2, 3, 4)))


def test_float32_stays_float32():
    layer = attention().astype(np.float32)
    x = seq().astype(np.float32)
    y = layer.forward(x)
    dx = layer.backward(y)
    assert y.dtype == dx.dtype == layer.attention.dtype == np.float32
    assert {g.dtype for g in layer.grads.values()} == {np.dtype(np.float32)}


@pytest.mark.parametrize("args, message", [
    ((6, 4), "embed_dim 6 must be divisible by num_heads 4"),
    ((0, 1), "embed_dim must be a positive integer"),
    ((4, 0), "num_heads must be a positive integer"),
])
def test_bad_sizes_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        mn.MultiHeadAttention(*args)


@pytest.mark.parametrize("shape", [(3, 8), (2, 5, 6)])
def test_wrong_input_is_refused_with_the_expected_shape(shape):
    with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 8\), got"):
        attention().forward(np.ones(shape))


# ---- PositionalEncoding -------------------------------------------------------------------


def test_positional_encoding_by_hand():
    layer = mn.PositionalEncoding(max_len=10, dim=5)
    # P[t, 2i] = sin(t / 10000^(2i/5)), P[t, 2i + 1] = cos(t / 10000^(2i/5))
    assert_allclose(layer.table[0], [0, 1, 0, 1, 0], atol=1e-15)
    r = 10000 ** (-2 / 5)
    assert_allclose(layer.table[3], [math.sin(3), math.cos(3), math.sin(3 * r), math.cos(3 * r),
                                     math.sin(3 * 10000 ** (-4 / 5))], rtol=1e-14)
    x = seq((2, 4, 5))
    assert_array_equal(layer.forward(x), x + layer.table[:4])
    assert_array_equal(layer.backward(x), x)
    assert layer.params == {}


def test_positional_encoding_refuses_a_sequence_longer_than_max_len():
    with pytest.raises(ValueError, match=r"T <= 4, got \(2, 5, 3\)"):
        mn.PositionalEncoding(4, 3).forward(np.ones((2, 5, 3)))


def test_positional_encoding_keeps_float32():
    x = np.ones((2, 3, 4), dtype=np.float32)
    assert mn.PositionalEncoding(8, 4).forward(x).dtype == np.float32


# ---- GELU ------------------------------------------------------------------------------------


def test_gelu_by_hand():
    layer = mn.GELU()
    x = np.array([0.0, 1.0, -1.0, 10.0])
    u = math.sqrt(2 / math.pi) * (1 + 0.044715)
    assert_allclose(layer.forward(x), [0.0, 0.5 * (1 + math.tanh(u)),
                                       -0.5 * (1 - math.tanh(u)), 10.0], rtol=1e-15)
    assert layer.backward(np.ones(4))[0] == 0.5  # dy/dx at 0 is Φ(0) = 1/2


def test_gelu_passes_the_check():
    result = mn.check_layer(mn.GELU(), 3 * seq((4, 6)))
    assert result.passed and result.input_rel_error < 1e-8


# ---- in a model ----------------------------------------------------------------------------


def test_a_model_of_vectors_per_position_takes_sequence_targets():
    # Dense first does not know its input has a T axis: the data says so
    model = mn.Model([mn.Dense(4, 8, seed=0), mn.PositionalEncoding(6, 8),
                      mn.MultiHeadAttention(8, 2, causal=True, seed=1), mn.Dense(8, 3, seed=2)],
                     loss=mn.SoftmaxCE())
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 6, 4)), rng.integers(0, 3, (5, 6))
    assert np.isfinite(model.compute_loss(X, y))
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.2"):
        model.compute_loss(X, y + 1)
    with pytest.raises(ValueError, match=r"layer 1: PositionalEncoding.*\(N, T, 8\)"):
        model.compute_loss(X[:, 0], y[:, 0])
