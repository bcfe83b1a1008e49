"""RNN, LSTM and GRU forward on K weight variants at once, lean: what the gradient checker runs.

A full check needs the output with one weight entry moved, for every entry. Variant k differs
from the layer's params in one entry of one tensor, (r_k, c_k) moved by δ_k, and a product
with such a weight is the product with the base weight plus one column:

    v (W + δ e_r e_cᵀ) = v W + δ v[:, r] in column c        (v = x_t for Wx, h_{t-1} for Wh)
    b + δ e_c          = b + δ in column c

So the K variants share one product per step, (G, H) @ (H, K·N), and one input term x_t Wx + b;
each then gets its own column corrected (Nudge.correct). The steps are forward's, minus what
backward needs, and feature-major: a step's pre-activation is (G, K, N), so each gate's block
of H rows is contiguous and the elementwise work runs in place on it.

tests/test_recurrent_variants.py shows each equals its layer's forward on the K moved weights.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Nudge(NamedTuple):
    """Variant k: entry (row[k], col[k]) of params[name] moved by delta[k] (a bias: row 0)."""

    name: str
    row: np.ndarray
    col: np.ndarray
    delta: np.ndarray

    @classmethod
    def of(cls, p: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray) -> Nudge:
        """From flat indices into p (D, G), (H, G) or (G,)."""
        row, col = np.unravel_index(index, p.shape) if p.ndim == 2 \
            else (np.zeros_like(index), index)
        return cls(name, row, col, np.asarray(delta))

    def correct(self, a: np.ndarray, names: tuple[str, ...], x_t: np.ndarray,
                h: np.ndarray) -> None:
        """a (G, K, N), a term computed with the base weights: give variant k its moved entry,
        if the term holds the moved tensor (one of `names`). x_t (N, D), h = h_{t-1} (H, K, N).

        Wx[r, c] + δ adds δ x_t[:, r] to column c;  Wh[r, c] + δ adds δ h[r];  b[c] + δ adds δ.
        """
        if self.name not in names:
            return
        k = np.arange(len(self.delta))
        if self.name == "Wx":
            moved = x_t[:, self.row].T  # (K, N): variant k's x_t[:, r_k]
        elif self.name == "Wh":
            moved = h[self.row, k]  # (K, N): variant k's own h_{t-1}[r_k]
        else:
            moved = 1.0  # a bias
        a[self.col, k] += self.delta[:, None] * moved


def run(layer, steps, x: np.ndarray, nudge: Nudge, states: dict) -> np.ndarray:
    """layer's output (K, N, T, H), or (K, N, H) without return_sequences, for the K variants.

    steps(layer, xs, nudge, *initial) -> hs (T, H, K, N) is the layer's loop; the initial
    states (h0, and the LSTM's c0), (N, H) or None for zeros, start every variant.
    """
    xs, *initial = layer._begin(x, **{s: states.get(s) for s in layer.initial_states})
    K = len(nudge.delta)
    hs = steps(layer, xs, nudge, *(np.repeat(s.T[:, None], K, axis=1) for s in initial))
    out = hs.transpose(2, 3, 0, 1) if layer.return_sequences else hs[-1].transpose(1, 2, 0)
    return np.ascontiguousarray(out)


def input_terms(xs: np.ndarray, Wx: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x_t Wx + b with the base weights, every step, feature-major: (T, N, D) -> (T, G, 1, N)."""
    return (xs @ Wx + b).transpose(0, 2, 1)[:, :, None]


def recurrent_term(out: np.ndarray, WhT: np.ndarray, h: np.ndarray) -> np.ndarray:
    """out (G, K, N) = h_{t-1} Wh with the base weight, WhT (G, H), h (H, K, N): one product."""
    np.matmul(WhT, h.reshape(len(h), -1), out=out.reshape(len(out), -1))
    return out


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """σ(a) in place, as recurrent.sigmoid: (1 + tanh(a / 2)) / 2."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


def _buffers(layer, xs: np.ndarray, h: np.ndarray):
    """Whᵀ (G, H), contiguous for the product every step; a buffer (G, K, N) for a step's
    pre-activation; hs (T, H, K, N) for every step's output."""
    WhT = layer.params["Wh"].T.copy()
    a = np.empty((len(WhT), *h.shape[1:]), h.dtype)
    return WhT, a, np.empty((len(xs), *h.shape), h.dtype)


def rnn_steps(layer, xs: np.ndarray, nudge: Nudge, h: np.ndarray) -> np.ndarray:
    """RNN.forward's loop: h_t = tanh(x_t Wx + h_{t-1} Wh + b); h (H, K, N) -> hs (T, H, K, N)."""
    p = layer.params
    xw = input_terms(xs, p["Wx"], p["b"])
    WhT, _, hs = _buffers(layer, xs, h)
    for t in range(len(xs)):
        a = recurrent_term(hs[t], WhT, h)  # built where h_t goes: tanh then runs in place
        a += xw[t]
        nudge.correct(a, ("Wx", "Wh", "b"), xs[t], h)
        h = np.tanh(a, out=a)
    return hs


def lstm_steps(layer, xs: np.ndarray, nudge: Nudge, h: np.ndarray, c: np.ndarray) -> np.ndarray:
    """LSTM.forward's loop, gates i, f, o, g as row blocks of a (4H, K, N); h, c (H, K, N)."""
    p, H = layer.params, layer.hidden_size
    xw = input_terms(xs, p["Wx"], p["b"])
    WhT, a, hs = _buffers(layer, xs, h)
    i, f, o, g = np.split(a, 4)  # views: each step writes its gates into a
    for t in range(len(xs)):
        recurrent_term(a, WhT, h)
        a += xw[t]
        nudge.correct(a, ("Wx", "Wh", "b"), xs[t], h)
        sigmoid_(a[:3 * H])
        np.tanh(g, out=g)
        c *= f  # c = f c + i g, with i g made in i's rows (i is not needed after)
        c += np.multiply(i, g, out=i)
        h = np.tanh(c, out=hs[t])
        h *= o
    return hs


def gru_steps(layer, xs: np.ndarray, nudge: Nudge, h: np.ndarray) -> np.ndarray:
    """GRU.forward's loop, blocks r, z, n as rows of xw and hw (3H, K, N); h (H, K, N)."""
    p, H = layer.params, layer.hidden_size
    xw_all = input_terms(xs, p["Wx"], p["bx"])
    WhT, hw, hs = _buffers(layer, xs, h)
    xw = np.empty_like(hw)
    for t in range(len(xs)):
        xw[...] = xw_all[t]  # the input term, one copy per variant
        nudge.correct(xw, ("Wx", "bx"), xs[t], h)
        recurrent_term(hw, WhT, h)
        hw += p["bh"][:, None, None]
        nudge.correct(hw, ("Wh", "bh"), xs[t], h)
        rz = sigmoid_(np.add(xw[:2 * H], hw[:2 * H], out=xw[:2 * H]))
        r, z = np.split(rz, 2)
        n = np.tanh(xw[2 * H:] + r * hw[2 * H:])
        h_new = np.subtract(h, n, out=hs[t])  # h = (1 - z) n + z h = n + z (h - n)
        h_new *= z
        h_new += n
        h = h_new
    return hs
