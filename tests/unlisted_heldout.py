"""The held-out student layers: bug kinds that appear nowhere in tests/unlisted.py.

Kept for the final cold measure of the checker's diagnoses: whoever designs them does not read
this file. Same conventions as tests/unlisted.py (Case, confirm, check, the networks): a buggy
class is a correct student class with one method rewritten, shown under its parent's name.
"""

from __future__ import annotations

import numpy as np
from unlisted import (
    ACT,
    CONV,
    CORRECT,
    DENSE,
    LOSS,
    NOISE,
    NORM,
    POOL,
    SEQ,
    Case,
    CausalSelfAttention,
    GroupNorm,
    LoopConv,
    MultiHeadAttention,
    RMSNorm,
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
    with_params,
    zero_grads,
)
from unlisted import GRU as GRU_
from unlisted import LSTM as LSTM_
from unlisted import RNN as RNN_

import minnet as mn

ATTN = "attention"

# ---- elementwise activations -----------------------------------------------------------------


class LogSigmoid(mn.Layer):
    """y = log σ(x) = -softplus(-x);  dy/dx = 1 - σ(x) = σ(-x).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return -np.logaddexp(0, -x)

    def backward(self, dout):
        return dout * sigmoid(-self.x)


@same_name
class LogSigmoidA(LogSigmoid):
    def backward(self, dout):
        return dout * sigmoid(self.x)


class Softsign(mn.Layer):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)² = (1 - |y|)².  x, y: (N, D)."""

    def forward(self, x):
        self.y = x / (1 + np.abs(x))
        return self.y

    def backward(self, dout):
        return dout * (1 - np.abs(self.y)) ** 2


@same_name
class SoftsignA(Softsign):
    def backward(self, dout):
        return dout * (1 - self.y) ** 2


class Softplus(mn.Layer):
    """y = log(1 + e^(βx)) / β, sharper as β grows;  dy/dx = σ(βx).  x, y: (N, D)."""

    def __init__(self, beta=2.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, self.beta * x) / self.beta

    def backward(self, dout):
        return dout * sigmoid(self.beta * self.x)


@same_name
class SoftplusA(Softplus):
    def backward(self, dout):
        s = sigmoid(self.beta * self.x)
        return dout * s * (1 - s)


# ---- dense-like ------------------------------------------------------------------------------


class LowRankSymmetric(mn.Layer):
    """y = x U Uᵀ + b: a symmetric weight W = U Uᵀ of rank r.  x (N, D), U (D, r), b (D,)."""

    def __init__(self, d, r, seed=0):
        super().__init__()
        with_params(self, seed, U=(d, r), b=(d,))

    def forward(self, x):
        self.x = x
        self.h = x @ self.params["U"]
        return self.h @ self.params["U"].T + self.params["b"]

    def backward(self, dout):
        dh = dout @ self.params["U"]
        self.grads["U"] = self.dU(dout, dh)
        self.grads["b"] = dout.sum(axis=0)
        return dh @ self.params["U"].T

    def dU(self, dout, dh):
        return dout.T @ self.h + self.x.T @ dh


@same_name
class LowRankSymmetricA(LowRankSymmetric):
    def dU(self, dout, dh):
        return dout.T @ self.h


