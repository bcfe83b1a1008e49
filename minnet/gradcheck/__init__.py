"""Gradient checking: compare backprop with centered differences and say where it is wrong.

Read in this order:
    numeric.py   the textbook algorithm on one screen (numeric_gradient, rel_error): the
                 reference every faster path here equals; it imports nothing of minnet
    verdicts.py  agree or not, per tensor, and the pattern of a wrong gradient (hints)
    function.py  check_function: the textbook check on any function, with a verdict
    report.py    ParamCheck, LayerCheck, CheckReport: what a check found, as tables
    shapes.py    gradients that cannot be compared (missing, None, a list, a wrong shape)
    calls.py     calling a user's layer safely: copies, rewound randomness, proven shortcuts
    training.py  what training computes: the analytic side, and arrays changed in place
    kinks.py     perturbations that straddle a corner (ReLU at 0): compared one-sided
    probe.py     J under perturbations, for a whole model or one layer
    diagnose.py  what kind of mistake a wrong gradient is, from the structure of the error:
                 axes.py, structure.py, elementwise.py, normalization.py, pairing.py,
                 flow.py measure it; show.py prints the tensor, yours beside the true one
    wiring.py    how a model wires its layers: in place, shared arrays, a layer used twice
    checker.py   GradientChecker and check_layer: verdicts, then the layers to blame
    restore.py   the model is put back bit for bit, whether the check returns or raises
    sweep.py     error against eps: the V;   debug.py   fit(debug=True)
"""

from .calls import trusted
from .checker import (
    DIRECTIONS,
    FULL_LIMIT,
    LAYER_SAMPLES,
    MODES,
    SAMPLES,
    GradientChecker,
    check_layer,
)
from .debug import DEBUG_BATCH, debug_check, debug_requested
from .function import check_function
from .numeric import DEFAULT_EPS, DEFAULT_TOL, numeric_gradient, rel_error
from .report import CheckReport, FunctionCheck, GradientCheckError, LayerCheck, ParamCheck
from .restore import Preserved
from .sweep import eps_sweep
from .verdicts import ATOL, SECOND_LOOK, compare, pattern

__all__ = [
    "ATOL", "DEBUG_BATCH", "DEFAULT_EPS", "DEFAULT_TOL", "DIRECTIONS", "FULL_LIMIT",
    "LAYER_SAMPLES", "MODES", "SAMPLES", "SECOND_LOOK", "CheckReport", "FunctionCheck",
    "GradientCheckError", "GradientChecker", "LayerCheck", "ParamCheck", "Preserved",
    "check_function", "check_layer", "compare", "debug_check", "debug_requested", "eps_sweep",
    "numeric_gradient", "pattern", "rel_error", "trusted",
]
