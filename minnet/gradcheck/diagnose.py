"""What kind of mistake a wrong gradient is: the diagnosis that turns "wrong" into a lesson.

diagnose() is the entry point; it only adds to a failing check. It gathers, for each failing
tensor, what the mechanisms measure (most telling first):

    elementwise.py    an elementwise layer's derivative table and formula
    normalization.py  a normalization's means over the wrong axis, or a term missing
    structure.py      where the error lives, sums along axes, the right values moved
    pairing.py        which arrays the layer keeps a gradient was made from
    formulas.py       what yours and the true one equal, entry by entry, in those arrays
                      (fit.py fits them), corrections.py: dout and a term along an axis
    branches.py       wrong exactly on one side of a threshold of such an array, or equal to
                      another tensor's true gradient
    flow.py           where gradient flows that forward has no path for, back in time too
    factors.py        yours = true × a factor: one per index, or one for the whole tensor
                      that is a number the layer holds, a √size, or a count of uses
                      (settle.py: a setting or a plain number? checked with it changed;
                      and yours as the true one with a setting at another value)
    lost.py           the true gradient computed, then not returned or stored
    mixing.py         dout mixed along one axis by a matrix, yours and the true one
    outputs.py        with dout at one output at a time: which outputs it takes back right
    training.py       a state carried between calls, a cache that grows with every call
    and here          one sample instead of the sum, products in the wrong order, a loss wrong
                      at its targets, what a gradient ignores

Every claim is a numeric test that held at every entry checked; when no test tells the cases
apart, nothing is said.
"""

from __future__ import annotations

import numpy as np

from .axes import of_input, of_param
from .branches import branch, crossed, extreme
from .corrections import corrected, correction
from .elementwise import EXACT, NUMERIC, derivatives
from .factors import fan, names_it, per_index, scaled
from .flow import back_in_time, flows
from .formulas import before_product, fitted, gradient_at, gradient_name
from .lost import lost, used_up
from .mixing import mixing
from .normalization import missing_term, norm_axis, normalized
from .onestep import one_step
from .outputs import by_output
from .pairing import held, pairing
from .probe import STACK_BUDGET, LayerProbe
from .report import ParamCheck
from .settle import as_if, settler
from .show import side_by_side
from .structure import close, constant, dout_term, from_dout, moved, offset, sums, where
from .training import growing
from .unsummed import unsummed
from .verdicts import FACTOR_TWO, agree

# ---- parameter gradients -------------------------------------------------------------------


