"""The fifth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the fourth held-out set was used up:
whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name.
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
    SelfAttention,
    dense_net,
    image_net,
    loss_net,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    softmax,
    with_params,
)
from unlisted_heldout2 import reals

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class Gaussian(mn.Layer):
    """A radial activation: y = exp(-x²);  dy/dx = -2x y.  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.y = x, np.exp(-x**2)
        return self.y

    def backward(self, dout):
        return dout * -2 * self.input() * self.y

    def input(self):
        return self.x


@same_name
class GaussianA(Gaussian):
    def input(self):
        return np.sqrt(-np.log(self.y))  # x, read back off the output


erf = np.vectorize(math.erf)


class ExactGELU(mn.Layer):
    """y = x Φ(x), Φ the standard normal CDF;  dy/dx = Φ(x) + x φ(x),
    φ(x) = exp(-x²/2) / √(2π).  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.cdf = x, (1 + erf(x / np.sqrt(2))) / 2
        return x * self.cdf

    def backward(self, dout):
        return dout * (self.cdf + self.x * self.pdf())

    def pdf(self):
        return np.exp(-self.x**2 / 2) / np.sqrt(2 * np.pi)


@same_name
class ExactGELUA(ExactGELU):
    def pdf(self):
        return np.exp(-self.x**2 / 2)


class BipolarSigmoid(mn.Layer):
    """A sigmoid stretched to (-1, 1): y = 2σ(x) - 1;  dy/dx = 2σ(x)(1 - σ(x)).  x, y: (N, D)."""

    def forward(self, x):
        self.s = sigmoid(x)
        self.y = 2 * self.s - 1
        return self.y

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return 2 * self.s * (1 - self.s)


@same_name
class BipolarSigmoidA(BipolarSigmoid):
    def slope(self):
        return 2 * self.y * (1 - self.y)


class ShiftedSoftplus(mn.Layer):
    """Softplus moved through the origin: y = log(1 + eˣ) - log 2;  dy/dx = σ(x).

    x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x) - np.log(2)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return sigmoid(self.x)


@same_name
class ShiftedSoftplusA(ShiftedSoftplus):
    def slope(self):
        return sigmoid(self.x) - np.log(2)


# ---- dense-like ------------------------------------------------------------------------------


class DecayLinear(mn.Layer):
    """y = x W + b, trained with weight decay.  x (N, D), W (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, decay=0.5, seed=0):
        super().__init__()
        self.decay = decay
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"], self.grads["b"] = self.dW(dout), dout.sum(axis=0)
        return dout @ self.params["W"].T

    def dW(self, dout):
        return self.x.T @ dout


@same_name
class DecayLinearA(DecayLinear):
    def dW(self, dout):
        return self.x.T @ dout + self.decay * self.params["W"]


class PositiveLinear(mn.Layer):
    """A linear map with positive weights: Ŵ = softplus(V), y = x Ŵ + b;  dV = dŴ ⊙ σ(V).

    x (N, D), V (D, F), b (F,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, V=(d, f), b=(f,))

    def forward(self, x):
        self.x, self.w = x, np.log1p(np.exp(self.params["V"]))
        return x @ self.w + self.params["b"]

    def backward(self, dout):
        self.grads["V"] = self.x.T @ dout * self.slope()
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.w.T

    def slope(self):
        return sigmoid(self.params["V"])


@same_name
class PositiveLinearA(PositiveLinear):
    def slope(self):
        return self.w


