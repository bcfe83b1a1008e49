"""Gradients that cannot be compared at all: missing, None, a list, integers, the wrong shape.

Each gets one plain sentence, with the likely cause where the shapes tell it, so that no
student's gradient crashes a check: it becomes a FAIL row instead.
"""

from __future__ import annotations

import numpy as np


def problem(g, shape: tuple, batch: int | None = None) -> str | None:
    """What keeps g from being the gradient of a tensor of `shape`; None when it can be one.

    `batch` is the number of samples N, so that a missing sum over them can be named.
    """
    if g is None:
        return "None: backward stored None, not an array"
    if isinstance(g, (list, tuple)):
        return (f"a {type(g).__name__}, not a numpy array (build it with numpy, or "
                f"np.array(...) it)")
    if not isinstance(g, (np.ndarray, np.generic, float, int)):
        return f"a {type(g).__name__}, not a numpy array"
    g = np.asarray(g)
    if g.dtype.kind == "b":
        return ("dtype bool: a mask, not a gradient (multiply the mask by the upstream "
                "gradient)")
    if g.dtype.kind not in "fiu":
        return f"dtype {g.dtype}: a gradient holds real floating-point numbers"
    if g.shape != tuple(shape):
        return mismatch(g.shape, tuple(shape), batch)
    if g.dtype.kind != "f":
        return (f"dtype {g.dtype}: a gradient holds floating-point numbers; an integer array "
                f"drops the fractions (was it made with np.zeros_like of an integer array?)")
    return None


def mismatch(got: tuple, want: tuple, batch: int | None = None) -> str:
    """'shape: the gradient has shape got, the tensor want', and why, when the shapes tell."""
    if len(want) > 1 and got == want[::-1]:
        return f"transposed: the gradient has shape {got}, the tensor {want}"
    text = f"shape: the gradient has shape {got}, the tensor {want}"
    cause = _cause(got, want, batch)
    return f"{text}: {cause}" if cause else text


def _cause(got: tuple, want: tuple, batch: int | None) -> str | None:
    """The axes that a sum left in, or took out too many of, when that is all that differs."""
    if got == () and want != ():
        return "a single number: was the sum taken over every axis, instead of over the samples?"
    spread = _broadcast_axes(got, want)
    if spread and len(got) > len(want):
        named = [f"axis {a} (the batch, N = {batch})" if a == 0 and got[0] == batch
                 else f"axis {a} (of {got[a]})" for a in spread]
        return (f"it was broadcast over {' and '.join(named)} in forward, so its "
                f"gradient is the sum over {'them' if len(spread) > 1 else 'it'}: is that sum "
                f"missing?")
    extra = _extra_axes(got, want)
    if extra:
        sizes = [got[a] for a in extra]
        if len(extra) == 1 and batch is not None and sizes[0] == batch:
            return f"is the sum over the batch axis (axis {extra[0]}, N = {batch}) missing?"
        axes = ", ".join(f"axis {a} (of {n})" for a, n in zip(extra, sizes))
        return f"is the sum over {axes} missing?"
    lost = _extra_axes(want, got)
    if lost:
        axes = ", ".join(f"axis {a} (of {want[a]})" for a in lost)
        return f"was it summed over {axes} as well, an axis the tensor keeps?"
    if len(got) == len(want) and sorted(got) == sorted(want):
        return "the same sizes in another order: are two axes swapped?"
    grown = {g - w for g, w in zip(got, want) if g != w} if len(got) == len(want) else set()
    if len(grown) == 1 and (pad := grown.pop()) > 0 and pad % 2 == 0:
        axes = " and ".join(str(a) for a, (g, w) in enumerate(zip(got, want)) if g != w)
        return (f"{pad} larger along axes {axes}: is a padding of {pad // 2} on each side still "
                f"on? (cut it off: dx[..., p:-p, p:-p])")
    return None


def _broadcast_axes(got: tuple, want: tuple) -> list[int] | None:
    """The axes of `got` over which a tensor of shape `want` broadcasts (numpy's rules, the
    trailing axes aligned); None when `want` does not broadcast to `got`."""
    padded = (1,) * (len(got) - len(want)) + tuple(want)
    if len(padded) != len(got) or any(w not in (1, g) for w, g in zip(padded, got)):
        return None
    return [a for a, (w, g) in enumerate(zip(padded, got)) if w == 1 and g != 1]


def _extra_axes(long: tuple, short: tuple) -> list[int] | None:
    """The axes of `long` that, taken out, leave `short` (in order); None if there are none."""
    if len(long) <= len(short):
        return None
    extra, j = [], 0
    for a, n in enumerate(long):
        if j < len(short) and n == short[j]:
            j += 1
        else:
            extra.append(a)
    return extra if j == len(short) else None
