"""The twenty-first held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. About half the mistakes are in the mathematics
(a rule of calculus misapplied, a term or factor of the chain rule, the point or the quantity
that is differentiated) and half in the code's structure (numpy's defaults and conventions,
Python's scoping, names and operators, floating-point comparisons); three of them are in
forward.
"""

from __future__ import annotations

import math

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
    pad,
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


class ErfGELU(mn.Layer):
    """GELU in its exact form, y = x Φ(x), with the standard normal CDF
    Φ(x) = (1 + erf(x/√2))/2 computed with math.erf.  By the product rule
    dy/dx = Φ(x) + x φ(x), φ(x) = e^(-x²/2)/√(2π) the normal density.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.cdf = (1 + erf(x / np.sqrt(2))) / 2
        return x * self.cdf

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        """dy/dx."""
        x = self.x
        return self.cdf + x * np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)


@same_name
class ErfGELUA(ErfGELU):
    def slope(self):
        s = sigmoid(1.702 * self.x)
        return s + 1.702 * self.x * s * (1 - s)


class SmoothLeaky(mn.Layer):
    """A smooth leaky ReLU, the soft maximum of the two lines x and αx (α = 0.2):
    y = log(eˣ + e^(αx)) = logaddexp(x, αx).  The derivative of logaddexp(u, v) is
    σ(u - v) u' + σ(v - u) v', the weights of a two-way softmax, so dy/dx = w + α (1 - w) with
    w = σ((1 - α) x).  x, y: (N, D)."""

    alpha = 0.2

    def forward(self, x):
        self.x = x
        return np.logaddexp(x, self.alpha * x)

    def backward(self, dout):
        w = self.weight()
        return dout * (w + self.alpha * (1 - w))

    def weight(self):
        """The soft maximum's weight on the line x."""
        return sigmoid((1 - self.alpha) * self.x)


@same_name
class SmoothLeakyA(SmoothLeaky):
    def weight(self):
        return sigmoid(self.x)


class ThresholdedReLU(mn.Layer):
    """Keras' ThresholdedReLU: y = x where x > θ, 0 elsewhere (θ = 0.6), the identity above
    the threshold and zero below it.  The slope is 1 above θ and 0 below.  x, y: (N, D)."""

    theta = 0.6

    def forward(self, x):
        self.x = x
        return np.where(x > self.theta, x, 0.0)

    def backward(self, dout):
        return dout * (self.x > self.theta)


@same_name
class ThresholdedReLUA(ThresholdedReLU):
    def backward(self, dout):
        return dout * np.heaviside(self.x, self.theta)


class TriangleWave(mn.Layer):
    """A periodic piecewise-linear activation, the triangle wave of period 2: y = |r - 1|
    with the phase r = (x + 1) mod 2, taken with Python's %, which floors, so that r lies in
    [0, 2) for negative x too.  On [-1, 1] it is |x|; the slope is sign(r - 1), -1 on the
    falling half of each period and +1 on the rising half.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.abs((x + 1) % 2 - 1)

    def backward(self, dout):
        return dout * np.sign(self.phase() - 1)

    def phase(self):
        """r = (x + 1) mod 2, in [0, 2)."""
        return (self.x + 1) % 2


@same_name
class TriangleWaveA(TriangleWave):
    def phase(self):
        return np.fmod(self.x + 1, 2)


# ---- dense-like ------------------------------------------------------------------------------


class TwiceTanh(mn.Layer):
    """One tanh map applied twice with the same weights, a weight-tied block of depth 2 (a
    universal transformer's recurrence in depth): h = f(x), y = f(h), f(z) = tanh(z W + b).
    step() returns each application's output with a cache of its own (its input z and its
    output t); backward goes through the two caches, the last one first, and adds each
    application's terms to dW and db.  x, y: (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def step(self, z):
        cache = {}
        cache["z"] = z
        cache["t"] = np.tanh(z @ self.params["W"] + self.params["b"])
        return cache["t"], cache

    def forward(self, x):
        h, first = self.step(x)
        y, second = self.step(h)
        self.caches = [first, second]
        return y

    def backward(self, dout):
        zero_grads(self)
        a = dout
        for cache in reversed(self.caches):
            da = a * (1 - cache["t"] ** 2)
            self.grads["W"] += cache["z"].T @ da
            self.grads["b"] += da.sum(axis=0)
            a = da @ self.params["W"].T
        return a


@same_name
class TwiceTanhA(TwiceTanh):
    def step(self, z, cache={}):  # noqa: B006
        cache["z"] = z
        cache["t"] = np.tanh(z @ self.params["W"] + self.params["b"])
        return cache["t"], cache


class MLPLayer(mn.Layer):
    """A two-layer perceptron as a single layer, its parameters numbered as in a textbook,
    from 1: h = tanh(x W1 + b1), y = h W2 + b2.  Backward computes the two pairs of gradients
    in order, first layer first, and store() files them under their numbers.
    x (N, D) -> (N, F);  W1 (D, H), b1 (H,), W2 (H, F), b2 (F,)."""

    def __init__(self, d, h, f, seed=0):
        super().__init__()
        with_params(self, seed, W1=(d, h), b1=(h,), W2=(h, f), b2=(f,))

    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.params["W1"] + self.params["b1"])
        return self.h @ self.params["W2"] + self.params["b2"]

    def backward(self, dout):
        da = dout @ self.params["W2"].T * (1 - self.h**2)
        self.store([(self.x.T @ da, da.sum(axis=0)), (self.h.T @ dout, dout.sum(axis=0))])
        return da @ self.params["W1"].T

    def store(self, pairs):
        """grads['W1'], grads['b1'], grads['W2'], ... from [(dW1, db1), (dW2, db2)]."""
        for k, (dW, db) in enumerate(pairs, start=1):
            self.grads[f"W{k}"], self.grads[f"b{k}"] = dW, db


