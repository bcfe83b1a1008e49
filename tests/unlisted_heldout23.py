"""The twenty-third held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. About half the mistakes are in the mathematics
(the fundamental theorem of calculus, the derivative of a special function, a tied or a
reused parameter, a statistic of a prefix, the variable a derivative is taken against) and
half in the code's structure (numpy's signatures and defaults, views that are copies, views
that overlap, dict and string keys, the order of a loop, habits from torch); in three of them
forward computes something other than what backward differentiates (a count, a trace, ...).
"""

from __future__ import annotations

import math

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

lgamma = np.vectorize(math.lgamma, otypes=[float])


def reverse_cumsum(a, axis=1):
    """Σ_{s >= t} a_s along the axis: the sum over every later position, the position itself
    included."""
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)


def projections_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of Q, K, V = x Wq, x Wk, x Wv and returns their paths' dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


# ---- activations -----------------------------------------------------------------------------


def sine_integral(x, terms=40):
    """Si(x) = ∫_0^x sin(t)/t dt by its power series Σ_k (-1)^k x^(2k+1) / ((2k+1)·(2k+1)!)."""
    term, total = x.copy(), x.copy()  # k = 0: x / (1 · 1!)
    for k in range(1, terms):
        term = -term * x**2 / ((2 * k) * (2 * k + 1))  # (-1)^k x^(2k+1) / (2k+1)!
        total += term / (2 * k + 1)
    return total


class SineIntegral(mn.Layer):
    """The sine integral as an activation, a smooth, bounded, gently oscillating ramp:
    y = Si(x) = ∫_0^x sin(t)/t dt.  x is the upper limit of the integral, so by the
    fundamental theorem of calculus dy/dx is the integrand at x, sin(x)/x, which is
    np.sinc(x/π) (numpy's sinc is the normalized one).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return sine_integral(x)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        """dy/dx."""
        return np.sinc(self.x / np.pi)


@same_name
class SineIntegralA(SineIntegral):
    def slope(self):
        x = self.x
        return (x * np.cos(x) - np.sin(x)) / x**2


def bessel_i1(x, terms=30):
    """The modified Bessel function I1(x) = Σ_k (x/2)^(2k+1) / (k! (k+1)!)."""
    term = x / 2
    total = term.copy()
    for k in range(1, terms):
        term = term * (x / 2) ** 2 / (k * (k + 1))
        total += term
    return total


class LogBesselI0(mn.Layer):
    """The log-partition of the von Mises distribution as an activation, a smooth |x| that is
    x²/4 near 0 and grows like |x| far out: y = log I0(x), with numpy's modified Bessel
    function np.i0.  The modified Bessel functions satisfy I0' = I1 (the ordinary ones have
    J0' = -J1), so dy/dx = I1(x)/I0(x), an odd function with the sign of x.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.i0 = np.i0(x)
        return np.log(self.i0)

    def backward(self, dout):
        return dout * self.di0() / self.i0

    def di0(self):
        """dI0/dx at x."""
        return bessel_i1(self.x)


@same_name
class LogBesselI0A(LogBesselI0):
    def di0(self):
        return -bessel_i1(self.x)


class ShrinkClip(mn.Layer):
    """A soft shrink and a clip in one: 0 in the dead zone |x| <= λ, x - λ·sign(x) beyond it,
    held at ±(c - λ) once |x| >= c (λ = 0.5, c = 2); continuous, with slope 1 where
    -c < x < c and |x| > λ and 0 elsewhere.  x, y: (N, D)."""

    lam, c = 0.5, 2.0

    def forward(self, x):
        self.x = x
        a = np.clip(np.abs(x), self.lam, self.c) - self.lam
        return np.sign(x) * a

    def backward(self, dout):
        x = self.x
        return dout * ((x > -self.c) & (x < self.c) & (np.abs(x) > self.lam))


@same_name
class ShrinkClipA(ShrinkClip):
    def backward(self, dout):
        x = self.x
        return dout * np.logical_and(x > -self.c, x < self.c, np.abs(x) > self.lam)


class BiSlopeELU(mn.Layer):
    """An ELU with a learned scale on each side, per feature: y = a_pos x where x > 0 and
    a_neg (eˣ - 1) elsewhere; da_pos = Σ_{x > 0} dout x, da_neg = Σ_{x <= 0} dout (eˣ - 1),
    both taken in one loop over the two sides.  x, y: (N, D);  a_pos, a_neg (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a_pos": np.linspace(0.8, 1.4, d), "a_neg": np.linspace(1.5, 0.5, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, self.params["a_pos"] * x, self.params["a_neg"] * np.expm1(x))

    def backward(self, dout):
        x = self.x
        for side, mask, piece in (("pos", x > 0, x), ("neg", x <= 0, np.expm1(x))):
            self.grads["a_" + side] = (dout * mask * piece).sum(axis=0)
        return dout * np.where(x > 0, self.params["a_pos"], self.params["a_neg"] * np.exp(x))


@same_name
class BiSlopeELUA(BiSlopeELU):
    def backward(self, dout):
        x = self.x
        for side, mask, piece in (("pos", x > 0, x), ("neg", x <= 0, np.expm1(x))):
            self.grads["a" + side] = (dout * mask * piece).sum(axis=0)
        return dout * np.where(x > 0, self.params["a_pos"], self.params["a_neg"] * np.exp(x))


# ---- dense-like ------------------------------------------------------------------------------


class BilinearUnit(mn.Layer):
    """A gated unit without a nonlinearity (the bilinear GLU of Shazeer 2020, no biases):
    y = (x Wa) ⊙ (x Wb).  Backward zeroes both gradients, then adds each branch's term:
    dWa = xᵀ (dout ⊙ x Wb), dWb = xᵀ (dout ⊙ x Wa), and dx gets both branches.
    x (N, D) -> (N, H);  Wa, Wb (D, H)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wa=(d, h), Wb=(d, h))

    def forward(self, x):
        self.x = x
        self.a, self.b = x @ self.params["Wa"], x @ self.params["Wb"]
        return self.a * self.b

    def backward(self, dout):
        zero_grads(self)
        da, db = dout * self.b, dout * self.a
        self.grads["Wa"] += self.x.T @ da
        self.grads["Wb"] += self.x.T @ db
        return da @ self.params["Wa"].T + db @ self.params["Wb"].T


@same_name
class BilinearUnitA(BilinearUnit):
    def backward(self, dout):
        self.grads = dict.fromkeys(self.params, np.zeros_like(self.params["Wa"]))
        da, db = dout * self.b, dout * self.a
        self.grads["Wa"] += self.x.T @ da
        self.grads["Wb"] += self.x.T @ db
        return da @ self.params["Wa"].T + db @ self.params["Wb"].T


