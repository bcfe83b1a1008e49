"""The seventh held-out set: bug kinds that appear in no other corpus of tests/.

Kept for a cold measure of the checker's diagnoses after the sixth held-out set was used up:
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
    NORM,
    POOL,
    SEQ,
    Case,
    SelfAttention,
    dense_net,
    image_net,
    labels,
    loss_net,
    rows,
    same_name,
    sequence_net,
    sigmoid,
    softmax,
    with_params,
    zero_grads,
)
from unlisted_heldout6 import projections_back

import minnet as mn

# ---- elementwise activations -----------------------------------------------------------------


class TemperedSigmoid(mn.Layer):
    """y = σ(x / T);  dy/dx = σ(1 - σ) / T.  x, y: (N, D)."""

    def __init__(self, T=2.5):
        super().__init__()
        self.T = T

    def forward(self, x):
        self.s = sigmoid(x / self.T)
        return self.s

    def backward(self, dout):
        return dout * self.s * (1 - self.s) * self.inner()

    def inner(self):
        """d(x / T)/dx."""
        return 1 / self.T


@same_name
class TemperedSigmoidA(TemperedSigmoid):
    def inner(self):
        return self.T


class LiSHT(mn.Layer):
    """y = x tanh(x);  dy/dx = tanh(x) + x (1 - tanh²(x)).  x, y: (N, D)."""

    def forward(self, x):
        t = np.tanh(x)
        self.cache = (x, t)
        return x * t

    def backward(self, dout):
        x, t = self.cache
        return dout * (t + x * (1 - t**2))


@same_name
class LiSHTA(LiSHT):
    def backward(self, dout):
        t, x = self.cache
        return dout * (t + x * (1 - t**2))


class TanhExp(mn.Layer):
    """y = x tanh(eˣ);  dy/dx = tanh(eˣ) + x eˣ (1 - tanh²(eˣ)).  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        return self.f(x)

    def f(self, x):
        return x * np.tanh(np.exp(x))

    def backward(self, dout):
        return dout * self.slope()

    def slope(self):
        e = np.exp(self.x)
        t = np.tanh(e)
        return t + self.x * e * (1 - t**2)


@same_name
class TanhExpA(TanhExp):
    def slope(self):
        h = 0.03  # the derivative was too long to write out
        return (self.f(self.x + h) - self.f(self.x)) / h


class LearnedFloor(mn.Layer):
    """y = max(x, t), a floor t learned per feature: dy/dx = 1 where x > t, dy/dt = 1 elsewhere.

    x, y: (N, D);  t (D,)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, t=(d,))

    def forward(self, x):
        self.x = x
        return np.maximum(x, self.params["t"])

    def backward(self, dout):
        to_x, to_t = self.masks()
        self.grads["t"] = (dout * to_t).sum(axis=0)
        return dout * to_x

    def masks(self):
        """Where the max picked x, and where it picked t."""
        above = self.x > self.params["t"]
        return above, ~above


@same_name
class LearnedFloorA(LearnedFloor):
    def masks(self):
        above = self.x > self.params["t"]
        return above, above


# ---- dense-like ------------------------------------------------------------------------------


class ComplexLinear(mn.Layer):
    """A linear map of complex numbers, kept as real and imaginary halves: z = x (A + iB).

    dL/dz = g = dout_re + i dout_im;  dx = g (A + iB)ᴴ, d(A + iB) = xᴴ g (ᴴ: conjugate
    transpose).  x (N, 2D) = [re, im] -> (N, 2F);  A, B (D, F)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, A=(d, f), B=(d, f))

    def weight(self):
        return self.params["A"] + 1j * self.params["B"]

    def forward(self, x):
        re, im = np.split(x, 2, axis=1)
        self.x = re + 1j * im
        z = self.x @ self.weight()
        return np.concatenate([z.real, z.imag], axis=1)

    def backward(self, dout):
        re, im = np.split(dout, 2, axis=1)
        g = re + 1j * im
        dw = self.x.conj().T @ g
        self.grads["A"], self.grads["B"] = dw.real, dw.imag
        dx = self.dx(g)
        return np.concatenate([dx.real, dx.imag], axis=1)

    def dx(self, g):
        return g @ self.weight().conj().T


@same_name
class ComplexLinearA(ComplexLinear):
    def dx(self, g):
        return g @ self.weight().T


