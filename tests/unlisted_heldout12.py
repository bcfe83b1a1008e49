"""The twelfth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the eleventh held-out set was used up:
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
    LSTM,
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


class FeatureSoftmax(mn.Layer):
    """Softmax over each sample's features, used as an activation: y = softmax(x) along axis 1.
    Every output depends on every input, dy_i/dx_j = y_i (δ_ij - y_j), so
    dx = y ⊙ (dout - Σ_j dout_j y_j).  x, y: (N, D)."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        self.y = e / e.sum(axis=1, keepdims=True)
        return self.y

    def backward(self, dout):
        y = self.y
        return y * (dout - (dout * y).sum(axis=1, keepdims=True))


@same_name
class FeatureSoftmaxA(FeatureSoftmax):
    def backward(self, dout):
        return dout * self.y * (1 - self.y)


class SwiGLU(mn.Layer):
    """The features in halves, a = x[:, :H] the values and g = x[:, H:] the gates;
    y = a ⊙ silu(g), silu(g) = g σ(g).  da = dout ⊙ silu(g), dg = dout ⊙ a ⊙ silu'(g) with
    silu'(g) = σ(g)(1 + g(1 - σ(g))).  x (N, 2H) -> y (N, H)."""

    def forward(self, x):
        H = x.shape[1] // 2
        self.a, self.g = x[:, :H], x[:, H:]
        self.s = sigmoid(self.g)
        return self.a * self.silu(self.g)

    @staticmethod
    def silu(z):
        return z * sigmoid(z)

    def backward(self, dout):
        da = dout * self.silu(self.g)
        dg = dout * self.a * self.s * (1 + self.g * (1 - self.s))
        return np.concatenate([da, dg], axis=1)


@same_name
class SwiGLUA(SwiGLU):
    def backward(self, dout):
        da = dout * self.silu(self.a)
        dg = dout * self.a * self.s * (1 + self.g * (1 - self.s))
        return np.concatenate([da, dg], axis=1)


class BetaSoftplus(mn.Layer):
    """Softplus with a learned sharpness per feature: y = log(1 + e^(βx)) / β.
    dy/dx = σ(βx);  β stands in the log and in the 1/β, so by the product rule
    dy/dβ = x σ(βx) / β - log(1 + e^(βx)) / β².  x, y: (N, D);  beta (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"beta": np.linspace(0.5, 2.0, d)}
        self.grads = {"beta": np.zeros(d)}

    def forward(self, x):
        beta = self.params["beta"]
        self.x = x
        self.sp = np.logaddexp(0, beta * x)
        self.s = sigmoid(beta * x)
        return self.sp / beta

    def backward(self, dout):
        self.grads["beta"] = (dout * self.dbeta()).sum(axis=0)
        return dout * self.s

    def dbeta(self):
        beta = self.params["beta"]
        return self.x * self.s / beta - self.sp / beta**2


@same_name
class BetaSoftplusA(BetaSoftplus):
    def dbeta(self):
        return self.x * self.s / self.params["beta"]


class SplitActivation(mn.Layer):
    """The first D // 2 features through tanh, the rest through the sigmoid (D = 5: features
    0 and 1 tanh, 2, 3 and 4 sigmoid); each feature's slope from its own function, read off
    the output: 1 - y² for tanh, y (1 - y) for the sigmoid.  x, y: (N, D)."""

    def forward(self, x):
        h = x.shape[1] // 2
        self.y = np.concatenate([np.tanh(x[:, :h]), sigmoid(x[:, h:])], axis=1)
        return self.y

    def backward(self, dout):
        h = self.cut(dout.shape[1])
        y = self.y
        slope = np.concatenate([1 - y[:, :h] ** 2, y[:, h:] * (1 - y[:, h:])], axis=1)
        return dout * slope

    def cut(self, d):
        """Where the tanh features end."""
        return d // 2


@same_name
class SplitActivationA(SplitActivation):
    def cut(self, d):
        return (d + 1) // 2


# ---- dense-like ------------------------------------------------------------------------------


class CrossLayer(mn.Layer):
    """A DCN-v2 cross layer with x0 = x: y = x ⊙ (x W + b) + x.  z = x W + b reaches y
    multiplied by x, so dz = dout ⊙ x, dW = xᵀ dz, db = Σ dz, and
    dx = dout ⊙ z + dz Wᵀ + dout.  x, y: (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        self.x = x
        self.z = x @ self.params["W"] + self.params["b"]
        return x * self.z + x

    def backward(self, dout):
        dz = self.branch_grad(dout)
        self.grads["W"] = self.x.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        return dout * self.z + dz @ self.params["W"].T + dout

    def branch_grad(self, dout):
        """dL/dz: z reaches y multiplied by x."""
        return dout * self.x


@same_name
class CrossLayerA(CrossLayer):
    def branch_grad(self, dout):
        return dout


class ReZeroDense(mn.Layer):
    """ReZero residual: y = x + α f, f = tanh(x W + b), α one learned number;
    dα = Σ dout ⊙ f, the branch gets dout α.  x, y: (N, D);  W (D, D), b (D,), alpha (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))
        self.params["alpha"] = np.array([0.7])
        self.grads["alpha"] = np.zeros(1)

    def forward(self, x):
        self.x = x
        self.f = np.tanh(x @ self.params["W"] + self.params["b"])
        self.out = x + self.params["alpha"][0] * self.f
        return self.out

    def backward(self, dout):
        da = dout * self.params["alpha"][0] * (1 - self.f**2)
        self.grads["W"] = self.x.T @ da
        self.grads["b"] = da.sum(axis=0)
        self.grads["alpha"] = self.alpha_grad(dout)
        return dout + da @ self.params["W"].T

    def alpha_grad(self, dout):
        return np.array([(dout * self.f).sum()])


@same_name
class ReZeroDenseA(ReZeroDense):
    def alpha_grad(self, dout):
        return np.array([(dout * self.out).sum()])


class TorchLayoutLinear(mn.Layer):
    """A linear map with the weight in torch's layout, (outputs, inputs): y = x Wᵀ + b;
    dW = doutᵀ x, (F, D) as W is, db = Σ dout, dx = dout W.  x (N, D) -> (N, F);
    W (F, D), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, d), b=(f,))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"].T + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.weight_grad(dout)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"]

    def weight_grad(self, dout):
        return dout.T @ self.x


