"""The ninth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the eighth held-out set was used up:
whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from unlisted import (
    ACT,
    ATTN,
    CONV,
    CORRECT,
    DENSE,
    LOSS,
    NORM,
    POOL,
    RNN,
    SEQ,
    Case,
    SelfAttention,
    dense_net,
    image_net,
    labels,
    loss_net,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    softmax,
    with_params,
    zero_grads,
)

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class LearnedHinge(mn.Layer):
    """y = x where x <= t, t + a (x - t) above the knot t, a learned per feature;
    dy/dx = 1 or a;  da = Σ_n dout (x - t) where x > t.  x, y: (N, D);  a (D,)."""

    t = 0.3

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, a=(d,))
        self.params["a"] += 1.0

    def forward(self, x):
        self.x, self.above = x, x > self.t
        return np.where(self.above, self.t + self.params["a"] * (x - self.t), x)

    def backward(self, dout):
        self.grads["a"] = (dout * self.above * self.lever()).sum(axis=0)
        return dout * np.where(self.above, self.params["a"], 1.0)

    def lever(self):
        return self.x - self.t


@same_name
class LearnedHingeA(LearnedHinge):
    def lever(self):
        return self.x


class Rational(mn.Layer):
    """y = x / (1 + x²);  dy/dx = (1 - x²) / (1 + x²)².  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.den = x, 1 + x**2
        return x / self.den

    def backward(self, dout):
        return dout * (1 - self.x**2) / self.den**2


@same_name
class RationalA(Rational):
    def backward(self, dout):
        return dout * (1 - self.x**2) / self.den


class PenalizedTanh(mn.Layer):
    """y = tanh(x) where x > 0, 0.25 tanh(x) elsewhere;  read off y, dy/dx = 1 - y² above 0,
    0.25 (1 - (4y)²) below.  x, y: (N, D)."""

    def forward(self, x):
        self.pos = x > 0
        self.y = np.where(self.pos, 1.0, 0.25) * np.tanh(x)
        return self.y

    def backward(self, dout):
        y = self.y
        return dout * np.where(self.pos, 1 - y**2, self.negative_slope())

    def negative_slope(self):
        return 0.25 * (1 - (4 * self.y) ** 2)


@same_name
class PenalizedTanhA(PenalizedTanh):
    def negative_slope(self):
        return 0.25 * (1 - self.y**2)


class SELU(mn.Layer):
    """y = λ x where x > 0, λ α (eˣ - 1) elsewhere;  dy/dx = λ or λ α eˣ.  x, y: (N, D)."""

    lam, alpha = 1.0507, 1.6733

    def forward(self, x):
        self.x = x
        return self.lam * np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0)))

    def backward(self, dout):
        neg = self.lam * self.alpha * np.exp(np.minimum(self.x, 0))
        return dout * np.where(self.x > 0, self.positive_slope(), neg)

    def positive_slope(self):
        return self.lam


@same_name
class SELUA(SELU):
    def positive_slope(self):
        return 1.0


# ---- dense-like ------------------------------------------------------------------------------


class TiedAutoencoder(mn.Layer):
    """Encode and decode with the same weight: y = (x W) Wᵀ;  W is used twice, so
    dW = xᵀ (dout W) + doutᵀ (x W).  x, y: (N, D);  W (D, K)."""

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, k))

    def forward(self, x):
        self.x, self.code = x, x @ self.params["W"]
        return self.code @ self.params["W"].T

    def backward(self, dout):
        W = self.params["W"]
        dcode = dout @ W
        self.grads["W"] = self.x.T @ dcode + self.decoder_grad(dout)
        return dcode @ W.T

    def decoder_grad(self, dout):
        return dout.T @ self.code


@same_name
class TiedAutoencoderA(TiedAutoencoder):
    def decoder_grad(self, dout):
        return 0


