"""A gradient that is the true one of the same layer with a setting at another value (settle.py):
the check runs once more with self.alpha at 0, self.beta at 1, −s, 2s, s/2 or 1/s, and names
the value at which yours is right. Also a factor a setting makes (self.tau²) is named by it."""

import numpy as np
from test_structure import findings, normal

import minnet as mn


class Leaky(mn.Layer):
    """y = x if x > 0 else alpha·x.  x (N, D) -> y (N, D)."""

    def __init__(self, alpha=0.1):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * x)

    def backward(self, dout):
        dx = dout.copy()
        dx[self.x <= 0] = 0  # ReLU's backward: the slope alpha left out
        return dx


class SoftplusBeta(mn.Layer):
    """y = log(1 + exp(βx))/β, dy/dx = σ(βx).  x (N, D) -> y (N, D)."""

    beta = 1.5  # a class constant, as students write settings

    def forward(self, x):
        self.x = x
        return np.log1p(np.exp(self.beta * x)) / self.beta

    def backward(self, dout):
        return dout / (1 + np.exp(-self.x))  # σ(x): β left out


class Tempered(mn.Layer):
    """y = softmax(x/τ) over the features.  x (N, D) -> y (N, D)."""

    def __init__(self, tau=0.7):
        super().__init__()
        self.tau = tau

    def forward(self, x):
        e = np.exp(x / self.tau - (x / self.tau).max(axis=1, keepdims=True))
        self.p = e / e.sum(axis=1, keepdims=True)
        return self.p

    def backward(self, dout):
        return self.p * (dout - (dout * self.p).sum(axis=1, keepdims=True)) * self.tau


def test_a_slope_left_out_is_named_by_the_setting_at_0():
    text = findings(mn.check_layer(Leaky(), normal((4, 5), seed=3)))
    assert ("your dx is the true dx of this layer with alpha = 0 instead of 0.1 (equal at every "
            "entry): backward leaves out what alpha adds") in text


def test_a_setting_left_out_of_a_function_is_named_by_the_setting_at_1():
    text = findings(mn.check_layer(SoftplusBeta(), normal((4, 5), seed=3)))
    assert ("your dx is the true dx of this layer with beta = 1 instead of 1.5 (equal at every "
            "entry): backward leaves beta out") in text


def test_a_factor_a_setting_makes_is_named_by_it():
    text = findings(mn.check_layer(Tempered(), normal((4, 5), seed=3)))
    assert "your dx is 0.49 × the true one, which is self.tau²" in text
    assert "instead of 0.7" not in text  # p follows τ: no other τ makes yours right


def test_right_layers_with_settings_pass():
    class RightLeaky(Leaky):
        def backward(self, dout):
            return dout * np.where(self.x > 0, 1, self.alpha)

    assert not mn.check_layer(RightLeaky(), normal((4, 5), seed=3)).failed
