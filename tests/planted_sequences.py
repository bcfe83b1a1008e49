"""Planted backprop-through-time bugs, written the way students write RNNs: a step function and
a loop over t (CS231n's rnn_step_forward / rnn_forward / rnn_backward), caches as tuples, the
gradient from the next step called dh_next. Each bug is one line away from its correct class.

The correct student classes (StudentRNN, StudentLSTM, StudentGRU) pass every check; each
subclass below plants one mistake. BUGS lists them with the tensors that must fail. A bug in
the loop of rnn_backward is shown in a whole copy of that loop, as the student's file has it,
so that the planted line (marked BUG) reads in its place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minnet as mn


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


class OneStateLoop:
    """rnn_forward as students write it: step_forward at every t, the caches in a list."""

    def forward(self, x, h0=None):
        N, T, _ = x.shape
        h = np.zeros((N, self.hidden_size)) if h0 is None else h0
        self.caches, hs = [], []
        for t in range(T):
            h, cache = self.step_forward(x[:, t, :], h)
            self.caches.append(cache)
            hs.append(h)
        return np.stack(hs, axis=1)


class StudentRNN(OneStateLoop, mn.RNN):
    """h_t = tanh(x_t Wx + h_{t-1} Wh + b), one step at a time (return_sequences=True only)."""

    def step_forward(self, x, prev_h):
        Wx, Wh, b = self.params["Wx"], self.params["Wh"], self.params["b"]
        next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
        return next_h, (x, prev_h, next_h)

    def step_backward(self, dnext_h, cache):
        x, prev_h, next_h = cache
        da = dnext_h * (1 - next_h**2)
        dx, dprev_h = da @ self.params["Wx"].T, da @ self.params["Wh"].T
        return dx, dprev_h, x.T @ da, prev_h.T @ da, da.sum(axis=0)

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh_next = np.zeros((N, self.hidden_size))
        for t in reversed(range(T)):
            dx[:, t, :], dh_next, dWx_t, dWh_t, db_t = self.step_backward(
                dout[:, t, :] + dh_next, self.caches[t])
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.dh0 = dh_next
        self.grads = {"Wx": dWx, "Wh": dWh, "b": db}
        return dx


class RNNForgetsDhNext(StudentRNN):
    """Each step hears only from the output: the gradient from step t+1 is dropped."""

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh_next = np.zeros((N, self.hidden_size))
        for t in reversed(range(T)):
            dx[:, t, :], dh_next, dWx_t, dWh_t, db_t = self.step_backward(
                dout[:, t, :], self.caches[t])  # BUG: + dh_next is missing
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.dh0 = dh_next
        self.grads = {"Wx": dWx, "Wh": dWh, "b": db}
        return dx


class RNNForgetsDh0(StudentRNN):
    """dh_next after the first step is dL/dh0; this backward never hands it on."""

    def backward(self, dout):
        dh0_before = self.dh0
        dx = super().backward(dout)
        self.dh0 = dh0_before  # BUG: dh0 = dh_next at t = 0 is never stored
        return dx


class RNNBackwardInTime(StudentRNN):
    """BPTT run forward in time: dh_next flows from step t-1 into step t."""

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh_next = np.zeros((N, self.hidden_size))
        for t in range(T):  # BUG: reversed(range(T))
            dx[:, t, :], dh_next, dWx_t, dWh_t, db_t = self.step_backward(
                dout[:, t, :] + dh_next, self.caches[t])
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.dh0 = dh_next
        self.grads = {"Wx": dWx, "Wh": dWh, "b": db}
        return dx


class RNNWhNotTransposed(StudentRNN):
    """dprev_h = da Wh where it must be da Whᵀ (Wh is square, so it runs)."""

    def step_backward(self, dnext_h, cache):
        dx, _, dWx, dWh, db = super().step_backward(dnext_h, cache)
        x, prev_h, next_h = cache
        da = dnext_h * (1 - next_h**2)
        return dx, da @ self.params["Wh"], dWx, dWh, db  # BUG: Wh.T


class RNNOverwritesDWx(StudentRNN):
    """dWx = instead of dWx +=: only the last step handled (t = 0) is kept."""

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        dWh, db = np.zeros_like(self.params["Wh"]), np.zeros_like(self.params["b"])
        dh_next = np.zeros((N, self.hidden_size))
        for t in reversed(range(T)):
            dx[:, t, :], dh_next, dWx_t, dWh_t, db_t = self.step_backward(
                dout[:, t, :] + dh_next, self.caches[t])
            dWx = dWx_t  # BUG: dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.dh0 = dh_next
        self.grads = {"Wx": dWx, "Wh": dWh, "b": db}
        return dx


class StudentLSTM(mn.LSTM):
    """CS231n's lstm_step_forward / lstm_step_backward, gates i, f, o, g (return_sequences=True)."""

    def forward(self, x, h0=None, c0=None):
        N, T, _ = x.shape
        H = self.hidden_size
        h = np.zeros((N, H)) if h0 is None else h0
        c = np.zeros((N, H)) if c0 is None else c0
        self.caches, hs = [], []
        for t in range(T):
            h, c, cache = self.step_forward(x[:, t, :], h, c)
            self.caches.append(cache)
            hs.append(h)
        return np.stack(hs, axis=1)

    def step_forward(self, x, prev_h, prev_c):
        H = self.hidden_size
        a = x @ self.params["Wx"] + prev_h @ self.params["Wh"] + self.params["b"]
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H])
        g = np.tanh(a[:, 3 * H:])
        next_c = f * prev_c + i * g
        next_h = o * np.tanh(next_c)
        return next_h, next_c, (x, prev_h, prev_c, a, next_c)

    def split_gates(self, a):
        """i, f, o, g from the cached pre-activation a (N, 4H)."""
        H = self.hidden_size
        return (sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]),
                np.tanh(a[:, 3 * H:]))

    def step_backward(self, dnext_h, dnext_c, cache):
        x, prev_h, prev_c, a, next_c = cache
        i, f, o, g = self.split_gates(a)
        dc = dnext_c + dnext_h * o * (1 - np.tanh(next_c) ** 2)
        do = dnext_h * np.tanh(next_c)
        di, df, dg = dc * g, dc * prev_c, dc * i
        da = np.hstack([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g**2)])
        return (da @ self.params["Wx"].T, da @ self.params["Wh"].T, dc * f, x.T @ da,
                prev_h.T @ da, da.sum(axis=0))

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        dWx, dWh, db = (np.zeros_like(self.params[k]) for k in ("Wx", "Wh", "b"))
        dh_next = dc_next = np.zeros((N, self.hidden_size))
        for t in reversed(range(T)):
            dx[:, t, :], dh_next, dc_next, dWx_t, dWh_t, db_t = self.step_backward(
                dout[:, t, :] + dh_next, dc_next, self.caches[t])
            dWx += dWx_t
            dWh += dWh_t
            db += db_t
        self.dh0, self.dc0 = dh_next, dc_next
        self.grads = {"Wx": dWx, "Wh": dWh, "b": db}
        return dx


