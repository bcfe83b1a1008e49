"""The twentieth held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the earlier held-out sets were used
up: whoever designs them does not read this file. Same conventions as tests/unlisted.py (Case,
confirm, check, the networks): a buggy class is a correct student class with one method
rewritten, shown under its parent's name. About half the mistakes are in the mathematics
(a rule of calculus misapplied, a term or factor of the chain rule, the point or the quantity
that is differentiated) and half in the code's structure (numpy's defaults and conventions,
Python's lists and operators, indexing, broadcasting).
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
    BatchNorm1d,
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
    signs,
    softmax,
    with_params,
    zero_grads,
)

import minnet as mn

# ---- activations -----------------------------------------------------------------------------


class WindowSigmoid(mn.Layer):
    """The logistic sigmoid integrated over a window of width 2 around x, a smooth ramp from 0
    to 2: y = ∫_{x-1}^{x+1} σ(t) dt = softplus(x + 1) - softplus(x - 1).  By Leibniz's rule the
    upper limit enters with a plus and the lower one with a minus: dy/dx = σ(x + 1) - σ(x - 1).
    x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.logaddexp(0, x + 1) - np.logaddexp(0, x - 1)

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        """dy/dx: the integrand at the upper limit minus the integrand at the lower one."""
        return sigmoid(self.x + 1) - sigmoid(self.x - 1)


@same_name
class WindowSigmoidA(WindowSigmoid):
    def slope(self):
        return sigmoid(self.x + 1) + sigmoid(self.x - 1)


class TanhSoftplus(mn.Layer):
    """y = tanh(softplus(x)), the smooth gate of Mish on its own, rising from 0 to 1.  Chain
    rule, outer function first: dy/dx = tanh'(softplus(x)) · softplus'(x)
    = (1 - y²) σ(x).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.y = np.tanh(np.logaddexp(0, x))
        return self.y

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        return (1 - self.y**2) * sigmoid(self.x)


@same_name
class TanhSoftplusA(TanhSoftplus):
    def slope(self):
        t = np.tanh(self.x)
        return sigmoid(t) * (1 - t**2)


class CrossGate(mn.Layer):
    """The features taken in neighbouring pairs (a, b) = (x[:, 0::2], x[:, 1::2]), each gating
    the other: the even outputs are a σ(b), the odd ones b σ(a).  Backward gathers each
    pair's two gradients, da = dy_a σ(b) + dy_b b σ'(a) and db = dy_b σ(a) + dy_a a σ'(b), and
    puts them back in the pairs' places.  x, y: (N, D), D even."""

    def forward(self, x):
        self.a, self.b = x[:, 0::2], x[:, 1::2]
        self.sa, self.sb = sigmoid(self.a), sigmoid(self.b)
        y = np.empty_like(x)
        y[:, 0::2] = self.a * self.sb
        y[:, 1::2] = self.b * self.sa
        return y

    def backward(self, dout):
        dya, dyb = dout[:, 0::2], dout[:, 1::2]
        sa, sb = self.sa, self.sb
        da = dya * sb + dyb * self.b * sa * (1 - sa)
        db = dyb * sa + dya * self.a * sb * (1 - sb)
        return self.pairs(da, db)

    def pairs(self, da, db):
        """(N, D/2) and (N, D/2) back into (N, D), a at the even places and b at the odd."""
        dx = np.empty((len(da), 2 * da.shape[1]))
        dx[:, 0::2], dx[:, 1::2] = da, db
        return dx


@same_name
class CrossGateA(CrossGate):
    def pairs(self, da, db):
        return np.concatenate([da, db], axis=1)


