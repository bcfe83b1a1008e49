"""The eleventh held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the tenth held-out set was used up:
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
    teacher,
    with_params,
    zero_grads,
)

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class SiLU(mn.Layer):
    """y = x σ(x);  by the product rule dy/dx = σ(x) + x σ(x)(1 - σ(x)), σ(x) kept from
    forward.  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.s = x, sigmoid(x)
        return x * self.s

    def backward(self, dout):
        ds = self.s * (1 - self.s)
        return dout * (self.s + self.x * ds)


@same_name
class SiLUA(SiLU):
    def backward(self, dout):
        ds = self.s
        ds *= 1 - self.s
        return dout * (self.s + self.x * ds)


class Logish(mn.Layer):
    """y = x log(1 + σ(x));  dy/dx = log(1 + σ(x)) + x σ(x)(1 - σ(x)) / (1 + σ(x)).
    x, y: (N, D)."""

    def forward(self, x):
        self.x, self.s = x, sigmoid(x)
        self.log = np.log1p(self.s)
        return x * self.log

    def backward(self, dout):
        return dout * (self.log + self.x * self.dlog())

    def dlog(self):
        """d log(1 + σ(x)) / dx = σ'(x) / (1 + σ(x))."""
        return self.s * (1 - self.s) / (1 + self.s)


@same_name
class LogishA(Logish):
    def dlog(self):
        return self.s * (1 - self.s)


class MinMax(mn.Layer):
    """GroupSort with groups of two: the features in pairs (a, b) = (x[:, 2i], x[:, 2i + 1]),
    each pair put out sorted, the max first: y[:, 2i] = max(a, b), y[:, 2i + 1] = min(a, b).
    The max's gradient goes back to the larger entry of the pair, the min's to the other.
    x, y: (N, D), D even."""

    def forward(self, x):
        self.a, self.b = x[:, 0::2], x[:, 1::2]
        y = np.empty_like(x)
        y[:, 0::2] = np.maximum(self.a, self.b)
        y[:, 1::2] = np.minimum(self.a, self.b)
        return y

    def backward(self, dout):
        dmax, dmin = dout[:, 0::2], dout[:, 1::2]
        a_top = self.a >= self.b
        dx = np.empty_like(dout)
        dx[:, 0::2], dx[:, 1::2] = self.route(dmax, dmin, a_top)
        return dx

    def route(self, dmax, dmin, a_top):
        """(da, db): a got the max where a_top and the min elsewhere; b the other way round."""
        return np.where(a_top, dmax, dmin), np.where(a_top, dmin, dmax)


@same_name
class MinMaxA(MinMax):
    def route(self, dmax, dmin, a_top):
        return np.where(a_top, dmax, dmin), np.where(a_top, dmax, dmin)


class ChannelPReLU(mn.Layer):
    """PReLU with one learned slope per channel: y = x where x > 0, a_c x elsewhere;
    da_c sums dout·x over the batch and the pixels of channel c where x < 0.
    x, y: (N, C, H, W);  a (C,)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"a": np.linspace(0.1, 0.4, c)}
        self.grads = {"a": np.zeros(c)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["a"][:, None, None] * x)

    def backward(self, dout):
        neg = self.x < 0
        self.grads["a"] = self.slope_grad(dout * self.x, neg)
        return dout * np.where(neg, self.params["a"][:, None, None], 1.0)

    def slope_grad(self, dx_a, neg):
        """One sum per channel of dout·x over the negative entries."""
        return (dx_a * neg).sum(axis=(0, 2, 3))


@same_name
class ChannelPReLUA(ChannelPReLU):
    def slope_grad(self, dx_a, neg):
        return np.full(dx_a.shape[1], dx_a[neg].sum())


# ---- dense-like ------------------------------------------------------------------------------


class CenteredDense(mn.Layer):
    """y = (x - x̄) W + b, x̄ the batch's mean input, taken on the fly: x reaches y directly and
    through x̄, so dx = dxc - mean_n(dxc) with dxc = dout Wᵀ.  x (N, D) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.xc = x - x.mean(axis=0)
        return self.xc @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.xc.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return self.uncenter(dout @ self.params["W"].T)

    def uncenter(self, dxc):
        """Back through xc = x - mean_n(x)."""
        return dxc - dxc.mean(axis=0)


@same_name
class CenteredDenseA(CenteredDense):
    def uncenter(self, dxc):
        return dxc


class MADELinear(mn.Layer):
    """An autoregressive masked linear map (MADE): output j may read the inputs i < j only,
    y = x (W ⊙ M) + b with M[i, j] = [i < j];  dW = (xᵀ dout) ⊙ M, the masked weights get no
    gradient.  x, y: (N, D);  W (D, D) laid out (inputs, outputs), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))
        self.mask = np.triu(np.ones((d, d)), k=1)

    def forward(self, x):
        self.x = x
        return x @ (self.params["W"] * self.mask) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.weight_grad(self.x.T @ dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (self.params["W"] * self.mask).T

    def weight_grad(self, g):
        return g * self.mask


@same_name
class MADELinearA(MADELinear):
    def weight_grad(self, g):
        return g * self.mask.T


class NAC(mn.Layer):
    """Neural accumulator (Trask et al.): W = tanh(Ŵ) ⊙ σ(M̂), y = x W;  with G = xᵀ dout,
    dŴ = G ⊙ σ(M̂) ⊙ (1 - tanh²Ŵ) and dM̂ = G ⊙ tanh(Ŵ) ⊙ σ(M̂)(1 - σ(M̂)).
    x (N, D) -> (N, F);  W_hat, M_hat (D, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W_hat=(d, f), M_hat=(d, f))
        self.params["W_hat"] *= 3

    def forward(self, x):
        self.x = x
        self.t, self.s = np.tanh(self.params["W_hat"]), sigmoid(self.params["M_hat"])
        self.W = self.t * self.s
        return x @ self.W

    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["W_hat"] = G * self.s * self.tanh_slope()
        self.grads["M_hat"] = G * self.t * self.s * (1 - self.s)
        return dout @ self.W.T

    def tanh_slope(self):
        """d tanh(Ŵ) / dŴ."""
        return 1 - self.t**2


