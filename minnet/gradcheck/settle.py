"""Checks run once more with one of the layer's settings changed.

A factor that is both a setting and a plain number ("2 × the true one, which is self.t; or a
plain 2: self.t is 2 here") is told apart: a stray factor t follows t, a plain 2 stays 2.
factors.py asks, through settler(). And a gradient that is the true one of the same layer
with a setting at another value (self.beta at 1: left out; self.eps at 0) is named by it."""

from __future__ import annotations

import numpy as np

from .numeric import numeric_gradient, slope
from .pairing import BOOKKEEPING, held_numbers
from .structure import close

COST = 4000  # forward calls, at most, spent on trying settings at other values
FEW = 6  # entries a value is tried at first


def settler(probe, key: str):
    """settle(name, inverse, plain) for factors.py, on the tensor `key` of this probe."""
    return lambda name, inverse, plain: settled(probe, key, name, inverse, plain)


def settled(probe, key: str, name: str, inverse: bool, plain: str) -> str | None:
    """The factor is `name` (1/`name` if inverse) and also the plain number `plain`: which, by
    a second check with the setting changed; None when the check cannot say."""
    old = _get(probe, name)
    if old is None:
        return None
    new = old + 1.25  # not a whole multiple of old: the two readings part
    c = _at(probe, name, new, lambda: _ratio(probe, key))
    if c is None:
        return None
    short = name.split("'")[1] if "'" in name else name.removeprefix("self.")
    changed = f"with {short} = {new:.4g} instead of {old:.4g}"
    follows = 1 / new if inverse else new
    if abs(c - follows) < 1e-4 * abs(follows):
        return (f", which is {'1/' if inverse else ''}{name} ({changed}, yours is {c:.4g} × the "
                f"true one: it follows {short}): "
                + (f"the factor {short} is missing" if inverse else f"a stray factor {short}"))
    if abs(c - _value(plain)) < 1e-4 * abs(_value(plain)):
        return f": a plain {plain}, not {short} ({changed}, yours is still {c:.4g} × the true one)"
    return None


def _at(probe, name: str, v: float, measure):
    """measure() with the setting `name` at v, then the layer as it was (an int stays an int,
    a class constant the class's); None where the layer cannot run at v."""
    own = vars(probe.layer).copy()
    saved = {k: p.copy() for k, p in probe.params.items()}
    try:
        _set(probe, name, v)
        with np.errstate(all="ignore"):
            return measure()
    except Exception:  # a student's layer at a value it was not written for may raise anything
        return None
    finally:
        vars(probe.layer).clear()
        vars(probe.layer).update(own)
        for k, p in saved.items():
            probe.params[k][...] = p
        probe.restore()


def _get(probe, name: str) -> float | None:
    if name.startswith("self.") and isinstance(getattr(probe.layer, name[5:], None),
                                               (int, float)):
        return float(getattr(probe.layer, name[5:]))
    key = name.split("'")[1] if name.startswith("params[") else None
    p = probe.params.get(key) if key else None
    return float(p.ravel()[0]) if p is not None and p.size == 1 else None


def _set(probe, name: str, v: float) -> None:
    if name.startswith("self."):
        setattr(probe.layer, name[5:], v)
    else:
        probe.params[name.split("'")[1]][...] = v


def as_if(probe, key: str, a: np.ndarray, n: np.ndarray, what: str,
          most: int = 4) -> str | None:
    """'your dx is the true dx of this layer with beta = 1 instead of 1.7 (equal at every
    entry): backward leaves beta out', for a setting at 1, 0, −s, 2s, s/2 or 1/s (n: the true
    gradient at the settings as they are). Each value is tried at a few entries first; only
    one that agrees there is checked at every entry."""
    held = [(k, float(s)) for k, s in held_numbers(probe.layer, BOOKKEEPING).items()
            if np.isfinite(s)][:most]
    tries = [(k, v) for k, s in held for v in _others(s)]
    if not tries or 2 * (a.size + FEW * len(tries)) > COST:
        return None
    few = _spread(a.shape)
    for name, v in tries:
        true = _at(probe, name, v, lambda: _true(probe, key, few))
        if true is None or not close(a[few], true, 1e-5).all() or close(true, n[few], 1e-5).all():
            continue  # yours is not that, or the setting does not change the true one there
        true = _at(probe, name, v, lambda: _true(probe, key))
        if true is not None and true.shape == a.shape and close(a, true, 1e-5).all():
            short, old = name.removeprefix("self."), _get(probe, name)
            return (f"your {what} is the true {what} of this layer with {short} = {v:.4g} "
                    f"instead of {old:.4g} (equal at every entry): {_meaning(short, v, old)}")
    return None


def _spread(shape: tuple) -> tuple:
    """FEW flat indices spread over a tensor of this shape, as an index into it."""
    size = int(np.prod(shape))
    return np.unravel_index(np.unique(np.linspace(0, size - 1, min(FEW, size)).astype(int)),
                            shape)


def _others(s: float) -> list[float]:
    """The values a backward may have used for a setting s: 1 or 0 (left out), −s, 2s, s/2, 1/s;
    for an eps-like s (below 1e-3), 0 alone: at 1 or 1/s the layer is another layer."""
    if abs(s) < 1e-3:
        return [0.0] if s else []
    found = [1.0, 0.0, -s, 2 * s, s / 2] + ([1 / s] if 1e-2 < abs(s) < 1e2 else [])
    return [v for v in dict.fromkeys(found) if v != s]


def _meaning(short: str, v: float, old: float) -> str:
    if v == 1:
        return f"backward leaves {short} out (as a factor 1) where it belongs"
    if v == 0:
        return f"backward leaves out what {short} adds"
    said = {-old: f"−{short}", 2 * old: f"2·{short}", old / 2: f"{short}/2"}
    if old:
        said.setdefault(1 / old, f"1/{short}")
    return f"backward uses {said[v]} where {short} belongs"


def _true(probe, key: str, at: tuple | None = None) -> np.ndarray:
    """The true gradient of the tensor `key` by centered differences (at the entries `at`
    only, if given), at the layer's settings as they are now."""
    if key == "input":
        f, v = probe.calls.forward, probe.x.copy()
    else:
        f, v = (lambda _: probe.calls.forward(probe.x)), probe.params[key]
    if at is None:
        return numeric_gradient(f, v, probe.eps, dout=probe.G)
    saved = v.copy()
    return np.array([slope(f, v, saved, i, probe.eps, probe.G) for i in zip(*at)])


def _ratio(probe, key: str) -> float | None:
    """yours / true for the tensor `key`, one number for every entry, or None."""
    yours = probe._again(probe.x, probe.G).get(key)
    true = _true(probe, key)
    if yours is None or np.shape(yours) != true.shape or not np.abs(true).max() > 0:
        return None
    c = float(np.vdot(yours, true) / np.vdot(true, true))
    return c if close(yours, c * true, 1e-5).all() else None


def _value(plain: str) -> float:
    """'2' -> 2.0, '1/2' -> 0.5, '−3' -> -3.0."""
    sign = -1.0 if plain.startswith("−") else 1.0
    top, _, bottom = plain.lstrip("−").partition("/")
    return sign * (float(top) / float(bottom) if bottom else float(top))
