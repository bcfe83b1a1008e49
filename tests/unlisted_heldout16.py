"""The sixteenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the fifteenth held-out set was used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
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

# The batch size of the notebook's training cell, a global of the module as it is of a notebook.
batch_size = 8

# ---- activations -----------------------------------------------------------------------------

erf = np.vectorize(math.erf, otypes=[float])


class SERF(mn.Layer):
    """The self-regularized activation SERF (Nag et al.): y = x erf(softplus(x)).
    With u = softplus(x), du/dx = σ(x) and erf'(u) = (2/√π) e^(-u²):
    dy/dx = erf(u) + x erf'(u) σ(x).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.u = np.logaddexp(0, x)
        self.e = erf(self.u)
        return x * self.e

    def backward(self, dout):
        return dout * (self.e + self.x * self.erf_slope(self.u) * sigmoid(self.x))

    def erf_slope(self, u):
        """erf'(u)."""
        return 2 / np.sqrt(np.pi) * np.exp(-u**2)


@same_name
class SERFA(SERF):
    def erf_slope(self, u):
        return np.exp(-u**2 / 2) / np.sqrt(2 * np.pi)


class Sinc(mn.Layer):
    """The unnormalized sinc as an activation, y = sin(x)/x, written with numpy's np.sinc,
    which is the normalized sinc sin(πt)/(πt): y = np.sinc(x/π).
    dy/dx = (cos x - sin(x)/x) / x.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.sinc(x / np.pi)

    def backward(self, dout):
        return dout * (np.cos(self.x) - self.sin_over_x()) / self.x

    def sin_over_x(self):
        """sin(x)/x, entry by entry."""
        return np.sinc(self.x / np.pi)


@same_name
class SincA(Sinc):
    def sin_over_x(self):
        return np.sinc(self.x)


class LearnedCELU(mn.Layer):
    """CELU with a learned α per feature: y = x where x > 0, α (e^(x/α) - 1) elsewhere.
    dy/dx = 1 where x > 0, e^(x/α) elsewhere;  dα = Σ_n dout (e^(x/α) - 1 - (x/α) e^(x/α))
    over the entries with x <= 0.  x, y: (N, D);  alpha (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"alpha": np.linspace(0.6, 1.6, d)}
        self.grads = {"alpha": np.zeros(d)}

    def forward(self, x):
        self.x = x
        a = self.params["alpha"]
        self.ex = np.exp(np.minimum(x, 0) / a)
        return np.where(x > 0, x, a * (self.ex - 1))

    def backward(self, dout):
        neg = self.x <= 0
        z = np.minimum(self.x, 0) / self.params["alpha"]
        self.grads["alpha"] = (dout * neg * (self.ex - 1 - z * self.ex)).sum(axis=0)
        return dout * np.where(neg, self.ex, 1.0)


@same_name
class LearnedCELUA(LearnedCELU):
    def backward(self, dout):
        neg = self.x <= 0
        z = np.minimum(self.x, 0) / self.params["alpha"]
        self.grads["aplha"] = (dout * neg * (self.ex - 1 - z * self.ex)).sum(axis=0)
        return dout * np.where(neg, self.ex, 1.0)


class FeaturePReLU(mn.Layer):
    """PReLU with a learned slope per feature for x <= 0: y = x where x > 0, a x elsewhere.
    The slopes are as training left them, two of them above 1.  dx = dout where x > 0,
    dout a elsewhere;  da = Σ_n dout x over the entries with x <= 0.  x, y: (N, D);  a (D,)."""

    def __init__(self):
        super().__init__()
        self.params = {"a": np.array([0.25, 0.5, 0.8, 1.3, 1.6])}
        self.grads = {"a": np.zeros(5)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["a"] * x)

    def backward(self, dout):
        neg = self.x <= 0
        self.grads["a"] = (dout * self.x * neg).sum(axis=0)
        return dout * np.where(neg, self.params["a"], 1.0)


@same_name
class FeaturePReLUA(FeaturePReLU):
    def forward(self, x):
        self.x = x
        return np.maximum(x, self.params["a"] * x)


# ---- dense-like ------------------------------------------------------------------------------


class DeepLinear(mn.Layer):
    """Two linear maps in a row, a deep linear network's two layers fused into one:
    y = x W1 W2 + b.  dW2 = (x W1)ᵀ dout, dW1 = xᵀ (dout W2ᵀ), db = Σ_n dout, and
    dx = dout (W1 W2)ᵀ = dout W2ᵀ W1ᵀ.  x (N, D) -> (N, D);  W1, W2 (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W1=(d, d), W2=(d, d), b=(d,))

    def forward(self, x):
        self.x = x
        self.h = x @ self.params["W1"]
        return self.h @ self.params["W2"] + self.params["b"]

    def backward(self, dout):
        P = self.params
        self.grads["W2"] = self.h.T @ dout
        self.grads["W1"] = self.x.T @ (dout @ P["W2"].T)
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.product_transposed()

    def product_transposed(self):
        """(W1 W2)ᵀ."""
        return self.params["W2"].T @ self.params["W1"].T


@same_name
class DeepLinearA(DeepLinear):
    def product_transposed(self):
        return self.params["W1"].T @ self.params["W2"].T


class InputGainDense(mn.Layer):
    """A dense layer with a learned gain on each input feature, written with loops over the
    samples: y_n = (x_n ⊙ g) W + b.  Sample by sample, dW += outer(x_n ⊙ g, dout_n),
    dg += x_n ⊙ (W dout_n), db += dout_n and dx_n = g ⊙ (W dout_n).
    x (N, D) -> (N, F);  W (D, F), g (D,), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))
        self.params["g"], self.grads["g"] = np.linspace(0.5, 1.5, d), np.zeros(d)

    def forward(self, x):
        P = self.params
        self.x = x
        out = np.zeros((x.shape[0], P["W"].shape[1]))
        for n in range(x.shape[0]):
            out[n] = (x[n] * P["g"]) @ P["W"] + P["b"]
        return out

    def backward(self, dout):
        W, g = self.params["W"], self.params["g"]
        zero_grads(self)
        dx = np.zeros_like(self.x)
        for n in range(dout.shape[0]):
            back = W @ dout[n]
            self.grads["W"] += self.outer(self.x[n] * g, dout[n])
            self.grads["g"] += self.x[n] * back
            self.grads["b"] += dout[n]
            dx[n] = g * back
        return dx

    @staticmethod
    def outer(a, b):
        """One sample's (D, F) term of dW."""
        return np.outer(a, b)


