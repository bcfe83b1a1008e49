"""Student layers with one bug each, of kinds that tests/students.py and tests/planted.py lack.

The dev set: about 60 % of the cases, from every family. tests/unlisted_heldout.py holds the
rest, with bug kinds that appear nowhere in this file, for a cold measure of the diagnoses.

Every layer is written from scratch, CS231n-style, as a subclass of mn.Layer (or mn.Loss). A
buggy class is a correct student class with one method rewritten the wrong way, so that its
parent is the fix (tests/test_unlisted.py confirms both). A buggy class takes its parent's
name (`@same_name`): the report prints class names, and it must not give the bug away.

A case's `build()` returns (model, X, y) with the student's layer inside a small network, or
("layer", layer, x, y) for mn.check_layer. `confirm(case)` is the textbook reference: centered
differences on plain forward and backward calls of the student's layer alone, on the input it
sees in the model, with np.random (and the layer's own Generators) rewound before each call.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from students import RIGHT, WeightNormDense, init, numeric_gradient, rel_error, rewinder

import minnet as mn

CORRECT = "correct"


@dataclass
class Case:
    """A student's layer in a network, and what a teaching assistant would say about it."""

    name: str
    family: str
    build: Callable[[], tuple]  # () -> (model, X, y) or ("layer", layer, x, y)
    truth: str  # the mistake in one sentence, or "correct"
    fix: str = ""  # the corrected line(s)

    @property
    def buggy(self) -> bool:
        return self.truth != CORRECT


def same_name(cls):
    """Show a buggy subclass under its parent's name: a student calls the class after the layer."""
    cls.__name__ = cls.__qualname__ = cls.__mro__[1].__name__
    return cls


def with_params(layer, seed: int, **shapes) -> None:
    """Small random parameters and zero gradients of the same shapes."""
    layer.params = init(seed, **shapes)
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}


def zero_grads(layer) -> None:
    """New zero arrays in grads, for a backward that adds to them step by step."""
    for k in layer.grads:
        layer.grads[k] = np.zeros_like(layer.params[k])


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def pad(x, p):
    """Zeros around the two last axes of (N, C, H, W)."""
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def rows(a):
    """(N, T, D) -> (N·T, D): every position one row, for the weight gradients."""
    return a.reshape(-1, a.shape[-1])


# ---- elementwise activations -----------------------------------------------------------------


class ELU(mn.Layer):
    """y = x where x > 0, alpha (eˣ - 1) elsewhere.  x, y: (N, D)."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.alpha * (np.exp(x) - 1))

    def backward(self, dout):
        return dout * np.where(self.x > 0, 1.0, self.alpha * np.exp(self.x))


@same_name
class ELUOnePiece(ELU):
    def backward(self, dout):
        return dout * self.alpha * np.exp(self.x)


class GELU(mn.Layer):
    """y = x/2 (1 + tanh(u)), u = c (x + 0.044715 x³), c = √(2/π).  x, y: (N, D)."""

    c = np.sqrt(2 / np.pi)

    def forward(self, x):
        self.x = x
        self.t = np.tanh(self.c * (x + 0.044715 * x**3))
        return 0.5 * x * (1 + self.t)

    def backward(self, dout):
        x, t = self.x, self.t
        return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t**2) * self.du(x))

    def du(self, x):
        """du/dx."""
        return self.c * (1 + 3 * 0.044715 * x**2)


@same_name
class GELUPowerRule(GELU):
    def du(self, x):
        return self.c * (1 + 0.044715 * x**2)


class Mish(mn.Layer):
    """y = x tanh(softplus(x)), softplus(x) = log(1 + eˣ).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.sp = np.logaddexp(0, x)
        self.t = np.tanh(self.sp)
        return x * self.t

    def backward(self, dout):
        return dout * (self.t + self.x * (1 - self.t**2) * self.dsoftplus())

    def dsoftplus(self):
        return sigmoid(self.x)


@same_name
class MishSigmoidOfSoftplus(Mish):
    def dsoftplus(self):
        return sigmoid(self.sp)


class HardTanh(mn.Layer):
    """y = clip(x, -1, 1): slope 1 inside, 0 outside.  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return np.clip(x, -1, 1)

    def backward(self, dout):
        return dout * ((self.x > -1) & (self.x < 1))


@same_name
class HardTanhLowerBoundOnly(HardTanh):
    def backward(self, dout):
        return dout * (self.x > -1)


# ---- dense-like ------------------------------------------------------------------------------


def affine_backward(layer, x, dz):
    """CS231n's affine_backward for z = x W + b: fills dW, db and returns dx."""
    layer.grads["W"] = x.T @ dz
    layer.grads["b"] = dz.sum(axis=0)
    return dz @ layer.params["W"].T


class Quadratic(mn.Layer):
    """y_k = xᵀ W_k x + b_k, one quadratic form per output.  x (N, D), W (K, D, D) -> (N, K)."""

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, W=(k, d, d), b=(k,))

    def forward(self, x):
        self.x = x
        return np.einsum("ni,kij,nj->nk", x, self.params["W"], x) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = np.einsum("nk,ni,nj->kij", dout, self.x, self.x)
        self.grads["b"] = dout.sum(axis=0)
        return self.dx(dout)

    def dx(self, dout):
        W, x = self.params["W"], self.x
        return np.einsum("nk,kij,nj->ni", dout, W, x) + np.einsum("nk,kij,ni->nj", dout, W, x)


@same_name
class QuadraticSymmetric(Quadratic):
    def dx(self, dout):
        return 2 * np.einsum("nk,kij,nj->ni", dout, self.params["W"], self.x)


class Bilinear(mn.Layer):
    """y_k = x1ᵀ W_k x2 + b_k with x = [x1, x2] split in halves.  x (N, 2D), W (K, D, D)."""

    def __init__(self, d, k, seed=0):
        super().__init__()
        with_params(self, seed, W=(k, d, d), b=(k,))

    def forward(self, x):
        D = x.shape[1] // 2
        self.x1, self.x2 = x[:, :D], x[:, D:]
        return np.einsum("ni,kij,nj->nk", self.x1, self.params["W"], self.x2) + self.params["b"]

    def backward(self, dout):
        W = self.params["W"]
        self.grads["W"] = np.einsum("nk,ni,nj->kij", dout, self.x1, self.x2)
        self.grads["b"] = dout.sum(axis=0)
        dx1 = np.einsum("nk,kij,nj->ni", dout, W, self.x2)
        dx2 = np.einsum("nk,kij,ni->nj", dout, W, self.x1)
        return np.concatenate([dx1, dx2], axis=1)


class MaxoutDense(mn.Layer):
    """The largest of k affine pieces: z = x W + b seen as (N, H, k), y = max over k.

    x (N, D), W (D, H·k), b (H·k,) -> y (N, H)."""

    def __init__(self, d, h, k=2, seed=0):
        super().__init__()
        self.h, self.k = h, k
        with_params(self, seed, W=(d, h * k), b=(h * k,))

    def forward(self, x):
        self.x = x
        self.z = x @ self.params["W"] + self.params["b"]
        return self.z.reshape(len(x), self.h, self.k).max(axis=2)

    def backward(self, dout):
        return affine_backward(self, self.x, self.dz(dout))

    def dz(self, dout):
        z = self.z.reshape(len(dout), self.h, self.k)
        mask = z == z.max(axis=2, keepdims=True)
        return (mask * dout[:, :, None]).reshape(len(dout), -1)


