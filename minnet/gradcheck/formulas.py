"""What a gradient equals, entry by entry, written in the arrays the layer holds.

Yours, the true one and their difference are each fitted, at every entry checked, to

    c · base · b1^p1 · b2^p2        or        base · (c1·b1 + c2·b2)

where base is dout (for a layer's dx, which has dout's shape), a contraction of dout with a kept
array (for a parameter's gradient, see pairing.py), or 1 (for a loss), and b1, b2 are building
blocks: x (a loss's scores, its targets y and scores − y), the output, the arrays the layer
keeps, its parameters, and a few functions of each (σ, tanh, exp, 1 − b, 1 − b²). The exponents
of a product are read off a least-squares fit of log|v| on log|b|, rounded to halves in [−2, 2],
and the formula is kept only when it holds at every entry. Then the two formulas say the
mistake: "your dscores = −0.125·sign(scores − y)/|scores|; the true one = −0.125·sign(scores −
y)/|y|: where the true one has |y|, yours has |scores|".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from .pairing import candidates, kept

FIT = 256  # entries used to read off exponents (every entry checked verifies the formula)
FEW = 4  # fewer entries than this tell too little
EXPONENTS = (-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2)
BASES = 6  # contractions of dout tried as a parameter gradient's base, at most

FUNCTIONS = {"σ({})": lambda b: 0.5 * (1 + np.tanh(b / 2)), "tanh({})": np.tanh,
             "exp({})": lambda b: np.exp(np.clip(b, -700, 700)), "1 − {}": lambda b: 1 - b,
             "1 − {}²": lambda b: 1 - b**2, "1 + {}²": lambda b: 1 + b**2,
             "1 − σ({})": lambda b: 0.5 * (1 - np.tanh(b / 2)),
             "cosh({})": lambda b: np.cosh(np.clip(b, -700, 700))}


@dataclass
class Formula:
    """c · base · Π b^p (a product), or base · (c1·b1 + c2·b2) (a sum)."""

    base: str
    terms: list[tuple[float, str]]  # a sum's (c, b); a product's [(c, "")]
    blocks: tuple[tuple[str, float], ...] = ()  # a product's (b, p)

    def __str__(self) -> str:
        if self.terms[0][1]:  # a sum
            body = _sum(self.terms)
            return body if not self.base else f"{self.base}·{body}" if body.endswith(" 0)") \
                else f"{self.base}·({body})"
        if not self.blocks and self.base.startswith("("):  # c · base alone
            return _product(self.terms[0][0], self.base[1:-1], ())
        return _product(self.terms[0][0], self.base, self.blocks)


def formulas(probe, key: str, a: np.ndarray, n: np.ndarray) -> str | None:
    """'your dX = F; the true one = F′: where the true one has b′, yours has b', from the
    formulas yours, the true one and their difference fit; None when none fits."""
    what = ("dscores" if probe.is_loss else "dx") if key == "input" else f"d{key}"
    return _compared(what, a, n, building_blocks(probe, key, a.shape),
                     _bases(probe, key, a.shape))


def before_product(probe, a: np.ndarray, n: np.ndarray) -> str | None:
    """dx = D·Wᵀ for a weight W the layer holds, yours and the true one: D, recovered where W
    has as many rows as columns or more, is fitted instead (which step before the product
    went wrong: the derivative of an activation, a mask)."""
    x, G = probe.x, probe.G
    for name, W in probe.params.items():
        if W.ndim != 2 or W.shape[0] != x.shape[-1] or W.shape[1] > W.shape[0]:
            continue
        P = np.linalg.pinv(W.T)
        D, Dn = a @ P, n @ P
        if not (_close(a, D @ W.T, 1e-6) and _close(n, Dn @ W.T, 1e-5)):
            continue  # x reaches the output by another path too
        bases = {"dout": G} if G is not None and np.shape(G) == D.shape else {"": None}
        said = _compared("D", D, Dn, building_blocks(probe, "input", D.shape), bases)
        if said:
            return f"your dx = D·params[{name!r}]ᵀ, as the true one; of D: {said}"
    return None


def correction(probe, err: np.ndarray, axes) -> str | None:
    """yours − true = k · M · mean(dout·b) along one axis, M and b arrays the layer holds: the
    correction term of a normalization or a softmax (− mean(dx̂), − x̂·mean(dx̂·x̂),
    − p·Σ p·dp) too many, missing, or made with another array."""
    G = probe.G
    if G is None or np.shape(G) != err.shape or err.ndim < 2:
        return None
    raw = arrays(probe, "input", err.shape)
    shapes = {"": np.ones_like(err), **raw}
    shapes |= {f"{u}/{w}": raw[u] / raw[w] for u, w in itertools.permutations(raw, 2)
               if np.all(raw[w] != 0)}
    with np.errstate(all="ignore"):
        for ax in (a for a in range(err.ndim) if err.shape[a] > 2):
            for m_name, M in shapes.items():
                per_slice = _slices(err, M, ax)
                if per_slice is None:
                    continue
                for b_name, b in {"": None, **raw}.items():
                    mean = (G if b is None else G * b).mean(axis=ax, keepdims=True)
                    k = float(np.vdot(per_slice, mean) / max(np.vdot(mean, mean), 1e-300))
                    if abs(k) > 1e-6 and _close(per_slice, k * mean, 1e-5):
                        term = _term(k, m_name, b_name, ax, err.shape[ax], axes).strip()
                        term = term.removeprefix("+ ").replace("− ", "−", 1)
                        return (f"yours − true = {term}, at every entry: your dx has such a term "
                                f"too many (or lacks it, of the opposite sign), as a "
                                f"normalization's or a softmax's correction term")
    return None


def corrected(probe, a: np.ndarray, n: np.ndarray, axes) -> str | None:
    """dx = c·dout·b0 + k·M·mean(dout·b) along one axis, for yours and for the true one, as a
    normalization's or a softmax's backward is: 'your dx = dout − self.y·Σ(dout) over the
    features; the true one = dout − exp(self.y)·Σ(dout) over the features'."""
    G = probe.G
    if G is None or np.shape(G) != a.shape or a.ndim < 2:
        return None
    raw = arrays(probe, "input", a.shape)
    with np.errstate(all="ignore"):
        scales = {"": np.ones_like(a), **raw}
        scales |= {f"1/{u}": 1 / b for u, b in raw.items() if np.all(b != 0)}
        shapes = scales | {f"{u}/{w}": raw[u] / raw[w] for u, w in
                           itertools.permutations(raw, 2) if np.all(raw[w] != 0)}
        shapes |= {f"exp({u})": np.exp(np.clip(b, -700, 700)) for u, b in raw.items()}
        mine, true = _corrected(a, G, raw, scales, shapes, axes, 1e-6), \
            _corrected(n, G, raw, scales, shapes, axes, 1e-5)
    if mine and true and mine != true:
        lacks = f": yours lacks the term{true[len(mine):]}" if true.startswith(mine) else ""
        return f"your dx = {mine}; the true one = {true}{lacks}"
    if true and not mine:
        return f"the true dx = {true}; yours is not of that form"
    if mine and not true:
        return f"your dx = {mine}; the true one is not of that form"
    return None