class ScaledLinear(mn.Layer):
    """y = (x W + b) ⊙ s, a learned scale per output;  ds = Σ_n dout ⊙ (x W + b).

    x (N, D) -> (N, F);  W (D, F), b (F,), s (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,), s=(f,))

    def forward(self, x):
        self.x = x
        self.z = x @ self.params["W"]
        self.zb = self.z + self.params["b"]
        return self.zb * self.params["s"]

    def backward(self, dout):
        dz = dout * self.params["s"]
        self.grads["s"] = (dout * self.scaled()).sum(axis=0)
        self.grads["W"], self.grads["b"] = self.x.T @ dz, dz.sum(axis=0)
        return dz @ self.params["W"].T

    def scaled(self):
        return self.zb


@same_name
class ScaledLinearA(ScaledLinear):
    def scaled(self):
        return self.z


class ShiftedLinear(mn.Layer):
    """y = (x - m) W + b, a learned input shift m;  dm = -Σ_n dout Wᵀ.

    x (N, D) -> (N, F);  m (D,), W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, m=(d,), W=(d, f), b=(f,))

    def forward(self, x):
        self.xc = x - self.params["m"]
        return self.xc @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dx = dout @ self.params["W"].T
        self.grads["W"], self.grads["b"] = self.xc.T @ dout, dout.sum(axis=0)
        self.grads["m"] = -dx.sum(axis=0)
        return dx


@same_name
class ShiftedLinearA(ShiftedLinear):
    def backward(self, dout):
        dx = dout @ self.params["W"].T
        self.grads["W"], self.grads["b"] = self.xc.T @ dout, dout.sum(axis=0)
        self.grads["m"] = dx.sum(axis=0)
        return dx


# ---- normalization ---------------------------------------------------------------------------


class StagedBatchNorm(mn.Layer):
    """Batch normalization back-propagated stage by stage, as in the CS231n notes:
    x̂ = (x - μ) / √(var + ε), y = γ x̂ + β;  dvar = Σ dx̂ (x - μ) · (-1/2) (var + ε)^(-3/2).

    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, gamma=(d,), beta=(d,))
        self.params["gamma"] += 1.0

    def forward(self, x):
        self.mu = x.mean(axis=0)
        self.xc = x - self.mu
        self.var = (self.xc**2).mean(axis=0)
        self.xhat = self.xc / np.sqrt(self.var + self.eps)
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        N = dout.shape[0]
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        inv = 1 / np.sqrt(self.var + self.eps)
        dvar = (dxhat * self.xc).sum(axis=0) * self.dvar_factor()
        dmu = -(dxhat * inv).sum(axis=0) + dvar * (-2 * self.xc).mean(axis=0)
        return dxhat * inv + dvar * 2 * self.xc / N + dmu / N

    def dvar_factor(self):
        return -0.5 * (self.var + self.eps) ** -1.5


@same_name
class StagedBatchNormA(StagedBatchNorm):
    def dvar_factor(self):
        return -0.5 * (self.var + self.eps) ** -0.5


class SpatialBatchNorm(mn.Layer):
    """Batch normalization per channel of (N, C, H, W): the channels moved last and the rest
    flattened, (N·H·W, C), normalized over the rows, and moved back.

    x, y: (N, C, H, W);  gamma, beta (C,)."""

    eps = 1e-5

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, gamma=(c,), beta=(c,))
        self.params["gamma"] += 1.0

    def forward(self, x):
        self.shape = x.shape
        flat = self.to_rows(x)
        self.inv = 1 / np.sqrt(flat.var(axis=0) + self.eps)
        self.xhat = (flat - flat.mean(axis=0)) * self.inv
        return self.from_rows(self.params["gamma"] * self.xhat + self.params["beta"])

    def backward(self, dout):
        d = self.to_rows(dout)
        self.grads["gamma"] = (d * self.xhat).sum(axis=0)
        self.grads["beta"] = d.sum(axis=0)
        dxhat = d * self.params["gamma"]
        dx = (dxhat - dxhat.mean(axis=0) - self.xhat * (dxhat * self.xhat).mean(axis=0))
        return self.from_rows(dx * self.inv)

    def to_rows(self, a):
        return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])

    def from_rows(self, r):
        N, C, H, W = self.shape
        return r.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@same_name
class SpatialBatchNormA(SpatialBatchNorm):
    def backward(self, dout):
        d = self.to_rows(dout)
        self.grads["gamma"] = (d * self.xhat).sum(axis=0)
        self.grads["beta"] = d.sum(axis=0)
        dxhat = d * self.params["gamma"]
        dx = (dxhat - dxhat.mean(axis=0) - self.xhat * (dxhat * self.xhat).mean(axis=0))
        return (dx * self.inv).reshape(self.shape)


class EnergyNormalize(mn.Layer):
    """Each row's share of its energy: y = x² / S, S = Σ_j x_j²;
    dx = (2x / S) (dout - Σ_j dout_j y_j).  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.S = x, (x**2).sum(axis=1, keepdims=True)
        self.y = x**2 / self.S
        return self.y

    def backward(self, dout):
        along = (dout * self.y).sum(axis=1, keepdims=True)
        return (2 * self.x * dout - self.energy_term(along)) / self.S

    def energy_term(self, along):
        return 2 * self.x * along


