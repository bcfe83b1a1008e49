"""Layers against values worked out by hand: forward outputs, input gradients, parameter grads."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import minnet as mn

# ---- Dense ------------------------------------------------------------------------------


def dense_2x3():
    layer = mn.Dense(2, 3)
    layer.params["W"] = np.array([[1.0, 2.0, 3.0],
                                  [4.0, 5.0, 6.0]])
    layer.params["b"] = np.array([0.5, -1.0, 0.0])
    return layer


def test_dense_forward_by_hand():
    x = np.array([[1.0, 2.0],
                  [-1.0, 0.0]])
    # row 0: [1*1 + 2*4 + 0.5, 1*2 + 2*5 - 1, 1*3 + 2*6 + 0] = [9.5, 11, 15]
    # row 1: [-1*1 + 0.5,      -1*2 - 1,      -1*3]         = [-0.5, -3, -3]
    assert_array_equal(dense_2x3().forward(x), [[9.5, 11.0, 15.0], [-0.5, -3.0, -3.0]])


def test_dense_backward_by_hand():
    layer = dense_2x3()
    x = np.array([[1.0, 2.0],
                  [-1.0, 0.0]])
    dout = np.array([[1.0, 0.0, 1.0],
                     [0.0, 2.0, -1.0]])
    layer.forward(x)
    dx = layer.backward(dout)
    # dW = xᵀ dout: row i is Σₙ x[n, i] dout[n]
    #   row 0: 1*[1, 0, 1] + (-1)*[0, 2, -1] = [1, -2, 2]
    #   row 1: 2*[1, 0, 1] +   0 *[0, 2, -1] = [2, 0, 2]
    assert_array_equal(layer.grads["W"], [[1.0, -2.0, 2.0], [2.0, 0.0, 2.0]])
    # db = Σₙ dout[n] = [1, 2, 0]
    assert_array_equal(layer.grads["b"], [1.0, 2.0, 0.0])
    # dx = dout Wᵀ: row 0: [1*1 + 1*3, 1*4 + 1*6] = [4, 10]
    #               row 1: [2*2 - 1*3, 2*5 - 1*6] = [1, 4]
    assert_array_equal(dx, [[4.0, 10.0], [1.0, 4.0]])


def test_dense_backward_overwrites_grads_instead_of_accumulating():
    layer = dense_2x3()
    x, dout = np.ones((2, 2)), np.ones((2, 3))
    layer.forward(x)
    layer.backward(dout)
    first = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(dout)
    for k in first:
        assert_array_equal(layer.grads[k], first[k])


@pytest.mark.parametrize("init, var", [("he", 2 / 5), ("xavier", 2 / (5 + 7))])
def test_dense_init_draws_from_the_seed_with_the_documented_scale(init, var):
    layer = mn.Dense(5, 7, init=init, seed=3)
    expected = np.random.default_rng(3).standard_normal((5, 7)) * np.sqrt(var)
    assert_array_equal(layer.params["W"], expected)
    assert_array_equal(layer.params["b"], np.zeros(7))
    assert layer.params["W"].dtype == np.float64


def test_dense_same_seed_same_weights_and_different_seed_different_weights():
    def weights(seed):
        return mn.Dense(4, 3, seed=seed).params["W"]

    assert_array_equal(weights(1), weights(1))
    assert not np.array_equal(weights(1), weights(2))


def test_dense_rejects_unknown_init_by_name():
    with pytest.raises(ValueError, match=r"unknown init 'glorot'.*'he', 'xavier'"):
        mn.Dense(4, 3, init="glorot")


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_dense_rejects_a_width_that_is_not_a_positive_integer(n):
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        mn.Dense(n, 3)


def test_dense_wrong_feature_count_names_the_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"Dense\(in_features=2.*\(N, \.\.\., 2\).*\(4, 3\)"):
        dense_2x3().forward(np.ones((4, 3)))


# ---- activations ------------------------------------------------------------------------

X5 = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])


def test_relu_by_hand():
    layer = mn.ReLU()
    assert_array_equal(layer.forward(X5), [0.0, 0.0, 0.0, 0.5, 3.0])
    # slope 1 where x > 0, 0 elsewhere (0 at the kink x = 0, as in PyTorch)
    assert_array_equal(layer.backward(np.full(5, 2.0)), [0.0, 0.0, 0.0, 2.0, 2.0])


def test_leaky_relu_by_hand():
    layer = mn.LeakyReLU(alpha=0.1)
    # x > 0: x;  x <= 0: 0.1 x  ->  [-0.2, -0.05, 0, 0.5, 3]
    assert_allclose(layer.forward(X5), [-0.2, -0.05, 0.0, 0.5, 3.0], rtol=0, atol=1e-15)
    # slope 1 where x > 0, 0.1 elsewhere (x = 0 included, as in PyTorch)
    assert_allclose(layer.backward(np.ones(5)), [0.1, 0.1, 0.1, 1.0, 1.0], rtol=0, atol=1e-15)


@pytest.mark.parametrize("alpha", [-0.1, np.nan, np.inf])
def test_leaky_relu_rejects_a_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number >= 0"):
        mn.LeakyReLU(alpha)


def test_sigmoid_by_hand():
    layer = mn.Sigmoid()
    x = np.array([0.0, np.log(3.0), -np.log(3.0)])
    # 1 / (1 + e⁰) = 1/2;  1 / (1 + 1/3) = 3/4;  1 / (1 + 3) = 1/4
    assert_allclose(layer.forward(x), [0.5, 0.75, 0.25], rtol=1e-15)
    # y (1 - y): 1/2 * 1/2 = 1/4;  3/4 * 1/4 = 3/16;  1/4 * 3/4 = 3/16
    assert_allclose(layer.backward(np.ones(3)), [0.25, 0.1875, 0.1875], rtol=1e-14)


def test_sigmoid_at_plus_minus_1000_is_exact_without_any_floating_point_warning():
    """No overflow, invalid value or division by zero: each would raise here.

    Underflow is left out on purpose: sigmoid(-1000) = e⁻¹⁰⁰⁰ ≈ 10⁻⁴³⁴ is below the smallest
    float64, so it *must* round to 0 (numpy ignores underflow by default for that reason).
    """
    layer = mn.Sigmoid()
    x = np.array([-1000.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        y = layer.forward(x)
        dx = layer.backward(np.ones(2))
    assert_array_equal(y, [0.0, 1.0])
    assert_array_equal(dx, [0.0, 0.0])


def test_tanh_by_hand():
    layer = mn.Tanh()
    x = np.array([0.0, np.log(2.0)])
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6
    assert_allclose(layer.forward(x), [0.0, 0.6], rtol=1e-15)
    # 1 - y²: 1 - 0 = 1;  1 - 0.36 = 0.64
    assert_allclose(layer.backward(np.ones(2)), [1.0, 0.64], rtol=1e-15)


@pytest.mark.parametrize("make", [mn.ReLU, mn.Sigmoid, mn.Tanh, lambda: mn.LeakyReLU(0.2)])
def test_activations_have_no_params_and_keep_the_shape(make):
    layer = make()
    x = np.random.default_rng(0).standard_normal((3, 4, 5))
    assert layer.params == {} and layer.grads == {}
    assert layer.forward(x).shape == x.shape
    assert layer.backward(np.ones_like(x)).shape == x.shape


# ---- Dropout ----------------------------------------------------------------------------


def test_dropout_zeroes_or_scales_by_one_over_keep_probability():
    layer = mn.Dropout(p=0.25, seed=0)
    x = np.full((200, 50), 3.0)
    y = layer.forward(x)
    # inverted dropout: kept entries become 3 / (1 - 0.25) = 4, dropped ones 0
    assert set(np.unique(y)) == {0.0, 4.0}
    dx = layer.backward(np.ones_like(x))
    # the same mask: dx = dout * m / (1 - p), so dx = y / 3 entrywise
    assert_array_equal(dx, y / 3.0)


def test_dropout_p_is_the_probability_of_dropping():
    layer = mn.Dropout(p=0.8, seed=1)
    y = layer.forward(np.ones(100_000))
    dropped = np.mean(y == 0)
    # Binomial(100 000, 0.8): standard deviation of the fraction is 0.0013; 5 sd is 0.0063
    assert abs(dropped - 0.8) < 0.0065
    # the scaling keeps the expectation: E[y] = 1 within 5 sd (0.0063 * 5 = 0.032)
    assert abs(y.mean() - 1.0) < 0.032


def test_dropout_eval_mode_is_the_identity():
    layer = mn.Dropout(p=0.5, seed=0)
    layer.training = False
    x = np.random.default_rng(0).standard_normal((4, 6))
    assert_array_equal(layer.forward(x), x)
    dout = np.random.default_rng(1).standard_normal((4, 6))
    assert_array_equal(layer.backward(dout), dout)


def test_dropout_p_zero_is_the_identity_while_training():
    x = np.random.default_rng(0).standard_normal((4, 6))
    assert_array_equal(mn.Dropout(p=0.0, seed=0).forward(x), x)


def test_dropout_same_seed_same_mask_and_different_seed_different_mask():
    x = np.ones((20, 20))
    assert_array_equal(mn.Dropout(0.5, seed=7).forward(x), mn.Dropout(0.5, seed=7).forward(x))
    assert not np.array_equal(mn.Dropout(0.5, seed=7).forward(x),
                              mn.Dropout(0.5, seed=8).forward(x))


def test_dropout_draws_a_new_mask_on_every_call_unless_frozen():
    x = np.ones((20, 20))
    layer = mn.Dropout(0.5, seed=0)
    assert not np.array_equal(layer.forward(x), layer.forward(x))
    layer.freeze()
    first = layer.forward(x)
    for _ in range(3):
        assert_array_equal(layer.forward(x), first)
        assert_array_equal(layer.backward(x), first)
    layer.freeze(False)
    assert not np.array_equal(layer.forward(x), first)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, np.nan])
def test_dropout_rejects_p_outside_zero_to_one(p):
    with pytest.raises(ValueError, match=r"drop probability and must be in \[0, 1\)"):
        mn.Dropout(p)


# ---- BatchNorm --------------------------------------------------------------------------

# two features over a batch of four:
#   feature 0: [1, 3, 5, 7]  mean 4, biased var (9 + 1 + 1 + 9) / 4 = 5, unbiased 20 / 3
#   feature 1: [0, 0, 4, 4]  mean 2, biased var (4 + 4 + 4 + 4) / 4 = 4, unbiased 16 / 3
XB = np.array([[1.0, 0.0],
               [3.0, 0.0],
               [5.0, 4.0],
               [7.0, 4.0]])
EPS = 1e-5
XHAT = np.column_stack([np.array([-3.0, -1.0, 1.0, 3.0]) / np.sqrt(5 + EPS),
                        np.array([-2.0, -2.0, 2.0, 2.0]) / np.sqrt(4 + EPS)])


def batchnorm():
    layer = mn.BatchNorm(2)
    layer.params["gamma"] = np.array([2.0, 0.5])
    layer.params["beta"] = np.array([1.0, -1.0])
    return layer


def test_batchnorm_training_forward_uses_batch_statistics():
    y = batchnorm().forward(XB)
    assert_allclose(y, XHAT * [2.0, 0.5] + [1.0, -1.0], rtol=1e-15)


def test_batchnorm_running_statistics_update_with_momentum_and_unbiased_variance():
    layer = batchnorm()
    assert_array_equal(layer.running_mean, [0.0, 0.0])
    assert_array_equal(layer.running_var, [1.0, 1.0])
    layer.forward(XB)
    # running = 0.9 running + 0.1 batch, with the unbiased batch variance
    assert_allclose(layer.running_mean, [0.1 * 4, 0.1 * 2], rtol=1e-15)
    assert_allclose(layer.running_var, [0.9 + 0.1 * 20 / 3, 0.9 + 0.1 * 16 / 3], rtol=1e-15)
    layer.forward(XB + 10)  # mean 14 and 12, same variances
    assert_allclose(layer.running_mean, [0.9 * 0.4 + 0.1 * 14, 0.9 * 0.2 + 0.1 * 12], rtol=1e-15)
    assert_allclose(layer.running_var,
                    [0.9 * (0.9 + 0.1 * 20 / 3) + 0.1 * 20 / 3,
                     0.9 * (0.9 + 0.1 * 16 / 3) + 0.1 * 16 / 3], rtol=1e-15)


def test_batchnorm_eval_mode_uses_running_statistics_and_leaves_them_alone():
    layer = batchnorm()
    layer.running_mean[...] = [1.0, -2.0]
    layer.running_var[...] = [4.0, 0.25]
    layer.training = False
    x = np.array([[3.0, 0.0]])  # a batch of one is fine in eval mode
    # gamma (x - running_mean) / sqrt(running_var + eps) + beta
    expected = [[2.0 * (3 - 1) / np.sqrt(4 + EPS) + 1, 0.5 * (0 + 2) / np.sqrt(0.25 + EPS) - 1]]
    assert_allclose(layer.forward(x), expected, rtol=1e-15)
    # dx = dout * gamma / sqrt(running_var + eps)
    assert_allclose(layer.backward(np.ones((1, 2))),
                    [[2.0 / np.sqrt(4 + EPS), 0.5 / np.sqrt(0.25 + EPS)]], rtol=1e-15)
    assert_array_equal(layer.running_mean, [1.0, -2.0])
    assert_array_equal(layer.running_var, [4.0, 0.25])


def test_batchnorm_parameter_gradients_by_hand():
    layer = batchnorm()
    layer.forward(XB)
    dout = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    layer.backward(dout)
    # dgamma = Σₙ dout xhat;  dbeta = Σₙ dout
    assert_allclose(layer.grads["gamma"], [1 * XHAT[0, 0] + 2 * XHAT[2, 0], XHAT[1, 1]],
                    rtol=1e-15)
    assert_array_equal(layer.grads["beta"], [3.0, 1.0])


def test_batchnorm_input_gradient_by_hand():
    layer = batchnorm()
    layer.forward(XB)
    # dout = 1 at sample 0, feature 0 only. In feature 0, dxhat = gamma dout = [2, 0, 0, 0],
    # mean(dxhat) = 1/2 and mean(dxhat xhat) = 2 xhat₀ / 4, so
    # dx = (dxhat - 1/2 - xhat * xhat₀ / 2) / sqrt(var + eps); feature 1 gets nothing.
    dout = np.zeros((4, 2))
    dout[0, 0] = 1.0
    dx = layer.backward(dout)
    xh = XHAT[:, 0]
    expected0 = (np.array([2.0, 0, 0, 0]) - 0.5 - xh * xh[0] / 2) / np.sqrt(5 + EPS)
    assert_allclose(dx[:, 0], expected0, rtol=1e-13)
    assert_array_equal(dx[:, 1], np.zeros(4))


def test_batchnorm_input_gradient_of_a_constant_upstream_gradient_is_zero():
    """Adding a constant to a feature does not change its normalized value."""
    layer = batchnorm()
    layer.forward(XB)
    assert_allclose(layer.backward(np.ones((4, 2))), np.zeros((4, 2)), atol=1e-15)


def test_frozen_batchnorm_does_not_update_running_statistics():
    layer = batchnorm()
    layer.freeze()
    layer.forward(XB)
    assert_array_equal(layer.running_mean, [0.0, 0.0])
    assert_array_equal(layer.running_var, [1.0, 1.0])


def test_batchnorm_needs_two_samples_while_training():
    with pytest.raises(ValueError, match="at least 2 samples per batch while training, got 1"):
        batchnorm().forward(np.ones((1, 2)))


def test_batchnorm_wrong_feature_count_names_the_layer_and_both_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm\(num_features=2.*\(N, 2\).*\(4, 3\)"):
        batchnorm().forward(np.ones((4, 3)))


@pytest.mark.parametrize("kwargs", [{"momentum": 1.0}, {"momentum": -0.1}, {"eps": 0.0}])
def test_batchnorm_rejects_bad_momentum_or_eps(kwargs):
    with pytest.raises(ValueError, match="need 0 <= momentum < 1 and eps > 0"):
        mn.BatchNorm(3, **kwargs)


def test_batchnorm_state_holds_running_statistics_not_params():
    layer = mn.BatchNorm(3)
    assert sorted(layer.params) == ["beta", "gamma"]
    assert sorted(layer.state()) == ["running_mean", "running_var"]


def test_frozen_dropout_draws_a_new_mask_when_the_input_shape_changes():
    layer = mn.Dropout(0.5, seed=0)
    layer.freeze()
    layer.forward(np.ones((4, 3)))
    assert layer.forward(np.ones((2, 5))).shape == (2, 5) and layer.mask.shape == (2, 5)
    mask = layer.mask.copy()
    assert np.array_equal(layer.forward(np.ones((7, 2, 5))), np.broadcast_to(mask, (7, 2, 5)))


@pytest.mark.parametrize("name", ["W", "b"])
def test_dense_nudged_outputs_equal_forward_with_the_parameter_moved(name):
    rng = np.random.default_rng(0)
    layer, x = mn.Dense(4, 3, seed=0), rng.standard_normal((5, 4))
    p = layer.params[name]
    index, delta = np.array([0, p.size - 1, 2]), np.array([1e-3, -2e-3, 0.5])
    got = layer.nudged(x, name, index, delta)
    for k in range(3):
        moved = p.copy()
        moved.flat[index[k]] += delta[k]
        W, b = (moved, layer.params["b"]) if name == "W" else (layer.params["W"], moved)
        assert_allclose(got[k], x @ W + b, rtol=1e-12, atol=1e-12)
    directions = rng.standard_normal((2, *p.shape))
    along = layer.nudged_along(x, name, directions, 1e-2)
    for k, (u, sign) in enumerate([(directions[0], 1), (directions[1], 1),
                                   (directions[0], -1), (directions[1], -1)]):
        moved = p + sign * 1e-2 * u
        W, b = (moved, layer.params["b"]) if name == "W" else (layer.params["W"], moved)
        assert_allclose(along[k], x @ W + b, rtol=1e-12, atol=1e-12)
