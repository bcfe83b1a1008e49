"""The seventeenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the sixteenth held-out set was used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. This set leans towards mistakes in the mathematics
(a derivative formula, a term of the chain rule, a factor, the quantity that is differentiated)
rather than in indexing.
"""

from __future__ import annotations

import math

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
    labels,
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

erf = np.vectorize(math.erf, otypes=[float])

# ---- activations -----------------------------------------------------------------------------


class Gudermannian(mn.Layer):
    """The Gudermannian function as an activation, a smooth S-curve to ±π/2:
    gd(x) = 2 arctan(tanh(x/2)).  With u = tanh(x/2): du/dx = (1 - u²)/2 and
    d arctan(u)/du = 1/(1 + u²), so dy/dx = (1 - u²)/(1 + u²) = sech x.  x, y: (N, D)."""

    def forward(self, x):
        self.u = np.tanh(x / 2)
        return 2 * np.arctan(self.u)

    def backward(self, dout):
        u = self.u
        du = (1 - u**2) / 2
        return dout * 2 * self.arctan_slope(u) * du

    def arctan_slope(self, u):
        """d arctan(u)/du."""
        return 1 / (1 + u**2)


@same_name
class GudermannianA(Gudermannian):
    def arctan_slope(self, u):
        return 1 / (1 - u**2)


