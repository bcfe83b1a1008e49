"""yours = true × a factor, one per index along an axis or one for the whole tensor, and what
that factor is.

A scale forgotten or applied twice leaves the ratio yours / true the same at every entry of a
row, a column or a feature, while it differs from one feature to the next: a layer's gamma
missing from a branch, a dbeta multiplied by gamma. When the factors equal an array the layer
holds (or its reciprocal), the statement names it: "your dW is the true one times a factor per
column: 10, 5, 3.33, 2.5, which is 1/params['gamma']: the factor gamma is missing". One factor
for the whole tensor is named the same way, or as √k for a size k of the layer's tensors (a
missing 1/√d), or as the number of outputs each entry reaches (a mean where the uses add up).
"""

from __future__ import annotations

import numpy as np

from .axes import Axes
from .formulas import layer_settings, setting_made
from .pairing import held, held_numbers
from .probe import LayerProbe
from .structure import close

RTOL = 1e-5  # how closely yours must equal factor × true at every entry


def per_index(layer, a: np.ndarray, n: np.ndarray, axes: Axes, what: str,
              settle=None) -> str | None:
    """One factor per index of one axis relates your gradient to the true one."""
    if np.abs(a).max(initial=0) <= 1e-12 * np.abs(n).max(initial=0):
        return None  # factors of 1e-17 say only that yours is 0
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
    c = whole_factor(a, n)
    if c is not None and abs(c - 1) > 1e-3:
        named = _named(layer, np.array([c]), settle)
        return f"your {what} is {c:.4g} × the true one" + named if named else None
    return None


def whole_factor(a: np.ndarray, n: np.ndarray) -> float | None:
    """c with yours = c × true at every entry, or None."""
    c = float(np.vdot(a, n) / max(np.vdot(n, n), 1e-300))
    return c if close(a, c * n, RTOL).all() else None


