"""Embedding: token ids (N, T) -> learned vectors (N, T, D), the first layer of a text model."""

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
        x = self._ids(x)
        self.x = x
        return self.params["W"][x]

    def backward(self, dout: np.ndarray) -> None:
        dW = np.zeros_like(self.params["W"])
        np.add.at(dW, self.x, dout)
        self.grads["W"] = dW
        return None

    def _ids(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"{self!r} expects integer token ids, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise ValueError(f"{self!r} expects ids in 0..{self.num_embeddings - 1}, got ids "
                             f"from {x.min()} to {x.max()}")
        return x

    def nudged(self, x: np.ndarray, name: str, index: np.ndarray, delta: np.ndarray,
               base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (K, N, T, D) when entry index[k] of W moves by delta[k].

        Moving W[v, j] by d moves y[n, t, j] by d wherever x[n, t] = v, and nothing else.
        The gradient checker uses this instead of a lookup per entry.
        """
        x = self._ids(x)
        y = self.params["W"][x] if base is None else base
        K, D = len(index), self.embedding_dim
        v, j = np.unravel_index(index, self.params["W"].shape)
        out = np.repeat(y[None], K, axis=0)
        at_v = x.reshape(1, -1) == v[:, None]  # (K, positions): where token v_k sits
        out.reshape(K, -1, D)[np.arange(K), :, j] += delta[:, None] * at_v
        return out

    def nudged_along(self, x: np.ndarray, name: str, directions: np.ndarray, eps: float,
                     base: np.ndarray | None = None) -> np.ndarray:
        """Outputs (2K, N, T, D) with W moved by +eps u_k (first K), then -eps u_k: the rows
        of W + eps U looked up are W[x] + eps U[x]."""
        x = self._ids(x)
        y = self.params["W"][x] if base is None else base
        d = directions[:, x]  # (K, N, T, D)
        return np.concatenate([y + eps * d, y - eps * d])

    def output_shape(self, shape: tuple | None) -> tuple:
        """(T,) ids of one sample -> (T, D); T may be None (not known yet)."""
        return (*(shape if shape is not None else (None,)), self.embedding_dim)

    def config(self) -> dict:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "seed": self.seed}
