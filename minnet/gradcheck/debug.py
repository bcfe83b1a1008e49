"""Debug mode: fit(debug=True) checks a small batch before the first step, and then never again."""

from __future__ import annotations

import os

import numpy as np

from .checker import GradientChecker
from .report import CheckReport, GradientCheckError

DEBUG_BATCH = 16  # samples checked by fit(debug=True)


def debug_check(model, X: np.ndarray, y: np.ndarray, seed: int = 0) -> CheckReport:
    """fit(debug=True): check DEBUG_BATCH random samples in "auto" mode; raise if it fails."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X), min(DEBUG_BATCH, len(X)), replace=False)
    report = GradientChecker(mode="auto", seed=seed, progress=False).check(model, X[idx], y[idx])
    if not report.passed:
        raise GradientCheckError(report)
    # stdout, not stderr: it is good news, and Jupyter shows stderr as an error box
    print(f"minnet debug: gradient check passed on {len(idx)} samples ({report.mode}, "
          f"difference {report.difference:.1e}, worst tensor "
          f"{max(c.rel_error for c in report.params):.1e})")
    return report


def debug_requested(debug: bool) -> bool:
    """fit(debug=True), or MINNET_DEBUG set to anything but "" or "0"."""
    return debug or os.environ.get("MINNET_DEBUG", "") not in ("", "0")
