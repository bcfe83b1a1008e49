"""The fourth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the third held-out set was used up:
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
    with_params,
)
from unlisted import RNN as RNN_
from unlisted_heldout2 import correlate, reals

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class Sine(mn.Layer):
    """SIREN's activation: y = sin(ω x);  dy/dx = ω cos(ω x).  x, y: (N, D)."""

    def __init__(self, omega=2.0):
        super().__init__()
        self.omega = omega

    def forward(self, x):
        self.x = x
        return np.sin(self.omega * x)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return self.omega * np.cos(self.omega * self.x)


@same_name
class SineA(Sine):
    def slope(self):
        return -self.omega * np.cos(self.omega * self.x)


class Squareplus(mn.Layer):
    """A smooth ReLU from a root: y = (x + √(x² + b)) / 2;  dy/dx = (1 + x / √(x² + b)) / 2.

    x, y: (N, D)."""

    def __init__(self, b=4.0):
        super().__init__()
        self.b = b

    def forward(self, x):
        self.x, self.root = x, np.sqrt(x**2 + self.b)
        return (x + self.root) / 2

    def backward(self, dout):
        return dout * (1 + self.x / self.root) / 2


@same_name
class SquareplusA(Squareplus):
    def backward(self, dout):
        return dout * (1 + self.x / np.sqrt(self.x**2)) / 2


class Tanhshrink(mn.Layer):
    """y = x - tanh(x);  dy/dx = 1 - (1 - tanh² x) = tanh² x.  x, y: (N, D)."""

    def forward(self, x):
        self.t = np.tanh(x)
        return x - self.t

    def backward(self, dout):
        return dout * self.t**2


@same_name
class TanhshrinkA(Tanhshrink):
    def backward(self, dout):
        return dout * (1 - self.t**2)


class ELU(mn.Layer):
    """y = x where x > 0, α(eˣ - 1) elsewhere;  dy/dx = 1, or αeˣ = y + α, read off the output.

    x, y: (N, D)."""

    def __init__(self, alpha=2.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        self.y = np.where(x > 0, x, self.alpha * (np.exp(np.minimum(x, 0)) - 1))
        return self.y

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, self.y + self.alpha)


@same_name
class ELUA(ELU):
    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, self.y + 1)  # the slope as the notes give it


# ---- dense-like ------------------------------------------------------------------------------


class FeatureScaleLinear(mn.Layer):
    """A learned scale per input feature, then a linear map: y = (x ⊙ s) W + b.

    x (N, D), s (D,), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        self.params["s"], self.grads["s"] = np.linspace(0.5, 1.5, d), np.zeros(d)

    def forward(self, x):
        self.x, self.xs = x, x * self.params["s"]
        return self.xs @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        dxs = dout @ self.params["W"].T
        self.grads["W"], self.grads["b"] = self.xs.T @ dout, dout.sum(axis=0)
        self.grads["s"] = self.ds(dxs)
        return dxs * self.params["s"]

    def ds(self, dxs):
        return (dxs * self.x).sum(axis=0)


@same_name
class FeatureScaleLinearA(FeatureScaleLinear):
    def ds(self, dxs):
        return (dxs * self.xs).sum(axis=0)


class DenseSoftsign(mn.Layer):
    """A linear map and softsign in one layer: a = x W + b, y = a / (1 + |a|);
    dy/da = 1 / (1 + |a|)².  x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x, self.a = x, x @ self.params["W"] + self.params["b"]
        return self.a / (1 + np.abs(self.a))

    def backward(self, dout):
        da = dout / (1 + np.abs(self.a)) ** 2
        self.grads["W"], self.grads["b"] = self.x.T @ da, da.sum(axis=0)
        return self.dx(da)

    def dx(self, da):
        return da @ self.params["W"].T


@same_name
class DenseSoftsignA(DenseSoftsign):
    def dx(self, da):
        return da


