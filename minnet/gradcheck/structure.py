"""The structure of a wrong gradient, from the error itself: E = analytic − numeric.

Nothing here knows which layer made the gradient. Each function measures one property of the
two arrays and, when it holds, says so in a sentence; when it does not hold, it says nothing.

    where     the indices along each axis (samples, channels, time steps, kernel offsets,
              gate blocks) that hold wrong entries, and a trend along time
    sums      what the gradient sums to along each axis: 0 for the true one, not for yours
    offset    an error that is the same all along an axis
    dout      an error that is a multiple of dout itself: a term dout missing (a skip path)
    from_dout yours is dout rearranged (reversed along an axis) or pooled (the largest dout
              of a window) where the true one is not
    moved     the right values at other entries: shifted, flipped, transposed, or elsewhere
              in the same window
"""

from __future__ import annotations

import itertools

import numpy as np

from .axes import Axes, spread

TINY = 1e-12  # below this a value counts as exactly 0
CLOSE = 1e-6  # relative agreement between analytic values and the numeric ones (with noise)


def close(u, v, rtol: float = CLOSE) -> np.ndarray:
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    return np.abs(u - v) <= 1e-9 + rtol * np.maximum(np.abs(u), np.abs(v))


# ---- where the wrong entries are -------------------------------------------------------------


def where(wrong: np.ndarray, checked: np.ndarray, axes: Axes, err: np.ndarray,
          a: np.ndarray | None = None) -> str | None:
    """'wrong only in samples 0 and 3, channel 1 (24 of 96 entries); right everywhere else',
    and how, when it is the same at every wrong entry: an offset, or (a given) a scale."""
    text = _where(wrong, checked, axes, err)
    how = _how(wrong, err, a) if text or wrong.all() else None
    return text + how if text and how else text


def _how(wrong, err, a) -> str | None:
    e = err[wrong]
    if len(e) < 2:  # one entry is the same as itself: nothing to tell
        return None
    if np.all(np.abs(e - e.mean()) <= 1e-4 * np.abs(e.mean())):
        return f"; by the same offset everywhere: analytic − numeric = {e.mean():.4g}"
    if a is not None and wrong.sum() < np.isfinite(err).sum():
        n = a[wrong] - e
        if np.all(np.abs(n) > TINY):
            r = a[wrong] / n
            if np.all(np.abs(r - r.mean()) <= 1e-4 * np.abs(r.mean())):
                digits = 4 if abs(r.mean() - 1) > 1e-2 else 7
                return f"; by a scale there: analytic = {r.mean():.{digits}g} × numeric"
    return None


def _where(wrong: np.ndarray, checked: np.ndarray, axes: Axes, err: np.ndarray) -> str | None:
    k, m = int(wrong.sum()), int(checked.sum())
    if k == 0 or wrong.ndim == 0:
        return None
    parts, joint = [], axes.spatial if wrong.ndim >= 2 else None
    for axis in range(wrong.ndim):
        if joint and axis in joint:
            continue
        if axis in axes.blocks:
            parts += _blocks(wrong, checked, axes, axis)
            continue
        hit, seen = spread(wrong, axis), spread(checked, axis)
        if hit.sum() < seen.sum():
            parts.append(f"in {axes.of(axis, np.flatnonzero(hit))}")
    if joint:
        parts += _positions(wrong, checked, axes, joint)
    trend = _trend(err, wrong, axes)
    if not parts:  # "wrong everywhere" alone says nothing the table does not
        return f"wrong at every entry checked ({m})" + (f"; {trend}" if trend else "") \
            if k == m and (trend or _how(wrong, err, None)) else None
    text = f"wrong only {' and '.join(parts)} ({k} of {m} entries); right everywhere else"
    return f"{text}; {trend}" if trend else text


def _blocks(wrong, checked, axes: Axes, axis: int) -> list[str]:
    size, _ = axes.blocks[axis]
    count = wrong.shape[axis] // size
    hit = spread(wrong, axis).reshape(count, size).any(axis=1)
    seen = spread(checked, axis).reshape(count, size).any(axis=1)
    if hit.sum() == seen.sum():
        return []
    return ["in " + " and ".join(axes.block(axis, b) for b in np.flatnonzero(hit))]