class LSTMForgetGateOffByH(StudentLSTM):
    """backward reads the forget gate from columns 2H:3H (the output gate's), one block late."""

    def split_gates(self, a):
        i, _, o, g = super().split_gates(a)
        H = self.hidden_size
        return i, sigmoid(a[:, 2 * H:3 * H]), o, g  # BUG: a[:, H:2 * H]


class LSTMForgetsCellPath(StudentLSTM):
    """dc takes only what comes through h_t: the cell path dc_next from step t+1 is missing."""

    def step_backward(self, dnext_h, dnext_c, cache):
        return super().step_backward(dnext_h, 0 * dnext_c, cache)  # BUG: dc_next dropped


class LSTMOutputGateWithoutTanh(StudentLSTM):
    """do = dh · c, where h = o · tanh(c) gives do = dh · tanh(c)."""

    def step_backward(self, dnext_h, dnext_c, cache):
        dx, dprev_h, dprev_c, dWx, dWh, db = super().step_backward(dnext_h, dnext_c, cache)
        x, prev_h, prev_c, a, next_c = cache
        H = self.hidden_size
        o = sigmoid(a[:, 2 * H:3 * H])
        fix = dnext_h * (next_c - np.tanh(next_c)) * o * (1 - o)  # BUG: c where tanh(c) belongs
        da = np.zeros_like(a)
        da[:, 2 * H:3 * H] = fix
        return (dx + da @ self.params["Wx"].T, dprev_h + da @ self.params["Wh"].T, dprev_c,
                dWx + x.T @ da, dWh + prev_h.T @ da, db + da.sum(axis=0))


