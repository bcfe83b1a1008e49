"""A per-feature parameter's gradient before its sum over the batch, yours and the true one.

A parameter with one value per feature (a gain, a slope, a shift) gets dθ_d = Σ_rows g[row, d]:
each row of the batch (each sample, each time step, each pixel) adds one term. Those terms
have the shape of dout, so they can be fitted entry by entry like a dx (formulas.py): yours
from your backward of dout kept at one row at a time, the true ones from the numeric slopes of
each row's share of J. "your da = Σ over rows of dout·self.t; the true one = Σ over rows of
dout·(self.t − self.u·(1 − self.t²))" says which term is missing.
"""

from __future__ import annotations

import numpy as np

from .formulas import building_blocks, compared

MOST_ROWS = 64  # rows of the batch, at most: one backward call each
MOST = 64  # the parameter's values, at most: two forward calls each


def unsummed(probe, key: str, a: np.ndarray) -> str | None:
    """'your dθ = Σ over rows of F; the true one = Σ over rows of F′' for a per-feature θ."""
    G, p, out = probe.G, probe.params.get(key), probe.base_out
    if G is None or p is None or p.ndim != 1 or not 1 < p.size <= MOST or out is None \
            or np.shape(out) != np.shape(G) or np.shape(G) != probe.x.shape:
        return None
    axis = G.ndim - 1 if G.shape[-1] == p.size else 1 if G.ndim == 4 and G.shape[1] == p.size \
        else None
    rows = G.size // p.size
    if axis is None or not 1 < rows <= MOST_ROWS:
        return None
    try:
        mine, true = _yours(probe, key, axis), _true(probe, key, axis)
    finally:
        probe.restore()
    if mine is None or not np.allclose(mine.sum(axis=tuple(i for i in range(G.ndim)
                                                            if i != axis)), a, rtol=1e-6,
                                         atol=1e-12):
        return None  # your terms do not add up to your gradient: not a sum over rows
    said = compared(f"d{key} (each row's term)", mine, true,
                    building_blocks(probe, "input", G.shape), {"dout": G}, alone=True)
    if not said or not ("the true one =" in said or "yours − true =" in said):
        return None  # what the true one is, or what yours lacks, or nothing
    return (f"before the sum over the batch (each row's term, of dout's shape {G.shape}; "
            f"d{key} adds them up along every axis but axis {axis}): {said}")


def _yours(probe, key: str, axis: int) -> np.ndarray | None:
    """Your gradient's term from each row: your backward of dout kept at that row alone."""
    G = probe.G
    terms = np.zeros(G.shape)
    moved = np.moveaxis(terms, axis, -1)
    for row in np.ndindex(moved.shape[:-1]):
        one = np.zeros(G.shape)
        np.moveaxis(one, axis, -1)[row] = np.moveaxis(G, axis, -1)[row]
        g = probe._again(probe.x, one).get(key)
        if g is None or g.shape != (G.shape[axis],):
            return None
        moved[row] = g
    return terms


def _true(probe, key: str, axis: int) -> np.ndarray:
    """The true term of each row: Σ over that row of dout · d(out)/dθ_d, by centered
    differences, one pair of forward calls per value of θ."""
    p, G, eps = probe.params[key], probe.G, probe.eps
    terms = np.zeros(G.shape)
    moved = np.moveaxis(terms, axis, -1)
    for d in range(p.size):
        keep = p[d]
        p[d] = keep + eps
        plus = np.asarray(probe.calls.forward(probe.x), dtype=np.float64)
        p[d] = keep - eps
        minus = np.asarray(probe.calls.forward(probe.x), dtype=np.float64)
        p[d] = keep
        share = np.moveaxis((plus - minus) * G / (2 * eps), axis, -1).sum(axis=-1)
        moved[..., d] = share
    return terms
