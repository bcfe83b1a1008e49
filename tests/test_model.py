"""Model: the l2 term, modes, bad input (rejected before anything changes), dtypes, save / load."""

import os

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn


def make_model(l2=0.0):
    return mn.Model([mn.Dense(4, 8, seed=0), mn.BatchNorm(8), mn.LeakyReLU(0.2),
                     mn.Dropout(0.3, seed=1), mn.Dense(8, 6, seed=2), mn.Tanh(),
                     mn.Dense(6, 3, init="xavier", seed=3)], loss=mn.SoftmaxCE(), l2=l2)


def toy_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


@pytest.fixture
def trained():
    """A model with non-default parameters and BatchNorm running statistics."""
    model = make_model(l2=1e-3)
    model.fit(*toy_data(), epochs=2, batch_size=8, progress=False)
    return model


def snapshot(model):
    arrays = [model.get_flat_params()]
    arrays += [a.copy() for layer in model.layers for a in layer.state().values()]
    return arrays


def assert_unchanged(model, before):
    after = snapshot(model)
    assert len(after) == len(before)
    for a, b in zip(after, before, strict=True):
        assert_array_equal(a, b)


# ---- the computation --------------------------------------------------------------------


def test_compute_loss_adds_half_l2_times_the_squared_dense_weights():
    X, y = toy_data(8)
    model = make_model(l2=0.1)
    model.layers[1].params["gamma"][...] = 3.0  # not a Dense weight: no penalty
    model.layers[3].training = False  # Dropout off, so both passes see the same function
    data_loss = mn.SoftmaxCE().forward(model.forward(X), y)
    weights = [model.layers[i].params["W"] for i in (0, 4, 6)]
    expected = data_loss + 0.5 * 0.1 * sum(np.sum(W**2) for W in weights)
    assert model.compute_loss(X, y) == pytest.approx(expected, rel=1e-14)


def test_backward_adds_l2_times_w_to_dense_weight_grads_only():
    X, y = toy_data(8)
    plain, penalized = make_model(l2=0.0), make_model(l2=0.1)
    for model in (plain, penalized):
        model.layers[3].freeze()
        model.compute_loss(X, y)
        model.backward()
    for i, layer in enumerate(penalized.layers):
        for name, g in layer.grads.items():
            extra = 0.1 * layer.params["W"] if name == "W" else 0.0
            assert_allclose(g, plain.layers[i].grads[name] + extra, rtol=1e-12, atol=1e-15)


def test_train_and_eval_set_every_layer_flag():
    model = make_model()
    assert all(layer.training for layer in model.layers)
    model.eval()
    assert not any(layer.training for layer in model.layers)
    model.train()
    assert all(layer.training for layer in model.layers)


def test_evaluate_runs_in_eval_mode_and_restores_the_flags(trained):
    X, y = toy_data(10, seed=1)
    before = snapshot(trained)
    result = trained.evaluate(X, y)
    assert all(layer.training for layer in trained.layers)
    assert_unchanged(trained, before)  # no running-statistics update, no step
    trained.eval()
    scores = trained.forward(X)
    assert result["loss"] == pytest.approx(mn.SoftmaxCE().forward(scores, y) + trained.penalty(),
                                           rel=1e-14)
    assert result["accuracy"] == np.mean(scores.argmax(axis=1) == y)


def test_predict_and_predict_proba_for_softmax(trained):
    X, _ = toy_data(10, seed=1)
    proba = trained.predict_proba(X)
    assert proba.shape == (10, 3)
    assert_allclose(proba.sum(axis=1), np.ones(10), rtol=1e-14)
    assert_array_equal(trained.predict(X), proba.argmax(axis=1))


def test_predict_for_sigmoid_bce_thresholds_the_logit_at_zero():
    model = mn.Model([mn.Dense(1, 1)], loss=mn.SigmoidBCE())
    model.layers[0].params["W"][...] = 1.0
    X = np.array([[-2.0], [0.5], [3.0]])
    assert_array_equal(model.predict(X), [0, 1, 1])
    assert_allclose(model.predict_proba(X), 1 / (1 + np.exp([2.0, -0.5, -3.0])), rtol=1e-15)


