"""The second held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the first held-out set was used up:
whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name.
"""

from __future__ import annotations

import numpy as np
from unlisted import (
    ACT,
    ATTN,
    CONV,
    CORRECT,
    DENSE,
    LOSS,
    NOISE,
    NORM,
    POOL,
    SEQ,
    Case,
    SelfAttention,
    dense_net,
    image_net,
    loss_net,
    pad,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    softmax,
    with_params,
    zero_grads,
)
from unlisted import LSTM as LSTM_
from unlisted import RNN as RNN_
from unlisted_heldout import LayerNorm

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class HardSigmoid(mn.Layer):
    """y = clip(x/6 + 1/2, 0, 1), PyTorch's hardsigmoid: slope 1/6 where -3 < x < 3, else 0.

    x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.clip(x / 6 + 0.5, 0, 1)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return ((self.x > -3) & (self.x < 3)) / 6


@same_name
class HardSigmoidA(HardSigmoid):
    def slope(self):
        return ((self.x > 0) & (self.x < 1)) / 6


class ISRU(mn.Layer):
    """Inverse square root unit: y = x / v, v = √(1 + a x²);  by the quotient rule
    dy/dx = (v - x v') / v², v' = a x / v.  x, y: (N, D)."""

    def __init__(self, a=1.0):
        super().__init__()
        self.a = a

    def forward(self, x):
        self.x, self.v = x, np.sqrt(1 + self.a * x**2)
        return x / self.v

    def backward(self, dout):
        return dout * self.quotient(self.a * self.x / self.v)

    def quotient(self, dv):
        return (self.v - self.x * dv) / self.v**2


@same_name
class ISRUA(ISRU):
    def quotient(self, dv):
        return (self.v + self.x * dv) / self.v**2


class RePU(mn.Layer):
    """Rectified power unit: y = max(0, x)^p;  dy/dx = p max(0, x)^(p-1).  x, y: (N, D)."""

    def __init__(self, p=1.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0) ** self.p

    def backward(self, dout):
        return dout * self.p * np.maximum(self.x, 0) ** (self.p - 1)


@same_name
class RePUA(RePU):
    def backward(self, dout):
        return dout * self.p * self.x ** (self.p - 1) * (self.x > 0)


class CReLU(mn.Layer):
    """Concatenated ReLU, both signs kept: y = [max(0, x), max(0, -x)].  x (N, D) -> (N, 2D)."""

    def forward(self, x):
        self.x = x
        return np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=1)

    def backward(self, dout):
        dpos, dneg = np.split(dout, 2, axis=1)
        return dpos * (self.x > 0) - dneg * (self.x < 0)


@same_name
class CReLUA(CReLU):
    def backward(self, dout):
        dpos, dneg = np.split(dout, 2, axis=1)
        return dpos * (self.x > 0) + dneg * (self.x < 0)


# ---- dense-like ------------------------------------------------------------------------------


class Linear(mn.Layer):
    """y = x W + b.  x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dx = dout @ self.params["W"].T
        self.grads["W"], self.grads["b"] = self.x.T @ dout, dout.sum(axis=0)
        return dx


@same_name
class LinearA(Linear):
    lr = 0.1

    def backward(self, dout):
        dx = dout @ self.params["W"].T
        self.grads["W"], self.grads["b"] = self.x.T @ dout, dout.sum(axis=0)
        self.params["W"] -= self.lr * self.grads["W"]  # a from-scratch tutorial's update
        self.params["b"] -= self.lr * self.grads["b"]
        return dx


class EqualLinear(mn.Layer):
    """StyleGAN's equalized learning rate: W drawn at unit scale and multiplied at run time by
    c = √(2 / fan_in).  y = x (c W) + b.  x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        self.c = np.sqrt(2 / d)
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return x @ self.weight() + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.c * self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.weight().T

    def weight(self):
        return self.c * self.params["W"]


@same_name
class EqualLinearA(EqualLinear):
    def weight(self):
        if not hasattr(self, "w_scaled"):  # scaled once, to save a multiplication per call
            self.w_scaled = self.c * self.params["W"]
        return self.w_scaled


class TokenDense(mn.Layer):
    """A linear layer on every position of a sequence, in einsum.

    x (N, T, D), W (D, F), b (F,) -> (N, T, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return np.einsum("ntd,df->ntf", x, self.params["W"]) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.dW(dout)
        self.grads["b"] = np.einsum("ntf->f", dout)
        return np.einsum("ntf,df->ntd", dout, self.params["W"])

    def dW(self, dout):
        return np.einsum("ntd,ntf->df", self.x, dout)


@same_name
class TokenDenseA(TokenDense):
    def dW(self, dout):
        return np.einsum("ntd,nsf->df", self.x, dout)


# ---- normalization ---------------------------------------------------------------------------


class FrozenBatchNorm(mn.Layer):
    """BatchNorm with the statistics of a pretrained network, kept fixed while fine-tuning:
    y = gamma (x - mean) / √(var + eps) + beta, mean and var arrays, not the batch's.

    x (N, D) -> (N, D);  gamma, beta (D,)."""

    def __init__(self, d, eps=1e-5, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.mean, self.var, self.eps = 0.3 * rng.standard_normal(d), rng.uniform(0.5, 2, d), eps
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.std = np.sqrt(self.var + self.eps)
        self.xhat = (x - self.mean) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return self.dx(dout * self.params["gamma"])

    def dx(self, dxhat):
        return dxhat / self.std


@same_name
class FrozenBatchNormA(FrozenBatchNorm):
    def dx(self, dxhat):
        N, xhat = len(dxhat), self.xhat
        return (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * self.std)


@same_name
class LayerNormB(LayerNorm):
    def backward(self, dout):
        super().backward(dout)
        xhat = self.xhat
        return self.params["gamma"] * (dout - dout.mean(axis=-1, keepdims=True)
                                       - xhat * (dout * xhat).mean(axis=-1, keepdims=True)) \
            / self.std


class OffsetRMSNorm(mn.Layer):
    """RMSNorm with its scale stored as an offset from 1 (as Gemma does): y = (1 + g) ⊙ x / r,
    r = √(mean(x²) + eps) over the features.  x (N, D), g (D,) -> (N, D)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"g": np.linspace(-0.4, 0.6, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        self.r = np.sqrt((x**2).mean(axis=1, keepdims=True) + self.eps)
        self.xhat = x / self.r
        return (1 + self.params["g"]) * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        return self.dx(dout * (1 + self.params["g"]))

    def dx(self, dxhat):
        return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r


@same_name
class OffsetRMSNormA(OffsetRMSNorm):
    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        return self.dx(dout * self.params["g"])


# ---- convolution -----------------------------------------------------------------------------


def correlate(a, w):
    """Valid cross-correlation of a (N, C, H, W) with w (F, C, k, k) -> (N, F, H-k+1, W-k+1)."""
    k = w.shape[-1]
    out = np.zeros((len(a), len(w), a.shape[2] - k + 1, a.shape[3] - k + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = np.einsum("nckl,fckl->nf", a[:, :, i:i + k, j:j + k], w)
    return out


class CircularConv(mn.Layer):
    """A k×k cross-correlation with circular padding (np.pad mode="wrap", PyTorch's
    padding_mode="circular"): the image wraps around, each border padding the opposite side.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H, W)."""

    def __init__(self, c, f, k=3, seed=0):
        super().__init__()
        self.p = k // 2
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def forward(self, x):
        p = self.p
        self.x_shape = x.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), mode="wrap")
        return correlate(self.xp, self.params["W"]) + self.params["b"][:, None, None]

    def backward(self, dout):
        W, k = self.params["W"], self.params["W"].shape[-1]
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]
                dW += np.einsum("nf,nckl->fckl", g, self.xp[:, :, i:i + k, j:j + k])
                dxp[:, :, i:i + k, j:j + k] += np.einsum("nf,fckl->nckl", g, W)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return self.unpad(dxp)

    def unpad(self, dxp):
        """Each padded pixel's gradient added back to the pixel it copied."""
        H, W = self.x_shape[2:]
        rows_ = (np.arange(dxp.shape[2]) - self.p) % H
        cols = (np.arange(dxp.shape[3]) - self.p) % W
        dx = np.zeros(self.x_shape)
        np.add.at(dx, (slice(None), slice(None), rows_[:, None], cols[None, :]), dxp)
        return dx


@same_name
class CircularConvA(CircularConv):
    def unpad(self, dxp):
        p = self.p
        return dxp[:, :, p:-p, p:-p]


class ConvLayer(mn.Layer):
    """A k×k convolution (stride 1, no padding) whose backward is two more correlations, as the
    lecture derives them: dW[f, c] = Σ_n x[n, c] ⋆ dout[n, f], and dx = pad(dout, k - 1) ⋆ W
    turned by 180°, its in and out channels swapped.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H - k + 1, W - k + 1)."""

    def __init__(self, c, f, k=3, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def forward(self, x):
        self.x = x
        return correlate(x, self.params["W"]) + self.params["b"][:, None, None]

    def backward(self, dout):
        k = self.params["W"].shape[-1]
        swap = (1, 0, 2, 3)
        self.grads["W"] = correlate(self.x.transpose(swap), dout.transpose(swap)).transpose(swap)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return correlate(pad(dout, k - 1), self.turned())

    def turned(self):
        return self.params["W"][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)


@same_name
class ConvLayerA(ConvLayer):
    def turned(self):
        return self.params["W"][:, :, ::-1, ::-1]


# ---- pooling ---------------------------------------------------------------------------------


class AdaptiveAvgPool(mn.Layer):
    """Average pooling to a fixed output size, as PyTorch's AdaptiveAvgPool2d: output row i
    averages input rows floor(i·H/out) up to ceil((i + 1)·H/out) (excluded), columns alike; the
    windows overlap where out does not divide H.  x (N, C, H, W) -> (N, C, out, out)."""

    def __init__(self, out=2):
        super().__init__()
        self.out = out

    def bounds(self, i, size):
        return i * size // self.out, -(-(i + 1) * size // self.out)

    def windows(self, bounds):
        """(i, j, the window of output (i, j), its number of pixels), windows cut by bounds."""
        H, W = self.x_shape[2:]
        for i in range(self.out):
            for j in range(self.out):
                (r0, r1), (c0, c1) = bounds(i, H), bounds(j, W)
                yield i, j, (..., slice(r0, r1), slice(c0, c1)), (r1 - r0) * (c1 - c0)

    def forward(self, x):
        self.x_shape = x.shape
        y = np.zeros((*x.shape[:2], self.out, self.out))
        for i, j, win, _ in self.windows(self.bounds):
            y[:, :, i, j] = x[win].mean(axis=(2, 3))
        return y

    def backward(self, dout):
        return self.spread(dout, self.bounds)

    def spread(self, dout, bounds):
        """Each output's gradient shared equally by the pixels of its window."""
        dx = np.zeros(self.x_shape)
        for i, j, win, area in self.windows(bounds):
            dx[win] += dout[:, :, i, j, None, None] / area
        return dx


@same_name
class AdaptiveAvgPoolA(AdaptiveAvgPool):
    def backward(self, dout):
        return self.spread(dout, lambda i, size: (i * size // self.out, (i + 1) * size // self.out))


# ---- sampling noise --------------------------------------------------------------------------


class GaussianSample(mn.Layer):
    """A VAE's reparameterization trick: x = [μ, log σ²] in halves, z = μ + σ ε with
    σ = exp(log σ² / 2) and ε ~ N(0, 1) from np.random.randn on every training call.

    x (N, 2D) -> z (N, D)."""

    def forward(self, x):
        D = x.shape[1] // 2
        self.logvar = x[:, D:]
        self.eps = np.random.randn(len(x), D) if self.training else np.zeros((len(x), D))
        return x[:, :D] + np.exp(self.logvar / 2) * self.eps

    def backward(self, dout):
        return np.concatenate([dout, dout * self.eps * self.dsigma()], axis=1)

    def dsigma(self):
        """dσ / d(log σ²) = σ / 2."""
        return np.exp(self.logvar / 2) / 2


@same_name
class GaussianSampleA(GaussianSample):
    def dsigma(self):
        return np.exp(self.logvar) / 2


# ---- losses ----------------------------------------------------------------------------------


class MultiLabelCE(mn.Loss):
    """Softmax cross-entropy against one or more true classes per sample:
    L = -mean_n Σ_c y_nc log p_nc, p = softmax(s);  dL/ds = (p Σ_c y_c - y) / N.

    scores (N, C), y (N, C) of 0/1, at least one 1 per row -> float."""

    def forward(self, scores, y):
        self.p, self.y = softmax(scores), y
        return float(-(y * np.log(self.p)).sum(axis=1).mean())

    def backward(self):
        return (self.p * self.y.sum(axis=1, keepdims=True) - self.y) / len(self.y)


@same_name
class MultiLabelCEA(MultiLabelCE):
    def backward(self):
        return (self.p - self.y) / len(self.y)


def multi_hot(rng, n, classes=3):
    """Targets (n, classes) of 0/1 with at least one 1 in every row."""
    y = rng.integers(0, 2, (n, classes)).astype(float)
    y[np.arange(n), rng.integers(0, classes, n)] = 1
    return y


class PairwiseRank(mn.Loss):
    """RankNet's loss: log(1 + e^(s_j - s_i)) for every pair of the batch with y_i > y_j,
    averaged over the pairs.  scores (N, 1), y (N,) relevance grades -> float."""

    def forward(self, scores, y):
        self.s = scores[:, 0]
        self.i, self.j = np.nonzero(y[:, None] > y[None, :])
        return float(np.logaddexp(0, self.s[self.j] - self.s[self.i]).mean())

    def backward(self):
        g = sigmoid(self.s[self.j] - self.s[self.i]) / len(self.i)
        d = np.zeros_like(self.s)
        np.add.at(d, self.i, -g)
        np.add.at(d, self.j, g)
        return d[:, None]


@same_name
class PairwiseRankA(PairwiseRank):
    def backward(self):
        g = sigmoid(self.s[self.j] - self.s[self.i]) / len(self.i)
        d = np.zeros_like(self.s)
        np.add.at(d, self.i, -g)
        return d[:, None]


def grades(rng, n):
    return rng.integers(0, 3, n)


class RegressionMSE(mn.Loss):
    """Squared error of one output per sample: L = mean_n (s_n - y_n)².

    scores (N, 1), y (N,) real targets -> float;  dL/ds = 2 (s - y) / N."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        return float(np.mean((scores[:, 0] - y) ** 2))

    def backward(self):
        return 2 * (self.s - self.y[:, None]) / len(self.y)


@same_name
class RegressionMSEA(RegressionMSE):
    def forward(self, scores, y):
        self.s, self.y = scores, y
        return float(np.mean((scores - y) ** 2))


def reals(rng, n):
    return rng.standard_normal(n)


# ---- sequences -------------------------------------------------------------------------------


class ElmanRNN(RNN_):
    """The RNN, its backward in two loops: BPTT first, keeping each step's da, then the
    weights' gradients from those."""

    def backward(self, dout):
        dx, dh, das = np.zeros_like(self.x), np.zeros((len(dout), self.hidden)), {}
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.hs[:, t + 1] ** 2)
            dx[:, t], dh, das[t] = da @ self.params["Wx"].T, da @ self.params["Wh"].T, da
        self.dh0 = dh
        zero_grads(self)
        for t, da in das.items():
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
        return dx


@same_name
class ElmanRNNA(ElmanRNN):
    def backward(self, dout):
        dx, dh, das = np.zeros_like(self.x), np.zeros((len(dout), self.hidden)), {}
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.hs[:, t + 1] ** 2)
            dx[:, t], dh, das[t] = da @ self.params["Wx"].T, da @ self.params["Wh"].T, da
        self.dh0 = dh
        zero_grads(self)
        for da in das.values():
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
        return dx


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """CS231n's rnn_step_forward: (next_h, cache)."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, next_h)


def rnn_step_backward(dnext_h, cache, Wx, Wh):
    """CS231n's rnn_step_backward: (dx, dprev_h, dWx, dWh, db)."""
    x, prev_h, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, Wx, Wh, b):
    """h_t for t = 1..T (N, T, H) from h_0 = 0, and the caches of the steps in order."""
    h, hs, caches = np.zeros((len(x), len(b))), [], []
    for t in range(x.shape[1]):
        h, cache = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, axis=1), caches


def last_to_first(caches):
    """(t, cache) pairs from the last step to the first."""
    return zip(reversed(range(len(caches))), reversed(caches))


def rnn_backward(dhs, steps, Wx, Wh):
    """BPTT over `steps`, (t, cache) pairs from the last step to the first, given dL/dh_t
    (N, T, H) from above: (dx, [dWx, dWh, db])."""
    dx = np.zeros((*dhs.shape[:2], len(Wx)))
    grads, dh = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(len(Wh))], np.zeros(dhs[:, 0].shape)
    for t, cache in steps:
        dx[:, t], dh, *step = rnn_step_backward(dhs[:, t] + dh, cache, Wx, Wh)
        for g, s in zip(grads, step):
            g += s
    return dx, grads


