"""The eighth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the seventh held-out set was used up:
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


class Log2Softplus(mn.Layer):
    """y = log₂(1 + eˣ);  dy/dx = σ(x) / ln 2.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x) / np.log(2)

    def backward(self, dout):
        return dout * sigmoid(self.x) / np.log(2)


@same_name
class Log2SoftplusA(Log2Softplus):
    def backward(self, dout):
        return dout * sigmoid(self.x)


class SigmoidTanh(mn.Layer):
    """y = σ(x) tanh(x);  dy/dx = σ(1 - σ) tanh + σ (1 - tanh²).  x, y: (N, D)."""

    def forward(self, x):
        s, t = sigmoid(x), np.tanh(x)
        self.cache = (s, t)
        return s * t

    def backward(self, dout):
        s, t = self.cache
        return dout * (s * (1 - s) * t + s * (1 - t**2))


@same_name
class SigmoidTanhA(SigmoidTanh):
    def backward(self, dout):
        s, t = self.cache
        return dout * (s * (1 - s) * (1 - t**2))


class LearnedELU(mn.Layer):
    """y = x where x > 0, α (eˣ - 1) elsewhere, α learned per feature;
    dα = Σ_n dout (eˣ - 1) where x <= 0.  x, y: (N, D);  alpha (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, alpha=(d,))
        self.params["alpha"] += 1.0

    def forward(self, x):
        self.x, self.e = x, np.exp(np.minimum(x, 0)) - 1
        return np.where(x > 0, x, self.params["alpha"] * self.e)

    def backward(self, dout):
        neg = self.x <= 0
        self.grads["alpha"] = self.alpha_grad(dout * self.e * neg)
        return dout * np.where(neg, self.params["alpha"] * (self.e + 1), 1.0)

    def alpha_grad(self, per_entry):
        return per_entry.sum(axis=0)


@same_name
class LearnedELUA(LearnedELU):
    def alpha_grad(self, per_entry):
        return per_entry.sum(axis=1)


class SoftClip(mn.Layer):
    """y = softplus(x) - softplus(x - c), a smooth clip to [0, c];  dy/dx = σ(x) - σ(x - c).

    x, y: (N, D)."""

    c = 1.0

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x) - np.logaddexp(0, x - self.c)

    def backward(self, dout):
        return dout * (sigmoid(self.x) - sigmoid(self.x - self.c))


@same_name
class SoftClipA(SoftClip):
    def backward(self, dout):
        return dout * (sigmoid(self.x) - sigmoid(self.x + self.c))


# ---- dense-like ------------------------------------------------------------------------------


class AugmentedLinear(mn.Layer):
    """The bias trick: y = [x, 1] W, the bias is W's last row.

    x (N, D) -> (N, F);  W (D + 1, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d + 1, f))

    def forward(self, x):
        self.xa = np.hstack([x, np.ones((len(x), 1))])
        return self.xa @ self.params["W"]

    def backward(self, dout):
        self.grads["W"] = self.xa.T @ dout
        return self.drop_ones(dout @ self.params["W"].T)

    def drop_ones(self, dxa):
        return dxa[:, :-1]


@same_name
class AugmentedLinearA(AugmentedLinear):
    def drop_ones(self, dxa):
        return dxa[:, 1:]