@same_name
class MaxoutPiecesFirst(MaxoutDense):
    def dz(self, dout):
        z = self.z.reshape(len(dout), self.k, self.h)
        mask = z == z.max(axis=1, keepdims=True)
        return (mask * dout[:, None, :]).reshape(len(dout), -1)


@same_name
class WeightNormRawV(WeightNormDense):
    def backward(self, dout):
        dx = super().backward(dout)
        dW = self.x.T @ dout
        self.grads["g"] = (dW * self.params["W"]).sum(axis=0)
        self.grads["W"] = self.params["g"] / self.norm * (dW - self.v * self.grads["g"])
        return dx


class GLU(mn.Layer):
    """Gated linear unit: [a, g] = x W + b split in halves, y = a ⊙ σ(g).

    x (N, D), W (D, 2H), b (2H,) -> (N, H)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, 2 * h), b=(2 * h,))

    def forward(self, x):
        z = x @ self.params["W"] + self.params["b"]
        H = z.shape[1] // 2
        self.x, self.a, self.s = x, z[:, :H], sigmoid(z[:, H:])
        return self.a * self.s

    def backward(self, dout):
        da = dout * self.s
        dg = dout * self.a * self.s * (1 - self.s)
        return affine_backward(self, self.x, self.join(da, dg))

    def join(self, da, dg):
        return np.concatenate([da, dg], axis=1)


@same_name
class GLUHalvesSwapped(GLU):
    def join(self, da, dg):
        return np.concatenate([dg, da], axis=1)


# ---- normalization ---------------------------------------------------------------------------


class BatchNorm1d(mn.Layer):
    """Each feature standardized over the batch, then gamma x̂ + beta.  x (N, D) -> (N, D).

    Training uses the batch's mean and variance and updates the running ones; eval uses those.
    """

    def __init__(self, d, momentum=0.9, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.params = {"gamma": np.ones(d), "beta": np.zeros(d)}
        self.grads = {"gamma": np.zeros(d), "beta": np.zeros(d)}
        self.running_mean, self.running_var = np.zeros(d), np.ones(d)

    def forward(self, x):
        if self.training:
            mu, var = x.mean(axis=0), self.variance(x)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"] * self.xhat + self.params["beta"]

    def variance(self, x):
        return x.var(axis=0)

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=0)
        self.grads["beta"] = dout.sum(axis=0)
        return self.dx(dout * self.params["gamma"], self.std)

    def dx(self, dxhat, std):
        N, xhat = len(dxhat), self.xhat
        return (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)


@same_name
class BatchNormUnbiased(BatchNorm1d):
    def variance(self, x):
        return x.var(axis=0, ddof=1)


@same_name
class BatchNormRunningStd(BatchNorm1d):
    def backward(self, dout):
        super().backward(dout)
        return self.dx(dout * self.params["gamma"], np.sqrt(self.running_var + self.eps))


class RMSNorm(mn.Layer):
    """y = g ⊙ x / r, r = √(mean(x²) + eps) over the features.  x (N, D), g (D,) -> (N, D)."""

    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.params = {"g": np.linspace(0.5, 1.5, d)}
        self.grads = {"g": np.zeros(d)}

    def forward(self, x):
        self.x = x
        self.r = np.sqrt((x**2).mean(axis=1, keepdims=True) + self.eps)
        self.xhat = x / self.r
        return self.params["g"] * self.xhat

    def backward(self, dout):
        self.grads["g"] = (dout * self.xhat).sum(axis=0)
        return self.dx(dout * self.params["g"])

    def dx(self, dxhat):
        return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r


@same_name
class RMSNormLayerNormBackward(RMSNorm):
    def dx(self, dxhat):
        xhat = self.xhat
        return (dxhat - dxhat.mean(axis=1, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / self.r


class GroupNorm(mn.Layer):
    """Channels in G groups; each (sample, group) standardized over its channels and pixels,
    then gamma x̂ + beta per channel.  x (N, C, H, W), gamma and beta (C,) -> (N, C, H, W)."""

    def __init__(self, channels, groups, eps=1e-5):
        super().__init__()
        self.groups, self.eps = groups, eps
        self.params = {"gamma": np.linspace(0.5, 1.5, channels), "beta": np.zeros(channels)}
        self.grads = {k: np.zeros(channels) for k in self.params}

    def group_mean(self, a):
        """The mean of each (sample, group), broadcast back to a's shape (N, C, H, W)."""
        g = a.reshape(len(a), self.groups, -1)
        return np.broadcast_to(g.mean(axis=2, keepdims=True), g.shape).reshape(a.shape)

    def forward(self, x):
        mu = self.group_mean(x)
        self.std = np.sqrt(self.group_mean((x - mu) ** 2) + self.eps)
        self.xhat = (x - mu) / self.std
        return self.params["gamma"][:, None, None] * self.xhat + self.params["beta"][:, None, None]

    def backward(self, dout):
        self.grads["gamma"] = (dout * self.xhat).sum(axis=(0, 2, 3))
        self.grads["beta"] = dout.sum(axis=(0, 2, 3))
        dxhat, xhat = dout * self.params["gamma"][:, None, None], self.xhat
        return (dxhat - self.group_mean(dxhat) - xhat * self.group_mean(dxhat * xhat)) / self.std


@same_name
class GroupNormChannelMeans(GroupNorm):
    def backward(self, dout):
        super().backward(dout)
        dxhat, xhat = dout * self.params["gamma"][:, None, None], self.xhat
        return (dxhat - dxhat.mean(axis=(2, 3), keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=(2, 3), keepdims=True)) / self.std


# ---- convolution -----------------------------------------------------------------------------


class LoopConv(mn.Layer):
    """Cross-correlation, one output entry at a time (CS231n's conv_forward_naive): stride 1,
    padding p.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H + 2p - k + 1, W + 2p - k + 1)."""

    def __init__(self, c, f, k, padding=0, seed=0):
        super().__init__()
        self.k, self.padding = k, padding
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def forward(self, x):
        W, b, k = self.params["W"], self.params["b"], self.k
        self.xp = pad(x, self.padding)
        N, _, Hp, Wp = self.xp.shape
        out = np.zeros((N, len(b), Hp - k + 1, Wp - k + 1))
        for n, f, i, j in np.ndindex(out.shape):
            out[n, f, i, j] = np.sum(self.xp[n, :, i:i + k, j:j + k] * W[f]) + b[f]
        return out

    def backward(self, dout):
        dxp, dW = self.window_grads(dout)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return self.unpad(dxp)

    def window_grads(self, dout):
        """(dL/dxp, dL/dW), window by window."""
        W, k = self.params["W"], self.k
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(W)
        for n, f, i, j in np.ndindex(dout.shape):
            dW[f] += self.xp[n, :, i:i + k, j:j + k] * dout[n, f, i, j]
            dxp[n, :, i:i + k, j:j + k] += W[f] * dout[n, f, i, j]
        return dxp, dW

    def unpad(self, dxp):
        p = self.padding
        return dxp[:, :, p:dxp.shape[2] - p, p:dxp.shape[3] - p]


@same_name
class LoopConvInputWindow(LoopConv):
    def window_grads(self, dout):
        k = self.k
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for n, f, i, j in np.ndindex(dout.shape):
            dW[f] += self.xp[n, :, i:i + k, j:j + k] * dout[n, f, i, j]
            dxp[n, :, i:i + k, j:j + k] += self.xp[n, :, i:i + k, j:j + k] * dout[n, f, i, j]
        return dxp, dW


