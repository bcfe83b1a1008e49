"""No student gradient crashes a check: a gradient that cannot be compared (missing, None, a
list, a number, integers, the wrong shape) or a backward that raises is a FAIL row with a plain
sentence, in every entry point: the model check, check_layer, fit(debug=True), the command line
and an assignment's grading cell. The layer named is the one that made the mistake."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minnet as mn
from minnet import cli

ROOT = Path(__file__).resolve().parent.parent


class Scale(mn.Layer):
    """y = x · a, one factor per feature; the backward of each mistake below replaces it."""

    def __init__(self, features=5):
        super().__init__()
        self.params = {"a": np.ones(features)}
        self.grads = {"a": np.zeros(features)}

    def forward(self, x):
        self.x = x
        return x * self.params["a"]

    def backward(self, dout):
        self.grads["a"] = (dout * self.x).sum(axis=0)
        return dout * self.params["a"]


def mistake(backward):
    return type(backward.__name__, (Scale,), {"backward": backward})


def not_summed(self, dout):
    self.grads["a"] = dout * self.x
    return dout * self.params["a"]


def missing_key(self, dout):
    self.grads = {}
    return dout * self.params["a"]


def none(self, dout):
    self.grads["a"] = None
    return dout * self.params["a"]


def a_list(self, dout):
    self.grads["a"] = list((dout * self.x).sum(axis=0))
    return dout * self.params["a"]


def a_number(self, dout):
    self.grads["a"] = float((dout * self.x).sum())
    return dout * self.params["a"]


def integers(self, dout):
    self.grads["a"] = (dout * self.x).sum(axis=0).astype(int)
    return dout * self.params["a"]


def raises(self, dout):
    return dout * self.parms["a"]


def dx_transposed(self, dout):
    self.grads["a"] = (dout * self.x).sum(axis=0)
    return (dout * self.params["a"]).T


def dx_none(self, dout):
    self.grads["a"] = (dout * self.x).sum(axis=0)


def dx_summed(self, dout):
    self.grads["a"] = (dout * self.x).sum(axis=0)
    return (dout * self.params["a"]).sum(axis=0)


N = 8
MISTAKES = {  # the tensor, and words of the sentence the row must carry
    not_summed: ("a", f"shape (8, 5), the tensor (5,): it was broadcast over axis 0 "
                      f"(the batch, N = {N}) in forward, so its gradient is the sum over it"),
    missing_key: ("a", "missing: backward did not store grads['a']"),
    none: ("a", "None: backward stored None, not an array"),
    a_list: ("a", "a list, not a numpy array"),
    a_number: ("a", "a single number: was the sum taken over every axis"),
    integers: ("a", "dtype int64: a gradient holds floating-point numbers"),
    raises: ("input", "backward raised AttributeError"),
    dx_transposed: ("input", "transposed: the gradient has shape (5, 8), the tensor (8, 5)"),
    dx_none: ("input", "backward returned None: it must return dL/dx"),
    dx_summed: ("input", "shape (5,), the tensor (8, 5): was it summed over axis 0"),
}
IDS = [f.__name__ for f in MISTAKES]


def model_with(layer):
    X = np.random.default_rng(0).standard_normal((N, 4))
    y = np.arange(N) % 3
    return mn.Model([mn.Dense(4, 5, seed=0), layer, mn.Dense(5, 3, seed=1)],
                    loss=mn.SoftmaxCE()), X, y


@pytest.mark.parametrize("backward", MISTAKES, ids=IDS)
def test_check_layer_gives_a_fail_row_with_the_sentence(backward):
    tensor, words = MISTAKES[backward]
    result = mn.check_layer(mistake(backward)(), np.random.default_rng(1).standard_normal((N, 5)))
    assert not result.passed
    (row,) = [c for c in result.checks if c.param == tensor]
    assert not row.passed and words in row.hint
    assert words in str(result).splitlines()[0]


@pytest.mark.parametrize("mode", ["full", "auto", "sample", "directional"])
@pytest.mark.parametrize("backward", MISTAKES, ids=IDS)
def test_the_model_check_names_the_layer_that_made_the_mistake(backward, mode):
    tensor, words = MISTAKES[backward]
    model, X, y = model_with(mistake(backward)())
    report = mn.GradientChecker(mode=mode, progress=False).check(model, X, y)
    assert not report.passed and [s.layer_index for s in report.suspects] == [1]
    assert report.headline().startswith(f"Gradient check FAILED: the backward of layer 1 "
                                        f"({backward.__name__}) is wrong")
    assert words in report.headline()
    json.dumps(report.to_dict())  # a report of a broken gradient is still plain data
    if tensor == "input":  # dL/dx never reached layer 0: its rows say so
        assert {c.status for c in report.params if c.layer_index == 0} == {"not reached"}


@pytest.mark.parametrize("backward", MISTAKES, ids=IDS)
def test_fit_debug_raises_the_report_and_leaves_the_model(backward):
    model, X, y = model_with(mistake(backward)())
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(mn.GradientCheckError) as raised:
        model.fit(X, y, epochs=1, debug=True, progress=False)
    assert MISTAKES[backward][1] in str(raised.value)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.parameters()))


LAYER_FILE = textwrap.dedent("""
    import numpy as np
    import minnet as mn


    class Gain(mn.Layer):
        \"\"\"y = x * g, one learned gain for every feature.\"\"\"

        def __init__(self):
            super().__init__()
            self.params = {"g": np.ones(1)}
            self.grads = {"g": np.zeros(1)}

        def forward(self, x):
            self.x = x
            return x * self.params["g"]

        def backward(self, dout):
            self.grads["g"] = dout * self.x  # not summed
            return dout * self.params["g"]
