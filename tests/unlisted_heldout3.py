"""The third held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the second held-out set was used up:
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
    LoopConv,
    SelfAttention,
    dense_net,
    image_net,
    loss_net,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    signs,
    softmax,
    with_params,
)
from unlisted import RNN as RNN_
from unlisted_heldout import LayerNorm

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class Snake(mn.Layer):
    """Snake, for periodic data: y = x + sin²(a x) / a;  dy/dx = 1 + sin(2 a x).  x, y: (N, D)."""

    def __init__(self, a=2.0):
        super().__init__()
        self.a = a

    def forward(self, x):
        self.x = x
        return x + np.sin(self.a * x) ** 2 / self.a

    def backward(self, dout):
        return dout * (1 + self.dsin2() / self.a)

    def dsin2(self):
        """d sin²(a x) / dx = 2 sin(a x) cos(a x) · a."""
        ax = self.a * self.x
        return 2 * np.sin(ax) * np.cos(ax) * self.a


@same_name
class SnakeA(Snake):
    def dsin2(self):
        ax = self.a * self.x
        return 2 * np.sin(ax) * np.cos(ax)


class ClampedExp(mn.Layer):
    """An exponential that cannot overflow: y = exp(min(x, cap)); dy/dx = y below the cap, 0
    above it.  x, y: (N, D)."""

    def __init__(self, cap=1.0):
        super().__init__()
        self.cap = cap

    def forward(self, x):
        self.x = x
        self.y = np.exp(np.minimum(x, self.cap))
        return self.y

    def backward(self, dout):
        return dout * self.y * (self.x < self.cap)


@same_name
class ClampedExpA(ClampedExp):
    def backward(self, dout):
        return dout * self.y


class LogAbs(mn.Layer):
    """y = log(1 + |x|);  dy/dx = sign(x) / (1 + |x|).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.log1p(np.abs(x))

    def backward(self, dout):
        return dout * np.sign(self.x) / (1 + np.abs(self.x))


@same_name
class LogAbsA(LogAbs):
    def backward(self, dout):
        return dout / (1 + np.abs(self.x))


class LearnedSwish(mn.Layer):
    """Swish with a learned slope per feature: y = x σ(β x).
    dy/dx = σ + β x σ(1 - σ),  dy/dβ = x² σ(1 - σ).  x, y (N, D), beta (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"beta": np.linspace(0.5, 2.0, d)}
        self.grads = {"beta": np.zeros(d)}

    def forward(self, x):
        self.x, self.s = x, sigmoid(self.params["beta"] * x)
        return x * self.s

    def backward(self, dout):
        x, s, beta = self.x, self.s, self.params["beta"]
        ds = dout * x * s * (1 - s)  # the gradient at β x
        self.grads["beta"] = (ds * x).sum(axis=0)
        return dout * s + ds * beta


@same_name
class LearnedSwishA(LearnedSwish):
    def backward(self, dout):
        x, s, beta = self.x, self.s, self.params["beta"]
        ds = dout * x * s * (1 - s)
        self.grads["beta"] = (ds * beta).sum(axis=0)
        return dout * s + ds * beta


class PolyAct(mn.Layer):
    """A learned polynomial, the same for every feature: y = Σ_k a_k x^k, k = 0..K-1.
    dy/dx = Σ_k k a_k x^(k-1),  dy/da_k = x^k.  x, y (N, D), a (K,)."""

    def __init__(self, degree=3):
        super().__init__()
        self.params = {"a": np.linspace(0.3, -0.4, degree + 1)}
        self.grads = {"a": np.zeros(degree + 1)}

    def forward(self, x):
        self.x = x
        return sum(a * x**k for k, a in enumerate(self.params["a"]))

    def backward(self, dout):
        a, x = self.params["a"], self.x
        self.grads["a"] = np.array([(dout * x**k).sum() for k in range(len(a))])
        dx = np.zeros_like(x)
        for k in range(1, len(a)):
            dx += k * self.coefficient(k) * x ** (k - 1)
        return dout * dx

    def coefficient(self, k):
        return self.params["a"][k]


@same_name
class PolyActA(PolyAct):
    def coefficient(self, k):
        return self.params["a"][k - 1]


# ---- dense-like ------------------------------------------------------------------------------


class FactorizationMachine(mn.Layer):
    """The pairwise interactions of a factorization machine, one output per factor f:
    y_f = ½ [(x V)_f² - (x² V²)_f] = Σ_{i<j} x_i x_j V_if V_jf.  x (N, D), V (D, F) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, V=(d, f))

    def forward(self, x):
        V = self.params["V"]
        self.x, self.xv = x, x @ V
        return 0.5 * (self.xv**2 - x**2 @ V**2)

    def backward(self, dout):
        V, x = self.params["V"], self.x
        g = dout * self.xv
        self.grads["V"] = x.T @ g - V * self.squares(x).T.dot(dout)
        return g @ V.T - x * (dout @ (V**2).T)

    def squares(self, x):
        """d(x² V²)/dV = 2 x² V, and the ½ takes the 2."""
        return x**2


