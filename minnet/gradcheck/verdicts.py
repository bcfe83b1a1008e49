"""Verdicts and hints: does an analytic gradient agree with the numeric one, and if not, how not.

Every path of the checker ends here, the textbook one (function.check_function) included.
"""

from __future__ import annotations

import numpy as np

from . import shapes
from .numeric import DEFAULT_EPS, DEFAULT_TOL, rel_error
from .report import FunctionCheck, ParamCheck

FACTOR_TWO = " (a stray or missing factor 2, as in d(x²)/dx = 2x?)"
ATOL = 1e-8  # an entry also agrees when off by at most this times max(1, |J|): round-off
SECOND_LOOK = 100  # an entry that disagrees is tried again with eps / SECOND_LOOK

__all__ = ["DEFAULT_EPS", "DEFAULT_TOL", "compare", "judge", "pattern", "second_look"]


def round_off(J) -> float:
    """The absolute error below which two slopes of J count as equal: ATOL * max(1, |J|)."""
    return ATOL * max(1, abs(J))


def at_round_off(a, n, atol) -> bool:
    """Both sides within round-off of 0 (a bias feeding BatchNorm): nothing relative to measure."""
    return bool(np.abs(np.concatenate([a, n])).max(initial=0) <= atol)


def agree(a, n, tol, atol):
    """Entry by entry: |a - n| <= atol + tol (|a| + |n|)."""
    return np.abs(a - n) <= atol + tol * (np.abs(a) + np.abs(n))


def second_look(a, n, kinks, tol, atol, eps, slopes_at):
    """Kink flags, plus the entries that disagree at eps but agree at eps / SECOND_LOOK.

    Such an entry's ±eps straddled a corner that a smaller step misses: a kink, not a bug.
    A wrong backward disagrees at every eps. `slopes_at(positions, eps)` recomputes them.
    """
    off = np.flatnonzero(~kinks & ~agree(a, n, tol, atol))
    if len(off) == 0:
        return kinks
    kinks = kinks.copy()
    kinks[off[agree(a[off], slopes_at(off, eps / SECOND_LOOK), tol, atol)]] = True
    return kinks


def judge(a, n, kinks, idx, g, tol, atol, where, mode, batch, accumulated=None,
          corners=None) -> ParamCheck:
    """Verdict on the entries that are not kinks; `where` = (layer_index, layer_name, param).

    `corners` counts the entries that met a kink, those compared one-sided included.
    """
    keep = ~kinks
    c = compare(a[keep], n[keep], idx[keep], g, tol, atol, *where, mode, batch=batch)
    c.kinks = int(kinks.sum()) if corners is None else corners
    if c.checked == 0:
        c.passed, c.status = False, "inconclusive"
        c.hint = (f"inconclusive: all {c.kinks} entries tried sit on a kink (a corner such as "
                  f"ReLU's at 0), even with a smaller eps; nothing could be compared. Try "
                  f"another batch.")
    if accumulated:
        c.passed, c.hint = False, accumulated
        c.status = "accumulating" if accumulated.startswith("accumulating") else "FAIL"
    return c


def compare(a, n, idx, g, tol, atol, layer_index, layer_name, param, mode,
            batch=None) -> ParamCheck:
    """Verdict on analytic values a against numeric n at flat entries idx of gradient g."""
    shape = tuple(np.shape(g))
    err = np.abs(a - n)
    quiet = at_round_off(a, n, atol)
    rel = 0.0 if quiet else rel_error(a, n)
    passed = bool((rel <= tol or err.max(initial=0) <= atol) and np.isfinite(a).all())
    w = int(np.argmax(err)) if len(err) else None
    where = () if w is None else (
        (int(idx[w]),) if mode == "directional" else tuple(int(i) for i in
                                                            np.unravel_index(idx[w], shape)))
    wrong = int(np.count_nonzero(~agree(a, n, tol, atol)))
    hint = None if passed else pattern(a, n, g, idx, mode, batch)
    status = "ok" if passed else "FAIL"
    if passed and len(a) and quiet:
        status, hint = "no effect", ("no effect on the loss: both gradients are 0 up to "
                                     "round-off (as for a bias before BatchNorm)")
    elif passed and rel > tol:
        hint = (f"ok by the round-off floor: rel_error {rel:.1e} is above {tol:g}, but no entry "
                f"is off by more than {atol:.1g} (both sides are tiny here)")
    errors = None
    if not passed and mode != "directional":
        errors = np.full(shape, np.nan)
        errors.flat[idx] = a - n
    return ParamCheck(layer_index, layer_name, param, shape, rel, where,
                      float(a[w]) if w is not None else 0.0,
                      float(n[w]) if w is not None else 0.0,
                      len(a), 0, passed, hint, mode, wrong, errors, status)


