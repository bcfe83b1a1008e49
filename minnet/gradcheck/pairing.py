"""Which arrays a parameter's gradient was made from.

A parameter's gradient is dout contracted with something forward computed: Σ dout·x̂ for a
normalization's gamma, xᵀ·dout for a weight matrix, dout against the windows of x for a kernel.
The candidates are built from the arrays the layer itself keeps (its attributes, whatever their
names, and the items of tuples, lists and dicts among them), and compared with your gradient and
with the true one. "your dgamma equals Σ dout·self.x over the batch; the true one equals
Σ dout·self.xhat" names both the mistake and its fix.
"""

from __future__ import annotations

import itertools

import numpy as np

from .structure import close

MOST = 8  # candidate arrays kept by a layer, at most (their pairwise products are tried too)


def kept(layer, masks: bool = False) -> dict[str, np.ndarray]:
    """Float arrays the layer keeps: 'self.x', 'self.cache[2]' (not its params or grads); with
    `masks`, its boolean arrays too, as 0 and 1 (a factor of a contraction as often as not)."""
    found = {name: u if u.dtype.kind == "f" else u.astype(np.float64)
             for name, u in arrays_kept(layer) if u.dtype.kind in ("fb" if masks else "f")}
    return dict(list(found.items())[:MOST])


def arrays_kept(layer):
    """(name, array) for every array of a dimension the layer keeps in its attributes, or in
    the tuples, lists and dicts among them: ('self.x', x), ('self.cache[2]', ...)."""
    for name, v in vars(layer).items():
        if name in ("params", "grads"):
            continue
        items = v.items() if isinstance(v, dict) else enumerate(v) \
            if isinstance(v, (list, tuple)) else [(None, v)]
        for key, u in items:
            if isinstance(u, np.ndarray) and u.ndim > 0:
                yield f"self.{name}" + ("" if key is None else f"[{key!r}]"), u


BOOKKEEPING = frozenset({"training", "frozen", "input_grad", "seed", "return_sequences"})


def held_numbers(layer, skip: frozenset = frozenset()) -> dict[str, float | int]:
    """The numbers a layer holds, by name ('self.alpha'): its own attributes, and those its
    author's classes set in their bodies (`cap = 1.5`), which students write as constants."""
    found = {}
    for cls in reversed(type(layer).__mro__):
        if cls.__module__.split(".")[0] not in ("minnet", "builtins"):
            found |= vars(cls)
    found |= vars(layer)
    return {f"self.{k}": v.item() if isinstance(v, np.generic) else v
            for k, v in found.items() if not k.startswith("_") and k not in skip
            and isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}


def held(layer) -> dict[str, np.ndarray]:
    """Every array the layer holds, by name: "params['W']", then what it keeps ("self.x")."""
    found = {f"params[{k!r}]": v for k, v in getattr(layer, "params", {}).items()}
    return found | kept(layer)


def candidates(G: np.ndarray, arrays: dict[str, np.ndarray], shape: tuple) -> dict:
    """dout contracted with each kept array, and each product of two, down to `shape`."""
    factors = {"": None, **arrays}
    for (n1, z1), (n2, z2) in itertools.combinations(arrays.items(), 2):
        z = _times(z1, z2)
        if z is not None and z.shape == G.shape:
            factors[f"{n1}·{n2}"] = z
    factors |= _differences(arrays, G.shape)
    found = {}
    for name, z in factors.items():
        found |= _reduced(G, z, name, shape)
    if len(shape) == 2:
        found |= _products(G, arrays, shape) | _pointwise(G, arrays, shape)
    if len(shape) == 4:
        found |= _windows(G, arrays, shape)
    return found


def _differences(arrays: dict, shape: tuple) -> dict:
    """A kept sequence's or image's step to the next entry along each axis but the batch's,
    0 beyond the edge: the slope of a shift or a sampling position, d x(j + δ)/dδ."""
    found = {}
    for name, z in arrays.items():
        if z.shape != shape or z.ndim < 3:
            continue
        for axis in range(1, z.ndim):
            ahead = np.roll(z, -1, axis=axis)
            np.moveaxis(ahead, axis, 0)[-1] = 0
            found[f"({name}[j + 1] − {name}[j] along axis {axis})"] = ahead - z
    return found


