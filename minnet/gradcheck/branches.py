"""Wrong exactly on one side of a threshold of an array the layer holds, or only at the entries
a max or a min of it picks, or exactly where another tensor's true gradient belongs.

A branch of a max, a clip, a where or an abs taken wrongly in backward leaves the error where an
array forward used is above (or below) some value, and nowhere else: "wrong exactly where
self.norms > 1 (15 of 40 entries); right wherever self.norms < 1". A gradient meant for another
tensor of the same shape is the true gradient of that tensor: "your dA equals the true dB".
"""

from __future__ import annotations

import itertools

import numpy as np

from .factors import whole_factor
from .fit import proportional
from .formulas import arrays
from .pairing import held_numbers


def branch(probe, key: str, wrong: np.ndarray, a: np.ndarray, n: np.ndarray) -> str | None:
    """'wrong exactly where b > t; right wherever b < t', for b an array the layer holds, x or
    the output (or its |b|), and t 0, 1 or a number the layer holds, or any t when both sides
    hold three values of b or more (fewer could be split by chance)."""
    right = ~wrong
    if wrong.sum() < 2 or right.sum() < 2:
        return None
    columns = _whole_slices(wrong)
    if not np.abs(a[right]).max() > 0 and not np.abs(n[right]).max() > 1e-9 * np.abs(n).max():
        return None  # right only where both are 0: a split of the gradient's support, no branch
    numbers = _numbers(probe.layer)
    for name, b in arrays(probe, key, wrong.shape).items():
        if name.startswith("self.") and (proportional(b, a) or proportional(b, n)):
            continue  # a kept copy of a gradient
        if columns and b.ndim > 1 and b.shape[0] > 1 and np.ptp(b, axis=0).max() > 0:
            continue  # it varies from sample to sample, yet splits whole columns: a chance
        two = np.unique(b)
        if len(two) == 2 and len(np.unique(b[wrong])) == len(np.unique(b[right])) == 1:
            k, m = int(wrong.sum()), wrong.size  # a mask, a one-hot: no threshold to name
            return (f"wrong exactly where {name} = {b[wrong][0]:g}; right wherever it is "
                    f"{b[right][0]:g} ({k} of {m} entries)")
        for shown, v in ((name, b), (f"|{name}|", np.abs(b))):
            sides = _split(shown, v[wrong], v[right], numbers)
            if sides:
                k, m = int(wrong.sum()), wrong.size
                return (f"wrong exactly where {sides[0]} ({k} of {m} entries); right wherever "
                        f"{sides[1]}: does your backward treat that side as forward does (a max, "
                        f"clip, where or abs)?")
    return None


def _whole_slices(wrong: np.ndarray) -> bool:
    """Wrong at whole indices of an axis after the samples' (classes 2 and 3 of every sample):
    a place, which the axis statement names; a threshold that splits the same entries would
    be a chance. (Whole samples can be a threshold's: a sample's inputs are all large.)"""
    for axis in range(1, wrong.ndim):
        others = tuple(o for o in range(wrong.ndim) if o != axis)
        spread = np.broadcast_to(wrong.any(axis=others, keepdims=True), wrong.shape)
        if wrong.size > wrong.shape[axis] and np.array_equal(wrong, spread):
            return True
    return False


def extreme(probe, key: str, wrong: np.ndarray, axes) -> str | None:
    """'wrong only at the smallest x of each sample (along its features)': the entries a max
    or a min picks, and no others."""
    if wrong.sum() < 2 or wrong.all():
        return None
    for name, b in arrays(probe, key, wrong.shape).items():
        for axis, (word, pick) in itertools.product(range(b.ndim), (("largest", np.max),
                                                                     ("smallest", np.min))):
            at = b == pick(b, axis=axis, keepdims=True)
            if b.shape[axis] < 3 or at.sum() > 1.5 * b.size / b.shape[axis] or len(
                    np.unique(b)) <= 2 or any(
                    b.shape[o] > 1 and np.ptp(b, axis=o).max() == 0 for o in range(b.ndim)):
                continue  # too short to pick from, ties, or b broadcast along an axis
            if not (wrong & ~at).any() and 2 * wrong.sum() >= at.sum():
                rest = " and ".join(axes.name(a) for a in range(b.ndim) if a != axis)
                return (f"wrong only at the {word} {name} along the {axes.plural(axis)} "
                        f"(axis {axis}), one in each {rest}, the entries a "
                        f"{'max' if word == 'largest' else 'min'} picks ({int(wrong.sum())} of "
                        f"{int(at.sum())} such entries): check that branch of your backward")
    return None


def _split(name: str, bad: np.ndarray, good: np.ndarray,
           numbers: list[float]) -> tuple[str, str] | None:
    """('x > 0.3', 'x < 0.3'): the wrong side and the right one, at 0, ±1, a number the layer
    holds, or the roundest number between them."""
    if bad.max() < good.min():
        lo, hi, side, other = bad.max(), good.min(), "<", ">"
    elif bad.min() > good.max():
        lo, hi, side, other = good.max(), bad.min(), ">", "<"
    else:
        return None
    t = next((t for t in numbers if lo < t < hi), None)
    if t is None:
        if min(len(np.unique(bad)), len(np.unique(good))) < 3:
            return None
        t = _simple(lo, hi)
    return f"{name} {side} {t:g}", f"{name} {other} {t:g}"


def _numbers(layer) -> list[float]:
    """0, ±1 and the numbers the layer holds (a max_norm, a clip value, a delta)."""
    held = [float(v) for v in held_numbers(layer).values()]
    return [0.0, 1.0, -1.0, *held, *(-v for v in held)]


def _simple(lo: float, hi: float) -> float:
    """The roundest number strictly between lo and hi: 0.5, 1.37, ..."""
    mid = (lo + hi) / 2
    for digits in range(1, 8):
        t = float(f"{mid:.{digits}g}")
        if lo < t < hi:
            return t
    return mid


def crossed(name: str, a: np.ndarray, others: dict[str, np.ndarray]) -> str | None:
    """'your dA equals the true dB', for another tensor B of the same shape (its true gradient
    in others), up to a factor."""
    for other, n in others.items():
        if other == name or n.shape != a.shape or not np.abs(n).max(initial=0) > 0:
            continue
        c = whole_factor(a, n)
        if c is not None and abs(c) > 1e-6:
            times = "" if abs(c - 1) < 1e-5 else f"{c:.4g} × "
            return (f"your d{name} equals {times}the true d{other}: the gradient of {other} "
                    f"computed where the one of {name} belongs?")
    return None