class Highway(mn.Layer):
    """y = t ⊙ h + (1 - t) ⊙ x, gate t = σ(x Wt + bt), h = tanh(x Wh + bh).

    x (N, D) -> (N, D);  Wt, Wh (D, D);  bt, bh (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wt=(d, d), bt=(d,), Wh=(d, d), bh=(d,))

    def forward(self, x):
        self.x = x
        self.t = sigmoid(x @ self.params["Wt"] + self.params["bt"])
        self.h = np.tanh(x @ self.params["Wh"] + self.params["bh"])
        return self.t * self.h + (1 - self.t) * x

    def backward(self, dout):
        t, h = self.t, self.h
        dat = self.dgate(dout) * t * (1 - t)
        dah = dout * t * (1 - h**2)
        self.grads["Wt"], self.grads["bt"] = self.x.T @ dat, dat.sum(axis=0)
        self.grads["Wh"], self.grads["bh"] = self.x.T @ dah, dah.sum(axis=0)
        return dat @ self.params["Wt"].T + dah @ self.params["Wh"].T + dout * (1 - t)

    def dgate(self, dout):
        return dout * (self.h - self.x)


@same_name
class HighwayA(Highway):
    def dgate(self, dout):
        return dout * self.h


# ---- normalization ---------------------------------------------------------------------------


@same_name
class RMSNormA(RMSNorm):
    def dx(self, dxhat):
        x, r = self.x, self.r
        return dxhat / r - x * (dxhat * x).mean(axis=1, keepdims=True) / r**2


class InstanceNorm(GroupNorm):
    """GroupNorm with one channel per group: each (sample, channel) over its pixels."""

    def __init__(self, channels, eps=1e-5):
        super().__init__(channels, channels, eps)


@same_name
class InstanceNormA(InstanceNorm):
    def backward(self, dout):
        super().backward(dout)
        dxhat, xhat = dout * self.params["gamma"][:, None, None], self.xhat
        return (dxhat - dxhat.mean(axis=(2, 3))
                - xhat * (dxhat * xhat).mean(axis=(2, 3))) / self.std


class LayerNorm(mn.Layer):
    """Each position's features standardized, then gamma x̂ + beta.  x (N, T, D) -> (N, T, D)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"gamma": np.linspace(0.5, 1.5, d), "beta": np.zeros(d)}
        self.grads = {k: np.zeros(d) for k in self.params}

    def forward(self, x):
        mu = x.mean(axis=-1, keepdims=True)
        self.std = np.sqrt(x.var(axis=-1, keepdims=True) + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - dxhat.mean(axis=-1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)) / self.std


@same_name
class LayerNormA(LayerNorm):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return dx


# ---- convolution -----------------------------------------------------------------------------


class DilatedConv(mn.Layer):
    """Cross-correlation with a dilated k×k filter, taps d pixels apart; stride 1, padding p.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H + 2p - d(k-1), W + 2p - d(k-1))."""

    def __init__(self, c, f, k=3, dilation=2, padding=1, seed=0):
        super().__init__()
        self.k, self.d, self.padding = k, dilation, padding
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def forward(self, x):
        self.xp = pad(x, self.padding)
        span, d = self.d * (self.k - 1) + 1, self.d
        N, _, Hp, Wp = self.xp.shape
        out = np.zeros((N, len(self.params["b"]), Hp - span + 1, Wp - span + 1))
        for i in range(out.shape[2]):
            for j in range(out.shape[3]):
                taps = self.xp[:, :, i:i + span:d, j:j + span:d]
                out[:, :, i, j] = np.einsum("nckl,fckl->nf", taps, self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        span, d, W, p = self.d * (self.k - 1) + 1, self.d, self.params["W"], self.padding
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]
                dW += np.einsum("nf,nckl->fckl", g, self.xp[:, :, i:i + span:d, j:j + span:d])
                dxp[:, :, i:i + span:d, j:j + span:d] += np.einsum("nf,fckl->nckl", g, W)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, p:-p, p:-p]


@same_name
class DilatedConvA(DilatedConv):
    def backward(self, dout):
        span, d, W, p, k = self.d * (self.k - 1) + 1, self.d, self.params["W"], self.padding, self.k
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j]
                dW += np.einsum("nf,nckl->fckl", g, self.xp[:, :, i:i + span:d, j:j + k])
                dxp[:, :, i:i + span:d, j:j + span:d] += np.einsum("nf,fckl->nckl", g, W)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, p:-p, p:-p]


