"""A backward made of dout and a correction term along one axis, as a normalization's and a
softmax's are: dx = c·dout·b0 + k·M·mean(dout·b), with b0, M and b arrays the layer holds.

corrected() fits yours and the true one to it ("your dx = dout − self.y·Σ(dout) over the
features; the true one = dout − exp(self.y)·Σ(dout) over the features"); correction() fits
their difference alone to the term ("yours − true = self.xhat/self.rms·mean(dout·self.xhat)":
a term missing).
"""

from __future__ import annotations

import itertools

import numpy as np

from .fit import as_number, holds, product_text
from .formulas import arrays

RATIOS = 6  # arrays whose ratios (self.xhat/self.rms) are tried as a term's shape, at most


def corrected(probe, a: np.ndarray, n: np.ndarray, axes) -> str | None:
    """dx = c·dout·b0 + k·M·mean(dout·b) along one axis, for yours and for the true one, as a
    normalization's or a softmax's backward is: 'your dx = dout − self.y·Σ(dout) over the
    features; the true one = dout − exp(self.y)·Σ(dout) over the features'."""
    G = probe.G
    if G is None or np.shape(G) != a.shape or a.ndim < 2:
        return None
    raw = arrays(probe, "input", a.shape)
    with np.errstate(all="ignore"):
        scales = {"": np.ones_like(a), **raw}
        scales |= {f"1/{u}": 1 / b for u, b in raw.items() if np.all(b != 0)}
        shapes = scales | _ratios(raw)
        shapes |= {f"exp({u})": np.exp(np.clip(b, -700, 700)) for u, b in raw.items()}
        mine, true = _corrected(a, G, raw, scales, shapes, axes, 1e-6), \
            _corrected(n, G, raw, scales, shapes, axes, 1e-5)
    if mine and true and mine != true:
        lacks = f": yours lacks the term{true[len(mine):]}" if true.startswith(mine) else ""
        return f"your dx = {mine}; the true one = {true}{lacks}"
    if true and not mine:
        return f"the true dx = {true}; yours is not of that form"
    if mine and not true:
        return f"your dx = {mine}; the true one is not of that form"
    return None


def _corrected(v, G, raw, scales, shapes, axes, rtol) -> str | None:
    names = list(scales)
    Ds = np.array([G * scales[k] for k in names])  # every dout·b0 at once
    if not np.isfinite(Ds).all():
        return None
    for ax in (a for a in range(v.ndim) if v.shape[a] > 2):
        for m_name, M in shapes.items():
            mm = (M * M).sum(axis=ax, keepdims=True)
            if not np.isfinite(M).all() or (mm == 0).any():
                continue
            v_, D_ = _without(v, M, ax, mm), _without(Ds, M, ax + 1, mm)
            flat = D_.reshape(len(names), -1)
            c0s = flat @ v_.ravel() / np.maximum((flat * flat).sum(axis=1), 1e-300)
            left = np.linalg.norm(v_.ravel() - c0s[:, None] * flat, axis=1)
            near = (np.abs(c0s) > 1e-6) & (left <= 1e-4 * np.linalg.norm(v_) + 1e-300)
            for s in np.flatnonzero(near):  # the few close enough to be worth every entry
                c0, D = float(c0s[s]), Ds[s]
                if not holds(v_, c0 * D_[s], rtol):
                    continue
                said = _with_term(v, G, raw, c0, D, M, mm, m_name, ax, axes, rtol)
                if said is not None:
                    return product_text(c0, "dout", _scale(names[s])) + said
    return None


def _with_term(v, G, raw, c0, D, M, mm, m_name, ax, axes, rtol) -> str | None:
    """'' when v = c0·D alone, ' − k·M·mean(dout·b) over ...' when the term makes up the
    rest, None when neither."""
    if holds(v, c0 * D, rtol):
        return ""  # no correction term at all
    per_slice = ((v - c0 * D) * M).sum(axis=ax, keepdims=True) / mm
    for b_name, mean, k in _means(per_slice, G, raw, ax):
        if holds(v, c0 * D + k * M * mean, rtol):
            return _term(k, m_name, b_name, ax, v.shape[ax], axes)
    return None


