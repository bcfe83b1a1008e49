"""The sixth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the fifth held-out set was used up:
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
    GRU,
    LOSS,
    NOISE,
    NORM,
    POOL,
    SEQ,
    Case,
    SelfAttention,
    classifier,
    dense_net,
    image_net,
    labels,
    loss_net,
    rows,
    same_name,
    sequence_net,
    softmax,
    with_params,
    zero_grads,
)
from unlisted import RNN as RNN_
from unlisted_heldout2 import reals

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class Arctan(mn.Layer):
    """y = arctan(x);  dy/dx = 1 / (1 + x²).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.arctan(x)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return 1 / (1 + self.x**2)


@same_name
class ArctanA(Arctan):
    def slope(self):
        return 1 / 1 + self.x**2


class ArcSinh(mn.Layer):
    """y = arcsinh(x), the inverse of sinh.  By the inverse-function rule
    dy/dx = 1 / sinh'(y) = 1 / cosh(y) = 1 / √(1 + x²).  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.y = x, np.arcsinh(x)
        return self.y

    def backward(self, dout):
        return dout / np.cosh(self.point())

    def point(self):
        """Where sinh' is taken: at y, the point that sinh sends to x."""
        return self.y


@same_name
class ArcSinhA(ArcSinh):
    def point(self):
        return self.x


class PiecewiseLinear(mn.Layer):
    """A learned activation: values v at K + 1 evenly spaced knots t_0 < ... < t_K, h apart,
    joined by straight lines (the first and last lines go on beyond the ends). For x in the
    piece k, at u = (x - t_k) / h along it: y = (1 - u) v_k + u v_{k+1};
    dy/dx = (v_{k+1} - v_k) / h, dv_k += dout (1 - u), dv_{k+1} += dout u.

    x, y: (N, D);  v (K + 1,)."""

    def __init__(self, knots=9, lo=-2.0, hi=2.0, seed=0):
        super().__init__()
        self.lo, self.h = lo, (hi - lo) / (knots - 1)
        t = np.linspace(lo, hi, knots)
        self.params = {"v": np.tanh(t) + 0.3 * np.random.default_rng(seed).standard_normal(knots)}
        self.grads = {"v": np.zeros(knots)}

    def forward(self, x):
        pos = (x - self.lo) / self.h
        self.k = np.clip(np.floor(pos).astype(int), 0, len(self.params["v"]) - 2)
        self.u = pos - self.k
        v = self.params["v"]
        return (1 - self.u) * v[self.k] + self.u * v[self.k + 1]

    def backward(self, dout):
        v, dv = self.params["v"], np.zeros_like(self.params["v"])
        left, right = self.shares()
        np.add.at(dv, self.k, dout * left)
        np.add.at(dv, self.k + 1, dout * right)
        self.grads["v"] = dv
        return dout * (v[self.k + 1] - v[self.k]) / self.h

    def shares(self):
        """How much of y the knot left of x gives, and how much the knot right of it."""
        return 1 - self.u, self.u


@same_name
class PiecewiseLinearA(PiecewiseLinear):
    def shares(self):
        return self.u, 1 - self.u


class ExpBase(mn.Layer):
    """An exponential with a learned base per feature: y = a^x, a > 0;
    dy/dx = a^x ln a, dy/da = x a^(x - 1).  x, y: (N, D);  a (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        self.params = {"a": np.random.default_rng(seed).uniform(1.5, 3.0, d)}
        self.grads = {"a": np.zeros(d)}

    def forward(self, x):
        self.x, self.y = x, self.params["a"] ** x
        return self.y

    def backward(self, dout):
        a = self.params["a"]
        self.grads["a"] = (dout * self.x * a ** (self.x - 1)).sum(axis=0)
        return dout * self.slope()

    def slope(self):
        return self.y * np.log(self.params["a"])


@same_name
class ExpBaseA(ExpBase):
    def slope(self):
        return self.x * self.params["a"] ** (self.x - 1)


# ---- dense-like ------------------------------------------------------------------------------


class SetLayer(mn.Layer):
    """A permutation-equivariant layer (Deep Sets): each element of a set sees itself and the
    mean of its set, y_s = x_s Ws + m Wm + b, m = mean_s x_s.  Every element feeds m, so each
    gets Σ_s dout_s Wmᵀ / S through it.

    x (N, S, D) -> (N, S, F);  Ws, Wm (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, Ws=(d, f), Wm=(d, f), b=(f,))

    def forward(self, x):
        self.x, self.m = x, x.mean(axis=1, keepdims=True)
        return x @ self.params["Ws"] + self.m @ self.params["Wm"] + self.params["b"]

    def backward(self, dout):
        p, dm = self.params, dout.sum(axis=1, keepdims=True)
        self.grads["Ws"] = rows(self.x).T @ rows(dout)
        self.grads["Wm"] = rows(self.m).T @ rows(dm)
        self.grads["b"] = dout.sum(axis=(0, 1))
        return dout @ p["Ws"].T + self.through_mean(dout) @ p["Wm"].T

    def through_mean(self, dout):
        """(N, S, F): what each element's input gets through the mean, before Wmᵀ."""
        return dout.sum(axis=1, keepdims=True) / dout.shape[1]


@same_name
class SetLayerA(SetLayer):
    def through_mean(self, dout):
        return dout / dout.shape[1]


