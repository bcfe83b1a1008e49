"""A mistake in forward, seen by what forward made: sums, means and spreads held fixed along
an axis of the output and of the arrays the layer keeps.

The student layers below have a textbook backward and a forward that computes something
else, so the check fails on backward; the report's facts about forward say what it made.
"""

import numpy as np
from test_diagnose import Softmax

import minnet as mn
from minnet.gradcheck import check_layer
from minnet.gradcheck.forward import along_axes


def x_batch(shape=(5, 4), seed=3):
    return np.random.default_rng(seed).standard_normal(shape)


class BatchNorm(mn.Layer):
    """y = (x − μ)/√(σ² + eps) over the batch.  x (N, D) -> y (N, D)."""

    def __init__(self, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        return self.xhat

    def backward(self, dout):
        N = dout.shape[0]
        return (N * dout - dout.sum(axis=0) - self.xhat * (dout * self.xhat).sum(axis=0)) \
            / (N * self.std)


class BatchNormFeatureVar(BatchNorm):
    def forward(self, x):
        mu = x.mean(axis=0)
        var = x.var(axis=1)  # each sample's spread; with N = D it broadcasts as a row
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        return self.xhat


class BatchNormUnbiased(BatchNorm):
    def forward(self, x):
        mu = np.mean(x, axis=0)
        self.std = np.std(x, axis=0, ddof=1)
        self.xhat = (x - mu) / self.std
        return self.xhat


class SoftmaxOverBatch(Softmax):
    def forward(self, x):
        e = np.exp(x)
        self.y = e / e.sum(axis=0)
        return self.y


def made(report) -> str:
    text = str(report)
    assert "What forward made" in text, text
    return text.split("What forward made")[1].split("The numbers")[0]


def test_a_variance_over_the_wrong_axis_shows_as_an_output_whose_spread_is_not_one():
    said = made(check_layer(BatchNormFeatureVar(), x_batch((4, 4))))
    assert "y (its output): mean 0 along the samples (axis 0), but its variance there is not " \
           "one number" in said


def test_an_unbiased_spread_in_forward_shows_as_a_variance_of_n_minus_1_over_n():
    said = made(check_layer(BatchNormUnbiased(), x_batch((5, 4))))
    assert "y (its output): mean 0 along the samples (axis 0), variance 0.8 = (n − 1)/n with " \
           "n = 5: a spread divided by n − 1 (ddof=1)?" in said


def test_a_softmax_over_the_batch_shows_as_a_softmax_over_the_samples():
    report = check_layer(SoftmaxOverBatch(), x_batch())
    assert report.failed
    said = made(report)
    assert "y (its output): = softmax(x) along the samples (axis 0)" in said
    assert "along the features" not in said


def test_the_output_is_printed_beside_x_and_dout():
    text = str(check_layer(SoftmaxOverBatch(), x_batch()))
    numbers = text.split("The numbers, to work a guess by hand:")[1]
    assert numbers.index("x (its input) (5, 4):") < numbers.index("y (its output) (5, 4):") \
        < numbers.index("dout (G) (5, 4):")


def test_right_layers_pass_and_a_layer_norm_kept_array_reads_mean_0_variance_1():
    assert not check_layer(BatchNorm(), x_batch()).failed
    assert not check_layer(Softmax(), x_batch()).failed
    xhat = BatchNorm().forward(x_batch((6, 3)))
    assert along_axes(xhat, None) == {0: "mean 0 along axis 0, variance ≈ 1"}


def test_sums_and_lengths_by_hand():
    v = np.array([[0.6, 0.8], [0.8, -0.6]])  # rows and columns of length 1; column sums 1.4, 0.2
    assert along_axes(v, None) == {0: "length ‖·‖₂ = 1 along axis 0",
                                   1: "length ‖·‖₂ = 1 along axis 1"}
    w = np.array([[1.0, 2.0, -3.0], [4.0, -5.0, 1.0]])  # rows sum to 0, spreads 14/3 and 14
    assert along_axes(w, None) == {1: "mean 0 along axis 1, but its variance there is not one "
                                      "number (4.67 to 14)"}
    assert along_axes(np.array([[1.0, 2.0], [3.0, 5.0]]), None) == {}


class DotAttention(mn.Layer):
    """y = softmax(x·xᵀ/√D) x over the keys.  x (N, T, D) -> y (N, T, D)."""

    def forward(self, x):
        self.x = x
        s = x @ x.transpose(0, 2, 1) / np.sqrt(x.shape[2])
        self.p = self.softmax(s)
        return self.p @ x

    def softmax(self, s):
        e = np.exp(s - s.max(axis=2, keepdims=True))
        return e / e.sum(axis=2, keepdims=True)

    def backward(self, dout):
        dp = dout @ self.x.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=2, keepdims=True)) / np.sqrt(self.x.shape[2])
        return self.p.transpose(0, 2, 1) @ dout + ds @ self.x + ds.transpose(0, 2, 1) @ self.x