def compare_function(analytic, numeric, tol, slopes_at) -> FunctionCheck:
    """check_function's verdict: every entry, kinks found by a second look at a smaller eps."""
    where = (-1, "f", "x")
    if analytic.shape != numeric.shape:
        c = shape_mismatch(*where, numeric.shape, analytic.shape)
        return FunctionCheck(False, 1.0, c.hint, c)
    a, n = analytic.ravel(), numeric.ravel()
    idx = np.arange(a.size)
    atol = ATOL * max(1.0, float(np.abs(n).max(initial=0)))
    kinks = second_look(a, n, np.zeros(a.size, dtype=bool), tol, atol, DEFAULT_EPS, slopes_at)
    batch = analytic.shape[0] if analytic.ndim >= 2 else None  # rows are samples, as in CS231n
    c = judge(a, n, kinks, idx, analytic, tol, atol, where, "full", batch)
    return FunctionCheck(c.passed, c.rel_error, c.hint, c, tol, atol)


def pattern(a, n, g=None, idx=None, mode="full", batch=None) -> str | None:
    """Name the shape of a wrong gradient: zero, sign, factor c, transposed; None otherwise."""
    na, nn = np.linalg.norm(a), np.linalg.norm(n)
    if not np.isfinite(a).all():
        return "not finite: the analytic gradient holds NaN or inf"
    if nn == 0:
        return ("the true gradient is 0 at every entry: the output does not move when this "
                "tensor does, so forward does not read it (a copy kept from an earlier call?), "
                "yet yours is not 0")
    if na == 0:
        return "zero: the analytic gradient is all zeros (never computed, or never stored)"
    if na <= 1e-12 * nn:
        return (f"zero up to round-off: the analytic gradient is computed, but its entries are at "
                f"most {np.abs(a).max():.1g}: its terms cancel (as a softmax's backward does for "
                f"an upstream gradient that is the same at every entry of a row)")
    mask = _mask_pattern(a, n)
    if mask:
        return mask
    if g is not None and mode != "directional" and g.ndim == 2 and g.shape[0] == g.shape[1]:
        if rel_error(g.T.ravel()[idx], n) < 1e-4:
            return "transposed: analytic ≈ numericᵀ (check the order in the matrix product)"
    c = float(np.dot(a, n) / np.dot(n, n))
    if rel_error(a, c * n) > 1e-3 or a.size == 1 and not _whole(c):
        return None  # two single numbers always have a ratio: only a round one tells
    if abs(c + 1) < 1e-3:
        return "sign: analytic ≈ -numeric (a minus sign is flipped)"
    text = f"factor: analytic ≈ {c:.{4 if abs(c - 1) > 1e-2 else 7}g} × numeric"
    if batch and batch > 1 and abs(c - batch) < 1e-3 * batch:
        text += f" (a missing division by the batch size N = {batch}?)"
    elif batch and batch > 1 and abs(c * batch - 1) < 1e-3:
        text += f" (an extra division by the batch size N = {batch}?)"
    elif abs(c - 2) < 2e-3 or abs(c - 0.5) < 1e-3:
        text += FACTOR_TWO
    return text


def _whole(c: float) -> bool:
    """c or 1/c a whole number up to 10 (2, 3, 0.5, −1): a factor worth naming alone."""
    return any(abs(v - round(v)) < 1e-4 * abs(v) and 1 <= abs(round(v)) <= 10
               for v in (c, 1 / c) if c != 0)


def _mask_pattern(a, n) -> str | None:
    """Entries where exactly one of analytic and numeric is zero: a mask gone wrong."""
    za, zn = a == 0, n == 0
    if np.mean(za != zn) >= 0.95 and zn.any() and not zn.all():
        return "inverted mask: analytic is zero exactly where numeric is not, and vice versa"
    # a leak of round-off (1e-32 where terms cancel) is no mask
    leaked = zn & (np.abs(a) > 1e-9 * np.abs(a).max(initial=0))
    lost = za & ~zn
    if leaked.any() and not lost.any():
        return (f"mask ignored: analytic is nonzero at {int(leaked.sum())} of {len(a)} entries "
                f"where numeric is exactly zero (is a mask missing in backward?)")
    if lost.any() and not leaked.any() and rel_error(a[~za], n[~za]) < 1e-4:
        return (f"partly zero: analytic is zero at {int(lost.sum())} of {len(a)} entries where "
                f"numeric is not, and right elsewhere (a branch of the derivative left out?)")
    return None