def _positions(wrong, checked, axes: Axes, joint: tuple[int, int]) -> list[str]:
    """Positions (row, column) read together: kernel offsets, or pixels."""
    others = tuple(a for a in range(wrong.ndim) if a not in joint)
    hit, seen = wrong.any(axis=others), checked.any(axis=others)
    if hit.sum() == seen.sum():
        return []
    what = "kernel offset" if "kernel" in axes.name(joint[0]) else "pixel (row, column)"
    right = seen & ~hit
    if what == "kernel offset" and right.sum() <= 2:  # say the few that are right
        return [f"at every {what} but {_places(right)}"]
    if hit.sum() <= seen.sum() / 2:
        return [f"at {what}s {_places(hit)} of {int(seen.sum())}"]
    return []


def _places(mask) -> str:
    places = [f"({u}, {v})" for u, v in np.argwhere(mask)]
    if len(places) > 8:
        places = places[:8] + [f"and {len(places) - 8} more"]
    return ", ".join(places)


def _trend(err, wrong, axes: Axes) -> str | None:
    """Along time: right at the last steps (or the first), and larger toward the other end."""
    if "time step" not in axes.names:
        return None
    t = axes.names.index("time step")
    T = err.shape[t]
    size = np.sqrt(np.nanmean(np.moveaxis(np.nan_to_num(err) ** 2, t, 0).reshape(T, -1), axis=1))
    steps = np.flatnonzero(spread(wrong, t))
    if len(steps) < 2 or len(steps) == T and size[steps[0]] == size[steps[-1]]:
        return None
    first, last = steps[0], steps[-1]
    text = []
    if last < T - 1 and first == 0:
        text.append(f"0 at the last step{'s' if last < T - 2 else ''} (t = "
                    f"{last + 1}{f'..{T - 1}' if last < T - 2 else ''})")
    elif first > 0 and last == T - 1:
        text.append(f"0 at the first step{'s' if first > 1 else ''} (t = "
                    f"{'0..' if first > 1 else ''}{first - 1})")
    if size[first] > 1.5 * size[last]:
        text.append(f"growing toward t = {first}")
    elif size[last] > 1.5 * size[first]:
        text.append(f"growing toward t = {last}")
    return f"along time the error is {', '.join(text)}" if text else None


# ---- sums along axes ---------------------------------------------------------------------------


def zero_sums(v: np.ndarray) -> list[tuple[int, ...]]:
    """The axes (one, or an image's pixels together) over which every slice of v sums to 0."""
    groups = [(a,) for a in range(v.ndim) if v.shape[a] > 1]
    groups += [(2, 3)] if v.ndim == 4 else []
    if v.ndim >= 3:  # a sample's every entry (layer norm of an image), a channel's (batch norm)
        groups += [tuple(range(1, v.ndim)), (0, *range(2, v.ndim))]
    found = []
    for axes in groups:
        if any(set(f) <= set(axes) for f in found):
            continue  # each pixel's slice sums to 0 already
        s = np.abs(v.sum(axis=axes))
        if np.all(s <= 1e-6 * np.abs(v).sum(axis=axes) + TINY) and np.abs(v).max() > TINY:
            found.append(axes)
    return found


def sums(a: np.ndarray, n: np.ndarray, axes: Axes, what: str) -> str | None:
    """'the true dx sums to 0 over each sample's features; yours sums to 0 over the batch'."""
    if a.ndim < 2 or not np.isfinite(n).all():
        return None
    true, yours = zero_sums(n), zero_sums(a)
    if true == yours:
        return None
    t = " and ".join(over(axes, p) for p in true) if true else None
    y = " and ".join(over(axes, q) for q in yours) if yours else None
    if t and y:
        return (f"the true {what} sums to 0 over {t}; yours sums to 0 over {y} instead (a mean "
                f"taken over the wrong axis?)")
    if t:
        return f"the true {what} sums to 0 over {t}; yours does not"
    return f"yours sums to 0 over {y}; the true {what} does not"


