"""Sequence layers on (N, T, ...) arrays, as PyTorch's batch_first=True: Embedding first."""

from __future__ import annotations

import numpy as np

from .base import Layer, positive_int


class Embedding(Layer):
    """A lookup table, one learned row per token id: y[n, t] = W[x[n, t]].

    forward:  x (N, T) integer ids in 0..V-1 -> y (N, T, D);  W (V, D)
    backward: dW[v] = Σ dy over the positions where x = v (np.add.at: a repeated id adds up);
              ids have no gradient, so backward returns None
    init: W ~ N(0, 1), as torch.nn.Embedding.
    """

    takes_ids = True  # its input is integer ids: never cast to floats, never perturbed
    smooth = True

    def __init__(self, num_embeddings: int, embedding_dim: int, seed: int | None = None) -> None:
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.params = {"W": rng.standard_normal((num_embeddings, embedding_dim))}
        self.grads = {"W": np.zeros_like(self.params["W"])}

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"{self!r} expects integer token ids, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise ValueError(f"{self!r} expects ids in 0..{self.num_embeddings - 1}, got ids "
                             f"from {x.min()} to {x.max()}")
        self.x = x
        return self.params["W"][x]

    def backward(self, dout: np.ndarray) -> None:
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.x, dout)
        self.grads["W"] = dW
        return None

    def output_shape(self, shape: tuple | None) -> tuple:
        """(T,) ids of one sample -> (T, D); T may be None (not known yet)."""
        return (*(shape if shape is not None else (None,)), self.embedding_dim)

    def config(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "seed": self.seed}