class NormScaledLinear(mn.Layer):
    """y = (x W + b) ‖x‖, each row's output scaled by its input's length;
    d‖x‖/dx = x / ‖x‖.  x (N, D) -> (N, F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x = x
        self.r = np.linalg.norm(x, axis=1, keepdims=True)
        self.z = x @ self.params["W"] + self.params["b"]
        return self.z * self.r

    def backward(self, dout):
        dz = dout * self.r
        self.grads["W"], self.grads["b"] = self.x.T @ dz, dz.sum(axis=0)
        dr = (dout * self.z).sum(axis=1, keepdims=True)
        return dz @ self.params["W"].T + dr * self.dnorm()

    def dnorm(self):
        return self.x / self.r


@same_name
class NormScaledLinearA(NormScaledLinear):
    def dnorm(self):
        return self.x


class FanInLinear(mn.Layer):
    """y = x W / √D + b, the weights scaled by their fan-in at run time.

    x (N, D) -> (N, F);  W (D, F), b (F,)."""

    def __init__(self, d, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(d, f), b=(f,))

    def forward(self, x):
        self.x, self.c = x, self.scale(x)
        return x @ self.params["W"] * self.c + self.params["b"]

    def scale(self, a):
        return 1 / np.sqrt(a.shape[1])

    def backward(self, dout):
        c = self.c
        self.grads["W"], self.grads["b"] = self.x.T @ dout * c, dout.sum(axis=0)
        return dout @ self.params["W"].T * c


@same_name
class FanInLinearA(FanInLinear):
    def backward(self, dout):
        c = self.scale(dout)
        self.grads["W"], self.grads["b"] = self.x.T @ dout * c, dout.sum(axis=0)
        return dout @ self.params["W"].T * c


class CrossProduct(mn.Layer):
    """y = x × w for 3-vectors;  by the triple product g·(x × w) = x·(w × g) = w·(g × x):
    dx = w × dout, dw = Σ_n dout × x.  x, y: (N, 3);  w (3,)."""

    def __init__(self, seed=0):
        super().__init__()
        with_params(self, seed, w=(3,))

    def forward(self, x):
        self.x = x
        return np.cross(x, self.params["w"])

    def backward(self, dout):
        self.grads["w"] = np.cross(dout, self.x).sum(axis=0)
        return self.dx(dout)

    def dx(self, dout):
        return np.cross(self.params["w"], dout)


@same_name
class CrossProductA(CrossProduct):
    def dx(self, dout):
        return np.cross(dout, self.params["w"])


# ---- normalization ---------------------------------------------------------------------------


class BlendedCentering(mn.Layer):
    """Centering by a mean blended from a kept one and the batch's: y = x - μ,
    μ = m μ_kept + (1 - m) mean_batch(x);  dx = dout - (1 - m) mean_batch(dout).

    x, y: (N, D);  μ_kept (D,) is state, not a parameter."""

    def __init__(self, d, m=0.6, seed=0):
        super().__init__()
        self.m, self.kept = m, 0.5 * np.random.default_rng(seed).standard_normal(d)

    def forward(self, x):
        mu = self.m * self.kept + (1 - self.m) * x.mean(axis=0)
        return x - mu

    def backward(self, dout):
        return dout - self.batch_share() * dout.mean(axis=0)

    def batch_share(self):
        return 1 - self.m


@same_name
class BlendedCenteringA(BlendedCentering):
    def batch_share(self):
        return 1.0


class MaxAbsScale(mn.Layer):
    """y = x / m, m = max_j |x_j| of each row;  the max reaches the one entry j* = argmax |x|:
    dx = dout / m - e_j* sign(x_j*) Σ_j dout_j x_j / m².  x, y: (N, D)."""

    def forward(self, x):
        self.x = x
        self.m = np.abs(x).max(axis=1, keepdims=True)
        return x / self.m

    def backward(self, dout):
        x, m = self.x, self.m
        rows_ = np.arange(len(x))
        top = self.winner()
        dm = -(dout * x).sum(axis=1) / m[:, 0] ** 2
        dx = dout / m
        dx[rows_, top] += dm * np.sign(x[rows_, top])
        return dx

    def winner(self):
        return np.abs(self.x).argmax(axis=1)


@same_name
class MaxAbsScaleA(MaxAbsScale):
    def winner(self):
        return self.x.argmax(axis=1)


class MedianCentering(mn.Layer):
    """y = x - median(x) over each row's D features (D odd): the median is one entry, so
    dx = dout - e_med Σ_j dout_j.  x, y: (N, D)."""

    def forward(self, x):
        self.D = x.shape[1]
        self.med = np.argsort(x, axis=1)[:, self.D // 2]
        return x - np.median(x, axis=1, keepdims=True)

    def backward(self, dout):
        return dout - self.spread(dout.sum(axis=1))

    def spread(self, total):
        """Where each row's Σ dout goes back through its median."""
        out = np.zeros((len(total), self.D))
        out[np.arange(len(total)), self.med] = total
        return out


@same_name
class MedianCenteringA(MedianCentering):
    def spread(self, total):
        return np.repeat(total[:, None] / self.D, self.D, axis=1)