class CirculantDense(mn.Layer):
    """A dense layer whose square weight matrix is circulant, D parameters instead of D²:
    C[i, j] = w[(j - i) mod D], every row the one above turned right by one, y = x C + b.
    w_k sits in D entries of C, one per row, so dw_k = Σ_i dC[i, (i + k) mod D] with
    dC = xᵀ dout.  x (N, D) -> (N, D);  w, b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, w=(d,), b=(d,))
        self.idx = (np.arange(d)[None, :] - np.arange(d)[:, None]) % d

    def forward(self, x):
        self.x = x
        self.C = self.params["w"][self.idx]
        return x @ self.C + self.params["b"]

    def backward(self, dout):
        self.grads["w"] = self.tied_grad(self.x.T @ dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.C.T

    def tied_grad(self, dC):
        """dw from dC: each w_k collects its D entries."""
        return np.bincount(self.idx.ravel(), weights=dC.ravel(), minlength=len(self.idx))


@same_name
class CirculantDenseA(CirculantDense):
    def tied_grad(self, dC):
        return dC[0]


class SoftMoE(mn.Layer):
    """A soft mixture of E = 2 experts: each expert e is affine, z_e = x W_e + b_e, and a
    softmax gate g = softmax(x Wg) weighs them, y = Σ_e g_e z_e.  The experts' weights are
    stacked (E, D, F); backward finds all their gradients in one product xᵀ dZ with the
    experts side by side, (D, E·F), and puts that back in W's layout.
    x (N, D) -> (N, F);  W (E, D, F), b (E, F), Wg (D, E)."""

    def __init__(self, d, f, experts=2, seed=0):
        super().__init__()
        with_params(self, seed, W=(experts, d, f), b=(experts, f), Wg=(d, experts))

    def forward(self, x):
        self.x = x
        self.z = np.einsum("nd,edf->nef", x, self.params["W"]) + self.params["b"]
        self.g = softmax(x @ self.params["Wg"])
        return np.einsum("ne,nef->nf", self.g, self.z)

    def backward(self, dout):
        dz = self.g[:, :, None] * dout[:, None, :]  # (N, E, F)
        self.grads["W"] = self.expert_grads(dz)
        self.grads["b"] = dz.sum(axis=0)
        dg = (self.z * dout[:, None, :]).sum(axis=2)
        da = self.g * (dg - (dg * self.g).sum(axis=1, keepdims=True))
        self.grads["Wg"] = self.x.T @ da
        return np.einsum("nef,edf->nd", dz, self.params["W"]) + da @ self.params["Wg"].T

    def expert_grads(self, dz):
        """dW (E, D, F) from dZ (N, E, F)."""
        N, E, F = dz.shape
        D = self.x.shape[1]
        return (self.x.T @ dz.reshape(N, E * F)).reshape(D, E, F).transpose(1, 0, 2)


@same_name
class SoftMoEA(SoftMoE):
    def expert_grads(self, dz):
        N, E, F = dz.shape
        D = self.x.shape[1]
        dW = np.zeros_like(self.params["W"])
        dW.transpose(1, 0, 2).reshape(D, E * F)[:] = self.x.T @ dz.reshape(N, E * F)
        return dW


# ---- normalization ---------------------------------------------------------------------------


class PowerBatchNorm(mn.Layer):
    """Batch normalization with a partial standardization: each feature centred over the batch
    and divided by v^α, v = var + eps, with α = 0.3 instead of the square root's 1/2 (the
    scale is only partly taken out), then gamma x̂ + beta.  With c = x - μ and
    d = dout ⊙ gamma: dv = -α Σ d c v^(-α-1), dv/dx = 2c/N, so
    dx = v^(-α) (d - mean(d)) - 2α c mean(d c) v^(-α-1).  x (N, D);  gamma, beta (D,)."""

    alpha, eps = 0.3, 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.c = x - x.mean(axis=0)
        self.v = (self.c**2).mean(axis=0) + self.eps
        self.s = self.v**-self.alpha
        self.xhat = self.c * self.s
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return self.dx(dout * self.params["gamma"])

    def dx(self, d):
        return (self.s * (d - d.mean(axis=0))
                - 2 * self.alpha * self.c * (d * self.c).mean(axis=0) * self.s / self.v)


@same_name
class PowerBatchNormA(PowerBatchNorm):
    def dx(self, d):
        xhat = self.xhat
        return self.s * (d - d.mean(axis=0) - xhat * (d * xhat).mean(axis=0))


class CausalNorm(mn.Layer):
    """Streaming normalization of a sequence: each feature standardized at step t by the mean
    and variance of steps 0..t only (what is known online), μ_t = mean_{s<=t} x_s,
    m_t = mean_{s<=t} x_s², σ_t = √(m_t - μ_t² + eps), then gamma x̂ + beta.  x_s enters the
    statistics of step s and of every later step, each with weight 1/(t + 1), so its
    gradient sums over t >= s: dx_s = dx̂_s/σ_s + Σ_{t>=s} (dμ_t + 2 x_s dm_t)/(t + 1).
    x (N, T, D) -> (N, T, D);  gamma, beta (D,)."""

    eps = 0.1

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(0.1, -0.1, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        self.count = np.arange(1, x.shape[1] + 1)[None, :, None]
        self.mu = np.cumsum(x, axis=1) / self.count
        self.sd = np.sqrt(np.cumsum(x**2, axis=1) / self.count - self.mu**2 + self.eps)
        self.xhat = (x - self.mu) / self.sd
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        d = dout * self.params["gamma"]
        dvar = -0.5 * (d * self.xhat / self.sd**2)
        dmu = -d / self.sd - 2 * self.mu * dvar
        return (d / self.sd + self.later(dmu / self.count)
                + 2 * self.x * self.later(dvar / self.count))

    def later(self, a):
        """Σ_{t >= s} a_t for every step s."""
        return reverse_cumsum(a, axis=1)


@same_name
class CausalNormA(CausalNorm):
    def later(self, a):
        return a


class ChannelLayerNorm(mn.Layer):
    """LayerNorm over the features of each sample: μ and σ² the mean and variance of its D
    features (sums divided by D), x̂ = (x - μ)/√(σ² + eps), then gamma x̂ + beta;
    dx = (dx̂ - mean(dx̂) - x̂ mean(dx̂ ⊙ x̂))/σ.  x (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.6, 1.4, d), "beta": np.linspace(-0.1, 0.1, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        D = x.shape[1]
        mu = x.sum(axis=1, keepdims=True) / D
        self.sd = np.sqrt(((x - mu) ** 2).sum(axis=1, keepdims=True) / D + self.eps)
        self.xhat = (x - mu) / self.sd
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        d, xhat = dout * self.params["gamma"], self.xhat
        return (d - d.mean(axis=1, keepdims=True)
                - xhat * (d * xhat).mean(axis=1, keepdims=True)) / self.sd


@same_name
class ChannelLayerNormA(ChannelLayerNorm):
    def forward(self, x):
        D = x.size
        mu = x.sum(axis=1, keepdims=True) / D
        self.sd = np.sqrt(((x - mu) ** 2).sum(axis=1, keepdims=True) / D + self.eps)
        self.xhat = (x - mu) / self.sd
        return self.params["gamma"] * self.xhat + self.params["beta"]


# ---- convolution and pooling -----------------------------------------------------------------


class Involution(mn.Layer):
    """Involution (Li et al. 2021), a convolution whose 3×3 kernel is made at every pixel
    from the pixel itself and shared by its channels: K[n, :, i, j] = Wk x[n, :, i, j] + bk
    (9 taps), y[n, c, i, j] = Σ_ab K[n, ab, i, j] xp[n, c, i + a, j + b] with padding 1.
    x reaches y twice, as the values under the window and as the kernel's source, so dx is
    the window's term plus Wkᵀ dK.  x (N, C, H, W) -> (N, C, H, W);  Wk (9, C), bk (9,)."""

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, Wk=(9, c), bk=(9,))

    def forward(self, x):
        N, C, H, W = x.shape
        self.x = x
        self.win = sliding_window_view(pad(x, 1), (3, 3), axis=(2, 3))  # (N, C, H, W, 3, 3)
        ker = np.einsum("kc,nchw->nkhw", self.params["Wk"], x) + self.params["bk"][:, None, None]
        self.ker = ker.reshape(N, 3, 3, H, W)
        return np.einsum("nchwab,nabhw->nchw", self.win, self.ker)

    def backward(self, dout):
        N, C, H, W = dout.shape
        dker = np.einsum("nchw,nchwab->nabhw", dout, self.win).reshape(N, 9, H, W)
        self.grads["Wk"] = np.einsum("nkhw,nchw->kc", dker, self.x)
        self.grads["bk"] = dker.sum(axis=(0, 2, 3))
        return self.values_back(dout) + np.einsum("nkhw,kc->nchw", dker, self.params["Wk"])

    def values_back(self, dout):
        """dx through the values under each window."""
        N, C, H, W = dout.shape
        dwin = np.einsum("nchw,nabhw->nchwab", dout, self.ker)
        dxp = np.zeros((N, C, H + 2, W + 2))
        for a in range(3):
            for b in range(3):
                dxp[:, :, a:a + H, b:b + W] += dwin[..., a, b]
        return dxp[:, :, 1:-1, 1:-1]