class MixtureOfExperts(mn.Layer):
    """A soft mixture of K linear experts: g = softmax(x Wg) over the experts, e_k = x W_k,
    y = Σ_k g_k e_k.  dg_k = Σ_f dout e_k, and at the gate's logits dz = g (dg - Σ_k g_k dg_k).

    x (N, D) -> (N, F);  W (K, D, F), Wg (D, K)."""

    def __init__(self, d, f, experts=3, seed=0):
        super().__init__()
        with_params(self, seed, W=(experts, d, f), Wg=(d, experts))

    def forward(self, x):
        self.x, self.g = x, softmax(x @ self.params["Wg"])
        self.e = np.einsum("nd,kdf->nkf", x, self.params["W"])
        self.y = np.einsum("nk,nkf->nf", self.g, self.e)
        return self.y

    def backward(self, dout):
        g = self.g
        dg = np.einsum("nf,nkf->nk", dout, self.expert_outputs())
        dz = g * (dg - (g * dg).sum(axis=1, keepdims=True))
        de = g[:, :, None] * dout[:, None, :]
        self.grads["W"] = np.einsum("nd,nkf->kdf", self.x, de)
        self.grads["Wg"] = self.x.T @ dz
        return np.einsum("nkf,kdf->nd", de, self.params["W"]) + dz @ self.params["Wg"].T

    def expert_outputs(self):
        """(N, K, F): what each gate weight g_k multiplied."""
        return self.e


@same_name
class MixtureOfExpertsA(MixtureOfExperts):
    def expert_outputs(self):
        return self.y[:, None, :]


class TemperedLinear(mn.Layer):
    """A linear map over a learned temperature τ: z = x W + b, y = z / τ;
    dW = xᵀ dout / τ, dτ = Σ dout z · d(1/τ)/dτ = -Σ dout z / τ².

    x (N, D) -> (N, F);  W (D, F), b (F,), tau (1,)."""

    def __init__(self, d, f, tau=1.5, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        self.params["tau"], self.grads["tau"] = np.array([tau]), np.zeros(1)

    def forward(self, x):
        self.x, self.z = x, x @ self.params["W"] + self.params["b"]
        return self.z / self.params["tau"]

    def backward(self, dout):
        tau = self.params["tau"]
        dz = dout / tau
        self.grads["W"], self.grads["b"] = self.x.T @ dz, dz.sum(axis=0)
        self.grads["tau"] = (dout * self.z).sum() * self.inverse_slope(tau)
        return dz @ self.params["W"].T

    def inverse_slope(self, tau):
        """d(1/τ)/dτ."""
        return -1 / tau**2


@same_name
class TemperedLinearA(TemperedLinear):
    def inverse_slope(self, tau):
        return -1 / tau


# ---- normalization ---------------------------------------------------------------------------


class MomentBatchNorm(mn.Layer):
    """Batch norm from the first two moments, in one pass: m1 = mean(x), m2 = mean(x²) over
    the batch, var = m2 - m1², std = √(var + eps), x̂ = (x - m1) / std, y = gamma x̂ + beta.
    Backward, step by step: dx̂ = gamma dout; dvar = -Σ dx̂ (x - m1) / (2 std³); dm2 = dvar;
    dm1 = -Σ dx̂ / std - 2 m1 dvar; dx = dx̂ / std + dm1 / N + 2 x dm2 / N.

    x (N, D) -> (N, D);  gamma, beta (D,)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x, self.m1 = x, x.mean(axis=0)
        self.var = (x**2).mean(axis=0) - self.m1**2
        self.std = np.sqrt(self.var + self.eps)
        self.xhat = (x - self.m1) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        N, std = len(dout), self.std
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        dvar = -(dxhat * (self.x - self.m1)).sum(axis=0) / (2 * std**3)
        dm2 = dvar
        return dxhat / std + self.dm1(dxhat, dvar) / N + 2 * self.x * dm2 / N

    def dm1(self, dxhat, dvar):
        """dL/dm1: through the numerator x - m1, and through var = m2 - m1²."""
        return -dxhat.sum(axis=0) / self.std - 2 * self.m1 * dvar


@same_name
class MomentBatchNormA(MomentBatchNorm):
    def dm1(self, dxhat, dvar):
        return -dxhat.sum(axis=0) / self.std


class MinMaxScale(mn.Layer):
    """Each row stretched onto [0, 1]: lo, hi = the row's min and max, r = hi - lo,
    y = (x - lo) / r.  With dr = -Σ dout y / r: dhi = dr, dlo = -Σ dout / r - dr, each added at
    the entry that is the row's max (or min).  x, y: (N, D)."""

    def forward(self, x):
        self.lo, self.hi = x.min(axis=1, keepdims=True), x.max(axis=1, keepdims=True)
        self.r = self.hi - self.lo
        self.x, self.y = x, (x - self.lo) / self.r
        return self.y

    def backward(self, dout):
        dr = -(dout * self.y).sum(axis=1, keepdims=True) / self.r
        dlo = -dout.sum(axis=1, keepdims=True) / self.r + self.range_to_lo(dr)
        return dout / self.r + (self.x == self.hi) * dr + (self.x == self.lo) * dlo

    def range_to_lo(self, dr):
        """lo's share of dr: r = hi - lo."""
        return -dr


@same_name
class MinMaxScaleA(MinMaxScale):
    def range_to_lo(self, dr):
        return dr


class MeanAbsNorm(mn.Layer):
    """Each row divided by its mean absolute value, then a gain per feature: m = mean_j |x_j|,
    x̂ = x / m, y = g x̂.  Since D dm/dx_j = sign(x_j): with dx̂ = g dout,
    dx = (dx̂ - sign(x) mean_j(dx̂ x̂)) / m.  x, y: (N, D);  g (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params, self.grads = {"g": np.linspace(0.5, 1.5, d)}, {"g": np.zeros(d)}

    def forward(self, x):
        self.x, self.m = x, np.abs(x).mean(axis=1, keepdims=True)
        self.xhat = x / self.m
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        dxhat = dout * self.params["g"]
        return (dxhat - self.norm_slope() * (dxhat * self.xhat).mean(axis=1, keepdims=True)) \
            / self.m

    def norm_slope(self):
        """D dm/dx."""
        return np.sign(self.x)


@same_name
class MeanAbsNormA(MeanAbsNorm):
    def norm_slope(self):
        return self.xhat


# ---- convolution and pooling -----------------------------------------------------------------


class LocallyConnected(mn.Layer):
    """A convolution without weight sharing: output position (i, j) has filters W[i, j] of its
    own and a bias b[:, i, j] (k×k, stride 1, no padding).

    x (N, C, H, W) -> (N, F, H', W'), H' = H - k + 1;  W (H', W', F, C, k, k), b (F, H', W')."""

    def __init__(self, c, f, k=3, size=4, seed=0):
        super().__init__()
        self.k, out = k, size - k + 1
        with_params(self, seed, W=(out, out, f, c, k, k), b=(f, out, out))

    def forward(self, x):
        self.x, k, W = x, self.k, self.params["W"]
        y = np.zeros((len(x), W.shape[2], W.shape[0], W.shape[1]))
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                y[:, :, i, j] = np.einsum("nckl,fckl->nf", x[:, :, i:i + k, j:j + k], W[i, j])
        return y + self.params["b"]

    def backward(self, dout):
        k, W = self.k, self.params["W"]
        dx, dW = np.zeros_like(self.x), np.zeros_like(W)
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                g, window = dout[:, :, i, j], self.x[:, :, i:i + k, j:j + k]
                self.add_to_filters(dW, i, j, np.einsum("nf,nckl->fckl", g, window))
                dx[:, :, i:i + k, j:j + k] += np.einsum("nf,fckl->nckl", g, W[i, j])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=0)
        return dx

    def add_to_filters(self, dW, i, j, term):
        """Output (i, j)'s term of dW, (F, C, k, k), goes to the filters of that position."""
        dW[i, j] += term