@same_name
class EnergyNormalizeA(EnergyNormalize):
    def energy_term(self, along):
        return self.x * along


# ---- convolution and pooling -----------------------------------------------------------------


class PixelShuffle(mn.Layer):
    """Depth to space, factor 2: y[n, c, 2h + i, 2w + j] = x[n, 4c + 2i + j, h, w].

    x (N, 4C, H, W) -> (N, C, 2H, 2W)."""

    def forward(self, x):
        N, C4, H, W = x.shape
        y = x.reshape(N, C4 // 4, 2, 2, H, W).transpose(0, 1, 4, 2, 5, 3)
        return y.reshape(N, C4 // 4, 2 * H, 2 * W)

    def backward(self, dout):
        N, C, H2, W2 = dout.shape
        d = dout.reshape(N, C, H2 // 2, 2, W2 // 2, 2).transpose(self.order())
        return d.reshape(N, 4 * C, H2 // 2, W2 // 2)

    def order(self):
        """(n, c, h, i, w, j) -> (n, c, i, j, h, w)."""
        return (0, 1, 3, 5, 2, 4)


@same_name
class PixelShuffleA(PixelShuffle):
    def order(self):
        return (0, 1, 5, 3, 2, 4)


class SoftPool(mn.Layer):
    """Softmax-weighted pooling over 2×2 windows: w = softmax(window), y = Σ w x;
    dx = dout w (1 + x - y).  x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        self.win = win.reshape(N, C, H // 2, W // 2, 4)
        e = np.exp(self.win - self.win.max(axis=-1, keepdims=True))
        self.w = e / e.sum(axis=-1, keepdims=True)
        self.y = (self.w * self.win).sum(axis=-1)
        return self.y

    def backward(self, dout):
        dwin = self.window_grad(dout[..., None])
        N, C, H, W = self.shape
        dwin = dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        return dwin.reshape(self.shape)

    def window_grad(self, d):
        return d * self.w * (1 + self.win - self.y[..., None])


@same_name
class SoftPoolA(SoftPool):
    def window_grad(self, d):
        return d * self.w


class EvenKernelConv(mn.Layer):
    """A 2×2 cross-correlation with "same" output: the input is padded by one row at the
    bottom and one column at the right only.  x (N, C, H, W) -> (N, F, H, W);
    W (F, C, 2, 2), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 2, 2), b=(f,))

    def forward(self, x):
        xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (0, 1)))
        self.shape, self.win = xp.shape, sliding_window_view(xp, (2, 2), axis=(2, 3))
        out = np.einsum("nchwij,fcij->nfhw", self.win, self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros(self.shape)
        H, Wd = dout.shape[2:]
        for i in range(2):
            for j in range(2):
                dxp[:, :, i:i + H, j:j + Wd] += np.einsum("nfhw,fc->nchw", dout, W[:, :, i, j])
        return self.crop(dxp)

    def crop(self, dxp):
        return dxp[:, :, :-1, :-1]


@same_name
class EvenKernelConvA(EvenKernelConv):
    def crop(self, dxp):
        return dxp[:, :, 1:, 1:]


# ---- losses ----------------------------------------------------------------------------------


class ContrastiveLoss(mn.Loss):
    """Pairs of 2-d embeddings a = s[:, :2], b = s[:, 2:], d = ‖a - b‖, y = 1 for a similar pair:
    L = mean_n (y d² + (1 - y) max(0, m - d)²);  dL/d(a - b) = (2y - 2(1 - y) max(0, m - d)/d)
    (a - b) / N.  scores (N, 4), y (N,) in {0, 1} -> float."""

    margin = 2.0

    def forward(self, scores, y):
        self.delta, self.y = scores[:, :2] - scores[:, 2:], y[:, None]
        self.d = np.sqrt((self.delta**2).sum(axis=1, keepdims=True))
        self.gap = np.maximum(0, self.margin - self.d)
        return float(np.mean(self.y[:, 0] * self.d[:, 0] ** 2
                             + (1 - self.y[:, 0]) * self.gap[:, 0] ** 2))

    def backward(self):
        ddelta = (2 * self.y * self.delta + self.apart()) / len(self.y)
        return np.hstack([ddelta, -ddelta])

    def apart(self):
        """The dissimilar pairs' term: d/dδ of max(0, m - d)² = -2 max(0, m - d) δ / d."""
        return -2 * (1 - self.y) * self.gap * self.delta / self.d


@same_name
class ContrastiveLossA(ContrastiveLoss):
    def apart(self):
        return 2 * (1 - self.y) * self.gap * self.delta / self.d


def pairs(rng, n):
    return rng.integers(0, 2, n)


class TukeyLoss(mn.Loss):
    """Tukey's biweight: ρ(r) = c²/6 (1 - (1 - (r/c)²)³) where |r| <= c, c²/6 beyond, r = s - y;
    dρ/dr = r (1 - (r/c)²)² inside, 0 beyond.  scores (N, 1), y (N,) -> float."""

    c = 2.5

    def forward(self, scores, y):
        self.r = scores[:, 0] - y
        self.inside = np.abs(self.r) <= self.c
        u = 1 - (self.r / self.c) ** 2
        rho = np.where(self.inside, self.c**2 / 6 * (1 - u**3), self.c**2 / 6)
        return float(np.mean(rho))

    def backward(self):
        u = 1 - (self.r / self.c) ** 2
        return (np.where(self.inside, self.psi(u), 0.0) / len(self.r))[:, None]

    def psi(self, u):
        return self.r * u**2


@same_name
class TukeyLossA(TukeyLoss):
    def psi(self, u):
        return self.r * u


def spread_targets(rng, n):
    return 1.5 * rng.standard_normal(n)


class BrierLoss(mn.Loss):
    """L = mean_n Σ_c (p_c - onehot_c)², p = softmax(s);  with g = 2 (p - onehot) / N,
    dL/ds = p ⊙ (g - Σ_c g_c p_c).  scores (N, C), y (N,) -> float."""

    def forward(self, scores, y):
        self.p, self.onehot = softmax(scores), np.eye(scores.shape[1])[y]
        return float(np.mean(((self.p - self.onehot) ** 2).sum(axis=1)))

    def backward(self):
        g = 2 * (self.p - self.onehot) / len(self.p)
        return self.through_softmax(g)

    def through_softmax(self, g):
        return self.p * (g - (g * self.p).sum(axis=1, keepdims=True))


@same_name
class BrierLossA(BrierLoss):
    def through_softmax(self, g):
        return g


# ---- sequences -------------------------------------------------------------------------------


class CoupledGateRNN(RNN):
    """A cell whose forget gate is 1 - i: a = x_t Wx + h_{t-1} Wh + b, i = σ(a[:, :H]),
    g = tanh(a[:, H:]), c_t = (1 - i) c_{t-1} + i g, h_t = tanh(c_t);  i enters twice, so
    di = dc (g - c_{t-1}).  x (N, T, D) -> (N, T, H);  Wx (D, 2H), Wh (H, 2H), b (2H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__(d, h, seed)
        with_params(self, seed, Wx=(d, 2 * h), Wh=(h, 2 * h), b=(2 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h = c = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            a = x[:, t] @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"]
            i, g = sigmoid(a[:, :H]), np.tanh(a[:, H:])
            c_next = (1 - i) * c + i * g
            self.cache.append((h, c, i, g))
            c, h = c_next, np.tanh(c_next)
            hs.append(h)
        self.hs = np.stack(hs, axis=1)
        return self.hs

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = dc_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            h_prev, c_prev, i, g = self.cache[t]
            dc = dc_next + (dout[:, t] + dh_next) * (1 - self.hs[:, t] ** 2)
            da = np.hstack([self.gate_grad(dc, c_prev, g) * i * (1 - i), dc * i * (1 - g**2)])
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += h_prev.T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t], dh_next, dc_next = (da @ self.params["Wx"].T, da @ self.params["Wh"].T,
                                          dc * (1 - i))
        return dx

    def gate_grad(self, dc, c_prev, g):
        return dc * (g - c_prev)


@same_name
class CoupledGateRNNA(CoupledGateRNN):
    def gate_grad(self, dc, c_prev, g):
        return dc * g


class MinGRU(mn.Layer):
    """h_t = (1 - z_t) h_{t-1} + z_t h̃_t, z_t = σ(x_t Wz), h̃_t = x_t Wh, h_0 = 0 (gates read
    x_t only);  dh_{t-1} = dh_t (1 - z_t).  x (N, T, D) -> (N, T, H);  Wz, Wh (D, H)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wz=(d, h), Wh=(d, h))

    def forward(self, x):
        N, T, _ = x.shape
        self.x = x
        self.z, self.cand = sigmoid(x @ self.params["Wz"]), x @ self.params["Wh"]
        self.hs = np.zeros((N, T + 1, self.z.shape[-1]))
        for t in range(T):
            self.hs[:, t + 1] = (1 - self.z[:, t]) * self.hs[:, t] + self.z[:, t] * self.cand[:, t]
        return self.hs[:, 1:]

    def backward(self, dout):
        dz, dcand = np.zeros_like(self.z), np.zeros_like(self.cand)
        dh_next = np.zeros_like(dout[:, 0])
        for t in reversed(range(self.x.shape[1])):
            dh = dout[:, t] + dh_next
            dz[:, t] = dh * (self.cand[:, t] - self.hs[:, t])
            dcand[:, t] = dh * self.z[:, t]
            dh_next = dh * (1 - self.carry_gate(t))
        daz = dz * self.z * (1 - self.z)
        self.grads["Wz"] = rows(self.x).T @ rows(daz)
        self.grads["Wh"] = rows(self.x).T @ rows(dcand)
        return daz @ self.params["Wz"].T + dcand @ self.params["Wh"].T

    def carry_gate(self, t):
        return self.z[:, t]


