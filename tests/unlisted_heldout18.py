"""The eighteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. This set leans towards slips in the code's structure
(indexing, loops, slicing, reshapes, caching, broadcasting, numpy's own conventions) rather
than in the derivative's formula.
"""

from __future__ import annotations

import numpy as np
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
    with_params,
    zero_grads,
)

import minnet as mn

# ---- activations -----------------------------------------------------------------------------


class BReLU(mn.Layer):
    """The bipolar ReLU (Eidnes and Nøkland): the even features go through max(x, 0), the odd
    ones through min(x, 0), so that half the units fire on negative input.  dy/dx = 1 where the
    feature's piece is the identity (x > 0 on the even features, x < 0 on the odd ones), 0
    elsewhere.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        y = np.maximum(x, 0)
        y[:, 1::2] = np.minimum(x[:, 1::2], 0)
        return y

    def backward(self, dout):
        slope = np.zeros_like(self.x)
        slope[:, ::2] = self.x[:, ::2] > 0
        slope[:, 1::2] = self.x[:, 1::2] < 0
        return dout * slope


@same_name
class BReLUA(BReLU):
    def backward(self, dout):
        slope = np.zeros_like(self.x)
        slope[:, ::2] = self.x[:, ::2] > 0
        slope[:, 1::2] = self.x[:, 1:2] < 0
        return dout * slope


class SQNL(mn.Layer):
    """The square nonlinearity SQNL (Wuraola and Patel): y = x - x²/4 on [0, 2], x + x²/4 on
    [-2, 0), and ±1 beyond ±2, written as c - c|c|/4 with c = clip(x, -2, 2).
    dy/dx = 1 - |x|/2 where |x| <= 2, 0 outside.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        c = np.clip(x, -2, 2)
        return c - c * np.abs(c) / 4

    def backward(self, dout):
        a = np.abs(self.x)
        return dout * (a <= 2) * (1 - a / 2)


