"""Where gradient flows: which inputs an output depends on, against where your dx goes.

Forward says which slices of x (samples, time steps) the output at one slice depends on: move
x there and see whether that output moves. Backward must agree: with dout only at that one
output slice, your dx must be 0 exactly where the output does not depend on x, and not 0
where it does. A causal mask left out of backward, a mean over the batch where forward has
none, or a gradient that never flows back to earlier time steps all show here, in any layer.
"""

from __future__ import annotations

import numpy as np

from .axes import Axes, of_input
from .calls import STEP
from .carry import carried
from .numeric import numeric_gradient

TINY = 1e-12


def flows(probe) -> list[str]:
    """Sentences, one per axis (samples; time steps of (N, T, D); channels of (N, C, H, W))
    where dx and forward differ."""
    x, out = probe.x, probe.base_out
    if probe.G is None or probe.ids or x.ndim < 2 or out is None or np.ndim(out) < 2:
        return []
    axes = of_input(x.shape)
    found = []
    for axis in _axes(x, np.shape(out)):
        text = _along(probe, axis, axes)
        if text:
            found.append(text)
    probe._again(probe.x, probe.G)  # leave the layer as the check found it
    return found


def _axes(x, out_shape) -> list[int]:
    """The sample axis, and a sequence's time steps or an image's channels where the output
    keeps them (same length, same place)."""
    found = [0] if x.shape[0] > 1 and out_shape[0] == x.shape[0] else []
    if x.ndim in (3, 4) and len(out_shape) == x.ndim and out_shape[1] == x.shape[1] > 1:
        found.append(1)
    return found


def _along(probe, axis: int, axes: Axes) -> str | None:
    size = probe.x.shape[axis]
    at = 1 if size > 2 else 0  # a slice with others on both sides, where there are any
    G = np.zeros_like(probe.G)
    _slice(G, axis, at)[...] = _slice(probe.G, axis, at)
    dx = probe._again(probe.x, G)["input"]
    if dx is None or dx.shape != probe.x.shape:
        return None
    yours = np.array([np.abs(_slice(dx, axis, j)).max() for j in range(size)])
    yours = yours > TINY * max(yours.max(), TINY)
    reads = np.array([depends(probe, axis, at, j) for j in range(size)])
    leak = np.flatnonzero(yours & ~reads)
    lost = np.flatnonzero(~yours & reads)
    name = axes.name(axis)
    reach, read = np.flatnonzero(yours), np.flatnonzero(reads)
    if len(leak) and set(2 * at - read) == set(reach):
        return (f"with dout only at {name} {at}, your dx reaches {axes.of(axis, reach)} where "
                f"forward reads {axes.of(axis, read)}: mirrored around {name} {at}, your "
                f"backward runs the other way along this axis (an index t + 1 where t − 1 "
                f"belongs, or the reverse?)")
    said = []
    if len(leak):
        said.append(f"your dx is not 0 at {axes.of(axis, leak)}, though the output at {name} "
                    f"{at} does not depend on x there: your backward sends gradient where "
                    f"forward has no path (a mask left out, or a sum over the wrong axis?)")
    if len(lost):
        said.append(f"your dx is 0 at {axes.of(axis, lost)}, though the output at {name} {at} "
                    f"depends on x there: gradient does not flow back along that path")
    return f"with dout only at {name} {at}, " + "; and ".join(said) if said else None


MOST = 400  # entries of x, at most, for a numeric dx with dout only at the last step


def back_in_time(probe) -> tuple[str | None, list[str]]:
    """_back_in_time's statements, the layer left at (x, G) whatever it ran."""
    try:
        return _back_in_time(probe)
    finally:
        probe.restore()


def _back_in_time(probe) -> tuple[str | None, list[str]]:
    """With dout only at the last time step, from which step back is your dx wrong? (Where the
    error enters a backward through time: a missing dh_next, a cell path, a wrong direction.)
    Then what the step there carries back, yours and the true one (carry.py): (the first, the
    statements of the second)."""
    x, out = probe.x, probe.base_out
    if probe.G is None or probe.ids or x.ndim != 3 or x.size > MOST or out is None \
            or np.ndim(out) != 3 or np.shape(out)[1] != x.shape[1] or x.shape[1] < 3:
        return None, []
    T = x.shape[1]
    if depends(probe, 1, 0, T - 1):  # the first output reads the last input: no recurrence
        return None, []
    G = np.zeros_like(probe.G)
    G[:, -1] = probe.G[:, -1]
    yours = probe._again(x, G)["input"]
    probe._again(x, probe.G)
    if yours is None or yours.shape != x.shape:
        return None, []
    true = numeric_gradient(probe.calls.forward, x.copy(), probe.eps, dout=G)
    size = np.abs(true).max()
    if np.abs(true[:, :-1]).max() <= 1e-9 * size:  # nothing flows back in time: step by step
        return None, []
    wrong = [t for t in range(T) if np.abs(yours[:, t] - true[:, t]).max() > 1e-6 * size + 1e-9]
    if not wrong or size == 0:
        return None, []
    last = max(wrong)
    right = f"right at t = {last + 1}..{T - 1}" if last < T - 2 else \
        f"right at t = {T - 1}" if last == T - 2 else "wrong already at the last step"
    said = (f"with dout only at the last step (t = {T - 1}), your dx is {right}, and wrong at "
            f"t = {_steps(wrong)}: going back in time, the error enters at step {last}")
    return said, carried(probe, G, yours, true, last)


def _steps(steps: list[int]) -> str:
    return f"{steps[0]}..{steps[-1]}" if steps == list(range(steps[0], steps[-1] + 1)) \
        else ", ".join(map(str, steps))


def depends(probe, axis: int, at: int, j: int) -> bool:
    """Does the output slice `at` move when x moves at slice j (of `axis`)?"""
    moved = probe.x.copy()
    noise = np.random.default_rng(j).standard_normal(_slice(moved, axis, j).shape)
    _slice(moved, axis, j)[...] += STEP * (1 + np.abs(_slice(moved, axis, j))) * noise
    out = np.asarray(probe.calls.forward(moved), dtype=np.float64)
    base = np.asarray(probe.base_out, dtype=np.float64)
    if out.shape != base.shape:
        return True
    change = np.abs(_slice(out, axis, at) - _slice(base, axis, at)).max()
    return bool(change > 1e-12 * max(1.0, np.abs(base).max()))


def _slice(a: np.ndarray, axis: int, i: int) -> np.ndarray:
    return np.moveaxis(a, axis, 0)[i]