def scaled(probe: LayerProbe, a: np.ndarray, n: np.ndarray, what: str) -> str | None:
    """yours = c × true with c = √k (or 1/√k) for k a size of this layer's tensors: a scale
    1/√k missing (or one too many), as in attention's 1/√d."""
    c = whole_factor(a, n)
    if c is None or c == 0 or abs(abs(c) - 1) < 1e-3:
        return None
    shapes = [probe.x.shape, np.shape(probe.base_out), *(p.shape for p in probe.params.values())]
    sizes = {int(k) for shape in shapes for k in shape if k > 1}
    sizes |= {int(v) for v in held_numbers(probe.layer).values()  # head_dim, kernel_size, ...
              if isinstance(v, (int, np.integer)) and v > 1}
    sizes |= {k // h for k in sizes for h in sizes if h < k and k % h == 0}
    for k in sorted(sizes):
        for power, text in ((c, "missing"), (1 / c, "one too many")):
            if abs(power - np.sqrt(k)) < 1e-4 * np.sqrt(k):
                return (f"your {what} is {c:.4g} × the true one, and {power:.4g} = √{k}, where "
                        f"{k} is a size of this layer's tensors: a scale 1/√{k} {text} (as "
                        f"attention's 1/√d)?" + _count(probe.layer, power))
    return None


def _count(layer, power: float) -> str:
    """' Or heads = 2: ...' when the factor is also a count the layer holds; ' Or a gradient
    split between 2 paths ...' for any other whole number."""
    for name, v in held_numbers(layer).items():
        if isinstance(v, (int, np.integer)) and v > 1 and abs(power - v) < 1e-4 * v:
            name = name.removeprefix("self.")
            return (f" Or {name} = {v}: this tensor serves {v} of them, and their gradients "
                    f"add up (a mean where a sum belongs?)")
    m = round(power)
    if m > 1 and abs(power - m) < 1e-4 * m:
        return (f" Or a whole number {m}: a gradient split between {m} paths that should each "
                f"get it whole (or added {m} times where once belongs)?")
    return ""


def fan(probe: LayerProbe, a: np.ndarray, n: np.ndarray, what: str, name: str) -> str | None:
    """yours = k × true, or true / k, where k is how many outputs each entry of the tensor
    reaches (an upsampling's x, a parameter broadcast over the batch) or how many entries of x
    each output reads (a pooling): a sum and a mean mixed up."""
    c = whole_factor(a, n)
    if c is None or probe.base_out is None or probe.is_loss:
        return None
    feeds = np.size(probe.base_out) / a.size
    if feeds > 1 and abs(c * feeds - 1) < 1e-4:
        return (f"your {what} is 1/{feeds:g} of the true one, and each entry of {name} reaches "
                f"{feeds:g} outputs (the output has {feeds:g}× its size): their gradients add "
                f"up; does your backward average them?")
    if feeds < 1 and abs(c * feeds - 1) < 1e-4 and name == "x":
        return (f"your dx is {1 / feeds:g}× the true one, and each output reads {1 / feeds:g} "
                f"entries of x (the input has {1 / feeds:g}× the output's size): is the "
                f"1/{1 / feeds:g} of a mean missing in backward?")
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


def _named(layer, c: np.ndarray, settle=None) -> str:
    """', which is 1/params['gamma']: ...' when an array the layer holds gives the factors.
    settle(name, inverse, plain), given, answers whether a factor that is also a plain number
    follows the setting (settle.py); None where it cannot tell."""
    arrays = held(layer) | {k: np.array([v]) for k, v in held_numbers(layer).items()
                            if isinstance(v, float) and v not in (0.0, 1.0)}  # alpha, scale
    for name, v in arrays.items():
        v = np.asarray(v, dtype=np.float64)
        if v.size != c.size:
            continue
        v = v.ravel()
        if close(c, v, 1e-4).all():
            inverse, text = False, (f", which is {name}: a stray factor {_short(name)} (yours "
                                    f"is multiplied by it, the true one is not)")
        elif (v != 0).all() and close(c, 1 / v, 1e-4).all():
            inverse, text = True, f", which is 1/{name}: the factor {_short(name)} is missing"
        else:
            continue
        plain = _plain(c)
        told = settle(name, inverse, plain) if settle and plain else None
        return told or text + _or_plain(name, c, plain)
    made = setting_made(abs(float(c[0])), layer_settings(layer)) if c.size == 1 else None
    return f", which is {'−' if c[0] < 0 else ''}{made}" if made else ""


def _plain(c: np.ndarray) -> str | None:
    """'2', '1/2' or '−3': the one factor c as a small whole number or its reciprocal."""
    if c.size != 1 or c[0] == 0:
        return None
    for v, word in ((c[0], "{}"), (1 / c[0], "1/{}")):
        k = round(abs(v))
        if 2 <= k <= 10 and abs(abs(v) - k) < 1e-4 * k:
            return ("−" if v < 0 else "") + word.format(k)
    return None


def _or_plain(name: str, c: np.ndarray, plain: str | None) -> str:
    """'; or a plain 1/2: self.step is 0.5 here, so this layer cannot tell the two apart'."""
    if plain is None:
        return ""
    return (f"; or a plain {plain}: {name} is {c[0]:.4g} here, so this check cannot tell the "
            f"two apart (try another value of {_short(name)})")


def names_it(text: str | None) -> bool:
    """Does per_index's statement name its factor (an array the layer holds, or, settled by a
    second check, a plain number)?"""
    return bool(text) and (", which is" in text or ": a plain " in text)


def factor_named(layer, c: float, settle=None) -> str:
    """', which is 1/self.lam: the factor lam is missing' when a number the layer holds is c."""
    return _named(layer, np.array([c]), settle)


def _listed(c: np.ndarray) -> str:
    return ", ".join(f"{v:.3g}" for v in c[:8]) + (", ..." if len(c) > 8 else "")


def _short(name: str) -> str:
    """params['gamma'] -> gamma; self.scale -> scale."""
    return name.split("'")[1] if "'" in name else name.removeprefix("self.")