class SymmetricLinear(mn.Layer):
    """y = x S + b with a symmetric weight S = (W + Wᵀ) / 2;  with G = xᵀ dout,
    dW = (G + Gᵀ) / 2.  x, y: (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        W = self.params["W"]
        self.x, self.S = x, (W + W.T) / 2
        return x @ self.S + self.params["b"]

    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["W"], self.grads["b"] = (G + G.T) / 2, dout.sum(axis=0)
        return dout @ self.S.T


@same_name
class SymmetricLinearA(SymmetricLinear):
    def backward(self, dout):
        self.grads["W"], self.grads["b"] = self.x.T @ dout, dout.sum(axis=0)
        return dout @ self.S.T


class ShrunkLinear(mn.Layer):
    """Soft-thresholded weights: y = x Ŵ + b, Ŵ = sign(W) max(|W| - λ, 0);
    dW = xᵀ dout where |W| > λ, 0 elsewhere.  x (N, D) -> (N, F);  W (D, F), b (F,)."""

    lam = 0.2

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        self.x, self.Wt = x, np.sign(W) * np.maximum(np.abs(W) - self.lam, 0)
        return x @ self.Wt + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout * self.alive()
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.Wt.T

    def alive(self):
        return np.abs(self.params["W"]) > self.lam


@same_name
class ShrunkLinearA(ShrunkLinear):
    def alive(self):
        return self.params["W"] > self.lam


# ---- normalization ---------------------------------------------------------------------------


class SmoothedStandardize(mn.Layer):
    """Batch standardization with ε added to the standard deviation, not under the root:
    x̂ = (x - μ) / s, s = σ + ε.  With σ the batch's std,
    dx = (dout - mean(dout) - (s / σ) x̂ mean(dout x̂)) / s.  x, y: (N, D)."""

    eps = 0.5

    def forward(self, x):
        c = x - x.mean(axis=0)
        self.sigma = np.sqrt((c**2).mean(axis=0))
        self.s = self.sigma + self.eps
        self.xhat = c / self.s
        return self.xhat

    def backward(self, dout):
        along = self.xhat * (dout * self.xhat).mean(axis=0) * self.ratio()
        return (dout - dout.mean(axis=0) - along) / self.s

    def ratio(self):
        return self.s / self.sigma


@same_name
class SmoothedStandardizeA(SmoothedStandardize):
    def ratio(self):
        return 1.0


class LogSoftmax(mn.Layer):
    """y = x - log Σ_j eˣʲ over each row;  dx = dout - softmax(x) Σ_j dout_j, softmax = eʸ.

    x, y: (N, D)."""

    def forward(self, x):
        self.y = x - np.logaddexp.reduce(x, axis=1, keepdims=True)
        return self.y

    def backward(self, dout):
        return dout - self.probs() * dout.sum(axis=1, keepdims=True)

    def probs(self):
        return np.exp(self.y)


@same_name
class LogSoftmaxA(LogSoftmax):
    def probs(self):
        return self.y


class SoftL2Norm(mn.Layer):
    """y = x / s, s = √(‖x‖² + c) per row, c learned;  ds/dx = x / s, ds/dc = 1 / (2s).

    x, y: (N, D);  c (1,)."""

    def __init__(self):
        super().__init__()
        self.params, self.grads = {"c": np.array([1.0])}, {"c": np.zeros(1)}

    def forward(self, x):
        self.x = x
        self.s = np.sqrt((x**2).sum(axis=1, keepdims=True) + self.params["c"][0])
        return x / self.s

    def backward(self, dout):
        ds = -(dout * self.x).sum(axis=1, keepdims=True) / self.s**2
        self.grads["c"] = np.array([(ds * self.ds_dc()).sum()])
        return dout / self.s + ds * self.x / self.s

    def ds_dc(self):
        return 1 / (2 * self.s)


@same_name
class SoftL2NormA(SoftL2Norm):
    def ds_dc(self):
        return 1 / self.s


# ---- convolution and pooling -----------------------------------------------------------------


class ChannelSharedConv(mn.Layer):
    """A 3×3 cross-correlation, padding 1, whose filter f is the same for every input
    channel: W[f] is used C times, so dW[f] adds up all C channels' terms.

    x (N, C, H, W) -> (N, F, H, W);  W (F, 1, 3, 3), b (F,)."""

    def __init__(self, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, 1, 3, 3), b=(f,))

    def forward(self, x):
        self.shape = x.shape
        self.win = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3),
                                       axis=(2, 3))
        out = np.einsum("nchwij,fij->nfhw", self.win, self.params["W"][:, 0])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        per_channel = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["W"] = self.tied(per_channel)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        N, C, H, Wd = self.shape
        dxp = np.zeros((N, C, H + 2, Wd + 2))
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + Wd] += np.einsum(
                    "nfhw,f->nhw", dout, self.params["W"][:, 0, i, j])[:, None]
        return dxp[:, :, 1:-1, 1:-1]

    def tied(self, per_channel):
        """(F, C, 3, 3) -> (F, 1, 3, 3)."""
        return per_channel.sum(axis=1, keepdims=True)


@same_name
class ChannelSharedConvA(ChannelSharedConv):
    def tied(self, per_channel):
        return per_channel[:, :1]


class MixedPool(mn.Layer):
    """y = a max + (1 - a) mean of each 2×2 window, a learned;  da = Σ dout (max - mean).

    x (N, C, H, W) -> (N, C, H/2, W/2);  a (1,)."""

    def __init__(self):
        super().__init__()
        self.params, self.grads = {"a": np.array([0.3])}, {"a": np.zeros(1)}

    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        win = x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
        self.win = win.reshape(N, C, H // 2, W // 2, 4)
        self.max, self.total = self.win.max(axis=-1), self.win.sum(axis=-1)
        a = self.params["a"][0]
        return a * self.max + (1 - a) * self.total / 4

    def backward(self, dout):
        a = self.params["a"][0]
        self.grads["a"] = np.array([(dout * (self.max - self.mean())).sum()])
        top = self.win == self.max[..., None]
        dwin = dout[..., None] * (a * top + (1 - a) / 4)
        N, C, H, W = self.shape
        dwin = dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        return dwin.reshape(self.shape)

    def mean(self):
        return self.total / 4


@same_name
class MixedPoolA(MixedPool):
    def mean(self):
        return self.total


class ReflectPadConv(mn.Layer):
    """A 3×3 cross-correlation on an input padded by reflection (np.pad mode="reflect"): the
    padded border row 0 copies row 1 of x, the last copies row H - 2 (the same for columns),
    so their gradient is added there.  x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    mirror = 2  # the border copies the pixel 2 steps inside it: the edge is not repeated

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
        self.shape, self.win = xp.shape, sliding_window_view(xp, (3, 3), axis=(2, 3))
        out = np.einsum("nchwij,fcij->nfhw", self.win, self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros(self.shape)
        H, Wd = dout.shape[2:]
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + Wd] += np.einsum("nfhw,fc->nchw", dout, W[:, :, i, j])
        return self.fold(self.fold(dxp, 2), 3)

    def fold(self, dxp, axis):
        """Crop the border along `axis` and add its gradient to the pixels it copied."""
        m = self.mirror
        d = np.moveaxis(dxp, axis, 0)
        inner = d[1:-1].copy()
        inner[m - 1] += d[0]
        inner[-m] += d[-1]
        return np.moveaxis(inner, 0, axis)


