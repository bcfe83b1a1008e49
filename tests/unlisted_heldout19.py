"""The nineteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. About half the mistakes are in the mathematics
(which derivative, which chain-rule terms, which quantity is differentiated) and half in the
code's structure (numpy's operators and defaults, indexing, slicing, loops, caches).
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

# ---- activations -----------------------------------------------------------------------------


class ModArg(mn.Layer):
    """A polar unit: the features are taken in pairs as complex numbers z = a + ib and put out
    in polar form, the even features becoming the modulus r = |z| = √(a² + b²) and the odd ones
    the argument θ = atan2(b, a).  Backward: r grows along the radius, dr/d(a, b) = (a, b)/r,
    and θ across it, dθ/d(a, b) = (-b, a)/r².  x, y: (N, D), D even."""

    def forward(self, x):
        self.a, self.b = x[:, 0::2], x[:, 1::2]
        self.r = np.hypot(self.a, self.b)
        y = np.empty_like(x)
        y[:, 0::2] = self.r
        y[:, 1::2] = np.arctan2(self.b, self.a)
        return y

    def backward(self, dout):
        dr, dth = dout[:, 0::2], dout[:, 1::2]
        ga, gb = self.angle_grad()
        dx = np.empty_like(dout)
        dx[:, 0::2] = dr * self.a / self.r + dth * ga
        dx[:, 1::2] = dr * self.b / self.r + dth * gb
        return dx

    def angle_grad(self):
        """(dθ/da, dθ/db)."""
        r2 = self.r**2
        return -self.b / r2, self.a / r2


@same_name
class ModArgA(ModArg):
    def angle_grad(self):
        r2 = self.r**2
        return self.a / r2, self.b / r2


class TableActivation(mn.Layer):
    """An activation given by a table, as a spline activation is left after training: the
    values v at the knots -3, -2, ..., 3, joined by straight lines (np.interp) and flat beyond
    the end knots.  Its slope is that of the segment x lies in, (v[i+1] - v[i])/(k[i+1] - k[i]),
    found with np.searchsorted, and 0 beyond the ends.  x, y: (N, D)."""

    knots = np.linspace(-3.0, 3.0, 7)
    values = np.array([-1.0, -0.9, -0.4, 0.0, 0.6, 0.8, 1.5])

    def forward(self, x):
        self.x = x
        return np.interp(x, self.knots, self.values)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        k, v, x = self.knots, self.values, self.x
        inside = (x > k[0]) & (x < k[-1])
        i = np.clip(np.searchsorted(k, x) - 1, 0, len(k) - 2)
        return inside * np.diff(v)[i] / np.diff(k)[i]


@same_name
class TableActivationA(TableActivation):
    def slope(self):
        k, v, x = self.knots, self.values, self.x
        inside = (x > k[0]) & (x < k[-1])
        return inside * np.interp(x, k, np.gradient(v, k))


class StairReLU(mn.Layer):
    """A sum of three shifted ReLUs, y = Σ_k max(x - t_k, 0) with t = (-1, 0, 1): a convex
    staircase whose slope is the number of thresholds below x, 0, 1, 2 or 3, counted by adding
    up the three comparisons.  x, y: (N, D)."""

    thresholds = (-1.0, 0.0, 1.0)

    def forward(self, x):
        self.x = x
        return sum(np.maximum(x - t, 0) for t in self.thresholds)

    def backward(self, dout):
        x = self.x
        slope = (x > -1).astype(float) + (x > 0) + (x > 1)
        return dout * slope


@same_name
class StairReLUA(StairReLU):
    def backward(self, dout):
        x = self.x
        slope = (x > -1) + (x > 0) + (x > 1)
        return dout * slope


class HardShrink(mn.Layer):
    """y = x where |x| > λ, 0 elsewhere, λ = 0.5.  Backward finds the kept entries with
    np.where and copies dout there; the others get 0.  x, y: (N, D)."""

    lam = 0.5

    def forward(self, x):
        self.x = x
        return np.where(np.abs(x) > self.lam, x, 0.0)

    def backward(self, dout):
        idx = np.where(np.abs(self.x) > self.lam)
        dx = np.zeros_like(dout)
        dx[idx] = dout[idx]
        return dx


@same_name
class HardShrinkA(HardShrink):
    def backward(self, dout):
        idx = np.where(np.abs(self.x) > self.lam)[0]
        dx = np.zeros_like(dout)
        dx[idx] = dout[idx]
        return dx


# ---- dense-like ------------------------------------------------------------------------------


class FixedPointDense(mn.Layer):
    """An implicit (deep-equilibrium) layer: its output is the fixed point of
    z = tanh(z W + x U + b), found by iterating from z = 0 (W is kept small, so the map
    contracts).  Backward differentiates the fixed point (the implicit function theorem): with
    s = 1 - z², the gradient u solves u = dout + (u ⊙ s) Wᵀ, iterated as forward iterates;
    then da = u ⊙ s gives dW = zᵀ da, dU = xᵀ da, db = Σ da and dx = da Uᵀ.
    x (N, D) -> (N, H);  W (H, H), U (D, H), b (H,)."""

    iters = 80

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W=(h, h), U=(d, h), b=(h,))
        self.params["W"] *= 0.3

    def forward(self, x):
        P = self.params
        self.x = x
        drive = x @ P["U"] + P["b"]
        z = np.zeros((len(x), len(P["W"])))
        for _ in range(self.iters):
            z = np.tanh(z @ P["W"] + drive)
        self.z = z
        return z

    def backward(self, dout):
        s = 1 - self.z**2
        da = self.fixed_point_grad(dout, s) * s
        self.grads["W"] = self.z.T @ da
        self.grads["U"] = self.x.T @ da
        self.grads["b"] = da.sum(axis=0)
        return da @ self.params["U"].T

    def fixed_point_grad(self, dout, s):
        """dL/dz through every round of the map: u = dout + (u ⊙ s) Wᵀ."""
        u = dout
        for _ in range(self.iters):
            u = dout + (u * s) @ self.params["W"].T
        return u


@same_name
class FixedPointDenseA(FixedPointDense):
    def fixed_point_grad(self, dout, s):
        return dout


class GrowthDense(mn.Layer):
    """A DenseNet-style layer for feature vectors: the input is passed on and F new features are
    appended, y = [x, tanh(x W + b)].  x (N, D) -> (N, D + F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        self.h = np.tanh(x @ self.params["W"] + self.params["b"])
        return np.concatenate([x, self.h], axis=1)

    def backward(self, dout):
        D = self.x.shape[1]
        dz = dout[:, D:] * (1 - self.h**2)
        self.grads["W"] = self.x.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        return dout[:, :D] + dz @ self.params["W"].T


@same_name
class GrowthDenseA(GrowthDense):
    def backward(self, dout):
        D = self.x.shape[1]
        dz = dout[:, D:] * (1 - self.h**2)
        self.grads["W"] = self.x.T * dz
        self.grads["b"] = dz.sum(axis=0)
        return dout[:, :D] + dz @ self.params["W"].T


class HashedDense(mn.Layer):
    """HashedNets (Chen et al.): the D·F weights share K = 8 values w through a fixed random
    hash h (D, F) of bucket indices, drawn once when the layer is built: W = w[h], y = x W + b.
    dw adds up G = xᵀ dout bucket by bucket, np.bincount(h, weights=G, minlength=K).
    x (N, D) -> (N, F);  w (K,), b (F,)."""

    buckets = 8

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, w=(self.buckets,), b=(f,))
        self.h = np.random.default_rng(seed).integers(0, self.buckets, (d, f))

    def forward(self, x):
        self.x = x
        return x @ self.params["w"][self.h] + self.params["b"]

    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["w"] = np.bincount(self.h.ravel(), weights=G.ravel(),
                                      minlength=len(self.params["w"]))
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["w"][self.h].T


