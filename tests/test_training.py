"""Training: divergence stops at the first unsound loss, runs repeat bit for bit, and a real
network learns the digits."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import minnet as mn
from minnet.datasets import load_digits, moons, train_test_split

# ---- divergence -------------------------------------------------------------------------


class Recorder:
    """Wraps an optimizer and keeps a copy of the flat parameters after every step it makes."""

    def __init__(self, optimizer):
        self.optimizer, self.after_step = optimizer, []

    def step(self, model):
        self.optimizer.step(model)
        self.after_step.append(model.get_flat_params())


class RecordingCE(mn.SoftmaxCE):
    """SoftmaxCE that keeps every loss it returns."""

    def __init__(self):
        self.seen = []

    def forward(self, scores, y):
        self.seen.append(super().forward(scores, y))
        return self.seen[-1]


class Scripted(mn.Loss):
    """Returns the given losses in turn, with a constant gradient (zero: nothing moves)."""

    def __init__(self, values, grad=0.0):
        self.values, self.grad = iter(values), grad

    def forward(self, scores, y):
        self.scores = scores
        return next(self.values)

    def backward(self):
        return np.full_like(self.scores, self.grad)


def small_model(loss=None):
    return mn.Model([mn.Dense(4, 8, seed=0), mn.ReLU(), mn.Dense(8, 3, seed=1)],
                    loss=loss or mn.SoftmaxCE())


def toy_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)), rng.integers(0, 3, n)


def fit_diverging(model, optimizer, **options):
    """fit, expecting FloatingPointError; warnings are errors, so none may leak out of fit."""
    X, y = toy_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError) as e:
            model.fit(X, y, progress=False, optimizer=optimizer, **options)
    return str(e.value)


@pytest.mark.parametrize("lr", [1e3, 1e10, 1e30, 1e300])
def test_a_huge_learning_rate_stops_at_the_first_unsound_loss_with_the_last_sound_params(lr):
    """Sound: finite and below 1000 * max(first loss, 1). The parameters put back are the
    ones the last sound loss was computed with, before the step that ruined them."""
    loss = RecordingCE()
    model, opt = small_model(loss), Recorder(mn.SGD(lr))
    start = model.get_flat_params()
    message = fit_diverging(model, opt, epochs=50, batch_size=16)
    first, *later = loss.seen
    bad = next(i for i, v in enumerate(later, 1) if not v < 1e3 * max(first, 1))
    assert len(loss.seen) == bad + 1 and len(opt.after_step) == bad  # stopped right there
    epoch, step = bad // 4 + 1, bad % 4 + 1  # 64 samples in batches of 16: 4 steps an epoch
    assert re.search(fr"diverged at epoch {epoch}, step {step}: the loss is ", message)
    assert "kept from the last sound step" in message and "\n" not in message
    assert_array_equal(model.get_flat_params(), ([start] + opt.after_step)[bad - 1])


@pytest.mark.parametrize("losses, stops_at", [
    ([2.0, 5.0, 1999.0, 2001.0, 1.0], 4),     # limit 1000 * 2
    ([0.001, 999.0, 1000.0, 1.0], 3),         # limit 1000 * max(0.001, 1)
    ([3.0, 1.0, np.inf, 1.0], 3),
    ([3.0, np.nan, 1.0], 2),
])
def test_the_limit_is_a_thousand_times_the_first_loss_or_at_least_a_thousand(losses, stops_at):
    model = small_model(Scripted(losses))
    message = fit_diverging(model, mn.SGD(0.1), epochs=len(losses), batch_size=64)
    assert f"diverged at epoch {stops_at}, step 1: the loss is {losses[stops_at - 1]:.4g}" \
        in message


def test_a_finite_but_exploding_loss_names_its_first_value():
    message = fit_diverging(small_model(), mn.SGD(1e3), epochs=50, batch_size=16)
    assert re.search(r"the loss is [0-9.e+]+, over 1000 times its first value 1\.095;",
                     message)


def test_data_that_overflows_at_once_stops_at_the_first_step_with_the_model_untouched():
    model, (X, y) = small_model(), toy_data()
    X[7] = np.finfo(np.float64).max  # finite, but x W overflows to ±inf: the loss is nan
    before = model.get_flat_params()
    opt = Recorder(mn.Adam())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match=r"epoch 1, step 1: the loss is nan"):
            model.fit(X, y, epochs=3, batch_size=64, optimizer=opt, progress=False)
    assert opt.after_step == []
    assert_array_equal(model.get_flat_params(), before)
    assert opt.optimizer.state == {}


def test_an_infinite_loss_also_stops_training():
    model = mn.Model([mn.Dense(2, 2)], loss=mn.SoftmaxCE())
    model.layers[0].params["W"][...] = [[1e308, -1e308], [0.0, 0.0]]
    X, y = np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([1, 1])
    # scores [1e308, -1e308]: -log softmax(s)[1] = 1e308 - (-1e308) = inf
    with np.errstate(over="ignore", invalid="ignore"):
        assert model.compute_loss(X, y) == np.inf
        with pytest.raises(FloatingPointError, match=r"epoch 1, step 1: the loss is inf"):
            model.fit(X, y, epochs=1, optimizer=mn.SGD(0.1), progress=False)


def test_a_last_step_that_overflows_is_caught_and_undone():
    """No loss follows the last step; fit still checks that the parameters it returns are
    finite, and puts back the ones before that step."""
    model = small_model(Scripted([1.0], grad=1e300))
    start = model.get_flat_params()
    message = fit_diverging(model, mn.SGD(1e300), epochs=1, batch_size=64)
    assert "epoch 1, step 1: the parameters are no longer finite" in message
    assert_array_equal(model.get_flat_params(), start)


def test_batchnorm_statistics_are_put_back_too():
    model = mn.Model([mn.Dense(4, 8, seed=0), mn.BatchNorm(8), mn.ReLU(),
                      mn.Dense(8, 3, seed=1)], loss=mn.SoftmaxCE())
    X, y = toy_data()
    model.fit(X, y, epochs=1, batch_size=16, optimizer=mn.SGD(0.01), progress=False)
    fit_diverging(model, mn.SGD(1e300), epochs=5, batch_size=64)
    assert np.isfinite(model.layers[1].running_var).all()
    assert np.isfinite(model.get_flat_params()).all()


# ---- reproducibility --------------------------------------------------------------------


def model_with_randomness(seed):
    return mn.Model([mn.Dense(2, 16, seed=seed), mn.BatchNorm(16), mn.Tanh(),
                     mn.Dropout(0.2, seed=seed + 1), mn.Dense(16, 2, seed=seed + 2)],
                    loss=mn.SoftmaxCE(), l2=1e-4)


def train(model_seed, fit_seed, dtype=np.float64):
    X, y = moons(200, seed=0)
    model = model_with_randomness(model_seed).astype(dtype)
    history = model.fit(X, y, epochs=4, batch_size=32, optimizer=mn.Adam(0.01), seed=fit_seed,
                        validation_data=(X, y), progress=False)
    return model, history


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_seeds_give_the_same_run_bit_for_bit(dtype):
    a, history_a = train(0, 0, dtype)
    b, history_b = train(0, 0, dtype)
    assert_array_equal(a.get_flat_params(), b.get_flat_params())
    assert_array_equal(a.layers[1].running_var, b.layers[1].running_var)
    assert history_a.to_dict() == history_b.to_dict()


def test_a_different_fit_seed_gives_a_different_run():
    a, _ = train(0, 0)
    b, _ = train(0, 1)
    assert not np.array_equal(a.get_flat_params(), b.get_flat_params())


def test_different_layer_seeds_give_a_different_run():
    a, _ = train(0, 0)
    b, _ = train(1, 0)
    assert not np.array_equal(a.get_flat_params(), b.get_flat_params())


def test_history_has_one_entry_per_epoch():
    _, history = train(0, 0)
    d = history.to_dict()
    assert [len(d[k]) for k in ("loss", "accuracy", "val_loss", "val_accuracy")] == [4, 4, 4, 4]
    assert all(0 <= a <= 1 for a in d["accuracy"] + d["val_accuracy"])


def test_history_accuracy_is_none_for_regression():
    X = np.random.default_rng(0).standard_normal((20, 2))
    model = mn.Model([mn.Dense(2, 1, seed=0)], loss=mn.MSE())
    history = model.fit(X, X.sum(axis=1), epochs=2, progress=False)
    assert history.accuracy == [None, None]


# ---- real training runs -----------------------------------------------------------------


def test_moons_with_sigmoid_bce_is_learned():
    X, y = moons(400, noise=0.1, seed=0)
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.25, seed=0)
    model = mn.Model([mn.Dense(2, 16, seed=0), mn.Tanh(), mn.Dense(16, 1, seed=1)],
                     loss=mn.SigmoidBCE())
    model.fit(Xtr, ytr, epochs=60, batch_size=16, optimizer=mn.Adam(0.01), progress=False)
    assert model.evaluate(Xte, yte)["accuracy"] >= 0.97


def test_a_64_64_10_network_reaches_97_percent_on_the_digits_test_split():
    """Dense(64, 64) - BatchNorm - ReLU - Dense(64, 10), l2 = 5e-3, Momentum(0.9) at lr 0.1 for
    40 epochs, then lr 0.01 for 20, batches of 32, on the stratified 80/20 split (seed 0).
    Measured over seeds 0..23: 97.5 to 98.9 %, mean 98.1 % (359 test digits: 1 digit = 0.28 %;
    97 % needs 349 right, the worst seed got 350, the mean is 352).
    """
    X, y = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.2, seed=0)
    seed = 0
    model = mn.Model([mn.Dense(64, 64, seed=seed), mn.BatchNorm(64), mn.ReLU(),
                      mn.Dense(64, 10, seed=seed + 1)], loss=mn.SoftmaxCE(), l2=5e-3)
    accuracy = fit_in_two_phases(model, Xtr, ytr, 40, 20, seed).evaluate(Xte, yte)["accuracy"]
    assert accuracy >= 0.97, f"test accuracy {accuracy:.4f}"


def fit_in_two_phases(model, X, y, fast_epochs, slow_epochs, seed):
    """Momentum(0.9) at lr 0.1, then at 0.01, batches of 32: the recipe of both digit tests."""
    model.fit(X, y, epochs=fast_epochs, batch_size=32, optimizer=mn.Momentum(0.1, 0.9),
              seed=seed, progress=False)
    model.fit(X, y, epochs=slow_epochs, batch_size=32, optimizer=mn.Momentum(0.01, 0.9),
              seed=seed + 1, progress=False)
    return model


def test_a_small_conv_net_reaches_98_percent_on_the_digits_test_split():
    """Conv2D(1, 16, 3, padding=1) - ReLU - MaxPool2D(2) - Flatten - Dense(256, 10) on the 8x8
    images, l2 = 5e-3 (on the Dense weights), Momentum(0.9) at lr 0.1 for 30 epochs, then 0.01
    for 10, batches of 32, on the stratified 80/20 split (seed 0): 353 of 359 test digits
    (98.3 %; 98 % needs 352), in about 4 s. Over seeds 0..5: 351 to 355, mean 98.1 %; a second
    conv layer, 32 channels or a hidden Dense layer did no better on this split.
    """
    X, y = load_digits(images=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, 0.2, seed=0)
    seed = 0
    model = mn.Model([mn.Conv2D(1, 16, 3, padding=1, seed=seed), mn.ReLU(), mn.MaxPool2D(2),
                      mn.Flatten(), mn.Dense(256, 10, seed=seed + 1)],
                     loss=mn.SoftmaxCE(), l2=5e-3)
    accuracy = fit_in_two_phases(model, Xtr, ytr, 30, 10, seed).evaluate(Xte, yte)["accuracy"]
    assert accuracy >= 0.98, f"test accuracy {accuracy:.4f}"
