"""Layers and losses written the way students write them, correct and buggy, for the checker.

Students subclass the built-ins and override forward (or f) with a backward to match, or write
their own Layer with axis sums, Python loops, in-place operations, reused buffers, tuple caches,
float32 weights and np.random masks. Each bug is one realistic mistake in one of those styles.

`confirm(case)` is the reference every label is tested against before the checker is: the
textbook centered difference on plain forward/backward calls, on copies (so in-place code cannot
fool it), with np.random's global state rewound before each forward.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import minnet as mn

# ---- subclasses of the built-ins: correct --------------------------------------------------


class TwiceDense(mn.Dense):
    """y = 2 (x W + b), and backward sends 2·dout through the parent."""

    def forward(self, x):
        return 2 * super().forward(x)

    def backward(self, dout):
        return super().backward(2 * dout)


class MaskedDense(mn.Dense):
    """y = x (W ⊙ M) + b: a fixed mask M keeps some weights out."""

    def __init__(self, i, o, seed=0):
        super().__init__(i, o, seed=seed)
        self.mask = np.random.default_rng(seed + 1).random((i, o)) < 0.7

    def forward(self, x):
        self.x = x
        return x @ (self.params["W"] * self.mask) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout * self.mask
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (self.params["W"] * self.mask).T


class WeightNormDense(mn.Dense):
    """Weight normalization: W = g · V / ‖V‖ column by column; V is stored as params["W"]."""

    def __init__(self, i, o, seed=0):
        super().__init__(i, o, seed=seed)
        self.params["g"] = 1 + 0.1 * np.arange(o)
        self.grads["g"] = np.zeros(o)

    def forward(self, x):
        V = self.params["W"]
        self.norm = np.sqrt((V**2).sum(axis=0))
        self.x, self.v = x, V / self.norm
        return x @ (self.params["g"] * self.v) + self.params["b"]

    def backward(self, dout):
        g = self.params["g"]
        dW = self.x.T @ dout
        self.grads["g"] = (dW * self.v).sum(axis=0)
        self.grads["W"] = g / self.norm * (dW - self.v * self.grads["g"])
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (g * self.v).T


class NoBiasDense(mn.Dense):
    """y = x W: b stays in params but is never used, so its gradient is zero."""

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]

    def backward(self, dout):
        super().backward(dout)
        self.grads["b"] = np.zeros_like(self.params["b"])
        return dout @ self.params["W"].T


class DenseTanh(mn.Dense):
    """Dense and tanh fused: y = tanh(x W + b)."""

    def forward(self, x):
        self.h = np.tanh(super().forward(x))
        return self.h

    def backward(self, dout):
        return super().backward(dout * (1 - self.h**2))


class OutInDense(mn.Dense):
    """W stored as (out, in), as PyTorch does: y = x Wᵀ + b."""

    def __init__(self, i, o, seed=0):
        super().__init__(i, o, seed=seed)
        self.params["W"] = self.params["W"].T.copy()
        self.grads["W"] = np.zeros_like(self.params["W"])

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = dout.T @ self.x
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"]


class LoopDense(mn.Dense):
    """The parent's backward, but a forward with a loop over x.shape[0]."""

    def forward(self, x):
        self.x = x
        out = np.zeros((x.shape[0], self.out_features))
        for n in range(x.shape[0]):
            out[n] = x[n] @ self.params["W"] + self.params["b"]
        return out


class ColumnFormDense(mn.Dense):
    """The parent's backward, with forward written in column form: (Wᵀ xᵀ)ᵀ + b."""

    def forward(self, x):
        self.x = x
        return (self.params["W"].T @ x.T).T + self.params["b"]


class ResidualDense(mn.Dense):
    """y = x + x W + b (in = out); backward adds the skip path to the parent's dx."""

    def forward(self, x):
        return x + super().forward(x)

    def backward(self, dout):
        dx = super().backward(dout)
        return dx + dout


class HalfInputDense(mn.Dense):
    """y = (x / 2) W + b: the parent sees x / 2, so dx is half the parent's dx."""

    def forward(self, x):
        return super().forward(x / 2)

    def backward(self, dout):
        return super().backward(dout) / 2


class SoftmaxRows(mn.Activation):
    """Softmax along axis=1 as an Activation; its Jacobian is not diagonal, so backward too."""

    def f(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def backward(self, dout):
        y = self.y
        return y * (dout - (dout * y).sum(axis=1, keepdims=True))


class Standardize(mn.Activation):
    """Layer norm without gamma and beta: each row to mean 0, variance 1, with keepdims sums."""

    def f(self, x):
        d = x.shape[1]
        mu = x.sum(axis=1, keepdims=True) / d
        self.std = np.sqrt(((x - mu) ** 2).sum(axis=1, keepdims=True) / d + 1e-5)
        return (x - mu) / self.std

    def backward(self, dout):
        y = self.y
        return (dout - dout.mean(axis=1, keepdims=True)
                - y * (dout * y).mean(axis=1, keepdims=True)) / self.std


class CenterBatch(mn.Activation):
    """y = x - x.mean(axis=0): the batch mean taken out of every feature."""

    def f(self, x):
        return x - x.mean(axis=0)

    def backward(self, dout):
        return dout - dout.mean(axis=0)


class ProductReLU(mn.ReLU):
    def f(self, x):
        return x * (x > 0)

    def df(self, x, y):
        return (x > 0).astype(float)


class MaxLeakyReLU(mn.LeakyReLU):
    def f(self, x):
        return np.maximum(self.alpha * x, x)

    def df(self, x, y):
        return np.where(x > 0, 1.0, self.alpha)


class NegatedReLU(mn.ReLU):
    """y = -max(0, x) through the parent, both ways."""

    def forward(self, x):
        return -super().forward(x)

    def backward(self, dout):
        return -super().backward(dout)


class InPlaceReLU(mn.ReLU):
    """Zeroes the negatives of x itself: x[x < 0] = 0, no new array."""

    def forward(self, x):
        x[x < 0] = 0
        self.x = self.y = x
        return x


class ExpSigmoid(mn.Sigmoid):
    def f(self, x):
        return 1 / (1 + np.exp(-x))


class Swish(mn.Sigmoid):
    """y = x · sigmoid(x), on top of the parent's sigmoid."""

    def f(self, x):
        self.s = super().f(x)
        return x * self.s

    def df(self, x, y):
        return self.s + y * (1 - self.s)


class LeCunTanh(mn.Tanh):
    """1.7159 tanh(2x/3), from LeCun's "Efficient BackProp"."""

    def f(self, x):
        return 1.7159 * np.tanh(2 * x / 3)

    def df(self, x, y):
        return 1.7159 * 2 / 3 * (1 - (y / 1.7159) ** 2)


class SigmoidTanh(mn.Tanh):
    """tanh written through the sigmoid; the parent's df = 1 - y² still holds."""

    def f(self, x):
        return 2 / (1 + np.exp(-2 * x)) - 1


class CachedTanh(mn.Tanh):
    """Its own forward caches only y, and backward uses y alone."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return dout * (1 - self.y**2)


class GlobalDropout(mn.Dropout):
    """Draws a fresh mask from np.random (the global state) on every call."""

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) >= self.p) / (1 - self.p)
        return x * self.mask


class GeneratorDropout(mn.Dropout):
    """Draws from the parent's own Generator on every call, frozen or not."""

    def forward(self, x):
        self.mask = (self.rng.random(x.shape) >= self.p) / (1 - self.p)
        return x * self.mask


class CountedDense(mn.Dense):
    """The parent's layer, counting its forward calls."""

    def __init__(self, i, o, seed=0):
        super().__init__(i, o, seed=seed)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return super().forward(x)


class BinomialDropout(mn.Dropout):
    def forward(self, x):
        self.keep = np.random.binomial(1, 1 - self.p, size=x.shape)
        return x * self.keep / (1 - self.p)

    def backward(self, dout):
        return dout * self.keep / (1 - self.p)


class MyBatchNorm(mn.BatchNorm):
    """Its own forward and backward, CS231n style: N, D = x.shape and a tuple cache."""

    def forward(self, x):
        N, D = x.shape
        mu = x.sum(axis=0) / N
        var = ((x - mu) ** 2).sum(axis=0) / N
        std = np.sqrt(var + self.eps)
        xhat = (x - mu) / std
        self.cache = (xhat, std)
        return self.params["gamma"] * xhat + self.params["beta"]

    def backward(self, dout):
        xhat, std = self.cache
        N = dout.shape[0]
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        return (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)


class StdBatchNorm(mn.BatchNorm):
    """Its own forward with x.var(axis=0), caching the names the parent's backward reads."""

    def forward(self, x):
        self.std = np.sqrt(x.var(axis=0) + self.eps)
        self.xhat = (x - x.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]


class TransposedBatchNorm(mn.BatchNorm):
    """Statistics taken on x.T, one row per feature; the parent's backward."""

    def forward(self, x):
        xt = x.T
        mu = xt.mean(axis=1, keepdims=True)
        std = np.sqrt(((xt - mu) ** 2).mean(axis=1, keepdims=True) + self.eps)
        self.std, self.xhat = std.T, ((xt - mu) / std).T
        return self.params["gamma"] * self.xhat + self.params["beta"]


class SumSoftmaxCE(mn.SoftmaxCE):
    """Sums over the batch instead of averaging."""

    def forward(self, scores, y):
        return super().forward(scores, y) * len(y)

    def backward(self):
        return super().backward() * len(self.y)


class SmoothSoftmaxCE(mn.SoftmaxCE):
    """Label smoothing: the target puts 1 - a on the label and a / C on every class."""

    a = 0.1

    def forward(self, scores, y):
        N, C = scores.shape
        logp = scores - scores.max(axis=1, keepdims=True)
        logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True))
        self.q = np.full((N, C), self.a / C)
        self.q[np.arange(N), y] += 1 - self.a
        self.probs, self.y = np.exp(logp), y
        return -(self.q * logp).sum() / N

    def backward(self):
        return (self.probs - self.q) / len(self.y)