@same_name
class TorchLayoutLinearA(TorchLayoutLinear):
    def weight_grad(self, dout):
        return self.x.T @ dout


class ConvexLinear(mn.Layer):
    """Every output a convex combination of the inputs: Ŵ = softmax(V) down each column
    (over the D inputs, axis 0), y = x Ŵ.  dŴ = xᵀ dout, and each column of V gets the
    softmax backward of its own column: dV = Ŵ ⊙ (dŴ - Σ_inputs dŴ ⊙ Ŵ).
    x (N, D) -> (N, F);  V (D, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, V=(d, f))
        self.params["V"] *= 3

    def forward(self, x):
        self.x = x
        self.W = softmax(self.params["V"], axis=0)
        return x @ self.W

    def backward(self, dout):
        dW = self.x.T @ dout
        self.grads["V"] = self.W * (dW - self.column_sums(dW * self.W))
        return dout @ self.W.T

    def column_sums(self, a):
        return a.sum(axis=0, keepdims=True)


@same_name
class ConvexLinearA(ConvexLinear):
    def column_sums(self, a):
        return a.sum(axis=1, keepdims=True)


# ---- normalization ---------------------------------------------------------------------------


class CompactLayerNorm(mn.Layer):
    """Layer norm, every sample over its D features, with the compact backward
    dx = (D dx̂ - Σ dx̂ - x̂ Σ dx̂ x̂) / (D std), the sums over the features.
    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        mu = x.mean(axis=1, keepdims=True)
        self.std = np.sqrt(x.var(axis=1, keepdims=True) + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        N, D = dout.shape
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (D * dxhat - dxhat.sum(axis=1, keepdims=True)
                - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)) / (D * self.std)


@same_name
class CompactLayerNormA(CompactLayerNorm):
    def backward(self, dout):
        N, D = dout.shape
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (N * dxhat - dxhat.sum(axis=1, keepdims=True)
                - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)) / (N * self.std)