class Probit(mn.Layer):
    """The standard normal CDF as an activation (the probit link's inverse):
    y = Φ(x) = (1 + erf(x/√2))/2.  dy/dx = φ(x) = e^(-x²/2)/√(2π), the normal density.
    x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.y = 0.5 * (1 + erf(x / np.sqrt(2)))
        return self.y

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        """dy/dx, entry by entry."""
        return np.exp(-self.x**2 / 2) / np.sqrt(2 * np.pi)


@same_name
class ProbitA(Probit):
    def slope(self):
        return self.y * (1 - self.y)


class SinhArcsinh(mn.Layer):
    """The sinh-arcsinh transform (Jones and Pewsey) with a learned tail weight a and skew b per
    feature: y = sinh(a asinh(x) - b).  With z = a asinh(x) - b: dy/dz = cosh z and
    d asinh(x)/dx = 1/√(1 + x²), so dx = dout cosh(z) a / √(1 + x²),
    da = Σ_n dout cosh(z) asinh(x), db = -Σ_n dout cosh(z).  x, y: (N, D);  a, b (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"a": np.linspace(0.6, 1.4, d), "b": np.linspace(-0.3, 0.3, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.x = x
        self.s = np.arcsinh(x)
        self.z = self.params["a"] * self.s - self.params["b"]
        return np.sinh(self.z)

    def backward(self, dout):
        c = dout * np.cosh(self.z)
        self.grads["a"] = (c * self.s).sum(axis=0)
        self.grads["b"] = -c.sum(axis=0)
        return c * self.params["a"] * self.asinh_slope()

    def asinh_slope(self):
        """d asinh(x)/dx, entry by entry."""
        return 1 / np.sqrt(1 + self.x**2)


@same_name
class SinhArcsinhA(SinhArcsinh):
    def asinh_slope(self):
        return np.sqrt(1 + self.x**2)


class Gompertz(mn.Layer):
    """The Gompertz curve as an activation (the Gumbel distribution's CDF), an S-curve from 0 to
    1 that rises faster than it saturates: y = exp(-exp(-x)).  With u = -e^(-x): y = e^u,
    dy/du = e^u = y and du/dx = e^(-x), so dy/dx = y e^(-x).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.y = np.exp(-np.exp(-x))
        return self.y

    def backward(self, dout):
        return dout * self.y * np.exp(-self.x)


@same_name
class GompertzA(Gompertz):
    def backward(self, dout):
        return dout * np.exp(-self.x)


# ---- dense-like ------------------------------------------------------------------------------


class SquaredLinear(mn.Layer):
    """A linear map applied twice with the same weight (a weight-tied two-layer linear net, or a
    linear RNN unrolled over two steps): y = x W W + b.  W is used twice, and with
    G = xᵀ dout the two uses give dW = xᵀ (dout Wᵀ) + (x W)ᵀ dout = G Wᵀ + Wᵀ G;
    db = Σ_n dout, dx = dout Wᵀ Wᵀ.  x (N, D) -> (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        self.x = x
        self.h = x @ self.params["W"]
        return self.h @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = self.weight_grad(dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ W.T @ W.T

    def weight_grad(self, dout):
        """dW: the first use's term, then the second's."""
        return self.x.T @ (dout @ self.params["W"].T) + self.h.T @ dout


@same_name
class SquaredLinearA(SquaredLinear):
    def weight_grad(self, dout):
        return 2 * self.x.T @ dout @ self.params["W"].T


class UnitDetDense(mn.Layer):
    """A dense layer whose weight is rescaled to |det| = 1, volume-preserving as in a normalizing
    flow: W̃ = s W with s = |det W|^(-1/D), y = x W̃ + b.  Jacobi's formula,
    d log|det W|/dW = W⁻ᵀ (the inverse, transposed), gives ds/dW = -(s/D) W⁻ᵀ, so with
    G = xᵀ dout: dW = s G - (s/D) ⟨G, W⟩ W⁻ᵀ;  db = Σ_n dout, dx = dout W̃ᵀ.
    x (N, D) -> (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))
        self.params["W"] += np.eye(d)

    def forward(self, x):
        W = self.params["W"]
        self.x = x
        self.s = abs(np.linalg.det(W)) ** (-1 / W.shape[0])
        return x @ (self.s * W) + self.params["b"]

    def backward(self, dout):
        W, s = self.params["W"], self.s
        G = self.x.T @ dout
        volume = (G * W).sum() / W.shape[0]
        self.grads["W"] = s * G - s * volume * self.log_det_grad()
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (s * W).T

    def log_det_grad(self):
        """d log|det W| / dW."""
        return np.linalg.inv(self.params["W"]).T


@same_name
class UnitDetDenseA(UnitDetDense):
    def log_det_grad(self):
        return np.linalg.inv(self.params["W"])


class SVDDense(mn.Layer):
    """A dense layer kept in SVD form with learned singular values: W = U diag(s) V,
    y = ((x U) ⊙ s) V + b.  With a = x U and c = dout Vᵀ: ds = Σ_n a ⊙ c = diag(Uᵀ G Vᵀ)
    (G = xᵀ dout), dU = xᵀ (c ⊙ s), dV = (a ⊙ s)ᵀ dout, db = Σ_n dout, dx = (c ⊙ s) Uᵀ.
    x (N, D) -> (N, F);  U (D, R), s (R,), V (R, F), b (F,)."""

    def __init__(self, d, r, f, seed=0):
        super().__init__()
        with_params(self, seed, U=(d, r), V=(r, f), b=(f,))
        self.params["s"], self.grads["s"] = np.linspace(0.5, 2.0, r), np.zeros(r)

    def forward(self, x):
        self.x = x
        self.a = x @ self.params["U"]
        return (self.a * self.params["s"]) @ self.params["V"] + self.params["b"]

    def backward(self, dout):
        P = self.params
        c = dout @ P["V"].T
        self.grads["s"] = self.singular_grad(dout, c)
        self.grads["U"] = self.x.T @ (c * P["s"])
        self.grads["V"] = (self.a * P["s"]).T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (c * P["s"]) @ P["U"].T

    def singular_grad(self, dout, c):
        """ds, (R,)."""
        return (self.a * c).sum(axis=0)


@same_name
class SVDDenseA(SVDDense):
    def singular_grad(self, dout, c):
        return (self.x * dout).sum(axis=0)


# ---- normalization ---------------------------------------------------------------------------


class GeometricNorm(mn.Layer):
    """Each sample divided by the geometric mean of its (positive) features, then a learned gain:
    g = (Π_d x_d)^(1/D) = exp(mean_d log x_d), x̃ = x / g, y = gamma ⊙ x̃.  dg/dx_j = g/(D x_j),
    so with dx̃ = dout ⊙ gamma: dx_j = dx̃_j / g - (Σ_i dx̃_i x_i / g²) · g/(D x_j);
    dgamma = Σ_n dout ⊙ x̃.  x, y: (N, D) with x > 0;  gamma (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d)}
        self.grads = {"gamma": np.zeros(d)}

    def forward(self, x):
        self.x = x
        self.g = np.exp(np.log(x).mean(axis=1, keepdims=True))
        self.xt = x / self.g
        return self.params["gamma"] * self.xt

    def backward(self, dout):
        x, g = self.x, self.g
        self.grads["gamma"] = (dout * self.xt).sum(axis=0)
        dxt = dout * self.params["gamma"]
        dg = -(dxt * x).sum(axis=1, keepdims=True) / g**2
        return dxt / g + dg * self.mean_slope()

    def mean_slope(self):
        """dg/dx, (N, D)."""
        return self.g / (self.x.shape[1] * self.x)


@same_name
class GeometricNormA(GeometricNorm):
    def mean_slope(self):
        return np.full_like(self.x, 1 / self.x.shape[1])


class SampleNorm(mn.Layer):
    """Layer normalization of images: each sample standardized over all its M = C·H·W values,
    then gamma x̂ + beta per channel.  Backward in stages, as CS231n's batchnorm_backward:
    xmu = x - mean(x), var = mean(xmu²), std = √(var + eps), x̂ = xmu / std;
    dstd = -Σ dx̂ xmu / std², dvar = dstd / (2 std), dxmu = dx̂ / std + dvar · 2 xmu / M,
    dx = dxmu - mean(dxmu).  x, y: (N, C, H, W);  gamma, beta (C,)."""

    eps = 1e-5

    def __init__(self, c):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, c), "beta": np.linspace(-0.2, 0.2, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    def forward(self, x):
        axes = (1, 2, 3)
        self.xmu = x - x.mean(axis=axes, keepdims=True)
        self.std = np.sqrt((self.xmu**2).mean(axis=axes, keepdims=True) + self.eps)
        self.xhat = self.xmu / self.std
        return (self.params["gamma"][:, None, None] * self.xhat
                + self.params["beta"][:, None, None])

    def backward(self, dout):
        axes = (1, 2, 3)
        M = dout[0].size
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        dxhat = dout * self.params["gamma"][:, None, None]
        dstd = -(dxhat * self.xmu).sum(axis=axes, keepdims=True) / self.std**2
        dvar = self.var_grad(dstd)
        dxmu = dxhat / self.std + dvar * 2 * self.xmu / M
        return dxmu - dxmu.mean(axis=axes, keepdims=True)

    def var_grad(self, dstd):
        """dL/dvar from dL/dstd, std = √(var + eps)."""
        return dstd / (2 * self.std)


@same_name
class SampleNormA(SampleNorm):
    def var_grad(self, dstd):
        return dstd


class SpectralDense(mn.Layer):
    """A dense layer with spectral normalization (Miyato et al.), the exact largest singular
    value in place of the power iteration: W̃ = W / σ, σ = σ₁(W) = u₁ᵀ W v₁, y = x W̃ + b.
    dσ/dW = u₁ v₁ᵀ (σ₁ simple), so with G = xᵀ dout: dW = G/σ - (⟨G, W⟩/σ²) u₁ v₁ᵀ;
    db = Σ_n dout, dx = dout W̃ᵀ.  x (N, D) -> (N, F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        self.x = x
        U, S, Vt = np.linalg.svd(W)
        self.sigma, self.u, self.v = S[0], U[:, 0], Vt[0]
        return x @ (W / self.sigma) + self.params["b"]

    def backward(self, dout):
        W, sigma = self.params["W"], self.sigma
        G = self.x.T @ dout
        self.grads["W"] = G / sigma - (G * W).sum() / sigma**2 * self.sigma_grad()
        self.grads["b"] = dout.sum(axis=0)
        return dout @ (W / sigma).T

    def sigma_grad(self):
        """dσ/dW, (D, F)."""
        return np.outer(self.u, self.v)


@same_name
class SpectralDenseA(SpectralDense):
    def sigma_grad(self):
        W = self.params["W"]
        return W / np.linalg.norm(W)


# ---- convolution and pooling -----------------------------------------------------------------


class GaussianBlur(mn.Layer):
    """A depthwise 3×3 Gaussian blur with a learned width per channel, stride 1, padding 1, plus
    a bias: K_c = E_c / Z_c with E_c[i, j] = exp(-r²/(2σ_c²)), r² = i² + j² for the offsets
    i, j in {-1, 0, 1}, and Z_c = Σ E_c, so that each kernel sums to 1.  The normalizer moves
    with σ too: dK/dσ = K (r² - Σ K r²)/σ³, and dσ_c = Σ dK_c ⊙ dK_c/dσ_c, dK being the usual
    depthwise kernel gradient.  x, y: (N, C, H, W);  sigma, b (C,)."""

    r2 = np.add.outer(np.arange(-1, 2) ** 2, np.arange(-1, 2) ** 2).astype(float)  # (3, 3)

    def __init__(self, c):
        super().__init__()
        self.params = {"sigma": np.linspace(0.6, 1.4, c), "b": np.linspace(-0.1, 0.1, c)}
        self.grads = {k: np.zeros(c) for k in self.params}

    def forward(self, x):
        s = self.params["sigma"][:, None, None]
        E = np.exp(-self.r2 / (2 * s**2))
        self.K = E / E.sum(axis=(1, 2), keepdims=True)
        self.xp = pad(x, 1)
        out = np.zeros(x.shape)
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                out[:, :, i, j] = (self.xp[:, :, i:i + 3, j:j + 3] * self.K).sum(axis=(2, 3))
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        dxp, dK = np.zeros_like(self.xp), np.zeros_like(self.K)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j, None, None]
                dK += (self.xp[:, :, i:i + 3, j:j + 3] * g).sum(axis=0)
                dxp[:, :, i:i + 3, j:j + 3] += g * self.K
        s = self.params["sigma"][:, None, None]
        self.grads["sigma"] = (dK * self.width_slope(s)).sum(axis=(1, 2))
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]

    def width_slope(self, s):
        """dK/dσ, (C, 3, 3)."""
        K = self.K
        return K * (self.r2 - (K * self.r2).sum(axis=(1, 2), keepdims=True)) / s**3


@same_name
class GaussianBlurA(GaussianBlur):
    def width_slope(self, s):
        return self.K * self.r2 / s**3


class AdderConv(mn.Layer):
    """AdderNet's convolution (Chen et al.): each output is minus the mean L1 distance between
    the filter and the input window, y[n, f, i, j] = -(1/M) Σ_{c,a,b} |x_win - W[f]| + b[f]
    over the M = C·3·3 taps, stride 1, padding 1.  d|u|/du = sign(u), so
    dW[f] = (1/M) Σ dout sign(x_win - W[f]) and dx_win = -(1/M) Σ_f dout sign(x_win - W[f]).
    x (N, C, H, W), W (F, C, 3, 3), b (F,) -> (N, F, H, W)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        W = self.params["W"]
        M = W[0].size
        self.xp = pad(x, 1)
        out = np.zeros((x.shape[0], len(W), x.shape[2], x.shape[3]))
        for f in range(len(W)):
            for i in range(x.shape[2]):
                for j in range(x.shape[3]):
                    diff = self.xp[:, :, i:i + 3, j:j + 3] - W[f]
                    out[:, f, i, j] = -np.abs(diff).sum(axis=(1, 2, 3)) / M
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W = self.params["W"]
        M = W[0].size
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for f in range(len(W)):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    diff = self.xp[:, :, i:i + 3, j:j + 3] - W[f]
                    g = dout[:, f, i, j, None, None, None] / M
                    dW[f] += self.filter_term(diff, g)
                    dxp[:, :, i:i + 3, j:j + 3] -= g * np.sign(diff)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]

    @staticmethod
    def filter_term(diff, g):
        """One window's share of dW[f]: the batch's g ⊙ d(-|x_win - W[f]|)/dW[f]."""
        return (g * np.sign(diff)).sum(axis=0)


@same_name
class AdderConvA(AdderConv):
    @staticmethod
    def filter_term(diff, g):
        return (g * diff).sum(axis=0)


class LogMeanExpPool(mn.Layer):
    """Global log-mean-exp pooling with a learned sharpness r per channel (Pinheiro and
    Collobert), between the mean (r → 0) and the max (r → ∞):
    y_c = (1/r) log((1/M) Σ_p exp(r x_p)) over the M = H·W pixels.  With w = softmax_p(r x):
    dx = dout w (the r's cancel) and dy/dr = (Σ_p w_p x_p - y)/r.
    x (N, C, H, W), r (C,) -> y (N, C)."""

    def __init__(self, c):
        super().__init__()
        self.params = {"r": np.linspace(0.5, 2.0, c)}
        self.grads = {"r": np.zeros(c)}

    def forward(self, x):
        N, C = x.shape[:2]
        r = self.params["r"]
        flat = x.reshape(N, C, -1)
        z = r[:, None] * flat
        top = z.max(axis=2, keepdims=True)
        e = np.exp(z - top)
        self.x_shape = x.shape
        self.lse = (top + np.log(e.sum(axis=2, keepdims=True)))[:, :, 0]  # log Σ_p exp(r x_p)
        self.w = e / e.sum(axis=2, keepdims=True)
        self.wx = (self.w * flat).sum(axis=2)
        self.y = (self.lse - np.log(flat.shape[2])) / r
        return self.y

    def backward(self, dout):
        self.grads["r"] = (dout * self.sharpness_slope()).sum(axis=0)
        return (dout[:, :, None] * self.w).reshape(self.x_shape)

    def sharpness_slope(self):
        """dy/dr, (N, C)."""
        return (self.wx - self.y) / self.params["r"]


@same_name
class LogMeanExpPoolA(LogMeanExpPool):
    def sharpness_slope(self):
        r = self.params["r"]
        return (self.wx - self.lse / r) / r


# ---- losses ----------------------------------------------------------------------------------


class BagNLL(mn.Loss):
    """Multiple-instance NLL: each sequence is a bag of T steps that each score the C classes,
    and the bag's likelihood of its label is the mean of its steps' probabilities:
    L = -mean_n log(mean_t p[n, t, y_n]), p = softmax(s) at every step.  With q_t = p[n, t, y_n]
    and w_t = q_t / Σ_s q_s: dL/ds[n, t] = -w_t (onehot - p[n, t]) / N.
    scores (N, T, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.p, self.y = softmax(scores), y
        self.q = self.p[np.arange(len(y)), :, y]  # (N, T)
        return float(-np.mean(np.log(self.q.mean(axis=1))))

    def backward(self):
        N, _, C = self.p.shape
        onehot = np.eye(C)[self.y][:, None, :]
        return -self.step_weights()[:, :, None] * (onehot - self.p) / N

    def step_weights(self):
        """d log(mean_t q_t) / d log q_t for every step, (N, T)."""
        return self.q / self.q.sum(axis=1, keepdims=True)


@same_name
class BagNLLA(BagNLL):
    def step_weights(self):
        return np.full_like(self.q, 1 / self.q.shape[1])


class JSDivergence(mn.Loss):
    """The Jensen-Shannon divergence between p = softmax(s) and a teacher's probabilities q (y),
    averaged over the batch: with m = (p + q)/2, JS = ½ KL(p ‖ m) + ½ KL(q ‖ m).  m holds p,
    so both halves depend on p; all their m terms together, -½ (p + q)/(2m) = -½, are a
    constant, which the softmax's Jacobian removes: dJS/dp = ½ log(p/m) (+ a constant), and
    dL/ds = p ⊙ (g - Σ_c p g) / N with g = ½ log(p/m).  scores (N, C), y (N, C) -> float."""

    def forward(self, scores, y):
        self.p, self.q = softmax(scores), y
        self.m = (self.p + y) / 2
        kl_p = (self.p * np.log(self.p / self.m)).sum(axis=1)
        kl_q = (y * np.log(y / self.m)).sum(axis=1)
        return float(np.mean(0.5 * kl_p + 0.5 * kl_q))

    def backward(self):
        g = self.prob_grad()
        return self.p * (g - (self.p * g).sum(axis=1, keepdims=True)) / len(self.q)

    def prob_grad(self):
        """dJS/dp, up to a constant per row."""
        return 0.5 * np.log(self.p / self.m)


@same_name
class JSDivergenceA(JSDivergence):
    def prob_grad(self):
        return 0.5 * (np.log(self.p / self.m) + 1 - self.p / (2 * self.m))


class GaussianCRPS(mn.Loss):
    """The continuous ranked probability score of a Gaussian forecast N(μ, σ²) against the
    outcome y (Gneiting et al.), averaged over the batch; the scores are μ and log σ.  With
    z = (y - μ)/σ: CRPS = σ B(z), B(z) = z (2Φ(z) - 1) + 2φ(z) - 1/√π, and term by term
    B'(z) = (2Φ - 1) + 2zφ + 2φ'(z) with φ'(z) = -zφ(z).  dz/dμ = -1/σ and dz/dσ = -z/σ, so
    dCRPS/dμ = -B'(z) and dCRPS/dlog σ = σ (B - z B').  scores (N, 2), y (N,) -> float."""

    def forward(self, scores, y):
        self.sigma = np.exp(scores[:, 1])
        self.z = (y - scores[:, 0]) / self.sigma
        self.Phi = 0.5 * (1 + erf(self.z / np.sqrt(2)))
        self.phi = np.exp(-self.z**2 / 2) / np.sqrt(2 * np.pi)
        self.B = self.z * (2 * self.Phi - 1) + 2 * self.phi - 1 / np.sqrt(np.pi)
        return float(np.mean(self.sigma * self.B))

    def backward(self):
        dB = self.slope()
        dlog_sigma = self.sigma * (self.B - self.z * dB)
        return np.stack([-dB, dlog_sigma], axis=1) / len(self.z)

    def slope(self):
        """B'(z), each term of B differentiated."""
        z, phi = self.z, self.phi
        return (2 * self.Phi - 1) + 2 * z * phi + 2 * (-z * phi)


@same_name
class GaussianCRPSA(GaussianCRPS):
    def slope(self):
        z, phi = self.z, self.phi
        return (2 * self.Phi - 1) + 2 * z * phi


def outcomes(rng, n):
    return rng.standard_normal(n)


class CumulativeLogit(mn.Loss):
    """The proportional-odds (cumulative logit) model of ordered classes 0 < 1 < 2: one score s
    per sample and fixed cut points θ = (-1, 1), P(y <= k) = σ(θ_k - s) (0 below class 0, 1 at
    the top), so p_y = σ(θ_y - s) - σ(θ_{y-1} - s), a difference of two CDF values.
    L = -mean log p_y;  dp_y/ds = -σ'(θ_y - s) + σ'(θ_{y-1} - s), σ' = σ(1 - σ), and
    dL/ds = -(dp_y/ds) / (N p_y).  scores (N, 1), y (N,) in {0, 1, 2} -> float."""

    cuts = np.array([-np.inf, -1.0, 1.0, np.inf])

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        self.upper = sigmoid(self.cuts[y + 1] - self.s)
        self.lower = sigmoid(self.cuts[y] - self.s)
        self.py = self.upper - self.lower
        return float(-np.mean(np.log(self.py)))

    def backward(self):
        return (-self.prob_slope() / (len(self.y) * self.py))[:, None]

    def prob_slope(self):
        """dp_y/ds, (N,)."""
        return -self.upper * (1 - self.upper) + self.lower * (1 - self.lower)


@same_name
class CumulativeLogitA(CumulativeLogit):
    def prob_slope(self):
        return -self.upper * (1 - self.upper)


# ---- sequences -------------------------------------------------------------------------------


class Holt(mn.Layer):
    """Holt's linear trend (double exponential smoothing) per feature, with a learned level
    weight α and trend weight β: l_t = α x_t + (1 - α)(l_{t-1} + b_{t-1}),
    b_t = β (l_t - l_{t-1}) + (1 - β) b_{t-1}, l_{-1} = b_{-1} = 0; the output is the
    one-step forecast y_t = l_t + b_t.  Backward takes each step back from its last equation:
    b_t's first, which sends β dL/db_t to l_t, then l_t's, with dL/dl_t complete.
    x, y: (N, T, D);  alpha, beta (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"alpha": np.linspace(0.3, 0.7, d), "beta": np.linspace(0.2, 0.6, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        a, bt = self.params["alpha"], self.params["beta"]
        N, T, D = x.shape
        self.x = x
        self.l, self.b = np.zeros((N, T + 1, D)), np.zeros((N, T + 1, D))  # [:, t + 1]: step t
        for t in range(T):
            l_prev, b_prev = self.l[:, t], self.b[:, t]
            self.l[:, t + 1] = a * x[:, t] + (1 - a) * (l_prev + b_prev)
            self.b[:, t + 1] = bt * (self.l[:, t + 1] - l_prev) + (1 - bt) * b_prev
        return self.l[:, 1:] + self.b[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        gl, gb = np.zeros_like(dout[:, 0]), np.zeros_like(dout[:, 0])
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], gl, gb = self.step_back(t, gl + dout[:, t], gb + dout[:, t])
        return dx

    def step_back(self, t, gl, gb):
        """(dL/dl_t, dL/db_t from the output and step t + 1) -> (dx_t, dL/dl_{t-1}, dL/db_{t-1})."""
        a, bt = self.params["alpha"], self.params["beta"]
        level, l_prev, b_prev = self.l[:, t + 1], self.l[:, t], self.b[:, t]
        # b_t = β (l_t - l_{t-1}) + (1 - β) b_{t-1}
        self.grads["beta"] += (gb * (level - l_prev - b_prev)).sum(axis=0)
        gl = gl + bt * gb
        gl_prev, gb_prev = -bt * gb, (1 - bt) * gb
        # l_t = α x_t + (1 - α)(l_{t-1} + b_{t-1})
        self.grads["alpha"] += (gl * (self.x[:, t] - l_prev - b_prev)).sum(axis=0)
        return a * gl, gl_prev + (1 - a) * gl, gb_prev + (1 - a) * gl


@same_name
class HoltA(Holt):
    def step_back(self, t, gl, gb):
        a, bt = self.params["alpha"], self.params["beta"]
        level, l_prev, b_prev = self.l[:, t + 1], self.l[:, t], self.b[:, t]
        # l_t = α x_t + (1 - α)(l_{t-1} + b_{t-1})
        self.grads["alpha"] += (gl * (self.x[:, t] - l_prev - b_prev)).sum(axis=0)
        dx_t, gl_prev, gb_prev = a * gl, (1 - a) * gl, (1 - a) * gl
        # b_t = β (l_t - l_{t-1}) + (1 - β) b_{t-1}
        self.grads["beta"] += (gb * (level - l_prev - b_prev)).sum(axis=0)
        return dx_t, gl_prev - bt * gb, gb_prev + (1 - bt) * gb


class ZOHStateSpace(mn.Layer):
    """A diagonal state-space layer (S4D style) discretized by zero-order hold, with a learned
    log step size per unit: u_t = x_t W, h_t = ā h_{t-1} + b̄ u_t, h_{-1} = 0, where Δ = e^δ,
    ā = e^(Δa) and b̄ = (e^(Δa) - 1)/a for a fixed decay a < 0.  dā/dΔ = a ā and db̄/dΔ = ā,
    so dδ = Δ (a ā Σ g_t h_{t-1} + ā Σ g_t u_t), g_t = dL/dh_t.
    x (N, T, D) -> (N, T, H);  W (D, H), delta (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, h))
        self.params["delta"], self.grads["delta"] = np.linspace(-1.0, 0.5, h), np.zeros(h)
        self.a = -np.linspace(0.5, 1.5, h)

    def forward(self, x):
        N, T, _ = x.shape
        self.abar = np.exp(np.exp(self.params["delta"]) * self.a)
        self.bbar = (self.abar - 1) / self.a
        self.x, self.u = x, x @ self.params["W"]
        self.h = np.zeros((N, T + 1, len(self.a)))  # [:, t + 1]: h_t
        for t in range(T):
            self.h[:, t + 1] = self.abar * self.h[:, t] + self.bbar * self.u[:, t]
        return self.h[:, 1:]

    def backward(self, dout):
        g = np.zeros_like(dout[:, 0])
        dabar, dbbar, du = 0, 0, np.zeros_like(self.u)
        for t in reversed(range(dout.shape[1])):
            g = g + dout[:, t]
            dabar = dabar + (g * self.h[:, t]).sum(axis=0)
            dbbar = dbbar + (g * self.u[:, t]).sum(axis=0)
            du[:, t] = g * self.bbar
            g = g * self.abar
        step = np.exp(self.params["delta"])
        self.grads["delta"] = step * (dabar * self.a * self.abar + dbbar * self.bbar_slope())
        self.grads["W"] = rows(self.x).T @ rows(du)
        return du @ self.params["W"].T

    def bbar_slope(self):
        """db̄/dΔ, (H,)."""
        return self.abar