def test_predict_for_mse_returns_the_raw_outputs_and_proba_is_refused():
    model = mn.Model([mn.Dense(2, 1, seed=0)], loss=mn.MSE())
    X = np.array([[1.0, 2.0]])
    assert_allclose(model.predict(X), X @ model.layers[0].params["W"], rtol=1e-15)
    with pytest.raises(TypeError, match="predict_proba needs a classification loss"):
        model.predict_proba(X)


def test_model_repr_lists_the_layers_in_order():
    text = repr(make_model())
    assert text.index("(0) Dense(in_features=4") < text.index("(1) BatchNorm(num_features=8")
    assert "loss=SoftmaxCE()" in text


# ---- bad input --------------------------------------------------------------------------

X40, Y40 = toy_data()
NAN_X = X40.copy()
NAN_X[2, 1] = np.nan
INF_X = X40.copy()
INF_X[5, 3] = -np.inf

BAD_DATA = {
    "wrong feature count": (np.ones((40, 5)), Y40, ValueError,
                            r"layer 0 \(Dense\(in_features=4.*\) expects input of shape "
                            r"\(N, \.\.\., 4\), got \(40, 5\)"),
    "X and y lengths differ": (X40, Y40[:39], ValueError,
                               r"X has 40 samples but y has shape \(39,\)"),
    "labels not integers": (X40, Y40.astype(float), TypeError,
                            "integer class labels, got dtype float64"),
    "labels out of range": (X40, np.r_[Y40[:39], 3], ValueError, r"labels must lie in 0\.\.2"),
    "negative label": (X40, np.r_[Y40[:39], -1], ValueError, r"labels must lie in 0\.\.2"),
    "NaN in X": (NAN_X, Y40, ValueError, "1 NaN or infinite values, the first at row 2, column 1"),
    "inf in X": (INF_X, Y40, ValueError, "1 NaN or infinite values, the first at row 5, column 3"),
    "empty batch": (np.zeros((0, 4)), np.zeros(0, int), ValueError, r"empty batch \(0 samples\)"),
    "X not 2-D": (np.ones(4), Y40[:1], ValueError, r"X must be 2-D \(samples, features\)"),
    "X of strings": (np.full((40, 4), "a"), Y40, TypeError, "X must hold numbers"),
    "2-D labels": (X40, Y40.reshape(40, 1), TypeError, "1-D array of integer class labels"),
}


@pytest.mark.parametrize("case", BAD_DATA)
@pytest.mark.parametrize("method", ["fit", "compute_loss", "evaluate"])
def test_bad_data_is_rejected_with_a_message_and_the_model_is_unchanged(trained, case, method):
    X, y, error, message = BAD_DATA[case]
    before = snapshot(trained)
    call = {"fit": lambda: trained.fit(X, y, epochs=1, progress=False),
            "compute_loss": lambda: trained.compute_loss(X, y),
            "evaluate": lambda: trained.evaluate(X, y)}[method]
    with pytest.raises(error, match=message):
        call()
    assert_unchanged(trained, before)


def test_bad_validation_data_is_rejected_before_any_step(trained):
    before = snapshot(trained)
    with pytest.raises(ValueError, match="layer 0"):
        trained.fit(X40, Y40, epochs=1, validation_data=(np.ones((5, 3)), Y40[:5]),
                    progress=False)
    assert_unchanged(trained, before)


@pytest.mark.parametrize("X", [np.ones((3, 5)), NAN_X])
def test_predict_rejects_bad_X(trained, X):
    with pytest.raises(ValueError, match="layer 0|NaN"):
        trained.predict(X)


def test_forward_names_the_layer_that_got_the_wrong_shape():
    model = make_model()
    with pytest.raises(ValueError,
                       match=r"layer 0: Dense\(in_features=4.*\(N, \.\.\., 4\).*\(2, 7\)"):
        model.forward(np.ones((2, 7)))


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ({"batch_size": True}, "batch_size must be a positive integer, got True"),
])
def test_fit_rejects_bad_epochs_or_batch_size(trained, kwargs, message):
    before = snapshot(trained)
    with pytest.raises(ValueError, match=message):
        trained.fit(X40, Y40, progress=False, **kwargs)
    assert_unchanged(trained, before)


