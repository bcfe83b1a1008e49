"""yours = true × a factor, one per index along an axis, and what that factor is.

A scale forgotten or applied twice leaves the ratio yours / true the same at every entry of a
row, a column or a feature, while it differs from one feature to the next: a layer's gamma
missing from a branch, a dbeta multiplied by gamma. When the factors equal an array the layer
holds (or its reciprocal), the statement names it: "your dW is the true one times a factor per
column: 10, 5, 3.33, 2.5, which is 1/params['gamma']: the factor gamma is missing".
"""

from __future__ import annotations

import numpy as np

from .axes import Axes
from .pairing import kept
from .structure import close

RTOL = 1e-5  # how closely yours must equal factor × true at every entry


def per_index(layer, a: np.ndarray, n: np.ndarray, axes: Axes, what: str) -> str | None:
    """One factor per index of one axis relates your gradient to the true one."""
    if a.ndim == 1 and a.size > 1 and (n != 0).all():  # a ratio per entry says something
        named = _named(layer, a / n)  # only when an array the layer holds gives it
        return f"your {what} is the true one times {_listed(a / n)} entry by entry" + named \
            if named else None
    for axis in range(a.ndim):
        c = _factors(a, n, axis)
        if c is None:
            continue
        text = (f"your {what} is the true one times a factor per {axes.name(axis)}: "
                f"{_listed(c)} (yours / true)")
        return text + _named(layer, c)
    c = float(np.vdot(a, n) / max(np.vdot(n, n), 1e-300))  # one factor for the whole tensor
    if abs(c - 1) > 1e-3 and close(a, c * n, RTOL).all():
        named = _named(layer, np.array([c]))
        return f"your {what} is {c:.4g} × the true one" + named if named else None
    return None


def _factors(a: np.ndarray, n: np.ndarray, axis: int) -> np.ndarray | None:
    """c with a ≈ c[along axis] · n everywhere, when c varies along the axis; else None."""
    if a.shape[axis] < 2 or a.size == a.shape[axis]:
        return None
    others = tuple(i for i in range(a.ndim) if i != axis)
    nn = (n * n).sum(axis=others)
    if (nn <= 1e-24 * nn.max(initial=0)).any():
        return None
    c = (a * n).sum(axis=others) / nn
    if np.ptp(c) <= 1e-3 * np.abs(c).max() or not close(a, np.expand_dims(c, others) * n,
                                                        RTOL).all():
        return None
    return c


def _named(layer, c: np.ndarray) -> str:
    """', which is 1/params['gamma']: ...' when an array the layer holds gives the factors."""
    arrays = {f"params[{k!r}]": v for k, v in getattr(layer, "params", {}).items()}
    arrays |= kept(layer)
    arrays |= {f"self.{k}": np.array([v]) for k, v in vars(layer).items()  # alpha, scale, ...
               if isinstance(v, float) and not k.startswith("_") and v not in (0.0, 1.0)}
    for name, v in arrays.items():
        v = np.asarray(v, dtype=np.float64)
        if v.size != c.size:
            continue
        v = v.ravel()
        if close(c, v, 1e-4).all():
            return (f", which is {name}: a stray factor {_short(name)} (yours is multiplied by "
                    f"it, the true one is not)")
        if (v != 0).all() and close(c, 1 / v, 1e-4).all():
            return f", which is 1/{name}: the factor {_short(name)} is missing"
    return ""


def _listed(c: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in c[:8]) + (", ..." if len(c) > 8 else "")


def _short(name: str) -> str:
    """params['gamma'] -> gamma; self.scale -> scale."""
    return name.split("'")[1] if "'" in name else name.removeprefix("self.")