def _times(a, b):
    try:
        return a * b
    except ValueError:
        return None


def _reduced(G, z, name: str, shape: tuple) -> dict:
    """Σ dout·z over the axes the parameter does not have."""
    try:
        p = G if z is None else G * z
    except ValueError:
        return {}
    if p.shape != G.shape:
        return {}
    found, product = {}, f"dout{'·' + name if name else ''}"
    for keep in _kept_axes(p.shape, shape):
        axes = tuple(a for a in range(p.ndim) if a not in keep)
        text = f"Σ {product} over {_axes(axes, p.ndim)}" if axes else product
        found[text] = p.sum(axis=axes).reshape(shape)
    return found


def _kept_axes(full: tuple, shape: tuple) -> list[tuple[int, ...]]:
    """Axes of `full` a tensor of `shape` runs along: all of them (dx of an elementwise layer),
    its trailing axes, or the channels."""
    if shape == full:
        return [tuple(range(len(full)))]
    found = []
    if 0 < len(shape) < len(full) and full[len(full) - len(shape):] == shape:
        found.append(tuple(range(len(full) - len(shape), len(full))))
    if len(shape) == 1:  # any one axis of that length: the channels, or a wrong axis
        found += [(a,) for a in range(len(full)) if full[a] == shape[0] and (a,) not in found]
    return found


def _axes(axes: tuple[int, ...], ndim: int) -> str:
    if axes == (0,):
        return "the batch (axis 0)"
    if ndim == 4 and axes == (0, 2, 3):
        return "the batch and every pixel (axes 0, 2, 3)"
    return f"axis {axes[0]}" if len(axes) == 1 else f"axes {', '.join(map(str, axes))}"


def _products(G, arrays, shape) -> dict:
    """xᵀ·dout and its mistakes, for a weight matrix (in, out): rows are all leading axes."""
    found = {}
    rows = lambda v: v.reshape(-1, v.shape[-1])  # noqa: E731
    for name, z in arrays.items():
        if z.shape[:-1] != G.shape[:-1]:
            continue
        if (z.shape[-1], G.shape[-1]) == shape:
            found[f"{name}ᵀ·dout"] = rows(z).T @ rows(G)
            for other, w in arrays.items():  # dout met a factor on its way: xᵀ·(dout·x)
                if w.shape == G.shape:
                    found[f"{name}ᵀ·(dout·{other})"] = rows(z).T @ rows(G * w)
        if (G.shape[-1], z.shape[-1]) == shape[::-1] and shape[0] == shape[1]:
            found[f"doutᵀ·{name}"] = rows(G).T @ rows(z)
        if z.ndim >= 3 and (z.shape[-1], G.shape[-1]) == shape:  # each summed over time first
            middle = tuple(range(1, z.ndim - 1))
            found[f"(Σ over the middle axes of {name})ᵀ·(Σ over them of dout), each summed "
                  f"on its own"] = z.sum(axis=middle).T @ G.sum(axis=middle)
    return found


def _pointwise(G, arrays, shape) -> dict:
    """A 1×1 convolution's weight (C, O) or (O, C): Σ over the batch and pixels of an image's
    channel c times dout's channel o."""
    found = {}
    for name, z in arrays.items():
        if G.ndim != 4 or z.ndim != 4 or z.shape[0] != G.shape[0] or z.shape[2:] != G.shape[2:]:
            continue
        mixed = np.einsum("nchw,nohw->co", z, G)
        where = "over the batch and every pixel"
        if mixed.shape == shape:
            found[f"Σ {name}[c]·dout[o] {where}, per (channel c, output channel o)"] = mixed
        if mixed.T.shape == shape:
            found[f"Σ dout[o]·{name}[c] {where}, per (output channel o, channel c)"] = mixed.T
    return found