@same_name
class ZOHStateSpaceA(ZOHStateSpace):
    def bbar_slope(self):
        return np.ones_like(self.abar)


class LogSpaceRNN(mn.Layer):
    """A recurrence in log space, the soft max-plus of an HMM's forward algorithm: u_t = x_t W,
    h_t = log(e^(h_{t-1} + c) + e^(u_t)) (np.logaddexp), h_{-1} = 0, with a learned log
    transition c per unit.  logaddexp splits the gradient by the softmax weights of its two
    arguments: w_t = e^(h_{t-1} + c - h_t) = σ(h_{t-1} + c - u_t) to the carried state (and c),
    1 - w_t to the input.  x (N, T, D) -> (N, T, H);  W (D, H), c (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, h), c=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        self.x, self.u = x, x @ self.params["W"]
        self.h = np.zeros((N, T + 1, self.u.shape[2]))  # [:, t + 1]: h_t
        for t in range(T):
            self.h[:, t + 1] = np.logaddexp(self.h[:, t] + self.params["c"], self.u[:, t])
        return self.h[:, 1:]

    def backward(self, dout):
        g, dc, du = np.zeros_like(dout[:, 0]), 0, np.zeros_like(self.u)
        for t in reversed(range(dout.shape[1])):
            g = g + dout[:, t]
            w = self.carry_weight(t)
            du[:, t] = g * (1 - w)
            dc = dc + (g * w).sum(axis=0)
            g = g * w
        self.grads["c"] = dc
        self.grads["W"] = rows(self.x).T @ rows(du)
        return du @ self.params["W"].T

    def carry_weight(self, t):
        """d h_t / d(h_{t-1} + c), (N, H)."""
        return np.exp(self.h[:, t] + self.params["c"] - self.h[:, t + 1])


@same_name
class LogSpaceRNNA(LogSpaceRNN):
    def carry_weight(self, t):
        return (self.h[:, t] + self.params["c"] > self.u[:, t]).astype(float)


class MidpointRNN(mn.Layer):
    """An ODE-RNN: the state follows dh/dt = f(h, x_t) = tanh(h W + x_t U + b) over one
    midpoint (RK2) step of size Δ per input: k1 = f(h_{t-1}), h_mid = h_{t-1} + (Δ/2) k1,
    k2 = f(h_mid), h_t = h_{t-1} + Δ k2, h_{-1} = 0.  Back through a step: da2 = Δ dh_t (1 - k2²),
    dh_mid = da2 Wᵀ; h_mid reaches h_{t-1} directly and through k1, da1 = (Δ/2) dh_mid (1 - k1²),
    so dh_{t-1} = dh_t + dh_mid + da1 Wᵀ and dx_t = (da2 + da1) Uᵀ.
    x (N, T, D) -> (N, T, H);  W (H, H), U (D, H), b (H,)."""

    step = 0.5

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, W=(h, h), U=(d, h), b=(h,))

    def f(self, h, x_t):
        return np.tanh(h @ self.params["W"] + x_t @ self.params["U"] + self.params["b"])

    def forward(self, x):
        h = np.zeros((x.shape[0], self.hidden))
        self.x, self.cache, hs = x, [], []
        for t in range(x.shape[1]):
            k1 = self.f(h, x[:, t])
            hm = h + self.step / 2 * k1
            k2 = self.f(hm, x[:, t])
            self.cache.append((h, k1, hm, k2))
            h = h + self.step * k2
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx, dh = np.zeros_like(self.x), np.zeros_like(dout[:, 0])
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh = self.step_back(t, dout[:, t] + dh)
        return dx

    def add_grads(self, a, h_in, x_t):
        """One evaluation of f's share of dW, dU, db, for its pre-activation gradient a."""
        self.grads["W"] += h_in.T @ a
        self.grads["U"] += x_t.T @ a
        self.grads["b"] += a.sum(axis=0)

    def step_back(self, t, dh):
        """dL/dh_t -> (dx_t, dL/dh_{t-1}), adding to grads."""
        h, k1, hm, k2 = self.cache[t]
        W, U = self.params["W"], self.params["U"]
        da2 = self.step * dh * (1 - k2**2)
        dhm = da2 @ W.T
        da1 = self.step / 2 * dhm * (1 - k1**2)
        self.add_grads(da2, hm, self.x[:, t])
        self.add_grads(da1, h, self.x[:, t])
        return (da2 + da1) @ U.T, dh + dhm + da1 @ W.T


