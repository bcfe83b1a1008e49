"""The true gradient computed, then lost: an array equal to it at every entry is one of
backward's variables as it returns, an attribute of the layer, or grads under a key that is no
parameter's, while the gradient returned or stored is another array."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import numpy as np

from .pairing import arrays_kept


class Watch:
    """Runs a layer's backward and keeps the float arrays its methods name as they return:
    seen['dx_col'] for backward's own variables, seen['step_backward: dh'] for another's;
    names['input'] (or a parameter's key) is the variable that holds what it returned (or
    stored in grads)."""

    def __init__(self, layer) -> None:
        self.layer, self.seen, self.names = layer, {}, {}

    def __call__(self, run: Callable):
        before = sys.getprofile()
        sys.setprofile(self._look)
        try:
            return run()
        finally:
            sys.setprofile(before)

    def _look(self, frame, event, arg) -> None:
        if event != "return" or frame.f_locals.get("self") is not self.layer:
            return
        method = frame.f_code.co_name
        variables = {k: v for k, v in frame.f_locals.items() if isinstance(v, np.ndarray)}
        here = "" if method == "backward" else f"{method}: "
        self.seen |= {here + k: v.copy() for k, v in variables.items()
                      if v.dtype.kind == "f" and v.ndim}
        if method == "backward":  # the outermost: what it returned and stored is named here
            grads = getattr(self.layer, "grads", {})
            self.names = {key: k for k, v in variables.items()
                          for key, g in [("input", arg), *grads.items()] if v is g}


    def own(self, G: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """backward's own variables (not a helper method's), leaving out what it returned or
        stored, and dout under another name (backward(self, G))."""
        return {k: v for k, v in self.seen.items() if ":" not in k
                and k not in self.names.values()
                and not (G is not None and v.shape == np.shape(G) and np.array_equal(v, G))}


def lost(probe, key: str, a: np.ndarray, n: np.ndarray, what: str) -> str | None:
    """'backward's variable `dW_sum` holds the true dW (equal at every entry); grads['W'] is
    another array (`dW`, all zeros): store `dW_sum` in grads['W']'."""
    if not np.abs(n).max(initial=0) > 0:
        return None
    found = [(place, name) for place, name, v in _places(probe, key) if _equal(v, n)]
    if not found:
        return None
    (place, name), mine = found[0], probe.watch.names.get(key)
    other = ", ".join(([f"`{mine}`"] if mine else []) + (["all zeros"] if not a.any() else []))
    other = f" ({other})" if other else ""
    if key == "input":
        yours, fix = f"backward returns another array{other}", f"return {name}"
    elif name.startswith("grads["):
        yours, fix = (f"grads[{key!r}], the key of params[{key!r}], is another array{other}",
                      f"store it under {key!r} (a misspelled key?)")
    else:
        yours, fix = f"grads[{key!r}] is another array{other}", f"store {name} in grads[{key!r}]"
    return f"{place} holds the true {what} (equal at every entry); {yours}: {fix}"


def used_up(layer) -> str | None:
    """'self.wins is a generator: ...', for an attribute that one loop over empties."""
    names = [f"self.{k}" for k, v in vars(layer).items() if isinstance(v, Iterator)]
    if not names:
        return None
    kind = type(getattr(layer, names[0][5:])).__name__
    return (f"{names[0]} is a {kind}, an iterator that one loop uses up: when forward has run "
            f"through it, a loop over it in backward runs zero times (make it a list)")


def _places(probe, key: str):
    """(where, its name, array) for everything a backward could have left the true gradient
    in: its variables, the layer's attributes, grads under keys that are no parameter's."""
    for k, v in probe.watch.seen.items():
        if k == probe.watch.names.get(key):
            continue
        method, _, var = k.rpartition(": ")
        where = f"the variable `{var}` of {method}" if method else f"backward's variable `{var}`"
        yield where, f"`{var}`", v
    for name, v in arrays_kept(probe.layer):
        yield name, name, v
    params = getattr(probe.layer, "params", {})
    for k, v in getattr(probe.layer, "grads", {}).items():
        if k not in params and isinstance(v, np.ndarray):
            yield f"grads[{k!r}]", f"grads[{k!r}]", v


def _equal(v: np.ndarray, n: np.ndarray) -> bool:
    """Equal up to the numerical estimate's own error."""
    return np.shape(v) == n.shape and v.dtype.kind == "f" and \
        bool((np.abs(v - n) <= 1e-5 * np.abs(n) + 1e-7 * np.abs(n).max()).all())
