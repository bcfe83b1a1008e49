"""Optimizer steps worked out by hand on a two-entry parameter."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn


def one_weight_model(w=(1.0, -2.0)):
    """A model whose only non-zero parameter is W = [[1, -2]] (b stays 0 with zero grads)."""
    model = mn.Model([mn.Dense(1, 2)], loss=mn.MSE())
    model.layers[0].params["W"][...] = [w]
    model.layers[0].params["b"][...] = 0
    return model


def step(optimizer, model, g):
    model.layers[0].grads["W"] = np.array([g], dtype=float)
    model.layers[0].grads["b"] = np.zeros(2)
    optimizer.step(model)
    return model.layers[0].params["W"][0]


def test_sgd_by_hand():
    model, opt = one_weight_model(), mn.SGD(lr=0.1)
    # θ - lr g = [1 - 0.1 * 0.5, -2 - 0.1 * 1]
    assert_allclose(step(opt, model, [0.5, 1.0]), [0.95, -2.1], rtol=1e-15)
    assert_array_equal(model.layers[0].params["b"], [0.0, 0.0])


def test_momentum_by_hand():
    model, opt = one_weight_model(), mn.Momentum(lr=0.1, momentum=0.9)
    # step 1: v = 0.9 * 0 - 0.1 [0.5, 1] = [-0.05, -0.1];  θ = [0.95, -2.1]
    assert_allclose(step(opt, model, [0.5, 1.0]), [0.95, -2.1], rtol=1e-15)
    # step 2: v = 0.9 [-0.05, -0.1] - 0.1 [1, 0] = [-0.145, -0.09];  θ = [0.805, -2.19]
    assert_allclose(step(opt, model, [1.0, 0.0]), [0.805, -2.19], rtol=1e-15)
    assert_allclose(opt.state["0.W"]["v"], [[-0.145, -0.09]], rtol=1e-15)


def test_adam_by_hand():
    model, opt = one_weight_model(), mn.Adam(lr=0.1)
    g1, g2 = np.array([0.5, 1.0]), np.array([1.0, 0.0])
    # step 1: m = 0.1 g1, v = 0.001 g1²; bias-corrected m̂ = g1, v̂ = g1², so the step is
    # lr g1 / (|g1| + eps): lr times the sign, up to eps
    w1 = np.array([1.0, -2.0]) - 0.1 * g1 / (np.abs(g1) + 1e-8)
    assert_allclose(step(opt, model, g1), w1, rtol=1e-15)
    # step 2: m = 0.9 * 0.1 g1 + 0.1 g2,      m̂ = m / (1 - 0.9²)
    #         v = 0.999 * 0.001 g1² + 0.001 g2², v̂ = v / (1 - 0.999²)
    m = 0.09 * g1 + 0.1 * g2
    v = 0.000999 * g1**2 + 0.001 * g2**2
    w2 = w1 - 0.1 * (m / 0.19) / (np.sqrt(v / 0.001999) + 1e-8)
    assert_allclose(step(opt, model, g2), w2, rtol=1e-14)
    assert opt.state["0.W"]["t"] == 2


def test_rmsprop_by_hand():
    model, opt = one_weight_model(), mn.RMSProp(lr=0.1, decay=0.9, eps=1e-8)
    # step 1: cache = 0.1 [0.25, 1] = [0.025, 0.1];  θ = [1, -2] - 0.1 [0.5, 1] / √cache
    cache = np.array([0.025, 0.1])
    w1 = np.array([1.0, -2.0]) - 0.1 * np.array([0.5, 1.0]) / (np.sqrt(cache) + 1e-8)
    assert_allclose(step(opt, model, [0.5, 1.0]), w1, rtol=1e-15)
    # step 2 with g = [1, 0]: cache = 0.9 [0.025, 0.1] + 0.1 [1, 0] = [0.1225, 0.09]
    # θ₀ moves by 0.1 / (0.35 + 1e-8); θ₁ does not move (g = 0)
    assert_allclose(step(opt, model, [1.0, 0.0]), w1 - [0.1 / (0.35 + 1e-8), 0.0], rtol=1e-15)
    assert_allclose(opt.state["0.W"]["cache"], [[0.1225, 0.09]], rtol=1e-15)


def test_rmsprop_defaults_and_bad_arguments():
    opt = mn.RMSProp()
    assert (opt.lr, opt.decay, opt.eps) == (1e-2, 0.99, 1e-8)
    for kwargs in [{"decay": 1.0}, {"decay": -0.1}, {"eps": 0.0}, {"lr": -1.0}]:
        with pytest.raises(ValueError, match="RMSProp"):
            mn.RMSProp(**kwargs)


def test_optimizer_state_is_kept_by_parameter_name_outside_the_layers():
    model, opt = one_weight_model(), mn.Adam()
    attributes = set(vars(model.layers[0]))
    step(opt, model, [0.5, 1.0])
    assert sorted(opt.state) == ["0.W", "0.b"]
    assert sorted(opt.state["0.W"]) == ["m", "t", "v"]
    assert set(vars(model.layers[0])) == attributes


def test_step_skips_layers_without_params():
    model = mn.Model([mn.Dense(2, 2, seed=0), mn.ReLU(), mn.Dense(2, 1, seed=1)], loss=mn.MSE())
    opt = mn.SGD(lr=1.0)
    model.compute_loss(np.ones((3, 2)), np.ones(3))
    model.backward()
    before, grads = model.get_flat_params(), model.get_flat_grads()
    opt.step(model)
    assert_array_equal(model.get_flat_params(), before - grads)


@pytest.mark.parametrize("make", [
    lambda: mn.SGD(lr=0), lambda: mn.SGD(lr=-1), lambda: mn.Momentum(lr=np.nan),
    lambda: mn.Adam(lr=np.inf),
])
def test_learning_rate_must_be_positive_and_finite(make):
    with pytest.raises(ValueError, match="lr must be a positive number"):
        make()


@pytest.mark.parametrize("momentum", [-0.1, 1.0])
def test_momentum_must_be_in_zero_one(momentum):
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        mn.Momentum(lr=0.1, momentum=momentum)


@pytest.mark.parametrize("kwargs", [{"beta1": 1.0}, {"beta2": -0.5}, {"eps": 0.0}])
def test_adam_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError, match="need 0 <= beta1, beta2 < 1 and eps > 0"):
        mn.Adam(**kwargs)