class TransposedConv(mn.Layer):
    """Each input pixel scatters W times its value into a k×k patch of a full output, patches s
    apart (the backward of a strided convolution, run forward); p rows and columns are then
    cropped from each side, as PyTorch's ConvTranspose2d(padding=p).

    x (N, C, H, W), W (C, F, k, k), b (F,) -> (N, F, (H - 1)s + k - 2p, (W - 1)s + k - 2p)."""

    def __init__(self, c, f, k=3, stride=2, padding=1, seed=0):
        super().__init__()
        self.k, self.s, self.padding = k, stride, padding
        with_params(self, seed, W=(c, f, k, k), b=(f,))

    def forward(self, x):
        self.x = x
        N, _, H, W = x.shape
        k, s, p = self.k, self.s, self.padding
        full = np.zeros((N, len(self.params["b"]), (H - 1) * s + k, (W - 1) * s + k))
        for i in range(H):
            for j in range(W):
                full[:, :, i * s:i * s + k, j * s:j * s + k] += np.einsum(
                    "nc,cfkl->nfkl", x[:, :, i, j], self.params["W"])
        out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        k, s, dfull = self.k, self.s, self.uncrop(dout)
        dx, dW = np.zeros_like(self.x), np.zeros_like(self.params["W"])
        for i in range(self.x.shape[2]):
            for j in range(self.x.shape[3]):
                patch = dfull[:, :, i * s:i * s + k, j * s:j * s + k]
                dx[:, :, i, j] = np.einsum("nfkl,cfkl->nc", patch, self.params["W"])
                dW += np.einsum("nc,nfkl->cfkl", self.x[:, :, i, j], patch)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx

    def uncrop(self, dout):
        """dL/d(full output): dout, and zeros where forward cropped."""
        p = self.padding
        return np.pad(dout, ((0, 0), (0, 0), (p, p), (p, p)))


@same_name
class TransposedConvA(TransposedConv):
    def uncrop(self, dout):
        p = self.padding
        return np.pad(dout, ((0, 0), (0, 0), (0, 2 * p), (0, 2 * p)))


@same_name
class LoopConvA(LoopConv):
    def unpad(self, dxp):
        p = self.padding
        return dxp[:, :, p:-p, p:-p]


# ---- pooling ---------------------------------------------------------------------------------


class MaxOverTime(mn.Layer):
    """The largest value of each feature over the time steps.  x (N, T, D) -> (N, D)."""

    def forward(self, x):
        self.x = x
        self.top = x.max(axis=1)
        return self.top

    def backward(self, dout):
        return (self.x == self.top[:, None, :]) * dout[:, None, :]


@same_name
class MaxOverTimeA(MaxOverTime):
    def backward(self, dout):
        return (self.x == self.top) * dout[:, None, :]