class SignedSqrt(mn.Layer):
    """y = sign(x) (√(1 + |x|) - 1), an odd, slowly growing curve through 0; its slope is even,
    1/(2√(1 + |x|)).  Backward is written entry by entry with Python lists: a list of N rows of
    D zeros, filled in a double loop, then turned into an array.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.sign(x) * (np.sqrt(1 + np.abs(x)) - 1)

    def backward(self, dout):
        N, D = dout.shape
        dx = [[0.0] * D for _ in range(N)]
        for n in range(N):
            for d in range(D):
                dx[n][d] = dout[n, d] / (2 * np.sqrt(1 + abs(self.x[n, d])))
        return np.array(dx)


@same_name
class SignedSqrtA(SignedSqrt):
    def backward(self, dout):
        N, D = dout.shape
        dx = [[0.0] * D] * N
        for n in range(N):
            for d in range(D):
                dx[n][d] = dout[n, d] / (2 * np.sqrt(1 + abs(self.x[n, d])))
        return np.array(dx)


# ---- dense-like ------------------------------------------------------------------------------


class NMU(mn.Layer):
    """The neural multiplication unit (Madsen and Johansen): each output is a product over the
    inputs, y_k = Π_d f_dk with the factors f_dk = W_dk x_d + 1 - W_dk (W_dk = 1 takes x_d in,
    W_dk = 0 leaves it out).  By the product rule each factor's slope is multiplied by the
    product of the other D - 1 factors, found here with products from the left and from the
    right.  x (N, D) -> (N, K);  W (D, K)."""

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, k))
        self.params["W"] *= 0.6

    def forward(self, x):
        self.x = x
        self.f = 1 + self.params["W"] * (x[:, :, None] - 1)  # (N, D, K)
        return self.f.prod(axis=1)

    def backward(self, dout):
        g = dout[:, None, :] * self.others()  # dL/df, (N, D, K)
        self.grads["W"] = (g * (self.x[:, :, None] - 1)).sum(axis=0)
        return (g * self.params["W"]).sum(axis=2)

    def others(self):
        """Π_{d' ≠ d} f_d'k for every (n, d, k)."""
        f = self.f
        ones = np.ones_like(f[:, :1])
        left = np.cumprod(np.concatenate([ones, f[:, :-1]], axis=1), axis=1)
        right = np.cumprod(np.concatenate([ones, f[:, :0:-1]], axis=1), axis=1)[:, ::-1]
        return left * right


@same_name
class NMUA(NMU):
    def others(self):
        return np.ones_like(self.f)


class FlatDense(mn.Layer):
    """A dense layer whose weights and bias live in one flat parameter vector, as an optimizer
    written for vectors wants them: W = theta[:D·F].reshape(D, F) (row by row, numpy's default
    order) and b = theta[D·F:]; y = x W + b.  Backward packs dW and db into one vector in the
    same order.  x (N, D) -> (N, F);  theta (D·F + F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        self.d, self.f = d, f
        with_params(self, seed, theta=(d * f + f,))

    def forward(self, x):
        D, F = self.d, self.f
        self.x = x
        theta = self.params["theta"]
        return x @ theta[:D * F].reshape(D, F) + theta[D * F:]

    def backward(self, dout):
        D, F = self.d, self.f
        W = self.params["theta"][:D * F].reshape(D, F)
        self.grads["theta"] = self.pack(self.x.T @ dout, dout.sum(axis=0))
        return dout @ W.T

    def pack(self, dW, db):
        return np.concatenate([dW.ravel(), db])


@same_name
class FlatDenseA(FlatDense):
    def pack(self, dW, db):
        return np.concatenate([dW.T.ravel(), db])


class EulerBlock(mn.Layer):
    """A neural ODE block, dz/dt = tanh(z W + b) from z(0) = x, integrated by S = 3 explicit
    Euler steps of size h = 0.5: z_{s+1} = z_s + h tanh(z_s W + b), y = z_S (one weight for
    every step).  Backward goes back through the discrete steps: the gradient a at z_{s+1}
    becomes a + (a h (1 - t_s²)) Wᵀ at z_s, with t_s = tanh(z_s W + b) taken at the step's input
    z_s, and every step adds its terms to dW and db.  x, y: (N, D);  W (D, D), b (D,)."""

    steps, h = 3, 0.5

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        W, b = self.params["W"], self.params["b"]
        z = x
        self.zs = [z]
        for _ in range(self.steps):
            z = z + self.h * np.tanh(z @ W + b)
            self.zs.append(z)
        return z

    def backward(self, dout):
        W, b = self.params["W"], self.params["b"]
        zero_grads(self)
        a = dout
        for s in reversed(range(self.steps)):
            z = self.point(s)
            t = np.tanh(z @ W + b)
            da = a * self.h * (1 - t**2)
            self.grads["W"] += z.T @ da
            self.grads["b"] += da.sum(axis=0)
            a = a + da @ W.T
        return a

    def point(self, s):
        """The state at which step s is differentiated."""
        return self.zs[s]


@same_name
class EulerBlockA(EulerBlock):
    def point(self, s):
        return self.zs[s + 1]


# ---- normalization ---------------------------------------------------------------------------


class ScaleOnlyNorm(mn.Layer):
    """Scaling without centering: each sample is divided by the standard deviation of its
    features, σ = √(var(x) + eps) with var about the features' mean μ, but μ is not subtracted
    from the output: y = g ⊙ x/σ.  Since dσ/dx_i = (x_i - μ)/(Dσ), with u = x/σ and
    c = (x - μ)/σ: dx = (du - c · mean(du ⊙ u))/σ, du = dout ⊙ g.  x, y: (N, D);  g (D,)."""

    eps = 1e-5

    def __init__(self, d):
        super().__init__()
        self.params = {"g": np.linspace(0.5, 1.5, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        self.std = np.sqrt(x.var(axis=1, keepdims=True) + self.eps)
        self.u = x / self.std
        self.c = (x - x.mean(axis=1, keepdims=True)) / self.std
        return self.params["g"] * self.u

    def backward(self, dout):
        self.grads["g"] = (dout * self.u).sum(axis=0)
        du = dout * self.params["g"]
        return (du - self.centered() * (du * self.u).mean(axis=1, keepdims=True)) / self.std

    def centered(self):
        """σ's slope times Dσ: (x - μ)/σ."""
        return self.c


@same_name
class ScaleOnlyNormA(ScaleOnlyNorm):
    def centered(self):
        return self.u


class CovBatchNorm(BatchNorm1d):
    """Batch norm (tests/unlisted.py's BatchNorm1d) whose batch variance is read off the
    covariance matrix of the features, the diagonal of np.cov(x, rowvar=False, bias=True): each
    feature's variance over the samples, divided by N.  x (N, D) -> (N, D)."""

    def variance(self, x):
        return np.diag(np.cov(x, rowvar=False, bias=True))


@same_name
class CovBatchNormA(CovBatchNorm):
    def variance(self, x):
        return np.diag(np.cov(x, bias=True))


class AdaIN(mn.Layer):
    """Adaptive instance normalization (Huang and Belongie) inside one vector: the first half
    of the features is the content c, the second the style s; the content is standardized
    over its features and takes the style's statistics, y = σ_s ĉ + μ_s with
    ĉ = (c - μ_c)/σ_c, σ = √(var + eps).  Both halves get a gradient: the content through ĉ,
    the style through μ_s and σ_s, ds = dμ_s/D + dσ_s ŝ/D with dμ_s = Σ dout, dσ_s = Σ dout ⊙ ĉ
    and ŝ = (s - μ_s)/σ_s.  x (N, 2D) -> (N, D)."""

    eps = 1e-5

    def forward(self, x):
        D = x.shape[1] // 2
        c, s = x[:, :D], x[:, D:]
        self.c_std = np.sqrt(c.var(axis=1, keepdims=True) + self.eps)
        self.chat = (c - c.mean(axis=1, keepdims=True)) / self.c_std
        s_mu = s.mean(axis=1, keepdims=True)
        self.s_std = np.sqrt(s.var(axis=1, keepdims=True) + self.eps)
        self.shat = (s - s_mu) / self.s_std
        return self.s_std * self.chat + s_mu

    def backward(self, dout):
        dchat, chat = dout * self.s_std, self.chat
        dc = (dchat - dchat.mean(axis=1, keepdims=True)
              - chat * (dchat * chat).mean(axis=1, keepdims=True)) / self.c_std
        return np.concatenate([dc, self.style_grad(dout)], axis=1)

    def style_grad(self, dout):
        """dL/ds, through the style's mean and standard deviation."""
        D = dout.shape[1]
        dmu = dout.sum(axis=1, keepdims=True)
        dstd = (dout * self.chat).sum(axis=1, keepdims=True)
        return dmu / D + dstd * self.shat / D


@same_name
class AdaINA(AdaIN):
    def style_grad(self, dout):
        return np.zeros_like(dout)


# ---- convolution and pooling -----------------------------------------------------------------


class MorphDilation(mn.Layer):
    """Morphological dilation, the convolution of the max-plus algebra: each output is the
    largest of input plus kernel over a 3×3 window of all channels (zero padding 1, stride 1),
    y[n, f, i, j] = max_{c, a, b} (xp[n, c, i + a, j + b] + W[f, c, a, b]) + b_f.  The whole
    gradient of an output goes to its winning tap: dout to that input pixel, and dout to that
    kernel entry (the kernel is added, not multiplied).  x (N, C, H, W) -> (N, F, H, W);
    W (F, C, 3, 3), b (F,)."""

    k = 3

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, self.k, self.k), b=(f,))

    def forward(self, x):
        W, k = self.params["W"], self.k
        self.xp = pad(x, 1)
        N, _, H, Wd = x.shape
        out = np.zeros((N, len(W), H, Wd))
        self.winners = {}
        for i, j in np.ndindex(H, Wd):
            s = self.xp[:, None, :, i:i + k, j:j + k] + W[None]  # (N, F, C, k, k)
            flat = s.reshape(N, len(W), -1)
            self.winners[i, j] = flat.argmax(axis=2)
            out[:, :, i, j] = flat.max(axis=2)
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        k = self.k
        N, F = dout.shape[:2]
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for (i, j), idx in self.winners.items():
            mask = np.zeros((N, F, dW[0].size))
            np.put_along_axis(mask, idx[..., None], 1.0, axis=2)
            g = mask.reshape(N, *dW.shape) * dout[:, :, i, j, None, None, None]
            dW += self.kernel_grad(g, self.xp[:, None, :, i:i + k, j:j + k])
            dxp[:, :, i:i + k, j:j + k] += g.sum(axis=1)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, 1:-1, 1:-1]

    def kernel_grad(self, g, win):
        """dW from g (N, F, C, k, k), dout at each output's winning tap, and the windows."""
        return g.sum(axis=0)


@same_name
class MorphDilationA(MorphDilation):
    def kernel_grad(self, g, win):
        return (g * win).sum(axis=0)


class GaussianSpotPool(mn.Layer):
    """Global pooling with a fixed Gaussian weight map centred off the middle, at row 0.5 and
    column 2 (an attention spot, as a fovea), normalized to sum 1:
    y[n, c] = Σ_ij G[i, j] x[n, c, i, j].  Both directions build G on the grid of (row,
    column) indices given by np.meshgrid(..., indexing='ij').  x (N, C, H, W) -> (N, C)."""

    center, width = (0.5, 2.0), 1.0

    def weights(self, ii, jj):
        (ci, cj), s = self.center, self.width
        G = np.exp(-((ii - ci) ** 2 + (jj - cj) ** 2) / (2 * s**2))
        return G / G.sum()

    def forward(self, x):
        H, W = x.shape[2:]
        self.x_shape = x.shape
        ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        return (x * self.weights(ii, jj)).sum(axis=(2, 3))

    def backward(self, dout):
        H, W = self.x_shape[2:]
        ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
        return dout[:, :, None, None] * self.weights(ii, jj)


@same_name
class GaussianSpotPoolA(GaussianSpotPool):
    def backward(self, dout):
        H, W = self.x_shape[2:]
        ii, jj = np.meshgrid(np.arange(H), np.arange(W))
        return dout[:, :, None, None] * self.weights(ii, jj)


class PyramidMaxPool(mn.Layer):
    """Spatial pyramid max pooling (He et al.) with levels 1 and 2: the max of every channel
    over the whole image, then over each of its four quadrants, side by side:
    (N, C, H, W) -> (N, 5C), cell by cell, C channels each.  Forward remembers, with a loop,
    where each maximum was, as a list [n, c, i, j]; backward adds each output's gradient at
    that place, dx[tuple(pos)] += g."""

    levels = (1, 2)

    def forward(self, x):
        N, C, H, W = x.shape
        self.x_shape, self.where, outs = x.shape, [], []
        for level in self.levels:
            sh, sw = H // level, W // level
            for a, b in np.ndindex(level, level):
                win = x[:, :, a * sh:(a + 1) * sh, b * sw:(b + 1) * sw].reshape(N, C, -1)
                top = win.argmax(axis=2)
                for n, c in np.ndindex(N, C):
                    i, j = divmod(int(top[n, c]), sw)
                    self.where.append((len(outs), n, c, [n, c, a * sh + i, b * sw + j]))
                outs.append(win.max(axis=2))
        return np.concatenate(outs, axis=1)

    def backward(self, dout):
        C = self.x_shape[1]
        dx = np.zeros(self.x_shape)
        for cell, n, c, pos in self.where:
            dx[tuple(pos)] += dout[n, cell * C + c]
        return dx


@same_name
class PyramidMaxPoolA(PyramidMaxPool):
    def backward(self, dout):
        C = self.x_shape[1]
        dx = np.zeros(self.x_shape)
        for cell, n, c, pos in self.where:
            dx[pos] += dout[n, cell * C + c]
        return dx


# ---- losses ----------------------------------------------------------------------------------


class ListMLE(mn.Loss):
    """ListMLE (Xia et al.), the Plackett-Luce likelihood of a target order: y[n] lists the C
    items of row n best first, and the order is built by picking the items one after another
    from those not yet placed, L_n = Σ_i (logsumexp(s_{y_i}, ..., s_{y_{C-1}}) - s_{y_i}), mean
    over the rows.  Term i's softmax runs over the suffix of the order from rank i on, so the
    item at rank j collects Σ_{i<=j} of those softmaxes, minus 1.
    scores (N, C), y (N, C) a permutation of 0..C-1 per row -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores, y
        sp = np.take_along_axis(scores, y, axis=1)  # the scores in target order
        self.sp = sp
        C = sp.shape[1]
        terms = [np.logaddexp.reduce(sp[:, i:], axis=1) - sp[:, i] for i in range(C)]
        return float(np.mean(sum(terms)))

    def backward(self):
        N, C = self.sp.shape
        g = -np.ones_like(self.sp)
        for i in range(C):
            g += self.term_weights(i)
        ds = np.zeros_like(self.s)
        np.put_along_axis(ds, self.y, g / N, axis=1)
        return ds

    def term_weights(self, i):
        """d(logsumexp of term i)/d(the scores in target order): softmax over ranks i..C-1."""
        w = np.zeros_like(self.sp)
        w[:, i:] = softmax(self.sp[:, i:])
        return w


@same_name
class ListMLEA(ListMLE):
    def term_weights(self, i):
        return softmax(self.sp)


def rankings(rng, n, items=4):
    return np.argsort(rng.random((n, items)), axis=1)


class MarginRanking(mn.Loss):
    """torch's MarginRankingLoss on pairs of scores: y = +1 says the first should rank higher,
    -1 the second; L = mean_n max(0, -y (s1 - s2) + m), m = 0.5.  Backward goes over the
    samples and, where the hinge is open, gives the first score -y/N and the second +y/N.
    scores (N, 2), y (N,) ±1 -> float."""

    margin = 0.5

    def forward(self, scores, y):
        self.s, self.y = scores, y
        self.open = -y * (scores[:, 0] - scores[:, 1]) + self.margin > 0
        return float(np.maximum(0, -y * (scores[:, 0] - scores[:, 1]) + self.margin).mean())

    def backward(self):
        N = len(self.y)
        g = np.zeros_like(self.s)
        for n in range(N):
            if self.open[n]:
                g[n, 0] = -self.y[n] / N
                g[n, 1] = self.y[n] / N
        return g


@same_name
class MarginRankingA(MarginRanking):
    def backward(self):
        N = len(self.y)
        g = np.zeros_like(self.s)
        for n in range(N):
            if self.open[n]:
                g[n, 0] = -self.y[n] / N
                g[n, 1] == self.y[n] / N  # noqa: B015
        return g


class AngularMargin(mn.Loss):
    """An additive angular margin softmax (ArcFace's idea) on tanh-squashed scores: c = tanh(s)
    are read as cosines, the label's angle θ = arccos(c_y) is widened by m = 0.3, and the
    cross-entropy is taken of the logits κ c with κ c_y replaced by κ cos(θ + m), κ = 4.
    Since cos(θ + m) = c cos m - sin θ sin m with sin θ = √(1 - c²),
    d cos(θ + m)/dc = cos m + sin m · c/√(1 - c²).  scores (N, C), y (N,) labels -> float."""

    kappa, m = 4.0, 0.3

    def forward(self, scores, y):
        self.y = y
        self.c = np.tanh(scores)
        rows_ = np.arange(len(y))
        z = self.kappa * self.c
        z[rows_, y] = self.kappa * np.cos(np.arccos(self.c[rows_, y]) + self.m)
        self.p = softmax(z)
        return float(-np.log(self.p[rows_, y]).mean())

    def backward(self):
        N = len(self.y)
        rows_ = np.arange(N)
        dz = self.p.copy()
        dz[rows_, self.y] -= 1
        dz /= N
        dc = self.kappa * dz
        dc[rows_, self.y] *= self.margin_slope(self.c[rows_, self.y])
        return dc * (1 - self.c**2)

    def margin_slope(self, c):
        """d cos(arccos(c) + m)/dc."""
        return np.cos(self.m) + np.sin(self.m) * c / np.sqrt(1 - c**2)


@same_name
class AngularMarginA(AngularMargin):
    def margin_slope(self, c):
        return np.cos(self.m) * np.ones_like(c)


# ---- sequences -------------------------------------------------------------------------------


class ShiftGate(mn.Layer):
    """Each step gated by the step before it: y_t = x_t ⊙ σ(x_{t-1} W + b), with x_{-1} = 0.
    Forward shifts x one step later along time with np.roll(x, 1, axis=1) (zeroing step 0);
    backward sends the gate's gradient at step t back to step t - 1 with the opposite roll,
    np.roll(d, -1, axis=1) (zeroing the last step).  x, y: (N, T, D);  W (D, D), b (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, d), b=(d,))

    def forward(self, x):
        prev = np.roll(x, 1, axis=1)
        prev[:, 0] = 0
        self.x, self.prev = x, prev
        self.g = sigmoid(prev @ self.params["W"] + self.params["b"])
        return x * self.g

    def backward(self, dout):
        da = dout * self.x * self.g * (1 - self.g)
        self.grads["W"] = rows(self.prev).T @ rows(da)
        self.grads["b"] = da.sum(axis=(0, 1))
        return dout * self.g + self.unshift(da @ self.params["W"].T)

    def unshift(self, d):
        """The gradient at prev (step t holds x_{t-1}'s) moved back to x's steps."""
        back = np.roll(d, -1, axis=1)
        back[:, -1] = 0
        return back


@same_name
class ShiftGateA(ShiftGate):
    def unshift(self, d):
        back = np.roll(d, -1)
        back[:, -1] = 0
        return back


class Smoother(mn.Layer):
    """The Whittaker smoother along time, as a layer: each feature's sequence is replaced by
    the y that solves (I + λ DᵀD) y = x, D the first differences (T - 1, T), λ = e^ℓ learned
    (ℓ = log_lam).  With A = I + λ L, L = DᵀD: y = A⁻¹ x, so backward solves the adjoint
    system, u = A⁻ᵀ dout, and dx = u, dℓ = -λ Σ u ⊙ (L y).  x, y: (N, T, D);  log_lam (1,)."""

    def __init__(self):
        super().__init__()
        self.params = {"log_lam": np.array([0.2])}
        self.grads = {"log_lam": np.zeros(1)}

    def forward(self, x):
        T = x.shape[1]
        D = np.diff(np.eye(T), axis=0)
        self.L = D.T @ D
        self.A = np.eye(T) + np.exp(self.params["log_lam"][0]) * self.L
        self.y = np.linalg.solve(self.A, x)
        return self.y

    def backward(self, dout):
        u = self.adjoint(dout)
        lam = np.exp(self.params["log_lam"][0])
        self.grads["log_lam"] = np.array([-lam * np.sum(u * (self.L @ self.y))])
        return u

    def adjoint(self, dout):
        """A⁻ᵀ dout, for every sample and feature."""
        return np.linalg.solve(self.A.T, dout)


@same_name
class SmootherA(Smoother):
    def adjoint(self, dout):
        return self.A.T @ dout


class TokenGate(mn.Layer):
    """One scalar gate per step from the step's own features, g_t = σ(x_t · w + c), scaling
    the whole step: y_t = g_t x_t.  Backward: the direct part g_t dout_t (the gate broadcast
    over the features, g[..., None]), plus the gate's path, (Σ_d dout ⊙ x) σ' w.
    x, y: (N, T, D);  w (D,), c (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, w=(d,), c=(1,))

    def forward(self, x):
        self.x = x
        self.g = sigmoid(x @ self.params["w"] + self.params["c"])  # (N, T)
        return self.g[..., None] * x

    def backward(self, dout):
        da = (dout * self.x).sum(axis=-1) * self.g * (1 - self.g)
        self.grads["w"] = np.einsum("nt,ntd->d", da, self.x)
        self.grads["c"] = np.array([da.sum()])
        return self.g[..., None] * dout + da[..., None] * self.params["w"]


@same_name
class TokenGateA(TokenGate):
    def backward(self, dout):
        da = (dout * self.x).sum(axis=-1) * self.g * (1 - self.g)
        self.grads["w"] = np.einsum("nt,ntd->d", da, self.x)
        self.grads["c"] = np.array([da.sum()])
        return self.g[:, None] * dout + da[..., None] * self.params["w"]


class SqrtLengthPool(mn.Layer):
    """Sum pooling over each sequence's real steps, scaled by 1/√length (between the mean and
    the sum, as for bag-of-words vectors): y_n = Σ_{t < L_n} x_{n,t} / √L_n; steps t >= L_n are
    padding.  Backward spreads dout_n/√L_n over the real steps of sequence n, broadcast along
    the time axis.  x (N, T, D), lengths (N,) fixed when built -> (N, D)."""

    def __init__(self, lengths):
        super().__init__()
        self.lengths = np.asarray(lengths)

    def forward(self, x):
        self.shape = x.shape
        self.mask = (np.arange(x.shape[1]) < self.lengths[:, None])[:, :, None]  # (N, T, 1)
        self.root = np.sqrt(self.lengths)[:, None]  # (N, 1)
        return (x * self.mask).sum(axis=1) / self.root

    def backward(self, dout):
        return np.broadcast_to((dout / self.root)[:, None, :], self.shape) * self.mask


@same_name
class SqrtLengthPoolA(SqrtLengthPool):
    def backward(self, dout):
        return np.resize(dout / self.root, self.shape) * self.mask


# ---- attention -------------------------------------------------------------------------------


def projections_back(layer, dq, dk, dv):
    """Fills dWq, dWk, dWv of Q, K, V = x Wq, x Wk, x Wv and returns their paths' dx."""
    dx = 0
    for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
        layer.grads[w] = rows(layer.x).T @ rows(d)
        dx = dx + d @ layer.params[w].T
    return dx