@same_name
class LocallyConnectedA(LocallyConnected):
    def add_to_filters(self, dW, i, j, term):
        dW += term


class PatchConv(mn.Layer):
    """A k×k convolution (stride 1, no padding) as one matrix product: every window, as
    sliding_window_view gives it, flattened in the order (C, k, k) into a row of P.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H', W');  P (N·H'·W', C·k·k)."""

    def __init__(self, c, f, k=3, seed=0):
        super().__init__()
        self.k = k
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def forward(self, x):
        windows = sliding_window_view(x, (self.k, self.k), axis=(2, 3))  # (N, C, H', W', k, k)
        N, C, Ho, Wo = windows.shape[:4]
        self.x_shape, self.out_shape = x.shape, (N, Ho, Wo)
        self.P = windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * Ho * Wo, -1)
        F = len(self.params["W"])
        y = self.P @ self.params["W"].reshape(F, -1).T + self.params["b"]
        return y.reshape(N, Ho, Wo, F).transpose(0, 3, 1, 2)

    def backward(self, dout):
        W, k = self.params["W"], self.k
        F, C = W.shape[:2]
        d = dout.transpose(0, 2, 3, 1).reshape(-1, F)
        self.grads["W"] = self.weight_shape(d.T @ self.P, F, C)
        self.grads["b"] = d.sum(axis=0)
        dP = (d @ W.reshape(F, -1)).reshape(*self.out_shape, C, k, k)
        dx = np.zeros(self.x_shape)
        for i in range(self.out_shape[1]):
            for j in range(self.out_shape[2]):
                dx[:, :, i:i + k, j:j + k] += dP[:, i, j]
        return dx

    def weight_shape(self, dW, F, C):
        """dW (F, C·k·k), one row per filter, back to W's shape."""
        return dW.reshape(F, C, self.k, self.k)


@same_name
class PatchConvA(PatchConv):
    def weight_shape(self, dW, F, C):
        return dW.reshape(F, self.k, self.k, C).transpose(0, 3, 1, 2)


