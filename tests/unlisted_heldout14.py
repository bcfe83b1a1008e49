"""The fourteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the thirteenth held-out set was used
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
    classifier,
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


class ISRLU(mn.Layer):
    """Inverse square root linear unit (Carlile et al.): y = x where x >= 0,
    x / √(1 + α x²) elsewhere.  dy/dx = 1 where x >= 0, (1 / √(1 + α x²))³ elsewhere, and
    dL/dx = dout ⊙ dy/dx.  x, y: (N, D)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        self.inv = 1 / np.sqrt(1 + self.alpha * np.minimum(x, 0) ** 2)
        return np.where(x >= 0, x, x * self.inv)

    def backward(self, dout):
        return dout * np.where(self.x >= 0, 1.0, self.inv**3)


@same_name
class ISRLUA(ISRLU):
    def backward(self, dout):
        return np.where(self.x >= 0, 1.0, self.inv**3)


class ELiSH(mn.Layer):
    """ELiSH (Basirat & Roth): y = x σ(x) where x >= 0, (eˣ - 1) σ(x) elsewhere.
    dy/dx = σ + x σ (1 - σ) where x >= 0, eˣ σ + (eˣ - 1) σ (1 - σ) elsewhere; an entrywise
    layer, no mean over anything.  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.s = x, sigmoid(x)
        self.e = np.exp(np.minimum(x, 0))
        return np.where(x >= 0, x, self.e - 1) * self.s

    def backward(self, dout):
        x, s, e = self.x, self.s, self.e
        slope = np.where(x >= 0, s + x * s * (1 - s), e * s + (e - 1) * s * (1 - s))
        return dout * slope


@same_name
class ELiSHA(ELiSH):
    def backward(self, dout):
        x, s, e = self.x, self.s, self.e
        N = x.shape[0]
        slope = np.where(x >= 0, s + x * s * (1 - s), e * s + (e - 1) * s * (1 - s))
        return dout * slope / N


class SineUnit(mn.Layer):
    """A sine activation with a learned frequency and phase per feature (SIREN-like):
    y = sin(ω x + φ).  With g = dout ⊙ cos(ω x + φ): dω = Σ_n g x, dφ = Σ_n g, dx = g ω.
    x, y: (N, D);  omega, phi (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"omega": np.linspace(0.6, 1.8, d), "phi": np.linspace(-0.5, 0.7, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        a = self.params["omega"] * x + self.params["phi"]
        self.x, self.c = x, np.cos(a)
        return np.sin(a)

    def backward(self, dout):
        g = dout * self.c
        self.grads["omega"] = (g * self.x).sum(axis=0)
        self.grads["phi"] = self.phase_grad(g)
        return g * self.params["omega"]

    def phase_grad(self, g):
        """dφ from g = dout ⊙ cos(ω x + φ)."""
        return g.sum(axis=0)


@same_name
class SineUnitA(SineUnit):
    def phase_grad(self, g):
        return (g * self.x).sum(axis=0)


class PACT(mn.Layer):
    """PACT (Choi et al.): a ReLU clipped at a learned ceiling α per feature,
    y = clip(x, 0, α).  dy/dx = 1 where 0 < x < α, 0 elsewhere;  dy/dα = 1 where x >= α (the
    entries held at the ceiling), 0 elsewhere (the entries held at 0 do not move with α).
    x, y: (N, D);  alpha (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"alpha": np.linspace(0.8, 1.6, d)}
        self.grads = {"alpha": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return np.clip(x, 0, self.params["alpha"])

    def backward(self, dout):
        inside = (self.x > 0) & (self.x < self.params["alpha"])
        self.grads["alpha"] = (dout * self.ceiling(inside)).sum(axis=0)
        return dout * inside

    def ceiling(self, inside):
        """Where y is α itself."""
        return self.x >= self.params["alpha"]


@same_name
class PACTA(PACT):
    def ceiling(self, inside):
        return ~inside


class SquaredReLU(mn.Layer):
    """Squared ReLU (So et al., Primer): y = max(x, 0)².  dy/dx = 2 max(x, 0), entry by entry.
    x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.maximum(x, 0) ** 2

    def backward(self, dout):
        return dout * 2 * np.maximum(self.x, 0)


@same_name
class SquaredReLUA(SquaredReLU):
    def backward(self, dout):
        return dout * 2 * np.max(self.x, 0)


# ---- dense-like ------------------------------------------------------------------------------


class ChebyshevKAN(mn.Layer):
    """A Chebyshev KAN layer: every input squashed to u = tanh(x), expanded in the Chebyshev
    polynomials T_0..T_3 (T_0 = 1, T_1 = u, T_{k+1} = 2u T_k - T_{k-1}), and
    y_f = Σ_{d,k} C[d, k, f] T_k(u_d) + b_f.  T_k'(u) = k U_{k-1}(u) (the second kind), got by
    differentiating the recurrence: T'_{k+1} = 2 T_k + 2u T'_k - T'_{k-1}.
    x (N, D) -> (N, F);  C (D, 4, F), b (F,)."""

    degree = 3

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, C=(d, self.degree + 1, f), b=(f,))

    def forward(self, x):
        self.u = np.tanh(x)
        T = [np.ones_like(self.u), self.u]
        for _ in range(self.degree - 1):
            T.append(2 * self.u * T[-1] - T[-2])
        self.T = np.stack(T, axis=-1)  # (N, D, K + 1)
        return np.einsum("ndk,dkf->nf", self.T, self.params["C"]) + self.params["b"]

    def backward(self, dout):
        self.grads["C"] = np.einsum("ndk,nf->dkf", self.T, dout)
        self.grads["b"] = dout.sum(axis=0)
        dT = np.einsum("nf,dkf->ndk", dout, self.params["C"])
        du = (dT * self.slopes()).sum(axis=-1)
        return du * (1 - self.u**2)

    def slopes(self):
        """T_k'(u) for k = 0..3: (N, D, K + 1)."""
        u, T = self.u, self.T
        dT = [np.zeros_like(u), np.ones_like(u)]
        for k in range(1, self.degree):
            dT.append(2 * T[..., k] + 2 * u * dT[k] - dT[k - 1])
        return np.stack(dT, axis=-1)


@same_name
class ChebyshevKANA(ChebyshevKAN):
    def slopes(self):
        k = np.arange(self.degree + 1)
        before = np.concatenate([np.zeros_like(self.T[..., :1]), self.T[..., :-1]], axis=-1)
        return k * before


class GraphConv(mn.Layer):
    """A graph convolution over the samples of the batch, each sample a node of a fixed
    undirected graph, with mean aggregation: Â = D⁻¹ (A + I), y = Â x W + b.  Â's rows sum to
    1, and Â is not symmetric where neighbours have different degrees.
    dW = (Â x)ᵀ dout, db = Σ dout, dx = Âᵀ (dout Wᵀ).
    x (N, D) -> (N, F), N the number of nodes;  W (D, F), b (F,)."""

    def __init__(self, d, f, edges, nodes, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        A = np.eye(nodes)
        for i, j in edges:
            A[i, j] = A[j, i] = 1
        self.adj = A / A.sum(axis=1, keepdims=True)

    def forward(self, x):
        self.ax = self.adj @ x
        return self.ax @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.ax.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return self.spread_back(dout @ self.params["W"].T)

    def spread_back(self, d):
        """Back through the aggregation Â x."""
        return self.adj.T @ d


@same_name
class GraphConvA(GraphConv):
    def spread_back(self, d):
        return self.adj @ d


GRAPH = [(0, 1), (0, 2), (0, 3), (3, 4), (4, 5)]  # 6 nodes of degrees 3, 1, 1, 2, 2, 1


class TropicalDense(mn.Layer):
    """A max-plus (tropical) dense layer: y_nf = max_d (x_nd + W_df) + b_f.  Each output's
    gradient goes to its winning input d* = argmax_d (x_nd + W_df), and to W[d*, f].
    x (N, D) -> (N, F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        z = x[:, :, None] + self.params["W"]  # (N, D, F)
        self.win = z.argmax(axis=1)  # (N, F)
        return z.max(axis=1) + self.params["b"]

    def backward(self, dout):
        D = self.x.shape[1]
        onehot = np.arange(D)[None, :, None] == self.winners()[:, None, :]  # (N, D, F)
        g = onehot * dout[:, None, :]
        self.grads["W"] = g.sum(axis=0)
        self.grads["b"] = dout.sum(axis=0)
        return g.sum(axis=2)

    def winners(self):
        """d* for every sample and output: (N, F)."""
        return self.win


@same_name
class TropicalDenseA(TropicalDense):
    def winners(self):
        F = self.params["W"].shape[1]
        return np.repeat(self.x.argmax(axis=1)[:, None], F, axis=1)


# ---- normalization ---------------------------------------------------------------------------


class FilterResponseNorm(mn.Layer):
    """Filter response normalization with a thresholded linear unit (Singh & Krishnan):
    ν² = mean of x² over each channel's pixels, x̂ = x / √(ν² + eps), y = γ x̂ + β,
    z = max(y, τ).  Only the entries with y > τ pass their gradient on to y (and so to γ, β
    and x); the others send it to τ.  x, z: (N, C, H, W);  gamma, beta, tau (C,)."""

    eps = 1e-6

    def __init__(self, c):
        super().__init__()
        self.params = {"gamma": np.linspace(0.6, 1.4, c), "beta": np.linspace(-0.2, 0.2, c),
                       "tau": np.linspace(-0.3, 0.1, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    @staticmethod
    def per_channel(v):
        return v[:, None, None]

    def forward(self, x):
        P = self.params
        self.r = np.sqrt((x**2).mean(axis=(2, 3), keepdims=True) + self.eps)
        self.xhat = x / self.r
        y = self.per_channel(P["gamma"]) * self.xhat + self.per_channel(P["beta"])
        self.on = y > self.per_channel(P["tau"])
        return np.where(self.on, y, self.per_channel(P["tau"]))

    def backward(self, dz):
        dy = dz * self.on
        self.grads["tau"] = (dz * ~self.on).sum(axis=(0, 2, 3))
        self.affine_grads(dz, dy)
        dxhat, xhat = dy * self.per_channel(self.params["gamma"]), self.xhat
        return (dxhat - xhat * (dxhat * xhat).mean(axis=(2, 3), keepdims=True)) / self.r

    def affine_grads(self, dz, dy):
        """dgamma and dbeta, from dy: the gradient that got through the TLU."""
        self.grads["gamma"] = (dy * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dy.sum(axis=(0, 2, 3))


@same_name
class FilterResponseNormA(FilterResponseNorm):
    def affine_grads(self, dz, dy):
        self.grads["gamma"] = (dz * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dz.sum(axis=(0, 2, 3))


class GDN(mn.Layer):
    """Generalized divisive normalization (Ballé et al.) across the channels of each pixel:
    s_i = √(β_i + Σ_j γ_ij x_j²), y_i = x_i / s_i.  x_k reaches every s_i through γ_ik:
    dx_k = dout_k / s_k - x_k Σ_i γ_ik dout_i x_i / s_i³;  dβ_i = -½ Σ dout_i x_i / s_i³,
    dγ_ij = -½ Σ dout_i x_i x_j² / s_i³ (sums over samples and pixels).
    x, y: (N, C, H, W);  beta (C,), gamma (C, C), not symmetric."""

    def __init__(self, c, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.params = {"beta": np.linspace(0.5, 1.5, c), "gamma": rng.uniform(0.05, 0.9, (c, c))}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        self.s = np.sqrt(self.params["beta"][:, None, None]
                         + np.einsum("ij,njhw->nihw", self.params["gamma"], x**2))
        return x / self.s

    def backward(self, dout):
        x, s = self.x, self.s
        q = dout * x / s**3  # dout_i x_i / s_i³
        self.grads["beta"] = -0.5 * q.sum(axis=(0, 2, 3))
        self.grads["gamma"] = -0.5 * np.einsum("nihw,njhw->ij", q, x**2)
        return dout / s - x * self.cross(q)

    def cross(self, q):
        """Σ_i γ_ik q_i for every channel k."""
        return np.einsum("ik,nihw->nkhw", self.params["gamma"], q)


@same_name
class GDNA(GDN):
    def cross(self, q):
        return np.einsum("ki,nihw->nkhw", self.params["gamma"], q)


class WeightedBatchNorm(mn.Layer):
    """Batch norm with fixed sample weights w (importance weights): with w̃ = w / Σw,
    μ = Σ_n w̃_n x_n, var = Σ_n w̃_n (x_n - μ)², σ = √(var + eps), x̂ = (x - μ)/σ,
    y = gamma x̂ + beta.  Sample n moves μ and var by its own weight w̃_n:
    dx_n = (dx̂_n - w̃_n Σ_m dx̂_m - w̃_n x̂_n Σ_m dx̂_m x̂_m) / σ.
    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d, weights):
        super().__init__()
        w = np.asarray(weights, dtype=float)
        self.w = (w / w.sum())[:, None]  # (N, 1)
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        mu = (self.w * x).sum(axis=0)
        var = (self.w * (x - mu) ** 2).sum(axis=0)
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return self.dx(dout * self.params["gamma"])

    def dx(self, dxhat):
        w, xhat = self.w, self.xhat
        return (dxhat - w * dxhat.sum(axis=0) - w * xhat * (dxhat * xhat).sum(axis=0)) / self.std


@same_name
class WeightedBatchNormA(WeightedBatchNorm):
    def dx(self, dxhat):
        xhat = self.xhat
        return (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / self.std


# ---- convolution and pooling -----------------------------------------------------------------


class PartialConv(mn.Layer):
    """Partial convolution (Liu et al., inpainting), 3×3, stride 1, padding 1: the holes of a
    fixed mask M (H, W) are zeroed, and each window's sum is renormalized by
    r = 9 / (the valid pixels in the window, padding counted as holes):
    y[:, :, i, j] = r[i, j] · Σ W ⊙ (x ⊙ M)[window (i, j)] + b.  Every window holds a valid
    pixel here.  x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, mask, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))
        self.mask = np.asarray(mask, dtype=float)
        H, W = self.mask.shape
        mp = np.pad(self.mask, 1)
        valid = np.array([[mp[i:i + 3, j:j + 3].sum() for j in range(W)] for i in range(H)])
        self.ratio = 9 / valid

    def forward(self, x):
        N, C, H, W = x.shape
        self.xp = pad(x * self.mask, 1)
        out = np.zeros((N, len(self.params["W"]), H, W))
        for i in range(H):
            for j in range(W):
                out[:, :, i, j] = self.ratio[i, j] * np.einsum(
                    "nckl,fckl->nf", self.xp[:, :, i:i + 3, j:j + 3], self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        g = self.renormalized(dout)
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dW += np.einsum("nckl,nf->fckl", self.xp[:, :, i:i + 3, j:j + 3], g[:, :, i, j])
                dxp[:, :, i:i + 3, j:j + 3] += np.einsum("nf,fckl->nckl", g[:, :, i, j],
                                                         self.params["W"])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1] * self.mask

    def renormalized(self, dout):
        """dL/d(the window sums): dout times each window's r."""
        return dout * self.ratio


@same_name
class PartialConvA(PartialConv):
    def renormalized(self, dout):
        return dout


HOLES = [[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 1, 1], [1, 1, 1, 0]]


class TurnedKernelConv(mn.Layer):
    """A 3×3 convolution, stride 1, padding 1, whose input gradient is the full correlation of
    dout with the kernels turned by 180° and their channel axes swapped:
    Wr[c, f] = W[f, c, ::-1, ::-1], dx = corr(pad(dout, 1), Wr).
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    @staticmethod
    def correlate(ap, K):
        """out[n, o, i, j] = Σ_{c,k,l} ap[n, c, i + k, j + l] K[o, c, k, l], 'same' size."""
        H, W = ap.shape[2] - 2, ap.shape[3] - 2
        out = np.zeros((len(ap), len(K), H, W))
        for i in range(H):
            for j in range(W):
                out[:, :, i, j] = np.einsum("nckl,ockl->no", ap[:, :, i:i + 3, j:j + 3], K)
        return out

    def forward(self, x):
        self.xp = pad(x, 1)
        return self.correlate(self.xp, self.params["W"]) + self.params["b"][:, None, None]

    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dW += np.einsum("nckl,nf->fckl", self.xp[:, :, i:i + 3, j:j + 3],
                                dout[:, :, i, j])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return self.correlate(pad(dout, 1), self.turned())

    def turned(self):
        """Wr (C, F, 3, 3): each kernel turned by 180°, in and out channels swapped."""
        return np.flip(self.params["W"], axis=(2, 3)).transpose(1, 0, 2, 3)


@same_name
class TurnedKernelConvA(TurnedKernelConv):
    def turned(self):
        return np.flip(self.params["W"]).transpose(1, 0, 2, 3)


def windows(a):
    """(N, C, H, W) -> (N, C, H/2, W/2, 4): each 2×2 window's entries, row by row."""
    N, C, H, W = a.shape
    return (a.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
            .reshape(N, C, H // 2, W // 2, 4))


def unwindows(win):
    """The inverse of windows: (N, C, H/2, W/2, 4) -> (N, C, H, W)."""
    N, C, h, w, _ = win.shape
    return win.reshape(N, C, h, w, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, 2 * h, 2 * w)


class MaxPoolUnpool(mn.Layer):
    """SegNet's 2×2 max pooling and max unpooling in one layer: pooling keeps each window's
    maximum and remembers where it was (self.idx), unpooling puts it back there, zeros
    elsewhere; y has x's shape.  Backward runs the two stages back: unpooling's backward
    gathers dout at the remembered positions, pooling's backward puts that back at the same
    positions.  x, y: (N, C, H, W)."""

    def forward(self, x):
        win = windows(x)
        self.idx = win.argmax(axis=-1)[..., None]
        return self.unpool(np.take_along_axis(win, self.idx, axis=-1)[..., 0])

    def unpool(self, pooled):
        win = np.zeros((*pooled.shape, 4))
        np.put_along_axis(win, self.idx, pooled[..., None], axis=-1)
        return unwindows(win)

    def backward(self, dout):
        return self.unpool(self.unpool_back(dout))  # pooling's backward: to the maxima's places

    def unpool_back(self, dout):
        """Unpooling's backward: (N, C, H, W) -> (N, C, H/2, W/2)."""
        return np.take_along_axis(windows(dout), self.idx, axis=-1)[..., 0]


@same_name
class MaxPoolUnpoolA(MaxPoolUnpool):
    def unpool_back(self, dout):
        return windows(dout).max(axis=-1)


class BlurPool(mn.Layer):
    """Anti-aliased downsampling (Zhang 2019): each channel blurred with the binomial filter
    k = [1, 2, 1]/4 along the rows and along the columns, K = outer(k, k) (Σ K = 1),
    padding 1, then sampled every second pixel: y[i, j] = Σ K ⊙ xp[2i:2i+3, 2j:2j+3].
    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    @staticmethod
    def kernel():
        k = np.array([1.0, 2.0, 1.0]) / 4
        return np.outer(k, k)

    def forward(self, x):
        self.x_shape = x.shape
        xp, K = pad(x, 1), self.kernel()
        out = np.zeros((*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                out[:, :, i, j] = (xp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * K).sum(axis=(2, 3))
        return out

    def backward(self, dout):
        N, C, H, W = self.x_shape
        K = self.kernel()
        dxp = np.zeros((N, C, H + 2, W + 2))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dxp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += dout[:, :, i, j, None, None] * K
        return dxp[:, :, 1:-1, 1:-1]


@same_name
class BlurPoolA(BlurPool):
    def backward(self, dout):
        N, C, H, W = self.x_shape
        K = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0]) / 4
        dxp = np.zeros((N, C, H + 2, W + 2))
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dxp[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += dout[:, :, i, j, None, None] * K
        return dxp[:, :, 1:-1, 1:-1]


# ---- losses ----------------------------------------------------------------------------------


class MixtureDensityNLL(mn.Loss):
    """The negative log-likelihood of a mixture density network with K = 2 Gaussian components
    for a real target: scores (N, 6) = [a_1, a_2, μ_1, μ_2, ℓ_1, ℓ_2], π = softmax(a),
    σ_k = e^(ℓ_k);  L = -mean_n log Σ_k π_k N(y; μ_k, σ_k).  With z_k = (y - μ_k)/σ_k and the
    responsibilities γ_k = π_k N_k / Σ_j π_j N_j:  dL/da_k = (π_k - γ_k)/N,
    dL/dμ_k = -γ_k z_k / σ_k / N, dL/dℓ_k = γ_k (1 - z_k²) / N.  y (N,) -> float."""

    K = 2

    def forward(self, scores, y):
        K = self.K
        a, self.mu, self.logs = scores[:, :K], scores[:, K:2 * K], scores[:, 2 * K:]
        self.y, self.pi = y, softmax(a)
        self.z = (y[:, None] - self.mu) / np.exp(self.logs)
        logc = np.log(self.pi) - 0.5 * self.z**2 - self.logs - 0.5 * np.log(2 * np.pi)
        top = logc.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(logc - top).sum(axis=1, keepdims=True))
        self.resp = np.exp(logc - lse)
        return float(-lse.mean())

    def backward(self):
        N = len(self.y)
        da = self.pi - self.resp
        dmu = -self.weight() * self.z / np.exp(self.logs)
        dlogs = self.resp * (1 - self.z**2)
        return np.concatenate([da, dmu, dlogs], axis=1) / N

    def weight(self):
        """How much each component's pull on its mean counts: its responsibility γ_k."""
        return self.resp


@same_name
class MixtureDensityNLLA(MixtureDensityNLL):
    def weight(self):
        return self.pi


def reals(rng, n):
    return rng.standard_normal(n)


class CoxLoss(mn.Loss):
    """Cox's negative log partial likelihood (Breslow, no ties) for survival data: scores
    (N, 1) are log-risks s, y (N, 2) holds each sample's time t and event flag δ (1 = event,
    0 = censored).  The risk set of sample i is R_i = {j: t_j >= t_i};
    L = -(1/E) Σ_{i: δ_i = 1} (s_i - log Σ_{j ∈ R_i} e^(s_j)), E = Σ δ.  s_k is in the risk set
    of every event i with t_i <= t_k, so with P[i, k] = [k ∈ R_i] e^(s_k) / Σ_{j ∈ R_i} e^(s_j):
    dL/ds_k = -(δ_k - Σ_i δ_i P[i, k]) / E."""

    def forward(self, scores, y):
        s, t = scores[:, 0], y[:, 0]
        self.event, self.E = y[:, 1], y[:, 1].sum()
        risk = t[None, :] >= t[:, None]  # risk[i, j]: j in R_i
        e = np.where(risk, np.exp(s - s.max())[None, :], 0.0)
        self.P = e / e.sum(axis=1, keepdims=True)
        lse = np.log(e.sum(axis=1)) + s.max()
        return float(-(self.event * (s - lse)).sum() / self.E)

    def backward(self):
        return (-(self.event - self.shares()) / self.E)[:, None]

    def shares(self):
        """Σ_i δ_i P[i, k] for every k: its share of every risk set it is in."""
        return self.event @ self.P


@same_name
class CoxLossA(CoxLoss):
    def shares(self):
        return self.event * np.diag(self.P)


def survival(rng, n):
    """(time, event) per sample: distinct times, about two thirds events."""
    y = np.stack([rng.uniform(1, 5, n), (rng.random(n) < 0.65).astype(float)], axis=1)
    y[0, 1] = 1.0
    return y


class ListNetLoss(mn.Loss):
    """ListNet's top-one loss (Cao et al.) for ranking the C items of each row: the graded
    relevance y (N, C) turned into a target distribution q = softmax(y), the scores into
    p = softmax(s);  L = -mean_n Σ_c q_c log p_c;  dL/ds = (p - q)/N."""

    def forward(self, scores, y):
        self.y = y
        self.p, self.q = softmax(scores), softmax(y)
        return float(-(self.q * np.log(self.p)).sum(axis=1).mean())

    def backward(self):
        return (self.p - self.target()) / len(self.y)

    def target(self):
        """The distribution the scores are pulled toward."""
        return self.q


@same_name
class ListNetLossA(ListNetLoss):
    def target(self):
        return self.y


def relevance(rng, n, items=3):
    """Graded relevance 0..3 of every item, as floats."""
    return rng.integers(0, 4, (n, items)).astype(float)


# ---- sequences -------------------------------------------------------------------------------


class PaddedReverse(mn.Layer):
    """Each sequence reversed within its own length, the padding left in place (what a
    bidirectional RNN does before its backward direction): y[n, t] = x[n, L_n - 1 - t] for
    t < L_n, y[n, t] = x[n, t] beyond.  The permutation is its own inverse, so backward
    applies it to dout.  x, y: (N, T, D);  lengths (N,) fixed when built."""

    def __init__(self, lengths):
        super().__init__()
        self.lengths = list(lengths)

    def order(self, T):
        """order[n, t]: the step of x that y[n, t] reads."""
        return np.array([list(range(L - 1, -1, -1)) + list(range(L, T)) for L in self.lengths])

    def forward(self, x):
        self.idx = self.order(x.shape[1])[:, :, None]
        return np.take_along_axis(x, self.idx, axis=1)

    def backward(self, dout):
        return np.take_along_axis(dout, self.idx, axis=1)


@same_name
class PaddedReverseA(PaddedReverse):
    def backward(self, dout):
        return dout[:, ::-1]


class EmbeddingBag(mn.Layer):
    """torch.nn.EmbeddingBag in mean mode: each sample the mean of the rows of W its T ids
    pick, y[n] = (1/T) Σ_t W[x[n, t]].  x (N, T) ids (the model hands them over as floats)
    -> y (N, D);  W (V, D).  Backward adds dout[n]/T to the row of each of sample n's ids
    (np.add.at, since ids repeat) and returns None (ids get no gradient)."""

    def __init__(self, vocab, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(vocab, d))

    def forward(self, x):
        self.ids = np.rint(x).astype(int)
        return self.params["W"][self.ids].mean(axis=1)

    def backward(self, dout):
        T = self.ids.shape[1]
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.flat_ids(), np.repeat(dout, T, axis=0) / T)
        self.grads["W"] = dW
        return None

    def flat_ids(self):
        """The ids in the order of np.repeat(dout, T, axis=0): sample by sample."""
        return self.ids.ravel()


@same_name
class EmbeddingBagA(EmbeddingBag):
    def flat_ids(self):
        return self.ids.T.ravel()


class ElmanRNN(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b) with h_0 = 0 at every call; all T states out.
    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,).  self.hs[t] keeps h_t."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        return self.run(x, np.zeros((x.shape[0], self.hidden)))

    def run(self, x, h):
        """The T steps from the state h = h_0."""
        P = self.params
        self.x, self.hs = x, [h]
        for t in range(x.shape[1]):
            h = np.tanh(x[:, t] @ P["Wx"] + h @ P["Wh"] + P["b"])
            self.hs.append(h)
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx, dh = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.hs[t + 1] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = da @ P["Wh"].T
        return dx


@same_name
class ElmanRNNA(ElmanRNN):
    carry = None

    def forward(self, x):
        h0 = self.carry if self.carry is not None else np.zeros((x.shape[0], self.hidden))
        out = self.run(x, h0)
        self.carry = self.hs[-1]
        return out


class AntisymmetricRNN(mn.Layer):
    """AntisymmetricRNN (Chang et al.): h_t = h_{t-1} + ε tanh(h_{t-1} M + x_t V + b) with
    M = W - Wᵀ - γ I (ε = 0.5, γ = 0.1), h_0 = 0.  With dM = Σ_t h_{t-1}ᵀ da_t, W's gradient is
    dM - dMᵀ: W enters M once as itself and once transposed.
    x (N, T, D) -> (N, T, H);  W (H, H), V (D, H), b (H,)."""

    step, diffusion = 0.5, 0.1

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, W=(h, h), V=(d, h), b=(h,))

    def forward(self, x):
        P, H = self.params, self.hidden
        self.M = P["W"] - P["W"].T - self.diffusion * np.eye(H)
        h = np.zeros((len(x), H))
        self.x, self.hs, self.acts = x, [h], []
        for t in range(x.shape[1]):
            a = np.tanh(h @ self.M + x[:, t] @ P["V"] + P["b"])
            h = h + self.step * a
            self.acts.append(a)
            self.hs.append(h)
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        dM = np.zeros_like(self.M)
        dV, db = np.zeros_like(self.params["V"]), np.zeros_like(self.params["b"])
        dx, dh = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dh = dh + dout[:, t]
            da = self.step * dh * (1 - self.acts[t] ** 2)
            dM += self.hs[t].T @ da
            dV += self.x[:, t].T @ da
            db += da.sum(axis=0)
            dx[:, t] = da @ self.params["V"].T
            dh = dh + da @ self.M.T
        self.grads["V"], self.grads["b"] = dV, db
        self.grads["W"] = self.skew_grad(dM)
        return dx

    def skew_grad(self, dM):
        """dW from dL/dM, M = W - Wᵀ - γ I."""
        return dM - dM.T


@same_name
class AntisymmetricRNNA(AntisymmetricRNN):
    def skew_grad(self, dM):
        return (dM - dM.T) / 2


# ---- attention -------------------------------------------------------------------------------


class PerformerAttention(mn.Layer):
    """Performer's FAVOR+ attention (Choromanski et al.), one head, not causal: positive random
    features φ(u) = exp(u ωᵀ - ‖u‖²/2) / √m with m = 8 fixed Gaussian directions ω (drawn once,
    when built, from a seeded Generator), u = q / D^(1/4) and k / D^(1/4);
    y = φ(Q) (φ(K)ᵀ V) / (φ(Q) Σ_t φ(K)_t).  Back through φ, with g = dφ ⊙ φ:
    du = g ω - u Σ_m g.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    features = 8

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.omega = np.random.default_rng(seed + 1).standard_normal((self.features, d))

    def phi(self, u):
        sq = 0.5 * (u**2).sum(axis=-1, keepdims=True)
        return np.exp(u @ self.omega.T - sq) / np.sqrt(self.features)

    def forward(self, x):
        P = self.params
        self.x, self.c = x, x.shape[-1] ** -0.25
        self.uq, self.uk = x @ P["Wq"] * self.c, x @ P["Wk"] * self.c
        self.fq, self.fk, self.v = self.phi(self.uq), self.phi(self.uk), x @ P["Wv"]
        self.S = self.fk.transpose(0, 2, 1) @ self.v  # (N, m, D)
        self.z = self.fk.sum(axis=1)  # (N, m)
        self.num = self.fq @ self.S
        self.den = self.fq @ self.z[:, :, None]  # (N, T, 1)
        return self.num / self.den

    def backward(self, dout):
        dnum = dout / self.den
        dden = -(dout * self.num).sum(axis=-1, keepdims=True) / self.den**2
        dfq = dnum @ self.S.transpose(0, 2, 1) + dden * self.z[:, None, :]
        dS = self.fq.transpose(0, 2, 1) @ dnum
        dz = (dden * self.fq).sum(axis=1)
        dfk = self.v @ dS.transpose(0, 2, 1) + dz[:, None, :]
        dv = self.fk @ dS
        dq = self.feature_back(dfq, self.fq, self.uq) * self.c
        dk = self.feature_back(dfk, self.fk, self.uk) * self.c
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def feature_back(self, dphi, phi, u):
        """du from dφ, φ = φ(u)."""
        g = dphi * phi
        return g @ self.omega - u * g.sum(axis=-1, keepdims=True)


@same_name
class PerformerAttentionA(PerformerAttention):
    def feature_back(self, dphi, phi, u):
        return (dphi * phi) @ self.omega


def split_heads(a, heads):
    """(N, T, D) -> (N, h, T, D/h)."""
    N, T, D = a.shape
    return a.reshape(N, T, heads, D // heads).transpose(0, 2, 1, 3)


def merge_heads(a):
    """(N, h, T, d) -> (N, T, h·d)."""
    N, h, T, d = a.shape
    return a.transpose(0, 2, 1, 3).reshape(N, T, h * d)


class PlottedAttention(mn.Layer):
    """Multi-head self-attention, h = 2 heads of D/h features, then Wo; forward also keeps
    the attention weights averaged over the heads, self.attention (N, T, T), for plotting.
    Head h's values were weighted by its own P_h: dV_h = P_hᵀ dO_h.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv, Wo (D, D)."""

    heads = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d))

    def forward(self, x):
        P = self.params
        self.x = x
        self.q, self.k, self.v = (split_heads(x @ P[w], self.heads) for w in ("Wq", "Wk", "Wv"))
        self.scale = 1 / np.sqrt(self.q.shape[-1])
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)  # (N, h, T, T)
        self.attention = self.p.mean(axis=1)
        self.o = merge_heads(self.p @ self.v)
        return self.o @ P["Wo"]

    def backward(self, dout):
        P = self.params
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = split_heads(dout @ P["Wo"].T, self.heads)
        dv = self.values_back(do)
        dp = do @ self.v.swapaxes(-1, -2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            d = merge_heads(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def values_back(self, do):
        """dV, head by head: (N, h, T, d)."""
        return self.p.swapaxes(-1, -2) @ do


@same_name
class PlottedAttentionA(PlottedAttention):
    def values_back(self, do):
        return self.attention[:, None].swapaxes(-1, -2) @ do


class LinformerAttention(mn.Layer):
    """Linformer self-attention (Wang et al.), one head: the keys and the values projected
    along the time axis to k = 3 rows by learned E and F (k, T): K' = E K, V' = F V;
    S = Q K'ᵀ/√D, P = softmax(S) over the k rows, y = P V'.  Back: dK = Eᵀ dK', dV = Fᵀ dV',
    dE = Σ_n dK' Kᵀ, dF = Σ_n dV' Vᵀ.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D),
    E, F (k, T)."""

    def __init__(self, d, t, k=3, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), E=(k, t), F=(k, t))

    def forward(self, x):
        P = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        self.kp, self.vp = P["E"] @ self.k, P["F"] @ self.v  # (N, k, D)
        self.p = softmax(self.q @ self.kp.transpose(0, 2, 1) * self.scale)  # (N, T, k)
        return self.p @ self.vp

    def backward(self, dout):
        P = self.params
        dvp = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.vp.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dkp = ds @ self.kp, ds.transpose(0, 2, 1) @ self.q
        self.grads["E"] = (dkp @ self.k.transpose(0, 2, 1)).sum(axis=0)
        self.grads["F"] = (dvp @ self.v.transpose(0, 2, 1)).sum(axis=0)
        dk, dv = P["E"].T @ dkp, self.values_back(dvp)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def values_back(self, dvp):
        """dV from dV', V' = F V."""
        return self.params["F"].T @ dvp


@same_name
class LinformerAttentionA(LinformerAttention):
    def values_back(self, dvp):
        return self.params["E"].T @ dvp


class TemperedHeadsAttention(mn.Layer):
    """Multi-head self-attention, h = 2 heads, each with its own learned temperature τ_h:
    S_h = Q_h K_hᵀ / (√d τ_h), P_h = softmax(S_h), y = the heads' P_h V_h side by side (no
    output map).  dτ_h = -Σ_{n,i,j} dS_h ⊙ S_h / τ_h, over head h's own scores.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), tau (h,)."""

    heads = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.params["tau"], self.grads["tau"] = np.array([0.7, 1.4]), np.zeros(2)

    def forward(self, x):
        P = self.params
        self.x = x
        self.q, self.k, self.v = (split_heads(x @ P[w], self.heads) for w in ("Wq", "Wk", "Wv"))
        self.div = np.sqrt(self.q.shape[-1]) * P["tau"][:, None, None]  # (h, 1, 1)
        self.s = self.q @ self.k.swapaxes(-1, -2) / self.div
        self.p = softmax(self.s)
        return merge_heads(self.p @ self.v)

    def backward(self, dout):
        do = split_heads(dout, self.heads)
        dv = self.p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        self.grads["tau"] = self.temperature_grad(ds)
        dq, dk = ds @ self.k / self.div, ds.swapaxes(-1, -2) @ self.q / self.div
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            d = merge_heads(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def temperature_grad(self, ds):
        """dτ from dS, head by head."""
        return -(ds * self.s).sum(axis=(0, 2, 3)) / self.params["tau"]


@same_name
class TemperedHeadsAttentionA(TemperedHeadsAttention):
    def temperature_grad(self, ds):
        return -(ds * self.s).sum() / self.params["tau"]


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("isrlu", ACT, lambda: dense_net(ISRLUA(), seed=1401, scale=2.0),
         "backward returns the local slope dy/dx alone, never multiplied by dout: the gradient "
         "arriving from the layer above (the chain rule's outer factor) is dropped, so dx is "
         "1 or (1 + α x²)^(-3/2) whatever the loss",
         "return dout * np.where(self.x >= 0, 1.0, self.inv**3)"),
    Case("elish", ACT, lambda: dense_net(ELiSHA(), seed=1402, scale=2.0),
         "dx is divided by the batch size N = x.shape[0] = 6, as a mean loss would be; the "
         "layer is entrywise, forward averages nothing, so dx = dout · dy/dx with no 1/N",
         "return dout * slope"),
    Case("sine-unit", ACT, lambda: dense_net(SineUnitA(5), seed=1403, scale=2.0),
         "dφ multiplies by x as dω does (the line copied): φ is added inside the sine, "
         "d(ωx + φ)/dφ = 1, so dφ = Σ_n dout cos(ωx + φ) without the x (dω and dx are right)",
         "return g.sum(axis=0)"),
    Case("pact", ACT, lambda: dense_net(PACTA(5), seed=1404, scale=2.0),
         "dα collects dout from every entry outside (0, α), the ones clipped at 0 as well "
         "(~inside); only the entries held at the ceiling, x >= α, move with α, so the x <= 0 "
         "entries must give dα nothing (dx is right)",
         "return self.x >= self.params['alpha']"),
    Case("pact-correct", ACT, lambda: dense_net(PACT(5), seed=1405, scale=2.0), CORRECT),
    Case("squared-relu", ACT, lambda: dense_net(SquaredReLUA(), seed=1406, scale=2.0),
         "np.max(self.x, 0) is the maximum over axis 0, one number per feature (the batch's "
         "largest x in that column), not the entrywise np.maximum(self.x, 0): every entry, the "
         "negative ones too, gets the slope 2·(its column's max) where 2 max(x, 0) belongs",
         "return dout * 2 * np.maximum(self.x, 0)"),
    Case("chebyshev-kan", DENSE,
         lambda: dense_net(ChebyshevKANA(5, 4, seed=1407), seed=1407, scale=1.5),
         "T_k'(u) is written k T_{k-1}(u), as if T_k were the power u^k; the Chebyshev "
         "polynomial's derivative is k U_{k-1}(u), of the second kind: T_2' = 4u, not 2u, and "
         "T_3' = 12u² - 3, not 6u² - 3 (dC and db are right)",
         "dT.append(2 * T[..., k] + 2 * u * dT[k] - dT[k - 1])  # the recurrence, differentiated"),
    Case("graph-conv", DENSE,
         lambda: dense_net(GraphConvA(5, 4, GRAPH, 6, seed=1408), seed=1408),
         "dx goes back through the aggregation with Â where its adjoint is Âᵀ: the graph is "
         "undirected, but the mean aggregation D⁻¹(A + I) divides each row by its node's "
         "degree, so Â is not symmetric (node 0 has 3 neighbours, its leaves 1 and 2 have 1) (dW "
         "and db are right)",
         "return self.adj.T @ d"),
    Case("tropical-dense", DENSE,
         lambda: dense_net(TropicalDenseA(5, 4, seed=1409), seed=1409),
         "backward takes each output's winner as argmax_d x_d, the largest input, where "
         "forward's max was over x_d + W_df: the weights are left out of the comparison, so "
         "every output routes its gradient (in dx and dW) to the same input (db is right)",
         "return self.win  # argmax over d of x[:, :, None] + W, kept by forward"),
    Case("filter-response-norm", NORM,
         lambda: image_net(FilterResponseNormA(3), channels=3, seed=1410),
         "dgamma and dbeta are summed from dz, the gradient above the TLU z = max(y, τ), where "
         "only the entries with y > τ pass it on to y: they must be summed from dz ⊙ (y > τ), "
         "as dx is (dτ and dx are right)",
         "self.grads['gamma'] = (dy * self.xhat).sum(axis=(0, 2, 3)); "
         "self.grads['beta'] = dy.sum(axis=(0, 2, 3))"),
    Case("gdn", NORM, lambda: image_net(GDNA(3, seed=1411), channels=3, seed=1411),
         "dx's cross term sums γ[k, i] q_i (γ's row k) where x_k enters s_i through γ[i, k] "
         "(column k): dx_k = dout_k/s_k - x_k Σ_i γ_ik dout_i x_i / s_i³; γ is not symmetric, "
         "so it must be transposed in that sum (dβ and dγ are right)",
         "return np.einsum('ik,nihw->nkhw', self.params['gamma'], q)"),
    Case("gdn-correct", NORM, lambda: image_net(GDN(3, seed=1412), channels=3, seed=1412),
         CORRECT),
    Case("weighted-batchnorm", NORM,
         lambda: dense_net(WeightedBatchNormA(5, [1, 2, 3, 1, 2, 3]), seed=1413),
         "backward's correction terms are the plain batch means, 1/N for every sample, where "
         "forward's statistics weight sample n by w̃_n = w_n/Σw: dx_n = (dx̂_n - w̃_n Σ dx̂ - "
         "w̃_n x̂_n Σ dx̂ x̂)/σ (dgamma and dbeta are right)",
         "return (dxhat - w * dxhat.sum(axis=0) - w * xhat * (dxhat * xhat).sum(axis=0)) / "
         "self.std"),
    Case("partial-conv", CONV,
         lambda: image_net(PartialConvA(3, 2, HOLES, seed=1414), seed=1414),
         "backward leaves out the renormalization r = 9/(valid pixels in the window) that "
         "forward multiplied each window's sum by: dW and dx miss that factor, which here is "
         "1.5 or more in every window (3 in the corners) (db is right)",
         "return dout * self.ratio"),
    Case("turned-kernel-conv", CONV,
         lambda: image_net(TurnedKernelConvA(3, 3, seed=1415), channels=3, seed=1415),
         "np.flip(W) without axes reverses all four axes: besides turning each 3×3 kernel by "
         "180° it reverses the output and the input channels, so dx of channel c uses the "
         "kernel of W[F-1-f, C-1-c]; only the spatial axes may be flipped, axis=(2, 3) (it "
         "runs since C = F; dW and db are right)",
         "return np.flip(self.params['W'], axis=(2, 3)).transpose(1, 0, 2, 3)"),
    Case("maxpool-unpool", POOL,
         lambda: image_net(MaxPoolUnpoolA(), channels=3, seed=1416),
         "unpooling's backward max-pools dout, taking each window's largest gradient, where it "
         "must gather dout at the remembered position of the window's maximum (self.idx), the "
         "one place forward put the pooled value back",
         "return np.take_along_axis(windows(dout), self.idx, axis=-1)[..., 0]"),
    Case("blur-pool", POOL, lambda: image_net(BlurPoolA(), channels=3, seed=1417),
         "backward rebuilds the blur kernel as outer([1, 2, 1], [1, 2, 1]) / 4, normalized "
         "once, where forward's separable kernel is divided by 4 along each axis, 16 in all "
         "(Σ K = 1): dx comes out 4 times too large",
         "K = self.kernel()  # np.outer(k, k) with k = [1, 2, 1] / 4"),
    Case("mdn-nll", LOSS,
         lambda: loss_net(MixtureDensityNLLA(), reals, width=6, seed=1418, scale=1.5),
         "dμ_k weights the component's pull z_k/σ_k by its prior weight π_k = softmax(a)_k "
         "where the posterior responsibility γ_k = π_k N(y; μ_k, σ_k)/Σ_j π_j N(y; μ_j, σ_j) "
         "belongs (the mixing logits and the log-scales use γ and are right)",
         "return self.resp"),
    Case("cox-loss", LOSS, lambda: loss_net(CoxLossA(), survival, width=1, seed=1419,
                                            scale=2.0),
         "s_k is in the risk set of every event i with t_i <= t_k, but backward gives it only "
         "the term of its own risk set, δ_k P[k, k]: the sum Σ_i δ_i P[i, k] over all those "
         "events is cut to i = k, and the censored samples get none of it",
         "return self.event @ self.P"),
    Case("listnet", LOSS, lambda: loss_net(ListNetLossA(), relevance, seed=1420, scale=2.0),
         "backward subtracts the raw relevance grades y where the loss's target distribution "
         "is their softmax q = softmax(y): dL/ds = (softmax(s) - softmax(y))/N",
         "return self.q"),
    Case("padded-reverse", SEQ,
         lambda: sequence_net(PaddedReverseA([4, 2, 3, 1]), seed=1421),
         "backward flips all T steps of dout (dout[:, ::-1]) where forward reversed each "
         "sequence within its own length and left its padding in place: in every sequence "
         "shorter than T the gradients land on the wrong steps (only the full-length one is "
         "right)",
         "return np.take_along_axis(dout, self.idx, axis=1)"),
    Case("embedding-bag", SEQ, lambda: classifier(
        [EmbeddingBagA(6, 3, seed=1422)],
        np.random.default_rng(1422).integers(0, 6, (4, 5)).astype(float), seed=1422),
         "the ids are flattened time-major (ids.T.ravel()) while the gradients are repeated "
         "sample-major (np.repeat(dout, T, axis=0)): the two orders do not match, so the "
         "tokens' rows of W receive other samples' dout/T",
         "return self.ids.ravel()"),
    Case("stateful-rnn", SEQ, lambda: sequence_net(ElmanRNNA(4, 3, seed=1423), seed=1423),
         "forward starts each call from the last hidden state of the previous call (kept in "
         "self.carry, as a stateful RNN does across batches) instead of h_0 = 0: the output is "
         "not a function of x and the weights alone, every call sees another h_0, so no "
         "gradient can match (backward is right for the h_0 of the last call)",
         "return self.run(x, np.zeros((x.shape[0], self.hidden)))"),
    Case("antisymmetric-rnn", SEQ,
         lambda: sequence_net(AntisymmetricRNNA(4, 3, seed=1424), seed=1424),
         "W enters M = W - Wᵀ - γI twice, so dW = dM - dMᵀ; backward halves it, "
         "(dM - dMᵀ)/2, the gradient of a skew part (W - Wᵀ)/2 that forward did not use: dW is "
         "half of what it should be (dV, db and dx are right)",
         "return dM - dM.T"),
    Case("performer-attention", ATTN,
         lambda: sequence_net(PerformerAttentionA(4, seed=1425), seed=1425),
         "the feature map φ(u) = exp(u ωᵀ - ‖u‖²/2)/√m is differentiated through u ωᵀ only: "
         "the -‖u‖²/2 term's share, -u Σ_m (dφ ⊙ φ), is missing. For a query it is a factor "
         "that cancels between numerator and denominator, so dQ comes out right; for the keys it "
         "does not cancel: dK, hence dWk and dx, are wrong (dV is right)",
         "g = dphi * phi; return g @ self.omega - u * g.sum(axis=-1, keepdims=True)"),
    Case("performer-attention-correct", ATTN,
         lambda: sequence_net(PerformerAttention(4, seed=1426), seed=1426), CORRECT),
    Case("head-averaged-attention", ATTN,
         lambda: sequence_net(PlottedAttentionA(4, seed=1427), seed=1427),
         "dV is built from self.attention, the weights averaged over the heads that forward "
         "kept for plotting, where each head's values were weighted by that head's own P_h: "
         "dV_h = P_hᵀ dO_h (dQ, dK and dWo are right)",
         "return self.p.swapaxes(-1, -2) @ do"),
    Case("linformer", ATTN, lambda: sequence_net(LinformerAttentionA(4, 4, seed=1428),
                                                 seed=1428),
         "dV goes back through the keys' projection, Eᵀ dV', where the values were projected "
         "by F: dV = Fᵀ dV' (dE, dF, dQ and dK are right)",
         "return self.params['F'].T @ dvp"),
    Case("tempered-heads-attention", ATTN,
         lambda: sequence_net(TemperedHeadsAttentionA(4, seed=1429), seed=1429),
         "dτ sums dS ⊙ S over every head at once (.sum() with no axis), so each τ_h gets the "
         "total of both heads (divided by its own τ_h), where it must sum its own head's "
         "scores only, axis=(0, 2, 3) (dx and the weights are right)",
         "return -(ds * self.s).sum(axis=(0, 2, 3)) / self.params['tau']"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