class PointwiseConv(mn.Layer):
    """A 1x1 convolution as one matrix product, a row of C channels per pixel.

    x (N, C, H, W), W (C, F), b (F,) -> (N, F, H, W)."""

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(c, f), b=(f,))

    def forward(self, x):
        N, C, H, W = x.shape
        self.x_shape = x.shape
        self.pixels = x.transpose(0, 2, 3, 1).reshape(-1, C)
        out = self.pixels @ self.params["W"] + self.params["b"]
        return out.reshape(N, H, W, -1).transpose(0, 3, 1, 2)

    def backward(self, dout):
        dpix = self.pixel_rows(dout)
        self.grads["W"] = self.pixels.T @ dpix
        self.grads["b"] = dpix.sum(axis=0)
        N, C, H, W = self.x_shape
        return (dpix @ self.params["W"].T).reshape(N, H, W, C).transpose(0, 3, 1, 2)

    def pixel_rows(self, dout):
        return dout.transpose(0, 2, 3, 1).reshape(-1, dout.shape[1])


@same_name
class PointwiseConvNoTranspose(PointwiseConv):
    def pixel_rows(self, dout):
        return dout.reshape(-1, dout.shape[1])


class DepthwiseConv(mn.Layer):
    """One k×k filter per channel, no mixing of channels, padding (k - 1) / 2.

    x (N, C, H, W), W (C, k, k), b (C,) -> (N, C, H, W)."""

    def __init__(self, c, k=3, seed=0):
        super().__init__()
        self.k = k
        with_params(self, seed, W=(c, k, k), b=(c,))

    def forward(self, x):
        k, p = self.k, self.k // 2
        self.xp = pad(x, p)
        out = np.zeros(x.shape)
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                out[:, :, i, j] = (self.xp[:, :, i:i + k, j:j + k] * self.params["W"]).sum((2, 3))
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        k, p = self.k, self.k // 2
        dxp, dW = np.zeros_like(self.xp), np.zeros_like(self.params["W"])
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                g = dout[:, :, i, j, None, None]
                dW += (self.xp[:, :, i:i + k, j:j + k] * g).sum(axis=0)
                dxp[:, :, i:i + k, j:j + k] += self.spread(g)
        self.grads["W"], self.grads["b"] = dW, dout.sum(axis=(0, 2, 3))
        return dxp[:, :, p:-p, p:-p]

    def spread(self, g):
        """What one output pixel (N, C, 1, 1) sends back to its window (N, C, k, k)."""
        return self.params["W"] * g


@same_name
class DepthwiseConvMixesChannels(DepthwiseConv):
    def spread(self, g):
        return (self.params["W"] * g).sum(axis=1, keepdims=True)


class Im2colConv(mn.Layer):
    """Convolution as one matrix product on im2col's columns: stride 1, padding p.

    x (N, C, H, W), W (F, C, k, k), b (F,) -> (N, F, H', W');  cols (N, C·k·k, H'·W')."""

    def __init__(self, c, f, k, padding=0, seed=0):
        super().__init__()
        self.k, self.padding = k, padding
        with_params(self, seed, W=(f, c, k, k), b=(f,))

    def positions(self):
        """The top-left corner of every window, in the order of cols' last axis."""
        _, _, Hp, Wp = self.padded_shape
        return [(i, j) for i in range(Hp - self.k + 1) for j in range(Wp - self.k + 1)]

    def forward(self, x):
        k, (N, F) = self.k, (len(x), len(self.params["b"]))
        xp = pad(x, self.padding)
        self.x_shape, self.padded_shape = x.shape, xp.shape
        self.cols = np.stack([xp[:, :, i:i + k, j:j + k].reshape(N, -1)
                              for i, j in self.positions()], axis=2)
        out = self.params["W"].reshape(F, -1) @ self.cols + self.params["b"][:, None]
        Hp, Wp = xp.shape[2:]
        return out.reshape(N, F, Hp - k + 1, Wp - k + 1)

    def backward(self, dout):
        W = self.params["W"]
        N, F = dout.shape[:2]
        d = dout.reshape(N, F, -1)
        self.grads["W"] = np.einsum("nfp,nqp->fq", d, self.cols).reshape(W.shape)
        self.grads["b"] = d.sum(axis=(0, 2))
        return self.col2im(W.reshape(F, -1).T @ d)

    def col2im(self, dcols):
        N, C, H, W = self.x_shape
        k, p = self.k, self.padding
        dxp = np.zeros(self.padded_shape)
        for col, (i, j) in enumerate(self.positions()):
            dxp[:, :, i:i + k, j:j + k] += dcols[:, :, col].reshape(N, C, k, k)
        return dxp[:, :, p:p + H, p:p + W]


@same_name
class Im2colConvOverwrites(Im2colConv):
    def col2im(self, dcols):
        N, C, H, W = self.x_shape
        k, p = self.k, self.padding
        dxp = np.zeros(self.padded_shape)
        for col, (i, j) in enumerate(self.positions()):
            dxp[:, :, i:i + k, j:j + k] = dcols[:, :, col].reshape(N, C, k, k)
        return dxp[:, :, p:p + H, p:p + W]


# ---- pooling ---------------------------------------------------------------------------------


