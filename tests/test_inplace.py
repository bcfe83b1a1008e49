"""The check judges what training computes: a change in place that corrupts training's gradient
fails, and names the layer that made it and the one that kept the array; a harmless one passes.
Every verdict equals the textbook's (tests/inplace.py), in every mode, fast or not, and in
fit(debug=True)."""

import numpy as np
import pytest
from inplace import CASES, truth

import minnet as mn

MODES = ("full", "sample", "directional", "auto")
IDS = [c.name for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_textbook_says_which_cases_are_harmful(case):
    error = truth(case)
    assert (error > 1e-3) if case.harmful else (error < 1e-8), error


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_verdict_is_the_textbooks_in_every_mode(case, mode, fast):
    model, X, y = case.build()
    report = mn.GradientChecker(mode=mode, fast=fast, progress=False).check(model, X, y)
    assert report.passed == (not case.harmful), str(report)


@pytest.mark.parametrize("case", [c for c in CASES if c.harmful], ids=lambda c: c.name)
def test_a_harmful_change_names_the_layer_that_made_it_and_the_one_that_kept_the_array(case):
    model, X, y = case.build()
    report = mn.GradientChecker(progress=False).check(model, X, y)
    assert case.changer in [s.layer_index for s in report.suspects]
    objects = [*model.layers, model.loss]
    changer = f"layer {case.changer} ({type(objects[case.changer]).__name__})" \
        if case.changer < len(model.layers) else f"the loss ({type(model.loss).__name__})"
    holder = f"layer {case.holder} ({type(objects[case.holder]).__name__})"
    assert report.headline().startswith(f"Gradient check FAILED: {changer} ")
    assert f"; {holder} kept that array" in report.headline()
    assert report.advice.startswith("What to do: ") and changer in report.advice


def test_the_report_reads_as_plainly_as_pytorchs_error():
    model, X, y = CASES[0].build()
    report = mn.GradientChecker(progress=False).check(model, X, y)
    assert report.headline().startswith(
        "Gradient check FAILED: layer 2 (DoubleInPlace) changes its input in place; layer 1 "
        "(MyTanh) kept that array (self.out) for its backward")
    assert "x *= 2" in report.advice and "y = x * 2 makes a new array" in report.advice


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_fit_debug_raises_exactly_when_training_would_suffer_and_leaves_the_model(case, capsys):
    model, X, y = case.build()
    before = [p.copy() for p in model.parameters()]
    if case.harmful:
        with pytest.raises(mn.GradientCheckError):
            model.fit(X, y, epochs=1, progress=False, debug=True)
        assert all(np.array_equal(a, b) for a, b in zip(before, model.parameters()))
    else:
        model.fit(X, y, epochs=1, progress=False, debug=True)
        assert "gradient check passed" in capsys.readouterr().out