@same_name
class MinGRUA(MinGRU):
    def carry_gate(self, t):
        return self.z[:, t - 1]


class ReverseRNN(RNN):
    """RNN read from the last step to the first: h_t = tanh(x_t Wx + h_{t+1} Wh + b),
    h_T = 0, so backward runs forward in time.  x (N, T, D) -> (N, T, H);  hs[:, t] keeps h_t."""

    def forward(self, x):
        N, T, _ = x.shape
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in reversed(range(T)):
            self.hs[:, t] = np.tanh(x[:, t] @ Wx + self.hs[:, t + 1] @ Wh + b)
        return self.hs[:, :-1]

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in self.steps(self.x.shape[1]):
            da = (dout[:, t] + dh_next) * (1 - self.hs[:, t] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[:, t + 1].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t], dh_next = da @ self.params["Wx"].T, da @ self.params["Wh"].T
        return dx

    def steps(self, T):
        """Back through the steps in the reverse order of forward's."""
        return range(T)


@same_name
class ReverseRNNA(ReverseRNN):
    def steps(self, T):
        return reversed(range(T))


class ResidualRNN(RNN):
    """h_t = h_{t-1} + tanh(x_t Wx + h_{t-1} Wh + b): the state carries itself forward, so
    dh_{t-1} = dh_t + da Whᵀ.  x (N, T, D) -> (N, T, H)."""

    def forward(self, x):
        N, T, _ = x.shape
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        self.acts = np.zeros((N, T, self.hidden))
        for t in range(T):
            self.acts[:, t] = np.tanh(x[:, t] @ Wx + self.hs[:, t] @ Wh + b)
            self.hs[:, t + 1] = self.hs[:, t] + self.acts[:, t]
        return self.hs[:, 1:]

    def step_back(self, t, dh):
        da = dh * (1 - self.acts[:, t] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += self.hs[:, t].T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, self.carried(dh, da)

    def carried(self, dh, da):
        return dh + da @ self.params["Wh"].T


@same_name
class ResidualRNNA(ResidualRNN):
    def carried(self, dh, da):
        return da @ self.params["Wh"].T


# ---- attention and blocks --------------------------------------------------------------------


class BilinearAttention(mn.Layer):
    """Self-attention scored by one matrix: S = x A xᵀ / √D, P = softmax(S), y = P x Wv;
    dx gets dS x Aᵀ (x as queries) and dSᵀ x A (x as keys).

    x (N, T, D) -> (N, T, D);  A, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, A=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.v = x @ self.params["Wv"]
        self.p = softmax(x @ self.params["A"] @ x.transpose(0, 2, 1) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        x, A = self.x, self.params["A"]
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        self.grads["A"] = np.einsum("nid,nij,nje->de", x, ds, x)
        self.grads["Wv"] = rows(x).T @ rows(dv)
        return ds @ x @ A.T + self.as_keys(ds, x, A) + dv @ self.params["Wv"].T

    def as_keys(self, ds, x, A):
        return ds.transpose(0, 2, 1) @ x @ A


@same_name
class BilinearAttentionA(BilinearAttention):
    def as_keys(self, ds, x, A):
        return ds.transpose(0, 2, 1) @ x @ A.T


class SoftCapAttention(SelfAttention):
    """SelfAttention with soft-capped scores: S = c tanh(Q Kᵀ / (√D c));  the c outside and
    the 1/c inside cancel, so dL/d(Q Kᵀ) = dS (1 - tanh²) / √D.  x (N, T, D) -> (N, T, D)."""

    cap = 1.5

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.th = np.tanh(self.q @ self.k.transpose(0, 2, 1) * self.scale / self.cap)
        self.p = softmax(self.cap * self.th)
        return self.p @ self.v

    def scores_back(self, ds):
        return super().scores_back(self.uncap(ds))

    def uncap(self, ds):
        return ds * (1 - self.th**2)


@same_name
class SoftCapAttentionA(SoftCapAttention):
    def uncap(self, ds):
        return ds * (1 - self.th**2) / self.cap


class ALiBiAttention(SelfAttention):
    """SelfAttention with a learned distance penalty: S = Q Kᵀ / √D - m |i - j|;
    dm = -Σ dS |i - j|.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), m (1,)."""

    def __init__(self, d, seed=0):
        super().__init__(d, seed)
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), m=(1,))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        T = x.shape[1]
        self.offset = np.arange(T)[:, None] - np.arange(T)[None, :]
        s = self.q @ self.k.transpose(0, 2, 1) * self.scale
        self.p = softmax(s - self.params["m"][0] * np.abs(self.offset))
        return self.p @ self.v

    def softmax_back(self, dp):
        ds = super().softmax_back(dp)
        self.grads["m"] = np.array([-(ds * self.distance()).sum()])
        return ds

    def distance(self):
        return np.abs(self.offset)


@same_name
class ALiBiAttentionA(ALiBiAttention):
    def distance(self):
        return self.offset


class SquaredReLUBlock(mn.Layer):
    """A residual feed-forward block with a squared ReLU: y = x + relu(x W1)² W2;
    with r = relu(x W1), dL/d(x W1) = dh ⊙ 2r.  x (N, T, D) -> (N, T, D);  W1 (D, F), W2 (F, D)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W1=(d, f), W2=(f, d))

    def forward(self, x):
        self.x = x
        self.r = np.maximum(x @ self.params["W1"], 0)
        self.h = self.r**2
        return x + self.h @ self.params["W2"]

    def backward(self, dout):
        self.grads["W2"] = rows(self.h).T @ rows(dout)
        da = dout @ self.params["W2"].T * self.square_slope()
        self.grads["W1"] = rows(self.x).T @ rows(da)
        return dout + da @ self.params["W1"].T

    def square_slope(self):
        return 2 * self.r