class BucketBiasAttention(mn.Layer):
    """Single-head self-attention with a bucketed relative-position bias (T5's idea, with
    buckets of two offsets): the offset i - j of query i and key j falls in bucket
    clip((i - j) // 2, -2, 1) + 2, one of 4, whose learned bias B is added to the score;
    S = Q Kᵀ/√D + B[bucket], P = softmax(S) over the keys, y = P V.  Backward rebuilds the
    buckets and adds dS into dB bucket by bucket (np.bincount).
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), B (4,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), B=(4,))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        off = np.arange(T)[:, None] - np.arange(T)[None, :]
        bias = self.params["B"][np.clip(off // 2, -2, 1) + 2]
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale + bias)
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        self.grads["B"] = np.bincount(self.buckets(p.shape[-1]).ravel(),
                                      weights=ds.sum(axis=0).ravel(), minlength=4)
        ds = ds * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def buckets(self, T):
        """The bucket of every (query, key) pair, (T, T), as forward found them."""
        off = np.arange(T)[:, None] - np.arange(T)[None, :]
        return np.clip(off // 2, -2, 1) + 2


@same_name
class BucketBiasAttentionA(BucketBiasAttention):
    def buckets(self, T):
        off = np.arange(T)[:, None] - np.arange(T)[None, :]
        return np.clip((off / 2).astype(int), -2, 1) + 2


class SelfBiasAttention(mn.Layer):
    """Single-head self-attention with a learned self-affinity β added to the diagonal of the
    scores, S = Q Kᵀ/√D + β I (how much more each step attends to itself), P = softmax(S) over
    the keys, y = P V.  dβ = Σ_n Σ_i dS[n, i, i], the trace of every sample's dS.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D), beta (1,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), beta=(1,))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        s = self.q @ self.k.swapaxes(-1, -2) * self.scale + self.params["beta"] * np.eye(T)
        self.p = softmax(s)
        return self.p @ self.v

    def backward(self, dout):
        p = self.p
        dv = p.swapaxes(-1, -2) @ dout
        dp = dout @ self.v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        self.grads["beta"] = np.array([self.diagonal_sum(ds)])
        ds = ds * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def diagonal_sum(self, ds):
        """Σ over samples of the trace of dS (N, T, T)."""
        return np.diagonal(ds, axis1=1, axis2=2).sum()