class StagedBatchNorm(mn.Layer):
    """Batch norm through CS231n's staged graph: mu, xmu = x - mu, var = mean(xmu²),
    ivar = (var + eps)^(-1/2), x̂ = xmu·ivar, y = gamma x̂ + beta;  backward walks the stages
    in reverse with the cached xmu and ivar.  x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        mu = x.mean(axis=0)
        xmu = x - mu
        var = (xmu**2).mean(axis=0)
        ivar = 1 / np.sqrt(var + self.eps)
        xhat = xmu * ivar
        self.cache = (xhat, xmu, ivar)
        return self.params["gamma"] * xhat + self.params["beta"]

    def backward(self, dout):
        xhat, xmu, ivar = self.cache
        N = dout.shape[0]
        self.grads["gamma"] = (dout * xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat = dout * self.params["gamma"]
        dxmu1 = dxhat * ivar
        divar = (dxhat * xmu).sum(axis=0)
        dvar = -0.5 * divar * ivar**3
        dxmu2 = 2 * xmu * dvar / N
        dxmu = dxmu1 + dxmu2
        dmu = -dxmu.sum(axis=0)
        return dxmu + dmu / N


@same_name
class StagedBatchNormA(StagedBatchNorm):
    def forward(self, x):
        mu = x.mean(axis=0)
        xmu = x - mu
        var = (xmu**2).mean(axis=0)
        ivar = 1 / np.sqrt(var + self.eps)
        xhat = xmu
        xhat *= ivar
        self.cache = (xhat, xmu, ivar)
        return self.params["gamma"] * xhat + self.params["beta"]


class MixedNorm(mn.Layer):
    """A learned blend of batch norm and layer norm (no affine):
    y = ρ BN(x) + (1 - ρ) LN(x), BN standardizing each feature over the batch, LN each
    sample over its features;  dρ = Σ dout ⊙ (BN(x) - LN(x)), and each branch's backward
    gets dout times its own weight.  x, y: (N, D);  rho (1,)."""

    eps = 1e-5

    def __init__(self):
        super().__init__()
        self.params = {"rho": np.array([0.3])}
        self.grads = {"rho": np.zeros(1)}

    @staticmethod
    def standardize(x, axis, eps):
        std = np.sqrt(x.var(axis=axis, keepdims=True) + eps)
        return (x - x.mean(axis=axis, keepdims=True)) / std, std

    @staticmethod
    def standardize_back(d, xhat, std, axis):
        return (d - d.mean(axis=axis, keepdims=True)
                - xhat * (d * xhat).mean(axis=axis, keepdims=True)) / std

    def forward(self, x):
        self.bn, self.bn_std = self.standardize(x, 0, self.eps)
        self.ln, self.ln_std = self.standardize(x, 1, self.eps)
        rho = self.params["rho"][0]
        return rho * self.bn + (1 - rho) * self.ln

    def backward(self, dout):
        self.grads["rho"] = np.array([(dout * (self.bn - self.ln)).sum()])
        w_bn, w_ln = self.weights()
        return (self.standardize_back(w_bn * dout, self.bn, self.bn_std, 0)
                + self.standardize_back(w_ln * dout, self.ln, self.ln_std, 1))

    def weights(self):
        """(the BN branch's weight, the LN branch's weight)."""
        rho = self.params["rho"][0]
        return rho, 1 - rho


@same_name
class MixedNormA(MixedNorm):
    def weights(self):
        rho = self.params["rho"][0]
        return 1 - rho, rho


class L2Normalize(mn.Layer):
    """Each sample scaled to unit length: y = x / ‖x‖, the norm over the features;
    dx = (dout - y Σ_features dout ⊙ y) / ‖x‖.  x, y: (N, D)."""

    def forward(self, x):
        self.norm = np.sqrt((x**2).sum(axis=1, keepdims=True))
        self.y = x / self.norm
        return self.y

    def backward(self, dout):
        along = (dout * self.y).sum(axis=1, keepdims=True)
        return (dout - self.y * along) / self.norm


@same_name
class L2NormalizeA(L2Normalize):
    def backward(self, dout):
        along = (dout * self.y).sum(axis=0, keepdims=True)
        return (dout - self.y * along) / self.norm


# ---- convolution and pooling -----------------------------------------------------------------


class DepthwiseMultiplierConv(mn.Layer):
    """A depthwise 3×3 convolution (padding 1) with channel multiplier m = 2: output channel
    o reads input channel o // m only (outputs 0, 1 read channel 0; 2, 3 channel 1; ...), with
    its own filter W[o].  x (N, C, H, W) -> (N, m·C, H, W);  W (m·C, 3, 3), b (m·C,)."""

    mult = 2

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, W=(c * self.mult, 3, 3), b=(c * self.mult,))

    def forward(self, x):
        N, C, H, Wd = x.shape
        self.xp = pad(x, 1)
        out = np.zeros((N, C * self.mult, H, Wd))
        for o in range(C * self.mult):
            c = o // self.mult
            for i in range(3):
                for j in range(3):
                    out[:, o] += self.params["W"][o, i, j] * self.xp[:, c, i:i + H, j:j + Wd]
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        N, F, H, Wd = dout.shape
        C = self.xp.shape[1]
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for o in range(F):
            c = self.source(o, C)
            for i in range(3):
                for j in range(3):
                    dW[o, i, j] = (dout[:, o] * self.xp[:, c, i:i + H, j:j + Wd]).sum()
                    dxp[:, c, i:i + H, j:j + Wd] += self.params["W"][o, i, j] * dout[:, o]
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]

    def source(self, o, C):
        """The input channel that output channel o read."""
        return o // self.mult


@same_name
class DepthwiseMultiplierConvA(DepthwiseMultiplierConv):
    def source(self, o, C):
        return o % C


class WindowConv(mn.Layer):
    """A 3×3 cross-correlation (padding 1) on sliding_window_view's windows.  Backward's dx is
    the 'full' correlation of the padded dout with the kernel turned by 180° (and its channels
    exchanged by the einsum): dx[a, b] = Σ dout[a + 1 - i, b + 1 - j] W[i, j].
    x (N, C, H, W) -> (N, F, H, W);  W (F, C, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,))

    def forward(self, x):
        self.win = sliding_window_view(pad(x, 1), (3, 3), axis=(2, 3))  # (N, C, H, W, 3, 3)
        out = np.einsum("nchwij,fcij->nfhw", self.win, self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        self.grads["W"] = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dwin = sliding_window_view(pad(dout, 1), (3, 3), axis=(2, 3))  # (N, F, H, W, 3, 3)
        return np.einsum("nfhwij,fcij->nchw", dwin, self.turned())

    def turned(self):
        return self.params["W"][:, :, ::-1, ::-1]


@same_name
class WindowConvA(WindowConv):
    def turned(self):
        return self.params["W"]


class ReshapeAvgPool(mn.Layer):
    """2×2 average pooling, stride 2, by a reshape: x seen as (N, C, H/2, 2, W/2, 2), the mean
    over axes 3 and 5;  backward spreads dout / 4 over each window the same way.
    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def forward(self, x):
        N, C, H, W = self.x_shape = x.shape
        return x.reshape(N, C, H // 2, 2, W // 2, 2).mean(axis=(3, 5))

    def backward(self, dout):
        N, C, Ho, Wo = dout.shape
        spread = np.broadcast_to(dout[:, :, :, None, :, None] / 4, (N, C, Ho, 2, Wo, 2))
        return spread.reshape(self.x_shape)


@same_name
class ReshapeAvgPoolA(ReshapeAvgPool):
    def backward(self, dout):
        N, C, Ho, Wo = dout.shape
        spread = np.broadcast_to(dout[:, :, :, :, None, None] / 4, (N, C, Ho, Wo, 2, 2))
        return spread.reshape(self.x_shape)


class LearnedGeMPool(mn.Layer):
    """Generalized-mean pooling of each channel over its M = H·W pixels with a learned power p:
    y = m^(1/p), m = mean(x̃ᵖ), x̃ = max(x, eps).  dy/dx = (x̃/y)^(p-1) / M where x > eps;
    p stands in the power and in the root, so
    dy/dp = y (mean(x̃ᵖ log x̃) / (p m) - log(m) / p²).  x (N, C, H, W) -> (N, C);  p (1,)."""

    eps = 0.1

    def __init__(self):
        super().__init__()
        self.params = {"p": np.array([3.0])}
        self.grads = {"p": np.zeros(1)}

    def forward(self, x):
        p = self.params["p"][0]
        self.above = x > self.eps
        self.xc = np.maximum(x, self.eps)
        self.m = (self.xc**p).mean(axis=(2, 3))
        self.y = self.m ** (1 / p)
        return self.y

    def backward(self, dout):
        p = self.params["p"][0]
        M = self.xc.shape[2] * self.xc.shape[3]
        self.grads["p"] = np.array([(dout * self.power_slope(p)).sum()])
        ratio = self.xc / self.y[:, :, None, None]
        return dout[:, :, None, None] * ratio ** (p - 1) * self.above / M

    def power_slope(self, p):
        """dy/dp, (N, C)."""
        mlog = (self.xc**p * np.log(self.xc)).mean(axis=(2, 3))
        return self.y * (mlog / (p * self.m) - np.log(self.m) / p**2)


@same_name
class LearnedGeMPoolA(LearnedGeMPool):
    def power_slope(self, p):
        mlog = (self.xc**p * np.log(self.xc)).mean(axis=(2, 3))
        return self.y * mlog / (p * self.m)


# ---- losses ----------------------------------------------------------------------------------


class TverskyLoss(mn.Loss):
    """Tversky loss on sigmoid probabilities p = σ(s) against the one-hot labels t, over the
    whole batch: TP = Σ p t, FP = Σ p (1 - t), FN = Σ (1 - p) t, den = TP + α FP + β FN,
    L = 1 - TP / den, α = 0.7 (false positives), β = 0.3 (false negatives);
    dL/dp = -(t den - TP dden/dp) / den², dden/dp = t + α (1 - t) - β t.
    scores (N, C), y (N,) labels -> float."""

    alpha, beta = 0.7, 0.3

    def forward(self, scores, y):
        self.p = sigmoid(scores)
        self.t = np.eye(scores.shape[1])[y]
        p, t = self.p, self.t
        self.tp = (p * t).sum()
        self.den = self.tp + self.alpha * (p * (1 - t)).sum() + self.beta * ((1 - p) * t).sum()
        return float(1 - self.tp / self.den)

    def backward(self):
        dp = -(self.t * self.den - self.tp * self.dden()) / self.den**2
        return dp * self.p * (1 - self.p)

    def dden(self):
        return self.t + self.alpha * (1 - self.t) - self.beta * self.t


@same_name
class TverskyLossA(TverskyLoss):
    def dden(self):
        return self.t + self.beta * (1 - self.t) - self.alpha * self.t


class SquaredMulticlassHinge(mn.Loss):
    """The L2-SVM: L = mean_n Σ_{j ≠ y} max(0, s_j - s_y + 1)².  Each active margin m_j > 0
    adds 2 m_j to s_j and takes 2 m_j from s_y: dL/ds_y = -Σ_j 2 m_j / N.
    scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        N = len(y)
        self.y = y
        correct = scores[np.arange(N), y][:, None]
        self.margins = np.maximum(0, scores - correct + 1)
        self.margins[np.arange(N), y] = 0
        return float((self.margins**2).sum() / N)

    def backward(self):
        N = len(self.y)
        dS = 2 * self.margins
        dS[np.arange(N), self.y] = self.label_column(dS)
        return dS / N

    def label_column(self, dS):
        """dL/ds_y: minus the other classes' slopes (dS is 0 at y yet)."""
        return -dS.sum(axis=1)


@same_name
class SquaredMulticlassHingeA(SquaredMulticlassHinge):
    def label_column(self, dS):
        return -(self.margins > 0).sum(axis=1)


class PartialLabelCE(mn.Loss):
    """Softmax cross-entropy where some samples have no label (y = -1): they add no loss and
    no gradient, and the mean is over the M labelled ones: L = -Σ_labelled log p_y / M,
    dL/ds = (p - onehot) ⊙ labelled / M.  scores (N, C), y (N,) labels or -1 -> float."""

    def forward(self, scores, y):
        self.p = softmax(scores)
        self.keep = y >= 0
        self.y = np.where(self.keep, y, 0)
        logp = np.log(self.p[np.arange(len(y)), self.y])
        return float(-(logp * self.keep).sum() / self.count())

    def count(self):
        return self.keep.sum()

    def backward(self):
        onehot = np.eye(self.p.shape[1])[self.y]
        return (self.p - onehot) * self.keep[:, None] / self.divisor()

    def divisor(self):
        return self.count()


@same_name
class PartialLabelCEA(PartialLabelCE):
    def divisor(self):
        return len(self.y)


def some_unlabelled(rng, n, classes=3):
    """Labels with samples 1 and 4 unlabelled (-1)."""
    y = rng.integers(0, classes, n)
    y[[1, 4]] = -1
    return y


# ---- sequences -------------------------------------------------------------------------------


@same_name
class GRUA(GRU):
    def mix_back(self, dh, z, n, h_prev):
        return dh * (1 - z), dh * (h_prev - n), dh * (1 - z)


@same_name
class LSTMA(LSTM):
    def gates_back(self, di, df, do, dg, i, f, o, g):
        return np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o),
                               dg * g * (1 - g)], axis=1)


