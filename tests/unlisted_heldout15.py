"""The fifteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the fourteenth held-out set was used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
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
    NORM,
    POOL,
    SEQ,
    Case,
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

import minnet as mn

# ---- activations -----------------------------------------------------------------------------


class TanhReLU(mn.Layer):
    """A ReLU whose negative side saturates: y = x where x > 0, tanh(x) elsewhere.
    dy/dx = 1 where x > 0, 1 - tanh²(x) elsewhere (both 1 at 0).  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.t = x, np.tanh(x)
        return np.where(x > 0, x, self.t)

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, 1 - self.t**2)


@same_name
class TanhReLUA(TanhReLU):
    def backward(self, dout):
        return dout * np.where(self.x > 0, 1 - self.t**2, 1.0)


class TwoSlopePReLU(mn.Layer):
    """A PReLU with a learned slope on each side, per feature: y = a x where x > 0, b x
    elsewhere.  da = Σ_n dout x [x > 0], db = Σ_n dout x [x <= 0], dx = dout (a [x > 0] +
    b [x <= 0]).  The side of each entry is kept as a 0/1 int8 array (a byte an entry).
    x, y: (N, D);  a, b (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a": np.linspace(0.8, 1.3, d), "b": np.linspace(0.1, 0.45, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        self.pos = (x > 0).astype(np.int8)
        return x * np.where(self.pos, self.params["a"], self.params["b"])

    def backward(self, dout):
        pos, neg = self.pos, self.negative()
        self.grads["a"] = (dout * self.x * pos).sum(axis=0)
        self.grads["b"] = (dout * self.x * neg).sum(axis=0)
        return dout * (self.params["a"] * pos + self.params["b"] * neg)

    def negative(self):
        """1 where x <= 0, 0 elsewhere."""
        return 1 - self.pos


@same_name
class TwoSlopePReLUA(TwoSlopePReLU):
    def negative(self):
        return ~self.pos


class LeakyTanh(mn.Layer):
    """A tanh that never saturates: y = tanh(x) + α x, α = 0.1.
    dy/dx = 1 - tanh²(x) + α, the square of tanh(x).  x, y: (N, D)."""

    alpha = 0.1

    def forward(self, x):
        self.x = x
        return np.tanh(x) + self.alpha * x

    def backward(self, dout):
        return dout * (1 - np.tanh(self.x) ** 2 + self.alpha)


@same_name
class LeakyTanhA(LeakyTanh):
    def backward(self, dout):
        return dout * (1 - np.tanh(self.x**2) + self.alpha)


class ThresholdReLU(mn.Layer):
    """A ReLU with a learned threshold per feature: y = max(x - t, 0).  The slope of max(u, 0)
    is 1 where u > 0 and 0 elsewhere: dx = dout [x > t], dt = -Σ_n dout [x > t].
    x, y: (N, D);  t (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"t": np.linspace(-0.6, 0.4, d)}
        self.grads = {"t": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return np.maximum(x - self.params["t"], 0)

    def backward(self, dout):
        on = self.slope()
        self.grads["t"] = -(dout * on).sum(axis=0)
        return dout * on

    def slope(self):
        """d max(x - t, 0) / dx, entry by entry."""
        return (self.x > self.params["t"]).astype(float)


@same_name
class ThresholdReLUA(ThresholdReLU):
    def slope(self):
        return np.sign(self.x - self.params["t"])


# ---- dense-like ------------------------------------------------------------------------------


class PreBiasLinear(mn.Dense):
    """minnet's Dense with a second, learned bias subtracted from the input first (the pre-bias
    of a sparse autoencoder's encoder): y = (x - p) W + b.  p reaches y through W:
    dp = -Σ_n dout Wᵀ, while db = Σ_n dout;  dW = (x - p)ᵀ dout, dx = dout Wᵀ.
    x (N, D) -> (N, F);  W (D, F), p (D,), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__(d, f, init="xavier", seed=seed)
        self.params["pre"] = np.random.default_rng(seed + 1).standard_normal(d) * 0.5
        self.grads["pre"] = np.zeros(d)

    def forward(self, x):
        self.xc = x - self.params["pre"]
        return self.xc @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.xc.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        dx = dout @ self.params["W"].T
        self.grads["pre"] = self.pre_grad(dout, dx)
        return dx

    def pre_grad(self, dout, dx):
        """dp: p is subtracted from x before W, so its gradient is minus x's, summed."""
        return -dx.sum(axis=0)


@same_name
class PreBiasLinearA(PreBiasLinear):
    def pre_grad(self, dout, dx):
        return -dout.sum(axis=0)


class Top1MoE(mn.Layer):
    """A mixture of K = 3 linear experts with top-1 routing (Switch Transformer): the gate
    g = softmax(x Wg) picks k* = argmax g for each sample, and only that expert runs:
    y_n = g[n, k*] (x_n We[k*] + be[k*]).  Expert k's weights get gradient from the samples
    routed to it alone: dWe[k] = Σ_{n: k* = k} x_nᵀ (g[n, k*] dout_n).  The gate gets
    dout·e at k* through the softmax.  x (N, D) -> (N, F);  We (K, D, F), be (K, F), Wg (D, K)."""

    experts = 3

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, We=(self.experts, d, f), be=(self.experts, f),
                    Wg=(d, self.experts))

    def forward(self, x):
        P = self.params
        self.x = x
        self.g = softmax(x @ P["Wg"])
        self.k = self.g.argmax(axis=1)
        self.gk = self.g[np.arange(x.shape[0]), self.k]
        self.e = np.einsum("nd,ndf->nf", x, P["We"][self.k]) + P["be"][self.k]
        return self.gk[:, None] * self.e

    def backward(self, dout):
        P, N = self.params, dout.shape[0]
        de = dout * self.gk[:, None]
        self.grads["We"], self.grads["be"] = self.expert_grads(de, dout)
        dg = np.zeros_like(self.g)
        dg[np.arange(N), self.k] = (dout * self.e).sum(axis=1)
        dz = self.g * (dg - (dg * self.g).sum(axis=1, keepdims=True))
        self.grads["Wg"] = self.x.T @ dz
        return np.einsum("nf,ndf->nd", de, P["We"][self.k]) + dz @ P["Wg"].T

    def expert_grads(self, de, dout):
        """(dWe, dbe): each sample's de goes to its routed expert only."""
        routed = np.eye(self.experts)[self.k]  # (N, K)
        return np.einsum("nk,nd,nf->kdf", routed, self.x, de), routed.T @ de