class TemperatureCE(mn.SoftmaxCE):
    """Softmax cross-entropy of scores / T."""

    T = 2.0

    def forward(self, scores, y):
        return super().forward(scores / self.T, y)

    def backward(self):
        return super().backward() / self.T


class HalfMSE(mn.MSE):
    """0.5 · mean((s - y)²), the form that makes the 2 cancel."""

    def forward(self, scores, y):
        self.diff = scores - y
        return 0.5 * np.mean(self.diff**2)

    def backward(self):
        return self.diff / self.diff.size


class RowSumMSE(mn.MSE):
    """Squared error summed over the outputs, averaged over the samples."""

    def forward(self, scores, y):
        self.diff = scores - y
        return (self.diff**2).sum() / len(scores)

    def backward(self):
        return 2 * self.diff / len(self.diff)


class WeightedBCE(mn.SigmoidBCE):
    """Positives weigh w times more: mean(w y log(1 + e⁻ˢ) + (1 - y) log(1 + eˢ))."""

    w = 3.0

    def forward(self, scores, y):
        self.s, self.t = scores, y.reshape(scores.shape)
        return np.mean(self.w * self.t * np.logaddexp(0, -scores)
                       + (1 - self.t) * np.logaddexp(0, scores))

    def backward(self):
        p = 1 / (1 + np.exp(-self.s))
        return (-self.w * self.t * (1 - p) + (1 - self.t) * p) / self.s.size


class ExplicitBCE(mn.SigmoidBCE):
    """-mean(y log p + (1 - y) log(1 - p)), p = sigmoid(s), written out."""

    def forward(self, scores, y):
        self.p = 1 / (1 + np.exp(-scores))
        self.t = y.reshape(scores.shape)
        return -np.mean(self.t * np.log(self.p) + (1 - self.t) * np.log(1 - self.p))

    def backward(self):
        return (self.p - self.t) / self.p.size


# ---- plain Layer subclasses: correct -------------------------------------------------------


def init(seed, **shapes):
    """Small random parameters, as students draw them: name -> array of that shape."""
    rng = np.random.default_rng(seed)
    return {k: 0.5 * rng.standard_normal(s) for k, s in shapes.items()}


class RowSoftmax(mn.Layer):
    """Softmax of each row, with a Python loop over x.shape[0] both ways."""

    def forward(self, x):
        self.y = np.zeros_like(x)
        for i in range(x.shape[0]):
            e = np.exp(x[i] - x[i].max())
            self.y[i] = e / e.sum()
        return self.y

    def backward(self, dout):
        dx = np.zeros_like(dout)
        for i in range(dout.shape[0]):
            dx[i] = self.y[i] * (dout[i] - dout[i] @ self.y[i])
        return dx