class CenteredLinear(mn.Layer):
    """A linear map whose weights into each output sum to zero: Ŵ = W - mean over the inputs
    (axis 0), y = x Ŵ + b;  dW = dŴ - its mean over axis 0.

    x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x, self.w = x, self.params["W"] - self.params["W"].mean(axis=0)
        return x @ self.w + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.center(self.x.T @ dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.w.T

    def center(self, dw):
        return dw - dw.mean(axis=0, keepdims=True)


@same_name
class CenteredLinearA(CenteredLinear):
    def center(self, dw):
        return dw - dw.mean(axis=1, keepdims=True)


# ---- normalization ---------------------------------------------------------------------------


class DyT(mn.Layer):
    """Dynamic tanh, a normalization-free stand-in for LayerNorm: y = γ ⊙ tanh(α x) + β,
    α one learned number.  x (N, D) -> (N, D);  alpha (1,), gamma, beta (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"alpha": np.array([0.8]), "gamma": np.linspace(0.5, 1.5, d),
                       "beta": np.zeros(d)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x, self.t = x, np.tanh(self.params["alpha"] * x)
        return self.params["gamma"] * self.t + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"], self.grads["beta"] = (dout * self.t).sum(axis=0), dout.sum(axis=0)
        du = dout * self.params["gamma"] * (1 - self.t**2)  # at u = α x
        self.grads["alpha"] = self.dalpha(du)
        return du * self.params["alpha"]

    def dalpha(self, du):
        return np.array([(du * self.x).sum()])


@same_name
class DyTA(DyT):
    def dalpha(self, du):
        return np.array([(du * self.x).mean()])


class WSLinear(mn.Layer):
    """Weight standardization: the weights into each output standardized over the inputs before
    use, Ŵ = (W - mean_0 W) / std_0 W, y = x Ŵ + b.  x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, eps=1e-5, seed=0):
        super().__init__()
        self.eps = eps
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        self.x, self.std = x, np.sqrt(W.var(axis=0) + self.eps)
        self.w = (W - W.mean(axis=0)) / self.std
        return x @ self.w + self.params["b"]

    def backward(self, dout):
        dw, w = self.x.T @ dout, self.w
        self.grads["W"] = (dw - dw.mean(axis=0) - w * (dw * w).mean(axis=0)) / self.std
        self.grads["b"] = dout.sum(axis=0)
        return self.dx(dout)

    def dx(self, dout):
        return dout @ self.w.T


@same_name
class WSLinearA(WSLinear):
    def dx(self, dout):
        return dout @ self.params["W"].T


class SequenceBatchNorm(mn.Layer):
    """BatchNorm on sequences: each feature standardized over the batch and the time steps
    together (N·T values), then gamma x̂ + beta.  x (N, T, D) -> (N, T, D);  gamma, beta (D,)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.std = np.sqrt(x.var(axis=(0, 1)) + self.eps)
        self.xhat = (x - x.mean(axis=(0, 1))) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        xhat, m = self.xhat, self.count(dout)
        self.grads["gamma"] = (dout * xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dxhat = dout * self.params["gamma"]
        return (dxhat - dxhat.sum(axis=(0, 1)) / m
                - xhat * (dxhat * xhat).sum(axis=(0, 1)) / m) / self.std

    def count(self, dout):
        return dout.shape[0] * dout.shape[1]


@same_name
class SequenceBatchNormA(SequenceBatchNorm):
    def count(self, dout):
        return dout.shape[0]


# ---- convolution and pooling -----------------------------------------------------------------


class OverlapAvgPool(mn.Layer):
    """k×k average pooling with stride 1, the windows overlapping, in loops.

    x (N, C, H, W) -> (N, C, H - k + 1, W - k + 1)."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        k, (H, W) = self.k, x.shape[2:]
        self.x_shape = x.shape
        y = np.zeros((*x.shape[:2], H - k + 1, W - k + 1))
        for i in range(H - k + 1):
            for j in range(W - k + 1):
                y[:, :, i, j] = x[:, :, i:i + k, j:j + k].mean(axis=(2, 3))
        return y

    def backward(self, dout):
        k, (H, W) = self.k, self.x_shape[2:]
        dx = np.zeros(self.x_shape)
        for i in self.starts(H):
            for j in self.starts(W):
                dx[:, :, i:i + k, j:j + k] += dout[:, :, i, j, None, None] / k**2
        return dx

    def starts(self, size):
        return range(size - self.k + 1)


@same_name
class OverlapAvgPoolA(OverlapAvgPool):
    def starts(self, size):
        return range(size - self.k)


class Subsample(mn.Layer):
    """Keeps every second pixel, as a ResNet's strided shortcut does: y = x[:, :, ::2, ::2].

    x (N, C, H, W) -> (N, C, ⌈H/2⌉, ⌈W/2⌉)."""

    def forward(self, x):
        self.x_shape = x.shape
        return x[:, :, ::2, ::2]

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        dx[:, :, ::2, ::2] = dout
        return dx


@same_name
class SubsampleA(Subsample):
    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        dx[:, :, 1::2, 1::2] = dout
        return dx


class GroupedConv(mn.Layer):
    """A k×k convolution (stride 1, no padding) in groups: output channels of group g read only
    the input channels of group g.  x (N, C, H, W), W (F, C/groups, k, k), b (F,)
    -> (N, F, H - k + 1, W - k + 1)."""

    def __init__(self, c, f, groups=2, k=3, seed=0):
        super().__init__()
        self.groups, self.cg, self.fg = groups, c // groups, f // groups
        with_params(self, seed, W=(f, c // groups, k, k), b=(f,))

    def forward(self, x):
        self.x, W = x, self.params["W"]
        outs = [correlate(x[:, g * self.cg:(g + 1) * self.cg], W[g * self.fg:(g + 1) * self.fg])
                for g in range(self.groups)]
        return np.concatenate(outs, axis=1) + self.params["b"][:, None, None]

    def backward(self, dout):
        W, k, swap = self.params["W"], self.params["W"].shape[-1], (1, 0, 2, 3)
        dx, dW = np.zeros_like(self.x), np.zeros_like(W)
        for g in range(self.groups):
            ins, outs = self.inputs(g), slice(g * self.fg, (g + 1) * self.fg)
            d = dout[:, outs]
            dW[outs] = correlate(self.x[:, ins].transpose(swap), d.transpose(swap)).transpose(swap)
            dx[:, ins] += correlate(pad(d, k - 1), W[outs, :, ::-1, ::-1].transpose(swap))
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx

    def inputs(self, g):
        """The input channels of group g."""
        return slice(g * self.cg, (g + 1) * self.cg)


@same_name
class GroupedConvA(GroupedConv):
    def inputs(self, g):
        return slice(g * self.fg, g * self.fg + self.cg)


# ---- losses ----------------------------------------------------------------------------------


class LogCosh(mn.Loss):
    """L = mean_n log cosh(s_n - y_n), a smooth L1;  dL/ds = tanh(s - y) / N.

    scores (N, 1), y (N,) real targets -> float."""

    def forward(self, scores, y):
        self.u = scores[:, 0] - y
        a = np.abs(self.u)
        return float(np.mean(a + np.log1p(np.exp(-2 * a)) - np.log(2)))

    def backward(self):
        return (np.tanh(self.u) / len(self.u))[:, None]


@same_name
class LogCoshA(LogCosh):
    def backward(self):
        return (1 / np.cosh(self.u) / len(self.u))[:, None]


class Pinball(mn.Loss):
    """Quantile regression's loss, r = y - s: L = mean_n max(τ r, (τ - 1) r);
    dL/ds = -τ where r > 0, 1 - τ where r < 0.  scores (N, 1), y (N,) -> float."""

    def __init__(self, tau=0.8):
        self.tau = tau

    def forward(self, scores, y):
        self.r = y - scores[:, 0]
        return float(np.mean(np.maximum(self.tau * self.r, (self.tau - 1) * self.r)))

    def backward(self):
        d = np.where(self.r > 0, -self.tau, 1 - self.tau)
        return (d / len(self.r))[:, None]


@same_name
class PinballA(Pinball):
    def backward(self):
        d = -self.tau * (self.r > 0)
        return (d / len(self.r))[:, None]


class GaussianNLL(mn.Loss):
    """A regression that predicts its own uncertainty: scores [μ, log σ²] per sample,
    L = mean_n ½ (log σ² + (y - μ)² / σ²);  dL/dμ = (μ - y) / σ² / N,
    dL/d log σ² = ½ (1 - (y - μ)² / σ²) / N.  scores (N, 2), y (N,) -> float."""

    def forward(self, scores, y):
        self.mu, self.logvar, self.y = scores[:, 0], scores[:, 1], y
        self.inv = np.exp(-self.logvar)
        return float(np.mean(0.5 * (self.logvar + (y - self.mu) ** 2 * self.inv)))

    def backward(self):
        N, r = len(self.y), self.y - self.mu
        return np.stack([self.dmu(), 0.5 * (1 - r**2 * self.inv) / N], axis=1)

    def dmu(self):
        return (self.mu - self.y) * self.inv / len(self.y)


@same_name
class GaussianNLLA(GaussianNLL):
    def dmu(self):
        return (self.mu - self.y) / len(self.y)


# ---- sequences -------------------------------------------------------------------------------


class EMA(mn.Layer):
    """An exponential moving average over time: y_t = a y_{t-1} + (1 - a) x_t, y_{-1} = 0;
    backward g_t = dout_t + a g_{t+1}, dx_t = (1 - a) g_t.  x (N, T, D) -> (N, T, D)."""

    def __init__(self, a=0.6):
        super().__init__()
        self.a = a

    def forward(self, x):
        y, prev = np.zeros_like(x), np.zeros_like(x[:, 0])
        for t in range(x.shape[1]):
            prev = self.a * prev + (1 - self.a) * x[:, t]
            y[:, t] = prev
        return y

    def backward(self, dout):
        dx, g = np.zeros_like(dout), np.zeros_like(dout[:, 0])
        for t in reversed(range(dout.shape[1])):
            g = dout[:, t] + self.carry() * g
            dx[:, t] = (1 - self.a) * g
        return dx

    def carry(self):
        """dy_t / dy_{t-1}."""
        return self.a


@same_name
class EMAA(EMA):
    def carry(self):
        return 1 - self.a


class FirstDifference(mn.Layer):
    """The change from step to step: y_t = x_t - x_{t-1}, x_{-1} = 0;
    dx_t = dout_t - dout_{t+1} (dout_T = 0).  x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        prev = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
        return x - prev

    def backward(self, dout):
        after = np.concatenate([dout[:, 1:], np.zeros_like(dout[:, :1])], axis=1)
        return dout - after


@same_name
class FirstDifferenceA(FirstDifference):
    def backward(self, dout):
        before = np.concatenate([np.zeros_like(dout[:, :1]), dout[:, :-1]], axis=1)
        return dout - before


class LearnedPositions(mn.Layer):
    """A learned position embedding added to each step: y[n, t] = x[n, t] + P[t], for sequences
    up to max_len steps.  x (N, T, D) -> (N, T, D);  P (max_len, D)."""

    def __init__(self, max_len, d, seed=0):
        super().__init__()
        with_params(self, seed, P=(max_len, d))

    def forward(self, x):
        return x + self.params["P"][:x.shape[1]]

    def backward(self, dout):
        self.grads["P"] = np.zeros_like(self.params["P"])
        self.grads["P"][:dout.shape[1]] = self.dP(dout)
        return dout

    def dP(self, dout):
        return dout.sum(axis=0)


@same_name
class LearnedPositionsA(LearnedPositions):
    def dP(self, dout):
        return dout.mean(axis=0)


@same_name
class RNNA(RNN_):
    def backward(self, dout):
        for k in self.grads:
            self.grads[k] = np.zeros_like(self.params[k])
        T = self.x.shape[1]
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in range(T - 1, 0, -1):
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        self.dh0 = dh_next
        return dx


# ---- attention and residual blocks -----------------------------------------------------------


class LinearAttention(mn.Layer):
    """Attention without the softmax: Q, K, V = x Wq, x Wk, x Wv;  S = Q Kᵀ / T;  y = S V.

    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, T = x, x.shape[1]
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.s = self.q @ self.k.transpose(0, 2, 1) / T
        return self.s @ self.v

    def backward(self, dout):
        dv = self.s.transpose(0, 2, 1) @ dout
        dq, dk = self.qk_back(dout @ self.v.transpose(0, 2, 1) / self.x.shape[1])
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def qk_back(self, ds):
        """(dQ, dK) from dL/dS, S = Q Kᵀ / T."""
        return ds @ self.k, ds.transpose(0, 2, 1) @ self.q


@same_name
class LinearAttentionA(LinearAttention):
    def qk_back(self, ds):
        return ds @ self.k, ds @ self.q


class ProjectedResidual(mn.Layer):
    """A residual block whose shortcut is a learned projection: y = x Ws + tanh(x W + b).

    x (N, T, D) -> (N, T, D);  Ws, W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Ws=(d, d), W=(d, d), b=(d,))

    def forward(self, x):
        self.x, self.h = x, np.tanh(x @ self.params["W"] + self.params["b"])
        return x @ self.params["Ws"] + self.h

    def backward(self, dout):
        da = dout * (1 - self.h**2)
        self.grads["W"], self.grads["b"] = rows(self.x).T @ rows(da), da.sum(axis=(0, 1))
        self.grads["Ws"] = self.dWs(dout, da)
        return dout @ self.params["Ws"].T + da @ self.params["W"].T

    def dWs(self, dout, da):
        return rows(self.x).T @ rows(dout)


@same_name
class ProjectedResidualA(ProjectedResidual):
    def dWs(self, dout, da):
        return rows(self.x).T @ rows(da)


class SqueezeExcite(mn.Layer):
    """Squeeze-and-excitation: each channel rescaled by a gate computed from the channel means,
    z = mean_hw(x), s = σ(z W + c), y = x ⊙ s.  x (N, C, H, W) -> (N, C, H, W);
    W (C, C), c (C,)."""

    def __init__(self, channels, seed=0):
        super().__init__()
        with_params(self, seed, W=(channels, channels), c=(channels,))

    def forward(self, x):
        self.x, self.z = x, x.mean(axis=(2, 3))
        self.s = sigmoid(self.z @ self.params["W"] + self.params["c"])
        return x * self.s[:, :, None, None]

    def backward(self, dout):
        da = self.dgate(dout) * self.s * (1 - self.s)
        self.grads["W"], self.grads["c"] = self.z.T @ da, da.sum(axis=0)
        dz = da @ self.params["W"].T
        H, W = self.x.shape[2:]
        return dout * self.s[:, :, None, None] + dz[:, :, None, None] / (H * W)

    def dgate(self, dout):
        """dL/ds (N, C)."""
        return (dout * self.x).sum(axis=(2, 3))


@same_name
class SqueezeExciteA(SqueezeExcite):
    def dgate(self, dout):
        return (dout * self.x).sum(axis=(0, 2, 3))


class MLPBlock(mn.Layer):
    """A transformer's feed-forward block with its skip: y = x + relu(x W1 + b1) W2 + b2.

    x (N, T, D) -> (N, T, D);  W1, W2 (D, D), b1, b2 (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W1=(d, d), b1=(d,), W2=(d, d), b2=(d,))

    def forward(self, x):
        self.x, self.a = x, x @ self.params["W1"] + self.params["b1"]
        self.h = np.maximum(self.a, 0)
        return x + self.h @ self.params["W2"] + self.params["b2"]

    def backward(self, dout):
        p = self.params
        self.grads["W2"], self.grads["b2"] = rows(self.h).T @ rows(dout), dout.sum(axis=(0, 1))
        da = (dout @ p["W2"].T) * self.mask()
        self.grads["W1"], self.grads["b1"] = rows(self.x).T @ rows(da), da.sum(axis=(0, 1))
        return dout + da @ p["W1"].T

    def mask(self):
        return self.a > 0


@same_name
class MLPBlockA(MLPBlock):
    def mask(self):
        return self.x > 0


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("sine", ACT, lambda: dense_net(SineA(2.0), seed=401),
         "d sin(ωx)/dx is ω cos(ωx); backward has -ω cos(ωx), the sign of d cos/dx carried over",
         "return self.omega * np.cos(self.omega * self.x)"),
    Case("squareplus", ACT, lambda: dense_net(SquareplusA(4.0), seed=402, scale=2.0),
         "backward recomputes the root as √(x²), leaving out the b that forward put under it: "
         "the slope comes out a step, 0 or 1, instead of (1 + x/√(x² + b))/2",
         "return dout * (1 + self.x / self.root) / 2"),
    Case("squareplus-correct", ACT, lambda: dense_net(Squareplus(4.0), seed=403, scale=2.0),
         CORRECT),
    Case("tanhshrink", ACT, lambda: dense_net(TanhshrinkA(), seed=404, scale=2.0),
         "only the tanh term is differentiated: d(x - tanh x)/dx = 1 - (1 - tanh²x) = tanh²x, "
         "backward returns tanh's own slope 1 - tanh²x",
         "return dout * self.t**2"),
    Case("elu-alpha", ACT, lambda: dense_net(ELUA(2.0), seed=405, scale=2.0),
         "the slope on the negative side is read off the output as y + 1, the shortcut for "
         "α = 1; with α = 2 it is y + α = αeˣ",
         "np.where(self.x > 0, 1.0, self.y + self.alpha)"),
    Case("feature-scale", DENSE, lambda: dense_net(FeatureScaleLinearA(5, 4, seed=406), seed=406),
         "ds multiplies dL/d(x⊙s) by the cached product x⊙s where the raw x belongs: "
         "d(x⊙s)/ds = x",
         "return (dxs * self.x).sum(axis=0)"),
    Case("fused-softsign", DENSE, lambda: dense_net(DenseSoftsignA(5, 5, seed=407), seed=407),
         "backward returns da, the gradient at the pre-activation a = xW + b, instead of "
         "dx = da Wᵀ (it runs since D = F)",
         "return da @ self.params['W'].T"),
    Case("centered-weights", DENSE,
         lambda: dense_net(CenteredLinearA(5, 4, seed=408), seed=408),
         "forward centers W over the inputs (axis 0) but backward removes the mean of dŴ over "
         "the outputs (axis 1): the projection is taken along the wrong axis",
         "return dw - dw.mean(axis=0, keepdims=True)"),
    Case("dyt", NORM, lambda: dense_net(DyTA(5), seed=409),
         "α is a single number used by every entry, so its gradient sums the contributions of "
         "all N·D entries; backward takes their mean",
         "return np.array([(du * self.x).sum()])"),
    Case("weight-standardization", NORM,
         lambda: dense_net(WSLinearA(5, 4, seed=410), seed=410),
         "dx is taken through the raw W where forward multiplied by the standardized Ŵ: "
         "dx = dout Ŵᵀ",
         "return dout @ self.w.T"),
    Case("sequence-batchnorm", NORM, lambda: sequence_net(SequenceBatchNormA(4), seed=411),
         "the statistics are over N·T values (batch and time), but backward's means divide by "
         "x.shape[0] = N only",
         "return dout.shape[0] * dout.shape[1]"),
    Case("overlap-avgpool", POOL, lambda: image_net(OverlapAvgPoolA(2), seed=412),
         "backward's loops stop one window short, range(H - k) where forward had "
         "range(H - k + 1): the last row and column of outputs send no gradient",
         "return range(size - self.k + 1)"),
    Case("subsample", POOL, lambda: image_net(SubsampleA(), seed=413),
         "forward keeps the pixels at even rows and columns (::2) but backward writes dout at "
         "the odd ones (1::2): every gradient lands one pixel off",
         "dx[:, :, ::2, ::2] = dout"),
    Case("grouped-conv", CONV, lambda: image_net(GroupedConvA(4, 2, seed=414), channels=4,
                                                 size=(5, 5), seed=414),
         "backward's input channels of group g start at g times the number of output channels "
         "per group, not of input channels: the second group reads and writes channels 1-2 "
         "instead of 2-3",
         "return slice(g * self.cg, (g + 1) * self.cg)"),
    Case("log-cosh", LOSS, lambda: loss_net(LogCoshA(), reals, width=1, seed=415, scale=2.0),
         "d log cosh u / du = sinh u / cosh u = tanh u; backward writes 1/cosh u, the outer "
         "derivative of log without the inner derivative of cosh",
         "np.tanh(self.u) / len(self.u)"),
    Case("pinball", LOSS, lambda: loss_net(PinballA(0.8), reals, width=1, seed=416),
         "the max has two branches: backward keeps -τ where y > s and forgets 1 - τ where "
         "y < s",
         "np.where(self.r > 0, -self.tau, 1 - self.tau)"),
    Case("gaussian-nll", LOSS, lambda: loss_net(GaussianNLLA(), reals, width=2, seed=417,
                                                scale=2.0),
         "dμ is squared error's (μ - y)/N: the weight 1/σ² = exp(-log σ²) that divides the "
         "squared error in the loss is missing",
         "return (self.mu - self.y) * self.inv / len(self.y)"),
    Case("ema", SEQ, lambda: sequence_net(EMAA(0.6), seed=418),
         "the gradient carried back from y_{t+1} to y_t is multiplied by the input's weight "
         "1 - a where the state's weight a belongs",
         "return self.a"),
    Case("first-difference", SEQ, lambda: sequence_net(FirstDifferenceA(), seed=419),
         "x_t is subtracted at the next step, so dx_t = dout_t - dout_{t+1}; backward subtracts "
         "the previous step's dout_{t-1}",
         "after = np.concatenate([dout[:, 1:], zeros], axis=1); return dout - after"),
    Case("first-difference-correct", SEQ, lambda: sequence_net(FirstDifference(), seed=420),
         CORRECT),
    Case("learned-positions", SEQ,
         lambda: sequence_net(LearnedPositionsA(6, 4, seed=421), seed=421),
         "P[t] is added to every sequence of the batch, so its gradient sums dout over the "
         "batch; backward averages it",
         "return dout.sum(axis=0)"),
    Case("rnn-range", SEQ, lambda: sequence_net(RNNA(4, 3, seed=422), seed=422),
         "the backward loop is range(T - 1, 0, -1), whose end 0 is excluded: step 0 is never "
         "visited, so dx_0 stays 0 and the weights miss that step's terms",
         "for t in reversed(range(T)):"),
    Case("linear-attention", ATTN, lambda: sequence_net(LinearAttentionA(4, seed=423), seed=423),
         "dK is dS Q where S = Q Kᵀ gives dK = dSᵀ Q: the transpose of dS is forgotten (it runs "
         "since S is T×T)",
         "return ds @ self.k, ds.transpose(0, 2, 1) @ self.q"),
    Case("linear-attention-correct", ATTN,
         lambda: sequence_net(LinearAttention(4, seed=424), seed=424), CORRECT),
    Case("projected-shortcut", ATTN,
         lambda: sequence_net(ProjectedResidualA(4, seed=425), seed=425),
         "dWs is built from da, the branch's gradient inside the tanh, where the shortcut "
         "x Ws is added outside it: dWs = xᵀ dout",
         "return rows(self.x).T @ rows(dout)"),
    Case("squeeze-excite", ATTN, lambda: image_net(SqueezeExciteA(3, seed=426), seed=426),
         "dL/ds sums over the batch too, axis=(0, 2, 3): every sample's gate gets the whole "
         "batch's gradient (the (C,) sum broadcasts against (N, C))",
         "return (dout * self.x).sum(axis=(2, 3))"),
    Case("mlp-block", ATTN, lambda: sequence_net(MLPBlockA(4, seed=427), seed=427),
         "the ReLU's mask is taken from the block's input x, not from the hidden pre-activation "
         "a = x W1 + b1 that the ReLU saw",
         "return self.a > 0"),
]

MISSED: set[str] = set()
"""The cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