class MedianPool(mn.Layer):
    """The median of each k×k window, stride k, k odd: the gradient of a window goes to the
    entry that is its median, rank k²//2 (counted from 0) once the window is sorted.

    x (N, C, H, W) -> (N, C, H/k, W/k)."""

    def __init__(self, k=3):
        super().__init__()
        self.k = k

    def forward(self, x):
        N, C, H, W = x.shape
        k, self.x_shape = self.k, x.shape
        self.win = x.reshape(N, C, H // k, k, W // k, k).transpose(0, 1, 2, 4, 3, 5) \
            .reshape(N, C, H // k, W // k, k * k)
        return np.median(self.win, axis=-1)

    def backward(self, dout):
        (N, C, H, W), k = self.x_shape, self.k
        pick = np.argsort(self.win, axis=-1)[..., self.rank()]
        dwin = np.zeros_like(self.win)
        np.put_along_axis(dwin, pick[..., None], dout[..., None], axis=-1)
        return dwin.reshape(N, C, H // k, W // k, k, k).transpose(0, 1, 2, 4, 3, 5) \
            .reshape(self.x_shape)

    def rank(self):
        """The median's place among the k² entries of a sorted window, counted from 0."""
        return self.k * self.k // 2


@same_name
class MedianPoolA(MedianPool):
    def rank(self):
        return (self.k * self.k + 1) // 2


# ---- losses ----------------------------------------------------------------------------------


class CrammerSinger(mn.Loss):
    """The multiclass hinge of Crammer and Singer, where only the strongest wrong class counts:
    L = mean_n max(0, 1 + max_{j≠y} s_j - s_y).  Where a sample's hinge is open, its gradient
    is +1/N at that class j* and -1/N at y.  scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        N = len(y)
        self.s, self.y = scores, y
        rival = np.where(np.eye(scores.shape[1], dtype=bool)[y], -np.inf, scores)
        self.j = rival.argmax(axis=1)
        self.margin = 1 + rival.max(axis=1) - scores[np.arange(N), y]
        return float(np.maximum(0, self.margin).mean())

    def backward(self):
        N = len(self.y)
        d = self.rivals()
        d[np.arange(N), self.y] = -d.sum(axis=1)
        return d / N

    def rivals(self):
        """(N, C): 1 at the wrong class each open hinge is taken against."""
        d = np.zeros_like(self.s)
        d[np.arange(len(self.y)), self.j] = self.margin > 0
        return d


@same_name
class CrammerSingerA(CrammerSinger):
    def rivals(self):
        N = len(self.y)
        d = (self.s - self.s[np.arange(N), self.y][:, None] + 1 > 0).astype(float)
        d[np.arange(N), self.y] = 0
        return d


def four_labels(rng, n):
    return labels(rng, n, classes=4)


class Triplet(mn.Loss):
    """The triplet loss of metric learning: scores (N, 3E) hold an anchor a, a positive p and a
    negative n side by side, L = mean_n max(0, ‖a - p‖² - ‖a - n‖² + margin).  Where a
    triplet's hinge is open: da = 2 (n - p) / N, dp = 2 (p - a) / N, dn = 2 (a - n) / N.
    y is not used -> float."""

    margin = 0.2

    def forward(self, scores, y):
        self.a, self.p, self.n = np.split(scores, 3, axis=1)
        gap = ((self.a - self.p) ** 2).sum(axis=1) - ((self.a - self.n) ** 2).sum(axis=1)
        self.hinge = np.maximum(0, gap + self.margin)
        return float(self.hinge.mean())

    def backward(self):
        a, p, n = self.a, self.p, self.n
        on = self.open() / len(a)
        return np.concatenate([2 * (n - p) * on, 2 * (p - a) * on, 2 * (a - n) * on], axis=1)

    def open(self):
        """(N, 1): which triplets' hinges are open."""
        return (self.hinge > 0)[:, None]


@same_name
class TripletA(Triplet):
    def open(self):
        a, p, n = self.a, self.p, self.n
        return (a - p) ** 2 - (a - n) ** 2 + self.margin > 0


class EntropyBonusCE(mn.Loss):
    """Cross-entropy with a bonus for spread-out predictions: L = mean_n (-log p_y - β H(p)),
    p = softmax(s), H(p) = -Σ_c p_c log p_c.  dH/ds = -p (log p + H), so
    dL/ds = (p - onehot - β dH/ds) / N.  scores (N, C), y (N,) labels -> float."""

    beta = 0.5

    def forward(self, scores, y):
        self.p, self.y = softmax(scores), y
        self.logp = np.log(self.p)
        self.H = -(self.p * self.logp).sum(axis=1, keepdims=True)
        return float((-self.logp[np.arange(len(y)), y] - self.beta * self.H[:, 0]).mean())

    def backward(self):
        onehot = np.eye(self.p.shape[1])[self.y]
        return (self.p - onehot - self.beta * self.dH()) / len(self.y)

    def dH(self):
        """dH/ds, row by row."""
        return -self.p * (self.logp + self.H)


@same_name
class EntropyBonusCEA(EntropyBonusCE):
    def dH(self):
        return self.p * (self.logp + self.H)


# ---- sequences -------------------------------------------------------------------------------


@same_name
class GRUA(GRU):
    def step_back(self, t, dh):
        H = self.hidden
        h_prev, gh, r, z, n = self.cache[t]
        dn, dz, dh_prev = self.mix_back(dh, z, n, h_prev)
        dan = dn * (1 - n**2)
        dr = dn * gh[:, 2 * H:]
        dar, daz = dr * r * (1 - r), dz * z * (1 - z)
        dgx = np.concatenate([dar, daz, dan], axis=1)
        dgh = np.concatenate([dar, daz, dan * r], axis=1)
        self.grads["Wx"] += self.x[:, t].T @ dgx
        self.grads["bx"] += dgx.sum(axis=0)
        self.grads["Wh"] += h_prev.T @ dgh
        self.grads["bh"] += dgh.sum(axis=0)
        return dgx @ self.params["Wx"].T, dh_prev + dgh @ self.params["Wh"].T


class OutputRNN(RNN_):
    """An RNN cell with an output map of its own, as in min-char-rnn: h_t = tanh(x_t Wx +
    h_{t-1} Wh + b), y_t = h_t Wy + by, h_0 = 0.  Back through step t, dh_t = dout_t Wyᵀ +
    dh_next, dh_next = da_{t+1} Whᵀ coming from step t + 1.

    x (N, T, D) -> (N, T, O);  Wx (D, H), Wh (H, H), b (H,), Wy (H, O), by (O,)."""

    def __init__(self, d, h, o, seed=0):
        mn.Layer.__init__(self)
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,), Wy=(h, o), by=(o,))

    def forward(self, x):
        return super().forward(x) @ self.params["Wy"] + self.params["by"]

    def backward(self, dout):
        zero_grads(self)
        self.grads["Wy"] = rows(self.hs[:, 1:]).T @ rows(dout)
        self.grads["by"] = dout.sum(axis=(0, 1))
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, self.into_h(dout[:, t], dh_next))
        return dx

    def into_h(self, dy, dh_next):
        """dL/dh_t: from y_t through Wy, and from step t + 1."""
        return dy @ self.params["Wy"].T + dh_next