@same_name
class Top1MoEA(Top1MoE):
    def expert_grads(self, de, dout):
        return np.einsum("nk,nd,nf->kdf", self.g, self.x, dout), self.g.T @ dout


class InverseLinear(mn.Layer):
    """The inverse pass of an invertible linear flow step (Glow's 1×1 convolution run
    backwards): y = x A⁻¹ + b.  With B = A⁻¹ and dB = xᵀ dout, d(A⁻¹) = -A⁻¹ dA A⁻¹ gives
    dA = -Bᵀ dB Bᵀ, one Bᵀ on each side;  dx = dout Bᵀ, db = Σ_n dout.
    x (N, D) -> (N, D);  A (D, D) (near the identity, far from singular), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"A": np.eye(d) + 0.3 * rng.standard_normal((d, d)),
                       "b": 0.2 * rng.standard_normal(d)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x, self.B = x, np.linalg.inv(self.params["A"])
        return x @ self.B + self.params["b"]

    def backward(self, dout):
        self.grads["A"] = self.inverse_back(self.x.T @ dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.B.T

    def inverse_back(self, dB):
        """dA from dB, B = A⁻¹."""
        return -self.B.T @ dB @ self.B.T


@same_name
class InverseLinearA(InverseLinear):
    def inverse_back(self, dB):
        return -self.B.T @ self.B.T @ dB


# ---- normalization ---------------------------------------------------------------------------


class ChannelLayerNorm(mn.Layer):
    """ConvNeXt's LayerNorm2d: each pixel's C channels standardized over the channels, then
    gamma x̂ + beta per channel.  dgamma = Σ dout ⊙ x̂, dbeta = Σ dout (over samples and
    pixels); dx = (dx̂ - mean_c dx̂ - x̂ mean_c(dx̂ ⊙ x̂)) / σ with dx̂ = dout gamma.
    x, y: (N, C, H, W);  gamma, beta (C,)."""

    eps = 1e-5

    def __init__(self, c):
        super().__init__()
        self.params = {"gamma": np.linspace(0.6, 1.4, c), "beta": np.linspace(-0.3, 0.3, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    def forward(self, x):
        mu = x.mean(axis=1, keepdims=True)
        self.std = np.sqrt(x.var(axis=1, keepdims=True) + self.eps)
        self.xhat = (x - mu) / self.std
        gamma, beta = self.params["gamma"], self.params["beta"]
        return gamma[:, None, None] * self.xhat + beta[:, None, None]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        dxhat, xhat = dout * self.params["gamma"][:, None, None], self.xhat
        return (dxhat - dxhat.mean(axis=1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / self.std


@same_name
class ChannelLayerNormA(ChannelLayerNorm):
    def backward(self, dout):
        self.grads["beta"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        self.grads["gamma"] = dout.sum(axis=(0, 2, 3))
        dxhat, xhat = dout * self.params["gamma"][:, None, None], self.xhat
        return (dxhat - dxhat.mean(axis=1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / self.std


class TimeRMSNorm(mn.Layer):
    """Each feature of each sequence divided by its root mean square over the T steps, then a
    gain per feature: r = √(mean_t x² + eps), x̂ = x / r, y = g x̂.  dr/dx_t = x_t / (T r), so
    dx = (dx̂ - x̂ mean_t(dx̂ ⊙ x̂)) / r, each entry with its own x̂;  dg = Σ_{n,t} dout ⊙ x̂.
    x, y: (N, T, D);  g (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"g": np.linspace(0.7, 1.3, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        self.r = np.sqrt((x**2).mean(axis=1, keepdims=True) + self.eps)
        self.xhat = x / self.r
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=(0, 1))
        dxhat = dout * self.params["g"]
        return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r


@same_name
class TimeRMSNormA(TimeRMSNorm):
    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=(0, 1))
        dxhat = dout * self.params["g"]
        return (dxhat - self.xhat.mean(axis=1, keepdims=True)
                * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r


class TwoDeviceBatchNorm(mn.Layer):
    """Batch norm with its statistics averaged over two devices, each holding half the batch:
    μ = the mean of the halves' means (the whole batch's mean), var = the mean of the halves'
    variances, each about its own half's mean μ_h.  x̂ = (x - μ) / σ, y = gamma x̂ + beta.
    Sample n moves var by 2 (x_n - μ_h(n)) / N, so with ĥ = (x - μ_h) / σ:
    dx = (dx̂ - mean_n dx̂ - ĥ mean_n(dx̂ ⊙ x̂)) / σ.  x, y: (N, D), N even;  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        half = x.shape[0] // 2
        parts = (x[:half], x[half:])
        mu = x.mean(axis=0)
        var = (parts[0].var(axis=0) + parts[1].var(axis=0)) / 2
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        self.hhat = np.concatenate([p - p.mean(axis=0) for p in parts]) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        return (dxhat - dxhat.mean(axis=0)
                - self.spread() * (dxhat * self.xhat).mean(axis=0)) / self.std

    def spread(self):
        """How far each sample sits from the mean its variance was taken about, over σ."""
        return self.hhat


@same_name
class TwoDeviceBatchNormA(TwoDeviceBatchNorm):
    def spread(self):
        return self.xhat


# ---- convolution and pooling -----------------------------------------------------------------


class CoordConv(mn.Layer):
    """CoordConv (Liu et al.): two constant channels, the row and the column coordinate scaled
    to [-1, 1], appended after x's C channels, then a 3×3 convolution, stride 1, padding 1,
    over all C + 2.  The weights on the coordinate channels multiply those constants and get a
    gradient like any other: dW[:, C:] = Σ window(coords) dout.  dx keeps the first C channels
    of the padded gradient.  x (N, C, H, W) -> (N, F, H, W);  W (F, C + 2, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        self.channels = c
        with_params(self, seed, W=(f, c + 2, 3, 3), b=(f,))

    def forward(self, x):
        N, C, H, W = x.shape
        grid = np.stack(np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W),
                                    indexing="ij"))
        self.xp = pad(np.concatenate([x, np.broadcast_to(grid, (N, 2, H, W))], axis=1), 1)
        out = np.zeros((N, len(self.params["b"]), H, W))
        for i in range(H):
            for j in range(W):
                out[:, :, i, j] = np.einsum("nckl,fckl->nf", self.xp[:, :, i:i + 3, j:j + 3],
                                            self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]
                dW += self.weight_term(self.xp[:, :, i:i + 3, j:j + 3], g)
                dxp[:, :, i:i + 3, j:j + 3] += np.einsum("nf,fckl->nckl", g, self.params["W"])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :self.channels, 1:-1, 1:-1]

    def weight_term(self, window, g):
        """One output pixel's share of dW: its input window (all C + 2 channels) times g."""
        return np.einsum("nckl,nf->fckl", window, g)