class DotAttentionShiftedByColumn(DotAttention):
    def softmax(self, s):
        e = np.exp(s - s.max(axis=1, keepdims=True))  # the max over the queries
        return e / e.sum(axis=2, keepdims=True)


def test_a_softmax_shifted_along_the_wrong_axis_is_named_by_its_log():
    x = x_batch((2, 3, 4))
    assert not check_layer(DotAttention(), x).failed
    said = made(check_layer(DotAttentionShiftedByColumn(), x))
    assert ("self.p: sums to 1 along axis 2, but it is no softmax there: its log = "
            "0.5·x·xᵀ + a term that is one number along axis 1, not along axis 2"
            ) in said


def test_the_weights_of_a_right_softmax_are_named_as_one():
    x = x_batch((2, 3, 4))
    layer = DotAttention()
    layer.backward = lambda dout: 2 * DotAttention.backward(layer, dout)  # a wrong backward
    said = made(check_layer(layer, x))
    assert "self.p: = softmax(0.5·x·xᵀ) along axis 2" in said


class TemperedSoftmax(Softmax):
    """y = softmax(x/τ) over the features; backward leaves 1/τ out."""

    def __init__(self, tau=0.7):
        super().__init__()
        self.tau = tau

    def forward(self, x):
        e = np.exp(x / self.tau)
        self.y = e / np.sum(e, axis=1, keepdims=True)
        return self.y


def test_a_softmax_of_a_multiple_names_the_setting_that_makes_it():
    said = made(check_layer(TemperedSoftmax(), x_batch()))
    assert "y (its output): = softmax(10/7·x) along the features (axis 1) (10/7 = 1/self.tau)" \
        in said


def test_a_masked_softmax_says_where_it_is_0_when_that_is_a_few_places():
    from minnet.gradcheck.forward import softmax_of

    s = x_batch((2, 3, 3))
    s[0, 0, 0] = s[1, 2, 2] = -np.inf  # two masked scores
    e = np.exp(s - s.max(axis=2, keepdims=True))
    p = e / e.sum(axis=2, keepdims=True)
    said = softmax_of(p, 2, [("s", np.where(np.isfinite(s), s, 0.0))], {}, "sums to 1 along "
                      "axis 2")
    assert said == "= softmax(s) along axis 2, at its 16 entries that are not 0 (0 at (0, 0, 0), " \
                   "(1, 2, 2))"


class DotAttentionWithDistance(DotAttention):
    """Scores less |i − j|/2, the same for every sample: a position bias, meant."""

    def softmax(self, s):
        T = s.shape[1]
        s = s - 0.5 * np.abs(np.arange(T)[:, None] - np.arange(T)[None, :])
        e = np.exp(s - s.max(axis=2, keepdims=True))
        return e / e.sum(axis=2, keepdims=True)


def test_a_bias_the_same_in_every_sample_is_named_as_one_not_as_a_shift():
    layer = DotAttentionWithDistance()
    layer.backward = lambda dout: 2 * DotAttention.backward(layer, dout)  # a wrong backward
    said = made(check_layer(layer, x_batch((2, 3, 4))))
    assert "self.p: = softmax(0.5·x·xᵀ + B) along axis 2, with B the same in every sample" in said
    assert "shift" not in said