@same_name
class InvolutionA(Involution):
    def backward(self, dout):
        N, C, H, W = dout.shape
        dker = np.einsum("nchw,nchwab->nabhw", dout, self.win).reshape(N, 9, H, W)
        self.grads["Wk"] = np.einsum("nkhw,nchw->kc", dker, self.x)
        self.grads["bk"] = dker.sum(axis=(0, 2, 3))
        return self.values_back(dout)


class ViewConv(mn.Layer):
    """A 3×3 convolution (padding 1, stride 1) written with numpy's sliding_window_view:
    forward reads the windows of the padded input, (N, C, H, W, 3, 3), and contracts them
    with the filters; backward finds each window's gradient and adds them back onto the
    padded input (col2im), where the windows of neighbouring pixels overlap.
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        self.shape = x.shape
        self.win = sliding_window_view(pad(x, 1), (3, 3), axis=(2, 3))
        return (np.einsum("nchwab,fcab->nfhw", self.win, self.params["W"])
                + self.params["b"][:, None, None])

    def backward(self, dout):
        self.grads["W"] = np.einsum("nchwab,nfhw->fcab", self.win, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dwin = np.einsum("nfhw,fcab->nchwab", dout, self.params["W"])
        return self.col2im(dwin)[:, :, 1:-1, 1:-1]

    def col2im(self, dwin):
        """The padded input's gradient: every window's gradient added where it was read."""
        N, C, H, W = self.shape
        dxp = np.zeros((N, C, H + 2, W + 2))
        for a in range(3):
            for b in range(3):
                dxp[:, :, a:a + H, b:b + W] += dwin[..., a, b]
        return dxp


@same_name
class ViewConvA(ViewConv):
    def col2im(self, dwin):
        N, C, H, W = self.shape
        dxp = np.zeros((N, C, H + 2, W + 2))
        sliding_window_view(dxp, (3, 3), axis=(2, 3), writeable=True)[...] += dwin
        return dxp


class CovariancePool(mn.Layer):
    """Second-order pooling: each sample's channels as rows X (C, M) over its M = H·W pixels,
    the Gram matrix G = X Xᵀ / M, divided by its trace so that the scale of the features
    drops out: y = G / tr(G), flattened.  dG = dY/t - (Σ dY ⊙ G / t²) I, dX = (dG + dGᵀ) X / M.
    x (N, C, H, W) -> (N, C·C)."""

    def forward(self, x):
        N, C = x.shape[:2]
        self.shape = x.shape
        self.X = x.reshape(N, C, -1)
        self.G = self.X @ self.X.transpose(0, 2, 1) / self.X.shape[2]
        self.t = np.trace(self.G, axis1=1, axis2=2)[:, None, None]
        return (self.G / self.t).reshape(N, -1)

    def backward(self, dout):
        N, C = self.shape[:2]
        dY = dout.reshape(N, C, C)
        dG = dY / self.t - ((dY * self.G).sum(axis=(1, 2))[:, None, None] / self.t**2
                            * np.eye(C))
        dX = (dG + dG.transpose(0, 2, 1)) @ self.X / self.X.shape[2]
        return dX.reshape(self.shape)


@same_name
class CovariancePoolA(CovariancePool):
    def forward(self, x):
        N, C = x.shape[:2]
        self.shape = x.shape
        self.X = x.reshape(N, C, -1)
        self.G = self.X @ self.X.transpose(0, 2, 1) / self.X.shape[2]
        self.t = np.trace(self.G)[:, None, None]
        return (self.G / self.t).reshape(N, -1)


# ---- losses ----------------------------------------------------------------------------------


def digamma(z):
    """ψ(z) = d log Γ(z)/dz for z > 0: the recurrence ψ(z) = ψ(z + 1) - 1/z up to z >= 10,
    then the asymptotic series."""
    z = np.array(z, dtype=float)
    out = np.zeros_like(z)
    while (small := z < 10).any():
        out[small] -= 1 / z[small]
        z = np.where(small, z + 1, z)
    i2 = 1 / z**2
    series = i2 * (1 / 12 - i2 * (1 / 120 - i2 * (1 / 252 - i2 * (1 / 240 - i2 / 132))))
    return out + np.log(z) - 0.5 / z - series


def fractions(rng, n):
    return rng.uniform(0.05, 0.95, n)


class BetaNLL(mn.Loss):
    """Regression of a fraction y in (0, 1) by a Beta distribution: the two scores give its
    parameters α = 1 + softplus(s0) and β = 1 + softplus(s1), and the loss is the mean
    negative log-density, L = mean(log B(α, β) - (α - 1) log y - (β - 1) log(1 - y)) with
    log B = lgamma(α) + lgamma(β) - lgamma(α + β).  lgamma's derivative is the digamma
    function ψ: dL/dα = (ψ(α) - ψ(α + β) - log y)/N, dL/dβ alike, dα/ds0 = σ(s0).
    scores (N, 2), y (N,) in (0, 1) -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.a = 1 + np.logaddexp(0, scores[:, 0])
        self.b = 1 + np.logaddexp(0, scores[:, 1])
        logB = lgamma(self.a) + lgamma(self.b) - lgamma(self.a + self.b)
        return float((logB - (self.a - 1) * np.log(y) - (self.b - 1) * np.log(1 - y)).mean())

    def backward(self):
        both = self.psi(self.a + self.b)
        da = self.psi(self.a) - both - np.log(self.y)
        db = self.psi(self.b) - both - np.log(1 - self.y)
        return np.stack([da, db], axis=1) * sigmoid(self.s) / len(self.y)

    def psi(self, z):
        """d lgamma(z)/dz."""
        return digamma(z)


