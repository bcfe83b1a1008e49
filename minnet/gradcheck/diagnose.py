"""What kind of mistake a wrong gradient is: the diagnosis that turns "wrong" into a lesson.

    elementwise layer   y = f(x) entry by entry: a table of x, y, your dy/dx and the true one,
                        the pattern over all entries, and the formula your dy/dx matches
    normalization       the numeric dx sums to 0 over an axis: which mean term is missing
    parameters          one sample instead of the sum over samples, a sum over the wrong axis,
                        or where in the tensor the error lives

Every claim is a numeric test that held at every entry checked; when no test tells the cases
apart, nothing is said. diagnose() is the entry point; it only adds to a failing check.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .axes import of_input, of_param
from .calls import STEP
from .flow import flows
from .numeric import rel_error
from .pairing import pairing
from .probe import STACK_BUDGET, LayerProbe
from .report import ParamCheck
from .show import side_by_side
from .structure import dout_term, moved, offset, over, sums, where, zero_sums
from .verdicts import FACTOR_TWO, agree

TRIALS = 4  # off-diagonal probes that must leave every other output entry unchanged
SHOWN = 5  # table rows spread over the input range (quantiles of x), plus the worst one
MIN_G = 0.1  # entries with |G| below this are left out: dividing by G would amplify noise
EXACT = 1e-6  # relative tolerance for formulas matched against your (analytic) dy/dx
NUMERIC = 1e-5  # ... and against the true (numeric) one, which carries differencing noise


# derivative formulas students write, as functions of t (which is x or y)
FORMS = {"1": np.ones_like, "{t}": lambda t: t, "1 − {t}": lambda t: 1 - t,
         "1 + {t}": lambda t: 1 + t,
         "{t}·(1 − {t})": lambda t: t * (1 - t), "1 − {t}²": lambda t: 1 - t**2,
         "{t}²": lambda t: t**2, "2{t}": lambda t: 2 * t,
         "exp({t})": lambda t: np.exp(np.clip(t, -700, 700))}

# the formula a student wrote, the one they meant -> what the difference suggests
MISSING = {("1 − y", "1 − y²"): "a missing square?",
           ("y", "y·(1 − y)"): "a missing (1 − y)?",
           ("1 − y", "y·(1 − y)"): "a missing y?"}


@dataclass
class Derivatives:
    """An elementwise layer's derivative at a few entries, and the pattern over all of them."""

    rows: list[tuple[float, float, float, float]]  # (x, y, your dy/dx, true dy/dx)
    worst: int  # the row of the worst entry
    pattern: list[str]
    hint: str | None
    points: list[tuple[float, float, float, float]] = field(repr=False)  # every entry compared
    left_out: int = 0  # entries compared, but with |G| < MIN_G: not shown as dy/dx

    def __str__(self) -> str:
        head = ("x", "y = f(x)", "your dy/dx", "true dy/dx")
        cells = [[f"{v:+.4f}" for v in r] for r in self.rows]
        widths = [max(len(s) for s in col) for col in zip(head, *cells)]
        line = lambda r: "  ".join(s.rjust(w) for s, w in zip(r, widths))  # noqa: E731
        used = len(self.points)
        skipped = (f"; dy/dx is shown, and compared below, at the {used} entries with |G| >= "
                   f"{MIN_G} (of {used + self.left_out} compared): dividing by a smaller G "
                   f"would magnify round-off" if self.left_out else "")
        lines = [f"dy/dx at {len(self.rows)} entries spread over x (yours = analytic dx / G, "
                 f"true = numeric dx / G; G: the upstream gradient{skipped})", line(head)]
        lines += [line(r) + ("   <- worst" if i == self.worst else "")
                  for i, r in enumerate(cells)]
        lines += self.pattern
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


# ---- elementwise layers --------------------------------------------------------------------


def elementwise(probe: LayerProbe, trials: int = TRIALS) -> bool:
    """Is ∂yᵢ/∂xⱼ = 0 for i ≠ j? Move x at a few entries; every other output must stay put."""
    x, y = probe.x, probe.base_out
    if probe.is_loss or y is None or np.shape(y) != x.shape:
        return False
    scale = max(1.0, float(np.abs(y).max(initial=0)))
    for i in np.random.default_rng(0).choice(x.size, min(trials, x.size), replace=False):
        moved = x.copy()
        moved.flat[i] += STEP * (1 + abs(moved.flat[i]))
        change = np.abs(np.asarray(probe.calls.forward(moved), dtype=np.float64) - y)
        change.flat[i] = 0
        if not change.max(initial=0) <= 1e-12 * scale:
            return False
    return True


