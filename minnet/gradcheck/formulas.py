"""What a gradient equals, entry by entry, written in the arrays the layer holds.

Yours, the true one and their difference are each fitted, at every entry checked, to

    c · base · b1^p1 · b2^p2 (· b3^p3)        or        base · (c1·b1 + c2·b2)

where base is dout (for a layer's dx, which has dout's shape), a contraction of dout with a kept
array (for a parameter's gradient, see pairing.py), or 1 (for a loss), and the b are building
blocks: x (a loss's scores, its targets y and scores − y), the output, the arrays the layer
keeps, its parameters, and a few functions of each (σ, tanh, exp, cosh, 1 − b, 1 − b², 1 + b²).
fit.py finds the exponents and keeps a formula only when it holds at every entry. Then the two
formulas say the mistake: "your dscores = 1/6·(scores − y)/self.root²; the true one =
1/6·(scores − y)/self.root: where the true one has 1/self.root, yours has 1/self.root²".
before_product() does the same for D where dx = D·Wᵀ, W a weight of the layer.
"""

from __future__ import annotations

import itertools

import numpy as np

from .fit import Formula, as_number, fit, holds, power_text, proportional
from .pairing import candidates, held_numbers, kept

BASES = 6  # contractions of dout tried as a parameter gradient's base, at most

FUNCTIONS = {"σ({})": lambda b: 0.5 * (1 + np.tanh(b / 2)), "tanh({})": np.tanh,
             "exp({})": lambda b: np.exp(np.clip(b, -700, 700)), "1 − {}": lambda b: 1 - b,
             "1 + {}": lambda b: 1 + b,
             "1 − {}²": lambda b: 1 - b**2, "1 + {}²": lambda b: 1 + b**2,
             "1 − σ({})": lambda b: 0.5 * (1 - np.tanh(b / 2)),
             "cosh({})": lambda b: np.cosh(np.clip(b, -700, 700))}


def formulas(probe, key: str, a: np.ndarray, n: np.ndarray) -> str | None:
    """'your dX = F; the true one = F′: where the true one has b′, yours has b', from the
    formulas yours, the true one and their difference fit; None when none fits."""
    what = gradient_name(probe, key)
    return compared(what, a, n, building_blocks(probe, key, a.shape),
                     _bases(probe, key, a.shape), settings=layer_settings(probe.layer))


def gradient_name(probe, key: str) -> str:
    """'dx' (a loss's 'dscores') for the input, 'dW' for a parameter W."""
    return ("dscores" if probe.is_loss else "dx") if key == "input" else f"d{key}"


def fitted(probe, key: str, a: np.ndarray, n: np.ndarray, wrong: np.ndarray) -> str | None:
    """The formulas over every entry, or those of the entries where yours is wrong when they
    say more, or as much with fewer factors (one branch's formula is often the simpler)."""
    whole = formulas(probe, key, a, n)
    if _told(whole) and _factors(whole) < 3:
        return whole  # short already: the branch's fit is not worth its cost
    part = where_wrong(probe, key, a, n, wrong)
    if _told(whole) and (not _told(part) or _factors(whole) <= _factors(part.split(": ", 1)[1])):
        return whole
    return part or whole


def _factors(said: str) -> int:
    """How many products and quotients a statement's formulas hold (before what it makes of
    them): the fewer, the simpler."""
    formulas_only = said.split(": ")[0]
    return formulas_only.count("·") + formulas_only.count("/")


def _told(said: str | None) -> bool:
    """Does the statement give the true one's formula, or the difference's?"""
    return bool(said) and ("the true one =" in said or "yours − true =" in said)


def where_wrong(probe, key: str, a: np.ndarray, n: np.ndarray, wrong: np.ndarray) -> str | None:
    """Yours and the true one fitted only where yours is wrong, when that is some of the
    entries: the formula of the one branch (x < 0, a mask's side) that went wrong."""
    if wrong.all() or wrong.sum() < 4:
        return None
    what = gradient_name(probe, key)
    blocks = {k: b[wrong] for k, b in building_blocks(probe, key, a.shape).items()
              if np.ptp(b[wrong]) > 0}
    bases = {k: None if v is None else v[wrong] for k, v in _bases(probe, key, a.shape).items()}
    said = compared(what, a[wrong], n[wrong], blocks, bases, alone=True,
                    settings=layer_settings(probe.layer))
    return f"at the {int(wrong.sum())} entries where yours is wrong: {said}" if said else None