@same_name
class CoordConvA(CoordConv):
    def weight_term(self, window, g):
        term = np.zeros_like(self.params["W"])
        C = self.channels
        term[:, :C] = np.einsum("nckl,nf->fckl", window[:, :C], g)
        return term


class SubgridMaxPool(mn.Layer):
    """2×2 max pooling, stride 2, written as the largest of the four sub-grids x[:, :, i::2,
    j::2]: an entry of a sub-grid gets dout where it beats all three others.
    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    offsets = ((0, 0), (0, 1), (1, 0), (1, 1))

    def forward(self, x):
        self.x_shape = x.shape
        self.parts = [x[:, :, i::2, j::2] for i, j in self.offsets]
        return np.maximum.reduce(self.parts)

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        for p, (i, j) in enumerate(self.offsets):
            others = [q for k, q in enumerate(self.parts) if k != p]
            dx[:, :, i::2, j::2] = dout * self.wins(self.parts[p], others)
        return dx

    def wins(self, part, others):
        """Where this sub-grid holds its window's maximum."""
        return (part > others[0]) & (part > others[1]) & (part > others[2])


@same_name
class SubgridMaxPoolA(SubgridMaxPool):
    def wins(self, part, others):
        return (part > others[0]) | (part > others[1]) | (part > others[2])


