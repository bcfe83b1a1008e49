"""check_function: the textbook check (numeric.py) on any function, with minnet's verdict.

As in CS231n's assignments: f(x) -> float (or an array, with its upstream gradient dout), the
analytic gradient you computed, and a report that says whether, and how, they differ.
"""

from __future__ import annotations

import numpy as np

from .numeric import DEFAULT_EPS, DEFAULT_TOL, numeric_gradient, slope
from .report import FunctionCheck
from .verdicts import compare_function


def check_function(f, x: np.ndarray, analytic: np.ndarray | None = None,
                   dout: np.ndarray | None = None, eps: float = DEFAULT_EPS,
                   tol: float = DEFAULT_TOL) -> FunctionCheck:
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
    analytic = np.array(analytic, dtype=np.float64)  # a copy: f may reuse its buffers
    numeric = numeric_gradient(f, x, eps, dout)
    return compare_function(analytic, numeric, tol, lambda at, e: _at(f, x, e, dout, at))


def _at(f, x, eps, dout, entries):
    """numeric_gradient at a few flat entries only (to look again with a smaller eps)."""
    saved = x.copy()
    return np.array([slope(f, x, saved, np.unravel_index(i, x.shape), eps, dout)
                     for i in entries])