@pytest.mark.parametrize("n, batch_size", [(41, 8), (33, 32), (1, 32), (40, 1)])
def test_fit_refuses_a_one_sample_batch_for_batchnorm_before_any_step(trained, n, batch_size):
    X, y = toy_data(n)
    before = snapshot(trained)
    with pytest.raises(ValueError, match=f"{n} samples in batches of {batch_size} give a batch "
                                         f"of 1 sample, which BatchNorm cannot normalize"):
        trained.fit(X, y, epochs=1, batch_size=batch_size, progress=False)
    assert_unchanged(trained, before)


def test_one_sample_batches_are_fine_without_batchnorm():
    model = mn.Model([mn.Dense(4, 3, seed=0)], loss=mn.SoftmaxCE())
    model.fit(*toy_data(9), epochs=1, batch_size=4, progress=False)


def test_inconsistent_layer_widths_are_rejected_at_construction():
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\(in_features=6.*\) expects 6 "
                                         r"features, but the layers before it produce 8"):
        mn.Model([mn.Dense(4, 8), mn.ReLU(), mn.Dense(6, 3)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError, match=r"layer 1 \(BatchNorm\(num_features=5.*expects 5 "
                                         r"features, but the layers before it produce 8"):
        mn.Model([mn.Dense(4, 8), mn.BatchNorm(5)], loss=mn.SoftmaxCE())


def test_too_few_outputs_for_the_labels_is_caught_as_out_of_range():
    model = mn.Model([mn.Dense(4, 2, seed=0)], loss=mn.SoftmaxCE())
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1 for 2 scores"):
        model.compute_loss(X40, Y40)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"l2": -1.0}, ValueError, "l2 must be a finite number >= 0, got -1.0"),
    ({"l2": np.nan}, ValueError, "l2 must be a finite number >= 0"),
    ({"loss": "softmax"}, TypeError, "loss must be a Loss with forward and backward"),
])
def test_model_rejects_a_bad_l2_or_loss(kwargs, error, message):
    args = {"loss": mn.SoftmaxCE(), **kwargs}
    with pytest.raises(error, match=message):
        mn.Model([mn.Dense(4, 3)], **args)


def test_model_rejects_something_that_is_not_a_layer():
    with pytest.raises(TypeError, match=r"layer 1 \(.*\) is not a Layer"):
        mn.Model([mn.Dense(4, 3), np.tanh], loss=mn.SoftmaxCE())


# ---- dtypes -----------------------------------------------------------------------------


def all_arrays(model, optimizer=None):
    arrays = {}
    for i, layer in enumerate(model.layers):
        arrays.update({f"{i}.{k}": v for k, v in layer.params.items()})
        arrays.update({f"{i}.grad.{k}": v for k, v in layer.grads.items()})
        arrays.update({f"{i}.{k}": v for k, v in layer.state().items()})
    if optimizer is not None:
        for name, state in optimizer.state.items():
            arrays.update({f"opt.{name}.{k}": v for k, v in state.items()
                           if isinstance(v, np.ndarray)})
    return arrays


def test_float64_by_default(trained):
    assert {a.dtype for a in all_arrays(trained).values()} == {np.dtype(np.float64)}
    assert trained.dtype == np.float64
    assert trained.predict_proba(X40.astype(np.float32)).dtype == np.float64  # X takes its dtype


@pytest.mark.parametrize("optimizer", [mn.SGD(0.01), mn.Momentum(0.01), mn.Adam()],
                         ids=["sgd", "momentum", "adam"])
@pytest.mark.parametrize("loss, y", [
    (mn.SoftmaxCE(), Y40),
    (mn.MSE(), np.random.default_rng(0).standard_normal((40, 3))),  # float64 targets
], ids=["softmax_ce", "mse"])
def test_float32_model_trains_in_float32_throughout(optimizer, loss, y):
    model = make_model()
    model.loss = loss
    model.astype(np.float32)
    model.fit(X40, y, epochs=2, batch_size=8, optimizer=optimizer,
              validation_data=(X40, y), progress=False)
    arrays = all_arrays(model, optimizer)
    # 8 params, 8 grads, 2 running statistics, and per param 0 (SGD), 1 (v) or 2 (m, v) states
    per_param = {"SGD": 0, "Momentum": 1, "Adam": 2}[type(optimizer).__name__]
    assert len(arrays) == 18 + 8 * per_param
    assert {k: str(a.dtype) for k, a in arrays.items() if a.dtype != np.float32} == {}
    assert model.forward(X40.astype(np.float32)).dtype == np.float32
    assert model.predict(X40).dtype == (np.int64 if isinstance(loss, mn.SoftmaxCE) else np.float32)