def _scale(name: str) -> list[tuple[str, float]]:
    """The factor b0 of c·dout·b0, as product_text takes it: 1/self.rms is self.rms^-1."""
    return [(name[2:], -1)] if name.startswith("1/") else [(name, 1)] if name else []


def correction(probe, err: np.ndarray, axes) -> str | None:
    """yours − true = k · M · mean(dout·b) along one axis, M and b arrays the layer holds: the
    correction term of a normalization or a softmax (− mean(dx̂), − x̂·mean(dx̂·x̂),
    − p·Σ p·dp) too many, missing, or made with another array."""
    G = probe.G
    if G is None or np.shape(G) != err.shape or err.ndim < 2:
        return None
    raw = arrays(probe, "input", err.shape)
    with np.errstate(all="ignore"):
        shapes = {"": np.ones_like(err), **raw} | _ratios(raw)
        for ax in (a for a in range(err.ndim) if err.shape[a] > 2):
            for m_name, M in shapes.items():
                per_slice = _slices(err, M, ax)
                if per_slice is None:
                    continue
                for b_name, mean, k in _means(per_slice, G, raw, ax):
                    if holds(per_slice, k * mean, 1e-5):
                        term = _term(k, m_name, b_name, ax, err.shape[ax], axes).strip()
                        term = term.removeprefix("+ ").replace("− ", "−", 1)
                        return (f"yours − true = {term}, at every entry: your dx has such a term "
                                f"too many (or lacks it, of the opposite sign), as a "
                                f"normalization's or a softmax's correction term")
    return None


def _slices(err, M, ax) -> np.ndarray | None:
    """s with err = s · M, s the same all along axis ax in each slice; None if no such s."""
    mm = (M * M).sum(axis=ax, keepdims=True)
    if not np.isfinite(M).all() or (mm == 0).any():
        return None
    s = (err * M).sum(axis=ax, keepdims=True) / mm
    if np.abs(s).max() == 0 or not holds(err, s * M, 1e-5):
        return None
    return s


def _ratios(raw: dict) -> dict:
    """u/w for the first RATIOS arrays (self.xhat/self.rms), w nowhere 0."""
    few = list(raw)[:RATIOS]
    return {f"{u}/{w}": raw[u] / raw[w] for u, w in itertools.permutations(few, 2)
            if np.all(raw[w] != 0)}


def _means(per_slice, G, raw: dict, ax: int):
    """(b, mean(dout·b) along ax, k) with per_slice ≈ k·mean in the least-squares sense, for
    b = 1 and each array the layer holds, k not 0."""
    for b_name, b in {"": None, **raw}.items():
        mean = (G if b is None else G * b).mean(axis=ax, keepdims=True)
        k = float(np.vdot(per_slice, mean) / max(np.vdot(mean, mean), 1e-300))
        if abs(k) > 1e-6:
            yield b_name, mean, k


def _without(u, M, ax: int, mm) -> np.ndarray:
    """u less its part along M in each slice of axis ax."""
    return u - (u * M).sum(axis=ax, keepdims=True) / mm * M


def _term(k: float, m_name: str, b_name: str, ax: int, size: int, axes) -> str:
    """' − self.y·Σ(dout) over the features (axis 1)', a mean written Σ when k is its size."""
    what = "mean" if abs(abs(k) - size) > 1e-5 * size else "Σ"
    k = k if what == "mean" else k / size
    number = "" if abs(abs(k) - 1) < 1e-5 else f"{as_number(abs(k))}·"
    return (f" {'−' if k < 0 else '+'} {number}" + (f"{m_name}·" if m_name else "") +
            f"{what}(dout{'·' + b_name if b_name else ''}) over the {axes.plural(ax)} "
            f"(axis {ax})")
