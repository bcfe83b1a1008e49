"""Assertions for pytest and autograders: the failure message is the gradient-check table."""

from __future__ import annotations

import numpy as np

from .gradcheck import CheckReport, GradientChecker, GradientCheckError, LayerCheck, check_layer


def assert_gradients_ok(obj, X: np.ndarray, y: np.ndarray | None = None,
                        **options) -> CheckReport | LayerCheck:
    """Check a Model on (X, y), a layer on input X, or a loss on scores X with targets y.

    Raises GradientCheckError (an AssertionError) whose message is the report table, so a
    student sees which tensor is wrong and how. Returns the report when the check passes.
    `options` go to GradientChecker (models) or check_layer (layers and losses).
    """
    if hasattr(obj, "layers") and hasattr(obj, "loss"):
        options.setdefault("progress", False)
        report = GradientChecker(**options).check(obj, X, y)
    else:
        report = check_layer(obj, X, y=y, **options)
    if not report.passed:
        raise GradientCheckError(report)
    return report


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-7,
                 atol: float = 0.0, name: str = "array") -> None:
    """Like numpy's assert_allclose, with a message that names the array and its worst entry."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {actual.shape}, expected {expected.shape}")
    err = np.abs(actual - expected) - atol - rtol * np.abs(expected)
    bad = ~(err <= 0)  # NaN compares False, so it counts as a difference
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -np.inf)),
                             err.shape)
        raise AssertionError(f"{name}: {int(bad.sum())} of {err.size} entries differ; "
                             f"worst at {tuple(int(k) for k in i)}: {actual[i].item()!r} vs "
                             f"expected {expected[i].item()!r}")