@same_name
class MLPLayerA(MLPLayer):
    def store(self, pairs):
        for k, (dW, db) in enumerate(pairs):
            self.grads[f"W{k}"], self.grads[f"b{k}"] = dW, db


class RBFKAN(mn.Layer):
    """A Kolmogorov-Arnold layer with Gaussian radial basis functions (FastKAN): each input
    feature x_d is expanded on M = 4 fixed bumps φ_m(u) = exp(-((u - c_m)/h)²), centred at
    c = -1.5, -0.5, 0.5, 1.5 with h = 1, and each output adds up learned multiples of them:
    y_k = Σ_d Σ_m C[d, m, k] φ_m(x_d).  dC = Σ_n φ ⊗ dout, and
    dx_d = Σ_m φ'_m(x_d) Σ_k C[d, m, k] dout_k, with φ'_m(u) = -2 (u - c_m)/h² φ_m(u): for
    every input a sum over the bumps of products, slope times weight.
    x (N, D) -> (N, K);  C (D, M, K)."""

    centers, h = np.array([-1.5, -0.5, 0.5, 1.5]), 1.0

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, C=(d, len(self.centers), k))

    def forward(self, x):
        self.u = (x[:, :, None] - self.centers) / self.h  # (N, D, M)
        self.phi = np.exp(-self.u**2)
        return np.einsum("ndm,dmk->nk", self.phi, self.params["C"])

    def backward(self, dout):
        self.grads["C"] = np.einsum("ndm,nk->dmk", self.phi, dout)
        dphi = -2 * self.u / self.h * self.phi  # dφ_m(x_d)/dx_d, (N, D, M)
        return self.through_bumps(dout, dphi)

    def through_bumps(self, dout, dphi):
        """dx[n, d] = Σ_m dphi[n, d, m] Σ_k C[d, m, k] dout[n, k]."""
        return np.einsum("nk,dmk,ndm->nd", dout, self.params["C"], dphi)


@same_name
class RBFKANA(RBFKAN):
    def through_bumps(self, dout, dphi):
        return (dout @ self.params["C"].sum(axis=1).T) * dphi.sum(axis=2)


# ---- normalization ---------------------------------------------------------------------------