class MaxPool(mn.Layer):
    """Max over k×k windows taken every s pixels (they overlap when s < k).

    x (N, C, H, W) -> (N, C, (H - k)//s + 1, (W - k)//s + 1)."""

    def __init__(self, k, s):
        super().__init__()
        self.k, self.s = k, s

    def windows(self, shape):
        """(i, j, the window's slices) for every output pixel."""
        k, s = self.k, self.s
        for i in range((shape[2] - k) // s + 1):
            for j in range((shape[3] - k) // s + 1):
                yield i, j, (slice(None), slice(None), slice(i * s, i * s + k),
                             slice(j * s, j * s + k))

    def forward(self, x):
        self.x = x
        k, s = self.k, self.s
        out = np.zeros((*x.shape[:2], (x.shape[2] - k) // s + 1, (x.shape[3] - k) // s + 1))
        for i, j, win in self.windows(x.shape):
            out[:, :, i, j] = x[win].max(axis=(2, 3))
        return out

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        for i, j, win in self.windows(self.x.shape):
            dx[win] += self.mask(self.x[win]) * dout[:, :, i, j, None, None]
        return dx

    def mask(self, window):
        return window == window.max(axis=(2, 3), keepdims=True)


@same_name
class MaxPoolGlobalMax(MaxPool):
    def mask(self, window):
        return window == window.max()


class AvgPoolPadded(mn.Layer):
    """Mean over k×k windows, stride 1, padding (k - 1) / 2, counting only the real pixels
    (PyTorch's count_include_pad=False).  x (N, C, H, W) -> (N, C, H, W)."""

    def __init__(self, k=3):
        super().__init__()
        self.k = k

    def forward(self, x):
        k, p = self.k, self.k // 2
        xp, ones = pad(x, p), pad(np.ones((1, 1, *x.shape[2:])), p)
        self.x_shape = x.shape
        self.counts = np.zeros(x.shape[2:])
        out = np.zeros(x.shape)
        for i in range(x.shape[2]):
            for j in range(x.shape[3]):
                self.counts[i, j] = ones[0, 0, i:i + k, j:j + k].sum()
                out[:, :, i, j] = xp[:, :, i:i + k, j:j + k].sum(axis=(2, 3)) / self.counts[i, j]
        return out

    def backward(self, dout):
        k, p = self.k, self.k // 2
        dxp = pad(np.zeros(self.x_shape), p)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                dxp[:, :, i:i + k, j:j + k] += dout[:, :, i, j, None, None] / self.count(i, j)
        return dxp[:, :, p:-p, p:-p]

    def count(self, i, j):
        """How many real pixels output (i, j) averaged."""
        return self.counts[i, j]


@same_name
class AvgPoolPaddedFullCount(AvgPoolPadded):
    def count(self, i, j):
        return self.k * self.k


class ConcatPool(mn.Layer):
    """[max, mean] of each channel over its pixels, side by side.  x (N, C, H, W) -> (N, 2C)."""

    def forward(self, x):
        self.x = x
        self.top = x.max(axis=(2, 3), keepdims=True)
        return np.concatenate([self.top[:, :, 0, 0], x.mean(axis=(2, 3))], axis=1)

    def backward(self, dout):
        dmax, davg = self.halves(dout)
        H, W = self.x.shape[2:]
        return (self.x == self.top) * dmax[:, :, None, None] + davg[:, :, None, None] / (H * W)

    def halves(self, dout):
        return np.split(dout, 2, axis=1)


@same_name
class ConcatPoolHalvesSwapped(ConcatPool):
    def halves(self, dout):
        davg, dmax = np.split(dout, 2, axis=1)
        return dmax, davg


# ---- dropout, noise, masking -----------------------------------------------------------------


class AdditiveNoise(mn.Layer):
    """y = x + sigma z, z ~ N(0, 1) from np.random.randn on every training call.  x, y: (N, D)."""

    def __init__(self, sigma=0.5):
        super().__init__()
        self.sigma = sigma

    def forward(self, x):
        if not self.training:
            return x
        self.z = np.random.randn(*x.shape)
        return x + self.sigma * self.z

    def backward(self, dout):
        return dout


@same_name
class AdditiveNoiseAsFactor(AdditiveNoise):
    def backward(self, dout):
        return dout * (1 + self.sigma * self.z)


class MaskedMeanOverTime(mn.Layer):
    """The mean over each sequence's real steps; steps t >= its length are padding.

    x (N, T, D), lengths (N,) fixed when built -> y (N, D)."""

    def __init__(self, lengths):
        super().__init__()
        self.lengths = np.asarray(lengths)

    def forward(self, x):
        self.mask = (np.arange(x.shape[1]) < self.lengths[:, None])[:, :, None]  # (N, T, 1)
        self.count = self.mask.sum(axis=1)  # (N, 1)
        return (x * self.mask).sum(axis=1) / self.count

    def backward(self, dout):
        return self.mask * dout[:, None, :] / self.count[:, None, :]


@same_name
class MaskedMeanDividesByT(MaskedMeanOverTime):
    def backward(self, dout):
        return self.mask * dout[:, None, :] / self.mask.shape[1]


class DropPath(mn.Layer):
    """A residual block dropped per sample (stochastic depth): y = x + m f(x) / (1 - p), with
    f(x) = x W + b and m ~ Bernoulli(1 - p) per sample, from the layer's own Generator.

    x (N, D), W (D, D), b (D,) -> (N, D)."""

    def __init__(self, d, p=0.5, seed=0):
        super().__init__()
        self.p, self.rng = p, np.random.default_rng(seed)
        with_params(self, seed + 1, W=(d, d), b=(d,))

    def forward(self, x):
        self.x = x
        keep = self.rng.random(len(x)) >= self.p if self.training else np.ones(len(x), bool)
        self.scale = keep[:, None] / (1 - self.p) if self.training else np.ones((len(x), 1))
        return x + self.scale * (x @ self.params["W"] + self.params["b"])

    def backward(self, dout):
        dx = affine_backward(self, self.x, self.scale * dout)
        return dx + dout


@same_name
class DropPathScaledSkip(DropPath):
    def backward(self, dout):
        dout = dout * self.scale
        dx = affine_backward(self, self.x, dout)
        return dx + dout


# ---- losses ----------------------------------------------------------------------------------


class FocalLoss(mn.Loss):
    """L = -mean((1 - p_y)^γ log p_y), p = softmax(s).  scores (N, C), y (N,) labels -> float."""

    gamma = 2.0

    def forward(self, scores, y):
        self.p, self.y = softmax(scores), y
        self.pt = self.p[np.arange(len(y)), y]
        return float(-np.mean((1 - self.pt) ** self.gamma * np.log(self.pt)))

    def backward(self):
        onehot = np.eye(self.p.shape[1])[self.y]
        return (self.p - onehot) * self.weight()[:, None] / len(self.y)

    def weight(self):
        """dL_n/ds = (p - onehot) times this: the focal weight plus its own slope."""
        g, pt = self.gamma, self.pt
        return (1 - pt) ** g - g * pt * (1 - pt) ** (g - 1) * np.log(pt)


@same_name
class FocalLossConstantWeight(FocalLoss):
    def weight(self):
        return (1 - self.pt) ** self.gamma


class Distillation(mn.Loss):
    """L = T² · mean over samples of KL(q ‖ softmax(s / T)), y = the teacher's probabilities q.

    scores (N, C), y (N, C) rows summing to 1 -> float."""

    T = 2.0

    def forward(self, scores, y):
        self.q = y
        self.p = softmax(scores)  # kept for the predictions
        self.pT = softmax(scores / self.T)
        kl = (y * (np.log(y) - np.log(self.pT))).sum(axis=1)
        return float(self.T**2 * kl.mean())

    def backward(self):
        return self.T * (self.pT - self.q) / len(self.q)


@same_name
class DistillationWrongSoftmax(Distillation):
    def backward(self):
        return self.T * (self.p - self.q) / len(self.q)


class BinaryHinge(mn.Loss):
    """L = mean(max(0, 1 - y s)), labels y in {-1, +1}.  scores (N, 1), y (N,) -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        return float(np.maximum(0, 1 - y * self.s).mean())

    def backward(self):
        active = self.y * self.s < 1
        return (-self.y * active / len(self.y))[:, None]


@same_name
class BinaryHingeIgnoresLabel(BinaryHinge):
    def backward(self):
        active = self.s < 1
        return (-self.y * active / len(self.y))[:, None]


# ---- sequences -------------------------------------------------------------------------------


class Embedding(mn.Layer):
    """One learned row per token id: y[n, t] = W[x[n, t]].  x (N, T) ids (the model hands them
    over as floats) -> y (N, T, D);  W (V, D).  Ids get no gradient: backward returns None."""

    def __init__(self, vocab, d, seed=0):
        super().__init__()
        with_params(self, seed, W=(vocab, d))

    def forward(self, x):
        self.ids = np.rint(x).astype(int)
        return self.params["W"][self.ids]

    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.ids, dout)
        self.grads["W"] = dW
        return None


@same_name
class EmbeddingFancyAdd(Embedding):
    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        dW[self.ids] += dout
        self.grads["W"] = dW
        return None


class RNN(mn.Layer):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b) over T steps, h_0 = 0; backward keeps dh0.

    x (N, T, D) -> hs (N, T, H);  Wx (D, H), Wh (H, H), b (H,).  hs[:, t + 1] keeps h_t."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in range(T):
            self.hs[:, t + 1] = np.tanh(x[:, t] @ Wx + self.hs[:, t] @ Wh + b)
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        self.dh0 = dh_next
        return dx

    def step_back(self, t, dh):
        """Back through step t: dh_t (N, H) -> (dx_t, dh_{t-1}), adding to grads."""
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += self.hs[:, t].T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T


@same_name
class RNNNoDhNext(RNN):
    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, dout[:, t])
        return dx


@same_name
class RNNCurrentH(RNN):
    def step_back(self, t, dh):
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += self.hs[:, t + 1].T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T


class LSTM(mn.Layer):
    """CS231n's LSTM over T steps, h_0 = c_0 = 0, gates in the order i, f, o, g:
    a = x_t Wx + h_{t-1} Wh + b; i, f, o = σ(a[:, :H]), σ(a[:, H:2H]), σ(a[:, 2H:3H]);
    g = tanh(a[:, 3H:]); c_t = f c_{t-1} + i g; h_t = o tanh(c_t).

    x (N, T, D) -> hs (N, T, H);  Wx (D, 4H), Wh (H, 4H), b (4H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 4 * h), Wh=(h, 4 * h), b=(4 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h = c = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            a = x[:, t] @ self.params["Wx"] + h @ self.params["Wh"] + self.params["b"]
            i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
            g = np.tanh(a[:, 3 * H:])
            c_next = f * c + i * g
            self.cache.append((h, c, i, f, o, g, c_next))
            c = c_next
            h = o * np.tanh(c)
            hs.append(h)
        return np.stack(hs, axis=1)

    def backward(self, dout):
        zero_grads(self)
        dx = np.zeros_like(self.x)
        dh_next = dc_next = np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next, dc_next = self.step_back(t, dout[:, t] + dh_next, dc_next)
        return dx

    def step_back(self, t, dh, dc_next):
        """Back through step t: (dh_t, dc_t from step t+1) -> (dx_t, dh_{t-1}, dc_{t-1})."""
        h_prev, c_prev, i, f, o, g, c = self.cache[t]
        tc = np.tanh(c)
        dc = self.dc(dh, dc_next, o, tc)
        da = self.gates_back(dc * g, dc * c_prev, dh * tc, dc * i, i, f, o, g)
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += h_prev.T @ da
        self.grads["b"] += da.sum(axis=0)
        return da @ self.params["Wx"].T, da @ self.params["Wh"].T, dc * f

    def dc(self, dh, dc_next, o, tc):
        """dL/dc_t: through h_t = o tanh(c_t), and straight from c_{t+1}."""
        return dc_next + dh * o * (1 - tc**2)

    def gates_back(self, di, df, do, dg, i, f, o, g):
        """The gates' gradients through their nonlinearities, packed as a is: (N, 4H)."""
        return np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o),
                               dg * (1 - g**2)], axis=1)


@same_name
class LSTMGatesSwapped(LSTM):
    def gates_back(self, di, df, do, dg, i, f, o, g):
        return np.concatenate([di * i * (1 - i), do * o * (1 - o), df * f * (1 - f),
                               dg * (1 - g**2)], axis=1)


@same_name
class LSTMCellWithoutO(LSTM):
    def dc(self, dh, dc_next, o, tc):
        return dc_next + dh * (1 - tc**2)


@same_name
class LSTMNoDcNext(LSTM):
    def dc(self, dh, dc_next, o, tc):
        return dh * o * (1 - tc**2)


class GRU(RNN):
    """torch.nn.GRU's equations over T steps, h_0 = 0, blocks r, z, n:
    gx = x_t Wx + bx, gh = h_{t-1} Wh + bh; r = σ(gx_r + gh_r), z = σ(gx_z + gh_z),
    n = tanh(gx_n + r ⊙ gh_n), h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.

    x (N, T, D) -> hs (N, T, H);  Wx (D, 3H), Wh (H, 3H), bx and bh (3H,).  RNN's backward."""

    def __init__(self, d, h, seed=0):
        mn.Layer.__init__(self)
        self.hidden = h
        with_params(self, seed, Wx=(d, 3 * h), Wh=(h, 3 * h), bx=(3 * h,), bh=(3 * h,))

    def forward(self, x):
        N, T, _ = x.shape
        H = self.hidden
        h = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            gx = x[:, t] @ self.params["Wx"] + self.params["bx"]
            gh = h @ self.params["Wh"] + self.params["bh"]
            r = sigmoid(gx[:, :H] + gh[:, :H])
            z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])
            self.cache.append((h, gh, r, z, n))
            h = (1 - z) * n + z * h
            hs.append(h)
        return np.stack(hs, axis=1)

    def step_back(self, t, dh):
        H = self.hidden
        h_prev, gh, r, z, n = self.cache[t]
        dn, dz, dh_prev = self.mix_back(dh, z, n, h_prev)
        dan = dn * (1 - n**2)
        dr = dan * gh[:, 2 * H:]
        dar, daz = dr * r * (1 - r), dz * z * (1 - z)
        dgx = np.concatenate([dar, daz, dan], axis=1)
        dgh = np.concatenate([dar, daz, dan * r], axis=1)
        self.grads["Wx"] += self.x[:, t].T @ dgx
        self.grads["bx"] += dgx.sum(axis=0)
        self.grads["Wh"] += h_prev.T @ dgh
        self.grads["bh"] += dgh.sum(axis=0)
        return dgx @ self.params["Wx"].T, dh_prev + dgh @ self.params["Wh"].T

    def mix_back(self, dh, z, n, h_prev):
        """Back through h = (1 - z) n + z h_prev: (dn, dz, the direct part of dh_prev)."""
        return dh * (1 - z), dh * (h_prev - n), dh * z


