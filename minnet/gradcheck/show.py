"""A failing tensor shown in its shape, yours beside the true one, so that the eye can find
the pattern: the whole tensor when it is small, else the 2-D slice around its worst entry (one
kernel, one sample's channel, one time step's features)."""

from __future__ import annotations

import numpy as np

from .axes import Axes

WHOLE = 32  # a tensor of at most this many entries is shown whole
ROWS, COLUMNS = 8, 8  # the most rows and columns of a slice


def side_by_side(a: np.ndarray, n: np.ndarray, wrong: np.ndarray, axes: Axes,
                 what: str, context: tuple | None = None) -> list[str]:
    """Lines: a heading, then yours | true, a '*' after each wrong entry of yours; then, when
    `context` = (x, dout) of the same shape, the same entries of the layer's input and upstream
    gradient, so that a formula can be tried on them by hand."""
    if a.ndim == 0:
        return []
    if a.ndim == 1:
        a, n, wrong = a[None], n[None], wrong[None]
        context = context and tuple(v[None] for v in context)
        axes = Axes(("", *axes.names), {})
    worst = np.unravel_index(np.argmax(np.where(wrong, np.abs(a - n), -1)), a.shape)
    if a.size <= WHOLE:  # every 2-D slice, one after the other
        slices = list(np.ndindex(a.shape[:-2]))
        rows = cols = slice(None)
    else:
        slices = _two_slices(np.where(wrong, np.abs(a - n), -1), worst)
        rows = _around(worst[-2], a.shape[-2], ROWS)
        cols = _around(worst[-1], a.shape[-1], COLUMNS)
    lines = [f"{what}{' whole' if a.size <= WHOLE else ''}, yours | true, * where yours is "
             f"wrong: {_span(axes, a.shape, a.ndim - 2, rows)} × "
             f"{_span(axes, a.shape, a.ndim - 1, cols)}"]
    for lead in slices:
        if lead:
            lines.append("at " + ", ".join(f"{axes.name(i)} {k}" for i, k in enumerate(lead)))
        lines += _block(a[lead][rows, cols], n[lead][rows, cols], wrong[lead][rows, cols])
        if context:
            lines += _context(*context, lead, rows, cols)
    return lines


def _context(x: np.ndarray, G: np.ndarray, lead: tuple, rows: slice, cols: slice) -> list[str]:
    """x there, beside dout there; or beside the whole of dout's slice when the output is
    smaller (a pooling: each entry of dout is a window of x)."""
    none = np.zeros(x[lead][rows, cols].shape, dtype=bool)
    if G.shape == x.shape:
        return ["  and there, x (the layer's input) | dout (the upstream gradient G):",
                *_block(x[lead][rows, cols], G[lead][rows, cols], none)]
    g = G[lead]
    fr, fc = max(1, x.shape[-2] // g.shape[-2]), max(1, x.shape[-1] // g.shape[-1])
    (r0, r1, _), (c0, c1, _) = rows.indices(x.shape[-2]), cols.indices(x.shape[-1])
    g = g[r0 // fr:-(-r1 // fr), c0 // fc:-(-c1 // fc)]  # the windows those rows and columns hold
    return [f"  and there, x (the layer's input) | dout there (the upstream gradient G, one of "
            f"its entries for one {fr}×{fc} block of x):", *_block(x[lead][rows, cols], g, none)]


def _two_slices(size: np.ndarray, worst: tuple) -> list[tuple]:
    """The 2-D slice of the worst entry, and the worst of another (sample, channel, step)."""
    first = worst[:-2]
    if size.ndim < 3:
        return [first]
    per = size.reshape(*size.shape[:-2], -1).max(axis=-1)
    per[first] = -np.inf
    second = np.unravel_index(np.argmax(per), per.shape)
    return [first] + ([tuple(int(i) for i in second)] if per[second] > 0 else [])


def _around(at: int, size: int, most: int) -> slice:
    start = min(max(0, at - most // 2), max(0, size - most))
    return slice(start, min(size, start + most))


def _span(axes: Axes, shape: tuple, axis: int, s: slice) -> str:
    if not axes.names[axis]:
        return "one row"
    start, stop, _ = s.indices(shape[axis])
    cut = f" (of {shape[axis]})" if stop - start < shape[axis] else ""
    return f"{axes.plural(axis)} {start}..{stop - 1}{cut}"


def _block(a, n, wrong) -> list[str]:
    """Rows of a beside rows of n; n may be smaller (blank where it has no row)."""
    yours = [[_cell(v) + ("*" if w else " ") for v, w in zip(ra, rw)] for ra, rw in zip(a, wrong)]
    true = [[_cell(v) + " " for v in rn] for rn in n]
    width = max(len(c) for row in yours + true for c in row)
    line = lambda row: " ".join(c.rjust(width) for c in row)  # noqa: E731
    true += [[]] * (len(yours) - len(true))
    return [f"  {line(ra)}  |  {line(rn)}" for ra, rn in zip(yours, true)]


def _cell(v: float) -> str:
    return "0" if v == 0 else f"{v:+.3g}"
