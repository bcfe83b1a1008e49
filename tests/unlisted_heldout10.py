"""The tenth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the ninth held-out set was used up:
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
    LOSS,
    LSTM,
    NORM,
    POOL,
    RNN,
    SEQ,
    Case,
    CausalSelfAttention,
    SelfAttention,
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

# ---- elementwise activations -----------------------------------------------------------------


class HardSwish(mn.Layer):
    """y = x relu6(x + 3) / 6;  by the product rule dy/dx = relu6(x + 3)/6 + x/6 where
    -3 < x < 3 (0 below, 1 above).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.gate = np.clip(x + 3, 0, 6) / 6
        return x * self.gate

    def backward(self, dout):
        inside = (self.x > -3) & (self.x < 3)
        return dout * (self.gate + self.x * inside / 6)


@same_name
class HardSwishA(HardSwish):
    def backward(self, dout):
        return dout * self.gate


class LearnedTanhClamp(mn.Layer):
    """y = a tanh(x / a), a soft clamp at ±a learned per feature;  dy/dx = 1 - t²,
    da = Σ_n dout (t - (x/a)(1 - t²)) with t = tanh(x / a).  x, y: (N, D);  a (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, a=(d,))
        self.params["a"] = 1.2 + 0.3 * self.params["a"]

    def forward(self, x):
        a = self.params["a"]
        self.u = x / a
        self.t = np.tanh(self.u)
        return a * self.t

    def backward(self, dout):
        slope = 1 - self.t**2
        self.grads["a"] = (dout * (self.t - self.u * slope)).sum(axis=0)
        return dout * slope


@same_name
class LearnedTanhClampA(LearnedTanhClamp):
    def backward(self, dout):
        slope = 1 - self.t**2
        self.grads["a"] = (dout * self.t).sum(axis=0)
        return dout * slope


class LeCunTanh(mn.Layer):
    """LeCun's scaled tanh: y = 1.7159 tanh(2x/3);  dy/dx = 1.7159 · 2/3 · (1 - t²), t the
    tanh kept from forward.  x, y: (N, D)."""

    A = 1.7159

    def forward(self, x):
        self.t = np.tanh(2 * x / 3)
        return self.A * self.t

    def backward(self, dout):
        return dout * self.A * 2 / 3 * (1 - self.t**2)


@same_name
class LeCunTanhA(LeCunTanh):
    def forward(self, x):
        self.t = np.tanh(2 * x / 3)
        y = self.t
        y *= self.A
        return y


class BentIdentity(mn.Layer):
    """y = (√(x² + 1) - 1)/2 + x;  dy/dx = x / (2√(x² + 1)) + 1.  x, y: (N, D)."""

    def forward(self, x):
        self.x, self.root = x, np.sqrt(x**2 + 1)
        return (self.root - 1) / 2 + x

    def backward(self, dout):
        return dout * (self.x / (2 * self.root) + 1)


@same_name
class BentIdentityA(BentIdentity):
    def backward(self, dout):
        return dout * self.x / (2 * self.root)


# ---- dense-like ------------------------------------------------------------------------------


class PerSampleDense(mn.Layer):
    """y = x W + b, back-propagated one sample at a time:  dW = Σ_n x_n doutₙᵀ (an outer
    product per sample, added up).  x (N, D) -> (N, F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        W = self.params["W"]
        dW, db = np.zeros_like(W), np.zeros_like(self.params["b"])
        dx = np.zeros_like(self.x)
        for n in range(self.x.shape[0]):
            dW += np.outer(self.x[n], dout[n])
            db += dout[n]
            dx[n] = W @ dout[n]
        self.grads["W"], self.grads["b"] = dW, db
        return dx


@same_name
class PerSampleDenseA(PerSampleDense):
    def backward(self, dout):
        W = self.params["W"]
        dW, db = np.zeros_like(W), np.zeros_like(self.params["b"])
        dx = np.zeros_like(self.x)
        for n in range(self.x.shape[0]):
            dW = np.outer(self.x[n], dout[n])
            db += dout[n]
            dx[n] = W @ dout[n]
        self.grads["W"], self.grads["b"] = dW, db
        return dx


class QuadraticFeatures(mn.Layer):
    """A linear map of the features and their squares: y = [x, x²] W + b;
    dx = dF[:, :D] + dF[:, D:] ⊙ 2x with dF = dout Wᵀ.  x (N, D) -> (N, F);  W (2D, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(2 * d, f), b=(f,))

    def forward(self, x):
        self.feats = np.hstack([x, x**2])
        return self.feats @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        D = self.feats.shape[1] // 2
        self.grads["W"] = self.feats.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        dF = dout @ self.params["W"].T
        return dF[:, :D] + dF[:, D:] * self.square_slope(D)

    def square_slope(self, D):
        """d(x²)/dx = 2x, x read from the first half of the cached features."""
        return 2 * self.feats[:, :D]


@same_name
class QuadraticFeaturesA(QuadraticFeatures):
    def square_slope(self, D):
        return 2 * self.feats[:, D:]


class SelfGatedLinear(mn.Layer):
    """The input gates its own linear map: y = x ⊙ (x W + b);  with dz = dout ⊙ x,
    dx = dout ⊙ (x W + b) + dz Wᵀ.  x, y: (N, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        self.x = x
        self.z = x @ self.params["W"] + self.params["b"]
        return x * self.z

    def backward(self, dout):
        dz = dout * self.x
        self.grads["W"] = self.x.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        return dout * self.z + dz @ self.params["W"].T


@same_name
class SelfGatedLinearA(SelfGatedLinear):
    def backward(self, dout):
        dz = dout * self.x
        self.grads["W"] = self.x.T @ dz
        self.grads["b"] = dz.sum(axis=0)
        return dout * self.z + dz @ self.params["W"]


class AffineCoupling(mn.Layer):
    """A RealNVP coupling: x = [x1, x2] in halves, s = tanh(x1 Ws + bs), t = x1 Wt + bt,
    y = [x1, x2 ⊙ eˢ + t].  x1 passes through unchanged, so dx1 = dy1 + (paths through s
    and t).  x, y: (N, 2H);  Ws, Wt (H, H), bs, bt (H,)."""

    def __init__(self, h, seed=0):
        super().__init__()
        with_params(self, seed, Ws=(h, h), bs=(h,), Wt=(h, h), bt=(h,))

    def forward(self, x):
        H = x.shape[1] // 2
        self.x1, self.x2 = x[:, :H], x[:, H:]
        self.s = np.tanh(self.x1 @ self.params["Ws"] + self.params["bs"])
        self.es = np.exp(self.s)
        t = self.x1 @ self.params["Wt"] + self.params["bt"]
        return np.hstack([self.x1, self.x2 * self.es + t])

    def backward(self, dout):
        H = self.x1.shape[1]
        dy1, dy2 = dout[:, :H], dout[:, H:]
        dx2 = dy2 * self.es
        das = dy2 * self.x2 * self.es * (1 - self.s**2)
        self.grads["Ws"], self.grads["bs"] = self.x1.T @ das, das.sum(axis=0)
        self.grads["Wt"], self.grads["bt"] = self.x1.T @ dy2, dy2.sum(axis=0)
        dx1 = dy1 + das @ self.params["Ws"].T + dy2 @ self.params["Wt"].T
        return np.hstack([dx1, dx2])


@same_name
class AffineCouplingA(AffineCoupling):
    def backward(self, dout):
        H = self.x1.shape[1]
        dy2 = dout[:, H:]
        dx2 = dy2 * self.es
        das = dy2 * self.x2 * self.es * (1 - self.s**2)
        self.grads["Ws"], self.grads["bs"] = self.x1.T @ das, das.sum(axis=0)
        self.grads["Wt"], self.grads["bt"] = self.x1.T @ dy2, dy2.sum(axis=0)
        dx1 = das @ self.params["Ws"].T + dy2 @ self.params["Wt"].T
        return np.hstack([dx1, dx2])


# ---- normalization ---------------------------------------------------------------------------


class TimeInstanceNorm(mn.Layer):
    """Each (sequence, feature) standardized over its T steps, then gamma x̂ + beta per
    feature.  x, y: (N, T, D);  gamma, beta (D,)."""

    eps = 1e-5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, gamma=(d,), beta=(d,))
        self.params["gamma"] += 1.0

    def forward(self, x):
        mu = x.mean(axis=1, keepdims=True)
        self.std = np.sqrt(x.var(axis=1, keepdims=True) + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 1))
        self.grads["beta"] = dout.sum(axis=(0, 1))
        dxhat, xhat = dout * self.params["gamma"], self.xhat
        return (dxhat - self.over_time(dxhat) - xhat * self.over_time(dxhat * xhat)) / self.std

    def over_time(self, a):
        """The mean over the steps, the axis forward's statistics ran over."""
        return a.mean(axis=1, keepdims=True)