@same_name
class BetaNLLA(BetaNLL):
    def psi(self, z):
        return np.log(z)


class TaylorSoftmaxCE(mn.Loss):
    """Cross-entropy over the second-order Taylor softmax (de Brébisson and Vincent 2016): the
    exponential is replaced by f(s) = 1 + s + s²/2, which is positive everywhere, and
    p_k = f(s_k)/Σ_j f(s_j), L = -mean log p_y.  Its slope is f'(s) = 1 + s, not f itself,
    so dL/ds_k = (f'(s_k)/Σ_j f(s_j) - [k = y] f'(s_y)/f(s_y))/N.
    scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.f = 1 + scores + scores**2 / 2
        self.total = self.f.sum(axis=1, keepdims=True)
        return float(-np.log(self.f[np.arange(len(y)), y] / self.total[:, 0]).mean())

    def backward(self):
        n = np.arange(len(self.y))
        fp = self.slope()
        d = fp / self.total
        d[n, self.y] -= fp[n, self.y] / self.f[n, self.y]
        return d / len(self.y)

    def slope(self):
        """f'(s) for every score."""
        return 1 + self.s


@same_name
class TaylorSoftmaxCEA(TaylorSoftmaxCE):
    def slope(self):
        return self.f


class HardestRivalHinge(mn.Loss):
    """A ranking hinge against the hardest rival only: L = mean_n max(0, m + max_{k≠y} s_k -
    s_y) with m = 1.  An active sample sends +1/N to its highest-scoring wrong class and -1/N
    to its label.  scores (N, C), y (N,) labels -> float."""

    margin = 1.0

    def forward(self, scores, y):
        self.y = y
        self.onehot = np.eye(scores.shape[1], dtype=bool)[y]
        self.rival = np.where(self.onehot, -np.inf, scores)
        top = self.rival.max(axis=1)
        h = self.margin + top - scores[np.arange(len(y)), y]
        self.active = h > 0
        return float(np.maximum(h, 0).mean())

    def backward(self):
        hard = self.rival == self.rival.max(axis=1, keepdims=True)
        return (hard.astype(float) - self.onehot) * self.active[:, None] / len(self.y)


@same_name
class HardestRivalHingeA(HardestRivalHinge):
    def backward(self):
        hard = self.rival == self.rival.max(axis=1)[0]
        return (hard.astype(float) - self.onehot) * self.active[:, None] / len(self.y)


# ---- sequences -------------------------------------------------------------------------------