def test_float32_sigmoid_bce_keeps_float32_grads():
    model = mn.Model([mn.Dense(4, 5, seed=0), mn.Sigmoid(), mn.Dense(5, 1, seed=1)],
                     loss=mn.SigmoidBCE()).astype(np.float32)
    model.fit(X40, Y40 % 2, epochs=1, batch_size=8, progress=False)
    assert {a.dtype for a in all_arrays(model).values()} == {np.dtype(np.float32)}


def test_astype_refuses_a_non_float_dtype():
    with pytest.raises(TypeError, match="needs a floating-point dtype, got int64"):
        make_model().astype(np.int64)


# ---- save and load ----------------------------------------------------------------------


def assert_same_model(a, b):
    assert a.spec() == b.spec()
    assert repr(a) == repr(b)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert na == nb and pa.dtype == pb.dtype
        assert_array_equal(pa, pb, strict=True)
    for la, lb in zip(a.layers, b.layers, strict=True):
        for k, v in la.state().items():
            assert_array_equal(v, lb.state()[k], strict=True)


def test_save_load_round_trip_is_bit_exact(trained, tmp_path):
    trained.save(tmp_path / "m.npz")
    loaded = mn.Model.load(tmp_path / "m.npz")
    assert_same_model(trained, loaded)
    assert loaded.l2 == 1e-3 and isinstance(loaded.loss, mn.SoftmaxCE)
    assert_array_equal(loaded.predict_proba(X40), trained.predict_proba(X40))
    bn = loaded.layers[1]
    assert not np.array_equal(bn.running_mean, np.zeros(8))  # the fixture really trained


def test_save_load_round_trip_keeps_float32(trained, tmp_path):
    trained.astype(np.float32)
    trained.save(tmp_path / "m32.npz")
    loaded = mn.Model.load(tmp_path / "m32.npz")
    assert loaded.dtype == np.float32
    assert_same_model(trained, loaded)


def test_save_writes_exactly_the_given_path(trained, tmp_path):
    trained.save(tmp_path / "checkpoint")
    assert os.listdir(tmp_path) == ["checkpoint"]
    assert_same_model(trained, mn.Model.load(tmp_path / "checkpoint"))


def test_load_weights_into_the_same_architecture(trained, tmp_path):
    trained.save(tmp_path / "m.npz")
    fresh = make_model(l2=1e-3)
    fresh.load_weights(tmp_path / "m.npz")
    assert_same_model(trained, fresh)


def test_a_crash_mid_save_leaves_the_old_file_whole_and_no_temp_file(trained, tmp_path,
                                                                     monkeypatch):
    path = tmp_path / "m.npz"
    trained.save(path)
    old = snapshot(trained)
    old_bytes = path.read_bytes()
    trained.fit(X40, Y40, epochs=1, batch_size=8, progress=False)

    def crash(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        trained.save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.npz"]
    assert path.read_bytes() == old_bytes
    assert_unchanged(mn.Model.load(path), old)


def test_load_of_a_missing_file_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model at .*nothing.npz"):
        mn.Model.load(tmp_path / "nothing.npz")


@pytest.mark.parametrize("keep", [0, 10, 0.5, -22])
def test_load_of_a_truncated_file_raises_a_clear_error(trained, tmp_path, keep):
    path = tmp_path / "m.npz"
    trained.save(path)
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match="is not a minnet model file"):
        mn.Model.load(path)


def test_load_of_a_foreign_npz_raises_a_clear_error(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.ones(3))
    with pytest.raises(ValueError, match="is not a minnet model file"):
        mn.Model.load(tmp_path / "foreign.npz")
    np.savez(tmp_path / "other.npz", __spec__=np.array('{"format": "other"}'))
    with pytest.raises(ValueError, match="is not a minnet model file"):
        mn.Model.load(tmp_path / "other.npz")


