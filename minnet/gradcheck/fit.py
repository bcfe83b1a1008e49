"""Fitting a gradient, entry by entry, to a formula in named arrays: the numerics behind
formulas.py.

A product c · base · b1^p1 · b2^p2 (· b3^p3) is found from a least-squares fit of log|v| on
log|b| over the blocks, its exponents rounded to halves in [−2, 2], then kept only when it
holds at every entry, with |b| or signed odd powers and, if need be, the sign of another block.
c may differ per column when it is a parameter's function (1/params['a'], log(params['a'])). A
sum base · (c1·b1 + c2·b2) is found by least squares over pairs of blocks. A Formula prints as
a student writes it: "−2·dout·|x|·self.y", "1/6·(scores − y)/self.root²".
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

FIT = 256  # entries used to read off exponents (every entry checked verifies the formula)
FEW = 4  # fewer entries than this tell too little
EXPONENTS = (-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2)


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
            return product_text(self.terms[0][0], self.base[1:-1], ())
        return product_text(self.terms[0][0], self.base, self.blocks)


def fit(v: np.ndarray, bases: dict, blocks: dict, rtol: float,
        products_only: bool = False, few: bool = False) -> list[Formula]:
    """The formulas v equals at every entry, the simplest first. `few`: the blocks are few
    (a gate's), so three of them may be any, σ and tanh of them too."""
    if not np.isfinite(v).all() or np.abs(v).max(initial=0) == 0:
        return []
    blocks = {k: b for k, b in blocks.items() if np.isfinite(b).all()}
    found = []
    for name, base in bases.items():
        alone = None if base is None else _verified(v, name, base, [], blocks, rtol)
        if alone is not None:
            return [alone]  # c · base alone
        found += _products(v, name, base, blocks, rtol,  # three blocks: not for every base
                           triples=not products_only and name in ("", "dout"), few=few)
        if not found and v.ndim >= 2 and v.shape[-1] > 1:
            found += _products(v, name, base, blocks, rtol, per_column=True)
        if not found and not products_only:
            found += _sums(v, name, base, blocks, rtol)
        if found:
            break
    return found


def _products(v, name, base, blocks, rtol, per_column: bool = False,
              triples: bool = False, few: bool = False) -> list[Formula]:
    """c · base · b1^p1 (· b2^p2): exponents from log|v / base| = log|c| + Σ p log|b|. With
    per_column, c may differ from one column (last axis) to the next, and must then be a
    parameter's function (1/params['a'], log(params['a'])): a per-feature constant."""
    base = np.ones_like(v) if base is None else base
    ok = (v != 0) & (base != 0)
    idx = _spread(np.flatnonzero(ok))
    if len(idx) < FEW or (v[~ok] != 0).any():
        return []
    every = list(blocks)
    at = np.array([blocks[k].flat[idx] for k in every]).reshape(len(every), len(idx))
    usable = np.all(at != 0, axis=1)
    names = [k for k, u in zip(every, usable) if u]
    if not names:
        return []
    L = np.log(np.abs(at[usable]))
    t = np.log(np.abs(v.flat[idx] / base.flat[idx]))
    groups = idx % v.shape[-1] if per_column else np.zeros(len(idx), dtype=int)
    for g in np.unique(groups):  # the constant, per group, taken out
        at = groups == g
        L[:, at] -= L[:, at].mean(axis=1, keepdims=True)
        t[at] -= t[at].mean()
    S, r = L @ L.T, L @ t
    found = []
    plain = list(range(len(names))) if few else [  # else not σ, exp... three at once
        i for i, k in enumerate(names) if _made(k) <= 1 and not k.startswith("1 + ")]
    most = 64 if few else 20
    for solutions in (_solutions(S, r, t), _triples(S, r, t, plain, most) if triples else ()):
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


def _solutions(S, r, t):
    """(blocks, exponents) whose log fit leaves (almost) nothing, one block before two."""
    tt = float(t @ t)
    if tt < 1e-10 * len(t):  # |v| the same everywhere (to 1e-5): c, and a sign from a block
        yield (), ()
        return
    d = np.diag(S)
    for i in np.flatnonzero((d > 1e-12) & (tt - r**2 / np.where(d > 0, d, 1) < 1e-10 * tt + 1e-12)):
        yield (int(i),), (r[i] / S[i, i],)
    i, j, p = _pairs(S, r)
    fits = tt - p[0] * r[i] - p[1] * r[j] < 1e-10 * tt + 1e-12
    for n in np.flatnonzero(fits):
        yield (int(i[n]), int(j[n])), (p[0][n], p[1][n])


def _pairs(S, r):
    """(i, j, (p_i, p_j)) for every pair i < j whose 2×2 normal equations S·p = r are not
    singular, all solved at once by Cramer's rule."""
    d = np.diag(S)
    i, j = np.triu_indices(len(r), 1)
    det = d[i] * d[j] - S[i, j] ** 2
    ok = det > 1e-9 * d[i] * d[j]
    i, j, det = i[ok], j[ok], det[ok]
    return i, j, ((d[j] * r[i] - S[i, j] * r[j]) / det, (d[i] * r[j] - S[i, j] * r[i]) / det)


def _triples(S, r, t, plain: list[int], most: int = 20):
    """Three blocks, tried only when one or two fit nothing, among at most `most` arrays and
    their 1 − b forms (σ'·tanh' = s·(1 − s)·(1 − t²)); every triple solved at once."""
    tt = float(t @ t)
    if len(plain) > most or len(plain) < 3 or tt < 1e-10 * len(t):
        return
    c = np.array(list(itertools.combinations(plain, 3)))
    A = S[c[:, :, None], c[:, None, :]]
    ok = np.abs(np.linalg.det(A)) > 1e-9 * np.prod(np.diagonal(A, axis1=1, axis2=2), axis=1)
    c, A = c[ok], A[ok]
    if not len(c):
        return
    b = r[c]
    p = np.linalg.solve(A, b[..., None])[..., 0]
    fits = tt - np.sum(p * b, axis=1) < 1e-10 * tt + 1e-12
    for n in np.flatnonzero(fits):
        yield tuple(int(i) for i in c[n]), tuple(p[n])


def _plain(names, combo, p) -> tuple:
    """Fewer blocks, arrays before functions of them, fewer arrays under them (y·(1 − y) before
    y·(1 − s)), fewer divisions, whole powers before roots."""
    made = sum(_made(names[i]) for i in combo)
    arrays = len({_root(names[i]) for i in combo})
    divided = sum(e < 0 for e in p)  # σ·(1 − σ) before σ²/exp
    return len(combo), made, arrays, divided, sum(abs(e) % 1 != 0 for e in p), combo


def _made(name: str) -> int:
    """0 for an array, 1 for 1 − b, 2 for σ(b), exp(b)...: 1 − y² before 1/cosh(z)²."""
    function = "(" in name and not name.startswith("(")
    return 2 if function else int(name.startswith(("1 − ", "1 + ")))  # 1 − σ(b) as σ(b)


def _root(name: str) -> str:
    """The array a block is made of: x for σ(x), 1 − x², (x > 0)."""
    name = name.removeprefix("1 − ").removeprefix("1 + ").removesuffix("²")
    inner = re.fullmatch(r"(?:σ|tanh|exp|cosh|sign)\((.*)\)|\((.*) > 0\)", name)
    return next(g for g in inner.groups() if g) if inner else name


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
            if named is not None and holds(v, c * f, rtol):
                k, factor = named
                return Formula(name, [(k, "")], tuple(shown + [factor]))
            continue
        c = _scale(v, f)
        if c is not None and holds(v, c * f, rtol):
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
    d = np.diag(G)
    i, j, c = _pairs(G, r)
    small = np.minimum(np.abs(c[0]) * np.sqrt(d[i]), np.abs(c[1]) * np.sqrt(d[j]))
    fits = (vv - c[0] * r[i] - c[1] * r[j] <= 1e-10 * vv) & (small >= 1e-2 * np.sqrt(vv))
    for n in np.flatnonzero(fits):  # (a term of almost nothing fits round-off, not a formula)
        a, b = i[n], j[n]
        if holds(v, c[0][n] * U[a].reshape(v.shape) + c[1][n] * U[b].reshape(v.shape), rtol):
            return [Formula(name, [(c[0][n], names[a]), (c[1][n], names[b])])]
    return []


def proportional(b: np.ndarray, v: np.ndarray) -> bool:
    c = float(np.vdot(b, v) / max(np.vdot(v, v), 1e-300))
    return c != 0 and holds(b, c * v, 1e-6)


def holds(u, v, rtol: float) -> bool:
    scale = np.abs(u).max(initial=0)
    return bool(np.all(np.abs(u - v) <= rtol * np.abs(u) + 1e-3 * rtol * scale + 1e-300))


def _spread(idx: np.ndarray) -> np.ndarray:
    return idx if len(idx) <= FIT else idx[np.linspace(0, len(idx) - 1, FIT).astype(int)]


def _half(e: float) -> float | None:
    h = round(e * 2) / 2
    return h if h in EXPONENTS and abs(e - h) < 1e-3 else None


def product_text(c: float, base: str, blocks) -> str:
    """−2·dout·|x|·out, 1/6·sign(scores − y)/|y|, −1/(6·y)"""
    up = ([base] if base else []) + [power_text(b, e) for b, e in blocks if e > 0]
    down = [power_text(b, -e) for b, e in blocks if e < 0]  # written after a /
    number = as_number(c)
    if not up and "/" in number and down:  # −1/6/y reads as −1/(6·y)
        m, k = number.split("/")
        return f"{m}/({k}·{'·'.join(down)})"
    if abs(c - 1) > 1e-5 or not up:
        up = [number] + up if abs(c + 1) > 1e-5 or not up else ["−" + up[0], *up[1:]]
    return "·".join(up) + "".join(f"/{d}" for d in down)


def power_text(b: str, e: float) -> str:
    """b², √b, 1/b, b^1.5: (1 − x) in parentheses, as a factor."""
    if e < 0:
        return f"1/{power_text(b, -e)}"
    if " " in b and b[0] not in "(|" and not re.match(r"\w+\(", b):
        b = f"({b})"
    return {1: b, 2: f"{b}²", 0.5: f"√{b}"}.get(e, f"{b}^{e:g}")


def _sum(terms) -> str:
    """0.5 + 0.5·sign(x) reads (x > 0); −1/6·y + 1/6·self.p"""
    (c0, b0), (c1, b1) = terms
    if b0 == "1" and b1.startswith("sign(") and abs(abs(c0) - abs(c1)) <= 1e-6 * abs(c1):
        side = ">" if c0 * c1 > 0 else "<"
        number = "" if abs(2 * c0 - 1) < 1e-6 else f"{as_number(2 * c0)}·"
        return f"{number}({b1[5:-1]} {side} 0)"
    text = ""
    for c, b in terms:
        part = as_number(abs(c)) if b == "1" else f"{as_number(abs(c))}·{b}" \
            if abs(abs(c) - 1) > 1e-5 else b
        text += ("−" if c < 0 else "") + part if not text else (" − " if c < 0 else " + ") + part
    return text


def as_number(c: float) -> str:
    """0.5, −0.6931, and 1/6 rather than 0.1667 (a mean over 6 samples)."""
    for k in range(3, 101):
        m = round(c * k)
        if m and abs(c * k - m) < 1e-7 * k and abs(float(f"{c:.4g}") - c) > 1e-9 * abs(c):
            return f"{'−' if m < 0 else ''}{abs(m)}/{k}"
    return f"{c:.4g}".replace("-", "−")