class CTRNN(mn.Layer):
    """A continuous-time RNN, one Euler step per input step, with a learned time constant τ
    per unit kept as its log, ρ = log τ, so that τ stays positive:
    h_t = h_{t-1} + (u_t - h_{t-1})/τ, u_t = tanh(x_t Wx + h_{t-1} Wh + b), 1/τ = e^(-ρ).
    The parameter is ρ: d(1/τ)/dρ = -e^(-ρ) = -1/τ, so dρ = -Σ g ⊙ (u - h_{t-1})/τ with g the
    gradient reaching h_t.  x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b, rho (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))
        self.params["rho"] = np.log(np.linspace(1.5, 3.0, h))
        self.grads["rho"] = np.zeros(h)

    def forward(self, x):
        N, T, _ = x.shape
        P = self.params
        self.x, self.inv = x, np.exp(-P["rho"])
        self.hs = np.zeros((N, T + 1, P["Wh"].shape[0]))
        self.us = np.zeros((N, T, P["Wh"].shape[0]))
        for t in range(T):
            h = self.hs[:, t]
            self.us[:, t] = np.tanh(x[:, t] @ P["Wx"] + h @ P["Wh"] + P["b"])
            self.hs[:, t + 1] = h + (self.us[:, t] - h) * self.inv
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        P, T = self.params, dout.shape[1]
        dx = np.zeros_like(self.x)
        dh = np.zeros_like(dout[:, 0])
        for t in reversed(range(T)):
            g, h, u = dout[:, t] + dh, self.hs[:, t], self.us[:, t]
            da = g * self.inv * (1 - u**2)
            self.grads["rho"] += (g * (u - h) * self.dinv()).sum(axis=0)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += h.T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = g * (1 - self.inv) + da @ P["Wh"].T
        return dx

    def dinv(self):
        """d(1/τ)/dρ."""
        return -self.inv


@same_name
class CTRNNA(CTRNN):
    def dinv(self):
        return -self.inv**2


class RotationRNN(mn.Layer):
    """An RNN whose recurrent matrix is a rotation by a learned angle θ_p in each pair of
    units (orthogonal by construction, so it neither blows up nor fades the state):
    h_t = tanh(R(θ) h_{t-1} + x_t Wx + b), on the pair (h0, h1) of pair p
    R h = (c h0 - s h1, s h0 + c h1), c = cos θ_p, s = sin θ_p.  dR/dθ = [[-s, -c], [c, -s]],
    so dθ_p = Σ g0 (-s h0 - c h1) + g1 (c h0 - s h1), and dh_{t-1} = Rᵀ g.
    x (N, T, D) -> (N, T, 2P);  Wx (D, 2P), b (2P,), theta (P,)."""

    def __init__(self, d, pairs=2, seed=0):
        super().__init__()
        with_params(self, seed, Wx=(d, 2 * pairs), b=(2 * pairs,))
        self.params["theta"] = np.linspace(0.4, 1.1, pairs)
        self.grads["theta"] = np.zeros(pairs)

    def rotate(self, h, sign=1):
        """R h (sign 1) or Rᵀ h (sign -1), pair by pair; h (N, 2P)."""
        c, s = np.cos(self.params["theta"]), sign * np.sin(self.params["theta"])
        h0, h1 = h[:, 0::2], h[:, 1::2]
        return np.stack([c * h0 - s * h1, s * h0 + c * h1], axis=2).reshape(h.shape)

    def forward(self, x):
        N, T, _ = x.shape
        self.x = x
        self.hs = np.zeros((N, T + 1, len(self.params["b"])))
        for t in range(T):
            self.hs[:, t + 1] = np.tanh(self.rotate(self.hs[:, t]) + x[:, t] @ self.params["Wx"]
                                        + self.params["b"])
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh = np.zeros_like(dout[:, 0])
        for t in reversed(range(dout.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.hs[:, t + 1] ** 2)
            self.grads["theta"] += self.angle_grad(da, self.hs[:, t])
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh = self.rotate(da, sign=-1)
        return dx

    def angle_grad(self, g, h):
        """dθ from g = dL/d(R h) and h, both (N, 2P)."""
        c, s = np.cos(self.params["theta"]), np.sin(self.params["theta"])
        h0, h1, g0, g1 = h[:, 0::2], h[:, 1::2], g[:, 0::2], g[:, 1::2]
        return (g0 * (-s * h0 - c * h1) + g1 * (c * h0 - s * h1)).sum(axis=0)


@same_name
class RotationRNNA(RotationRNN):
    def angle_grad(self, g, h):
        c, s = np.cos(self.params["theta"]), np.sin(self.params["theta"])
        h0, h1, g0, g1 = h[:, 0::2], h[:, 1::2], g[:, 0::2], g[:, 1::2]
        return (g0 * (-s * h0 + c * h1) + g1 * (-c * h0 - s * h1)).sum(axis=0)


class MIRNN(mn.Layer):
    """An RNN with multiplicative integration (Wu et al. 2016): the input's and the state's
    contributions are multiplied as well as added, a_t = u ⊙ r + u + r + b with u = x_t W and
    r = h_{t-1} U, h_t = tanh(a_t).  Forward keeps each step's values in a dict under the key
    f"t{t}"; backward goes over the steps from the last to the first, carrying dh.
    x (N, T, D) -> (N, T, H);  W (D, H), U (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, h), U=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        P = self.params
        self.x, self.cache = x, {}
        h = np.zeros((N, P["U"].shape[0]))
        out = []
        for t in range(T):
            u, r = x[:, t] @ P["W"], h @ P["U"]
            h_new = np.tanh(u * r + u + r + P["b"])
            self.cache[f"t{t}"] = (h, u, r, h_new)
            h = h_new
            out.append(h)
        return np.stack(out, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh = np.zeros_like(dout[:, 0])
        for t in reversed(range(dout.shape[1])):
            dh = self.step_back(t, self.cache[f"t{t}"], dout[:, t] + dh, dx)
        return dx

    def step_back(self, t, cache, g, dx):
        """Fills the step's share of the grads and dx[:, t]; returns dh_{t-1}."""
        h, u, r, h_new = cache
        da = g * (1 - h_new**2)
        du, dr = da * (r + 1), da * (u + 1)
        self.grads["W"] += self.x[:, t].T @ du
        self.grads["U"] += h.T @ dr
        self.grads["b"] += da.sum(axis=0)
        dx[:, t] = du @ self.params["W"].T
        return dr @ self.params["U"].T


@same_name
class MIRNNA(MIRNN):
    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh = np.zeros_like(dout[:, 0])
        for key in sorted(self.cache, reverse=True):
            t = int(key[1:])
            dh = self.step_back(t, self.cache[key], dout[:, t] + dh, dx)
        return dx


class GatedLinearRecurrence(mn.Layer):
    """A recurrence whose gate and candidate see only the input (so that they can be computed
    for all steps at once): f_t = σ(x_t Wf + bf), c_t = tanh(x_t Wc + bc),
    h_t = f_t ⊙ h_{t-1} + (1 - f_t) ⊙ c_t.  Forward keeps one cache per step in a list;
    backward walks it from the last step back.
    x (N, T, D) -> (N, T, H);  Wf, Wc (D, H), bf, bc (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, Wf=(d, h), Wc=(d, h), bf=(h,), bc=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        P = self.params
        self.caches = []
        h = np.zeros((N, len(P["bf"])))
        out = []
        for t in range(T):
            f = sigmoid(x[:, t] @ P["Wf"] + P["bf"])
            c = np.tanh(x[:, t] @ P["Wc"] + P["bc"])
            self.caches.append((x[:, t], h, f, c))
            h = f * h + (1 - f) * c
            out.append(h)
        return np.stack(out, axis=1)

    def step_back(self, cache, g):
        """The step's grads added in; returns (dx_t, dh_{t-1})."""
        x, h, f, c = cache
        daf = g * (h - c) * f * (1 - f)
        dac = g * (1 - f) * (1 - c**2)
        P = self.params
        self.grads["Wf"] += x.T @ daf
        self.grads["bf"] += daf.sum(axis=0)
        self.grads["Wc"] += x.T @ dac
        self.grads["bc"] += dac.sum(axis=0)
        return daf @ P["Wf"].T + dac @ P["Wc"].T, g * f

    def backward(self, dout):
        zero_grads(self)
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.params["Wf"].shape[0]))
        dh = np.zeros_like(dout[:, 0])
        for t in reversed(range(T)):
            dx[:, t], dh = self.step_back(self.caches[t], dout[:, t] + dh)
        return dx


@same_name
class GatedLinearRecurrenceA(GatedLinearRecurrence):
    def backward(self, dout):
        zero_grads(self)
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.params["Wf"].shape[0]))
        dh = np.zeros_like(dout[:, 0])
        for t, cache in enumerate(reversed(self.caches)):
            dx[:, t], dh = self.step_back(cache, dout[:, t] + dh)
        return dx


