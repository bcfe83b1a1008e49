"""What forward made: the sums, means and spreads that its output and the arrays it keeps hold
fixed along an axis.

A backward differentiates what forward computes. A mistake in forward (a variance taken over
the features where the batch's belongs, weights that do not sum to 1 where a softmax's do)
shows in the check only as a backward that differentiates another function; these facts let
a reader set what forward made beside what the layer should make.
"""

from __future__ import annotations

import itertools

import numpy as np

from .axes import Axes, of_input
from .fit import as_number
from .formulas import layer_settings, setting_made
from .pairing import arrays_kept

EXACT = 1e-9  # relative: a sum or a spread that is one number up to round-off


def facts(probe, most: int = 4) -> list[str]:
    """'y (its output): mean 0 along the samples (axis 0), but its variance there is not one
    number (0.194 to 1.42)', for the output and the arrays the layer keeps."""
    shape = np.shape(probe.x)
    arrays = [("y (its output)", np.asarray(probe.base_out))] \
        if probe.base_out is not None else []
    arrays += [(name, v) for name, v in arrays_kept(probe.layer)
               if not any(np.shape(v) == np.shape(u) and np.array_equal(v, u)
                          for u in (probe.x, probe.base_out))]
    sources = [("x", np.asarray(probe.x)), *arrays]
    settings = layer_settings(probe.layer)
    found = []
    for name, v in arrays:
        named = v.shape in (shape, np.shape(probe.base_out)) and not (
            v.ndim > 2 and v.shape[-1] == v.shape[-2])  # (N, T, T) weights are no features
        said = along_axes(v, of_input(v.shape) if named else None)
        for axis, text in said.items():
            if text.startswith("sums to 1 "):
                others = [(k, u) for k, u in sources if k != name]
                said[axis] = softmax_of(v, axis, others, settings, text)
        if said:
            found.append(f"{name}: " + "; ".join(said.values()))
    return found[:most]


def along_axes(v: np.ndarray, axes: Axes | None) -> dict[int, str]:
    """What v holds fixed along each axis of two or more entries: its sum, or a mean of 0 and
    its variance, or its length ‖·‖₂."""
    if v.ndim < 2 or v.dtype.kind != "f" or not np.isfinite(v).all() or not v.any():
        return {}
    scale = float(np.abs(v).max())
    said = {}
    for a in range(v.ndim):
        n = v.shape[a]
        if n < 2:
            continue
        where = f"along the {axes.plural(a)} (axis {a})" if axes else f"along axis {a}"
        sums = v.sum(axis=a)
        if _one_number(sums, n * scale) and abs(sums.flat[0]) <= EXACT * n * scale:
            said[a] = f"mean 0 {where}, " + _variance(v.var(axis=a), scale, n)
        elif _one_number(sums, n * scale):
            said[a] = f"sums to {sums.flat[0]:.4g} {where}"
        elif _one_number(lengths := np.sqrt((v**2).sum(axis=a)), n * scale):
            said[a] = f"length ‖·‖₂ = {lengths.flat[0]:.4g} {where}"
    return said


def softmax_of(p: np.ndarray, axis: int, sources: list, settings: dict, sums: str) -> str:
    """p sums to 1 along `axis` (`sums` says so): '= softmax(1/2·self.q·self.kᵀ) along axis
    2', or what keeps it from being one. log p − c·A is one number along the axis for a
    softmax of c·A, and for it alone."""
    if (p < 0).any():
        return sums
    on = p > 0  # a mask's zeros: compared where the softmax is not masked out
    with np.errstate(divide="ignore"):
        lp = np.where(on, np.log(p), 0.0)
    candidates = [(k, A) for k, A in sources + _products(sources, p.shape)
                  if A.shape == p.shape and A.dtype.kind == "f" and np.isfinite(A[on]).all()]
    where = sums.removeprefix("sums to 1 ")
    for name, A in candidates:
        c = _multiple(lp, np.where(on, A, 0.0), on, (axis,))
        if c is not None:
            masked = "" if on.all() else f", at its {int(on.sum())} entries that are not 0" \
                + _zeros(on)
            return f"= softmax({_times(c, name)}) {where}{masked}{_made(c, settings)}"
    for name, A in candidates if on.all() else ():
        for other in (b for b in range(p.ndim) if b != axis and p.shape[b] > 1):
            c = _multiple(lp, A, on, (axis, other))
            if c is not None and other == 0:  # one bias for every sample: a position bias
                return (f"= softmax({_times(c, name)} + B) {where}, with B the same in every "
                        f"sample{_made(c, settings)} (a bias added to the scores, such as a "
                        f"position bias)")
            if c is not None:
                return (f"{sums}, but it is no softmax there: its log = {_times(c, name)} + "
                        f"a term that is one number along axis {other}, not along axis {axis}"
                        f"{_made(c, settings)}: a shift (a max, a mean) taken along axis "
                        f"{other} where the softmax runs along axis {axis}?")
    return sums


