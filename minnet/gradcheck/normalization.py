"""A normalization's backward, dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ: its means over
the wrong axis, or a term missing (or of the wrong size), told from the true dx, which sums to 0
over the axis forward normalizes over."""

from __future__ import annotations

import numpy as np

from .axes import of_input
from .numeric import rel_error
from .probe import LayerProbe
from .structure import over, zero_sums


def norm_axis(n: np.ndarray) -> tuple[int, ...] | None:
    """The axes over which the numeric dx sums to 0 in every slice, as it does for a layer
    that subtracts a mean over them ((0,) for BatchNorm, (1,) for LayerNorm, (1, 2, 3) for a
    layer norm of images)."""
    if n.ndim < 2 or not np.isfinite(n).all():
        return None
    found = zero_sums(n)
    return found[0] if found else None


def _standardized(x: np.ndarray, axis: int) -> np.ndarray:
    """x̂: x minus its mean, over its standard deviation, along `axis`."""
    c = x - x.mean(axis=axis, keepdims=True)
    return c / np.sqrt((c**2).mean(axis=axis, keepdims=True) + 1e-300)


def normalized(probe: LayerProbe, a: np.ndarray, n: np.ndarray) -> str | None:
    """A normalization's backward, (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ, with its means over
    other axes than the ones forward normalizes over (where the true dx sums to 0)."""
    x, G = probe.x, probe.G
    true = zero_sums(n)
    if G is None or not a.shape == G.shape == x.shape or not true:
        return None
    p = true[0]
    eps = float(getattr(probe.layer, "eps", 1e-5))
    c = x - x.mean(axis=p, keepdims=True)
    sigma = np.sqrt((c**2).mean(axis=p, keepdims=True) + eps)
    xhat = c / sigma
    scales = [1.0] + [v for v in probe.params.values() if v.ndim == 1 and _broadcasts(v, G)]
    axes = of_input(x.shape)
    others = [(q,) for q in range(x.ndim) if x.shape[q] > 1] + ([(2, 3)] if x.ndim == 4 else [])
    for gamma in scales:
        dxhat = G * gamma
        if rel_error(_norm_backward(dxhat, xhat, sigma, p), n) > 1e-4:
            continue  # the true dx is no such backward (σ may differ by the layer's eps)
        mine = [q for q in others if q != p
                and rel_error(_norm_backward(dxhat, xhat, sigma, q), a) < 1e-4]
        if mine:
            return (f"your dx is a normalization's backward, (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂))"
                    f" / σ, with its means over {over(axes, mine[0])}; the true one takes them "
                    f"over {over(axes, p)}, the axis forward normalizes over (dx̂ = dout·γ)")
    return None


