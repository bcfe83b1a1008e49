"""Planted bugs in attention and blocks, the kinds students make, each a small subclass.

StudentAttention is a correct backward written the way students write it: one head at a time,
with helpers for the steps. Each attention bug gets one step wrong, as students do; the block
and GELU bugs override backward or the derivative directly. Every bug sits in a small
Transformer (mn.transformer's layers, one block), so the check must find it inside blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minnet as mn


def rows(a):
    return a.reshape(-1, a.shape[-1])


def softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class StudentAttention(mn.MultiHeadAttention):
    """A correct backward, one head at a time."""

    def backward(self, dout):
        p = self.params
        self.grads["Wo"] = rows(self.context).T @ rows(dout)
        self.grads["bo"] = rows(dout).sum(axis=0)
        dcontext = self.split_heads(dout @ p["Wo"].T)  # (N, H, T, d)
        dq, dk, dv = np.zeros_like(self.q), np.zeros_like(self.k), np.zeros_like(self.v)
        for h in range(self.num_heads):
            A = self.weights(h)  # (N, T, T)
            dA = dcontext[:, h] @ self.v[:, h].transpose(0, 2, 1)
            dv[:, h] = A.transpose(0, 2, 1) @ dcontext[:, h]
            dscores = self.softmax_backward(A, dA) / self.scale()
            dq[:, h] = dscores @ self.k[:, h]
            dk[:, h] = dscores.transpose(0, 2, 1) @ self.q[:, h]
        dx = 0
        for name, d in (("q", dq), ("k", dk), ("v", dv)):
            d = self.merge_heads(d)
            self.grads["W" + name] = rows(self.x).T @ rows(d)
            self.grads["b" + name] = rows(d).sum(axis=0)
            dx = dx + d @ p["W" + name].T
        return dx

    def weights(self, h):
        return self.attention[:, h]

    def softmax_backward(self, A, dA):
        return A * (dA - (dA * A).sum(axis=-1, keepdims=True))

    def scale(self):
        return np.sqrt(self.head_dim)

    def split_heads(self, a):  # (N, T, D) -> (N, H, T, d)
        N, T, D = a.shape
        return a.reshape(N, T, self.num_heads, D // self.num_heads).transpose(0, 2, 1, 3)

    def merge_heads(self, a):  # (N, H, T, d) -> (N, T, D)
        N, H, T, d = a.shape
        return a.transpose(0, 2, 1, 3).reshape(N, T, H * d)


class SoftmaxBackwardWrongAxis(StudentAttention):
    def softmax_backward(self, A, dA):
        return A * (dA - (dA * A).sum(axis=-2, keepdims=True))


class SoftmaxBackwardDiagonalOnly(StudentAttention):
    def softmax_backward(self, A, dA):
        return A * (1 - A) * dA  # the diagonal of the Jacobian only


class MaskMissingInBackward(StudentAttention):
    def weights(self, h):  # recomputed, not kept: but without the causal mask
        return softmax(self.q[:, h] @ self.k[:, h].transpose(0, 2, 1) / np.sqrt(self.head_dim))


class ScaleMissingInBackward(StudentAttention):
    def scale(self):
        return 1.0


class HeadsSplitWrongly(StudentAttention):
    def split_heads(self, a):  # (N, T, D) read as (N, H, T, d): heads and positions mixed
        N, T, D = a.shape
        return a.reshape(N, self.num_heads, T, D // self.num_heads)


class ResidualDropsTheSkip(mn.Residual):
    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class ResidualDropsItsLayers(mn.Residual):
    def backward(self, dout):
        d = dout
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return dout  # the layers' dx computed, then forgotten


class SequentialBackwardInForwardOrder(mn.Sequential):
    def backward(self, dout):
        for layer in self.layers:
            dout = layer.backward(dout)
        return dout


class GELUForgetsTheProductRule(mn.GELU):
    def df(self, x, y):
        return 0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


V, D, H, T, N = 6, 8, 2, 5, 3


def small_transformer(attention=mn.MultiHeadAttention, residual=mn.Residual,
                      sequential=mn.Sequential, gelu=mn.GELU):
    """A builder for mn.transformer's layers, one block, with our classes at their places, on
    sequences of vectors x (N, T, D) (a Dense in the Embedding's place, whose W and b show a
    block's wrong dx): Dense - PositionalEncoding - sequential(residual(LayerNorm, attention),
    Residual(LayerNorm, Dense, gelu, Dense)) - LayerNorm - Dense. Every parameter is drawn at
    random (no zero bias, no unit gamma to hide a mistake)."""
    def build(seed):
        block = sequential(
            residual(mn.LayerNorm(D), attention(D, H, causal=True, seed=seed + 1)),
            mn.Residual(mn.LayerNorm(D), mn.Dense(D, 2 * D, seed=seed + 2), gelu(),
                        mn.Dense(2 * D, D, seed=seed + 3)))
        model = mn.Model([mn.Dense(D, D, seed=seed), mn.PositionalEncoding(T, D), block,
                          mn.LayerNorm(D), mn.Dense(D, V, seed=seed + 4)], loss=mn.SoftmaxCE())
        rng = np.random.default_rng(seed)
        for p in model.parameters():
            p[...] = rng.standard_normal(p.shape) * 0.5
        return model, rng.standard_normal((N, T, D)), rng.integers(0, V, (N, T))
    return build


def inner_input(model, X, path):
    """The buggy layer at `path` (indices into the model, then into blocks) and its input."""
    layers, h = model.layers, X
    for i in path:
        for layer in layers[:i]:
            h = layer.forward(h)
        layer = layers[i]
        layers = getattr(layer, "layers", None)
    return layer, h


@dataclass
class Bug:
    """A planted bug: the model that carries it, where the buggy layer sits, and the tensors of
    that layer that must fail when it is checked alone ("input": its dx)."""

    name: str
    build: object  # seed -> (model, X, y)
    path: tuple  # the buggy layer: model.layers[path[0]].layers[path[1]]...
    wrong: set

    @property
    def suspect(self) -> int:
        return self.path[0]


ATTENTION = (2, 0, 1)  # block 2 > its attention residual > MultiHeadAttention

BUGS = [
    Bug("softmax backward over the wrong axis", small_transformer(SoftmaxBackwardWrongAxis),
        ATTENTION, {"input", "Wq", "Wk", "bq", "bk"}),
    Bug("the mask missing in backward", small_transformer(MaskMissingInBackward), ATTENTION,
        {"input", "Wq", "Wk", "Wv", "bq"}),
    Bug("the scale missing in backward", small_transformer(ScaleMissingInBackward), ATTENTION,
        {"input", "Wq", "Wk", "bq"}),
    Bug("heads split wrongly in backward", small_transformer(HeadsSplitWrongly), ATTENTION,
        {"input", "Wq", "Wk", "Wv", "bq", "bv"}),
    Bug("softmax Jacobian's diagonal only", small_transformer(SoftmaxBackwardDiagonalOnly),
        ATTENTION, {"input", "Wq", "Wk", "bq", "bk"}),
    Bug("the skip path dropped in a Residual's backward",
        small_transformer(residual=ResidualDropsTheSkip), (2, 0), {"input"}),
    Bug("a Residual's layers dropped from its dx",
        small_transformer(residual=ResidualDropsItsLayers), (2, 0), {"input"}),
    Bug("Sequential's backward in forward order",
        small_transformer(sequential=SequentialBackwardInForwardOrder), (2,),
        {"input", "0.0.gamma", "0.0.beta", "0.1.Wq", "0.1.Wk", "0.1.Wv", "0.1.Wo", "0.1.bq",
         "0.1.bv", "0.1.bo", "1.0.gamma", "1.0.beta", "1.1.W", "1.1.b", "1.3.W", "1.3.b"}),
    Bug("GELU's derivative without the product rule",
        small_transformer(gelu=GELUForgetsTheProductRule), (2, 1, 2), {"input"}),
]
