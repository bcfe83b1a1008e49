"""A gradient that mixes dout along one axis by a matrix: dx[..., t, ...] = Σ_s M[s, t]·dout[...,
s, ...], the same M for every sample and feature (a resampling, a filter along time, an average
over pixels).

Backward is linear in dout, so where forward mixes x along one axis alike everywhere, the true
dx is dout times a matrix along that axis, and so is yours when it is made the same way. Both
matrices are read off by least squares and compared; each is named where it is an array the
layer holds, or its transpose: "along the time steps, your dx = dout·M with M = self.R; the
true one's M = self.Rᵀ" is the map of forward applied where its transpose belongs. Where the
true M is one of the layer's weights, a dense product, the products and pairing.py speak.
"""

from __future__ import annotations

import numpy as np

from .axes import Axes
from .pairing import held

MOST = 36  # a matrix printed whole, up to this many entries


def mixing(probe, a: np.ndarray, n: np.ndarray, axes: Axes, what: str) -> str | None:
    """'along the time steps (axis 1), your dx = M·dout with M (4 × 3) = [...], the true one's
    M = [...] = self.Rᵀ', where both are such a mix and their matrices differ."""
    G = probe.G
    if G is None or G.ndim != a.ndim:
        return None
    for k in range(a.ndim):
        if np.delete(a.shape, k).tolist() != np.delete(G.shape, k).tolist() or a.shape[k] < 2:
            continue
        mine, true = _matrix(G, a, k, 1e-8), _matrix(G, n, k, 1e-6)
        if mine is None or true is None or np.allclose(mine, true, rtol=1e-4, atol=1e-6):
            continue
        true_shown = _shown(true, probe.layer)
        if true_shown.startswith("= params["):
            continue  # a weight's product: pairing.py and the products say it better
        where = f"along the {axes.plural(k)} (axis {k}), dout mixed by a matrix M, the same for " \
                f"every other index ({what}[t] = Σ_s M[t, s]·dout[s])"
        return f"{where}: your M {_shown(mine, probe.layer)}; the true one's M {true_shown}"
    return None


def _matrix(G: np.ndarray, v: np.ndarray, axis: int, rtol: float) -> np.ndarray | None:
    """M (v's length × G's length along `axis`) with v = M·G along it at every entry, or None:
    least squares over the other indices, which must outnumber M's columns."""
    g = np.moveaxis(G, axis, -1).reshape(-1, G.shape[axis])
    u = np.moveaxis(v, axis, -1).reshape(-1, v.shape[axis])
    if len(g) < g.shape[1] + 2 or np.linalg.matrix_rank(g) < g.shape[1]:
        return None
    M = np.linalg.lstsq(g, u, rcond=None)[0].T
    scale = np.linalg.norm(u)
    if scale == 0 or np.linalg.norm(g @ M.T - u) > rtol * scale:
        return None
    return M


def _shown(M: np.ndarray, layer) -> str:
    """'= self.Rᵀ (4 × 3)', or the matrix itself when small, or only its shape."""
    rows, cols = M.shape
    for name, v in held(layer).items():
        for text, w in _turned(name, v):
            if np.shape(w) == M.shape and np.allclose(M, w, rtol=1e-5, atol=1e-8):
                return f"= {text} ({rows} × {cols})"
    if M.size > MOST:
        return f"({rows} × {cols}) is none of the layer's arrays"
    body = "; ".join(" ".join(f"{v:+.3g}" for v in row) for row in np.round(M, 12) + 0.0)
    return f"({rows} × {cols}) = [{body}]"


def _turned(name: str, v: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """v, and for a matrix its transpose, and for an invertible square one its inverse and
    the inverse's transpose (y = A⁻¹x is taken back by A⁻ᵀ)."""
    found = [(name, v)]
    if np.ndim(v) == 2:
        found.append((f"{name}ᵀ", v.T))
        if v.shape[0] == v.shape[1] and np.linalg.cond(v) < 1e8:
            inverse = np.linalg.inv(v)
            found += [(f"{name}⁻¹", inverse), (f"{name}⁻ᵀ", inverse.T)]
    return found