class ProductLinear(mn.Layer):
    """Two linear maps multiplied: y = (x A) ⊙ (x B).  x (N, D), A, B (D, F) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, A=(d, f), B=(d, f))

    def forward(self, x):
        self.x, self.a, self.b = x, x @ self.params["A"], x @ self.params["B"]
        return self.a * self.b

    def backward(self, dout):
        da, db = self.factors(dout)
        self.grads["A"], self.grads["B"] = self.x.T @ da, self.x.T @ db
        return da @ self.params["A"].T + db @ self.params["B"].T

    def factors(self, dout):
        """(dL/d(xA), dL/d(xB))."""
        return dout * self.b, dout * self.a


@same_name
class ProductLinearA(ProductLinear):
    def factors(self, dout):
        return dout * self.a, dout * self.b


# ---- normalization ---------------------------------------------------------------------------


class MaxNorm(mn.Layer):
    """Rows longer than 1 scaled back to length 1: y = x / max(1, ‖x‖).
    Where ‖x‖ > 1, dx = (dout - ŷ (dout · ŷ)) / ‖x‖; elsewhere dx = dout.  x, y: (N, D)."""

    def forward(self, x):
        self.norm = np.linalg.norm(x, axis=1, keepdims=True)
        self.y = x / np.maximum(1, self.norm)
        return self.y

    def backward(self, dout):
        projected = (dout - self.y * (dout * self.y).sum(axis=1, keepdims=True)) / self.norm
        return np.where(self.long(), projected, dout)

    def long(self):
        return self.norm > 1


@same_name
class MaxNormA(MaxNorm):
    def long(self):
        return np.ones_like(self.norm, dtype=bool)


class PixelNorm(mn.Layer):
    """StyleGAN's pixel norm: each pixel's channel vector divided by its RMS,
    r = √(mean_c x² + ε), y = x / r;  dx = (dout - y mean_c(dout · y)) / r.

    x, y: (N, C, H, W)."""

    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        self.x, self.r = x, np.sqrt((x**2).mean(axis=1, keepdims=True) + self.eps)
        self.y = x / self.r
        return self.y

    def backward(self, dout):
        return (dout - self.along() * (dout * self.y).mean(axis=1, keepdims=True)) / self.r

    def along(self):
        return self.y


@same_name
class PixelNormA(PixelNorm):
    def along(self):
        return self.x


class ScaledL2Norm(mn.Layer):
    """Rows scaled to a learned length g: x̂ = x / ‖x‖, y = g x̂;
    dg = Σ dout · x̂, dx = g (dout - x̂ (dout · x̂)) / ‖x‖.  x, y: (N, D);  g (1,)."""

    def __init__(self, g=2.5):
        super().__init__()
        self.params, self.grads = {"g": np.array([g])}, {"g": np.zeros(1)}

    def forward(self, x):
        self.norm = np.linalg.norm(x, axis=1, keepdims=True)
        self.xhat = x / self.norm
        self.y = self.params["g"] * self.xhat
        return self.y

    def backward(self, dout):
        self.grads["g"] = np.array([(dout * self.unit()).sum()])
        along = (dout * self.xhat).sum(axis=1, keepdims=True)
        return self.params["g"] * (dout - self.xhat * along) / self.norm

    def unit(self):
        return self.xhat


@same_name
class ScaledL2NormA(ScaledL2Norm):
    def unit(self):
        return self.y


# ---- convolution and pooling -----------------------------------------------------------------


class StridedConv(mn.Layer):
    """A k×k convolution at stride 2, no padding, in loops.  x (N, C, H, W),
    W (F, C, k, k), b (F,) -> (N, F, (H - k)//2 + 1, (W - k)//2 + 1)."""

    def __init__(self, c, f, k=2, stride=2, seed=0):
        super().__init__()
        self.k, self.stride = k, stride
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def out_size(self, size):
        return (size - self.k) // self.stride + 1

    def forward(self, x):
        self.x, W, k, s = x, self.params["W"], self.k, self.stride
        Ho, Wo = self.out_size(x.shape[2]), self.out_size(x.shape[3])
        y = np.zeros((len(x), len(W), Ho, Wo))
        for i in range(Ho):
            for j in range(Wo):
                window = x[:, :, i * s:i * s + k, j * s:j * s + k]
                y[:, :, i, j] = np.einsum("nchw,fchw->nf", window, W)
        return y + self.params["b"][:, None, None]

    def backward(self, dout):
        W, k = self.params["W"], self.k
        dx, dW = np.zeros_like(self.x), np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                r, c = self.corner(i), self.corner(j)
                d = dout[:, :, i, j]
                dW += np.einsum("nf,nchw->fchw", d, self.x[:, :, r:r + k, c:c + k])
                dx[:, :, r:r + k, c:c + k] += np.einsum("nf,fchw->nchw", d, W)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx

    def corner(self, i):
        """The first row (or column) of output i's window."""
        return i * self.stride


@same_name
class StridedConvA(StridedConv):
    def corner(self, i):
        return i


class MinPool(mn.Layer):
    """k×k min pooling at stride k.  x (N, C, H, W) -> (N, C, H/k, W/k)."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        N, C, H, W = x.shape
        self.x_shape, k = x.shape, self.k
        self.win = x.reshape(N, C, H // k, k, W // k, k)
        return self.win.min(axis=(3, 5))

    def backward(self, dout):
        hit = self.picked()
        return (hit * dout[:, :, :, None, :, None]).reshape(self.x_shape)

    def picked(self):
        return self.win == self.win.min(axis=(3, 5), keepdims=True)


@same_name
class MinPoolA(MinPool):
    def picked(self):
        return self.win == self.win.max(axis=(3, 5), keepdims=True)


class L2Pool(mn.Layer):
    """k×k root-mean-square pooling at stride k: y = √(mean of x² over the window);
    dx = dout x / (k² y), y and dout spread back over their windows.

    x (N, C, H, W) -> (N, C, H/k, W/k)."""

    def __init__(self, k=2):
        super().__init__()
        self.k = k

    def forward(self, x):
        N, C, H, W = x.shape
        self.x = x
        self.y = np.sqrt((x**2).reshape(N, C, H // self.k, self.k, W // self.k, self.k)
                         .mean(axis=(3, 5)))
        return self.y

    def backward(self, dout):
        return self.up(dout) * self.x / (self.k**2 * self.up(self.y))

    def up(self, a):
        """Each entry copied over its k×k window."""
        return a.repeat(self.k, axis=2).repeat(self.k, axis=3)


@same_name
class L2PoolA(L2Pool):
    def up(self, a):
        return np.tile(a, (1, 1, self.k, self.k))


# ---- losses ----------------------------------------------------------------------------------


class PoissonNLL(mn.Loss):
    """Counts predicted by their log-rate s: L = mean_n (eˢ - y s);  dL/ds = (eˢ - y) / N.

    scores (N, 1), y (N,) counts -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        return float(np.mean(np.exp(self.s) - y * self.s))

    def backward(self):
        return (self.ds() / len(self.y))[:, None]

    def ds(self):
        return np.exp(self.s) - self.y


@same_name
class PoissonNLLA(PoissonNLL):
    def ds(self):
        return 1 - self.y / self.s


def counts(rng, n):
    return rng.poisson(2.0, n)


class MAPE(mn.Loss):
    """Mean absolute percentage error: L = mean_n |s - y| / |y|;
    dL/ds = sign(s - y) / |y| / N.  scores (N, 1), y (N,) nonzero -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        return float(np.mean(np.abs(self.s - y) / np.abs(y)))

    def backward(self):
        return (np.sign(self.s - self.y) / self.scale() / len(self.y))[:, None]

    def scale(self):
        return np.abs(self.y)


@same_name
class MAPEA(MAPE):
    def scale(self):
        return np.abs(self.s)


def away_from_zero(rng, n):
    return rng.choice([-1, 1], n) * rng.uniform(0.5, 2.0, n)


class Charbonnier(mn.Loss):
    """A smooth L1: L = mean_n √((s - y)² + ε²);  dL/ds = (s - y) / √((s - y)² + ε²) / N.

    scores (N, 1), y (N,) -> float."""

    def __init__(self, eps=0.5):
        self.eps = eps

    def forward(self, scores, y):
        self.r = scores[:, 0] - y
        self.root = np.sqrt(self.r**2 + self.eps**2)
        return float(np.mean(self.root))

    def backward(self):
        return (self.r / self.denominator() / len(self.r))[:, None]

    def denominator(self):
        return self.root


@same_name
class CharbonnierA(Charbonnier):
    def denominator(self):
        return self.r**2 + self.eps**2


# ---- sequences -------------------------------------------------------------------------------


class Delay(mn.Layer):
    """Each step sees the input d steps back: y_t = x_{t-d}, zeros for t < d;
    dx_t = dout_{t+d}, zeros for the last d steps.  x (N, T, D) -> (N, T, D)."""

    def __init__(self, d=1):
        super().__init__()
        self.d = d

    def forward(self, x):
        return np.concatenate([np.zeros_like(x[:, :self.d]), x[:, :-self.d]], axis=1)

    def backward(self, dout):
        return np.concatenate([dout[:, self.d:], np.zeros_like(dout[:, :self.d])], axis=1)


@same_name
class DelayA(Delay):
    def backward(self, dout):
        return np.roll(dout, -self.d, axis=1)


class RunningMax(mn.Layer):
    """The largest value so far: y_t = max_{s ≤ t} x_s;  each dout_t goes to the step that
    holds that max.  x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        self.x, self.y = x, np.maximum.accumulate(x, axis=1)
        return self.y

    def backward(self, dout):
        N, T, D = dout.shape
        dx = np.zeros_like(dout)
        n, d = np.meshgrid(np.arange(N), np.arange(D), indexing="ij")
        for t in range(T):
            self.route(dx, n, self.holder(t), d, dout[:, t])
        return dx

    def holder(self, t):
        """(N, D): the step at which y_t's max was read."""
        return np.argmax(self.x[:, :t + 1], axis=1)

    def route(self, dx, n, s, d, g):
        np.add.at(dx, (n, s, d), g)


@same_name
class RunningMaxA(RunningMax):
    def route(self, dx, n, s, d, g):
        dx[n, s, d] = g


class LeakyRNN(mn.Layer):
    """A leaky-integrator RNN: a_t = tanh(x_t Wx + h_{t-1} Wh + b), h_t = (1 - α) h_{t-1} + α a_t,
    h_0 = 0.  x (N, T, D) -> hs (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, alpha=0.5, seed=0):
        super().__init__()
        self.hidden, self.alpha = h, alpha
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        p, self.x = self.params, x
        self.hs, self.acts = np.zeros((N, T + 1, self.hidden)), np.zeros((N, T, self.hidden))
        for t in range(T):
            self.acts[:, t] = np.tanh(x[:, t] @ p["Wx"] + self.hs[:, t] @ p["Wh"] + p["b"])
            self.hs[:, t + 1] = (1 - self.alpha) * self.hs[:, t] + self.alpha * self.acts[:, t]
        return self.hs[:, 1:]

    def backward(self, dout):
        p, g = self.params, {k: np.zeros_like(v) for k, v in self.params.items()}
        dx, dh = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dh = dh + dout[:, t]
            da = dh * self.alpha * (1 - self.act(t) ** 2)
            g["Wx"] += self.x[:, t].T @ da
            g["Wh"] += self.hs[:, t].T @ da
            g["b"] += da.sum(axis=0)
            dx[:, t] = da @ p["Wx"].T
            dh = (1 - self.alpha) * dh + da @ p["Wh"].T
        self.grads = g
        return dx

    def act(self, t):
        return self.acts[:, t]


@same_name
class LeakyRNNA(LeakyRNN):
    def act(self, t):
        return self.hs[:, t + 1]


class DecayRecurrence(mn.Layer):
    """A linear recurrence with a learned decay a: y_t = a y_{t-1} + x_t, y_{-1} = 0;
    g_t = dout_t + a g_{t+1}, dx_t = g_t, da = Σ_t g_t · y_{t-1}.  x (N, T, D) -> (N, T, D);
    a (1,)."""

    def __init__(self, a=0.7):
        super().__init__()
        self.params, self.grads = {"a": np.array([a])}, {"a": np.zeros(1)}

    def forward(self, x):
        a, self.y = self.params["a"], np.zeros_like(x)
        prev = np.zeros_like(x[:, 0])
        for t in range(x.shape[1]):
            prev = a * prev + x[:, t]
            self.y[:, t] = prev
        return self.y

    def backward(self, dout):
        a, dx, g = self.params["a"], np.zeros_like(dout), np.zeros_like(dout[:, 0])
        da = 0.0
        for t in reversed(range(1, dout.shape[1])):
            g = dout[:, t] + a * g
            dx[:, t] = g
            da += (self.reaching(g, dout[:, t]) * self.y[:, t - 1]).sum()
        dx[:, 0] = dout[:, 0] + a * g
        self.grads["a"] = np.array([da])
        return dx

    def reaching(self, g, dout_t):
        """dL/dy_t, all that reaches step t."""
        return g


@same_name
class DecayRecurrenceA(DecayRecurrence):
    def reaching(self, g, dout_t):
        return dout_t


# ---- attention and residual blocks -----------------------------------------------------------


class AttentionPool(mn.Layer):
    """Attention over time with one learned query q: s = x q / √D, p = softmax_t(s),
    y = Σ_t p_t x_t.  x (N, T, D) -> (N, D);  q (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, q=(d,))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[2])
        self.p = softmax(x @ self.params["q"] * self.scale, axis=1)
        return (self.p[:, :, None] * x).sum(axis=1)

    def backward(self, dout):
        dp = (self.x * dout[:, None, :]).sum(axis=2)
        ds = self.p * (dp - self.expected(dp)) * self.scale
        self.grads["q"] = (ds[:, :, None] * self.x).sum(axis=(0, 1))
        return self.p[:, :, None] * dout[:, None, :] + ds[:, :, None] * self.params["q"]

    def expected(self, dp):
        """Σ_t p_t dp_t, kept as (N, 1)."""
        return (self.p * dp).sum(axis=1, keepdims=True)