def _corrected(v, G, raw, scales, shapes, axes, rtol) -> str | None:
    for ax in (a for a in range(v.ndim) if v.shape[a] > 2):
        for (s_name, b0), (m_name, M) in itertools.product(scales.items(), shapes.items()):
            D = G * b0
            mm = (M * M).sum(axis=ax, keepdims=True)
            if not (np.isfinite(D).all() and np.isfinite(M).all()) or (mm == 0).any():
                continue
            v_, D_ = _without(v, M, ax, mm), _without(D, M, ax, mm)
            c0 = float(np.vdot(v_, D_) / max(np.vdot(D_, D_), 1e-300))
            if abs(c0) < 1e-6 or not _close(v_, c0 * D_, rtol):
                continue
            scale = [(s_name[2:], -1)] if s_name.startswith("1/") else \
                [(s_name, 1)] if s_name else []
            first = _product(c0, "dout", scale)
            if _close(v, c0 * D, rtol):
                return first  # no correction term at all
            per_slice = ((v - c0 * D) * M).sum(axis=ax, keepdims=True) / mm
            for b_name, b in {"": None, **raw}.items():
                mean = (G if b is None else G * b).mean(axis=ax, keepdims=True)
                k = float(np.vdot(per_slice, mean) / max(np.vdot(mean, mean), 1e-300))
                if abs(k) > 1e-6 and _close(v, c0 * D + k * M * mean, rtol):
                    return first + _term(k, m_name, b_name, ax, v.shape[ax], axes)
    return None