@same_name
class TimeInstanceNormA(TimeInstanceNorm):
    def over_time(self, a):
        return a.mean(axis=-1, keepdims=True)


class PartialRMSNorm(mn.Layer):
    """pRMSNorm: the root mean square is estimated from the first k = D/2 features only,
    r = √(mean(x[:, :k]²) + eps), y = g ⊙ x / r;  only those k features reach r, so only they
    get the correction term -x̂ Σ_j(dx̂_j x̂_j) / (k r).  x, y: (N, D);  g (D,)."""

    eps = 1e-6

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, g=(d,))
        self.params["g"] += 1.0

    def forward(self, x):
        self.k = x.shape[1] // 2
        self.r = np.sqrt((x[:, :self.k] ** 2).mean(axis=1, keepdims=True) + self.eps)
        self.xhat = x / self.r
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        dxhat, k = dout * self.params["g"], self.k
        along = (dxhat * self.xhat).sum(axis=1, keepdims=True) / k
        dx = dxhat / self.r
        dx[:, :k] -= self.xhat[:, :k] * along / self.r
        return dx


@same_name
class PartialRMSNormA(PartialRMSNorm):
    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        dxhat, k = dout * self.params["g"], self.k
        along = (dxhat * self.xhat).sum(axis=1, keepdims=True) / k
        dx = dxhat / self.r
        dx -= self.xhat * along / self.r
        return dx