@same_name
class FactorizationMachineA(FactorizationMachine):
    def squares(self, x):
        return x


class EnsembleDense(mn.Layer):
    """The mean of K linear maps: y = (1/K) Σ_k x W_k + b.  x (N, D), W (K, D, F), b (F,)."""

    def __init__(self, d, f, k=3, seed=0):
        super().__init__()
        with_params(self, seed, W=(k, d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return np.einsum("nd,kdf->nf", x, self.params["W"]) / len(self.params["W"]) + \
            self.params["b"]

    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = np.stack([self.x.T @ dout] * len(W)) / len(W)
        self.grads["b"] = dout.sum(axis=0)
        return np.einsum("nf,kdf->nd", dout, W) / len(W)


@same_name
class EnsembleDenseA(EnsembleDense):
    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = np.stack([self.x.T @ dout] * len(W))
        self.grads["b"] = dout.sum(axis=0)
        return np.einsum("nf,kdf->nd", dout, W) / len(W)


class ScaledLinear(mn.Layer):
    """A linear layer with a learned log-scale (a temperature): y = (x W) eˢ + b.

    x (N, D), W (D, F), b (F,), s (1,) -> (N, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        self.params["s"], self.grads["s"] = np.log([2.0]), np.zeros(1)

    def forward(self, x):
        self.x, self.z = x, x @ self.params["W"]
        return self.z * np.exp(self.params["s"]) + self.params["b"]

    def backward(self, dout):
        scale = np.exp(self.params["s"])
        self.grads["W"] = self.x.T @ dout * scale
        self.grads["b"] = dout.sum(axis=0)
        self.grads["s"] = np.array([(dout * self.z).sum()]) * self.dscale()
        return dout @ self.params["W"].T * scale

    def dscale(self):
        """d eˢ / ds = eˢ."""
        return np.exp(self.params["s"])


@same_name
class ScaledLinearA(ScaledLinear):
    def dscale(self):
        return 1.0


class RBF(mn.Layer):
    """Gaussian radial basis units with learned centres and widths: y_k = exp(-γ_k ‖x - c_k‖²).

    x (N, D), C (K, D), gamma (K,) -> (N, K)."""

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, C=(k, d))
        self.params["gamma"], self.grads["gamma"] = np.linspace(0.2, 0.6, k), np.zeros(k)

    def forward(self, x):
        self.diff = x[:, None, :] - self.params["C"][None]  # (N, K, D)
        self.d2 = (self.diff**2).sum(axis=-1)
        self.y = np.exp(-self.params["gamma"] * self.d2)
        return self.y

    def backward(self, dout):
        g = dout * self.y  # (N, K)
        self.grads["gamma"] = -(g * self.distance()).sum(axis=0)
        dd2 = -g * self.params["gamma"]
        self.grads["C"] = -2 * np.einsum("nk,nkd->kd", dd2, self.diff)
        return 2 * np.einsum("nk,nkd->nd", dd2, self.diff)

    def distance(self):
        """What γ multiplies: the squared distance."""
        return self.d2


@same_name
class RBFA(RBF):
    def distance(self):
        return np.sqrt(self.d2)


# ---- normalization ---------------------------------------------------------------------------


class ScaleNorm(mn.Layer):
    """Each sample scaled to length g (one learned number): y = g x / ‖x‖.

    x (N, D), g (1,) -> (N, D);  dx = g (dout - x̂ Σ_j dout_j x̂_j) / ‖x‖, x̂ = x / ‖x‖."""

    def __init__(self, g=1.5):
        super().__init__()
        self.params, self.grads = {"g": np.array([g])}, {"g": np.zeros(1)}

    def forward(self, x):
        self.norm = np.linalg.norm(x, axis=1, keepdims=True)
        self.xhat = x / self.norm
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = np.array([(dout * self.xhat).sum()])
        return self.params["g"] * (dout - self.xhat * self.along(dout)) / self.norm

    def along(self, dout):
        """How much of dout lies along x̂, per sample."""
        return (dout * self.xhat).sum(axis=1, keepdims=True)


@same_name
class ScaleNormA(ScaleNorm):
    def along(self, dout):
        return (dout * self.xhat).mean(axis=1, keepdims=True)


class LocalResponseNorm(mn.Layer):
    """AlexNet's local response normalization across neighbouring features:
    d_c = k + α Σ_{|c' - c| <= 1} x_c'², y_c = x_c d_c^(-β).  x, y: (N, D)."""

    def __init__(self, k=1.0, alpha=0.5, beta=0.75):
        super().__init__()
        self.k, self.alpha, self.beta = k, alpha, beta

    def forward(self, x):
        D = x.shape[1]
        self.x = x
        self.d = self.k + self.alpha * np.stack(
            [(x[:, max(0, c - 1):c + 2] ** 2).sum(axis=1) for c in range(D)], axis=1)
        return x * self.d**-self.beta

    def backward(self, dout):
        g = dout * self.x * self.d ** (-self.beta - 1)
        near = np.stack([self.near(g, j).sum(axis=1) for j in range(g.shape[1])], axis=1)
        return dout * self.d**-self.beta - 2 * self.alpha * self.beta * self.x * near

    def near(self, g, j):
        """The features whose d_c feature j enters: c from j - 1 to j + 1."""
        return g[:, max(0, j - 1):j + 2]


@same_name
class LocalResponseNormA(LocalResponseNorm):
    def near(self, g, j):
        return g[:, max(0, j - 1):j + 1]


@same_name
class LayerNormC(LayerNorm):
    def backward(self, dout):
        dx = super().backward(dout)
        dxhat = dout * self.params["gamma"]
        self.grads["beta"] = dxhat.sum(axis=(0, 1))
        return dx


# ---- convolution and pooling -----------------------------------------------------------------


@same_name
class LoopConvB(LoopConv):
    def window_grads(self, dout):
        W, k = self.params["W"], self.k
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for n, f, i, j in np.ndindex(dout.shape):
            dW[f] += self.xp[n, :, j:j + k, i:i + k] * dout[n, f, i, j]
            dxp[n, :, i:i + k, j:j + k] += W[f] * dout[n, f, i, j]
        return dxp, dW


class Upsample(mn.Layer):
    """Nearest-neighbour upsampling by 2: each pixel copied into a 2×2 block.

    x (N, C, H, W) -> (N, C, 2H, 2W);  dx sums the gradients of each pixel's 4 copies."""

    def forward(self, x):
        return x.repeat(2, axis=2).repeat(2, axis=3)

    def backward(self, dout):
        N, C, H2, W2 = dout.shape
        return self.gather(dout.reshape(N, C, H2 // 2, 2, W2 // 2, 2))

    def gather(self, blocks):
        return blocks.sum(axis=(3, 5))


@same_name
class UpsampleA(Upsample):
    def gather(self, blocks):
        return blocks.mean(axis=(3, 5))


class LogSumExpPool(mn.Layer):
    """Global smooth-max pooling: y = log Σ_{h,w} exp(x), computed as m + log Σ exp(x - m).

    x (N, C, H, W) -> (N, C);  dx = softmax of x over (h, w) · dout."""

    def forward(self, x):
        self.x = x
        self.m = x.max(axis=(2, 3), keepdims=True)
        self.e = np.exp(x - self.m)
        return (self.m + np.log(self.e.sum(axis=(2, 3), keepdims=True)))[:, :, 0, 0]

    def backward(self, dout):
        return self.weights() * dout[:, :, None, None]

    def weights(self):
        return self.e / self.e.sum(axis=(2, 3), keepdims=True)


@same_name
class LogSumExpPoolA(LogSumExpPool):
    def weights(self):
        return self.e


# ---- losses ----------------------------------------------------------------------------------


class DiceLoss(mn.Loss):
    """Soft Dice loss of a binary segmentation, over the whole batch: p = σ(s),
    L = 1 - (2 Σ p y + ε) / (Σ p + Σ y + ε).  scores (N, 1), y (N,) of 0/1 -> float."""

    eps = 1.0

    def forward(self, scores, y):
        self.p, self.y = sigmoid(scores[:, 0]), y
        self.top = 2 * (self.p * y).sum() + self.eps
        self.bottom = self.p.sum() + y.sum() + self.eps
        return float(1 - self.top / self.bottom)

    def backward(self):
        dp = -self.dratio()
        return (dp * self.p * (1 - self.p))[:, None]

    def dratio(self):
        """d(top / bottom)/dp by the quotient rule: (2 y · bottom - top) / bottom²."""
        return (2 * self.y * self.bottom - self.top) / self.bottom**2


@same_name
class DiceLossA(DiceLoss):
    def dratio(self):
        return 2 * self.y / self.bottom


def bits(rng, n):
    return rng.integers(0, 2, n)


class SquaredHinge(mn.Loss):
    """L2-SVM loss: L = mean_n max(0, 1 - y s)²;  dL/ds = -2 y max(0, 1 - y s) / N.

    scores (N, 1), y (N,) of ±1 -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        self.gap = np.maximum(0, 1 - y * self.s)
        return float(np.mean(self.gap**2))

    def backward(self):
        return (-2 * self.y * self.gap / len(self.y))[:, None]


@same_name
class SquaredHingeA(SquaredHinge):
    def backward(self):
        return (-2 * self.gap / len(self.y))[:, None]


class NextTokenCE(mn.Loss):
    """A language model's loss: the scores at step t predict the token at step t + 1.
    L = mean over n and t < T-1 of -log softmax(s[n, t])[y[n, t + 1]].

    scores (N, T, C), y (N, T) token ids -> float."""

    def forward(self, scores, y):
        self.p = softmax(scores[:, :-1])
        self.target = y[:, 1:]
        n, t = np.indices(self.target.shape)
        return float(-np.log(self.p[n, t, self.target]).mean())

    def backward(self):
        d = self.p.copy()
        n, t = np.indices(self.target.shape)
        d[n, t, self.target] -= 1
        grad = np.zeros((d.shape[0], d.shape[1] + 1, d.shape[2]))
        self.place(grad, d / self.target.size)
        return grad

    def place(self, grad, d):
        """The scores of steps 0..T-2 made the predictions."""
        grad[:, :-1] = d


@same_name
class NextTokenCEA(NextTokenCE):
    def place(self, grad, d):
        grad[:, 1:] = d


def tokens(rng, n, t=5, classes=3):
    return rng.integers(0, classes, (n, t))


# ---- sequences -------------------------------------------------------------------------------


def add_step_grads(rnn, t, da):
    """Step t's share of dWx, dWh and db, given da_t, the gradient at its pre-activation."""
    rnn.grads["Wx"] += rnn.x[:, t].T @ da
    rnn.grads["Wh"] += rnn.hs[:, t].T @ da
    rnn.grads["b"] += da.sum(axis=0)


class ReLURNN(RNN_):
    """An IRNN: the RNN with a ReLU in place of tanh, h_t = max(0, x_t Wx + h_{t-1} Wh + b)."""

    def forward(self, x):
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        self.x, self.hs = x, np.zeros((len(x), x.shape[1] + 1, self.hidden))
        for t in range(x.shape[1]):
            self.hs[:, t + 1] = np.maximum(0, x[:, t] @ Wx + self.hs[:, t] @ Wh + b)
        return self.hs[:, 1:]

    def step_back(self, t, dh):
        da = dh * self.slope(self.hs[:, t + 1])
        add_step_grads(self, t, da)
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T

    def slope(self, h):
        return (h > 0).astype(float)


@same_name
class ReLURNNA(ReLURNN):
    def slope(self, h):
        return 1 - h**2


class CumulativeMean(mn.Layer):
    """The running mean over time: y_t = (1 / (t + 1)) Σ_{s <= t} x_s, so that
    dx_s = Σ_{t >= s} dout_t / (t + 1).  x, y: (N, T, D)."""

    def forward(self, x):
        self.count = np.arange(1, x.shape[1] + 1)[None, :, None]
        return x.cumsum(axis=1) / self.count

    def backward(self, dout):
        return (dout / self.count)[:, ::-1].cumsum(axis=1)[:, ::-1]


@same_name
class CumulativeMeanA(CumulativeMean):
    def backward(self, dout):
        return dout[:, ::-1].cumsum(axis=1)[:, ::-1] / self.count


@same_name
class RNNB(RNN_):
    def step_back(self, t, dh):
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        add_step_grads(self, t, da)
        return da @ self.params["Wh"].T, da @ self.params["Wh"].T


class LastStep(mn.Layer):
    """Each sequence's last real step, the rest being padding: y_n = x[n, length_n - 1].

    x (N, T, D) -> (N, D);  lengths (N,) fixed when built."""

    def __init__(self, lengths):
        super().__init__()
        self.lengths = np.asarray(lengths)

    def forward(self, x):
        self.x_shape = x.shape
        return x[np.arange(len(x)), self.lengths - 1]

    def backward(self, dout):
        dx = np.zeros(self.x_shape)
        dx[np.arange(len(dout)), self.last()] = dout
        return dx

    def last(self):
        return self.lengths - 1


@same_name
class LastStepA(LastStep):
    def last(self):
        return self.lengths


# ---- attention and residual blocks -----------------------------------------------------------


class BiasedAttention(SelfAttention):
    """SelfAttention with a learned bias B (T, T) added to the scores, one per (query, key)
    pair of positions, as relative-position attention does: S = Q Kᵀ / √D + B."""

    def __init__(self, d, t, seed=0):
        super().__init__(d, seed=seed)
        self.params["B"] = 0.5 * np.random.default_rng(seed + 1).standard_normal((t, t))
        self.grads["B"] = np.zeros((t, t))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale + self.params["B"])
        return self.p @ self.v

    def softmax_back(self, dp):
        ds = super().softmax_back(dp)
        self.grads["B"] = self.bias_grad(dp, ds)
        return ds

    def bias_grad(self, dp, ds):
        return ds.sum(axis=0)


@same_name
class BiasedAttentionA(BiasedAttention):
    def bias_grad(self, dp, ds):
        return dp.sum(axis=0)


class ValueFreeAttention(mn.Layer):
    """Attention whose values are the inputs themselves (no Wv): Q, K = x Wq, x Wk;
    P = softmax(Q Kᵀ / √D); y = P x.  x (N, T, D) -> (N, T, D);  Wq, Wk (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k = x @ self.params["Wq"], x @ self.params["Wk"]
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        return self.p @ x

    def backward(self, dout):
        dp = dout @ self.x.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.transpose(0, 2, 1) @ self.q
        self.grads["Wq"] = rows(self.x).T @ rows(dq)
        self.grads["Wk"] = rows(self.x).T @ rows(dk)
        return dq @ self.params["Wq"].T + dk @ self.params["Wk"].T + self.as_values(dout)

    def as_values(self, dout):
        """x's gradient as the values: Pᵀ dout."""
        return self.p.transpose(0, 2, 1) @ dout


@same_name
class ValueFreeAttentionA(ValueFreeAttention):
    def as_values(self, dout):
        return 0


class LayerScaleBlock(mn.Layer):
    """A residual block whose branch is scaled per feature by a small learned γ (CaiT's
    LayerScale): y = x + γ ⊙ tanh(x W + b).

    x (N, T, D) -> (N, T, D);  W (D, D), b, gamma (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))
        self.params["gamma"], self.grads["gamma"] = np.linspace(0.1, 0.4, d), np.zeros(d)

    def forward(self, x):
        self.x, self.h = x, np.tanh(x @ self.params["W"] + self.params["b"])
        return x + self.params["gamma"] * self.h

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.h).sum(axis=(0, 1))
        da = self.into_branch(dout) * (1 - self.h**2)
        self.grads["W"], self.grads["b"] = rows(self.x).T @ rows(da), da.sum(axis=(0, 1))
        return dout + da @ self.params["W"].T

    def into_branch(self, dout):
        return dout * self.params["gamma"]


@same_name
class LayerScaleBlockA(LayerScaleBlock):
    def into_branch(self, dout):
        return dout


class ProjectedAttention(SelfAttention):
    """SelfAttention followed by an output projection: C = P V, y = C Wo.  Wo (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__(d, seed=seed)
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d))

    def forward(self, x):
        self.c = super().forward(x)
        return self.c @ self.params["Wo"]

    def backward(self, dout):
        self.grads["Wo"] = self.wo_grad(dout)
        return super().backward(dout @ self.params["Wo"].T)

    def wo_grad(self, dout):
        return rows(self.c).T @ rows(dout)


@same_name
class ProjectedAttentionA(ProjectedAttention):
    def wo_grad(self, dout):
        return rows(self.v).T @ rows(dout)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("snake", ACT, lambda: dense_net(SnakeA(2.0), seed=301, scale=2.0),
         "the chain rule's inner factor a of sin(a x) is forgotten: d sin²(a x)/dx is "
         "2 sin(a x) cos(a x)·a, so dy/dx = 1 + sin(2 a x), not 1 + sin(2 a x)/a",
         "return 2 * np.sin(ax) * np.cos(ax) * self.a"),
    Case("clamped-exp", ACT, lambda: dense_net(ClampedExpA(1.0), seed=302, scale=2.0),
         "above the cap forward is the constant e^cap (min picked the cap), so the slope there "
         "is 0; backward gives every entry the exponential's slope y",
         "return dout * self.y * (self.x < self.cap)"),
    Case("log-abs", ACT, lambda: dense_net(LogAbsA(), seed=303, scale=2.0),
         "d|x|/dx = sign(x) is left out: dy/dx = 1/(1 + |x|) has the wrong sign wherever x < 0",
         "return dout * np.sign(self.x) / (1 + np.abs(self.x))"),
    Case("learned-swish", ACT, lambda: dense_net(LearnedSwishA(5), seed=304),
         "dβ uses d(βx)/dx = β where d(βx)/dβ = x belongs: the derivative of the inner product "
         "is taken with respect to the wrong variable",
         "self.grads['beta'] = (ds * x).sum(axis=0)"),
    Case("poly-act", ACT, lambda: dense_net(PolyActA(3), seed=306),
         "the power rule's coefficient is read one index early: k·a_(k-1)·x^(k-1) where "
         "k·a_k·x^(k-1) belongs",
         "return self.params['a'][k]"),
    Case("factorization-machine", DENSE,
         lambda: dense_net(FactorizationMachineA(5, 3, seed=307), seed=307),
         "dV's second term, from x² V², uses x where x² belongs: the square of x is dropped "
         "when differentiating with respect to V",
         "return x**2"),
    Case("ensemble-dense", DENSE, lambda: dense_net(EnsembleDenseA(5, 4, seed=308), seed=308),
         "forward averages the K maps, but each W_k's gradient is xᵀ dout without the 1/K "
         "(dx keeps it)",
         "self.grads['W'] = np.stack([self.x.T @ dout] * len(W)) / len(W)"),
    Case("log-scale", DENSE, lambda: dense_net(ScaledLinearA(5, 4, seed=309), seed=309),
         "the learned log-scale s enters as eˢ, whose derivative is eˢ; ds takes it as 1",
         "return np.exp(self.params['s'])"),
    Case("rbf", DENSE, lambda: dense_net(RBFA(5, 4, seed=310), seed=310),
         "γ multiplies the squared distance ‖x - c‖², but dγ uses the distance ‖x - c‖ itself",
         "return self.d2"),
    Case("scalenorm", NORM, lambda: dense_net(ScaleNormA(1.5), seed=311),
         "the part of dout along x̂ is a sum over the features (the length ‖x‖ is a root of a "
         "sum); backward takes their mean, as RMSNorm would",
         "return (dout * self.xhat).sum(axis=1, keepdims=True)"),
    Case("local-response-norm", NORM, lambda: dense_net(LocalResponseNormA(), width=6, seed=312,
                                                       scale=2.0),
         "backward's window is cut one short, j - 1 to j (the slice end c + 1 excluded), where "
         "forward's covered j - 1 to j + 1: the term of the next feature is missing",
         "return g[:, max(0, j - 1):j + 2]"),
    Case("layernorm-dbeta", NORM, lambda: sequence_net(LayerNormC(4), seed=313),
         "dbeta is summed from dx̂ = dout·gamma, the gradient at x̂, where beta is added after "
         "gamma: dbeta is Σ dout",
         "self.grads['beta'] = dout.sum(axis=(0, 1))"),
    Case("conv-loop-ij", CONV, lambda: image_net(LoopConvB(3, 2, 3, padding=1, seed=314),
                                                 seed=314),
         "dW's input window swaps the loop indices, rows from j and columns from i, where "
         "forward took rows from i and columns from j (the image is square, so it runs)",
         "dW[f] += self.xp[n, :, i:i + k, j:j + k] * dout[n, f, i, j]"),
    Case("upsample", POOL, lambda: image_net(UpsampleA(), seed=315),
         "each pixel's 4 copies each carry the pixel's full value, so their gradients add up; "
         "backward averages them",
         "return blocks.sum(axis=(3, 5))"),
    Case("logsumexp-pool", POOL, lambda: image_net(LogSumExpPoolA(), seed=316),
         "d log Σ exp(x) = exp(x) / Σ exp(x): the division by the sum is left out (and the "
         "shift by the max taken for the real exp)",
         "return self.e / self.e.sum(axis=(2, 3), keepdims=True)"),
    Case("logsumexp-pool-correct", POOL, lambda: image_net(LogSumExpPool(), seed=317), CORRECT),
    Case("dice", LOSS, lambda: loss_net(DiceLossA(), bits, width=1, seed=318, scale=2.0),
         "the quotient's denominator Σ p + Σ y + ε depends on p too; backward treats it as a "
         "constant: 2y/bottom without the -top/bottom² term",
         "return (2 * self.y * self.bottom - self.top) / self.bottom**2"),
    Case("dice-correct", LOSS, lambda: loss_net(DiceLoss(), bits, width=1, seed=319, scale=2.0),
         CORRECT),
    Case("squared-hinge", LOSS, lambda: loss_net(SquaredHingeA(), signs, width=1, seed=320,
                                                 scale=2.0),
         "the inner derivative of 1 - y s with respect to s is -y; backward writes -1, so the "
         "samples with y = -1 get a gradient of the wrong sign",
         "return (-2 * self.y * self.gap / len(self.y))[:, None]"),
    Case("next-token", LOSS, lambda: loss_net(NextTokenCEA(), tokens, seed=321, n=4, t=5,
                                              scale=2.0),
         "the scores at step t predict the token at t + 1, so their gradient belongs at step t; "
         "backward writes it one step late, at t + 1",
         "grad[:, :-1] = d"),
    Case("relu-rnn", SEQ, lambda: sequence_net(ReLURNNA(4, 3, seed=322), seed=322),
         "the step's activation is a ReLU, but backward multiplies by tanh's derivative 1 - h² "
         "(copied from a tanh RNN) where the slope is 1 where h > 0, 0 elsewhere",
         "return (h > 0).astype(float)"),
    Case("cumulative-mean", SEQ, lambda: sequence_net(CumulativeMeanA(), seed=323),
         "each output step t divides by its own count t + 1, so the sum over later outputs must "
         "divide first; backward sums first, then divides by the input's count s + 1",
         "return (dout / self.count)[:, ::-1].cumsum(axis=1)[:, ::-1]"),
    Case("cumulative-mean-correct", SEQ, lambda: sequence_net(CumulativeMean(), seed=324),
         CORRECT),
    Case("rnn-dx-weight", SEQ, lambda: sequence_net(RNNB(4, 4, seed=325), seed=325),
         "dx_t is da Whᵀ, the recurrent weight's line copied: x_t entered through Wx, so "
         "dx_t = da Wxᵀ (D = H here, so it runs)",
         "return da @ self.params['Wx'].T, da @ self.params['Wh'].T"),
    Case("last-step", SEQ, lambda: sequence_net(LastStepA([3, 2, 1, 3]), seed=326),
         "forward read step length - 1, backward writes dout at step length: one step late, "
         "into the padding",
         "return self.lengths - 1"),
    Case("attention-bias", ATTN, lambda: sequence_net(BiasedAttentionA(4, 4, seed=327),
                                                      seed=327),
         "dB is summed from dP, the gradient at the attention weights, where B is added to the "
         "scores before the softmax: dB = Σ_n dS",
         "return ds.sum(axis=0)"),
    Case("value-free-attention", ATTN, lambda: sequence_net(ValueFreeAttentionA(4, seed=328),
                                                            seed=328),
         "x is also the values (y = P x), but dx has only the paths through Q and K: Pᵀ dout is "
         "missing",
         "return self.p.transpose(0, 2, 1) @ dout"),
    Case("layerscale", ATTN, lambda: sequence_net(LayerScaleBlockA(4, seed=329), seed=329),
         "the branch's output is scaled by γ, but backward sends dout into the branch unscaled: "
         "dW, db and the branch's part of dx lack the factor γ",
         "return dout * self.params['gamma']"),
    Case("layerscale-correct", ATTN, lambda: sequence_net(LayerScaleBlock(4, seed=330),
                                                          seed=330), CORRECT),
    Case("attention-wo", ATTN, lambda: sequence_net(ProjectedAttentionA(4, seed=331), seed=331),
         "dWo pairs dout with V, the values before the attention weights, where Wo multiplied "
         "C = P V: dWo = Cᵀ dout",
         "return rows(self.c).T @ rows(dout)"),
]

MISSED: set[str] = set()
"""The cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
