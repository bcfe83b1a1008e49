"""Data: the shipped digits and text (also from a plain installed copy), toy generators, the
addition task, split, batches."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from minnet import datasets as D

REPO = Path(__file__).resolve().parent.parent


# ---- digits -----------------------------------------------------------------------------


def test_load_digits_shapes_range_and_labels():
    X, y = D.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert X.dtype == np.float64 and np.issubdtype(y.dtype, np.integer)
    assert X.min() == 0.0 and X.max() == 1.0
    assert_array_equal(np.unique(X * 16), np.arange(17))  # pixel counts 0..16, scaled by 1/16
    # the class sizes of the UCI test set (as in scikit-learn's load_digits)
    assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_load_digits_returns_fresh_arrays_every_time():
    X1, y1 = D.load_digits()
    X1[:] = -1
    X2, _ = D.load_digits()
    assert X2.min() == 0.0


def test_a_missing_data_file_is_named():
    with pytest.raises(FileNotFoundError, match="'nothing.csv' is missing"):
        D.data_path("nothing.csv")


def test_load_digits_works_from_a_plain_non_editable_install(tmp_path):
    """`pip install .` (no -e) into a fresh folder, then load the digits from there.

    As a user's pip does it: build isolation on, so the build backend comes from the package
    index (pyproject.toml's build-system) and not from whatever this environment holds.
    """
    src = tmp_path / "src"
    src.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("minnet", "data"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--target", str(site), str(src)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, f"pip install failed:\n{proc.stdout}\n{proc.stderr}"
    # installed under minnet's own distribution name, with the `minnet` command
    info, = site.glob("*.dist-info")
    assert info.name.startswith("minnet_edu-")
    assert "minnet = minnet.cli:main" in (info / "entry_points.txt").read_text()
    code = ("import minnet; X, y = minnet.datasets.load_digits(); "
            "print(minnet.__file__); print(minnet.datasets.data_path('digits.csv.gz')); "
            "print(X.shape, y.shape, X.max(), sorted(set(y.tolist())) == list(range(10))); "
            "text, vocab, X, y = minnet.datasets.load_text(100); "
            "print(minnet.datasets.data_path('tinyshakespeare.txt.gz')); "
            "print(len(text), len(vocab), X.shape, repr(text[:14]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env=env).stdout.splitlines()
    assert out[0].startswith(str(site / "minnet"))
    assert out[1] == str(site / "minnet" / "data" / "digits.csv.gz")
    assert out[2] == "(1797, 64) (1797,) 1.0 True"
    assert out[3] == str(site / "minnet" / "data" / "tinyshakespeare.txt.gz")
    assert out[4] == "1115394 65 (11153, 100) 'First Citizen:'"


# ---- toy generators ---------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda seed: D.spiral(50, 3, seed=seed),
    lambda seed: D.moons(150, seed=seed),
    lambda seed: D.xor(150, seed=seed),
], ids=["spiral", "moons", "xor"])
def test_generators_are_deterministic_per_seed(make):
    X1, y1 = make(0)
    X2, y2 = make(0)
    X3, _ = make(1)
    assert_array_equal(X1, X2)
    assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_spiral_shapes_labels_and_radii():
    X, y = D.spiral(n_per_class=40, n_classes=4, noise=0.3, seed=0)
    assert X.shape == (160, 2) and y.shape == (160,)
    assert_array_equal(np.bincount(y), [40, 40, 40, 40])
    # the noise moves the angle only: each arm runs from radius 0 to 1 in even steps
    radii = np.hypot(X[:, 0], X[:, 1])
    for c in range(4):
        assert_allclose(radii[y == c], np.linspace(0, 1, 40), atol=1e-15)


def test_moons_shapes_labels_and_geometry_without_noise():
    X, y = D.moons(n=100, noise=0.0, seed=3)
    assert X.shape == (100, 2)
    assert_array_equal(np.bincount(y), [50, 50])
    # class 0 lies on the upper unit half circle around (0, -0.25),
    # class 1 on the lower unit half circle around (1, 0.25)
    upper, lower = X[y == 0], X[y == 1]
    assert_allclose(np.hypot(upper[:, 0], upper[:, 1] + 0.25), 1.0, rtol=1e-14)
    assert np.all(upper[:, 1] >= -0.25)
    assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.25), 1.0, rtol=1e-14)
    assert np.all(lower[:, 1] <= 0.25)


def test_xor_labels_are_the_sign_test_without_noise():
    X, y = D.xor(n=500, noise=0.0, seed=2)
    assert X.shape == (500, 2) and set(np.unique(y)) == {0, 1}
    assert np.all(np.abs(X) <= 1)
    assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


# ---- split and batches ------------------------------------------------------------------


def test_stratified_split_keeps_each_class_proportion_and_partitions_the_rows():
    X, y = D.load_digits()
    rows = np.arange(len(y))
    Xtr, Xte, ytr, yte = D.train_test_split(rows[:, None], y, 0.2, seed=0)
    # each class puts round(0.2 * its count) into the test set
    assert_array_equal(np.bincount(yte), np.round(0.2 * np.bincount(y)).astype(int))
    assert_array_equal(np.bincount(ytr) + np.bincount(yte), np.bincount(y))
    assert_array_equal(np.sort(np.r_[Xtr[:, 0], Xte[:, 0]]), rows)  # each row exactly once
    assert_array_equal(y[Xtr[:, 0]], ytr)
    assert_array_equal(y[Xte[:, 0]], yte)


def test_split_is_deterministic_per_seed():
    X, y = D.spiral(30, 3, seed=0)
    a, b = D.train_test_split(X, y, 0.25, seed=4), D.train_test_split(X, y, 0.25, seed=4)
    for u, v in zip(a, b, strict=True):
        assert_array_equal(u, v)
    assert not np.array_equal(a[1], D.train_test_split(X, y, 0.25, seed=5)[1])


def test_unstratified_split_takes_round_test_size_times_n():
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    _, Xte, _, _ = D.train_test_split(np.zeros((100, 1)), y, 0.33, seed=0, stratify=False)
    assert len(Xte) == 33


@pytest.mark.parametrize("X, y, test_size, message", [
    (np.zeros((5, 2)), np.zeros(4), 0.2, "X has 5 samples but y has 4"),
    (np.zeros((5, 2)), np.zeros(5), 0.0, r"test_size must be a fraction in \(0, 1\)"),
    (np.zeros((5, 2)), np.zeros(5), 1.0, r"test_size must be a fraction in \(0, 1\)"),
])
def test_split_rejects_bad_arguments(X, y, test_size, message):
    with pytest.raises(ValueError, match=message):
        D.train_test_split(X, y, test_size)


def test_batches_cover_every_sample_once_in_a_seeded_order():
    X, y = np.arange(10.0)[:, None], np.arange(10)
    got = list(D.batches(X, y, 4, seed=1))
    assert [len(b) for b, _ in got] == [4, 4, 2]
    order = np.concatenate([yb for _, yb in got])
    assert_array_equal(np.sort(order), np.arange(10))
    assert_array_equal(np.concatenate([xb[:, 0] for xb, _ in got]), order)
    assert_array_equal(order, np.random.default_rng(1).permutation(10))
    assert_array_equal(np.concatenate([yb for _, yb in D.batches(X, y, 3, seed=None)]),
                       np.arange(10))


# ---- text -------------------------------------------------------------------------------


def test_load_text_windows_are_the_text_and_y_is_x_one_character_later():
    text, vocab, X, y = D.load_text(seq_length=10, step=7, chars=1000)
    assert len(text) == 1000 and text.startswith("First Citizen:\nBefore we proceed")
    assert len(vocab) == 65 and vocab.chars == "".join(sorted(vocab.chars))  # the whole text's
    assert X.shape == y.shape == ((1000 - 11) // 7 + 1, 10) and X.dtype == np.int64
    for m in (0, 1, len(X) - 1):
        assert vocab.decode(X[m]) == text[7 * m:7 * m + 10]
        assert vocab.decode(y[m]) == text[7 * m + 1:7 * m + 11]
    _, _, X2, _ = D.load_text(seq_length=10, chars=1000)  # step = seq_length: no overlap
    assert vocab.decode(X2.ravel()) == text[:len(X2) * 10]


def test_vocabulary_encodes_and_decodes_and_names_what_it_lacks():
    vocab = D.Vocabulary("\n abc")
    assert_array_equal(vocab.encode("cab a\n"), [4, 2, 3, 1, 2, 0])
    assert vocab.decode([4, 2, 3]) == "cab" and vocab.decode(vocab.encode("")) == ""
    with pytest.raises(ValueError, match="'dz' are not in the vocabulary of 5 characters"):
        vocab.encode("zadd")
    with pytest.raises(ValueError, match=r"ids must lie in 0..4, got 0 to 5"):
        vocab.decode([0, 5])


def test_a_saved_vocabulary_loads_as_the_same_characters(tmp_path):
    _, vocab, _, _ = D.load_text(seq_length=10, chars=100)
    vocab.save(tmp_path / "v.json")
    again = D.Vocabulary.load(tmp_path / "v.json")
    assert again == vocab and len(again) == 65 and again.chars[:3] == "\n !"  # newline, space


@pytest.mark.parametrize("content", [b"[1, 2]", b"{", b"\xff\xfe",
                                     b'{"format": "minnet vocabulary", "chars": "ba"}',
                                     b'{"format": "minnet vocabulary", "chars": "aab"}',
                                     b'{"format": "minnet vocabulary", "chars": 7}',
                                     b'{"format": "minnet vocabulary", "chars": ""}',
                                     b'{"format": "other", "chars": "ab"}'])
def test_loading_something_else_than_a_vocabulary_says_so(tmp_path, content):
    (tmp_path / "v.json").write_bytes(content)
    with pytest.raises(ValueError, match="v.json is not a minnet vocabulary file"):
        D.Vocabulary.load(tmp_path / "v.json")


@pytest.mark.parametrize("kwargs, message", [
    ({"seq_length": 0}, "seq_length must be a positive integer, got 0"),
    ({"step": 2.5}, "step must be a positive integer, got 2.5"),
    ({"seq_length": 50, "chars": 50}, "chars=50 cannot hold one window of seq_length=50"),
])
def test_load_text_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        D.load_text(**kwargs)


# ---- addition ---------------------------------------------------------------------------


def test_addition_reads_two_numbers_digit_by_digit_and_targets_their_sum():
    X, y = D.addition(n=500, digits=4, seed=3)
    assert X.shape == y.shape == (500, 5) and X.max() <= 99 and y.max() <= 9
    place = 10 ** np.arange(5)
    a, b = (X // 10 * place).sum(axis=1), (X % 10 * place).sum(axis=1)
    assert_array_equal((y * place).sum(axis=1), a + b)  # y is the sum, units first
    assert not X[:, -1].any()  # the last step reads no digit: only the final carry is left
    assert 0 < y[:, -1].mean() < 1  # ...which is sometimes 1
    assert a.max() < 10_000 and b.max() < 10_000 and len(np.unique(a)) > 400


def test_addition_by_hand_and_per_seed():
    X, y = D.addition(n=3, digits=3, seed=1)
    assert_array_equal(X[0], [30, 75, 49, 0])  # 473 + 950: units 3 and 0, tens 7 and 5, ...
    assert_array_equal(y[0], [3, 2, 4, 1])  # ... = 1423
    assert_array_equal(D.addition(3, 3, seed=1)[0], X)
    assert not np.array_equal(D.addition(3, 3, seed=2)[0], X)