def derivatives(probe: LayerProbe, inp: ParamCheck, wrong: np.ndarray) -> Derivatives | None:
    """For an elementwise layer: your dy/dx = analytic dx / G, true dy/dx = numeric dx / G.

    `wrong` marks the entries the table counts as wrong: the region is said over all of them;
    ratios only where |G| >= MIN_G, since dividing by a small G would magnify round-off.
    """
    if inp.errors is None or not elementwise(probe):
        return None
    G = probe.G.ravel()
    compared = np.isfinite(inp.errors.ravel())
    keep = np.flatnonzero(compared & (np.abs(G) >= MIN_G))
    if len(keep) < 3:
        return None
    x, y = probe.x.ravel()[keep], np.asarray(probe.base_out, dtype=np.float64).ravel()[keep]
    a = probe.dx.ravel()[keep]
    yours, true = a / G[keep], (a - inp.errors.ravel()[keep]) / G[keep]
    worst = int(np.argmax(np.abs(yours - true)))
    picks = _spread(x, worst)
    rows = [(float(x[i]), float(y[i]), float(yours[i]) + 0.0, float(true[i]) + 0.0)
            for i in picks]
    points = [tuple(map(float, p)) for p in zip(x, y, yours, true)]
    region = _region(probe.x.ravel()[compared], wrong.ravel()[compared])
    lines = [region] + pattern(x, y, yours, true, wrong.ravel()[keep])[1:]
    return Derivatives(rows, picks.index(worst), lines, formula(x, y, yours, true), points,
                       int(compared.sum()) - len(keep))


def _spread(x: np.ndarray, worst: int) -> list[int]:
    """SHOWN entries spread over the range of x (quantiles), distinct in x, and the worst."""
    _, first = np.unique(np.round(x, 4), return_index=True)  # one entry per x shown
    spread = first[np.linspace(0, len(first) - 1, min(SHOWN, len(first))).astype(int)]
    picks = {int(i) for i in spread if round(x[i], 4) != round(x[worst], 4)} | {worst}
    return sorted(picks, key=lambda i: x[i])


def pattern(x: np.ndarray, y: np.ndarray, yours: np.ndarray, true: np.ndarray,
            wrong: np.ndarray | None = None) -> list[str]:
    """Where your dy/dx is wrong (x < 0, x > 0, near 0, everywhere), your/true, sign flips."""
    wrong = ~_close(yours, true, NUMERIC) if wrong is None else wrong
    m, k = len(x), int(wrong.sum())
    lines = [_region(x, wrong)]
    if k == 0:
        return lines
    lines.append(_ratio(x, y, yours, true, wrong))
    flipped = int(np.sum(yours * true < 0))
    lines.append(f"signs flipped at {flipped} of the {m} entries with |G| >= {MIN_G}" if flipped
                 else "no sign is flipped")
    return lines


def _ratio(x, y, yours, true, wrong) -> str:
    """your/true at the wrong entries: a constant, a catalogued function of x or y, or neither."""
    if np.any(wrong & (np.abs(true) <= 1e-9)):
        return "your dy/dx is nonzero where the true one is 0"
    r = yours[wrong] / true[wrong]
    if np.all(np.abs(r - np.median(r)) <= 1e-4 * np.abs(np.median(r)) + 1e-12):
        return f"your/true = {np.median(r) + 0.0:.4g} at every wrong entry (a constant factor)"
    d = yours[wrong] - true[wrong]
    if np.all(np.abs(d - np.median(d)) <= 1e-4 * np.abs(np.median(d)) + 1e-9):
        return (f"your dy/dx = true {'+' if np.median(d) > 0 else '−'} "
                f"{abs(np.median(d)):.4g} at every wrong entry (an offset, not a factor)")
    cands = {_name(k): v for k, v in _candidates(x[wrong], y[wrong]).items()}
    with np.errstate(divide="ignore"):
        found = [name for name, v in cands.items() if _close(r, v, 1e-4).all()]
        found += [f"1/({name})" for name, v in cands.items() if _close(1 / r, v, 1e-4).all()]
    if len(found) == 1:
        return f"your/true = {found[0]} at every wrong entry"
    return (f"your/true is not a constant (from {r.min():.3g} to {r.max():.3g}): the formula "
            f"differs, not only a factor")