class RecurrentDropoutRNN(mn.Layer):
    """A tanh RNN with variational dropout on the recurrent connection (Gal & Ghahramani):
    a_t = x_t Wx + (h_{t-1} ⊙ m) Wh + b, h_t = tanh(a_t), h_0 = 0, one mask
    m ~ Bernoulli(1 - p) / (1 - p) per sample and unit, drawn from the layer's own Generator
    at each training forward and shared by all steps (eval: m = 1).
    x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, p=0.4, seed=0):
        super().__init__()
        self.hidden, self.p, self.rng = h, p, np.random.default_rng(seed)
        with_params(self, seed + 1, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        if self.training:
            self.m = (self.rng.random((N, self.hidden)) >= self.p) / (1 - self.p)
        else:
            self.m = np.ones((N, self.hidden))
        self.x, self.hs = x, [np.zeros((N, self.hidden))]
        for t in range(T):
            a = (x[:, t] @ self.params["Wx"] + (self.hs[-1] * self.m) @ self.params["Wh"]
                 + self.params["b"])
            self.hs.append(np.tanh(a))
        return np.stack(self.hs[1:], axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh_next) * (1 - self.hs[t + 1] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.dropped(t).T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = (da @ self.params["Wh"].T) * self.m
        return dx

    def dropped(self, t):
        """What Wh multiplied at step t: h_{t-1} ⊙ m."""
        return self.hs[t] * self.m


@same_name
class RecurrentDropoutRNNA(RecurrentDropoutRNN):
    def dropped(self, t):
        return self.hs[t]


class MGU(mn.Layer):
    """Minimal gated unit (Zhou et al.), one gate f for forgetting and reading:
    f = σ(x_t Wf + h_{t-1} Uf + bf), h̃ = tanh(x_t Wh + (f ⊙ h_{t-1}) Uh + bh),
    h_t = (1 - f) ⊙ h_{t-1} + f ⊙ h̃, h_0 = 0.  f reaches h_t twice, through the mix and
    through h̃.  x (N, T, D) -> (N, T, H);  Wf, Wh (D, H), Uf, Uh (H, H), bf, bh (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wf=(d, h), Uf=(h, h), bf=(h,), Wh=(d, h), Uh=(h, h), bh=(h,))

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        h = np.zeros((N, self.hidden))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            f = sigmoid(x[:, t] @ P["Wf"] + h @ P["Uf"] + P["bf"])
            ht = np.tanh(x[:, t] @ P["Wh"] + (f * h) @ P["Uh"] + P["bh"])
            self.cache.append((h, f, ht))
            h = (1 - f) * h + f * ht
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        P = self.params
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            h, f, ht = self.cache[t]
            dh = dout[:, t] + dh_next
            dah = dh * f * (1 - ht**2)
            self.grads["Wh"] += self.x[:, t].T @ dah
            self.grads["Uh"] += (f * h).T @ dah
            self.grads["bh"] += dah.sum(axis=0)
            dfh = dah @ P["Uh"].T  # dL/d(f ⊙ h_{t-1})
            daf = self.gate_grad(dh, h, ht, dfh) * f * (1 - f)
            self.grads["Wf"] += self.x[:, t].T @ daf
            self.grads["Uf"] += h.T @ daf
            self.grads["bf"] += daf.sum(axis=0)
            dx[:, t] = dah @ P["Wh"].T + daf @ P["Wf"].T
            dh_next = dh * (1 - f) + dfh * f + daf @ P["Uf"].T
        return dx

    def gate_grad(self, dh, h, ht, dfh):
        """dL/df: through the mix, and through h̃'s f ⊙ h_{t-1}."""
        return dh * (ht - h) + dfh * h


