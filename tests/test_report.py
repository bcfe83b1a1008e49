"""The report as a student reads it: the culprit first, words that fit, columns explained."""

import numpy as np
import pytest
from planted import BUGS, mlp

import minnet as mn


def check(model, X, y, **options):
    return mn.GradientChecker(progress=False, **options).check(model, X, y)


def bug(name):
    return next(b for b in BUGS if b.name == name).build(0)


def test_the_headline_names_the_culprit_and_its_tensor_first():
    report = check(*bug("ReLU mask inverted"))
    assert str(report).startswith("Gradient check FAILED: the backward of layer 1 "
                                  "(ReLUInvertedMask) is wrong: its input gradient dL/dx")
    assert "inverted mask" in str(report).split("\n")[0]


def test_the_loss_is_called_the_loss_never_layer_n():
    report = check(*bug("softmax CE forgets 1/N"))
    text = str(report)
    assert "the loss (SoftmaxCEForgetsN)" in text.split("\n")[0]
    assert "layer 3" not in text
    assert "loss SoftmaxCEForgetsN" in text  # its row in the table
    assert "dL/dscores" in report.advice and "y=y" in report.advice


def test_what_to_do_fits_a_parameter_an_input_and_the_model():
    assert "fix grads['W']" in check(*bug("dW times 2")).advice
    assert "fix the gradient it returns (dL/dx)" in check(*bug("ReLU mask inverted")).advice
    assert "Model.backward must add the l2 term" in check(*bug("l2 term missing from backward")
                                                          ).advice


def test_the_checked_alone_section_says_how_and_why_its_numbers_differ():
    text = str(check(*bug("sigmoid backward sign flipped")))
    assert "J = Σ layer(x)·G for a fixed random upstream gradient G" in text
    assert "These numbers differ from the table above" in text