@same_name
class InputGainDenseA(InputGainDense):
    @staticmethod
    def outer(a, b):
        return a.T @ b


class StepBiasDense(mn.Layer):
    """A dense map applied at every step, with a learned bias per step (a position bias):
    y[:, t] = x[:, t] W + B[t].  dW = Σ_{n,t} x[n, t]ᵀ dout[n, t], a tensordot over the sample
    and step axes of both, axes=([0, 1], [0, 1]);  dB = Σ_n dout;  dx = dout Wᵀ.
    x (N, T, D) -> (N, T, F);  W (D, F), B (T, F)."""

    def __init__(self, d, f, steps, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), B=(steps, f))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["B"]

    def backward(self, dout):
        self.grads["W"] = self.weight_grad(dout)
        self.grads["B"] = dout.sum(axis=0)
        return dout @ self.params["W"].T

    def weight_grad(self, dout):
        """dW, (D, F)."""
        return np.tensordot(self.x, dout, axes=([0, 1], [0, 1]))


@same_name
class StepBiasDenseA(StepBiasDense):
    def weight_grad(self, dout):
        return np.tensordot(self.x, dout, axes=2)


# ---- normalization ---------------------------------------------------------------------------


class ParseNetNorm(mn.Layer):
    """ParseNet's L2 normalization with a learned scale per feature: u = x / ‖x‖, each sample
    divided by its Euclidean norm over its features, y = s ⊙ u.  ds = Σ_n dout ⊙ u; with
    du = dout ⊙ s, dx = (du - u (du · u)) / ‖x‖.  Backward recomputes ‖x‖ and u from x.
    x, y: (N, D);  s (D,)."""

    def __init__(self, d):
        super().__init__()
        self.params = {"s": np.linspace(0.8, 2.0, d)}
        self.grads = {"s": np.zeros(d)}

    def forward(self, x):
        self.x = x
        return self.params["s"] * x / np.linalg.norm(x, axis=1, keepdims=True)

    def backward(self, dout):
        r = self.norms()
        u = self.x / r
        self.grads["s"] = (dout * u).sum(axis=0)
        du = dout * self.params["s"]
        return (du - u * (du * u).sum(axis=1, keepdims=True)) / r

    def norms(self):
        """Each sample's ‖x‖, as a column (N, 1)."""
        return np.linalg.norm(self.x, axis=1, keepdims=True)


@same_name
class ParseNetNormA(ParseNetNorm):
    def norms(self):
        return np.linalg.norm(self.x, 1, keepdims=True)