@same_name
class MGUA(MGU):
    def gate_grad(self, dh, h, ht, dfh):
        return dh * (ht - h)


# ---- attention -------------------------------------------------------------------------------


class ClippedRelativeBiasAttention(mn.Layer):
    """Self-attention with a learned bias per relative offset, clipped to ±K (K = 2):
    S_ij = q_i·k_j / √D + B[clip(j - i, -K, K) + K], P = softmax(S), y = P V;
    dB adds up dS over every (sample, i, j) of the bucket.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), B (2K + 1,)."""

    K = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), B=(2 * self.K + 1,))

    def offsets(self, T):
        i, j = np.indices((T, T))
        return np.clip(j - i, -self.K, self.K)

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        bias = self.params["B"][self.offsets(x.shape[1]) + self.K]
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale + bias)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        dB = np.zeros_like(self.params["B"])
        np.add.at(dB, self.bucket(self.x.shape[1]), ds.sum(axis=0))
        self.grads["B"] = dB
        dq = ds @ self.k * self.scale
        dk = ds.transpose(0, 2, 1) @ self.q * self.scale
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def bucket(self, T):
        """The index into B of every (i, j)."""
        return self.offsets(T) + self.K


@same_name
class ClippedRelativeBiasAttentionA(ClippedRelativeBiasAttention):
    def bucket(self, T):
        return self.offsets(T)