""")


def test_the_command_line_prints_the_report_and_exits_1_without_a_traceback(tmp_path, capsys):
    (tmp_path / "gain.py").write_text(LAYER_FILE)
    code = cli.main(["check", "--data", "xor", "--hidden", "4", "--quiet",
                     "--activation", f"{tmp_path / 'gain.py'}:Gain"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert "Gradient check FAILED: the backward of layer 1 (Gain) is wrong" in out
    assert "the tensor (1,): it was broadcast over axis 0 (the batch, N = 32) and axis " \
        "1 (of 4) in forward, so its gradient is the sum over them: is that sum missing?" in out


def grading_cell(source: Path, grade_id: str) -> str:
    cells = json.loads(source.read_text())["cells"]
    return next("".join(c["source"]) for c in cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def test_assignment_05s_grading_cell_fails_with_the_report_for_a_gradient_not_summed():
    """What nbgrader's feedback shows for the most common bug: the report, not a crash."""
    source = ROOT / "tutorials" / "source" / "05_assignment" / "05_assignment.ipynb"
    right = 'self.grads["alpha"] = (dout * np.minimum(self.x, 0)).sum(axis=0)'
    solution = grading_cell(source, "exercise-prelu")
    assert right in solution
    space: dict = {}
    exec(grading_cell(source, "imports"), space)
    exec(solution.replace(right, right.replace(".sum(axis=0)", "")), space)
    with pytest.raises(mn.GradientCheckError) as raised:
        exec(grading_cell(source, "grade-prelu"), space)
    assert "the tensor (5,): it was broadcast over axis 0 (the batch, N = 8)" in \
        str(raised.value)


class ConvKeepsPadding(mn.Conv2D):
    def backward(self, dout):
        p, self.padding = self.padding, 0
        try:  # the parent's backward, with the padding not cut off
            return super().backward(dout)
        finally:
            self.padding = p


class ConvBiasNotSummed(mn.Conv2D):
    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["b"] = dout.sum(axis=0)  # summed over the batch, not over the pixels
        return dx


@pytest.mark.parametrize("make, tensor, words", [
    (lambda: ConvKeepsPadding(2, 3, 3, padding=1, seed=0), "input",
     "shape (4, 2, 7, 7), the tensor (4, 2, 5, 5): 2 larger along axes 2 and 3: is a padding of "
     "1 on each side still on?"),
    (lambda: ConvBiasNotSummed(2, 3, 3, padding=1, seed=0), "b",
     "shape (3, 5, 5), the tensor (3,): is the sum over axis 1 (of 5), axis 2 (of 5) missing?"),
])
def test_a_conv_layers_shape_mistakes_are_named_in_a_model(make, tensor, words):
    X = np.random.default_rng(0).standard_normal((4, 2, 5, 5))
    model = mn.Model([mn.Conv2D(2, 2, 3, padding=1, seed=1), make(), mn.Flatten(),
                      mn.Dense(75, 3, seed=2)], loss=mn.SoftmaxCE())
    report = mn.GradientChecker(progress=False).check(model, X, np.arange(4) % 3)
    assert [s.layer_index for s in report.suspects] == [1]
    (row,) = [c for c in report.suspects[0].checks if c.param == tensor]
    assert not row.passed and words in row.hint