# ---- convolution and pooling -----------------------------------------------------------------


class PadValueConv(mn.Layer):
    """Cross-correlation at stride 1 whose border is padded with a learned value v, not 0.

    dv adds up the gradient of every padded pixel (the border of dxp), corners once.
    x (N, C, H, W) -> (N, F, H, W) with p = 1, k = 3;  W (F, C, 3, 3), b (F,), v (1,)."""

    k, p = 3, 1

    def __init__(self, c, f, seed=0):
        super().__init__()
        with_params(self, seed, W=(f, c, 3, 3), b=(f,), v=(1,))

    def forward(self, x):
        p = self.p
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.params["v"][0])
        self.shape, self.win = xp.shape, sliding_window_view(xp, (3, 3), axis=(2, 3))
        out = np.einsum("nchwij,fcij->nfhw", self.win, self.params["W"])
        return out + self.params["b"][:, None, None]

    def backward(self, dout):
        W, p = self.params["W"], self.p
        self.grads["W"] = np.einsum("nchwij,nfhw->fcij", self.win, dout)
        self.grads["b"] = dout.sum(axis=(0, 2, 3))
        dxp = np.zeros(self.shape)
        H, Wd = dout.shape[2:]
        for i in range(self.k):
            for j in range(self.k):
                dxp[:, :, i:i + H, j:j + Wd] += np.einsum("nfhw,fc->nchw", dout, W[:, :, i, j])
        self.grads["v"] = np.array([self.border_sum(dxp)])
        return dxp[:, :, p:-p, p:-p]

    def border_sum(self, dxp):
        p = self.p
        return dxp.sum() - dxp[:, :, p:-p, p:-p].sum()


@same_name
class PadValueConvA(PadValueConv):
    def border_sum(self, dxp):
        p = self.p
        return (dxp[:, :, :p].sum() + dxp[:, :, -p:].sum() + dxp[:, :, :, :p].sum()
                + dxp[:, :, :, -p:].sum())