@same_name
class AttentionPoolA(AttentionPool):
    def expected(self, dp):
        return dp.mean(axis=1, keepdims=True)


class ReLUBlock(mn.Layer):
    """A residual feed-forward block: y = x + relu(x W1 + b1) W2.

    x (N, T, D) -> (N, T, D);  W1, W2 (D, D), b1 (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W1=(d, d), b1=(d,), W2=(d, d))

    def forward(self, x):
        self.x, self.a = x, x @ self.params["W1"] + self.params["b1"]
        self.h = np.maximum(self.a, 0)
        return x + self.h @ self.params["W2"]

    def backward(self, dout):
        p = self.params
        self.grads["W2"] = rows(self.hidden()).T @ rows(dout)
        da = (dout @ p["W2"].T) * (self.a > 0)
        self.grads["W1"], self.grads["b1"] = rows(self.x).T @ rows(da), da.sum(axis=(0, 1))
        return dout + da @ p["W1"].T

    def hidden(self):
        return self.h


@same_name
class ReLUBlockA(ReLUBlock):
    def hidden(self):
        return self.a


@same_name
class SelfAttentionA(SelfAttention):
    def softmax_back(self, dp):
        return self.scores * (dp - (dp * self.scores).sum(axis=-1, keepdims=True))


def layernorm_back(dz, z):
    """Back through z = (x - mean) / std over the last axis, std folded into z: (N, T, D)."""
    return dz - dz.mean(axis=-1, keepdims=True) - z * (dz * z).mean(axis=-1, keepdims=True)


class PreNormLinear(mn.Layer):
    """A pre-norm residual: z = LN(x) (no gain, ε = 0), y = x + z W.

    x (N, T, D) -> (N, T, D);  W (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d))

    def forward(self, x):
        self.std = x.std(axis=-1, keepdims=True)
        self.z = (x - x.mean(axis=-1, keepdims=True)) / self.std
        return x + self.z @ self.params["W"]

    def backward(self, dout):
        self.grads["W"] = rows(self.z).T @ rows(dout)
        return dout + self.branch(dout)

    def branch(self, dout):
        """dL/dx through z W."""
        return layernorm_back(dout @ self.params["W"].T, self.z) / self.std