def over(axes: Axes, group: tuple[int, ...]) -> str:
    """'each sample's features' for axis 1 of (N, F); 'the batch, in each feature' for axis 0."""
    if len(group) > 1:
        names = " and ".join(axes.plural(a) for a in group if a)
        listed = ", ".join(map(str, group))
        if 0 in group:
            rest = " and ".join(axes.name(a) for a in range(len(axes.names)) if a not in group)
            return f"the batch and the {names} (axes {listed}), in each {rest}"
        whose = "each sample" if 1 in group else "each sample's channel"
        return f"the {names} of {whose} (axes {listed})"
    axis = group[0]
    if axes.name(axis) == "sample":
        rest = [axes.name(a) for a in range(len(axes.names)) if a != axis]
        return f"the batch (axis 0), in each {' and '.join(rest)}"
    return f"each sample's {axes.plural(axis)} (axis {axis})" if axes.names[0] == "sample" \
        else f"the {axes.plural(axis)} (axis {axis})"


def offset(err: np.ndarray, wrong: np.ndarray, axes: Axes) -> str | None:
    """An error that does not change along some axis: a term added (or left out) once per slice."""
    if err.ndim < 2 or not np.isfinite(err).all() or not wrong.any():
        return None
    for axis in range(err.ndim):
        if err.shape[axis] > 2 and np.allclose(err, err.mean(axis=axis, keepdims=True),
                                               rtol=1e-5, atol=1e-9 * np.abs(err).max()):
            rest = [axes.name(a) for a in range(err.ndim) if a != axis]
            return (f"the error is the same all along the {axes.name(axis)} axis (axis {axis}): "
                    f"an amount per {' and '.join(rest)} added or left out, the same for "
                    f"every {axes.name(axis)}")
    return None


def constant(a: np.ndarray, n: np.ndarray, what: str) -> str | None:
    """Yours one number at every entry where the true one varies: a scalar where an array
    belongs, and which scalar, when it is one the true gradient makes."""
    c = float(a.flat[0]) if a.size > 1 else 0.0
    if c == 0 or not close(a, c, 1e-9).all() or close(n, n.flat[0], 1e-6).all():
        return None
    made = {"the sum of the true one's entries": n.sum(), "their mean": n.mean()}
    if n.ndim == 2 and n.shape[0] == n.shape[1] > 1:
        made["the trace of the true one (the sum of its diagonal)"] = np.trace(n)
    which = next((k for k, v in made.items() if close(c, v, 1e-6)), None)
    text = f"your {what} is one number, {c:.4g}, at every entry, where the true one varies"
    count = len(a)
    if a.ndim and count > 1 and abs(abs(c) * count - 1) < 1e-9:
        also = f" (here also {which})" if which else ""
        return (f"{text}: {'−' if c < 0 else ''}1/{count}, one over the {count} samples{also}: "
                f"every sample gets the same gradient (a mean's 1/N with each sample's own "
                f"term left out, or one branch's value given to all)")
    if which and which.startswith("the trace"):
        return (f"{text}: {which}: a dot product where the outer product belongs (u.T @ v of "
                f"1-D arrays is their dot product; np.outer(u, v) is the matrix)")
    return f"{text}{f': {which}' if which else ''}: a scalar (a sum over every axis, a dot " \
           f"product) stands where an array belongs"


def dout_term(err: np.ndarray, G: np.ndarray | None, what: str) -> str | None:
    """E = c·dout at every entry: dx lacks (or has too much of) dout itself."""
    if G is None or err.shape != np.shape(G) or not np.isfinite(err).all():
        return None
    c = float(np.vdot(err, G) / max(np.vdot(G, G), 1e-300))
    if abs(c) < 1e-3 or not close(err, c * G, 1e-5).all():
        return None
    if abs(c + 1) < 1e-4:
        return (f"the error is −dout at every entry: your {what} lacks a term dout itself (as a "
                f"residual connection y = x + f(x) adds dout, its skip path, to dx)")
    return f"the error is {c:.4g} × dout at every entry: a term {-c:.4g}·dout is missing"


# ---- your gradient made of dout alone ----------------------------------------------------------

POOLS = (("the largest", np.max), ("the smallest", np.min), ("the sum of", np.sum),
         ("the mean of", np.mean))