class TopTwoPool(mn.Layer):
    """The mean of the two largest of each 2×2 window: each of the two gets dout / 2.

    x (N, C, H, W) -> (N, C, H/2, W/2)."""

    def windows(self, x):
        N, C, H, W = x.shape
        return x.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(
            N, C, H // 2, W // 2, 4)

    def forward(self, x):
        self.shape = x.shape
        win = self.windows(x)
        self.order = np.argsort(win, axis=-1)
        return np.take_along_axis(win, self.order[..., -2:], axis=-1).mean(axis=-1)

    def backward(self, dout):
        N, C, H, W = self.shape
        dwin = np.zeros((N, C, H // 2, W // 2, 4))
        top = self.top()
        np.put_along_axis(dwin, top, dout[..., None] / 2, axis=-1)
        dwin = dwin.reshape(N, C, H // 2, W // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
        return dwin.reshape(self.shape)

    def top(self):
        return self.order[..., -2:]


@same_name
class TopTwoPoolA(TopTwoPool):
    def top(self):
        return self.order[..., -1:]


class SoftArgmax(mn.Layer):
    """Spatial soft-argmax: per channel, P = softmax over the H·W pixels, and the output is
    the expected (row, column) under P.  dE[r]/dx = P (r - E[r]), the same for columns.

    x (N, C, H, W) -> (N, C, 2)."""

    def forward(self, x):
        N, C, H, W = x.shape
        self.p = softmax(x.reshape(N, C, H * W)).reshape(x.shape)
        self.grid = np.indices((H, W)).astype(float)  # (2, H, W): row, column
        self.e = np.einsum("nchw,khw->nck", self.p, self.grid)
        return self.e

    def backward(self, dout):
        return np.einsum("nck,nckhw->nchw", dout, self.offsets()) * self.p

    def offsets(self):
        """(N, C, 2, H, W): each pixel's row and column minus their expectations."""
        return self.grid[None, None] - self.e[..., None, None]


@same_name
class SoftArgmaxA(SoftArgmax):
    def offsets(self):
        return np.broadcast_to(self.grid, (*self.e.shape, *self.grid.shape[1:]))


# ---- losses ----------------------------------------------------------------------------------


class CountMSE(mn.Loss):
    """Mean squared error against integer counts: L = mean_n (s - y)²;  dL/ds = 2 (s - y) / N.

    scores (N, 1), y (N,) integers -> float."""

    def forward(self, scores, y):
        self.s, self.y = scores[:, 0], y
        return float(np.mean((self.s - y) ** 2))

    def backward(self):
        d = self.buffer()
        d[:] = 2 * (self.s - self.y) / len(self.y)
        return d[:, None]

    def buffer(self):
        return np.zeros_like(self.s)


@same_name
class CountMSEA(CountMSE):
    def buffer(self):
        return np.zeros_like(self.y)


def large_counts(rng, n):
    return rng.poisson(6.0, n)


class OneVsAllHinge(mn.Loss):
    """One binary hinge per class, targets t = +1 for the label and -1 elsewhere:
    L = mean_n Σ_c max(0, 1 - t_c s_c);  dL/ds = -t (1 - t s > 0) / N.

    scores (N, C), y (N,) labels -> float."""

    def forward(self, scores, y):
        self.onehot = np.eye(scores.shape[1])[y]
        self.t = 2 * self.onehot - 1
        self.margin = 1 - self.t * scores
        return float(np.maximum(self.margin, 0).sum(axis=1).mean())

    def backward(self):
        return -self.targets() * (self.margin > 0) / len(self.margin)

    def targets(self):
        return self.t


@same_name
class OneVsAllHingeA(OneVsAllHinge):
    def targets(self):
        return self.onehot


class CosineLoss(mn.Loss):
    """L = mean_n (1 - cos(s_n, t_n));  d cos/ds = t / (‖s‖ ‖t‖) - cos s / ‖s‖².

    scores (N, D), y (N, D) target vectors -> float."""

    def forward(self, scores, y):
        self.s, self.t = scores, y
        self.ns = np.linalg.norm(scores, axis=1, keepdims=True)
        self.nt = np.linalg.norm(y, axis=1, keepdims=True)
        self.cos = (scores * y).sum(axis=1, keepdims=True) / (self.ns * self.nt)
        return float(np.mean(1 - self.cos))

    def backward(self):
        dcos = self.t / (self.ns * self.nt) - self.cos * self.s / self.along_s()
        return -dcos / len(self.s)

    def along_s(self):
        return self.ns**2


@same_name
class CosineLossA(CosineLoss):
    def along_s(self):
        return self.ns * self.nt


def directions(rng, n):
    return rng.standard_normal((n, 3))


# ---- sequences -------------------------------------------------------------------------------


class DilatedRNN(mn.Layer):
    """A recurrence that skips a step: h_t = tanh(x_t Wx + h_{t-2} Wh + b), h_{-1} = h_{-2} = 0.

    x (N, T, D) -> (N, T, H);  hs[:, t + 2] keeps h_t;  Wx (D, H), Wh (H, H), b (H,)."""

    lag = 2

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        self.x, self.hs = x, np.zeros((N, T + 2, self.hidden))
        for t in range(T):
            self.hs[:, t + 2] = np.tanh(x[:, t] @ Wx + self.hs[:, t] @ Wh + b)
        return self.hs[:, 2:]

    def backward(self, dout):
        zero_grads(self)
        N, T, _ = self.x.shape
        dx, dhs = np.zeros_like(self.x), np.zeros_like(self.hs)
        dhs[:, 2:] = dout
        for t in reversed(range(T)):
            da = dhs[:, t + 2] * (1 - self.hs[:, t + 2] ** 2)
            self.grads["Wx"] += self.x[:, t].T @ da
            self.grads["Wh"] += self.hs[:, t].T @ da
            self.grads["b"] += da.sum(axis=0)
            dx[:, t] = da @ self.params["Wx"].T
            dhs[:, self.earlier(t)] += da @ self.params["Wh"].T
        return dx

    def earlier(self, t):
        """Where in hs the state that step t read sits."""
        return t


@same_name
class DilatedRNNA(DilatedRNN):
    def earlier(self, t):
        return t + 1


class MultiplicativeRNN(mn.Layer):
    """The input gates the recurrent term: m = (x_t U) ⊙ (h_{t-1} Wh),
    h_t = tanh(x_t Wx + m + b), h_0 = 0.

    x (N, T, D) -> (N, T, H);  Wx, U (D, H), Wh (H, H), b (H,)."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, h), U=(d, h), Wh=(h, h), b=(h,))

    def forward(self, x):
        N, T, _ = x.shape
        P = self.params
        self.x, self.hs = x, np.zeros((N, T + 1, self.hidden))
        for t in range(T):
            m = (x[:, t] @ P["U"]) * (self.hs[:, t] @ P["Wh"])
            self.hs[:, t + 1] = np.tanh(x[:, t] @ P["Wx"] + m + P["b"])
        return self.hs[:, 1:]

    def backward(self, dout):
        zero_grads(self)
        dx, dh_next = np.zeros_like(self.x), np.zeros((len(dout), self.hidden))
        for t in reversed(range(self.x.shape[1])):
            dx[:, t], dh_next = self.step_back(t, dout[:, t] + dh_next)
        return dx

    def step_back(self, t, dh):
        P, x, h_prev = self.params, self.x[:, t], self.hs[:, t]
        xu, hw = x @ P["U"], h_prev @ P["Wh"]
        da = dh * (1 - self.hs[:, t + 1] ** 2)
        self.grads["Wx"] += x.T @ da
        self.grads["U"] += x.T @ (da * hw)
        self.grads["Wh"] += h_prev.T @ (da * xu)
        self.grads["b"] += da.sum(axis=0)
        return self.dx(da, hw), (da * xu) @ P["Wh"].T

    def dx(self, da, hw):
        return da @ self.params["Wx"].T + (da * hw) @ self.params["U"].T


@same_name
class MultiplicativeRNNA(MultiplicativeRNN):
    def dx(self, da, hw):
        return da @ self.params["Wx"].T


class PeepholeLSTM(mn.Layer):
    """An LSTM whose gates also see the cell (Gers and Schmidhuber): with a = x_t Wx + h Wh + b,
    i = σ(a_i + p_i ⊙ c_{t-1}), f = σ(a_f + p_f ⊙ c_{t-1}), g = tanh(a_g),
    c_t = f c_{t-1} + i g, o = σ(a_o + p_o ⊙ c_t), h_t = o tanh(c_t).

    x (N, T, D) -> (N, T, H);  Wx (D, 4H), Wh (H, 4H), b (4H,) in the order i, f, o, g;
    peepholes p (3, H), rows i, f, o."""

    def __init__(self, d, h, seed=0):
        super().__init__()
        self.hidden = h
        with_params(self, seed, Wx=(d, 4 * h), Wh=(h, 4 * h), b=(4 * h,), p=(3, h))

    def forward(self, x):
        N, T, _ = x.shape
        H, P = self.hidden, self.params
        h = c = np.zeros((N, H))
        self.x, self.cache, hs = x, [], []
        for t in range(T):
            a = x[:, t] @ P["Wx"] + h @ P["Wh"] + P["b"]
            i = sigmoid(a[:, :H] + P["p"][0] * c)
            f = sigmoid(a[:, H:2 * H] + P["p"][1] * c)
            g = np.tanh(a[:, 3 * H:])
            c_next = f * c + i * g
            o = sigmoid(a[:, 2 * H:3 * H] + P["p"][2] * c_next)
            self.cache.append((h, c, i, f, o, g, c_next))
            h, c = o * np.tanh(c_next), c_next
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
        h_prev, c_prev, i, f, o, g, c = self.cache[t]
        P, tc = self.params, np.tanh(c)
        dao = dh * tc * o * (1 - o)
        dc = dc_next + dh * o * (1 - tc**2) + dao * P["p"][2]
        dai, daf = dc * g * i * (1 - i), dc * c_prev * f * (1 - f)
        da = np.concatenate([dai, daf, dao, dc * i * (1 - g**2)], axis=1)
        self.grads["p"] += np.stack([(dai * c_prev).sum(axis=0), (daf * c_prev).sum(axis=0),
                                     (dao * self.seen_by_o(c_prev, c)).sum(axis=0)])
        self.grads["Wx"] += self.x[:, t].T @ da
        self.grads["Wh"] += h_prev.T @ da
        self.grads["b"] += da.sum(axis=0)
        dc_prev = dc * f + dai * P["p"][0] + daf * P["p"][1]
        return da @ P["Wx"].T, da @ P["Wh"].T, dc_prev

    def seen_by_o(self, c_prev, c):
        """The cell the output gate's peephole read."""
        return c


@same_name
class PeepholeLSTMA(PeepholeLSTM):
    def seen_by_o(self, c_prev, c):
        return c_prev


class ExclusiveCumsum(mn.Layer):
    """y_t = Σ_{s<t} x_s, the sum of the steps before t (y_0 = 0);  dx_s = Σ_{t>s} dout_t.

    x, y: (N, T, D)."""

    def forward(self, x):
        y = np.zeros_like(x)
        y[:, 1:] = np.cumsum(x, axis=1)[:, :-1]
        return y

    def backward(self, dout):
        from_here_on = np.cumsum(dout[:, ::-1], axis=1)[:, ::-1]
        return self.after(from_here_on, dout)

    def after(self, from_here_on, dout):
        return from_here_on - dout


@same_name
class ExclusiveCumsumA(ExclusiveCumsum):
    def after(self, from_here_on, dout):
        return from_here_on


# ---- attention and blocks --------------------------------------------------------------------


def sparsemax(z):
    """Euclidean projection of each row (last axis) onto the simplex: max(z - τ, 0)."""
    zs = -np.sort(-z, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    cums = np.cumsum(zs, axis=-1)
    support = (1 + k * zs > cums).sum(axis=-1, keepdims=True)
    tau = (np.take_along_axis(cums, support - 1, axis=-1) - 1) / support
    return np.maximum(z - tau, 0)


class SparsemaxAttention(SelfAttention):
    """SelfAttention with P = sparsemax(S) over the keys: on the keys a row keeps (its
    support), dS = dP - mean_support(dP); elsewhere dS = 0.  x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q, self.k, self.v = (x @ self.params[w] for w in ("Wq", "Wk", "Wv"))
        self.scores = self.q @ self.k.transpose(0, 2, 1) * self.scale
        self.p = sparsemax(self.scores)
        return self.p @ self.v

    def softmax_back(self, dp):
        kept = self.p > 0
        return kept * (dp - self.support_mean(dp, kept))

    def support_mean(self, dp, kept):
        return (dp * kept).sum(axis=-1, keepdims=True) / kept.sum(axis=-1, keepdims=True)


@same_name
class SparsemaxAttentionA(SparsemaxAttention):
    def support_mean(self, dp, kept):
        return dp.mean(axis=-1, keepdims=True)


class MultiQueryAttention(mn.Layer):
    """h query heads that share one key head and one value head (Shazeer's multi-query):
    Q = x Wq split into h heads of d = D/h, K = x Wk, V = x Wv; each head attends with
    softmax(Q_h Kᵀ / √d) V; heads concatenated.  The shared K and V collect every head's
    gradient.  x (N, T, D) -> (N, T, D);  Wq (D, D), Wk, Wv (D, d)."""

    def __init__(self, dim, heads, seed=0):
        super().__init__()
        self.heads, self.d = heads, dim // heads
        with_params(self, seed, Wq=(dim, dim), Wk=(dim, self.d), Wv=(dim, self.d))

    def forward(self, x):
        N, T, D = x.shape
        self.x, self.scale = x, 1 / np.sqrt(self.d)
        self.q = (x @ self.params["Wq"]).reshape(N, T, self.heads, self.d).transpose(0, 2, 1, 3)
        self.k, self.v = x @ self.params["Wk"], x @ self.params["Wv"]
        self.p = softmax(self.q @ self.k[:, None].transpose(0, 1, 3, 2) * self.scale)
        return (self.p @ self.v[:, None]).transpose(0, 2, 1, 3).reshape(N, T, D)

    def backward(self, dout):
        N, T, D = dout.shape
        dy = dout.reshape(N, T, self.heads, self.d).transpose(0, 2, 1, 3)
        dp = dy @ self.v[:, None].transpose(0, 1, 3, 2)
        ds = self.p * (dp - (dp * self.p).sum(axis=-1, keepdims=True))
        dq = (ds @ self.k[:, None] * self.scale).transpose(0, 2, 1, 3).reshape(N, T, D)
        dk = self.shared(ds.transpose(0, 1, 3, 2) @ self.q * self.scale)
        dv = self.shared(self.p.transpose(0, 1, 3, 2) @ dy)
        return projections_back(self, dq, dk, dv)

    def shared(self, per_head):
        """(N, h, T, d) -> (N, T, d): what the one shared head gets from all of them."""
        return per_head.sum(axis=1)


@same_name
class MultiQueryAttentionA(MultiQueryAttention):
    def shared(self, per_head):
        return per_head.mean(axis=1)


class PrescaledAttention(SelfAttention):
    """SelfAttention with the 1/√D folded into the queries: Q̃ = x Wq / √D, S = Q̃ Kᵀ.
    dQ̃ = dS K, dK = dSᵀ Q̃, and dWq takes dQ̃ / √D.  x (N, T, D) -> (N, T, D)."""

    def forward(self, x):
        self.x, self.scale = x, 1 / np.sqrt(x.shape[-1])
        self.q = x @ self.params["Wq"] * self.scale
        self.k, self.v = x @ self.params["Wk"], x @ self.params["Wv"]
        self.scores = self.q @ self.k.transpose(0, 2, 1)
        self.p = softmax(self.scores)
        return self.p @ self.v

    def scores_back(self, ds):
        return ds @ self.k * self.scale, self.dk(ds)

    def dk(self, ds):
        return ds.transpose(0, 2, 1) @ self.q


@same_name
class PrescaledAttentionA(PrescaledAttention):
    def dk(self, ds):
        return ds.transpose(0, 2, 1) @ self.q * self.scale


class ParallelBlock(mn.Layer):
    """Two branches side by side on the same input, as GPT-J's block:
    y = x + tanh(x A) + x B;  each branch gets dout, and dx adds the three paths.

    x (N, T, D) -> (N, T, D);  A, B (D, D)."""

    def __init__(self, d, seed=0):
        super().__init__()
        with_params(self, seed, A=(d, d), B=(d, d))

    def forward(self, x):
        self.x, self.t = x, np.tanh(x @ self.params["A"])
        return x + self.t + x @ self.params["B"]

    def tanh_back(self, d):
        da = d * (1 - self.t**2)
        self.grads["A"] = rows(self.x).T @ rows(da)
        return da @ self.params["A"].T

    def linear_back(self, d):
        self.grads["B"] = rows(self.x).T @ rows(d)
        return d @ self.params["B"].T

    def backward(self, dout):
        return dout + self.tanh_back(dout) + self.linear_back(dout)


@same_name
class ParallelBlockA(ParallelBlock):
    def backward(self, dout):
        d = dout + self.tanh_back(dout)
        return d + self.linear_back(d)


# ---- the cases -------------------------------------------------------------------------------

CASES = [
    Case("tempered-sigmoid", ACT, lambda: dense_net(TemperedSigmoidA(), seed=701, scale=2.0),
         "d(x/T)/dx = 1/T is written T: the chain rule's inner factor is inverted, so dx comes "
         "out T² = 6.25 times too large",
         "return 1 / self.T"),
    Case("lisht", ACT, lambda: dense_net(LiSHTA(), seed=702, scale=2.0),
         "the cache tuple (x, tanh x) is unpacked in the wrong order, t, x = self.cache: the "
         "slope t + x(1 - t²) is evaluated with x and tanh(x) exchanged",
         "x, t = self.cache"),
    Case("tanhexp", ACT, lambda: dense_net(TanhExpA(), seed=703, scale=2.0),
         "the slope is a one-sided finite difference (f(x + h) - f(x))/h with h = 0.03, not the "
         "derivative: off by about h f''(x)/2 everywhere",
         "e = np.exp(self.x); t = np.tanh(e); return t + self.x * e * (1 - t**2)"),
    Case("learned-floor", ACT, lambda: dense_net(LearnedFloorA(5, seed=704), seed=704),
         "dt reuses dx's mask x > t: the floor t gets the gradient where the max picked x, "
         "where it must get it where the max picked t (x <= t)",
         "return above, ~above"),
    Case("complex-linear", DENSE, lambda: dense_net(ComplexLinearA(3, 2, seed=705), width=6,
                                                    seed=705),
         "dx multiplies g by the plain transpose Wᵀ of the complex weight where the conjugate "
         "transpose Wᴴ belongs: the B terms of dx come back with the wrong sign",
         "return g @ self.weight().conj().T"),
    Case("norm-scaled-linear", DENSE, lambda: dense_net(NormScaledLinearA(5, 4, seed=706),
                                                        seed=706),
         "d‖x‖/dx is written x, the gradient of ‖x‖²/2: the division by the root ‖x‖ is "
         "missing in dx's second term",
         "return self.x / self.r"),
    Case("fan-in-linear", DENSE, lambda: dense_net(FanInLinearA(5, 3, seed=707), seed=707),
         "backward recomputes the scale from dout's width, 1/√F (fan-out), where forward "
         "used x's width, 1/√D (fan-in): dW and dx are √(D/F) times too large",
         "c = self.c"),
    Case("cross-product", DENSE, lambda: dense_net(CrossProductA(seed=708), width=3, seed=708),
         "the cross product's operands are in the wrong order: the adjoint of x ↦ x × w is "
         "g ↦ w × g, and g × w is its negative (dw is right)",
         "return np.cross(self.params['w'], dout)"),
    Case("blended-centering", NORM, lambda: dense_net(BlendedCenteringA(5, seed=709),
                                                      seed=709),
         "the batch mean enters μ with weight 1 - m, but backward subtracts the whole "
         "mean(dout), as a plain batch centering would: the factor 1 - m is missing",
         "return 1 - self.m"),
    Case("max-abs-scale", NORM, lambda: dense_net(MaxAbsScaleA(), seed=710, scale=2.0),
         "the max's gradient is sent to argmax x, the largest signed entry, where forward's "
         "max was of |x|: wrong in every row whose extreme entry is negative",
         "return np.abs(self.x).argmax(axis=1)"),
    Case("median-centering", NORM, lambda: dense_net(MedianCenteringA(), seed=711),
         "the median's gradient is spread over the row like a mean's, Σ dout / D to every "
         "entry; the median is one entry of the row, and only it gets -Σ dout",
         "out = np.zeros(...); out[rows, self.med] = total"),
    Case("pad-value-conv", CONV, lambda: image_net(PadValueConvA(3, 2, seed=712), seed=712),
         "dv adds the four border strips of dxp, each the full length of its side, so the "
         "four corner pixels are counted twice",
         "return dxp.sum() - dxp[:, :, p:-p, p:-p].sum()"),
    Case("top-two-pool", POOL, lambda: image_net(TopTwoPoolA(), seed=713),
         "forward averages the two largest of each window, but backward gives dout/2 to the "
         "largest alone: the second largest gets nothing",
         "return self.order[..., -2:]"),
    Case("top-two-pool-correct", POOL, lambda: image_net(TopTwoPool(), seed=714), CORRECT),
    Case("soft-argmax", POOL, lambda: image_net(SoftArgmaxA(), seed=715),
         "the softmax's Jacobian loses its centering: dE[r]/dx is P·r where P·(r - E[r]) "
         "belongs (the same for the columns)",
         "return self.grid[None, None] - self.e[..., None, None]"),
    Case("count-mse", LOSS, lambda: loss_net(CountMSEA(), large_counts, width=1, seed=716),
         "the gradient buffer is np.zeros_like(y), and y holds integer counts: every entry of "
         "2(s - y)/N is truncated to an integer on assignment",
         "return np.zeros_like(self.s)"),
    Case("one-vs-all-hinge", LOSS, lambda: loss_net(OneVsAllHingeA(), labels, seed=717,
                                                    scale=2.0),
         "backward reads the 0/1 one-hot where forward's targets are ±1: the classes other "
         "than the label (t = -1) get no gradient, where they must get +1/N when active",
         "return self.t"),
    Case("cosine-loss", LOSS, lambda: loss_net(CosineLossA(), directions, seed=718, scale=2.0),
         "the part of d cos/ds along s divides by ‖s‖ ‖t‖ where ‖s‖² belongs: the target's "
         "length used where the score's is",
         "return self.ns**2"),
    Case("dilated-rnn", SEQ, lambda: sequence_net(DilatedRNNA(4, 3, seed=719), t=5, seed=719),
         "step t read h_{t-2}, but backward sends da Whᵀ to h_{t-1}, one step late: the "
         "recurrence's lag of 2 is forgotten in the carried gradient",
         "return t"),
    Case("dilated-rnn-correct", SEQ, lambda: sequence_net(DilatedRNN(4, 3, seed=720), t=5,
                                                          seed=720), CORRECT),
    Case("multiplicative-rnn", SEQ, lambda: sequence_net(MultiplicativeRNNA(4, 3, seed=721),
                                                         seed=721),
         "x_t enters twice, through Wx and through the gate x_t U that multiplies h_{t-1} Wh: "
         "dx_t keeps only da Wxᵀ, the product rule's term (da ⊙ h_{t-1} Wh) Uᵀ is missing",
         "return da @ self.params['Wx'].T + (da * hw) @ self.params['U'].T"),
    Case("peephole-lstm", SEQ, lambda: sequence_net(PeepholeLSTMA(4, 3, seed=722), seed=722),
         "the output gate's peephole gradient pairs dao with c_{t-1}, as the input and forget "
         "gates' do, but o reads the new cell c_t",
         "return c"),
    Case("exclusive-cumsum", SEQ, lambda: sequence_net(ExclusiveCumsumA(), seed=723),
         "forward sums the steps strictly before t, but backward gives x_s the sum of dout_t "
         "over t >= s: the window includes its own step, dout_s is one term too many",
         "return from_here_on - dout"),
    Case("sparsemax-attention", ATTN, lambda: sequence_net(
        SparsemaxAttentionA(4, seed=724), seed=724),
         "the sparsemax backward subtracts the mean of dP over all T keys where the mean over "
         "the support (the keys with P > 0) belongs",
         "return (dp * kept).sum(-1, keepdims=True) / kept.sum(-1, keepdims=True)"),
    Case("multi-query-attention", ATTN, lambda: sequence_net(
        MultiQueryAttentionA(4, 2, seed=725), seed=725),
         "the shared key and value heads get the mean of the query heads' gradients where "
         "each head's use adds up: dK and dV (so dWk, dWv) are h = 2 times too small",
         "return per_head.sum(axis=1)"),
    Case("multi-query-attention-correct", ATTN, lambda: sequence_net(
        MultiQueryAttention(4, 2, seed=726), seed=726), CORRECT),
    Case("prescaled-attention", ATTN, lambda: sequence_net(PrescaledAttentionA(4, seed=727),
                                                           seed=727),
         "the queries already carry 1/√D, yet dK = dSᵀ Q̃ is multiplied by 1/√D again, as "
         "the textbook formula for unscaled Q: the scale is applied twice in dK",
         "return ds.transpose(0, 2, 1) @ self.q"),
    Case("parallel-block", ATTN, lambda: sequence_net(ParallelBlockA(4, seed=728), seed=728),
         "the two parallel branches are back-propagated as if they were in series: the linear "
         "branch gets dout + the tanh branch's dx instead of dout alone",
         "return dout + self.tanh_back(dout) + self.linear_back(dout)"),
]

# Buggy cases the current checker gets wrong, by name.
MISSED: set[str] = set()