def _region(x, wrong) -> str:
    m, k = len(x), int(wrong.sum())
    if k == 0:
        return f"right at all {m} entries compared here"
    if k == m:
        return f"wrong everywhere: at all {m} entries compared"
    for side, there in (("x < 0", x < 0), ("x > 0", x > 0)):
        if not (wrong & ~there).any():
            return (f"wrong only where {side}: at {k} of the {int(there.sum())} entries with "
                    f"{side}, right at all {m - int(there.sum())} others")
    near = np.abs(x[wrong]).max()
    if near < np.abs(x[~wrong]).min():
        return f"wrong only near x = 0 (|x| <= {near:.3g}), right at all {m - k} others"
    far = np.abs(x[~wrong]).max()
    if far < np.abs(x[wrong]).min():
        return f"wrong at {k} of {m} entries: all but those near x = 0 (|x| <= {far:.3g})"
    return f"wrong at {k} of {m} entries, spread over the range of x"


def formula(x: np.ndarray, y: np.ndarray, yours: np.ndarray, true: np.ndarray) -> str | None:
    """The one catalogued formula your dy/dx equals at every entry, if exactly one does."""
    cands = _candidates(x, y)
    truth = [k for k, v in cands.items() if _close(v, true, NUMERIC).all()]
    mine = [k for k, v in cands.items() if k not in truth and _close(v, yours, EXACT).all()]
    if len(mine) != 1:  # none, or several that these entries cannot tell apart
        return _pieces(x, yours, true) or _on_one_side(x, y, yours, true)
    (form, t), = mine
    text = f"your dy/dx equals {_name(mine[0])} at every entry checked"
    other = "y" if t == "x" else "x"
    if (form, other) in truth:
        return (f"{text} (true: {_name((form, other))}): the derivative is computed from {t} "
                f"where it should use {other}")
    if not truth:
        seen = _sides_text(x, true)
        return f"{text} (true: {seen})" if seen else text
    meant = _name(truth[0])
    hint = next((MISSING[_name(mine[0]), _name(k)] for k in truth
                 if (_name(mine[0]), _name(k)) in MISSING), None)
    return f"{text} (true: {meant})" + (f": {hint}" if hint else "")


def _on_one_side(x, y, yours, true) -> str | None:
    """Wrong only where x < 0 (or > 0): the catalogued formula yours and the true one follow
    there."""
    wrong = ~_close(yours, true, NUMERIC)
    for side, there in (("x < 0", x < 0), ("x > 0", x > 0)):
        if wrong.any() and not (wrong & ~there).any() and there.sum() >= 3:
            cands = _candidates(x[there], y[there])
            mine = [k for k, v in cands.items() if _close(v, yours[there], EXACT).all()]
            real = [k for k, v in cands.items() if _close(v, true[there], NUMERIC).all()]
            if len(mine) == 1 and real and mine[0] not in real:
                return (f"where {side}, your dy/dx equals {_name(mine[0])} (true: "
                        f"{_name(real[0])})")
            scaled = _scaled_form(cands, yours[there])
            if scaled and real:
                return (f"where {side}, your dy/dx equals {scaled} (true: {_name(real[0])})")
    return None


def _scaled_form(cands: dict, v: np.ndarray) -> str | None:
    """The one catalogued formula that v equals up to a constant factor: '1.3·exp(x)'."""
    found, seen = [], []
    for key, f in sorted(cands.items(), key=lambda kv: kv[0][1] != "x"):  # x-forms first
        if np.abs(f).min() > 1e-9 and not any(_close(f, g, EXACT).all() for g in seen):
            seen.append(f)  # forms equal here (exp(y) = exp(x) where y = x) count once
            c = np.median(v / f)
            if abs(c - 1) > 1e-6 and _close(v, c * f, EXACT).all():
                found.append(f"{c:.4g}·{_name(key)}")
    return found[0] if len(found) == 1 else None


def _candidates(x, y) -> dict[tuple[str, str], np.ndarray]:
    return {(form, t): f(v) for form, f in FORMS.items() for t, v in (("x", x), ("y", y))}


def _name(key: tuple[str, str]) -> str:
    return key[0].format(t=key[1])


