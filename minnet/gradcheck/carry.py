"""What a recurrence carries back: the gradient step s + 1 passes to the state h_s before it.

With dout only at the last step, a backward through time that is right at the steps after s and
wrong from s on (flow.back_in_time) went wrong in what step s + 1 passes back: dh_s. Backward
does not return it, but your dx at step s is made from it. Where your backward of step s alone
is right (checked with dout at step s only), dx_s = L_s·dh_s per sample, with L_s read off
your backward of unit gradients at step s; so dh_s = L_s⁺·dx_s: yours from your dx, the true
one from the numeric dx. Both are then fitted like any gradient (formulas.py), in dh_{s+1} and
the arrays the layer keeps at steps s and s + 1, directly or as D·Wᵀ for a weight W.
"""

from __future__ import annotations

import numpy as np

from .fit import holds
from .formulas import compared, gradient_at, through, with_functions
from .numeric import numeric_gradient
from .pairing import kept

SHOWN = 2  # samples whose dh_s is printed when no formula fits


def carried(probe, G: np.ndarray, yours: np.ndarray, true: np.ndarray, s: int) -> list[str]:
    """Statements on dh_s, yours and the true one, when they can be read off dx at step s."""
    x, T = probe.x, probe.x.shape[1]
    if s >= T - 1 or x.shape[2] < np.shape(probe.base_out)[2]:
        return []
    try:
        found = _read_off(probe, G, yours, true, s)
    finally:
        probe.restore()  # what the layer keeps is (x, G)'s again, for the fits
    return [] if found is None else _said(probe, s, *found)


def _read_off(probe, G, yours, true, s):
    """(yours, true dh_s, true dh_{s+1}) per sample, or None."""
    T = probe.x.shape[1]
    if not _local_right(probe, s):
        return None
    L = _local_map(probe, s)
    mine, right = _solve(L, yours[:, s]), _solve(L, true[:, s])
    after = G[:, T - 1] if s + 1 == T - 1 else _solve(_local_map(probe, s + 1), true[:, s + 1])
    return None if mine is None or right is None or after is None else (mine, right, after)


def _said(probe, s: int, mine: np.ndarray, right: np.ndarray, after: np.ndarray) -> list[str]:
    T = probe.x.shape[1]
    what = f"dh_{s}"
    head = (f"the gradient step {s + 1} carries back to h_{s} ({what}; read off your dx at step "
            f"{s}, whose backward of step {s} alone is right; dh_{s + 1} is "
            + ("dout at the last step" if s + 1 == T - 1 else f"the true one at h_{s + 1}")
            + "): ")
    if np.abs(mine).max() <= 1e-12 * np.abs(right).max():
        return [head + f"your {what} is 0 at every entry: nothing of the gradient at h_{s + 1} "
                f"reaches h_{s}; the true one is not 0"]
    bases = {f"dh_{s + 1}": after}
    said = compared(what, mine, right, _blocks(probe, s, mine.shape), bases, alone=True)
    if said:
        return [head + said]
    for name, W in probe.params.items():
        D, Dn = gradient_at(W, mine), gradient_at(W, right)
        if D is None or not (holds(mine, D @ W.T, 1e-6) and holds(right, Dn @ W.T, 1e-5)):
            continue
        said = compared("D", D, Dn, _blocks(probe, s, D.shape), bases)
        if said:
            return [head + f"{through(what, name, W)}: {said}"]
    return [head + "; ".join(f"at sample {n}: yours {_row(mine[n])}, true {_row(right[n])}"
                             for n in range(min(SHOWN, len(mine))))]


def _local_right(probe, s: int) -> bool:
    """With dout at step s only, is your dx at step s the numeric one?"""
    G = np.zeros_like(probe.G)
    G[:, s] = probe.G[:, s]
    yours = probe._again(probe.x, G)["input"][:, s]

    def at_step(v):
        moved = probe.x.copy()
        moved[:, s] = v
        return probe.calls.forward(moved)

    true = numeric_gradient(at_step, probe.x[:, s].copy(), probe.eps, dout=G)
    return holds(yours, true, 1e-5)


def _local_map(probe, s: int) -> np.ndarray:
    """L (N, D, H): your dx at step s for a unit dout at step s, one hidden unit at a time."""
    columns = []
    for k in range(np.shape(probe.base_out)[2]):
        G = np.zeros_like(probe.G)
        G[:, s, k] = 1.0
        columns.append(probe._again(probe.x, G)["input"][:, s])
    return np.stack(columns, axis=-1)


def _solve(L: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """g (N, H) with L[n]·g[n] = v[n] for every sample; None where no g gives v back."""
    if v is None or np.linalg.cond(L).max() > 1e8:
        return None
    g = np.stack([np.linalg.lstsq(L[n], v[n], rcond=None)[0] for n in range(len(v))])
    return g if holds(v, np.einsum("ndh,nh->nd", L, g), 1e-6) else None


def _blocks(probe, s: int, shape: tuple) -> dict[str, np.ndarray]:
    """The arrays at steps s and s + 1 of what the layer keeps and outputs, its parameters,
    and their functions, each of the shape (N, H) of dh_s."""
    N, T = probe.x.shape[:2]
    found = {}
    sequences = kept(probe.layer) | {"out": np.asarray(probe.base_out)}
    for name, u in sequences.items():
        if u.ndim == 3 and u.shape[0] == N and u.shape[1] in (T, T + 1) and u.shape[2:] == \
                shape[1:]:
            for t in sorted({s, s + 1} | ({s + 2} if u.shape[1] == T + 1 else set())):
                found[f"{name}[:, {t}]"] = u[:, t]
    found |= {f"params[{k!r}]": np.broadcast_to(p, shape) for k, p in probe.params.items()
              if p.shape == shape[1:]}
    return with_functions({k: b for k, b in found.items() if np.ptp(b) > 0})


def _row(v: np.ndarray) -> str:
    return " ".join(f"{u:+.3g}" for u in v)