class SourceBatchNorm(mn.Layer):
    """Batch norm with the statistics of the source domain, a domain-adaptation trick: the
    batch mixes samples of two domains, flagged 1 (source) or 0 (target) in a fixed 0/1 list,
    and every sample is standardized with the mean and variance of the source samples alone,
    y = gamma (x - μ_S)/σ_S + beta.  Only the M source samples move μ_S and σ_S, so only they
    get the statistics' terms: dx_n = (dx̂_n - s_n (Σ dx̂ + x̂_n Σ dx̂ ⊙ x̂)/M)/σ_S, s_n the
    flag.  x (N, D) -> (N, D);  gamma, beta (D,);  the flags are fixed when built."""

    eps = 1e-5

    def __init__(self, d, flags):
        super().__init__()
        self.flags = np.asarray(flags)  # 0/1, one per sample
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        src = x[self.flags == 1]
        self.std = np.sqrt(src.var(axis=0) + self.eps)
        self.xhat = (x - src.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        d = dout * self.params["gamma"]
        s, M = self.flags[:, None], self.flags.sum()
        return (d - s * (d.sum(axis=0) + self.xhat * (d * self.xhat).sum(axis=0)) / M) / self.std


@same_name
class SourceBatchNormA(SourceBatchNorm):
    def forward(self, x):
        src = x[self.flags]
        self.std = np.sqrt(src.var(axis=0) + self.eps)
        self.xhat = (x - src.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]


class LocalContrastNorm(mn.Layer):
    """Subtractive local contrast normalization (Jarrett et al.), channel by channel, with a
    learned gain: y = g_c (x - A x), where (A x)_p is the mean of x over the 3×3 window around
    pixel p counting only the pixels inside the image (4 at a corner, 6 on an edge, 9 inside).
    A is linear but not symmetric, since output p divides by its own count c_p, so backward
    applies its transpose, (Aᵀ u)_q = Σ_{p: q in the window of p} u_p / c_p: each output's
    gradient is divided by that output's count before it is spread over its window.
    x (N, C, H, W) -> (N, C, H, W);  g (C,)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"g": np.linspace(0.6, 1.4, c)}
        self.grads = {"g": np.zeros(c)}

    @staticmethod
    def window_sum(a):
        """The sum over the 3×3 window around every pixel, zeros outside the image."""
        H, W = a.shape[2:]
        p = pad(a, 1)
        return sum(p[:, :, i:i + H, j:j + W] for i, j in np.ndindex(3, 3))

    def forward(self, x):
        self.count = self.window_sum(np.ones((1, 1, *x.shape[2:])))
        self.c = x - self.window_sum(x) / self.count
        return self.params["g"][:, None, None] * self.c

    def backward(self, dout):
        self.grads["g"] = (dout * self.c).sum(axis=(0, 2, 3))
        u = dout * self.params["g"][:, None, None]
        return u - self.mean_back(u)

    def mean_back(self, u):
        """Aᵀ u."""
        return self.window_sum(u / self.count)


@same_name
class LocalContrastNormA(LocalContrastNorm):
    def mean_back(self, u):
        return self.window_sum(u) / self.count


class TwoPassBatchNorm(mn.Layer):
    """Batch norm written in two passes, the way the derivation goes on paper: first the
    batch mean μ is subtracted (x ← x - μ), then the variance is the mean square of what is
    left.  Forward keeps the input x it was given and μ; backward rebuilds x - μ from them
    and goes back through both passes.  x (N, D) -> (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(0.1, -0.1, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        self.mu = x.mean(axis=0)
        x = x - self.mu
        self.std = np.sqrt((x**2).mean(axis=0) + self.eps)
        return self.params["gamma"] * x / self.std + self.params["beta"]

    def backward(self, dout):
        xhat = (self.x - self.mu) / self.std
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        d = dout * self.params["gamma"]
        return (d - d.mean(axis=0) - xhat * (d * xhat).mean(axis=0)) / self.std


@same_name
class TwoPassBatchNormA(TwoPassBatchNorm):
    def forward(self, x):
        self.mu = x.mean(axis=0)
        x = x - self.mu
        self.x = x
        self.std = np.sqrt((x**2).mean(axis=0) + self.eps)
        return self.params["gamma"] * x / self.std + self.params["beta"]


# ---- convolution and pooling -----------------------------------------------------------------


class ActiveShift(mn.Layer):
    """The active shift layer (Jeon and Kim) along the columns: each channel is moved left by
    a learned fraction δ_c of a pixel, sampled between two neighbours by linear interpolation,
    y[..., j] = (1 - δ_c) x[..., j] + δ_c x[..., j + 1], with x[..., W] = 0 past the edge.
    The slope with respect to δ_c is the difference of the two input pixels the sample falls
    between, x[..., j + 1] - x[..., j]; dx gives each pixel (1 - δ) of its own output's
    gradient and δ of the output to its left.  x (N, C, H, W) -> (N, C, H, W);  delta (C,)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"delta": np.linspace(0.2, 0.7, c)}
        self.grads = {"delta": np.zeros(c)}

    @staticmethod
    def right(a):
        """a[..., j + 1] at column j, 0 at the last column."""
        out = np.zeros_like(a)
        out[..., :-1] = a[..., 1:]
        return out

    @staticmethod
    def left(a):
        """a[..., j - 1] at column j, 0 at the first column."""
        out = np.zeros_like(a)
        out[..., 1:] = a[..., :-1]
        return out

    def forward(self, x):
        d = self.params["delta"][:, None, None]
        self.x = x
        self.y = (1 - d) * x + d * self.right(x)
        return self.y

    def backward(self, dout):
        d = self.params["delta"][:, None, None]
        self.grads["delta"] = (dout * self.neighbour_difference()).sum(axis=(0, 2, 3))
        return (1 - d) * dout + d * self.left(dout)

    def neighbour_difference(self):
        """dy/dδ at every pixel."""
        return self.right(self.x) - self.x


@same_name
class ActiveShiftA(ActiveShift):
    def neighbour_difference(self):
        return self.right(self.y) - self.y


class CentralDifferenceConv(mn.Layer):
    """Central difference convolution (Yu et al.), 3×3 with zero padding 1: a plain
    convolution minus θ times the centre pixel weighted by the sum of the kernel,
    y[n, f, p] = Σ_c Σ_ab W[f, c, a, b] x[n, c, p + ab] - θ Σ_c x[n, c, p] Σ_ab W[f, c, a, b]
    + b_f, θ = 0.7, so that each tap weighs the difference x(p + ab) - x(p) in part.  Every
    tap of W[f, c] enters the sum, so every tap gets the centre term's gradient,
    -θ Σ_{n, p} dout[n, f, p] x[n, c, p], besides its own.
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    theta = 0.7

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        H, Wd = x.shape[2:]
        self.x, self.xp = x, pad(x, 1)
        out = np.zeros((len(x), len(W), H, Wd))
        for a, b in np.ndindex(3, 3):
            out += np.einsum("nchw,fc->nfhw", self.xp[:, :, a:a + H, b:b + Wd], W[:, :, a, b])
        out -= self.theta * np.einsum("nchw,fc->nfhw", x, W.sum(axis=(2, 3)))
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        H, Wd = dout.shape[2:]
        dW, dxp = np.zeros_like(W), np.zeros_like(self.xp)
        for a, b in np.ndindex(3, 3):
            dW[:, :, a, b] = np.einsum("nfhw,nchw->fc", dout, self.xp[:, :, a:a + H, b:b + Wd])
            dxp[:, :, a:a + H, b:b + Wd] += np.einsum("nfhw,fc->nchw", dout, W[:, :, a, b])
        centre = np.einsum("nfhw,nchw->fc", dout, self.x)
        self.grads["W"] = self.centre_term(dW, centre)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1] - self.theta * np.einsum("nfhw,fc->nchw", dout,
                                                              W.sum(axis=(2, 3)))

    def centre_term(self, dW, centre):
        """dW with the centre term's share, -θ Σ dout x (F, C), taken into account."""
        return dW - self.theta * centre[:, :, None, None]


@same_name
class CentralDifferenceConvA(CentralDifferenceConv):
    def centre_term(self, dW, centre):
        dW = dW.copy()
        dW[:, :, 1, 1] -= self.theta * centre
        return dW


class BiasMaxPool(mn.Layer):
    """2×2 max pooling with stride 2 and a learned bias per channel added to each maximum,
    y = max(window) + b_c.  Forward keeps its input and its output; backward finds each
    window's maximum again and sends the window's gradient to it.
    x (N, C, H, W) -> (N, C, H/2, W/2);  b (C,)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"b": np.array([0.7, -1.3, 2.6, 0.35, -0.55])[:c]}
        self.grads = {"b": np.zeros(c)}

    @staticmethod
    def windows(x):
        N, C, H, W = x.shape
        return x.reshape(N, C, H // 2, 2, W // 2, 2)

    def forward(self, x):
        self.x = x
        self.y = self.windows(x).max(axis=(3, 5)) + self.params["b"][:, None, None]
        return self.y

    def backward(self, dout):
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        win = self.windows(self.x)
        mask = win == self.window_max(win)[:, :, :, None, :, None]
        return (mask * dout[:, :, :, None, :, None]).reshape(self.x.shape)

    def window_max(self, win):
        """Each window's maximum, (N, C, H/2, W/2)."""
        return win.max(axis=(3, 5))


@same_name
class BiasMaxPoolA(BiasMaxPool):
    def window_max(self, win):
        return self.y - self.params["b"][:, None, None]


# ---- losses ----------------------------------------------------------------------------------


class ForwardCorrectedCE(mn.Loss):
    """Cross-entropy corrected for label noise (Patrini et al.'s forward correction): the
    labels were flipped at random by a known transition matrix T (T[i, j] = P(noisy label j
    | true class i), 0.8 on the diagonal), so the class probabilities p = softmax(s) are
    mixed by it first, q = p T, and L = -mean_n log q[n, y_n].  With g = dL/dp,
    g[n, i] = -T[i, y_n]/(N q[n, y_n]), and dL/ds = p ⊙ (g - Σ_i p_i g_i), the softmax's
    Jacobian applied to g.  scores (N, C), y (N,) labels -> float."""

    T = np.array([[0.8, 0.15, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])

    def forward(self, scores, y):
        self.y = y
        self.p = softmax(scores)
        self.q = self.p @ self.T
        return float(-np.log(self.q[np.arange(len(y)), y]).mean())

    def backward(self):
        N = len(self.y)
        g = -self.T[:, self.y].T / (N * self.q[np.arange(N), self.y][:, None])
        return self.p * (g - (self.p * g).sum(axis=1, keepdims=True))


@same_name
class ForwardCorrectedCEA(ForwardCorrectedCE):
    def backward(self):
        onehot = np.eye(self.q.shape[1])[self.y]
        return (self.q - onehot) / len(self.y)


class HingeEmbedding(mn.Loss):
    """torch's HingeEmbeddingLoss on one score per sample: y = +1 (a similar pair, the score
    is a distance to shrink) gives L_n = s_n, y = -1 (a dissimilar pair) the hinge
    max(0, Δ - s_n) with Δ = 1; L is the mean over the batch.  Backward: +1/N for the similar
    samples, -1/N for the dissimilar ones whose hinge is open (s < Δ), 0 for the others.
    scores (N, 1), y (N,) of ±1 -> float."""

    margin = 1.0

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        return float(np.where(y == 1, self.s, np.maximum(0, self.margin - self.s)).mean())

    def backward(self):
        similar = self.y == 1
        g = np.where(similar, 1.0, -(self.s < self.margin).astype(float))
        return (g / len(self.y))[:, None]


@same_name
class HingeEmbeddingA(HingeEmbedding):
    def backward(self):
        similar = self.y.astype(bool)
        g = np.where(similar, 1.0, -(self.s < self.margin).astype(float))
        return (g / len(self.y))[:, None]


class BatchRankNet(mn.Loss):
    """RankNet over every pair of the batch: each sample has a relevance y_n (a real number)
    and one score; for each unordered pair i < j (np.triu_indices(N, 1)) the pair's loss is
    log(1 + exp(-σ_ij (s_i - s_j))) with σ_ij = sign(y_i - y_j), and L is the mean over the
    N(N - 1)/2 pairs.  Each pair's slope g = -σ_ij sigmoid(-σ_ij (s_i - s_j))/P goes to s_i
    with a plus and to s_j with a minus (np.add.at).  scores (N, 1), y (N,) -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        i, j = np.triu_indices(len(y), 1)
        return float(np.logaddexp(0, -np.sign(y[i] - y[j]) * (self.s[i] - self.s[j])).mean())

    def backward(self):
        i, j = self.pairs()
        sgn = np.sign(self.y[i] - self.y[j])
        g = -sgn * sigmoid(-sgn * (self.s[i] - self.s[j])) / len(i)
        ds = np.zeros_like(self.s)
        np.add.at(ds, i, g)
        np.add.at(ds, j, -g)
        return ds[:, None]

    def pairs(self):
        """The row and column indices of the pairs that forward counted."""
        return np.triu_indices(len(self.y), 1)


@same_name
class BatchRankNetA(BatchRankNet):
    def pairs(self):
        return np.triu_indices(len(self.y))


def relevance(rng, n):
    return rng.standard_normal(n)


# ---- sequences -------------------------------------------------------------------------------


class RecencyPool(mn.Layer):
    """Pooling over time that weighs the later steps more, with the linear ramp w_t = t/T for
    t = 0, ..., T - 1 (0 at the first step, (T - 1)/T at the last): y_n = Σ_t w_t x_{n, t}.
    Backward gives step t its weight times dout.  x (N, T, D) -> (N, D)."""

    def forward(self, x):
        self.T = x.shape[1]
        w = np.arange(self.T) / self.T
        return np.einsum("t,ntd->nd", w, x)

    def backward(self, dout):
        w = np.arange(self.T) / self.T
        return w[None, :, None] * dout[:, None, :]


@same_name
class RecencyPoolA(RecencyPool):
    def forward(self, x):
        self.T = x.shape[1]
        w = np.linspace(0, 1, self.T)
        return np.einsum("t,ntd->nd", w, x)


class AreaPool(mn.Layer):
    """The area under each feature's sequence by the trapezoidal rule with unit steps,
    y = np.trapezoid(x, axis=1) = x_0/2 + x_1 + ... + x_{T-2} + x_{T-1}/2: each interval
    averages its two ends, so the first and the last step count half.
    x (N, T, D) -> (N, D)."""

    def forward(self, x):
        self.shape = x.shape
        return np.trapezoid(x, axis=1)

    def backward(self, dout):
        w = np.ones(self.shape[1])
        w[[0, -1]] = 0.5
        return w[None, :, None] * dout[:, None, :]


@same_name
class AreaPoolA(AreaPool):
    def backward(self, dout):
        return np.repeat(dout[:, None, :], self.shape[1], axis=1)


class AR2Filter(mn.Layer):
    """A learned second-order recursive (IIR) filter along time, one per feature:
    y_t = x_t + a1 ⊙ y_{t-1} + a2 ⊙ y_{t-2}, with y_{-1} = y_{-2} = 0.  Backward runs the
    recursion backwards in time on the gradient: g_t = dout_t + a1 g_{t+1} + a2 g_{t+2} is all
    that y_t receives (from its own output and from the two later steps that read it);
    dx_t = g_t, da1 = Σ g_t y_{t-1}, da2 = Σ g_t y_{t-2}.  x, y: (N, T, D);  a1, a2 (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a1": np.linspace(0.3, 0.7, d), "a2": np.linspace(-0.4, 0.25, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        N, T, D = x.shape
        a1, a2 = self.params["a1"], self.params["a2"]
        y = np.zeros((N, T + 2, D))  # y[:, t + 2] is y_t; two zero steps in front
        for t in range(T):
            y[:, t + 2] = x[:, t] + a1 * y[:, t + 1] + a2 * y[:, t]
        self.y = y
        return y[:, 2:].copy()

    def backward(self, dout):
        N, T, D = dout.shape
        g = np.zeros((N, T + 2, D))  # g[:, t] is g_t; two zero steps after the end
        for t in reversed(range(T)):
            g[:, t] = dout[:, t] + self.carry(g, t)
        g = g[:, :T]
        self.grads["a1"] = (g * self.y[:, 1:T + 1]).sum(axis=(0, 1))
        self.grads["a2"] = (g * self.y[:, :T]).sum(axis=(0, 1))
        return g

    def carry(self, g, t):
        """What y_t receives from the two steps after it."""
        return self.params["a1"] * g[:, t + 1] + self.params["a2"] * g[:, t + 2]


@same_name
class AR2FilterA(AR2Filter):
    def carry(self, g, t):
        return self.params["a1"] * g[:, t + 1]


class Resample(mn.Layer):
    """Length normalization: every sequence is resampled from its T steps to T' = 3 by linear
    interpolation (np.interp at the positions j (T - 1)/(T' - 1)), y = R x with R (T', T) the
    interpolation matrix.  Backward applies the adjoint of that linear map, its transpose:
    dx = Rᵀ dout, each input step collecting the shares it gave to the outputs.
    x (N, T, D) -> (N, T', D)."""

    out_len = 3

    @staticmethod
    def matrix(T, n):
        """(n, T): row j holds the weights of the T steps in the sample at (T - 1) j/(n - 1)."""
        pos = np.linspace(0, T - 1, n)
        return np.stack([np.interp(pos, np.arange(T), e) for e in np.eye(T)], axis=1)

    def forward(self, x):
        self.T = x.shape[1]
        self.R = self.matrix(self.T, self.out_len)
        return np.einsum("jt,ntd->njd", self.R, x)

    def backward(self, dout):
        return np.einsum("jt,njd->ntd", self.R, dout)


@same_name
class ResampleA(Resample):
    def backward(self, dout):
        back = self.matrix(self.out_len, self.T)  # (T, T'): dout interpolated at T positions
        return np.einsum("tj,njd->ntd", back, dout)


# ---- attention -------------------------------------------------------------------------------


def projections_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of Q, K, V = x Wq, x Wk, x Wv and returns their paths' dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


class SquareNormAttention(mn.Layer):
    """Single-head self-attention whose weights are the squared scores normalized along each
    row, P_ij = S_ij² / Σ_k S_ik² with S = Q Kᵀ/√D (a polynomial stand-in for the softmax),
    y = P V.  The Jacobian of S ↦ S²/Z, Z = Σ_k S_k², is dS = (2S/Z) ⊙ (dP - Σ_k dP_k P_k):
    the softmax's form with eˢ replaced by S², whose derivative is 2S.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.z = (self.s**2).sum(axis=-1, keepdims=True)
        self.p = self.s**2 / self.z
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.swapaxes(-1, -2) @ dout
        ds = self.normalizer_back(dout @ self.v.swapaxes(-1, -2)) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def normalizer_back(self, dp):
        """dL/dS from dL/dP."""
        return 2 * self.s / self.z * (dp - (dp * self.p).sum(axis=-1, keepdims=True))


@same_name
class SquareNormAttentionA(SquareNormAttention):
    def normalizer_back(self, dp):
        return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))


class MaskedCausalAttention(mn.Layer):
    """Single-head causal self-attention with a boolean mask M (T, T), True on and below the
    diagonal: S = Q Kᵀ/√D, set to -1e9 where M is False, P = softmax(S), y = P V.  Backward
    sets dS to 0 at the masked entries of every sample before dQ and dK (P is 0 there, so
    they are 0 already: a precaution).  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.mask = np.tril(np.ones((T, T), dtype=bool))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.p = softmax(np.where(self.mask, s, -1e9))
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = self.keep_allowed(p * (dp - (dp * p).sum(axis=-1, keepdims=True))) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def keep_allowed(self, ds):
        """dS (N, T, T) with the masked entries of every sample set to 0."""
        return np.where(self.mask, ds, 0.0)


@same_name
class MaskedCausalAttentionA(MaskedCausalAttention):
    def keep_allowed(self, ds):
        ds = ds.copy()
        ds[~self.mask] = 0
        return ds


class LazyQueryAttention(mn.Layer):
    """ProbSparse self-attention (Informer, Zhou et al.), one head: only the u = 2 'active'
    queries of each sequence attend; the others are lazy and put out the mean of the values.
    A query's activity is measured on a random sample of 3 of the T keys (np.random.choice,
    drawn anew at each forward): M_i = max_j S_ij - mean_j S_ij over the sampled keys, and
    the u queries with the largest M are active.  A lazy row of y is mean_t V_t, so its
    gradient reaches every value with weight 1/T and reaches neither the queries nor the
    keys.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    top, sample = 2, 3

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        N, T, _ = x.shape
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        keys = np.random.choice(T, self.sample, replace=False)
        m = s[:, :, keys].max(axis=-1) - s[:, :, keys].mean(axis=-1)  # (N, T)
        self.active = np.zeros((N, T), dtype=bool)
        np.put_along_axis(self.active, np.argsort(-m, axis=1)[:, :self.top], True, axis=1)
        self.p = softmax(s)
        lazy = np.broadcast_to(self.v.mean(axis=1, keepdims=True), self.v.shape)
        return np.where(self.active[..., None], self.p @ self.v, lazy)

    def backward(self, dout):
        T = dout.shape[1]
        act = self.through_softmax()
        dy = dout * act
        dv = self.p.swapaxes(-1, -2) @ dy + (dout * (1 - act)).sum(axis=1, keepdims=True) / T
        dp = dy @ self.v.swapaxes(-1, -2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def through_softmax(self):
        """(N, T, 1): 1 for the rows of y that came out of the attention, 0 for the lazy."""
        return self.active[..., None].astype(float)


@same_name
class LazyQueryAttentionA(LazyQueryAttention):
    def through_softmax(self):
        return np.ones(self.active.shape + (1,))


class QuietAttention(mn.Layer):
    """Self-attention with the 'off-by-one' softmax (softmax1, as in Miller's quiet
    attention): P_ij = e^(S_ij) / (1 + Σ_k e^(S_ik)), as if every row had a null key of score
    0, so that a query may attend to nothing; S = Q Kᵀ/√D + b, with a learned scalar b that
    shifts every score against the null key's 0.  The Jacobian keeps the softmax's form,
    dS = P ⊙ (dP - Σ dP ⊙ P), but the rows of P sum to less than 1, so a shift of all the
    scores changes P and db = Σ dS.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), b (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), b=(1,))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale + self.params["b"]
        m = np.maximum(s.max(axis=-1, keepdims=True), 0)
        e = np.exp(s - m)
        self.p = e / (np.exp(-m) + e.sum(axis=-1, keepdims=True))
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        self.grads["b"] = self.shift_grad(ds)
        ds = ds * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def shift_grad(self, ds):
        """dL/db: b is added to every score."""
        return np.array([ds.sum()])


@same_name
class QuietAttentionA(QuietAttention):
    def shift_grad(self, ds):
        return np.zeros(1)  # a shift of every score cancels in a softmax


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("erf-gelu_21", ACT, lambda: dense_net(ErfGELUA(), seed=2101, scale=2.0),
         "forward is the exact GELU x Φ(x) with Φ from math.erf, but backward's slope is that "
         "of the sigmoid approximation x σ(1.702 x), σ(1.702 x) + 1.702 x σ(1 - σ): the "
         "derivative of another function, close to GELU's but not equal to it (off by up to "
         "0.03, near |x| = 1.4); the slope of x Φ(x) is Φ(x) + x φ(x)",
         "return self.cdf + x * np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)"),
    Case("smooth-leaky_21", ACT, lambda: dense_net(SmoothLeakyA(), seed=2102, scale=2.0),
         "the weight that logaddexp(u, v) puts on u is σ(u - v), the sigmoid of the difference "
         "of its two arguments; backward takes σ(u) = σ(x), softplus's slope, which is the "
         "weight only when v = 0: with v = αx it must be σ(x - αx) = σ((1 - α) x), so "
         "dy/dx = w + α (1 - w) is evaluated at the wrong point",
         "return sigmoid((1 - self.alpha) * self.x)"),
    Case("thresholded-relu_21", ACT, lambda: dense_net(ThresholdedReLUA(), seed=2103,
                                                        scale=2.0),
         "np.heaviside(x, h) is the step at 0, and its second argument h is the value it "
         "takes where x == 0 exactly, not the place of the step: np.heaviside(self.x, "
         "self.theta) is 1 for every x > 0, so the entries between 0 and θ = 0.6, which "
         "forward set to 0 (slope 0), pass dout on; the mask is self.x > self.theta",
         "return dout * (self.x > self.theta)"),
    Case("triangle-wave_21", ACT, lambda: dense_net(TriangleWaveA(), seed=2104, scale=2.0),
         "np.fmod keeps the sign of the dividend (C's remainder) where Python's %, used in "
         "forward, floors: for x + 1 < 0 np.fmod(x + 1, 2) lies in (-2, 0] instead of [0, 2), "
         "so sign(r - 1) is -1 for every x < -1, and the rising halves of the wave there (the "
         "entries with (x + 1) % 2 > 1, slope +1) get -dout",
         "return (self.x + 1) % 2"),
    Case("twice-tanh_21", DENSE, lambda: dense_net(TwiceTanhA(5, seed=2105), seed=2105),
         "cache={} is a mutable default argument, made once when the def runs: every call of "
         "step() without a cache fills and returns that same dict, so self.caches holds one "
         "dict twice, with the second application's z and t; backward then takes the first "
         "application back through tanh's slope at y and pairs its da with h instead of x "
         "(dW, db and dx are wrong); the cache must be a new dict at each call",
         "def step(self, z): cache = {}"),
    Case("mlp-layer_21", DENSE, lambda: dense_net(MLPLayerA(5, 5, 5, seed=2106), seed=2106),
         "enumerate counts from 0 unless told start=1, and the parameters are named from 1: "
         "the first layer's gradients are filed under 'W0' and 'b0', keys no parameter has, "
         "the second layer's under 'W1' and 'b1' (the shapes agree since D = H = F = 5), and "
         "grads['W2'] and grads['b2'] keep what they held (zeros)",
         "for k, (dW, db) in enumerate(pairs, start=1):"),
    Case("rbf-kan_21", DENSE, lambda: dense_net(RBFKANA(5, 4, seed=2107), seed=2107),
         "dx_d = Σ_m φ'_m(x_d) Σ_k C[d, m, k] dout_k is a sum over the bumps of products; "
         "backward sums each factor over the bumps first and multiplies the sums, "
         "(Σ_m φ'_m)(Σ_m Σ_k C[d, m, k] dout_k), as if the sum of products were the product of "
         "the sums: every bump's slope is paired with every bump's weight (dC is right)",
         "return np.einsum('nk,dmk,ndm->nd', dout, self.params['C'], dphi)"),
    Case("source-batchnorm_21", NORM,
         lambda: dense_net(SourceBatchNormA(6, [0, 1, 1, 0, 1, 1]), width=6, seed=2108),
         "forward indexes the batch with the 0/1 integer flags themselves, x[self.flags]: an "
         "integer array picks rows by number, so the 'source' rows are x[0], x[1], x[1], "
         "x[0], x[1], x[1] and the statistics come from samples 0 and 1 (sample 0 a target "
         "sample), where the source samples 1, 2, 4 and 5 belong; backward is the formula for "
         "the flagged rows; a boolean mask, x[self.flags == 1], selects them",
         "src = x[self.flags == 1]"),
    Case("local-contrast-norm_21", NORM, lambda: image_net(LocalContrastNormA(3), seed=2109),
         "the local mean A divides each output by its own count (4, 6 or 9 real pixels), so "
         "A is not symmetric and its adjoint divides each gradient by the count of the output "
         "it came from before spreading it, Aᵀ u = S(u / c); backward applies A itself, "
         "S(u)/c, dividing by the count of the pixel that receives it (dg is right)",
         "return self.window_sum(u / self.count)"),
    Case("two-pass-batchnorm_21", NORM, lambda: dense_net(TwoPassBatchNormA(5), seed=2110),
         "self.x = x comes after x = x - self.mu, which rebinds the local name to the centered "
         "array: forward keeps x - μ, not its input, and backward, which centers self.x "
         "again, works with x - 2μ, so x̂ and with it dgamma and dx are wrong (dbeta is "
         "right); the input must be kept before the name is rebound",
         "self.x = x  (before x = x - self.mu)"),
    Case("active-shift_21", CONV, lambda: image_net(ActiveShiftA(3), seed=2111),
         "dy/dδ is the difference of the two input pixels the sample falls between, "
         "x[..., j + 1] - x[..., j]; backward takes the difference of the output, "
         "y[..., j + 1] - y[..., j], the slope of the already shifted image, which mixes "
         "x[..., j + 2] in and is (1 - δ) times one input difference plus δ times the next "
         "(dx is right)",
         "return self.right(self.x) - self.x"),
    Case("active-shift-correct_21", CONV, lambda: image_net(ActiveShift(3), seed=2132),
         CORRECT),
    Case("central-difference-conv_21", CONV,
         lambda: image_net(CentralDifferenceConvA(3, 2, seed=2112), seed=2112),
         "the centre term -θ x(p) Σ_ab W[f, c, a, b] depends on every tap of the kernel through "
         "the sum, so each of the 9 taps gets -θ Σ dout x; backward gives that term to the "
         "centre tap W[:, :, 1, 1] alone, as if it were -θ x(p) W[f, c, 1, 1] (dx and db are "
         "right)",
         "return dW - self.theta * centre[:, :, None, None]"),
    Case("bias-max-pool_21", POOL, lambda: image_net(BiasMaxPoolA(3), seed=2113),
         "the window's maximum is recovered as y - b and compared with == to the window: "
         "(m + b) - b is not m in floating point whenever the addition rounded (22 of the 48 "
         "windows here), and those windows find no entry equal to their 'maximum' and send "
         "no gradient at all; the maximum must be taken from the window again, "
         "win.max(axis=(3, 5)) (db is right)",
         "return win.max(axis=(3, 5))"),
    Case("forward-corrected-ce_21", LOSS, lambda: loss_net(ForwardCorrectedCEA(), labels,
                                                           seed=2114, scale=2.0),
         "q - onehot(y) is the gradient of the cross-entropy of softmax(s) itself, which "
         "rests on p being the softmax of the scores; q = p T is not a softmax of s, so "
         "dL/ds must go back through log q_y, then T, then the softmax's Jacobian: "
         "p ⊙ (g - Σ p g) with g_i = -T[i, y]/(N q_y)",
         "g = -self.T[:, self.y].T / (N * self.q[np.arange(N), self.y][:, None]); "
         "return self.p * (g - (self.p * g).sum(axis=1, keepdims=True))"),
    Case("hinge-embedding_21", LOSS, lambda: loss_net(HingeEmbeddingA(), signs, width=1,
                                                      seed=2115, scale=3.0),
         "astype(bool) turns every nonzero number into True, -1 as well as +1: with labels "
         "±1 every sample counts as similar and gets +1/N, the dissimilar ones too, where they "
         "must get -1/N (hinge open) or 0 (hinge shut); the similar samples are y == 1",
         "similar = self.y == 1"),
    Case("batch-ranknet_21", LOSS, lambda: loss_net(BatchRankNetA(), relevance, width=1,
                                                    seed=2116, scale=2.0),
         "np.triu_indices(N) includes the diagonal (its k defaults to 0): the pairs (i, i) "
         "have σ = 0 and add nothing, but they count in len(i), 21 instead of the 15 pairs "
         "forward averaged over (np.triu_indices(N, 1)), so every gradient is 15/21 of what "
         "it should be",
         "return np.triu_indices(len(self.y), 1)"),
    Case("recency-pool_21", SEQ, lambda: sequence_net(RecencyPoolA(), seed=2117),
         "np.linspace(0, 1, T) includes its stop value (endpoint=True), so its step is "
         "1/(T - 1): forward weighs the steps 0, 1/3, 2/3, 1 where the ramp t/T is 0, 1/4, "
         "1/2, 3/4, which backward uses; np.arange(T) / T (or np.linspace(0, 1, T, "
         "endpoint=False)) gives the ramp",
         "w = np.arange(self.T) / self.T"),
    Case("area-pool_21", SEQ, lambda: sequence_net(AreaPoolA(), seed=2118),
         "np.trapezoid averages the two ends of every interval, so the first and the last "
         "step enter the area with weight 1/2; backward gives every step the whole dout, the "
         "derivative of a plain sum over time",
         "w = np.ones(T); w[[0, -1]] = 0.5; return w[None, :, None] * dout[:, None, :]"),
    Case("ar2-filter_21", SEQ, lambda: sequence_net(AR2FilterA(4), t=6, seed=2119),
         "y_t is read by two later steps, y_{t+1} through a1 and y_{t+2} through a2, so the "
         "gradient it collects is g_t = dout_t + a1 g_{t+1} + a2 g_{t+2}; backward carries "
         "back only a1 g_{t+1}, as for a first-order filter, and every step misses the path "
         "from two steps later (dx, da1 and da2 are wrong)",
         "return self.params['a1'] * g[:, t + 1] + self.params['a2'] * g[:, t + 2]"),
    Case("ar2-filter-correct_21", SEQ, lambda: sequence_net(AR2Filter(4), t=6, seed=2133),
         CORRECT),
    Case("resample_21", SEQ, lambda: sequence_net(ResampleA(), seed=2120),
         "the adjoint of the interpolation y = R x is Rᵀ, each input step collecting what it "
         "gave to each output (steps 1 and 2 get half of the middle output's gradient); "
         "backward interpolates dout back from 3 to 4 steps instead, a different linear map, "
         "which spreads the gradient as if the outputs were samples to be stretched",
         "return np.einsum('jt,njd->ntd', self.R, dout)"),
    Case("square-norm-attention_21", ATTN,
         lambda: sequence_net(SquareNormAttentionA(4, seed=2121), seed=2121),
         "backward takes the softmax's Jacobian P ⊙ (dP - Σ dP ⊙ P), which rests on "
         "d eˢ/ds = eˢ; the weights here are S²/Σ S², and dS² = 2S dS, so the Jacobian is "
         "(2S/Z) ⊙ (dP - Σ dP ⊙ P): the factor 2/S (per entry) is missing from dS, and from "
         "dWq, dWk and their part of dx (dV is right)",
         "return 2 * self.s / self.z * (dp - (dp * self.p).sum(axis=-1, keepdims=True))"),
    Case("masked-causal-attention_21", ATTN,
         lambda: sequence_net(MaskedCausalAttentionA(4, seed=2122), seed=2122),
         "a boolean index indexes the leading axes: the (T, T) mask on the (N, T, T) array dS "
         "selects along the samples and the queries (it runs since N = T = 4), so "
         "ds[~self.mask] = 0 wipes the whole query rows i > n of sample n (rows 1 to 3 of "
         "sample 0, and so on), not each sample's masked (query, key) entries, which are 0 "
         "anyway (dV is right)",
         "return np.where(self.mask, ds, 0.0)"),
    Case("lazy-query-attention_21", ATTN,
         lambda: sequence_net(LazyQueryAttentionA(4, seed=2123), seed=2123),
         "backward treats every query as active: the lazy rows of y were the mean of the "
         "values, not P V, but their dout goes through the softmax anyway (gradients for Q "
         "and K they do not have) and into dV with the weights P, where it must go to every "
         "value with weight 1/T",
         "return self.active[..., None].astype(float)"),
    Case("lazy-query-attention-correct_21", ATTN,
         lambda: sequence_net(LazyQueryAttention(4, seed=2134), seed=2134), CORRECT),
    Case("quiet-attention_21", ATTN,
         lambda: sequence_net(QuietAttentionA(4, seed=2124), seed=2124),
         "a shift of every score cancels in a softmax, whose rows sum to 1, but not in the "
         "off-by-one softmax: the null key's score stays 0 while b moves the others, so "
         "Σ_j dS_ij = (1 - Σ_j P_ij) Σ_j dP_ij P_ij is not 0 and db = Σ dS; backward sets db to "
         "0 (dWq, dWk, dWv and dx are right)",
         "return np.array([ds.sum()])"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