@same_name
class SQNLA(SQNL):
    def backward(self, dout):
        a = np.abs(self.x)
        return dout * (a <= 2) * (1 - a // 2)


class SReLU(mn.Layer):
    """The S-shaped ReLU (Jin et al.), its thresholds and outer slopes as training left them:
    y = t_l + a_l (x - t_l) for x <= t_l, x between the thresholds, t_r + a_r (x - t_r) for
    x >= t_r, with t_l = -1, a_l = 0.1, t_r = 1, a_r = 0.5.  Backward picks each entry's slope
    with np.select, where the first condition that holds wins, as in if/elif.  x, y: (N, D)."""

    tl, al, tr, ar = -1.0, 0.1, 1.0, 0.5

    def forward(self, x):
        self.x = x
        return np.select([x >= self.tr, x <= self.tl],
                         [self.tr + self.ar * (x - self.tr), self.tl + self.al * (x - self.tl)],
                         x)

    def backward(self, dout):
        x = self.x
        return dout * np.select([x <= self.tl, x < self.tr, x >= self.tr],
                                [self.al, 1.0, self.ar])


@same_name
class SReLUA(SReLU):
    def backward(self, dout):
        x = self.x
        return dout * np.piecewise(x, [x <= self.tl, x < self.tr, x >= self.tr],
                                   [self.al, 1.0, self.ar])


class SmoothReLU(mn.Layer):
    """A ReLU whose corner is rounded off by a parabola (a Huberized ReLU of width δ = 1):
    y = 0 for x <= 0, x²/(2δ) for 0 < x < δ, x - δ/2 for x >= δ.  The slope, 0, x/δ or 1, is
    written for one number, case by case as on paper, and applied to the array with
    np.vectorize(..., otypes=[float]).  x, y: (N, D)."""

    delta = 1.0

    def forward(self, x):
        self.x = x
        d = self.delta
        return np.where(x <= 0, 0.0, np.where(x < d, x**2 / (2 * d), x - d / 2))

    def slope_at(self, v):
        """dy/dx at one number v."""
        if v <= 0:
            return 0
        if v < self.delta:
            return v / self.delta
        return 1

    def backward(self, dout):
        return dout * np.vectorize(self.slope_at, otypes=[float])(self.x)


@same_name
class SmoothReLUA(SmoothReLU):
    def backward(self, dout):
        return dout * np.vectorize(self.slope_at)(self.x)


# ---- dense-like ------------------------------------------------------------------------------


class KroneckerDense(mn.Layer):
    """A dense layer whose weight is the Kronecker product A ⊗ B, applied without forming it:
    each sample's input, a·b features, is viewed as a matrix X (a, b), Y = Aᵀ X B (i, j) is
    flattened and a bias c added.  With dY the gradient viewed as (N, i, j):
    dA = Σ_n X_n B dY_nᵀ, dB = Σ_n X_nᵀ A dY_n and dX_n = A dY_n Bᵀ, each one np.einsum with
    its output named after '->'.  x (N, a·b) -> (N, i·j);  A (a, i), B (b, j), c (i·j,)."""

    def __init__(self, a, b, i, j, seed=0):
        super().__init__()
        self.shape_in = (a, b)
        with_params(self, seed, A=(a, i), B=(b, j), c=(i * j,))

    def forward(self, x):
        A, B = self.params["A"], self.params["B"]
        self.X = x.reshape(len(x), *self.shape_in)
        Y = np.einsum("nab,ai,bj->nij", self.X, A, B)
        return Y.reshape(len(x), -1) + self.params["c"]

    def backward(self, dout):
        A, B, X = self.params["A"], self.params["B"], self.X
        dY = dout.reshape(len(dout), A.shape[1], B.shape[1])
        self.grads["A"] = np.einsum("nab,bj,nij->ai", X, B, dY)
        self.grads["B"] = np.einsum("nab,ai,nij->bj", X, A, dY)
        self.grads["c"] = dout.sum(axis=0)
        return self.dX(dY).reshape(len(dout), -1)

    def dX(self, dY):
        """dX, (N, a, b)."""
        return np.einsum("nij,ai,bj->nab", dY, self.params["A"], self.params["B"])


@same_name
class KroneckerDenseA(KroneckerDense):
    def dX(self, dY):
        return np.einsum("nij,ai,bj", dY, self.params["A"], self.params["B"])


class HollowDense(mn.Layer):
    """A square dense layer without self-connections in W, each feature's own connection being a
    separate gain s: y = x (W ⊙ (1 - I)) + x ⊙ s + b.  W's diagonal is not used, so its
    gradient is 0 there: with G = xᵀ dout, dW = G with its diagonal zeroed,
    G - np.diag(np.diag(G)); ds = Σ_n x ⊙ dout, db = Σ_n dout and
    dx = dout (W ⊙ (1 - I))ᵀ + dout ⊙ s.  x (N, D) -> (N, D);  W (D, D), s (D,), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), s=(d,), b=(d,))

    def forward(self, x):
        P = self.params
        self.x = x
        self.Wo = P["W"] - np.diag(np.diag(P["W"]))
        return x @ self.Wo + x * P["s"] + P["b"]

    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["W"] = G - np.diag(np.diag(G))
        self.grads["s"] = (self.x * dout).sum(axis=0)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.Wo.T + dout * self.params["s"]


@same_name
class HollowDenseA(HollowDense):
    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["W"] = G - np.diag(G)
        self.grads["s"] = (self.x * dout).sum(axis=0)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.Wo.T + dout * self.params["s"]


class CosineDense(mn.Layer):
    """Cosine-similarity units, as in a cosine classifier: y_f = σ cos(x, w_f) = σ u · v_f with
    a fixed scale σ = 4, the input's direction u = x/‖x‖ and each column's v_f = w_f/‖w_f‖.
    Backward loops over the output units: unit f adds σ dout_f v_f to du and fills column f of
    dW, (g - v_f (v_f · g)) / ‖w_f‖ with g = σ Σ_n dout_nf u_n; after the loop,
    dx = (du - u (du · u)) / ‖x‖.  x (N, D) -> (N, F);  W (D, F)."""

    scale = 4.0

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f))

    def forward(self, x):
        W = self.params["W"]
        self.r = np.linalg.norm(x, axis=1, keepdims=True)
        self.u = x / self.r
        self.wn = np.linalg.norm(W, axis=0)
        self.v = W / self.wn
        return self.scale * self.u @ self.v

    def backward(self, dout):
        du = np.zeros_like(self.u)
        self.grads["W"] = np.zeros_like(self.params["W"])
        for f in range(self.v.shape[1]):
            v = self.v[:, f]
            g = self.scale * dout[:, f]
            du += g[:, None] * v
            dv = g @ self.u
            self.grads["W"][:, f] = (dv - v * (v @ dv)) / self.wn[f]
        return (du - self.u * (du * self.u).sum(axis=1, keepdims=True)) / self.r


@same_name
class CosineDenseA(CosineDense):
    def backward(self, dout):
        du = np.zeros_like(self.u)
        self.grads["W"] = np.zeros_like(self.params["W"])
        for f in range(self.v.shape[1]):
            v = self.v[:, f]
            g = self.scale * dout[:, f]
            du += g[:, None] * v
            dv = g @ self.u
            self.grads["W"][:, f] = (dv - v * (v @ dv)) / self.wn[f]
            return (du - self.u * (du * self.u).sum(axis=1, keepdims=True)) / self.r


# ---- normalization ---------------------------------------------------------------------------


class GRN(mn.Layer):
    """ConvNeXt V2's global response normalization, with its residual: each channel's L2 norm
    over the pixels, G (N, C), is divided by its sample's mean over the channels,
    Nx = G / (M + ε) with M = mean_c G, and y = γ x Nx + β + x.  Back through Nx, with
    dNx = Σ_pixels dout γ x (N, C): dM = -Σ_c dNx G / (M + ε)², one number per sample,
    dG = dNx / (M + ε) + dM / C, and dx gets dG x / G besides dout (1 + γ Nx).
    x, y: (N, C, H, W);  gamma, beta (C,)."""

    eps = 1e-6

    def __init__(self, c):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, c), "beta": np.linspace(-0.2, 0.2, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    def forward(self, x):
        self.x = x
        self.G = np.sqrt((x**2).sum(axis=(2, 3)))
        self.M = self.G.mean(axis=1, keepdims=True)
        self.nx = self.G / (self.M + self.eps)
        gamma, beta = self.params["gamma"][:, None, None], self.params["beta"][:, None, None]
        return gamma * x * self.nx[:, :, None, None] + beta + x

    def backward(self, dout):
        x, G, m = self.x, self.G, self.M + self.eps
        gamma = self.params["gamma"][:, None, None]
        self.grads["gamma"] = (dout * x * self.nx[:, :, None, None]).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        dnx = (dout * gamma * x).sum(axis=(2, 3))
        dM = -(dnx * G).sum(axis=1, keepdims=True) / m**2
        dG = dnx / m + dM / G.shape[1]
        return dout + gamma * self.nx[:, :, None, None] * dout + (dG / G)[:, :, None, None] * x


@same_name
class GRNA(GRN):
    def backward(self, dout):
        x, G, m = self.x, self.G, self.M + self.eps
        gamma = self.params["gamma"][:, None, None]
        self.grads["gamma"] = (dout * x * self.nx[:, :, None, None]).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        dnx = (dout * gamma * x).sum(axis=(2, 3))
        dM = -sum(dnx * G) / m**2
        dG = dnx / m + dM / G.shape[1]
        return dout + gamma * self.nx[:, :, None, None] * dout + (dG / G)[:, :, None, None] * x


class SubsetBatchNorm(mn.Layer):
    """Batch norm whose statistics come from some of the samples only (the labelled ones, say),
    chosen when built by a flag per sample, and are applied to all: μ and σ² over the M flagged
    rows, x̂ = (x - μ)/σ and y = γ x̂ + β for every row.  Every row's x̂ reads μ and σ, so the
    sums S1 = Σ_n dx̂_n and S2 = Σ_n dx̂_n x̂_n run over all N rows; dx_n = dx̂_n/σ, and a
    flagged row also gets -(S1 + x̂_n S2)/(M σ), in a loop over the samples that skips the
    others.  x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d, keep):
        super().__init__()
        self.keep = np.asarray(keep, dtype=bool)
        self.params = {"gamma": np.linspace(0.6, 1.4, d), "beta": np.linspace(-0.3, 0.3, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        sub = x[self.keep]
        self.std = np.sqrt(sub.var(axis=0) + self.eps)
        self.xhat = (x - sub.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxh = dout * self.params["gamma"]
        s1, s2, m = dxh.sum(axis=0), (dxh * self.xhat).sum(axis=0), self.keep.sum()
        dx = dxh / self.std
        for n in range(len(dx)):
            if not self.keep[n]:
                continue
            dx[n] -= (s1 + self.xhat[n] * s2) / (m * self.std)
        return dx


@same_name
class SubsetBatchNormA(SubsetBatchNorm):
    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxh = dout * self.params["gamma"]
        s1, s2, m = dxh.sum(axis=0), (dxh * self.xhat).sum(axis=0), self.keep.sum()
        dx = dxh / self.std
        for n in range(len(dx)):
            if not self.keep[n]:
                break
            dx[n] -= (s1 + self.xhat[n] * s2) / (m * self.std)
        return dx


class GroupRMSNorm(mn.Layer):
    """RMSNorm over groups of features of unequal sizes, 2 and 3 of D = 5, each group divided by
    its own root mean square: r_g = √(mean_g x² + ε), y = g ⊙ x / r.  The groups' sums are taken
    with np.add.reduceat at the groups' first columns, self.starts = (0, 2), and spread back
    over their columns with np.repeat(..., self.sizes, axis=1).  With dx̂ = dout ⊙ g:
    dx = (dx̂ - x̂ mean_group(dx̂ ⊙ x̂)) / r.  x, y: (N, 5);  g (5,)."""

    eps = 1e-5
    sizes = np.array([2, 3])
    starts = np.array([0, 2])

    def __init__(self):
        super().__init__()
        self.params = {"g": np.linspace(0.5, 1.5, 5)}
        self.grads = {"g": np.zeros(5)}

    def forward(self, x):
        ms = np.add.reduceat(x**2, self.starts, axis=1) / self.sizes
        self.r = np.repeat(np.sqrt(ms + self.eps), self.sizes, axis=1)
        self.xhat = x / self.r
        return self.params["g"] * self.xhat

    def backward(self, dout):
        dxh = dout * self.params["g"]
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        m = np.add.reduceat(dxh * self.xhat, self.starts, axis=1) / self.sizes
        return (dxh - self.xhat * np.repeat(m, self.sizes, axis=1)) / self.r


@same_name
class GroupRMSNormA(GroupRMSNorm):
    def backward(self, dout):
        dxh = dout * self.params["g"]
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        m = np.add.reduceat(dxh * self.xhat, self.sizes, axis=1) / self.sizes
        return (dxh - self.xhat * np.repeat(m, self.sizes, axis=1)) / self.r


# ---- convolution and pooling -----------------------------------------------------------------


class GatedConv(mn.Layer):
    """A gated convolution (gated PixelCNN, free-form inpainting): two 3×3 convolutions of the
    same input, stride 1, padding 1, one for the features and one for the gate:
    y = (x ∗ Wa + ba) ⊙ σ(x ∗ Wg + bg).  Backward visits every output pixel (i, j), nested
    loops over the rows and the columns, and adds its window's terms to dWa, dWg and dx.
    x (N, C, H, W) -> (N, F, H, W);  Wa, Wg (F, C, 3, 3), ba, bg (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, Wa=(f, c, 3, 3), Wg=(f, c, 3, 3), ba=(f,), bg=(f,))

    def conv(self, W, b):
        N, _, Hp, Wp = self.xp.shape
        out = np.zeros((N, len(b), Hp - 2, Wp - 2))
        for i, j in np.ndindex(Hp - 2, Wp - 2):
            out[:, :, i, j] = np.einsum("nckl,fckl->nf", self.xp[:, :, i:i + 3, j:j + 3], W)
        return out + b[:, None, None]

    def forward(self, x):
        P = self.params
        self.xp = pad(x, 1)
        self.a = self.conv(P["Wa"], P["ba"])
        self.s = sigmoid(self.conv(P["Wg"], P["bg"]))
        return self.a * self.s

    def backward(self, dout):
        P = self.params
        da = dout * self.s
        dg = dout * self.a * self.s * (1 - self.s)
        dxp = np.zeros_like(self.xp)
        dWa, dWg = np.zeros_like(P["Wa"]), np.zeros_like(P["Wg"])
        H, W = dout.shape[2:]
        for i in range(H):
            for j in range(W):
                win = self.xp[:, :, i:i + 3, j:j + 3]
                ga, gg = da[:, :, i, j], dg[:, :, i, j]
                dWa += np.einsum("nf,nckl->fckl", ga, win)
                dWg += np.einsum("nf,nckl->fckl", gg, win)
                dxp[:, :, i:i + 3, j:j + 3] += (np.einsum("nf,fckl->nckl", ga, P["Wa"])
                                                + np.einsum("nf,fckl->nckl", gg, P["Wg"]))
        self.grads["Wa"], self.grads["Wg"] = dWa, dWg
        self.grads["ba"], self.grads["bg"] = da.sum(axis=(0, 2, 3)), dg.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]


@same_name
class GatedConvA(GatedConv):
    def backward(self, dout):
        P = self.params
        da = dout * self.s
        dg = dout * self.a * self.s * (1 - self.s)
        dxp = np.zeros_like(self.xp)
        dWa, dWg = np.zeros_like(P["Wa"]), np.zeros_like(P["Wg"])
        H, W = dout.shape[2:]
        for i, j in zip(range(H), range(W)):
            win = self.xp[:, :, i:i + 3, j:j + 3]
            ga, gg = da[:, :, i, j], dg[:, :, i, j]
            dWa += np.einsum("nf,nckl->fckl", ga, win)
            dWg += np.einsum("nf,nckl->fckl", gg, win)
            dxp[:, :, i:i + 3, j:j + 3] += (np.einsum("nf,fckl->nckl", ga, P["Wa"])
                                            + np.einsum("nf,fckl->nckl", gg, P["Wg"]))
        self.grads["Wa"], self.grads["Wg"] = dWa, dWg
        self.grads["ba"], self.grads["bg"] = da.sum(axis=(0, 2, 3)), dg.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]


class FactorizedConv(mn.Layer):
    """A 3×1 convolution, the vertical half of a factorized 3×3 one (Inception v3): stride 1,
    padding 1 on the rows and none on the columns.  dW tap by tap; dx by spreading each output
    pixel's gradient back over its 3×1 window, times W.
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 1), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 1), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        _, _, kh, kw = W.shape
        self.xp = np.pad(x, ((0, 0), (0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
        N, _, H, Wd = x.shape
        out = np.zeros((N, len(W), H, Wd))
        for i, j in np.ndindex(H, Wd):
            out[:, :, i, j] = np.einsum("nckl,fckl->nf", self.xp[:, :, i:i + kh, j:j + kw], W)
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        _, _, kh, kw = W.shape
        H, Wd = dout.shape[2:]
        dW = np.zeros_like(W)
        for a, c in np.ndindex(kh, kw):
            dW[:, :, a, c] = np.einsum("nfhw,nchw->fc", dout, self.xp[:, :, a:a + H, c:c + Wd])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        dxp = self.spread(dout)
        return dxp[:, :, kh // 2:kh // 2 + H, kw // 2:kw // 2 + Wd]

    def spread(self, dout):
        """dL/dxp: each output pixel's gradient (N, F) sent back over its window."""
        W = self.params["W"]
        _, _, kh, kw = W.shape
        dxp = np.zeros_like(self.xp)
        for i, j in np.ndindex(*dout.shape[2:]):
            dxp[:, :, i:i + kh, j:j + kw] += np.einsum("nf,fckl->nckl", dout[:, :, i, j], W)
        return dxp


@same_name
class FactorizedConvA(FactorizedConv):
    def spread(self, dout):
        W = self.params["W"]
        _, _, k, _ = W.shape
        dxp = np.zeros_like(self.xp)
        for i, j in np.ndindex(*dout.shape[2:]):
            dxp[:, :, i:i + k, j:j + k] += np.einsum("nf,fckl->nckl", dout[:, :, i, j], W)
        return dxp


class ShiftConv(mn.Layer):
    """A convolution written as a sum over its taps, one shifted copy of the input per tap (as
    fast implementations do): y = Σ_(di, dj) W[:, :, di, dj] · xp[:, :, di:di+H, dj:dj+W] + b,
    stride 1, padding 1; the bias is added once, after the taps.  Backward goes over the taps
    the same way.  x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        W, k = self.params["W"], self.params["W"].shape[2]
        self.xp = pad(x, k // 2)
        N, _, H, Wd = x.shape
        out = np.zeros((N, len(W), H, Wd))
        for di in range(k):
            for dj in range(k):
                out += np.einsum("fc,nchw->nfhw", W[:, :, di, dj],
                                 self.xp[:, :, di:di + H, dj:dj + Wd])
        out += self.params["b"][:, None, None]
        return out

    def backward(self, dout):
        W, k = self.params["W"], self.params["W"].shape[2]
        H, Wd = dout.shape[2:]
        dW, dxp = np.zeros_like(W), np.zeros_like(self.xp)
        for di, dj in np.ndindex(k, k):
            dW[:, :, di, dj] = np.einsum("nfhw,nchw->fc", dout,
                                         self.xp[:, :, di:di + H, dj:dj + Wd])
            dxp[:, :, di:di + H, dj:dj + Wd] += np.einsum("fc,nfhw->nchw", W[:, :, di, dj], dout)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        p = k // 2
        return dxp[:, :, p:p + H, p:p + Wd]


@same_name
class ShiftConvA(ShiftConv):
    def forward(self, x):
        W, k = self.params["W"], self.params["W"].shape[2]
        self.xp = pad(x, k // 2)
        N, _, H, Wd = x.shape
        out = np.zeros((N, len(W), H, Wd))
        for di in range(k):
            for dj in range(k):
                out += np.einsum("fc,nchw->nfhw", W[:, :, di, dj],
                                 self.xp[:, :, di:di + H, dj:dj + Wd])
                out += self.params["b"][:, None, None]
        return out


class BoxSum(mn.Layer):
    """3×3 sum pooling at stride 1 that keeps the image's size: output (i, j) adds up the pixels
    of rows i - 1 to i + 1 and columns j - 1 to j + 1 that lie inside the image (the border
    windows are cut short, not padded).  Both directions slice
    [max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].  x, y: (N, C, H, W)."""

    def forward(self, x):
        self.shape = x.shape
        out = np.zeros(x.shape)
        for i, j in np.ndindex(*x.shape[2:]):
            out[:, :, i, j] = x[:, :, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2].sum(axis=(2, 3))
        return out

    def backward(self, dout):
        dx = np.zeros(self.shape)
        for i, j in np.ndindex(*dout.shape[2:]):
            dx[:, :, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] += dout[:, :, i, j, None, None]
        return dx


@same_name
class BoxSumA(BoxSum):
    def backward(self, dout):
        dx = np.zeros(self.shape)
        for i, j in np.ndindex(*dout.shape[2:]):
            dx[:, :, i - 1:i + 2, j - 1:j + 2] += dout[:, :, i, j, None, None]
        return dx


# ---- losses ----------------------------------------------------------------------------------


class BatchHardTriplet(mn.Loss):
    """The batch-hard triplet loss (Hermans et al.) on embeddings s (N, E), with the squared
    distances D_ij = ‖s_i - s_j‖²: for each anchor i its hardest positive p = argmax D_ij over
    the other samples of its class and its hardest negative q = argmin D_ij over the samples of
    the other classes; L = mean_i max(0, D_ip - D_iq + m), m = 1.  Backward finds p and q again
    (the entries that do not qualify set to -inf for the argmax and +inf for the argmin) and
    gives each active anchor's terms ±2 (s_i - s_p)/N and ±2 (s_i - s_q)/N to i, p and q.
    scores (N, E), y (N,) labels, two or more samples per class."""

    margin = 1.0

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.D = ((scores[:, None] - scores[None]) ** 2).sum(axis=-1)
        same = y[:, None] == y[None]
        self.pos, self.neg = same & ~np.eye(len(y), dtype=bool), ~same
        p = np.where(self.pos, self.D, -np.inf).argmax(axis=1)
        q = np.where(self.neg, self.D, np.inf).argmin(axis=1)
        i = np.arange(len(y))
        self.h = self.D[i, p] - self.D[i, q] + self.margin
        return float(np.maximum(self.h, 0).mean())

    def backward(self):
        p = np.where(self.pos, self.D, -np.inf).argmax(axis=1)
        q = np.where(self.neg, self.D, np.inf).argmin(axis=1)
        return self.spread(p, q)

    def spread(self, p, q):
        """dL/ds, given each anchor's hardest positive p and hardest negative q."""
        active = (self.h > 0)[:, None] / len(self.y)
        gp = 2 * (self.s - self.s[p]) * active
        gq = 2 * (self.s - self.s[q]) * active
        g = gp - gq
        np.add.at(g, p, -gp)
        np.add.at(g, q, gq)
        return g


@same_name
class BatchHardTripletA(BatchHardTriplet):
    def backward(self):
        p = np.where(self.pos, self.D, -np.inf).argmax(axis=1)
        q = (self.D * self.neg).argmin(axis=1)
        return self.spread(p, q)


def pairs(rng, n, classes=3):
    """Labels with every class held by n / classes samples (two or more), shuffled."""
    return rng.permutation(np.repeat(np.arange(classes), n // classes))


class BerHuLoss(mn.Loss):
    """The reverse Huber (berHu) loss of depth regression (Laina et al.), with the threshold
    c = 1: B(r) = |r| for |r| <= c and (r² + c²)/(2c) beyond, r = s - y, L = mean B(r).
    dB/dr is sign(r) inside and r/c outside, chosen sample by sample.
    scores (N, 1), y (N,) -> float."""

    c = 1.0

    def forward(self, scores, y):
        self.r = scores[:, 0] - y
        a = np.abs(self.r)
        return float(np.where(a <= self.c, a, (self.r**2 + self.c**2) / (2 * self.c)).mean())

    def backward(self):
        r = self.r
        g = np.where(np.abs(r) <= self.c, np.sign(r), r / self.c)
        return (g / len(r))[:, None]


@same_name
class BerHuLossA(BerHuLoss):
    def backward(self):
        r = self.r
        if (np.abs(r) <= self.c).all():
            g = np.sign(r)
        else:
            g = r / self.c
        return (g / len(r))[:, None]


def reals(rng, n):
    return rng.standard_normal(n)


class SortedMatchLoss(mn.Loss):
    """A set-to-set regression loss, the 1-D Wasserstein-2 distance between the batch's
    predictions and its targets taken as two sets: both sorted and matched rank by rank,
    L = mean_k (s_(k) - y_(k))².  Backward sorts the kept scores again and sends the gradient
    of the k-th smallest, 2 (s_(k) - y_(k))/N, to the sample that holds it: g[order] = ...,
    with order the argsort of the N scores.  scores (N, 1), y (N,) -> float."""

    def forward(self, scores, y):
        self.s = scores
        order = np.argsort(scores[:, 0])
        self.diff = scores[order, 0] - np.sort(y)
        return float(np.mean(self.diff**2))

    def backward(self):
        order = np.argsort(self.s[:, 0])
        g = np.zeros(len(self.diff))
        g[order] = 2 * self.diff / len(self.diff)
        return g[:, None]


@same_name
class SortedMatchLossA(SortedMatchLoss):
    def backward(self):
        order = np.argsort(self.s)[:, 0]
        g = np.zeros(len(self.diff))
        g[order] = 2 * self.diff / len(self.diff)
        return g[:, None]


# ---- sequences -------------------------------------------------------------------------------


class ClockworkRNN(mn.Layer):
    """A clockwork RNN (Koutník et al.): the H units in two modules of H/2 with the periods
    (1, 2).  Module g updates at the steps t with t % p_g == 0,
    h_t[g] = tanh(x_t Wx[:, g] + h_{t-1} Wh[:, g] + b[g]), and keeps its state,
    h_t[g] = h_{t-1}[g], at the others (every module reads the whole state).  Backward takes a
    module back through its tanh on its update steps and carries its gradient straight on to
    h_{t-1} on the others.  x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,);
    hs[:, t + 1] keeps h_t."""

    periods = (1, 2)

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def units(self, g):
        """The columns of module g."""
        size = self.hidden // len(self.periods)
        return slice(g * size, (g + 1) * size)

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        size = self.hidden // len(self.periods)
        for t in range(T):
            ticks = np.repeat([t % p == 0 for p in self.periods], size)
            a = np.tanh(x[:, t] @ P["Wx"] + self.hs[:, t] @ P["Wh"] + P["b"])
            self.hs[:, t + 1] = np.where(ticks, a, self.hs[:, t])
        return self.hs[:, 1:].copy()

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da, carry = self.modules_back(t, dout[:, t] + dh_next)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh_next = da @ P["Wh"].T + carry
        return dx

    def modules_back(self, t, dh):
        """dh_t -> (the gradient at the tanh's input, the part carried straight to h_{t-1})."""
        h = self.hs[:, t + 1]
        da, carry = np.zeros_like(dh), np.zeros_like(dh)
        for g, p in enumerate(self.periods):
            u = self.units(g)
            if t % p == 0:
                da[:, u] = dh[:, u] * (1 - h[:, u] ** 2)
            else:
                carry[:, u] = dh[:, u]
        return da, carry


@same_name
class ClockworkRNNA(ClockworkRNN):
    def modules_back(self, t, dh):
        h = self.hs[:, t + 1]
        da, carry = np.zeros_like(dh), np.zeros_like(dh)
        for g, p in enumerate(self.periods):
            u = self.units(g)
            if t % p:
                da[:, u] = dh[:, u] * (1 - h[:, u] ** 2)
            else:
                carry[:, u] = dh[:, u]
        return da, carry


class ReverseGRU(GRU):
    """tests/unlisted.py's GRU run from the last step to the first: forward hands it x[:, ::-1]
    and flips its output back along time, so backward flips dout along time, runs the GRU's
    backward and flips dx back.  x (N, T, D) -> (N, T, H)."""

    def forward(self, x):
        return GRU.forward(self, x[:, ::-1])[:, ::-1]

    def backward(self, dout):
        return GRU.backward(self, dout[:, ::-1])[:, ::-1]


@same_name
class ReverseGRUA(ReverseGRU):
    def backward(self, dout):
        return GRU.backward(self, dout[::-1])[:, ::-1]


class LiGRU(mn.Layer):
    """The light GRU (Ravanelli et al.), without its batch norm, written sample by sample with
    vectors: z = σ(x_t Wx_z + h_{t-1} U_z + b_z), c = relu(x_t Wx_c + h_{t-1} U_c + b_c),
    h_t = z h_{t-1} + (1 - z) c, h_{-1} = 0.  Backward runs each sample's BPTT on its own,
    dh_next starting at 0 for every sample.
    x (N, T, D) -> (N, T, H);  Wx (D, 2H), U (H, 2H), b (2H,), blocks z, c."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 2 * h), U=(h, 2 * h), b=(2 * h,))

    def forward(self, x):
        P, H = self.params, self.hidden
        N, T, _ = x.shape
        self.x, self.cache = x, {}
        out = np.zeros((N, T, H))
        for n in range(N):
            h = np.zeros(H)
            for t in range(T):
                a = x[n, t] @ P["Wx"] + h @ P["U"] + P["b"]
                z, c = sigmoid(a[:H]), np.maximum(a[H:], 0)
                self.cache[n, t] = (h, z, c)
                h = z * h + (1 - z) * c
                out[n, t] = h
        return out

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        N, T, _ = self.x.shape
        for n in range(N):
            dh_next = np.zeros(self.hidden)
            for t in reversed(range(T)):
                dx[n, t], dh_next = self.step_back(n, t, dout[n, t] + dh_next)
        return dx

    def step_back(self, n, t, dh):
        """Back through sample n's step t: dh_t -> (dx_t, dh_{t-1}), adding to grads."""
        P = self.params
        h, z, c = self.cache[n, t]
        da = np.concatenate([dh * (h - c) * z * (1 - z), dh * (1 - z) * (c > 0)])
        self.grads["Wx"] += np.outer(self.x[n, t], da)
        self.grads["U"] += np.outer(h, da)
        self.grads["b"] += da
        return P["Wx"] @ da, dh * z + P["U"] @ da


@same_name
class LiGRUA(LiGRU):
    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        N, T, _ = self.x.shape
        dh_next = np.zeros(self.hidden)
        for n in range(N):
            for t in reversed(range(T)):
                dx[n, t], dh_next = self.step_back(n, t, dout[n, t] + dh_next)
        return dx


class SkipRNN(mn.Layer):
    """An RNN that updates its state at every second step only, a fixed skip pattern: at the
    even steps h_t = tanh(x_t Wx + h_{t-1} Wh + b), at the odd ones h_t = h_{t-1} and x_t is
    not read.  Backward goes over the update steps from the last to the first,
    range(T - 2, -1, -2) for an even T, each collecting dout at its own step and at the copy
    step after it.  x (N, T, D) -> (N, T, H), T even;  Wx (D, H), Wh (H, H), b (H,);
    hs[:, t + 1] keeps h_t."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in range(T):
            if t % 2 == 0:
                self.hs[:, t + 1] = np.tanh(x[:, t] @ P["Wx"] + self.hs[:, t] @ P["Wh"] + P["b"])
            else:
                self.hs[:, t + 1] = self.hs[:, t]
        return self.hs[:, 1:].copy()

    def backward(self, dout):
        zero_grads(self)
        dx, dh = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in range(self.x.shape[1] - 2, -1, -2):
            dx[:, t], dh = self.step_back(t, dh + dout[:, t:t + 2].sum(axis=1))
        return dx

    def step_back(self, t, dh):
        """Back through the update at step t: dh_t -> (dx_t, dh_{t-1}), adding to grads."""
        P = self.params
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += self.hs[:, t].T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ P["Wx"].T, da @ P["Wh"].T


@same_name
class SkipRNNA(SkipRNN):
    def backward(self, dout):
        zero_grads(self)
        dx, dh = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in range(self.x.shape[1] - 1, -1, -2):
            dx[:, t], dh = self.step_back(t, dh + dout[:, t:t + 2].sum(axis=1))
        return dx


# ---- attention -------------------------------------------------------------------------------


def head_back(q, k, v, p, do, scale):
    """One head's textbook backward for y = P V, P = softmax(Q Kᵀ · scale): (dq, dk, dv)."""
    dv = p.swapaxes(-1, -2) @ do
    dp = do @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale
    return ds @ k, ds.swapaxes(-1, -2) @ q, dv


class AxialAttention(mn.Layer):
    """Axial self-attention along the rows of an image (Ho et al.): every row of every image is
    a sequence of W pixels with C features, attended by one head, softmax(Q Kᵀ/√C) V with
    Q, K, V = X Wq, X Wk, X Wv.  Forward moves the channels last and stacks the rows,
    x.transpose(0, 2, 3, 1).reshape(N·H, W, C), and its output back with the inverse
    permutation, transpose(0, 3, 1, 2); backward does the same to dout and to dx.
    x, y: (N, C, H, W);  Wq, Wk, Wv (C, C)."""

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(c, c), Wk=(c, c), Wv=(c, c))

    def forward(self, x):
        N, C, H, W = x.shape
        self.xs = x.transpose(0, 2, 3, 1).reshape(N * H, W, C)
        self.scale = 1 / np.sqrt(C)
        self.q, self.k, self.v = (self.xs @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        return (self.p @ self.v).reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def backward(self, dout):
        N, C, H, W = dout.shape
        do = dout.transpose(0, 2, 3, 1).reshape(N * H, W, C)
        grads = head_back(self.q, self.k, self.v, self.p, do, self.scale)
        dxs = 0
        for w, d in zip(("Wq", "Wk", "Wv"), grads):
            self.grads[w] = rows(self.xs).T @ rows(d)
            dxs = dxs + d @ self.params[w].T
        return self.unstack(dxs, dout.shape)

    def unstack(self, d, shape):
        """(N·H, W, C) -> (N, C, H, W), undoing forward's stacking of the rows."""
        N, C, H, W = shape
        return d.reshape(N, H, W, C).transpose(0, 3, 1, 2)


@same_name
class AxialAttentionA(AxialAttention):
    def unstack(self, d, shape):
        N, C, H, W = shape
        return d.reshape(N, H, W, C).transpose(0, 2, 3, 1)


class QuietAttention(mn.Layer):
    """Self-attention with softmax₁ ("attention is off by one"): a zero logit is added to every
    row, so that a query may attend to nothing, P = e^S / (1 + Σ_keys e^S), computed with the
    shift m = max(0, max S); y = P V.  Its Jacobian has the softmax's form,
    dS = P ⊙ (dP - Σ_keys dP ⊙ P).  One loop over (name, gradient) pairs fills dWq, dWk, dWv
    and adds each path to dx.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        m = np.maximum(s.max(axis=-1, keepdims=True), 0)
        e = np.exp(s - m)
        self.p = e / (np.exp(-m) + e.sum(axis=-1, keepdims=True))
        return self.p @ self.v

    def backward(self, dout):
        dq, dk, dv = head_back(self.q, self.k, self.v, self.p, dout, self.scale)
        dx = 0
        for w, d in zip(("Wq", "Wk", "Wv"), (dq, dk, dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


@same_name
class QuietAttentionA(QuietAttention):
    def backward(self, dout):
        dq, dk, dv = head_back(self.q, self.k, self.v, self.p, dout, self.scale)
        dx = 0
        for w, d in zip(("Wq", "Wk", "Wv"), (dq, dk)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


class ReLUAttention(mn.Layer):
    """Self-attention with ReLU weights in place of the softmax, scaled by the sequence length
    (as in ReLU attention, Wortsman et al.): P = relu(Q Kᵀ/√D) / T, y = P V, so
    dS = dP ⊙ (S > 0) / T.  Its weights were created values first, Wv, Wq, Wk; backward
    fills dWq, dWk, dWv by name.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wv=(d, d), Wq=(d, d), Wk=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.p = np.maximum(self.s, 0) / x.shape[1]
        return self.p @ self.v

    def backward(self, dout):
        T = self.x.shape[1]
        dv = self.p.swapaxes(-1, -2) @ dout
        ds = (dout @ self.v.swapaxes(-1, -2)) * (self.s > 0) / T * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


@same_name
class ReLUAttentionA(ReLUAttention):
    def backward(self, dout):
        T = self.x.shape[1]
        dv = self.p.swapaxes(-1, -2) @ dout
        ds = (dout @ self.v.swapaxes(-1, -2)) * (self.s > 0) / T * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for (w, W), d in zip(self.params.items(), (dq, dk, dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ W.T
        return dx


class HeadLoopAttention(mn.Layer):
    """Multi-head self-attention written as a loop over the heads, each with its own projections
    Wq[h], Wk[h], Wv[h] (D, D/h); the heads' outputs side by side are y.  Forward starts a new
    list self.cache and appends (h, q, k, v, p) for each head; backward goes through that list
    and adds each head's terms to the grads and to dx.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (h, D, D/h) with h = 2."""

    heads = 2

    def __init__(self, d, seed=0):
        super().__init__()
        shape = (self.heads, d, d // self.heads)
        with_params(self, seed, Wq=shape, Wk=shape, Wv=shape)
        self.cache = []

    def forward(self, x):
        self.x, self.cache = x, []
        return self.attend(x)

    def attend(self, x):
        """Every head in turn, its cache appended to self.cache; the outputs side by side."""
        outs = []
        for h in range(self.heads):
            q, k, v = (x @ self.params[w][h] for w in ("Wq", "Wk", "Wv"))
            p = softmax(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
            self.cache.append((h, q, k, v, p))
            outs.append(p @ v)
        return np.concatenate(outs, axis=-1)

    def backward(self, dout):
        zero_grads(self)
        dx, d = np.zeros_like(self.x), dout.shape[-1] // self.heads
        for h, q, k, v, p in self.cache:
            do = dout[..., h * d:(h + 1) * d]
            for w, g in zip(("Wq", "Wk", "Wv"), head_back(q, k, v, p, do, 1 / np.sqrt(d))):
                self.grads[w][h] += rows(self.x).T @ rows(g)
                dx += g @ self.params[w][h].T
        return dx


@same_name
class HeadLoopAttentionA(HeadLoopAttention):
    def forward(self, x):
        self.x = x
        return self.attend(x)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("brelu_18", ACT, lambda: dense_net(BReLUA(), seed=1801, scale=2.0),
         "the odd features' mask reads self.x[:, 1:2] (one colon), feature 1 alone, where "
         "1::2 (two colons) takes every second feature from 1: the (N, 1) column broadcasts "
         "over all the odd features, so feature 3 gets feature 1's mask x_1 < 0 instead of its "
         "own x_3 < 0 (the even features and feature 1 are right)",
         "slope[:, 1::2] = self.x[:, 1::2] < 0"),
    Case("sqnl_18", ACT, lambda: dense_net(SQNLA(), seed=1802, scale=2.0),
         "1 - a // 2 uses floor division: ⌊|x|/2⌋ is 0 for every |x| < 2, so the slope comes "
         "out 1 for all the entries inside [-2, 2], where it is 1 - |x|/2 (true division "
         "a / 2); the flat parts beyond ±2 are right",
         "return dout * (a <= 2) * (1 - a / 2)"),
    Case("srelu_18", ACT, lambda: dense_net(SReLUA(), seed=1803, scale=2.0),
         "np.piecewise is not if/elif: where several conditions hold the last one listed wins, "
         "and x <= t_l also satisfies x < t_r, so the entries below t_l = -1 get the middle "
         "piece's slope 1 where a_l = 0.1 belongs; np.select keeps the first condition that "
         "holds (the entries above t_l are right)",
         "return dout * np.select([x <= self.tl, x < self.tr, x >= self.tr], "
         "[self.al, 1.0, self.ar])"),
    Case("smooth-relu_18", ACT, lambda: dense_net(SmoothReLUA(), seed=1804, scale=2.0),
         "np.vectorize without otypes calls slope_at on the first entry to choose the output's "
         "dtype: x[0, 0] = 2.3 lies beyond δ = 1, where slope_at returns the int 1, so the whole "
         "array of slopes is int and every slope x/δ of the entries with 0 < x < 1 is "
         "truncated to 0 (the slopes 0 and 1 survive); otypes=[float] keeps them",
         "return dout * np.vectorize(self.slope_at, otypes=[float])(self.x)"),
    Case("kronecker-dense_18", DENSE,
         lambda: dense_net(KroneckerDenseA(2, 3, 2, 2, seed=1805), width=6, seed=1805),
         "np.einsum('nij,ai,bj', ...) has no '->': in implicit mode the output's axes are the "
         "indices that appear once, in alphabetical order, 'abn', so dX comes out (a, b, N) = "
         "(2, 3, 6), not (N, a, b), and the reshape to (N, 6) runs but scrambles samples and "
         "features; '->nab' keeps forward's order (dA, dB and dc are right)",
         "return np.einsum('nij,ai,bj->nab', dY, self.params['A'], self.params['B'])"),
    Case("kronecker-dense-correct_18", DENSE,
         lambda: dense_net(KroneckerDense(2, 3, 2, 2, seed=1806), width=6, seed=1806), CORRECT),
    Case("hollow-dense_18", DENSE, lambda: dense_net(HollowDenseA(5, seed=1807), seed=1807),
         "np.diag of the matrix G = xᵀ dout is the vector of its diagonal, (D,), not a diagonal "
         "matrix: G - np.diag(G) subtracts that vector from every row (entry (i, j) loses "
         "G[j, j]), where only the diagonal must be zeroed, G - np.diag(np.diag(G)) as forward "
         "does for W (dW's diagonal, ds, db and dx are right)",
         "self.grads['W'] = G - np.diag(np.diag(G))"),
    Case("cosine-dense_18", DENSE, lambda: dense_net(CosineDenseA(5, 4, seed=1808), seed=1808),
         "the return is indented into the loop over the output units: backward returns after "
         "unit 0, so dx holds only unit 0's share of du and dW's columns for units 1 to 3 keep "
         "the zeros backward started them from (column 0 is right)",
         "the return, dedented out of the loop: "
         "return (du - self.u * (du * self.u).sum(axis=1, keepdims=True)) / self.r"),
    Case("grn_18", NORM, lambda: image_net(GRNA(3), seed=1809),
         "Python's built-in sum adds up the rows of the (N, C) array dNx ⊙ G: dM gets each "
         "channel's sum over the batch, a (C,) row, where each sample's sum over its channels "
         "belongs, (dnx * G).sum(axis=1, keepdims=True); the row broadcasts silently against "
         "(M + ε)² (N, 1) (dgamma, dbeta and dx's terms dout (1 + γ Nx) are right)",
         "dM = -(dnx * G).sum(axis=1, keepdims=True) / m**2"),
    Case("subset-batchnorm_18", NORM,
         lambda: dense_net(SubsetBatchNormA(5, [1, 1, 0, 1, 0, 1]), seed=1810),
         "break where continue belongs: the loop over the samples stops at the first one left "
         "out of the statistics (sample 2), so the flagged samples after it, 3 and 5, never get "
         "their term -(S1 + x̂_n S2)/(M σ) (dgamma, dbeta and samples 0 and 1 are right)",
         "continue"),
    Case("group-rmsnorm_18", NORM, lambda: dense_net(GroupRMSNormA(), seed=1811),
         "np.add.reduceat takes the groups' start indices, not their sizes: called with "
         "self.sizes = (2, 3) it sums columns 2:3 and 3:5 instead of 0:2 and 2:5, so the "
         "groups' means of dx̂ ⊙ x̂ in dx's correction term are of the wrong features (dg is "
         "right)",
         "m = np.add.reduceat(dxh * self.xhat, self.starts, axis=1) / self.sizes"),
    Case("gated-conv_18", CONV, lambda: image_net(GatedConvA(3, 2, seed=1812), seed=1812),
         "zip(range(H), range(W)) pairs the two ranges entry by entry, (0, 0), (1, 1), (2, 2), "
         "(3, 3): backward visits the diagonal pixels only, so the other 12 output pixels send "
         "nothing to dWa, dWg or dx; every (i, j) needs the nested loops (dba and dbg, summed "
         "over all the pixels outside the loop, are right)",
         "for i in range(H): for j in range(W): ..."),
    Case("factorized-conv_18", CONV,
         lambda: image_net(FactorizedConvA(3, 2, seed=1813), seed=1813),
         "_, _, k, _ = W.shape reads the kernel as k × k = 3 × 3 where it is 3 × 1: the window "
         "dxp[:, :, i:i + k, j:j + k] is 3 columns wide (fewer at the right border, where numpy "
         "cuts the slice short) and the (N, C, 3, 1) term broadcasts over it, so each output "
         "pixel's gradient goes to columns j, j + 1 and j + 2 where forward read column j "
         "alone (dW and db are right)",
         "_, _, kh, kw = W.shape; dxp[:, :, i:i + kh, j:j + kw] += ..."),
    Case("shift-conv_18", CONV, lambda: image_net(ShiftConvA(3, 2, seed=1814), seed=1814),
         "the line out += b[:, None, None] is indented into the loop over the 3 × 3 taps, so "
         "forward adds the bias 9 times: the output moves 9 times as fast as b, while "
         "backward's db = Σ dout is the gradient of a bias added once (dW and dx are right)",
         "out += self.params['b'][:, None, None], once, after the loops"),
    Case("box-sum_18", POOL, lambda: image_net(BoxSumA(), seed=1815),
         "at i = 0 the slice i - 1:i + 2 is -1:2, and a negative start counts from the end: "
         "rows 3:2, an empty slice, not rows 0:2 (the same at j = 0); += on an empty slice does "
         "nothing, so the output pixels of row 0 and of column 0 (7 of the 16) send no "
         "gradient; forward clamped the start with max(i - 1, 0)",
         "dx[:, :, max(i - 1, 0):i + 2, max(j - 1, 0):j + 2] += dout[:, :, i, j, None, None]"),
    Case("batch-hard-triplet_18", LOSS,
         lambda: loss_net(BatchHardTripletA(), pairs, width=3, seed=1816, scale=2.0),
         "backward finds the hardest negative as the argmin of D ⊙ neg: multiplying by the 0/1 "
         "mask turns every entry that is not a negative (the anchor itself and its positive) "
         "into a distance of 0, the smallest, so argmin picks one of those instead of the "
         "closest sample of another class; the entries left out must be +inf, "
         "np.where(neg, D, np.inf), as in forward (the positives' terms are right)",
         "q = np.where(self.neg, self.D, np.inf).argmin(axis=1)"),
    Case("berhu_18", LOSS,
         lambda: loss_net(BerHuLossA(), reals, width=1, seed=1817, scale=1.5),
         "the Python if picks one branch for the whole batch: (|r| <= c).all() is False as soon "
         "as one residual lies outside, and then every sample gets the outer branch's slope "
         "r/c, the samples with |r| <= c too, whose slope is sign(r); np.where chooses sample "
         "by sample (the samples with |r| > c are right)",
         "g = np.where(np.abs(r) <= self.c, np.sign(r), r / self.c)"),
    Case("sorted-match_18", LOSS,
         lambda: loss_net(SortedMatchLossA(), reals, width=1, seed=1818, scale=3.0),
         "np.argsort(self.s) sorts the (N, 1) scores along their last axis, of length 1, so "
         "[:, 0] gives index 0 for every rank: g[order] = ... writes all the ranks' gradients "
         "into sample 0, where the last one stays, and the other samples get none; the scores "
         "must be sorted over the samples, np.argsort(self.s[:, 0]), as forward did",
         "order = np.argsort(self.s[:, 0])"),
    Case("clockwork-rnn_18", SEQ,
         lambda: sequence_net(ClockworkRNNA(4, 4, seed=1819), seed=1819),
         "if t % p: is true when t is not a multiple of p, the steps where module g kept its "
         "state: the test is inverted, so backward takes each module back through its tanh on "
         "the steps it only copied its state and carries its gradient straight on at the steps "
         "it updated (the period-1 module, t % 1 == 0 always, is never taken back through its "
         "tanh); t % p == 0 tests the update, as in forward",
         "if t % p == 0:"),
    Case("clockwork-rnn-correct_18", SEQ,
         lambda: sequence_net(ClockworkRNN(4, 4, seed=1820), seed=1820), CORRECT),
    Case("reverse-gru_18", SEQ, lambda: sequence_net(ReverseGRUA(4, 3, seed=1821), seed=1821),
         "dout[::-1] reverses the first axis, the samples, where the steps must be reversed: "
         "forward ran the GRU over x[:, ::-1] and flipped its output back along time, so its "
         "gradient must be flipped along time, dout[:, ::-1]; here sample n's GRU is taken "
         "back with sample N - 1 - n's gradient, and each step's gradient reaches the mirrored "
         "step T - 1 - t (the final flip of dx is right)",
         "return GRU.backward(self, dout[:, ::-1])[:, ::-1]"),
    Case("ligru_18", SEQ, lambda: sequence_net(LiGRUA(4, 3, seed=1822), seed=1822),
         "dh_next = np.zeros(H) stands before the loop over the samples instead of inside it: "
         "each sample's BPTT starts from what the previous sample left at its step 0 (the "
         "gradient at that sample's initial state), where it must start from 0; only sample 0 "
         "is right",
         "for n in range(N): dh_next = np.zeros(self.hidden); for t in reversed(range(T)): ..."),
    Case("skip-rnn_18", SEQ, lambda: sequence_net(SkipRNNA(4, 3, seed=1823), seed=1823),
         "range(T - 1, -1, -2) runs t = 3, 1, the odd steps that only copied the state, not the "
         "update steps 2 and 0 that forward visited (a reversed stride needs the same parity, "
         "range(T - 2, -1, -2)): backward takes the copies back through the tanh, gives "
         "gradient to x_1 and x_3, which forward never read, and none to x_0 and x_2",
         "for t in range(self.x.shape[1] - 2, -1, -2):"),
    Case("axial-attention_18", ATTN,
         lambda: image_net(AxialAttentionA(4, seed=1824), channels=4, seed=1824),
         "dx is moved back from (N, H, W, C) with transpose(0, 2, 3, 1), forward's own "
         "permutation, where its inverse transpose(0, 3, 1, 2) belongs: a cyclic permutation "
         "of three axes applied twice is not the identity, so dx's entries land at permuted "
         "positions (it runs since C = H = W = 4; the weight gradients are right)",
         "return d.reshape(N, H, W, C).transpose(0, 3, 1, 2)"),
    Case("quiet-attention_18", ATTN,
         lambda: sequence_net(QuietAttentionA(4, seed=1825), seed=1825),
         "the loop zips the three names ('Wq', 'Wk', 'Wv') with only two gradients (dq, dk): "
         "zip stops at the shorter, so the values' turn never comes: grads['Wv'] keeps what it "
         "held before (zeros) and dx misses the values' path dV Wvᵀ (dWq, dWk and the queries' "
         "and keys' paths are right)",
         "for w, d in zip(('Wq', 'Wk', 'Wv'), (dq, dk, dv)):"),
    Case("quiet-attention-correct_18", ATTN,
         lambda: sequence_net(QuietAttention(4, seed=1826), seed=1826), CORRECT),
    Case("relu-attention_18", ATTN,
         lambda: sequence_net(ReLUAttentionA(4, seed=1827), seed=1827),
         "zip(self.params.items(), (dq, dk, dv)) pairs the gradients with the params in the "
         "dict's insertion order, Wv, Wq, Wk, as __init__ created them, not Wq, Wk, Wv: dq is "
         "taken for Wv's gradient, dk for Wq's and dv for Wk's, both in grads and in dx's paths "
         "(dq goes back through Wvᵀ, and so on); the pairs must be named",
         "for w, d in (('Wq', dq), ('Wk', dk), ('Wv', dv)): ... dx = dx + d @ self.params[w].T"),
    Case("head-loop-attention_18", ATTN,
         lambda: sequence_net(HeadLoopAttentionA(4, seed=1828), seed=1828),
         "forward appends each head's (h, q, k, v, p) to self.cache, a list made once in "
         "__init__, without emptying it first: after k forward calls it holds every call's "
         "entries, and backward, looping over the whole list, adds each head's terms once per "
         "call, so every gradient is k times too large (twice after two forwards of the same "
         "batch); forward must start with self.cache = []",
         "self.x, self.cache = x, []"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