class TransposedLayerNorm(mn.Layer):
    """Layer norm by way of the batch-norm code (the CS231n trick): x is transposed to (D, N),
    so that each sample is a column, standardized over axis 0, and transposed back; gamma and
    beta (D,) act on the (N, D) result.  Backward must multiply by gamma before transposing.
    x, y: (N, D)."""

    eps = 1e-5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, gamma=(d,), beta=(d,))
        self.params["gamma"] += 1.0

    def forward(self, x):
        xt = x.T
        self.std = np.sqrt(xt.var(axis=0) + self.eps)
        self.xhat_t = (xt - xt.mean(axis=0)) / self.std
        return self.params["gamma"] * self.xhat_t.T + self.params["beta"]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat_t.T).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        dxhat, xhat = self.columns(dout), self.xhat_t
        D = dxhat.shape[0]
        dx = (D * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (D * self.std)
        return dx.T

    def columns(self, dout):
        """dL/dx̂ in the transposed (D, N) layout."""
        return (dout * self.params["gamma"]).T


@same_name
class TransposedLayerNormA(TransposedLayerNorm):
    def columns(self, dout):
        return dout.T * self.params["gamma"]


# ---- convolution and pooling -----------------------------------------------------------------


class SeparableConv(mn.Layer):
    """A depthwise 3×3 convolution (padding 1), then a pointwise 1×1 one:
    u = depthwise(x), y = Σ_c u_c Wp[c] + b;  dWp pairs dout with u, the pointwise's input.
    x (N, C, H, W) -> (N, F, H, W);  Wd (C, 3, 3), Wp (C, F), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, Wd=(c, 3, 3), Wp=(c, f), b=(f,))

    def forward(self, x):
        self.x, self.padded = x, pad(x, 1).shape
        self.win = sliding_window_view(pad(x, 1), (3, 3), axis=(2, 3))
        self.u = np.einsum("nchwij,cij->nchw", self.win, self.params["Wd"])
        out = np.einsum("nchw,cf->nfhw", self.u, self.params["Wp"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        Wd, Wp = self.params["Wd"], self.params["Wp"]
        self.grads["Wp"] = np.einsum("nchw,nfhw->cf", self.pointwise_input(), dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        du = np.einsum("nfhw,cf->nchw", dout, Wp)
        self.grads["Wd"] = np.einsum("nchwij,nchw->cij", self.win, du)
        dxp = np.zeros(self.padded)
        H, W = du.shape[2:]
        for i in range(3):
            for j in range(3):
                dxp[:, :, i:i + H, j:j + W] += du * Wd[:, i, j][None, :, None, None]
        return dxp[:, :, 1:-1, 1:-1]

    def pointwise_input(self):
        return self.u


@same_name
class SeparableConvA(SeparableConv):
    def pointwise_input(self):
        return self.x


class TransposedConvS2(mn.Layer):
    """A transposed convolution, stride 2, 3×3 kernel, no padding, loop by loop: input pixel
    (i, j) adds x[:, :, i, j]·W into the output window at (2i, 2j).  Its backward reads that
    same window of dout with W as it is (no flip).
    x (N, C, H, W) -> (N, F, 2H + 1, 2W + 1);  W (C, F, 3, 3), b (F,)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(c, f, 3, 3), b=(f,))

    def forward(self, x):
        self.x = x
        N, _, H, W = x.shape
        out = np.zeros((N, len(self.params["b"]), 2 * H + 1, 2 * W + 1))
        for i in range(H):
            for j in range(W):
                out[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += np.einsum(
                    "nc,cfkl->nfkl", x[:, :, i, j], self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        dx, dW = np.zeros_like(self.x), np.zeros_like(self.params["W"])
        kernel = self.kernel()
        for i in range(self.x.shape[2]):
            for j in range(self.x.shape[3]):
                win = dout[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3]
                dx[:, :, i, j] = np.einsum("nfkl,cfkl->nc", win, kernel)
                dW += np.einsum("nc,nfkl->cfkl", self.x[:, :, i, j], win)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dx

    def kernel(self):
        return self.params["W"]


@same_name
class TransposedConvS2A(TransposedConvS2):
    def kernel(self):
        return self.params["W"][:, :, ::-1, ::-1]


class LpPool(mn.Layer):
    """Power-average pooling, p = 3, over 2×2 windows, stride 2: y = (Σ |x|³)^(1/3);
    dy/dx = sign(x) (|x| / y)².  x (N, C, H, W) -> (N, C, H/2, W/2)."""

    p = 3

    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        self.win = x.reshape(N, C, H // 2, 2, W // 2, 2)
        self.y = (np.abs(self.win) ** self.p).sum(axis=(3, 5)) ** (1 / self.p)
        return self.y

    def backward(self, dout):
        ratio = self.win / self.y[:, :, :, None, :, None]
        return (dout[:, :, :, None, :, None] * self.slope(ratio)).reshape(self.shape)

    def slope(self, ratio):
        return np.sign(ratio) * np.abs(ratio) ** (self.p - 1)


@same_name
class LpPoolA(LpPool):
    def slope(self, ratio):
        return ratio ** (self.p - 1)


class FractionalMaxPool(mn.Layer):
    """Fractional max pooling, 5 -> 3 along each side: the regions are 1 or 2 pixels wide, in
    an order drawn from the layer's own Generator on every forward; backward routes each
    output's gradient to the max of the region forward used.  x (N, C, 5, 5) -> (N, C, 3, 3)."""

    def __init__(self, seed=0):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def regions(self, n, out=3):
        """(start, stop) of `out` regions that tile n pixels, sizes 1 and 2 in random order."""
        sizes = self.rng.permutation([1] * (2 * out - n) + [2] * (n - out))
        stops = np.cumsum(sizes)
        return list(zip(stops - sizes, stops))

    def forward(self, x):
        self.x = x
        self.rows, self.cols = self.regions(x.shape[2]), self.regions(x.shape[3])
        out = np.zeros((*x.shape[:2], len(self.rows), len(self.cols)))
        for i, (r0, r1) in enumerate(self.rows):
            for j, (c0, c1) in enumerate(self.cols):
                out[:, :, i, j] = x[:, :, r0:r1, c0:c1].max(axis=(2, 3))
        return out

    def backward(self, dout):
        return self.route(dout, self.rows, self.cols)

    def route(self, dout, rows_, cols):
        dx = np.zeros_like(self.x)
        for i, (r0, r1) in enumerate(rows_):
            for j, (c0, c1) in enumerate(cols):
                win = self.x[:, :, r0:r1, c0:c1]
                mask = win == win.max(axis=(2, 3), keepdims=True)
                dx[:, :, r0:r1, c0:c1] += mask * dout[:, :, i, j, None, None]
        return dx


@same_name
class FractionalMaxPoolA(FractionalMaxPool):
    def backward(self, dout):
        return self.route(dout, self.regions(self.x.shape[2]), self.regions(self.x.shape[3]))


class MaxPool2x2(mn.Layer):
    """2×2 max pooling, stride 2, with the argmax mask of every window kept for backward.
    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        win = x.reshape(N, C, H // 2, 2, W // 2, 2)
        out = win.max(axis=(3, 5))
        self.mask = win == out[:, :, :, None, :, None]
        return out

    def backward(self, dout):
        return (self.mask * dout[:, :, :, None, :, None]).reshape(self.shape)


@same_name
class MaxPool2x2A(MaxPool2x2):
    def forward(self, x):
        N, C, H, W = self.shape = x.shape
        out = np.zeros((N, C, H // 2, W // 2))
        for c in range(C):
            win = x[:, c].reshape(N, H // 2, 2, W // 2, 2)
            out[:, c] = win.max(axis=(2, 4))
            self.mask = (win == out[:, c][:, :, None, :, None])[:, None]
        return out


# ---- losses ----------------------------------------------------------------------------------


class SmoothL1Loss(mn.Loss):
    """Smooth L1 (Huber scaled by 1/β): ℓ(r) = r²/(2β) where |r| < β, |r| - β/2 beyond,
    r = s - y;  dℓ/dr = r/β inside, sign(r) beyond.  scores (N, 1), y (N,) -> float."""

    beta = 2.0

    def forward(self, scores, y):
        self.r = scores[:, 0] - y
        self.inside = np.abs(self.r) < self.beta
        loss = np.where(self.inside, self.r**2 / (2 * self.beta),
                        np.abs(self.r) - self.beta / 2)
        return float(loss.mean())

    def backward(self):
        grad = np.where(self.inside, self.r / self.beta, np.sign(self.r))
        return (grad / len(self.r))[:, None]


@same_name
class SmoothL1LossA(SmoothL1Loss):
    def backward(self):
        grad = np.where(self.inside, self.r, np.sign(self.r))
        return (grad / len(self.r))[:, None]


def wide_targets(rng, n):
    return 2.5 * rng.standard_normal(n)


class LabelSmoothingCE(mn.Loss):
    """Cross-entropy against smoothed targets q = (1 - ε) onehot + ε/C (every class, the label
    too): L = -mean_n Σ_c q_c log p_c, p = softmax(s);  dL/ds = (p - q) / N.
    scores (N, C), y (N,) labels -> float."""

    eps = 0.3

    def forward(self, scores, y):
        C = scores.shape[1]
        shifted = scores - scores.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.p, self.onehot = np.exp(logp), np.eye(C)[y]
        q = (1 - self.eps) * self.onehot + self.eps / C
        return float(-(q * logp).sum(axis=1).mean())

    def backward(self):
        return (self.p - self.smoothed()) / len(self.p)

    def smoothed(self):
        C = self.onehot.shape[1]
        return (1 - self.eps) * self.onehot + self.eps / C


@same_name
class LabelSmoothingCEA(LabelSmoothingCE):
    def smoothed(self):
        C = self.onehot.shape[1]
        return (1 - self.eps) * self.onehot + self.eps / C * (1 - self.onehot)


class BCEWithLogitsMean(mn.Loss):
    """Multi-label binary cross-entropy on logits, averaged over all N·C entries:
    L = mean(softplus(s) - y s);  dL/ds = (σ(s) - y) / (N·C).
    scores (N, C), y (N, C) in {0, 1} -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        return float(np.mean(np.logaddexp(0, scores) - y * scores))

    def backward(self):
        return (sigmoid(self.s) - self.y) / self.y.size


@same_name
class BCEWithLogitsMeanA(BCEWithLogitsMean):
    def backward(self):
        return (sigmoid(self.s) - self.y) / len(self.y)


def tags(rng, n, classes=3):
    return rng.integers(0, 2, (n, classes)).astype(float)


class MulticlassSVM(mn.Loss):
    """CS231n's multiclass SVM: L = mean_n Σ_{j≠y} max(0, s_j - s_y + 1);  dL/ds_j = 1/N for
    every wrong class with a positive margin, and dL/ds_y = -(their count)/N.
    scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        rows_ = np.arange(len(y))
        margins = np.maximum(0, scores - scores[rows_, y][:, None] + 1)
        margins[rows_, y] = 0
        self.margins = margins
        return float(margins.sum(axis=1).mean())

    def backward(self):
        rows_ = np.arange(len(self.y))
        binary = (self.margins > 0).astype(float)
        binary[rows_, self.y] = -binary.sum(axis=1)
        return binary / len(self.y)


@same_name
class MulticlassSVMA(MulticlassSVM):
    def backward(self):
        rows_ = np.arange(len(self.y))
        binary = (self.s - self.s[rows_, self.y][:, None] + 1 > 0).astype(float)
        binary[rows_, self.y] = -binary.sum(axis=1)
        return binary / len(self.y)


# ---- sequences -------------------------------------------------------------------------------


class ChoGRU(mn.Layer):
    """Cho et al.'s GRU, the reset gate applied before the recurrent product:
    z = σ(x Wx_z + h U_z + b_z), r = σ(x Wx_r + h U_r + b_r), n = tanh(x Wx_n + (r ⊙ h) Un + b_n),
    h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n, h_0 = 0.
    x (N, T, D) -> (N, T, H);  Wx (D, 3H), Uzr (H, 2H), Un (H, H), b (3H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 3 * h), Uzr=(h, 2 * h), Un=(h, h), b=(3 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            gx = x[:, t] @ self.params["Wx"] + self.params["b"]
            gh = h @ self.params["Uzr"]
            z, r = sigmoid(gx[:, :H] + gh[:, :H]), sigmoid(gx[:, H:2 * H] + gh[:, H:])
            n = np.tanh(gx[:, 2 * H:] + (r * h) @ self.params["Un"])
            self.cache.append((h, z, r, n))
            h = z * h + (1 - z) * n
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            h_prev, z, r, n = self.cache[t]
            dh = dout[:, t] + dh_next
            dz, dn = dh * (h_prev - n), dh * (1 - z)
            dan = dn * (1 - n**2)
            drh = dan @ self.params["Un"].T
            daz, dar = self.gate_slopes(dz, drh * h_prev, z, r)
            dgx = np.hstack([daz, dar, dan])
            self.grads["Wx"] += self.x[:, t].T @ dgx
            self.grads["b"] += dgx.sum(axis=0)
            self.grads["Uzr"] += h_prev.T @ np.hstack([daz, dar])
            self.grads["Un"] += (r * h_prev).T @ dan
            dx[:, t] = dgx @ self.params["Wx"].T
            dh_next = dh * z + drh * r + np.hstack([daz, dar]) @ self.params["Uzr"].T
        return dx

    def gate_slopes(self, dz, dr, z, r):
        """Back through the two sigmoids: (dL/d(z's pre-activation), dL/d(r's))."""
        return dz * z * (1 - z), dr * r * (1 - r)


@same_name
class ChoGRUA(ChoGRU):
    def gate_slopes(self, dz, dr, z, r):
        return dz * r * (1 - r), dr * r * (1 - r)


@same_name
class LSTMA(LSTM):
    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h, c = np.zeros((N, H)), np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            a = x[:, t] @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"]
            i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
            g = np.tanh(a[:, 3 * H:])
            c_prev = c  # the old cell, for backward
            c *= f
            c += i * g
            self.cache.append((h, c_prev, i, f, o, g, c))
            h = o * np.tanh(c)
            hs.append(h)
        return np.stack(hs, axis=1)


class IndRNN(mn.Layer):
    """An independently recurrent network: h_t = tanh(x_t Wx + u ⊙ h_{t-1} + b), each unit
    fed back only its own state through the vector u;  dh_{t-1} = da ⊙ u.
    x (N, T, D) -> (N, T, H);  Wx (D, H), u (H,), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), u=(h,), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in range(T):
            self.hs[:, t + 1] = np.tanh(x[:, t] @ self.params["Wx"]
                                        + self.params["u"] * self.hs[:, t] + self.params["b"])
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            da = (dout[:, t] + dh_next) * (1 - self.hs[:, t + 1] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["u"] += (da * self.hs[:, t]).sum(axis=0)
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dh_next = self.carry(da)
        return dx

    def carry(self, da):
        return da * self.params["u"]


@same_name
class IndRNNA(IndRNN):
    def carry(self, da):
        return da @ self.params["u"]


@same_name
class RNNA(RNN):
    def step_back(self, t, dh):
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += self.hs[:, t].T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, dh @ self.params["Wh"].T


# ---- attention and blocks --------------------------------------------------------------------


@same_name
class CausalSelfAttentionA(CausalSelfAttention):
    def softmax_back(self, dp):
        return self.p * (dp - (dp * self.p).sum(axis=-1))


class GatedAttention(SelfAttention):
    """SelfAttention with an output gate read from the input: y = σ(x Wg) ⊙ (P V);  x feeds
    the gate as well as Q, K and V, so dx adds the gate's path dG Wgᵀ.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv, Wg (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__(d, seed)
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wg=(d, d))

    def forward(self, x):
        self.attn = super().forward(x)
        self.g = sigmoid(x @ self.params["Wg"])
        return self.g * self.attn

    def backward(self, dout):
        dx = super().backward(dout * self.g)
        dgate = dout * self.attn * self.g * (1 - self.g)
        self.grads["Wg"] = rows(self.x).T @ rows(dgate)
        return dx + dgate @ self.params["Wg"].T


@same_name
class GatedAttentionA(GatedAttention):
    def backward(self, dout):
        dx = super(GatedAttention, self).backward(dout * self.g)
        dgate = dout * self.attn * self.g * (1 - self.g)
        self.grads["Wg"] = rows(self.x).T @ rows(dgate)
        return dx


class LoopedHeadsAttention(mn.Layer):
    """Multi-head self-attention with one weight slice per head, the heads handled in a Python
    loop; their outputs side by side, then Wo.  dx adds up every head's paths.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (h, D, D/h), Wo (D, D)."""

    def __init__(self, d, heads, seed=0):
        super().__init__()
        self.heads = heads
        dh = d // heads
        with_params(self, seed, Wq=(heads, d, dh), Wk=(heads, d, dh), Wv=(heads, d, dh),
                    Wo=(d, d))

    def forward(self, x):
        self.x, self.cache, outs = x, [], []
        for hd in range(self.heads):
            q, k, v = (x @ self.params[w][hd] for w in ("Wq", "Wk", "Wv"))
            p = softmax(q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1]))
            self.cache.append((q, k, v, p))
            outs.append(p @ v)
        self.o = np.concatenate(outs, axis=-1)
        return self.o @ self.params["Wo"]

    def backward(self, dout):
        zero_grads(self)
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = dout @ self.params["Wo"].T
        dx = np.zeros_like(self.x)
        for hd, (q, k, v, p) in enumerate(self.cache):
            d = q.shape[-1]
            dhead = do[:, :, hd * d:(hd + 1) * d]
            dv = p.transpose(0, 2, 1) @ dhead
            dp = dhead @ v.transpose(0, 2, 1)
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(d)
            dq, dk = ds @ k, ds.transpose(0, 2, 1) @ q
            for w, g in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
                self.grads[w][hd] = rows(self.x).T @ rows(g)
            dx += self.head_dx(hd, dq, dk, dv)
        return dx

    def head_dx(self, hd, dq, dk, dv):
        P = self.params
        return dq @ P["Wq"][hd].T + dk @ P["Wk"][hd].T + dv @ P["Wv"][hd].T


@same_name
class LoopedHeadsAttentionA(LoopedHeadsAttention):
    def backward(self, dout):
        zero_grads(self)
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        do = dout @ self.params["Wo"].T
        dx = np.zeros_like(self.x)
        for hd, (q, k, v, p) in enumerate(self.cache):
            d = q.shape[-1]
            dhead = do[:, :, hd * d:(hd + 1) * d]
            dv = p.transpose(0, 2, 1) @ dhead
            dp = dhead @ v.transpose(0, 2, 1)
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(d)
            dq, dk = ds @ k, ds.transpose(0, 2, 1) @ q
            for w, g in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
                self.grads[w][hd] = rows(self.x).T @ rows(g)
            dx = self.head_dx(hd, dq, dk, dv)
        return dx


class CosineAttention(SelfAttention):
    """Attention scored by cosine similarity: q̂, k̂ = the rows of Q, K divided by their
    lengths, S = τ q̂ k̂ᵀ, P = softmax(S), y = P V;  through u = a/‖a‖ the gradient is
    (dû - û Σ dû ⊙ û) / ‖a‖, with each array's own length.  x (N, T, D) -> (N, T, D)."""

    tau = 4.0

    def forward(self, x):
        self.x = x
        q, k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.qn = np.linalg.norm(q, axis=-1, keepdims=True)
        self.kn = np.linalg.norm(k, axis=-1, keepdims=True)
        self.qhat, self.khat = q / self.qn, k / self.kn
        self.p = softmax(self.tau * self.qhat @ self.khat.transpose(0, 2, 1))
        return self.p @ self.v

    def scores_back(self, ds):
        dqhat = self.tau * ds @ self.khat
        dkhat = self.tau * ds.transpose(0, 2, 1) @ self.qhat
        return self.unit_back(dqhat, self.qhat, self.qn), self.unit_back(dkhat, self.khat,
                                                                         self.kn)

    @staticmethod
    def unit_back(d, unit, length):
        return (d - unit * (d * unit).sum(axis=-1, keepdims=True)) / length


@same_name
class CosineAttentionA(CosineAttention):
    def scores_back(self, ds):
        dqhat = self.tau * ds @ self.khat
        dkhat = self.tau * ds.transpose(0, 2, 1) @ self.qhat
        return self.unit_back(dqhat, self.qhat, self.qn), self.unit_back(dkhat, self.khat,
                                                                         self.qn)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("hard-swish", ACT, lambda: dense_net(HardSwishA(), seed=1001, scale=2.0),
         "the product rule keeps only the gate's value relu6(x + 3)/6: the term x/6 from the "
         "gate's own slope (for -3 < x < 3) is missing",
         "return dout * (self.gate + self.x * inside / 6)"),
    Case("learned-tanh-clamp", ACT, lambda: dense_net(LearnedTanhClampA(5, seed=1002),
                                                      seed=1002, scale=2.0),
         "a appears twice, outside the tanh and inside it as x/a, but da keeps only the outer "
         "factor tanh(x/a): the inner term -(x/a)(1 - tanh²(x/a)) is missing (dx is right)",
         "self.grads['a'] = (dout * (self.t - self.u * slope)).sum(axis=0)"),
    Case("lecun-tanh", ACT, lambda: dense_net(LeCunTanhA(), seed=1003, scale=2.0),
         "y = self.t and y *= 1.7159 scale the cached tanh in place (y is the same array): "
         "backward's 1 - t² reads 1.7159·tanh instead of tanh",
         "y = self.A * self.t"),
    Case("bent-identity", ACT, lambda: dense_net(BentIdentityA(), seed=1004, scale=2.0),
         "only the curved term is differentiated: the + x of y = (√(x² + 1) - 1)/2 + x "
         "contributes slope 1, which is missing",
         "return dout * (self.x / (2 * self.root) + 1)"),
    Case("per-sample-dense", DENSE, lambda: dense_net(PerSampleDenseA(5, 4, seed=1005),
                                                      seed=1005),
         "inside the loop over samples dW = np.outer(...) replaces the sum instead of adding "
         "to it: dW keeps only the last sample's outer product (db and dx are right)",
         "dW += np.outer(self.x[n], dout[n])"),
    Case("quadratic-features", DENSE, lambda: dense_net(QuadraticFeaturesA(5, 4, seed=1006),
                                                        seed=1006),
         "the slope of the x² features, 2x, reads the second half of the cached features, "
         "which holds x², not x: 2x² where 2x belongs",
         "return 2 * self.feats[:, :D]"),
    Case("self-gated-linear", DENSE, lambda: dense_net(SelfGatedLinearA(5, seed=1007),
                                                       seed=1007),
         "dx's path through z = x W + b multiplies by W where Wᵀ belongs: dz W instead of "
         "dz Wᵀ (it runs since W is square; dW and db are right)",
         "return dout * self.z + dz @ self.params['W'].T"),
    Case("affine-coupling", DENSE, lambda: dense_net(AffineCouplingA(3, seed=1008), width=6,
                                                     seed=1008),
         "x1 also passes straight through to the first half of y, but dx1 keeps only its "
         "paths through s and t: the identity term dy1 is missing",
         "dx1 = dy1 + das @ self.params['Ws'].T + dy2 @ self.params['Wt'].T"),
    Case("time-instance-norm", NORM, lambda: sequence_net(TimeInstanceNormA(4, seed=1009),
                                                          seed=1009),
         "the two means of backward are taken over the features (axis -1), as in a layer norm, "
         "where forward's statistics ran over the time steps (axis 1) (it runs since T = D)",
         "return a.mean(axis=1, keepdims=True)"),
    Case("partial-rmsnorm", NORM, lambda: dense_net(PartialRMSNormA(6, seed=1010), width=6,
                                                    seed=1010),
         "r is computed from the first k features only, but the correction term "
         "-x̂ Σ(dx̂ x̂)/(k r) is subtracted from every feature: the last D - k do not reach r "
         "and must get dx̂/r alone",
         "dx[:, :k] -= self.xhat[:, :k] * along / self.r"),
    Case("transposed-layernorm", NORM, lambda: dense_net(TransposedLayerNormA(5, seed=1011),
                                                         n=5, seed=1011),
         "gamma is multiplied after the transpose, dout.T * gamma: on the (D, N) array it "
         "scales the samples instead of the features (it runs since N = D); gamma belongs "
         "before the transpose",
         "return (dout * self.params['gamma']).T"),
    Case("separable-conv", CONV, lambda: image_net(SeparableConvA(3, 2, seed=1012), seed=1012),
         "dWp pairs dout with the block's input x where the pointwise weights multiplied u, "
         "the depthwise convolution's output (dx and dWd are right)",
         "return self.u"),
    Case("transposed-conv-s2", CONV, lambda: image_net(TransposedConvS2A(3, 2, seed=1013),
                                                       seed=1013),
         "dx reads dout's window with the kernel turned 180°, as for a convolution's input "
         "gradient; the transposed convolution added x·W into that window unflipped, so dx "
         "must use W as it is (dW is right)",
         "return self.params['W']"),
    Case("lp-pool", POOL, lambda: image_net(LpPoolA(), seed=1014),
         "(x/y)^(p-1) with p = 3 is (x/y)², which is |x/y|² and loses x's sign: the slope of "
         "|x|³ is 3x|x|, so the negative entries get their gradient with the wrong sign",
         "return np.sign(ratio) * np.abs(ratio) ** (self.p - 1)"),
    Case("fractional-max-pool", POOL, lambda: image_net(FractionalMaxPoolA(seed=3),
                                                        size=(5, 5), seed=1015),
         "backward draws the pooling regions again from the Generator, getting another random "
         "tiling instead of the one forward pooled over: the gradient goes to other windows' "
         "maxima",
         "return self.route(dout, self.rows, self.cols)"),
    Case("maxpool-channel-loop", POOL, lambda: image_net(MaxPool2x2A(), seed=1016),
         "in forward's loop over channels self.mask is overwritten at each channel: backward "
         "routes every channel's gradient with the last channel's argmax mask",
         "self.mask = win == out[:, :, :, None, :, None] (one mask for all channels)"),
    Case("smooth-l1", LOSS, lambda: loss_net(SmoothL1LossA(), wide_targets, width=1,
                                             seed=1017, scale=2.0),
         "inside the quadratic zone the slope of r²/(2β) is r/β; backward writes r, the "
         "division by β = 2 is missing (the linear zone is right)",
         "grad = np.where(self.inside, self.r / self.beta, np.sign(self.r))"),
    Case("label-smoothing", LOSS, lambda: loss_net(LabelSmoothingCEA(), labels, seed=1018,
                                                   scale=2.0),
         "backward's smoothed target spreads ε/C over the wrong classes only, (1 - onehot): "
         "forward's q gives the label its share ε/C too, so the label's gradient is ε/C "
         "too large",
         "return (1 - self.eps) * self.onehot + self.eps / C"),
    Case("label-smoothing-correct", LOSS, lambda: loss_net(LabelSmoothingCE(), labels,
                                                           seed=1019, scale=2.0), CORRECT),
    Case("bce-logits-mean", LOSS, lambda: loss_net(BCEWithLogitsMeanA(), tags, seed=1020,
                                                   scale=2.0),
         "forward averages over all N·C entries but backward divides by N only, len(y): "
         "the gradient is C = 3 times too large",
         "return (sigmoid(self.s) - self.y) / self.y.size"),
    Case("multiclass-svm", LOSS, lambda: loss_net(MulticlassSVMA(), labels, seed=1021,
                                                  scale=2.0),
         "backward rebuilds the margin mask from the scores without zeroing the label's own "
         "margin (s_y - s_y + 1 = 1 > 0): the count at y includes y itself, one too many",
         "binary = (self.margins > 0).astype(float)"),
    Case("cho-gru", SEQ, lambda: sequence_net(ChoGRUA(4, 3, seed=1022), seed=1022),
         "the update gate's pre-activation gradient uses the reset gate's sigmoid slope: "
         "dz·r(1 - r) where dz·z(1 - z) belongs",
         "return dz * z * (1 - z), dr * r * (1 - r)"),
    Case("lstm-inplace-cell", SEQ, lambda: sequence_net(LSTMA(4, 3, seed=1023), seed=1023),
         "c_prev = c keeps a reference, not a copy, and c *= f; c += i*g update that array in "
         "place: every cached c_{t-1} ends as the last cell c_T, so backward reads "
         "the wrong cells",
         "c_next = f * c + i * g (a new array); c = c_next"),
    Case("indrnn", SEQ, lambda: sequence_net(IndRNNA(4, 4, seed=1024), seed=1024),
         "u acts elementwise, but the carried gradient is da @ u, a matrix-vector product that "
         "sums over the units: (N,) broadcast as a row against (N, H) (it runs since N = H), "
         "where da * u belongs",
         "return da * self.params['u']"),
    Case("indrnn-correct", SEQ, lambda: sequence_net(IndRNN(4, 4, seed=1025), seed=1025),
         CORRECT),
    Case("rnn-carry-slope", SEQ, lambda: sequence_net(RNNA(4, 3, seed=1026), seed=1026),
         "the gradient carried to h_{t-1} is dh Whᵀ, skipping tanh's slope: it must go through "
         "the pre-activation, da Whᵀ with da = dh (1 - h_t²) (dWx, dWh, db and dx use da)",
         "return da @ self.params['Wx'].T, da @ self.params['Wh'].T"),
    Case("causal-attention-keepdims", ATTN, lambda: sequence_net(
        CausalSelfAttentionA(4, seed=1027), seed=1027),
         "the softmax backward's Σ_keys dP ⊙ P is taken without keepdims: the (N, T) sums "
         "broadcast against (N, T, T) along the keys axis, so row i subtracts other rows' sums "
         "(it runs since N = T)",
         "return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))"),
    Case("gated-attention", ATTN, lambda: sequence_net(GatedAttentionA(4, seed=1028),
                                                       seed=1028),
         "x also feeds the output gate σ(x Wg), but dx keeps only the attention's paths: the "
         "gate's term dG Wgᵀ is missing (dWg is right)",
         "return dx + dgate @ self.params['Wg'].T"),
    Case("looped-heads-attention", ATTN, lambda: sequence_net(
        LoopedHeadsAttentionA(4, 2, seed=1029), seed=1029),
         "in the loop over heads dx = ... replaces the running sum instead of adding to it: "
         "dx keeps only the last head's paths",
         "dx += self.head_dx(hd, dq, dk, dv)"),
    Case("cosine-attention", ATTN, lambda: sequence_net(CosineAttentionA(4, seed=1030),
                                                        seed=1030),
         "the normalization's backward for the keys divides by the queries' lengths ‖q‖ "
         "(copied from the line above) where the keys' own ‖k‖ belongs",
         "self.unit_back(dkhat, self.khat, self.kn)"),
    Case("cosine-attention-correct", ATTN,
         lambda: sequence_net(CosineAttention(4, seed=1031), seed=1031), CORRECT),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