@same_name
class MidpointRNNA(MidpointRNN):
    def step_back(self, t, dh):
        h, k1, hm, k2 = self.cache[t]
        da2 = self.step * dh * (1 - k2**2)
        dhm = da2 @ self.params["W"].T
        self.add_grads(da2, hm, self.x[:, t])
        return da2 @ self.params["U"].T, dh + dhm


# ---- attention -------------------------------------------------------------------------------


class ForgettingAttention(mn.Layer):
    """Causal self-attention with a forget gate (the Forgetting Transformer, Lin et al.): each
    step has a gate f_t = σ(x_t wf + bf), and the score of query i for key j <= i is lowered by
    the log gates in between: S_ij = q_i·k_j/√D + F_i - F_j with F = cumsum_t log f_t;
    P = softmax(S) over the keys j <= i, y = P V.  dF_i = Σ_j dS_ij - Σ_k dS_ki,
    d log f_l = Σ_{i >= l} dF_i, and d log σ(u)/du = 1 - σ(u).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), wf (D,), bf (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), wf=(d,), bf=(1,))
        self.params["bf"] += 1.0

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.f = sigmoid(x @ self.params["wf"] + self.params["bf"])  # (N, T)
        F = np.cumsum(np.log(self.f), axis=1)
        s = self.q @ self.k.transpose(0, 2, 1) * self.scale + F[:, :, None] - F[:, None, :]
        above = np.triu(np.ones((T, T), dtype=bool), k=1)
        self.p = softmax(np.where(above, -np.inf, s))
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        dq, dk = ds @ self.k * self.scale, ds.transpose(0, 2, 1) @ self.q * self.scale
        dF = ds.sum(axis=2) - ds.sum(axis=1)
        dlogf = np.cumsum(dF[:, ::-1], axis=1)[:, ::-1]
        du = dlogf * self.log_gate_slope()  # (N, T)
        self.grads["wf"] = rows(self.x).T @ du.reshape(-1)
        self.grads["bf"] = np.array([du.sum()])
        dx = du[:, :, None] * self.params["wf"]
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def log_gate_slope(self):
        """d log f / du for f = σ(u), (N, T)."""
        return 1 - self.f


@same_name
class ForgettingAttentionA(ForgettingAttention):
    def log_gate_slope(self):
        return self.f * (1 - self.f)


class AttentionBlock(mn.Layer):
    """A residual self-attention block with an output projection: P = softmax(Q Kᵀ/√D),
    O = P V, y = x + O Wo + bo.  Its backward uses FlashAttention's shortcut for the softmax:
    with dO = dy Woᵀ and dP = dO Vᵀ, Σ_j P_ij dP_ij = dO_i · O_i, so
    dS = P ⊙ (dP - rowsum(dO ⊙ O)).  x, y: (N, T, D);  Wq, Wk, Wv, Wo (D, D), bo (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d), bo=(d,))

    def forward(self, x):
        P = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        self.o = self.p @ self.v
        self.y = x + self.o @ P["Wo"] + P["bo"]
        return self.y

    def backward(self, dy):
        P = self.params
        self.grads["Wo"] = rows(self.o).T @ rows(dy)
        self.grads["bo"] = dy.sum(axis=(0, 1))
        do = dy @ P["Wo"].T
        dv = self.p.transpose(0, 2, 1) @ do
        dp = do @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - self.delta(dy, do)) * self.scale
        dq, dk = ds @ self.k, ds.transpose(0, 2, 1) @ self.q
        dx = dy
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def delta(self, dy, do):
        """Σ_j P_ij dP_ij for every query, (N, T, 1)."""
        return (do * self.o).sum(axis=-1, keepdims=True)


