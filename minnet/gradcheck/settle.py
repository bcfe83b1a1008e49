"""A factor that is both a setting and a plain number ("2 × the true one, which is self.t; or a
plain 2: self.t is 2 here"), told apart by checking once more with the setting changed: a
stray factor t follows t, a plain 2 stays 2. factors.py asks, through settler()."""

from __future__ import annotations

import numpy as np

from .numeric import numeric_gradient
from .structure import close


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
    try:
        _set(probe, name, new)
        c = _ratio(probe, key)
    except (ValueError, TypeError, IndexError, ArithmeticError):
        c = None  # a layer that cannot run at the new value: the factor stays unsettled
    finally:
        _set(probe, name, old)
        probe.restore()
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


def _ratio(probe, key: str) -> float | None:
    """yours / true for the tensor `key`, one number for every entry, or None."""
    yours = probe._again(probe.x, probe.G).get(key)
    if key == "input":
        f = probe.calls.forward
        true = numeric_gradient(f, probe.x.copy(), probe.eps, dout=probe.G)
    else:
        true = numeric_gradient(lambda _: probe.calls.forward(probe.x), probe.params[key],
                                probe.eps, dout=probe.G)
    if yours is None or np.shape(yours) != true.shape or not np.abs(true).max() > 0:
        return None
    c = float(np.vdot(yours, true) / np.vdot(true, true))
    return c if close(yours, c * true, 1e-5).all() else None


def _value(plain: str) -> float:
    """'2' -> 2.0, '1/2' -> 0.5, '−3' -> -3.0."""
    sign = -1.0 if plain.startswith("−") else 1.0
    top, _, bottom = plain.lstrip("−").partition("/")
    return sign * (float(top) / float(bottom) if bottom else float(top))