@same_name
class NACA(NAC):
    def tanh_slope(self):
        return 1 - self.W**2


class DropConnect(mn.Layer):
    """y = x (W ⊙ M) + b, M = Bernoulli(1 - p) / (1 - p) drawn per weight on every training
    call from the layer's own Generator, the rescaling kept inside the mask; eval uses W.
    Dropped weights do not act: dW = (xᵀ dout) ⊙ M.  x (N, D) -> (N, F)."""

    def __init__(self, d, f, p=0.5, seed=0):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng(seed)
        with_params(self, seed + 1, W=(d, f), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        self.x = x
        if self.training:
            self.mask = (self.rng.random(W.shape) >= self.p) / (1 - self.p)
        else:
            self.mask = np.ones_like(W)
        return x @ (W * self.mask) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.weight_grad(self.x.T @ dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (self.params["W"] * self.mask).T

    def weight_grad(self, g):
        return g * self.mask


@same_name
class DropConnectA(DropConnect):
    def weight_grad(self, g):
        return g * self.mask / (1 - self.p)


# ---- normalization ---------------------------------------------------------------------------


class LoopBatchNorm(mn.Layer):
    """Batch norm one feature at a time: column d standardized with its batch mean and std,
    then gamma x̂ + beta;  backward is the compact formula, column d divided by its own std.
    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        N, D = x.shape
        self.xhat, self.std = np.zeros_like(x), np.zeros(D)
        for d in range(D):
            col = x[:, d]
            std = np.sqrt(col.var() + self.eps)
            self.xhat[:, d] = (col - col.mean()) / std
            self.std[d] = std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        N, dxhat, xhat = len(dout), dout * self.params["gamma"], self.xhat
        return (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * self.std)


@same_name
class LoopBatchNormA(LoopBatchNorm):
    def forward(self, x):
        N, D = x.shape
        self.xhat = np.zeros_like(x)
        for d in range(D):
            col = x[:, d]
            self.std = np.sqrt(col.var() + self.eps)
            self.xhat[:, d] = (col - col.mean()) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]


class StagedLayerNorm(mn.Layer):
    """Layer norm by CS231n's staged graph, every sample's statistics over its D features:
    mu, xmu = x - mu, sq = xmu², var = mean(sq), sqrtvar = √(var + eps), ivar = 1/sqrtvar,
    x̂ = xmu·ivar, y = gamma x̂ + beta;  backward walks the stages in reverse.
    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, gamma=(d,), beta=(d,))
        self.params["gamma"] += 1.0

    def forward(self, x):
        mu = x.mean(axis=1, keepdims=True)
        xmu = x - mu
        var = (xmu**2).mean(axis=1, keepdims=True)
        sqrtvar = np.sqrt(var + self.eps)
        ivar = 1 / sqrtvar
        xhat = xmu * ivar
        self.cache = (xhat, xmu, ivar, sqrtvar)
        return self.params["gamma"] * xhat + self.params["beta"]

    def backward(self, dout):
        xhat, xmu, ivar, sqrtvar = self.cache
        D = dout.shape[1]
        self.grads["beta"] = dout.sum(axis=0)
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        dxhat = dout * self.params["gamma"]
        divar = (dxhat * xmu).sum(axis=1, keepdims=True)
        dxmu1 = dxhat * ivar
        dsqrtvar = -divar / sqrtvar**2
        dvar = 0.5 * dsqrtvar / sqrtvar
        dxmu2 = self.square_back(dvar, xmu, D)
        dx1 = dxmu1 + dxmu2
        dmu = -dx1.sum(axis=1, keepdims=True)
        return dx1 + np.ones_like(xmu) * dmu / D

    def square_back(self, dvar, xmu, D):
        """Back through var = mean over the D features of sq = xmu²."""
        dsq = np.ones_like(xmu) * dvar / D
        return 2 * xmu * dsq


@same_name
class StagedLayerNormA(StagedLayerNorm):
    def square_back(self, dvar, xmu, D):
        dsq = np.ones_like(xmu) * dvar
        return 2 * xmu * dsq


class GroupNorm(mn.Layer):
    """Group norm: the C channels in G groups of C/G neighbouring channels (0..C/G - 1 the
    first group); each (sample, group) standardized over its channels and pixels, then
    gamma x̂ + beta per channel.  x, y: (N, C, H, W);  gamma, beta (C,)."""

    eps = 1e-5

    def __init__(self, channels, groups):
        super().__init__()
        self.groups = groups
        self.params = {"gamma": np.linspace(0.5, 1.5, channels), "beta": np.zeros(channels)}
        self.grads = {k: np.zeros(channels) for k in self.params}

    def forward(self, x):
        g = x.reshape(len(x), self.groups, -1)
        self.std = np.sqrt(g.var(axis=2, keepdims=True) + self.eps)  # (N, G, 1)
        self.xhat = ((g - g.mean(axis=2, keepdims=True)) / self.std).reshape(x.shape)
        return self.params["gamma"][:, None, None] * self.xhat + self.params["beta"][:, None, None]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        return self.norm_back(dout * self.params["gamma"][:, None, None])

    def norm_back(self, dxhat):
        N = len(dxhat)
        d = dxhat.reshape(N, self.groups, -1)
        xh = self.xhat.reshape(N, self.groups, -1)
        dx = (d - d.mean(axis=2, keepdims=True)
              - xh * (d * xh).mean(axis=2, keepdims=True)) / self.std
        return dx.reshape(dxhat.shape)


@same_name
class GroupNormA(GroupNorm):
    def norm_back(self, dxhat):
        N, C, H, W = dxhat.shape
        G = self.groups
        d = dxhat.reshape(N, C // G, G, H, W)
        xh = self.xhat.reshape(N, C // G, G, H, W)
        std = self.std.reshape(N, 1, G, 1, 1)
        dx = (d - d.mean(axis=(1, 3, 4), keepdims=True)
              - xh * (d * xh).mean(axis=(1, 3, 4), keepdims=True)) / std
        return dx.reshape(dxhat.shape)


# ---- convolution and pooling -----------------------------------------------------------------


class TrueConv(mn.Layer):
    """A true convolution, as scipy.signal.convolve2d: the kernel turned by 180° before it
    slides, K = W[:, :, ::-1, ::-1], then a cross-correlation with K (3×3, padding 1);
    backward finds dK and turns it back for dW.
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        self.xp = pad(x, 1)
        self.win = sliding_window_view(self.xp, (3, 3), axis=(2, 3))  # (N, C, H, W, 3, 3)
        self.kernel = self.params["W"][:, :, ::-1, ::-1]
        out = np.einsum("nchwij,fcij->nfhw", self.win, self.kernel)
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        dkernel = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["W"] = self.turn_back(dkernel)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros_like(self.xp)
        H, W = dout.shape[2:]
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + W] += np.einsum("nfhw,fc->nchw", dout,
                                                         self.kernel[:, :, i, j])
        return dxp[:, :, 1:-1, 1:-1]

    def turn_back(self, dkernel):
        """dW from dK: K = W turned by 180°, so dW is dK turned back."""
        return dkernel[:, :, ::-1, ::-1]


@same_name
class TrueConvA(TrueConv):
    def turn_back(self, dkernel):
        return dkernel


class SubsampledConv(mn.Layer):
    """A stride-2 convolution written as a stride-1 one (3×3, padding 1) of which every second
    row and column is kept: y = full[:, :, ::2, ::2].  Backward puts dout back at those
    pixels of the full output, zeros at the others, then runs the stride-1 backward.
    x (N, C, H, W) -> (N, F, H/2, W/2);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        self.xp = pad(x, 1)
        self.win = sliding_window_view(self.xp, (3, 3), axis=(2, 3))
        full = np.einsum("nchwij,fcij->nfhw", self.win, self.params["W"])
        full += self.params["b"][:, None, None]
        self.full_shape = full.shape
        return full[:, :, ::2, ::2]

    def backward(self, dout):
        dfull = self.unsample(dout)
        W = self.params["W"]
        self.grads["W"] = np.einsum("nchwij,nfhw->fcij", self.win, dfull)
        self.grads["b"] = dfull.sum(axis=(0, 2, 3))
        dxp = np.zeros_like(self.xp)
        H, Wd = dfull.shape[2:]
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + Wd] += np.einsum("nfhw,fc->nchw", dfull, W[:, :, i, j])
        return dxp[:, :, 1:-1, 1:-1]

    def unsample(self, dout):
        """The gradient of full[:, :, ::2, ::2]: dout at the kept pixels, 0 elsewhere."""
        dfull = np.zeros(self.full_shape)
        dfull[:, :, ::2, ::2] = dout
        return dfull


@same_name
class SubsampledConvA(SubsampledConv):
    def unsample(self, dout):
        return dout.repeat(2, axis=2).repeat(2, axis=3)


class ArgmaxPool(mn.Layer):
    """Max pooling over k×k windows, stride k, keeping for backward the flat index of each
    window's max (np.argmax over the window's k·k entries read row by row: index r·k + s is
    row r, column s).  x (N, C, H, W) -> (N, C, H/k, W/k)."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        N, C, H, W = self.x_shape = x.shape
        k = self.k
        win = x.reshape(N, C, H // k, k, W // k, k).transpose(0, 1, 2, 4, 3, 5)
        win = win.reshape(N, C, H // k, W // k, k * k)
        self.arg = win.argmax(axis=-1)
        return win.max(axis=-1)

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        N, C, Ho, Wo = dout.shape
        n, c = np.indices((N, C))
        for i in range(Ho):
            for j in range(Wo):
                r, s = self.cell(self.arg[:, :, i, j])
                dx[n, c, i * self.k + r, j * self.k + s] += dout[:, :, i, j]
        return dx

    def cell(self, idx):
        """(row, column) inside the window of a flat index."""
        return idx // self.k, idx % self.k


@same_name
class ArgmaxPoolA(ArgmaxPool):
    def cell(self, idx):
        return idx % self.k, idx // self.k


class KMaxPool(mn.Layer):
    """k-max pooling over time (Kalchbrenner et al.): for every sequence and feature the k
    largest steps, kept in their time order; backward writes dout at the steps forward took.
    x (N, T, D) -> (N, k, D)."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        self.x_shape = x.shape
        top = np.argsort(x, axis=1)[:, -self.k:]
        self.idx = np.sort(top, axis=1)
        return np.take_along_axis(x, self.idx, axis=1)

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        np.put_along_axis(dx, self.idx, dout, axis=1)
        return dx


@same_name
class KMaxPoolA(KMaxPool):
    def forward(self, x):
        self.x_shape = x.shape
        top = np.argsort(x, axis=1)[:, -self.k:]
        self.idx = top
        return np.take_along_axis(x, np.sort(top, axis=1), axis=1)


class GeMPool(mn.Layer):
    """Generalized-mean pooling of each channel over its M = H·W pixels, p = 3:
    y = (mean(x̃ᵖ))^(1/p), x̃ = max(x, eps);  dy/dx = (x̃/y)^(p-1) / M where x > eps, 0 where
    the floor eps was taken.  x (N, C, H, W) -> (N, C)."""

    p, eps = 3.0, 0.1

    def forward(self, x):
        self.above = x > self.eps
        self.xc = np.maximum(x, self.eps)
        self.y = (self.xc**self.p).mean(axis=(2, 3)) ** (1 / self.p)
        return self.y

    def backward(self, dout):
        M = self.xc.shape[2] * self.xc.shape[3]
        ratio = self.xc / self.y[:, :, None, None]
        return dout[:, :, None, None] * ratio ** (self.p - 1) * self.above / M


@same_name
class GeMPoolA(GeMPool):
    def backward(self, dout):
        ratio = self.xc / self.y[:, :, None, None]
        return dout[:, :, None, None] * ratio ** (self.p - 1) * self.above


# ---- losses ----------------------------------------------------------------------------------


class ReverseKL(mn.Loss):
    """The reverse KL divergence to a teacher's distribution q: L = mean_n KL(p ‖ q) =
    mean_n Σ_c p_c (log p_c - log q_c), p = softmax(s);  dL/ds = p ⊙ (l - Σ_c p_c l_c) / N with
    l = log p - log q.  scores (N, C), y (N, C) rows summing to 1 -> float."""

    def forward(self, scores, y):
        shifted = scores - scores.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p, self.q = np.exp(logp), y
        self.l = logp - np.log(y)
        return float((self.p * self.l).sum(axis=1).mean())

    def backward(self):
        kl = (self.p * self.l).sum(axis=1, keepdims=True)
        return self.p * (self.l - kl) / len(self.p)


@same_name
class ReverseKLA(ReverseKL):
    def backward(self):
        return (self.p - self.q) / len(self.p)


class InfoNCE(mn.Loss):
    """Contrastive InfoNCE: row i of the scores s (N, D) must pick its own key y_i among all N
    keys; S = s yᵀ / τ, L = mean_i -log softmax(S_i)[i];  dS = (softmax(S) - I) / N, and
    ds = dS y / τ (row i of S is s_i against every key).  scores (N, D), y (N, D) keys -> float."""

    tau = 0.5

    def forward(self, scores, y):
        self.keys = y
        S = scores @ y.T / self.tau
        shifted = S - S.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.P = np.exp(logp)
        return float(-np.mean(np.diag(logp)))

    def backward(self):
        N = len(self.P)
        dS = (self.P - np.eye(N)) / N
        return dS @ self.keys / self.tau


@same_name
class InfoNCEA(InfoNCE):
    def backward(self):
        N = len(self.P)
        dS = (self.P - np.eye(N)) / N
        return dS.T @ self.keys / self.tau


def keys(rng, n, d=3):
    return rng.standard_normal((n, d))


class EMDLoss(mn.Loss):
    """Squared earth mover's distance for ordered classes (Hou et al.): p = softmax(s), P and
    Q the cumulative sums of p and of the one-hot label, L = mean_n Σ_k (P_k - Q_k)²;
    p_j enters every P_k with k >= j, so dL/dp_j = Σ_{k >= j} dL/dP_k (a sum from the end),
    then back through the softmax.  scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.p = softmax(scores)
        onehot = np.eye(scores.shape[1])[y]
        self.diff = np.cumsum(self.p, axis=1) - np.cumsum(onehot, axis=1)
        return float((self.diff**2).sum(axis=1).mean())

    def backward(self):
        dP = 2 * self.diff / len(self.diff)
        dp = self.cdf_back(dP)
        return self.p * (dp - (dp * self.p).sum(axis=1, keepdims=True))

    def cdf_back(self, dP):
        """Back through P = cumsum(p): the reversed cumulative sum."""
        return np.cumsum(dP[:, ::-1], axis=1)[:, ::-1]


@same_name
class EMDLossA(EMDLoss):
    def cdf_back(self, dP):
        return np.cumsum(dP, axis=1)


def grades(rng, n, classes=4):
    return rng.integers(0, classes, n)


# ---- sequences -------------------------------------------------------------------------------


class ConcatLSTM(mn.Layer):
    """An LSTM with one weight for the joined input [x_t, h_{t-1}], gates packed f, i, g, o:
    a = [x_t, h_{t-1}] W + b; f, i, o = σ(·), g = tanh(·); c_t = f c_{t-1} + i g;
    h_t = o tanh(c_t); h_0 = c_0 = 0.  Each step's values kept in a dict.
    x (N, T, D) -> (N, T, H);  W (D + H, 4H), b (4H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, W=(d + h, 4 * h), b=(4 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h, c = np.zeros((N, H)), np.zeros((N, H))
        self.x, self.steps, hs = x, [], []
        for t in range(T):
            xh = np.hstack([x[:, t], h])
            a = xh @ self.params["W"] + self.params["b"]
            f, i = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H])
            g, o = np.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
            c_new = f * c + i * g
            tc = np.tanh(c_new)
            self.steps.append({"xh": xh, "c_prev": c, "f": f, "i": i, "g": g, "o": o, "tc": tc})
            c, h = c_new, o * tc
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        D = self.x.shape[2]
        dx = np.zeros_like(self.x)
        dh_next = dc_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            s = self.steps[t]
            dh = dout[:, t] + dh_next
            dc = dc_next + dh * s["o"] * (1 - s["tc"] ** 2)
            f, i, g, o = s["f"], s["i"], s["g"], s["o"]
            da = np.hstack([dc * s["c_prev"] * f * (1 - f), dc * g * i * (1 - i),
                            dc * i * (1 - g**2), dh * s["tc"] * o * (1 - o)])
            self.grads["W"] += s["xh"].T @ da
            self.grads["b"] += da.sum(axis=0)
            dxh = da @ self.params["W"].T
            dx[:, t], dh_next = dxh[:, :D], dxh[:, D:]
            dc_next = self.cell_carry(dc, s)
        return dx

    def cell_carry(self, dc, s):
        """dL/dc_{t-1} from dL/dc_t: c_t = f c_{t-1} + i g."""
        return dc * s["f"]


@same_name
class ConcatLSTMA(ConcatLSTM):
    def cell_carry(self, dc, s):
        return dc


@same_name
class GRUA(GRU):
    def step_back(self, t, dh):
        H = self.hidden
        h_prev, gh, r, z, n = self.cache[t]
        dn, dz, dh_prev = self.mix_back(dh, z, n, h_prev)
        dan = dn * (1 - n**2)
        dr = dan * gh[:, 2 * H:]
        dar, daz = dr * r * (1 - r), dz * z * (1 - z)
        dgx = np.concatenate([dar, daz, dan], axis=1)
        dgh = np.concatenate([dar, daz, dan], axis=1)
        self.grads["Wx"] += self.x[:, t].T @ dgx
        self.grads["bx"] += dgx.sum(axis=0)
        self.grads["Wh"] += h_prev.T @ dgh
        self.grads["bh"] += dgh.sum(axis=0)
        return dgx @ self.params["Wx"].T, dh_prev + dgh @ self.params["Wh"].T


class MaskedRNN(mn.Layer):
    """A tanh RNN over sequences of different lengths: past a sequence's length its state is
    carried over unchanged, h_t = m_t tanh(a_t) + (1 - m_t) h_{t-1}, m_t = [t < length],
    a_t = x_t Wx + h_{t-1} Wh + b, h_0 = 0;  so dh_{t-1} = da_t Whᵀ + (1 - m_t) dh_t.
    x (N, T, D) -> (N, T, H);  lengths (N,) fixed when built."""

    def __init__(self, d, h, lengths, seed=0):
        super().__init__()
        self.hidden, self.lengths = h, np.asarray(lengths)
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        self.x = x
        self.m = (np.arange(T) < self.lengths[:, None]).astype(float)[:, :, None]  # (N, T, 1)
        h = np.zeros((N, self.hidden))
        self.cache, hs = [], []
        for t in range(T):
            u = np.tanh(x[:, t] @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"])
            self.cache.append((h, u))
            h = self.m[:, t] * u + (1 - self.m[:, t]) * h
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            h_prev, u = self.cache[t]
            m = self.m[:, t]
            dh = dout[:, t] + dh_next
            da = dh * m * (1 - u**2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += h_prev.T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = self.carry(da, dh, m)
        return dx

    def carry(self, da, dh, m):
        """dL/dh_{t-1}: through the recurrence, and straight through the copy where m_t = 0."""
        return da @ self.params["Wh"].T + (1 - m) * dh


@same_name
class MaskedRNNA(MaskedRNN):
    def carry(self, da, dh, m):
        return da @ self.params["Wh"].T


class ElmanRNN(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0, the states in a list hs = [h_0, h_1, ...];
    tanh's slope at step t is 1 - h_t², h_t that step's own output (hs[t + 1]).
    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        self.x, self.hs = x, [np.zeros((len(x), self.hidden))]
        for t in range(x.shape[1]):
            a = x[:, t] @ self.params["Wx"] + self.hs[-1] @ self.params["Wh"] + self.params["b"]
            self.hs.append(np.tanh(a))
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh_next) * self.slope(t)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = da @ self.params["Wh"].T
        return dx

    def slope(self, t):
        return 1 - self.hs[t + 1] ** 2


@same_name
class ElmanRNNA(ElmanRNN):
    def slope(self, t):
        return 1 - self.hs[t] ** 2


# ---- attention -------------------------------------------------------------------------------


class GroupedQueryAttention(mn.Layer):
    """Grouped-query self-attention: 4 query heads of size D/4 and 2 key/value heads, each
    read by two neighbouring query heads (np.repeat: query heads 0 and 1 read kv head 0, heads
    2 and 3 kv head 1); the heads side by side, then Wo.  A kv head's gradient adds up those
    of the query heads that read it.
    x (N, T, D) -> (N, T, D);  Wq, Wo (D, D), Wk, Wv (D, D/2)."""

    heads, kv_heads = 4, 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d // 2), Wv=(d, d // 2), Wo=(d, d))

    @staticmethod
    def split(a, heads):
        """(N, T, E) -> (N, heads, T, E/heads)."""
        N, T, E = a.shape
        return a.reshape(N, T, heads, E // heads).transpose(0, 2, 1, 3)

    @staticmethod
    def merge(a):
        """(N, h, T, d) -> (N, T, h·d)."""
        N, h, T, d = a.shape
        return a.transpose(0, 2, 1, 3).reshape(N, T, h * d)

    def forward(self, x):
        P, rep = self.params, self.heads // self.kv_heads
        self.x = x
        self.q = self.split(x @ P["Wq"], self.heads)
        self.k = np.repeat(self.split(x @ P["Wk"], self.kv_heads), rep, axis=1)
        self.v = np.repeat(self.split(x @ P["Wv"], self.kv_heads), rep, axis=1)
        self.scale = 1 / np.sqrt(self.q.shape[-1])
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        self.o = self.merge(self.p @ self.v)
        return self.o @ P["Wo"]

    def backward(self, dout):
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = self.split(dout @ self.params["Wo"].T, self.heads)
        dv = self.p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", self.shared(dk)), ("Wv", self.shared(dv))):
            d = self.merge(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def shared(self, d):
        """(N, 4, T, d) -> (N, 2, T, d): each kv head adds up its query heads' gradients."""
        N, h, T, dh = d.shape
        return d.reshape(N, self.kv_heads, h // self.kv_heads, T, dh).sum(axis=2)


@same_name
class GroupedQueryAttentionA(GroupedQueryAttention):
    def shared(self, d):
        N, h, T, dh = d.shape
        return d.reshape(N, h // self.kv_heads, self.kv_heads, T, dh).sum(axis=1)


class LoopCausalAttention(mn.Layer):
    """Causal self-attention one query at a time: step t reads the steps s <= t,
    p_t = softmax over s <= t of q_t·k_s / √D, y_t = Σ_{s <= t} p_ts v_s.  Backward goes query
    by query and sends each query's share to every key and value it read, s = 0..t.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.ps, y = [], np.zeros_like(self.q)
        for t in range(x.shape[1]):
            s = np.einsum("nd,nsd->ns", self.q[:, t], self.k[:, :t + 1]) * self.scale
            p = softmax(s)
            self.ps.append(p)
            y[:, t] = np.einsum("ns,nsd->nd", p, self.v[:, :t + 1])
        return y

    def backward(self, dout):
        dq, dk, dv = np.zeros_like(self.q), np.zeros_like(self.k), np.zeros_like(self.v)
        for t in range(self.x.shape[1]):
            p, g = self.ps[t], dout[:, t]
            dp = np.einsum("nd,nsd->ns", g, self.v[:, :t + 1])
            ds = p * (dp - (dp * p).sum(axis=1, keepdims=True)) * self.scale
            dq[:, t] = np.einsum("ns,nsd->nd", ds, self.k[:, :t + 1])
            self.to_keys(t, ds, p, g, dk, dv)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def to_keys(self, t, ds, p, g, dk, dv):
        """Add query t's share to the keys and values it read, steps 0..t."""
        for s in range(t + 1):
            dk[:, s] += ds[:, s, None] * self.q[:, t]
            dv[:, s] += p[:, s, None] * g


@same_name
class LoopCausalAttentionA(LoopCausalAttention):
    def to_keys(self, t, ds, p, g, dk, dv):
        for s in range(t):
            dk[:, s] += ds[:, s, None] * self.q[:, t]
            dv[:, s] += p[:, s, None] * g


class SharedQKAttention(mn.Layer):
    """Self-attention with shared queries and keys (as in the Reformer): Q = x Wq serves as
    both, S = Q Qᵀ / √D, P = softmax(S), y = P V with V = x Wv;  Q stands on both sides of S,
    so dQ = (dS + dSᵀ) Q / √D.  x (N, T, D) -> (N, T, D);  Wq, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.v = x @ self.params["Wq"], x @ self.params["Wv"]
        self.p = softmax(self.q @ self.q.transpose(0, 2, 1) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq = self.query_grad(ds)
        self.grads["Wq"] = rows(self.x).T @ rows(dq)
        self.grads["Wv"] = rows(self.x).T @ rows(dv)
        return dq @ self.params["Wq"].T + dv @ self.params["Wv"].T

    def query_grad(self, ds):
        return (ds + ds.transpose(0, 2, 1)) @ self.q


@same_name
class SharedQKAttentionA(SharedQKAttention):
    def query_grad(self, ds):
        return ds @ self.q


class DifferentialAttention(mn.Layer):
    """Differential attention (Ye et al.), one head: two maps P1 = softmax(Q1 K1ᵀ/√D) and
    P2 = softmax(Q2 K2ᵀ/√D), y = (P1 - λ P2) V with a learned λ;  each map's softmax backward
    uses its own probabilities.  x (N, T, D) -> (N, T, D);  Wq1, Wk1, Wq2, Wk2, Wv (D, D),
    lam (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq1=(d, d), Wk1=(d, d), Wq2=(d, d), Wk2=(d, d), Wv=(d, d),
                    lam=(1,))
        self.params["lam"] = np.array([0.6])

    def forward(self, x):
        P = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.qk = {w: x @ P[w] for w in ("Wq1", "Wk1", "Wq2", "Wk2")}
        self.v = x @ P["Wv"]
        qk = self.qk
        self.p1 = softmax(qk["Wq1"] @ qk["Wk1"].transpose(0, 2, 1) * self.scale)
        self.p2 = softmax(qk["Wq2"] @ qk["Wk2"].transpose(0, 2, 1) * self.scale)
        self.a = self.p1 - P["lam"][0] * self.p2
        return self.a @ self.v

    @staticmethod
    def softmax_back(p, dp):
        return p * (dp - (dp * p).sum(axis=-1, keepdims=True))

    def backward(self, dout):
        lam, qk = self.params["lam"][0], self.qk
        dv = self.a.transpose(0, 2, 1) @ dout
        da = dout @ self.v.transpose(0, 2, 1)
        self.grads["lam"] = np.array([-(da * self.p2).sum()])
        ds1 = self.softmax_back(self.p1, da) * self.scale
        ds2 = self.softmax_back(self.p2, -lam * da) * self.scale
        grads = {"Wq1": ds1 @ qk["Wk1"], "Wk1": ds1.transpose(0, 2, 1) @ qk["Wq1"],
                 "Wq2": ds2 @ qk["Wk2"], "Wk2": ds2.transpose(0, 2, 1) @ qk["Wq2"], "Wv": dv}
        dx = 0
        for w, d in grads.items():
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


@same_name
class DifferentialAttentionA(DifferentialAttention):
    def backward(self, dout):
        lam, qk = self.params["lam"][0], self.qk
        dv = self.a.transpose(0, 2, 1) @ dout
        da = dout @ self.v.transpose(0, 2, 1)
        self.grads["lam"] = np.array([-(da * self.p2).sum()])
        ds1 = self.softmax_back(self.p1, da) * self.scale
        ds2 = self.softmax_back(self.p1, -lam * da) * self.scale
        grads = {"Wq1": ds1 @ qk["Wk1"], "Wk1": ds1.transpose(0, 2, 1) @ qk["Wq1"],
                 "Wq2": ds2 @ qk["Wk2"], "Wk2": ds2.transpose(0, 2, 1) @ qk["Wq2"], "Wv": dv}
        dx = 0
        for w, d in grads.items():
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("silu-inplace", ACT, lambda: dense_net(SiLUA(), seed=1101, scale=2.0),
         "ds = self.s and ds *= 1 - self.s turn the cached σ(x) itself into σ(1 - σ) (ds is the "
         "same array): the product rule's first term self.s then reads σ(1 - σ) where σ(x) "
         "belongs",
         "ds = self.s * (1 - self.s)"),
    Case("logish", ACT, lambda: dense_net(LogishA(), seed=1102, scale=2.0),
         "the derivative of log(1 + σ(x)) is σ'(x)/(1 + σ(x)); backward keeps the inner "
         "derivative σ(1 - σ) but drops the division by 1 + σ(x)",
         "return self.s * (1 - self.s) / (1 + self.s)"),
    Case("minmax-groupsort", ACT, lambda: dense_net(MinMaxA(), width=6, seed=1103, scale=1.5),
         "the second entry b of each pair is routed like the first (the np.where copied with "
         "its arguments): where a was the max, b was the min and must get dmin, not dmax, and "
         "the other way round",
         "return np.where(a_top, dmax, dmin), np.where(a_top, dmin, dmax)"),
    Case("channel-prelu", ACT, lambda: image_net(ChannelPReLUA(3), seed=1104),
         "dx_a[neg] (boolean indexing) flattens away the channel axis: the sum of dout·x over "
         "the negative entries of all channels together is given to every channel's slope, "
         "where each a_c must sum its own channel's entries only (dx is right)",
         "return (dx_a * neg).sum(axis=(0, 2, 3))"),
    Case("centered-dense", DENSE, lambda: dense_net(CenteredDenseA(5, 4, seed=1105), seed=1105),
         "x̄, the batch mean of the inputs, is treated as a constant: every x_n also reaches "
         "every output through x̄, so dx needs the term -mean_n(dout Wᵀ) (dW and db are right)",
         "return dxc - dxc.mean(axis=0)"),
    Case("made-linear", DENSE, lambda: dense_net(MADELinearA(5, seed=1106), seed=1106),
         "dW is masked with Mᵀ (the (outputs, inputs) layout) where forward multiplied W by M: "
         "the masked weights get gradients and the live ones none (it runs since D = F; dx "
         "is right)",
         "return g * self.mask"),
    Case("nac", DENSE, lambda: dense_net(NACA(5, 4, seed=1107), seed=1107),
         "tanh's slope in dŴ is taken at the product W = tanh(Ŵ)·σ(M̂), 1 - W², where it belongs "
         "at tanh's own output: 1 - tanh²(Ŵ) (dM̂ and dx are right)",
         "return 1 - self.t**2"),
    Case("dropconnect", DENSE, lambda: dense_net(DropConnectA(5, 4, seed=3), seed=1108),
         "the mask already holds the rescaling 1/(1 - p), but dW divides by 1 - p once more: "
         "dW is (1 - p)⁻¹ = 2 times too large (db and dx are right)",
         "return g * self.mask"),
    Case("loop-batchnorm", NORM, lambda: dense_net(LoopBatchNormA(5), seed=1109),
         "inside forward's loop over the features self.std = ... is overwritten at each "
         "feature: backward divides every column by the last feature's std instead of its own "
         "(x̂ itself is right)",
         "std = np.sqrt(col.var() + self.eps); ...; self.std[d] = std (one std per feature)"),
    Case("staged-layernorm", NORM, lambda: dense_net(StagedLayerNormA(5, seed=1110),
                                                     seed=1110),
         "in the staged backward the mean stage var = mean(sq) is undone without its 1/D: "
         "dsq = dvar where dvar / D belongs, so the variance's term of dx is D = 5 times too "
         "large",
         "dsq = np.ones_like(xmu) * dvar / D"),
    Case("groupnorm-interleaved", NORM, lambda: image_net(GroupNormA(4, 2), channels=4,
                                                          seed=1111),
         "backward reshapes the channels as (C/G, G), which puts channel c in group c % G "
         "(channels 0 and 2 together), where forward's (G, C/G) grouped neighbouring channels "
         "(0 and 1): the means and the std are of the wrong groups",
         "d = dxhat.reshape(N, self.groups, -1) (groups of neighbouring channels)"),
    Case("true-conv", CONV, lambda: image_net(TrueConvA(3, 2, seed=1112), seed=1112),
         "dW is the gradient of the turned kernel K = W[:, :, ::-1, ::-1], not turned back: "
         "each 3×3 filter's gradient comes out rotated by 180° (dx and db are right)",
         "return dkernel[:, :, ::-1, ::-1]"),
    Case("subsampled-conv", CONV, lambda: image_net(SubsampledConvA(3, 2, seed=1113),
                                                    seed=1113),
         "the gradient of keeping every second pixel is dout at the kept pixels and 0 at the "
         "dropped ones; backward copies dout over each 2×2 block (repeat), so the dropped "
         "pixels of the full output get gradient too (dx, dW and db all wrong)",
         "dfull = np.zeros(self.full_shape); dfull[:, :, ::2, ::2] = dout"),
    Case("argmax-pool", POOL, lambda: image_net(ArgmaxPoolA(2), seed=1114),
         "the flat argmax index is decoded with row and column exchanged, (idx % k, idx // k): "
         "np.argmax read the window row by row, so index r·k + s is row idx // k, column "
         "idx % k; the off-diagonal maxima send their gradient to the mirrored pixel",
         "return idx // self.k, idx % self.k"),
    Case("k-max-pool", POOL, lambda: sequence_net(KMaxPoolA(3), t=5, seed=1115),
         "forward puts out the k largest steps in time order, but keeps for backward the "
         "indices as argsort left them (by value): the i-th output's gradient goes to the i-th "
         "smallest of the k, not to the i-th in time",
         "self.idx = np.sort(top, axis=1)"),
    Case("k-max-pool-correct", POOL, lambda: sequence_net(KMaxPool(3), t=5, seed=1116),
         CORRECT),
    Case("gem-pool", POOL, lambda: image_net(GeMPoolA(), seed=1117),
         "the 1/M of the mean inside the generalized mean is dropped from dx: dy/dx = "
         "(x̃/y)^(p-1) / M, backward returns M = H·W = 16 times that",
         "return dout[:, :, None, None] * ratio ** (self.p - 1) * self.above / M"),
    Case("reverse-kl", LOSS, lambda: loss_net(ReverseKLA(), teacher, seed=1118, scale=2.0),
         "backward is the forward KL's (and cross-entropy's) gradient (p - q)/N; for KL(p ‖ q) "
         "with p = softmax(s) it is p ⊙ (log p - log q - KL) / N",
         "return self.p * (self.l - kl) / len(self.p)"),
    Case("info-nce", LOSS, lambda: loss_net(InfoNCEA(), keys, seed=1119, scale=2.0),
         "ds uses dSᵀ where dS belongs: row i of S = s yᵀ/τ holds s_i against every key, so "
         "ds_i = Σ_j dS_ij y_j / τ; the transpose gathers column i, the other rows' scores of "
         "key i (it runs since S is N×N)",
         "return dS @ self.keys / self.tau"),
    Case("emd-loss", LOSS, lambda: loss_net(EMDLossA(), grades, width=4, seed=1120, scale=2.0),
         "the gradient of a cumulative sum is a sum from the end: p_j enters P_k for k >= j, "
         "so dp_j = Σ_{k >= j} dP_k; backward takes np.cumsum from the start, Σ_{k <= j}",
         "return np.cumsum(dP[:, ::-1], axis=1)[:, ::-1]"),
    Case("lstm-concat-carry", SEQ, lambda: sequence_net(ConcatLSTMA(4, 3, seed=1121),
                                                        seed=1121),
         "the cell gradient carried back to c_{t-1} is dc_t itself; c_t = f·c_{t-1} + i·g "
         "multiplies c_{t-1} by the forget gate, so the carry is dc_t·f",
         "return dc * s['f']"),
    Case("gru-reset-hidden", SEQ, lambda: sequence_net(GRUA(4, 3, seed=1122), seed=1122),
         "r multiplies the hidden part gh_n = h_{t-1} Wh_n + bh_n inside n, but dgh's n-block "
         "is dan, copied from dgx, where dan ⊙ r belongs: dWh, dbh and the carried dh_{t-1} "
         "get the n-gate's share without the reset gate",
         "dgh = np.concatenate([dar, daz, dan * r], axis=1)"),
    Case("masked-rnn", SEQ, lambda: sequence_net(MaskedRNNA(4, 3, [4, 2, 3, 1], seed=1123),
                                                 seed=1123),
         "past a sequence's length the state is copied, h_t = h_{t-1}, but the carried "
         "gradient keeps only the path through the recurrence: the copy's term (1 - m_t)·dh_t "
         "is missing, so the padded steps' gradients never reach the real ones",
         "return da @ self.params['Wh'].T + (1 - m) * dh"),
    Case("masked-rnn-correct", SEQ, lambda: sequence_net(MaskedRNN(4, 3, [3, 4, 1, 2],
                                                                   seed=1124), seed=1124),
         CORRECT),
    Case("elman-slope-step", SEQ, lambda: sequence_net(ElmanRNNA(4, 3, seed=1125), seed=1125),
         "tanh's slope at step t is read from hs[t], the previous state h_{t-1}, where the step's "
         "own output h_t = hs[t + 1] belongs: 1 - h_{t-1}² (and 1 at t = 0)",
         "return 1 - self.hs[t + 1] ** 2"),
    Case("grouped-query-attention", ATTN, lambda: sequence_net(
        GroupedQueryAttentionA(8, seed=1126), width=8, t=3, seed=1126),
         "the query heads' gradients are summed into the kv heads as if tiled: reshape "
         "(N, 2, 2, ...) summed over axis 1 adds heads 0 and 2, 1 and 3, where np.repeat made "
         "heads 0 and 1 read kv head 0 and heads 2 and 3 kv head 1 (dWk, dWv and dx wrong)",
         "return d.reshape(N, self.kv_heads, h // self.kv_heads, T, dh).sum(axis=2)"),
    Case("grouped-query-attention-correct", ATTN, lambda: sequence_net(
        GroupedQueryAttention(8, seed=1127), width=8, t=3, seed=1127), CORRECT),
    Case("loop-causal-attention", ATTN, lambda: sequence_net(
        LoopCausalAttentionA(4, seed=1128), seed=1128),
         "the loop over the keys a query read stops one short, range(t) where forward read "
         "steps 0..t: each query's own key and value (s = t) get no gradient from it",
         "for s in range(t + 1):"),
    Case("shared-qk-attention", ATTN, lambda: sequence_net(
        SharedQKAttentionA(4, seed=1129), seed=1129),
         "Q stands on both sides of S = Q Qᵀ/√D, as queries and as keys, but dQ keeps only the "
         "queries' term dS Q: the keys' term dSᵀ Q is missing (dV is right)",
         "return (ds + ds.transpose(0, 2, 1)) @ self.q"),
    Case("differential-attention", ATTN, lambda: sequence_net(
        DifferentialAttentionA(4, seed=1130), seed=1130),
         "the second map's softmax backward is taken with the first map's probabilities P1 "
         "(the line copied) where P2 belongs: dWq2 and dWk2 are wrong and so is their part of "
         "dx (dλ, dV and the first map are right)",
         "ds2 = self.softmax_back(self.p2, -lam * da) * self.scale"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
