"""Shared weights are one parameter: a tied autoencoder and a tied embedding/output pair.

An array object held by several layers is listed once, counted once in the flat vector, and its
gradient sums every holder's; optimizers keep one state for it and save/load keep the sharing.
The check perturbs the array itself, so every use sees the change: the correct model passes, a
use left out fails and the report names the layer that left it out.
"""

import numpy as np
import pytest

import minnet as mn


class TiedDecoder(mn.Layer):
    """y = x Wᵀ + c, W the encoder's (in, hidden) array itself."""

    def __init__(self, encoder):
        super().__init__()
        W = encoder.params["W"]
        self.params = {"W": W, "c": np.zeros(W.shape[0])}
        self.grads = {"W": np.zeros_like(W), "c": np.zeros(W.shape[0])}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["c"]

    def backward(self, dout):
        self.grads["W"] = dout.T @ self.x
        self.grads["c"] = dout.sum(axis=0)
        return dout @ self.params["W"]


class DecoderForgetsW(TiedDecoder):
    """Bug: its use of W never reaches the gradient (grads['W'] left at zero)."""

    def backward(self, dout):
        self.grads["W"] = np.zeros_like(self.params["W"])
        self.grads["c"] = dout.sum(axis=0)
        return dout @ self.params["W"]


class DecoderByReference(mn.Layer):
    """Bug: reads the encoder's W through the encoder, without listing it in its params."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.params = {"c": np.zeros(encoder.in_features)}
        self.grads = {"c": np.zeros(encoder.in_features)}

    def forward(self, x):
        self.x = x
        return x @ self.encoder.params["W"].T + self.params["c"]

    def backward(self, dout):
        self.grads["c"] = dout.sum(axis=0)
        return dout @ self.encoder.params["W"]


def autoencoder(decoder=TiedDecoder, seed=0):
    encoder = mn.Dense(4, 7, seed=seed)
    model = mn.Model([encoder, mn.Tanh(), decoder(encoder)], loss=mn.MSE())
    X = np.random.default_rng(seed).standard_normal((6, 4))
    return model, X, X.copy()


class TiedOutput(mn.Layer):
    """Scores over the vocabulary from the embedding's own W (V, D): s = h Wᵀ."""

    def __init__(self, embedding):
        super().__init__()
        self.params = {"W": embedding.params["W"]}
        self.grads = {"W": np.zeros_like(embedding.params["W"])}

    def forward(self, h):
        self.h = h
        return h @ self.params["W"].T

    def backward(self, dout):
        V, D = self.params["W"].shape
        self.grads["W"] = dout.reshape(-1, V).T @ self.h.reshape(-1, D)
        return dout @ self.params["W"]


def language_model(seed=0):
    emb = mn.Embedding(9, 5, seed=seed)
    model = mn.Model([emb, mn.Tanh(), mn.Dense(5, 5, seed=seed + 1), TiedOutput(emb)],
                     loss=mn.SoftmaxCE())
    ids = np.random.default_rng(seed).integers(0, 9, (3, 6))
    return model, ids[:, :-1], ids[:, 1:]


def textbook(model, X, y):
    """Training's flat gradient and mn.numeric_gradient of the loss in the flat parameters."""
    model.compute_loss(X, y)
    model.backward()
    analytic, theta = model.get_flat_grads(), model.get_flat_params()

    def J(v):
        model.set_flat_params(v)
        return model.compute_loss(X, y)

    numeric = mn.numeric_gradient(J, theta.copy())
    model.set_flat_params(theta)
    return analytic, numeric


@pytest.mark.parametrize("build, sizes", [(autoencoder, {"0.W": 28, "0.b": 7, "2.c": 4}),
                                          (language_model, {"0.W": 45, "2.W": 25, "2.b": 5})])
def test_a_shared_array_is_listed_and_counted_once(build, sizes):
    model, X, y = build()
    assert {name: p.size for name, p in model.named_parameters()} == sizes
    assert model.get_flat_params().size == model.get_flat_grads().size == sum(sizes.values())
    (slot,) = [s for s in model.slots() if s.shared]
    assert slot.name == "0.W" and len(slot.holders) == 2


@pytest.mark.parametrize("build", [autoencoder, language_model])
def test_the_gradient_of_a_shared_array_is_the_sum_over_its_holders(build):
    model, X, y = build()
    analytic, numeric = textbook(model, X, y)
    assert mn.gradcheck.rel_error(analytic, numeric) < 1e-8
    holders = [layer.grads["W"] for layer in (model.layers[0], model.layers[-1])]
    np.testing.assert_allclose(model.gradients()[0], holders[0] + holders[1], rtol=1e-15)


