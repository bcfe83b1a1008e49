"""A small decoder-only Transformer (a GPT) for characters, built from minnet's own layers.

    ids (N, T) -> Embedding -> + PositionalEncoding
               -> blocks × [ x + attention(LayerNorm(x)), causal
                             x + Dense(GELU(Dense(LayerNorm(x)))) ]
               -> LayerNorm -> Dense -> scores (N, T, vocab): the next token at every position

Pre-norm, as GPT-2: each residual path starts with a LayerNorm, so the skip carries x itself.
"""

from __future__ import annotations

from . import layers as L
from .losses import SoftmaxCE
from .model import Model


def transformer(vocab_size: int, dim: int = 32, heads: int = 2, blocks: int = 2,
                max_len: int = 64, seed: int = 0, ignore_index: int | None = None) -> Model:
    """A causal Transformer language model: position t's scores predict token t + 1.

    Each block is Sequential(Residual(LayerNorm, MultiHeadAttention(causal=True)),
    Residual(LayerNorm, Dense(dim, 4 dim), GELU, Dense(4 dim, dim))), so its parameters are
    named "2.0.1.Wq" (block 0 at layer 2, its attention's Wq). Every layer draws its weights
    from its own seed, seed + k. The loss is SoftmaxCE(ignore_index) over the sequence.
    """
    seeds = iter(range(seed, seed + 5 * blocks + 3))
    layers: list = [L.Embedding(vocab_size, dim, seed=next(seeds)),
                    L.PositionalEncoding(max_len, dim)]
    for _ in range(blocks):
        attend = L.Residual(L.LayerNorm(dim),
                            L.MultiHeadAttention(dim, heads, causal=True, seed=next(seeds)))
        think = L.Residual(L.LayerNorm(dim), L.Dense(dim, 4 * dim, seed=next(seeds)), L.GELU(),
                           L.Dense(4 * dim, dim, seed=next(seeds)))
        layers.append(L.Sequential(attend, think))
    layers += [L.LayerNorm(dim), L.Dense(dim, vocab_size, init="xavier", seed=next(seeds))]
    return Model(layers, loss=SoftmaxCE(ignore_index=ignore_index))