# ---- attention -------------------------------------------------------------------------------


class SelfAttention(mn.Layer):
    """Scaled dot-product self-attention, one head: Q, K, V = x Wq, x Wk, x Wv;
    S = Q Kᵀ / √D (masked above the diagonal when causal); P = softmax(S) over the keys;
    y = P V.  x (N, T, D) -> (N, T, D);  Wq, Wk, Wv (D, D)."""

    causal = False

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d))

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.scores = self.q @ self.k.transpose(0, 2, 1) * self.scale
        T = x.shape[1]
        above = np.triu(np.ones((T, T), dtype=bool), k=1)
        self.p = softmax(np.where(above, -np.inf, self.scores) if self.causal else self.scores)
        return self.p @ self.v

    def backward(self, dout):
        dv = self.p.transpose(0, 2, 1) @ dout
        ds = self.softmax_back(dout @ self.v.transpose(0, 2, 1))
        dq, dk = self.scores_back(ds)
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx

    def softmax_back(self, dp):
        """dL/dS from dL/dP, row by row: P ⊙ (dP - Σ_keys dP ⊙ P)."""
        return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))

    def scores_back(self, ds):
        """(dQ, dK) from dL/dS, S = Q Kᵀ · scale."""
        return ds @ self.k * self.scale, ds.transpose(0, 2, 1) @ self.q * self.scale


class CausalSelfAttention(SelfAttention):
    """SelfAttention where position t attends to positions <= t only."""

    causal = True


@same_name
class SelfAttentionSoftmaxAxis1(SelfAttention):
    def softmax_back(self, dp):
        return self.p * (dp - (dp * self.p).sum(axis=1, keepdims=True))


@same_name
class SelfAttentionUnscaledBackward(SelfAttention):
    def scores_back(self, ds):
        return ds @ self.k, ds.transpose(0, 2, 1) @ self.q