# ---- attention -------------------------------------------------------------------------------


class StickBreakingAttention(mn.Layer):
    """Stick-breaking attention (Tan et al. 2024), causal: each key j <= i takes the share
    β_ij = σ(S_ij) of what the keys nearer to query i have left,
    A_ij = β_ij Π_{j<k<=i} (1 - β_ik), S = Q Kᵀ/√D; y = A V, without a softmax.  S_ik moves
    A_ik through β_ik and every farther key's A_ij (j < k) through its factor 1 - β_ik, so
    dS_ik = dA_ik A_ik (1 - β_ik) - β_ik Σ_{j<k} dA_ij A_ij.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.mask = np.tril(np.ones((T, T), dtype=bool))
        self.beta = sigmoid(s)
        rest = np.where(self.mask, -np.logaddexp(0, s), 0)  # log(1 - β_ik), keys k <= i
        after = reverse_cumsum(rest, axis=2) - rest  # Σ_{k>j} log(1 - β_ik)
        self.a = np.where(self.mask, self.beta * np.exp(after), 0)
        return self.a @ self.v

    def backward(self, dout):
        da = dout @ self.v.swapaxes(-1, -2)
        dv = self.a.swapaxes(-1, -2) @ dout
        ds = self.scores_back(da * self.a) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def scores_back(self, g):
        """dS from g = dA ⊙ A."""
        nearer = np.cumsum(g, axis=2) - g  # Σ_{j<k} dA_ij A_ij
        return np.where(self.mask, g * (1 - self.beta) - self.beta * nearer, 0)


@same_name
class StickBreakingAttentionA(StickBreakingAttention):
    def scores_back(self, g):
        return np.where(self.mask, g * (1 - self.beta), 0)


class GaussianWindowAttention(mn.Layer):
    """Self-attention with a learned Gaussian window around each query: the scores get the
    bias -(i - j)²/(2σ²), S = Q Kᵀ/√D - (i - j)²/(2σ²), P = softmax(S), y = P V, with the
    window's width σ learned.  d/dσ of -(i - j)²/(2σ²) is +(i - j)²/σ³, so
    dσ = Σ dS ⊙ (i - j)²/σ³.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), sigma (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.params["sigma"], self.grads["sigma"] = np.array([1.3]), np.zeros(1)

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.d2 = (np.arange(T)[:, None] - np.arange(T)[None, :]) ** 2.0
        width = 2 * self.params["sigma"] ** 2
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale - self.d2 / width
        self.p = softmax(s)
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        self.grads["sigma"] = np.array([self.width_grad(ds)])
        ds = ds * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def width_grad(self, ds):
        """dσ from dS."""
        return (ds * self.d2).sum() / self.params["sigma"][0] ** 3


@same_name
class GaussianWindowAttentionA(GaussianWindowAttention):
    def width_grad(self, ds):
        return -(ds * self.d2).sum() / self.params["sigma"][0] ** 3


class RelativeBiasLoopAttention(mn.Layer):
    """Self-attention with a learned bias per relative position, written one sample at a
    time: S = Q Kᵀ/√D + r[j - i + T - 1] (np.inner(q, k) is q kᵀ, each row of q against each
    row of k), P = softmax(S), y = P V; per sample dQ = dS K/√D, dK = dSᵀ Q/√D,
    dr collects dS by offset.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), r (2T - 1,)."""

    def __init__(self, d, t, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), r=(2 * t - 1,))
        self.offset = np.arange(t)[None, :] - np.arange(t)[:, None] + t - 1

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = np.zeros((len(x), x.shape[1], x.shape[1]))
        for n in range(len(x)):
            s = np.inner(self.q[n], self.k[n]) * self.scale + self.params["r"][self.offset]
            self.p[n] = softmax(s)
        return self.p @ self.v

    def backward(self, dout):
        dq, dk, dv = (np.zeros_like(a) for a in (self.q, self.k, self.v))
        self.grads["r"] = np.zeros_like(self.params["r"])
        for n in range(len(dout)):
            p = self.p[n]
            dv[n] = p.T @ dout[n]
            dp = dout[n] @ self.v[n].T
            ds = p * (dp - (dp * p).sum(axis=1, keepdims=True))
            np.add.at(self.grads["r"], self.offset, ds)
            dq[n], dk[n] = self.qk_back(ds, n)
        return projections_back(self, dq, dk, dv)

    def qk_back(self, ds, n):
        """(dq, dk) of sample n from its dS."""
        return ds @ self.k[n] * self.scale, ds.T @ self.q[n] * self.scale


@same_name
class RelativeBiasLoopAttentionA(RelativeBiasLoopAttention):
    def qk_back(self, ds, n):
        return np.inner(ds, self.k[n]) * self.scale, ds.T @ self.q[n] * self.scale


class NonLocalBlock(mn.Layer):
    """A non-local block (Wang et al. 2018): self-attention over the pixels of an image, with
    a residual.  The channels are moved last with np.moveaxis, X = (N, H·W, C), then
    Q, K, V = X Wq, X Wk, X Wv, P = softmax(Q Kᵀ/√C), Y = P V, and Y goes back to the image
    layout (N, C, H, W) and is added to x.  x (N, C, H, W) -> (N, C, H, W);
    Wq, Wk, Wv (C, C)."""

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(c, c), Wk=(c, c), Wv=(c, c))

    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        self.x = np.moveaxis(x, 1, -1).reshape(N, H * W, C)
        self.scale = 1 / np.sqrt(C)
        self.q, self.k, self.v = (self.x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        y = self.p @ self.v
        return x + np.moveaxis(y.reshape(N, H, W, C), -1, 1)

    def backward(self, dout):
        N, C, H, W = self.shape
        dy = np.moveaxis(dout, 1, -1).reshape(N, H * W, C)
        p = self.p
        dv = p.swapaxes(-1, -2) @ dy
        dp = dy @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.scale
        dX = projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)
        return dout + self.to_image(dX)

    def to_image(self, a):
        """(N, H·W, C) -> (N, C, H, W), the inverse of forward's moveaxis and reshape."""
        N, C, H, W = self.shape
        return np.moveaxis(a.reshape(N, H, W, C), -1, 1)


