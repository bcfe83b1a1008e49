"""Output by output: with dout at one output pixel, channel, feature or step at a time, which
outputs a student's backward takes back right, which send it nothing, which it gets wrong.

The layers are written as students write them: loops over output pixels and columns, an
off-by-one in a range, a loop over dout's columns that starts at 1.
"""

import numpy as np

import minnet as mn
from minnet.gradcheck import check_layer


class LoopConv(mn.Layer):
    """3×3 convolution, stride 1, no padding, written with loops over the output pixels.
    x (N, C, H, W) -> (N, F, H - 2, W - 2);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c=2, f=2, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((f, c, 3, 3)) * 0.5, "b": np.zeros(f)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        N, C, H, W = x.shape
        out = np.zeros((N, self.params["W"].shape[0], H - 2, W - 2))
        for i in range(H - 2):
            for j in range(W - 2):
                win = x[:, :, i:i + 3, j:j + 3]
                out[:, :, i, j] = np.tensordot(win, self.params["W"], axes=([1, 2, 3], [1, 2, 3]))
        return out + self.params["b"][None, :, None, None]

    def rows(self, dout):
        return range(dout.shape[2])

    def backward(self, dout):
        x, K = self.x, self.params["W"]
        dx, dW = np.zeros_like(x), np.zeros_like(K)
        for i in self.rows(dout):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]  # (N, F)
                dx[:, :, i:i + 3, j:j + 3] += np.tensordot(g, K, axes=([1], [0]))
                dW += np.tensordot(g, x[:, :, i:i + 3, j:j + 3], axes=([0], [0]))
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx


class LoopConvLastRowSkipped(LoopConv):
    def rows(self, dout):
        return range(dout.shape[2] - 1)


class ColumnDense(mn.Dense):
    """A dense layer whose backward adds up dout's columns one by one."""

    def first(self):
        return 0

    def backward(self, dout):
        W = self.params["W"]
        dx = np.zeros_like(self.x)
        dW = np.zeros_like(W)
        for j in range(self.first(), dout.shape[1]):
            dx += np.outer(dout[:, j], W[:, j])
            dW[:, j] = self.x.T @ dout[:, j]
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=0)
        return dx


class ColumnDenseFromOne(ColumnDense):
    def first(self):
        return 1


class HalfSlopeTanh(mn.Layer):
    """y = tanh(x), elementwise; the slope written 1 - y (the square forgotten)."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return dout * (1 - self.y)


def statements(report, param):
    return next(c for c in report.checks if c.param == param).findings


def images(seed=0):
    return np.random.default_rng(seed).standard_normal((2, 2, 6, 6))


def test_a_loop_that_misses_the_last_row_of_output_pixels_is_named_by_those_pixels():
    r = check_layer(LoopConvLastRowSkipped(), images())
    for key, what in (("input", "dx"), ("W", "dW")):
        assert f"with dout at one output pixel at a time, your {what} is 0 for the output " \
               f"pixels of row 3 (4 of 16), where the true one is not: nothing of their " \
               f"gradient reaches it; right for the 12 other output pixels" \
               in statements(r, key), statements(r, key)
    assert check_layer(LoopConv(), images()).passed


def test_a_column_of_dout_left_out_is_named():
    x = np.random.default_rng(1).standard_normal((5, 4))
    r = check_layer(ColumnDenseFromOne(4, 3, seed=0), x)
    assert "with dout at one output feature at a time, your dx is 0 for output feature 0, " \
           "where the true one is not: nothing of their gradient reaches it; right for the 2 " \
           "other output features" in statements(r, "input")
    assert check_layer(ColumnDense(4, 3, seed=0), x).passed


def test_an_elementwise_layer_gets_no_output_by_output_statement():
    x = np.random.default_rng(2).standard_normal((5, 4))
    r = check_layer(HalfSlopeTanh(), x)
    assert not r.passed
    assert not any(s.startswith("with dout at one") for s in statements(r, "input"))