class StudentGRU(OneStateLoop, mn.GRU):
    """torch's GRU one step at a time: r, z, n with r multiplying (h Wh_n + bh_n)."""

    def step_forward(self, x, prev_h):
        H, p = self.hidden_size, self.params
        xw, hw = x @ p["Wx"] + p["bx"], prev_h @ p["Wh"] + p["bh"]
        r, z = sigmoid(xw[:, :H] + hw[:, :H]), sigmoid(xw[:, H:2 * H] + hw[:, H:2 * H])
        n = np.tanh(xw[:, 2 * H:] + r * hw[:, 2 * H:])
        next_h = (1 - z) * n + z * prev_h
        return next_h, (x, prev_h, r, z, n, hw[:, 2 * H:])

    def step_backward(self, dnext_h, cache):
        x, prev_h, r, z, n, hw_n = cache
        dn = dnext_h * (1 - z) * (1 - n**2)
        dz = dnext_h * (prev_h - n) * z * (1 - z)
        dr = dn * self.recurrent_term(prev_h, hw_n) * r * (1 - r)
        dxw, dhw = np.hstack([dr, dz, dn]), np.hstack([dr, dz, dn * r])
        dprev_h = self.direct(dnext_h, z) + dhw @ self.params["Wh"].T
        return (dxw @ self.params["Wx"].T, dprev_h, x.T @ dxw, prev_h.T @ dhw,
                dxw.sum(axis=0), dhw.sum(axis=0))

    def recurrent_term(self, prev_h, hw_n):
        """What r multiplies: h Wh_n + bh_n."""
        return hw_n

    def direct(self, dnext_h, z):
        """The gradient h_{t-1} gets straight from h_t = (1 - z) n + z h_{t-1}."""
        return dnext_h * z

    def backward(self, dout):
        N, T, _ = dout.shape
        dx = np.zeros((N, T, self.input_size))
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        dh_next = np.zeros((N, self.hidden_size))
        for t in reversed(range(T)):
            dx[:, t, :], dh_next, *step = self.step_backward(dout[:, t, :] + dh_next,
                                                            self.caches[t])
            for k, g in zip(("Wx", "Wh", "bx", "bh"), step):
                grads[k] += g
        self.dh0, self.grads = dh_next, grads
        return dx


class GRUResetWithoutBias(StudentGRU):
    """dr uses h Wh_n alone, but r multiplies h Wh_n + bh_n (torch's GRU): bh_n is forgotten."""

    def recurrent_term(self, prev_h, hw_n):
        H = self.hidden_size
        return prev_h @ self.params["Wh"][:, 2 * H:]  # BUG: + self.params["bh"][2 * H:]


class GRUForgetsDirectPath(StudentGRU):
    """h_{t-1} gets its gradient through the gates only; the direct z · dh term is missing."""

    def direct(self, dnext_h, z):
        return 0 * dnext_h  # BUG: dnext_h * z


class EmbeddingAssigns(mn.Embedding):
    """dW[x] = dout: where an id repeats, the last position overwrites the others."""

    def backward(self, dout):
        dW = np.zeros_like(self.params["W"])
        dW[self.x] = dout  # BUG: np.add.at(dW, self.x, dout)
        self.grads["W"] = dW


