"""The textbook gradient check, on one screen. Read this first; everything else is speed.

    numeric    dJ/dxᵢ ≈ (J(x + ε eᵢ) − J(x − ε eᵢ)) / 2ε        (centered differences)
    rel_error  ‖a − n‖ / (‖a‖ + ‖n‖)                              (0 when both are zero)

This page imports nothing else of minnet: every faster path, and every diagnosis, builds on it.
mn.check_function (function.py) puts it to work on any function, in two lines:

    loss, dW = svm_loss_naive(W, X, y, reg)
    print(mn.check_function(lambda W: svm_loss_naive(W, X, y, reg)[0], W, dW))
"""

from __future__ import annotations

import numpy as np

# eps sits at the bottom of the float64 error-versus-eps V (gradcheck.eps_sweep): over 300
# random correct networks the worst tensor's rel_error was 1.4e-7 at eps 1e-5, 2.2e-6 at 1e-6
# and 4.1e-6 at 1e-7. The tolerance leaves a margin of 7 above that worst case; every planted
# bug (tests/planted.py) has a tensor above 1e-2.
DEFAULT_EPS = 1e-5
DEFAULT_TOL = 1e-6  # a tensor passes when its rel_error is at most this


def numeric_gradient(f, x: np.ndarray, eps: float = DEFAULT_EPS,
                     dout: np.ndarray | None = None) -> np.ndarray:
    """dJ/dx by centered differences, one entry at a time, with J = f(x) or J = Σ f(x) · dout.

    x is moved in place (so f may read it through a closure too) and is put back exactly,
    even if f changes it.
    """
    _check_input(x)
    saved = x.copy()
    grad = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        grad[i] = slope(f, x, saved, i, eps, dout)
    return grad


def slope(f, x, saved, i, eps, dout=None) -> float:
    """(J(x + ε eᵢ) − J(x − ε eᵢ)) / 2ε, with x put back whole after each call."""
    x[i] = saved[i] + eps
    plus = _value(f(x), dout)
    x[...] = saved
    x[i] = saved[i] - eps
    minus = _value(f(x), dout)
    x[...] = saved
    return (plus - minus) / (2 * eps)


def rel_error(a: np.ndarray, n: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖): 0 when a = n, 1 when one is zero or a = −n; nan if one is."""
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    if not np.isfinite(denom):
        return float("nan")
    return float(np.linalg.norm(np.subtract(a, n)) / denom) if denom > 0 else 0.0


def _value(out, dout) -> float:
    if isinstance(out, tuple):
        raise TypeError("f returned a tuple; pass a function of the value alone, e.g. "
                        "lambda x: f(x)[0]")
    if dout is None:
        if np.ndim(out) != 0:
            raise TypeError(f"f returned an array of shape {np.shape(out)}; pass dout= (the "
                            f"upstream gradient) to check Σ f(x) · dout")
        return float(out)
    if np.shape(out) != np.shape(dout):
        raise ValueError(f"f returned shape {np.shape(out)} but dout has shape "
                         f"{np.shape(dout)}")
    return float(np.sum(out * dout))


def _check_input(x) -> None:
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numeric_gradient: x must be a float numpy array that f reads, got "
                        f"{type(x).__name__} {getattr(x, 'dtype', '')}".rstrip()
                        + " (try x.astype(np.float64))")
    if x.dtype != np.float64:
        raise TypeError(f"numeric_gradient: x is {x.dtype}; check in float64, where the "
                        f"difference keeps enough digits (x.astype(np.float64))")