def _without(u, M, ax: int, mm) -> np.ndarray:
    """u less its part along M in each slice of axis ax."""
    return u - (u * M).sum(axis=ax, keepdims=True) / mm * M


def _term(k: float, m_name: str, b_name: str, ax: int, size: int, axes) -> str:
    """' − self.y·Σ(dout) over the features (axis 1)', a mean written Σ when k is its size."""
    what = "mean" if abs(abs(k) - size) > 1e-5 * size else "Σ"
    k = k if what == "mean" else k / size
    number = "" if abs(abs(k) - 1) < 1e-5 else f"{_number(abs(k))}·"
    return (f" {'−' if k < 0 else '+'} {number}" + (f"{m_name}·" if m_name else "") +
            f"{what}(dout{'·' + b_name if b_name else ''}) over the {axes.plural(ax)} "
            f"(axis {ax})")


def _slices(err, M, ax) -> np.ndarray | None:
    """s with err = s · M, s the same all along axis ax in each slice; None if no such s."""
    mm = (M * M).sum(axis=ax, keepdims=True)
    if not np.isfinite(M).all() or (mm == 0).any():
        return None
    s = (err * M).sum(axis=ax, keepdims=True) / mm
    if np.abs(s).max() == 0 or not _close(err, s * M, 1e-5):
        return None
    return s


def _compared(what: str, a: np.ndarray, n: np.ndarray, blocks: dict, bases: dict) -> str | None:
    blocks = {k: b for k, b in blocks.items() if not k.startswith("self.") or not (
        _proportional(b, a) or _proportional(b, n))}  # a kept copy of a gradient says nothing
    with np.errstate(all="ignore"):  # blocks such as exp(x) may overflow; such fits fail
        mine, true = fit(a, bases, blocks, 1e-6), fit(n, bases, blocks, 1e-5)
        error = fit(a - n, bases, blocks, 1e-5, products_only=True)
    if not any(f.blocks or f.terms[0][1] for f in mine[:1] + true[:1]):
        mine = true = []  # both c · base alone: pairing.py says that
    if mine and true:
        swap = _swap(mine, true)
        if swap:
            f, g, said = swap
            return f"your {what} = {f}; the true one = {g}: {said}"
        return f"your {what} = {mine[0]}; the true one = {true[0]}" + _extra(mine[0], true[0])
    if error:
        return (f"yours − true = {error[0]} at every entry: your {what} has a term too many "
                f"(or lacks one, of the opposite sign)")
    if true:
        return f"the true {what} = {true[0]} at every entry; yours is not that"
    if mine:
        return f"your {what} = {mine[0]} at every entry; the true one is not of that form"
    return None


def building_blocks(probe, key: str, shape: tuple) -> dict[str, np.ndarray]:
    """The arrays a formula for a gradient of this shape may be made of, by name: the arrays
    themselves, then a few functions of each."""
    found = arrays(probe, key, shape)
    for name, b in list(found.items()):  # after every array itself: the simpler come first
        inner = name[1:-1] if name.startswith("(") else name
        for form, f in FUNCTIONS.items():
            found[form.format(inner if "(" in form else name)] = f(b)
        found[f"({inner} > 0)" if (b >= 0).all() else f"sign({inner})"] = np.sign(b)
    return found


def arrays(probe, key: str, shape: tuple) -> dict[str, np.ndarray]:
    """x (a loss's scores, y and scores − y), what the layer keeps, its output and parameters,
    each broadcast to the gradient's shape (those that do not broadcast are left out)."""
    raw = {}
    if probe.is_loss:
        raw["scores"] = probe.x
        y = np.asarray(probe.y)
        if y.dtype.kind in "fiu" and y.size == probe.x.size:
            raw["y"] = y = y.reshape(probe.x.shape)
            raw["(scores − y)"] = probe.x - y
    elif key == "input":
        raw["x"] = probe.x
    raw |= kept(probe.layer)  # before out: the name the student gave it reads better
    if key == "input" and not probe.is_loss and probe.base_out is not None:
        raw["out"] = np.asarray(probe.base_out)
    raw |= {f"params[{k!r}]": v for k, v in probe.params.items()}
    found = {}
    for name, b in raw.items():
        b = _fitted(b, shape)
        if b is not None and not any(np.array_equal(b, c) for c in found.values()):
            found[name] = b
    return found