@same_name
class OutputRNNA(OutputRNN):
    def into_h(self, dy, dh_next):
        return (dy + dh_next) @ self.params["Wy"].T


class LearnedStartRNN(RNN_):
    """An RNN whose initial state is learned, one h0 for every sequence: h_t = tanh(x_t Wx +
    h_{t-1} Wh + b) from h_0 = h0.  dh0 adds up over the batch what the first step sends back.

    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,), h0 (H,)."""

    def __init__(self, d, h, seed=0):
        mn.Layer.__init__(self)
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,), h0=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        p = self.params
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        self.hs[:, 0] = p["h0"]
        for t in range(T):
            self.hs[:, t + 1] = np.tanh(x[:, t] @ p["Wx"] + self.hs[:, t] @ p["Wh"] + p["b"])
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dh = dout[:, t] + dh_next
            dx[:, t], dh_next = self.step_back(t, dh)
        self.grads["h0"] = dh_next.sum(axis=0)
        return dx


@same_name
class LearnedStartRNNA(LearnedStartRNN):
    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dh = dout[:, t] + dh_next
            dx[:, t], dh_next = self.step_back(t, dh)
        self.grads["h0"] = dh.sum(axis=0)
        return dx


class PaddedEmbedding(mn.Layer):
    """An embedding whose row 0 is kept for padding: token i (0 to V - 1) reads row i + 1.
    x (N, T) ids -> y (N, T, D);  W (V + 1, D).  Ids get no gradient: backward returns None."""

    def __init__(self, vocab, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(vocab + 1, d))

    def forward(self, x):
        self.ids = np.rint(x).astype(int)
        return self.params["W"][self.ids + 1]

    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.rows_read(), dout)
        self.grads["W"] = dW
        return None

    def rows_read(self):
        """The row of W each position read."""
        return self.ids + 1


@same_name
class PaddedEmbeddingA(PaddedEmbedding):
    def rows_read(self):
        return self.ids


def token_net(layer, seed, vocab=5):
    """The embedding on (4, 5) token ids, then Flatten - Dense - SoftmaxCE."""
    ids = np.random.default_rng(seed).integers(0, vocab, (4, 5)).astype(float)
    return classifier([layer], ids, seed)


# ---- attention -------------------------------------------------------------------------------


def projections_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of a layer with Q, K, V = x Wq, x Wk, x Wv and returns dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


class RelativeBiasAttention(SelfAttention):
    """SelfAttention with a learned bias per relative position (T5, Swin): the score of query
    i for key j gets B[j - i + T - 1].  dB[r] adds up dS over every sample and every (i, j) at
    that offset.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), B (2T - 1,)."""

    def __init__(self, d, t, seed=0):
        super().__init__(d, seed)
        self.params["B"] = 0.5 * np.random.default_rng(seed + 1).standard_normal(2 * t - 1)
        self.grads["B"] = np.zeros(2 * t - 1)

    def offsets(self, T):
        """(T, T): where in B the score of query i for key j reads its bias."""
        return np.arange(T)[None, :] - np.arange(T)[:, None] + T - 1

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        bias = self.params["B"][self.offsets(x.shape[1])]
        self.scores = self.q @ self.k.transpose(0, 2, 1) * self.scale + bias
        self.p = softmax(self.scores)
        return self.p @ self.v

    def softmax_back(self, dp):
        ds = super().softmax_back(dp)
        dB = np.zeros_like(self.params["B"])
        np.add.at(dB, self.bias_index(ds.shape[-1]), ds.sum(axis=0))
        self.grads["B"] = dB
        return ds

    def bias_index(self, T):
        return self.offsets(T)


@same_name
class RelativeBiasAttentionA(RelativeBiasAttention):
    def bias_index(self, T):
        i, j = np.arange(T)[:, None], np.arange(T)[None, :]
        return i - j + T - 1


