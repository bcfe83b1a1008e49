"""A recurrence checked on a sequence of one step: inside a step, or between steps?

A recurrent layer's backward has two parts: what one step does (its gates' derivatives) and
what steps pass to one another (dh_next, dc_next, the arrays each step keeps). Run on the
first step alone, x[:, :1], only the first part is at work. If every gradient is right there,
the mistake is between steps; if one is wrong, the columns where it is wrong say which gate's
pre-activations (for weights whose columns are gate blocks). At that step the state before is
0, so a term through it is not tried: the statement says so.
"""

from __future__ import annotations

import numpy as np

from .axes import of_param
from .flow import depends
from .structure import where
from .verdicts import agree

TOL = 1e-6


def one_step(probe) -> str | None:
    """'On one step ... all right: the mistake is between steps', or which of its tensors is
    wrong on one step, and where."""
    x, out = probe.x, probe.base_out
    if probe.ids or probe.G is None or x.ndim != 3 or x.shape[1] < 2 or np.ndim(out) != 3 \
            or np.shape(out)[1] != x.shape[1] or not probe.params:
        return None
    T = x.shape[1]
    if depends(probe, 1, 0, T - 1) or not depends(probe, 1, T - 1, 0):
        return None  # not a recurrence: the first output reads the last input, or no state
    try:
        yours, true = _gradients(probe, x[:, :1].copy(), probe.G[:, :1].copy())
    finally:
        probe.restore()
    if yours is None:
        return None
    wrong = {k: ~agree(yours[k], true[k], TOL, 1e-9) for k in yours}
    head = "on a sequence of one step (x[:, :1], the state before it 0)"
    if not any(w.any() for w in wrong.values()):
        return (f"{head} every gradient of yours is right: the mistake is in what the steps "
                f"pass to one another (the gradient carried back to h_t−1, c_t−1, or an array "
                f"one step keeps for another)")
    said = []
    for k, w in wrong.items():
        if not w.any():
            continue
        what = "dx" if k == "input" else f"d{k}"
        shape = yours[k].shape
        axes = of_param(shape, x[:, :1].shape, np.shape(out[:, :1]), probe.layer) \
            if k != "input" else None
        place = where(w, np.ones(shape, dtype=bool), axes, yours[k] - true[k]) \
            if axes is not None else None
        said.append(f"{what} " + (place.split(";")[0] if place else "wrong"))
    right = [("dx" if k == "input" else f"d{k}") for k, w in wrong.items() if not w.any()]
    return (f"{head}: {'; '.join(said)}" + (f"; right: {', '.join(right)}" if right else "")
            + ": the mistake is inside one step")


def _gradients(probe, x1: np.ndarray, G1: np.ndarray):
    """Yours and the numeric gradients of J = Σ layer(x1)·G1, by name ('input', 'W', ...)."""
    yours = probe._again(x1, G1)
    yours = {k: v for k, v in yours.items() if v is not None}
    if "input" not in yours or yours["input"].shape != x1.shape:
        return None, None
    J = lambda: float(np.sum(np.asarray(probe.calls.forward(x1)) * G1))  # noqa: E731
    true = {"input": _numeric(x1, J, probe.eps)}
    for k, p in probe.params.items():
        if k in yours and yours[k].shape == p.shape:
            true[k] = _numeric(p, J, probe.eps)
    return {k: yours[k] for k in true}, true


def _numeric(array: np.ndarray, J, eps: float) -> np.ndarray:
    """dJ/d(array) by centered differences, moving the array in place and putting it back."""
    grad = np.zeros(array.shape)
    for i in np.ndindex(array.shape):
        keep = array[i]
        array[i] = keep + eps
        plus = J()
        array[i] = keep - eps
        minus = J()
        array[i] = keep
        grad[i] = (plus - minus) / (2 * eps)
    return grad