@same_name
class SquaredReLUBlockA(SquaredReLUBlock):
    def square_slope(self):
        return 2 * self.h


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("learned-hinge", ACT, lambda: dense_net(LearnedHingeA(5, seed=901), seed=901,
                                                 scale=2.0),
         "da multiplies by x where the lever of the slope above the knot is x - t: the knot's "
         "shift is forgotten in the parameter's derivative (dx is right)",
         "return self.x - self.t"),
    Case("rational", ACT, lambda: dense_net(RationalA(), seed=902, scale=2.0),
         "the quotient rule's denominator is left unsquared: (1 - x²)/(1 + x²) where "
         "(1 - x²)/(1 + x²)² belongs",
         "return dout * (1 - self.x**2) / self.den**2"),
    Case("penalized-tanh", ACT, lambda: dense_net(PenalizedTanhA(), seed=903, scale=2.0),
         "the slope below 0 is read off the output as 0.25 (1 - y²), forgetting that there "
         "y = 0.25 tanh x: tanh x is 4y, so the slope is 0.25 (1 - 16 y²)",
         "return 0.25 * (1 - (4 * self.y) ** 2)"),
    Case("selu", ACT, lambda: dense_net(SELUA(), seed=904, scale=2.0),
         "the positive branch's slope is written 1, forgetting the scale λ that multiplies "
         "both branches (the negative branch keeps it)",
         "return self.lam"),
    Case("tied-autoencoder", DENSE, lambda: dense_net(TiedAutoencoderA(5, 3, seed=905),
                                                      seed=905),
         "W is used twice, to encode and to decode, but dW keeps only the encoder's term "
         "xᵀ (dout W): the decoder's term doutᵀ (x W) is missing",
         "return dout.T @ self.code"),
    Case("scaled-linear", DENSE, lambda: dense_net(ScaledLinearA(5, 4, seed=906), seed=906),
         "ds pairs dout with x W, cached before the bias was added, where the scale multiplies "
         "x W + b: the bias is missing from ds",
         "return self.zb"),
    Case("shifted-linear", DENSE, lambda: dense_net(ShiftedLinearA(5, 4, seed=907), seed=907),
         "the shift m is subtracted from x, so dm = -Σ dx; backward keeps the plus sign",
         "self.grads['m'] = -dx.sum(axis=0)"),
    Case("staged-batchnorm", NORM, lambda: dense_net(StagedBatchNormA(5, seed=908), seed=908),
         "in the staged backward, d(var + ε)^(-1/2)/dvar is written -1/2 (var + ε)^(-1/2), the "
         "exponent left at -1/2 where the power rule gives -3/2",
         "return -0.5 * (self.var + self.eps) ** -1.5"),
    Case("spatial-batchnorm", NORM, lambda: image_net(SpatialBatchNormA(3, seed=909),
                                                      seed=909),
         "the (N·H·W, C) gradient goes back to (N, C, H, W) by a plain reshape, where forward "
         "moved the channels last: it must be reshaped to (N, H, W, C) and transposed back",
         "return self.from_rows(dx * self.inv)"),
    Case("energy-normalize", NORM, lambda: dense_net(EnergyNormalizeA(), seed=910),
         "the derivative of S = Σ x² is 2x, but the second term of dx writes x: the factor 2 "
         "is dropped from the denominator's derivative only",
         "return 2 * self.x * along"),
    Case("pixel-shuffle", CONV, lambda: image_net(PixelShuffleA(), channels=4, seed=911),
         "backward's transpose swaps the two sub-pixel axes, (j, i) where forward's channel "
         "4c + 2i + j gave (i, j): each 2×2 block's off-diagonal gradients land on each other's "
         "channel",
         "return (0, 1, 3, 5, 2, 4)"),
    Case("soft-pool", POOL, lambda: image_net(SoftPoolA(), seed=912),
         "the softmax weights are treated as constants: dx = dout w, missing the gradient "
         "through the weights, which depend on x: dout w (1 + x - y)",
         "return d * self.w * (1 + self.win - self.y[..., None])"),
    Case("soft-pool-correct", POOL, lambda: image_net(SoftPool(), seed=913), CORRECT),
    Case("even-kernel-conv", CONV, lambda: image_net(EvenKernelConvA(3, 2, seed=914),
                                                     seed=914),
         "the padding was added at the bottom and right, but backward crops the first row and "
         "column of the padded gradient, as if it had been added at the top and left: every "
         "gradient is shifted one pixel",
         "return dxp[:, :, :-1, :-1]"),
    Case("contrastive-loss", LOSS, lambda: loss_net(ContrastiveLossA(), pairs, width=4,
                                                    seed=915, scale=2.0),
         "the dissimilar pairs' term differentiates max(0, m - d)² without the minus of "
         "d(m - d)/dd: the push apart gets the wrong sign (the similar pairs' term is right)",
         "return -2 * (1 - self.y) * self.gap * self.delta / self.d"),
    Case("tukey-loss", LOSS, lambda: loss_net(TukeyLossA(), spread_targets, width=1, seed=916,
                                              scale=2.0),
         "the biweight's influence r (1 - (r/c)²)² is written with the square dropped: "
         "r (1 - (r/c)²)",
         "return self.r * u**2"),
    Case("brier-loss", LOSS, lambda: loss_net(BrierLossA(), labels, seed=917, scale=2.0),
         "2 (p - onehot) / N is the gradient at the probabilities p; it is returned as dL/ds "
         "without going back through the softmax's Jacobian",
         "return self.p * (g - (g * self.p).sum(axis=1, keepdims=True))"),
    Case("coupled-gate-rnn", SEQ, lambda: sequence_net(CoupledGateRNNA(4, 3, seed=918),
                                                       seed=918),
         "i enters the cell twice, as i g and as the forget gate 1 - i, but di keeps only dc g: "
         "the term -dc c_{t-1} from the coupled forget gate is missing",
         "return dc * (g - c_prev)"),
    Case("min-gru", SEQ, lambda: sequence_net(MinGRUA(4, 3, seed=919), seed=919),
         "the gradient carried to h_{t-1} is multiplied by 1 - z_{t-1}, the previous step's "
         "gate, where step t's own gate 1 - z_t multiplied h_{t-1} (at t = 0 it wraps to the "
         "last step)",
         "return self.z[:, t]"),
    Case("min-gru-correct", SEQ, lambda: sequence_net(MinGRU(4, 3, seed=920), seed=920),
         CORRECT),
    Case("reverse-rnn", SEQ, lambda: sequence_net(ReverseRNNA(4, 3, seed=921), seed=921),
         "forward ran from the last step to the first, but backward also runs from the last "
         "step to the first, as for a forward-in-time RNN: dh_next is carried the wrong way "
         "and reaches each step before that step's own gradient is complete",
         "return range(T)"),
    Case("residual-rnn", SEQ, lambda: sequence_net(ResidualRNNA(4, 3, seed=922), seed=922),
         "h_{t-1} also reaches h_t directly through the state's skip term, but the carried "
         "gradient keeps only da Whᵀ: the identity path dh_t is missing",
         "return dh + da @ self.params['Wh'].T"),
    Case("bilinear-attention", ATTN, lambda: sequence_net(BilinearAttentionA(4, seed=923),
                                                          seed=923),
         "x's gradient as the keys is dSᵀ x Aᵀ where S = x A xᵀ gives dSᵀ x A: the matrix is "
         "transposed in the key term only (it runs since A is square)",
         "return ds.transpose(0, 2, 1) @ x @ A"),
    Case("bilinear-attention-correct", ATTN,
         lambda: sequence_net(BilinearAttention(4, seed=924), seed=924), CORRECT),
    Case("softcap-attention", ATTN, lambda: sequence_net(SoftCapAttentionA(4, seed=925),
                                                         seed=925),
         "the cap c outside the tanh and the 1/c inside cancel in the derivative, but backward "
         "keeps the inner 1/c alone: dQ and dK come out c times too small",
         "return ds * (1 - self.th**2)"),
    Case("alibi-attention", ATTN, lambda: sequence_net(ALiBiAttentionA(4, seed=926), seed=926),
         "dm pairs dS with the signed offset i - j where forward's penalty used its absolute "
         "value |i - j|: the keys after the query get the wrong sign",
         "return np.abs(self.offset)"),
    Case("squared-relu-block", ATTN, lambda: sequence_net(SquaredReLUBlockA(4, 5, seed=927),
                                                          seed=927),
         "the square's slope 2r is taken at the block's hidden output h = r² instead of at "
         "r = relu(x W1): 2h where 2r belongs (dW2 and the skip path are right)",
         "return 2 * self.r"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