@same_name
class ReflectPadConvA(ReflectPadConv):
    mirror = 1


# ---- losses ----------------------------------------------------------------------------------


class CauchyLoss(mn.Loss):
    """L = mean_n log(1 + r² / c²), r = s - y;  dL/ds = (2r / c²) / (1 + r² / c²) / N.

    scores (N, 1), y (N,) -> float."""

    c = 2.0

    def forward(self, scores, y):
        self.r = scores[:, 0] - y
        return float(np.mean(np.log1p(self.r**2 / self.c**2)))

    def backward(self):
        r, c2 = self.r, self.c**2
        return ((2 * r / c2) / (1 + r**2 / c2) / len(r))[:, None]


@same_name
class CauchyLossA(CauchyLoss):
    def backward(self):
        r, c2 = self.r, self.c**2
        return ((2 * r / c2) / (1 + r**2) / len(r))[:, None]


def far_targets(rng, n):
    return 3.0 * rng.standard_normal(n)


class PolyLoss(mn.Loss):
    """Poly-1: L = mean_n (-log p_y + ε (1 - p_y)), p = softmax(s);  dp_y/ds = p_y (onehot - p),
    so dL/ds = (p - onehot - ε p_y (onehot - p)) / N.  scores (N, C), y (N,) -> float."""

    eps = 2.0

    def forward(self, scores, y):
        self.p, self.onehot = softmax(scores), np.eye(scores.shape[1])[y]
        py = (self.p * self.onehot).sum(axis=1, keepdims=True)
        return float(np.mean(-np.log(py) + self.eps * (1 - py)))

    def backward(self):
        return (self.p - self.onehot - self.eps * self.dpy()) / len(self.p)

    def dpy(self):
        """dp_y/ds, row by row."""
        py = (self.p * self.onehot).sum(axis=1, keepdims=True)
        return py * (self.onehot - self.p)