def l2_hint(model, layer, name, a, n, idx) -> str | None:
    """Model-level pattern: the l2 term l2·W left out of (or added twice to) dW."""
    if not (model.l2 and _penalized(model, layer.params[name])):
        return None
    l2w = model.l2 * layer.params[name].ravel()[idx]
    if rel_error(a + l2w, n) < 1e-4:
        return f"l2: the gradient lacks the l2 term (analytic + l2·W ≈ numeric, l2 = {model.l2})"
    if rel_error(a - l2w, n) < 1e-4:
        return f"l2: the l2 term l2·W is added twice (l2 = {model.l2})"
    return None


def _penalized(model, p) -> bool:
    return any(W is p for W, _ in model._penalized())


def shape_mismatch(index, name, param, want, got, batch=None) -> ParamCheck:
    """A FAIL row for a gradient missing (got None) or of another shape than the tensor's."""
    why = "missing: backward did not store this gradient" if got is None else \
        shapes.mismatch(tuple(got), tuple(want), batch)
    return unusable(index, name, param, want, why)


def unusable(index, name, param, want, why: str) -> ParamCheck:
    """A FAIL row for a gradient that cannot be compared at all, saying why ("not reached"
    when backward broke off before computing it)."""
    status = "not reached" if why.startswith("not reached") else "FAIL"
    return ParamCheck(index, name, param, tuple(want), 1.0, (), float("nan"), float("nan"),
                      0, 0, False, why, status=status)


def not_compared(index: int, name: str, param: str, shape) -> ParamCheck:
    """A row for a tensor not compared because J itself changes between identical passes."""
    return ParamCheck(index, name, param, tuple(shape),
                      float("nan"), (), float("nan"), float("nan"), 0, 0, False,
                      "inconclusive: J is not a fixed function of θ (the problem below), so "
                      "no slope can be measured",
                      status="not compared")


def repeat_backward(before: dict, first: dict, second: dict, floor: float = 0.0) -> dict:
    """Gradients that changed between two identical forward-backward calls, and why.

    Each dict maps a tensor's key to its gradient: before the first call (zeroed), after it,
    and after the second. Adding the same amount again is accumulation (+= instead of =);
    anything else is state that carries over from one call to the next. Changes within
    `floor` are round-off (a bias before BatchNorm, whose gradient is ~1e-17), not either.
    """
    found = {}
    for k, g1 in first.items():
        if k not in second or np.array_equal(g1, second[k]):
            continue
        step, again = g1 - before.get(k, 0), second[k] - g1
        if not (np.isfinite(step).all() and np.isfinite(again).all()) or \
                max(np.abs(step).max(initial=0), np.abs(again).max(initial=0)) <= floor:
            continue  # not finite: its row says so; within the floor: round-off
        ratio = float(np.vdot(step + again, step) / max(np.vdot(step, step), 1e-300))
        if np.allclose(again, step, rtol=1e-9, atol=1e-12 * np.abs(step).max(initial=1)):
            found[k] = (f"accumulating: the first backward matched numeric, a second one gave "
                        f"{ratio:.3g} × that: grads are added to with +=, not overwritten with =")
        else:
            found[k] = ("changes from call to call: a second forward and backward on the same "
                        "batch gave another gradient; does backward depend on state kept from "
                        "an earlier call?")
    return found


def blame_downstream(checks: list[ParamCheck], suspects) -> None:
    """A tensor of a sound layer below a suspect fails because of the suspect: say so.

    A failing tensor of a suspect itself, without a hint of its own, borrows the hint its
    layer got when checked alone.
    """
    alone = {_place(s.layer_index, s.path, c.param): c.hint
             for s in suspects for c in s.failed}
    for c in checks:
        here = _place(c.layer_index, (), c.param)
        if not c.passed and not c.hint and alone.get(here):
            c.hint = f"{alone[here]} (found when checked alone, below)"
        at = here[:-1]  # where the tensor's layer runs: (3, 0) for '0.gamma' of layer 3
        mine = any(at[:len(s.place)] == s.place for s in suspects)
        later = [s for s in suspects if s.place > at[:len(s.place)]]
        if not c.passed and c.status == "FAIL" and not mine and later:
            c.hint = f"follows from {later[0].who}: this layer is right on its own"


def _place(index: int, path: tuple, param: str) -> tuple:
    """(3, 1, 'Wq') for param '1.Wq' of layer 3, or 'Wq' of layer 1 inside layer 3."""
    *inner, name = param.split(".")
    return (index, *(j for j, _ in path), *(int(i) for i in inner), name)