def _norm_backward(dxhat, xhat, sigma, q) -> np.ndarray:
    """(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ, the means over the axes q."""
    mean = lambda v: v.mean(axis=q, keepdims=True)  # noqa: E731
    return (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / sigma


def _broadcasts(v: np.ndarray, G: np.ndarray) -> bool:
    try:
        return np.broadcast_shapes(v.shape, G.shape) == G.shape
    except ValueError:
        return False


def missing_term(x: np.ndarray, G: np.ndarray, err: np.ndarray, n: np.ndarray,
                 axis: tuple[int, ...], scales: list[np.ndarray] = ()) -> str | None:
    """err = α + β·x̂ in every slice over `axis` (x̂: x standardized over it): which term?

    A normalization's backward is dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ with dx̂ = dout·γ.
    With γ one of `scales` (or 1), σ follows from the numeric n slice by slice, and so does how
    many times each term entered the analytic gradient: once for all, or once per slice.
    """
    if not np.isfinite(err).all() or err.shape != x.shape or \
            np.prod([x.shape[a] for a in axis]) < 4:
        return None  # with fewer samples, any error would fit a + b·x̂
    xhat = _standardized(x, axis)
    mean = lambda v: v.mean(axis=axis, keepdims=True)  # noqa: E731
    terms = {"− mean(dx̂)": lambda v: mean(v), "− x̂·mean(dx̂·x̂)": lambda v: xhat * mean(v * xhat)}
    size = np.linalg.norm(err)
    if np.linalg.norm(err - sum(t(err) for t in terms.values())) > 1e-4 * size:
        return None
    found = {name: t(err) for name, t in terms.items() if np.linalg.norm(t(err)) > 1e-3 * size}
    dxhat, c = _gradient_at_xhat(G, n, terms, mean, scales)
    said = []
    for name, part in found.items():
        k = np.nan if c is None else _times(part, c * terms[name](dxhat), mean)
        if k is None:
            return None  # not a multiple of the term in every slice: an error of another kind
        said.append("missing" if np.ndim(k) == 0 and abs(k - 1) < 1e-3 else
                    "missing or wrong" if np.ndim(k) == 0 and np.isnan(k) else
                    f"{1 - k:.3g} × instead of once" if np.ndim(k) == 0 else
                    _per_slice(1 - k, 1 / c) or "wrong, by a different factor in each slice")
    along = "along the batch axis (in each feature)" if axis == (0,) else \
        "along the last axis (in each sample)" if axis == (x.ndim - 1,) else \
        f"over {over(of_input(x.shape), axis)}"
    shape = {1: "the same all", 2: "a + b·x̂"}[len(found)]
    if list(found) == ["− x̂·mean(dx̂·x̂)"]:
        shape = "proportional to x̂"
    xdef = ", x̂ = x standardized over it" if "x̂" in shape else ""
    if len(set(said)) == 1:
        noun = "the term" if len(found) == 1 else "the terms"
        what = f"{noun} {' and '.join(found)} {_verb(said[0], len(found) > 1)}"
    else:
        what = ", ".join(f"the term {name} {_verb(s, False)}" for name, s in zip(found, said))
    return f"the error is {shape} {along}{xdef}: {what} (dx̂ = dout·γ, the gradient at x̂)"


def _gradient_at_xhat(G, n, terms, mean, scales):
    """(dx̂, 1/σ per slice) with which the true dx is the full backward, or (G, None)."""
    for gamma in [np.ones(1), *scales]:
        if G.ndim > 2 and gamma.size == G.shape[1] > 1:
            gamma = gamma.reshape(1, -1, *[1] * (G.ndim - 2))  # one per channel
        try:
            dxhat = G * gamma
        except ValueError:
            continue
        rest = dxhat - sum(t(dxhat) for t in terms.values())
        c = mean(n * rest) / np.maximum(mean(rest * rest), 1e-300)
        if np.linalg.norm(n - c * rest) <= 1e-3 * np.linalg.norm(n):  # x̂ here has no eps
            return dxhat, c
    return G, None


def _times(part, full, mean) -> float | np.ndarray | None:
    """k with part = k·full: one number, or one per slice; None when neither fits."""
    k = float(np.vdot(part, full) / np.vdot(full, full))
    if np.linalg.norm(part - k * full) <= 1e-3 * np.linalg.norm(part):
        return k
    ks = mean(part * full) / np.maximum(mean(full * full), 1e-300)
    return ks if np.linalg.norm(part - ks * full) <= 1e-3 * np.linalg.norm(part) else None


def _per_slice(k: np.ndarray, sigma: np.ndarray) -> str | None:
    """'2σ times instead of once (σ: the standard deviation of each slice)'."""
    for text, f in (("2σ", 2 * sigma), ("σ", sigma), ("1/σ", 1 / sigma),
                    ("1/(2σ)", 1 / (2 * sigma)), ("σ²", sigma**2), ("1/σ²", 1 / sigma**2)):
        if np.allclose(k, f, rtol=1e-3):
            why = {"2σ": ": the root's derivative d√v/dv = 1/(2σ) left out of the chain?",
                   "1/(2σ)": ": the root's derivative d√v/dv = 1/(2σ) taken once too often?"}
            return (f"{text} times instead of once (σ: the standard deviation of each "
                    f"slice){why.get(text, '')}")
    return None  # a count per slice that is no power of σ tells nothing


def _verb(status: str, plural: bool) -> str:
    if status.startswith(("missing", "wrong")):
        return ("are both " if plural and status == "missing" else "are " if plural
                else "is ") + status
    return ("enter " if plural else "enters ") + status