def from_dout(a: np.ndarray, n: np.ndarray, G: np.ndarray | None, wrong: np.ndarray,
              axes: Axes, what: str) -> str | None:
    """Yours is dout rearranged (reversed along an axis) at every entry, or, where it is
    wrong, a pool of dout (the largest dout of its 2×2 window), where the true one differs."""
    if G is None or np.shape(G) != a.shape or a.ndim < 2 or not wrong.any():
        return None
    ways = list(_rearranged(G, axes))
    for how, v in ways:
        if close(a, v).all():
            same = int(close(n, v).sum())
            true = next((f"is dout {other}" for other, u in ways if close(n, u, 1e-4).all()),
                        f"is that at {same} of {a.size} entries only" if same else "is not")
            return f"your {what} is dout {how} at every entry; the true one {true}"
    m = wrong & (np.abs(a) > TINY)
    if m.sum() < 3:
        return None
    for how, v in _pooled(G, axes):
        if close(a[m], v[m]).all():
            true = "the true one there is dout at the entry itself" if close(n[m], G[m]).all() \
                else "the true one is not"
            return (f"at the {int(m.sum())} entries where yours is wrong (and not 0), your "
                    f"{what} is {how}; {true}")
    return None


def _rearranged(G: np.ndarray, axes: Axes):
    yield "itself", G
    for axis in range(1, G.ndim):
        if G.shape[axis] > 1:
            yield f"reversed along its {axes.plural(axis)}", np.flip(G, axis)
    if axes.spatial:
        yield "turned by 180° (rows and columns reversed)", np.flip(G, axes.spatial)


def _pooled(G: np.ndarray, axes: Axes):
    """(words, the pool of G at each entry's window or axis, broadcast back to G's shape)."""
    if axes.spatial:
        r, c = axes.spatial
        for k in (2, 3):
            if G.shape[r] % k or G.shape[c] % k:
                continue
            blocks = G.reshape(*G.shape[:r], G.shape[r] // k, k, G.shape[c] // k, k,
                               *G.shape[c + 1:])
            for word, f in POOLS:
                pooled = f(blocks, axis=(r + 1, r + 3), keepdims=True)
                yield (f"{word} dout of its {k}×{k} window (of {axes.plural(r)} and "
                       f"{axes.plural(c)})", np.broadcast_to(pooled, blocks.shape).reshape(G.shape))
    for axis in range(1, G.ndim):
        if G.shape[axis] > 2:
            for word, f in POOLS:
                yield (f"{word} dout along its {axes.plural(axis)}",
                       np.broadcast_to(f(G, axis=axis, keepdims=True), G.shape))


# ---- the right values at other entries ---------------------------------------------------------


def moved(a: np.ndarray, n: np.ndarray, axes: Axes, what: str, x: np.ndarray | None = None,
          window: tuple[int, int] | None = None) -> str | None:
    """The true values, sitting at other entries: shifted by one, flipped, transposed, or at
    another entry of the same pooling window."""
    if a.shape != n.shape or close(a, n).all() or not np.isfinite(n).all():
        return None
    groups = [(axis,) for axis in range(a.ndim)] + ([axes.spatial] if axes.spatial else [])
    for group in groups:
        for step in (1, -1, 2, -2, 3, -3):
            if all(a.shape[g] > abs(step) + 1 for g in group) and _shifted(a, n, group, step):
                return _shift_text(axes, group, step, what)
    for axis in range(a.ndim):
        if a.shape[axis] > 1 and close(a, np.flip(n, axis)).all():
            name, k = axes.name(axis), a.shape[axis] - 1
            return (f"yours is the true {what} reversed along its {axes.plural(axis)} (axis "
                    f"{axis}): your {name} i holds the true {name} {k} − i (a list built "
                    f"backwards and not reversed, or an index counted from the other end?)")
    if axes.spatial and close(a, np.flip(n, axes.spatial)).all():
        return (f"yours is the true {what} flipped along rows and columns (turned by 180°): a "
                f"kernel flipped where it should not be (or not flipped where it should)?")
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and close(a, np.swapaxes(n, -1, -2)).all():
        return f"yours is the true {what} transposed (its last two axes swapped)"
    permuted = _permuted(a, n, what)
    if permuted:
        return permuted
    for axis in axes.blocks:
        text = _blocks_moved(a, n, axes, axis, what)
        if text:
            return text
    if window is not None and axes.spatial and x is not None:
        return _in_windows(a, n, x, window, what)
    return None


