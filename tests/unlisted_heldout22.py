"""The twenty-second held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. About half the mistakes are in the mathematics
(a rule of calculus misapplied, a term or factor of the chain rule, the point or the quantity
that is differentiated, a parameter or an input that reaches the output along two paths) and
half in the code's structure (numpy's conventions and defaults, views, Python's lists,
properties and identity); in three of them forward computes something other than what
backward differentiates (a stale statistic, a maximum with a floor, a mask on the wrong
entries).
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np
from unlisted import (
    ACT,
    ATTN,
    CONV,
    CORRECT,
    DENSE,
    LOSS,
    NORM,
    POOL,
    SEQ,
    Case,
    dense_net,
    image_net,
    labels,
    loss_net,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    signs,
    softmax,
    with_params,
    zero_grads,
)

import minnet as mn

erf = np.vectorize(math.erf, otypes=[float])

# ---- activations -----------------------------------------------------------------------------


class CubicActivation(mn.Layer):
    """A learned cubic, the polynomial activation of networks that must run on encrypted data
    (where only sums and products exist): y = c0 + c1 x + c2 x² + c3 x³, one set of
    coefficients for every entry, kept lowest degree first, c = [c0, c1, c2, c3], as
    numpy.polynomial's polyval takes them.  The slope is the polynomial with the coefficients
    [c1, 2 c2, 3 c3], in the same order; dc_k = Σ dout x^k.  x, y: (N, D);  c (4,)."""

    def __init__(self):
        super().__init__()
        self.params = {"c": np.array([0.1, 0.9, 0.25, -0.08])}
        self.grads = {"c": np.zeros(4)}

    def forward(self, x):
        self.x = x
        return np.polynomial.polynomial.polyval(x, self.params["c"])

    def backward(self, dout):
        c = self.params["c"]
        self.grads["c"] = np.array([(dout * self.x**k).sum() for k in range(4)])
        return dout * self.slope(c[1:] * np.arange(1, 4))

    def slope(self, dc):
        """The derivative at x, from its coefficients dc (lowest degree first)."""
        return np.polynomial.polynomial.polyval(self.x, dc)


@same_name
class CubicActivationA(CubicActivation):
    def slope(self, dc):
        return np.polyval(dc, self.x)


class ClampedPReLU(mn.Layer):
    """PReLU whose learned slopes are clamped into [0, 1] where they are used, so that the
    layer stays monotone and 1-Lipschitz whatever the optimizer does to them:
    y = x where x > 0, ā_d x elsewhere, with ā = clip(a, 0, 1).  Where a_d lies outside
    [0, 1] the clamp holds ā_d still, so dā/da is 1 inside and 0 outside:
    da_d = [0 < a_d < 1] Σ_{x <= 0} dout x.  x, y: (N, D);  a (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a": np.linspace(-0.3, 1.3, d)}
        self.grads = {"a": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, np.clip(self.params["a"], 0, 1) * x)

    def backward(self, dout):
        a = self.params["a"]
        neg = self.x <= 0
        inside = (a > 0) & (a < 1)
        self.grads["a"] = (dout * self.x * neg).sum(axis=0) * inside
        return dout * np.where(neg, np.clip(a, 0, 1), 1.0)


@same_name
class ClampedPReLUA(ClampedPReLU):
    def backward(self, dout):
        a = np.clip(self.params["a"], 0, 1)
        neg = self.x <= 0
        self.grads["a"] = (dout * self.x * neg).sum(axis=0)
        return dout * np.where(neg, a, 1.0)


class SegmentSlopes(mn.Layer):
    """A piecewise-linear activation given by its slopes: the knots t = (-1, 0, 1) cut the line
    into four segments, numbered 0 to 3 from the left, segment k has the learned slope s_k,
    y(0) = 0 and y is continuous: y = s0 min(x + 1, 0) + s1 clip(x, -1, 0) + s2 clip(x, 0, 1)
    + s3 max(x - 1, 0).  The slope at x is s[k(x)], k(x) the number of knots at or below x,
    which is what np.digitize(x, t) returns (0 left of -1, 3 right of 1); ds_k is Σ dout times
    the k-th term.  x, y: (N, D);  s (4,)."""

    knots = np.array([-1.0, 0.0, 1.0])

    def __init__(self):
        super().__init__()
        self.params = {"s": np.array([0.05, 0.4, 1.0, 1.6])}
        self.grads = {"s": np.zeros(4)}

    @staticmethod
    def pieces(x):
        """(4, N, D): the four terms that the slopes multiply."""
        return np.stack([np.minimum(x + 1, 0), np.clip(x, -1, 0), np.clip(x, 0, 1),
                         np.maximum(x - 1, 0)])

    def forward(self, x):
        self.x = x
        return np.einsum("k,knd->nd", self.params["s"], self.pieces(x))

    def backward(self, dout):
        self.grads["s"] = np.einsum("nd,knd->k", dout, self.pieces(self.x))
        return dout * self.params["s"][self.segment()]

    def segment(self):
        """k(x), the segment of every entry."""
        return np.digitize(self.x, self.knots)


@same_name
class SegmentSlopesA(SegmentSlopes):
    def segment(self):
        return np.digitize(self.x, self.knots) - 1


class GaussianRamp(mn.Layer):
    """The integral of a Gaussian bump of learned width s_d per feature, a smooth saturating
    ramp: y = ∫_0^x φ(t) dt with φ(t) = exp(-t²/(2s²)), that is s √(π/2) erf(x/(s√2)).  By the
    fundamental theorem dy/dx = φ(x); s sits inside the integrand, so dy/ds is the integral of
    ∂φ/∂s = (t²/s³) φ(t) from 0 to x, which by parts is (y - x φ(x))/s.
    x, y: (N, D);  s (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"s": np.linspace(0.6, 1.5, d)}
        self.grads = {"s": np.zeros(d)}

    def forward(self, x):
        s = self.params["s"]
        self.x = x
        self.bump = np.exp(-x**2 / (2 * s**2))
        self.y = s * np.sqrt(np.pi / 2) * erf(x / (s * np.sqrt(2)))
        return self.y

    def backward(self, dout):
        self.grads["s"] = (dout * self.width_slope()).sum(axis=0)
        return dout * self.bump

    def width_slope(self):
        """dy/ds."""
        return (self.y - self.x * self.bump) / self.params["s"]


@same_name
class GaussianRampA(GaussianRamp):
    def width_slope(self):
        return self.x**2 / self.params["s"] ** 3 * self.bump


# ---- dense-like ------------------------------------------------------------------------------


class ChunkedTanhDense(mn.Layer):
    """y = tanh(x W + b) computed in micro-batches of 2 samples, to bound the memory one
    product takes (as for a very wide layer): forward keeps one cache per chunk, (its first
    row, its input, its output), and backward adds up the chunks' dW and db and writes each
    chunk's dx into its rows.  x (N, D) -> (N, F);  W (D, F), b (F,)."""

    chunk = 2

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.n = len(x)
        self.caches = []
        for s in range(0, len(x), self.chunk):
            xs = x[s:s + self.chunk]
            self.caches.append((s, xs, np.tanh(xs @ self.params["W"] + self.params["b"])))
        return np.concatenate([ys for _, _, ys in self.caches])

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros((self.n, self.params["W"].shape[0]))
        for s, xs, ys in self.caches:
            dz = dout[s:s + self.chunk] * (1 - ys**2)
            self.grads["W"] += xs.T @ dz
            self.grads["b"] += dz.sum(axis=0)
            dx[s:s + self.chunk] = dz @ self.params["W"].T
        return dx


@same_name
class ChunkedTanhDenseA(ChunkedTanhDense):
    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros((self.n, self.params["W"].shape[0]))
        for cache in self.caches:
            s, xs, ys = cache
            dz = dout[s:s + self.chunk] * (1 - ys**2)
            self.grads["W"] += xs.T @ dz
            self.grads["b"] += dz.sum(axis=0)
            dx[s:s + self.chunk] = dz @ self.params["W"].T
            self.caches.remove(cache)  # free the chunk's memory as soon as it is used
        return dx


class SoftTree(mn.Layer):
    """A soft decision tree of depth 2 (Frosst and Hinton): three inner nodes, each a sigmoid
    gate p_i = σ(x w_i + c_i), the probability of going left, the root 0 with its children 1
    (left) and 2 (right), and four leaves with learned outputs θ_l.  A leaf's probability is
    the product of the gates on its path, μ = (p0 p1, p0 (1 - p1), (1 - p0) p2,
    (1 - p0)(1 - p2)), and y = Σ_l μ_l θ_l.  Back through the products the root gets
    dμ0 p1 + dμ1 (1 - p1) - dμ2 p2 - dμ3 (1 - p2), and each child the difference of its two
    leaves' gradients times the probability of reaching it, p0 (dμ0 - dμ1) and
    (1 - p0)(dμ2 - dμ3).  x (N, D) -> (N, F);  Wg (D, 3), bg (3,), theta (4, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, Wg=(d, 3), bg=(3,), theta=(4, f))

    def forward(self, x):
        self.x = x
        self.p = sigmoid(x @ self.params["Wg"] + self.params["bg"])
        p0, p1, p2 = self.p.T
        self.mu = np.stack([p0 * p1, p0 * (1 - p1), (1 - p0) * p2, (1 - p0) * (1 - p2)], axis=1)
        return self.mu @ self.params["theta"]

    def backward(self, dout):
        self.grads["theta"] = self.mu.T @ dout
        da = self.gates_back(dout @ self.params["theta"].T) * self.p * (1 - self.p)
        self.grads["Wg"] = self.x.T @ da
        self.grads["bg"] = da.sum(axis=0)
        return da @ self.params["Wg"].T

    def gates_back(self, dmu):
        """dL/dp (N, 3) from dL/dμ (N, 4)."""
        p0, p1, p2 = self.p.T
        d0, d1, d2, d3 = dmu.T
        return np.stack([d0 * p1 + d1 * (1 - p1) - d2 * p2 - d3 * (1 - p2),
                         p0 * (d0 - d1), (1 - p0) * (d2 - d3)], axis=1)


@same_name
class SoftTreeA(SoftTree):
    def gates_back(self, dmu):
        p1, p2 = self.p[:, 1], self.p[:, 2]
        d0, d1, d2, d3 = dmu.T
        return np.stack([d0 * p1 + d1 * (1 - p1) - d2 * p2 - d3 * (1 - p2),
                         d0 - d1, d2 - d3], axis=1)


class LocalReparamDense(mn.Layer):
    """A Bayesian linear layer sampled with the local reparameterization trick (Kingma et al.
    2015): every weight is Gaussian with mean M and variance exp(logvar), so each output is
    Gaussian with mean m = x M + b and variance v = x² exp(logvar), and forward draws the
    output itself, y = m + √v ⊙ ε, ε from np.random.standard_normal.  With dv = dout ε/(2√v),
    dlogvar = (x²)ᵀ dv ⊙ exp(logvar), and x reaches y along the mean and along the spread:
    dx = dout Mᵀ + 2x ⊙ (dv exp(logvar)ᵀ).  x (N, D) -> (N, F);  M, logvar (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, M=(d, f), logvar=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        self.sd = np.sqrt(x**2 @ np.exp(self.params["logvar"]))
        self.eps = np.random.standard_normal(self.sd.shape)
        return x @ self.params["M"] + self.params["b"] + self.sd * self.eps

    def backward(self, dout):
        var = np.exp(self.params["logvar"])
        dv = dout * self.eps / (2 * self.sd)
        self.grads["M"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        self.grads["logvar"] = (self.x**2).T @ dv * var
        return dout @ self.params["M"].T + 2 * self.x * (dv @ var.T)


@same_name
class LocalReparamDenseA(LocalReparamDense):
    def backward(self, dout):
        var = np.exp(self.params["logvar"])
        dv = dout * self.eps / (2 * self.sd)
        self.grads["M"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        self.grads["logvar"] = (self.x**2).T @ dv * var
        return dout @ self.params["M"].T


# ---- normalization ---------------------------------------------------------------------------


class BatchRMSNorm(mn.Layer):
    """Batch normalization without centering: each feature divided by its root mean square
    over the batch, r_d = √(mean_n x_nd² + eps), then gamma x̂ + beta.  r is a property of the
    cached input, computed where it is read; dx = (dx̂ - x̂ mean_n(dx̂ ⊙ x̂))/r.
    x (N, D) -> (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(0.2, -0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    @property
    def r(self):
        return np.sqrt((self.x**2).mean(axis=0) + self.eps)

    def forward(self, x):
        self.x = x
        self.xhat = x / self.r
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        d = dout * self.params["gamma"]
        return (d - self.xhat * (d * self.xhat).mean(axis=0)) / self.r


@same_name
class BatchRMSNormA(BatchRMSNorm):
    @cached_property
    def r(self):
        return np.sqrt((self.x**2).mean(axis=0) + self.eps)


class EvoNormS0(mn.Layer):
    """EvoNorm-S0 (Liu et al. 2020), a normalization and an activation in one, with no batch
    statistics: y = gamma x σ(v x)/r + beta, where r is the standard deviation of x over each
    sample's group of C/G channels and their pixels (G = 2), r = √(var_g(x) + eps).  The
    numerator u = x σ(v x) is a swish with a learned slope per channel; the denominator is a
    statistic of x itself, so besides du (σ + v x σ(1 - σ)) dx gets dr (x - μ_g)/(M r), with
    dr = -Σ_g dout gamma u/r² and M the group's size.  x (N, C, H, W);  v, gamma, beta (C,)."""

    groups, eps = 2, 1e-5

    def __init__(self, c):
        super().__init__()
        self.params = {"v": np.linspace(0.5, 1.5, c), "gamma": np.linspace(0.8, 1.2, c),
                       "beta": np.linspace(-0.1, 0.1, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    def grouped(self, a):
        """(N, G, C/G·H·W): each sample's groups as rows."""
        return a.reshape(len(a), self.groups, -1)

    def forward(self, x):
        v, g, b = (self.params[k][:, None, None] for k in ("v", "gamma", "beta"))
        self.x = x
        self.s = sigmoid(v * x)
        self.u = x * self.s
        xg = self.grouped(x)
        self.mu = xg.mean(axis=2, keepdims=True)
        self.r = np.sqrt(xg.var(axis=2, keepdims=True) + self.eps)  # (N, G, 1)
        self.rr = np.broadcast_to(self.r, xg.shape).reshape(x.shape)
        return g * self.u / self.rr + b

    def backward(self, dout):
        v, g = (self.params[k][:, None, None] for k in ("v", "gamma"))
        self.grads["gamma"] = (dout * self.u / self.rr).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        du = dout * g / self.rr
        self.grads["v"] = (du * self.x**2 * self.s * (1 - self.s)).sum(axis=(0, 2, 3))
        dr = -self.grouped(dout * g * self.u).sum(axis=2, keepdims=True) / self.r**2
        return du * (self.s + v * self.x * self.s * (1 - self.s)) + self.through_std(dr)

    def through_std(self, dr):
        """dr's share of dx: dr (x - μ_g)/(M r), in the shape of x."""
        xg = self.grouped(self.x)
        return (dr * (xg - self.mu) / (xg.shape[2] * self.r)).reshape(self.x.shape)


@same_name
class EvoNormS0A(EvoNormS0):
    def through_std(self, dr):
        ug = self.grouped(self.u)
        centred = ug - ug.mean(axis=2, keepdims=True)
        return (dr * centred / (ug.shape[2] * self.r)).reshape(self.x.shape)


class MaskedCMVN(mn.Layer):
    """Per-utterance mean and variance normalization (CMVN) of padded sequences: sequence n
    holds lengths[n] real steps, then padding; each feature of each sequence is standardized
    with the mean and the variance of its real steps only, y = gamma (x - μ_nd)/σ_nd + beta,
    and the padded steps put out 0.  Backward is the standardization's, its two means taken
    over the real steps, dx = (dx̂ - mean_real dx̂ - x̂ mean_real(dx̂ ⊙ x̂))/σ, and 0 at the
    padding; the means come from numpy's masked arrays, whose mask marks the entries to
    leave out.  x (N, T, D) -> (N, T, D);  gamma, beta (D,); lengths fixed when built."""

    eps = 1e-5

    def __init__(self, d, lengths):
        super().__init__()
        self.lengths = np.asarray(lengths)
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.real = (np.arange(x.shape[1]) < self.lengths[:, None])[..., None]  # (N, T, 1)
        count = self.lengths[:, None, None]
        mu = (x * self.real).sum(axis=1, keepdims=True) / count
        var = (((x - mu) * self.real) ** 2).sum(axis=1, keepdims=True) / count
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        return self.real * (self.params["gamma"] * self.xhat + self.params["beta"])

    def backward(self, dout):
        d = dout * self.real
        self.grads["gamma"] = (d * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = d.sum(axis=(0, 1))
        dxhat = d * self.params["gamma"]
        dx = dxhat - self.real_mean(dxhat) - self.xhat * self.real_mean(dxhat * self.xhat)
        return self.real * dx / self.std

    def real_mean(self, a):
        """The mean of a (N, T, D) over each sequence's real steps, (N, 1, D)."""
        leave_out = np.broadcast_to(~self.real, a.shape)
        return np.ma.masked_array(a, mask=leave_out).mean(axis=1, keepdims=True).filled(0.0)


@same_name
class MaskedCMVNA(MaskedCMVN):
    def real_mean(self, a):
        keep = np.broadcast_to(self.real, a.shape)
        return np.ma.masked_array(a, mask=keep).mean(axis=1, keepdims=True).filled(0.0)


# ---- convolution and pooling -----------------------------------------------------------------


class TrimmedChannelPool(mn.Layer):
    """Cross-channel pooling by a trimmed mean, a robust cousin of maxout: the channels are
    taken in groups of 4, and at every pixel the group's largest and smallest values are
    dropped and the middle two averaged.  Forward sorts each group; backward finds the two
    middle channels of every group again from the cached input (np.argsort) and gives each
    half of dout.  x (N, C, H, W) -> (N, C/4, H, W)."""

    k = 4

    def groups(self, x):
        N, C, H, W = x.shape
        return x.reshape(N, C // self.k, self.k, H, W)

    def forward(self, x):
        self.x = x
        ranked = np.sort(self.groups(x), axis=2)
        return ranked[:, :, 1:3].mean(axis=2)

    def backward(self, dout):
        middle = np.argsort(self.groups(self.x), axis=2)[:, :, 1:3]
        dg = np.zeros(self.groups(self.x).shape)
        np.put_along_axis(dg, middle, dout[:, :, None] / 2, axis=2)
        return dg.reshape(self.x.shape)


@same_name
class TrimmedChannelPoolA(TrimmedChannelPool):
    def forward(self, x):
        self.x = x
        ranked = self.groups(x)
        ranked.sort(axis=2)  # in place: no copy of the groups
        return ranked[:, :, 1:3].mean(axis=2)


class BilinearShift(mn.Layer):
    """A learned sub-pixel translation of each channel, the sampler of a spatial transformer
    restricted to shifts: channel c is read at (i + a_c, j + b_c), 0 < a, b < 1, by bilinear
    interpolation between the four neighbours, zeros past the bottom and the right edge:
    y = (1-a)(1-b) x[i, j] + (1-a) b x[i, j+1] + a (1-b) x[i+1, j] + a b x[i+1, j+1].
    dy/db is the step across the column on both rows, mixed with the rows' weights,
    (1-a)(x[i, j+1] - x[i, j]) + a (x[i+1, j+1] - x[i+1, j]), and dy/da alike with rows and
    columns exchanged; dx shifts each weighted dout back.  x (N, C, H, W);  a, b (C,)."""

    taps = ((0, 0), (0, 1), (1, 0), (1, 1))

    def __init__(self, c):
        super().__init__()
        self.params = {"a": np.linspace(0.2, 0.7, c), "b": np.linspace(0.65, 0.3, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    @staticmethod
    def shift(x, di, dj):
        """x[..., i + di, j + dj], zeros past the edges."""
        out = np.zeros_like(x)
        H, W = x.shape[2:]
        out[:, :, :H - di, :W - dj] = x[:, :, di:, dj:]
        return out

    @staticmethod
    def unshift(g, di, dj):
        """The adjoint of shift: g moved back by (di, dj)."""
        out = np.zeros_like(g)
        H, W = g.shape[2:]
        out[:, :, di:, dj:] = g[:, :, :H - di, :W - dj]
        return out

    def weights(self):
        a, b = (self.params[k][:, None, None] for k in ("a", "b"))
        return {(0, 0): (1 - a) * (1 - b), (0, 1): (1 - a) * b, (1, 0): a * (1 - b),
                (1, 1): a * b}

    def forward(self, x):
        self.n = {k: self.shift(x, *k) for k in self.taps}
        w = self.weights()
        return sum(w[k] * self.n[k] for k in self.taps)

    def backward(self, dout):
        w = self.weights()
        self.grads["a"] = (dout * self.row_slope()).sum(axis=(0, 2, 3))
        self.grads["b"] = (dout * self.column_slope()).sum(axis=(0, 2, 3))
        return sum(self.unshift(w[k] * dout, *k) for k in self.taps)

    def row_slope(self):
        """dy/da."""
        b, n = self.params["b"][:, None, None], self.n
        return (1 - b) * (n[1, 0] - n[0, 0]) + b * (n[1, 1] - n[0, 1])

    def column_slope(self):
        """dy/db."""
        a, n = self.params["a"][:, None, None], self.n
        return (1 - a) * (n[0, 1] - n[0, 0]) + a * (n[1, 1] - n[1, 0])


@same_name
class BilinearShiftA(BilinearShift):
    def column_slope(self):
        return self.n[0, 1] - self.n[0, 0]


class NearestResize(mn.Layer):
    """Nearest-neighbour resizing of every image to 3 × 3, corners aligned: output row i
    reads the input row nearest to p_i = i (H - 1)/2, rounding halves up, ⌊p + 1/2⌋ (on 6
    rows, p = 0, 2.5, 5 reads rows 0, 3, 5), and the columns alike.  Backward puts each
    output's gradient back on the pixel it read.  x (N, C, H, W) -> (N, C, 3, 3)."""

    out = 3

    def nearest(self, n):
        """The input rows (or columns) that the outputs read."""
        return np.floor(np.arange(self.out) * (n - 1) / (self.out - 1) + 0.5).astype(int)

    def forward(self, x):
        self.shape = x.shape
        rows, cols = (self.nearest(n) for n in x.shape[2:])
        return x[:, :, rows[:, None], cols[None, :]]

    def backward(self, dout):
        rows, cols = (self.nearest(n) for n in self.shape[2:])
        dx = np.zeros(self.shape)
        dx[:, :, rows[:, None], cols[None, :]] = dout
        return dx


@same_name
class NearestResizeA(NearestResize):
    def backward(self, dout):
        rows, cols = (np.round(np.arange(self.out) * (n - 1) / (self.out - 1)).astype(int)
                      for n in self.shape[2:])
        dx = np.zeros(self.shape)
        dx[:, :, rows[:, None], cols[None, :]] = dout
        return dx


# ---- losses ----------------------------------------------------------------------------------


class GE2ELoss(mn.Loss):
    """The generalized end-to-end loss of speaker verification (Wan et al. 2018), softmax
    form, with dot products for the similarity: the batch holds several utterances of each
    speaker, and utterance i is scored against every speaker's centroid, S_ik = e_i · c_ik;
    the centroid of its own speaker leaves it out (the mean of that speaker's other
    utterances), the others are the plain means.  L = mean_i (log Σ_k exp S_ik - S_{i, y_i}).
    With c_ik = Σ_m A[i, k, m] e_m, dL/de_m collects Σ_k dS_mk c_mk and, from every score whose
    centroid it is in, Σ_{i, k} dS_ik A[i, k, m] e_i.
    scores (N, D) embeddings, y (N,) speakers -> float."""

    @staticmethod
    def centroid_weights(y):
        """A (N, K, N): c_ik = Σ_m A[i, k, m] e_m, utterance i left out of its own speaker's."""
        N = len(y)
        member = (y[None, :] == np.arange(y.max() + 1)[:, None]).astype(float)  # (K, N)
        A = np.repeat(member[None], N, axis=0)
        A[np.arange(N), y, np.arange(N)] = 0
        return A / A.sum(axis=2, keepdims=True)

    def forward(self, scores, y):
        self.e, self.y = scores, y
        self.A = self.centroid_weights(y)
        self.c = np.einsum("ikm,md->ikd", self.A, scores)
        s = np.einsum("id,ikd->ik", scores, self.c)
        self.p = softmax(s)
        lse = np.log(np.exp(s - s.max(axis=1, keepdims=True)).sum(axis=1)) + s.max(axis=1)
        return float((lse - s[np.arange(len(y)), y]).mean())

    def backward(self):
        N = len(self.y)
        ds = (self.p - np.eye(self.p.shape[1])[self.y]) / N
        direct = np.einsum("ik,ikd->id", ds, self.c)
        return direct + np.einsum("ik,ikm,id->md", ds, self.centroids_back(), self.e)

    def centroids_back(self):
        """dc_ik/de_m, the weights A of forward's centroids."""
        return self.A


@same_name
class GE2ELossA(GE2ELoss):
    def centroids_back(self):
        member = (self.y[None, :] == np.arange(self.y.max() + 1)[:, None]).astype(float)
        means = member / member.sum(axis=1, keepdims=True)  # (K, N): the speakers' means
        return np.broadcast_to(means, (len(self.y), *means.shape))


def speakers(rng, n):
    """n utterances of 3 speakers, the same number each, in a random order."""
    return rng.permutation(np.arange(n) % 3)


class DirichletEvidence(mn.Loss):
    """Evidential classification (Sensoy et al. 2018): the scores give non-negative evidence
    softplus(s), the Dirichlet's concentrations are α = softplus(s) + 1 with S = Σ_k α_k, and
    the loss is minus the log of the expected probability of the label, α_y/S:
    L = mean_n (log S_n - log α_{n, y_n}).  S is a sum over every class, so
    dL/dα_k = (1/S - [k = y]/α_y)/N for every k, and dα/ds = σ(s).
    scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.alpha = np.logaddexp(0, scores) + 1
        self.S = self.alpha.sum(axis=1)
        return float((np.log(self.S) - np.log(self.alpha[np.arange(len(y)), y])).mean())

    def backward(self):
        onehot = np.eye(self.alpha.shape[1])[self.y]
        dalpha = 1 / self.S[:, None] - onehot / self.alpha
        return dalpha * sigmoid(self.s) / len(self.y)


@same_name
class DirichletEvidenceA(DirichletEvidence):
    def backward(self):
        onehot = np.eye(self.alpha.shape[1])[self.y]
        dalpha = onehot * (1 / self.S[:, None] - 1 / self.alpha)
        return dalpha * sigmoid(self.s) / len(self.y)


class CosineEmbedding(mn.Loss):
    """torch's CosineEmbeddingLoss on pairs of embeddings: each row of the scores holds two
    vectors, a = s[:, :D] and b = s[:, D:], and y = +1 marks a similar pair, -1 a dissimilar
    one; with c = cos(a, b), L_n = 1 - c if similar and max(0, c - m) if not (m = 0.2), L the
    mean.  dc/da = b/(|a||b|) - c a/|a|², dc/db alike; backward goes over the pairs and gives
    each its slope dL_n/dc: -1 if similar, +1 if dissimilar with c > m, else 0.
    scores (N, 2D), y (N,) of ±1 -> float."""

    margin = 0.2

    def forward(self, scores, y):
        D = scores.shape[1] // 2
        self.a, self.b = scores[:, :D], scores[:, D:]
        self.similar = y == 1
        self.na, self.nb = np.linalg.norm(self.a, axis=1), np.linalg.norm(self.b, axis=1)
        self.c = (self.a * self.b).sum(axis=1) / (self.na * self.nb)
        loss = np.where(self.similar, 1 - self.c, np.maximum(0, self.c - self.margin))
        return float(loss.mean())

    def backward(self):
        g = self.slopes()[:, None] / len(self.c)
        na, nb, c = self.na[:, None], self.nb[:, None], self.c[:, None]
        da = g * (self.b / (na * nb) - c * self.a / na**2)
        db = g * (self.a / (na * nb) - c * self.b / nb**2)
        return np.concatenate([da, db], axis=1)

    def slopes(self):
        """dL_n/dc_n for every pair."""
        g = np.zeros(len(self.c))
        for n in range(len(g)):
            if self.similar[n]:
                g[n] = -1.0
            elif self.c[n] > self.margin:
                g[n] = 1.0
        return g


@same_name
class CosineEmbeddingA(CosineEmbedding):
    def slopes(self):
        g = np.zeros(len(self.c))
        for n in range(len(g)):
            if self.similar[n] is True:
                g[n] = -1.0
            elif self.c[n] > self.margin:
                g[n] = 1.0
        return g


# ---- sequences -------------------------------------------------------------------------------


class MaskedMaxPool(mn.Layer):
    """Max pooling over time of padded sequences: sequence n has lengths[n] real steps, and each
    feature puts out its largest value over those steps, y_nd = max_{t < L_n} x_ntd, computed
    with np.max's where= (numpy then asks for initial=, a value that takes part in every
    maximum, -inf here).  Backward sends dout to the real step that holds the maximum.
    x (N, T, D) -> (N, D); the lengths are fixed when built."""

    def __init__(self, lengths):
        super().__init__()
        self.lengths = np.asarray(lengths)

    def forward(self, x):
        self.x = x
        self.real = (np.arange(x.shape[1]) < self.lengths[:, None])[..., None]
        return np.max(x, axis=1, where=self.real, initial=-np.inf)

    def backward(self, dout):
        top = np.where(self.real, self.x, -np.inf).argmax(axis=1)  # (N, D)
        dx = np.zeros_like(self.x)
        np.put_along_axis(dx, top[:, None, :], dout[:, None, :], axis=1)
        return dx


@same_name
class MaskedMaxPoolA(MaskedMaxPool):
    def forward(self, x):
        self.x = x
        self.real = (np.arange(x.shape[1]) < self.lengths[:, None])[..., None]
        return np.max(x, axis=1, where=self.real, initial=0.0)


class TimeStretch(mn.Layer):
    """Playback at a learned speed s: output step t reads the input at p_t = s t by linear
    interpolation between its two neighbouring steps, and past the last step the sequence is
    silent (x_T = 0): y_t = (1 - f) x_k + f x_{k+1}, k = ⌊p_t⌋, f = p_t - k.  So y = R x with
    R (T, T) the interpolation matrix, backward applies Rᵀ, and
    ds = Σ_t t dout_t · (x_{k+1} - x_k).  x (N, T, D) -> (N, T, D);  s (1,)."""

    def __init__(self, speed=1.3):
        super().__init__()
        self.params = {"s": np.array([speed])}
        self.grads = {"s": np.zeros(1)}

    def positions(self, T):
        p = self.params["s"][0] * np.arange(T)
        return p, np.floor(p).astype(int)

    def forward(self, x):
        N, T, D = x.shape
        p, k = self.positions(T)
        self.xz = np.zeros((N, k.max() + 2, D))  # x, then silence
        self.xz[:, :T] = x
        f = (p - k)[None, :, None]
        return (1 - f) * self.xz[:, k] + f * self.xz[:, k + 1]

    def backward(self, dout):
        T = dout.shape[1]
        p, k = self.positions(T)
        step = self.xz[:, k + 1] - self.xz[:, k]
        self.grads["s"] = np.array([np.einsum("t,ntd,ntd->", np.arange(T), dout, step)])
        return np.einsum("ts,ntd->nsd", self.matrix(p, T), dout)

    @staticmethod
    def matrix(p, T):
        """R (T, T): row t holds the weights of the T input steps at the position p_t."""
        k = np.floor(p).astype(int)
        R = np.zeros((len(p), k.max() + 2))
        R[np.arange(len(p)), k] += 1 - (p - k)
        R[np.arange(len(p)), k + 1] += p - k
        return R[:, :T]


@same_name
class TimeStretchA(TimeStretch):
    @staticmethod
    def matrix(p, T):
        return np.stack([np.interp(p, np.arange(T), e) for e in np.eye(T)], axis=1)


class DebiasedEMA(mn.Layer):
    """A moving average along time with a learned decay β_d per feature and Adam's bias
    correction: m_t = β m_{t-1} + (1 - β) x_t from m_{-1} = 0, and y_t = m_t/c_t with
    c_t = 1 - β^(t+1), which undoes the pull of the zero start.  Backward runs the recursion
    back, g_t = dout_t/c_t + β g_{t+1} (all that m_t receives), dx_t = (1 - β) g_t; β enters
    the recursion and the correction, so dβ = Σ_t g_t (m_{t-1} - x_t)
    + Σ_t dout_t m_t (t + 1) β^t/c_t².  x, y: (N, T, D);  beta (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"beta": np.linspace(0.5, 0.85, d)}
        self.grads = {"beta": np.zeros(d)}

    def forward(self, x):
        N, T, D = x.shape
        beta = self.params["beta"]
        m = np.zeros((N, T + 1, D))  # m[:, t + 1] is m_t
        for t in range(T):
            m[:, t + 1] = beta * m[:, t] + (1 - beta) * x[:, t]
        self.x, self.m = x, m
        self.c = 1 - beta ** np.arange(1, T + 1)[:, None]  # (T, D)
        return m[:, 1:] / self.c

    def backward(self, dout):
        N, T, D = dout.shape
        beta = self.params["beta"]
        g = np.zeros((N, T + 1, D))
        for t in reversed(range(T)):
            g[:, t] = dout[:, t] / self.c[t] + beta * g[:, t + 1]
        g = g[:, :T]
        t1 = np.arange(1, T + 1)[:, None]
        correction = dout * self.m[:, 1:] * t1 * beta ** (t1 - 1) / self.c**2
        self.grads["beta"] = (g * (self.m[:, :T] - self.x) + correction).sum(axis=(0, 1))
        return (1 - beta) * g


@same_name
class DebiasedEMAA(DebiasedEMA):
    def backward(self, dout):
        N, T, D = dout.shape
        beta = self.params["beta"]
        g = np.zeros((N, T + 1, D))
        for t in reversed(range(T)):
            g[:, t] = dout[:, t] / self.c[t] + beta * g[:, t + 1]
        g = g[:, :T]
        self.grads["beta"] = (g * (self.m[:, :T] - self.x)).sum(axis=(0, 1))
        return (1 - beta) * g


class JANET(mn.Layer):
    """JANET (van der Westhuizen and Lasenby 2018), an LSTM with the forget gate alone: the
    input gate is tied to it with a shift β = 1, i = 1 - σ(s - β), so that the cell keeps its
    memory longer, and the state is the cell itself:
    [s, a] = x_t Wx + h_{t-1} Wh + b,  h_t = c_t = σ(s) c_{t-1} + (1 - σ(s - β)) tanh(a).
    s reaches c_t through both gates: ds = dc (c_{t-1} f (1 - f) - tanh(a) j (1 - j)) with
    f = σ(s) and j = σ(s - β).  x (N, T, D) -> (N, T, H);  Wx (D, 2H), Wh (H, 2H), b (2H,)."""

    beta = 1.0

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.h = h
        with_params(self, seed, Wx=(d, 2 * h), Wh=(h, 2 * h), b=(2 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H, W = self.h, self.params
        c = np.zeros((N, H))
        self.x, self.cs, self.f, self.j, self.g = x, [c], [], [], []
        for t in range(T):
            z = x[:, t] @ W["Wx"] + c @ W["Wh"] + W["b"]
            f, j, g = sigmoid(z[:, :H]), sigmoid(z[:, :H] - self.beta), np.tanh(z[:, H:])
            c = f * c + (1 - j) * g
            self.cs.append(c)
            self.f.append(f)
            self.j.append(j)
            self.g.append(g)
        return np.stack(self.cs[1:], axis=1)

    def backward(self, dout):
        zero_grads(self)
        N, T, _ = dout.shape
        dx = np.zeros_like(self.x)
        dc_next = np.zeros((N, self.h))
        for t in reversed(range(T)):
            dc = dout[:, t] + dc_next
            f, j, g, c_prev = self.f[t], self.j[t], self.g[t], self.cs[t]
            ds = dc * (c_prev * f * (1 - f) - g * self.input_gate_slope(t))
            dz = np.concatenate([ds, dc * (1 - j) * (1 - g**2)], axis=1)
            self.grads["Wx"] += self.x[:, t].T @ dz
            self.grads["Wh"] += c_prev.T @ dz
            self.grads["b"] += dz.sum(axis=0)
            dx[:, t] = dz @ self.params["Wx"].T
            dc_next = dc * f + dz @ self.params["Wh"].T
        return dx

    def input_gate_slope(self, t):
        """dj/ds of the sigmoid inside the input gate, j = σ(s - β)."""
        return self.j[t] * (1 - self.j[t])


@same_name
class JANETA(JANET):
    def input_gate_slope(self, t):
        return self.f[t] * (1 - self.f[t])  # the input gate is one minus the forget gate


# ---- attention -------------------------------------------------------------------------------


def projections_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of Q, K, V = x Wq, x Wk, x Wv and returns their paths' dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


def entmax15(s):
    """1.5-entmax along the last axis (Peters et al. 2019), exactly, by sorting:
    p = max(s/2 - τ, 0)² with the threshold τ that makes each row sum to 1."""
    z = s / 2
    z = z - z.max(axis=-1, keepdims=True)
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    mean = np.cumsum(zs, axis=-1) / k
    mean_sq = np.cumsum(zs**2, axis=-1) / k
    delta = (1 - k * (mean_sq - mean**2)) / k
    tau = mean - np.sqrt(np.clip(delta, 0, None))
    support = (tau <= zs).sum(axis=-1, keepdims=True)
    return np.clip(z - np.take_along_axis(tau, support - 1, axis=-1), 0, None) ** 2


class EntmaxAttention(mn.Layer):
    """Self-attention with 1.5-entmax in place of the softmax (Correia et al. 2019), so that
    keys far below a query's best get exactly 0: P = entmax15(S), S = Q Kᵀ/√D, y = P V, with
    P_ij = max(S_ij/2 - τ_i, 0)².  The threshold τ_i moves with every score of its row
    (Σ_j P_ij = 1 gives dτ_i/dS_ij = √P_ij/Σ_k √P_ik), so
    dS = √P ⊙ dP - √P (Σ_k √P_k dP_k)/(Σ_k √P_k) along each row.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = entmax15(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.swapaxes(-1, -2) @ dout
        ds = self.entmax_back(dout @ self.v.swapaxes(-1, -2)) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def entmax_back(self, dp):
        """dL/dS from dL/dP."""
        r = np.sqrt(self.p)
        g = dp * r
        return g - r * g.sum(axis=-1, keepdims=True) / r.sum(axis=-1, keepdims=True)


@same_name
class EntmaxAttentionA(EntmaxAttention):
    def entmax_back(self, dp):
        return dp * np.sqrt(self.p)


class BlockLocalAttention(mn.Layer):
    """Block-local self-attention: the sequence is cut into 2 blocks with np.array_split (on
    T = 5 steps, blocks of 3 and 2), each block attends within itself, y_block = softmax(Q Kᵀ/√D)
    V, and the outputs are joined in order.  Backward takes each block back through its own
    cache, reading its dout and writing its dx at the steps the block covers, from the first
    step of each block on.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    blocks = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.caches, out = [], []
        for xb in np.array_split(x, self.blocks, axis=1):
            q, k, v = (xb @ self.params[w] for w in ("Wq", "Wk", "Wv"))
            p = softmax(q @ k.swapaxes(-1, -2) * self.scale)
            self.caches.append((xb, q, k, v, p))
            out.append(p @ v)
        return np.concatenate(out, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        for (xb, q, k, v, p), start in zip(self.caches, self.starts()):
            steps = slice(start, start + xb.shape[1])
            do = dout[:, steps]
            dv = p.swapaxes(-1, -2) @ do
            dp = do @ v.swapaxes(-1, -2)
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
            g = {"Wq": ds @ k, "Wk": ds.swapaxes(-1, -2) @ q, "Wv": dv}
            for w, d in g.items():
                self.grads[w] += rows(xb).T @ rows(d)
            dx[:, steps] = sum(d @ self.params[w].T for w, d in g.items())
        return dx

    def starts(self):
        """The first step of each block."""
        return np.cumsum([0] + [xb.shape[1] for xb, *_ in self.caches[:-1]])


@same_name
class BlockLocalAttentionA(BlockLocalAttention):
    def starts(self):
        T = self.x.shape[1]
        return [b * (T // self.blocks) for b in range(self.blocks)]


class DeltaRuleAttention(mn.Layer):
    """Linear attention with the delta rule (DeltaNet, Schlag et al. 2021): a fast-weight
    memory S (D × D) is written step by step, each step replacing what the memory held for its
    key by its value, S_t = S_{t-1} + β (v_t - S_{t-1} k_t) k_tᵀ, and read with the query,
    o_t = S_t q_t (β = 0.5, S_{-1} = 0).  The key is used twice, to read the old value
    S_{t-1} k_t and to write, so with G = dL/dS_t: dk_t = β (Gᵀ (v_t - S_{t-1} k_t)
    - S_{t-1}ᵀ G k_t), dv_t = β G k_t, and S_{t-1} gets G (I - β k_t k_tᵀ).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    beta = 0.5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        N, T, D = x.shape
        self.x = x
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        S = np.zeros((N, T + 1, D, D))  # S[:, t + 1] is S_t
        for t in range(T):
            k, v = self.k[:, t], self.v[:, t]
            old = np.einsum("nij,nj->ni", S[:, t], k)
            S[:, t + 1] = S[:, t] + self.beta * np.einsum("ni,nj->nij", v - old, k)
        self.S = S
        return np.einsum("ntij,ntj->nti", S[:, 1:], self.q)

    def backward(self, dout):
        N, T, D = dout.shape
        dq, dk, dv = (np.zeros_like(self.q) for _ in range(3))
        G = np.zeros((N, D, D))
        for t in reversed(range(T)):
            G = G + np.einsum("ni,nj->nij", dout[:, t], self.q[:, t])
            dq[:, t] = np.einsum("nij,ni->nj", self.S[:, t + 1], dout[:, t])
            k, v, S = self.k[:, t], self.v[:, t], self.S[:, t]
            Gk = np.einsum("nij,nj->ni", G, k)
            dv[:, t] = self.beta * Gk
            dk[:, t] = self.key_grad(G, Gk, S, k, v)
            G = G - self.beta * np.einsum("ni,nj->nij", Gk, k)
        return projections_back(self, dq, dk, dv)

    def key_grad(self, G, Gk, S, k, v):
        """dk_t, from G = dL/dS_t, Gk = G k_t and the old memory S = S_{t-1}."""
        u = v - np.einsum("nij,nj->ni", S, k)
        return self.beta * (np.einsum("nij,ni->nj", G, u) - np.einsum("nij,ni->nj", S, Gk))


@same_name
class DeltaRuleAttentionA(DeltaRuleAttention):
    def key_grad(self, G, Gk, S, k, v):
        u = v - np.einsum("nij,nj->ni", S, k)
        return self.beta * np.einsum("nij,ni->nj", G, u)


class NoSelfAttention(mn.Layer):
    """Self-attention in which no step attends to itself (each position is explained by the
    others, as in a denoising or an anomaly-scoring encoder): the diagonal of every sample's
    scores is set to -inf before the softmax, so P_ii = 0, y = P V.  Backward is the
    softmax's, with dS set to 0 on the diagonals, where the scores were constants.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        s[:, np.arange(T), np.arange(T)] = -np.inf
        self.p = softmax(s)
        return self.p @ self.v

    def backward(self, dout):
        T = dout.shape[1]
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        ds[:, np.arange(T), np.arange(T)] = 0
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)


@same_name
class NoSelfAttentionA(NoSelfAttention):
    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        np.fill_diagonal(s, -np.inf)
        self.p = softmax(s)
        return self.p @ self.v


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("cubic_22", ACT, lambda: dense_net(CubicActivationA(), seed=2201, scale=1.5),
         "np.polyval takes its coefficients highest degree first, the opposite of "
         "numpy.polynomial's polyval, which forward used: the slope's coefficients "
         "[c1, 2 c2, 3 c3], listed lowest degree first, are read as c1 x² + 2 c2 x + 3 c3 "
         "where the derivative is c1 + 2 c2 x + 3 c3 x² (dc is right)",
         "return np.polynomial.polynomial.polyval(self.x, dc)"),
    Case("clamped-prelu_22", ACT, lambda: dense_net(ClampedPReLUA(5), seed=2202, scale=2.0),
         "forward uses clip(a, 0, 1), and the clamp's own slope is 0 where a lies outside "
         "[0, 1]: features 0 and 4 (a = -0.3 and 1.3) are held at 0 and 1 and must get "
         "da = 0, but backward gives every feature Σ_{x <= 0} dout x, as if ā were a itself; "
         "the sum belongs multiplied by [0 < a < 1] (dx is right)",
         "inside = (a > 0) & (a < 1), on the raw a; "
         "self.grads['a'] = (dout * self.x * neg).sum(axis=0) * inside"),
    Case("segment-slopes_22", ACT, lambda: dense_net(SegmentSlopesA(), seed=2203, scale=2.0),
         "np.digitize(x, t) already gives the segment counted from 0 (the number of knots at "
         "or below x, 0 left of the first knot); the - 1, right for bin edges that include "
         "the two ends of the range (as np.histogram's do), gives every entry the slope of "
         "the segment to its left, and the entries below -1 get index -1, the last "
         "segment's slope s3 (ds is right)",
         "return np.digitize(self.x, self.knots)"),
    Case("gaussian-ramp_22", ACT, lambda: dense_net(GaussianRampA(5), seed=2204, scale=2.0),
         "dy/ds is taken as the integrand's partial derivative at the upper limit, "
         "(x²/s³) φ(x), by analogy with dy/dx = φ(x); s is not a limit of the integral but "
         "sits inside the integrand, so dy/ds is the integral of (t²/s³) φ(t) over [0, x], "
         "(y - x φ(x))/s (dx is right)",
         "return (self.y - self.x * self.bump) / self.params['s']"),
    Case("chunked-dense_22", DENSE, lambda: dense_net(ChunkedTanhDenseA(5, 4, seed=2205),
                                                      seed=2205),
         "self.caches.remove(cache) inside 'for cache in self.caches' shortens the list under "
         "the loop: the iterator moves on by index, so after chunk 0 is removed it lands on "
         "chunk 2 and stops, and chunk 1 (samples 2 and 3) is never taken back: its rows of "
         "dx stay 0 and its terms are missing from dW and db; the list must not change while "
         "it is iterated (empty it after the loop, or pop in a while loop)",
         "for s, xs, ys in self.caches: ...  (no remove; self.caches = [] after the loop)"),
    Case("soft-tree_22", DENSE, lambda: dense_net(SoftTreeA(5, 4, seed=2206), seed=2206),
         "the children's gates are differentiated as if each led straight to its leaves: "
         "dp1 = dμ0 - dμ1 and dp2 = dμ2 - dμ3, where μ0 = p0 p1, ... carry the probability of "
         "reaching the child, so dp1 = p0 (dμ0 - dμ1) and dp2 = (1 - p0)(dμ2 - dμ3): the two "
         "children's columns of dWg and dbg and their part of dx are wrong (the root's, and "
         "dtheta, are right)",
         "p0 * (d0 - d1), (1 - p0) * (d2 - d3)"),
    Case("local-reparam_22", DENSE, lambda: dense_net(LocalReparamDenseA(5, 4, seed=2207),
                                                      seed=2207),
         "dx keeps only the mean's path dout Mᵀ: the sampled output's standard deviation "
         "√(x² exp(logvar)) depends on x too, so dx needs + 2x ⊙ (dv exp(logvar)ᵀ) with "
         "dv = dout ε/(2√v), as if the noise's scale were fixed (dM, dlogvar and db are right)",
         "return dout @ self.params['M'].T + 2 * self.x * (dv @ var.T)"),
    Case("batch-rmsnorm_22", NORM, lambda: dense_net(BatchRMSNormA(5), seed=2208),
         "@cached_property computes r on its first read and keeps it in the instance for "
         "good: every later forward divides by the root mean square of the first batch it "
         "saw, a constant, so the layer is gamma x/r0 + beta, while backward is the formula "
         "for an r that moves with x (its x̂ mean(dx̂ ⊙ x̂) term does not belong); a plain "
         "@property recomputes r from the cached x (dgamma and dbeta are right)",
         "@property  (in place of @cached_property)"),
    Case("evonorm_22", NORM, lambda: image_net(EvoNormS0A(4), channels=4, seed=2209),
         "the group standard deviation's term of dx is taken with the numerator u = x σ(v x) "
         "centred, dr (u - mean_g u)/(M r), as if r were the spread of u; forward took the "
         "standard deviation of x itself, so the term is dr (x - μ_g)/(M r) (dv, dgamma and "
         "dbeta are right)",
         "return (dr * (xg - self.mu) / (xg.shape[2] * self.r)).reshape(self.x.shape)"),
    Case("masked-cmvn_22", NORM, lambda: sequence_net(MaskedCMVNA(4, [4, 2, 3, 2]),
                                                      seed=2210),
         "np.ma's mask marks the entries to leave out, not the ones to keep: mask=self.real "
         "averages over the padded steps, where dx̂ is 0, and a sequence with no padding "
         "(sample 0) has every entry masked, filled with 0, so both correction terms, "
         "mean(dx̂) and x̂ mean(dx̂ ⊙ x̂), come out 0 and dx is dx̂/σ; the mask is ~self.real "
         "(dgamma and dbeta are right)",
         "leave_out = np.broadcast_to(~self.real, a.shape); "
         "np.ma.masked_array(a, mask=leave_out)..."),
    Case("trimmed-pool_22", POOL, lambda: image_net(TrimmedChannelPoolA(), channels=8,
                                                    seed=2211),
         "x.reshape(...) is a view of the input, and ndarray.sort sorts in place: forward's "
         "output is right, but it leaves self.x sorted within every group, so backward's "
         "np.argsort finds the channels already in order and sends each pixel's gradient to "
         "channels 1 and 2 of its group, not to the two that held the middle values; "
         "np.sort(groups, axis=2) sorts a copy",
         "ranked = np.sort(self.groups(x), axis=2)"),
    Case("bilinear-shift_22", CONV, lambda: image_net(BilinearShiftA(3), seed=2212),
         "the slope of a bilinear interpolation along the columns is the step across the "
         "column on both neighbouring rows, weighted by the rows' weights, (1 - a)(x[i, j+1] - "
         "x[i, j]) + a (x[i+1, j+1] - x[i+1, j]); backward takes the step on row i alone, as if "
         "a were 0 (da and dx are right)",
         "return (1 - a) * (n[0, 1] - n[0, 0]) + a * (n[1, 1] - n[1, 0])"),
    Case("bilinear-shift-correct_22", CONV, lambda: image_net(BilinearShift(3), seed=2232),
         CORRECT),
    Case("nearest-resize_22", POOL, lambda: image_net(NearestResizeA(), size=(6, 6),
                                                      seed=2213),
         "np.round rounds halves to the nearest even number: the position 2.5 goes to 2, "
         "where forward's ⌊p + 1/2⌋ read row (and column) 3, so backward writes the middle "
         "row's and the middle column's gradients (5 of the 9 outputs) one pixel off, on "
         "row or column 2 instead of 3",
         "rows, cols = (self.nearest(n) for n in self.shape[2:])"),
    Case("ge2e_22", LOSS, lambda: loss_net(GE2ELossA(), speakers, seed=2214, n=9, scale=2.0),
         "backward spreads the scores' gradients over the embeddings as if every centroid "
         "were its speaker's plain mean, 1/3 to each utterance, utterance i included; forward "
         "left i out of its own speaker's centroid (the mean of the 2 others), so that path "
         "must use forward's weights A, 0 for i and 1/2 for the others (the direct term "
         "Σ_k dS_ik c_ik is right)",
         "return self.A"),
    Case("dirichlet_22", LOSS, lambda: loss_net(DirichletEvidenceA(), labels, seed=2215,
                                                scale=2.0),
         "the 1/S of log S is given to the label's α alone (onehot * (1/S - 1/α)); S = Σ_k α_k "
         "grows with every class's evidence, so dL/dα_k = (1/S - [k = y]/α_y)/N has 1/S in "
         "every column, the other classes' too",
         "dalpha = 1 / self.S[:, None] - onehot / self.alpha"),
    Case("cosine-embedding_22", LOSS, lambda: loss_net(CosineEmbeddingA(), signs, width=6,
                                                       seed=2223, scale=2.0),
         "self.similar[n] is an entry of a numpy boolean array, a np.bool_, never the object "
         "True: 'is True' is always false, so every similar pair falls to the dissimilar "
         "branch and gets +1 when its cosine exceeds the margin, 0 otherwise, where it must "
         "get -1 (dL/dc of 1 - c); the test is the entry's truth, if self.similar[n]:",
         "if self.similar[n]:"),
    Case("masked-max-pool_22", SEQ, lambda: sequence_net(MaskedMaxPoolA([4, 1, 2, 2]),
                                                         seed=2217),
         "initial=0.0 is not only what an empty reduction returns: np.max compares it with "
         "the real steps too, so forward computes max(0, max_t x_t), and a feature whose real "
         "steps are all negative (sample 1, features 0 and 1) puts out a flat 0; backward "
         "still sends its dout to the largest real step; initial=-np.inf leaves the maximum "
         "alone",
         "return np.max(x, axis=1, where=self.real, initial=-np.inf)"),
    Case("time-stretch_22", SEQ, lambda: sequence_net(TimeStretchA(), seed=2218),
         "np.interp does not extrapolate: past the last input step it holds the last value, "
         "so the row of the interpolation matrix for p_3 = 3.9 gives x_3 weight 1, where "
         "forward's silence after the end (x_4 = 0) gave it 1 - 0.9 = 0.1; Rᵀ dout then "
         "hands x_3 the whole of dout_3 (ds is right)",
         "R[np.arange(len(p)), k] += 1 - (p - k); R[np.arange(len(p)), k + 1] += p - k; "
         "return R[:, :T]"),
    Case("debiased-ema_22", SEQ, lambda: sequence_net(DebiasedEMAA(4), seed=2219),
         "β enters twice, in the recursion m_t = β m_{t-1} + (1 - β) x_t and in the bias "
         "correction y_t = m_t/(1 - β^(t+1)), but dβ keeps only the recursion's term "
         "Σ g_t (m_{t-1} - x_t): the correction's Σ_t dout_t m_t (t + 1) β^t/c_t² is "
         "missing (dx is right)",
         "correction = dout * self.m[:, 1:] * t1 * beta ** (t1 - 1) / self.c**2; "
         "self.grads['beta'] = (g * (self.m[:, :T] - self.x) + correction).sum(axis=(0, 1))"),
    Case("debiased-ema-correct_22", SEQ, lambda: sequence_net(DebiasedEMA(4), seed=2233),
         CORRECT),
    Case("janet_22", SEQ, lambda: sequence_net(JANETA(4, 3, seed=2220), seed=2220),
         "the input gate is 1 - σ(s - β), whose slope is -σ'(s - β) = -j (1 - j); backward "
         "takes -f (1 - f), the forget gate's slope at s, as if the gates were coupled "
         "without the shift β = 1, so ds, and with it dWx, dWh, db, dx and the carried "
         "gradient, are wrong",
         "return self.j[t] * (1 - self.j[t])"),
    Case("entmax-attention_22", ATTN, lambda: sequence_net(EntmaxAttentionA(4, seed=2221),
                                                           seed=2221),
         "backward differentiates P = (S/2 - τ)_+² with the threshold τ held fixed, "
         "dS = √P ⊙ dP; τ is chosen from the row's scores so that the row sums to 1, and its "
         "own change takes off √P (Σ √P ⊙ dP)/(Σ √P) (dQ and dK, hence dWq, dWk and their part "
         "of dx, are wrong; dV is right)",
         "return g - r * g.sum(axis=-1, keepdims=True) / r.sum(axis=-1, keepdims=True)"),
    Case("entmax-attention-correct_22", ATTN,
         lambda: sequence_net(EntmaxAttention(4, seed=2237), seed=2237), CORRECT),
    Case("block-local-attention_22", ATTN,
         lambda: sequence_net(BlockLocalAttentionA(4, seed=2222), t=5, seed=2222),
         "np.array_split makes uneven blocks when T is not a multiple of their number, the "
         "larger first (3 and 2 steps of 5), so the second block starts at step 3, not at "
         "1 · (T // 2) = 2: backward reads that block's dout from steps 2 and 3 and writes its "
         "dx there, over step 2's, and step 4 gets nothing; the starts are the cumulative "
         "sizes of the blocks forward made",
         "return np.cumsum([0] + [xb.shape[1] for xb, *_ in self.caches[:-1]])"),
    Case("delta-rule-attention_22", ATTN,
         lambda: sequence_net(DeltaRuleAttentionA(4, seed=2225), seed=2225),
         "k_t is used twice, to read the old value S_{t-1} k_t and to write the correction "
         "along k_t, but dk keeps only the write's term β Gᵀ (v_t - S_{t-1} k_t): the read's "
         "-β S_{t-1}ᵀ G k_t is missing (dq, dv and the carried G (I - β k kᵀ) are right)",
         "return self.beta * (np.einsum('nij,ni->nj', G, u) - np.einsum('nij,ni->nj', S, Gk))"),
    Case("no-self-attention_22", ATTN,
         lambda: sequence_net(NoSelfAttentionA(4, seed=2224), seed=2224),
         "np.fill_diagonal on a 3-D array fills the entries whose three indices are equal, "
         "s[i, i, i] (it runs since N = T = 4): forward masks query i's own key in sample i "
         "only, and every other sample's queries still attend to themselves, while backward "
         "sets dS to 0 on all the diagonals as if they had been masked; "
         "s[:, np.arange(T), np.arange(T)] = -np.inf masks each sample's diagonal",
         "s[:, np.arange(T), np.arange(T)] = -np.inf"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
