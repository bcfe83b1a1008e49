"""How the checker calls a layer (or the loss): safely, repeatably, and fast only when proven.

Three things make a student's layer safe to call again and again:
  copies      its input, its upstream gradient and its output are copies, so an in-place
              `x[x < 0] = 0` or a reused output buffer cannot change what the checker keeps;
  rewinding   np.random's global state and the layer's own Generators are put back before
              every forward, so a mask drawn from np.random is the same on every call;
  shortcuts   a hint (stackable, nudged, nudged_along, a loss's values) is used only if the
              class that declares it also wrote the forward (a subclass that overrides forward
              or f does not inherit it), and only once its first output on this batch matched
              a plain call; on a mismatch or an exception, plain calls are used from then on.
minnet's own classes are called directly: they neither alias nor draw from np.random.
"""

from __future__ import annotations

import functools
import traceback
from pathlib import Path

import numpy as np

BEHAVIOUR = ("forward", "f")  # what a hint describes: a subclass overriding these loses it
STEP = 1e-3  # how far a verification moves an input or a weight


def is_own(obj) -> bool:
    """Is this one of minnet's own classes, running minnet's own forward and backward (not a
    user's subclass, nor a method replaced on the class or the object), holding only such
    layers when it is a block or a model?"""
    return _minnet(type(obj)) and all(_minnet(_method(obj, m)) for m in ("forward", "backward")) \
        and all(is_own(layer) for layer in getattr(obj, "layers", ()))


def _method(obj, name: str):
    """The function obj's `name` runs (None when it has none): whoever wrote it."""
    f = vars(obj).get(name) if hasattr(obj, "__dict__") else None
    f = f or getattr(type(obj), name, None)
    return None if f is None else getattr(f, "__func__", f)


def by_minnet(obj, method: str) -> bool:
    """Is obj's `method` minnet's own code, not a user's override of it?"""
    code = _method(obj, method)
    return code is not None and _minnet(code)


def trusted(obj, hint: str) -> bool:
    """Was `hint` declared by the class that wrote obj's forward (or by one of its bases)?"""
    return _trusted(type(obj), hint)


@functools.cache
def _trusted(cls: type, hint: str) -> bool:
    owner = _definer(cls, hint)
    if owner is None:
        return False
    for name in BEHAVIOUR:
        writer = _definer(cls, name)
        if writer is not None and not issubclass(owner, writer) \
                and not (_minnet(owner) and _minnet(writer)):
            return False
    return True


def _definer(cls, name):
    return next((c for c in cls.__mro__ if name in vars(c)), None)


def _minnet(code) -> bool:
    """Was this class or function written in minnet (None: nothing to write)?"""
    return code is None or getattr(code, "__module__", "").split(".")[0] == "minnet"


class Randomness:
    """np.random's global state and some objects' own Generators, saved once, rewound at will."""

    def __init__(self, *objects) -> None:
        self.objects = objects
        self.saved = None
        self.draws_global: bool | None = None  # known after the first call: learn()

    def rewind(self) -> None:
        if self.saved is None:
            self.saved = (np.random.get_state(),
                          [(g, _state(g)) for obj in self.objects for g in _generators(obj)])
            return
        if self.draws_global is not False:  # setting np.random's state costs a small forward
            np.random.set_state(self.saved[0])
        for g, state in self.saved[1]:
            _set_state(g, state)

    def learn(self) -> None:
        """After the first call from the saved state: did it draw from np.random? A layer
        that did not is not rewound there again (one that draws only on some inputs then
        shows as a forward that is no fixed function of x, which the check reports)."""
        if self.draws_global is None and self.saved is not None:
            now, then = np.random.get_state(), self.saved[0]
            self.draws_global = not (now[2] == then[2] and np.array_equal(now[1], then[1]))


def _generators(obj):
    found = []
    for v in vars(obj).values():
        items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
        found += [g for g in items if isinstance(g, (np.random.Generator,
                                                     np.random.RandomState))]
    return found


def _state(g):
    return g.bit_generator.state if isinstance(g, np.random.Generator) else g.get_state()


def _set_state(g, state) -> None:
    if isinstance(g, np.random.Generator):
        g.bit_generator.state = state
    else:
        g.set_state(state)