def blocks(a):
    """(N, C, H, W) -> (N, C, H/2, W/2, 4): each 2×2 window's entries, row by row."""
    N, C, H, W = a.shape
    return (a.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
            .reshape(N, C, H // 2, W // 2, 4))


def unblocks(b):
    """The inverse of blocks: (N, C, H/2, W/2, 4) -> (N, C, H, W)."""
    N, C, h, w, _ = b.shape
    return b.reshape(N, C, h, w, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, 2 * h, 2 * w)


class OWAPool(mn.Layer):
    """Ordered weighted average pooling (Forcen et al.) over 2×2 windows, stride 2: each
    window's entries sorted from the largest to the smallest, x_(0) >= ... >= x_(3), and
    y = Σ_r w_r x_(r) with learned rank weights w.  dw_r = Σ dout x_(r); the entry of rank r
    gets w_r dout.  x (N, C, H, W) -> (N, C, H/2, W/2);  w (4,)."""

    def __init__(self):
        super().__init__()
        self.params = {"w": np.array([0.45, 0.3, 0.15, 0.1])}
        self.grads = {"w": np.zeros(4)}

    def forward(self, x):
        self.win = blocks(x)
        ranked = np.take_along_axis(self.win, np.argsort(-self.win, axis=-1), axis=-1)
        return ranked @ self.params["w"]

    def backward(self, dout):
        order = self.ranking()
        ranked = np.take_along_axis(self.win, order, axis=-1)
        self.grads["w"] = np.einsum("nchwr,nchw->r", ranked, dout)
        dwin = np.zeros_like(self.win)
        np.put_along_axis(dwin, order, dout[..., None] * self.params["w"], axis=-1)
        return unblocks(dwin)

    def ranking(self):
        """Each window's positions from its largest entry to its smallest, as forward sorted."""
        return np.argsort(-self.win, axis=-1)


@same_name
class OWAPoolA(OWAPool):
    def ranking(self):
        return np.argsort(self.win, axis=-1)


# ---- losses ----------------------------------------------------------------------------------


class SoftmaxMAE(mn.Loss):
    """The mean absolute error between softmax(s) and the one-hot target, a cross-entropy
    robust to noisy labels (Ghosh et al.): L = mean_n Σ_c |p_c - onehot_c| = mean_n 2 (1 - p_y),
    dL/ds = -2 p_y (onehot - p) / N.  scores (N, C);  y (N, 1): the labels in a column, as
    read from a file."""

    def forward(self, scores, y):
        self.p, self.y = softmax(scores), y
        self.py = self.p[np.arange(len(y)), y[:, 0]]
        return float(np.mean(2 * (1 - self.py)))

    def backward(self):
        N = len(self.y)
        onehot = np.zeros_like(self.p)
        onehot[np.arange(N), self.labels()] = 1
        return -2 * self.py[:, None] * (onehot - self.p) / N

    def labels(self):
        """One label per row, for the fancy index next to np.arange(N)."""
        return self.y[:, 0]


@same_name
class SoftmaxMAEA(SoftmaxMAE):
    def labels(self):
        return self.y


def label_column(rng, n, classes=3):
    return rng.integers(0, classes, (n, 1))


class SigmoidL1(mn.Loss):
    """A soft 0/1 error: the mean absolute difference between the probability σ(s) and the
    0/1 target, L = mean |σ(s) - y|.  dL/ds = sign(σ(s) - y) σ(s) (1 - σ(s)) / N, and
    sign(σ(s) - y) is +1 for y = 0 and -1 for y = 1.  scores (N, 1), y (N,) in {0, 1}."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        self.p = sigmoid(self.s)
        return float(np.abs(self.p - y).mean())

    def backward(self):
        return (self.direction() * self.p * (1 - self.p) / len(self.y))[:, None]

    def direction(self):
        """The sign of the residual the loss takes the absolute value of."""
        return np.sign(self.p - self.y)


@same_name
class SigmoidL1A(SigmoidL1):
    def direction(self):
        return np.sign(self.s - self.y)


def bits(rng, n):
    return rng.integers(0, 2, n)


class SoftMarginLoss(mn.Loss):
    """The logistic loss on ±1 targets made from 0/1 labels: t = 2y - 1,
    L = mean log(1 + e^(-t s)), dL/ds = -t σ(-t s) / N = t (σ(t s) - 1) / N.  The labels come
    as uint8 (a segmentation mask's dtype).  scores (N, 1), y (N,) uint8 in {0, 1}."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        t = 2 * y.astype(float) - 1
        return float(np.logaddexp(0, -t * self.s).mean())

    def backward(self):
        t = self.signs()
        return (t * (sigmoid(t * self.s) - 1) / len(self.y))[:, None]

    def signs(self):
        """t = 2y - 1 in {-1, +1}."""
        return 2 * self.y.astype(float) - 1


@same_name
class SoftMarginLossA(SoftMarginLoss):
    def signs(self):
        return 2 * self.y - 1


def mask_bits(rng, n):
    return rng.integers(0, 2, n).astype(np.uint8)


# ---- sequences -------------------------------------------------------------------------------


class JordanRNN(mn.Layer):
    """A Jordan network: the previous output, not the hidden state, is fed back.
    h_t = tanh(x_t Wx + y_{t-1} Wy + b), y_t = h_t V, y_0 = 0.  Back through step t, the
    gradient reaching y_t is dout_t plus what step t + 1 sent back, g_t = da_{t+1} Wyᵀ: a new
    carry every step.  x (N, T, D) -> (N, T, O);  Wx (D, H), Wy (O, H), b (H,), V (H, O)."""

    def __init__(self, d, h, o, seed=0):
        super().__init__()
        with_params(self, seed, Wx=(d, h), Wy=(o, h), b=(h,), V=(h, o))

    def forward(self, x):
        P = self.params
        y = np.zeros((x.shape[0], P["V"].shape[1]))
        self.x, self.hs, self.ys = x, [], [y]
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ P["Wx"] + y @ P["Wy"] + P["b"])
            y = h @ P["V"]
            self.hs.append(h)
            self.ys.append(y)
        return np.stack(self.ys[1:], axis=1)

    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx = np.zeros_like(self.x)
        carry = np.zeros((dout.shape[0], P["V"].shape[1]))
        for t in reversed(range(self.x.shape[1])):
            dy = dout[:, t] + carry
            h = self.hs[t]
            self.grads["V"] += h.T @ dy
            da = (dy @ P["V"].T) * (1 - h**2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wy"] += self.ys[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            carry = da @ P["Wy"].T
        return dx


@same_name
class JordanRNNA(JordanRNN):
    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx = np.zeros_like(self.x)
        carry = np.zeros((dout.shape[0], P["V"].shape[1]))
        for t in reversed(range(self.x.shape[1])):
            dy = dout[:, t] + carry
            h = self.hs[t]
            self.grads["V"] += h.T @ dy
            da = (dy @ P["V"].T) * (1 - h**2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wy"] += self.ys[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            carry += da @ P["Wy"].T
        return dx


class SoftsignRNN(mn.Layer):
    """An RNN with the softsign as its nonlinearity: a_t = x_t Wx + h_{t-1} Wh + b,
    h_t = a_t / (1 + |a_t|), whose slope is 1 / (1 + |a_t|)² = (1 - |h_t|)²; h_0 = 0.
    BPTT visits the T = x.shape[1] steps from the last to the first.
    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        self.x = x
        self.h = np.zeros((N, T + 1, self.hidden))  # self.h[:, t + 1] is h_t
        for t in range(T):
            a = x[:, t] @ P["Wx"] + self.h[:, t] @ P["Wh"] + P["b"]
            self.h[:, t + 1] = a / (1 + np.abs(a))
        return self.h[:, 1:].copy()

    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx, dh = np.zeros_like(self.x), np.zeros((dout.shape[0], self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - np.abs(self.h[:, t + 1])) ** 2
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.h[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = da @ P["Wh"].T
        return dx


@same_name
class SoftsignRNNA(SoftsignRNN):
    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx, dh = np.zeros_like(self.x), np.zeros((dout.shape[0], self.hidden))
        for t in reversed(range(self.x.shape[0])):
            da = (dout[:, t] + dh) * (1 - np.abs(self.h[:, t + 1])) ** 2
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.h[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = da @ P["Wh"].T
        return dx


class SRU(mn.Layer):
    """The simple recurrent unit (Lei et al.), computed time-major as the paper's CUDA kernel
    does: the loops run over xt = x.transpose(1, 0, 2), (T, N, D).
    x̃_t = x_t W, f_t = σ(x_t Wf + bf), r_t = σ(x_t Wr + br), c_t = f_t c_{t-1} + (1 - f_t) x̃_t,
    h_t = r_t tanh(c_t) + (1 - r_t) x_t (a highway, so D = H), c_0 = 0.  The output and dx go
    back to (N, T, ·).  x (N, T, D) -> (N, T, D);  W, Wf, Wr (D, D), bf, br (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), Wf=(d, d), bf=(d,), Wr=(d, d), br=(d,))

    def forward(self, x):
        P = self.params
        xt = x.transpose(1, 0, 2)
        c = np.zeros(xt.shape[1:])
        self.cache, hs = [], []
        for t in range(xt.shape[0]):
            u = xt[t] @ P["W"]
            f = sigmoid(xt[t] @ P["Wf"] + P["bf"])
            r = sigmoid(xt[t] @ P["Wr"] + P["br"])
            c_new = f * c + (1 - f) * u
            self.cache.append((xt[t], u, f, r, c, c_new))
            c = c_new
            hs.append(r * np.tanh(c) + (1 - r) * xt[t])
        return np.stack(hs).transpose(1, 0, 2)

    def backward(self, dout):
        zero_grads(self)
        P = self.params
        d = dout.transpose(1, 0, 2)
        dxt = np.zeros_like(d)
        dc_next = np.zeros(d.shape[1:])
        for t in reversed(range(d.shape[0])):
            x, u, f, r, c_prev, c = self.cache[t]
            tc = np.tanh(c)
            dar = d[t] * (tc - x) * r * (1 - r)
            dc = dc_next + d[t] * r * (1 - tc**2)
            daf = dc * (c_prev - u) * f * (1 - f)
            du = dc * (1 - f)
            dc_next = dc * f
            for w, g in (("W", du), ("Wf", daf), ("Wr", dar)):
                self.grads[w] += x.T @ g
            self.grads["bf"] += daf.sum(axis=0)
            self.grads["br"] += dar.sum(axis=0)
            dxt[t] = d[t] * (1 - r) + du @ P["W"].T + daf @ P["Wf"].T + dar @ P["Wr"].T
        return self.batch_major(dxt)

    @staticmethod
    def batch_major(a):
        """(T, N, D) -> (N, T, D)."""
        return a.transpose(1, 0, 2)


@same_name
class SRUA(SRU):
    @staticmethod
    def batch_major(a):
        return a


class CumulativeSigmoid(mn.Layer):
    """The probability of having gone on so far (a halting / survival gate over time): each
    step's continue-probability σ(x_s), multiplied up, y_t = Π_{s <= t} σ(x_s).  x_s is one
    factor of every y_t with t >= s, so dy_t/dx_s = y_t σ'(x_s) / σ(x_s) = y_t (1 - σ(x_s)):
    dx_s = (1 - σ(x_s)) Σ_{t >= s} dout_t y_t.  x, y: (N, T, D)."""

    def forward(self, x):
        self.s = sigmoid(x)
        self.y = np.cumprod(self.s, axis=1)
        return self.y

    def backward(self, dout):
        later = np.cumsum((dout * self.y)[:, ::-1], axis=1)[:, ::-1]  # Σ_{t >= s} dout_t y_t
        return later * self.factor_slope()

    def factor_slope(self):
        """The slope of log σ(x_s): what y_t's slope in x_s is, divided by y_t."""
        return 1 - self.s


@same_name
class CumulativeSigmoidA(CumulativeSigmoid):
    def factor_slope(self):
        return self.s * (1 - self.s)


# ---- attention -------------------------------------------------------------------------------


class HopfieldAttention(mn.Layer):
    """Self-attention as a modern Hopfield layer's update (Ramsauer et al.), one head, with a
    learned inverse temperature β: S = β Q Kᵀ, P = softmax(S) over the keys, y = P V.
    dV = Pᵀ dout, dS = P ⊙ (dP - Σ_keys dP ⊙ P), dβ = Σ dS ⊙ Q Kᵀ, dQ = β dS K and
    dK = β dSᵀ Q, with dSᵀ each sample's own transpose, ds.transpose(0, 2, 1).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), beta (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.params["beta"], self.grads["beta"] = np.array([0.8]), np.zeros(1)

    def forward(self, x):
        P = self.params
        self.x = x
        self.q, self.k, self.v = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        self.qk = self.q @ self.k.transpose(0, 2, 1)
        self.p = softmax(P["beta"][0] * self.qk)
        return self.p @ self.v

    def backward(self, dout):
        P = self.params
        beta = P["beta"][0]
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        self.grads["beta"] = np.array([(ds * self.qk).sum()])
        dq, dk = beta * ds @ self.k, self.keys_back(ds, beta)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def keys_back(self, ds, beta):
        """dK = β dSᵀ Q."""
        return beta * ds.transpose(0, 2, 1) @ self.q


@same_name
class HopfieldAttentionA(HopfieldAttention):
    def keys_back(self, ds, beta):
        return beta * ds.T @ self.q


class FourierMixing(mn.Layer):
    """FNet's token mixing (Lee-Thorp et al.) with its residual: y = x + Re FFT2(x), the 2-D
    discrete Fourier transform over the steps and the features (axes 1 and 2).  The DFT
    matrix F is symmetric and x is real, so the adjoint of x ↦ Re(F_T x F_D) is the same map:
    dx = dout + Re FFT2(dout), with no 1/(T·D) (that is the inverse's).  x, y: (N, T, D)."""

    def forward(self, x):
        return x + np.fft.fft2(x, axes=(1, 2)).real

    def backward(self, dout):
        return dout + self.mixing_back(dout)

    def mixing_back(self, dout):
        """The mixing's share of dx."""
        return np.fft.fft2(dout, axes=(1, 2)).real


@same_name
class FourierMixingA(FourierMixing):
    def mixing_back(self, dout):
        return np.fft.ifft2(dout, axes=(1, 2)).real


class FeatureAttention(mn.Layer):
    """Cross-covariance attention (XCiT, without its normalization): the features attend to
    each other, not the steps.  Q, K, V = x Wq, x Wk, x Wv;  S = Kᵀ Q / √T (N, D, D),
    P = softmax(S) over its last axis, y = V P: the weights multiply the values from the right.
    dV = dout Pᵀ, dP = Vᵀ dout, dS = P ⊙ (dP - Σ dP ⊙ P) / √T, dQ = K dS, dK = Q dSᵀ.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        P = self.params
        self.x, self.c = x, 1 / np.sqrt(x.shape[1])
        self.q, self.k, self.v = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.k.transpose(0, 2, 1) @ self.q * self.c)
        return self.v @ self.p

    def backward(self, dout):
        P = self.params
        dv = self.values_back(dout)
        dp = self.v.transpose(0, 2, 1) @ dout
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.c
        dq, dk = self.k @ ds, self.q @ ds.transpose(0, 2, 1)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def values_back(self, dout):
        """dV from y = V P."""
        return dout @ self.p.transpose(0, 2, 1)


@same_name
class FeatureAttentionA(FeatureAttention):
    def values_back(self, dout):
        return self.p.transpose(0, 2, 1) @ dout


class EinsumAttention(mn.Layer):
    """Causal scaled dot-product self-attention written with np.einsum, one head:
    S = Q Kᵀ/√D masked above the diagonal, P = softmax(S) over the keys, y = P V.
    dV_s = Σ_t P_ts dout_t ('nts,ntd->nsd'), dQ = dS K, dK = dSᵀ Q.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        P = self.params
        T, D = x.shape[1:]
        self.x, self.scale = x, 1 / np.sqrt(D)
        self.q, self.k, self.v = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        s = np.einsum("ntd,nsd->nts", self.q, self.k) * self.scale
        self.p = softmax(np.where(np.tril(np.ones((T, T), dtype=bool)), s, -np.inf))
        return np.einsum("nts,nsd->ntd", self.p, self.v)

    def backward(self, dout):
        P = self.params
        dv = self.values_back(dout)
        dp = np.einsum("ntd,nsd->nts", dout, self.v)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq = np.einsum("nts,nsd->ntd", ds, self.k)
        dk = np.einsum("nts,ntd->nsd", ds, self.q)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = np.einsum("ntd,nte->de", self.x, d)
            dx = dx + np.einsum("nte,de->ntd", d, P[w])
        return dx

    def values_back(self, dout):
        """dV from y = P V."""
        return np.einsum("nts,ntd->nsd", self.p, dout)


@same_name
class EinsumAttentionA(EinsumAttention):
    def values_back(self, dout):
        return np.einsum("nss,ntd->nsd", self.p, dout)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("tanh-relu", ACT, lambda: dense_net(TanhReLUA(), seed=1501, scale=2.0),
         "np.where's two slopes are exchanged: the x > 0 entries get the tanh piece's slope "
         "1 - tanh²(x) and the x <= 0 entries get the identity's slope 1, where forward used x "
         "for x > 0 and tanh(x) elsewhere",
         "return dout * np.where(self.x > 0, 1.0, 1 - self.t**2)"),
    Case("two-slope-prelu", ACT, lambda: dense_net(TwoSlopePReLUA(5), seed=1502, scale=2.0),
         "the mask of the negative side is ~self.pos, and self.pos is an int8 0/1 array, not a "
         "boolean one: ~ on integers is the bitwise complement, -1 where pos is 0 and -2 where "
         "it is 1, not 1 and 0, so db and dx are wrong (1 - self.pos belongs; da is right)",
         "return 1 - self.pos"),
    Case("leaky-tanh", ACT, lambda: dense_net(LeakyTanhA(), seed=1503, scale=2.0),
         "the slope is written 1 - np.tanh(self.x**2), the tanh of the square, where "
         "tanh'(x) = 1 - tanh²(x) is the square of the tanh: np.tanh(self.x) ** 2",
         "return dout * (1 - np.tanh(self.x) ** 2 + self.alpha)"),
    Case("threshold-relu", ACT, lambda: dense_net(ThresholdReLUA(5), seed=1504, scale=2.0),
         "the slope of max(x - t, 0) is taken as np.sign(x - t), which is -1, not 0, below the "
         "threshold: the entries with x < t, whose output is flat at 0, get dx = -dout and add "
         "+dout to dt, where they must give nothing (the mask is x > t; the entries above t "
         "are right)",
         "return (self.x > self.params['t']).astype(float)"),
    Case("pre-bias-linear", DENSE,
         lambda: dense_net(PreBiasLinearA(5, 5, seed=1505), seed=1505),
         "the pre-bias p is subtracted from x before the product with W, so its gradient must go "
         "back through W: dp = -Σ_n dout Wᵀ; backward writes -Σ_n dout, as for a bias added "
         "after W (it runs since D = F = 5; dW, db and dx are right)",
         "return -dx.sum(axis=0)"),
    Case("top1-moe", DENSE, lambda: dense_net(Top1MoEA(5, 4, seed=1506), seed=1506),
         "every expert's dWe and dbe collect every sample, weighted by that expert's gate "
         "probability g[n, k] and taken from dout, as in a soft mixture; forward ran only the "
         "routed expert k* = argmax g of each sample, so expert k's gradient must come from "
         "its own samples only, with de = g[n, k*] dout (the routed samples' terms are right, "
         "the others must give nothing; the gate's Wg and dx are right)",
         "routed = np.eye(self.experts)[self.k]; return np.einsum('nk,nd,nf->kdf', routed, "
         "self.x, de), routed.T @ de"),
    Case("inverse-linear", DENSE,
         lambda: dense_net(InverseLinearA(5, seed=1507), seed=1507),
         "the derivative of the matrix inverse is taken as for a number, -dB/a²: both factors "
         "A⁻ᵀ are put on the left, -Bᵀ Bᵀ dB, where d(A⁻¹) = -A⁻¹ dA A⁻¹ puts one on each side: "
         "dA = -Bᵀ dB Bᵀ (db and dx are right)",
         "return -self.B.T @ dB @ self.B.T"),
    Case("inverse-linear-correct", DENSE,
         lambda: dense_net(InverseLinear(5, seed=1508), seed=1508), CORRECT),
    Case("channel-layernorm", NORM,
         lambda: image_net(ChannelLayerNormA(4), channels=4, seed=1509),
         "the two parameter gradients are stored under each other's names: Σ dout ⊙ x̂ belongs "
         "to gamma (it multiplies x̂) and Σ dout to beta (it is added), backward puts them the "
         "other way round (dx is right)",
         "self.grads['gamma'] = (dout * self.xhat).sum(axis=(0, 2, 3)); "
         "self.grads['beta'] = dout.sum(axis=(0, 2, 3))"),
    Case("time-rmsnorm", NORM, lambda: sequence_net(TimeRMSNormA(4), seed=1510),
         "r is differentiated as if it were √(mean_t(x)² + eps), the root of the squared mean, "
         "not of the mean square: the correction term carries mean_t(x̂), the same number for "
         "every step, where each entry's own x̂ belongs: dx = (dx̂ - x̂ mean_t(dx̂ ⊙ x̂)) / r "
         "(dg is right)",
         "return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r"),
    Case("two-device-batchnorm", NORM,
         lambda: dense_net(TwoDeviceBatchNormA(5), seed=1511),
         "backward is the usual batch norm's, whose variance is about the whole batch's mean: "
         "the variance term multiplies x̂ = (x - μ)/σ, where forward's variance averaged the two "
         "halves' variances, each about its own half's mean, so the term must multiply "
         "(x - μ_half)/σ (dgamma and dbeta are right)",
         "return self.hhat"),
    Case("coord-conv", CONV, lambda: image_net(CoordConvA(3, 2, seed=1512), seed=1512),
         "dW is filled for x's C = 3 input channels only: the weights on the two coordinate "
         "channels, W[:, 3:], are left at 0, as if constant inputs needed no weight gradient; "
         "those weights multiply the coordinates and their gradient is Σ window(coordinates) "
         "dout like the others' (db and dx are right)",
         "return np.einsum('nckl,nf->fckl', window, g)"),
    Case("subgrid-maxpool", POOL, lambda: image_net(SubgridMaxPoolA(), seed=1513),
         "the three comparisons are joined with | (or) where & (and) belongs: an entry gets its "
         "window's dout as soon as it beats one of the other three, not only when it is the "
         "window's maximum, so every window sends its dout to three entries, all but its "
         "smallest",
         "return (part > others[0]) & (part > others[1]) & (part > others[2])"),
    Case("subgrid-maxpool-correct", POOL, lambda: image_net(SubgridMaxPool(), seed=1514),
         CORRECT),
    Case("owa-pool", POOL, lambda: image_net(OWAPoolA(), seed=1515),
         "backward ranks each window with np.argsort(self.win), smallest first, where forward "
         "sorted from the largest (np.argsort(-win)): the rank weights are met with the "
         "window's entries in reverse order, w_0 with the smallest, so dw and dx are both wrong",
         "return np.argsort(-self.win, axis=-1)"),
    Case("softmax-mae", LOSS,
         lambda: loss_net(SoftmaxMAEA(), label_column, seed=1516, scale=2.0),
         "the labels are a column (N, 1), and onehot[np.arange(N), self.y] broadcasts the two "
         "index arrays to (N, N): every row gets a 1 at every class that occurs among the "
         "batch's labels, not only at its own; the column must be flattened, y[:, 0]",
         "return self.y[:, 0]"),
    Case("sigmoid-l1", LOSS,
         lambda: loss_net(SigmoidL1A(), bits, width=1, seed=1517, scale=3.0),
         "the residual's sign is taken on the logit scale, sign(s - y), where the loss takes "
         "the absolute value of σ(s) - y, whose sign is +1 for y = 0 and -1 for y = 1: samples "
         "with y = 0 and s < 0, or y = 1 and s > 1, get their gradient with the wrong sign",
         "return np.sign(self.p - self.y)"),
    Case("soft-margin", LOSS,
         lambda: loss_net(SoftMarginLossA(), mask_bits, width=1, seed=1518, scale=2.0),
         "the labels are uint8, and 2 * y - 1 stays in uint8: for y = 0 it wraps around to "
         "255 instead of -1, so in backward the samples labelled 0 get t = 255, "
         "255 (σ(255 s) - 1) where σ(s) belongs (forward cast to float first and used t = -1; "
         "the samples labelled 1 are right); the labels must be cast before the arithmetic",
         "return 2 * self.y.astype(float) - 1"),
    Case("jordan-rnn", SEQ, lambda: sequence_net(JordanRNNA(4, 3, 4, seed=1519), seed=1519),
         "the gradient carried back to y_{t-1} is accumulated, carry += da Wyᵀ, instead of "
         "replaced: the carry that already reached y_t goes on to y_{t-1} and to every earlier "
         "step too, as if y_t = y_{t-1} + ... had an identity path; it must be carry = da Wyᵀ",
         "carry = da @ P['Wy'].T"),
    Case("softsign-rnn", SEQ,
         lambda: sequence_net(SoftsignRNNA(4, 3, seed=1520), t=5, n=3, seed=1520),
         "the BPTT loop runs over range(self.x.shape[0]), the batch size N = 3, where the "
         "steps are x.shape[1], T = 5: it starts at step 2, so steps 3 and 4 are never "
         "visited: their dx stays 0, their terms are missing from dWx, dWh and db, and the "
         "gradient they carry back to the earlier steps is lost",
         "for t in reversed(range(self.x.shape[1])):"),
    Case("time-major-sru", SEQ, lambda: sequence_net(SRUA(4, seed=1521), seed=1521),
         "backward returns dx in the time-major layout (T, N, D) its loops worked in, without "
         "the transpose(1, 0, 2) back to the (N, T, D) of x that forward's output got (it runs "
         "since N = T = 4; the weight gradients are right)",
         "return a.transpose(1, 0, 2)"),
    Case("cumulative-sigmoid", SEQ,
         lambda: sequence_net(CumulativeSigmoidA(), seed=1522),
         "x_s's own factor is not divided out of the product: dy_t/dx_s = y_t σ'(x_s)/σ(x_s) = "
         "y_t (1 - σ(x_s)), backward multiplies y_t by σ'(x_s) = σ(x_s)(1 - σ(x_s)), so "
         "σ(x_s) is counted twice and dx is σ(x_s) times too small",
         "return 1 - self.s"),
    Case("hopfield-attention", ATTN,
         lambda: sequence_net(HopfieldAttentionA(4, seed=1523), seed=1523),
         "ds.T on the 3-D array (N, T, T) reverses all three axes, (T, T, N) with the batch "
         "axis last, not each sample's dSᵀ: dK = β dSᵀ Q needs ds.transpose(0, 2, 1) (it runs "
         "since N = T = 4; dQ, dV and dβ are right)",
         "return beta * ds.transpose(0, 2, 1) @ self.q"),
    Case("fourier-mixing", ATTN, lambda: sequence_net(FourierMixingA(), seed=1524),
         "the mixing is back-propagated with the inverse DFT, np.fft.ifft2, as if the adjoint of "
         "the Fourier transform were its inverse: the unnormalized DFT matrix is symmetric, so "
         "the adjoint of Re FFT2 on real input is Re FFT2 itself, and ifft2's 1/(T·D) makes the "
         "mixing's share of dx T·D = 16 times too small (the residual's dout is right)",
         "return np.fft.fft2(dout, axes=(1, 2)).real"),
    Case("feature-attention", ATTN,
         lambda: sequence_net(FeatureAttentionA(4, seed=1525), seed=1525),
         "dV is written Pᵀ dout, token attention's formula for y = P V; here the weights "
         "multiply the values from the right, y = V P, so dV = dout Pᵀ (it runs since "
         "T = D = 4; dP, dQ and dK are right)",
         "return dout @ self.p.transpose(0, 2, 1)"),
    Case("feature-attention-correct", ATTN,
         lambda: sequence_net(FeatureAttention(4, seed=1526), seed=1526), CORRECT),
    Case("einsum-attention", ATTN,
         lambda: sequence_net(EinsumAttentionA(4, seed=1527), seed=1527),
         "dV's subscripts 'nss,ntd->nsd' name s twice in P, so np.einsum reads P's diagonal "
         "P[n, s, s] and sums dout over all steps t: dV_s = P_ss Σ_t dout_t, where "
         "dV_s = Σ_t P_ts dout_t, 'nts,ntd->nsd' (dQ and dK are right)",
         "return np.einsum('nts,ntd->nsd', self.p, dout)"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