@same_name
class SelfBiasAttentionA(SelfBiasAttention):
    def diagonal_sum(self, ds):
        return np.diagonal(ds).sum()


class SharedMapAttention(mn.Layer):
    """Self-attention with one attention map for the whole batch (a batch-level pattern, as a
    'global attention' prior): the samples' scores S_n = Q_n K_nᵀ/√D are averaged before the
    softmax, P = softmax(mean_n S_n) (T, T), and every sample is mixed by it, y_n = P V_n.
    Backward: dP = Σ_n dO_n V_nᵀ collects every sample, goes back through the softmax once, and
    each sample's scores get 1/N of it.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.p = softmax((self.q @ self.k.swapaxes(-1, -2)).mean(axis=0) * self.scale)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.T @ dout
        ds = self.scores_back(dout @ self.v.swapaxes(-1, -2)) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def scores_back(self, dps):
        """dL/dS_n for every sample, from the samples' dP_n = dO_n V_nᵀ (N, T, T)."""
        p, dp = self.p, dps.sum(axis=0)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))
        return np.broadcast_to(ds / len(dps), dps.shape)


@same_name
class SharedMapAttentionA(SharedMapAttention):
    def scores_back(self, dps):
        p = self.p
        return p * (dps - (dps * p).sum(axis=-1, keepdims=True))