def _zeros(on: np.ndarray, most: int = 8) -> str:
    """' (0 at (0, 0, 0), (1, 1, 1))': where a masked softmax is 0, when that is a few places."""
    at = np.argwhere(~on)
    if len(at) > most:
        return ""
    return " (0 at " + ", ".join("(" + ", ".join(map(str, i)) + ")" for i in at) + ")"


def _multiple(lp: np.ndarray, a: np.ndarray, on: np.ndarray, axes: tuple) -> float | None:
    """c with lp = c·a + terms each one number along one of `axes`, where that holds."""
    for axis in axes:
        lp, a = _centered(lp, on, axis), _centered(a, on, axis)
    if not a.any() or not lp.any():
        return None
    c = float((lp * a).sum() / (a * a).sum())
    return c if np.linalg.norm(lp - c * a) <= 1e-7 * np.linalg.norm(lp) else None


def _times(c: float, name: str) -> str:
    """'self.S', '0.5·self.q·self.kᵀ'."""
    return name if abs(c - 1) < 1e-6 else f"{as_number(c)}·{name}"


def _made(c: float, settings: dict) -> str:
    """' (0.7071 = 1/√self.d)', where one of the layer's settings makes c."""
    made = None if abs(c - 1) < 1e-6 else setting_made(abs(c), settings)
    return f" ({as_number(c)} = {made})" if made else ""


def _products(sources: list, shape: tuple) -> list:
    """A·Bᵀ over the last axis for two arrays of the same rank: attention's scores q·kᵀ."""
    found = []
    for (a, A), (b, B) in itertools.product(sources, repeat=2):
        if A.ndim == B.ndim >= 2 and A.shape[:-2] == B.shape[:-2] and \
                A.shape[-1] == B.shape[-1] and (*A.shape[:-1], B.shape[-2]) == shape:
            found.append((f"{a}·{b}ᵀ", A @ np.swapaxes(B, -1, -2)))
    return found


def _centered(v: np.ndarray, on: np.ndarray, axis: int) -> np.ndarray:
    """v less its mean along `axis` over the entries `on`; 0 elsewhere."""
    mean = v.sum(axis=axis, keepdims=True) / np.maximum(on.sum(axis=axis, keepdims=True), 1)
    return np.where(on, v - mean, 0.0)


def _variance(var: np.ndarray, scale: float, n: int) -> str:
    """A normalization's eps moves a variance of 1 by up to about 1e-3: that is 1 still."""
    if _one_number(var, scale**2):
        c = var.flat[0]
        for ratio, text, why in (((n - 1) / n, "(n − 1)/n", "divided by n − 1 (ddof=1)"),
                                 (n / (n - 1), "n/(n − 1)", "divided by n where n − 1 belongs")):
            if abs(c - ratio) <= 1e-3 * ratio:
                return f"variance {c:.4g} = {text} with n = {n}: a spread {why}?"
        return f"variance {c:.4g}"
    if np.ptp(var) <= 1e-3 * var.max():
        return f"variance ≈ {var.mean():.3g}"
    return f"but its variance there is not one number ({var.min():.3g} to {var.max():.3g})"


def _one_number(v: np.ndarray, scale: float) -> bool:
    return v.size > 1 and float(np.ptp(v)) <= EXACT * scale
