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
    depends = np.array([_depends(probe, axis, at, j) for j in range(size)])
    leak = np.flatnonzero(yours & ~depends)
    lost = np.flatnonzero(~yours & depends)
    name = axes.name(axis)
    if len(leak):
        return (f"with dout only at {name} {at}, your dx is not 0 at {axes.of(axis, leak)}, "
                f"though the output at {name} {at} does not depend on x there: your backward "
                f"sends gradient where forward has no path (a mask left out, or a sum over "
                f"the wrong axis?)")
    if len(lost):
        return (f"with dout only at {name} {at}, your dx is 0 at {axes.of(axis, lost)}, though "
                f"the output at {name} {at} depends on x there: gradient does not flow back "
                f"along that path")
    return None


def _depends(probe, axis: int, at: int, j: int) -> bool:
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