class StepBatchNorm(mn.Layer):
    """Batch norm with statistics per time step (recurrent batch norm, Cooijmans et al.): each
    (step, feature) standardized over the batch, then gamma x̂ + beta, with gamma and beta
    shared by the steps.  Backward loops over the steps: dgamma and dbeta add up Σ_n dout ⊙ x̂
    and Σ_n dout step by step, each in its own array; each step's dx is batch norm's.
    x, y: (N, T, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.6, 1.4, d), "beta": np.linspace(-0.2, 0.2, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        self.std = np.sqrt(x.var(axis=0) + self.eps)  # (T, D)
        self.xhat = (x - x.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        D = dout.shape[2]
        dx = np.zeros_like(dout)
        dgamma = np.zeros(D)
        dbeta = np.zeros(D)
        for t in range(dout.shape[1]):
            g, xh = dout[:, t], self.xhat[:, t]
            dgamma += (g * xh).sum(axis=0)
            dbeta += g.sum(axis=0)
            dxh = g * self.params["gamma"]
            dx[:, t] = (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / self.std[t]
        self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
        return dx


@same_name
class StepBatchNormA(StepBatchNorm):
    def backward(self, dout):
        D = dout.shape[2]
        dx = np.zeros_like(dout)
        dgamma = dbeta = np.zeros(D)
        for t in range(dout.shape[1]):
            g, xh = dout[:, t], self.xhat[:, t]
            dgamma += (g * xh).sum(axis=0)
            dbeta += g.sum(axis=0)
            dxh = g * self.params["gamma"]
            dx[:, t] = (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / self.std[t]
        self.grads["gamma"], self.grads["beta"] = dgamma, dbeta
        return dx


class WelfordBatchNorm(mn.Layer):
    """Batch norm whose statistics are accumulated sample by sample with Welford's algorithm:
    δ = x_n - mean, mean += δ / n, M2 += δ (x_n - mean), which uses the mean before and after
    the update; var = M2 / N, the batch's biased variance.  Backward is batch norm's:
    dx = (dx̂ - mean_n dx̂ - x̂ mean_n(dx̂ ⊙ x̂)) / σ with dx̂ = dout gamma.
    x, y: (N, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.linspace(0.3, -0.3, d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        mean, m2 = self.moments(x)
        self.std = np.sqrt(m2 / x.shape[0] + self.eps)
        self.xhat = (x - mean) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def moments(self, x):
        """(mean, M2) over the batch, one sample at a time."""
        mean, m2 = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        for n, row in enumerate(x, start=1):
            delta = row - mean
            mean = mean + delta / n
            m2 = m2 + delta * (row - mean)
        return mean, m2

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxh, xh = dout * self.params["gamma"], self.xhat
        return (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / self.std


@same_name
class WelfordBatchNormA(WelfordBatchNorm):
    def moments(self, x):
        mean, m2 = np.zeros(x.shape[1]), np.zeros(x.shape[1])
        for n, row in enumerate(x, start=1):
            mean = mean + (row - mean) / n
            m2 = m2 + (row - mean) ** 2
        return mean, m2


# ---- convolution and pooling -----------------------------------------------------------------


class ConvMixerDepthwise(mn.Layer):
    """ConvMixer's spatial mixing: a depthwise 3×3 convolution, stride 1, padding 1, one
    kernel per channel, with the residual around it: y = x + dwconv(x) + b.  In backward each
    output pixel's gradient g (N, C, 1, 1) goes back to its window as g ⊙ K[c], the channel's
    own 3×3 kernel, and dx adds the residual's dout.
    x, y: (N, C, H, W);  W (C, 3, 3) (the kernels), b (C,)."""

    def __init__(self, c, seed=0):
        super().__init__()
        with_params(self, seed, W=(c, 3, 3), b=(c,))

    def forward(self, x):
        self.xp = pad(x, 1)
        out = np.zeros(x.shape)
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                out[:, :, i, j] = (self.xp[:, :, i:i + 3, j:j + 3]
                                   * self.params["W"]).sum(axis=(2, 3))
        return x + out + self.params["b"][:, None, None]

    def backward(self, dout):
        K = self.params["W"]
        N, C, H, W = dout.shape
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(K)
        for i in range(H):
            for j in range(W):
                g = dout[:, :, i, j, None, None]
                dW += (self.xp[:, :, i:i + 3, j:j + 3] * g).sum(axis=0)
                dxp[:, :, i:i + 3, j:j + 3] += g * K
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dout + dxp[:, :, 1:-1, 1:-1]


@same_name
class ConvMixerDepthwiseA(ConvMixerDepthwise):
    def backward(self, dout):
        W = self.params["W"]
        N, C, H, W = dout.shape
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for i in range(H):
            for j in range(W):
                g = dout[:, :, i, j, None, None]
                dW += (self.xp[:, :, i:i + 3, j:j + 3] * g).sum(axis=0)
                dxp[:, :, i:i + 3, j:j + 3] += g * W
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dout + dxp[:, :, 1:-1, 1:-1]


class ShuffleGroupConv(mn.Layer):
    """ShuffleNet's grouped 1×1 convolution followed by a channel shuffle: the channels in G = 2
    groups, output channel f reads only its group's C/G input channels (z), then
    y = np.take(z, perm, axis=1) with perm = [0, 2, 1, 3].  Backward first scatters dout back
    to the channels of z it came from, dz[:, perm] = dout, then the grouped convolution's.
    x (N, C, H, W) -> (N, F, H, W), C = F = 4;  W (F, C/G), b (F,)."""

    groups = 2

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c // self.groups), b=(f,))
        self.perm = np.arange(f).reshape(self.groups, -1).T.ravel()

    def group(self, f):
        """The input channels output channel f reads."""
        per_in, per_out = self.params["W"].shape[1], len(self.params["b"]) // self.groups
        g = f // per_out
        return slice(g * per_in, (g + 1) * per_in)

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        self.x = x
        z = np.zeros((x.shape[0], len(b), *x.shape[2:]))
        for f in range(len(b)):
            z[:, f] = np.einsum("c,nchw->nhw", W[f], x[:, self.group(f)]) + b[f]
        return np.take(z, self.perm, axis=1)

    def backward(self, dout):
        W = self.params["W"]
        dz = self.unshuffle(dout)
        dx, dW = np.zeros_like(self.x), np.zeros_like(W)
        for f in range(len(W)):
            dW[f] = np.einsum("nhw,nchw->c", dz[:, f], self.x[:, self.group(f)])
            dx[:, self.group(f)] += W[f][None, :, None, None] * dz[:, f][:, None]
        self.grads["W"], self.grads["b"] = dW, dz.sum(axis=(0, 2, 3))
        return dx

    def unshuffle(self, dout):
        """dL/dz: each channel of dout goes back to the channel of z it was taken from."""
        dz = np.zeros_like(dout)
        dz[:, self.perm] = dout
        return dz


@same_name
class ShuffleGroupConvA(ShuffleGroupConv):
    def unshuffle(self, dout):
        dz = np.zeros_like(dout)
        np.put(dz, self.perm, dout)
        return dz


class MaxAbsPool(mn.Layer):
    """2×2 pooling, stride 2, that keeps each window's entry of largest magnitude with its sign
    (a pooling for signed responses): the window's gradient goes to that entry.
    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def windows(self, shape):
        """The top-left corner of every 2×2 window."""
        return [(i, j) for i in range(0, shape[2], 2) for j in range(0, shape[3], 2)]

    def forward(self, x):
        self.x, self.wins, self.masks = x, self.windows(x.shape), {}
        out = np.zeros((*x.shape[:2], x.shape[2] // 2, x.shape[3] // 2))
        for i, j in self.wins:
            w = x[:, :, i:i + 2, j:j + 2]
            a = np.abs(w)
            self.masks[i, j] = a == a.max(axis=(2, 3), keepdims=True)
            out[:, :, i // 2, j // 2] = (w * self.masks[i, j]).sum(axis=(2, 3))
        return out

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        for i, j in self.wins:
            dx[:, :, i:i + 2, j:j + 2] = self.masks[i, j] * dout[:, :, i // 2, j // 2, None, None]
        return dx


@same_name
class MaxAbsPoolA(MaxAbsPool):
    def windows(self, shape):
        return ((i, j) for i in range(0, shape[2], 2) for j in range(0, shape[3], 2))


# ---- losses ----------------------------------------------------------------------------------


class StableCE(mn.Loss):
    """Cross-entropy with its log-sum-exp written out stably: with m = max_c s_c,
    lse = m + log Σ_c e^(s_c - m) and L = mean(lse - s_y).  m enters twice and cancels (lse
    does not depend on it), so d lse/ds = softmax(s) and dL/ds = (softmax(s) - onehot) / N.
    scores (N, C), y (N,) labels."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        m = scores.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(scores - m).sum(axis=1))
        return float(np.mean(lse - scores[np.arange(len(y)), y]))

    def backward(self):
        onehot = np.eye(self.s.shape[1])[self.y]
        return (self.lse_grad() - onehot) / len(self.y)

    def lse_grad(self):
        """d lse / ds."""
        e = np.exp(self.s - self.s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


@same_name
class StableCEA(StableCE):
    def lse_grad(self):
        top = self.s == self.s.max(axis=1, keepdims=True)
        e = np.exp(self.s - self.s.max(axis=1, keepdims=True))
        return top + e / e.sum(axis=1, keepdims=True)


class AngleLoss(mn.Loss):
    """Squared error between angles: the difference is wrapped to [-π, π) first,
    δ = (s - y + π) mod 2π - π, and L = mean δ².  dδ/ds = 1 away from the wrap points, so
    dL/ds = 2 δ / N.  scores (N, 1), y (N,) angles in [-π, π)."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        self.delta = np.mod(self.s - y + np.pi, 2 * np.pi) - np.pi
        return float(np.mean(self.delta**2))

    def backward(self):
        return (2 * self.residual() / len(self.y))[:, None]

    def residual(self):
        """The angle between score and target."""
        return self.delta


@same_name
class AngleLossA(AngleLoss):
    def residual(self):
        return self.s - self.y


def angles(rng, n):
    return rng.uniform(-np.pi, np.pi, n)


class HellingerLoss(mn.Loss):
    """The squared Hellinger distance between p = softmax(s) and a teacher's probabilities q
    (y), averaged over the batch: L = mean_n ½ Σ_c (√p_c - √q_c)² = mean_n (1 - Σ_c √(p_c q_c)).
    With a = √(p q): dL_n/ds = -(a - p Σ_c a_c) / 2, and the mean divides by the batch's N rows.
    scores (N, C), y (N, C) rows summing to 1."""

    def forward(self, scores, y):
        self.p, self.q = softmax(scores), y
        return float(np.mean(1 - np.sqrt(self.p * y).sum(axis=1)))

    def backward(self):
        a = np.sqrt(self.p * self.q)
        return -(a - self.p * a.sum(axis=1, keepdims=True)) / 2 / len(self.q)


@same_name
class HellingerLossA(HellingerLoss):
    def backward(self):
        a = np.sqrt(self.p * self.q)
        return -(a - self.p * a.sum(axis=1, keepdims=True)) / 2 / batch_size


# ---- sequences -------------------------------------------------------------------------------


class TapeRNN(mn.Layer):
    """An Elman RNN, h_t = tanh(x_t Wx + h_{t-1} Wh + b), h_0 = 0, whose forward records a tape
    as an autograd engine does: for each step a closure that takes dh_t back through that step,
    bound to the step's own x_t, h_{t-1} and h_t (default arguments).  Backward plays the tape
    from the last step to the first.  x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        P = self.params
        h = np.zeros((x.shape[0], self.hidden))
        self.x_shape, self.tape, hs = x.shape, [], []
        for t in range(x.shape[1]):
            x_t, h_prev = x[:, t], h
            h = np.tanh(x_t @ P["Wx"] + h_prev @ P["Wh"] + P["b"])
            self.tape.append(lambda dh, x_t=x_t, h_prev=h_prev, h=h:
                             self.step_back(dh, x_t, h_prev, h))
            hs.append(h)
        return np.stack(hs, axis=1)

    def step_back(self, dh, x_t, h_prev, h):
        """dh_t -> (dx_t, dh_{t-1}), adding the step's terms to the grads."""
        da = dh * (1 - h**2)
        self.grads["Wx"] += x_t.T @ da
        self.grads["Wh"] += h_prev.T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros(self.x_shape)
        dh = np.zeros((dout.shape[0], self.hidden))
        for t in reversed(range(len(self.tape))):
            dx[:, t], dh = self.tape[t](dout[:, t] + dh)
        return dx


@same_name
class TapeRNNA(TapeRNN):
    def forward(self, x):
        P = self.params
        h = np.zeros((x.shape[0], self.hidden))
        self.x_shape, self.tape, hs = x.shape, [], []
        for t in range(x.shape[1]):
            x_t, h_prev = x[:, t], h
            h = np.tanh(x_t @ P["Wx"] + h_prev @ P["Wh"] + P["b"])
            self.tape.append(lambda dh: self.step_back(dh, x_t, h_prev, h))  # noqa: B023
            hs.append(h)
        return np.stack(hs, axis=1)


class BufferRNN(mn.Layer):
    """An Elman RNN kept in a preallocated buffer: self.h[t] is h_t, (T, N, H), and the initial
    state h_{-1} is 0.  h_t = tanh(x_t Wx + h_{t-1} Wh + b);  dWh = Σ_t h_{t-1}ᵀ da_t, to which
    step 0 adds nothing (h_{-1} = 0).  x (N, T, D) -> (N, T, H);  Wx (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        P = self.params
        N, T, _ = x.shape
        self.x, self.h = x, np.zeros((T, N, self.hidden))
        for t in range(T):
            # at t = 0, self.h[-1] is the buffer's last row, still zeros: h_{-1} = 0
            self.h[t] = np.tanh(x[:, t] @ P["Wx"] + self.h[t - 1] @ P["Wh"] + P["b"])
        return self.h.transpose(1, 0, 2).copy()

    def backward(self, dout):
        zero_grads(self)
        P = self.params
        dx, dh = np.zeros_like(self.x), np.zeros((dout.shape[0], self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh) * (1 - self.h[t] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.previous(t).T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ P["Wx"].T
            dh = da @ P["Wh"].T
        return dx

    def previous(self, t):
        """h_{t-1}: zeros at t = 0."""
        return self.h[t - 1] if t > 0 else np.zeros_like(self.h[0])


@same_name
class BufferRNNA(BufferRNN):
    def previous(self, t):
        return self.h[t - 1]


class ResetBeforeGRU(mn.Layer):
    """The GRU of Cho et al. (2014), Keras's reset_after=False: the reset gate acts on h_{t-1}
    before the product with Wh_n.  With h = h_{t-1}:
    r = σ(x_t Wx_r + h Wh_r + b_r), z = σ(x_t Wx_z + h Wh_z + b_z),
    n = tanh(x_t Wx_n + (r ⊙ h) Wh_n + b_n), h_t = (1 - z) ⊙ n + z ⊙ h.
    Back through n, with dan the gradient at its pre-activation: dWh_n += (r ⊙ h)ᵀ dan,
    dr = (dan Wh_nᵀ) ⊙ h, and h gets (dan Wh_nᵀ) ⊙ r.
    x (N, T, D) -> (N, T, H);  Wx (D, 3H), Wh (H, 3H), b (3H,), blocks r, z, n."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 3 * h), Wh=(h, 3 * h), b=(3 * h,))

    def forward(self, x):
        H, P = self.hidden, self.params
        h = np.zeros((x.shape[0], H))
        self.x, self.cache, hs = x, [], []
        for t in range(x.shape[1]):
            gx = x[:, t] @ P["Wx"] + P["b"]
            gh = h @ P["Wh"][:, :2 * H]
            r = sigmoid(gx[:, :H] + gh[:, :H])
            z = sigmoid(gx[:, H:2 * H] + gh[:, H:])
            n = np.tanh(gx[:, 2 * H:] + (r * h) @ P["Wh"][:, 2 * H:])
            self.cache.append((h, r, z, n))
            h = (1 - z) * n + z * h
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        H, P = self.hidden, self.params
        dx, dh_next = np.zeros_like(self.x), np.zeros((dout.shape[0], H))
        for t in reversed(range(self.x.shape[1])):
            h, r, z, n = self.cache[t]
            dh = dout[:, t] + dh_next
            dan = dh * (1 - z) * (1 - n**2)
            dr, dWhn, dh_n = self.candidate_back(dan, h, r)
            da = np.concatenate([dr * r * (1 - r), dh * (h - n) * z * (1 - z), dan], axis=1)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            self.grads["Wh"][:, :2 * H] += h.T @ da[:, :2 * H]
            self.grads["Wh"][:, 2 * H:] += dWhn
            dx[:, t] = da @ P["Wx"].T
            dh_next = dh * z + da[:, :2 * H] @ P["Wh"][:, :2 * H].T + dh_n
        return dx

    def candidate_back(self, dan, h, r):
        """Back through (r ⊙ h) Wh_n: (dr, dWh_n, h_{t-1}'s share)."""
        Whn = self.params["Wh"][:, 2 * self.hidden:]
        drh = dan @ Whn.T
        return drh * h, (r * h).T @ dan, drh * r


@same_name
class ResetBeforeGRUA(ResetBeforeGRU):
    def candidate_back(self, dan, h, r):
        Whn = self.params["Wh"][:, 2 * self.hidden:]
        return dan * (h @ Whn), h.T @ (dan * r), (dan * r) @ Whn.T


class LongConv(mn.Layer):
    """A long causal convolution over time, as in Hyena and S4's convolutional mode: one kernel
    per feature, as long as the sequence, y[:, t, d] = Σ_{s <= t} K[t - s, d] x[:, s, d],
    computed with FFTs of length 2T, so that the circular convolution they make is the linear
    one.  Backward: dx is the correlation of dout with K and dK that of dout with x, both with
    FFTs of length 2T too.  x, y: (N, T, D);  K (T, D)."""

    def __init__(self, t, d, seed=0):
        super().__init__()
        with_params(self, seed, K=(t, d))

    def forward(self, x):
        T = x.shape[1]
        self.x = x
        xf = np.fft.rfft(x, n=2 * T, axis=1)
        kf = np.fft.rfft(self.params["K"], n=2 * T, axis=0)
        return np.fft.irfft(xf * kf, n=2 * T, axis=1)[:, :T]

    def backward(self, dout):
        T = dout.shape[1]
        n = 2 * T
        df = np.fft.rfft(dout, n=n, axis=1)
        xf = np.fft.rfft(self.x, n=n, axis=1)
        kf = np.fft.rfft(self.params["K"], n=n, axis=0)
        self.grads["K"] = np.fft.irfft((df * np.conj(xf)).sum(axis=0), n=n, axis=0)[:T]
        return np.fft.irfft(df * np.conj(kf), n=n, axis=1)[:, :T]


@same_name
class LongConvA(LongConv):
    def backward(self, dout):
        T = dout.shape[1]
        n = T
        df = np.fft.rfft(dout, n=n, axis=1)
        xf = np.fft.rfft(self.x, n=n, axis=1)
        kf = np.fft.rfft(self.params["K"], n=n, axis=0)
        self.grads["K"] = np.fft.irfft((df * np.conj(xf)).sum(axis=0), n=n, axis=0)[:T]
        return np.fft.irfft(df * np.conj(kf), n=n, axis=1)[:, :T]


# ---- attention -------------------------------------------------------------------------------


def attention_back(layer, dout, p, ds_hook=None):
    """The textbook backward of one head, y = P V with P = softmax(Q Kᵀ · layer.scale), on
    layer.q, .k, .v, .x: fills dWq, dWk, dWv and returns dx.  ds_hook(dS) may edit dS."""
    W = layer.params
    dv = p.transpose(0, 2, 1) @ dout
    dp = dout @ layer.v.transpose(0, 2, 1)
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * layer.scale
    if ds_hook is not None:
        ds = ds_hook(ds)
    dq, dk = ds @ layer.k, ds.transpose(0, 2, 1) @ layer.q
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ W[w].T
    return dx


class OnlineSoftmaxAttention(mn.Layer):
    """One head of scaled dot-product self-attention, y = softmax(Q Kᵀ/√D) V, whose forward runs
    over the keys in chunks of 2 with an online softmax, as FlashAttention does: per query a
    running maximum m, denominator and numerator; when a chunk raises m, both the denominator
    and the numerator are rescaled by e^(m_old - m_new).  Backward recomputes P = softmax(S)
    from Q and K and is the textbook one.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    chunk = 2

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        W = self.params
        N, T, D = x.shape
        self.x, self.scale = x, 1 / np.sqrt(D)
        self.q, self.k, self.v = (x @ W[w] for w in ("Wq", "Wk", "Wv"))
        m = np.full((N, T, 1), -np.inf)
        den, num = np.zeros((N, T, 1)), np.zeros((N, T, D))
        for j in range(0, T, self.chunk):
            s = self.q @ self.k[:, j:j + self.chunk].transpose(0, 2, 1) * self.scale
            m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
            e = np.exp(s - m_new)
            den, num = self.accumulate(den, num, np.exp(m - m_new), e,
                                       self.v[:, j:j + self.chunk])
            m = m_new
        return num / den

    def accumulate(self, den, num, rescale, e, v):
        """The running sums after one chunk: the old ones rescaled to the new maximum, plus
        the chunk's."""
        return rescale * den + e.sum(axis=-1, keepdims=True), rescale * num + e @ v

    def backward(self, dout):
        p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        return attention_back(self, dout, p)


@same_name
class OnlineSoftmaxAttentionA(OnlineSoftmaxAttention):
    def accumulate(self, den, num, rescale, e, v):
        return den + e.sum(axis=-1, keepdims=True), rescale * num + e @ v


class CausalAttention(mn.Layer):
    """Causal single-head self-attention: S = Q Kᵀ/√D with the entries above the diagonal set to
    -inf, P = softmax(S), y = P V.  P is 0 above the diagonal, and so is dS: backward keeps
    np.tril(dS).  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        W = self.params
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ W[w] for w in ("Wq", "Wk", "Wv"))
        self.mask = np.tril(np.ones((T, T), dtype=bool))
        self.p = softmax(self.masked(self.q @ self.k.transpose(0, 2, 1) * self.scale))
        return self.p @ self.v

    def masked(self, s):
        """The scores with the later keys masked out."""
        return np.where(self.mask, s, -np.inf)

    def backward(self, dout):
        return attention_back(self, dout, self.p, np.tril)


@same_name
class CausalAttentionA(CausalAttention):
    def masked(self, s):
        return s + self.mask


def heads(a, h):
    """(N, T, D) -> (N, h, T, D/h)."""
    N, T, D = a.shape
    return a.reshape(N, T, h, D // h).transpose(0, 2, 1, 3)


def merged(a):
    """(N, h, T, d) -> (N, T, h·d)."""
    N, h, T, d = a.shape
    return a.transpose(0, 2, 1, 3).reshape(N, T, h * d)


class MultiScaleAttention(mn.Layer):
    """Two heads of D/2 features whose scores have fixed, different temperatures, so that one
    head attends broadly and the other sharply: S_i = τ_i Q_i K_iᵀ / √(D/2), τ = (0.5, 2.0),
    P_i = softmax(S_i), y = [P_0 V_0, P_1 V_1].  Backward multiplies each head's dS_i by its
    τ_i in place, in a loop over the heads.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    taus = (0.5, 2.0)

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        W, h = self.params, len(self.taus)
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1] // h)
        self.q, self.k, self.v = (heads(x @ W[w], h) for w in ("Wq", "Wk", "Wv"))
        tau = np.array(self.taus)[None, :, None, None]
        self.p = softmax(tau * self.scale * self.q @ self.k.swapaxes(-1, -2))
        return merged(self.p @ self.v)

    def backward(self, dout):
        W, do = self.params, heads(dout, len(self.taus))
        dv = self.p.swapaxes(-1, -2) @ do
        dp = do @ self.v.swapaxes(-1, -2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        self.temper(ds)
        dq, dk = ds @ self.k, ds.swapaxes(-1, -2) @ self.q
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            d = merged(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ W[w].T
        return dx

    def temper(self, ds):
        """Multiply each head's dS by its temperature, in place."""
        for head, tau in zip(ds.swapaxes(0, 1), self.taus):
            head *= tau


@same_name
class MultiScaleAttentionA(MultiScaleAttention):
    def temper(self, ds):
        for head, tau in zip(ds.swapaxes(0, 1), self.taus):
            head = head * tau


class LandmarkAttention(mn.Layer):
    """Self-attention whose keys and values come from a few landmark steps only, as in
    memory-compressed attention: K = x[:, L] Wk and V = x[:, L] Wv with the landmark steps
    L = [0, 2, 3], the queries from every step; P = softmax(Q Kᵀ/√D), y = P V.  dx gets the
    queries' path at every step and the keys' and values' paths added at the landmark steps.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    landmarks = np.array([0, 2, 3])

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        W = self.params
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.xl = x[:, self.landmarks]
        self.q, self.k, self.v = x @ W["Wq"], self.xl @ W["Wk"], self.xl @ W["Wv"]
        self.p = softmax(self.q @ self.k.transpose(0, 2, 1) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        W = self.params
        dv = self.p.transpose(0, 2, 1) @ dout
        dp = dout @ self.v.transpose(0, 2, 1)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True)) * self.scale
        dq, dk = ds @ self.k, ds.transpose(0, 2, 1) @ self.q
        self.grads["Wq"] = rows(self.x).T @ rows(dq)
        self.grads["Wk"] = rows(self.xl).T @ rows(dk)
        self.grads["Wv"] = rows(self.xl).T @ rows(dv)
        dx = dq @ W["Wq"].T
        self.scatter(dx, dk @ W["Wk"].T + dv @ W["Wv"].T)
        return dx

    def scatter(self, dx, g):
        """Add the landmarks' share g (N, L, D) into dx at their steps."""
        dx[:, self.landmarks] += g


@same_name
class LandmarkAttentionA(LandmarkAttention):
    def scatter(self, dx, g):
        picked = dx[:, self.landmarks]
        picked += g


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("serf", ACT, lambda: dense_net(SERFA(), seed=1601, scale=2.0),
         "erf's derivative is written as the standard normal density e^(-u²/2)/√(2π), which is "
         "the derivative of Φ, the normal distribution's CDF, not of erf: erf'(u) = "
         "(2/√π) e^(-u²) (erf(u) = 2Φ(u√2) - 1), so the term x erf'(softplus(x)) σ(x) of dy/dx "
         "is wrong (the erf(u) term is right)",
         "return 2 / np.sqrt(np.pi) * np.exp(-u**2)"),
    Case("sinc", ACT, lambda: dense_net(SincA(), seed=1602, scale=2.0),
         "backward's sin(x)/x is written np.sinc(self.x), but np.sinc is the normalized sinc "
         "sin(πx)/(πx), a different function, which forward allowed for with np.sinc(x/π): the "
         "slope (cos x - sin(x)/x)/x is computed with sin(πx)/(πx) in place of sin(x)/x",
         "return np.sinc(self.x / np.pi)"),
    Case("learned-celu", ACT, lambda: dense_net(LearnedCELUA(5), seed=1603, scale=2.0),
         "dα is stored under the misspelled key self.grads['aplha'], not 'alpha', the key of "
         "params: the gradient of α that the model reads, grads['alpha'], keeps the zeros "
         "__init__ put there (dx is right)",
         "self.grads['alpha'] = (dout * neg * (self.ex - 1 - z * self.ex)).sum(axis=0)"),
    Case("max-prelu", ACT, lambda: dense_net(FeaturePReLUA(), seed=1604, scale=2.0),
         "forward is written np.maximum(x, a x), the leaky ReLU's shortcut, which equals the "
         "PReLU only where a <= 1: for the two features with a > 1 (1.3 and 1.6) the max takes "
         "a x where x > 0 and x where x < 0, the pieces the other way round, so backward's "
         "slopes (1 above 0, a below, and da from the x <= 0 entries) are not those of the "
         "function forward computes there (the three features with a < 1 are right)",
         "return np.where(x > 0, x, self.params['a'] * x)"),
    Case("deep-linear", DENSE, lambda: dense_net(DeepLinearA(5, seed=1605), seed=1605),
         "dx takes the transpose of the product W1 W2 as W1ᵀ W2ᵀ, the factors in the same "
         "order; (W1 W2)ᵀ = W2ᵀ W1ᵀ reverses them: dx = dout W2ᵀ W1ᵀ (it runs since both are "
         "5×5; dW1, dW2 and db are right)",
         "return self.params['W2'].T @ self.params['W1'].T"),
    Case("input-gain-dense", DENSE,
         lambda: dense_net(InputGainDenseA(5, 5, seed=1606), seed=1606),
         "dW's per-sample term is written (x_n ⊙ g).T @ dout_n, but x_n ⊙ g is a 1-D row, "
         "whose .T is itself, and @ of two 1-D arrays is their inner product: a single number, "
         "added to every entry of dW, where the outer product np.outer(x_n ⊙ g, dout_n) "
         "belongs (it runs since D = F = 5; dg, db and dx are right)",
         "return np.outer(a, b)"),
    Case("step-bias-dense", DENSE,
         lambda: sequence_net(StepBiasDenseA(4, 3, 4, seed=1607), seed=1607),
         "np.tensordot(x, dout, axes=2) contracts the last two axes of x, (T, D), with the "
         "first two of dout, (N, T): x's steps are summed against dout's samples and x's "
         "features against dout's steps, where dW sums each sample and step against itself, "
         "axes=([0, 1], [0, 1]) (it runs since N = T = D = 4; dB and dx are right)",
         "return np.tensordot(self.x, dout, axes=([0, 1], [0, 1]))"),
    Case("parsenet-norm", NORM, lambda: dense_net(ParseNetNormA(5), seed=1608),
         "np.linalg.norm(self.x, 1, keepdims=True) passes 1 as ord, the second positional "
         "parameter, not as axis: on the (N, D) batch that is the matrix 1-norm, the largest "
         "column sum of |x|, one number (1, 1) for the whole batch, where each sample's "
         "Euclidean norm over its features (axis=1) belongs: backward's u and ‖x‖, so ds and "
         "dx, are both wrong",
         "return np.linalg.norm(self.x, axis=1, keepdims=True)"),
    Case("step-batchnorm", NORM, lambda: sequence_net(StepBatchNormA(4), seed=1609),
         "dgamma = dbeta = np.zeros(D) binds both names to one array: every += in the loop adds "
         "to that same array, so dgamma and dbeta both come out Σ dout ⊙ x̂ + Σ dout, the sum of "
         "the two gradients; each needs its own np.zeros(D) (dx is right)",
         "dgamma = np.zeros(D); dbeta = np.zeros(D)"),
    Case("welford-batchnorm", NORM, lambda: dense_net(WelfordBatchNormA(5), seed=1610),
         "forward's Welford update is written M2 += (x_n - mean)² after the mean was updated "
         "with x_n, squaring the deviation from the new mean, where it is "
         "(x_n - mean_old)(x_n - mean_new): the variance forward divides by is not the batch's, "
         "while backward is batch norm's formula for the batch variance, so dx is wrong "
         "(dgamma and dbeta use forward's x̂ and are right)",
         "delta = row - mean; mean = mean + delta / n; m2 = m2 + delta * (row - mean)"),
    Case("welford-batchnorm-correct", NORM, lambda: dense_net(WelfordBatchNorm(5), seed=1611),
         CORRECT),
    Case("convmixer-depthwise", CONV,
         lambda: image_net(ConvMixerDepthwiseA(3, seed=1612), seed=1612),
         "N, C, H, W = dout.shape rebinds W, which held the kernels self.params['W'], to the "
         "image width 4: dx's line then spreads each output pixel's gradient times 4 over its "
         "whole 3×3 window, g * 4, where g * W[c], the channel's kernel, belongs (dW, db and "
         "the residual's dout in dx are right)",
         "K = self.params['W'] (a name the shape does not overwrite); "
         "dxp[:, :, i:i + 3, j:j + 3] += g * K"),
    Case("shuffle-conv", CONV,
         lambda: image_net(ShuffleGroupConvA(4, 4, seed=1613), channels=4, seed=1613),
         "np.put has no axis: it indexes the flattened dz, so it writes the first four values "
         "of dout into the first four entries of dz's flat array (sample 0, channel 0, the first "
         "pixels), not dout's channels into dz's channels perm; the rest of dz stays 0, so dW, "
         "db and dx are nearly all 0",
         "dz[:, self.perm] = dout"),
    Case("shuffle-conv-correct", CONV,
         lambda: image_net(ShuffleGroupConv(4, 4, seed=1614), channels=4, seed=1614), CORRECT),
    Case("max-abs-pool", POOL, lambda: image_net(MaxAbsPoolA(), seed=1615),
         "windows() returns a generator expression, (… for …), where a list belongs: "
         "forward's loop over self.wins uses it up, so backward's loop over the same self.wins "
         "runs zero times and dx comes back all zeros (forward is right)",
         "return [(i, j) for i in range(0, shape[2], 2) for j in range(0, shape[3], 2)]"),
    Case("stable-ce", LOSS, lambda: loss_net(StableCEA(), labels, seed=1616, scale=2.0),
         "d lse/ds counts the stabilizing max m on one side only: it adds the 1 that m, outside "
         "the log, has at each row's largest score, but forgets the -1 that the same m gets "
         "inside e^(s - m) (Σ_c softmax = 1); the two cancel, lse does not depend on m, so "
         "d lse/ds = softmax(s) alone, and backward is 1/N too large at each row's largest "
         "score",
         "e = np.exp(self.s - self.s.max(axis=1, keepdims=True)); "
         "return e / e.sum(axis=1, keepdims=True)"),
    Case("angle-loss", LOSS,
         lambda: loss_net(AngleLossA(), angles, width=1, seed=1647, n=8, scale=3.0),
         "backward uses the raw difference s - y where forward squared the difference wrapped "
         "to [-π, π): for the samples with |s - y| > π the wrapped δ differs from s - y by "
         "2π, so their gradient 2 (s - y)/N is wrong (the samples whose difference needed no "
         "wrapping are right)",
         "return self.delta"),
    Case("hellinger-loss", LOSS,
         lambda: loss_net(HellingerLossA(), teacher, seed=1618, scale=2.0),
         "backward divides by batch_size, a global of the module (8, the batch size of the "
         "notebook's training cell), where forward's mean ran over this batch's N = 6 rows, "
         "len(self.q): the gradient is 6/8 of what it should be",
         "return -(a - self.p * a.sum(axis=1, keepdims=True)) / 2 / len(self.q)"),
    Case("tape-rnn", SEQ, lambda: sequence_net(TapeRNNA(4, 3, seed=1619), seed=1619),
         "the lambdas appended in forward's loop name x_t, h_prev and h without binding them: "
         "Python looks these names up when a lambda is called, not when it is made, so in "
         "backward every step's closure sees the values the loop ended with, the last step's "
         "x_t, h_{t-1} and h_t, and each step is taken back as if it were the last; default "
         "arguments bind each step's own values",
         "self.tape.append(lambda dh, x_t=x_t, h_prev=h_prev, h=h: "
         "self.step_back(dh, x_t, h_prev, h))"),
    Case("buffer-rnn", SEQ, lambda: sequence_net(BufferRNNA(4, 3, seed=1620), seed=1620),
         "at t = 0, self.h[t - 1] is self.h[-1], Python's last row of the buffer: forward read "
         "it before any step had filled it (zeros, the right h_{-1}), but by backward it holds "
         "h_{T-1}, so dWh gets an extra term h_{T-1}ᵀ da_0 where step 0 must add nothing "
         "(dWx, db and dx are right)",
         "return self.h[t - 1] if t > 0 else np.zeros_like(self.h[0])"),
    Case("reset-before-gru", SEQ,
         lambda: sequence_net(ResetBeforeGRUA(4, 3, seed=1621), seed=1621),
         "the candidate's backward is that of torch's GRU, where r multiplies after the product, "
         "n = tanh(x Wx_n + r ⊙ (h_{t-1} Wh_n) + b_n): dr = dan ⊙ (h_{t-1} Wh_n), "
         "dWh_n = h_{t-1}ᵀ (dan ⊙ r) and (dan ⊙ r) Wh_nᵀ to h_{t-1}; this forward applies r "
         "before the product (Cho et al.'s GRU, Keras's reset_after=False), so "
         "dr = (dan Wh_nᵀ) ⊙ h_{t-1}, dWh_n = (r ⊙ h_{t-1})ᵀ dan and h_{t-1} gets "
         "(dan Wh_nᵀ) ⊙ r",
         "drh = dan @ Whn.T; return drh * h, (r * h).T @ dan, drh * r"),
    Case("long-conv", SEQ, lambda: sequence_net(LongConvA(4, 4, seed=1622), seed=1622),
         "backward's FFTs have length T where forward's had 2T: a product of length-T transforms "
         "is a circular correlation, so the sums wrap around: dx_s also collects "
         "K[t - s + T] dout_t from steps t < s, which x_s never reached, and dK[j] collects "
         "dout_t x_{t - j + T} for t < j; with length 2T the zero padding keeps them out",
         "n = 2 * T"),
    Case("online-softmax-attention", ATTN,
         lambda: sequence_net(OnlineSoftmaxAttentionA(4, seed=1623), seed=1623),
         "forward's online softmax rescales the running numerator by e^(m_old - m_new) when a "
         "later chunk of keys raises a query's maximum, but not the running denominator: in "
         "those rows y = num / den divides by a sum of exponentials taken against two different "
         "maxima, so y is not softmax(S) V, which backward differentiates (the rows whose "
         "maximum lies in the first chunk are right)",
         "return rescale * den + e.sum(axis=-1, keepdims=True), rescale * num + e @ v"),
    Case("online-softmax-attention-correct", ATTN,
         lambda: sequence_net(OnlineSoftmaxAttention(4, seed=1624), seed=1624), CORRECT),
    Case("additive-mask-attention", ATTN,
         lambda: sequence_net(CausalAttentionA(4, seed=1625), seed=1625),
         "the causal mask is added to the scores as booleans, s + mask, which adds 1 on and "
         "below the diagonal and 0 above it, where an additive mask is 0 and -inf: forward still "
         "attends to the later steps, with weights backward takes to be 0 (it keeps only "
         "np.tril(dS)), so dQ and dK miss those entries; the masked scores must be -inf (dV is "
         "right)",
         "return np.where(self.mask, s, -np.inf)"),
    Case("multiscale-attention", ATTN,
         lambda: sequence_net(MultiScaleAttentionA(4, seed=1626), seed=1626),
         "head = head * tau builds a new array and rebinds the loop variable to it: ds itself "
         "is never multiplied, so each head's dS misses its temperature τ_i (0.5 and 2.0), and "
         "dQ, dK, hence dWq, dWk and dx, are wrong; head *= tau scales ds in place through the "
         "view (dV is right)",
         "head *= tau"),
    Case("landmark-attention", ATTN,
         lambda: sequence_net(LandmarkAttentionA(4, seed=1627), seed=1627),
         "dx[:, self.landmarks] with an index array is advanced indexing, which makes a copy: += "
         "adds the keys' and values' paths to that copy, and dx never gets them (a slice would "
         "have been a view); dx[:, self.landmarks] += g writes them back (dWq, dWk, dWv and "
         "dx's queries' path are right)",
         "dx[:, self.landmarks] += g"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