class DropAttention(SelfAttention):
    """SelfAttention with dropout on the attention weights, as in the Transformer: in training
    P̃ = P ⊙ M / (1 - rate), M ~ Bernoulli(1 - rate) from the layer's own Generator, y = P̃ V.
    dV = P̃ᵀ dout, dP = (dout Vᵀ) ⊙ M / (1 - rate)."""

    def __init__(self, d, rate=0.3, seed=0):
        super().__init__(d, seed)
        self.rate, self.rng = rate, np.random.default_rng(seed + 1)

    def forward(self, x):
        super().forward(x)
        if self.training:
            self.mask = (self.rng.random(self.p.shape) >= self.rate) / (1 - self.rate)
        else:
            self.mask = np.ones(self.p.shape)
        self.dropped = self.p * self.mask
        return self.dropped @ self.v

    def backward(self, dout):
        dv = self.weights_used().transpose(0, 2, 1) @ dout
        ds = self.softmax_back((dout @ self.v.transpose(0, 2, 1)) * self.mask)
        return projections_back(self, *self.scores_back(ds), dv)

    def weights_used(self):
        """The attention weights that multiplied V."""
        return self.dropped


@same_name
class DropAttentionA(DropAttention):
    def weights_used(self):
        return self.p


class AdditiveAttention(mn.Layer):
    """Bahdanau's additive attention, as self-attention: every query i and key j meet in
    H_ij = tanh(q_i + k_j), the score is e_ij = H_ij · w, P = softmax_j(e), y = P V, with
    q, k, V = x Wq, x Wk, x Wv.  q_i is added to every key's column, so dq_i sums dA_ij over
    the keys j; k_j sums it over the queries i (dA = dH (1 - H²)).

    x (N, T, D) -> (N, T, D);  Wq, Wk (D, A), Wv (D, D), w (A,)."""

    def __init__(self, d, a=4, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, a), Wk=(d, a), Wv=(d, d), w=(a,))

    def forward(self, x):
        self.x = x
        q, k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.H = np.tanh(q[:, :, None, :] + k[:, None, :, :])  # (N, T queries, T keys, A)
        self.p = softmax(self.H @ self.params["w"])
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        de = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        self.grads["w"] = np.einsum("nij,nija->a", de, self.H)
        dA = de[..., None] * self.params["w"] * (1 - self.H**2)
        dq, dk = self.to_queries_and_keys(dA)
        return projections_back(self, dq, dk, dv)

    def to_queries_and_keys(self, dA):
        """(dq, dk), each (N, T, A), from the grid dA (N, queries, keys, A)."""
        return dA.sum(axis=2), dA.sum(axis=1)


@same_name
class AdditiveAttentionA(AdditiveAttention):
    def to_queries_and_keys(self, dA):
        return dA.sum(axis=1), dA.sum(axis=2)


class KeyPaddingAttention(SelfAttention):
    """SelfAttention on sequences padded to T: sample n has lengths[n] real steps, and no query
    attends to a padding key (its score is -inf). Every position, padding or not, is still a
    query whose output goes on.  x (N, T, D) -> (N, T, D);  lengths (N,) fixed when built."""

    def __init__(self, d, lengths, seed=0):
        super().__init__(d, seed)
        self.lengths = np.asarray(lengths)

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.real = np.arange(x.shape[1])[None, :] < self.lengths[:, None]  # (N, T)
        self.scores = self.q @ self.k.transpose(0, 2, 1) * self.scale
        self.p = softmax(np.where(self.real[:, None, :], self.scores, -np.inf))
        return self.p @ self.v


@same_name
class KeyPaddingAttentionA(KeyPaddingAttention):
    def backward(self, dout):
        return super().backward(dout * self.real[:, :, None])


# ---- sampling noise and mixing ---------------------------------------------------------------


class GumbelSoftmax(mn.Layer):
    """A relaxed one-hot sample: y = softmax((x + g) / τ) over the features, g = -log(-log U),
    U ~ U(0, 1) from the layer's own Generator on every training call.
    dx = y (dout - Σ dout y) / τ.  x, y: (N, K)."""

    def __init__(self, tau=0.7, seed=0):
        super().__init__()
        self.tau, self.rng = tau, np.random.default_rng(seed)

    def forward(self, x):
        g = -np.log(-np.log(self.rng.random(x.shape))) if self.training else np.zeros(x.shape)
        self.x, self.y = x, softmax((x + g) / self.tau)
        return self.y

    def backward(self, dout):
        y = self.probabilities()
        return y * (dout - (dout * y).sum(axis=1, keepdims=True)) / self.tau

    def probabilities(self):
        """What forward put out."""
        return self.y


@same_name
class GumbelSoftmaxA(GumbelSoftmax):
    def probabilities(self):
        return softmax(self.x / self.tau)