def test_a_tensor_without_effect_on_the_loss_says_so():
    model = mn.Model([mn.Dense(4, 3, seed=0), mn.BatchNorm(3), mn.Tanh(), mn.Dense(3, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    X = np.random.default_rng(0).standard_normal((6, 4))
    report = check(model, X, np.arange(6) % 2)
    b = report.params[1]
    assert report.passed and b.status == "no effect" and "no effect on the loss" in b.hint
    assert report.params[0].status == "ok"


def test_explain_describes_every_column():
    text = mn.GradientChecker(progress=False).check(*mlp()(0)).explain()
    for column in ("checked", "wrong", "kinks", "rel_error", "worst at", "analytic", "numeric",
                   "verdict"):
        assert text.count("\n" + column) + text.startswith(column) == 1, column
    assert "centered difference" in text and "accumulating" in text


def test_html_has_the_same_content_with_failing_rows_marked():
    report = check(*bug("dW times 2"))
    page = report._repr_html_()
    assert page.count("<tr") == 1 + len(report.params) + 1 + sum(len(s.checks) for s in
                                                                  report.suspects)
    assert page.count("background:#fde2e2") == sum(not c.passed for c in report.params) + 1
    assert "factor: analytic ≈ 2 × numeric" in page and "What to do" in page
    assert "<b>Gradient check FAILED: the backward of layer 0 (DenseTimes2)" in page
    lone = mn.check_layer(mn.Tanh(), np.ones((2, 3)))
    assert "PASSED" in lone._repr_html_() and "<table>" in lone._repr_html_()


class Forgot(mn.Layer):
    def __init__(self):
        self.scale = 2.0  # no super().__init__()

    def forward(self, x):
        return self.scale * x

    def backward(self, dout):
        return self.scale * dout


class ReturnsNothing(mn.Layer):
    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, dout):
        self.dx = dout * (1 - np.tanh(self.x) ** 2)  # forgot to return it


class ClipsItsInput(mn.Layer):
    def forward(self, x):
        x[x < 0] = 0  # in place: the caller's array changes
        self.x = x
        return x

    def backward(self, dout):
        return dout * (self.x > 0)


def test_mistakes_that_are_not_gradients_are_named():
    x = np.random.default_rng(0).standard_normal((4, 3))
    with pytest.raises(TypeError, match=r"super\(\).__init__\(\)"):
        mn.check_layer(Forgot(), x)
    with pytest.raises(TypeError, match=r"super\(\).__init__\(\)"):
        mn.Model([mn.Dense(3, 3), Forgot()], loss=mn.MSE())
    result = mn.check_layer(ReturnsNothing(), x)
    assert not result.passed and "backward returned None: it must return dL/dx" in str(result)
    model = mn.Model([mn.Dense(3, 3, seed=0), ReturnsNothing(), mn.Dense(3, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    report = check(model, x, np.array([0, 1, 0, 1]))  # a FAIL with the culprit, not a crash
    assert [s.layer_index for s in report.suspects] == [1]
    assert report.headline().startswith("Gradient check FAILED: the backward of layer 1 "
                                        "(ReturnsNothing) is wrong")
    assert "backward returned None: it must return dL/dx" in report.headline()
    assert {c.status for c in report.params if c.layer_index == 0} == {"not reached"}
    x_before = x.copy()
    result = mn.check_layer(ClipsItsInput(), x)
    assert np.array_equal(x, x_before)
    assert "forward changes its input in place" in str(result)


def test_a_row_that_passes_only_by_the_round_off_floor_says_so_and_the_header_states_the_floor():
    """BatchNorm's dx sums to zero: on this batch its entries are ~1e-6, and their rel_error
    3e-6 is above the tolerance; the entries agree within round-off, and the report says so."""
    result = mn.check_layer(mn.BatchNorm(4), np.random.default_rng(0).standard_normal((8, 4)))
    assert result.passed
    (floor,) = [c for c in result.checks if c.rel_error > 1e-6]
    assert floor.param == "input" and floor.status == "ok"
    assert floor.hint.startswith("ok by the round-off floor: rel_error 3.0e-06 is above 1e-06")
    text = str(result)
    assert "or when no entry is off by more than 2e-07 (round-off; a row that passes only so " \
        "says it)" in text
    assert all(c.rel_error <= 1e-6 or (c.hint or "").startswith("ok by the round-off floor")
               for c in result.checks)


def test_check_function_says_what_it_measured_when_no_pattern_fits():
    x = np.random.default_rng(0).standard_normal((3, 4))
    result = mn.check_function(lambda x: np.sum(np.sin(x) * x), x, np.cos(x))
    assert not result.passed and result.hint is None
    head = str(result).splitlines()[0]
    assert "None" not in head
    assert head.startswith("Gradient check of f FAILED: rel_error 7.1e-01, wrong at 12 of 12 "
                           "entries; the worst at (2, 0): analytic +7.6243e-01, numeric")


class LearnedStart(mn.Layer):
    """A learned initial state kept as a parameter named h0; backward forgets its gradient."""

    def __init__(self):
        super().__init__()
        r = np.random.default_rng(0)
        self.params = {"W": r.normal(size=(3, 3)), "h0": r.normal(size=(3,))}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["h0"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["h0"] = np.zeros(3)  # BUG: should be dout.sum(axis=0)
        return dout @ self.params["W"].T


def test_a_parameter_named_h0_is_a_parameter_not_an_initial_state():
    text = str(mn.check_layer(LearnedStart(), np.random.default_rng(1).normal(size=(4, 3))))
    assert "fix grads['h0']" in text and "grads['h0']) is wrong" in text
    assert "self.dh0" not in text


def test_a_loss_that_is_nan_names_the_first_layer_whose_output_is_not_finite():
    class Log(mn.Layer):
        def forward(self, x):
            self.x = x
            return np.log(x)

        def backward(self, dout):
            return dout / self.x

    model = mn.Model([mn.Dense(3, 3, seed=0), Log(), mn.Dense(3, 2, seed=1)], mn.SoftmaxCE())
    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.array([0, 1] * 3)
    with np.errstate(invalid="ignore", divide="ignore"):
        report = mn.GradientChecker(progress=False).check(model, X, y)
    headline = str(report).splitlines()[0]
    assert not report.passed and "nondeterminism" not in str(report)
    assert headline.startswith("Gradient check FAILED: the loss is nan at these parameters: the "
                               "output of layer 1 (Log) is the first to hold NaN or inf")