def _permuted(a: np.ndarray, n: np.ndarray, what: str) -> str | None:
    """Yours the true one with its axes in another order (three or more axes)."""
    if a.ndim < 3:
        return None
    for order in itertools.permutations(range(a.ndim)):
        if list(order) == sorted(order) or n.transpose(order).shape != a.shape \
                or not close(a, n.transpose(order)).all():
            continue
        letters = "ijklmn"[:a.ndim]
        inverse = np.argsort(order)
        true_at = ", ".join(letters[inverse[q]] for q in range(a.ndim))
        return (f"yours is the true {what} with its axes in another order: your "
                f"[{', '.join(letters)}] is the true [{true_at}] (a transpose or moveaxis in "
                f"the wrong order: "
                f"forward's permutation where its inverse belongs?)")
    return None


def _blocks_moved(a, n, axes: Axes, axis: int, what: str) -> str | None:
    """Blocks along an axis (an LSTM's gates) in another order: yours' block b holds the true
    block p[b]."""
    size, _ = axes.blocks[axis]
    count = a.shape[axis] // size
    part = lambda v, b: np.take(v, range(b * size, (b + 1) * size), axis=axis)  # noqa: E731
    order = []
    for b in range(count):
        match = [k for k in range(count) if close(part(a, b), part(n, k)).all()]
        if len(match) != 1:
            return None
        order.append(match[0])
    moved = [b for b in range(count) if order[b] != b]
    if not moved or sorted(order) != list(range(count)):
        return None
    holds = "; ".join(f"your {axes.block(axis, b)} holds the true {axes.block(axis, order[b])}"
                      for b in moved)
    return f"yours holds the true {what}'s blocks in another order: {holds}"


def _rank(r: int, k: int) -> str:
    return {1: ", its minimum", k: ", its maximum"}.get(r, ", its median" if 2 * r == k + 1
                                                         else "")


def _one_rank(v: np.ndarray, ranks: np.ndarray) -> int | None:
    """The rank of x at the one entry of each window where v is not 0, when it is the same
    in every window."""
    one = (np.abs(v) > TINY).sum(axis=-1) == 1
    if not one.all():
        return None
    at = ranks[np.arange(len(v)), np.argmax(np.abs(v), axis=-1)]
    return int(at[0]) if (at == at[0]).all() else None


def _at_ranks(A, Nw, X, kh: int, kw: int, what: str) -> str | None:
    """'your dx is not 0 at the entries of ranks 2, 3 and 4 of x in every window; the true one
    only at rank 4': the entries each window sends gradient to, when they go by rank."""
    ranks = np.argsort(np.argsort(X, axis=-1), axis=-1) + 1
    mine, true = _support_ranks(A, ranks), _support_ranks(Nw, ranks)
    if mine is None or true is None or mine == true:
        return None
    k = kh * kw
    return (f"within each {kh}×{kw} window your {what} is not 0 at the entries ranked "
            f"{_ranks(mine, k)} in x; the true one only at those ranked {_ranks(true, k)} (in "
            f"the {len(A)} windows where they differ)")


def _ranks(at: tuple[int, ...], k: int) -> str:
    """'2, 3 and 4 (all but the smallest x)'."""
    named = {tuple(range(2, k + 1)): "all but the smallest", tuple(range(1, k)):
             "all but the largest", (k,): "the largest", (1,): "the smallest"}.get(at)
    listed = ", ".join(map(str, at[:-1])) + f" and {at[-1]}" if len(at) > 1 else str(at[0])
    return f"{listed} ({named or '1 = the smallest'})"


def _support_ranks(v: np.ndarray, ranks: np.ndarray) -> tuple[int, ...] | None:
    """The ranks of x where v is not 0, when they are the same in every window."""
    on = np.abs(v) > 1e-6 * np.abs(v).max(initial=0)  # the numeric side's round-off is 0
    found = {tuple(sorted(ranks[i][on[i]])) for i in range(len(v))}
    return found.pop() if len(found) == 1 else None


def _rank_shares(v: np.ndarray, ranks: np.ndarray) -> list[float] | None:
    """The share of each window's total at each rank of x, when it is the same in every
    window (an ordered weighting); None otherwise."""
    total = v.sum(axis=-1, keepdims=True)
    keep = np.abs(total[:, 0]) > TINY
    if keep.sum() < 2:
        return None
    share, at = v[keep] / total[keep], ranks[keep]
    found = []
    for r in range(1, v.shape[-1] + 1):
        u = share[at == r]
        if u.size == 0 or np.ptp(u) > 1e-6:
            return None
        found.append(float(u[0]))
    return found