class LayerNorm(mn.Layer):
    """Normalizes each row (N, D = x.shape, keepdims sums), then gamma x̂ + beta."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.ones(d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        N, D = x.shape
        mu = x.sum(axis=1, keepdims=True) / D
        self.std = np.sqrt(((x - mu) ** 2).sum(axis=1, keepdims=True) / D + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        N, D = dout.shape
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        g = dout * self.params["gamma"]
        return (D * g - g.sum(axis=1, keepdims=True)
                - self.xhat * (g * self.xhat).sum(axis=1, keepdims=True)) / (D * self.std)


class CenterColumns(mn.Layer):
    """Centering written with x.T: every feature minus its batch mean."""

    def forward(self, x):
        return (x.T - x.T.mean(axis=1, keepdims=True)).T

    def backward(self, dout):
        return dout - dout.mean(axis=0)


class L2Normalize(mn.Layer):
    """Each row scaled to unit length: y = x / ‖x‖ with np.linalg.norm(axis=1)."""

    def forward(self, x):
        self.norm = np.linalg.norm(x, axis=1, keepdims=True)
        self.y = x / self.norm
        return self.y

    def backward(self, dout):
        return (dout - self.y * (dout * self.y).sum(axis=1, keepdims=True)) / self.norm


class ColumnDense(mn.Layer):
    """A linear layer from lecture notes in column form: y = (Wᵀ xᵀ)ᵀ + b."""

    def __init__(self, i, o, seed=0):
        super().__init__()
        self.params = init(seed, W=(i, o), b=(o,))

    def forward(self, x):
        self.x = x
        return (self.params["W"].T @ x.T).T + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = (dout.T @ self.x).T
        self.grads["b"] = dout.sum(axis=0)
        return (self.params["W"] @ dout.T).T


class LoopLinear(mn.Layer):
    """A linear layer with Python loops over the samples, summing outer products."""

    def __init__(self, i, o, seed=0):
        super().__init__()
        self.params = init(seed, W=(i, o), b=(o,))
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        out = np.zeros((len(x), self.params["b"].size))
        for n in range(len(x)):
            out[n] = x[n] @ self.params["W"] + self.params["b"]
        return out

    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        for n in range(len(dout)):
            dW += np.outer(self.x[n], dout[n])
        self.grads["W"] = dW
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class PairSum(mn.Layer):
    """(N, D) -> (N, D/2): neighbouring features summed in pairs."""

    def forward(self, x):
        N, D = x.shape
        return x.reshape(N, D // 2, 2).sum(axis=2)

    def backward(self, dout):
        return np.repeat(dout, 2, axis=1)


class Maxout(mn.Layer):
    """(N, D) -> (N, D/2): the larger of each pair of features."""

    def forward(self, x):
        N, D = x.shape
        pairs = x.reshape(N, D // 2, 2)
        self.arg = pairs.argmax(axis=2)
        return pairs.max(axis=2)

    def backward(self, dout):
        N, H = dout.shape
        dx = np.zeros((N, H, 2))
        dx[np.arange(N)[:, None], np.arange(H), self.arg] = dout
        return dx.reshape(N, 2 * H)


class SquareFeatures(mn.Layer):
    """(N, D) -> (N, 2D): the features and their squares, concatenated along axis=1."""

    def forward(self, x):
        self.x = x
        return np.concatenate([x, x**2], axis=1)

    def backward(self, dout):
        D = self.x.shape[1]
        return dout[:, :D] + 2 * self.x * dout[:, D:]


class CumSum(mn.Layer):
    """y = np.cumsum(x, axis=1); its backward is a cumulative sum from the right."""

    def forward(self, x):
        return np.cumsum(x, axis=1)

    def backward(self, dout):
        return np.cumsum(dout[:, ::-1], axis=1)[:, ::-1]


class PReLU(mn.Layer):
    """Leaky ReLU with a learned slope per feature: y = x if x > 0 else alpha x."""

    def __init__(self, d):
        super().__init__()
        self.params = {"alpha": np.full(d, 0.25)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dout):
        self.grads["alpha"] = (dout * np.where(self.x > 0, 0, self.x)).sum(axis=0)
        return dout * np.where(self.x > 0, 1, self.params["alpha"])


class ScaleShift(mn.Layer):
    """y = gamma x + beta per feature, gamma applied through x.T."""

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        return (x.T * self.params["gamma"][:, None]).T + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.x).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return dout * self.params["gamma"]


class InPlaceELU(mn.Layer):
    """ELU computed in x itself: x[x < 0] = eˣ - 1; dy/dx = y + 1 there."""

    def forward(self, x):
        self.neg = x < 0
        x[self.neg] = np.exp(x[self.neg]) - 1
        self.y = x
        return x

    def backward(self, dout):
        return dout * np.where(self.neg, self.y + 1, 1)


class InPlaceExp(mn.Layer):
    """y = eˣ with np.exp(x, out=x)."""

    def forward(self, x):
        np.exp(x, out=x)
        self.y = x
        return x

    def backward(self, dout):
        return dout * self.y


class InPlaceSquare(mn.Layer):
    """y = x² squared in place, after keeping a copy of x."""

    def forward(self, x):
        self.x = x.copy()
        x **= 2
        return x

    def backward(self, dout):
        return 2 * self.x * dout


class MaskReLU(mn.Layer):
    """ReLU that zeroes x in place in forward and dout in place in backward."""

    def forward(self, x):
        self.mask = x > 0
        x[~self.mask] = 0
        return x

    def backward(self, dout):
        dout[~self.mask] = 0
        return dout


class InPlaceTanh(mn.Layer):
    """tanh whose backward multiplies dout in place: d *= 1 - y²; return d."""

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        d = dout
        d *= 1 - self.y**2
        return d


class BufferSigmoid(mn.Layer):
    """Sigmoid into one output buffer, reused by every call (returns self.out)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        if self.out is None or self.out.shape != x.shape:
            self.out = np.empty_like(x)
        np.negative(x, out=self.out)
        np.exp(self.out, out=self.out)
        self.out += 1
        np.reciprocal(self.out, out=self.out)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class BufferLinear(mn.Layer):
    """A linear layer that writes x W + b into a reused buffer with np.matmul(out=...)."""

    def __init__(self, i, o, seed=0):
        super().__init__()
        self.params = init(seed, W=(i, o), b=(o,))
        self.out = None

    def forward(self, x):
        shape = (len(x), self.params["b"].size)
        if self.out is None or self.out.shape != shape:
            self.out = np.empty(shape)
        self.x = x
        np.matmul(x, self.params["W"], out=self.out)
        self.out += self.params["b"]
        return self.out

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class DenseReLU(mn.Layer):
    """Dense then ReLU in one layer; the cache is a tuple (x, a)."""

    def __init__(self, i, o, seed=0):
        super().__init__()
        self.params = init(seed, W=(i, o), b=(o,))

    def forward(self, x):
        a = x @ self.params["W"] + self.params["b"]
        self.cache = (x, a)
        return np.maximum(a, 0)

    def backward(self, dout):
        x, a = self.cache
        da = dout * (a > 0)
        self.grads["W"] = x.T @ da
        self.grads["b"] = da.sum(axis=0)
        return da @ self.params["W"].T


class Gate(mn.Layer):
    """y = x · sigmoid(x W), a gate; the cache is a tuple (x, s)."""

    def __init__(self, d, seed=0):
        super().__init__()
        self.params = init(seed, W=(d, d))

    def forward(self, x):
        s = 1 / (1 + np.exp(-(x @ self.params["W"])))
        self.cache = (x, s)
        return x * s

    def backward(self, dout):
        x, s = self.cache
        dz = dout * x * s * (1 - s)
        self.grads["W"] = x.T @ dz
        return dout * s + dz @ self.params["W"].T


class CountedSwish(mn.Layer):
    """Swish that counts its calls and keeps a list of the batch sizes it saw."""

    def __init__(self):
        super().__init__()
        self.calls, self.backward_calls, self.seen = 0, 0, []

    def forward(self, x):
        self.calls += 1
        self.seen.append(len(x))
        self.x, self.s = x, 1 / (1 + np.exp(-x))
        return x * self.s

    def backward(self, dout):
        self.backward_calls += 1
        return dout * (self.s + self.x * self.s * (1 - self.s))


class Float32Linear(mn.Layer):
    """A linear layer whose weights are float32, as students cast them to save memory."""

    def __init__(self, i, o, seed=0):
        super().__init__()
        self.params = {k: v.astype(np.float32) for k, v in init(seed, W=(i, o), b=(o,)).items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = (self.x.T @ dout).astype(self.params["W"].dtype)
        self.grads["b"] = dout.sum(axis=0).astype(self.params["b"].dtype)
        return dout @ self.params["W"].T


class Float32Scale(mn.Layer):
    """y = gamma ⊙ x with a float32 gamma."""

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d, dtype=np.float32)}

    def forward(self, x):
        self.x = x
        return self.params["gamma"] * x

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.x).sum(axis=0).astype(np.float32)
        return dout * self.params["gamma"]


class NumpyDropout(mn.Layer):
    """Inverted dropout with np.random.rand, as in CS231n's assignment."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) > self.p) / (1 - self.p)
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class BinomialNoise(mn.Layer):
    """Dropout with np.random.binomial, keep probability q, no rescaling."""

    def __init__(self, q=0.7):
        super().__init__()
        self.q = q

    def forward(self, x):
        self.mask = np.random.binomial(1, self.q, size=x.shape)
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class GaussianNoise(mn.Layer):
    """Multiplicative noise 1 + 0.1 z, z from np.random.randn."""

    def forward(self, x):
        self.noise = 1 + 0.1 * np.random.randn(*x.shape)
        return x * self.noise

    def backward(self, dout):
        return dout * self.noise


class Shuffle(mn.Layer):
    """The features in a new random order on every call, from np.random.permutation."""

    def forward(self, x):
        self.perm = np.random.permutation(x.shape[1])
        return x[:, self.perm]

    def backward(self, dout):
        dx = np.empty_like(dout)
        dx[:, self.perm] = dout
        return dx


class GeneratorNoise(mn.Layer):
    """Multiplicative noise from the layer's own Generator, fresh on every call."""

    def __init__(self, seed=0):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        self.noise = 1 + 0.1 * self.rng.standard_normal(x.shape)
        return x * self.noise

    def backward(self, dout):
        return dout * self.noise


