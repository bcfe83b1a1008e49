"""Data: the shipped digits set, seeded 2-D toy generators, a stratified split, mini-batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
_DATA_DIRS = (_HERE / "data", _HERE.parent / "data")  # installed package, then source checkout


def data_path(name: str) -> Path:
    """Path of a file shipped with minnet (see data/README.md for sources and licenses)."""
    for folder in _DATA_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"minnet's data file {name!r} is missing from {_DATA_DIRS}")


def load_digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The UCI handwritten digits: X (1797, 64) in [0, 1] (8x8 images), y (1797,) labels 0..9.

    images=True gives X as images (1797, 1, 8, 8) (N, C, H, W), for convolutional layers.
    """
    raw = np.loadtxt(data_path("digits.csv.gz"), delimiter=",", dtype=np.int64)
    X = raw[:, :-1] / 16.0
    return (X.reshape(-1, 1, 8, 8) if images else X), raw[:, -1]


def spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in 2-D (the CS231n toy set): X (n_per_class * n_classes, 2)."""
    rng = np.random.default_rng(seed)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    y = np.repeat(np.arange(n_classes), n_per_class)
    t = y * 4.0 + r * 4.0 + rng.standard_normal(r.size) * noise
    return np.column_stack([r * np.sin(t), r * np.cos(t)]), y


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: X (n, 2), y (n,) in {0, 1}."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    X = np.column_stack([np.cos(t) + y, np.sin(t) * (1 - 2 * y) + 0.5 * y - 0.25])
    return X + rng.standard_normal(X.shape) * noise, y


def xor(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points in [-1, 1]², label 1 where the signs of x₁ and x₂ differ: X (n, 2), y (n,)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    return X + rng.standard_normal(X.shape) * noise, y


def train_test_split(X: np.ndarray, y: np.ndarray, test_size: float = 0.2, seed: int = 0,
                     stratify: bool = True) -> tuple[np.ndarray, ...]:
    """Shuffle and split into (X_train, X_test, y_train, y_test); stratified by label by default.

    Each class keeps round(test_size * its count) samples for the test set.
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    test = []
    for g in groups:
        g = rng.permutation(g)
        test.append(g[:int(round(test_size * len(g)))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(y)), test)
    train, test = rng.permutation(train), rng.permutation(test)
    return X[train], X[test], y[train], y[test]


def batches(X: np.ndarray, y: np.ndarray, batch_size: int,
            seed: int | np.random.Generator | None = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Mini-batches in an order shuffled by `seed` (a seed or a Generator; None keeps the order)."""
    n = len(X)
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx], y[idx]
