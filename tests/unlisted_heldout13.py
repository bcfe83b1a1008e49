"""The thirteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the twelfth held-out set was used up:
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
    labels,
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


class RReLU(mn.Layer):
    """Randomized leaky ReLU: in training every negative entry gets its own slope
    a ~ U(lower, upper), drawn from the layer's own Generator at each forward; in eval the
    mean slope (lower + upper) / 2.  dy/dx = 1 where x >= 0, the drawn a elsewhere.
    x, y: (N, D)."""

    def __init__(self, lower=0.05, upper=0.6, seed=0):
        super().__init__()
        self.lower, self.upper = lower, upper
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        self.x = x
        if self.training:
            self.a = self.rng.uniform(self.lower, self.upper, x.shape)
        else:
            self.a = np.full(x.shape, (self.lower + self.upper) / 2)
        return np.where(x >= 0, x, self.a * x)

    def backward(self, dout):
        return dout * np.where(self.x >= 0, 1.0, self.negative_slope())

    def negative_slope(self):
        """The slope of each negative entry."""
        return self.a


@same_name
class RReLUA(RReLU):
    def negative_slope(self):
        return (self.lower + self.upper) / 2


class PELU(mn.Layer):
    """Parametric ELU (Trottier et al.), a and b > 0 learned per feature:
    y = (a/b) x where x >= 0, a (e^(x/b) - 1) elsewhere.  b stands in both branches:
    dy/db = -a x / b² where x >= 0, -a x e^(x/b) / b² elsewhere.  x, y: (N, D);  a, b (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a": np.linspace(0.8, 1.6, d), "b": np.linspace(1.5, 0.7, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        a, b = self.params["a"], self.params["b"]
        self.x = x
        self.e = np.exp(np.minimum(x, 0) / b)
        return np.where(x >= 0, a / b * x, a * (self.e - 1))

    def backward(self, dout):
        a, b, x = self.params["a"], self.params["b"], self.x
        pos = x >= 0
        self.grads["a"] = (dout * np.where(pos, x / b, self.e - 1)).sum(axis=0)
        self.grads["b"] = (dout * self.b_slope()).sum(axis=0)
        return dout * np.where(pos, a / b, a / b * self.e)

    def b_slope(self):
        """dy/db, entry by entry."""
        a, b, x = self.params["a"], self.params["b"], self.x
        return np.where(x >= 0, -a * x / b**2, -a * x * self.e / b**2)


@same_name
class PELUA(PELU):
    def b_slope(self):
        a, b, x = self.params["a"], self.params["b"], self.x
        return np.where(x < 0, -a * x * self.e / b**2, 0.0)


class LearnedSoftShrink(mn.Layer):
    """Soft thresholding with a learned threshold per feature: y = sign(x) max(|x| - λ, 0).
    dy/dx = 1 where |x| > λ, 0 elsewhere;  dy/dλ = -sign(x) where |x| > λ.
    x, y: (N, D);  lam (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"lam": np.linspace(0.2, 0.6, d)}
        self.grads = {"lam": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return np.sign(x) * np.maximum(np.abs(x) - self.params["lam"], 0)

    def backward(self, dout):
        alive = np.abs(self.x) > self.params["lam"]
        self.grads["lam"] = self.threshold_grad(dout, alive)
        return dout * alive

    def threshold_grad(self, dout, alive):
        return -(dout * np.sign(self.x) * alive).sum(axis=0)


@same_name
class LearnedSoftShrinkA(LearnedSoftShrink):
    def threshold_grad(self, dout, alive):
        return -(dout * alive).sum(axis=0)


class SmoothClip(mn.Layer):
    """A smooth hard-tanh by smoothstep: u = clip((x + 1)/2, 0, 1), y = 2 u² (3 - 2u) - 1,
    flat at -1 and 1 outside [-1, 1];  dy/dx = 6 u (1 - u), which is 0 wherever the clip
    holds.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        u = np.clip((x + 1) / 2, 0, 1)
        return 2 * u**2 * (3 - 2 * u) - 1

    def backward(self, dout):
        u = self.unit(self.x)
        return dout * 6 * u * (1 - u)

    def unit(self, x):
        """u of forward, from x."""
        return np.clip((x + 1) / 2, 0, 1)


@same_name
class SmoothClipA(SmoothClip):
    def unit(self, x):
        return (x + 1) / 2


# ---- dense-like ------------------------------------------------------------------------------


class LoRADense(mn.Layer):
    """A dense layer with a low-rank update (LoRA): y = x W + b + s (x A) B, s = α/r = 2
    (α = 4, rank r = 2).  Every path through A and B carries s:
    dB = s (x A)ᵀ dout, dA = s xᵀ (dout Bᵀ), dx = dout Wᵀ + s (dout Bᵀ) Aᵀ.
    x (N, D) -> (N, F);  W (D, F), b (F,), A (D, 2), B (2, F)."""

    rank, alpha = 2, 4.0

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,), A=(d, self.rank), B=(self.rank, f))
        self.s = self.alpha / self.rank

    def forward(self, x):
        P = self.params
        self.x = x
        self.xa = x @ P["A"]
        return x @ P["W"] + P["b"] + self.s * self.xa @ P["B"]

    def backward(self, dout):
        P = self.params
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        self.grads["B"] = self.s * self.xa.T @ dout
        dxa = self.s * dout @ P["B"].T  # dL/d(x A)
        self.grads["A"] = self.x.T @ dxa
        return dout @ P["W"].T + dxa @ P["A"].T


@same_name
class LoRADenseA(LoRADense):
    def backward(self, dout):
        P = self.params
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        self.grads["B"] = self.s * self.xa.T @ dout
        dxa = dout @ P["B"].T
        self.grads["A"] = self.x.T @ dxa
        return dout @ P["W"].T + self.s * dxa @ P["A"].T


