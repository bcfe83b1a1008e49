"""Attention on sequences (N, T, D): MultiHeadAttention, and PositionalEncoding for the order."""

from __future__ import annotations

import math

import numpy as np

from .base import Layer, positive_int


def softmax(s: np.ndarray) -> np.ndarray:
    """softmax over the last axis, max subtracted first: no overflow; -inf entries give 0."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """x W (+ b) on the last axis of x (..., in) -> (..., out), as one matrix product."""
    y = x.reshape(-1, x.shape[-1]) @ W
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], W.shape[1])


def _linear_grads(x: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """dW = xᵀ dy and db = Σ dy of y = x W + b, every leading position a row."""
    rows = dy.reshape(-1, dy.shape[-1])
    return x.reshape(-1, x.shape[-1]).T @ rows, rows.sum(axis=0)


class MultiHeadAttention(Layer):
    """Multi-head self-attention, as torch.nn.MultiheadAttention(batch_first=True).

    forward:  x (N, T, D) -> y (N, T, D);  Wq, Wk, Wv, Wo (D, D), bq, bk, bv, bo (D,)
              Q = x Wq + bq, K = x Wk + bk, V = x Wv + bv, each cut into H heads of d = D / H
              features (the last axis in order): (N, T, D) -> (N, H, T, d)
              S = Q Kᵀ / √d (N, H, T, T);  causal: S[i, j] = -inf for every key j after query i
              A = softmax(S) over the last axis (the keys);  C = A V, heads joined -> (N, T, D)
              y = C Wo + bo
    backward: dC = dy Woᵀ;  dA = dC Vᵀ;  dV = Aᵀ dC
              dS = A ⊙ (dA − Σ_j dA ⊙ A), the softmax Jacobian over the keys; 0 where masked
              dQ = dS K / √d;  dK = dSᵀ Q / √d;  dW· = xᵀ dQ, ...;  dx = dQ Wqᵀ + dK Wkᵀ + dV Wvᵀ
    .attention: A of the last forward (N, H, T, T), to draw which positions each one reads.
    init: W ~ N(0, 1/D) (xavier for D -> D), b = 0.
    """

    stackable = True
    smooth = True

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False,
                 seed: int | None = None) -> None:
        super().__init__()
        D = positive_int("MultiHeadAttention", "embed_dim", embed_dim)
        H = positive_int("MultiHeadAttention", "num_heads", num_heads)
        if D % H:
            raise ValueError(f"MultiHeadAttention: embed_dim {D} must be divisible by "
                             f"num_heads {H}, so that every head gets D / H features")
        self.embed_dim, self.num_heads, self.head_dim = D, H, D // H
        self.causal, self.seed = bool(causal), seed
        rng = np.random.default_rng(seed)
        self.params = {f"W{n}": rng.standard_normal((D, D)) / np.sqrt(D) for n in "qkvo"}
        self.params.update({f"b{n}": np.zeros(D) for n in "qkvo"})
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.attention: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"{self!r} expects input of shape (N, T, {self.embed_dim}), "
                             f"got {x.shape}")
        p = self.params
        self.x = x
        self.q, self.k, self.v = (self._heads(_linear(x, p[f"W{n}"], p[f"b{n}"])) for n in "qkv")
        self.attention, context = self._attend(self.q, self.k, self.v)
        self.context = self._join(context)
        return _linear(self.context, p["Wo"], p["bo"])

    def _attend(self, q: np.ndarray, k: np.ndarray, v: np.ndarray):
        """Scaled dot-product attention, every head at once: A = softmax(Q Kᵀ / √d), and A V."""
        scores = q @ k.swapaxes(-1, -2) / math.sqrt(self.head_dim)
        if self.causal:
            scores = np.where(_future(scores.shape[-1]), -np.inf, scores)
        A = softmax(scores)
        return A, A @ v

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        p, A = self.params, self.attention
        self.grads["Wo"], self.grads["bo"] = _linear_grads(self.context, dout)
        dcontext = self._heads(_linear(dout, p["Wo"].T))  # (N, H, T, d)
        dA = dcontext @ self.v.swapaxes(-1, -2)  # (N, H, T, T)
        dv = A.swapaxes(-1, -2) @ dcontext
        # each row of A is a softmax over the keys (the last axis): its Jacobian acts row by row
        dscores = A * (dA - (dA * A).sum(axis=-1, keepdims=True))
        if self.causal:  # masked scores were replaced by the constant -inf: no gradient
            dscores = np.where(_future(dscores.shape[-1]), 0.0, dscores)
        dscores = dscores / math.sqrt(self.head_dim)  # forward divided S by √d
        dq = dscores @ self.k  # S = Q Kᵀ
        dk = dscores.swapaxes(-1, -2) @ self.q
        dx = 0.0
        for n, dh in zip("qkv", (dq, dk, dv)):
            dh = self._join(dh)  # heads back to (N, T, D)
            self.grads[f"W{n}"], self.grads[f"b{n}"] = _linear_grads(self.x, dh)
            dx = dx + _linear(dh, p[f"W{n}"].T)
        return dx if self.input_grad else None

    def _heads(self, a: np.ndarray) -> np.ndarray:
        """(..., T, D) -> (..., H, T, d): head h takes features h·d to (h + 1)·d."""
        a = a.reshape(*a.shape[:-1], self.num_heads, self.head_dim)
        return a.swapaxes(-2, -3)

    def _join(self, a: np.ndarray) -> np.ndarray:
        """(..., H, T, d) -> (..., T, D): the inverse of _heads."""
        a = a.swapaxes(-2, -3)
        return a.reshape(*a.shape[:-2], self.embed_dim)

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, N, T, D) when entry index[k] of params[name] moves by delta[k].

        Q, K, V and y are each linear in their own W and b: moving W·[i, j] by d moves column
        j by d·x[..., i] (b·[j]: by d). So only the attention after the move is recomputed,
        for all K moves as one stack, and a move of Wo or bo is added to y directly. The
        gradient checker uses this to skip the projections for every entry.
        """
        y = self.forward(x)  # also keeps Q, K, V and C of this x
        which, ks = name[1], np.arange(len(index))
        j, step = self._moves(self.context if which == "o" else x, name, index, delta)
        if which == "o":
            out = np.repeat(y[None], len(index), axis=0)
            out[ks, :, :, j] += step
            return out
        q, k, v = (h[None] for h in (self.q, self.k, self.v))
        moved = np.repeat({"q": q, "k": k, "v": v}[which], len(index), axis=0)
        moved[ks, :, j // self.head_dim, :, j % self.head_dim] += step
        q, k, v = (moved if n == which else h for n, h in zip("qkv", (q, k, v)))
        _, context = self._attend(q, k, v)
        return _linear(self._join(context), self.params["Wo"], self.params["bo"])

    def _moves(self, source, name, index, delta):
        """The column j[k] of source·W + b that moves entry index[k], and how far (K, N, T)."""
        if name[0] == "W":
            i, j = np.unravel_index(index, (self.embed_dim, self.embed_dim))
            return j, delta[:, None, None] * np.moveaxis(source[..., i], -1, 0)
        return index, np.broadcast_to(delta[:, None, None], (len(index), *source.shape[:-1]))

    def config(self) -> dict:
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "causal": self.causal, "seed": self.seed}