class BatchMixup(mn.Layer):
    """Mixup inside the network (manifold mixup): each sample mixed with another of the batch,
    y = λ x + (1 - λ) x[π], π a permutation from the layer's own Generator on every training
    call.  Sample π_i gets (1 - λ) dout_i back: dx = λ dout + (1 - λ) dout[π⁻¹].

    x, y: (N, D)."""

    def __init__(self, lam=0.7, seed=0):
        super().__init__()
        self.lam, self.rng = lam, np.random.default_rng(seed)

    def forward(self, x):
        self.perm = self.rng.permutation(len(x)) if self.training else np.arange(len(x))
        return self.lam * x + (1 - self.lam) * x[self.perm]

    def backward(self, dout):
        return self.lam * dout + (1 - self.lam) * self.to_sources(dout)

    def to_sources(self, dout):
        """Row i of dout handed back to the sample π_i that was mixed into it."""
        d = np.zeros_like(dout)
        d[self.perm] = dout  # = is enough: a permutation repeats no index
        return d


@same_name
class BatchMixupA(BatchMixup):
    def to_sources(self, dout):
        return dout[self.perm]


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("arctan", ACT, lambda: dense_net(ArctanA(), seed=601, scale=2.0),
         "operator precedence: 1 / 1 + x**2 is (1 / 1) + x² = 1 + x², not 1 / (1 + x²)",
         "return 1 / (1 + self.x**2)"),
    Case("arcsinh", ACT, lambda: dense_net(ArcSinhA(), seed=602, scale=2.0),
         "the inverse-function rule 1 / sinh'(y) = 1 / cosh(y) is evaluated at the input x "
         "instead of the output y = arcsinh(x): 1 / cosh(x) where 1 / √(1 + x²) belongs",
         "return self.y"),
    Case("piecewise-linear", ACT, lambda: dense_net(PiecewiseLinearA(seed=603), seed=603,
                                                     scale=2.0),
         "the two interpolation weights are swapped in dv: the knot left of x gets u and the "
         "knot right of it 1 - u, where forward gave the left knot 1 - u and the right one u",
         "return 1 - self.u, self.u"),
    Case("exp-base", ACT, lambda: dense_net(ExpBaseA(5, seed=604), seed=604),
         "dy/dx of a^x is written with the power rule, x a^(x - 1), which is the derivative "
         "with respect to the base a; with respect to the exponent x it is a^x ln a",
         "return self.y * np.log(self.params['a'])"),
    Case("deep-sets", DENSE, lambda: sequence_net(SetLayerA(4, 3, seed=605), seed=605),
         "each element gets back through the set's mean only its own output's share, dout_s "
         "/ S; the mean feeds every output of the set, so each element must get Σ_s' dout_s' / S",
         "return dout.sum(axis=1, keepdims=True) / dout.shape[1]"),
    Case("mixture-of-experts", DENSE,
         lambda: dense_net(MixtureOfExpertsA(5, 4, seed=606), seed=606),
         "dg_k pairs dout with the mixture y instead of expert k's own output e_k: the same "
         "number for every expert, so the softmax backward cancels it and the gate (Wg, and "
         "dx's path through it) gets zero",
         "return self.e"),
    Case("tempered-linear", DENSE, lambda: dense_net(TemperedLinearA(5, 4, seed=607), seed=607),
         "d(1/τ)/dτ is written -1/τ, the power of τ dropped: -1/τ², so dτ comes out τ times "
         "too large",
         "return -1 / tau**2"),
    Case("moment-batchnorm", NORM, lambda: dense_net(MomentBatchNormA(5), seed=608),
         "with var = mean(x²) - m1², the mean m1 also reaches the loss through var: dm1 misses "
         "the term -2 m1 dvar (in the usual var = mean((x - m1)²) form that term is 0)",
         "dm1 = -dxhat.sum(axis=0) / std - 2 * self.m1 * dvar"),
    Case("minmax-scale", NORM, lambda: dense_net(MinMaxScaleA(), seed=609),
         "r = hi - lo, so the range's gradient reaches lo with a minus; backward adds dr to the "
         "row's min entry with a plus (a sign error in the min's branch only)",
         "return -dr"),
    Case("mean-abs-norm", NORM, lambda: dense_net(MeanAbsNormA(5), seed=610),
         "the slope of m = mean|x| is sign(x)/D, but backward's correction term uses x̂ = x/m, "
         "the term of an L2 (RMS) norm: sign(x) mean(dx̂ x̂) is written x̂ mean(dx̂ x̂)",
         "return np.sign(self.x)"),
    Case("locally-connected", CONV,
         lambda: image_net(LocallyConnectedA(3, 2, seed=611), seed=611),
         "dW += einsum(...) without the [i, j]: the (F, C, k, k) term broadcasts onto every "
         "position's filters, so each W[i, j] gets the sum over all positions, as a shared "
         "convolution kernel would",
         "dW[i, j] += np.einsum('nf,nckl->fckl', g, window)"),
    Case("patch-conv", CONV, lambda: image_net(PatchConvA(3, 2, seed=612), size=(5, 5),
                                               seed=612),
         "dW's rows are reshaped as (F, k, k, C) and transposed, the channels-last order, where "
         "forward flattened each window as (C, k, k): the entries of dW are permuted",
         "return dW.reshape(F, C, self.k, self.k)"),
    Case("median-pool", POOL, lambda: image_net(MedianPoolA(3), size=(6, 6), seed=613),
         "the median of 9 sorted entries is at index 9 // 2 = 4 counted from 0; backward picks "
         "(9 + 1) // 2 = 5, the 5th counted from 1, so each window's gradient goes to the "
         "entry one rank above the median",
         "return self.k * self.k // 2"),
    Case("median-pool-correct", POOL, lambda: image_net(MedianPool(3), size=(6, 6), seed=614),
         CORRECT),
    Case("crammer-singer", LOSS, lambda: loss_net(CrammerSingerA(), four_labels, width=4,
                                                  seed=615, scale=2.0),
         "the loss takes only the largest wrong score (a max), but backward is the summed "
         "hinge's (CS231n's SVM): +1 at every wrong class with a positive margin, and -count at "
         "y, where only the strongest one j* counts",
         "d[np.arange(N), self.j] = self.margin > 0"),
    Case("crammer-singer-correct", LOSS, lambda: loss_net(CrammerSinger(), four_labels, width=4,
                                                          seed=616, scale=2.0), CORRECT),
    Case("triplet", LOSS, lambda: loss_net(TripletA(), reals, width=6, seed=621),
         "the open-hinge test is made feature by feature, (a - p)² - (a - n)² + margin > 0, "
         "without the sum over the features: the hinge is of the summed distances, so it is "
         "open or shut for a whole triplet",
         "return (self.hinge > 0)[:, None]"),
    Case("entropy-bonus", LOSS, lambda: loss_net(EntropyBonusCEA(), labels, seed=618, scale=2.0),
         "dH/ds has the wrong sign: H = -Σ p log p, so dH/ds = -p (log p + H); backward drops "
         "the minus, and the bonus's gradient pushes the wrong way",
         "return -self.p * (self.logp + self.H)"),
    Case("gru-reset", SEQ, lambda: sequence_net(GRUA(4, 3, seed=619), seed=619),
         "dr is taken from dn, the gradient at n before tanh's slope, where r sits inside the "
         "tanh: dr = dan ⊙ gh_n with dan = dn (1 - n²)",
         "dr = dan * gh[:, 2 * H:]"),
    Case("output-rnn", SEQ, lambda: sequence_net(OutputRNNA(4, 3, 3, seed=620), seed=620),
         "dh_next, already a gradient at h_t, is added before the product with Wyᵀ, so it goes "
         "through the output map too: (dout_t + dh_next) Wyᵀ where dout_t Wyᵀ + dh_next belongs",
         "return dy @ self.params['Wy'].T + dh_next"),
    Case("learned-h0", SEQ, lambda: sequence_net(LearnedStartRNNA(4, 3, seed=621), seed=621),
         "after the loop, dh0 is summed from dh, the gradient at h_1 left by the last step "
         "handled, instead of dh_next, what step 1 sent back to h_0",
         "self.grads['h0'] = dh_next.sum(axis=0)"),
    Case("padded-embedding", SEQ, lambda: token_net(PaddedEmbeddingA(5, 3, seed=622), seed=622),
         "forward reads row id + 1 (row 0 kept for padding) but backward adds dout at row id: "
         "each token's gradient lands one row too low, and the padding row gets one",
         "return self.ids + 1"),
    Case("relative-bias", ATTN, lambda: sequence_net(RelativeBiasAttentionA(4, 4, seed=623),
                                                     seed=623),
         "backward rebuilds the relative offset as i - j where forward used j - i: dS at offset "
         "r is added into B[-r], the bias table's gradient comes out mirrored",
         "return self.offsets(T)"),
    Case("attention-dropout", ATTN, lambda: sequence_net(DropAttentionA(4, seed=624), seed=624),
         "dV is built from P, the attention weights before dropout, where V was multiplied by "
         "the dropped and rescaled P̃ = P ⊙ M / (1 - rate)",
         "return self.dropped"),
    Case("additive-attention", ATTN,
         lambda: sequence_net(AdditiveAttentionA(4, seed=625), seed=625),
         "the two sums over the grid dA are swapped: q_i is added to every key's column, so dq "
         "must sum over the keys (axis 2) and dk over the queries (axis 1); backward does the "
         "opposite (it runs since both axes have T entries)",
         "return dA.sum(axis=2), dA.sum(axis=1)"),
    Case("key-padding", ATTN, lambda: sequence_net(
        KeyPaddingAttentionA(4, [4, 2, 3, 1], seed=626), seed=626),
         "the key padding mask is also applied to dout, zeroing the gradient of the padding "
         "positions as queries; those outputs go on to the next layer, so their gradient is "
         "real (the mask belongs to the keys only, and forward already did that)",
         "no mask on dout: return super().backward(dout)"),
    Case("gumbel-softmax", NOISE, lambda: dense_net(GumbelSoftmaxA(0.7, seed=627), seed=627),
         "backward recomputes the probabilities as softmax(x / τ), without the Gumbel noise "
         "forward added; the Jacobian must be taken at the y forward put out",
         "return self.y"),
    Case("mixup", NOISE, lambda: dense_net(BatchMixupA(0.7, seed=628), seed=628),
         "the mixed-in part's gradient is gathered with the permutation, dout[π], where it must "
         "be scattered back with it (d[π] = dout, i.e. dout[π⁻¹])",
         "d = np.zeros_like(dout); d[self.perm] = dout; return d"),
    Case("mixup-correct", NOISE, lambda: dense_net(BatchMixup(0.6, seed=629), seed=629),
         CORRECT),
]

MISSED: set[str] = set()
"""The cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
