"""The small Transformer: built from minnet's layers, causal, checked, and trained with
Model.fit: on digit-by-digit addition to >= 99 % per-sequence accuracy on sums it never saw, and
on the character corpus to a held-out loss well below that of the characters' frequencies, from
which mn.sample_text writes text."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn
from minnet import transformer

IGNORE = -1  # a target that does not count (SoftmaxCE's ignore_index)


def per_sequence_accuracy(model, X, y):
    """The fraction of sequences whose every target is predicted. (Model.evaluate and History
    count each token on its own, so this is computed from predict.)"""
    return (model.predict(X) == y).all(axis=1).mean()


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
    model = transformer(100, dim=8, heads=2, blocks=1, max_len=4, ignore_index=IGNORE)
    X, y = mn.datasets.addition(64, seed=2)
    model.fit(X, y, epochs=1, batch_size=16, progress=False)
    model.save(tmp_path / "t.npz")
    back = mn.Model.load(tmp_path / "t.npz")
    assert repr(back) == repr(model)
    assert_allclose(back.predict_proba(X), model.predict_proba(X), rtol=0, atol=0)
    assert back.loss.ignore_index == IGNORE


# ---- training -------------------------------------------------------------------------------


def test_it_learns_to_add_digit_by_digit_on_sums_it_never_saw():
    """Position t reads the t-th digits of a and b (units first) and predicts digit t of a + b,
    which depends on the digits up to t only: what a causal decoder sees. Adam at 2e-3, then
    at 2e-4 for the last epochs (fit has no learning-rate schedule, so a second fit)."""
    X, y = mn.datasets.addition(10_000, digits=3, seed=0)
    X_new, y_new = mn.datasets.addition(2000, digits=3, seed=1)
    seen = np.isin(X_new @ 100 ** np.arange(4), X @ 100 ** np.arange(4))  # the same a and b
    X_new, y_new = X_new[~seen], y_new[~seen]
    model = transformer(100, dim=32, heads=2, blocks=2, max_len=4, seed=0)
    assert per_sequence_accuracy(model, X_new, y_new) < 0.01
    for seed, (epochs, lr) in enumerate([(5, 2e-3), (2, 2e-4)]):
        model.fit(X, y, epochs=epochs, batch_size=32, optimizer=mn.Adam(lr), seed=seed,
                  progress=False)
    assert per_sequence_accuracy(model, X_new, y_new) >= 0.99


def test_it_beats_the_character_frequencies_on_held_out_text_and_writes():
    """Trained for 2 epochs on the first 20,000 characters but the last 10 %, its loss on those
    is well below that of predicting their frequencies (the best any fixed distribution does:
    their entropy)."""
    text, vocab, X, y = mn.datasets.load_text(seq_length=32, chars=20_000)
    held_out = len(X) // 10
    Xtr, ytr, Xva, yva = X[:-held_out], y[:-held_out], X[-held_out:], y[-held_out:]
    model = transformer(len(vocab), dim=32, heads=2, blocks=2, max_len=32, seed=0)
    history = model.fit(Xtr, ytr, epochs=2, batch_size=32, optimizer=mn.Adam(1e-2),
                        validation_data=(Xva, yva), progress=False)
    p = np.bincount(yva.ravel(), minlength=len(vocab)) / yva.size
    frequencies = -np.sum(p[p > 0] * np.log(p[p > 0]))
    assert history.val_loss[-1] < frequencies - 0.5, (history.val_loss, frequencies)
    assert history.val_loss[-1] < history.val_loss[0]
    sampled = mn.sample_text(model, vocab, "ROMEO:", steps=26, temperature=0.5)
    assert sampled.startswith("ROMEO:") and len(sampled) == 32
    assert sampled == mn.sample_text(model, vocab, "ROMEO:", steps=26, temperature=0.5)