def _windows(G, arrays, shape) -> dict:
    """A kernel's gradient: dout against the windows of a kept image, at a stride and dilation."""
    found = {}
    _, _, kh, kw = shape
    for name, z in arrays.items():
        if z.ndim != 4 or z.shape[0] != G.shape[0] or z.shape[1] != shape[1]:
            continue
        for stride, dilation in itertools.product((1, 2, 3), (1, 2)):
            win = _strided_windows(z, kh, kw, stride, dilation)
            if win is None or win.shape[2] < G.shape[2] or win.shape[3] < G.shape[3]:
                continue
            first = win.shape[2:4] != G.shape[2:]  # only the first H' x W' of the windows
            grad = np.einsum("noij,ncijuv->ocuv", G, win[:, :, :G.shape[2], :G.shape[3]])
            what = (f"dout against the {'first ' if first else ''}windows of {name} at stride "
                    f"{stride}" + (f", dilation {dilation}" if dilation > 1 else ""))
            found[what] = grad
            found[what + ", flipped"] = grad[..., ::-1, ::-1]
    return found


def _strided_windows(z, kh, kw, stride, dilation):
    span_h, span_w = dilation * (kh - 1) + 1, dilation * (kw - 1) + 1
    if z.shape[2] < span_h or z.shape[3] < span_w:
        return None
    view = np.lib.stride_tricks.sliding_window_view(z, (span_h, span_w), axis=(2, 3))
    return view[:, :, ::stride, ::stride, ::dilation, ::dilation]


def placed(G: np.ndarray, params: dict, shape: tuple) -> dict:
    """A kernel layer's dx: dout·W added back at each window's place, the windows at a stride
    and dilation, the result cut at an offset (a padding taken off), maybe W flipped; for a
    depthwise kernel (C, 1, k, k), each channel's own, or their sum sent to every channel."""
    found = {}
    for name, per in _shares(G, params, shape):
        for (stride, dilation), assign in itertools.product(
                itertools.product((1, 2, 3), (1, 2)), (False, True)):
            full = (_written_back if assign else _add_back)(per, stride, dilation)
            for cut in range(0, 3):
                if cut and (cut + shape[2] > full.shape[2] + 2 or
                            cut + shape[3] > full.shape[3] + 2):
                    continue
                dx = _fit(full, cut, shape)
                if dx is None:
                    continue
                how = "written back with = (where windows overlap, the last one wins)" \
                    if assign else "added back"
                found[f"{name} {how} at stride {stride}"
                      + (f", dilation {dilation}" if dilation > 1 else "")
                      + (f", the first {_rows(cut)} cut off" if cut else "")] = dx
    return found


def _shares(G: np.ndarray, params: dict, shape: tuple):
    """(what, each window's share of dx (N, C, H', W', k, k)) for every kernel param."""
    for name, W in params.items():
        if W.ndim != 4 or G.ndim != 4 or W.shape[0] != G.shape[1]:
            continue
        for K, turned in _turns(W):
            if W.shape[1] == shape[1]:
                yield f"dout·{name}{turned}", np.einsum("noij,ocuv->ncijuv", G, K)
                if W.shape[0] == W.shape[1]:  # square: the channels may be swapped
                    yield (f"dout·{name}{turned} with its in and out channels swapped",
                           np.einsum("noij,couv->ncijuv", G, K))
            elif W.shape[1] == 1 and W.shape[0] == shape[1]:  # depthwise
                own = np.einsum("ncij,cuv->ncijuv", G, K[:, 0])
                yield f"dout·{name}{turned}, each channel its own", own
                yield (f"dout·{name}{turned} summed over the channels and sent to every channel",
                       np.broadcast_to(own.sum(axis=1, keepdims=True), own.shape))


def _turns(W: np.ndarray):
    """W as a backward may hold it: as is, flipped (turned by 180°), and with its channels in
    reverse order too (np.flip with no axes reverses all four)."""
    yield W, ""
    yield W[..., ::-1, ::-1], " flipped"
    if W.shape[0] > 1 or W.shape[1] > 1:
        yield W[::-1, ::-1], " with its in and out channels in reverse order"
        yield W[::-1, ::-1, ::-1, ::-1], " flipped along all four axes (channels reversed too)"


def _rows(k: int) -> str:
    return "row and column" if k == 1 else f"{k} rows and columns"