def before_product(probe, a: np.ndarray, n: np.ndarray) -> str | None:
    """dx = D·Wᵀ for a weight W the layer holds, yours and the true one: D, recovered where W
    has as many rows as columns or more, is fitted instead (which step before the product
    went wrong: the derivative of an activation, a mask)."""
    G = probe.G
    for name, W in probe.params.items():
        D, Dn = gradient_at(W, a), gradient_at(W, n)
        if D is None or not (holds(a, D @ W.T, 1e-6) and holds(n, Dn @ W.T, 1e-5)):
            continue  # x reaches the output by another path too
        bases = {"dout": G} if G is not None and np.shape(G) == D.shape else {"": None}
        said = compared("D", D, Dn, building_blocks(probe, "input", D.shape), bases,
                        settings=layer_settings(probe.layer))
        if said:
            return f"{through('dx', name, W)}: {said}"
    return None


def through(what: str, name: str, W: np.ndarray) -> str:
    """How D came about: any gradient is D·Wᵀ for a square W; for a tall one it is a finding."""
    if W.shape[0] == W.shape[1]:
        return f"writing your {what} and the true one each as D·params[{name!r}]ᵀ, of D"
    return f"your {what} = D·params[{name!r}]ᵀ, as the true one; of D"


def gradient_at(Q: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """g (..., F) with v ≈ g·Qᵀ, least squares: the gradient at x·Q that v would be made from,
    for a matrix Q (D, F ≤ D) forward multiplied x (..., D) by; None when Q is no such matrix
    or too close to singular. The caller checks that g·Qᵀ gives v back."""
    D = v.shape[-1]
    if np.ndim(Q) != 2 or Q.shape[0] != D or D < 2 or Q.shape[1] > D or \
            np.linalg.cond(Q) > 1e6:
        return None
    g = np.linalg.lstsq(Q, v.reshape(-1, D).T, rcond=None)[0].T
    return g.reshape(*v.shape[:-1], Q.shape[1])


def compared(what: str, a: np.ndarray, n: np.ndarray, blocks: dict, bases: dict,
             alone: bool = False, few: bool = False, settings: dict | None = None) -> str | None:
    """Yours and the true one as formulas; `alone`: c · base by itself is worth saying too;
    `few`: the blocks are few, and any three of them may be tried (fit.fit); `settings`: the
    layer's numbers (self.beta), which a formula's coefficient is then said to be made of."""
    blocks = {k: b for k, b in blocks.items() if not k.startswith("self.") or not (
        proportional(b, a) or proportional(b, n))}  # a kept copy of a gradient says nothing
    with np.errstate(all="ignore"):  # blocks such as exp(x) may overflow; such fits fail
        mine, true = fit(a, bases, blocks, 1e-6, few=few), fit(n, bases, blocks, 1e-5, few=few)
        error = fit(a - n, bases, blocks, 1e-5, products_only=True)
    said = _said(what, a, mine, true, error, alone)
    return said and said + of_settings(mine[:1] + true[:1] + error[:1], settings or {})


def _said(what, a, mine, true, error, alone) -> str | None:
    if not alone and not any(f.blocks or f.terms[0][1] for f in mine[:1] + true[:1]):
        mine = true = []  # both c · base alone: pairing.py says that
    if mine and true:
        swap = _swap(mine, true)
        if swap:
            f, g, said = swap
            return f"your {what} = {f}; the true one = {g}: {said}"
        return f"your {what} = {mine[0]}; the true one = {true[0]}" + _extra(mine[0], true[0])
    if true and not np.abs(a).max(initial=0) > 0:
        return f"your {what} is 0 at every entry; the true one = {true[0]}"
    known = f"the true {what} = {true[0]}; " if true else ""  # with the difference, yours
    if error and str(error[0]).startswith("−"):
        return (f"{known}yours − true = {error[0]} at every entry: your {what} lacks a term "
                f"{str(error[0])[1:]} (or has {error[0]} too many)")
    if error:
        return (f"{known}yours − true = {error[0]} at every entry: your {what} has a term too "
                f"many (or lacks one, of the opposite sign)")
    if true:
        return f"the true {what} = {true[0]} at every entry; yours is not that"
    if mine:
        return f"your {what} = {mine[0]} at every entry; the true one is not of that form"
    return None


def of_settings(formulas: list[Formula], settings: dict) -> str:
    """' (0.7 = self.beta − 1)': a formula's coefficient that one of the layer's settings
    makes, where it is no plain number (a 2, a 1/6) that could as well be meant."""
    found = [f"{as_number(abs(c))} = {text}" for f in formulas for c, _ in f.terms
             if (text := setting_made(abs(c), settings))]
    found = list(dict.fromkeys(found))
    return f" ({'; '.join(found[:3])})" if found else ""


def setting_made(c: float, settings: dict) -> str | None:
    """'self.beta − 1' for 0.7 when self.beta = 1.7; None for a plain number (2, 1/6)."""
    if c == 0 or _plain_number(c):
        return None
    for name, s in settings.items():
        for text, v in _made_of(name, s):
            if abs(c - abs(v)) <= 1e-6 * c:
                return text
    return None


def _made_of(name: str, s: float) -> list[tuple[str, float]]:
    return [(name, s), (f"1/{name}", 1 / s), (f"{name} − 1", s - 1), (f"{name} + 1", s + 1),
            (f"{name}²", s * s), (f"1/{name}²", 1 / s**2), (f"2·{name}", 2 * s),
            (f"{name}/2", s / 2), (f"√{name}", np.sqrt(abs(s))), (f"1/√{name}", abs(s)**-0.5)]


def _plain_number(c: float) -> bool:
    """1, 3, 1/6: a whole number up to 100 or its reciprocal."""
    return any(abs(v - round(v)) < 1e-9 * max(v, 1) and 1 <= round(v) <= 100
               for v in (c, 1 / c))


def layer_settings(layer) -> dict[str, float]:
    """The layer's own numbers that no plain number could be (self.beta = 1.7, not 2)."""
    return {k: float(v) for k, v in held_numbers(layer).items()
            if v != 0 and not _plain_number(abs(float(v)))}


def building_blocks(probe, key: str, shape: tuple) -> dict[str, np.ndarray]:
    """The arrays a formula for a gradient of this shape may be made of, by name: the arrays
    themselves, then a few functions of each."""
    return with_functions(arrays(probe, key, shape))


def with_functions(found: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays, then a few functions of each (σ(b), 1 − b², ...): the simpler come first."""
    found = dict(found)
    seen = {_key(b) for b in found.values()}
    for name, b in list(found.items()):
        inner = name[1:-1] if name.startswith("(") else name
        made = {form.format(inner if "(" in form else name): f(b) for form, f in FUNCTIONS.items()}
        found |= {k: v for k, v in made.items() if _key(v) not in seen}  # σ(βx): self.s
        found[f"({inner} > 0)" if (b >= 0).all() else f"sign({inner})"] = np.sign(b)
    return found


def _key(b: np.ndarray) -> bytes:
    with np.errstate(all="ignore"):
        return np.round(b, 9).tobytes()


def arrays(probe, key: str, shape: tuple) -> dict[str, np.ndarray]:
    """x (a loss's scores, y and scores − y), what the layer keeps, its output and parameters,
    and x times each of its settings (for σ(βx)), each broadcast to the gradient's shape (those
    that do not broadcast are left out)."""
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
    if key == "input" and not probe.is_loss:  # last: the student's own names read better
        for k, v in held_numbers(probe.layer).items():  # σ(βx), σ((1 − α)x), tanh(x/τ)
            if isinstance(v, float) and v not in (0.0, 1.0, -1.0):
                raw |= {f"{k}·x": v * probe.x, f"x·(1 − {k})": (1 - v) * probe.x,
                        f"x/{k}": probe.x / v}
    raw |= {f"{k}ᵀ": v.T for k, v in list(raw.items())  # a square mask or weight, turned
            if np.ndim(v) == 2 and v.shape[0] == v.shape[1] == shape[-1] and len(shape) == 2}
    found = {}
    for name, b in raw.items():
        b = _fitted(b, shape, probe.is_loss)
        if b is not None and not any(np.array_equal(b, c) for c in found.values()):
            found[name] = b
    return found | _new_in_backward(probe, shape, with_functions(found))


def _new_in_backward(probe, shape: tuple, known: dict) -> dict[str, np.ndarray]:
    """backward's own variables that are none of the arrays above nor a function of one: a
    student's s = σ(x) reads better as σ(x), which also says what s is."""
    found = {}
    for name, b in made_in_backward(probe).items():
        b = _fitted(b, shape, probe.is_loss)
        if b is not None and not any(np.shape(c) == b.shape and np.allclose(b, c, rtol=1e-9,
                                                                            atol=0)
                                     for c in (*known.values(), *found.values())):
            found[name] = b
    return found


def made_in_backward(probe, most: int = 6) -> dict[str, np.ndarray]:
    """What backward computed from forward's values ('`s`' for s = sigmoid(self.x)), by the
    student's own names; not its gradients ('dh', 'grad_x': made from dout)."""
    watch = getattr(probe, "watch", None)
    found = {f"`{k}`": v for k, v in (watch.own(probe.G) if watch else {}).items()
             if not k.startswith("d") and "grad" not in k}
    return dict(list(found.items())[:most])


def _bases(probe, key: str, shape: tuple) -> dict[str, np.ndarray | None]:
    """What a formula multiplies: dout for a layer's dx, a contraction of dout for a parameter."""
    G = probe.G
    if key == "input":
        return {"dout": G} if G is not None and np.shape(G) == shape else {"": None}
    if G is None:
        return {"": None}
    found = {k: v for k, v in candidates(G, kept(probe.layer, masks=True), shape).items()
             if v.shape == shape and np.abs(v).max(initial=0) > 0}
    return {"": None} | {f"({k})": v for k, v in list(found.items())[:BASES]}


def _fitted(b, shape: tuple, is_loss: bool = False) -> np.ndarray | None:
    """b broadcast to the gradient's shape, in float64; None when it does not broadcast or is
    the same number everywhere (a constant says nothing that c does not). A loss's array of
    one number per sample (its targets) goes along the samples, even where N = K."""
    b = np.asarray(b)
    if b.dtype.kind not in "fiu" or b.ndim == 0 or b.size < 2:
        return None
    if b.shape != shape and b.squeeze().shape == tuple(k for k in shape if k != 1):
        b = b.reshape(shape)  # y (N,) beside scores (N, 1)
    elif b.ndim == 1 and len(shape) > 1 and len(b) == shape[0] and (
            is_loss or len(b) != shape[-1]):
        b = b.reshape(-1, *[1] * (len(shape) - 1))  # one number per sample
    try:
        b = np.broadcast_to(b.astype(np.float64), shape)
    except ValueError:
        return None
    return None if np.ptp(b) == 0 else np.array(b)


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
            return f, g, f"where the true one has {power_text(*w)}, yours has {power_text(*u)}"
    return None


def _extra(f: Formula, g: Formula) -> str:
    """': the true one has a factor b that yours lacks', when that is all that differs."""
    if f.base != g.base or f.terms[0][1] or g.terms[0][1] or \
            abs(f.terms[0][0] - g.terms[0][0]) > 1e-4 * abs(g.terms[0][0]):
        return ""
    p, q = set(_core(f, True)), set(_core(g, True))
    if len(q - p) == 1 and not p - q:
        return f": the true one has a factor {power_text(*(q - p).pop())} that yours lacks"
    if len(p - q) == 1 and not q - p:
        return f": yours has a factor {power_text(*(p - q).pop())} that the true one has not"
    return ""


def _core(f: Formula, bars: bool = False) -> list[tuple[str, float]]:
    """A product's blocks and exponents, its sign factor (and |·|, unless bars) left aside."""
    return [(b if bars else b.strip("|"), e) for b, e in f.blocks
            if not b.startswith("sign(") and not b.endswith(" > 0)")]