def _pieces(x, yours, true) -> str | None:
    """A piecewise-constant dy/dx: one value where x > 0, another where x < 0."""
    mine, real = _sides(x, yours), _sides(x, true)
    if mine is None or real is None or np.allclose(mine, real, rtol=NUMERIC, atol=1e-7):
        return None
    text = (f"your dy/dx is {mine[0]:g} where x > 0 and {mine[1]:g} where x < 0 "
            f"(true: {real[0]:.4g} and {real[1]:.4g})")
    swapped = np.allclose(mine, real[::-1], rtol=NUMERIC, atol=1e-7)
    return text + ": the slopes of the two pieces are swapped" if swapped else text


def _sides(x, v) -> tuple[float, float] | None:
    pos, neg = v[x > 0], v[x < 0]
    if not (len(pos) and len(neg)):
        return None
    if not (_close(pos, pos[0], NUMERIC).all() and _close(neg, neg[0], NUMERIC).all()):
        return None
    return float(pos[0]) + 0.0, float(neg[0]) + 0.0  # + 0.0: no "-0" in the text


def _sides_text(x, v) -> str | None:
    s = _sides(x, v)
    return None if s is None else f"{s[0]:.4g} where x > 0, {s[1]:.4g} where x < 0"


def _close(u, v, rtol: float) -> np.ndarray:
    return np.abs(u - v) <= 1e-9 + rtol * np.maximum(np.abs(u), np.abs(v))


# ---- where in a tensor the error lives -----------------------------------------------------


# ---- normalization layers ------------------------------------------------------------------


def norm_axis(n: np.ndarray) -> int | None:
    """The axis over which the numeric dx sums to 0 in every slice, as it does for a layer
    that subtracts a mean over that axis (0 for BatchNorm, -1 for LayerNorm)."""
    if n.ndim < 2 or not np.isfinite(n).all():
        return None
    for axis in (0, -1):
        if n.shape[axis] > 1 and np.all(np.abs(n.sum(axis=axis))
                                        <= 1e-6 * np.abs(n).sum(axis=axis) + 1e-12):
            return axis
    return None


def _standardized(x: np.ndarray, axis: int) -> np.ndarray:
    """x̂: x minus its mean, over its standard deviation, along `axis`."""
    c = x - x.mean(axis=axis, keepdims=True)
    return c / np.sqrt((c**2).mean(axis=axis, keepdims=True) + 1e-300)


def normalized(probe: LayerProbe, a: np.ndarray, n: np.ndarray) -> str | None:
    """A normalization's backward, (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ, with its means over
    other axes than the ones forward normalizes over (where the true dx sums to 0)."""
    x, G = probe.x, probe.G
    true = zero_sums(n)
    if G is None or a.shape != x.shape or not true:
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
                 axis: int) -> str | None:
    """err = α + β·x̂ in every slice along `axis` (x̂: x standardized over it): which term?

    A normalization's backward is dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / σ. When dx̂ / σ is
    c·G in each slice (gamma the same all along it, as for BatchNorm), c follows from the
    numeric n, and so does how many times each term entered the analytic gradient.
    """
    if not np.isfinite(err).all() or err.shape != x.shape or x.shape[axis] < 4:
        return None  # with fewer samples, any error would fit a + b·x̂
    xhat = _standardized(x, axis)
    mean = lambda v: v.mean(axis=axis, keepdims=True)  # noqa: E731
    terms = {"− mean(dx̂)": lambda v: mean(v), "− x̂·mean(dx̂·x̂)": lambda v: xhat * mean(v * xhat)}
    size = np.linalg.norm(err)
    if np.linalg.norm(err - sum(t(err) for t in terms.values())) > 1e-4 * size:
        return None
    found = {name: t(err) for name, t in terms.items() if np.linalg.norm(t(err)) > 1e-3 * size}
    rest = G - sum(t(G) for t in terms.values())
    c = mean(n * rest) / np.maximum(mean(rest * rest), 1e-300)
    known = np.linalg.norm(n - c * rest) <= 1e-3 * np.linalg.norm(n)  # x̂ here has no eps
    said = []
    for name, part in found.items():
        full = c * terms[name](G)  # the whole term, as the true gradient subtracts it
        k = float(np.vdot(part, full) / np.vdot(full, full)) if known else np.nan
        said.append("missing" if abs(k - 1) < 1e-3 else "missing or wrong" if np.isnan(k)
                    else f"{1 - k:.3g} × instead of once")
    along = "batch axis (in each feature)" if axis == 0 else "last axis (in each sample)"
    shape = {1: "the same all along", 2: "a + b·x̂ along"}[len(found)]
    if list(found) == ["− x̂·mean(dx̂·x̂)"]:
        shape = "proportional to x̂ along"
    xdef = ", x̂ = x standardized over it" if "x̂" in shape else ""
    if len(set(said)) == 1:
        noun = "the term" if len(found) == 1 else "the terms"
        what = f"{noun} {' and '.join(found)} {_verb(said[0], len(found) > 1)}"
    else:
        what = ", ".join(f"the term {name} {_verb(s, False)}" for name, s in zip(found, said))
    return f"the error is {shape} the {along}{xdef}: {what} (dx̂ = dout·γ, the gradient at x̂)"