class PostMaskAttention(mn.Layer):
    """Causal self-attention masked after the softmax, without renormalizing: P = softmax(S)
    over all T keys, S = Q Kᵀ/√D, then the future is cut off, P̃ = P ⊙ M (M lower-triangular,
    diagonal included), and y = P̃ V.  The future keys still took part in the normalization, so
    backward takes the softmax's Jacobian at the full P with dP = dP̃ ⊙ M.
    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        T = x.shape[1]
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.mask = np.tril(np.ones((T, T)))
        self.p = softmax(self.q @ self.k.swapaxes(-1, -2) * self.scale)
        self.pm = self.p * self.mask
        return self.pm @ self.v

    def backward(self, dout):
        dv = self.pm.swapaxes(-1, -2) @ dout
        dp = (dout @ self.v.swapaxes(-1, -2)) * self.mask
        ds = self.softmax_back(dp) * self.scale
        return projections_back(self, ds @ self.k, ds.swapaxes(-1, -2) @ self.q, dv)

    def softmax_back(self, dp):
        """dL/dS from dL/dP, at the softmax's own output P."""
        return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))


@same_name
class PostMaskAttentionA(PostMaskAttention):
    def softmax_back(self, dp):
        return self.pm * (dp - (dp * self.pm).sum(axis=-1, keepdims=True))


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("window-sigmoid_20", ACT, lambda: dense_net(WindowSigmoidA(), seed=2001, scale=2.0),
         "the derivative of an integral with variable limits, ∫_{x-1}^{x+1} σ(t) dt, is the "
         "integrand at the upper limit minus the integrand at the lower one (Leibniz's rule: "
         "the lower limit x - 1 enters with a minus); backward adds them, σ(x + 1) + σ(x - 1), "
         "where dy/dx = σ(x + 1) - σ(x - 1) = d/dx [softplus(x + 1) - softplus(x - 1)]",
         "return sigmoid(self.x + 1) - sigmoid(self.x - 1)"),
    Case("tanh-softplus_20", ACT, lambda: dense_net(TanhSoftplusA(), seed=2002, scale=2.0),
         "the chain rule is applied to the two functions in the other order: "
         "σ(tanh x)·(1 - tanh² x) is the derivative of softplus(tanh(x)), softplus's slope "
         "at tanh(x) times tanh's slope at x; forward is tanh(softplus(x)), whose derivative is "
         "tanh's slope at softplus(x) times softplus's slope at x, (1 - y²)·σ(x)",
         "return (1 - self.y**2) * sigmoid(self.x)"),
    Case("cross-gate_20", ACT, lambda: dense_net(CrossGateA(), width=6, seed=2003, scale=2.0),
         "np.concatenate([da, db], axis=1) puts the three a-gradients first and the three "
         "b-gradients after them, [da0, da1, da2, db0, db1, db2], where forward took the pairs "
         "interleaved, a = x[:, 0::2] and b = x[:, 1::2]: every feature but the first and the "
         "last gets another feature's gradient (feature 1, b0, gets da1); the pairs' gradients "
         "(da, db) themselves are right and must go back to the even and odd places",
         "dx = np.empty((len(da), 2 * da.shape[1])); dx[:, 0::2], dx[:, 1::2] = da, db; "
         "return dx"),
    Case("signed-sqrt_20", ACT, lambda: dense_net(SignedSqrtA(), seed=2004, scale=2.0),
         "[[0.0] * D] * N repeats a reference to one list N times: the N rows of dx are the same "
         "list object, so each dx[n][d] = ... writes into every row, and np.array(dx) gives "
         "every sample the last sample's gradients; the list comprehension "
         "[[0.0] * D for _ in range(N)] makes N separate rows (the slope "
         "dout/(2√(1 + |x|)) itself is right)",
         "dx = [[0.0] * D for _ in range(N)]"),
    Case("nmu_20", DENSE, lambda: dense_net(NMUA(5, 4, seed=2005), seed=2005),
         "y_k is the product of the D factors f_dk = W_dk x_d + 1 - W_dk, so by the product rule "
         "each factor's slope (x_d - 1 for W_dk, W_dk for x_d) is multiplied by the product of "
         "the other D - 1 factors, Π_{d' ≠ d} f_d'k; backward leaves that product out (ones), "
         "as if y were the sum of the factors: dW and dx are both wrong",
         "left = np.cumprod(np.concatenate([ones, f[:, :-1]], axis=1), axis=1); right = "
         "np.cumprod(np.concatenate([ones, f[:, :0:-1]], axis=1), axis=1)[:, ::-1]; "
         "return left * right"),
    Case("flat-dense_20", DENSE, lambda: dense_net(FlatDenseA(5, 4, seed=2006), seed=2006),
         "dW.T.ravel() lists dW column by column (the transpose's order, numpy's order='F'), "
         "but forward's theta[:D·F].reshape(D, F) reads W row by row: the gradient of W[i, j] "
         "is written at flat position j·D + i, where W[i, j] is theta[i·F + j], so the weights' "
         "part of dtheta is scrambled (the bias part at the end, and dx, are right)",
         "return np.concatenate([dW.ravel(), db])"),
    Case("euler-block_20", DENSE, lambda: dense_net(EulerBlockA(5, seed=2007), seed=2007),
         "each Euler step is differentiated at its output state z_{s+1}, as the continuous "
         "adjoint ODE integrated backwards from y would have it, where the discrete step "
         "z_{s+1} = z_s + h tanh(z_s W + b) evaluated the map at its input z_s: tanh's slope "
         "and the z paired with da in dW come from the wrong state, one step later, so dW, db "
         "and dx all miss the exact gradient of the three steps",
         "return self.zs[s]"),
    Case("euler-block-correct_20", DENSE,
         lambda: dense_net(EulerBlock(5, seed=2031), seed=2031), CORRECT),
    Case("scale-only-norm_20", NORM, lambda: dense_net(ScaleOnlyNormA(5), seed=2008),
         "σ is the standard deviation about the features' mean, so dσ/dx_i = (x_i - μ)/(Dσ); "
         "backward writes x_i/(Dσ), the slope of a root mean square about 0, so the correction "
         "term multiplies u = x/σ where c = (x - μ)/σ belongs: dx = (du - c·mean(du ⊙ u))/σ "
         "(the output itself is not centered, but σ is; dg is right)",
         "return self.c"),
    Case("cov-batchnorm_20", NORM, lambda: dense_net(CovBatchNormA(6), width=6, seed=2009),
         "np.cov takes each row as a variable unless rowvar=False: np.cov(x, bias=True) is the "
         "N × N covariance between the samples, and its diagonal the spread of each sample over "
         "its features, where batch norm needs each feature's variance over the batch; with "
         "N = D = 6 the (N,) vector broadcasts as a row, so feature d is standardized by sample "
         "d's variance in forward while backward's formula is that of the batch variance "
         "(dgamma and dbeta are right)",
         "return np.diag(np.cov(x, rowvar=False, bias=True))"),
    Case("adain_20", NORM, lambda: dense_net(AdaINA(), width=6, seed=2010),
         "the style's statistics μ_s and σ_s are computed from the second half of x, so that "
         "half gets a gradient through them, ds = dμ_s/D + dσ_s (s - μ_s)/(D σ_s) with "
         "dμ_s = Σ dout and dσ_s = Σ dout ⊙ ĉ; backward returns zeros for it, as if the "
         "style were a constant input (the content half's gradient is right)",
         "dmu = dout.sum(axis=1, keepdims=True); dstd = (dout * self.chat).sum(axis=1, "
         "keepdims=True); return dmu / D + dstd * self.shat / D"),
    Case("morph-dilation_20", CONV, lambda: image_net(MorphDilationA(3, 2, seed=2011),
                                                      seed=2011),
         "the kernel is added to the input window, y = max(x_win + W) + b, so the winning tap's "
         "dW is dout itself (d(x + W)/dW = 1); backward multiplies it by the input pixel at "
         "that tap, as a convolution's dW would (d(x·W)/dW = x): each output's share of dW is "
         "scaled by the input pixel that won its max (dx and db are right)",
         "return g.sum(axis=0)"),
    Case("morph-dilation-correct_20", CONV,
         lambda: image_net(MorphDilation(3, 2, seed=2032), seed=2032), CORRECT),
    Case("gaussian-spot-pool_20", POOL, lambda: image_net(GaussianSpotPoolA(), seed=2012),
         "np.meshgrid's default indexing='xy' returns the column index first: ii[a, b] = b and "
         "jj[a, b] = a, so the weight map rebuilt in backward is the transpose of forward's "
         "(built with indexing='ij'); the spot is off the diagonal (row 0.5, column 2), so "
         "pixel (i, j) gets the weight of pixel (j, i) (it runs since H = W)",
         "ii, jj = np.meshgrid(np.arange(H), np.arange(W), indexing='ij')"),
    Case("pyramid-pool_20", POOL, lambda: image_net(PyramidMaxPoolA(), seed=2013),
         "dx[pos] with pos a list, not a tuple, is numpy's integer-array indexing along the "
         "first axis: [n, c, i, j] picks the samples n, c, i and j (all < 4 here, so it runs) "
         "and += adds the output's gradient to every pixel of every channel of those samples "
         "(once per distinct sample), where dx[tuple(pos)] is the one entry (n, c, i, j) that "
         "held the maximum",
         "dx[tuple(pos)] += dout[n, cell * C + c]"),
    Case("listmle_20", LOSS, lambda: loss_net(ListMLEA(), rankings, width=4, seed=2014,
                                              scale=2.0),
         "the i-th term's log-sum-exp runs over the items not yet placed, ranks i to C - 1 of "
         "the target order, so its gradient is the softmax over that suffix (0 for the items "
         "ranked before i); backward takes the softmax over all C items for every term, so "
         "each item collects every term's weight, not only those of the terms i <= its rank",
         "w = np.zeros_like(self.sp); w[:, i:] = softmax(self.sp[:, i:]); return w"),
    Case("listmle-correct_20", LOSS, lambda: loss_net(ListMLE(), rankings, width=4, seed=2033,
                                                      scale=2.0), CORRECT),
    Case("margin-ranking_20", LOSS, lambda: loss_net(MarginRankingA(), signs, width=2,
                                                     seed=2015, scale=3.0),
         "g[n, 1] == self.y[n] / N is a comparison, not an assignment: Python evaluates it and "
         "throws the result away, so the second score of every pair with an open hinge "
         "(samples 0, 1, 2 and 4) keeps its 0 where it must get +y/N (the first score's -y/N "
         "is right)",
         "g[n, 1] = self.y[n] / N"),
    Case("angular-margin_20", LOSS, lambda: loss_net(AngularMarginA(), labels, seed=2016,
                                                     scale=1.0),
         "cos(θ + m) = c cos m - sin θ sin m with sin θ = √(1 - c²), so "
         "d cos(θ + m)/dc = cos m + sin m · c/√(1 - c²); backward keeps cos m alone, as if "
         "sin θ did not move with c: the label's score gets the wrong gradient (the other "
         "classes', κ p_j (1 - c_j²)/N, are right)",
         "return np.cos(self.m) + np.sin(self.m) * c / np.sqrt(1 - c**2)"),
    Case("shift-gate_20", SEQ, lambda: sequence_net(ShiftGateA(4, seed=2017), seed=2017),
         "np.roll without axis shifts the flattened array: the gate's gradient moves one "
         "feature to the left (each step's first feature wrapping into the previous step's "
         "last, across samples too), not one step back in time, so x_{t-1} does not get the "
         "gradient of the gate it fed at step t; np.roll(d, -1, axis=1) moves it back one "
         "step (the direct part dout ⊙ g, dW and db are right)",
         "back = np.roll(d, -1, axis=1)"),
    Case("smoother_20", SEQ, lambda: sequence_net(SmootherA(), seed=2018),
         "the adjoint of y = A⁻¹ x is A⁻ᵀ: the gradient must be solved for, "
         "u = solve(Aᵀ, dout); backward multiplies dout by Aᵀ, forward's matrix, instead of "
         "by its inverse, so dx = u and dℓ = -λ Σ u ⊙ (L y), which both use u, are wrong",
         "return np.linalg.solve(self.A.T, dout)"),
    Case("token-gate_20", SEQ, lambda: sequence_net(TokenGateA(4, seed=2019), seed=2019),
         "self.g[:, None] puts the new axis after the samples, (N, 1, T), not after the steps: "
         "broadcast against dout (N, T, D) it runs since T = D = 4, and feature d of every "
         "step is scaled by step d's gate, where g[..., None] (N, T, 1) scales every feature of "
         "step t by its own g_t (the gate's path, dw and dc are right)",
         "return self.g[..., None] * dout + da[..., None] * self.params['w']"),
    Case("sqrt-length-pool_20", SEQ, lambda: sequence_net(SqrtLengthPoolA([4, 2, 3, 1]),
                                                          seed=2020),
         "np.resize does not broadcast along a new axis: it fills the (N, T, D) shape by "
         "repeating dout/√L's rows in order, so step t of sequence n gets row (n·T + t) mod N, "
         "here (N = T = 4) sequence t's gradient at step t of every sequence, where every real "
         "step of sequence n needs its own dout_n/√L_n",
         "return np.broadcast_to((dout / self.root)[:, None, :], self.shape) * self.mask"),
    Case("bucket-bias-attention_20", ATTN,
         lambda: sequence_net(BucketBiasAttentionA(4, seed=2021), seed=2021),
         "astype(int) truncates toward zero where forward's // floors: for the odd negative "
         "offsets i - j = -1 and -3 backward's bucket index is 0 and -1 (buckets 2 and 1) "
         "instead of -1 and -2 (buckets 1 and 0), so those pairs' dS are added to the wrong "
         "entries of dB and bucket 0 gets nothing (dWq, dWk, dWv and dx are right)",
         "return np.clip(off // 2, -2, 1) + 2"),
    Case("self-bias-attention_20", ATTN,
         lambda: sequence_net(SelfBiasAttentionA(4, seed=2022), seed=2022),
         "np.diagonal takes the diagonal over the first two axes unless told otherwise "
         "(axis1=0, axis2=1): on dS (N, T, T) it returns dS[k, k, :], query row k of sample k, "
         "and every softmax row of dS sums to 0, so dβ comes out 0; β sits on each sample's "
         "(query, key) diagonal, np.diagonal(ds, axis1=1, axis2=2) (the other gradients are "
         "right)",
         "return np.diagonal(ds, axis1=1, axis2=2).sum()"),
    Case("shared-map-attention_20", ATTN,
         lambda: sequence_net(SharedMapAttentionA(4, seed=2023), seed=2023),
         "the attention map is shared by the batch, P = softmax(mean_n S_n): dP is the sum of "
         "every sample's dO_n V_nᵀ, and each sample's scores get 1/N of the softmax backward "
         "of that total; backward takes each sample's own dP_n back through the softmax, as if "
         "P depended on S_n alone, so dQ and dK, hence dWq, dWk and their part of dx, are "
         "wrong (dV and dWv are right)",
         "dp = dps.sum(axis=0); ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)); "
         "return np.broadcast_to(ds / len(dps), dps.shape)"),
    Case("post-mask-attention_20", ATTN,
         lambda: sequence_net(PostMaskAttentionA(4, seed=2024), seed=2024),
         "the mask is applied after the softmax, which normalized over all T keys: the "
         "masked-out future keys still share the normalization, so their scores get "
         "dS_ij = -P_ij Σ_k dP_ik P_ik; backward takes the Jacobian at the masked weights "
         "P ⊙ M, which gives them 0, as if the softmax had run over the allowed keys only "
         "(dQ and dK, hence dWq, dWk and that part of dx, are wrong; dV is right)",
         "return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
