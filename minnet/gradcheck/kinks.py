"""Kinks: perturbations whose ±eps straddles a corner of forward (ReLU at 0, a max, a hinge).

There a centered difference measures neither one-sided slope, so such entries are compared
one-sided instead (`one_sided`: with the slope on the side backprop took), and counted in the
report's `kinks` column; only an entry that agrees with neither side is left out of the verdict.
They are found three ways: a declared corner crossed (`kink`, or `corners`), an output that
bends between -eps and +eps (for layers that declare nothing), and a second look with a smaller
eps at entries that disagree (verdicts.second_look).
"""

from __future__ import annotations

import numpy as np

from .calls import trusted
from .verdicts import agree

BEND = 0.1  # second difference / first difference above this: an output has a corner


def declared(obj) -> bool:
    """Does the class that wrote forward say where its corners are, or that it has none?"""
    return bool((trusted(obj, "smooth") and getattr(obj, "smooth", False))
                or _kink(obj) is not None
                or _has_corners(obj))


def crosses(obj, plus, minus, base, y=None) -> np.ndarray:
    """Per perturbation: does some declared corner lie between the -eps and +eps inputs?"""
    if _has_corners(obj):
        side = _corners(obj, base[None], y)[0] > 0
        flips = (_corners(obj, plus, y) > 0) != side
        flips |= (_corners(obj, minus, y) > 0) != side
        return flips.reshape(len(plus), -1).any(axis=1)
    k = _kink(obj)
    if k is None:
        return np.zeros(len(plus), dtype=bool)
    side = base > k
    flip = ((plus > k) != side) | ((minus > k) != side)
    return flip.reshape(len(plus), -1).any(axis=1)


def met(obj, plus, minus, base, outs=None, base_out=None, y=None) -> np.ndarray:
    """Per perturbation: a declared corner crossed, or an undeclared forward's output bent.

    plus, minus: the inputs at +eps and -eps (K each); outs: the 2K outputs, when known.
    """
    flags = crosses(obj, plus, minus, base, y)
    if outs is not None and not declared(obj):
        flags |= bends(outs[:len(plus)], outs[len(plus):], base_out)
    return flags


def _kink(obj) -> float | None:
    """The declared kink, a number; a student's attribute of that name that is none is no hint."""
    k = getattr(obj, "kink", None) if trusted(obj, "kink") else None
    return k if isinstance(k, (int, float, np.integer, np.floating)) and \
        not isinstance(k, bool) else None


def _has_corners(obj) -> bool:
    """A corners method, declared by forward's class: a student's own attribute of that name
    (a tuple of pixel offsets) is no hint."""
    return trusted(obj, "corners") and callable(getattr(obj, "corners", None))


def _corners(obj, xs, y):
    """obj.corners for a stack of inputs (K, ...): values whose sign flips at a corner."""
    args = (y,) if y is not None else ()
    return np.stack([np.asarray(obj.corners(x, *args)) for x in xs])


def bends(plus, minus, base) -> np.ndarray:
    """Per perturbation: does some output bend between θ-ε and θ+ε (a corner, as in max)?

    A smooth output moves in a straight line at this scale: its second difference is tiny
    next to its first. A corner makes them comparable.
    """
    plus, minus = np.asarray(plus), np.asarray(minus)
    d1 = np.abs(plus - minus)
    d2 = np.abs(plus - 2 * base + minus)
    noise = 64 * np.finfo(np.float64).eps * (np.abs(plus) + np.abs(base) + np.abs(minus))
    return ((d2 > BEND * d1) & (d2 > noise)).reshape(len(plus), -1).any(axis=1)


def one_sided(a, n, kinks, J0, pairs_at, eps, tol, atol):
    """Compare kink entries with a one-sided slope instead: the side their analytic value takes.

    At a corner the two sides have different slopes and a centered difference gives neither;
    backprop gives one of them (ReLU'(0) = 0 takes the flat side). Second-order one-sided
    differences, (-3 J(θ) + 4 J(θ + h) - J(θ + 2h)) / 2h and its mirror, are as accurate as
    centered ones. `pairs_at(positions, eps)` gives J at θ ± eps u for those positions.
    Returns the numeric values and the kinks still left out (no side agrees).
    """
    at = np.flatnonzero(kinks)
    if len(at) == 0:
        return n, kinks
    one, two = pairs_at(at, eps), pairs_at(at, 2 * eps)
    right = (4 * one.plus - two.plus - 3 * J0) / (2 * eps)
    left = (3 * J0 - 4 * one.minus + two.minus) / (2 * eps)
    side = np.where(np.abs(a[at] - right) <= np.abs(a[at] - left), right, left)
    ok = agree(a[at], side, tol, atol)
    n, kinks = n.copy(), kinks.copy()
    n[at[ok]], kinks[at[ok]] = side[ok], False
    return n, kinks