@same_name
class PolyLossA(PolyLoss):
    def dpy(self):
        return self.onehot - self.p


class OrdinalLoss(mn.Loss):
    """Ordinal regression by K - 1 binary levels: target t_k = [y > k], k = 0..K-2,
    L = mean_n Σ_k BCE(σ(s_k), t_k);  dL/ds = (σ(s) - t) / N.

    scores (N, K - 1), y (N,) in 0..K-1 -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        t = self.levels(y, scores.shape[1])
        return float(np.mean((np.logaddexp(0, scores) - t * scores).sum(axis=1)))

    def backward(self):
        return (sigmoid(self.s) - self.targets()) / len(self.s)

    def levels(self, y, k):
        return (y[:, None] > np.arange(k)).astype(float)

    def targets(self):
        return self.levels(self.y, self.s.shape[1])


@same_name
class OrdinalLossA(OrdinalLoss):
    def targets(self):
        return (self.y[:, None] >= np.arange(self.s.shape[1])).astype(float)


def grades(rng, n):
    return labels(rng, n, classes=4)


# ---- sequences -------------------------------------------------------------------------------


@same_name
class RNNTruncated(RNN):
    def backward(self, dout):
        zero_grads(self)
        T = self.x.shape[1]
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(T)):
            if (T - t) % 2 == 0:
                dh_next = np.zeros_like(dh_next)  # truncated BPTT, as the char-RNN notes do
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        return dx


@same_name
class RNNLastTwice(RNN):
    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), dout[:, -1].copy()  # the last step has no h_{t+1}
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        return dx


class GainedRNN(RNN):
    """h_t = tanh(x_t Wx + (h_{t-1} Wh) ⊙ g + b): a learned gain g on the recurrent term.

    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), g (H,), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__(d, h, seed)
        with_params(self, seed, Wx=(d, h), Wh=(h, h), g=(h,), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        P = self.params
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in range(T):
            self.hs[:, t + 1] = np.tanh(x[:, t] @ P["Wx"] + self.hs[:, t] @ P["Wh"] * P["g"]
                                        + P["b"])
        return self.hs[:, 1:]

    def step_back(self, t, dh):
        P, h_prev = self.params, self.hs[:, t]
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += h_prev.T @ (da * P["g"])
        self.grads["g"] += (da * (h_prev @ P["Wh"])).sum(axis=0)
        self.grads["b"] += da.sum(axis=0)
        return da @ P["Wx"].T, self.back_to_h(da)

    def back_to_h(self, da):
        return (da * self.params["g"]) @ self.params["Wh"].T


@same_name
class GainedRNNA(GainedRNN):
    def back_to_h(self, da):
        return da @ self.params["Wh"].T * self.params["g"]


class TokenShift(mn.Layer):
    """y_t = μ ⊙ x_t + (1 - μ) ⊙ x_{t-1}, x_{-1} = 0 (RWKV's token shift);
    dx_t = μ dout_t + (1 - μ) dout_{t+1}.  x, y: (N, T, D);  mu (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, mu=(d,))

    def forward(self, x):
        self.x, self.prev = x, np.zeros_like(x)
        self.prev[:, 1:] = x[:, :-1]
        mu = self.params["mu"]
        return mu * x + (1 - mu) * self.prev

    def backward(self, dout):
        mu = self.params["mu"]
        self.grads["mu"] = (dout * (self.x - self.prev)).sum(axis=(0, 1))
        return mu * dout + self.to_previous((1 - mu) * dout)

    def to_previous(self, d):
        """The gradient of x_{t-1}'s use at step t, sent back to step t - 1."""
        out = np.zeros_like(d)
        out[:, :-1] = d[:, 1:]
        return out


@same_name
class TokenShiftA(TokenShift):
    def to_previous(self, d):
        return d


# ---- attention and blocks --------------------------------------------------------------------


class SigmoidAttention(SelfAttention):
    """SelfAttention with P = σ(S) entry by entry, no normalization over the keys:
    dS = dP ⊙ P (1 - P).  x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = sigmoid(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        return self.p @ self.v

    def softmax_back(self, dp):
        return dp * self.p * (1 - self.p)


@same_name
class SigmoidAttentionA(SigmoidAttention):
    def softmax_back(self, dp):
        return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))


class ResidualTanh(mn.Layer):
    """y = x + tanh(x W): the sum hands dout whole to both of its terms.

    x (N, T, D) -> (N, T, D);  W (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d))

    def forward(self, x):
        self.x, self.t = x, np.tanh(x @ self.params["W"])
        return x + self.t

    def backward(self, dout):
        return dout + self.branch_back(dout)

    def branch_back(self, d):
        da = d * (1 - self.t**2)
        self.grads["W"] = rows(self.x).T @ rows(da)
        return da @ self.params["W"].T