def _fit(full: np.ndarray, cut: int, shape: tuple) -> np.ndarray | None:
    """full[..., cut:cut + H, cut:cut + W], zeros where full ends first (windows that do not
    reach the last rows); None when full has not the batch and channels of `shape`."""
    if full.shape[:2] != shape[:2]:
        return None
    out = np.zeros(shape)
    part = full[:, :, cut:cut + shape[2], cut:cut + shape[3]]
    out[:, :, :part.shape[2], :part.shape[3]] = part
    return out


def _written_back(per: np.ndarray, stride: int, dilation: int) -> np.ndarray:
    """_add_back with = instead of +=, window after window: where windows overlap, the last
    one's entries stay (as a col2im written with =)."""
    n, c, h, w, kh, kw = per.shape
    out = np.zeros((n, c, stride * (h - 1) + dilation * (kh - 1) + 1,
                    stride * (w - 1) + dilation * (kw - 1) + 1))
    for i in range(h):
        for j in range(w):
            out[:, :, stride * i:stride * i + dilation * (kh - 1) + 1:dilation,
                stride * j:stride * j + dilation * (kw - 1) + 1:dilation] = per[:, :, i, j]
    return out


def _add_back(per: np.ndarray, stride: int, dilation: int) -> np.ndarray:
    """col2im: window (i, j)'s entry (u, v) goes to row s·i + d·u, column s·j + d·v."""
    n, c, h, w, kh, kw = per.shape
    out = np.zeros((n, c, stride * (h - 1) + dilation * (kh - 1) + 1,
                    stride * (w - 1) + dilation * (kw - 1) + 1))
    for u in range(kh):
        for v in range(kw):
            out[:, :, dilation * u:dilation * u + stride * h:stride,
                dilation * v:dilation * v + stride * w:stride] += per[:, :, :, :, u, v]
    return out


def through_weights(G: np.ndarray, layer, arrays: dict, shape: tuple) -> dict:
    """The candidates of dout taken back through a weight matrix first, (dout·Vᵀ), with the
    arrays the layer keeps: for a parameter that sits before that weight in forward (s in
    x·U·diag(s)·V)."""
    found = {}
    if G.ndim != 2:
        return found
    for k, P in getattr(layer, "params", {}).items():
        if P.ndim != 2 or G.shape[1] not in P.shape:
            continue  # forward's h·P is taken back as dout·Pᵀ (a square P that way only)
        back, name = (G @ P.T, f"(dout·params[{k!r}]ᵀ)") if P.shape[1] == G.shape[1] else \
            (G @ P, f"(dout·params[{k!r}])")
        found |= {c.replace("dout", name): v for c, v in candidates(back, arrays, shape).items()}
    return found


def pairing(G: np.ndarray | None, layer, key: str, a: np.ndarray, n: np.ndarray) -> str | None:
    """'your dgamma equals Σ dout·self.x over the batch; the true one equals Σ dout·self.xhat
    over the batch', from the candidates that match your gradient and the true one."""
    if G is None:
        return None
    arrays = kept(layer, masks=True)
    cands = candidates(G, arrays, a.shape)
    if key == "x":
        cands |= placed(G, getattr(layer, "params", {}), a.shape)
    else:
        cands |= through_weights(G, layer, arrays, a.shape)
    mine = [k for k, v in cands.items() if v.shape == a.shape and close(v, a).all()]
    true = [k for k, v in cands.items() if v.shape == a.shape and close(v, n, 1e-4).all()]
    if not mine and not true or set(mine) & set(true):
        return None
    what = f"d{key}"
    if mine and true:
        return f"your {what} equals {mine[0]}; the true one equals {true[0]}"
    if mine:
        return (f"your {what} equals {mine[0]}; the true one is not dout times one array the "
                f"layer keeps (nor such a sum)")
    if not a.any():
        return f"the true {what} equals {true[0]}; yours is all zeros"
    scale = _scale(a, cands[true[0]])
    if scale is not None:
        return (f"the true {what} equals {true[0]}; yours is {scale:.4g} × that (a factor "
                f"{'too many' if abs(scale) > 1 else 'missing'}?)")
    return f"the true {what} equals {true[0]}; yours is not that"


def _scale(a, v) -> float | None:
    c = float(np.vdot(a, v) / max(np.vdot(v, v), 1e-300))
    return c if close(a, c * v).all() and abs(c - 1) > 1e-6 else None