class GlobalAvgPool(mn.Layer):
    """The mean of each channel over its pixels.  x (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        self.x_shape = x.shape
        return x.mean(axis=(2, 3))

    def backward(self, dout):
        N, C, H, W = self.x_shape
        return np.ones(self.x_shape) * dout[:, :, None, None] / (H * W)


@same_name
class GlobalAvgPoolA(GlobalAvgPool):
    def backward(self, dout):
        H = self.x_shape[2]
        return np.ones(self.x_shape) * dout[:, :, None, None] / (H * H)


# ---- dropout, noise, masking -----------------------------------------------------------------


class MaskedEmbedding(mn.Layer):
    """An embedding that hides tokens, BERT-style: each position is hidden with probability p
    (np.random.rand on every training call) and shows a learned vector m instead of W[id].

    x (N, T) ids (the model hands them over as floats) -> (N, T, D);  W (V, D), m (D,)."""

    def __init__(self, vocab, d, p=0.3, seed=0):
        super().__init__()
        self.p = p
        with_params(self, seed, W=(vocab, d), m=(d,))

    def forward(self, x):
        self.ids = np.rint(x).astype(int)
        self.hidden = np.random.rand(*self.ids.shape) < self.p if self.training else \
            np.zeros(self.ids.shape, dtype=bool)
        return np.where(self.hidden[..., None], self.params["m"], self.params["W"][self.ids])

    def backward(self, dout):
        self.grads["W"] = self.dW(dout)
        self.grads["m"] = dout[self.hidden].sum(axis=0)
        return None

    def dW(self, dout):
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.ids[~self.hidden], dout[~self.hidden])
        return dW


@same_name
class MaskedEmbeddingA(MaskedEmbedding):
    def dW(self, dout):
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.ids, dout)
        return dW


# ---- losses ----------------------------------------------------------------------------------


class BCE(mn.Loss):
    """L = -mean(y log p + (1 - y) log(1 - p)), p = σ(s).  scores (N, 1), y (N,) of 0/1."""

    def forward(self, scores, y):
        self.p, self.t = sigmoid(scores[:, 0]), y
        return float(-np.mean(y * np.log(self.p) + (1 - y) * np.log(1 - self.p)))

    def backward(self):
        return ((self.p - self.t) / len(self.t))[:, None]


@same_name
class BCEA(BCE):
    def backward(self):
        p, t = self.p, self.t
        return (-(t / p - (1 - t) / (1 - p)) / len(t))[:, None]


class WeightedCE(mn.Loss):
    """Class-weighted cross-entropy: L = Σ_n w[y_n] (-log p_n,y_n) / Σ_n w[y_n], p = softmax(s).

    scores (N, C), y (N,) labels -> float."""

    weights = np.array([1.0, 3.0, 0.5])

    def forward(self, scores, y):
        self.p, self.y, self.w = softmax(scores), y, self.weights[y]
        return float((self.w * -np.log(self.p[np.arange(len(y)), y])).sum() / self.w.sum())

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d * self.w[:, None] / self.w.sum()


@same_name
class WeightedCEA(WeightedCE):
    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= self.w
        return d / self.w.sum()


class SequenceCE(mn.Loss):
    """Cross-entropy over the real steps of each sequence; a target of -1 marks padding.

    scores (N, T, C), y (N, T) -> the mean over the real targets."""

    def forward(self, scores, y):
        self.p, self.y, self.real = softmax(scores), y, y != -1
        picked = np.take_along_axis(self.p, np.where(self.real, y, 0)[..., None], axis=-1)
        return float(-(np.log(picked[..., 0]) * self.real).sum() / self.real.sum())

    def backward(self):
        onehot = np.eye(self.p.shape[-1])[self.y]  # y = -1 picks the last row: masked below
        return (self.p - onehot) * self.real[..., None] / self.real.sum()


@same_name
class SequenceCEA(SequenceCE):
    def backward(self):
        onehot = np.eye(self.p.shape[-1])[self.y]
        return (self.p - onehot) / self.real.sum()


def padded_labels(rng, n, t=5, classes=3):
    """Labels (n, t) with a random number of -1s (padding) at the end of each sequence."""
    y = rng.integers(0, classes, (n, t))
    y[np.arange(t) >= rng.integers(2, t + 1, n)[:, None]] = -1
    return y


# ---- sequences -------------------------------------------------------------------------------


@same_name
class LSTMA(LSTM_):
    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = dc_next = np.zeros((len(dout), self.hidden))
        for t in range(self.x.shape[1]):
            dx[:, t], dh_next, dc_next = self.step_back(t, dout[:, t] + dh_next, dc_next)
        return dx


@same_name
class GRUA(GRU_):
    def mix_back(self, dh, z, n, h_prev):
        return dh * (1 - z), dh * (n - h_prev), dh * z


class CausalConv1d(mn.Layer):
    """A convolution over time that sees only the past: k - 1 zero steps padded on the left,
    y_t = Σ_a xp_{t+a} W[a] + b.  x (N, T, D), W (k, D, F), b (F,) -> (N, T, F)."""

    def __init__(self, d, f, k=3, seed=0):
        super().__init__()
        self.k = k
        with_params(self, seed, W=(k, d, f), b=(f,))

    def forward(self, x):
        T = x.shape[1]
        self.xp = np.pad(x, ((0, 0), (self.k - 1, 0), (0, 0)))
        W = self.params["W"]
        return sum(self.xp[:, a:a + T] @ W[a] for a in range(self.k)) + self.params["b"]

    def backward(self, dout):
        T, W = dout.shape[1], self.params["W"]
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for a in range(self.k):
            dW[a] = rows(self.xp[:, a:a + T]).T @ rows(dout)
            dxp[:, a:a + T] += dout @ W[a].T
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 1))
        return self.unpad(dxp)

    def unpad(self, dxp):
        return dxp[:, self.k - 1:]


@same_name
class CausalConv1dA(CausalConv1d):
    def unpad(self, dxp):
        return dxp[:, :dxp.shape[1] - (self.k - 1)]


class RNNLast(RNN_):
    """The RNN read at its last step only (many to one): x (N, T, D) -> h_T (N, H)."""

    def forward(self, x):
        return super().forward(x)[:, -1]

    def backward(self, dout):
        dhs = np.zeros((len(dout), self.x.shape[1], self.hidden))
        dhs[:, -1] = dout
        return super().backward(dhs)


@same_name
class RNNLastA(RNNLast):
    def backward(self, dout):
        return RNN_.backward(self, np.repeat(dout[:, None], self.x.shape[1], axis=1))


# ---- attention -------------------------------------------------------------------------------


@same_name
class CausalSelfAttentionA(CausalSelfAttention):
    def softmax_back(self, dp):
        p = softmax(self.scores)
        return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


@same_name
class CausalSelfAttentionB(CausalSelfAttention):
    def softmax_back(self, dp):
        ds = super().softmax_back(dp)
        T = ds.shape[-1]
        ds[:, np.triu(np.ones((T, T), dtype=bool))] = 0
        return ds


@same_name
class MultiHeadAttentionA(MultiHeadAttention):
    def attend(self, q, k, v):
        self.q, self.k, self.v = q, k, v
        out = np.zeros_like(q)
        for h in range(self.heads):
            self.p = softmax(q[:, h] @ k[:, h].transpose(0, 2, 1) / np.sqrt(q.shape[-1]))
            out[:, h] = self.p @ v[:, h]
        return out

    def attend_back(self, do):
        q, k, v, p = self.q, self.k, self.v, self.p
        dq, dk, dv = np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)
        for h in range(self.heads):
            dv[:, h] = p.transpose(0, 2, 1) @ do[:, h]
            dp = do[:, h] @ v[:, h].transpose(0, 2, 1)
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(q.shape[-1])
            dq[:, h], dk[:, h] = ds @ k[:, h], ds.transpose(0, 2, 1) @ q[:, h]
        return dq, dk, dv


# ---- the held-out cases ----------------------------------------------------------------------

CASES = [
    Case("logsigmoid", ACT, lambda: dense_net(LogSigmoidA(), seed=101, scale=2.0),
         "dy/dx is written σ(x), but the derivative of log σ(x) is 1 - σ(x) = σ(-x): the "
         "derivative is mirrored",
         "return dout * sigmoid(-self.x)"),
    Case("softsign", ACT, lambda: dense_net(SoftsignA(), seed=102, scale=2.0),
         "the derivative is written (1 - y)², dropping the absolute value: 1/(1 + |x|)² = "
         "(1 - |y|)², so it is wrong wherever x < 0",
         "return dout * (1 - np.abs(self.y)) ** 2"),
    Case("softsign-correct", ACT, lambda: dense_net(Softsign(), seed=103, scale=2.0), CORRECT),
    Case("softplus", ACT, lambda: dense_net(SoftplusA(2.0), seed=104, scale=2.0),
         "dy/dx of log(1 + e^(βx))/β is σ(βx) itself, but backward multiplies it by "
         "(1 - σ(βx)) too, as if the sigmoid's own derivative belonged in the chain",
         "return dout * sigmoid(self.beta * self.x)"),
    Case("low-rank", DENSE, lambda: dense_net(LowRankSymmetricA(5, 2, seed=105), seed=105),
         "U is used twice (h = x U, then h Uᵀ) but dU keeps only the second use: the term "
         "xᵀ (dout U) from the first is missing",
         "return dout.T @ self.h + self.x.T @ dh"),
    Case("highway", DENSE, lambda: dense_net(HighwayA(5, seed=106), seed=106),
         "the gate's gradient is dout·h; the carry term (1 - t)·x depends on t too, so it must "
         "be dout·(h - x)",
         "return dout * (self.h - self.x)"),
    Case("rmsnorm-b", NORM, lambda: dense_net(RMSNormA(5), seed=107),
         "the derivative of 1/r brings 1/r³: x·mean(dx̂·x)/r³; backward divides by r² (the power "
         "of r in the second term is one too low)",
         "return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r"),
    Case("instancenorm", NORM, lambda: image_net(InstanceNormA(3), size=(4, 3), seed=108),
         "the means in backward are taken without keepdims, so the (N, C) arrays broadcast "
         "against the (H, W) axes: each pixel subtracts the mean of another sample and channel",
         "dxhat.mean(axis=(2, 3), keepdims=True), (dxhat * xhat).mean(axis=(2, 3), "
         "keepdims=True)"),
    Case("layernorm", NORM, lambda: sequence_net(LayerNormA(4), seed=109),
         "dgamma and dbeta are summed over the batch axis only: on (N, T, D) input they must be "
         "summed over the time axis too, axis=(0, 1), and come out (T, D) instead of (D,)",
         "self.grads['gamma'] = (dout * self.xhat).sum(axis=(0, 1)); "
         "self.grads['beta'] = dout.sum(axis=(0, 1))"),
    Case("conv-dilated", CONV, lambda: image_net(DilatedConvA(3, 2, seed=110), size=(5, 5),
                                                 seed=110),
         "dW reads the input taps with the dilation on the rows only: the columns are taken "
         "side by side (j : j + k) instead of every second one (j : j + span : d)",
         "dW += np.einsum('nf,nckl->fckl', g, self.xp[:, :, i:i + span:d, j:j + span:d])"),
    Case("conv-transposed", CONV, lambda: image_net(TransposedConvA(3, 2, seed=111), size=(3, 3),
                                                    seed=111),
         "forward crops p rows and columns from each side of the full output, but backward "
         "pads dout back with all 2p at the end: the gradient it reads is shifted by p",
         "return np.pad(dout, ((0, 0), (0, 0), (p, p), (p, p)))"),
    Case("conv-transposed-correct", CONV,
         lambda: image_net(TransposedConv(3, 2, seed=112), size=(3, 3), seed=112), CORRECT),
    Case("conv-unpadded", CONV, lambda: image_net(LoopConvA(3, 2, 3, padding=0, seed=113),
                                                  seed=113),
         "dx is cropped with dxp[:, :, p:-p, p:-p], which is empty when padding is 0 (-0 is 0): "
         "dx comes back with shape (N, C, 0, 0)",
         "return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]"),
    Case("max-over-time", POOL, lambda: sequence_net(MaxOverTimeA(), seed=114),
         "the mask compares x (N, T, D) with its maxima (N, D) without a time axis (keepdims), "
         "so they broadcast against (T, D): step t is compared with sample t's maxima",
         "return (self.x == self.top[:, None, :]) * dout[:, None, :]"),
    Case("global-avgpool", POOL, lambda: image_net(GlobalAvgPoolA(), size=(4, 6), seed=115),
         "backward divides by H·H, as if the image were square; forward's mean is over H·W = 24 "
         "pixels",
         "return np.ones(self.x_shape) * dout[:, :, None, None] / (H * W)"),
    Case("global-avgpool-correct", POOL,
         lambda: image_net(GlobalAvgPool(), size=(4, 6), seed=116), CORRECT),
    Case("masked-embedding", NOISE, lambda: classifier(
        [MaskedEmbeddingA(5, 3, seed=117)],
        np.random.default_rng(117).integers(0, 5, (4, 5)).astype(float), seed=117),
         "the hidden positions, where forward showed m instead of W[id], still add their "
         "gradient to W[id]: dW must gather the visible positions only",
         "np.add.at(dW, self.ids[~self.hidden], dout[~self.hidden])"),
    Case("bce", LOSS, lambda: loss_net(BCEA(), lambda rng, n: rng.integers(0, 2, n), width=1,
                                       seed=118, scale=2.0),
         "backward returns dL/dp = -(y/p - (1 - y)/(1 - p))/N, the gradient with respect to the "
         "probability; the chain through the sigmoid (× p(1 - p)) is missing: (p - y)/N",
         "return ((self.p - self.t) / len(self.t))[:, None]"),
    Case("weighted-ce", LOSS, lambda: loss_net(WeightedCEA(), labels, seed=119, scale=2.0),
         "each sample's gradient must be scaled by its class weight as a whole, w_y·(p - "
         "onehot); backward weights only the -1 at the target",
         "d[rows, self.y] -= 1; return d * self.w[:, None] / self.w.sum()"),
    Case("weighted-ce-correct", LOSS, lambda: loss_net(WeightedCE(), labels, seed=120,
                                                       scale=2.0), CORRECT),
    Case("sequence-ce", LOSS, lambda: loss_net(SequenceCEA(), padded_labels, seed=121, n=4, t=5,
                                               scale=2.0),
         "the padded steps (y = -1) get a gradient too: forward leaves them out, so their rows "
         "of dL/ds must be zero (times the mask of real steps)",
         "return (self.p - onehot) * self.real[..., None] / self.real.sum()"),
    Case("lstm", SEQ, lambda: sequence_net(LSTMA(4, 3, seed=122), seed=122),
         "the BPTT loop runs forward in time, range(T) instead of reversed(range(T)): each step "
         "gets dh_next and dc_next from the step before it instead of the step after it",
         "for t in reversed(range(self.x.shape[1])):"),
    Case("gru", SEQ, lambda: sequence_net(GRUA(4, 3, seed=123), seed=123),
         "dz has its sign flipped: h = (1 - z)·n + z·h_prev gives dz = dh·(h_prev - n), "
         "backward has dh·(n - h_prev)",
         "return dh * (1 - z), dh * (h_prev - n), dh * z"),
    Case("causal-conv1d", SEQ, lambda: sequence_net(CausalConv1dA(4, 3, seed=124), t=5,
                                                    seed=124),
         "forward pads k - 1 steps on the left, but backward drops the last k - 1 steps of dxp "
         "instead of the first: dx comes out shifted by k - 1 steps",
         "return dxp[:, self.k - 1:]"),
    Case("rnn-last", SEQ, lambda: sequence_net(RNNLastA(4, 3, seed=125), seed=125),
         "only the last hidden state is the output, but backward feeds its gradient into every "
         "time step (np.repeat over T) instead of the last one alone",
         "dhs = np.zeros(...); dhs[:, -1] = dout; return super().backward(dhs)"),
    Case("attention-causal", ATTN, lambda: sequence_net(CausalSelfAttentionA(4, seed=127),
                                                        seed=127),
         "backward recomputes the attention weights from the kept scores without the causal "
         "mask: the masked positions get weight, and gradient, they did not have in forward",
         "use self.p, the masked weights forward kept"),
    Case("attention-causal-2", ATTN, lambda: sequence_net(CausalSelfAttentionB(4, seed=128),
                                                          seed=128),
         "the mask applied again in backward is built with np.triu(k=0), so it also zeroes the "
         "diagonal, where each step attends to itself (forward masked k=1)",
         "np.triu(np.ones((T, T), dtype=bool), k=1) (or no mask at all: dS is 0 there already)"),
    Case("attention-heads-b", ATTN, lambda: sequence_net(MultiHeadAttentionA(4, 2, seed=129), t=3,
                                                       seed=129),
         "forward keeps one self.p and overwrites it in the loop over heads, so backward uses "
         "the last head's attention weights for every head",
         "keep one P per head (self.p[:, h] = ...) and use p = self.p[:, h] in backward"),
]

MISSED: set[str] = set()
"""The held-out cases the current checker gets wrong (tests/test_unlisted.py marks them xfail)."""