@same_name
class ResidualTanhA(ResidualTanh):
    def backward(self, dout):
        return dout / 2 + self.branch_back(dout / 2)


class KeyBiasAttention(SelfAttention):
    """SelfAttention with a learned bias per key position: S = Q Kᵀ / √D + b[j];
    db[j] adds up dS[n, i, j] over samples n and queries i.

    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), b (T,)."""

    def __init__(self, d, t, seed=0):
        super().__init__(d, seed)
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), b=(t,))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale + self.params["b"])
        return self.p @ self.v

    def softmax_back(self, dp):
        ds = super().softmax_back(dp)
        self.grads["b"] = self.bias_grad(ds)
        return ds

    def bias_grad(self, ds):
        return ds.sum(axis=(0, 1))


@same_name
class KeyBiasAttentionA(KeyBiasAttention):
    def bias_grad(self, ds):
        return ds.sum(axis=(0, 2))


class DistanceAttention(SelfAttention):
    """SelfAttention scored by distance: S_ij = -‖q_i - k_j‖² / √D = -(‖q_i‖² - 2 q_i·k_j
    + ‖k_j‖²) / √D.  dQ = -2 (Q Σ_j dS - dS K) / √D, dK = 2 (dSᵀ Q - K Σ_i dS) / √D.

    x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        q, k = self.q, self.k = x @ self.params["Wq"], x @ self.params["Wk"]
        self.v = x @ self.params["Wv"]
        d2 = (q**2).sum(-1)[:, :, None] - 2 * q @ k.transpose(0, 2, 1) + (k**2).sum(-1)[:, None]
        self.p = softmax(-d2 * self.scale)
        return self.p @ self.v

    def scores_back(self, ds):
        per_query, per_key = ds.sum(axis=2)[..., None], ds.sum(axis=1)[..., None]
        dq = -2 * (self.q * per_query - ds @ self.k) * self.scale
        dk = 2 * (ds.transpose(0, 2, 1) @ self.q - self.k * per_key) * self.scale
        return dq, dk


@same_name
class DistanceAttentionA(DistanceAttention):
    def scores_back(self, ds):
        per_query, per_key = ds.sum(axis=2)[..., None], ds.sum(axis=1)[..., None]
        dq = -2 * (self.q * per_query - ds @ self.k) * self.scale
        dk = 2 * (ds.transpose(0, 2, 1) @ self.q + self.k * per_key) * self.scale
        return dq, dk


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("log2-softplus", ACT, lambda: dense_net(Log2SoftplusA(), seed=801, scale=2.0),
         "the change of base is forgotten in the derivative: d log₂(u) = du / (u ln 2), so "
         "dy/dx is σ(x) / ln 2 and backward returns σ(x), ln 2 ≈ 0.69 times too small",
         "return dout * sigmoid(self.x) / np.log(2)"),
    Case("sigmoid-tanh", ACT, lambda: dense_net(SigmoidTanhA(), seed=802, scale=2.0),
         "the product rule is written as the product of the two derivatives, (uv)' = u'v', "
         "where it is u'v + uv'",
         "return dout * (s * (1 - s) * t + s * (1 - t**2))"),
    Case("learned-elu", ACT, lambda: dense_net(LearnedELUA(6, seed=803), width=6, seed=803,
                                               scale=2.0),
         "dα sums the per-entry terms over the features (axis=1) where α is per feature and "
         "must sum over the batch (axis=0): it runs since N = D = 6",
         "return per_entry.sum(axis=0)"),
    Case("soft-clip", ACT, lambda: dense_net(SoftClipA(), seed=804, scale=2.0),
         "the shift inside the second softplus is flipped in the derivative: σ(x + c) where "
         "forward's softplus(x - c) gives σ(x - c)",
         "return dout * (sigmoid(self.x) - sigmoid(self.x - self.c))"),
    Case("bias-trick", DENSE, lambda: dense_net(AugmentedLinearA(5, 4, seed=805), seed=805),
         "dx drops the first column of d[x, 1] where the column of ones, appended last, must "
         "go: dx is d[x, 1][:, 1:], shifted one feature, where [:, :-1] belongs",
         "return dxa[:, :-1]"),
    Case("symmetric-linear", DENSE, lambda: dense_net(SymmetricLinearA(5, seed=806), seed=806),
         "dW is the plain xᵀ dout of an unconstrained weight; W enters through (W + Wᵀ)/2, so "
         "the gradient must be symmetrized, (G + Gᵀ)/2",
         "G = self.x.T @ dout; self.grads['W'] = (G + G.T) / 2"),
    Case("shrunk-linear", DENSE, lambda: dense_net(ShrunkLinearA(5, 4, seed=807), seed=807),
         "the soft threshold's mask tests W > λ, forgetting the negative branch of |W|: "
         "weights below -λ are alive (slope 1) but get no gradient",
         "return np.abs(self.params['W']) > self.lam"),
    Case("smoothed-standardize", NORM, lambda: dense_net(SmoothedStandardizeA(), seed=808),
         "ε is added to σ outside the root, but backward is the usual compact formula for "
         "1/√(var + ε): its x̂ term lacks the factor s/σ = (σ + ε)/σ",
         "return self.s / self.sigma"),
    Case("log-softmax", NORM, lambda: dense_net(LogSoftmaxA(), seed=809),
         "the softmax in dx = dout - softmax(x) Σ dout is taken as the layer's output y, the "
         "log-probabilities, where exp(y) belongs",
         "return np.exp(self.y)"),
    Case("soft-l2norm", NORM, lambda: dense_net(SoftL2NormA(), seed=810),
         "ds/dc of s = √(‖x‖² + c) drops the 1/2 of the square root's derivative: dc comes "
         "out twice too large (dx is right)",
         "return 1 / (2 * self.s)"),
    Case("channel-shared-conv", CONV, lambda: image_net(ChannelSharedConvA(2, seed=811),
                                                        seed=811),
         "the filter shared by all C input channels takes its gradient from channel 0's term "
         "alone ([:, :1]) where it must add up every channel's (sum over axis 1)",
         "return per_channel.sum(axis=1, keepdims=True)"),
    Case("mixed-pool", POOL, lambda: image_net(MixedPoolA(), seed=812),
         "da uses the window's sum where forward's mean went in: max - Σ where max - Σ/4 "
         "belongs (dx is right)",
         "return self.total / 4"),
    Case("reflect-pad-conv", CONV, lambda: image_net(ReflectPadConvA(3, 2, seed=813),
                                                     seed=813),
         "the border's gradient is folded back as for symmetric padding (onto the edge pixel) "
         "where reflect padding copied the pixel one further in: row/column 0 instead of 1, "
         "and -1 instead of -2",
         "mirror = 2"),
    Case("reflect-pad-conv-correct", CONV, lambda: image_net(ReflectPadConv(3, 2, seed=814),
                                                             seed=814), CORRECT),
    Case("cauchy-loss", LOSS, lambda: loss_net(CauchyLossA(), far_targets, width=1, seed=815,
                                               scale=2.0),
         "in u'/(1 + u) with u = r²/c², the 1/c² is kept in the numerator but dropped in the "
         "denominator: (2r/c²)/(1 + r²) where (2r/c²)/(1 + r²/c²) belongs",
         "return ((2 * r / c2) / (1 + r**2 / c2) / len(r))[:, None]"),
    Case("poly-loss", LOSS, lambda: loss_net(PolyLossA(), labels, seed=816, scale=2.0),
         "the derivative of p_y is written as that of log p_y, onehot - p: the factor p_y of "
         "dp_y/ds = p_y (onehot - p) is missing in the ε term",
         "return py * (self.onehot - self.p)"),
    Case("ordinal-loss", LOSS, lambda: loss_net(OrdinalLossA(), grades, seed=817, scale=2.0),
         "backward rebuilds the level targets as y >= k where forward used y > k: every "
         "sample's target at level k = y is 1 instead of 0",
         "return self.levels(self.y, self.s.shape[1])"),
    Case("truncated-rnn", SEQ, lambda: sequence_net(RNNTruncated(4, 3, seed=818), t=5,
                                                    seed=818),
         "backward zeroes dh_next every second step (truncated BPTT) though forward ran the "
         "whole sequence: the gradient from later steps is cut off at those points",
         "remove the reset of dh_next"),
    Case("rnn-last-twice", SEQ, lambda: sequence_net(RNNLastTwice(4, 3, seed=819), seed=819),
         "dh_next starts from dout[:, -1], and the loop adds dout[:, t] at t = T - 1 again: "
         "the last step's output gradient is counted twice; dh_next must start at 0",
         "dh_next = np.zeros((len(dout), self.hidden))"),
    Case("gained-rnn", SEQ, lambda: sequence_net(GainedRNNA(4, 3, seed=820), seed=820),
         "the gain g multiplies h_{t-1} Wh after the product, so its gradient comes before "
         "Whᵀ, (da ⊙ g) Whᵀ; backward applies it after: (da Whᵀ) ⊙ g",
         "return (da * self.params['g']) @ self.params['Wh'].T"),
    Case("gained-rnn-correct", SEQ, lambda: sequence_net(GainedRNN(4, 3, seed=821), seed=821),
         CORRECT),
    Case("token-shift", SEQ, lambda: sequence_net(TokenShiftA(4, seed=822), seed=822),
         "the (1 - μ) dout_t that x_{t-1} earns at step t stays at step t: the shift is not "
         "undone, where it must go back to step t - 1 (dx_t gets (1 - μ) dout_{t+1})",
         "out = np.zeros_like(d); out[:, :-1] = d[:, 1:]; return out"),
    Case("sigmoid-attention", ATTN, lambda: sequence_net(SigmoidAttentionA(4, seed=823),
                                                         seed=823),
         "the weights are an entrywise sigmoid, but backward keeps the softmax's Jacobian "
         "P ⊙ (dP - Σ dP ⊙ P), where it is dP ⊙ P (1 - P)",
         "return dp * self.p * (1 - self.p)"),
    Case("sigmoid-attention-correct", ATTN, lambda: sequence_net(SigmoidAttention(4, seed=824),
                                                                 seed=824), CORRECT),
    Case("split-residual", ATTN, lambda: sequence_net(ResidualTanhA(4, seed=825), seed=825),
         "the sum y = x + f(x) is taken to split its gradient between its two terms: each "
         "path gets dout / 2, where both get dout whole",
         "return dout + self.branch_back(dout)"),
    Case("key-bias-attention", ATTN, lambda: sequence_net(KeyBiasAttentionA(4, 4, seed=826),
                                                          seed=826),
         "db sums dS over the keys (axis 2) where the bias varies along the keys and must "
         "sum over samples and queries (axis 1); each softmax row's dS sums to 0, so db is 0",
         "return ds.sum(axis=(0, 1))"),
    Case("distance-attention", ATTN, lambda: sequence_net(DistanceAttentionA(4, seed=827),
                                                          seed=827),
         "in dK the term from -‖k_j‖² keeps a plus sign: 2 (dSᵀ Q + K Σ_i dS) where "
         "2 (dSᵀ Q - K Σ_i dS) belongs (dQ is right)",
         "dk = 2 * (ds.transpose(0, 2, 1) @ self.q - self.k * per_key) * self.scale"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