def fit(v: np.ndarray, bases: dict, blocks: dict, rtol: float,
        products_only: bool = False) -> list[Formula]:
    """The formulas v equals at every entry, the simplest first."""
    if not np.isfinite(v).all() or np.abs(v).max(initial=0) == 0:
        return []
    found = []
    for name, base in bases.items():
        if base is not None and _verified(v, name, base, [], blocks, rtol):
            return [_verified(v, name, base, [], blocks, rtol)]  # c · base alone
        found += _products(v, name, base, blocks, rtol, triples=not products_only)
        if not found and v.ndim >= 2 and v.shape[-1] > 1:
            found += _products(v, name, base, blocks, rtol, per_column=True)
        if not found and not products_only:
            found += _sums(v, name, base, blocks, rtol)
        if found:
            break
    return found


def _products(v, name, base, blocks, rtol, per_column: bool = False,
              triples: bool = False) -> list[Formula]:
    """c · base · b1^p1 (· b2^p2): exponents from log|v / base| = log|c| + Σ p log|b|. With
    per_column, c may differ from one column (last axis) to the next, and must then be a
    parameter's function (1/params['a'], log(params['a'])): a per-feature constant."""
    base = np.ones_like(v) if base is None else base
    ok = (v != 0) & (base != 0)
    idx = _spread(np.flatnonzero(ok))
    if len(idx) < FEW or (v[~ok] != 0).any():
        return []
    names = [k for k, b in blocks.items() if np.all(b.flat[idx] != 0) and np.isfinite(b).all()]
    if not names:
        return []
    L = np.log(np.abs(np.array([blocks[k].flat[idx] for k in names])))
    t = np.log(np.abs(v.flat[idx] / base.flat[idx]))
    groups = idx % v.shape[-1] if per_column else np.zeros(len(idx), dtype=int)
    for g in np.unique(groups):  # the constant, per group, taken out
        at = groups == g
        L[:, at] -= L[:, at].mean(axis=1, keepdims=True)
        t[at] -= t[at].mean()
    S, r = L @ L.T, L @ t
    found = []
    plain = [i for i, k in enumerate(names) if _made(k) <= 1]  # σ, exp... not three at once
    for solutions in (_solutions(S, r, t), _triples(S, r, t, plain) if triples else ()):
        for combo, p in sorted(solutions, key=lambda s: _plain(names, *s)):
            exps = [_half(e) for e in p]
            if None in exps:
                continue
            form = _verified(v, name, base, [(names[i], e) for i, e in zip(combo, exps)],
                             blocks, rtol, per_column)
            if form is not None:
                found.append(form)
            if len(found) >= 4:
                return found
        if found:
            break
    return found


def _triples(S, r, t, plain: list[int], most: int = 40):
    """Three blocks, tried only when one or two fit nothing, among at most `most` arrays and
    their 1 − b forms (σ'·tanh' = s·(1 − s)·(1 − t²))."""
    tt = float(t @ t)
    if len(plain) > most or tt < 1e-10 * len(t):
        return
    for c in itertools.combinations(plain, 3):
        A = S[np.ix_(c, c)]
        if abs(np.linalg.det(A)) <= 1e-9 * np.prod(np.diag(A)):
            continue
        p = np.linalg.solve(A, r[list(c)])
        if tt - p @ r[list(c)] < 1e-10 * tt + 1e-12:
            yield c, tuple(p)


def _plain(names, combo, p) -> tuple:
    """Fewer blocks, arrays before functions of them, fewer arrays under them (y·(1 − y)
    before y·(1 − s)), whole powers before roots."""
    made = sum(_made(names[i]) for i in combo)
    arrays = len({_root(names[i]) for i in combo})
    return len(combo), made, arrays, sum(abs(e) % 1 != 0 for e in p), combo