def _shift_text(axes: Axes, group: tuple[int, ...], step: int, what: str) -> str:
    k = abs(step)
    along = " and ".join(f"{k} {axes.plural(g) if k > 1 else axes.name(g)}" for g in group)
    why = "a padding cut off at the wrong side?" if len(group) > 1 else f"an index off by {k}?"
    return (f"yours holds the true {what} shifted by {along}: your entry at "
            f"i{'+' if step > 0 else '−'}{k} has the true value at i: {why}")


def _shifted(a, n, group: tuple[int, ...], step: int) -> bool:
    """a[i + step] = n[i] along the axes in group, wherever both exist."""
    k = abs(step)
    mine, true = [slice(None)] * a.ndim, [slice(None)] * a.ndim
    for g in group:
        mine[g], true[g] = (slice(k, None), slice(None, -k)) if step > 0 else \
            (slice(None, -k), slice(k, None))
    part_a, part_n = a[tuple(mine)], n[tuple(true)]
    return bool(np.abs(part_n).max(initial=0) > TINY and close(part_a, part_n).all())


def _in_windows(a, n, x, window, what: str) -> str | None:
    """Non-overlapping k×k windows: each window's total right, placed at another entry."""
    kh, kw = window
    *lead, H, W = a.shape
    if H % kh or W % kw or kh * kw < 2:
        return None
    shape = (*lead, H // kh, kh, W // kw, kw)
    win = lambda v: np.moveaxis(v.reshape(shape), -3, -2).reshape(*shape[:-3], W // kw, -1)  # noqa: E731
    A, Nw, X = win(a), win(n), win(x)
    true = "at the window's maximum of x" if np.all(
        (np.abs(Nw) > TINY).sum(axis=-1) <= 1) and np.all(
        np.argmax(np.abs(Nw), axis=-1) == np.argmax(X, axis=-1)) else "elsewhere"
    if close(A, A[..., :1]).all() and close(A[..., 0], Nw.sum(axis=-1), 1e-5).all():
        return (f"within each {kh}×{kw} window your {what} gives every entry the window's whole "
                f"gradient (the same value {kh * kw} times); the true one puts it {true}")
    differ = ~close(A, Nw).all(axis=-1)
    if not differ.any():
        return None
    if not close(A.sum(axis=-1), Nw.sum(axis=-1), 1e-5).all():
        return _at_ranks(A[differ], Nw[differ], X[differ], kh, kw, what)
    at_a = np.argmax(np.abs(A), axis=-1)[differ]
    at_x = np.argmax(X, axis=-1)[differ]
    at_n = np.argmax(np.abs(Nw), axis=-1)[differ]
    offsets, counts = np.unique(at_a, return_counts=True)
    yours = "spreads it differently"
    if counts.max() == len(at_a):
        u, v = divmod(int(offsets[np.argmax(counts)]), kw)
        place = {(0, 0): ", the top-left"}.get((u, v), "")
        yours = f"puts it at offset ({u}, {v}) of every window{place}"
    ranks = np.argsort(np.argsort(X[differ], axis=-1), axis=-1) + 1  # 1: the smallest x
    mine, real = _one_rank(A[differ], ranks), _one_rank(Nw[differ], ranks)
    k = kh * kw
    shares = _rank_shares(A[differ], ranks), _rank_shares(Nw[differ], ranks)
    if not (mine and real) and None not in shares:
        yours, true = (", ".join(f"{v:.3g}" for v in share) for share in shares)
        return (f"within each {kh}×{kw} window your {what} has the right total, shared out by "
                f"the rank of x (1 = the smallest, to {k}): at ranks 1 to {k} yours gives "
                f"{yours} of it, the true one {true} (in the {int(differ.sum())} windows where "
                f"they differ)")
    if mine and yours == "spreads it differently":
        yours = f"puts it at the entry of rank {mine} of {k} in x (1 = the smallest)" + \
            _rank(mine, k)
    true = "at the window's maximum of x" if np.all(at_n == at_x) else \
        f"at the entry of rank {real} of {k}{_rank(real, k)}" if real else true
    return (f"within each {kh}×{kw} window your {what} has the right total, at the wrong entry: "
            f"yours {yours}; the true one puts it {true} (in the {int(differ.sum())} windows "
            f"where they differ)")