# ---- losses of their own: correct ----------------------------------------------------------


class MyMSE(mn.Loss):
    """Mean squared error with an (empty) params dict, as if it were a layer."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, scores, y):
        self.diff = scores - y
        return np.mean(self.diff**2)

    def backward(self):
        return 2 * self.diff / self.diff.size


class LoopCE:
    """A plain class, no base: softmax cross-entropy row by row."""

    def forward(self, scores, y):
        N = scores.shape[0]
        self.p, self.y = np.zeros_like(scores), y
        loss = 0.0
        for i in range(N):
            e = np.exp(scores[i] - scores[i].max())
            self.p[i] = e / e.sum()
            loss -= np.log(self.p[i, y[i]])
        return loss / N

    def backward(self):
        N = len(self.y)
        d = self.p  # in place on its own cache: forward refills it
        d[np.arange(N), self.y] -= 1
        return d / N


class ShiftCE:
    """A plain class with params and grads dicts; shifts the scores in place (shift-invariant)."""

    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, scores, y):
        scores -= scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        self.p, self.y = e / e.sum(axis=1, keepdims=True), y
        return -np.log(self.p[np.arange(len(y)), y]).mean()

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d / len(self.y)


class LogSumExpCE(mn.Loss):
    """Cross-entropy through log-softmax, N = scores.shape[0]."""

    def forward(self, scores, y):
        N = scores.shape[0]
        shifted = scores - scores.max(axis=1, keepdims=True)
        self.logp = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
        self.y = y
        return -self.logp[np.arange(N), y].mean()

    def backward(self):
        N = len(self.y)
        d = np.exp(self.logp)
        d[np.arange(N), self.y] -= 1
        return d / N


class Hinge(mn.Loss):
    """Multiclass SVM loss (CS231n): mean over samples of Σ_{j≠y} max(0, s_j - s_y + 1)."""

    def forward(self, scores, y):
        N = scores.shape[0]
        correct = scores[np.arange(N), y][:, None]
        self.margins = np.maximum(0, scores - correct + 1)
        self.margins[np.arange(N), y] = 0
        self.y = y
        return self.margins.sum() / N

    def backward(self):
        N = len(self.y)
        d = (self.margins > 0).astype(float)
        d[np.arange(N), self.y] = -d.sum(axis=1)
        return d / N


class Huber(mn.Loss):
    """Quadratic within delta of the target, linear beyond: mean over every entry."""

    delta = 1.0

    def forward(self, scores, y):
        self.r = scores - y
        a = np.abs(self.r)
        return np.mean(np.where(a <= self.delta, 0.5 * self.r**2,
                                self.delta * (a - 0.5 * self.delta)))

    def backward(self):
        return np.clip(self.r, -self.delta, self.delta) / self.r.size


class L1Loss:
    """Mean absolute error, a plain class."""

    def forward(self, scores, y):
        self.d = scores - y
        return np.abs(self.d).mean()

    def backward(self):
        return np.sign(self.d) / self.d.size


class MyBCE:
    """Binary cross-entropy on logits, a plain class with params = {}."""

    def __init__(self):
        self.params = {}

    def forward(self, scores, y):
        self.s, self.t = scores, y.reshape(scores.shape)
        return np.mean(np.logaddexp(0, scores) - self.t * scores)

    def backward(self):
        return (1 / (1 + np.exp(-self.s)) - self.t) / self.s.size


# ---- one realistic mistake each -----------------------------------------------------------


class TwiceDenseParentBackward(mn.Dense):
    """Bug: forward doubled, backward left as the parent's."""

    def forward(self, x):
        return 2 * super().forward(x)


class MaskedDenseForgetsMask(MaskedDense):
    """Bug: dW without the mask."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout
        return dx


class WeightNormNoProjection(WeightNormDense):
    """Bug: dV = g/‖V‖ · dW, the projection term left out."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.params["g"] / self.norm * (self.x.T @ dout)
        return dx


class NoBiasDenseParentBackward(mn.Dense):
    """Bug: b unused in forward, but the parent's backward still gives it Σ dout."""

    def forward(self, x):
        self.x = x
        return x @ self.params["W"]


class DenseTanhOneMinusY(DenseTanh):
    """Bug: tanh' written as 1 - y."""

    def backward(self, dout):
        return mn.Dense.backward(self, dout * (1 - self.h))


class OutInDenseTransposed(OutInDense):
    """Bug: dW = xᵀ dout, the (in, out) formula for a W stored (out, in); square, so it runs."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.x.T @ dout
        return dx


class ResidualDenseNoSkip(ResidualDense):
    """Bug: the skip path's dout is not added to dx."""

    def backward(self, dout):
        return mn.Dense.backward(self, dout)


class SoftmaxRowsElementwise(SoftmaxRows):
    """Bug: the softmax derivative taken as y (1 - y), elementwise."""

    def backward(self, dout):
        return dout * self.y * (1 - self.y)


class StandardizeMissingTerm(Standardize):
    """Bug: the -y·mean(dout·y) term left out."""

    def backward(self, dout):
        return (dout - dout.mean(axis=1, keepdims=True)) / self.std


class CenterBatchIdentity(CenterBatch):
    """Bug: centering treated as the identity in backward."""

    def backward(self, dout):
        return dout


class MaxLeakyForgetsAlpha(MaxLeakyReLU):
    """Bug: df = 1 where x > 0, else 0 (alpha forgotten)."""

    def df(self, x, y):
        return (x > 0).astype(float)


class SwishNoProductRule(Swish):
    """Bug: d(x s)/dx taken as s."""

    def df(self, x, y):
        return self.s


class LeCunTanhParentDf(mn.Tanh):
    """Bug: f scaled to 1.7159 tanh(2x/3), df left as the parent's 1 - y²."""

    def f(self, x):
        return 1.7159 * np.tanh(2 * x / 3)


class ForgetfulDropout(mn.Dropout):
    """Bug: the np.random mask is not stored, so the parent's backward passes dout through."""

    def forward(self, x):
        mask = (np.random.rand(*x.shape) >= self.p) / (1 - self.p)
        return x * mask


class UnscaledMaskDropout(mn.Dropout):
    """Bug: stores the 0/1 mask and scales in forward only; the parent's backward lacks 1/(1-p)."""

    def forward(self, x):
        self.mask = (np.random.rand(*x.shape) >= self.p).astype(float)
        return x * self.mask / (1 - self.p)