def per_sample(probe: LayerProbe, key: str) -> np.ndarray | None:
    """dJₙ/dθ for each sample n alone, Jₙ = Σ layer(x)[n]·G[n], by centered differences: (P, N)."""
    x, G, out = probe.x, probe.G, probe.base_out
    p = probe.layer.params[key]
    if G is None or out.shape[:1] != x.shape[:1] or len(x) < 2 or p.size > 4096:
        return None
    parts, k = [], max(1, STACK_BUDGET // (2 * out.size))
    try:
        for start in range(0, p.size, k):
            idx = np.arange(start, min(start + k, p.size))
            delta = np.repeat([probe.eps, -probe.eps], len(idx))
            outs = np.asarray(probe.calls.nudged(x, key, np.concatenate([idx, idx]), delta, out))
            change = (outs[:len(idx)] - outs[len(idx):]) * G
            parts.append(change.reshape(len(idx), len(x), -1).sum(axis=2) / (2 * probe.eps))
    finally:
        probe.restore()  # what the layer keeps is (x, G)'s again: the next diagnosis reads it
    return np.concatenate(parts)


def one_sample(probe: LayerProbe, key: str, a: np.ndarray) -> str | None:
    """Is the analytic dθ one sample's contribution, where it should be the sum of all?"""
    parts = per_sample(probe, key)
    if parts is None:
        return None
    total, a = parts.sum(axis=1), a.ravel()
    for i in range(parts.shape[1]):
        if close(a, parts[:, i], NUMERIC).all() and not close(a, total, NUMERIC).all():
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
    if key == "input":  # one weight matrix, or two (a layer of two linear maps)
        mats = {f"{k}{t}": W.T if t else W for k, W in getattr(probe.layer, "params", {}).items()
                if W.ndim == 2 for t in ("", "ᵀ")}
        chains = [["G", m] for m in mats] + [["G", m, o] for m in mats for o in mats
                                              if m.rstrip("ᵀ") != o.rstrip("ᵀ")]
        cands = {"·".join(c): _chain([G, *(mats[m] for m in c[1:])]) for c in chains}
    else:
        pairs = {"xᵀ·G": (x.T, G), "Gᵀ·x": (G.T, x), "x·Gᵀ": (x, G.T), "G·xᵀ": (G, x.T)}
        cands = {k: _chain([p, q]) for k, (p, q) in pairs.items()}
    cands = {k: v for k, v in cands.items() if v is not None and v.shape == a.shape}
    truth = [k for k, v in cands.items() if close(v, n, NUMERIC).all()]
    mine = [k for k, v in cands.items() if k not in truth and close(v, a, EXACT).all()]
    if len(mine) != 1 or not truth:
        return None
    (m,), t = mine, truth[0]
    reversed_order = len(m.split("·")) == 3 and m.split("·")[1:] == t.split("·")[:0:-1]
    how = ("a transpose is missing" if t == m + "ᵀ" else "a transpose too many"
           if m == t + "ᵀ" else "the weights in the wrong order: backward meets forward's last "
           "product first" if reversed_order else "the factors are in the wrong order or "
           "transposed")
    return f"analytic equals {m} at every entry (true: {t}): {how}"


def _chain(mats: list[np.ndarray]) -> np.ndarray | None:
    """The product of mats in order, or None where their shapes do not chain."""
    out = mats[0]
    for m in mats[1:]:
        if out.shape[1] != m.shape[0]:
            return None
        out = out @ m
    return out


def last_product(probe: LayerProbe, a: np.ndarray, n: np.ndarray) -> str | None:
    """dx = (the gradient at x·Q)·Qᵀ for a matrix Q (D, F) that forward multiplied x by; yours
    made with another (D, F) matrix R the layer holds, or with none when F = D."""
    D = probe.x.shape[-1]
    mats = {k: v for k, v in held(probe.layer).items()
            if np.ndim(v) == 2 and v.shape[0] == D and D > 1}
    rows_a, rows_n = a.reshape(-1, D), n.reshape(-1, D)
    for q, Q in mats.items():
        at_q = gradient_at(Q, rows_n)  # the gradient at x·Q, if any
        if at_q is None or not close(at_q @ Q.T, rows_n, 1e-6).all():
            continue
        others = {r: R for r, R in mats.items() if r != q and R.shape == Q.shape}
        for r, R in [("", None)] * (Q.shape[1] == D) + list(others.items()):
            made = at_q if R is None else at_q @ R.T
            if close(made, rows_a, 1e-6).all():
                return (f"your dx · {q}ᵀ is the true dx: is the last product, with {q}ᵀ, "
                        f"missing?" if R is None else
                        f"your dx is the true one with {r}ᵀ in place of {q}ᵀ in the last "
                        f"product: true dx = (gradient at x·{q})·{q}ᵀ, yours = (the same)·{r}ᵀ")
    return None


def at_targets(err: np.ndarray, y) -> str | None:
    """A loss's dscores wrong exactly at each sample's target class (by how much, when it is
    the same amount everywhere)."""
    y = np.asarray(y)
    if err.ndim != 2 or y.shape != err.shape[:1] or not np.issubdtype(y.dtype, np.integer) \
            or not (0 <= y.min() and y.max() < err.shape[1]):
        return None
    target = np.zeros(err.shape, dtype=bool)
    target[np.arange(len(y)), y] = True
    wrong = ~np.isclose(err, 0, atol=1e-7)
    if not np.array_equal(wrong, target):
        return None
    if not np.allclose(err[target], err[target][0]):
        return "wrong only at each sample's target class y, by a different amount in each " \
            "sample; right at every other class"
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
    truths = _truths(probe, [inp, *params])
    failing = [c for c in [inp, *params] if c is not None and not c.passed and c.status == "FAIL"]
    step = _safe(lambda: one_step(probe)) if failing else None  # the layer's, said once
    grown = _safe(lambda: growing(probe)) if failing else None
    for c in failing:
        try:
            found = _findings(probe, c, tol, atol, truths)
        except Exception:  # a diagnosis is extra: a layer that cannot take one keeps its hint
            continue
        if step and c is failing[0]:  # first where the others only say where, else last
            found = [step, *found] if not any(_says_what(f) for f in found) else [*found, step]
        if grown and c is failing[0]:  # the cause of all the rest
            found = [grown, *found]
        c.findings = _without_weaker([f for f in dict.fromkeys(found) if f])
        named = any("= √" in f or ", which is" in f for f in c.findings)
        if named and c.hint:  # a better reason for the factor than d(x²)/dx
            c.hint = c.hint.replace(FACTOR_TWO, "")
        if c.findings:
            _add(c, c.findings[0])


PLACES = ("wrong ", "with dout at one ")  # statements of where only, not of what
NO_TRUE = ("the true one is not of that form", "(nor such a sum)")  # yours alone is known
HALF = ("yours is not that", *NO_TRUE)  # only one of the two is known


def _says_what(f: str | None) -> bool:
    """A statement of what yours is (not only where, nor only what it is not)."""
    return bool(f) and not f.startswith(PLACES) and not f.endswith(HALF)


def _without_weaker(found: list[str]) -> list[str]:
    """'yours = F; the true one is not of that form' (or no such contraction) says nothing,
    and seems to contradict, once another statement gives the true one's formula."""
    if not any("the true one =" in f for f in found):
        return found
    return [f for f in found if not f.endswith(NO_TRUE)]


def _truths(probe: LayerProbe, checks: list) -> dict[str, np.ndarray]:
    """The true gradient of each tensor compared at every entry, by name ("x", "W")."""
    found = {}
    for c in checks:
        a = None if c is None or c.errors is None else _yours(probe, c)
        if a is not None and np.isfinite(c.errors).all():
            found["x" if c.param == "input" else c.param] = a - c.errors
    return found


def _yours(probe: LayerProbe, c: ParamCheck) -> np.ndarray | None:
    if c.param == "input":
        return probe.dx
    return probe.grads.get(c.param, probe.misshapen.get(c.param))


def _findings(probe: LayerProbe, c: ParamCheck, tol: float, atol: float,
              truths: dict) -> list[str | None]:
    is_input = c.param == "input"
    a = _yours(probe, c)
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
    what = gradient_name(probe, c.param)
    ignores = ignored(probe, c.param)
    found = [ignores if ignores and "dout" in ignores.split(":")[0] else None]
    if is_input and not probe.is_loss:
        c.derivatives = derivatives(probe, c, wrong)
        found.append(c.derivatives.hint if c.derivatives is not None else None)
    if checked.all():
        probe.restore()  # the probes above ran the layer on other inputs
        found += [_safe(lambda: crossed("x" if is_input else c.param, a, truths))]
        found += _whole(probe, c, a, n, err, wrong, axes, what, is_input)
    found += [ignores, where(wrong, checked, axes, err, a)]
    if c.derivatives is None:  # an elementwise layer's table says it better
        context = (probe.x, probe.G) if is_input and probe.G is not None and (
            np.shape(probe.G) == probe.x.shape or _window(probe)) else None
        c.shown = side_by_side(a, np.where(checked, n, np.nan), wrong, axes, what, context)
        if is_input and probe.is_loss:  # what a loss's gradient is made of
            c.shown += _scores_and_targets(probe.x, probe.y, wrong)
    return found


def _whole(probe, c, a, n, err, wrong, axes, what, is_input) -> list[str | None]:
    """Statements that need every entry compared. A mechanism that cannot read this layer says
    nothing; the others still speak."""
    G, x, own = probe.G, probe.x, is_input and not probe.is_loss  # own: a layer's dx
    first = _safe(lambda: lost(probe, c.param, a, n, what)) or used_up(probe.layer) or \
        _safe(lambda: as_if(probe, c.param, a, n, what))  # where it went, or the setting's value
    if not a.any():  # E is the true gradient itself: only what it is, and where it went, tell
        return [first, _safe(lambda: pairing(G, probe.layer, "x" if is_input else c.param,
                                               a, n))]
    targets = None  # "wrong only at the targets" locates it better than any branch
    window = _window(probe) if is_input else None
    factor = _safe(lambda: per_index(probe.layer, a, n, axes, what, settler(probe, c.param)))
    tests = [lambda: constant(a, n, what),
             lambda: moved(a, n, axes, what, x if is_input else None, window)]
    if own:
        tests += [lambda: from_dout(a, n, G, wrong, axes, what),
                  lambda: normalized(probe, a, n), lambda: dout_term(err, G, what),
                  lambda: missing_term(x, G, err, n, norm_axis(n), [
                      v for v in probe.params.values() if v.ndim == 1])
                  if norm_axis(n) is not None else None]
    elif is_input:
        targets = _safe(lambda: at_targets(err, probe.y))
        tests += [lambda: targets]
    else:
        tests += [lambda: one_sample(probe, c.param, a), lambda: fan(probe, a, n, what, c.param)]
    tests += [lambda: pairing(G, probe.layer, "x" if is_input else c.param, a, n)]
    if not is_input:
        tests += [lambda: unsummed(probe, c.param, a)]
    if own:
        tests += [lambda: product(probe, a, n, c.param), lambda: last_product(probe, a, n)]
    table_says = c.derivatives is not None and any(  # a catalogued formula, not a factor
        said in (c.derivatives.hint or "") for said in ("your dy/dx equals", "your dy/dx is "))
    tests += [lambda: None if table_says else fitted(probe, c.param, a, n, wrong),
              lambda: before_product(probe, a, n) if own else None,
              lambda: mixing(probe, a, n, axes, what) if own else None,
              lambda: corrected(probe, a, n, axes) if own and not table_says else None,
              lambda: correction(probe, err, axes) if own and not table_says else None,
              lambda: None if c.derivatives or targets else branch(probe, c.param, wrong, a, n),
              lambda: None if c.derivatives or targets else extreme(probe, c.param, wrong, axes),
              lambda: None if names_it(factor) else scaled(probe, a, n, what)]
    if own:
        tests += [lambda: fan(probe, a, n, what, "x")]
    entry, carry = (_safe(lambda: back_in_time(probe)) or (None, [])) if own else (None, [])
    named = [factor] if names_it(factor) else []  # they name it: first
    found = [first, *carry, *named]
    found += [_safe(t) for t in tests] + [factor]
    if own:
        found += [*(_safe(lambda: flows(probe)) or []), entry]
    if not probe.is_loss and not any(_says_what(f) for f in found):
        found += [_safe(lambda: by_output(probe, c.param, a, what))]  # costly: where needed
    return found + [_safe(lambda: sums(a, n, axes, what)), _safe(lambda: offset(err, wrong, axes))]


def _safe(test):
    """A mechanism's statement, or None when it cannot read this layer (a shape it does not
    expect): a diagnosis is extra, and one that fails must not silence the others."""
    try:
        return test()
    except (ValueError, TypeError, IndexError, ArithmeticError, np.linalg.LinAlgError):
        return None


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
        target = np.array2string(y[i], precision=3) if y.dtype.kind == "f" else y[i]
        lines.append(f"  sample {i}: scores {values}   y = {target}")
    return lines


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
                f"changes: {part} is missing from it, or taken from entries that did not change "
                f"it")
    return None


def _add(c: ParamCheck, text: str | None) -> None:
    """Keep the pattern words already there ("zero", "sign", "factor", ...); add to them."""
    if text and (c.hint is None or text not in c.hint):
        c.hint = text if c.hint is None else f"{c.hint}; {text}"