class VanillaRNN(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0, one CS231n step at a time, the caches of
    the steps kept in a list.  x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        hs, self.caches = rnn_forward(x, self.params["Wx"], self.params["Wh"], self.params["b"])
        return hs

    def backward(self, dout):
        dx, grads = rnn_backward(dout, self.steps_back(), self.params["Wx"], self.params["Wh"])
        self.grads = dict(zip(("Wx", "Wh", "b"), grads))
        return dx

    def steps_back(self):
        return last_to_first(self.caches)


@same_name
class VanillaRNNA(VanillaRNN):
    def steps_back(self):
        return zip(reversed(range(len(self.caches))), self.caches)


class BiRNN(mn.Layer):
    """Two RNNs, one reading left to right (f), one right to left (b), their states side by side:
    y_t = [h→_t, h←_t].  x (N, T, D) -> (N, T, 2H);  Wx_f, Wx_b (D, H), Wh_f, Wh_b (H, H),
    b_f, b_b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wx_f=(d, h), Wh_f=(h, h), b_f=(h,),
                    Wx_b=(d, h), Wh_b=(h, h), b_b=(h,))

    def weights(self, side):
        return [self.params[f"{k}_{side}"] for k in ("Wx", "Wh", "b")]

    def forward(self, x):
        hf, self.caches_f = rnn_forward(x, *self.weights("f"))
        hb, self.caches_b = rnn_forward(x[:, ::-1], *self.weights("b"))  # in the order it reads
        return np.concatenate([hf, hb[:, ::-1]], axis=-1)

    def backward(self, dout):
        H = dout.shape[-1] // 2
        dx = 0
        for side, d, caches in (("f", dout[..., :H], self.caches_f),
                                ("b", self.reading_order(dout[..., H:]), self.caches_b)):
            dxs, grads = rnn_backward(d, last_to_first(caches), *self.weights(side)[:2])
            dx = dx + (dxs if side == "f" else dxs[:, ::-1])
            self.grads |= {f"{k}_{side}": g for k, g in zip(("Wx", "Wh", "b"), grads)}
        return dx

    def reading_order(self, d):
        """The right-to-left RNN's gradients, in the order it read the steps."""
        return d[:, ::-1]


@same_name
class BiRNNA(BiRNN):
    def reading_order(self, d):
        return d


@same_name
class LSTMA(LSTM_):
    def backward(self, dout):
        dx = super().backward(dout)
        for g in self.grads.values():  # min-char-rnn's clipping, against exploding gradients
            np.clip(g, -5, 5, out=g)
        return dx


# ---- attention and residual blocks -----------------------------------------------------------


class CrossAttention(mn.Layer):
    """Queries from x, keys and values from a fixed memory M (an encoder's output, given when
    built): Q = x Wq, K = M Wk, V = M Wv, y = softmax(Q Kᵀ / √D) V.

    x (N, T, D), M (N, S, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, memory, d, seed=0):
        super().__init__()
        self.memory = memory
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q = x @ self.params["Wq"]
        self.k, self.v = self.memory @ self.params["Wk"], self.memory @ self.params["Wv"]
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.transpose(0, 2, 1) @ self.q
        self.grads["Wq"] = rows(self.x).T @ rows(dq)
        self.grads["Wk"] = rows(self.memory).T @ rows(dk)
        self.grads["Wv"] = rows(self.memory).T @ rows(dv)
        return self.dx(dq, dk, dv)

    def dx(self, dq, dk, dv):
        return dq @ self.params["Wq"].T


@same_name
class CrossAttentionA(CrossAttention):
    def dx(self, dq, dk, dv):
        return sum(d @ self.params[w].T for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)))


class PostNormBlock(mn.Layer):
    """A post-norm residual block, as in the original Transformer: y = LN(x + tanh(x W + b)),
    LN standardizing each position's features, then gamma ẑ + beta.

    x (N, T, D) -> (N, T, D);  W (D, D), b, gamma, beta (D,)."""

    def __init__(self, d, eps=1e-5, seed=0):
        super().__init__()
        self.eps = eps
        with_params(self, seed, W=(d, d), b=(d,))
        self.params |= {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads |= {"gamma": np.zeros(d), "beta": np.zeros(d)}

    def forward(self, x):
        self.x, self.h = x, np.tanh(x @ self.params["W"] + self.params["b"])
        z = x + self.h
        self.std = np.sqrt(z.var(axis=-1, keepdims=True) + self.eps)
        self.zhat = (z - z.mean(axis=-1, keepdims=True)) / self.std
        return self.params["gamma"] * self.zhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.zhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dzhat, zhat = dout * self.params["gamma"], self.zhat
        dz = (dzhat - dzhat.mean(axis=-1, keepdims=True)
              - zhat * (dzhat * zhat).mean(axis=-1, keepdims=True)) / self.std
        da = dz * (1 - self.h**2)
        self.grads["W"], self.grads["b"] = rows(self.x).T @ rows(da), da.sum(axis=(0, 1))
        return self.skip(dout, dz) + da @ self.params["W"].T

    def skip(self, dout, dz):
        """What the skip path x hands back."""
        return dz


@same_name
class PostNormBlockA(PostNormBlock):
    def skip(self, dout, dz):
        return dout


class RotaryAttention(SelfAttention):
    """SelfAttention with rotary position embeddings: before the scores, q and k at step t are
    turned, feature pair (2i, 2i + 1) by feature pair, by the angle t·ω_i, ω_i = 100^(-2i/D)."""

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        q, k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.q, self.k = self.turn(q, 1), self.turn(k, 1)
        self.scores = self.q @ self.k.transpose(0, 2, 1) * self.scale
        self.p = softmax(self.scores)
        return self.p @ self.v

    def turn(self, a, sign):
        """Each feature pair of a (N, T, D) turned by sign · t·ω_i."""
        T, D = a.shape[1:]
        angle = sign * np.arange(T)[:, None] * 100.0 ** (-np.arange(0, D, 2) / D)
        cos, sin, even, odd = np.cos(angle), np.sin(angle), a[..., 0::2], a[..., 1::2]
        out = np.empty_like(a)
        out[..., 0::2], out[..., 1::2] = even * cos - odd * sin, even * sin + odd * cos
        return out

    def scores_back(self, ds):
        dq, dk = super().scores_back(ds)  # the gradients of the turned q and k
        return self.unturn(dq), self.unturn(dk)

    def unturn(self, d):
        """Through a rotation: its transpose, the rotation back."""
        return self.turn(d, -1)


@same_name
class RotaryAttentionA(RotaryAttention):
    def unturn(self, d):
        return self.turn(d, 1)


@same_name
class SelfAttentionA(SelfAttention):
    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        q, k = self.q.astype(np.float32), self.k.astype(np.float32)  # half the memory for S
        self.scores = (q @ k.transpose(0, 2, 1) * self.scale).astype(np.float64)
        self.p = softmax(self.scores)
        return self.p @ self.v


def memory(seed, n=4, s=4, d=4):
    return np.random.default_rng(seed).standard_normal((n, s, d))


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("hardsigmoid", ACT, lambda: dense_net(HardSigmoidA(), seed=201, scale=3.0),
         "the slope's mask uses the clip bounds of the output, 0 < x < 1, as the breakpoints of "
         "x: forward is linear for -3 < x < 3 (x/6 + 1/2 between 0 and 1)",
         "return ((self.x > -3) & (self.x < 3)) / 6"),
    Case("isru", ACT, lambda: dense_net(ISRUA(), seed=202, scale=2.0),
         "the quotient rule is written with a plus, (v + x v')/v², where it is (v - x v')/v²",
         "return (self.v - self.x * dv) / self.v**2"),
    Case("repu", ACT, lambda: dense_net(RePUA(1.5), seed=203, scale=2.0),
         "x ** 0.5 of a negative x is NaN, and NaN times the mask (x > 0) is still NaN: dx is "
         "NaN wherever x < 0; the power must be taken of max(0, x)",
         "return dout * self.p * np.maximum(self.x, 0) ** (self.p - 1)"),
    Case("crelu", ACT, lambda: dense_net(CReLUA(), seed=204),
         "the second half is max(0, -x), whose slope is -1 where x < 0: the minus of the inner "
         "-x is forgotten, so that half's gradient comes back with the wrong sign",
         "return dpos * (self.x > 0) - dneg * (self.x < 0)"),
    Case("self-update", DENSE, lambda: dense_net(LinearA(5, 4, seed=205), seed=205),
         "backward also takes an SGD step, W -= lr·dW and b -= lr·db, as a from-scratch "
         "tutorial's layer does: every backward moves the parameters, so the next forward is "
         "of another function (and training steps twice)",
         "no update in backward: the optimizer steps once, after backward"),
    Case("equalized-lr", DENSE, lambda: dense_net(EqualLinearA(5, 4, seed=206), seed=206),
         "the scaled weight c·W is computed once and kept: forward never reads W again, so W "
         "has no effect on the output (its true gradient is 0) and training cannot change it",
         "return self.c * self.params['W'] (recomputed on every call)"),
    Case("einsum-dense", DENSE, lambda: sequence_net(TokenDenseA(4, 3, seed=207), seed=207),
         "dW's einsum names the time axis t in x and s in dout, so the two are summed "
         "separately: dW = (Σ_t x_t)ᵀ (Σ_s dout_s) per sample instead of Σ_t x_tᵀ dout_t",
         "np.einsum('ntd,ntf->df', self.x, dout)"),
    Case("frozen-batchnorm", NORM, lambda: dense_net(FrozenBatchNormA(5, seed=208), seed=208),
         "forward uses fixed statistics (not the batch's), but backward is the batch-norm "
         "formula, with terms for the batch mean and variance that depend on x: dx is only "
         "gamma·dout/std",
         "return dxhat / self.std"),
    Case("layernorm-gamma", NORM, lambda: sequence_net(LayerNormB(4), seed=209),
         "gamma is factored out of the means over the features, as in batch norm; in a layer "
         "norm gamma varies along that axis, so the means must be of dx̂ = dout·gamma",
         "dxhat = dout * gamma; return (dxhat - dxhat.mean(-1, keepdims=True) - xhat * "
         "(dxhat * xhat).mean(-1, keepdims=True)) / self.std"),
    Case("offset-rmsnorm", NORM, lambda: dense_net(OffsetRMSNormA(5), seed=210),
         "forward scales by 1 + g but backward multiplies dout by g alone (the plain RMSNorm's "
         "line): the offset 1 is missing from dx",
         "return self.dx(dout * (1 + self.params['g']))"),
    Case("circular-conv", CONV, lambda: image_net(CircularConvA(3, 2, seed=211), seed=211),
         "the padding wraps the image around, so the padded border pixels are copies of the "
         "opposite side; backward crops them off as for zero padding instead of adding their "
         "gradient to the pixels they copy",
         "np.add.at(dx, (:, :, (i - p) % H, (j - p) % W), dxp)"),
    Case("circular-conv-correct", CONV,
         lambda: image_net(CircularConv(3, 2, seed=212), seed=212), CORRECT),
    Case("conv-by-correlation", CONV, lambda: image_net(ConvLayerA(3, 3, seed=213),
                                                        size=(5, 5), seed=213),
         "dx's kernel is turned by 180° but its in and out channels are not swapped: dx of "
         "channel c sums W[c, f] where W[f, c] belongs (it runs since C = F)",
         "return self.params['W'][:, :, ::-1, ::-1].transpose(1, 0, 2, 3)"),
    Case("adaptive-avgpool", POOL, lambda: image_net(AdaptiveAvgPoolA(2), size=(5, 5), seed=214),
         "backward recomputes each window's end with floor, (i + 1)·H // out, where forward used "
         "ceil: on 5 pixels the first window is rows 0..1 instead of 0..2, and the divisor "
         "follows",
         "return self.spread(dout, self.bounds)"),
    Case("vae-sample", NOISE, lambda: dense_net(GaussianSampleA(), width=6, seed=215),
         "dσ/d(log σ²) is σ/2 = exp(log σ² / 2)/2; backward writes exp(log σ²)/2, the variance "
         "where the standard deviation belongs",
         "return np.exp(self.logvar / 2) / 2"),
    Case("multi-label-ce", LOSS, lambda: loss_net(MultiLabelCEA(), multi_hot, seed=216, scale=2.0),
         "dL/ds = p - y holds only when the targets of a row sum to 1; with several 1s per row "
         "it is p·Σ_c y_c - y",
         "return (self.p * self.y.sum(axis=1, keepdims=True) - self.y) / len(self.y)"),
    Case("multi-label-ce-correct", LOSS,
         lambda: loss_net(MultiLabelCE(), multi_hot, seed=217, scale=2.0), CORRECT),
    Case("pairwise-rank", LOSS, lambda: loss_net(PairwiseRankA(), grades, width=1, seed=231,
                                                 scale=2.0),
         "each pair's term depends on s_j - s_i, but backward gives it only to i (the item that "
         "should rank higher): the +σ(s_j - s_i)/P for j is missing",
         "np.add.at(d, self.j, g)"),
    Case("regression-mse", LOSS, lambda: loss_net(RegressionMSEA(), reals, width=1, seed=219),
         "forward subtracts y (N,) from scores (N, 1): they broadcast to (N, N), every score "
         "against every target; backward is the elementwise formula",
         "np.mean((scores[:, 0] - y) ** 2)"),
    Case("rnn-two-pass", SEQ, lambda: sequence_net(ElmanRNNA(4, 3, seed=220), seed=220),
         "the second loop iterates over das.values() without t, so self.x[:, t] and "
         "self.hs[:, t] use the t left over from the first loop (0) for every step",
         "for t, da in das.items():"),
    Case("rnn-caches", SEQ, lambda: sequence_net(VanillaRNNA(4, 3, seed=221), seed=221),
         "the time steps run backwards but the list of caches is zipped forwards: step t is "
         "differentiated with the cache of step T - 1 - t",
         "zip(reversed(range(T)), reversed(self.caches))"),
    Case("birnn", SEQ, lambda: sequence_net(BiRNNA(4, 3, seed=222), seed=222),
         "the right-to-left RNN read the steps in reversed order, but backward hands it its half "
         "of dout in the original order, not reversed to match",
         "return d[:, ::-1]"),
    Case("birnn-correct", SEQ, lambda: sequence_net(BiRNN(4, 3, seed=223), seed=223), CORRECT),
    Case("lstm-clip", SEQ, lambda: (
        "layer", LSTMA(3, 4, seed=224),
        3 * np.random.default_rng(224).standard_normal((20, 6, 3)), None),
         "backward clips every parameter gradient to [-5, 5], as min-char-rnn does before its "
         "update: entries beyond 5 are no longer the gradient",
         "no clipping in backward (clip the norm in the optimizer step: fit(clip_norm=...))"),
    Case("cross-attention", ATTN, lambda: sequence_net(CrossAttentionA(memory(225), 4, seed=225),
                                                       seed=225),
         "keys and values come from the fixed memory, not from x, but dx adds their paths dK "
         "Wkᵀ and dV Wvᵀ as self-attention's backward does: dx is dQ Wqᵀ alone",
         "return dq @ self.params['Wq'].T"),
    Case("post-norm", ATTN, lambda: sequence_net(PostNormBlockA(4, seed=226), seed=226),
         "the skip path x enters the layer norm too (y = LN(x + f(x))), so it gets dz, the "
         "gradient after LN's backward; backward gives it the block's dout, as a pre-norm "
         "block would",
         "return self.skip(...) with dz: dx = dz + da @ W.T"),
    Case("rotary", ATTN, lambda: sequence_net(RotaryAttentionA(4, seed=227), seed=227),
         "backward turns dq and dk by the same angles as forward; through a rotation the "
         "gradient must be turned back, by minus the angles (the transpose)",
         "return self.turn(d, -1)"),
    Case("rotary-correct", ATTN, lambda: sequence_net(RotaryAttention(4, seed=228), seed=228),
         CORRECT),
    Case("attention-float32", ATTN, lambda: sequence_net(SelfAttentionA(4, seed=229), seed=229),
         "forward computes the scores in float32: the output keeps 7 digits, so J(θ ± ε) differ "
         "by round-off rather than by the slope; backward is the float64 formula",
         "compute the scores in float64 (no astype(np.float32))"),
]

MISSED: set[str] = set()
"""The cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