class MyBatchNormForgetsN(MyBatchNorm):
    """Bug: dx missing its 1/N."""

    def backward(self, dout):
        xhat, std = self.cache
        N = dout.shape[0]
        super().backward(dout)
        dxhat = dout * self.params["gamma"]
        return (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / std


class MyBatchNormGammaSum(MyBatchNorm):
    """Bug: dgamma = Σ dout, the x̂ forgotten."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = dout.sum(axis=0)
        return dx


class CenterOnlyBatchNorm(mn.BatchNorm):
    """Bug: a mean-only norm (no division by std) that reuses the parent's full backward."""

    def forward(self, x):
        self.xhat, self.std = x - x.mean(axis=0), 1.0
        return self.params["gamma"] * self.xhat + self.params["beta"]


class SumSoftmaxCEParentBackward(mn.SoftmaxCE):
    """Bug: sums over the batch in forward, the parent's mean in backward."""

    def forward(self, scores, y):
        return super().forward(scores, y) * len(y)


class SmoothSoftmaxCEParentBackward(SmoothSoftmaxCE):
    """Bug: label smoothing in forward, the plain one-hot in backward."""

    def backward(self):
        return mn.SoftmaxCE.backward(self)


class TemperatureCEForgetsT(TemperatureCE):
    """Bug: the 1/T of the chain rule left out."""

    def backward(self):
        return mn.SoftmaxCE.backward(self)


class HalfMSEParentBackward(mn.MSE):
    """Bug: 0.5 · MSE in forward, the parent's 2 (s - y) / n in backward."""

    def forward(self, scores, y):
        self.diff = scores - y
        return 0.5 * np.mean(self.diff**2)


class RowSumMSEOverSize(RowSumMSE):
    """Bug: divides by N·D in backward where forward divides by N."""

    def backward(self):
        return 2 * self.diff / self.diff.size


class WeightedBCEParentBackward(WeightedBCE):
    """Bug: the weighted loss with the unweighted parent's backward."""

    def backward(self):
        return mn.SigmoidBCE.backward(self)


class ExplicitBCEForgetsN(ExplicitBCE):
    """Bug: no division by the batch size."""

    def backward(self):
        return self.p - self.t


class RowSoftmaxUnweighted(RowSoftmax):
    """Bug: y (dout - Σ dout) where it needs y (dout - dout · y)."""

    def backward(self, dout):
        dx = np.zeros_like(dout)
        for i in range(dout.shape[0]):
            dx[i] = self.y[i] * (dout[i] - dout[i].sum())
        return dx


class LayerNormDividesByN(LayerNorm):
    """Bug: N, D = dout.shape, then N used where D belongs."""

    def backward(self, dout):
        N, D = dout.shape
        super().backward(dout)
        g = dout * self.params["gamma"]
        return (N * g - g.sum(axis=1, keepdims=True)
                - self.xhat * (g * self.xhat).sum(axis=1, keepdims=True)) / (N * self.std)


class L2NormalizeNoProjection(L2Normalize):
    """Bug: dx = dout / ‖x‖, as if the norm were a constant."""

    def backward(self, dout):
        return dout / self.norm


class ColumnDenseOneTransposeShort(ColumnDense):
    """Bug: dW = doutᵀ x, the last .T forgotten (square W, so it runs)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = dout.T @ self.x
        return dx


class LoopLinearAccumulates(LoopLinear):
    """Bug: adds the outer products into grads["W"] itself: += across calls."""

    def backward(self, dout):
        for n in range(len(dout)):
            self.grads["W"] += np.outer(self.x[n], dout[n])
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class PairSumTiled(PairSum):
    """Bug: np.tile where np.repeat belongs."""

    def backward(self, dout):
        return np.tile(dout, 2)


class SquareFeaturesForgetsTwo(SquareFeatures):
    def backward(self, dout):
        D = self.x.shape[1]
        return dout[:, :D] + self.x * dout[:, D:]


class CumSumForward(CumSum):
    """Bug: backward is a cumulative sum from the left, like forward."""

    def backward(self, dout):
        return np.cumsum(dout, axis=1)


class PReLUAlphaNoMask(PReLU):
    """Bug: dalpha = Σ dout · x over every entry, positive ones too."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["alpha"] = (dout * self.x).sum(axis=0)
        return dx


class ScaleShiftBetaMean(ScaleShift):
    """Bug: dbeta averaged over the batch instead of summed."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["beta"] = dout.mean(axis=0)
        return dx


class ELUUsesModifiedInput(mn.Layer):
    """Bug: caches x, then overwrites it in place; backward reads eˣ⁻¹ - 1 as if it were x."""

    def forward(self, x):
        self.x = x
        x[x < 0] = np.exp(x[x < 0]) - 1
        return x

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1, np.exp(self.x))


class SquareCorruptsCache(InPlaceSquare):
    """Bug: caches x without a copy, then squares it in place: backward sees x²."""

    def forward(self, x):
        self.x = x
        x **= 2
        return x


class DenseReLUMaskAfterDx(DenseReLU):
    """Bug: dx taken from dout before the mask is applied to it in place."""

    def backward(self, dout):
        x, a = self.cache
        dx = dout @ self.params["W"].T
        dout[a <= 0] = 0
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dx


class DenseReLUUnpacksBackwards(DenseReLU):
    """Bug: a, x = self.cache, the tuple unpacked in the wrong order (square, so it runs)."""

    def backward(self, dout):
        a, x = self.cache
        da = dout * (a > 0)
        self.grads["W"] = x.T @ da
        self.grads["b"] = da.sum(axis=0)
        return da @ self.params["W"].T


class DenseReLUBiasUnmasked(DenseReLU):
    """Bug: db = Σ dout, before the ReLU mask."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=0)
        return dx


class GateMissingDirectPath(Gate):
    """Bug: only the path through s; the dout · s term is missing."""

    def backward(self, dout):
        super().backward(dout)
        x, s = self.cache
        return (dout * x * s * (1 - s)) @ self.params["W"].T


class Float32LinearBiasWrongAxis(Float32Linear):
    """Bug: db summed along axis=1 (N = out here, so the shape fits)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=1).astype(self.params["b"].dtype)
        return dx


class DropoutRedrawsInBackward(NumpyDropout):
    """Bug: backward draws a new mask instead of using the one forward used."""

    def backward(self, dout):
        return dout * (np.random.rand(*dout.shape) > self.p) / (1 - self.p)


class GeneratorNoiseRedraws(GeneratorNoise):
    """Bug: backward draws new noise from the Generator instead of reusing forward's."""

    def backward(self, dout):
        return dout * (1 + 0.1 * self.rng.standard_normal(dout.shape))


class LinearIntoInput(BufferLinear):
    """Bug: writes x W into x's own buffer (np.matmul(out=x)), so the cached x becomes y - b."""

    def forward(self, x):
        self.x = x
        np.matmul(x, self.params["W"], out=x)
        return x + self.params["b"]


class InPlaceTanhWrongDerivative(InPlaceTanh):
    """Bug: d *= 1 - y in place, tanh' written as 1 - y."""

    def backward(self, dout):
        d = dout
        d *= 1 - self.y
        return d


class BufferSigmoidForgetsOneMinus(BufferSigmoid):
    """Bug: sigmoid' written as y, the (1 - y) forgotten."""

    def backward(self, dout):
        return dout * self.out


class MyMSEOverN(MyMSE):
    """Bug: divides by N, not by the N·D entries it averaged."""

    def backward(self):
        return 2 * self.diff / len(self.diff)


class LoopCEForgetsN(LoopCE):
    def backward(self):
        return super().backward() * len(self.y)


class ShiftCESignFlipped(ShiftCE):
    def backward(self):
        return -super().backward()


class LogSumExpCEWrongAxis(LogSumExpCE):
    """Bug: the log-sum-exp taken along axis=0, over the batch, in forward."""

    def forward(self, scores, y):
        N = scores.shape[0]
        shifted = scores - scores.max(axis=0, keepdims=True)
        self.logp = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
        self.y = y
        return -self.logp[np.arange(N), y].mean()


class HingeForgetsCorrectClass(Hinge):
    """Bug: the -count on the correct class's column is left out."""

    def backward(self):
        return (self.margins > 0) / len(self.y)


class HuberNoClip(Huber):
    """Bug: the quadratic's gradient everywhere, no clipping beyond delta."""

    def backward(self):
        return self.r / self.r.size


class L1LossForgetsSize(L1Loss):
    def backward(self):
        return np.sign(self.d)


class MyBCESignFlipped(MyBCE):
    def backward(self):
        return -super().backward()


# ---- the cases -----------------------------------------------------------------------------


@dataclass
class Case:
    """One student layer or loss, an input to check it on, and what its gradient really is."""

    name: str
    make: Callable[[], object]  # a fresh instance, its parameters seeded
    x: np.ndarray  # the layer's input (a loss's scores), float64
    y: np.ndarray | None = None  # a loss's targets
    buggy: bool = False
    wrong: tuple[str, ...] = ()  # the tensors the bug spoils: "input" and/or param names
    style: str = ""
    first: bool = False  # in a model, the layer comes first (index 0)

    @property
    def is_loss(self) -> bool:
        return self.y is not None


def batch(seed, n=5, d=4):
    """Inputs (n, d), every entry at least 0.05 from zero: no ReLU corner within reach."""
    x = np.random.default_rng(seed).standard_normal((n, d))
    return x + 0.05 * np.sign(x)


def pairs(seed, n=5, d=4):
    """Inputs whose neighbouring features (0, 1), (2, 3), ... differ by at least 0.2."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    x[:, 1::2] = x[:, 0::2] + rng.choice([-1, 1], (n, d // 2)) * (0.2 + rng.random((n, d // 2)))
    return x


def labels(seed, n=6, c=3):
    return np.random.default_rng(seed + 100).integers(0, c, n)


def hinge_scores(seed, n=6, c=3):
    """Scores and labels with every margin s_j - s_y + 1 at least 0.05 away from 0."""
    while True:
        s, y = batch(seed, n, c), labels(seed, n, c)
        m = s - s[np.arange(n), y][:, None] + 1
        m[np.arange(n), y] = 1
        if np.abs(m).min() > 0.05:
            return s, y
        seed += 1000


def huber_scores(seed, n=6, c=2):
    """Residuals from 0.2 to 0.8 or from 1.2 to 2 in size (both sides of delta = 1), and targets."""
    rng = np.random.default_rng(seed)
    size = rng.choice([0.2, 1.2], (n, c)) + 0.6 * rng.random((n, c))
    t = rng.standard_normal((n, c))
    return t + rng.choice([-1, 1], (n, c)) * size, t


def targets(seed, n=6, c=3):
    return np.random.default_rng(seed + 200).standard_normal((n, c))


def bits(seed, n=6):
    return np.random.default_rng(seed + 300).integers(0, 2, n)


def jiggled(make, seed=0):
    """make, with every parameter moved off its initial value (gamma = 1, b = 0 hide bugs)."""
    def fresh():
        layer = make()
        rng = np.random.default_rng(seed)
        for p in getattr(layer, "params", {}).values():
            p += (0.3 * rng.standard_normal(p.shape)).astype(p.dtype)
        return layer
    return fresh


def ok(name, make, x, style, y=None, first=False):
    return Case(name, jiggled(make), x, y, False, (), style, first)


def bug(name, make, x, style, wrong, y=None):
    return Case(name, jiggled(make), x, y, True, tuple(wrong), style)


SUB = "built-in subclass"
SUPER = "built-in subclass using super().backward's dx"
LOSS_SUB = "built-in loss subclass"
AXIS = "Layer: axis=1, N, D = x.shape, x.T, keepdims"
LOOP = "Layer: Python loops"
INPLACE = "Layer: in place on x or dout"
BUFFER = "Layer: reused output buffer"
TUPLE = "Layer: tuple cache"
COUNTER = "call counters"
F32 = "float32 params"
RANDOM = "Layer: np.random or its own Generator each call"
LOSS = "own loss"
HINGE, HUBER = hinge_scores(74), huber_scores(75)

CORRECT = [
    # subclasses of the built-ins
    ok("dense-twice", lambda: TwiceDense(4, 3, seed=1), batch(1), SUB),
    ok("dense-masked", lambda: MaskedDense(4, 3, seed=2), batch(2), SUB),
    ok("dense-weightnorm", lambda: WeightNormDense(4, 3, seed=3), batch(3), SUB),
    ok("dense-unused-b", lambda: NoBiasDense(4, 3, seed=4), batch(4), SUB),
    ok("dense-tanh-fused", lambda: DenseTanh(4, 3, seed=5), batch(5), SUB),
    ok("dense-out-in", lambda: OutInDense(4, 3, seed=6), batch(6), SUB),
    ok("dense-row-loop", lambda: LoopDense(4, 3, seed=7), batch(7), SUB),
    ok("dense-column-form", lambda: ColumnFormDense(4, 3, seed=8), batch(8), SUB),
    ok("dense-residual", lambda: ResidualDense(4, 4, seed=9), batch(9), SUPER, first=True),
    ok("dense-half-input", lambda: HalfInputDense(4, 3, seed=10), batch(10), SUPER, first=True),
    ok("activation-softmax", SoftmaxRows, batch(11), SUB),
    ok("activation-standardize", Standardize, batch(12), SUB),
    ok("activation-center", CenterBatch, batch(13), SUB),
    ok("relu-product", ProductReLU, batch(14), SUB),
    ok("relu-negated", NegatedReLU, batch(15), SUB),
    ok("relu-in-place", InPlaceReLU, batch(16), SUB),
    ok("leaky-max", lambda: MaxLeakyReLU(0.1), batch(17), SUB),
    ok("sigmoid-exp", ExpSigmoid, batch(18), SUB),
    ok("sigmoid-swish", Swish, batch(19), SUB),
    ok("tanh-lecun", LeCunTanh, batch(20), SUB),
    ok("tanh-via-sigmoid", SigmoidTanh, batch(21), SUB),
    ok("tanh-own-forward", CachedTanh, batch(22), SUB),
    ok("dropout-global-rand", lambda: GlobalDropout(0.4, seed=1), batch(23), SUB),
    ok("dropout-binomial", lambda: BinomialDropout(0.3, seed=1), batch(24), SUB),
    ok("dropout-own-generator", lambda: GeneratorDropout(0.3, seed=5), batch(35), SUB),
    ok("dense-counted", lambda: CountedDense(4, 3, seed=36), batch(36), COUNTER),
    ok("dense-float32", lambda: mn.Dense(4, 3, seed=37).astype(np.float32), batch(37), F32),
    ok("batchnorm-own", lambda: MyBatchNorm(4), batch(25), SUB),
    ok("batchnorm-std-parent-backward", lambda: StdBatchNorm(4), batch(26), SUB),
    ok("batchnorm-transposed", lambda: TransposedBatchNorm(4), batch(27), SUB),
    ok("softmaxce-sum", SumSoftmaxCE, batch(28, 6, 3), LOSS_SUB, y=labels(28)),
    ok("softmaxce-smoothing", SmoothSoftmaxCE, batch(29, 6, 3), LOSS_SUB, y=labels(29)),
    ok("softmaxce-temperature", TemperatureCE, batch(30, 6, 3), LOSS_SUB, y=labels(30)),
    ok("mse-half", HalfMSE, batch(31, 6, 2), LOSS_SUB, y=targets(31, 6, 2)),
    ok("mse-row-sum", RowSumMSE, batch(32, 6, 3), LOSS_SUB, y=targets(32)),
    ok("bce-weighted", WeightedBCE, batch(33, 6, 1), LOSS_SUB, y=bits(33)),
    ok("bce-explicit", ExplicitBCE, batch(34, 6, 1), LOSS_SUB, y=bits(34)),
    # plain Layer subclasses
    ok("softmax-row-loop", RowSoftmax, batch(40), LOOP),
    ok("layernorm-keepdims", lambda: LayerNorm(4), batch(41), AXIS),
    ok("center-transposed", CenterColumns, batch(42), AXIS),
    ok("l2-normalize-rows", L2Normalize, batch(43), AXIS),
    ok("linear-column-form", lambda: ColumnDense(4, 3, seed=44), batch(44), AXIS),
    ok("linear-loops", lambda: LoopLinear(4, 3, seed=45), batch(45), LOOP),
    ok("pair-sum", PairSum, batch(46), AXIS),
    ok("maxout", Maxout, pairs(47), AXIS),
    ok("square-features", SquareFeatures, batch(48), AXIS),
    ok("cumsum", CumSum, batch(49), AXIS),
    ok("prelu", lambda: PReLU(4), batch(50), AXIS),
    ok("scale-shift-transposed", lambda: ScaleShift(4), batch(51), AXIS),
    ok("elu-in-place", InPlaceELU, batch(52), INPLACE),
    ok("exp-out-x", InPlaceExp, batch(53), INPLACE),
    ok("square-in-place", InPlaceSquare, batch(54), INPLACE),
    ok("relu-in-place-dout", MaskReLU, batch(55), INPLACE),
    ok("tanh-in-place-dout", InPlaceTanh, batch(56), INPLACE),
    ok("sigmoid-buffer", BufferSigmoid, batch(57), BUFFER),
    ok("linear-buffer", lambda: BufferLinear(4, 3, seed=58), batch(58), BUFFER),
    ok("dense-relu-tuple-cache", lambda: DenseReLU(4, 3, seed=59), batch(59), TUPLE),
    ok("gate-tuple-cache", lambda: Gate(4, seed=60), batch(60), TUPLE),
    ok("swish-counters", CountedSwish, batch(61), COUNTER),
    ok("linear-float32", lambda: Float32Linear(4, 3, seed=62), batch(62), F32),
    ok("scale-float32", lambda: Float32Scale(4), batch(63), F32),
    ok("dropout-np-rand", lambda: NumpyDropout(0.5), batch(64), RANDOM),
    ok("dropout-np-binomial", lambda: BinomialNoise(0.7), batch(65), RANDOM),
    ok("noise-np-randn", GaussianNoise, batch(66), RANDOM),
    ok("shuffle-np-permutation", Shuffle, batch(67), RANDOM),
    ok("noise-own-generator", lambda: GeneratorNoise(seed=68), batch(68), RANDOM),
    # losses of their own
    ok("mse-params-dict", MyMSE, batch(70, 6, 3), LOSS, y=targets(70)),
    ok("ce-plain-loop", LoopCE, batch(71, 6, 3), LOSS, y=labels(71)),
    ok("ce-plain-params-shift-in-place", ShiftCE, batch(72, 6, 3), LOSS, y=labels(72)),
    ok("ce-logsumexp", LogSumExpCE, batch(73, 6, 3), LOSS, y=labels(73)),
    ok("hinge", Hinge, HINGE[0], LOSS, y=HINGE[1]),
    ok("huber", Huber, HUBER[0], LOSS, y=HUBER[1]),
    ok("l1-plain", L1Loss, batch(76, 6, 2), LOSS, y=targets(76, 6, 2)),
    ok("bce-plain-params", MyBCE, batch(77, 6, 1), LOSS, y=bits(77)),
]

BUGGY = [
    bug("dense-twice-parent-backward", lambda: TwiceDenseParentBackward(4, 3, seed=1), batch(101),
        SUB, ["input", "W", "b"]),
    bug("dense-masked-dW-unmasked", lambda: MaskedDenseForgetsMask(4, 3, seed=2), batch(102),
        SUB, ["W"]),
    bug("dense-weightnorm-no-projection", lambda: WeightNormNoProjection(4, 3, seed=3),
        batch(103), SUB, ["W"]),
    bug("dense-unused-b-parent-backward", lambda: NoBiasDenseParentBackward(4, 3, seed=4),
        batch(104), SUB, ["b"]),
    bug("dense-tanh-one-minus-y", lambda: DenseTanhOneMinusY(4, 3, seed=5), batch(105), SUB,
        ["input", "W", "b"]),
    bug("dense-out-in-transposed", lambda: OutInDenseTransposed(4, 4, seed=6), batch(106), SUB,
        ["W"]),
    bug("dense-residual-no-skip", lambda: ResidualDenseNoSkip(4, 4, seed=9), batch(107), SUPER,
        ["input"]),
    bug("activation-softmax-elementwise", SoftmaxRowsElementwise, batch(108), SUB, ["input"]),
    bug("activation-standardize-missing-term", StandardizeMissingTerm, batch(109), SUB,
        ["input"]),
    bug("activation-center-identity", CenterBatchIdentity, batch(110), SUB, ["input"]),
    bug("leaky-max-forgets-alpha", lambda: MaxLeakyForgetsAlpha(0.1), batch(111), SUB,
        ["input"]),
    bug("sigmoid-swish-no-product-rule", SwishNoProductRule, batch(112), SUB, ["input"]),
    bug("tanh-lecun-parent-df", LeCunTanhParentDf, batch(113), SUB, ["input"]),
    bug("dropout-mask-not-stored", lambda: ForgetfulDropout(0.4, seed=1), batch(114), SUB,
        ["input"]),
    bug("dropout-unscaled-backward", lambda: UnscaledMaskDropout(0.4, seed=1), batch(115), SUB,
        ["input"]),
    bug("batchnorm-own-forgets-N", lambda: MyBatchNormForgetsN(4), batch(116), SUB, ["input"]),
    bug("batchnorm-own-dgamma-sum", lambda: MyBatchNormGammaSum(4), batch(117), SUB, ["gamma"]),
    bug("batchnorm-center-only-parent-backward", lambda: CenterOnlyBatchNorm(4), batch(118),
        SUB, ["input"]),
    bug("softmaxce-sum-parent-backward", SumSoftmaxCEParentBackward, batch(119, 6, 3), LOSS_SUB,
        ["input"], y=labels(119)),
    bug("softmaxce-smoothing-parent-backward", SmoothSoftmaxCEParentBackward, batch(120, 6, 3),
        LOSS_SUB, ["input"], y=labels(120)),
    bug("softmaxce-temperature-forgets-T", TemperatureCEForgetsT, batch(121, 6, 3), LOSS_SUB,
        ["input"], y=labels(121)),
    bug("mse-half-parent-backward", HalfMSEParentBackward, batch(122, 6, 2), LOSS_SUB, ["input"],
        y=targets(122, 6, 2)),
    bug("mse-row-sum-over-size", RowSumMSEOverSize, batch(123, 6, 3), LOSS_SUB, ["input"],
        y=targets(123)),
    bug("bce-weighted-parent-backward", WeightedBCEParentBackward, batch(124, 6, 1), LOSS_SUB,
        ["input"], y=bits(124)),
    bug("bce-explicit-forgets-N", ExplicitBCEForgetsN, batch(125, 6, 1), LOSS_SUB, ["input"],
        y=bits(125)),
    bug("softmax-row-loop-unweighted", RowSoftmaxUnweighted, batch(126), LOOP, ["input"]),
    bug("layernorm-N-for-D", lambda: LayerNormDividesByN(4), batch(127), AXIS, ["input"]),
    bug("l2-normalize-no-projection", L2NormalizeNoProjection, batch(128), AXIS, ["input"]),
    bug("linear-column-form-transposed", lambda: ColumnDenseOneTransposeShort(4, 4, seed=44),
        batch(129), AXIS, ["W"]),
    bug("linear-loops-accumulate", lambda: LoopLinearAccumulates(4, 3, seed=45), batch(130),
        LOOP, ["W"]),
    bug("pair-sum-tiled", PairSumTiled, batch(131), AXIS, ["input"]),
    bug("square-features-forgets-2", SquareFeaturesForgetsTwo, batch(132), AXIS, ["input"]),
    bug("cumsum-wrong-direction", CumSumForward, batch(133), AXIS, ["input"]),
    bug("prelu-dalpha-unmasked", lambda: PReLUAlphaNoMask(4), batch(134), AXIS, ["alpha"]),
    bug("scale-shift-dbeta-mean", lambda: ScaleShiftBetaMean(4), batch(135), AXIS, ["beta"]),
    bug("elu-uses-modified-input", ELUUsesModifiedInput, batch(136), INPLACE, ["input"]),
    bug("square-corrupts-cache", SquareCorruptsCache, batch(137), INPLACE, ["input"]),
    bug("dense-relu-dx-before-mask", lambda: DenseReLUMaskAfterDx(4, 3, seed=59), batch(138),
        TUPLE, ["input"]),
    bug("dense-relu-cache-unpacked-backwards", lambda: DenseReLUUnpacksBackwards(4, 4, seed=59),
        batch(139), TUPLE, ["input", "W", "b"]),
    bug("dense-relu-db-unmasked", lambda: DenseReLUBiasUnmasked(4, 3, seed=59), batch(140),
        TUPLE, ["b"]),
    bug("gate-missing-direct-path", lambda: GateMissingDirectPath(4, seed=60), batch(141), TUPLE,
        ["input"]),
    bug("linear-float32-db-wrong-axis", lambda: Float32LinearBiasWrongAxis(4, 5, seed=62),
        batch(142), F32, ["b"]),
    bug("dropout-redraws-in-backward", lambda: DropoutRedrawsInBackward(0.5), batch(143), RANDOM,
        ["input"]),
    bug("noise-own-generator-redraws", lambda: GeneratorNoiseRedraws(seed=68), batch(154),
        RANDOM, ["input"]),
    bug("linear-matmul-into-x", lambda: LinearIntoInput(4, 4, seed=58), batch(155), BUFFER,
        ["W"]),
    bug("tanh-in-place-one-minus-y", InPlaceTanhWrongDerivative, batch(144), INPLACE, ["input"]),
    bug("sigmoid-buffer-forgets-one-minus", BufferSigmoidForgetsOneMinus, batch(145), BUFFER,
        ["input"]),
    bug("mse-params-dict-over-N", MyMSEOverN, batch(146, 6, 3), LOSS, ["input"], y=targets(146)),
    bug("ce-plain-loop-forgets-N", LoopCEForgetsN, batch(147, 6, 3), LOSS, ["input"],
        y=labels(147)),
    bug("ce-plain-params-sign", ShiftCESignFlipped, batch(148, 6, 3), LOSS, ["input"],
        y=labels(148)),
    bug("ce-logsumexp-axis-0", LogSumExpCEWrongAxis, batch(149, 6, 3), LOSS, ["input"],
        y=labels(149)),
    bug("hinge-forgets-correct-class", HingeForgetsCorrectClass, HINGE[0], LOSS, ["input"],
        y=HINGE[1]),
    bug("huber-no-clip", HuberNoClip, HUBER[0], LOSS, ["input"], y=HUBER[1]),
    bug("l1-plain-forgets-size", L1LossForgetsSize, batch(152, 6, 2), LOSS, ["input"],
        y=targets(152, 6, 2)),
    bug("bce-plain-params-sign", MyBCESignFlipped, batch(153, 6, 1), LOSS, ["input"],
        y=bits(153)),
]

CASES = CORRECT + BUGGY


# ---- the reference: the textbook, on plain calls ------------------------------------------

EPS = 1e-6
RIGHT = 1e-7  # a correct tensor's relative error stays below this ...
WRONG = 1e-3  # ... and a wrong one's above this


def numeric_gradient(J, a, eps=EPS):
    """dJ/da by minnet's textbook centered differences; J() reads a, which is moved in place."""
    return mn.numeric_gradient(lambda _: J(), a, eps)


def rel_error(a, n) -> float:
    """‖a - n‖ / (‖a‖ + ‖n‖), 0 when both are 0, 1 when a is missing, of another shape or not
    finite (NaN or inf)."""
    if a is None or np.shape(a) != np.shape(n) or not np.isfinite(a).all():
        return 1.0
    return mn.gradcheck.rel_error(np.asarray(a, dtype=np.float64), n)


def rewinder(layer) -> Callable[[], None]:
    """A function that puts np.random's global state and the layer's own Generators back."""
    saved = np.random.get_state()
    own = [(g, copy.deepcopy(g.bit_generator.state)) for g in vars(layer).values()
           if isinstance(g, np.random.Generator)]

    def rewind():
        np.random.set_state(saved)
        for g, state in own:
            g.bit_generator.state = state
    return rewind


def confirm(case: Case) -> tuple[bool, dict[str, float]]:
    """Is the case's backward right? The relative error of every tensor ("input" and params).

    A layer is scored by J = Σ layer(x) · G for a fixed random G, a loss by its value. Every
    call gets a copy of x (and of G), parameters are checked in float64, and np.random's global
    state and the layer's own Generators are rewound before each forward, so a mask drawn from
    them stays the same. Backward runs
    twice, each time after a forward: the second must give what the first gave.
    """
    layer = case.make()
    params = getattr(layer, "params", {})
    for k in params:
        params[k] = np.array(params[k], dtype=np.float64)
    rewind = rewinder(layer)

    def forward(x):
        rewind()
        if case.is_loss:
            return np.array(layer.forward(x.copy(), case.y.copy()), dtype=np.float64)
        return np.array(layer.forward(x.copy()), dtype=np.float64)  # a reused buffer is copied

    try:
        x = case.x.copy()
        G = None if case.is_loss else np.random.default_rng(0).standard_normal(forward(x).shape)

        def J():
            out = forward(x)
            return float(out) if case.is_loss else float(np.sum(out * G))

        for _ in range(2):
            forward(x)
            dx = layer.backward() if case.is_loss else layer.backward(G.copy())
            analytic = {"input": None if dx is None else np.array(dx, dtype=np.float64)}
            analytic |= {k: np.array(layer.grads[k], dtype=np.float64) if k in layer.grads
                         else None for k in params}
        errors = {"input": rel_error(analytic["input"], numeric_gradient(J, x))}
        errors |= {k: rel_error(analytic[k], numeric_gradient(J, params[k])) for k in params}
    finally:
        rewind()
    return all(e < RIGHT for e in errors.values()), errors


# ---- a case inside a model -----------------------------------------------------------------


def output_width(case: Case) -> int:
    """The width of the layer's output on the case's input (from a fresh instance)."""
    state = np.random.get_state()
    try:
        return case.make().forward(case.x.copy()).shape[1]
    finally:
        np.random.set_state(state)


def model(case: Case, seed: int = 0):
    """(model, X, y, index of the student's layer) with the case inside a small network.

    A layer sits between two Dense layers, Dense(4, d) - layer - Dense(d', 3) - SoftmaxCE (or
    first, on the case's own input, when `case.first`); a loss comes after Dense - Tanh - Dense,
    at index len(model.layers).
    """
    rng = np.random.default_rng(seed)
    n, d = case.x.shape
    if case.is_loss:
        layers = [mn.Dense(4, 5, init="xavier", seed=seed), mn.Tanh(),
                  mn.Dense(5, d, init="xavier", seed=seed + 1)]
        return mn.Model(layers, loss=case.make()), rng.standard_normal((n, 4)), case.y, 3
    last = mn.Dense(output_width(case), 3, init="xavier", seed=seed + 1)
    y = rng.integers(0, 3, n)
    if case.first:
        return mn.Model([case.make(), last], loss=mn.SoftmaxCE()), case.x.copy(), y, 0
    layers = [mn.Dense(4, d, init="xavier", seed=seed), case.make(), last]
    return mn.Model(layers, loss=mn.SoftmaxCE()), rng.standard_normal((n, 4)), y, 1