class SoftmaxCEIgnoresMask(mn.SoftmaxCE):
    """backward forgets ignore_index: ignored targets get a gradient, and all count in M."""

    def backward(self):
        N, T, C = self.probs.shape
        d = self.probs.copy()
        y = np.where(self.y == self.ignore_index, 0, self.y)
        d[np.arange(N)[:, None], np.arange(T), y] -= 1
        return d / (N * T)  # BUG: zero the ignored rows, divide by the targets that count


@dataclass
class Bug:
    """A planted bug: its model, the layer that must be the suspect, tensors that must fail."""

    name: str
    build: object  # seed -> (model, X, y)
    suspect: int  # index of the layer to blame (len(layers) for the loss)
    failing: tuple  # tensor names ("input", "Wx", ...) that a check of the suspect alone fails


V, D, H, T, N = 6, 3, 4, 5, 4


def randomized(layer, seed):
    """Random values in every parameter, biases too (GRU's bh_n must not be 0 to matter)."""
    rng = np.random.default_rng(seed)
    for k, v in layer.params.items():
        layer.params[k] = rng.uniform(-0.8, 0.8, v.shape)
    return layer


def sequence_net(recurrent=mn.RNN, loss=mn.SoftmaxCE, embedding=None):
    """A builder: [Embedding(V, D)] or float inputs - recurrent(D, H) - Dense(H, V) - loss.

    Float inputs by default, so that a recurrent layer is not the model's first (whose dx a
    model never needs) and its input gradient counts too: a Dense(D, D) goes first."""
    def build(seed):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, V, (N, T))
        if embedding is not None:
            first, X = embedding(V, D, seed=seed), rng.integers(0, V, (N, T))
            X[0, :2] = X[1, 0]  # a repeated id, at least
        else:
            first, X = mn.Dense(D, D, seed=seed), rng.standard_normal((N, T, D))
        lossf = loss()
        if getattr(lossf, "ignore_index", None) is not None:
            y[0, :3] = lossf.ignore_index
        layers = [first, randomized(recurrent(D, H, seed=seed + 1), seed + 2),
                  mn.Dense(H, V, seed=seed + 3)]
        return mn.Model(layers, loss=lossf), X, y
    return build


def masked():
    return mn.SoftmaxCE(ignore_index=-1)


def masked_bug():
    return SoftmaxCEIgnoresMask(ignore_index=-1)


BUGS = [
    Bug("dh_next not added", sequence_net(RNNForgetsDhNext), 1, ("input", "Wx", "Wh", "b")),
    Bug("BPTT run forward in time", sequence_net(RNNBackwardInTime), 1, ("Wx", "Wh", "b")),
    Bug("dprev_h with Wh, not Whᵀ", sequence_net(RNNWhNotTransposed), 1, ("Wx", "Wh", "b")),
    Bug("dWx = instead of +=", sequence_net(RNNOverwritesDWx), 1, ("Wx",)),
    Bug("LSTM forget gate read one block late",
        sequence_net(LSTMForgetGateOffByH), 1, ("input", "Wx", "Wh", "b")),
    Bug("LSTM cell path missing from dc", sequence_net(LSTMForgetsCellPath), 1,
        ("input", "Wx", "Wh", "b")),
    Bug("LSTM do without tanh(c)", sequence_net(LSTMOutputGateWithoutTanh), 1,
        ("Wx", "Wh", "b")),
    Bug("GRU dr without bh_n", sequence_net(GRUResetWithoutBias), 1, ("Wx", "Wh", "bx", "bh")),
    Bug("GRU direct path z · dh missing", sequence_net(GRUForgetsDirectPath), 1,
        ("input", "Wx", "Wh", "bx", "bh")),
    Bug("embedding gradient with = instead of np.add.at",
        sequence_net(embedding=EmbeddingAssigns), 0, ("W",)),
    Bug("the mask (ignore_index) ignored in the loss's backward",
        sequence_net(loss=masked_bug), 3, ("input",)),
]