class NoisyLinear(mn.Layer):
    """NoisyNet's linear layer: W = μ_W + σ_W ⊙ ε_W, b = μ_b + σ_b ⊙ ε_b, with fresh standard
    normal ε from the layer's own Generator at each training forward (eval: ε = 0).
    dμ_W = xᵀ dout, dσ_W = (xᵀ dout) ⊙ ε_W, dμ_b = Σ dout, dσ_b = Σ dout ⊙ ε_b, dx = dout Wᵀ.
    x (N, D) -> (N, F);  mu_W, sigma_W (D, F), mu_b, sigma_b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        self.rng = np.random.default_rng(seed)
        with_params(self, seed + 1, mu_W=(d, f), sigma_W=(d, f), mu_b=(f,), sigma_b=(f,))

    def forward(self, x):
        P = self.params
        self.x = x
        if self.training:
            self.eps_W = self.rng.standard_normal(P["mu_W"].shape)
            self.eps_b = self.rng.standard_normal(P["mu_b"].shape)
        else:
            self.eps_W, self.eps_b = np.zeros_like(P["mu_W"]), np.zeros_like(P["mu_b"])
        self.W = P["mu_W"] + P["sigma_W"] * self.eps_W
        return x @ self.W + P["mu_b"] + P["sigma_b"] * self.eps_b

    def backward(self, dout):
        dW, db = self.x.T @ dout, dout.sum(axis=0)
        self.grads["mu_W"], self.grads["mu_b"] = dW, db
        self.grads["sigma_W"] = self.noise_grad(dW)
        self.grads["sigma_b"] = db * self.eps_b
        return dout @ self.W.T

    def noise_grad(self, dW):
        """dσ_W from dL/dW."""
        return dW * self.eps_W


@same_name
class NoisyLinearA(NoisyLinear):
    def noise_grad(self, dW):
        return dW


class BatchEnsembleDense(mn.Layer):
    """One member of a BatchEnsemble layer: a shared W with the member's rank-1 fast weights,
    r on the inputs and s on the outputs: y = ((x ⊙ r) W) ⊙ s + b.  With g = dout ⊙ s:
    dW = (x ⊙ r)ᵀ g, dr = Σ_n x ⊙ (g Wᵀ), ds = Σ_n dout ⊙ ((x ⊙ r) W), dx = (g Wᵀ) ⊙ r.
    x (N, D) -> (N, F);  W (D, F), b (F,), r (D,), s (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        self.params["r"], self.params["s"] = np.linspace(0.4, 1.6, d), np.linspace(1.4, 0.6, f)
        self.grads["r"], self.grads["s"] = np.zeros(d), np.zeros(f)

    def forward(self, x):
        P = self.params
        self.x = x
        self.xr = x * P["r"]
        self.z = self.xr @ P["W"]
        return self.z * P["s"] + P["b"]

    def backward(self, dout):
        P = self.params
        g = dout * P["s"]
        self.grads["W"] = self.weight_grad(g)
        self.grads["b"] = dout.sum(axis=0)
        self.grads["s"] = (dout * self.z).sum(axis=0)
        dxr = g @ P["W"].T
        self.grads["r"] = (dxr * self.x).sum(axis=0)
        return dxr * P["r"]

    def weight_grad(self, g):
        return self.xr.T @ g


@same_name
class BatchEnsembleDenseA(BatchEnsembleDense):
    def weight_grad(self, g):
        return self.x.T @ g


class Householder(mn.Layer):
    """A learned reflection: u = v / ‖v‖, y = x (I - 2 u uᵀ) = x - 2 (x·u) u.  u is used twice,
    in the projection x·u and as the direction it is taken along, so
    du = -2 Σ_n [(x_n·u) dout_n + (dout_n·u) x_n] and dv = (du - u (u·du)) / ‖v‖;
    dx = dout - 2 (dout·u) u.  x, y: (N, D);  v (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, v=(d,))

    def forward(self, x):
        self.x = x
        self.norm = np.sqrt((self.params["v"] ** 2).sum())
        self.u = self.params["v"] / self.norm
        self.proj = x @ self.u  # (N,)
        return x - 2 * self.proj[:, None] * self.u

    def backward(self, dout):
        u = self.u
        dproj = dout @ u  # (N,)
        du = self.direction_grad(dout, dproj)
        self.grads["v"] = (du - u * (u @ du)) / self.norm
        return dout - 2 * dproj[:, None] * u

    def direction_grad(self, dout, dproj):
        """dL/du: u as the direction, and u inside the projection."""
        return -2 * (self.proj @ dout + dproj @ self.x)


@same_name
class HouseholderA(Householder):
    def direction_grad(self, dout, dproj):
        return -2 * self.proj @ dout


# ---- normalization ---------------------------------------------------------------------------


class GhostBatchNorm(mn.Layer):
    """Ghost batch norm: the batch cut in order into ghost batches of 3 samples (rows 0-2,
    3-5, ...), each standardized over its own samples, then gamma x̂ + beta.  Backward is batch
    norm's backward within each ghost batch, its means over that ghost batch's 3 rows.
    x, y: (N, D) with N a multiple of 3;  gamma, beta (D,)."""

    ghost, eps = 3, 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        g = self.ghost
        self.xhat, self.std = np.zeros_like(x), np.zeros_like(x)
        for a in range(0, len(x), g):
            chunk = x[a:a + g]
            self.std[a:a + g] = np.sqrt(chunk.var(axis=0) + self.eps)
            self.xhat[a:a + g] = (chunk - chunk.mean(axis=0)) / self.std[a:a + g]
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return self.dx(dout * self.params["gamma"])

    def dx(self, dxhat):
        g, dx = self.ghost, np.zeros_like(dxhat)
        for a in range(0, len(dxhat), g):
            d, xh = dxhat[a:a + g], self.xhat[a:a + g]
            dx[a:a + g] = (d - d.mean(axis=0) - xh * (d * xh).mean(axis=0)) / self.std[a:a + g]
        return dx


@same_name
class GhostBatchNormA(GhostBatchNorm):
    def dx(self, dxhat):
        xh = self.xhat
        return (dxhat - dxhat.mean(axis=0) - xh * (dxhat * xh).mean(axis=0)) / self.std


class CenteredL2Norm(mn.Layer):
    """Each sample centered over its features, scaled to unit length, then a gain:
    u = x - mean(x), ŷ = u / ‖u‖, y = g ⊙ ŷ.  Back through the length,
    du = (dŷ - ŷ Σ dŷ ⊙ ŷ) / ‖u‖, then back through the centering, dx = du - mean(du).
    x, y: (N, D);  g (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"g": np.linspace(0.5, 1.5, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        u = x - x.mean(axis=1, keepdims=True)
        self.norm = np.sqrt((u**2).sum(axis=1, keepdims=True))
        self.yhat = u / self.norm
        return self.params["g"] * self.yhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.yhat).sum(axis=0)
        dyh = dout * self.params["g"]
        du = (dyh - self.yhat * (dyh * self.yhat).sum(axis=1, keepdims=True)) / self.norm
        return self.center_back(du)

    def center_back(self, du):
        """Back through u = x - mean(x)."""
        return du - du.mean(axis=1, keepdims=True)


@same_name
class CenteredL2NormA(CenteredL2Norm):
    def center_back(self, du):
        return du


class HeadRMSNorm(mn.Layer):
    """RMSNorm per head: the D features of every position cut into 2 heads of D/2, each head
    scaled by its own r = √(mean over its D/2 features of x² + eps); y = g ⊙ x̂.
    Backward: dx = (dx̂ - x̂ mean_head(dx̂ ⊙ x̂)) / r, the mean over the head's features.
    x, y: (N, T, D);  g (D,)."""

    heads, eps = 2, 1e-6

    def __init__(self, d):
        super().__init__()
        self.params = {"g": np.linspace(0.6, 1.4, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        N, T, D = x.shape
        xh = x.reshape(N, T, self.heads, D // self.heads)
        self.r = np.sqrt((xh**2).mean(axis=-1, keepdims=True) + self.eps)  # (N, T, h, 1)
        self.xhat = (xh / self.r).reshape(x.shape)
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=(0, 1))
        return self.dx(dout * self.params["g"])

    def dx(self, dxhat):
        N, T, D = dxhat.shape
        d = dxhat.reshape(N, T, self.heads, D // self.heads)
        xh = self.xhat.reshape(d.shape)
        return ((d - xh * (d * xh).mean(axis=-1, keepdims=True)) / self.r).reshape(N, T, D)


@same_name
class HeadRMSNormA(HeadRMSNorm):
    def dx(self, dxhat):
        N, T, D = dxhat.shape
        xhat = self.xhat
        d = dxhat - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)
        return (d.reshape(N, T, self.heads, D // self.heads) / self.r).reshape(N, T, D)


# ---- convolution and pooling -----------------------------------------------------------------


class ShiftConv(mn.Layer):
    """A shift layer then a 1×1 convolution (Wu et al.): channel c is moved by
    offsets[c % 4] = (di, dj), di rows down and dj columns right, zeros filling in:
    s[:, c, i, j] = x[:, c, i - di, j - dj];  y = Σ_c W[c, f] s_c + b_f.  The adjoint of a
    shift is the shift back, by (-di, -dj).  x (N, C, H, W) -> (N, F, H, W);  W (C, F), b (F,)."""

    offsets = ((0, 1), (1, 0), (0, -1), (-1, 0))

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(c, f), b=(f,))

    @staticmethod
    def move(a, di, dj):
        """a (N, H, W) moved di rows down and dj columns right, zeros filling in."""
        out = np.zeros_like(a)
        H, W = a.shape[1:]
        out[:, max(di, 0):H + min(di, 0), max(dj, 0):W + min(dj, 0)] = \
            a[:, max(-di, 0):H + min(-di, 0), max(-dj, 0):W + min(-dj, 0)]
        return out

    def forward(self, x):
        self.s = np.stack([self.move(x[:, c], *self.offsets[c % 4]) for c in range(x.shape[1])],
                          axis=1)
        return np.einsum("nchw,cf->nfhw", self.s, self.params["W"]) + self.params["b"][:, None,
                                                                                       None]

    def backward(self, dout):
        self.grads["W"] = np.einsum("nchw,nfhw->cf", self.s, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        ds = np.einsum("nfhw,cf->nchw", dout, self.params["W"])
        return np.stack([self.unshift(ds[:, c], c) for c in range(ds.shape[1])], axis=1)

    def unshift(self, d, c):
        """The gradient at channel c of x from the one at the shifted channel."""
        di, dj = self.offsets[c % 4]
        return self.move(d, -di, -dj)


@same_name
class ShiftConvA(ShiftConv):
    def unshift(self, d, c):
        di, dj = self.offsets[c % 4]
        return self.move(d, di, dj)


class UntiedBiasConv(mn.Layer):
    """A 3×3 convolution, padding 1, with an untied bias: one bias per output channel and
    position, b (F, H, W), added to every sample;  db = Σ_n dout.  The loops go over the
    output positions.  x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3)."""

    def __init__(self, c, f, size=(4, 4), seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f, *size))

    def forward(self, x):
        N, C, H, W = x.shape
        self.xp = pad(x, 1)
        out = np.zeros((N, len(self.params["W"]), H, W))
        for i in range(H):
            for j in range(W):
                out[:, :, i, j] = np.einsum("nckl,fckl->nf", self.xp[:, :, i:i + 3, j:j + 3],
                                            self.params["W"])
        return out + self.params["b"]

    def backward(self, dout):
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]
                dW += np.einsum("nckl,nf->fckl", self.xp[:, :, i:i + 3, j:j + 3], g)
                dxp[:, :, i:i + 3, j:j + 3] += np.einsum("nf,fckl->nckl", g, self.params["W"])
        self.grads["W"] = dW
        self.grads["b"] = self.bias_grad(dout)
        return dxp[:, :, 1:-1, 1:-1]

    def bias_grad(self, dout):
        return dout.sum(axis=0)


@same_name
class UntiedBiasConvA(UntiedBiasConv):
    def bias_grad(self, dout):
        return dout.mean(axis=0)


class StochasticPool(mn.Layer):
    """Stochastic pooling (Zeiler & Fergus) over 2×2 windows, stride 2, the probabilities a
    softmax of the window's 4 entries.  Training: each window puts out the entry at an index
    drawn with those probabilities (the inverse CDF of u ~ U(0, 1) from the layer's own
    Generator), and its gradient goes to that drawn entry.  Eval: the probability-weighted
    mean y = Σ p x, dy/dx = p (1 + x - y).  x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def __init__(self, seed=0):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def windows(x):
        """(N, C, H, W) -> (N, C, H/2, W/2, 4), each window's entries row by row."""
        N, C, H, W = x.shape
        return (x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
                .reshape(N, C, H // 2, W // 2, 4))

    def unwindows(self, dwin):
        N, C, H, W = self.x_shape
        return (dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
                .reshape(N, C, H, W))

    def forward(self, x):
        self.x_shape = x.shape
        self.win = self.windows(x)
        self.p = softmax(self.win)
        if self.training:
            u = self.rng.random(self.win.shape[:-1])
            drawn = (self.p.cumsum(axis=-1) < u[..., None]).sum(axis=-1)
            self.pick = np.minimum(drawn, 3)
            return np.take_along_axis(self.win, self.pick[..., None], axis=-1)[..., 0]
        self.pick = None
        self.y = (self.p * self.win).sum(axis=-1)
        return self.y

    def backward(self, dout):
        if self.pick is None:
            dwin = dout[..., None] * self.p * (1 + self.win - self.y[..., None])
        else:
            dwin = self.route(dout)
        return self.unwindows(dwin)

    def route(self, dout):
        """Training's gradient: each window's dout to the entry forward put out."""
        dwin = np.zeros(self.win.shape)
        np.put_along_axis(dwin, self.pick[..., None], dout[..., None], axis=-1)
        return dwin


@same_name
class StochasticPoolA(StochasticPool):
    def route(self, dout):
        dwin = np.zeros(self.win.shape)
        pick = self.win.argmax(axis=-1)
        np.put_along_axis(dwin, pick[..., None], dout[..., None], axis=-1)
        return dwin


class PaddedMaxPool(mn.Layer):
    """Max pooling 2×2, stride 2, padding 1 filled with -inf (as torch pads):
    x (N, C, 4, 4) -> (N, C, 3, 3), the corner windows holding one real pixel, the edge ones
    two, the middle one four.  Each window's gradient goes to its largest real entry."""

    def forward(self, x):
        self.x = x
        self.xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
        Ho, Wo = x.shape[2] // 2 + 1, x.shape[3] // 2 + 1
        out = np.zeros((*x.shape[:2], Ho, Wo))
        for i in range(Ho):
            for j in range(Wo):
                out[:, :, i, j] = self.xp[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(2, 3))
        return out

    def backward(self, dout):
        xp = self.padded()
        dxp = np.zeros(xp.shape)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                win = xp[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                mask = win == win.max(axis=(2, 3), keepdims=True)
                dxp[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2] += mask * dout[:, :, i, j, None, None]
        return dxp[:, :, 1:-1, 1:-1]

    def padded(self):
        """The padded input forward took its maxima in."""
        return self.xp


@same_name
class PaddedMaxPoolA(PaddedMaxPool):
    def padded(self):
        return pad(self.x, 1)


# ---- losses ----------------------------------------------------------------------------------


class AdditiveMarginCE(mn.Loss):
    """Additive-margin softmax (CosFace) on the scores: the label's score lowered by m = 0.35,
    everything scaled by σ = 3: z = σ (s - m onehot), L = -mean log softmax(z)_y;
    dL/ds = σ (softmax(z) - onehot) / N.  scores (N, C), y (N,) labels -> float."""

    scale, margin = 3.0, 0.35

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.onehot = np.eye(scores.shape[1])[y]
        self.p = softmax(self.scale * (scores - self.margin * self.onehot))
        return float(-np.log(self.p[np.arange(len(y)), y]).mean())

    def backward(self):
        return self.scale * (self.probabilities() - self.onehot) / len(self.y)

    def probabilities(self):
        """softmax(z), the probabilities the loss took the log of."""
        return self.p


@same_name
class AdditiveMarginCEA(AdditiveMarginCE):
    def probabilities(self):
        return softmax(self.scale * self.s)


class LaplaceNLL(mn.Loss):
    """The negative log-likelihood of a Laplace distribution (without log 2), the network
    predicting a location and a log-scale: μ = s[:, 0], ℓ = s[:, 1] = log b;
    L = mean(|y - μ| e^(-ℓ) + ℓ).  dL/dμ = -sign(y - μ) e^(-ℓ) / N,
    dL/dℓ = (1 - |y - μ| e^(-ℓ)) / N.  scores (N, 2), y (N,) -> float."""

    def forward(self, scores, y):
        self.mu, self.logb, self.y = scores[:, 0], scores[:, 1], y
        self.r = y - self.mu
        return float((np.abs(self.r) * np.exp(-self.logb) + self.logb).mean())

    def backward(self):
        N = len(self.y)
        dmu = -np.sign(self.r) * np.exp(-self.logb) / N
        return np.stack([dmu, self.log_scale_grad() / N], axis=1)

    def log_scale_grad(self):
        """d/dℓ of |y - μ| e^(-ℓ) + ℓ."""
        return 1 - np.abs(self.r) * np.exp(-self.logb)


@same_name
class LaplaceNLLA(LaplaceNLL):
    def log_scale_grad(self):
        return -np.abs(self.r) * np.exp(-self.logb)


def reals(rng, n):
    return rng.standard_normal(n)


class WingLoss(mn.Loss):
    """Wing loss (Feng et al.) for regression, w = 1, ε = 0.5: per entry r = s - y,
    ℓ(r) = w log(1 + |r|/ε) where |r| < w, |r| - C elsewhere, C = w - w log(1 + w/ε);
    L = the mean over the N·K entries.  dℓ/dr = w sign(r) / (ε + |r|) inside,
    sign(r) outside.  scores (N, K), y (N, K) -> float."""

    w, eps = 1.0, 0.5

    def forward(self, scores, y):
        self.r = scores - y
        a = np.abs(self.r)
        C = self.w - self.w * np.log(1 + self.w / self.eps)
        return float(np.where(a < self.w, self.w * np.log(1 + a / self.eps), a - C).mean())

    def backward(self):
        inside = np.abs(self.r) < self.w
        return np.where(inside, self.log_slope(), np.sign(self.r)) / self.r.size

    def log_slope(self):
        """dℓ/dr of w log(1 + |r|/ε)."""
        return self.w * np.sign(self.r) / (self.eps + np.abs(self.r))


@same_name
class WingLossA(WingLoss):
    def log_slope(self):
        return self.w * np.sign(self.r) / (1 + np.abs(self.r) / self.eps)


def pairs(rng, n):
    """Two real targets per sample."""
    return 0.8 * rng.standard_normal((n, 2))


# ---- sequences -------------------------------------------------------------------------------


class ResetBiasGRU(mn.Layer):
    """torch.nn.GRU over T steps, h_0 = 0, blocks r, z, n of the packed weights:
    r = σ(x Wx_r + bx_r + h Wh_r + bh_r), z likewise, n = tanh(x Wx_n + bx_n + r ⊙ hn) with
    hn = h_{t-1} Wh_n + bh_n, h_t = (1 - z) n + z h_{t-1}.  r multiplies hn, its bias
    included, so dr = dan ⊙ hn (dan at n's pre-activation); backward recomputes hn from the
    cached h_{t-1}.  x (N, T, D) -> (N, T, H);  Wx (D, 3H), Wh (H, 3H), bx, bh (3H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 3 * h), Wh=(h, 3 * h), bx=(3 * h,), bh=(3 * h,))

    def forward(self, x):
        P, H = self.params, self.hidden
        N, T, _ = x.shape
        h = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            gx = x[:, t] @ P["Wx"] + P["bx"]
            gh = h @ P["Wh"] + P["bh"]
            r = sigmoid(gx[:, :H] + gh[:, :H])
            z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
            self.cache.append((h, r, z, n))
            h = (1 - z) * n + z * h
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            h, r, z, n = self.cache[t]
            dh = dout[:, t] + dh_next
            dan = dh * (1 - z) * (1 - n**2)
            dar = dan * self.hidden_part(h) * r * (1 - r)
            daz = dh * (h - n) * z * (1 - z)
            dgx = np.concatenate([dar, daz, dan], axis=1)
            dgh = np.concatenate([dar, daz, dan * r], axis=1)
            self.grads["Wx"] += self.x[:, t].T @ dgx
            self.grads["bx"] += dgx.sum(axis=0)
            self.grads["Wh"] += h.T @ dgh
            self.grads["bh"] += dgh.sum(axis=0)
            dx[:, t] = dgx @ P["Wx"].T
            dh_next = dh * z + dgh @ P["Wh"].T
        return dx

    def hidden_part(self, h):
        """hn = h_{t-1} Wh_n + bh_n, what r multiplied inside n."""
        H = self.hidden
        return h @ self.params["Wh"][:, 2 * H:] + self.params["bh"][2 * H:]


@same_name
class ResetBiasGRUA(ResetBiasGRU):
    def hidden_part(self, h):
        H = self.hidden
        return h @ self.params["Wh"][:, 2 * H:]


class ConcatLSTM(mn.Layer):
    """An LSTM on the concatenation z_t = [x_t, h_{t-1}], one weight per gate:
    i, f, o = σ(z Wi + bi), σ(z Wf + bf), σ(z Wo + bo), g = tanh(z Wg + bg),
    c_t = f c_{t-1} + i g, h_t = o tanh(c_t), h_0 = c_0 = 0.  self.cs[t + 1] keeps c_t
    (self.cs[0] = c_0);  do_t = dh_t ⊙ tanh(c_t).
    x (N, T, D) -> (N, T, H);  Wi, Wf, Wo, Wg (D + H, H), bi, bf, bo, bg (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        shapes = {f"W{k}": (d + h, h) for k in "ifog"} | {f"b{k}": (h,) for k in "ifog"}
        with_params(self, seed, **shapes)

    def forward(self, x):
        P, H = self.params, self.hidden
        N, T, _ = x.shape
        h = np.zeros((N, H))
        self.x, self.zs, self.acts, self.cs, hs = x, [], [], [np.zeros((N, H))], []
        for t in range(T):
            z = np.concatenate([x[:, t], h], axis=1)
            i, f, o = (sigmoid(z @ P["W" + k] + P["b" + k]) for k in "ifo")
            g = np.tanh(z @ P["Wg"] + P["bg"])
            c = f * self.cs[-1] + i * g
            h = o * np.tanh(c)
            self.zs.append(z)
            self.acts.append((i, f, o, g))
            self.cs.append(c)
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        D = self.x.shape[2]
        dx = np.zeros_like(self.x)
        dh_next = dc_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            i, f, o, g = self.acts[t]
            dh = dout[:, t] + dh_next
            tc = np.tanh(self.cs[t + 1])
            dc = dc_next + dh * o * (1 - tc**2)
            das = {"i": dc * g * i * (1 - i), "f": dc * self.cs[t] * f * (1 - f),
                   "o": self.output_gate_grad(dh, t) * o * (1 - o), "g": dc * i * (1 - g**2)}
            dz = 0
            for k, da in das.items():
                self.grads["W" + k] += self.zs[t].T @ da
                self.grads["b" + k] += da.sum(axis=0)
                dz = dz + da @ P["W" + k].T
            dx[:, t], dh_next = dz[:, :D], dz[:, D:]
            dc_next = dc * f
        return dx

    def output_gate_grad(self, dh, t):
        """dL/do at step t, from h_t = o tanh(c_t)."""
        return dh * np.tanh(self.cs[t + 1])


@same_name
class ConcatLSTMA(ConcatLSTM):
    def output_gate_grad(self, dh, t):
        return dh * np.tanh(self.cs[t])


class InputInitRNN(mn.Layer):
    """A tanh RNN whose initial state comes from the first input: h_0 = tanh(x_0 W0),
    h_t = tanh(x_t Wx + h_{t-1} Wh + b) for t = 0 .. T-1 (self.hs[t + 1] is h_t).  x_0 is
    used twice, for h_0 and at step 0, so dx_0 also gets (dh_0 ⊙ (1 - h_0²)) W0ᵀ.
    x (N, T, D) -> (N, T, H);  W0, Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W0=(d, h), Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        P = self.params
        self.x = x
        self.hs = [np.tanh(x[:, 0] @ P["W0"])]
        for t in range(x.shape[1]):
            self.hs.append(np.tanh(x[:, t] @ P["Wx"] + self.hs[-1] @ P["Wh"] + P["b"]))
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        dx, dh = np.zeros_like(self.x), np.zeros_like(self.hs[0])
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.hs[t + 1] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = da @ P["Wh"].T
        da0 = dh * (1 - self.hs[0] ** 2)
        self.grads["W0"] = self.x[:, 0].T @ da0
        return self.initial_state_back(dx, da0)

    def initial_state_back(self, dx, da0):
        """Adds the path x_0 -> h_0 to dx."""
        dx[:, 0] += da0 @ self.params["W0"].T
        return dx


@same_name
class InputInitRNNA(InputInitRNN):
    def initial_state_back(self, dx, da0):
        return dx


class StepDropoutRNN(mn.Layer):
    """A tanh RNN with dropout on the recurrent input and a fresh mask at every step (not the
    variational one mask): h̃_{t-1} = h_{t-1} ⊙ m_t, m_t ~ Bernoulli(1 - p) / (1 - p) from
    the layer's own Generator; h_t = tanh(x_t Wx + h̃_{t-1} Wh + b), h_0 = 0.  drop() leaves
    the step's mask in self.mask and forward appends it to self.masks; backward carries
    dh_{t-1} = (da_t Whᵀ) ⊙ m_t.  Eval: no dropout.  x (N, T, D) -> (N, T, H)."""

    def __init__(self, d, h, p=0.4, seed=0):
        super().__init__()
        self.hidden, self.p, self.rng = h, p, np.random.default_rng(seed)
        with_params(self, seed + 1, Wx=(d, h), Wh=(h, h), b=(h,))

    def drop(self, h):
        if self.training:
            self.mask = (self.rng.random(h.shape) >= self.p) / (1 - self.p)
        else:
            self.mask = np.ones(h.shape)
        return h * self.mask

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        self.x, self.hs, self.dropped, self.masks = x, [np.zeros((N, self.hidden))], [], []
        for t in range(T):
            hd = self.drop(self.hs[-1])
            self.masks.append(self.mask)
            self.dropped.append(hd)
            self.hs.append(np.tanh(x[:, t] @ P["Wx"] + hd @ P["Wh"] + P["b"]))
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh_next) * (1 - self.hs[t + 1] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.dropped[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh_next = (da @ P["Wh"].T) * self.step_mask(t)
        return dx

    def step_mask(self, t):
        """The mask step t multiplied h_{t-1} by."""
        return self.masks[t]


@same_name
class StepDropoutRNNA(StepDropoutRNN):
    def step_mask(self, t):
        return self.mask


# ---- attention -------------------------------------------------------------------------------


class RelativeKeyAttention(mn.Layer):
    """Self-attention with relative position keys (Shaw et al.), offsets clipped to ±K (K = 2):
    S_ij = q_i · (k_j + R[clip(j - i, -K, K) + K]) / √D, P = softmax(S), y = P V.  q_i meets
    both k_j and the offset's key R_ij, so dq_i = Σ_j dS_ij (k_j + R_ij) / √D, and dR adds up
    dS_ij q_i / √D per bucket.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), R (2K + 1, D)."""

    K = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), R=(2 * self.K + 1, d))

    def forward(self, x):
        T = x.shape[1]
        i, j = np.indices((T, T))
        self.bucket = np.clip(j - i, -self.K, self.K) + self.K
        self.rel = self.params["R"][self.bucket]  # (T, T, D)
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.transpose(0, 2, 1) + np.einsum("nid,ijd->nij", self.q, self.rel)
        self.p = softmax(s * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq = self.query_grad(ds)
        dk = ds.transpose(0, 2, 1) @ self.q
        dR = np.zeros_like(self.params["R"])
        np.add.at(dR, self.bucket, np.einsum("nij,nid->ijd", ds, self.q))
        self.grads["R"] = dR
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def query_grad(self, ds):
        """dL/dQ from dL/dS (the scale already in ds)."""
        return ds @ self.k + np.einsum("nij,ijd->nid", ds, self.rel)


@same_name
class RelativeKeyAttentionA(RelativeKeyAttention):
    def query_grad(self, ds):
        return ds @ self.k


class EluLinearAttention(mn.Layer):
    """Linear attention (Katharopoulos et al.), not causal: φ(a) = elu(a) + 1,
    Q̃ = φ(x Wq), K̃ = φ(x Wk), V = x Wv;  y_i = Q̃_i S / (Q̃_i · z) with S = K̃ᵀ V (D × D) and
    z = Σ_j K̃_j.  φ'(a) = 1 where a > 0, eᵃ = φ(a) elsewhere.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    @staticmethod
    def phi(a):
        return np.where(a > 0, a + 1, np.exp(np.minimum(a, 0)))

    def forward(self, x):
        P = self.params
        self.x = x
        self.aq, self.ak = x @ P["Wq"], x @ P["Wk"]
        self.fq, self.fk, self.v = self.phi(self.aq), self.phi(self.ak), x @ P["Wv"]
        self.S = self.fk.transpose(0, 2, 1) @ self.v  # (N, D, D)
        self.z = self.fk.sum(axis=1)  # (N, D)
        self.num = self.fq @ self.S
        self.den = np.einsum("ntd,nd->nt", self.fq, self.z)[:, :, None]
        return self.num / self.den

    def backward(self, dout):
        dnum = dout / self.den
        dden = -(dout * self.num).sum(axis=-1, keepdims=True) / self.den**2  # (N, T, 1)
        dfq = dnum @ self.S.transpose(0, 2, 1) + dden * self.z[:, None, :]
        dS = self.fq.transpose(0, 2, 1) @ dnum
        dz = (dden * self.fq).sum(axis=1)
        dfk = self.v @ dS.transpose(0, 2, 1) + dz[:, None, :]
        dv = self.fk @ dS
        dq = dfq * self.slope(self.aq, self.fq)
        dk = dfk * self.slope(self.ak, self.fk)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    @staticmethod
    def slope(a, phi):
        """φ'(a), read off φ(a) where a <= 0."""
        return np.where(a > 0, 1.0, phi)


@same_name
class EluLinearAttentionA(EluLinearAttention):
    @staticmethod
    def slope(a, phi):
        return phi


class QKNormAttention(mn.Layer):
    """Self-attention with QK-norm: queries and keys RMS-normalized over their features, with
    one learned gain g shared by both: q̂ = g ⊙ q / r(q), k̂ = g ⊙ k / r(k),
    r(a) = √(mean(a²) + eps);  S = q̂ k̂ᵀ / √D, P = softmax(S), y = P V.  g is used twice, so
    dg = Σ dq̂ ⊙ q / r(q) + Σ dk̂ ⊙ k / r(k).  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D),
    g (D,)."""

    eps = 1e-6

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.params["g"], self.grads["g"] = np.linspace(0.6, 1.4, d), np.zeros(d)

    def rms(self, a):
        """(a / r(a), r(a)), over the last axis."""
        r = np.sqrt((a**2).mean(axis=-1, keepdims=True) + self.eps)
        return a / r, r

    @staticmethod
    def rms_back(d, an, r):
        return (d - an * (d * an).mean(axis=-1, keepdims=True)) / r

    def forward(self, x):
        P = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.qn, self.rq = self.rms(x @ P["Wq"])
        self.kn, self.rk = self.rms(x @ P["Wk"])
        self.v = x @ P["Wv"]
        s = (P["g"] * self.qn) @ (P["g"] * self.kn).transpose(0, 2, 1)
        self.p = softmax(s * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        g = self.params["g"]
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dqh = ds @ (g * self.kn)  # dL/dq̂
        dkh = ds.transpose(0, 2, 1) @ (g * self.qn)  # dL/dk̂
        self.grads["g"] = self.gain_grad(dqh, dkh)
        dq = self.rms_back(dqh * g, self.qn, self.rq)
        dk = self.rms_back(dkh * g, self.kn, self.rk)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def gain_grad(self, dqh, dkh):
        return (dqh * self.qn).sum(axis=(0, 1)) + (dkh * self.kn).sum(axis=(0, 1))


@same_name
class QKNormAttentionA(QKNormAttention):
    def gain_grad(self, dqh, dkh):
        return (dqh * self.qn).sum(axis=(0, 1))


class Retention(mn.Layer):
    """Retention (RetNet), one head, the parallel form: A = (Q Kᵀ / √D) ⊙ Dγ with the causal
    decay Dγ[i, j] = γ^(i - j) for j <= i and 0 above the diagonal (γ = 0.8);  y = A V.
    dA = dout Vᵀ, dM = dA ⊙ Dγ, dQ = dM K / √D, dK = dMᵀ Q / √D, dV = Aᵀ dout.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    gamma = 0.8

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        i, j = np.indices((T, T))
        self.decay = np.where(j <= i, self.gamma ** (i - j).astype(float), 0.0)
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.a = self.q @ self.k.transpose(0, 2, 1) * self.scale * self.decay
        return self.a @ self.v

    def backward(self, dout):
        dv = self.a.transpose(0, 2, 1) @ dout
        dm = self.decayed(dout @ self.v.transpose(0, 2, 1)) * self.scale
        dq, dk = dm @ self.k, dm.transpose(0, 2, 1) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def decayed(self, da):
        """Back through A = M ⊙ Dγ."""
        return da * self.decay


@same_name
class RetentionA(Retention):
    def decayed(self, da):
        return da


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("rrelu", ACT, lambda: dense_net(RReLUA(seed=1301), seed=1301, scale=2.0),
         "backward gives every negative entry the mean slope (lower + upper)/2 of eval mode, "
         "where forward multiplied each by its own slope a drawn in training: dx must use the "
         "drawn self.a",
         "return self.a"),
    Case("rrelu-correct", ACT, lambda: dense_net(RReLU(seed=1302), seed=1302, scale=2.0),
         CORRECT),
    Case("pelu", ACT, lambda: dense_net(PELUA(5), seed=1303, scale=2.0),
         "b divides the positive branch (a/b) x too, but db keeps only the negative branch's "
         "term: -a x / b² where x >= 0 is missing (da and dx are right)",
         "return np.where(x >= 0, -a * x / b**2, -a * x * self.e / b**2)"),
    Case("learned-softshrink", ACT, lambda: dense_net(LearnedSoftShrinkA(5), seed=1304,
                                                      scale=2.0),
         "dλ forgets sign(x): y = sign(x)(|x| - λ) moves down with λ above +λ but up below -λ, "
         "so the entries below -λ add their dout with the wrong sign (dx is right)",
         "return -(dout * np.sign(self.x) * alive).sum(axis=0)"),
    Case("smooth-clip", ACT, lambda: dense_net(SmoothClipA(), seed=1305, scale=2.0),
         "backward recomputes u = (x + 1)/2 without forward's clip to [0, 1]: outside "
         "-1 < x < 1, where y is flat, the slope 6u(1 - u) is not 0 (it is negative)",
         "return np.clip((x + 1) / 2, 0, 1)"),
    Case("lora-dense", DENSE, lambda: dense_net(LoRADenseA(5, 5, seed=1306), seed=1306),
         "dA leaves out the LoRA scale s = α/r = 2 that multiplies the low-rank path: "
         "dA = s xᵀ (dout Bᵀ); dx keeps s and dB has it, so only dA is half of what it should be",
         "dxa = self.s * dout @ P['B'].T; ...; return dout @ P['W'].T + dxa @ P['A'].T"),
    Case("noisy-linear", DENSE, lambda: dense_net(NoisyLinearA(5, 5, seed=1307), seed=1307),
         "dσ_W is xᵀ dout, the gradient of the noisy W, without the factor ε_W that σ_W was "
         "multiplied by (dμ_W, dμ_b, dσ_b and dx are right)",
         "return dW * self.eps_W"),
    Case("batch-ensemble", DENSE,
         lambda: dense_net(BatchEnsembleDenseA(5, 5, seed=1308), seed=1308),
         "dW pairs g with the raw x where W multiplied the member's scaled input x ⊙ r: the "
         "fast weight r is missing from dW (dr, ds, db and dx are right)",
         "return self.xr.T @ g"),
    Case("householder", DENSE, lambda: dense_net(HouseholderA(5, seed=1309), seed=1309),
         "u is used twice, in x·u and as the direction, but du keeps only the direction's term "
         "Σ (x·u) dout: the projection's term Σ (dout·u) x is missing, so dv is wrong (dx is "
         "right)",
         "return -2 * (self.proj @ dout + dproj @ self.x)"),
    Case("ghost-batchnorm", NORM, lambda: dense_net(GhostBatchNormA(5), seed=1310),
         "backward's means run over the whole batch of 6 where forward standardized each ghost "
         "batch of 3 over its own rows: the means must be taken within each ghost batch "
         "(dgamma and dbeta are right)",
         "loop over the ghost batches: (d - d.mean(axis=0) - xh * (d * xh).mean(axis=0)) / std"),
    Case("centered-l2norm", NORM, lambda: dense_net(CenteredL2NormA(5), seed=1311),
         "the centering u = x - mean(x) is not undone in backward: dx is du, where the mean "
         "subtraction's backward gives du - mean(du) over the features (dg is right)",
         "return du - du.mean(axis=1, keepdims=True)"),
    Case("head-rmsnorm", NORM, lambda: sequence_net(HeadRMSNormA(4), seed=1312),
         "the correction term's mean of dx̂ ⊙ x̂ runs over all D = 4 features where each head's "
         "r was taken over its own 2: the mean must be per head (dg is right)",
         "d = dxhat.reshape(N, T, h, D // h); (d - xh * (d * xh).mean(axis=-1, keepdims=True)) "
         "/ self.r"),
    Case("shift-conv", CONV, lambda: image_net(ShiftConvA(3, 2, seed=1313), seed=1313),
         "dx shifts each channel's gradient by the same (di, dj) as forward, where the adjoint "
         "of a shift is the shift back by (-di, -dj): every gradient lands two pixels from its "
         "input (dW and db are right)",
         "return self.move(d, -di, -dj)"),
    Case("untied-bias-conv", CONV,
         lambda: image_net(UntiedBiasConvA(3, 2, seed=1314), seed=1314),
         "db averages dout over the batch where the bias is added to every sample: db is the "
         "sum over the N = 4 samples, 4 times the mean (dW and dx are right)",
         "return dout.sum(axis=0)"),
    Case("stochastic-pool", POOL, lambda: image_net(StochasticPoolA(seed=1315), seed=1315),
         "the gradient goes to each window's largest entry, as in max pooling, where forward put "
         "out the entry drawn from the softmax probabilities: it must go to self.pick",
         "np.put_along_axis(dwin, self.pick[..., None], dout[..., None], axis=-1)"),
    Case("padded-maxpool", POOL, lambda: image_net(PaddedMaxPoolA(), seed=1316),
         "backward rebuilds the padded input with zeros (pad) where forward padded with -inf: in "
         "a border window whose real pixels are all negative the padding wins the mask, and "
         "the real maximum gets no gradient",
         "return self.xp"),
    Case("am-softmax", LOSS, lambda: loss_net(AdditiveMarginCEA(), labels, seed=1317),
         "backward recomputes the probabilities as softmax(σ s), without the margin m that "
         "forward took off the label's score: dL/ds = σ (softmax(σ (s - m onehot)) - onehot) / N",
         "return self.p"),
    Case("laplace-nll", LOSS, lambda: loss_net(LaplaceNLLA(), reals, width=2, seed=1318),
         "dL/dℓ drops the 1 from the + ℓ term of the loss: d/dℓ (|y - μ| e^(-ℓ) + ℓ) = "
         "1 - |y - μ| e^(-ℓ) (dμ is right)",
         "return 1 - np.abs(self.r) * np.exp(-self.logb)"),
    Case("wing-loss", LOSS, lambda: loss_net(WingLossA(), pairs, width=2, seed=1319),
         "inside |r| < w the slope of w log(1 + |r|/ε) is w sign(r)/(ε + |r|); backward writes "
         "w sign(r)/(1 + |r|/ε), the log's outer derivative without the inner 1/ε, ε = 0.5 "
         "times the slope (the linear zone is right)",
         "return self.w * np.sign(self.r) / (self.eps + np.abs(self.r))"),
    Case("gru-reset-bias", SEQ, lambda: sequence_net(ResetBiasGRUA(4, 3, seed=1320), seed=1320),
         "dr is taken with h_{t-1} Wh_n alone, where r multiplied hn = h_{t-1} Wh_n + bh_n with "
         "its bias: the recomputed hidden part forgets bh_n (the z and n paths are right)",
         "return h @ self.params['Wh'][:, 2 * H:] + self.params['bh'][2 * H:]"),
    Case("concat-lstm-output-gate", SEQ,
         lambda: sequence_net(ConcatLSTMA(4, 3, seed=1321), seed=1321),
         "do pairs dh_t with tanh(c_{t-1}), self.cs[t], one step early: h_t = o tanh(c_t) needs "
         "self.cs[t + 1] (the cell and the other gates are right)",
         "return dh * np.tanh(self.cs[t + 1])"),
    Case("input-init-rnn", SEQ, lambda: sequence_net(InputInitRNNA(4, 3, seed=1322), seed=1322),
         "x_0 is used twice, for h_0 = tanh(x_0 W0) and at step 0, but dx_0 keeps only step 0's "
         "da Wxᵀ: the initial state's term (dh_0 ⊙ (1 - h_0²)) W0ᵀ is missing (dW0 is right)",
         "dx[:, 0] += da0 @ self.params['W0'].T"),
    Case("step-dropout-rnn", SEQ,
         lambda: sequence_net(StepDropoutRNNA(4, 3, seed=1323), seed=1323),
         "the carried gradient is masked with self.mask, the last step's mask left by drop(), "
         "at every step, where step t dropped h_{t-1} with its own m_t = self.masks[t] (dWh is "
         "right)",
         "return self.masks[t]"),
    Case("step-dropout-rnn-correct", SEQ,
         lambda: sequence_net(StepDropoutRNN(4, 3, seed=1324), seed=1324), CORRECT),
    Case("relative-key-attention", ATTN,
         lambda: sequence_net(RelativeKeyAttentionA(4, seed=1325), seed=1325),
         "q_i meets both k_j and the relative key R_ij, but dQ keeps only dS K: the term "
         "Σ_j dS_ij R_ij through the relative keys is missing (dR, dK and dV are right)",
         "return ds @ self.k + np.einsum('nij,ijd->nid', ds, self.rel)"),
    Case("elu-linear-attention", ATTN,
         lambda: sequence_net(EluLinearAttentionA(4, seed=1326), seed=1326),
         "the feature map's slope is read off its output φ(a) everywhere: that is eᵃ where "
         "a <= 0, but for a > 0 φ = a + 1 while the slope is 1 (dV is right)",
         "return np.where(a > 0, 1.0, phi)"),
    Case("qk-norm-attention", ATTN,
         lambda: sequence_net(QKNormAttentionA(4, seed=1327), seed=1327),
         "the gain g is shared by the queries' and the keys' norm, but dg keeps only the "
         "queries' term Σ dq̂ ⊙ q/r(q): the keys' Σ dk̂ ⊙ k/r(k) is missing (dx and the weights "
         "are right)",
         "return (dqh * self.qn).sum(axis=(0, 1)) + (dkh * self.kn).sum(axis=(0, 1))"),
    Case("qk-norm-attention-correct", ATTN,
         lambda: sequence_net(QKNormAttention(4, seed=1328), seed=1328), CORRECT),
    Case("retention", ATTN, lambda: sequence_net(RetentionA(4, seed=1329), seed=1329),
         "the decay mask Dγ is not applied to dA on the way back: the future positions j > i, "
         "which forward zeroed, get gradient, and the past ones miss the factor γ^(i - j) "
         "(dV is right)",
         "return da * self.decay"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