@same_name
class HashedDenseA(HashedDense):
    def backward(self, dout):
        G = self.x.T @ dout
        self.grads["w"] = np.bincount(self.h.ravel(), weights=G.ravel())
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["w"][self.h].T


# ---- normalization ---------------------------------------------------------------------------


class SplitLayerNorm(mn.Layer):
    """Layer normalization of each group of features on its own: the D = 6 features are split
    into G = 2 groups of 3 (np.split(x, G, axis=1)), each standardized over its own features,
    x̂ = (x - μ_g)/σ_g, then y = γ x̂ + β.  Backward takes each group back with the layer-norm
    formula and joins the groups' gradients side by side again.
    x, y: (N, D);  gamma, beta (D,)."""

    groups, eps = 2, 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.6, 1.4, d), "beta": np.linspace(-0.3, 0.3, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        parts, self.stds = [], []
        for p in np.split(x, self.groups, axis=1):
            std = np.sqrt(p.var(axis=1, keepdims=True) + self.eps)
            self.stds.append(std)
            parts.append((p - p.mean(axis=1, keepdims=True)) / std)
        self.xhat = np.concatenate(parts, axis=1)
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxh = np.split(dout * self.params["gamma"], self.groups, axis=1)
        xh = np.split(self.xhat, self.groups, axis=1)
        dxs = [(d - d.mean(axis=1, keepdims=True) - h * (d * h).mean(axis=1, keepdims=True)) / s
               for d, h, s in zip(dxh, xh, self.stds)]
        return self.join(dxs)

    def join(self, dxs):
        """The groups' gradients, (N, 3) each, back into one (N, D)."""
        return np.concatenate(dxs, axis=1)


@same_name
class SplitLayerNormA(SplitLayerNorm):
    def join(self, dxs):
        return np.concatenate(dxs).reshape(len(dxs[0]), -1)


class SegmentNorm(mn.Layer):
    """Normalization of short stretches of a sequence: the T steps are cut into segments of
    S = 2, and each segment of each sequence is standardized feature by feature over its own
    steps, x̂ = (x - μ)/σ, then y = γ x̂ + β.  Both directions loop over the segments' first
    steps s = 0, S, 2S, ... and slice s:s + S.  x, y: (N, T, D), T a multiple of S;
    gamma, beta (D,)."""

    size, eps = 2, 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.7, 1.3, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        S = self.size
        self.xhat, self.std = np.empty_like(x), np.empty_like(x)
        for s in range(0, x.shape[1], S):
            seg = x[:, s:s + S]
            self.std[:, s:s + S] = np.sqrt(seg.var(axis=1, keepdims=True) + self.eps)
            self.xhat[:, s:s + S] = (seg - seg.mean(axis=1, keepdims=True)) / self.std[:, s:s + S]
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        S = self.size
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dxh = dout * self.params["gamma"]
        dx = np.zeros_like(dout)
        for s in range(0, dout.shape[1], S):
            d, h = dxh[:, s:s + S], self.xhat[:, s:s + S]
            dx[:, s:s + S] = (d - d.sum(axis=1, keepdims=True) / S
                              - h * (d * h).sum(axis=1, keepdims=True) / S) / self.std[:, s:s + S]
        return dx


@same_name
class SegmentNormA(SegmentNorm):
    def backward(self, dout):
        S = self.size
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dxh = dout * self.params["gamma"]
        dx = np.zeros_like(dout)
        for s in range(0, dout.shape[1], S):
            d, h = dxh[:, s:S], self.xhat[:, s:S]
            dx[:, s:S] = (d - d.sum(axis=1, keepdims=True) / S
                          - h * (d * h).sum(axis=1, keepdims=True) / S) / self.std[:, s:S]
        return dx


class Squash(mn.Layer):
    """CapsNet's squash (Sabour et al.) on capsules of 3 features: each capsule vector s keeps
    its direction and gets the length g(r) = r²/(1 + r²) < 1, r = ‖s‖, that is v = c(r) s with
    the scale c(r) = g(r)/r = r/(1 + r²).  Backward:
    ds = c dout + (c'(r)/r) s (s · dout), c'(r) = (1 - r²)/(1 + r²)².
    x, y: (N, D), D a multiple of 3."""

    size = 3

    def forward(self, x):
        N, D = x.shape
        self.s = x.reshape(N, D // self.size, self.size)
        self.r = np.linalg.norm(self.s, axis=-1, keepdims=True)
        return (self.scale(self.r) * self.s).reshape(N, D)

    def scale(self, r):
        """c(r) = g(r)/r."""
        return r / (1 + r**2)

    def backward(self, dout):
        g = dout.reshape(self.s.shape)
        r = self.r
        along = (self.s * g).sum(axis=-1, keepdims=True)
        ds = self.scale(r) * g + self.dscale(r) / r * self.s * along
        return ds.reshape(dout.shape)

    def dscale(self, r):
        """c'(r)."""
        return (1 - r**2) / (1 + r**2) ** 2


@same_name
class SquashA(Squash):
    def dscale(self, r):
        return 2 * r / (1 + r**2) ** 2


# ---- convolution and pooling -----------------------------------------------------------------


class ValidConv(mn.Layer):
    """A 3×3 convolution without padding, stride 1, written with loops: H' = H - 2.  dW from
    the input windows; dx as the full correlation of dout with the kernels turned by 180°:
    dout is zero-padded by k - 1 = 2 rows and columns on each side (doutp), and every input
    pixel gathers Σ_f doutp[n, f, window] · rot180(W[f, c]), looping over samples and filters.
    x (N, C, H, W) -> (N, F, H - 2, W - 2);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        k = W.shape[-1]
        self.x = x
        N, _, H, Wd = x.shape
        out = np.zeros((N, len(W), H - k + 1, Wd - k + 1))
        for i, j in np.ndindex(*out.shape[2:]):
            out[:, :, i, j] = np.einsum("nckl,fckl->nf", x[:, :, i:i + k, j:j + k], W)
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        k = W.shape[-1]
        dW = np.zeros_like(W)
        for i, j in np.ndindex(*dout.shape[2:]):
            dW += np.einsum("nf,nckl->fckl", dout[:, :, i, j], self.x[:, :, i:i + k, j:j + k])
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return self.full_correlation(dout)

    def full_correlation(self, dout):
        """dL/dx by full correlation with the turned kernels."""
        W = self.params["W"]
        k = W.shape[-1]
        turned = W[:, :, ::-1, ::-1]
        doutp = np.pad(dout, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))
        dx = np.zeros_like(self.x)
        for n, f in np.ndindex(*dout.shape[:2]):
            for i, j in np.ndindex(*dx.shape[2:]):
                dx[n, :, i, j] += np.einsum("kl,ckl->c", doutp[n, f, i:i + k, j:j + k], turned[f])
        return dx


@same_name
class ValidConvA(ValidConv):
    def full_correlation(self, dout):
        W = self.params["W"]
        k = W.shape[-1]
        turned = W[:, :, ::-1, ::-1]
        doutp = np.pad(dout, k - 1)
        dx = np.zeros_like(self.x)
        for n, f in np.ndindex(*dout.shape[:2]):
            for i, j in np.ndindex(*dx.shape[2:]):
                dx[n, :, i, j] += np.einsum("kl,ckl->c", doutp[n, f, i:i + k, j:j + k], turned[f])
        return dx


class AvgPool3(mn.Layer):
    """3×3 average pooling at stride 3, non-overlapping windows, by a reshape.  Backward spreads
    each window's gradient evenly over its 9 pixels, np.repeat along the rows and the columns,
    divided by k² = 9.  x (N, C, H, W), H and W multiples of 3 -> (N, C, H/3, W/3)."""

    k = 3

    def forward(self, x):
        N, C, H, W = x.shape
        k = self.k
        return x.reshape(N, C, H // k, k, W // k, k).mean(axis=(3, 5))

    def backward(self, dout):
        k = self.k
        return np.repeat(np.repeat(dout, k, axis=2), k, axis=3) / k**2


@same_name
class AvgPool3A(AvgPool3):
    def backward(self, dout):
        k = self.k
        return np.repeat(np.repeat(dout, k, axis=2), k, axis=3) / (k ^ 2)


class QuantilePool(mn.Layer):
    """Pooling by the upper quartile: each 2×2 window (stride 2) is put out as its 0.75-quantile
    with np.quantile's default linear interpolation: of 4 sorted entries it sits at rank
    0.75 · 3 = 2.25, that is 0.75 of the third smallest plus 0.25 of the largest.  Backward
    shares each window's gradient between those two entries with the same weights, through the
    argsort kept by forward.  x (N, C, H, W) -> (N, C, H/2, W/2)."""

    q = 0.75

    @staticmethod
    def windows(x):
        """(N, C, H, W) -> (N, C, H/2, W/2, 4): each 2×2 window in a row."""
        N, C, H, W = x.shape
        return (x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
                .reshape(N, C, H // 2, W // 2, 4))

    def forward(self, x):
        self.shape = x.shape
        win = self.windows(x)
        self.order = np.argsort(win, axis=-1)
        return np.quantile(win, self.q, axis=-1)

    def backward(self, dout):
        pos = self.q * 3
        lo = int(pos)
        g = np.zeros(self.order.shape)
        np.put_along_axis(g, self.order, dout[..., None] * self.rank_weights(lo, pos - lo),
                          axis=-1)
        N, C, H, W = self.shape
        return (g.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
                .reshape(self.shape))

    def rank_weights(self, lo, frac):
        """d(quantile)/d(the r-th smallest entry), r = 0..3."""
        w = np.zeros(4)
        w[lo], w[lo + 1] = 1 - frac, frac
        return w


@same_name
class QuantilePoolA(QuantilePool):
    def rank_weights(self, lo, frac):
        w = np.zeros(4)
        w[lo] = 1.0
        return w


# ---- losses ----------------------------------------------------------------------------------


class OneVsRestLoss(mn.Loss):
    """The one-vs-rest logistic loss with integer labels: every class is a binary problem of its
    own, L = mean_n Σ_c BCE(σ(s_nc), t_nc) with t the one-hot of y, that is
    Σ_c log(1 + e^s) - s_y per sample.  dL/ds = (σ(s) - t)/N: σ(s), minus 1 at each sample's
    own label.  scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        own = scores[np.arange(len(y)), y]
        return float((np.logaddexp(0, scores).sum(axis=1) - own).mean())

    def backward(self):
        g = sigmoid(self.s)
        g[np.arange(len(self.y)), self.y] -= 1
        return g / len(self.y)


@same_name
class OneVsRestLossA(OneVsRestLoss):
    def backward(self):
        g = sigmoid(self.s)
        g[self.y] -= 1
        return g / len(self.y)


class UniformityLoss(mn.Loss):
    """The uniformity loss of contrastive learning (Wang and Isola) on embeddings s (N, E): the
    log of the mean Gaussian potential over the pairs, L = log mean_{i<j} exp(-t ‖s_i - s_j‖²),
    t = 2, each unordered pair once (np.triu_indices(N, 1)).  Backward puts dL/dD_ij = -t w_ij
    (w the pairs' normalized potentials) in the upper triangle of an (N, N) array, adds its
    transpose (D_ij moves both s_i and s_j) and goes back through D_ij = ‖s_i - s_j‖².
    scores (N, E), y not used -> float."""

    t = 2.0

    def forward(self, scores, y):
        self.s = scores
        self.D = ((scores[:, None] - scores[None]) ** 2).sum(axis=-1)
        self.iu = np.triu_indices(len(scores), 1)
        e = np.exp(-self.t * self.D[self.iu])
        self.w = e / e.sum()
        return float(np.log(e.mean()))

    def backward(self):
        dD = self.pair_grad()
        G = dD + dD.T
        return 2 * (G.sum(axis=1)[:, None] * self.s - G @ self.s)

    def pair_grad(self):
        """dL/dD_ij for the pairs i < j, in the upper triangle; zeros elsewhere."""
        dD = np.zeros_like(self.D)
        dD[self.iu] = -self.t * self.w
        return dD


@same_name
class UniformityLossA(UniformityLoss):
    def pair_grad(self):
        e = np.exp(-self.t * self.D)
        np.fill_diagonal(e, 0)
        return -self.t * e / e[self.iu].sum()


def logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


class ChainCRF(mn.Loss):
    """The negative log-likelihood of a linear-chain CRF over label sequences: the scores
    (N, T, C) are the unaries and A (C, C) fixed transition scores, drawn once when built;
    score(y) = Σ_t s[t, y_t] + Σ_t A[y_{t-1}, y_t] and L = mean_n (log Z_n - score(y_n)), Z
    summing exp(score) over all C^T label sequences (forward recursion α in log space).
    dL/ds = (marginals - onehot(y))/N, the marginals P(y_t = c) = exp(α_t + β_t - log Z) from
    the forward and backward recursions.  scores (N, T, C), y (N, T) labels -> float."""

    def __init__(self, classes=3, seed=0):
        self.A = np.random.default_rng(seed).standard_normal((classes, classes))

    def forward(self, scores, y):
        self.s, self.y = scores, y
        N, T, _ = scores.shape
        alpha, beta = np.empty_like(scores), np.zeros_like(scores)
        alpha[:, 0] = scores[:, 0]
        for t in range(1, T):
            alpha[:, t] = scores[:, t] + logsumexp(alpha[:, t - 1, :, None] + self.A, axis=1)
        for t in range(T - 2, -1, -1):
            beta[:, t] = logsumexp(self.A + (scores[:, t + 1] + beta[:, t + 1])[:, None], axis=2)
        self.alpha, self.beta = alpha, beta
        self.logZ = logsumexp(alpha[:, -1], axis=1)
        gold = (scores[np.arange(N)[:, None], np.arange(T), y].sum(axis=1)
                + self.A[y[:, :-1], y[:, 1:]].sum(axis=1))
        return float((self.logZ - gold).mean())

    def backward(self):
        N, T, _ = self.s.shape
        onehot = np.zeros_like(self.s)
        onehot[np.arange(N)[:, None], np.arange(T), self.y] = 1
        return (self.marginals() - onehot) / N

    def marginals(self):
        """P(y_t = c | x), (N, T, C)."""
        return np.exp(self.alpha + self.beta - self.logZ[:, None, None])


@same_name
class ChainCRFA(ChainCRF):
    def marginals(self):
        return softmax(self.s, axis=-1)


def tag_sequences(rng, n, steps=4, classes=3):
    return rng.integers(0, classes, (n, steps))


class EnsembleMSE(mn.Loss):
    """The squared error of an ensemble's mean prediction: the K = 3 scores of a sample are
    three members' predictions, averaged before the error is taken,
    L = mean_n (mean_k s_nk - y_n)².  dL/ds_nk = 2 (s̄_n - y_n)/(N K), the same for every
    member of a sample.  scores (N, K), y (N,) -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.err = scores.mean(axis=1) - y
        return float(np.mean(self.err**2))

    def backward(self):
        N, K = self.s.shape
        return np.repeat(2 * self.err[:, None] / (N * K), K, axis=1)


@same_name
class EnsembleMSEA(EnsembleMSE):
    def backward(self):
        N, K = self.s.shape
        return 2 * (self.s - self.y[:, None]) / (N * K)


def reals(rng, n):
    return rng.standard_normal(n)


class ModifiedHuber(mn.Loss):
    """The modified Huber loss for labels ±1 (scikit-learn's): with the margin m = y s,
    L = max(0, 1 - m)² where m >= -1 and -4m below, averaged over the samples.  Backward goes
    over the samples with an if/else on the margin: -2y max(0, 1 - m)/N or -4y/N.
    scores (N, 1), y (N,) ±1 -> float."""

    def forward(self, scores, y):
        self.y = y
        self.m = y * scores[:, 0]
        m = self.m
        return float(np.where(m >= -1, np.maximum(0, 1 - m) ** 2, -4 * m).mean())

    def backward(self):
        N = len(self.y)
        g = np.zeros(N)
        for n in range(N):
            if self.m[n] >= -1:
                g[n] = -2 * self.y[n] * max(0.0, 1 - self.m[n])
            else:
                g[n] = -4 * self.y[n]
        return (g / N)[:, None]


@same_name
class ModifiedHuberA(ModifiedHuber):
    def backward(self):
        N = len(self.y)
        g = np.zeros(N)
        for n in range(N):
            if self.m[n] >= -1:
                g[n] = -2 * self.y[n] * max(0.0, 1 - self.m[n])
        else:
            g[n] = -4 * self.y[n]
        return (g / N)[:, None]


# ---- sequences -------------------------------------------------------------------------------


class ReversibleForgetRNN(mn.Layer):
    """A QRNN-style recurrence whose gates read the input only (fo-pooling, Bradbury et al.):
    f_t = σ(x_t Wf + bf), z_t = tanh(x_t Wz + bz), h_t = f_t ⊙ h_{t-1} + (1 - f_t) ⊙ z_t,
    h_{-1} = 0.  To save memory forward keeps f, z and the last state only; backward recomputes
    the earlier states as it goes back by undoing the update,
    h_{t-1} = (h_t - (1 - f_t) ⊙ z_t)/f_t.  x (N, T, D) -> (N, T, H);  Wf, Wz (D, H),
    bf, bz (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wf=(d, h), Wz=(d, h), bf=(h,), bz=(h,))

    def forward(self, x):
        P = self.params
        self.x = x
        self.f = sigmoid(x @ P["Wf"] + P["bf"])
        self.z = np.tanh(x @ P["Wz"] + P["bz"])
        h = np.zeros((x.shape[0], self.f.shape[2]))
        out = np.empty_like(self.f)
        for t in range(x.shape[1]):
            h = self.f[:, t] * h + (1 - self.f[:, t]) * self.z[:, t]
            out[:, t] = h
        self.h_last = h
        return out

    def backward(self, dout):
        P = self.params
        df, dz = np.zeros_like(self.f), np.zeros_like(self.z)
        h, g = self.h_last, np.zeros_like(self.h_last)
        for t in reversed(range(self.x.shape[1])):
            f, z = self.f[:, t], self.z[:, t]
            g = g + dout[:, t]
            h_prev = self.undo(h, f, z)
            df[:, t] = g * (h_prev - z)
            dz[:, t] = g * (1 - f)
            g, h = g * f, h_prev
        daf, daz = df * self.f * (1 - self.f), dz * (1 - self.z**2)
        self.grads["Wf"], self.grads["bf"] = rows(self.x).T @ rows(daf), daf.sum(axis=(0, 1))
        self.grads["Wz"], self.grads["bz"] = rows(self.x).T @ rows(daz), daz.sum(axis=(0, 1))
        return daf @ P["Wf"].T + daz @ P["Wz"].T

    def undo(self, h, f, z):
        """h_{t-1} from h_t."""
        return (h - (1 - f) * z) / f


@same_name
class ReversibleForgetRNNA(ReversibleForgetRNN):
    def undo(self, h, f, z):
        return h - (1 - f) * z


class TimeSort(mn.Layer):
    """Sorts every feature's values over the time steps, an order-free sequence encoder (as
    SortPooling does): y[n, :, d] = sort(x[n, :, d]).  Backward sends each rank's gradient back
    to the step that held that value, dx[n, order[k], d] = dout[n, k, d], with the argsort kept
    by forward (np.put_along_axis).  x, y: (N, T, D)."""

    def forward(self, x):
        self.order = np.argsort(x, axis=1)
        return np.take_along_axis(x, self.order, axis=1)

    def backward(self, dout):
        dx = np.zeros_like(dout)
        np.put_along_axis(dx, self.order, dout, axis=1)
        return dx


@same_name
class TimeSortA(TimeSort):
    def backward(self, dout):
        return dout.copy()


class UGRNN(mn.Layer):
    """The update-gate RNN (Collins et al.): a candidate c = tanh(a_c) and a gate g = σ(a_g)
    with [a_c, a_g] = x_t Wx + h_{t-1} Wh + b, and h_t = g ⊙ h_{t-1} + (1 - g) ⊙ c,
    h_{-1} = 0.  Forward caches (h_{t-1}, c, g) for every step.
    x (N, T, D) -> (N, T, H);  Wx (D, 2H), Wh (H, 2H), b (2H,), blocks c, g."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 2 * h), Wh=(h, 2 * h), b=(2 * h,))

    def forward(self, x):
        P, H = self.params, self.hidden
        h = np.zeros((x.shape[0], H))
        self.x, self.cache, hs = x, [], []
        for t in range(x.shape[1]):
            a = x[:, t] @ P["Wx"] + h @ P["Wh"] + P["b"]
            c, g = np.tanh(a[:, :H]), sigmoid(a[:, H:])
            self.cache.append((h, c, g))
            h = g * h + (1 - g) * c
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        return dx

    def step_back(self, t, dh):
        """Back through step t: dh_t -> (dx_t, dh_{t-1}), adding to grads."""
        P = self.params
        h_prev, c, g = self.cache[t]
        dac = self.candidate_back(dh * (1 - g), c)
        dag = dh * (h_prev - c) * g * (1 - g)
        da = np.concatenate([dac, dag], axis=1)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += h_prev.T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ P["Wx"].T, dh * g + da @ P["Wh"].T

    def candidate_back(self, dc, c):
        """Back through c = tanh(a_c), c as cached."""
        return dc * (1 - c**2)


@same_name
class UGRNNA(UGRNN):
    def candidate_back(self, dc, c):
        return dc * (1 - np.tanh(c) ** 2)


class SCRN(mn.Layer):
    """The structurally constrained RNN (Mikolov et al.): a slow context state
    s_t = (1 - α) x_t B + α s_{t-1}, α = 0.9 fixed, and a fast state
    h_t = tanh(s_t P + x_t A + h_{t-1} R), h_{-1} = s_{-1} = 0; the output is [h_t, s_t] side
    by side.  Backward runs t = T - 1, ..., 0, carries dh and ds, and collects each step's dx_t
    in a list, which is put back into time order before it is stacked.
    x (N, T, D) -> (N, T, H + S);  B (D, S), P (S, H), A (D, H), R (H, H)."""

    alpha = 0.9

    def __init__(self, d, h, s, seed=0):
        super().__init__()
        self.hidden, self.slow = h, s
        with_params(self, seed, B=(d, s), P=(s, h), A=(d, h), R=(h, h))

    def forward(self, x):
        W, a = self.params, self.alpha
        N, T, _ = x.shape
        self.x = x
        self.hs = np.zeros((N, T + 1, self.hidden))
        self.ss = np.zeros((N, T + 1, self.slow))
        for t in range(T):
            self.ss[:, t + 1] = (1 - a) * x[:, t] @ W["B"] + a * self.ss[:, t]
            self.hs[:, t + 1] = np.tanh(self.ss[:, t + 1] @ W["P"] + x[:, t] @ W["A"]
                                        + self.hs[:, t] @ W["R"])
        return np.concatenate([self.hs[:, 1:], self.ss[:, 1:]], axis=2)

    def backward(self, dout):
        W, a, H = self.params, self.alpha, self.hidden
        zero_grads(self)
        dh, ds = np.zeros((len(dout), H)), np.zeros((len(dout), self.slow))
        dxs = []
        for t in reversed(range(self.x.shape[1])):
            x_t = self.x[:, t]
            da = (dh + dout[:, t, :H]) * (1 - self.hs[:, t + 1] ** 2)
            ds = ds + dout[:, t, H:] + da @ W["P"].T
            self.grads["A"] += x_t.T @ da
            self.grads["R"] += self.hs[:, t].T @ da
            self.grads["P"] += self.ss[:, t + 1].T @ da
            self.grads["B"] += (1 - a) * x_t.T @ ds
            dxs.append(da @ W["A"].T + (1 - a) * ds @ W["B"].T)
            dh, ds = da @ W["R"].T, a * ds
        return self.stack(dxs)

    def stack(self, dxs):
        """The steps' dx_t, collected from the last step to the first, as (N, T, D)."""
        return np.stack(dxs[::-1], axis=1)


@same_name
class SCRNA(SCRN):
    def stack(self, dxs):
        return np.stack(dxs, axis=1)


# ---- attention -------------------------------------------------------------------------------


def qkv_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of Q, K, V = x Wq, x Wk, x Wv and returns their paths' dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


class BiasedSelfAttention(mn.Layer):
    """Single-head self-attention with biased projections, Q = x Wq + bq, K = x Wk,
    V = x Wv + bv (no key bias: it would add q·bk to a whole row of scores, which the softmax
    ignores); P = softmax(Q Kᵀ/√D) over the keys, computed with the usual shift by each row's
    largest score (a softmax does not change when its row is shifted by a constant); y = P V.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), bq, bv (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), bq=(d,), bv=(d,))

    def forward(self, x):
        P = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = x @ P["Wq"] + P["bq"], x @ P["Wk"], x @ P["Wv"] + P["bv"]
        self.p = self.weights(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        return self.p @ self.v

    def weights(self, s):
        """softmax(s) over the keys, the last axis."""
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        self.grads["bq"], self.grads["bv"] = dq.sum(axis=(0, 1)), dv.sum(axis=(0, 1))
        return qkv_back(self, dq, dk, dv)


@same_name
class BiasedSelfAttentionA(BiasedSelfAttention):
    def weights(self, s):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


class AttentionBranch(mn.Layer):
    """The attention sub-layer of a transformer block, without the block's skip connection (the
    model adds x back outside it, in a Residual): y = softmax(Q Kᵀ/√D) V Wo with
    Q, K, V = x Wq, x Wk, x Wv.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv, Wo (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        self.o = self.p @ self.v
        return self.o @ self.params["Wo"]

    def backward(self, dout):
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = dout @ self.params["Wo"].T
        p = self.p
        dv = p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        dx = qkv_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)
        return dx


@same_name
class AttentionBranchA(AttentionBranch):
    def backward(self, dout):
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = dout @ self.params["Wo"].T
        p = self.p
        dv = p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        dx = qkv_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)
        return dx + dout


class TwoTemperatureAttention(mn.Layer):
    """Self-attention whose weights mix a sharp and a smooth softmax of the same scores:
    P = (softmax(S/τ1) + softmax(S/τ2))/2 with τ = (0.5, 2), S = Q Kᵀ/√D; y = P V.  Back
    through the mixture, each softmax with its own weights P_k and its own temperature:
    dS = Σ_k P_k ⊙ (dP - Σ_keys dP ⊙ P_k) / (2 τ_k).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    taus = (0.5, 2.0)

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.ps = [softmax(s / tau) for tau in self.taus]
        self.p = sum(self.ps) / len(self.taus)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.swapaxes(-1, -2) @ dout
        ds = self.scores_back(dout @ self.v.swapaxes(-1, -2)) * self.scale
        return qkv_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def scores_back(self, dp):
        """dL/dS from dL/dP."""
        return sum(p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / (len(self.taus) * tau)
                   for p, tau in zip(self.ps, self.taus))


@same_name
class TwoTemperatureAttentionA(TwoTemperatureAttention):
    def scores_back(self, dp):
        p, inv = self.p, np.mean([1 / tau for tau in self.taus])
        return inv * p * (dp - (dp * p).sum(axis=-1, keepdims=True))


class LocalAttention(mn.Layer):
    """Sliding-window self-attention: the query at step t attends to the keys at t - 1, t and
    t + 1 only.  The window is an additive mask, 0 inside and -1e9 outside, added to
    S = Q Kᵀ/√D before the softmax; backward zeroes dS outside the window with the matching
    0/1 mask, (self.mask == 0).  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        steps = np.arange(T)
        self.mask = np.where(np.abs(steps[:, None] - steps[None]) <= 1, 0.0, -1e9)
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale + self.mask)
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = self.window(p * (dp - (dp * p).sum(axis=-1, keepdims=True))) * self.scale
        return qkv_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def window(self, ds):
        """dS with the entries outside the window set to 0."""
        return ds * (self.mask == 0)


