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
from .fit import holds
from .flow import depends
from .formulas import compared, with_functions
from .numeric import numeric_gradient
from .structure import where
from .verdicts import agree

TOL = 1e-6
MOST = 300  # parameter values, at most: two forward calls each (a diagnosis, not the check)


def one_step(probe) -> str | None:
    """'On one step ... all right: the mistake is between steps', or which of its tensors is
    wrong on one step, and where."""
    x, out = probe.x, probe.base_out
    if probe.ids or probe.G is None or x.ndim != 3 or x.shape[1] < 2 or np.ndim(out) != 3 \
            or np.shape(out)[1] != x.shape[1] or not probe.params \
            or sum(p.size for p in probe.params.values()) > MOST:
        return None
    T = x.shape[1]
    recurrence = not depends(probe, 1, 0, T - 1) and depends(probe, 1, T - 1, 0)
    probe.restore()
    if not recurrence:
        return None  # the first output reads the last input, or the last not the first
    rows = _independent(x[:, 0])  # samples whose x are independent: dW = xᵀ·da gives da back
    x1, G1 = x[rows, :1].copy(), probe.G[rows, :1].copy()
    try:
        yours, true = _gradients(probe, x1, G1)
        out1 = None if yours is None else np.asarray(probe.calls.forward(x1))[:, 0]
    finally:
        probe.restore()
    if yours is None:
        return None
    wrong = {k: ~agree(yours[k], true[k], TOL, 1e-9) for k in yours}
    head = (f"on a sequence of one step (x[{_listed(rows)}, :1]: the first step of samples "
            f"{_listed(rows)}, the state before it 0)")
    if not any(w.any() for w in wrong.values()):
        return (f"{head} every gradient of yours is right: the mistake is in what the steps "
                f"pass to one another (in a recurrence the gradient carried back to h_t−1, "
                f"c_t−1, or an array one step keeps for another; in attention the weights "
                f"between steps, which one step alone does not have)")
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
    gates = _gates(probe, x1[:, 0], G1[:, 0], out1, yours, true, wrong)
    return (f"{head}: {'; '.join(said)}" + (f"; right: {', '.join(right)}" if right else "")
            + ": the mistake is inside one step" + (f". {gates}" if gates else ""))


def _gates(probe, x0, g0, h0, yours, true, wrong) -> str | None:
    """da, the gradient at a = x·W + b, yours and the true one, read off dW = xᵀ·da where a
    weight W (D, F) is wrong on one step, and fitted block by block (one block per gate)."""
    H = g0.shape[1]
    for name, W in probe.params.items():
        if W.ndim != 2 or W.shape[0] != x0.shape[1] or W.shape[1] % H or not wrong[name].any():
            continue
        mine, right = _undone(x0, yours[name]), _undone(x0, true[name])
        if mine is None or right is None:
            continue
        bias = next((b for b, p in probe.params.items() if p.shape == (W.shape[1],)), None)
        a = x0 @ W + (probe.params[bias] if bias else 0)
        blocks = {f"a[:, {j}:{j + H}]": a[:, j:j + H] for j in range(0, W.shape[1], H)}
        blocks = with_functions({**blocks, "out": h0})
        said = []
        for j in range(0, W.shape[1], H):
            what = f"da[:, {j}:{j + H}]"
            if not wrong[name][:, j:j + H].any():  # as the dW statement says: right
                continue
            fit = compared(what, mine[:, j:j + H], right[:, j:j + H], blocks, {"dout": g0},
                           alone=True, few=True)
            said.append(fit or f"{what} is wrong, of no formula found")
        pre = f"a = x·params[{name!r}]" + (f" + params[{bias!r}]" if bias else "")
        return (f"Of the gradient at {pre} (read off your d{name} = xᵀ·da; out: the layer's "
                f"output there): " + "; ".join(said)) if said else None
    return None


def _independent(x0: np.ndarray) -> list[int]:
    """The first samples whose rows of x0 (N, D) are linearly independent."""
    rows: list[int] = []
    for n in range(len(x0)):
        if np.linalg.matrix_rank(x0[rows + [n]]) == len(rows) + 1:
            rows.append(n)
    return rows


def _listed(rows: list[int]) -> str:
    return f":{len(rows)}" if rows == list(range(len(rows))) else str(rows)


def _undone(x0: np.ndarray, dW: np.ndarray) -> np.ndarray | None:
    """da with x0ᵀ·da = dW, for x0 (k, D) of rank k; None when none gives dW back."""
    if np.linalg.matrix_rank(x0) < len(x0):
        return None
    da = np.linalg.lstsq(x0.T, dW, rcond=None)[0]
    return da if holds(dW, x0.T @ da, 1e-6) else None


def _gradients(probe, x1: np.ndarray, G1: np.ndarray):
    """Yours and the numeric gradients of J = Σ layer(x1)·G1, by name ('input', 'W', ...)."""
    yours = probe._again(x1, G1)
    yours = {k: v for k, v in yours.items() if v is not None}
    if "input" not in yours or yours["input"].shape != x1.shape:
        return None, None
    forward = probe.calls.forward
    true = {"input": numeric_gradient(forward, x1, probe.eps, dout=G1)}
    for k, p in probe.params.items():
        if k in yours and yours[k].shape == p.shape:  # p moved in place: forward reads it
            true[k] = numeric_gradient(lambda _: forward(x1), p, probe.eps, dout=G1)
    return {k: yours[k] for k in true}, true
