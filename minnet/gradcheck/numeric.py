"""The textbook gradient check, on one screen. Read this first; everything else is speed.

    numeric    dJ/dxᵢ ≈ (J(x + ε eᵢ) − J(x − ε eᵢ)) / 2ε        (centered differences)
    rel_error  ‖a − n‖ / (‖a‖ + ‖n‖)                              (0 when both are zero)

Checking a CS231n-style function takes two lines:

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
        grad[i] = _slope(f, x, saved, i, eps, dout)
    return grad


def _slope(f, x, saved, i, eps, dout) -> float:
    """(J(x + ε eᵢ) − J(x − ε eᵢ)) / 2ε, with x put back whole after each call."""
    x[i] = saved[i] + eps
    plus = _value(f(x), dout)
    x[...] = saved
    x[i] = saved[i] - eps
    minus = _value(f(x), dout)
    x[...] = saved
    return (plus - minus) / (2 * eps)


def rel_error(a: np.ndarray, n: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖): 0 when a = n, 1 when one is zero or a = −n."""
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    return float(np.linalg.norm(np.subtract(a, n)) / denom) if denom > 0 else 0.0


def check_function(f, x: np.ndarray, analytic: np.ndarray | None = None,
                   dout: np.ndarray | None = None, eps: float = DEFAULT_EPS,
                   tol: float = DEFAULT_TOL):
    """Compare `analytic` with numeric_gradient(f, x): .passed, .rel_error, .hint, str(result).

    Without `analytic`, f(x) must return (value, gradient), as CS231n's loss functions do.
    """
    if analytic is None:
        value = f(x)
        if not (isinstance(value, tuple) and len(value) == 2):
            raise TypeError("check_function: without `analytic`, f(x) must return "
                            "(value, gradient)")
        analytic, g = value[1], f
        f = lambda x: g(x)[0]  # noqa: E731
    from .verdicts import compare_function  # the verdicts build on this page, not it on them

    analytic = np.array(analytic, dtype=np.float64)  # a copy: f may reuse its buffers
    numeric = numeric_gradient(f, x, eps, dout)
    return compare_function(analytic, numeric, tol, lambda at, e: _at(f, x, e, dout, at))


def _at(f, x, eps, dout, entries):
    """numeric_gradient at a few flat entries only (to look again with a smaller eps)."""
    saved = x.copy()
    return np.array([_slope(f, x, saved, np.unravel_index(i, x.shape), eps, dout)
                     for i in entries])


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