def test_load_of_a_text_file_raises_a_clear_error(tmp_path):
    (tmp_path / "notes.npz").write_text("hello, not a model\n")
    with pytest.raises(ValueError, match="is not a minnet model file"):
        mn.Model.load(tmp_path / "notes.npz")


def test_load_weights_of_another_architecture_is_refused_and_changes_nothing(trained,
                                                                             tmp_path):
    trained.save(tmp_path / "m.npz")
    other = mn.Model([mn.Dense(4, 8, seed=0), mn.ReLU(), mn.Dense(8, 3, seed=1)],
                     loss=mn.SoftmaxCE())
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"holds a model with layers \['Dense', 'BatchNorm'"):
        other.load_weights(tmp_path / "m.npz")
    assert_unchanged(other, before)


def test_load_weights_with_other_widths_is_refused_and_changes_nothing(trained, tmp_path):
    trained.save(tmp_path / "m.npz")
    wider = mn.Model([mn.Dense(4, 9, seed=0), mn.BatchNorm(9), mn.LeakyReLU(0.2),
                      mn.Dropout(0.3, seed=1), mn.Dense(9, 6, seed=2), mn.Tanh(),
                      mn.Dense(6, 3, init="xavier", seed=3)], loss=mn.SoftmaxCE())
    before = snapshot(wider)
    with pytest.raises(ValueError, match=r"array 0\.W has shape \(4, 8\), this model needs "
                                         r"\(4, 9\)"):
        wider.load_weights(tmp_path / "m.npz")
    assert_unchanged(wider, before)


def test_a_checkpoint_missing_its_layers_is_refused_clearly(tmp_path):
    path = tmp_path / "damaged.npz"
    np.savez(path, __spec__=np.array('{"format": "minnet", "version": 1}'))
    with pytest.raises(ValueError, match="damaged minnet model file"):
        mn.Model.load(path)


def test_save_gives_the_file_ordinary_permissions(tmp_path):
    path = tmp_path / "model.npz"
    mn.Model([mn.Dense(2, 2, seed=0)], loss=mn.MSE()).save(path)
    assert path.stat().st_mode & 0o777 == 0o644


# ---- refused input and save / load corners ------------------------------------------------


def test_an_empty_list_of_layers_is_refused():
    with pytest.raises(ValueError, match="^Model needs at least one layer, got an empty list$"):
        mn.Model([], loss=mn.SoftmaxCE())


def test_save_creates_missing_folders(trained, tmp_path):
    path = tmp_path / "sub" / "dir" / "m.npz"
    trained.save(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.npz"]  # no temp file left
    assert_array_equal(mn.Model.load(path).get_flat_params(), trained.get_flat_params())


@pytest.mark.parametrize("content", [
    lambda path: path.write_bytes(np.random.default_rng(0).bytes(300)),
    lambda path: np.save(path.open("wb"), np.array([{"a": 1}], dtype=object),
                         allow_pickle=True),
    lambda path: np.savez(path, __spec__=np.array('{"format": "minnet"}'),
                          w=np.array([{"a": 1}], dtype=object)),
], ids=["random bytes", "pickled npy", "npz with an object array"])
def test_load_of_garbage_says_what_the_file_is_not_without_numpys_pickle_advice(tmp_path,
                                                                                content):
    path = tmp_path / "garbage.npz"
    content(path)
    with pytest.raises(ValueError) as e:
        mn.Model.load(path)
    message = str(e.value)
    assert message.startswith(f"{path} is not a minnet model file: ")
    assert "pickle" not in message and "\n" not in message


class Hidden(mn.Layer):
    """A layer of the user's own: the model cannot know the shape it returns."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, dout):
        return dout


def test_after_a_layer_of_ones_own_a_dense_keeps_whatever_leading_axes_come():
    """A sequence model whose first layer is the user's: scores (N, T, C) with labels (N, T)."""
    model = mn.Model([Hidden(), mn.Dense(4, 3, seed=0)], loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((2, 5, 4))
    y = np.random.default_rng(1).integers(0, 3, (2, 5))
    assert model.n_outputs == 3
    assert np.isfinite(model.compute_loss(X, y))
    with pytest.raises(ValueError, match="labels must lie in 0..2"):
        model.compute_loss(X, np.full((2, 5), 3))