def _verb(status: str, plural: bool) -> str:
    if status.startswith("missing"):
        return ("are both " if plural and status == "missing" else "are " if plural
                else "is ") + status
    return ("enter " if plural else "enters ") + status


# ---- parameter gradients -------------------------------------------------------------------


def per_sample(probe: LayerProbe, key: str) -> np.ndarray | None:
    """dJₙ/dθ for each sample n alone, Jₙ = Σ layer(x)[n]·G[n], by centered differences: (P, N)."""
    x, G, out = probe.x, probe.G, probe.base_out
    p = probe.layer.params[key]
    if G is None or out.shape[:1] != x.shape[:1] or len(x) < 2 or p.size > 4096:
        return None
    parts, k = [], max(1, STACK_BUDGET // (2 * out.size))
    for start in range(0, p.size, k):
        idx = np.arange(start, min(start + k, p.size))
        delta = np.repeat([probe.eps, -probe.eps], len(idx))
        outs = np.asarray(probe.calls.nudged(x, key, np.concatenate([idx, idx]), delta, out))
        change = (outs[:len(idx)] - outs[len(idx):]) * G
        parts.append(change.reshape(len(idx), len(x), -1).sum(axis=2) / (2 * probe.eps))
    return np.concatenate(parts)


def one_sample(probe: LayerProbe, key: str, a: np.ndarray) -> str | None:
    """Is the analytic dθ one sample's contribution, where it should be the sum of all?"""
    parts = per_sample(probe, key)
    if parts is None:
        return None
    total, a = parts.sum(axis=1), a.ravel()
    for i in range(parts.shape[1]):
        if _close(a, parts[:, i], NUMERIC).all() and not _close(a, total, NUMERIC).all():
            return (f"analytic equals the contribution of sample {i} alone: one sample used "
                    f"instead of the sum over samples")
    return None


def wrong_sum(probe: LayerProbe, key: str, a: np.ndarray) -> str | None:
    """A 1-D gradient of the wrong shape: the shape of dout summed over the wrong axis?"""
    G = probe.G
    if G is None or a.ndim != 1 or G.ndim != 2:
        return None
    want = probe.layer.params[key].shape
    yours = [axis for axis in (0, 1) if G.sum(axis=axis).shape == a.shape]
    right = [axis for axis in (0, 1) if G.sum(axis=axis).shape == want]
    if yours and right and yours[0] != right[0]:
        return (f"{a.shape} is the shape of dout summed over axis {yours[0]}, {want} of dout "
                f"summed over axis {right[0]}: a sum over the wrong axis?")
    return None


def product(probe: LayerProbe, a: np.ndarray, n: np.ndarray, key: str) -> str | None:
    """A gradient that is a matrix product of G, x and a weight matrix, in the wrong order.

    dx of y = x W is G·Wᵀ and dW is xᵀ·G; students write G·W, Gᵀ·x, x·Gᵀ, ...
    """
    G, x = probe.G, probe.x
    if G is None or G.ndim != 2 or x.ndim != 2:
        return None
    mats = {k: W for k, W in getattr(probe.layer, "params", {}).items() if W.ndim == 2}
    if key == "input":
        pairs = {f"G·{k}{t}": (G, W.T if t else W) for k, W in mats.items() for t in ("", "ᵀ")}
    else:
        pairs = {"xᵀ·G": (x.T, G), "Gᵀ·x": (G.T, x), "x·Gᵀ": (x, G.T), "G·xᵀ": (G, x.T)}
    cands = {k: p @ q for k, (p, q) in pairs.items()
             if p.shape[1] == q.shape[0] and (p.shape[0], q.shape[1]) == a.shape}
    truth = [k for k, v in cands.items() if _close(v, n, NUMERIC).all()]
    mine = [k for k, v in cands.items() if k not in truth and _close(v, a, EXACT).all()]
    if len(mine) != 1 or not truth:
        return None
    (m,), t = mine, truth[0]
    how = ("a transpose is missing" if t == m + "ᵀ" else "a transpose too many"
           if m == t + "ᵀ" else "the factors are in the wrong order or transposed")
    return f"analytic equals {m} at every entry (true: {t}): {how}"


def at_targets(err: np.ndarray, y) -> str | None:
    """A loss's dscores wrong exactly at each sample's target class, by the same amount."""
    y = np.asarray(y)
    if err.ndim != 2 or y.shape != err.shape[:1] or not np.issubdtype(y.dtype, np.integer) \
            or not (0 <= y.min() and y.max() < err.shape[1]):
        return None
    target = np.zeros(err.shape, dtype=bool)
    target[np.arange(len(y)), y] = True
    wrong = ~np.isclose(err, 0, atol=1e-7)
    if not np.array_equal(wrong, target) or not np.allclose(err[target], err[target][0]):
        return None
    e, N = float(err[target][0]), len(y)
    size = f" = {'−' if e < 0 else ''}1/N (N = {N})" if abs(abs(e) * N - 1) < 1e-6 else ""
    return (f"wrong only at each sample's target class y, where analytic − numeric = "
            f"{e:.4g}{size}; right at every other class")


# ---- the entry point -----------------------------------------------------------------------


def diagnose(probe: LayerProbe, inp: ParamCheck | None, params: list[ParamCheck], tol: float,
             atol: float) -> None:
    """Add what the error shows to each failing check: c.findings (sentences, the most telling
    first, which also joins c.hint), c.shown (the tensor, yours beside the true one), and
    c.derivatives for an elementwise layer."""
    for c in [inp, *params]:
        if c is None or c.passed or c.status != "FAIL":
            continue
        try:
            found = _findings(probe, c, tol, atol)
        except Exception:  # a diagnosis is extra: a layer that cannot take one keeps its hint
            continue
        c.findings = [f for f in dict.fromkeys(found) if f]
        if any("= √" in f for f in c.findings) and c.hint:  # a better reason for the factor
            c.hint = c.hint.replace(FACTOR_TWO, "")
        if c.findings:
            _add(c, c.findings[0])


def _findings(probe: LayerProbe, c: ParamCheck, tol: float, atol: float) -> list[str | None]:
    is_input = c.param == "input"
    a = probe.dx if is_input else probe.grads.get(c.param, probe.misshapen.get(c.param))
    if a is None:
        return []
    if c.errors is None:  # the shapes differ: they alone may tell
        return [wrong_sum(probe, c.param, a)] if not is_input and c.hint and \
            c.hint.startswith("shape") else []
    err = c.errors
    n, checked = a - err, np.isfinite(err)
    wrong = checked & ~agree(a, np.where(checked, n, a), tol, atol)
    out_shape = None if probe.base_out is None else np.shape(probe.base_out)
    axes = of_input(probe.x.shape, probe.is_loss) if is_input else \
        of_param(a.shape, probe.x.shape, out_shape, probe.layer)
    what = ("dscores" if probe.is_loss else "dx") if is_input else f"d{c.param}"
    ignores = ignored(probe, c.param)
    found = [ignores if ignores and "dout" in ignores.split(":")[0] else None]
    if is_input and not probe.is_loss:
        c.derivatives = derivatives(probe, c, wrong)
        found.append(c.derivatives.hint if c.derivatives is not None else None)
    if checked.all():
        found += _whole(probe, c, a, n, err, wrong, axes, what, is_input)
    found += [ignores, where(wrong, checked, axes, err, a)]
    if c.derivatives is None:  # an elementwise layer's table says it better
        context = (probe.x, probe.G) if is_input and probe.G is not None and \
            np.shape(probe.G) == probe.x.shape else None
        c.shown = side_by_side(a, np.where(checked, n, np.nan), wrong, axes, what, context)
        if is_input and probe.is_loss:  # what a loss's gradient is made of
            c.shown += _scores_and_targets(probe.x, probe.y, wrong)
    return found


def _whole(probe, c, a, n, err, wrong, axes, what, is_input) -> list[str | None]:
    """Statements that need every entry compared."""
    window = _window(probe) if is_input else None
    found = [moved(a, n, axes, what, probe.x if is_input else None, window)]
    if is_input:
        found.append(None if probe.is_loss else normalized(probe, a, n))
        found.append(None if probe.is_loss else dout_term(err, probe.G, what))
        axis = None if probe.is_loss else norm_axis(n)
        found.append(missing_term(probe.x, probe.G, err, n, axis) if axis is not None else None)
        found.append(at_targets(err, probe.y) if probe.is_loss else None)
    else:
        found.append(one_sample(probe, c.param, a))
    found += [pairing(probe.G, probe.layer, "x" if is_input else c.param, a, n),
              product(probe, a, n, c.param) if is_input else None, scaled(probe, a, n, what)]
    found += flows(probe) if is_input and not probe.is_loss else []
    found += [sums(a, n, axes, what), offset(err, wrong, axes)]
    return found


def _scores_and_targets(scores: np.ndarray, y, wrong: np.ndarray, most: int = 8) -> list[str]:
    """The scores and targets of the samples shown, so that the loss can be worked by hand."""
    y = np.asarray(y)
    if scores.ndim != 2 or y.shape[:1] != scores.shape[:1]:
        return []
    rows = np.flatnonzero(wrong.any(axis=1))[:most] if wrong.any() else np.arange(
        min(most, len(scores)))
    lines = ["and the scores and targets y of those samples:"]
    for i in rows:
        values = " ".join(f"{v:+.3g}" for v in scores[i])
        lines.append(f"  sample {i}: scores {values}   y = {y[i]}")
    return lines


def scaled(probe: LayerProbe, a: np.ndarray, n: np.ndarray, what: str) -> str | None:
    """yours = c × true with c = √k (or 1/√k) for k a size of this layer's tensors: a scale
    1/√k missing (or one too many), as in attention's 1/√d."""
    c = float(np.vdot(a, n) / max(np.vdot(n, n), 1e-300))
    if abs(abs(c) - 1) < 1e-3 or not _close(a, c * n, 1e-5).all():
        return None
    shapes = [probe.x.shape, np.shape(probe.base_out), *(p.shape for p in probe.params.values())]
    sizes = {int(k) for shape in shapes for k in shape if k > 1}
    sizes |= {int(v) for v in vars(probe.layer).values()  # head_dim, kernel_size, ...
              if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 1}
    sizes |= {k // h for k in sizes for h in sizes if h < k and k % h == 0}
    for k in sorted(sizes):
        for power, text in ((c, "missing"), (1 / c, "one too many")):
            if abs(power - np.sqrt(k)) < 1e-4 * np.sqrt(k):
                return (f"your {what} is {c:.4g} × the true one, and {power:.4g} = √{k}, where "
                        f"{k} is a size of this layer's tensors: a scale 1/√{k} {text} (as "
                        f"attention's 1/√d)?")
    return None


def _window(probe: LayerProbe) -> tuple[int, int] | None:
    """The pooling window, from the shapes: (H, W) of x over (H', W') of the output."""
    out = probe.base_out
    if out is None or probe.x.ndim != 4 or np.ndim(out) != 4 or out.shape[:2] != \
            probe.x.shape[:2]:
        return None
    (H, W), (h, w) = probe.x.shape[2:], np.shape(out)[2:]
    return (H // h, W // w) if H % h == 0 and W % w == 0 else None


def ignored(probe: LayerProbe, key: str) -> str | None:
    """Does your gradient stay the same when dout changes, or when x changes? (a backward that
    forgot to multiply by dout, or to use the derivative at x)."""
    found = probe.dependence().get(key)
    what = "dx" if key == "input" else f"d{key}"
    if found == "dout":
        return (f"your {what} is the same for two different upstream gradients dout: backward "
                f"does not use dout (as in `return mask` instead of `return dout * mask`)")
    if found == "x":
        part = "the derivative at x (a mask, or f'(x))" if key == "input" else \
            "the factor from forward (x, or what forward made of it)"
        return (f"your {what} is the same for two different inputs x, where the true one "
                f"changes: {part} is missing from it")
    return None


def _add(c: ParamCheck, text: str | None) -> None:
    """Keep the pattern words already there ("zero", "sign", "factor", ...); add to them."""
    if text and (c.hint is None or text not in c.hint):
        c.hint = text if c.hint is None else f"{c.hint}; {text}"