@same_name
class LocalAttentionA(LocalAttention):
    def window(self, ds):
        return ds * self.mask


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("modarg_19", ACT, lambda: dense_net(ModArgA(), width=6, seed=1901, scale=2.0),
         "dθ/d(a, b) of the argument θ = atan2(b, a) is written (a, b)/r², the gradient of "
         "log r, which points along the radius; the angle changes across the radius, so its "
         "gradient is the perpendicular (-b, a)/r²: every pair's dx gets the angle's share "
         "turned by 90° (the modulus's share dr (a, b)/r is right)",
         "return -self.b / r2, self.a / r2"),
    Case("table-activation_19", ACT, lambda: dense_net(TableActivationA(), seed=1902, scale=2.0),
         "the slope is interpolated from np.gradient(values, knots), the central differences "
         "at the knots (each the mean of its two neighbouring segments' slopes, one-sided at "
         "the ends), the slope of a smoother curve; the derivative of np.interp's broken line "
         "is the slope of the segment x lies in, constant between two knots, "
         "(v[i+1] - v[i])/(k[i+1] - k[i]) with i from np.searchsorted (the entries beyond the "
         "end knots, slope 0, are right)",
         "i = np.clip(np.searchsorted(k, x) - 1, 0, len(k) - 2); "
         "return inside * np.diff(v)[i] / np.diff(k)[i]"),
    Case("stair-relu_19", ACT, lambda: dense_net(StairReLUA(), seed=1903, scale=2.0),
         "numpy adds boolean arrays with a logical or: (x > -1) + (x > 0) + (x > 1) stays a "
         "boolean array, True wherever at least one threshold is passed, so the slope comes "
         "out 1 where it is 2 (0 < x < 1) or 3 (x > 1); casting the first comparison to float, "
         "(x > -1).astype(float) + ..., makes the sum count (the entries below 0 are right)",
         "slope = (x > -1).astype(float) + (x > 0) + (x > 1)"),
    Case("hardshrink_19", ACT, lambda: dense_net(HardShrinkA(), seed=1904, scale=2.0),
         "np.where on the 2-D mask returns a tuple (rows, columns); [0] keeps the row indices "
         "alone, and dx[idx] = dout[idx] then copies whole rows: every entry of a row with at "
         "least one |x| > λ gets its dout, the entries inside [-λ, λ] too, whose slope is 0 "
         "(here every row has one, so dx = dout); the tuple must index as it is",
         "idx = np.where(np.abs(self.x) > self.lam)"),
    Case("fixed-point-dense_19", DENSE,
         lambda: dense_net(FixedPointDenseA(5, 4, seed=1905), seed=1905),
         "backward takes the gradient of a single application of the map, u = dout, as if the "
         "z on the right of z = tanh(z W + x U + b) were a constant input; z is the map's "
         "fixed point and moves with W, U, b and x, so the gradient must first solve "
         "u = dout + (u ⊙ (1 - z²)) Wᵀ (the factor (I - J)⁻¹ of the implicit function "
         "theorem) before da = u ⊙ (1 - z²): dW, dU, db and dx all miss it",
         "u = dout; for _ in range(self.iters): u = dout + (u * s) @ self.params['W'].T; "
         "return u"),
    Case("fixed-point-dense-correct_19", DENSE,
         lambda: dense_net(FixedPointDense(5, 4, seed=1931), seed=1931), CORRECT),
    Case("growth-dense_19", DENSE, lambda: dense_net(GrowthDenseA(6, 6, seed=1906), width=6,
                                                     seed=1906),
         "self.x.T * dz multiplies entry by entry: the (D, N) and (N, F) arrays happen to have "
         "the same shape here (N = D = F = 6), so it runs and gives dW[i, j] = "
         "x[j, i] dz[i, j], where dW sums over the samples, the matrix product "
         "self.x.T @ dz (db and dx are right)",
         "self.grads['W'] = self.x.T @ dz"),
    Case("hashed-dense_19", DENSE, lambda: dense_net(HashedDenseA(5, 4, seed=1939), seed=1907),
         "np.bincount returns max(h) + 1 counts, not one per bucket: no weight of this hash "
         "falls into the last bucket, 7, so dw comes out with 7 entries where w has 8; "
         "minlength=len(w) keeps the unused buckets, whose gradient is 0 (the 7 sums it has "
         "are right, and so are db and dx)",
         "self.grads['w'] = np.bincount(self.h.ravel(), weights=G.ravel(), "
         "minlength=len(self.params['w']))"),
    Case("split-layernorm_19", NORM, lambda: dense_net(SplitLayerNormA(6), width=6, seed=1908),
         "np.concatenate joins along axis 0 unless told otherwise: the two groups' (N, 3) "
         "gradients are stacked under each other, (2N, 3), and .reshape(N, -1) runs but fills "
         "sample n's row with rows 2n and 2n + 1 of the stack (sample 0 gets group 0's "
         "gradients of samples 0 and 1, sample 3 group 1's of samples 0 and 1), where axis=1 "
         "puts each sample's two groups side by side (dgamma and dbeta are right)",
         "return np.concatenate(dxs, axis=1)"),
    Case("segment-norm_19", NORM, lambda: sequence_net(SegmentNormA(4), seed=1909),
         "the slices are written s:S, with the segment's length S = 2 as their end, where the "
         "end is the index s + S: the first segment (s = 0) is right, but for s = 2 the slice "
         "2:2 is empty, so steps 2 and 3 never get their gradient and dx stays 0 there "
         "(dgamma and dbeta, summed outside the loop, are right)",
         "d, h = dxh[:, s:s + S], self.xhat[:, s:s + S]; dx[:, s:s + S] = (...) / "
         "self.std[:, s:s + S]"),
    Case("squash_19", NORM, lambda: dense_net(SquashA(), width=6, seed=1910),
         "the correction along s uses the derivative of the squashed length "
         "g(r) = r²/(1 + r²), 2r/(1 + r²)², where v = c(r) s is scaled by "
         "c(r) = g(r)/r = r/(1 + r²), whose derivative is c'(r) = (1 - r²)/(1 + r²)²: "
         "ds = c dout + (c'(r)/r) s (s · dout) (the term c dout is right)",
         "return (1 - r**2) / (1 + r**2) ** 2"),
    Case("valid-conv_19", CONV, lambda: image_net(ValidConvA(3, 3, seed=1911), seed=1911),
         "np.pad(dout, k - 1) pads every axis by 2, the samples and the channels too, not the "
         "rows and columns alone: doutp[n, f] is then padding for n < 2 or f < 2 and "
         "dout[n - 2, f - 2] otherwise, so only samples 2 and 3 get a gradient, samples 0 and "
         "1's channel 0 through the kernels of channel 2, and the rest of dx is 0; the pad "
         "widths must leave the first two axes alone, ((0, 0), (0, 0), (2, 2), (2, 2)) (dW "
         "and db are right)",
         "doutp = np.pad(dout, ((0, 0), (0, 0), (k - 1, k - 1), (k - 1, k - 1)))"),
    Case("avgpool3_19", POOL, lambda: image_net(AvgPool3A(), size=(6, 6), seed=1912),
         "k ^ 2 is Python's bitwise exclusive or, not a power: 3 ^ 2 = 1 (binary 11 xor 10 = "
         "01), so each window's gradient is divided by 1 where the mean over the 3 × 3 window "
         "divides by k**2 = 9: dx is 9 times too large",
         "return np.repeat(np.repeat(dout, k, axis=2), k, axis=3) / k**2"),
    Case("quantile-pool_19", POOL, lambda: image_net(QuantilePoolA(), seed=1913),
         "np.quantile interpolates between two order statistics: the 0.75-quantile of a "
         "window's 4 entries sits at rank 2.25, 0.75 of the third smallest plus 0.25 of the "
         "largest, so its gradient is shared 0.75/0.25 between those two entries; "
         "rank_weights gives the whole of it to the third smallest (rank ⌊2.25⌋ = 2), as for "
         "a quantile that is a single entry (np.quantile's method='lower'), and the largest "
         "gets nothing",
         "w[lo], w[lo + 1] = 1 - frac, frac"),
    Case("quantile-pool-correct_19", POOL, lambda: image_net(QuantilePool(), seed=1933),
         CORRECT),
    Case("one-vs-rest_19", LOSS, lambda: loss_net(OneVsRestLossA(), labels, seed=1914,
                                                  scale=2.0),
         "g[self.y] -= 1 indexes rows, the samples numbered like the labels: it takes 1 from "
         "every class of samples 0, 1 and 2 (once each, however often their number occurs "
         "among the labels) and samples 3 to 5 keep σ(s) alone, where the target's 1 belongs "
         "at each sample's own label, g[np.arange(N), y]",
         "g[np.arange(len(self.y)), self.y] -= 1"),
    Case("uniformity_19", LOSS, lambda: loss_net(UniformityLossA(), labels, seed=1915,
                                                 scale=2.0),
         "forward counts every unordered pair once (i < j), but pair_grad fills dL/dD in both "
         "triangles, (i, j) and (j, i), and backward then adds the transpose as well, so each "
         "pair's gradient enters G = dD + dDᵀ twice: the gradient comes out twice as large; "
         "dL/dD belongs in the upper triangle alone, and the transpose spreads it to both "
         "s_i and s_j",
         "dD = np.zeros_like(self.D); dD[self.iu] = -self.t * self.w; return dD"),
    Case("chain-crf_19", LOSS, lambda: loss_net(ChainCRFA(seed=1916), tag_sequences, seed=1916,
                                                scale=2.0, t=4),
         "the marginals P(y_t = c | x) are taken as each step's own softmax(s_t), which leaves "
         "out the transition scores A: log Z sums over whole label sequences and A couples "
         "neighbouring steps, so the marginals need the forward and backward recursions, "
         "exp(α_t + β_t - log Z)",
         "return np.exp(self.alpha + self.beta - self.logZ[:, None, None])"),
    Case("chain-crf-correct_19", LOSS, lambda: loss_net(ChainCRF(seed=1932), tag_sequences,
                                                        seed=1932, scale=2.0, t=4), CORRECT),
    Case("ensemble-mse_19", LOSS, lambda: loss_net(EnsembleMSEA(), reals, seed=1917,
                                                   scale=1.5),
         "backward gives each member 2 (s_k - y)/(N K), the gradient of the mean of the "
         "members' squared errors, mean_k (s_k - y)²; the loss squares the error of their "
         "mean, (mean_k s_k - y)², so every member of a sample gets the same "
         "2 (s̄ - y)/(N K): the square of a mean is not the mean of the squares",
         "return np.repeat(2 * self.err[:, None] / (N * K), K, axis=1)"),
    Case("modified-huber_19", LOSS, lambda: loss_net(ModifiedHuberA(), signs, width=1,
                                                     seed=1920, scale=3.0),
         "the else is indented at the level of the for, not of the if: a for loop's else runs "
         "once, after the loop, so the samples with y s < -1 (samples 3 and 4) never get "
         "their -4y/N (g stays 0 there) and the last sample, whose margin is 4.17, gets -4y/N "
         "in place of its own 0; the else belongs to the if, inside the loop",
         "else (under the if, inside the loop): g[n] = -4 * self.y[n]"),
    Case("reversible-rnn_19", SEQ,
         lambda: sequence_net(ReversibleForgetRNNA(4, 3, seed=1919), seed=1919),
         "the previous state is recomputed by undoing h_t = f ⊙ h_{t-1} + (1 - f) ⊙ z without "
         "the division by f: h_t - (1 - f) ⊙ z is f ⊙ h_{t-1}, not h_{t-1}, and the error "
         "compounds going back, so the gate's gradient g ⊙ (h_{t-1} - z) reads wrong states: "
         "dWf, dbf and the gate's part of dx are wrong (dWz, dbz and the carried gradient "
         "g ⊙ f are right)",
         "return (h - (1 - f) * z) / f"),
    Case("time-sort_19", SEQ, lambda: sequence_net(TimeSortA(), seed=1918),
         "backward returns dout as it came, as if sorting were the identity: sorting only "
         "moves the values, so the gradient of the k-th smallest must go back to the step "
         "that held it, dx[order[k]] = dout[k] (np.put_along_axis with forward's argsort); "
         "here each step gets the gradient of whichever rank sits at its position",
         "dx = np.zeros_like(dout); np.put_along_axis(dx, self.order, dout, axis=1); "
         "return dx"),
    Case("ugrnn_19", SEQ, lambda: sequence_net(UGRNNA(4, 3, seed=1921), seed=1921),
         "the cache holds c = tanh(a_c), the candidate itself, and candidate_back takes tanh "
         "of it once more: 1 - tanh²(c) where tanh's slope at a_c is 1 - c² (the candidate's "
         "half of da is wrong, and with it dWx, dWh, db, dx and the carried gradient; the "
         "gate's half is right)",
         "return dc * (1 - c**2)"),
    Case("scrn_19", SEQ, lambda: sequence_net(SCRNA(4, 3, 2, seed=1922), seed=1922),
         "the loop runs t = T - 1, ..., 0 and appends each step's dx_t, so the list holds "
         "dx_{T-1} first; np.stack(dxs, axis=1) puts it at step 0 without reversing the list: "
         "every step receives the mirrored step's gradient, dx_{T-1-t} (the weight gradients "
         "are right)",
         "return np.stack(dxs[::-1], axis=1)"),
    Case("biased-attention_19", ATTN,
         lambda: sequence_net(BiasedSelfAttentionA(4, seed=1927), seed=1927),
         "the shift before np.exp is the maximum over axis=1, the queries, one number m_j per "
         "key, where it must be constant along the axis the softmax normalizes, the keys "
         "(axis=-1): with e^(s_ij - m_j) every key's weight is scaled by its own e^(-m_j), so "
         "forward's P is not softmax(S), the function backward differentiates (P no longer "
         "even depends on bq, whose term bq · k_j shifts a whole column)",
         "e = np.exp(s - s.max(axis=-1, keepdims=True))"),
    Case("attention-branch_19", ATTN,
         lambda: sequence_net(AttentionBranchA(4, seed=1924), seed=1924),
         "backward adds dout to dx, an identity path the branch does not have: forward is "
         "y = softmax(Q Kᵀ/√D) V Wo alone, the skip connection x + ... is added outside the "
         "layer, so dx must be the paths through Q, K and V only (the weight gradients are "
         "right)",
         "return dx"),
    Case("two-temperature-attention_19", ATTN,
         lambda: sequence_net(TwoTemperatureAttentionA(4, seed=1925), seed=1925),
         "backward takes one softmax Jacobian at the mixed weights P = (P1 + P2)/2 with the "
         "mean inverse temperature, (1/τ)‾ P ⊙ (dP - Σ dP ⊙ P); the Jacobian of a mixture is "
         "the mixture of the Jacobians, each softmax at its own P_k with its own 1/τ_k: "
         "dS = Σ_k P_k ⊙ (dP - Σ dP ⊙ P_k)/(2 τ_k) (dWv and the values' path are right)",
         "return sum(p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / (len(self.taus) * tau) "
         "for p, tau in zip(self.ps, self.taus))"),
    Case("local-attention_19", ATTN,
         lambda: sequence_net(LocalAttentionA(4, seed=1926), seed=1926),
         "self.mask is the additive mask, 0 inside the window and -1e9 outside; multiplying "
         "dS by it zeroes dS at every entry inside the window (the ones outside are 0 "
         "already, P is 0 there), so dQ and dK, hence dWq, dWk and their part of dx, come out "
         "0; the 0/1 mask that keeps the window is (self.mask == 0) (dWv and the values' path "
         "are right)",
         "return ds * (self.mask == 0)"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