class MultiHeadAttention(mn.Layer):
    """h heads of scaled dot-product self-attention on D/h features each, then Wo.

    x (N, T, D) -> (N, T, D);  Wq, Wk, Wv, Wo (D, D);  inside, heads are (N, h, T, D/h)."""

    def __init__(self, d, heads, seed=0):
        super().__init__()
        self.heads = heads
        with_params(self, seed, Wq=(d, d), Wk=(d, d), Wv=(d, d), Wo=(d, d))

    def split(self, a):
        """(N, T, D) -> (N, h, T, D/h)."""
        N, T, D = a.shape
        return a.reshape(N, T, self.heads, D // self.heads).transpose(0, 2, 1, 3)

    def merge(self, a):
        """(N, h, T, d) -> (N, T, h·d): the heads side by side again."""
        N, h, T, d = a.shape
        return a.transpose(0, 2, 1, 3).reshape(N, T, h * d)

    def merge_back(self, d):
        """The gradient of merge: (N, T, D) -> (N, h, T, D/h)."""
        return self.split(d)

    def forward(self, x):
        self.x = x
        q, k, v = (self.split(x @ self.params[w]) for w in ("Wq", "Wk", "Wv"))
        self.o = self.merge(self.attend(q, k, v))
        return self.o @ self.params["Wo"]

    def attend(self, q, k, v):
        self.q, self.k, self.v = q, k, v
        self.p = softmax(q @ k.swapaxes(-1, -2) / np.sqrt(q.shape[-1]))
        return self.p @ v

    def attend_back(self, do):
        """(dq, dk, dv) from dL/d(P V), every array (N, h, T, d)."""
        q, k, v, p = self.q, self.k, self.v, self.p
        dv = p.swapaxes(-1, -2) @ do
        dp = do @ v.swapaxes(-1, -2)
        ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) / np.sqrt(q.shape[-1])
        return ds @ k, ds.swapaxes(-1, -2) @ q, dv

    def backward(self, dout):
        self.grads["Wo"] = rows(self.o).T @ rows(dout)
        dq, dk, dv = self.attend_back(self.merge_back(dout @ self.params["Wo"].T))
        dx = 0
        for w, d in (("Wq", dq), ("Wk", dk), ("Wv", dv)):
            d = self.merge(d)
            self.grads[w] = rows(self.x).T @ rows(d)
            dx = dx + d @ self.params[w].T
        return dx