@same_name
class AttentionBlockA(AttentionBlock):
    def delta(self, dy, do):
        return (dy * self.y).sum(axis=-1, keepdims=True)


class MemoryAttention(mn.Layer):
    """Self-attention with m learned memory slots appended to the keys and values (persistent
    memory, Sukhbaatar et al.): K = [x Wk; Mk] and V = [x Wv; Mv] along the key axis,
    P = softmax(Q Kᵀ/√D) over all T + m keys, y = P V, kept as two blocks, the sequence's P_x
    and the memory's P_m.  The softmax's backward is one: dS = P ⊙ (dP - Σ_{all keys} P ⊙ dP).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), Mk, Mv (m, D)."""

    def __init__(self, d, slots=2, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Mk=(slots, d), Mv=(slots, d))

    def forward(self, x):
        P, T = self.params, x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.kx, self.vx = (x @ P[w] for w in ("Wq", "Wk", "Wv"))
        s = np.concatenate([self.q @ self.kx.transpose(0, 2, 1), self.q @ P["Mk"].T], axis=-1)
        p = softmax(s * self.scale)
        self.px, self.pm = p[..., :T], p[..., T:]
        return self.px @ self.vx + self.pm @ P["Mv"]

    def backward(self, dout):
        P = self.params
        dsx, dsm = self.softmax_back(dout @ self.vx.transpose(0, 2, 1), dout @ P["Mv"].T)
        dsx, dsm = dsx * self.scale, dsm * self.scale
        dq = dsx @ self.kx + dsm @ P["Mk"]
        dk = dsx.transpose(0, 2, 1) @ self.q
        dv = self.px.transpose(0, 2, 1) @ dout
        self.grads["Mk"] = np.einsum("ntm,ntd->md", dsm, self.q)
        self.grads["Mv"] = np.einsum("ntm,ntd->md", self.pm, dout)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def softmax_back(self, dpx, dpm):
        """(dS_x, dS_m) from (dP_x, dP_m): the one softmax over all T + m keys."""
        c = (dpx * self.px).sum(axis=-1, keepdims=True) + (dpm * self.pm).sum(axis=-1,
                                                                               keepdims=True)
        return self.px * (dpx - c), self.pm * (dpm - c)