def _made(name: str) -> int:
    """0 for an array, 1 for 1 − b, 2 for σ(b), exp(b)...: 1 − y² before 1/cosh(z)²."""
    return 2 * ("(" in name and not name.startswith("(")) + name.startswith(("1 − ", "1 + "))


def _root(name: str) -> str:
    """The array a block is made of: x for σ(x), 1 − x², (x > 0)."""
    name = name.removeprefix("1 − ").removeprefix("1 + ").removesuffix("²")
    inner = re.fullmatch(r"(?:σ|tanh|exp|cosh|sign)\((.*)\)|\((.*) > 0\)", name)
    return next(g for g in inner.groups() if g) if inner else name


def _solutions(S, r, t):
    """(blocks, exponents) whose log fit leaves (almost) nothing, one block before two."""
    k, tt = len(r), float(t @ t)
    if tt < 1e-10 * len(t):  # |v| the same everywhere (to 1e-5): c, and a sign from a block
        yield (), ()
        return
    for i in range(k):
        if S[i, i] > 1e-12 and tt - r[i] ** 2 / S[i, i] < 1e-10 * tt + 1e-12:
            yield (i,), (r[i] / S[i, i],)
    for i, j in itertools.combinations(range(k), 2):
        det = S[i, i] * S[j, j] - S[i, j] ** 2
        if det <= 1e-9 * S[i, i] * S[j, j]:
            continue
        p = ((S[j, j] * r[i] - S[i, j] * r[j]) / det, (S[i, i] * r[j] - S[i, j] * r[i]) / det)
        if tt - p[0] * r[i] - p[1] * r[j] < 1e-10 * tt + 1e-12:
            yield (i, j), p


def _verified(v, name, base, factors, blocks, rtol, per_column=False) -> Formula | None:
    """The product and its c, if it holds at every entry: with |b| (or odd powers keeping
    their signs), and the sign given by another block (sign(scores − y)) if need be."""
    signs = [k for k in blocks if k.startswith("sign(") or k.endswith(" > 0)")]
    for s, signed in itertools.product([None, *signs], (False, True)):
        f, shown = base * (1 if s is None else blocks[s]), []
        for b, e in factors:
            x, keep = blocks[b], signed and float(e).is_integer()
            f = f * (np.sign(x) ** int(e) if keep else 1) * np.abs(x) ** e
            shown.append((b if keep or e % 2 == 0 or (x >= 0).all() else f"|{b}|", e))
        if s:
            shown.append((s, 1))
        if per_column:
            c = _per_column(v, f)
            named = None if c is None else _column_factor(c, blocks, v.shape)
            if named is not None and _close(v, c * f, rtol):
                k, factor = named
                return Formula(name, [(k, "")], tuple(shown + [factor]))
            continue
        c = _scale(v, f)
        if c is not None and _close(v, c * f, rtol):
            return Formula(name, [(c, "")], tuple(shown))
    return None


def _per_column(v, f) -> np.ndarray | None:
    """c[j], the median of v / f in column j (last axis), or None where f is 0 all along."""
    rows = lambda u: u.reshape(-1, u.shape[-1])  # noqa: E731
    V, F = rows(v), rows(f)
    c = np.array([np.median(V[F[:, j] != 0, j] / F[F[:, j] != 0, j]) if (F[:, j] != 0).any()
                  else np.nan for j in range(V.shape[1])])
    return None if np.isnan(c).any() else c


def _column_factor(c: np.ndarray, blocks: dict, shape: tuple):
    """(k, (b, p)) with c = k · b^p for b a block that is the same down every column (a
    per-feature parameter, or its log), p = ±1; None when none is."""
    rows = lambda u: u.reshape(-1, shape[-1])  # noqa: E731
    columns = {k: rows(b)[0] for k, b in blocks.items() if (rows(b) == rows(b)[0]).all()}
    columns |= {f"log({k})": np.log(np.abs(b)) for k, b in list(columns.items())
                if k.startswith("params[") and " " not in k}
    for (k, b), p in itertools.product(columns.items(), (1, -1)):
        if np.all(b != 0):
            ratio = c / b**p
            if np.ptp(ratio) <= 1e-5 * np.abs(ratio).max():
                return float(np.median(ratio)), (k, p)
    return None


def _scale(v, f) -> float | None:
    some = f != 0
    return float(np.median(v[some] / f[some])) if some.any() else None


