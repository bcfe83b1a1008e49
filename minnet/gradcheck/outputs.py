"""Output by output: backward is linear in dout, so your gradient is the sum of what it makes of
each output's share of dout. Taken one output at a time (an output pixel, channel, feature or
step), which does your backward take back right, from which does nothing reach the tensor, and
which does it get wrong? A loop that visits some outputs only, a border left out, one column
of dout used for all: they show here, in any layer."""

from __future__ import annotations

import itertools

import numpy as np

MOST = 192  # entries of the tensor, at most: its numeric Jacobian costs two forwards each
TINY = 1e-12


def by_output(probe, key: str, a: np.ndarray, what: str) -> str | None:
    """'with dout at one output pixel at a time, your dx is right for the output pixels on the
    diagonal, (i, i), only (4 of 16); 0 for the 12 other output pixels, where the true one is
    not: nothing of their gradient reaches it'."""
    out, G = probe.base_out, probe.G
    theta = probe.x if key == "input" else probe.params.get(key)
    if G is None or probe.is_loss or theta is None or theta.size > MOST or np.ndim(out) < 2 \
            or a.shape != theta.shape:
        return None
    try:
        J = _jacobian(probe, key, theta)  # (θ entries, output entries)
        for name, axes in _groups(np.shape(out)):
            text = _one_at_a_time(probe, key, a, J, name, axes, what)
            if text:
                return text
        return None
    finally:
        probe.restore()


def _groups(shape: tuple) -> list[tuple[str, tuple[int, ...]]]:
    """The outputs to take one at a time: an image's pixels and channels, a sequence's steps
    and features, a matrix's columns (the samples are flow.py's)."""
    if len(shape) == 4:
        return [("output pixel", (2, 3))] * (shape[2] * shape[3] <= 36) + \
            [("output channel", (1,))] * (1 < shape[1] <= 16)
    if len(shape) == 3:
        return [("output step", (1,))] * (1 < shape[1] <= 16) + \
            [("output feature", (2,))] * (1 < shape[2] <= 16)
    return [("output feature", (1,))] * (len(shape) == 2 and 1 < shape[1] <= 16)


def _jacobian(probe, key: str, theta: np.ndarray) -> np.ndarray:
    """d out / d θ by centered differences: row k is how the whole output moves with θ_k."""
    rows = []
    for k in range(theta.size):
        step = np.zeros(theta.shape)
        step.flat[k] = probe.eps
        if key == "input":
            plus, minus = (probe.calls.forward(probe.x + s * step) for s in (1, -1))
        else:
            plus, minus = (probe.calls.moved_along(theta, s * step, probe.x) for s in (1, -1))
        rows.append((np.asarray(plus, np.float64) - np.asarray(minus, np.float64)).ravel()
                    / (2 * probe.eps))
    return np.array(rows)


def _one_at_a_time(probe, key, a, J, name, axes, what) -> str | None:
    """The statement for one way of splitting the outputs, or None when it tells nothing: the
    backward is not linear in dout, every output is alike, or each output reaches entries of
    its own (an elementwise layer), where the place of the error says as much."""
    found = _statuses(probe, key, a, J, axes)
    if found is None:
        return None
    status, reach = found
    if len(set(status.values())) < 2 or reach.max() < 2:
        return None
    groups = {s: sorted(k for k, v in status.items() if v == s)
              for s in ("right", "nothing", "wrong") if s in status.values()}
    largest = max(groups, key=lambda s: len(groups[s]))
    sizes = [probe.G.shape[ax] for ax in axes]
    said = []
    for s in sorted(groups, key=lambda s: s == largest):  # the one told as "the others" last
        cells = groups[s]
        which = _which(cells, name, sizes) if s != largest else \
            f"the other {name}" if len(cells) == 1 else f"the {len(cells)} other {name}s"
        said.append({"right": f"right for {which}",
                     "nothing": f"0 for {which}, where the true one is not: nothing of their "
                                f"gradient reaches it",
                     "wrong": f"wrong for {which}"}[s])
    return f"with dout at one {name} at a time, your {what} is " + "; ".join(said)


def _statuses(probe, key, a, J, axes):
    """({output index: 'right' | 'nothing' | 'wrong'}, how many outputs reach each entry), or
    None when your gradients of the parts do not add up to yours (not linear in dout)."""
    status, total, reach = {}, np.zeros(a.shape), np.zeros(a.shape)
    scale = np.abs(J @ probe.G.ravel()).max() + TINY
    for idx, part, yours in _parts(probe, axes):
        yours = yours.get(key)
        if yours is None or np.shape(yours) != a.shape:
            return None
        true = (J @ part.ravel()).reshape(a.shape)
        total += yours
        reach += np.abs(true) > TINY * scale
        status[idx] = "right" if np.abs(yours - true).max() <= 1e-6 * scale \
            else "nothing" if np.abs(yours).max() <= TINY * scale else "wrong"
    return None if np.abs(total - a).max() > 1e-6 * scale else (status, reach)


def _parts(probe, axes) -> list:
    """(output index, dout there only, your gradients of it) for each output: one backward
    each, made once per probe and shared by its tensors (dx, dW, db read the same runs)."""
    made = probe.__dict__.setdefault("_by_output", {})
    if axes not in made:
        G, found = probe.G, []
        for idx in itertools.product(*(range(G.shape[ax]) for ax in axes)):
            at = tuple(idx[axes.index(ax)] if ax in axes else slice(None)
                       for ax in range(G.ndim))
            part = np.zeros_like(G)
            part[at] = G[at]
            found.append((idx, part, probe._again(probe.x, part)))
        made[axes] = found
    return made[axes]


def _which(cells: list[tuple[int, ...]], name: str, sizes: list[int]) -> str:
    """'output features 1..3'; 'the output pixels of row 0 and column 0 (7 of 16)', 'the
    output pixels on the diagonal, (i, i), only (4 of 16)', or the first few listed."""
    plural = name + "s"
    if len(sizes) == 1:
        idx = [c[0] for c in cells]
        run = len(idx) > 2 and idx == list(range(idx[0], idx[-1] + 1))
        listed = f"{idx[0]}..{idx[-1]}" if run else ", ".join(map(str, idx))
        return f"{name if len(idx) == 1 else plural} {listed}"
    H, W = sizes
    cells_set = set(cells)
    rows = [i for i in range(H) if all((i, j) in cells_set for j in range(W))]
    cols = [j for j in range(W) if all((i, j) in cells_set for i in range(H))]
    covered = {(i, j) for i in rows for j in range(W)} | {(i, j) for j in cols for i in range(H)}
    if covered == cells_set and len(rows) < H and len(cols) < W:
        parts = ([f"row{'s' * (len(rows) > 1)} {', '.join(map(str, rows))}"] if rows else []) + \
            ([f"column{'s' * (len(cols) > 1)} {', '.join(map(str, cols))}"] if cols else [])
        return f"the {plural} of {' and '.join(parts)} ({len(cells)} of {H * W})"
    if all(i == j for i, j in cells) and len(cells) == min(H, W) > 1:
        return f"the {plural} on the diagonal, (i, i), only ({len(cells)} of {H * W})"
    shown = ", ".join(f"({i}, {j})" for i, j in cells[:6])
    more = f" and {len(cells) - 6} more" if len(cells) > 6 else ""
    return f"{len(cells)} of the {H * W} {plural}: {shown}{more}"