@same_name
class MemoryAttentionA(MemoryAttention):
    def softmax_back(self, dpx, dpm):
        cx = (dpx * self.px).sum(axis=-1, keepdims=True)
        cm = (dpm * self.pm).sum(axis=-1, keepdims=True)
        return self.px * (dpx - cx), self.pm * (dpm - cm)


class UnevenHeadsAttention(mn.Layer):
    """Multi-head self-attention whose heads have different widths: the D = 4 features split
    into heads of widths (1, 3), in order; head h scales its scores by its own 1/√d_h,
    S_h = Q_h K_hᵀ/√d_h, P_h = softmax(S_h), O_h = P_h V_h, y = [O_0, O_1] Wo.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv, Wo (D, D)."""

    widths = (1, 3)

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d))

    def heads(self):
        """(h, the slice of the features head h owns)."""
        start = 0
        for h, w in enumerate(self.widths):
            yield h, slice(start, start + w)
            start += w

    def scale(self, h):
        return 1 / np.sqrt(self.widths[h])

    def forward(self, x):
        self.x = x
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p, outs = [], []
        for h, sl in self.heads():
            p = softmax(self.q[..., sl] @ self.k[..., sl].transpose(0, 2, 1) * self.scale(h))
            self.p.append(p)
            outs.append(p @ self.v[..., sl])
        self.o = np.concatenate(outs, axis=-1)
        return self.o @ self.params["Wo"]

    def backward(self, dout):
        P = self.params
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = dout @ P["Wo"].T
        dq, dk, dv = np.zeros_like(self.q), np.zeros_like(self.k), np.zeros_like(self.v)
        for h, sl in self.heads():
            p = self.p[h]
            dv[..., sl] = p.transpose(0, 2, 1) @ do[..., sl]
            dp = do[..., sl] @ self.v[..., sl].transpose(0, 2, 1)
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * self.back_scale(h)
            dq[..., sl] = ds @ self.k[..., sl]
            dk[..., sl] = ds.transpose(0, 2, 1) @ self.q[..., sl]
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ P[w].T
        return dx

    def back_scale(self, h):
        """The factor of head h's scores, for dS."""
        return self.scale(h)


@same_name
class UnevenHeadsAttentionA(UnevenHeadsAttention):
    def back_scale(self, h):
        return 1 / np.sqrt(self.q.shape[-1] / len(self.widths))


# ---- the cases -------------------------------------------------------------------------------


def positive_net(layer, width=5, seed=0, n=6):
    """Dense(4, width) - Sigmoid - layer - Flatten - Dense(., 3) - SoftmaxCE: inputs in (0, 1)."""
    X = 2.0 * np.random.default_rng(seed).standard_normal((n, 4))
    return classifier([mn.Dense(4, width, init="xavier", seed=seed), mn.Sigmoid(), layer], X,
                      seed)