def _future(T: int) -> np.ndarray:
    """(T, T), True above the diagonal: where key j comes after query i (j > i)."""
    return np.triu(np.ones((T, T), dtype=bool), k=1)


class PositionalEncoding(Layer):
    """Adds a fixed sinusoid per position, so that attention can tell positions apart:
    P[t, 2i] = sin(t / 10000^(2i/D)),  P[t, 2i + 1] = cos(t / 10000^(2i/D)).

    forward:  x (N, T, D) -> x + P[:T], for T <= max_len;  backward: dx = dy.  No params.
    """

    stackable = True
    smooth = True

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.max_len = positive_int("PositionalEncoding", "max_len", max_len)
        self.dim = positive_int("PositionalEncoding", "dim", dim)
        t = np.arange(max_len)[:, None]
        rates = 10000.0 ** (-np.arange(0, dim, 2) / dim)
        self.table = np.zeros((max_len, dim))
        self.table[:, 0::2] = np.sin(t * rates)
        self.table[:, 1::2] = np.cos(t * rates[:dim // 2])

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 3 or x.shape[-1] != self.dim or x.shape[-2] > self.max_len:
            raise ValueError(f"{self!r} expects input of shape (N, T, {self.dim}) with "
                             f"T <= {self.max_len}, got {x.shape}")
        return x + self.table[:x.shape[-2]].astype(x.dtype, copy=False)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout

    def config(self) -> dict:
        return {"max_len": self.max_len, "dim": self.dim}