def _sums(v, name, base, blocks, rtol) -> list[Formula]:
    """base · (c1·b1 + c2·b2), with 1 among the blocks: a term added to a derivative."""
    base = np.ones_like(v) if base is None else base
    if v.size < FEW:
        return []
    names = ["1", *(k for k in blocks if not k.startswith(("1 − ", "1 + ")))]  # 1, b span 1 − b
    U = np.array([base.ravel()] + [(base * blocks[k]).ravel() for k in names[1:]])
    if not np.isfinite(U).all():
        return []
    G, r, vv = U @ U.T, U @ v.ravel(), float(v.ravel() @ v.ravel())
    found = []
    for i, j in itertools.combinations(range(len(names)), 2):
        det = G[i, i] * G[j, j] - G[i, j] ** 2
        if det <= 1e-9 * G[i, i] * G[j, j]:
            continue
        c = ((G[j, j] * r[i] - G[i, j] * r[j]) / det, (G[i, i] * r[j] - G[i, j] * r[i]) / det)
        sizes = abs(c[0]) * np.sqrt(G[i, i]), abs(c[1]) * np.sqrt(G[j, j])
        if vv - c[0] * r[i] - c[1] * r[j] > 1e-10 * vv or min(sizes) < 1e-2 * np.sqrt(vv):
            continue  # a term of almost nothing fits round-off, not a formula
        if _close(v, c[0] * U[i].reshape(v.shape) + c[1] * U[j].reshape(v.shape), rtol):
            found.append(Formula(name, [(c[0], names[i]), (c[1], names[j])]))
            break
    return found


def _bases(probe, key: str, shape: tuple) -> dict[str, np.ndarray | None]:
    """What a formula multiplies: dout for a layer's dx, a contraction of dout for a parameter."""
    G = probe.G
    if key == "input":
        return {"dout": G} if G is not None and np.shape(G) == shape else {"": None}
    if G is None:
        return {"": None}
    found = {k: v for k, v in candidates(G, kept(probe.layer), shape).items()
             if v.shape == shape and np.abs(v).max(initial=0) > 0}
    return {"": None} | {f"({k})": v for k, v in list(found.items())[:BASES]}


def _fitted(b, shape: tuple) -> np.ndarray | None:
    """b broadcast to the gradient's shape, in float64; None when it does not broadcast or is
    the same number everywhere (a constant says nothing that c does not)."""
    b = np.asarray(b)
    if b.dtype.kind not in "fiu" or b.ndim == 0 or b.size < 2:
        return None
    if b.shape != shape and b.squeeze().shape == tuple(k for k in shape if k != 1):
        b = b.reshape(shape)  # y (N,) beside scores (N, 1)
    try:
        b = np.broadcast_to(b.astype(np.float64), shape)
    except ValueError:
        return None
    return None if np.ptp(b) == 0 else np.array(b)


def _proportional(b: np.ndarray, v: np.ndarray) -> bool:
    c = float(np.vdot(b, v) / max(np.vdot(v, v), 1e-300))
    return c != 0 and _close(b, c * v, 1e-6)


def _close(u, v, rtol: float) -> bool:
    scale = np.abs(u).max(initial=0)
    return bool(np.all(np.abs(u - v) <= rtol * np.abs(u) + 1e-3 * rtol * scale + 1e-300))


def _spread(idx: np.ndarray) -> np.ndarray:
    return idx if len(idx) <= FIT else idx[np.linspace(0, len(idx) - 1, FIT).astype(int)]


def _half(e: float) -> float | None:
    h = round(e * 2) / 2
    return h if h in EXPONENTS and abs(e - h) < 1e-3 else None