@same_name
class NonLocalBlockA(NonLocalBlock):
    def to_image(self, a):
        N, C, H, W = self.shape
        return np.swapaxes(a.reshape(N, H, W, C), 1, -1)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("sine-integral_23", ACT, lambda: dense_net(SineIntegralA(), seed=2301, scale=2.0),
         "x is the upper limit of Si(x) = ∫_0^x sin(t)/t dt, so by the fundamental theorem dy/dx "
         "is the integrand itself at x, sin(x)/x; backward differentiates the integrand "
         "instead, (x cos x - sin x)/x², the slope of sin(x)/x",
         "return np.sinc(self.x / np.pi)"),
    Case("log-bessel_23", ACT, lambda: dense_net(LogBesselI0A(), seed=2302, scale=2.0),
         "the modified Bessel function's derivative is taken with the sign of the ordinary "
         "one's rule J0' = -J1: dI0/dx = -I1(x), so dy/dx = -I1/I0 points against x, where "
         "I0' = +I1 and the slope of log I0 has the sign of x",
         "return bessel_i1(self.x)"),
    Case("shrink-clip_23", ACT, lambda: dense_net(ShrinkClipA(), seed=2303, scale=2.0),
         "np.logical_and takes two conditions; its third positional argument is out, so "
         "np.logical_and(x > -c, x < c, |x| > λ) writes (x > -c) & (x < c) into the temporary "
         "array of the third and returns it: the dead-zone test is dropped, and the entries "
         "with |x| <= λ (slope 0) get the gradient with slope 1",
         "return dout * ((x > -self.c) & (x < self.c) & (np.abs(x) > self.lam))"),
    Case("bi-slope-elu_23", ACT, lambda: dense_net(BiSlopeELUA(5), seed=2304, scale=2.0),
         "the gradients are stored under 'a' + side, the keys 'apos' and 'aneg', which are not "
         "the parameters' names 'a_pos' and 'a_neg': grads['a_pos'] and grads['a_neg'] keep "
         "the zeros they started with (dx is right)",
         "self.grads['a_' + side] = (dout * mask * piece).sum(axis=0)"),
    Case("bilinear-unit_23", DENSE, lambda: dense_net(BilinearUnitA(5, 4, seed=2305),
                                                      seed=2305),
         "dict.fromkeys(self.params, np.zeros_like(...)) gives every key the same array: the "
         "two += add xᵀ(dout ⊙ x Wb) and xᵀ(dout ⊙ x Wa) into one buffer, so dWa and dWb both "
         "come out the sum of the two gradients; each key needs its own zeros (dx is right)",
         "zero_grads(self)  # or {k: np.zeros_like(v) for k, v in self.params.items()}"),
    Case("circulant-dense_23", DENSE, lambda: dense_net(CirculantDenseA(5, seed=2306),
                                                        seed=2306),
         "w is tied: w_k sits in all D = 5 rows of the circulant matrix, at C[i, (i + k) mod D], "
         "but dw is taken as the first row of dC alone, as if w reached y only through C's "
         "first row; dw_k must sum dC over the k-th wrapped diagonal (db and dx are right)",
         "return np.bincount(self.idx.ravel(), weights=dC.ravel(), minlength=len(self.idx))"),
    Case("soft-moe_23", DENSE, lambda: dense_net(SoftMoEA(5, 3, seed=2307), seed=2307),
         "dW.transpose(1, 0, 2) is a view, but .reshape(D, E·F) of that non-contiguous view has "
         "to copy: the [:] = assignment fills the copy and is lost, so the experts' dW stays "
         "all zeros; the product must be reshaped to (D, E, F) and transposed to (E, D, F) "
         "(db, dWg and dx are right)",
         "return (self.x.T @ dz.reshape(N, E * F)).reshape(D, E, F).transpose(1, 0, 2)"),
    Case("power-batchnorm_23", NORM, lambda: dense_net(PowerBatchNormA(5), seed=2308),
         "dx is BatchNorm's textbook formula, whose x̂·mean(dx̂ ⊙ x̂) term holds only for the "
         "exponent 1/2: with x̂ = c v^(-α), α = 0.3, the variance's term is "
         "2α c mean(d c) v^(-α-1), not c mean(d c) v^(-3α) (dgamma and dbeta are right)",
         "return (self.s * (d - d.mean(axis=0)) - 2 * self.alpha * self.c * "
         "(d * self.c).mean(axis=0) * self.s / self.v)"),
    Case("causal-norm_23", NORM, lambda: sequence_net(CausalNormA(4), seed=2309),
         "x_s enters the running mean and mean square of step s and of every later step, but "
         "backward gives it only step s's share (dμ_s + 2x_s dm_s)/(s + 1); the shares of all "
         "the steps t >= s must be summed, a reverse cumulative sum over time (dgamma and "
         "dbeta are right)",
         "return reverse_cumsum(a, axis=1)"),
    Case("channel-layernorm_23", NORM, lambda: dense_net(ChannelLayerNormA(5), seed=2310),
         "forward divides by x.size, the number of every entry of the batch N·D = 30 (torch's "
         "x.size() is a shape, numpy's .size a count), not the row length D = 5: μ and σ² are "
         "the row sums over 30, so forward computes (x - Σx/30)/√(Σ(x - μ)²/30 + eps), while "
         "backward is LayerNorm's (its mean(dx̂) and x̂ mean(dx̂ x̂) terms belong to a μ and a "
         "σ that are true row means)",
         "D = x.shape[1]"),
    Case("involution_23", CONV, lambda: image_net(InvolutionA(3, seed=2311), seed=2311),
         "x reaches y twice, under the window and as the source of the kernel "
         "K = Wk x + bk made at its pixel; dx keeps only the window's term and drops "
         "Wkᵀ dK (dWk and dbk are right)",
         "return self.values_back(dout) + np.einsum('nkhw,kc->nchw', dker, self.params['Wk'])"),
    Case("view-conv_23", CONV, lambda: image_net(ViewConvA(3, 2, seed=2312), seed=2312),
         "sliding_window_view(..., writeable=True) gives the windows as overlapping views of "
         "the same memory, and += on it does not accumulate where they overlap: numpy reads "
         "the old values first, so each padded pixel ends up with one window's gradient (the "
         "last written), not the sum over the up to 9 windows that read it (dW and db are "
         "right)",
         "for a in range(3): for b in range(3): dxp[:, :, a:a + H, b:b + W] += dwin[..., a, b]"),
    Case("covariance-pool_23", POOL, lambda: image_net(CovariancePoolA(), channels=4,
                                                       seed=2313),
         "np.trace(G) on the stack G (N, C, C) traces its first two axes, Σ_i G[i, i, :], one "
         "number per channel, not per sample (it runs since N = C = 4): forward divides "
         "sample n's Gram matrix by sums that mix the samples, while backward is written "
         "for y = G / tr(G); np.trace(G, axis1=1, axis2=2) traces each sample's matrix",
         "self.t = np.trace(self.G, axis1=1, axis2=2)[:, None, None]"),
    Case("beta-nll_23", LOSS, lambda: loss_net(BetaNLLA(), fractions, width=2, seed=2314,
                                               scale=2.0),
         "d lgamma(z)/dz is taken as log z, the slope of Stirling's z log z - z, where it is "
         "the digamma function ψ(z) = log z - 1/(2z) - ...; the difference is large for the "
         "α, β between 1 and 3 the scores give",
         "return digamma(z)"),
    Case("taylor-softmax_23", LOSS, lambda: loss_net(TaylorSoftmaxCEA(), labels, seed=2315,
                                                     scale=2.0),
         "the exponential's rule (its derivative is itself) is carried over to its Taylor "
         "polynomial: f(s) = 1 + s + s²/2 has the slope 1 + s, not f(s), so backward's "
         "p - onehot is the softmax's gradient, not this loss's",
         "return 1 + self.s"),
    Case("taylor-softmax-correct_23", LOSS, lambda: loss_net(TaylorSoftmaxCE(), labels,
                                                             seed=2335, scale=2.0), CORRECT),
    Case("hardest-rival_23", LOSS, lambda: loss_net(HardestRivalHingeA(), labels, width=4,
                                                    seed=2316, scale=2.0),
         "rival.max(axis=1)[0] is a torch habit (torch's max(dim) returns values and indices): "
         "numpy's max returns the values, and [0] takes sample 0's hardest rival score, so "
         "every row is compared with that one number and the other samples' rivals get no "
         "gradient; keepdims=True compares each row with its own max",
         "hard = self.rival == self.rival.max(axis=1, keepdims=True)"),
    Case("ctrnn_23", SEQ, lambda: sequence_net(CTRNNA(4, 3, seed=2317), seed=2317),
         "the parameter is ρ = log τ, but d(1/τ) is taken with respect to τ, -1/τ²; with "
         "respect to ρ, d e^(-ρ)/dρ = -e^(-ρ) = -1/τ, so dρ is off by the factor 1/τ (dWx, "
         "dWh, db and dx are right)",
         "return -self.inv"),
    Case("rotation-rnn_23", SEQ, lambda: sequence_net(RotationRNNA(4, seed=2318), seed=2318),
         "dθ uses the derivative of the transposed rotation, [[-s, c], [-c, -s]], where "
         "forward's R = [[c, -s], [s, c]] has dR/dθ = [[-s, -c], [c, -s]]: the h1 term of the "
         "first row and the h0 term of the second have the wrong sign (dWx, db, dx and the "
         "carried Rᵀ g are right)",
         "return (g0 * (-s * h0 - c * h1) + g1 * (c * h0 - s * h1)).sum(axis=0)"),
    Case("rotation-rnn-correct_23", SEQ, lambda: sequence_net(RotationRNN(4, seed=2336),
                                                              seed=2336), CORRECT),
    Case("mi-rnn_23", SEQ, lambda: sequence_net(MIRNNA(4, 3, seed=2319), t=12, seed=2319),
         "sorted() orders the keys 't0' ... 't11' as strings, character by character: reversed "
         "that is t9, t8, ..., t2, t11, t10, t1, t0, so from step 2 on the steps are taken "
         "back out of order and the dh carried into a step comes from the wrong one; "
         "reversed(range(T)) (or a numeric key) gives 11, 10, ..., 0",
         "for t in reversed(range(dout.shape[1])): dh = self.step_back(t, self.cache[f't{t}'], "
         "dout[:, t] + dh, dx)"),
    Case("gated-linear-recurrence_23", SEQ,
         lambda: sequence_net(GatedLinearRecurrenceA(4, 3, seed=2320), seed=2320),
         "enumerate(reversed(self.caches)) counts 0, 1, 2, ... while the caches go from the "
         "last step back: the cache of step T-1-t is paired with dout[:, t] and its dx is "
         "written to dx[:, t], so the steps' gradients are mirrored in time",
         "for t in reversed(range(T)): dx[:, t], dh = self.step_back(self.caches[t], "
         "dout[:, t] + dh)"),
    Case("stick-breaking_23", ATTN, lambda: sequence_net(StickBreakingAttentionA(4, seed=2321),
                                                         seed=2321),
         "S_ik reaches the weights twice, through β_ik in its own A_ik and through the factor "
         "1 - β_ik in every farther key's A_ij (j < k); backward keeps only the first, dA_ik "
         "A_ik (1 - β_ik), and drops -β_ik Σ_{j<k} dA_ij A_ij (dV is right)",
         "nearer = np.cumsum(g, axis=2) - g; "
         "return np.where(self.mask, g * (1 - self.beta) - self.beta * nearer, 0)"),
    Case("stick-breaking-correct_23", ATTN,
         lambda: sequence_net(StickBreakingAttention(4, seed=2337), seed=2337), CORRECT),
    Case("gaussian-window_23", ATTN,
         lambda: sequence_net(GaussianWindowAttentionA(4, seed=2322), seed=2322),
         "dσ of the bias -(i - j)²/(2σ²) keeps the bias's minus but not the power rule's: "
         "d(σ^-2)/dσ = -2σ^-3, so the two cancel and the slope is +(i - j)²/σ³; backward "
         "gives -(i - j)²/σ³ (dQ, dK, dV and dx are right)",
         "return (ds * self.d2).sum() / self.params['sigma'][0] ** 3"),
    Case("relative-bias-loop_23", ATTN,
         lambda: sequence_net(RelativeBiasLoopAttentionA(4, 4, seed=2323), seed=2323),
         "np.inner(a, b) contracts the last axes of both, a bᵀ: it is right for forward's "
         "Q Kᵀ, but np.inner(ds, k) is dS Kᵀ where dQ = dS K (it runs since T = D = 4; dK, dV "
         "and dr are right)",
         "return ds @ self.k[n] * self.scale, ds.T @ self.q[n] * self.scale"),
    Case("non-local_23", ATTN, lambda: image_net(NonLocalBlockA(3, seed=2324), seed=2324),
         "np.swapaxes(a, 1, -1) on (N, H, W, C) exchanges H and C and gives (N, C, W, H), the "
         "image transposed, where forward's np.moveaxis(y, -1, 1) kept (N, C, H, W): the "
         "attention's part of dx lands on pixel (j, i) instead of (i, j) (it runs since "
         "H = W = 4; the weights' gradients and the residual's dout are right)",
         "return np.moveaxis(a.reshape(N, H, W, C), -1, 1)"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
