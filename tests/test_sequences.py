"""Sequence models in a Model: shapes through the layers, targets, per-token accuracy, save and
load, gradient clipping, the gradient checker on them, and sampling."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn

V, D, H, T, N = 7, 4, 5, 6, 5


def char_model(cls=mn.LSTM, loss=None, seed=0):
    return mn.Model([mn.Embedding(V, D, seed=seed), cls(D, H, seed=seed + 1),
                     mn.Dense(H, V, seed=seed + 2)], loss=loss or mn.SoftmaxCE())


def ids(seed=0, n=N, t=T):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (n, t)), rng.integers(0, V, (n, t))


# ---- shapes and targets -------------------------------------------------------------------


def test_a_character_model_outputs_scores_per_step_and_predicts_per_step():
    model = char_model()
    X, y = ids()
    assert model.forward(X).shape == (N, T, V)
    assert model.output_shape == (None, V) and model.n_outputs is None
    assert model.predict(X).shape == (N, T)
    assert_allclose(model.predict_proba(X).sum(axis=-1), 1.0)
    assert_array_equal(model.predict(X), model.predict_proba(X).argmax(axis=-1))


def test_a_classifier_of_whole_sequences_takes_the_last_step():
    model = mn.Model([mn.GRU(3, 4, seed=0, return_sequences=False), mn.Dense(4, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((6, 9, 3))
    assert model.n_outputs == 2 and model.predict(X).shape == (6,)
    model.fit(X, np.arange(6) % 2, epochs=2, progress=False)


def test_widths_that_do_not_fit_are_named_before_any_data():
    with pytest.raises(ValueError, match=r"layer 1 \(LSTM\(input_size=5, .*\) expects input of "
                                         r"shape \(N, T, 5\), but the layers before it produce "
                                         r"\(N, T, 4\)"):
        mn.Model([mn.Embedding(V, 4), mn.LSTM(5, 3)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError, match=r"layer 2 \(Dense.*expects 6 features, but the layers "
                                         r"before it produce 5"):
        mn.Model([mn.Embedding(V, 4), mn.GRU(4, 5, return_sequences=False), mn.Dense(6, 2)],
                 loss=mn.SoftmaxCE())


def test_dense_layers_before_a_recurrent_one_work_on_every_step():
    model = mn.Model([mn.Dense(3, 4, seed=0), mn.Tanh(), mn.RNN(4, 5, seed=1),
                      mn.Dense(5, V, seed=2)], loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((2, 6, 3))
    assert model.forward(X).shape == (2, 6, V)
    with pytest.raises(TypeError, match=r"y must be a 2-D array of integer class labels"):
        model.fit(X, np.zeros(2, dtype=int), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"layer 1 \(RNN.*expects input of shape \(N, T, 5\), "
                                         r"but the layers before it produce \(N, T, 4\)"):
        mn.Model([mn.Dense(3, 4), mn.RNN(5, 5)], loss=mn.SoftmaxCE())


def test_sequence_targets_are_checked_before_any_step():
    model = char_model()
    X, y = ids()
    before = model.get_flat_params()
    with pytest.raises(TypeError, match=r"y must be a 2-D array of integer class labels"):
        model.fit(X, y[:, 0], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"labels must lie in 0..6"):
        model.fit(X, y + V, epochs=1, progress=False)
    with pytest.raises(TypeError, match="takes integer token ids"):
        model.fit(X.astype(float), y, epochs=1, progress=False)
    assert_array_equal(model.get_flat_params(), before)


def test_accuracy_is_per_token_and_counts_only_targets_that_count():
    model = char_model(loss=mn.SoftmaxCE(ignore_index=-1))
    X, _ = ids(1)
    pred = model.predict(X)
    y = pred.copy()
    y[0, :3] = (pred[0, :3] + 1) % V  # 3 wrong
    y[1, :] = -1  # a whole sequence that does not count
    y[2, 0] = -1
    counted = N * T - T - 1
    assert model.evaluate(X, y)["accuracy"] == pytest.approx((counted - 3) / counted)
    history = model.fit(X, y, epochs=1, batch_size=N, optimizer=mn.SGD(1e-12), progress=False)
    assert history.accuracy[0] == pytest.approx((counted - 3) / counted)


# ---- save, load, dtype --------------------------------------------------------------------


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
def test_save_and_load_rebuild_a_sequence_model(tmp_path, cls):
    model = mn.Model([mn.Embedding(V, D, seed=0), cls(D, H, seed=1, return_sequences=False),
                      mn.Dense(H, V, seed=2)], loss=mn.SoftmaxCE(ignore_index=0))
    X, _ = ids()
    model.fit(X, X[:, -1], epochs=1, progress=False)
    model.save(tmp_path / "m.npz")
    back = mn.Model.load(tmp_path / "m.npz")
    assert repr(back) == repr(model)
    assert_array_equal(back.forward(X), model.forward(X))


def test_astype_float32_trains_a_sequence_model_in_float32():
    model = char_model(mn.GRU).astype(np.float32)
    X, y = ids()
    model.fit(X, y, epochs=1, progress=False)
    assert model.forward(X).dtype == np.float32
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float32)}


# ---- clipping ---------------------------------------------------------------------------


def test_clip_gradients_scales_the_global_norm_to_max_norm_and_keeps_the_direction():
    model = char_model()
    model.compute_loss(*ids())
    model.backward()
    g = model.get_flat_grads()
    norm = np.linalg.norm(g)
    assert model.clip_gradients(None) == pytest.approx(norm)  # measures only
    assert_array_equal(model.get_flat_grads(), g)
    assert model.clip_gradients(10 * norm) == pytest.approx(norm)  # below: untouched
    assert_array_equal(model.get_flat_grads(), g)
    assert model.clip_gradients(norm / 4) == pytest.approx(norm)
    assert_allclose(model.get_flat_grads(), g / 4, rtol=1e-12)


def test_fit_clips_before_each_step_and_records_the_norms():
    X, y = ids(2, n=8)
    a, b = char_model(), char_model()
    free = a.fit(X, y, epochs=1, batch_size=8, optimizer=mn.SGD(1.0), progress=False)
    # what one SGD step with the gradient clipped to 0.01 gives, by hand
    b.compute_loss(X, y)
    b.backward()
    expected = b.get_flat_params() - 0.01 * b.get_flat_grads() / np.linalg.norm(b.get_flat_grads())
    clipped = b.fit(X, y, epochs=1, batch_size=8, optimizer=mn.SGD(1.0), clip_norm=0.01,
                    progress=False)
    assert_allclose(b.get_flat_params(), expected, rtol=1e-12, atol=1e-15)
    assert clipped.clipped == [1] and free.clipped == [0]
    assert clipped.grad_norm == pytest.approx(free.grad_norm)  # the norm before clipping
    assert clipped.grad_norm[0] > 0.01


@pytest.mark.parametrize("clip_norm", [0, -1.0, np.inf, np.nan, "5", True])
def test_fit_rejects_a_clip_norm_that_is_not_a_positive_number(clip_norm):
    X, y = ids()
    with pytest.raises(ValueError, match="clip_norm must be a finite number > 0"):
        char_model().fit(X, y, epochs=1, clip_norm=clip_norm, progress=False)


# ---- the gradient checker on sequence models -----------------------------------------------


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
def test_a_full_check_of_a_sequence_model_passes_and_its_shortcuts_change_nothing(cls):
    model = char_model(cls)
    X, y = ids(3)
    fast = mn.GradientChecker(mode="full", progress=False).check(model, X, y)
    slow = mn.GradientChecker(mode="full", progress=False, fast=False).check(model, X, y)
    assert fast.passed and slow.passed, fast
    assert [c.checked for c in fast.params] == [p.size for p in model.parameters()]
    for a, b in zip(fast.params, slow.params):
        assert a.numeric == pytest.approx(b.numeric, rel=1e-6, abs=1e-12)


def test_a_directional_check_of_a_sequence_model_passes():
    report = mn.GradientChecker(mode="directional", progress=False).check(char_model(), *ids(4))
    assert report.passed, report


# ---- sampling ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [mn.RNN, mn.LSTM, mn.GRU])
def test_sampling_step_by_step_equals_reading_the_whole_sequence_again(cls):
    model = char_model(cls, seed=3)
    prefix = np.array([1, 4, 2])
    out = mn.sample(model, prefix, steps=6, temperature=0)  # greedy: the argmax every time
    assert out.dtype == np.int64 and len(out) == 9
    assert_array_equal(out[:3], prefix)
    for k in range(3, 9):
        assert out[k] == model.forward(out[None, :k])[0, -1].argmax()


def test_sampling_a_transformer_reads_the_whole_sequence_and_at_most_max_len_ids():
    """Attention looks back over every step and a positional encoding places each id by its
    index, so a Transformer cannot go on from one new id: each draw reads the sequence so far,
    cut to its last max_len ids once it grows longer."""
    model = mn.transformer(V, dim=8, heads=2, blocks=1, max_len=5, seed=2)
    out = mn.sample(model, np.array([1, 4, 2]), steps=6, temperature=0)
    assert len(out) == 9
    for k in range(3, 9):
        assert out[k] == model.forward(out[None, max(0, k - 5):k])[0, -1].argmax()


def test_sampling_draws_from_the_softmax_at_the_temperature_with_the_seed():
    model = mn.Model([mn.Embedding(3, 2, seed=0), mn.Dense(2, 3, seed=1)], loss=mn.SoftmaxCE())
    model.layers[1].params["W"][:] = 0
    model.layers[1].params["b"][:] = np.log([0.7, 0.2, 0.1])  # the same scores after any id
    draws = mn.sample(model, [0], steps=3000, seed=1)[1:]
    assert_allclose(np.bincount(draws, minlength=3) / 3000, [0.7, 0.2, 0.1], atol=0.025)
    hot = mn.sample(model, [0], steps=3000, temperature=2.0, seed=1)[1:]
    expected = np.array([0.7, 0.2, 0.1]) ** 0.5 / np.sum(np.array([0.7, 0.2, 0.1]) ** 0.5)
    assert_allclose(np.bincount(hot, minlength=3) / 3000, expected, atol=0.025)
    assert_array_equal(mn.sample(model, [0], 50, seed=5), mn.sample(model, [0], 50, seed=5))
    assert not np.array_equal(mn.sample(model, [0], 50, seed=5), mn.sample(model, [0], 50, seed=6))


def test_sampling_one_hot_inputs_and_text():
    """A first layer without an Embedding reads one-hot vectors as wide as its input."""
    vocab = mn.datasets.Vocabulary("abc")
    model = mn.Model([mn.RNN(3, 4, seed=0), mn.Dense(4, 3, seed=1)], loss=mn.SoftmaxCE())
    text = mn.sample_text(model, vocab, "ab", steps=5, temperature=0)
    assert len(text) == 7 and text.startswith("ab")
    out = vocab.encode(text)
    for k in range(2, 7):
        assert out[k] == model.forward(np.eye(3)[None, out[:k]])[0, -1].argmax()
    assert mn.sample_text(model, vocab, "ab", 5, seed=0) != mn.sample_text(model, vocab, "ab", 5,
                                                                               seed=2)


def test_sampling_leaves_the_model_as_it_was():
    model = char_model(mn.GRU)
    model.layers[1].training = True
    before = model.get_flat_params()
    mn.sample(model, [1, 2], 10)
    assert_array_equal(model.get_flat_params(), before)
    assert all(layer.training for layer in model.layers)


@pytest.mark.parametrize("args, message", [
    (([], 5), "prefix must be a non-empty 1-D sequence of integer token ids"),
    (([1.5], 5), "prefix must be a non-empty"),
    (([1], -1), "steps must be an integer >= 0"),
    (([1], 2, -0.5), "temperature must be a finite number >= 0"),
])
def test_sampling_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        mn.sample(char_model(), *args)