@same_name
class PreNormLinearA(PreNormLinear):
    def branch(self, dout):
        return layernorm_back(dout, self.z) / self.std @ self.params["W"].T


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("gaussian-act", ACT, lambda: dense_net(GaussianA(), seed=501, scale=1.5),
         "x is read back off the output as √(-log y) = |x|: the sign of x is lost, so the "
         "slope -2xy has the wrong sign wherever x < 0",
         "return self.x"),
    Case("exact-gelu", ACT, lambda: dense_net(ExactGELUA(), seed=502, scale=2.0),
         "φ(x) lacks its normalizing constant 1/√(2π): the density is written exp(-x²/2)",
         "return np.exp(-self.x**2 / 2) / np.sqrt(2 * np.pi)"),
    Case("exact-gelu-correct", ACT, lambda: dense_net(ExactGELU(), seed=503, scale=2.0),
         CORRECT),
    Case("bipolar-sigmoid", ACT, lambda: dense_net(BipolarSigmoidA(), seed=504, scale=2.0),
         "the sigmoid's s(1 - s) is evaluated at the layer's output y = 2σ - 1, not at σ(x): "
         "read off the output the slope is (1 - y²)/2",
         "return 2 * self.s * (1 - self.s)"),
    Case("shifted-softplus", ACT, lambda: dense_net(ShiftedSoftplusA(), seed=524, scale=2.0),
         "the constant -log 2 that shifts the curve is kept in the derivative: the slope of a "
         "constant is 0, so dy/dx is σ(x) alone",
         "return sigmoid(self.x)"),
    Case("weight-decay", DENSE, lambda: dense_net(DecayLinearA(5, 4, seed=505), seed=505),
         "dW adds the decay term λW, but the penalty is not part of the loss the layer's forward "
         "computes: the gradient of this forward is xᵀ dout alone (decay belongs to the optimizer "
         "or to the loss)",
         "return self.x.T @ dout"),
    Case("positive-weights", DENSE,
         lambda: dense_net(PositiveLinearA(5, 4, seed=506), seed=506),
         "dV multiplies by softplus(V), the transform itself, where its derivative σ(V) belongs",
         "return sigmoid(self.params['V'])"),
    Case("product-linear", DENSE, lambda: dense_net(ProductLinearA(5, 4, seed=507), seed=507),
         "in the product (xA)⊙(xB) each factor's gradient is dout times the OTHER factor; "
         "backward multiplies each by itself",
         "return dout * self.b, dout * self.a"),
    Case("max-norm", NORM, lambda: dense_net(MaxNormA(), seed=508, scale=0.6),
         "the max(1, ‖x‖) has two branches: rows shorter than 1 pass unchanged (dx = dout), but "
         "backward applies the projection of the long rows to every row",
         "return self.norm > 1"),
    Case("pixel-norm", NORM, lambda: image_net(PixelNormA(), seed=509),
         "the correction term along the channel vector uses the raw x where y = x / r belongs: "
         "dx = (dout - y mean_c(dout·y)) / r",
         "return self.y"),
    Case("scaled-l2norm", NORM, lambda: dense_net(ScaledL2NormA(2.5), seed=525),
         "dg multiplies dout by the output y = g x̂, which holds g itself, where x̂ belongs: "
         "dg comes out g times too large",
         "return self.xhat"),
    Case("strided-conv", CONV, lambda: image_net(StridedConvA(3, 2, seed=510), seed=510,
                                                 size=(5, 5)),
         "backward places output (i, j)'s window at row i, column j, forgetting the stride: "
         "forward read it at (2i, 2j)",
         "return i * self.stride"),
    Case("min-pool", POOL, lambda: image_net(MinPoolA(2), seed=511),
         "the mask is max pooling's, window == window.max(): the gradient goes to each window's "
         "largest entry, not to the smallest that forward kept",
         "return self.win == self.win.min(axis=(3, 5), keepdims=True)"),
    Case("l2-pool", POOL, lambda: image_net(L2PoolA(2), seed=512),
         "dout and y are spread back with np.tile, which repeats the whole grid (a b a b), "
         "where each entry must be copied over its own window (a a b b) with repeat",
         "return a.repeat(self.k, axis=2).repeat(self.k, axis=3)"),
    Case("poisson-nll", LOSS, lambda: loss_net(PoissonNLLA(), counts, width=1, seed=513),
         "the score is the log-rate, but dL/ds is written for the rate λ = s: 1 - y/λ; with "
         "s = log λ it is eˢ - y",
         "return np.exp(self.s) - self.y"),
    Case("mape", LOSS, lambda: loss_net(MAPEA(), away_from_zero, width=1, seed=514, scale=2.0),
         "backward divides by |s|, the prediction, where forward divided by |y|, the target",
         "return np.abs(self.y)"),
    Case("charbonnier", LOSS, lambda: loss_net(CharbonnierA(0.5), reals, width=1, seed=515,
                                              scale=2.0),
         "the derivative of √u is u'/(2√u); backward divides by u itself, (s - y)² + ε², not "
         "by its root",
         "return self.root"),
    Case("delay", SEQ, lambda: sequence_net(DelayA(1), seed=516),
         "np.roll wraps around: the first step's dout, which forward's zero padding fed by no "
         "input, lands on the last input step, whose gradient must be 0",
         "np.concatenate([dout[:, d:], np.zeros_like(dout[:, :d])], axis=1)"),
    Case("delay-correct", SEQ, lambda: sequence_net(Delay(2), seed=517), CORRECT),
    Case("running-max", SEQ, lambda: sequence_net(RunningMaxA(), seed=518),
         "dx[n, s, d] = g overwrites: a step holding the max for several later outputs keeps "
         "only the last one's gradient, where np.add.at adds them all",
         "np.add.at(dx, (n, s, d), g)"),
    Case("leaky-rnn", SEQ, lambda: sequence_net(LeakyRNNA(4, 3, seed=519), seed=519),
         "tanh's slope 1 - a² is taken at the leaky state h_t, not at the tanh's own output "
         "a_t, which the leak mixes with h_{t-1}",
         "return self.acts[:, t]"),
    Case("decay-recurrence", SEQ, lambda: sequence_net(DecayRecurrenceA(0.7), seed=526),
         "da pairs y_{t-1} with the step's own dout_t, leaving out the gradient that later "
         "steps send back to y_t: it must be g_t, everything that reaches y_t (dx is right)",
         "return g"),
    Case("attention-softmax-at-scores", ATTN,
         lambda: sequence_net(SelfAttentionA(4, seed=527), seed=527),
         "the softmax's Jacobian is evaluated at the scores S where the probabilities P = "
         "softmax(S) belong: S ⊙ (dP - Σ dP ⊙ S)",
         "return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))"),
    Case("attention-pool", ATTN, lambda: sequence_net(AttentionPoolA(4, seed=520), seed=520),
         "the softmax backward subtracts the plain mean of dp over time where the p-weighted "
         "sum Σ_t p_t dp_t belongs",
         "return (self.p * dp).sum(axis=1, keepdims=True)"),
    Case("attention-pool-correct", ATTN,
         lambda: sequence_net(AttentionPool(4, seed=521), seed=521), CORRECT),
    Case("relu-block", ATTN, lambda: sequence_net(ReLUBlockA(4, seed=522), seed=522),
         "dW2 pairs dout with the pre-activation a where the ReLU's output h = max(a, 0) is "
         "what W2 multiplied",
         "return self.h"),
    Case("pre-norm", ATTN, lambda: sequence_net(PreNormLinearA(4, seed=523), seed=523),
         "the chain rule is taken in the wrong order: the layer norm's backward is applied to "
         "dout before the product with Wᵀ, where the branch is LN first, W second, so backward "
         "is Wᵀ first, LN's backward second",
         "return layernorm_back(dout @ self.params['W'].T, self.z) / self.std"),
]

MISSED: set[str] = set()
"""The cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