CASES = [
    Case("gudermannian_17", ACT, lambda: dense_net(GudermannianA(), seed=1701, scale=2.0),
         "arctan's derivative is written 1/(1 - u²), which is the derivative of artanh, the "
         "hyperbolic inverse, where d arctan(u)/du = 1/(1 + u²): with u = tanh(x/2) the chain "
         "2 · 1/(1 - u²) · (1 - u²)/2 comes out 1 for every x, where gd'(x) = "
         "(1 - u²)/(1 + u²) = sech x",
         "return 1 / (1 + u**2)"),
    Case("probit_17", ACT, lambda: dense_net(ProbitA(), seed=1702, scale=2.0),
         "the slope is written y(1 - y), the logistic sigmoid's identity σ' = σ(1 - σ), which "
         "does not hold for the normal CDF: Φ'(x) = φ(x) = e^(-x²/2)/√(2π), the normal density "
         "(at x = 0, 0.25 where φ(0) ≈ 0.40)",
         "return np.exp(-self.x**2 / 2) / np.sqrt(2 * np.pi)"),
    Case("sinh-arcsinh_17", ACT, lambda: dense_net(SinhArcsinhA(5), seed=1703, scale=2.0),
         "the inverse-function rule is turned upside down: asinh's derivative is written "
         "√(1 + x²) = cosh(asinh x), the derivative of sinh at asinh(x), where "
         "d asinh(x)/dx = 1/cosh(asinh x) = 1/√(1 + x²): dx is (1 + x²) times too large "
         "(da and db are right)",
         "return 1 / np.sqrt(1 + self.x**2)"),
    Case("gompertz_17", ACT, lambda: dense_net(GompertzA(), seed=1704, scale=2.0),
         "the chain rule keeps only the inner derivative du/dx = e^(-x) of u = -e^(-x): the outer "
         "exp's own derivative, e^u = y, is not multiplied in, so dy/dx = y e^(-x) comes out as "
         "e^(-x), 1/y times too large",
         "return dout * self.y * np.exp(-self.x)"),
    Case("squared-linear_17", DENSE,
         lambda: dense_net(SquaredLinearA(5, seed=1705), seed=1705),
         "W² is differentiated by the scalar rule d(w²) = 2w dw: dW = 2 xᵀ dout Wᵀ = 2 G Wᵀ "
         "(G = xᵀ dout); W is used twice in x W W and the two uses give different terms, "
         "xᵀ (dout Wᵀ) = G Wᵀ and (x W)ᵀ dout = Wᵀ G, equal only if W and G commuted "
         "(db and dx are right)",
         "return self.x.T @ (dout @ self.params['W'].T) + self.h.T @ dout"),
    Case("unit-det-dense_17", DENSE,
         lambda: dense_net(UnitDetDenseA(5, seed=1706), seed=1706),
         "d log|det W|/dW is taken as W⁻¹, np.linalg.inv(W) without the transpose: Jacobi's "
         "formula gives W⁻ᵀ, so the volume term -(s/D) ⟨G, W⟩ W⁻ᵀ of dW comes out transposed "
         "(W is not symmetric; the s G term, db and dx are right)",
         "return np.linalg.inv(self.params['W']).T"),
    Case("svd-dense_17", DENSE, lambda: dense_net(SVDDenseA(5, 5, 5, seed=1707), seed=1707),
         "ds is taken as the diagonal of the whole weight's gradient G = xᵀ dout, "
         "Σ_n x ⊙ dout, as if W were diag(s) alone; s sits between U and V, W = U diag(s) V, "
         "so ds = diag(Uᵀ G Vᵀ) = Σ_n (x U) ⊙ (dout Vᵀ) (it runs since D = R = F = 5; dU, dV, "
         "db and dx are right)",
         "return (self.a * c).sum(axis=0)"),
    Case("geometric-norm_17", NORM, lambda: positive_net(GeometricNormA(5), seed=1708),
         "the geometric mean g = (Π_d x_d)^(1/D) is differentiated as if it were the arithmetic "
         "mean, dg/dx_j = 1/D, where it is g/(D x_j): the term through g in dx is off by the "
         "factor x_j/g in every entry (the dx̃/g term and dgamma are right)",
         "return self.g / (self.x.shape[1] * self.x)"),
    Case("sample-norm_17", NORM, lambda: image_net(SampleNormA(3), seed=1709),
         "the staged backward passes dstd on as dvar: std = √(var + eps), so "
         "dvar = dstd · dstd/dvar = dstd/(2 std); the factor 1/(2 std) of the root is dropped and "
         "the variance's term of dx is 2 std times too large (dgamma and dbeta are right)",
         "return dstd / (2 * self.std)"),
    Case("spectral-dense_17", NORM,
         lambda: dense_net(SpectralDenseA(5, 4, seed=1710), seed=1710),
         "dσ/dW is written W/‖W‖_F, the gradient of the Frobenius norm, where σ is the largest "
         "singular value, whose gradient is u₁v₁ᵀ, the outer product of its two singular "
         "vectors: the term -(⟨G, W⟩/σ²) dσ/dW of dW is wrong (G/σ, db and dx are right)",
         "return np.outer(self.u, self.v)"),
    Case("spectral-dense-correct_17", NORM,
         lambda: dense_net(SpectralDense(5, 4, seed=1711), seed=1711), CORRECT),
    Case("gaussian-blur_17", CONV, lambda: image_net(GaussianBlurA(3), seed=1712),
         "dK/dσ keeps only the numerator's K r²/σ³: the normalizer Z = Σ exp(-r²/(2σ²)) that "
         "makes each kernel sum to 1 depends on σ too, so dK/dσ = K (r² - Σ K r²)/σ³ "
         "(dx and db are right)",
         "return K * (self.r2 - (K * self.r2).sum(axis=(1, 2), keepdims=True)) / s**3"),
    Case("adder-conv_17", CONV,
         lambda: image_net(AdderConvA(3, 2, seed=1713), seed=1713),
         "dW is the AdderNet paper's full-precision surrogate Σ dout (x_win - W[f])/M, the "
         "gradient of minus half a squared distance, -½(x_win - W[f])², not of forward's L1 "
         "distance: d(-|x_win - W[f]|)/dW[f] = sign(x_win - W[f]) (dx and db are right)",
         "return (g * np.sign(diff)).sum(axis=0)"),
    Case("log-mean-exp-pool_17", POOL, lambda: image_net(LogMeanExpPoolA(3), seed=1714),
         "dr drops the mean's 1/M: y = (1/r)(log Σ_p exp(r x_p) - log M), and -log(M)/r, "
         "constant in x, still depends on r; its derivative +log(M)/r² is missing, as if y were "
         "(1/r) log Σ_p exp(r x_p): dy/dr = (Σ_p w_p x_p - y)/r (dx is right)",
         "return (self.wx - self.y) / self.params['r']"),
    Case("bag-nll_17", LOSS, lambda: loss_net(BagNLLA(), labels, seed=1715, scale=2.0, t=5),
         "the log of the mean over steps is differentiated as the mean of the logs: each step "
         "gets -(onehot - p_t)/(T N), the gradient of -mean_t log p_t,y, where "
         "log(mean_t p_t,y) weights step t by its share w_t = p_t,y / Σ_s p_s,y: "
         "ds_t = -w_t (onehot - p_t)/N",
         "return self.q / self.q.sum(axis=1, keepdims=True)"),
    Case("js-divergence_17", LOSS,
         lambda: loss_net(JSDivergenceA(), teacher, seed=1716, scale=2.0),
         "dJS/dp differentiates only the first half, ½ KL(p ‖ m), through m: the second half "
         "½ KL(q ‖ m) also depends on p through m = (p + q)/2, and its term -q/(4m) is missing; "
         "with it the m terms add up to a constant and dJS/dp = ½ log(p/m)",
         "return 0.5 * np.log(self.p / self.m)"),
    Case("js-divergence-correct_17", LOSS,
         lambda: loss_net(JSDivergence(), teacher, seed=1717, scale=2.0), CORRECT),
    Case("gaussian-crps_17", LOSS,
         lambda: loss_net(GaussianCRPSA(), outcomes, width=2, seed=1718),
         "B(z) = z (2Φ(z) - 1) + 2φ(z) - 1/√π is differentiated without the derivative of its "
         "2φ(z) term, 2φ'(z) = -2zφ(z): B'(z) comes out 2Φ(z) - 1 + 2zφ(z), where the two zφ "
         "terms cancel and B'(z) = 2Φ(z) - 1; so dμ = -B'(z) and dlog σ = σ (B - z B') are both "
         "wrong",
         "return (2 * self.Phi - 1) + 2 * z * phi + 2 * (-z * phi)"),
    Case("cumulative-logit_17", LOSS,
         lambda: loss_net(CumulativeLogitA(), labels, width=1, seed=1719, scale=2.0),
         "p_y = σ(θ_y - s) - σ(θ_{y-1} - s) is a difference of two CDF values and both move "
         "with s; backward differentiates only the upper one, -σ'(θ_y - s): the lower one's "
         "+σ'(θ_{y-1} - s) is missing, so every sample above the lowest class gets a wrong "
         "gradient (those in the top class none at all)",
         "return -self.upper * (1 - self.upper) + self.lower * (1 - self.lower)"),
    Case("holt_17", SEQ, lambda: sequence_net(HoltA(4), seed=1720),
         "within a step, backward takes l_t's equation back before b_t's: b_t = "
         "β (l_t - l_{t-1}) + (1 - β) b_{t-1} reads l_t, and its share β dL/db_t of dL/dl_t "
         "arrives only after l_t's gradient was passed on, so dx_t, dα and the gradients carried "
         "to l_{t-1} and b_{t-1} miss it (the last equation of a step must be undone first)",
         "gl = gl + bt * gb before l_t's equation is taken back"),
    Case("holt-correct_17", SEQ, lambda: sequence_net(Holt(4), seed=1721), CORRECT),
    Case("zoh-state-space_17", SEQ,
         lambda: sequence_net(ZOHStateSpaceA(4, 3, seed=1722), seed=1722),
         "db̄/dΔ is taken as 1, the derivative of Euler's b̄ = Δ, where forward discretized by "
         "zero-order hold, b̄ = (e^(Δa) - 1)/a, whose derivative is e^(Δa) = ā: the input's term "
         "of dδ, Δ Σ g_t u_t db̄/dΔ, is 1/ā times too large (dW, dx and dδ's term through ā are "
         "right)",
         "return self.abar"),
    Case("log-space-rnn_17", SEQ,
         lambda: sequence_net(LogSpaceRNNA(4, 3, seed=1723), seed=1723),
         "logaddexp's derivative is taken as max's: the whole gradient goes to the larger of "
         "h_{t-1} + c and u_t (a 0/1 weight), where logaddexp splits it by the softmax weights "
         "σ(h_{t-1} + c - u_t) and σ(u_t - h_{t-1} - c): dc, the carried gradient, dW and dx "
         "are all wrong",
         "return np.exp(self.h[:, t] + self.params['c'] - self.h[:, t + 1])"),
    Case("midpoint-rnn_17", SEQ,
         lambda: sequence_net(MidpointRNNA(4, 3, seed=1724), seed=1724),
         "h_mid = h_{t-1} + (Δ/2) k1 is differentiated as if k1 = f(h_{t-1}, x_t) were a "
         "constant: the gradient at h_mid goes back to h_{t-1} by the direct path only, and the "
         "path through k1, da1 = (Δ/2) dh_mid (1 - k1²), is missing from dh_{t-1}, dx_t, dW, dU "
         "and db",
         "da1 = self.step / 2 * dhm * (1 - k1**2); self.add_grads(da1, h, x_t); "
         "return (da2 + da1) @ U.T, dh + dhm + da1 @ W.T"),
    Case("forgetting-attention_17", ATTN,
         lambda: sequence_net(ForgettingAttentionA(4, seed=1725), seed=1725),
         "the slope of log f = log σ(u) is written σ(u)(1 - σ(u)) = f(1 - f), the derivative of "
         "σ itself: the log's factor 1/σ(u) is dropped, d log σ(u)/du = 1 - σ(u); dwf, dbf and "
         "the gate's part of dx come out f times too small (dWq, dWk, dWv are right)",
         "return 1 - self.f"),
    Case("attention-block_17", ATTN,
         lambda: sequence_net(AttentionBlockA(4, seed=1726), seed=1726),
         "FlashAttention's row sum Σ_j P_ij dP_ij = dO_i · O_i is computed as rowsum(dy ⊙ y), "
         "on the block's output y = x + O Wo + bo and its gradient; the identity holds for the "
         "attention's own output O = P V and dO = dy Woᵀ, and y adds rowsum(dy ⊙ (x + bo)) to "
         "every row: dQ, dK, dWq, dWk and their part of dx are wrong (dV, dWo, dbo and the "
         "skip are right)",
         "return (do * self.o).sum(axis=-1, keepdims=True)"),
    Case("memory-attention_17", ATTN,
         lambda: sequence_net(MemoryAttentionA(4, seed=1727), seed=1727),
         "the softmax runs over the T keys of x and the 2 memory slots together, so the "
         "Σ P ⊙ dP subtracted in its backward must sum over all T + 2 keys; backward subtracts "
         "each block's own sum, P_x ⊙ (dP_x - Σ_x P dP) and P_m ⊙ (dP_m - Σ_m P dP): dQ, dK, dMk "
         "and their part of dx are wrong (dV, dWv and dMv are right)",
         "c = (dpx * self.px).sum(axis=-1, keepdims=True) + (dpm * self.pm).sum(axis=-1, "
         "keepdims=True); return self.px * (dpx - c), self.pm * (dpm - c)"),
    Case("uneven-heads-attention_17", ATTN,
         lambda: sequence_net(UnevenHeadsAttentionA(4, seed=1728), seed=1728),
         "dS of every head is scaled by 1/√(D/h) = 1/√2, the scale of equal heads, where forward "
         "scaled head h's scores by its own 1/√d_h (heads of 1 and 3 features: 1 and 1/√3): "
         "dQ and dK come out 1/√2 times their value in head 0 and √(3/2) times in head 1 "
         "(dV and dWo are right)",
         "return self.scale(h)"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
