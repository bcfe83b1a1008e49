"""Data: the shipped digits and text, seeded toy generators (2-D points, digit sums), a
stratified split, mini-batches."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Vocabulary:
    """The characters of a text and their ids: id i stands for chars[i].

    chars is sorted (by code point), so the ids do not depend on where a character first
    appears. encode("to be") -> ids (5,), decode(ids) -> "to be".
    """

    chars: str

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The id of every character of text, (len(text),) int64."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.frombuffer(self.chars.encode("utf-32-le"), dtype=np.uint32)
        ids = np.minimum(np.searchsorted(table, codes), len(table) - 1)
        unknown = table[ids] != codes
        if unknown.any():
            bad = sorted(set(np.array(list(text))[unknown]))
            raise ValueError(f"characters {''.join(bad)!r} are not in the vocabulary of "
                             f"{len(self)} characters")
        return ids.astype(np.int64)

    def decode(self, ids) -> str:
        """The text of a sequence of ids."""
        ids = np.asarray(ids).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise ValueError(f"ids must lie in 0..{len(self) - 1}, got {ids.min()} to {ids.max()}")
        return "".join(self.chars[i] for i in ids)

    def save(self, path: str | os.PathLike) -> None:
        """Write the characters to a JSON file, so that a saved model's ids can be read again."""
        Path(path).write_text(json.dumps({"format": "minnet vocabulary", "chars": self.chars}),
                              encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """The vocabulary that save wrote to path."""
        try:
            saved = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            saved = None
        if not isinstance(saved, dict) or saved.get("format") != "minnet vocabulary":
            saved = {}
        chars = saved.get("chars")
        if not isinstance(chars, str) or not chars or list(chars) != sorted(set(chars)):
            raise ValueError(f"{path} is not a minnet vocabulary file (Vocabulary.save writes "
                             f"one)")
        return cls(chars)


def load_text(seq_length: int = 64, step: int | None = None,
              chars: int | None = None) -> tuple[str, Vocabulary, np.ndarray, np.ndarray]:
    """Tiny Shakespeare (1,115,394 characters, 65 distinct; see data/README.md) for a
    character model: (text, vocabulary, X, y).

    X (M, seq_length) holds windows of character ids, window m starting at m·step (step =
    seq_length by default: the windows do not overlap); y holds the same windows one character
    later, so y[m, t] is the character that follows X[m, t]. chars: use only the first `chars`
    characters of the text (the vocabulary stays the whole text's).
    """
    text = gzip.decompress(data_path("tinyshakespeare.txt.gz").read_bytes()).decode("utf-8")
    vocab = Vocabulary("".join(sorted(set(text))))
    seq_length = _positive("load_text", "seq_length", seq_length)
    step = seq_length if step is None else _positive("load_text", "step", step)
    if chars is not None:
        chars = _positive("load_text", "chars", chars)
        if chars < seq_length + 1:
            raise ValueError(f"load_text: chars={chars} cannot hold one window of "
                             f"seq_length={seq_length} and the character after it")
        text = text[:chars]
    ids = vocab.encode(text)
    windows = np.lib.stride_tricks.sliding_window_view(ids, seq_length + 1)[::step]
    return text, vocab, windows[:, :-1].copy(), windows[:, 1:].copy()


def addition(n: int = 1000, digits: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Adding two numbers digit by digit, least significant first: exact answers to learn.

    Sample k adds a and b, each drawn from 0 .. 10^digits - 1. Step t reads the token
    X[k, t] = 10·a_t + b_t, the t-th digits of a and b (t = 0: the units; the last step reads
    0, both numbers having run out), and its target y[k, t] is digit t of a + b. X and y are
    (n, digits + 1), ids in 0..99 and digits 0..9. Each digit is right only if the carry from
    the step before is remembered: a small recurrent net learns it.
    """
    n = _positive("addition", "n", n)
    digits = _positive("addition", "digits", digits)
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 10**digits, (2, n))
    place = 10 ** np.arange(digits + 1)
    digit = lambda v: v[:, None] // place % 10  # noqa: E731  (n, digits + 1), units first
    return 10 * digit(a) + digit(b), digit(a + b)


def _positive(where: str, name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {n!r}")
    return int(n)


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