class TalkingHeadsAttention(mn.Layer):
    """Talking-heads attention (Shazeer et al.), 2 heads of D/2 features: each head's scores
    S_h = Q_h K_hᵀ / √d, then mixed across the heads before the softmax, S'_g = Σ_h L[h, g] S_h;
    P_g = softmax(S'_g), O_g = P_g V_g, the heads side by side.  Back through the mixing:
    dS_h = Σ_g L[h, g] dS'_g (L, not Lᵀ), dL[h, g] = Σ S_h ⊙ dS'_g.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), L (2, 2)."""

    heads = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))
        self.params["L"] = np.array([[1.0, 0.4], [-0.5, 0.8]])
        self.grads["L"] = np.zeros((2, 2))

    def split(self, a):
        N, T, D = a.shape
        return a.reshape(N, T, self.heads, D // self.heads).transpose(0, 2, 1, 3)

    @staticmethod
    def merge(a):
        N, h, T, d = a.shape
        return a.transpose(0, 2, 1, 3).reshape(N, T, h * d)

    def forward(self, x):
        self.x = x
        self.q, self.k, self.v = (self.split(x @ self.params[w]) for w in ("Wq", "Wk", "Wv"))
        self.scale = 1 / np.sqrt(self.q.shape[-1])
        self.s = self.q @ self.k.swapaxes(-1, -2) * self.scale
        self.p = softmax(np.einsum("nhij,hg->ngij", self.s, self.params["L"]))
        return self.merge(self.p @ self.v)

    def backward(self, dout):
        do = self.split(dout)
        dv = self.p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        dmixed = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        self.grads["L"] = np.einsum("nhij,ngij->hg", self.s, dmixed)
        ds = self.unmix(dmixed) * self.scale
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            d = self.merge(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def unmix(self, dmixed):
        """dL/dS_h from dL/dS'_g."""
        return np.einsum("ngij,hg->nhij", dmixed, self.params["L"])


@same_name
class TalkingHeadsAttentionA(TalkingHeadsAttention):
    def unmix(self, dmixed):
        return np.einsum("ngij,gh->nhij", dmixed, self.params["L"])


class SinkAttention(mn.Layer):
    """Self-attention with a learned sink: a key k0 and a value v0 put in front of the T real
    ones, K̃ = [k0; K], Ṽ = [v0; V] (column 0 of the scores is the sink's);
    S = Q K̃ᵀ / √D (N, T, T + 1), P = softmax(S), y = P Ṽ.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), k0, v0 (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), k0=(d,), v0=(d,))

    def forward(self, x):
        N = len(x)
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q = x @ self.params["Wq"]
        sink_k = np.broadcast_to(self.params["k0"], (N, 1, x.shape[-1]))
        sink_v = np.broadcast_to(self.params["v0"], (N, 1, x.shape[-1]))
        self.kk = np.concatenate([sink_k, x @ self.params["Wk"]], axis=1)
        self.vv = np.concatenate([sink_v, x @ self.params["Wv"]], axis=1)
        self.p = softmax(self.q @ self.kk.transpose(0, 2, 1) * self.scale)
        return self.p @ self.vv

    def backward(self, dout):
        dvv = self.p.transpose(0, 2, 1) @ dout  # (N, T + 1, D)
        dp = dout @ self.vv.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq = ds @ self.kk
        dkk = ds.transpose(0, 2, 1) @ self.q
        self.grads["k0"] = dkk[:, 0].sum(axis=0)
        self.grads["v0"] = dvv[:, 0].sum(axis=0)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", self.real(dkk)), ("Wv", self.real(dvv))):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    @staticmethod
    def real(a):
        """The real keys' (or values') rows of a (N, T + 1, D) gradient."""
        return a[:, 1:]


@same_name
class SinkAttentionA(SinkAttention):
    @staticmethod
    def real(a):
        return a[:, :-1]


class MeanQueryPool(mn.Layer):
    """Attention pooling over time with the query taken from the sequence's own mean:
    q = x̄ Wq, x̄ = mean_t x_t;  k_t = x_t Wk, v_t = x_t Wv, p = softmax_t(k_t·q / √D),
    y = Σ_t p_t v_t.  x reaches y through the keys, the values and the mean's query, which
    gives each step dq Wqᵀ / T.  x (N, T, D) -> y (N, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.xbar = x.mean(axis=1)
        self.q = self.xbar @ self.params["Wq"]
        self.k, self.v = x @ self.params["Wk"], x @ self.params["Wv"]
        self.p = softmax(np.einsum("ntd,nd->nt", self.k, self.q) * self.scale)
        return np.einsum("nt,ntd->nd", self.p, self.v)

    def backward(self, dout):
        dv = self.p[:, :, None] * dout[:, None, :]
        dp = np.einsum("ntd,nd->nt", self.v, dout)
        ds = self.p * (dp - (dp * self.p).sum(axis=1, keepdims=True)) * self.scale
        dq = np.einsum("nt,ntd->nd", ds, self.k)
        dk = ds[:, :, None] * self.q[:, None, :]
        self.grads["Wq"] = self.xbar.T @ dq
        self.grads["Wk"] = rows(self.x).T @ rows(dk)
        self.grads["Wv"] = rows(self.x).T @ rows(dv)
        dx = dk @ self.params["Wk"].T + dv @ self.params["Wv"].T
        return dx + self.mean_back(dq @ self.params["Wq"].T)

    def mean_back(self, dxbar):
        """Back through x̄ = mean_t x_t: (N, D) -> (N, T, D)."""
        T = self.x.shape[1]
        return np.repeat(dxbar[:, None, :], T, axis=1) / T


@same_name
class MeanQueryPoolA(MeanQueryPool):
    def mean_back(self, dxbar):
        return np.repeat(dxbar[:, None, :], self.x.shape[1], axis=1)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("feature-softmax", ACT, lambda: dense_net(FeatureSoftmaxA(), seed=1201, scale=2.0),
         "the softmax is differentiated as if elementwise, dy_i/dx_i = y_i (1 - y_i) alone: every "
         "output depends on every input, so the Jacobian's off-diagonal -y_i y_j terms, "
         "-y Σ_j dout_j y_j, are missing",
         "return y * (dout - (dout * y).sum(axis=1, keepdims=True))"),
    Case("swiglu", ACT, lambda: dense_net(SwiGLUA(), width=6, seed=1202, scale=2.0),
         "the values' gradient is multiplied by silu of the values, silu(a), where forward "
         "multiplied a by silu of the gates: da = dout ⊙ silu(g) (dg is right)",
         "da = dout * self.silu(self.g)"),
    Case("beta-softplus", ACT, lambda: dense_net(BetaSoftplusA(5), seed=1203, scale=2.0),
         "β stands in the log and in the 1/β, but dβ differentiates only the log: the term "
         "-log(1 + e^(βx)) / β² from the 1/β is missing (dx is right)",
         "return self.x * self.s / beta - self.sp / beta**2"),
    Case("split-activation", ACT, lambda: dense_net(SplitActivationA(), seed=1204, scale=2.0),
         "backward splits the features at (D + 1) // 2 = 3 where forward split at D // 2 = 2: "
         "feature 2, a sigmoid, gets tanh's slope 1 - y² where y (1 - y) belongs",
         "return d // 2"),
    Case("dcn-cross", DENSE, lambda: dense_net(CrossLayerA(5, seed=1205), seed=1205),
         "z = x W + b reaches y multiplied by x, but its gradient is taken as dout itself: "
         "dz = dout ⊙ x is missing the factor x, so dW, db and the dz Wᵀ term of dx are wrong",
         "return dout * self.x"),
    Case("rezero-dense", DENSE, lambda: dense_net(ReZeroDenseA(5, seed=1206), seed=1206),
         "dα pairs dout with the layer's output y = x + α f, kept in self.out, where α "
         "multiplies the branch f alone: dα = Σ dout ⊙ f (dW, db and dx are right)",
         "return np.array([(dout * self.f).sum()])"),
    Case("torch-layout-linear", DENSE,
         lambda: dense_net(TorchLayoutLinearA(5, 5, seed=1207), seed=1207),
         "dW is written xᵀ dout, the (D, F) gradient of the (inputs, outputs) layout, where W "
         "is kept as (F, D) and used as Wᵀ: dW = doutᵀ x, the transpose (it runs since D = F; "
         "db and dx are right)",
         "return dout.T @ self.x"),
    Case("convex-linear", DENSE, lambda: dense_net(ConvexLinearA(5, 4, seed=1208), seed=1208),
         "the softmax backward of Ŵ sums dŴ ⊙ Ŵ over axis=1, the outputs, where forward "
         "normalized each column over the inputs (axis 0): the (D, 1) sums broadcast silently "
         "(dx is right)",
         "return a.sum(axis=0, keepdims=True)"),
    Case("layernorm-count", NORM, lambda: dense_net(CompactLayerNormA(5), seed=1209),
         "the compact backward of a layer norm is written with N = dout.shape[0], the batch "
         "size (6), where its sums run over the D = 5 features: (D dx̂ - Σ dx̂ - x̂ Σ dx̂ x̂) / "
         "(D std)",
         "return (D * dxhat - dxhat.sum(axis=1, keepdims=True) - xhat * (dxhat * xhat).sum("
         "axis=1, keepdims=True)) / (D * self.std)"),
    Case("staged-batchnorm-inplace", NORM,
         lambda: dense_net(StagedBatchNormA(5), seed=1210, scale=3.0),
         "xhat = xmu; xhat *= ivar scales the cached xmu itself (the same array): backward's "
         "variance stage reads x̂ where x - mu belongs, so that term of dx is off by ivar² "
         "(dgamma and dbeta are right)",
         "xhat = xmu * ivar"),
    Case("mixed-norm", NORM, lambda: dense_net(MixedNormA(), seed=1211),
         "the branches' weights are swapped in backward: the batch-norm branch's backward gets "
         "dout (1 - ρ) and the layer-norm branch's dout ρ, where forward weighted BN by ρ and "
         "LN by 1 - ρ (dρ is right)",
         "return rho, 1 - rho"),
    Case("l2-normalize", NORM, lambda: dense_net(L2NormalizeA(), seed=1212),
         "Σ dout ⊙ y is summed over axis=0, the batch, where the norm runs over each sample's "
         "features (axis 1): the (1, D) sums broadcast silently against y",
         "along = (dout * self.y).sum(axis=1, keepdims=True)"),
    Case("depthwise-multiplier", CONV,
         lambda: image_net(DepthwiseMultiplierConvA(3, seed=1213), seed=1213),
         "backward maps output channel o to input channel o % C, the order of np.tile, where "
         "forward's o // m read the channels repeated (0, 0, 1, 1, 2, 2): dW and dx pair "
         "filters with the wrong input channel",
         "return o // self.mult"),
    Case("depthwise-multiplier-correct", CONV,
         lambda: image_net(DepthwiseMultiplierConv(3, seed=1214), seed=1214), CORRECT),
    Case("window-conv", CONV, lambda: image_net(WindowConvA(3, 2, seed=1215), seed=1215),
         "dx is the full correlation of dout with W as it is, not turned by 180°: a "
         "cross-correlation's input gradient slides the flipped kernel (dW and db are right)",
         "return self.params['W'][:, :, ::-1, ::-1]"),
    Case("reshape-avgpool", POOL, lambda: image_net(ReshapeAvgPoolA(), seed=1216),
         "dout/4 is broadcast to (N, C, H/2, W/2, 2, 2) and reshaped to (N, C, H, W): without "
         "forward's interleaved (H/2, 2, W/2, 2) order each window's four gradients land in one "
         "row, not in its 2×2 block",
         "np.broadcast_to(dout[:, :, :, None, :, None] / 4, (N, C, Ho, 2, Wo, 2))"),
    Case("gem-learned-p", POOL, lambda: image_net(LearnedGeMPoolA(), seed=1217),
         "p stands in the power x̃ᵖ and in the root m^(1/p), but dp keeps only the power's "
         "term: the root's -y log(m) / p² is missing (dx is right)",
         "return self.y * (mlog / (p * self.m) - np.log(self.m) / p**2)"),
    Case("tversky", LOSS, lambda: loss_net(TverskyLossA(), labels, seed=1218, scale=2.0),
         "α and β are exchanged in the denominator's derivative: false positives are weighted "
         "by α = 0.7 and false negatives by β = 0.3 in forward, dden/dp = t + α(1 - t) - β t",
         "return self.t + self.alpha * (1 - self.t) - self.beta * self.t"),
    Case("squared-multiclass-hinge", LOSS,
         lambda: loss_net(SquaredMulticlassHingeA(), labels, seed=1219, scale=2.0),
         "the label's column is the linear SVM's, minus the number of active margins, where the "
         "squared hinge gives minus the sum of their slopes 2 m_j (the other columns are right)",
         "return -dS.sum(axis=1)"),
    Case("partial-label-ce", LOSS,
         lambda: loss_net(PartialLabelCEA(), some_unlabelled, seed=1220, scale=2.0),
         "backward divides by len(y), all N = 6 samples, where forward's mean ran over the "
         "M = 4 labelled ones: the gradient is 4/6 of what it should be",
         "return self.count()"),
    Case("gru-direct-carry", SEQ, lambda: sequence_net(GRUA(4, 3, seed=1221), seed=1221),
         "h_t = (1 - z) n + z h_{t-1}, so the direct part of the carried gradient is dh ⊙ z; "
         "backward carries dh ⊙ (1 - z), the candidate's weight",
         "return dh * (1 - z), dh * (h_prev - n), dh * z"),
    Case("lstm-candidate-slope", SEQ, lambda: sequence_net(LSTMA(4, 3, seed=1222), seed=1222),
         "the candidate g = tanh(a_g) is given the sigmoid's slope g (1 - g), like the three "
         "gates, where tanh's is 1 - g²",
         "dg * (1 - g**2)"),
    Case("recurrent-dropout-rnn", SEQ,
         lambda: sequence_net(RecurrentDropoutRNNA(4, 3, seed=1223), seed=1223),
         "dWh pairs da_t with the raw h_{t-1} where Wh multiplied the dropped h_{t-1} ⊙ m: "
         "the recurrent dropout mask is missing from dWh (dWx, db, dx are right)",
         "return self.hs[t] * self.m"),
    Case("mgu", SEQ, lambda: sequence_net(MGUA(4, 3, seed=1224), seed=1224),
         "f reaches h_t twice, through the mix and inside h̃ as f ⊙ h_{t-1}, but df keeps only "
         "the mix's dh ⊙ (h̃ - h_{t-1}): the term (dah Uhᵀ) ⊙ h_{t-1} through h̃ is missing "
         "(dah the gradient at h̃'s pre-activation)",
         "return dh * (ht - h) + dfh * h"),
    Case("mgu-correct", SEQ, lambda: sequence_net(MGU(4, 3, seed=1225), seed=1225), CORRECT),
    Case("clipped-relative-bias", ATTN,
         lambda: sequence_net(ClippedRelativeBiasAttentionA(4, seed=1226), seed=1226),
         "backward's bucket index forgets forward's + K: offset r goes to B[r], so offset 0 "
         "feeds B[0] where B[2] belongs and the negative offsets wrap around to the end of the "
         "table (dWq, dWk, dWv and dx are right)",
         "return self.offsets(T) + self.K"),
    Case("talking-heads", ATTN,
         lambda: sequence_net(TalkingHeadsAttentionA(4, seed=1227), t=3, seed=1227),
         "back through the heads' mixing S'_g = Σ_h L[h, g] S_h the gradient is taken with Lᵀ: "
         "dS_h = Σ_g L[g, h] dS'_g where L[h, g] belongs (dL is right; it runs since L is 2×2)",
         "return np.einsum('ngij,hg->nhij', dmixed, self.params['L'])"),
    Case("attention-sink", ATTN, lambda: sequence_net(SinkAttentionA(4, seed=1228), seed=1228),
         "the real keys' and values' gradients are cut as a[:, :-1] where the sink was put in "
         "front at column 0: they are a[:, 1:], so every key and value gets its neighbour's "
         "gradient and step 0 the sink's (dk0 and dv0 are right)",
         "return a[:, 1:]"),
    Case("attention-sink-correct", ATTN,
         lambda: sequence_net(SinkAttention(4, seed=1229), seed=1229), CORRECT),
    Case("mean-query-pool", ATTN,
         lambda: sequence_net(MeanQueryPoolA(4, seed=1230), t=4, seed=1230),
         "the query's gradient dq Wqᵀ is copied to every step without the mean's 1/T: "
         "x̄ = mean_t x_t, so each step gets dq Wqᵀ / T (the keys' and values' paths are right)",
         "return np.repeat(dxbar[:, None, :], T, axis=1) / T"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
