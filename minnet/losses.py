"""Losses: forward(scores, y) returns the mean loss over the batch, backward() returns dL/dscores.

`values(scores, y)` is the same loss without caching, and it accepts extra leading axes
(K, N, C) -> (K,): the gradient checker uses it to score many perturbed copies at once.
"""

from __future__ import annotations

import numpy as np


class Loss:
    """Base class: a scalar loss of the scores and the targets."""

    def __call__(self, scores: np.ndarray, y: np.ndarray) -> float:
        return self.forward(scores, y)

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError

    def check_target(self, y: np.ndarray, n: int, width: int) -> None:
        """Raise ValueError or TypeError unless y fits n samples of `width` scores."""
        if len(y) != n:
            raise ValueError(f"{self!r}: X has {n} samples but y has {len(y)}")

    def config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def log_softmax(s: np.ndarray) -> np.ndarray:
    """log softmax(s) along the last axis, as s - max - log Σ exp(s - max): no overflow."""
    shifted = s - s.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class SoftmaxCE(Loss):
    """Softmax cross-entropy: L = -(1/M) Σ log softmax(s)[y] over the M targets that count.

    forward:  scores (N, C), y (N,) integer labels in 0..C-1 -> float; or a sequence,
              scores (N, T, C) with y (N, T), as torch's cross_entropy
    backward: dL/ds = (softmax(s) - onehot(y)) / M,  the shape of the scores
    ignore_index: a label that does not count (padding): no loss, no gradient, not in M.
    """

    ignore_index: int | None = None  # a class default: a subclass may skip __init__

    def __init__(self, ignore_index: int | None = None) -> None:
        if ignore_index is not None and (isinstance(ignore_index, bool)
                                         or not isinstance(ignore_index, (int, np.integer))):
            raise TypeError(f"SoftmaxCE: ignore_index must be an integer label or None, "
                            f"got {ignore_index!r}")
        self.ignore_index = None if ignore_index is None else int(ignore_index)

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        self.check_target(y, len(scores), scores.shape[-1], axes=scores.ndim - 1)
        if np.shape(y) != scores.shape[:-1]:
            raise ValueError(f"{self!r}: y must have shape {scores.shape[:-1]}, one label per "
                             f"row of scores {scores.shape}, got {np.shape(y)}")
        logp = log_softmax(scores)
        self.probs, self.y = np.exp(logp), y
        counts = self._counts(y)
        return float(-(self._picked(logp, y) * counts).sum()) / int(counts.sum())

    def backward(self) -> np.ndarray:
        counts = self._counts(self.y).astype(self.probs.dtype)[..., None]
        onehot = np.zeros(self.probs.shape, self.probs.dtype)  # C order: rows is a view
        rows = onehot.reshape(-1, onehot.shape[-1])
        rows[np.arange(len(rows)), self._labels(self.y).ravel()] = 1
        m = counts.sum()
        return self.probs * counts / m - onehot * counts / m

    def values(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The loss of each of K stacked score arrays (K, N, ..., C) -> (K,).

        log softmax(s)[y] = (s[y] - max) - log Σ exp(s - max), as log_softmax computes it,
        but on a class-major copy (C, K, M) of the scores (M targets per copy): the max and
        the sum over C classes then run across long contiguous rows, not along short ones.
        """
        counts = self._counts(y)
        C, K = scores.shape[-1], len(scores)
        classes = np.ascontiguousarray(np.moveaxis(scores, -1, 0)).reshape(C, K, -1)
        top = classes.max(axis=0)  # (K, M)
        classes -= top
        log_sum = np.log(np.exp(classes, out=classes).sum(axis=0))
        picked = (self._picked(scores, y).reshape(K, -1) - top - log_sum) * counts.ravel()
        return -picked.sum(axis=1) / counts.sum()

    def _counts(self, y: np.ndarray) -> np.ndarray:
        """True where a target counts, False where it is ignore_index."""
        if self.ignore_index is None:
            return np.ones(np.shape(y), dtype=bool)
        counts = np.asarray(y) != self.ignore_index
        if not counts.any():
            raise ValueError(f"{self!r}: every target is ignore_index, so no target counts")
        return counts

    def _labels(self, y: np.ndarray) -> np.ndarray:
        """y with ignored targets replaced by class 0, so that it can index (their count is 0)."""
        y = np.asarray(y)
        return y if self.ignore_index is None else np.where(y != self.ignore_index, y, 0)

    def _picked(self, logp: np.ndarray, y: np.ndarray) -> np.ndarray:
        """logp[..., y] for every label: (..., N[, T], C) -> (..., N[, T])."""
        labels = np.ravel(self._labels(y))
        rows = logp.reshape(-1, labels.size, logp.shape[-1])
        return rows[:, np.arange(labels.size), labels].reshape(logp.shape[:-1])

    def check_target(self, y: np.ndarray, n: int, width: int, axes: int = 1) -> None:
        """y (N,) for scores (N, C); y (N, T) for scores (N, T, C), `axes` = 2."""
        super().check_target(y, n, width)
        check_labels(self, y, width, self.ignore_index, ndim=axes)

    def config(self) -> dict:
        return {} if self.ignore_index is None else {"ignore_index": self.ignore_index}

    def __repr__(self) -> str:
        return "SoftmaxCE()" if self.ignore_index is None else \
            f"SoftmaxCE(ignore_index={self.ignore_index})"


def check_labels(loss: Loss, y: np.ndarray, width: int, ignore_index: int | None = None,
                 ndim: int = 1) -> None:
    """Raise unless y is an ndim-D array of integer labels in 0..width-1 (or ignore_index)."""
    y = np.asarray(y)
    if y.ndim != ndim or y.dtype.kind not in "iu":  # signed or unsigned integers
        raise TypeError(f"{loss!r}: y must be a {ndim}-D array of integer class labels, "
                        f"got dtype {y.dtype} and shape {y.shape} (try y.astype(int))")
    counted = y[y != ignore_index] if ignore_index is not None else y.ravel()
    if len(counted) and (counted.min() < 0 or counted.max() >= width):
        raise ValueError(f"{loss!r}: labels must lie in 0..{width - 1} for {width} scores "
                         f"per sample, got labels from {counted.min()} to {counted.max()}")


class MSE(Loss):
    """Mean squared error over every entry: L = mean((s - y)²).

    forward:  scores (N, D), y (N, D) (or (N,) when D = 1) -> float; y takes the scores' dtype
    backward: dL/ds = 2 (s - y) / (N D)
    """

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        self.check_target(y, *scores.shape)
        self.diff = scores - np.reshape(y, scores.shape).astype(scores.dtype, copy=False)
        return float(np.mean(self.diff**2))

    def backward(self) -> np.ndarray:
        return 2 * self.diff / self.diff.size

    def values(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        return ((scores - np.reshape(y, scores.shape[-2:])) ** 2).mean(axis=(-2, -1))

    def check_target(self, y: np.ndarray, n: int, width: int) -> None:
        super().check_target(y, n, width)
        y = np.asarray(y)
        if not (y.shape == (n, width) or (width == 1 and y.shape == (n,))):
            raise ValueError(f"{self!r}: y must have shape ({n}, {width}) like the scores, "
                             f"got {y.shape}")
        if not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
            raise ValueError(f"{self!r}: y must be finite numbers")


class SigmoidBCE(Loss):
    """Binary cross-entropy on logits: L = mean(log(1 + eˢ) - y s), y in {0, 1}.

    forward:  scores (N, 1), y (N,) or (N, 1) of 0/1 -> float
    backward: dL/ds = (sigmoid(s) - y) / N
    """

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        self.check_target(y, *scores.shape)
        self.s, self.t = scores, np.reshape(y, scores.shape).astype(scores.dtype)
        return float(np.mean(np.logaddexp(0, scores) - self.t * scores))

    def backward(self) -> np.ndarray:
        return (np.exp(-np.logaddexp(0, -self.s)) - self.t) / self.s.size

    def values(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = np.reshape(y, scores.shape[-2:])
        return (np.logaddexp(0, scores) - t * scores).mean(axis=(-2, -1))

    def check_target(self, y: np.ndarray, n: int, width: int) -> None:
        super().check_target(y, n, width)
        y = np.asarray(y)
        if width != 1 or y.size != n or not np.isin(y, (0, 1)).all():
            raise ValueError(f"{self!r}: needs one score per sample and labels 0 or 1, "
                             f"got scores of width {width} and y of shape {y.shape}")


class SVMLoss(Loss):
    """Multiclass hinge loss (CS231n): L = (1/N) Σₙ Σ_{j≠yₙ} max(0, sₙⱼ - sₙ,yₙ + margin).

    forward:  scores (N, C), y (N,) integer labels in 0..C-1 -> float
    backward: dL/dsₙⱼ = [marginₙⱼ > 0] / N for j ≠ yₙ,  dL/dsₙ,yₙ = -(count of those) / N
    Corners where a margin is exactly 0; `corners` gives the margins so the checker can see them.
    """

    def __init__(self, margin: float = 1.0) -> None:
        if not np.isfinite(margin) or margin < 0:
            raise ValueError(f"SVMLoss: margin must be a finite number >= 0, got {margin!r}")
        self.margin = float(margin)

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        self.check_target(y, *scores.shape)
        m = self.corners(scores, y)
        self.active, self.y = np.isfinite(m) & (m > 0), y  # j = y holds +inf: never counted
        return float(m[self.active].sum()) / len(y)

    def backward(self) -> np.ndarray:
        n = len(self.y)
        d = self.active / n
        d[np.arange(n), self.y] = -self.active.sum(axis=1) / n
        return d

    def corners(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Margins s_j - s_y + margin (..., N, C), +inf at j = y: forward bends where one is 0."""
        rows = np.arange(len(y))
        m = scores - scores[..., rows, y][..., None] + self.margin
        m[..., rows, y] = np.inf
        return m

    def values(self, scores: np.ndarray, y: np.ndarray) -> np.ndarray:
        m = self.corners(scores, y)
        return np.where(np.isfinite(m), np.maximum(m, 0), 0).sum(axis=-1).mean(axis=-1)

    def check_target(self, y: np.ndarray, n: int, width: int) -> None:
        super().check_target(y, n, width)
        check_labels(self, y, width)

    def config(self) -> dict:
        return {"margin": self.margin}

    def __repr__(self) -> str:
        return f"SVMLoss(margin={self.margin})"
