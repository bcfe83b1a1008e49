"""An elementwise layer's derivative, y = f(x) entry by entry: a table of x, y, your dy/dx and
the true one, the pattern over all entries, and the catalogued formula your dy/dx matches.

Every claim is a numeric test that held at every entry checked; when no test tells the
formulas apart, nothing is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .calls import STEP
from .factors import factor_named
from .probe import LayerProbe
from .report import ParamCheck
from .settle import settler
from .structure import close

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
    lines = [region] + pattern(x, y, yours, true, wrong.ravel()[keep], probe.layer,
                               settler(probe, "input"))[1:]
    told = formula(x, y, yours, true)  # two pieces swapped, say: the reshuffle adds nothing
    moved = None if told else relabelled(x, yours, true, probe.layer)
    lines += [moved] if moved else []
    hint = told or _constant(lines) or moved
    return Derivatives(rows, picks.index(worst), lines, hint, points,
                       int(compared.sum()) - len(keep))


def relabelled(x: np.ndarray, yours: np.ndarray, true: np.ndarray, layer=None,
               most: int = 8) -> str | None:
    """A piecewise-constant dy/dx whose values are the true one's, each on another piece:
    'where the true dy/dx is 0.05, yours is 1.6; ...', and by index into an array the layer
    holds, when its entries are those values ('params['s'][k − 1] where params['s'][k]
    belongs': an index one too low)."""
    true, yours = np.round(true, 6), np.round(yours, 6)  # levels: values to 6 digits
    values = _levels(true, most)
    if values is None or len(values) < 2 or not np.isin(yours, values).all():
        return None
    given = {v: _levels(yours[true == v], 1) for v in values}
    if any(m is None for m in given.values()):
        return None
    given = {v: m[0] for v, m in given.items()}
    if all(v == m for v, m in given.items()) or set(given.values()) != set(values):
        return None  # not a reshuffle of the true one's values (a mask left out: all 1)
    order = sorted(values, key=lambda v: np.mean(x[true == v]))
    pairs = "; ".join(f"where the true one is {v:.4g}, yours is {given[v]:.4g}" for v in order)
    text = f"your dy/dx takes the true one's values, each where another belongs: {pairs}"
    return text + _by_index(given, layer)


def _levels(v: np.ndarray, most: int) -> list[float] | None:
    """The distinct values of v, when there are at most `most`."""
    found = np.unique(v)
    return [float(u) for u in found] if len(found) <= most else None


def _by_index(given: dict, layer) -> str:
    """'; yours is params['s'][k − 1] where params['s'][k] belongs (index one too low...)'."""
    for name, p in (getattr(layer, "params", {}) or {}).items():
        p = np.round(np.ravel(p), 6)
        if p.ndim != 1 or len(set(p)) != len(p) or not set(given) <= set(p):
            continue
        index = {v: i for i, v in enumerate(p)}
        steps = {(index.get(m, -99) - index[v]) % len(p) for v, m in given.items()}
        if len(steps) == 1 and (step := steps.pop()) in (1, len(p) - 1):
            sign, how = ("−", "low (the first piece takes the last entry, index −1)") \
                if step == len(p) - 1 else ("+", "high")
            return (f"; yours is params[{name!r}][k {sign} 1] where params[{name!r}][k] "
                    f"belongs: an index one too {how}")
    return ""


def _constant(lines: list[str]) -> str | None:
    """Where it is wrong and by which factor or offset, when the table's lines say so."""
    told = len(lines) > 1 and ("(a constant factor" in lines[1] or "(an offset" in lines[1])
    return f"{lines[0]}; {lines[1]}" if told else None


def _spread(x: np.ndarray, worst: int) -> list[int]:
    """SHOWN entries spread over the range of x (quantiles), distinct in x, and the worst."""
    _, first = np.unique(np.round(x, 4), return_index=True)  # one entry per x shown
    spread = first[np.linspace(0, len(first) - 1, min(SHOWN, len(first))).astype(int)]
    picks = {int(i) for i in spread if round(x[i], 4) != round(x[worst], 4)} | {worst}
    return sorted(picks, key=lambda i: x[i])


def pattern(x: np.ndarray, y: np.ndarray, yours: np.ndarray, true: np.ndarray,
            wrong: np.ndarray | None = None, layer=None, settle=None) -> list[str]:
    """Where your dy/dx is wrong (x < 0, x > 0, near 0, everywhere), your/true, sign flips."""
    wrong = ~close(yours, true, NUMERIC) if wrong is None else wrong
    m, k = len(x), int(wrong.sum())
    lines = [_region(x, wrong)]
    if k == 0:
        return lines
    lines.append(_ratio(x, y, yours, true, wrong, layer, settle))
    flipped = int(np.sum(yours * true < 0))
    lines.append(f"signs flipped at {flipped} of the {m} entries with |G| >= {MIN_G}" if flipped
                 else "no sign is flipped")
    return lines


def _ratio(x, y, yours, true, wrong, layer=None, settle=None) -> str:
    """your/true at the wrong entries: a constant, a catalogued function of x or y, or neither."""
    if np.any(wrong & (np.abs(true) <= 1e-9)):
        return "your dy/dx is nonzero where the true one is 0"
    r = yours[wrong] / true[wrong]
    if np.all(np.abs(r - np.median(r)) <= 1e-4 * np.abs(np.median(r)) + 1e-12):
        named = "" if layer is None else factor_named(layer, float(np.median(r)), settle)
        return (f"your/true = {np.median(r) + 0.0:.4g} at every wrong entry (a constant "
                f"factor{named})")
    d = yours[wrong] - true[wrong]
    if np.all(np.abs(d - np.median(d)) <= 1e-4 * np.abs(np.median(d)) + 1e-9):
        return (f"your dy/dx = true {'+' if np.median(d) > 0 else '−'} "
                f"{abs(np.median(d)):.4g} at every wrong entry (an offset, not a factor)")
    line = _affine(yours[wrong], true[wrong])
    if line:
        return line
    cands = {_name(k): v for k, v in _candidates(x[wrong], y[wrong]).items()}
    with np.errstate(divide="ignore"):
        found = [name for name, v in cands.items() if close(r, v, 1e-4).all()]
        found += [f"1/({name})" for name, v in cands.items() if close(1 / r, v, 1e-4).all()]
    if len(found) == 1:
        return f"your/true = {found[0]} at every wrong entry"
    return (f"your/true is not a constant (from {r.min():.3g} to {r.max():.3g}): the formula "
            f"differs, not only a factor")


def _affine(yours: np.ndarray, true: np.ndarray) -> str | None:
    """yours = α + β·true at every entry (β ≠ 1, and enough distinct entries to tell)."""
    if len(np.unique(np.round(true, 6))) < 4:
        return None
    beta, alpha = np.polyfit(true, yours, 1)
    if abs(beta - 1) < 1e-3 or abs(beta) < 1e-3 or not close(yours, alpha + beta * true,
                                                               1e-5).all():
        return None
    k = "" if abs(abs(beta) - 1) < 1e-6 else f"{abs(beta):.4g}·"
    return (f"your dy/dx = {alpha + 0.0:.4g} {'−' if beta < 0 else '+'} {k}true at every wrong "
            f"entry (a line in the true one, not a factor)")


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
    runs = _runs(x, wrong)
    if len(runs) <= 3:
        return (f"wrong at {k} of {m} entries, all where x lies in {' or '.join(runs)}; "
                f"right everywhere else")
    return f"wrong at {k} of {m} entries, spread over the range of x"


def _runs(x, wrong) -> list[str]:
    """The stretches of x (sorted) where entries are wrong: '[-2.79, -1.22]', with the right
    entries around them as bounds, so that a breakpoint can be read off."""
    order = np.argsort(x)
    xs, ws = x[order], wrong[order]
    runs, start = [], None
    for i, w in enumerate(ws):
        if w and start is None:
            start = i
        if start is not None and (not w or i == len(ws) - 1):
            end = i if w else i - 1
            around = [f"{xs[j]:.3g}" for j in (start - 1, end + 1) if 0 <= j < len(xs)]
            runs.append(f"[{xs[start]:.3g}, {xs[end]:.3g}] (right next to it at x = "
                        f"{' and '.join(around)})")
            start = None
    return runs


def formula(x: np.ndarray, y: np.ndarray, yours: np.ndarray, true: np.ndarray) -> str | None:
    """The one catalogued formula your dy/dx equals at every entry, if exactly one does."""
    cands = _candidates(x, y)
    truth = [k for k, v in cands.items() if close(v, true, NUMERIC).all()]
    mine = [k for k, v in cands.items() if k not in truth and close(v, yours, EXACT).all()]
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
    wrong = ~close(yours, true, NUMERIC)
    for side, there in (("x < 0", x < 0), ("x > 0", x > 0)):
        if wrong.any() and not (wrong & ~there).any() and there.sum() >= 3:
            cands = _candidates(x[there], y[there])
            mine = [k for k, v in cands.items() if close(v, yours[there], EXACT).all()]
            real = [k for k, v in cands.items() if close(v, true[there], NUMERIC).all()]
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
        if np.abs(f).min() > 1e-9 and not any(close(f, g, EXACT).all() for g in seen):
            seen.append(f)  # forms equal here (exp(y) = exp(x) where y = x) count once
            c = np.median(v / f)
            if abs(c - 1) > 1e-6 and close(v, c * f, EXACT).all():
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
    if not (close(pos, pos[0], NUMERIC).all() and close(neg, neg[0], NUMERIC).all()):
        return None
    return float(pos[0]) + 0.0, float(neg[0]) + 0.0  # + 0.0: no "-0" in the text


def _sides_text(x, v) -> str | None:
    s = _sides(x, v)
    return None if s is None else f"{s[0]:.4g} where x > 0, {s[1]:.4g} where x < 0"