@same_name
class MultiHeadAttentionPlainReshape(MultiHeadAttention):
    def merge_back(self, d):
        N, T, D = d.shape
        return d.reshape(N, self.heads, T, D // self.heads)


# ---- networks around a student's layer -------------------------------------------------------


def shape_after(layers, X):
    """The output shape of the layers on X, run on copies; np.random is left as it was."""
    state = np.random.get_state()
    try:
        h = X
        for layer in copy.deepcopy(layers):
            h = layer.forward(h)
        return h.shape
    finally:
        np.random.set_state(state)


def classifier(layers, X, seed, classes=3):
    """The layers, then Flatten and Dense to `classes` scores, with SoftmaxCE; (model, X, y)."""
    width = int(np.prod(shape_after(layers, X)[1:]))
    head = [mn.Flatten(), mn.Dense(width, classes, init="xavier", seed=seed + 1)]
    y = np.random.default_rng(seed + 2).integers(0, classes, len(X))
    return mn.Model([*layers, *head], loss=mn.SoftmaxCE()), X, y


def dense_net(layer, width=5, seed=0, n=6, scale=1.0):
    """Dense(4, width) - layer - Flatten - Dense(., 3) - SoftmaxCE on (n, 4) data."""
    X = scale * np.random.default_rng(seed).standard_normal((n, 4))
    return classifier([mn.Dense(4, width, init="xavier", seed=seed), layer], X, seed)


def image_net(layer, channels=3, size=(4, 4), seed=0, n=4):
    """Conv2D(2, channels, 3, padding=1) - layer - Flatten - Dense(., 3) - SoftmaxCE."""
    X = np.random.default_rng(seed).standard_normal((n, 2, *size))
    conv = mn.Conv2D(2, channels, 3, padding=1, init="xavier", seed=seed)
    return classifier([conv, layer], X, seed)


def sequence_net(layer, width=4, t=4, seed=0, n=4):
    """Dense(3, width) on (n, t, 3) - layer - Flatten - Dense(., 3) - SoftmaxCE, y (n,).

    One label per sequence: a Model rejects y (n, t) for SoftmaxCE once a layer of the user's
    own hides the time axis from it (it then expects y (n,))."""
    X = np.random.default_rng(seed).standard_normal((n, t, 3))
    return classifier([mn.Dense(3, width, init="xavier", seed=seed), layer], X, seed)


def loss_net(loss, targets, width=3, seed=0, n=6, scale=1.0, t=None):
    """Dense(4, 5) - Tanh - Dense(5, width) - the student's loss on (n, 4) data, or on (n, t, 4)
    sequences; targets(rng, n) -> y."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4) if t is None else (n, t, 4))
    layers = [mn.Dense(4, 5, init="xavier", seed=seed), mn.Tanh(),
              mn.Dense(5, width, init="xavier", seed=seed + 1)]
    layers[-1].params["W"] *= scale
    return mn.Model(layers, loss=loss), X, targets(rng, n)


def labels(rng, n, classes=3):
    return rng.integers(0, classes, n)


def teacher(rng, n, classes=3):
    return softmax(rng.standard_normal((n, classes)))


def signs(rng, n):
    return rng.choice([-1, 1], n)


# ---- the reference -------------------------------------------------------------------------


def student(model):
    """(the student's layer or loss, its index in the model): the first object not minnet's."""
    for i, obj in enumerate([*model.layers, model.loss]):
        if not type(obj).__module__.startswith("minnet"):
            return obj, i
    raise ValueError("the model holds no layer of a student's")


def parts(case: Case):
    """(the student's layer or loss, the input it gets in the network, y if it is a loss)."""
    built = case.build()
    if built[0] == "layer":
        return built[1:]
    model, X, y = built
    layer, index = student(model)
    h = X.astype(np.float64)
    for before in model.layers[:index]:
        h = before.forward(h)
    return layer, h, y if index == len(model.layers) else None


def confirm(case: Case, cls: type | None = None) -> tuple[bool, dict[str, float]]:
    """Is the backward of the case's student layer right, by the textbook?

    The relative error of every tensor (its input, unless backward returns None for token ids,
    and its params). A layer is scored by J = Σ layer(x) · G for a fixed random G, a loss by its
    value. Every call gets a copy of x; np.random and the layer's Generators are rewound before
    each forward. `cls` checks the same layer as another class (a buggy layer's parent: the fix).
    """
    layer, x, y = parts(case)
    if cls is not None:
        layer.__class__ = cls
    params = getattr(layer, "params", {})
    for k in params:
        params[k] = np.array(params[k], dtype=np.float64)
    rewind, is_loss = rewinder(layer), y is not None

    def forward():
        rewind()
        out = layer.forward(x.copy(), y.copy()) if is_loss else layer.forward(x.copy())
        return np.array(out, dtype=np.float64)

    try:
        G = None if is_loss else np.random.default_rng(0).standard_normal(forward().shape)

        def J():
            return float(forward()) if is_loss else float(np.sum(forward() * G))

        forward()
        dx = layer.backward() if is_loss else layer.backward(G.copy())
        grads = {k: layer.grads.get(k) for k in params}
        errors = {} if dx is None else {"input": rel_error(dx, numeric_gradient(J, x))}
        errors |= {k: rel_error(grads[k], numeric_gradient(J, params[k])) for k in params}
    finally:
        rewind()
    return all(e < RIGHT for e in errors.values()), errors


def check(case: Case):
    """What minnet's checker says about the case: a CheckReport, or a LayerCheck."""
    built = case.build()
    if built[0] == "layer":
        _, layer, x, y = built
        return mn.check_layer(layer, x, y=y)
    model, X, y = built
    return mn.GradientChecker(progress=False).check(model, X, y)


# ---- the dev cases ---------------------------------------------------------------------------

ACT, DENSE, NORM, CONV = "activation", "dense-like", "normalization", "convolution"
POOL, NOISE, LOSS, SEQ, ATTN = "pooling", "dropout-noise-mask", "loss", "sequence", "attention"

CASES = [
    Case("elu", ACT, lambda: dense_net(ELUOnePiece(1.3), seed=1, scale=2.0),
         "dx uses the negative piece's slope alpha·eˣ for every x: the np.where that gives slope 1"
         " where x > 0 is missing",
         "return dout * np.where(self.x > 0, 1.0, self.alpha * np.exp(self.x))"),
    Case("gelu", ACT, lambda: dense_net(GELUPowerRule(), seed=2, scale=2.0),
         "du/dx of u = c(x + 0.044715 x³) forgets to bring the exponent down: 0.044715 x² where"
         " the power rule gives 3·0.044715 x²",
         "return self.c * (1 + 3 * 0.044715 * x**2)"),
    Case("gelu-correct", ACT, lambda: dense_net(GELU(), seed=3, scale=2.0), CORRECT),
    Case("mish", ACT, lambda: dense_net(MishSigmoidOfSoftplus(), seed=4, scale=2.0),
         "the chain rule's inner factor, softplus'(x) = σ(x), is evaluated at softplus(x): "
         "σ(softplus(x)) instead of σ(x)",
         "return sigmoid(self.x)"),
    Case("hardtanh", ACT, lambda: dense_net(HardTanhLowerBoundOnly(), seed=5, scale=2.5),
         "the mask keeps only the lower bound, x > -1: entries clipped at +1 (x > 1) still pass "
         "the gradient, where the slope is 0",
         "return dout * ((self.x > -1) & (self.x < 1))"),
    Case("quadratic-form", DENSE, lambda: dense_net(QuadraticSymmetric(5, 3, seed=6), seed=6),
         "dx = 2 W_k x treats every W_k as symmetric; the gradient of xᵀ W_k x is (W_k + W_kᵀ) x",
         "return np.einsum('nk,kij,nj->ni', dout, W, x) + np.einsum('nk,kij,ni->nj', dout, W, x)"),
    Case("bilinear-correct", DENSE, lambda: dense_net(Bilinear(3, 3, seed=7), width=6, seed=7),
         CORRECT),
    Case("maxout", DENSE, lambda: dense_net(MaxoutPiecesFirst(5, 3, 2, seed=8), seed=8),
         "backward views z as (N, pieces, units) where forward grouped it as (N, units, pieces): "
         "the max mask, and so the gradient, lands on the wrong entries of z",
         "z = self.z.reshape(N, self.h, self.k); mask = z == z.max(axis=2, keepdims=True); "
         "dz = (mask * dout[:, :, None]).reshape(N, -1)"),
    Case("weight-norm", DENSE, lambda: dense_net(WeightNormRawV(5, 4, seed=9), seed=9),
         "dg sums dW times the raw V (stored as W) instead of the unit direction V/‖V‖: the "
         "factor 1/‖V‖ is missing, and dV, built from dg, inherits the error",
         "self.grads['g'] = (dW * self.v).sum(axis=0)"),
    Case("glu", DENSE, lambda: dense_net(GLUHalvesSwapped(5, 3, seed=10), seed=10),
         "the two halves of dz are concatenated in the wrong order: the gate's gradient goes to "
         "the value half of W and the value's to the gate half",
         "return np.concatenate([da, dg], axis=1)"),
    Case("batchnorm-ddof", NORM, lambda: dense_net(BatchNormUnbiased(5), seed=11),
         "forward divides the variance by N - 1 (ddof=1) but backward is the formula for the "
         "biased variance: its x̂ term needs Σ(dx̂·x̂)/(N - 1), not /N",
         "return x.var(axis=0)"),
    Case("batchnorm-running-std", NORM, lambda: dense_net(BatchNormRunningStd(5), seed=12),
         "backward divides by the running standard deviation kept for test time, not by the "
         "batch's std that forward divided by",
         "return self.dx(dout * self.params['gamma'], self.std)"),
    Case("rmsnorm", NORM, lambda: dense_net(RMSNormLayerNormBackward(5), seed=13),
         "the backward is LayerNorm's: it subtracts mean(dx̂), but RMSNorm subtracts no mean, "
         "so that term does not belong",
         "return (dxhat - self.xhat * (dxhat * self.xhat).mean(axis=1, keepdims=True)) / self.r"),
    Case("rmsnorm-correct", NORM, lambda: dense_net(RMSNorm(5), seed=14), CORRECT),
    Case("groupnorm", NORM, lambda: image_net(GroupNormChannelMeans(4, 2), channels=4, seed=15),
         "backward averages over each channel's pixels only; forward's statistics are over the "
         "whole group (its 2 channels too), so the means must be over the group",
         "return (dxhat - self.group_mean(dxhat) - xhat * self.group_mean(dxhat * xhat)) / "
         "self.std"),
    Case("groupnorm-correct", NORM, lambda: image_net(GroupNorm(4, 2), channels=4, seed=16),
         CORRECT),
    Case("conv-loops", CONV, lambda: image_net(LoopConvInputWindow(3, 2, 3, padding=1, seed=17),
                                               seed=17),
         "dx adds the input window times dout where the filter W[f] belongs: the dW line was "
         "copied into the dx line",
         "dxp[n, :, i:i + k, j:j + k] += W[f] * dout[n, f, i, j]"),
    Case("conv-1x1", CONV, lambda: image_net(PointwiseConvNoTranspose(3, 2, seed=18), seed=18),
         "dout (N, F, H, W) is reshaped into pixel rows without moving the channels last first: "
         "rows mix channels and pixels, unlike forward's transpose(0, 2, 3, 1)",
         "return dout.transpose(0, 2, 3, 1).reshape(-1, dout.shape[1])"),
    Case("conv-depthwise", CONV, lambda: image_net(DepthwiseConvMixesChannels(3, seed=19),
                                                   seed=19),
         "dx sums every channel's contribution and sends the sum to all input channels, as a "
         "full convolution would; in a depthwise one channel c gets only its own W[c]·dout",
         "return self.params['W'] * g"),
    Case("conv-depthwise-correct", CONV, lambda: image_net(DepthwiseConv(3, seed=20), seed=20),
         CORRECT),
    Case("conv-im2col", CONV, lambda: image_net(Im2colConvOverwrites(3, 2, 3, padding=1,
                                                                     seed=21), seed=21),
         "col2im writes each window's gradient with = instead of +=: where 3×3 windows at "
         "stride 1 overlap, the last window overwrites the others' contributions",
         "dxp[:, :, i:i + k, j:j + k] += dcols[:, :, col].reshape(N, C, k, k)"),
    Case("maxpool", POOL, lambda: image_net(MaxPoolGlobalMax(2, 2), seed=22),
         "the mask compares each window with window.max() over all samples and channels at once "
         "(no axis): only the single largest entry of the batch gets its gradient",
         "return window == window.max(axis=(2, 3), keepdims=True)"),
    Case("maxpool-overlap-correct", POOL, lambda: image_net(MaxPool(3, 2), size=(5, 5), seed=23),
         CORRECT),
    Case("avgpool-padded", POOL, lambda: image_net(AvgPoolPaddedFullCount(3), seed=24),
         "backward divides every window's gradient by k² = 9, but forward averaged the border "
         "windows over their real pixels only (4 or 6), leaving the padding out",
         "return self.counts[i, j]"),
    Case("concat-pool", POOL, lambda: image_net(ConcatPoolHalvesSwapped(), seed=25),
         "dout's halves are swapped: forward puts the max first and the mean second, backward "
         "sends the first half to the mean and the second to the max",
         "dmax, davg = np.split(dout, 2, axis=1)"),
    Case("additive-noise", NOISE, lambda: dense_net(AdditiveNoiseAsFactor(0.5), seed=26),
         "the noise is added, not multiplied: y = x + σz has dy/dx = 1, but backward multiplies "
         "dout by (1 + σz)",
         "return dout"),
    Case("masked-mean", NOISE, lambda: sequence_net(MaskedMeanDividesByT([4, 2, 3, 1]), seed=27),
         "backward divides by T for every sequence; forward divided each by its own number of "
         "real steps (its length), leaving the padding out",
         "return self.mask * dout[:, None, :] / self.count[:, None, :]"),
    Case("masked-mean-correct", NOISE,
         lambda: sequence_net(MaskedMeanOverTime([3, 4, 1, 2]), seed=28), CORRECT),
    Case("droppath-correct", NOISE, lambda: dense_net(DropPath(5, 0.5, seed=3), seed=29),
         CORRECT),
    Case("droppath", NOISE, lambda: dense_net(DropPathScaledSkip(5, 0.5, seed=3), seed=30),
         "dout is scaled by the drop mask / (1 - p) before the skip connection takes its share: "
         "the skip path is never dropped nor scaled, its gradient is dout itself",
         "dx = affine_backward(self, self.x, self.scale * dout); return dx + dout"),
    Case("focal", LOSS, lambda: loss_net(FocalLossConstantWeight(), labels, seed=30, scale=2.0),
         "the focal weight (1 - p_y)^γ is treated as a constant: it depends on the scores too, "
         "so dL/ds needs the extra term γ p_y (1 - p_y)^(γ-1) (-log p_y)",
         "return (1 - pt) ** g - g * pt * (1 - pt) ** (g - 1) * np.log(pt)"),
    Case("focal-correct", LOSS, lambda: loss_net(FocalLoss(), labels, seed=31, scale=2.0),
         CORRECT),
    Case("distillation", LOSS, lambda: loss_net(DistillationWrongSoftmax(), teacher, seed=32,
                                                scale=2.0),
         "backward uses softmax(s), the probabilities kept for predictions, where the loss has "
         "softmax(s / T): dL/ds = T·(softmax(s / T) - q) / N",
         "return self.T * (self.pT - self.q) / len(self.q)"),
    Case("binary-hinge", LOSS, lambda: loss_net(BinaryHingeIgnoresLabel(), signs, width=1,
                                                seed=33, scale=3.0),
         "the margin test is s < 1 instead of y·s < 1: for a sample with y = -1 the hinge is "
         "active where s > -1, not where s < 1",
         "active = self.y * self.s < 1"),
    Case("embedding", SEQ, lambda: classifier(
        [EmbeddingFancyAdd(5, 3, seed=34)],
        np.random.default_rng(34).integers(0, 5, (4, 5)).astype(float), seed=34),
         "dW[ids] += dout is buffered: an id that occurs several times in the batch gets only one "
         "of its gradients; np.add.at adds them all",
         "np.add.at(dW, self.ids, dout)"),
    Case("embedding-correct", SEQ, lambda: (
        "layer", Embedding(5, 3, seed=47), np.random.default_rng(47).integers(0, 5, (4, 5)),
        None), CORRECT),
    Case("rnn", SEQ, lambda: sequence_net(RNNNoDhNext(4, 3, seed=35), seed=35),
         "BPTT drops dh_next: each step's dh is only dout[:, t], so the gradient flowing back "
         "from later steps through h_t is lost",
         "dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)"),
    Case("rnn-correct", SEQ, lambda: sequence_net(RNN(4, 3, seed=36), seed=36), CORRECT),
    Case("rnn-dWh", SEQ, lambda: sequence_net(RNNCurrentH(4, 3, seed=37), seed=37),
         "dWh pairs da_t with h_t instead of h_{t-1}: the time index of the hidden state is one "
         "step late (hs[:, t + 1] where hs[:, t] belongs)",
         "self.grads['Wh'] += self.hs[:, t].T @ da"),
    Case("lstm-gates", SEQ, lambda: sequence_net(LSTMGatesSwapped(4, 3, seed=38), seed=38),
         "backward packs the forget gate's gradient into a[:, 2H:3H] and the output gate's into "
         "a[:, H:2H]: the two slices are off by H, swapped against forward's i, f, o, g",
         "np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)]"
         ", axis=1)"),
    Case("lstm-cell", SEQ, lambda: sequence_net(LSTMCellWithoutO(4, 3, seed=39), seed=39),
         "dc from h_t = o·tanh(c_t) forgets the factor o: dh·(1 - tanh²c) instead of "
         "dh·o·(1 - tanh²c)",
         "return dc_next + dh * o * (1 - tc**2)"),
    Case("lstm-cell-path", SEQ, lambda: sequence_net(LSTMNoDcNext(4, 3, seed=46), seed=46),
         "the cell's own path is dropped: dc_t is only what comes through h_t, without the "
         "dc_next that c_{t+1} = f·c_t + i·g sends back",
         "return dc_next + dh * o * (1 - tc**2)"),
    Case("gru-correct", SEQ, lambda: sequence_net(GRU(4, 3, seed=40), seed=40), CORRECT),
    Case("attention-softmax", ATTN, lambda: sequence_net(SelfAttentionSoftmaxAxis1(4, seed=41),
                                                         seed=41),
         "the softmax backward sums dP ⊙ P over axis=1, the queries, instead of the last axis, "
         "the keys that each row of P is normalized over",
         "return self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))"),
    Case("attention-scale", ATTN, lambda: sequence_net(SelfAttentionUnscaledBackward(4, seed=42),
                                                       seed=42),
         "the 1/√D scale of S = Q Kᵀ/√D is left out of dQ and dK (dV is right)",
         "return ds @ self.k * self.scale, ds.transpose(0, 2, 1) @ self.q * self.scale"),
    Case("attention-causal-correct", ATTN,
         lambda: sequence_net(CausalSelfAttention(4, seed=43), seed=43), CORRECT),
    Case("attention-heads", ATTN, lambda: sequence_net(
        MultiHeadAttentionPlainReshape(4, 2, seed=44), t=3, seed=44),
         "the heads' gradient (N, T, D) is reshaped straight to (N, h, T, d), without going "
         "through (N, T, h, d) and a transpose as forward did: entries land in the wrong head "
         "and step",
         "return d.reshape(N, T, self.heads, D // self.heads).transpose(0, 2, 1, 3)"),
    Case("attention-heads-correct", ATTN,
         lambda: sequence_net(MultiHeadAttention(4, 2, seed=45), t=3, seed=45), CORRECT),
]
