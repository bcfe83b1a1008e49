"""The eps sweep: how the error of centered differences depends on eps, in float64 and float32."""

from __future__ import annotations

import copy

import numpy as np

from .. import params as P
from .numeric import DEFAULT_EPS, rel_error
from .probe import ModelProbe
from .restore import Preserved


def eps_sweep(model, X: np.ndarray, y: np.ndarray, eps_values=None,
              dtypes=(np.float64, np.float32), entries: int = 64, seed: int = 0) -> dict:
    """Relative error of centered differences against backprop, for each eps and dtype.

    Too large an eps: truncation error, about eps². Too small: round-off, about u / eps
    (u = 1.1e-16 in float64, 6e-8 in float32). The best eps sits at the bottom of the V.
    Returns {"eps": array, "float64": errors, "float32": errors, "default": DEFAULT_EPS}.
    """
    eps_values = np.logspace(-12, -1, 23) if eps_values is None else np.asarray(eps_values)
    with Preserved(model.layers + [model.loss]):
        ref = copy.deepcopy(model).astype(np.float64)
        probe = ModelProbe(ref, *ref._check_data(X, y), DEFAULT_EPS, fast=True)
        g = P.flatten([probe.grads[s.name] for s in probe.slots])
        picks = np.random.default_rng(seed).choice(g.size, min(entries, g.size), replace=False)
        out = {"eps": eps_values, "default": DEFAULT_EPS}
        for dtype in dtypes:
            m = copy.deepcopy(ref).astype(dtype)
            Xd = np.asarray(X, dtype=dtype)
            entries_of = [P.locate(m.slots(), i) for i in picks]
            errors = []
            for eps in eps_values:
                num = np.array([_slope(m, Xd, y, slot, entry, eps) for slot, entry in entries_of])
                errors.append(rel_error(g[picks], num))
            out[np.dtype(dtype).name] = np.array(errors)
    return out


def _slope(model, X, y, slot, entry, eps) -> float:
    """Centered difference in the model's own dtype, over the step actually taken."""
    p = model.layers[slot.layer_index].params[slot.param]
    old = p[entry]
    try:
        p[entry] = old + p.dtype.type(eps)
        up, J_up = p[entry], model._loss(X, y)
        p[entry] = old - p.dtype.type(eps)
        down, J_down = p[entry], model._loss(X, y)
    finally:
        p[entry] = old
    return (J_up - J_down) / (float(up) - float(down)) if up != down else 0.0
