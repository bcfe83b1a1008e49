"""The small Transformer: built from minnet's layers, causal, checked, and trained on a synthetic
task (reversing digit strings) to >= 99 % per-sequence accuracy on sequences it never saw."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn
from minnet import transformer

DIGITS, SEP, IGNORE = 4, 10, -1  # a string of 4 digits, then the separator, then its reversal


def reversal(n, seed):
    """x = d0 d1 d2 d3 | d3 d2 d1 and y = x shifted by one: the next token at every position.
    Targets before the separator cannot be known (the digits are random), so they are ignored;
    the separator and the 4 reversed digits count."""
    d = np.random.default_rng(seed).integers(0, 10, (n, DIGITS))
    seq = np.concatenate([d, np.full((n, 1), SEP), d[:, ::-1]], axis=1)
    X, y = seq[:, :-1], seq[:, 1:].copy()
    y[:, :DIGITS - 1] = IGNORE
    return X, y


def per_sequence_accuracy(model, X, y):
    """The fraction of sequences whose every counted target is the argmax of its scores."""
    right = (model.predict_proba(X).argmax(axis=-1) == y) | (y == IGNORE)
    return right.all(axis=1).mean()


def generate(model, prefix, steps):
    """Greedy decoding: append the most likely next token, `steps` times."""
    ids = np.array(prefix)
    for _ in range(steps):
        proba = model.predict_proba(ids)
        ids = np.concatenate([ids, proba[:, -1:].argmax(axis=-1)], axis=1)
    return ids[:, prefix.shape[1]:]


def train(model, X, y, epochs, lr=3e-3, batch_size=64):
    optimizer = mn.Adam(lr)
    for epoch in range(epochs):
        for xb, yb in mn.datasets.batches(X, y, batch_size, seed=epoch):
            model.compute_loss(xb, yb)
            model.backward()
            optimizer.step(model)


# ---- the architecture -----------------------------------------------------------------------


def test_layers_and_parameter_names():
    model = transformer(11, dim=8, heads=2, blocks=2, max_len=9)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Embedding", "PositionalEncoding", "Sequential", "Sequential", "LayerNorm",
                     "Dense"]
    attend, think = model.layers[2].layers
    assert [type(layer).__name__ for layer in attend.layers] == ["LayerNorm",
                                                                 "MultiHeadAttention"]
    assert [type(layer).__name__ for layer in think.layers] == ["LayerNorm", "Dense", "GELU",
                                                                "Dense"]
    assert attend.layers[1].causal
    names = dict(model.named_parameters())
    assert names["2.0.1.Wq"] is attend.layers[1].params["Wq"]
    assert names["3.1.3.b"].shape == (8,)
    assert model.forward(np.zeros((2, 9), dtype=int)).shape == (2, 9, 11)


def test_the_same_seed_builds_the_same_model_and_another_seed_another():
    a, b, c = (transformer(7, dim=8, seed=s).get_flat_params() for s in (3, 3, 4))
    assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_position_sees_nothing_after_it():
    model = transformer(11, dim=8, heads=2, blocks=2, max_len=8)
    X = np.random.default_rng(0).integers(0, 11, (3, 8))
    later = X.copy()
    later[:, 5:] = (later[:, 5:] + 1) % 11
    before, after = model.forward(X), model.forward(later)
    assert_array_equal(before[:, :5], after[:, :5])
    assert not np.allclose(before[:, 5:], after[:, 5:])


def test_a_sequence_longer_than_max_len_is_refused():
    model = transformer(11, dim=8, max_len=6)
    with pytest.raises(ValueError, match=r"T <= 6"):
        model.forward(np.zeros((1, 7), dtype=int))


def test_the_gradient_check_passes_on_the_transformer():
    model = transformer(5, dim=8, heads=2, blocks=1, max_len=6, seed=1, ignore_index=IGNORE)
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 5, (3, 6)), rng.integers(0, 5, (3, 6))
    y[:, 0] = IGNORE
    report = mn.GradientChecker(mode="full", progress=False).check(model, X, y)
    assert report.passed, str(report)


def test_a_float32_transformer_trains_in_float32():
    model = transformer(7, dim=8, heads=2, blocks=1, max_len=5).astype(np.float32)
    rng = np.random.default_rng(0)
    X, y = rng.integers(0, 7, (3, 5)), rng.integers(0, 7, (3, 5))
    assert model.forward(X).dtype == np.float32
    model.compute_loss(X, y)
    model.backward()
    mn.Adam(1e-3).step(model)
    assert {a.dtype for a in model.gradients() + model.parameters()} == {np.dtype(np.float32)}


def test_save_and_load_keep_the_transformer(tmp_path):
    model = transformer(11, dim=8, heads=2, blocks=1, max_len=8, ignore_index=IGNORE)
    X, y = reversal(64, seed=2)
    train(model, X, y, epochs=1)
    model.save(tmp_path / "t.npz")
    back = mn.Model.load(tmp_path / "t.npz")
    assert repr(back) == repr(model)
    assert_allclose(back.predict_proba(X), model.predict_proba(X), rtol=0, atol=0)
    assert back.loss.ignore_index == IGNORE


# ---- training -------------------------------------------------------------------------------


def test_it_learns_to_reverse_digit_strings_it_never_saw():
    X, y = reversal(4000, seed=0)
    X_new, y_new = reversal(500, seed=1)
    model = transformer(11, dim=32, heads=2, blocks=2, max_len=2 * DIGITS, seed=0,
                        ignore_index=IGNORE)
    assert per_sequence_accuracy(model, X_new, y_new) < 0.01
    train(model, X, y, epochs=3)
    assert per_sequence_accuracy(model, X_new, y_new) >= 0.99
    prefix = X_new[:20, :DIGITS + 1]  # the digits and the separator
    assert (generate(model, prefix, DIGITS) == prefix[:, DIGITS - 1::-1]).mean() >= 0.99