@pytest.mark.parametrize("mode", ["full", "sample", "directional"])
@pytest.mark.parametrize("build", [autoencoder, language_model])
def test_the_correct_tied_model_passes(build, mode):
    model, X, y = build()
    report = mn.GradientChecker(mode=mode, progress=False).check(model, X, y)
    assert report.passed, str(report)
    (row,) = [c for c in report.params if c.also]
    assert (row.layer_index, row.param, row.also) == (0, "W", (f"{len(model.layers) - 1}.W",))
    assert "W = " in str(report)


def test_a_holder_that_leaves_its_use_out_of_the_gradient_is_named():
    model, X, y = autoencoder(DecoderForgetsW)
    analytic, numeric = textbook(model, X, y)
    assert mn.gradcheck.rel_error(analytic, numeric) > 1e-2  # the textbook says: wrong
    report = mn.GradientChecker(progress=False).check(model, X, y)
    assert not report.passed and [s.layer_index for s in report.suspects] == [2]
    assert report.headline().startswith("Gradient check FAILED: the backward of layer 2 "
                                        "(DecoderForgetsW) is wrong: its gradient for W")


def test_a_layer_that_reads_a_weight_without_listing_it_is_named():
    model, X, y = autoencoder(DecoderByReference)
    analytic, numeric = textbook(model, X, y)
    assert mn.gradcheck.rel_error(analytic, numeric) > 1e-2
    report = mn.GradientChecker(progress=False).check(model, X, y)
    assert not report.passed and [s.layer_index for s in report.suspects] == [2]
    assert report.headline() == (
        "Gradient check FAILED: layer 2 (DecoderByReference) reads 0.W in its forward but does "
        "not list it in its params, so the gradient training applies to 0.W leaves out its use")
    assert "self.params['W'] = other.params['W']" in report.advice


@pytest.mark.parametrize("optimizer", [mn.SGD(0.1), mn.Momentum(0.1), mn.RMSProp(), mn.Adam()])
def test_an_optimizer_keeps_one_state_and_steps_a_shared_array_once(optimizer):
    model, X, y = autoencoder()
    W = model.layers[0].params["W"]
    before = W.copy()
    model.compute_loss(X, y)
    model.backward()
    g = model.gradients()[0].copy()
    optimizer.step(model)
    assert model.layers[2].params["W"] is W  # still one array
    assert sorted(optimizer.state) == ([] if isinstance(optimizer, mn.SGD) else
                                       ["0.W", "0.b", "2.c"])
    if isinstance(optimizer, mn.SGD):
        np.testing.assert_allclose(W, before - 0.1 * g, rtol=1e-15)


def test_training_a_tied_autoencoder_keeps_the_tie_and_lowers_the_loss():
    model, X, y = autoencoder()
    first = model.compute_loss(X, y)
    model.fit(X, y, epochs=30, batch_size=6, optimizer=mn.Adam(0.05), progress=False)
    assert model.layers[2].params["W"] is model.layers[0].params["W"]
    assert model.compute_loss(X, y) < 0.5 * first


def test_astype_and_load_weights_keep_the_sharing(tmp_path):
    model, X, y = autoencoder()
    model.astype(np.float32)
    assert model.layers[2].params["W"] is model.layers[0].params["W"]
    assert model.layers[0].params["W"].dtype == np.float32
    model.save(tmp_path / "tied.npz")
    other, _, _ = autoencoder(seed=1)
    other.astype(np.float32)
    other.load_weights(tmp_path / "tied.npz")
    assert other.layers[2].params["W"] is other.layers[0].params["W"]
    np.testing.assert_array_equal(other.get_flat_params(), model.get_flat_params())


def test_save_and_load_keep_a_tie_between_built_in_layers(tmp_path):
    first, last = mn.Dense(5, 5, seed=0), mn.Dense(5, 5, seed=1)
    last.params["W"] = first.params["W"]  # a weight-tied pair, as in a recurrent unrolling
    model = mn.Model([first, mn.Tanh(), last], loss=mn.MSE())
    assert model.spec()["ties"] == {"2.W": "0.W"}
    model.save(tmp_path / "m.npz")
    loaded = mn.Model.load(tmp_path / "m.npz")
    assert loaded.layers[2].params["W"] is loaded.layers[0].params["W"]
    np.testing.assert_array_equal(loaded.get_flat_params(), model.get_flat_params())
    X = np.random.default_rng(0).standard_normal((4, 5))
    assert mn.GradientChecker(progress=False).check(loaded, X, X).passed