def _swap(mine: list[Formula], true: list[Formula]):
    """Two products the same but for one block: (yours, true, 'where the true one has ...')."""
    for f, g in itertools.product(mine, true):
        if f.base == g.base and len(f.terms) == len(g.terms) == 2:  # two sums
            differ = [(u, w) for u, w in zip(f.terms, g.terms) if u[1] != w[1]]
            same_c = all(abs(u[0] - w[0]) <= 1e-4 * abs(w[0]) for u, w in zip(f.terms, g.terms))
            if len(differ) == 1 and same_c:
                (u, w), = differ
                return f, g, f"where the true one has {w[1]}, yours has {u[1]}"
        if not (f.blocks and g.blocks) or f.base != g.base:
            continue
        p, q = _core(f, True), _core(g, True)
        if sum(u != w for u, w in zip(p, q)) != 1:
            p, q = _core(f), _core(g)
        if len(p) != len(q) or abs(abs(f.terms[0][0]) - abs(g.terms[0][0])) > \
                1e-4 * abs(g.terms[0][0]):
            continue
        differ = [(u, w) for u, w in zip(p, q) if u != w]
        if len(differ) == 1:
            (u, w), = differ
            return f, g, f"where the true one has {_power(*w)}, yours has {_power(*u)}"
    return None


def _extra(f: Formula, g: Formula) -> str:
    """': the true one has a factor b that yours lacks', when that is all that differs."""
    if f.base != g.base or f.terms[0][1] or g.terms[0][1] or \
            abs(f.terms[0][0] - g.terms[0][0]) > 1e-4 * abs(g.terms[0][0]):
        return ""
    p, q = set(_core(f, True)), set(_core(g, True))
    if len(q - p) == 1 and not p - q:
        return f": the true one has a factor {_power(*(q - p).pop())} that yours lacks"
    if len(p - q) == 1 and not q - p:
        return f": yours has a factor {_power(*(p - q).pop())} that the true one has not"
    return ""


def _core(f: Formula, bars: bool = False) -> list[tuple[str, float]]:
    """A product's blocks and exponents, its sign factor (and |·|, unless bars) left aside."""
    return [(b if bars else b.strip("|"), e) for b, e in f.blocks
            if not b.startswith("sign(") and not b.endswith(" > 0)")]


def _product(c: float, base: str, blocks) -> str:
    """−2·dout·|x|·out, 1/6·sign(scores − y)/|y|, −1/(6·y)"""
    up = ([base] if base else []) + [_power(b, e) for b, e in blocks if e > 0]
    down = [_power(b, -e) for b, e in blocks if e < 0]  # written after a /
    number = _number(c)
    if not up and "/" in number and down:  # −1/6/y reads as −1/(6·y)
        m, k = number.split("/")
        return f"{m}/({k}·{'·'.join(down)})"
    if abs(c - 1) > 1e-5 or not up:
        up = [number] + up if abs(c + 1) > 1e-5 or not up else ["−" + up[0], *up[1:]]
    return "·".join(up) + "".join(f"/{d}" for d in down)


def _power(b: str, e: float) -> str:
    """b², √b, 1/b, b^1.5: (1 − x) in parentheses, as a factor."""
    if e < 0:
        return f"1/{_power(b, -e)}"
    if " " in b and b[0] not in "(|" and not re.match(r"\w+\(", b):
        b = f"({b})"
    return {1: b, 2: f"{b}²", 0.5: f"√{b}"}.get(e, f"{b}^{e:g}")


def _sum(terms) -> str:
    """0.5 + 0.5·sign(x) reads (x > 0); −1/6·y + 1/6·self.p"""
    (c0, b0), (c1, b1) = terms
    if b0 == "1" and b1.startswith("sign(") and abs(abs(c0) - abs(c1)) <= 1e-6 * abs(c1):
        side = ">" if c0 * c1 > 0 else "<"
        number = "" if abs(2 * c0 - 1) < 1e-6 else f"{_number(2 * c0)}·"
        return f"{number}({b1[5:-1]} {side} 0)"
    text = ""
    for c, b in terms:
        part = _number(abs(c)) if b == "1" else f"{_number(abs(c))}·{b}" \
            if abs(abs(c) - 1) > 1e-5 else b
        text += ("−" if c < 0 else "") + part if not text else (" − " if c < 0 else " + ") + part
    return text


def _number(c: float) -> str:
    """0.5, −0.6931, and 1/6 rather than 0.1667 (a mean over 6 samples)."""
    for k in range(3, 101):
        m = round(c * k)
        if m and abs(c * k - m) < 1e-7 * k and abs(float(f"{c:.4g}") - c) > 1e-9 * abs(c):
            return f"{'−' if m < 0 else ''}{abs(m)}/{k}"
    return f"{c:.4g}".replace("-", "−")