class Calls:
    """forward, stacked forward and nudged outputs of one layer (or values of the loss)."""

    def __init__(self, obj, fast: bool, is_loss: bool = False, y=None) -> None:
        self.obj, self.fast, self.is_loss, self.y = obj, fast, is_loss, y
        self.states: dict[str, np.ndarray] = {}  # initial states passed by keyword: h0, c0
        self.own = is_own(obj)
        self.random = Randomness(obj)
        self.proven: dict[tuple, bool] = {}  # (shortcut, param) -> matched plain calls

    def forward(self, x: np.ndarray):
        """One plain call: an output array, or the loss value as a float."""
        if self.own:
            return self._call(x)
        self.random.rewind()
        out = self._call(x.copy())
        self.random.learn()
        return out if self.is_loss else np.array(out, copy=True)

    def _call(self, x):
        if self.is_loss:
            return float(self.obj.forward(x, self.y))
        return self.obj.forward(x, **self.states)

    def backward(self, dout):
        """backward(dout) on a copy of dout (a layer may modify it in place)."""
        if self.is_loss:
            return self.obj.backward()
        return self.obj.backward(dout if self.own else dout.copy())

    # ---- many copies at once --------------------------------------------------------------

    def stack(self, xs: np.ndarray) -> np.ndarray:
        """Outputs (K, ...) for inputs xs (K, ...), or loss values (K,)."""
        if self._proven("stack", None, lambda: self._stack_matches(xs[0])):
            return self._stacked(xs)
        return self._one_by_one(xs)

    def _stacked(self, xs):
        if not self.own:
            self.random.rewind()
            xs = xs.copy()
        if self.is_loss:
            return np.asarray(self.obj.values(xs, self.y), dtype=np.float64)
        return self.obj.forward(xs, **self.states)

    def _one_by_one(self, xs):
        outs = [self.forward(x) for x in xs]
        return np.array(outs) if self.is_loss else np.stack(outs)

    def _stack_matches(self, x) -> bool:
        hint = "values" if self.is_loss else "stackable"
        if not (trusted(self.obj, hint) and (self.is_loss or getattr(self.obj, hint))):
            return False
        two = np.stack([x, x + STEP * (1 + np.abs(x)) * _signs(x.shape)])
        return _same(self._stacked(two), self._one_by_one(two))

    # ---- outputs with one parameter moved ---------------------------------------------------

    def nudged(self, x, name, idx, delta, base) -> np.ndarray:
        """Outputs (K, ...) with entry idx[k] of params[name] moved by delta[k]."""
        p = self.obj.params[name]
        plain = lambda k: self.moved(p, idx[k], delta[k], x)  # noqa: E731
        outs = self._attempt("nudged", name, base, plain,
                             lambda: self.obj.nudged(x, name, idx, delta, base=base))
        return np.stack([plain(k) for k in range(len(idx))]) if outs is None else outs

    def along(self, x, name, dirs, eps, base) -> np.ndarray:
        """Outputs (2K, ...) with params[name] moved by +eps u_k (first K), then by -eps u_k."""
        p, K = self.obj.params[name], len(dirs)
        plain = lambda k: self.moved_along(p, (eps if k < K else -eps) * dirs[k % K], x)  # noqa: E731
        outs = self._attempt("nudged_along", name, base, plain,
                             lambda: self.obj.nudged_along(x, name, dirs, eps, base=base))
        return np.stack([plain(k) for k in range(2 * K)]) if outs is None else outs

    def _attempt(self, hint, name, base, plain, shortcut):
        """The shortcut's outputs, or None: fast off, not the forward's own hint, or disproved.

        The first time, its first output must match a plain forward call; on a mismatch or an
        exception it is never tried again in this check.
        """
        key = (hint, name)
        if self.states or not (self.fast and trusted(self.obj, hint)
                               and self.proven.get(key, True)):
            return None  # a shortcut knows no initial states
        outs = self._safely(key, shortcut)
        if outs is not None and key not in self.proven:
            self.proven[key] = _same_change(outs[0], plain(0), base)
        return outs if self.proven.get(key) else None

    def moved(self, p, i, d, x):
        """forward(x) with entry p.flat[i] moved by d, then put back exactly."""
        old = p.flat[i]
        try:
            p.flat[i] = old + d
            return self.forward(x)
        finally:
            p.flat[i] = old

    def moved_along(self, p, step, x):
        """forward(x) with the whole tensor p moved by step, then put back exactly."""
        saved = p.copy()
        try:
            np.add(saved, step, out=p)
            return self.forward(x)
        finally:
            p[...] = saved

    def _proven(self, shortcut, name, matches) -> bool:
        """Use a shortcut? Only with fast on, and once it matched plain calls on this batch."""
        if not self.fast:
            return False
        key = (shortcut, name)
        if key not in self.proven:
            self.proven[key] = bool(self._safely(key, matches))
        return self.proven[key]

    def _safely(self, key, run):
        """run(), or None when it raises: a shortcut that cannot run here is not taken again."""
        try:
            return run()
        except Exception:
            self.proven[key] = False
            return None


def _signs(shape) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2, shape) * 2.0 - 1


def _same_change(fast, plain, base) -> bool:
    """Do a shortcut's output and a plain forward move the same way from the base output?"""
    return _same(fast - base, plain - base, scale=np.abs(base).max(initial=1))


def _same(a, b, scale=None) -> bool:
    """Equal up to round-off: the same shape, and close relative to the larger of the two."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return False
    scale = max(np.abs(b).max(initial=0), 1e-300) if scale is None else scale
    return bool(np.all(np.abs(a - b) <= 1e-9 * np.abs(b).max(initial=0) + 1e-12 * scale))


def raised(error: Exception) -> str:
    """'NameError (my_layers.py, line 13): ...': the exception and where in the user's code."""
    frames = traceback.extract_tb(error.__traceback__)
    theirs = [f for f in frames if "minnet" not in Path(f.filename).parts[-3:-1]
              and not f.filename.startswith("<")]
    where = f" ({theirs[-1].filename}, line {theirs[-1].lineno})" if theirs else ""
    return f"{type(error).__name__}{where}: {error}"
