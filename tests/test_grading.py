"""minnet.grading without nbgrader: the messages between the grader's processes, a submission's
layers seen from the reference process, and the verdict on each part. (tests/test_nbgrader.py
grades whole submissions, cheats included, with nbgrader.)"""

from __future__ import annotations

import inspect
import io

import numpy as np
import pytest

import minnet as mn
from minnet.grading import Backward, Forward, Network, Part, StudentClass, normal, uniform, wire
from minnet.grading.reference import Grading, grade, run_solution
from minnet.grading.remote import Submission

PRELU_CLASS = StudentClass("PReLU")
HEAD = "import numpy as np\n\nimport minnet as mn\n"
PRELU = HEAD + '''
class PReLU(mn.Layer):
    kink = 0.0

    def __init__(self, num_features, alpha=0.25):
        super().__init__()
        self.params = {"alpha": np.full(num_features, float(alpha))}
        self.grads = {"alpha": np.zeros(num_features)}

    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, self.params["alpha"] * x)

    def backward(self, dout):
        self.grads["alpha"] = (dout * np.minimum(self.x, 0)).sum(axis=0)
        return dout * np.where(self.x > 0, 1.0, self.params["alpha"])
'''
MEAN = PRELU.replace(".sum(axis=0)", ".mean(axis=0)")  # dalpha / N: the usual mistake
PARTS = [Part("grade-forward", Forward(PRELU_CLASS(5, alpha=0.2), x=normal(4, 5))),
         Part("grade-backward", Backward(PRELU_CLASS(5), x=normal(8, 5),
                                         params={"alpha": uniform(0.1, 0.5)}))]


@pytest.fixture
def run():
    """run(cells, parts) -> the verdicts on a submission of these answer cells (a string for
    one), against the solution PRELU; every submission process started is ended afterwards."""
    started = []

    def grading_of(code: str | list[str], seed=(0, 1)) -> Grading:
        cells = [code] if isinstance(code, str) else code
        submission = Submission([[f"exercise-{i}", c] for i, c in enumerate(cells)])
        started.append(submission)
        return Grading(submission, run_solution([["solution", PRELU]]), list(seed))

    def verdicts(code: str | list[str], parts=PARTS) -> list[dict]:
        g = grading_of(code)
        return [grade(p, i, g) for i, p in enumerate(parts)]

    verdicts.grading_of = grading_of
    yield verdicts
    for s in started:
        s.close()


# ---- messages -----------------------------------------------------------------------------------


def test_arrays_cross_as_numbers_of_the_same_dtype_and_shape():
    sent = [np.arange(6.0).reshape(2, 3), np.float32([1.5]), np.array(7), np.zeros((0, 4)),
            np.array([True, False]), np.arange(4, dtype=np.int16)[::2]]
    stream = io.BytesIO()
    wire.send(stream, {"op": "x", "n": [1, 2]}, sent)
    stream.seek(0)
    header, got = wire.receive(stream)
    assert header == {"op": "x", "n": [1, 2]}
    for a, b in zip(sent, got):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
        assert b.flags.writeable  # a layer may work on its input in place
    with pytest.raises(EOFError):
        wire.receive(stream)


def test_only_numbers_cross():
    with pytest.raises(TypeError, match="not an array of numbers"):
        wire.pack({}, [np.array([object()])])
    good = wire.pack({}, [np.zeros(2)])
    for bad in [good.replace(b"<f8", b"|O8"),  # an object array, if it were read: a pickle
                good.replace(b"[2]", b"[9]"),  # more numbers than the message holds
                good[:8]]:  # cut short
        stream = io.BytesIO(len(bad).to_bytes(8, "little") + bad)
        with pytest.raises(wire.WireError):
            wire.receive(stream)
    with pytest.raises(wire.WireError, match="over the limit"):
        wire.receive(io.BytesIO((2**40).to_bytes(8, "little")))


# ---- a submission's layer, seen from the reference process --------------------------------------


def test_a_remote_layer_answers_as_the_layer_itself(run):
    g = run.grading_of(PRELU)
    g.begin(0, PARTS[0])
    remote, local = g.student(PRELU_CLASS(5, alpha=0.3)), g.reference(PRELU_CLASS(5, alpha=0.3))
    assert type(remote).__name__ == "PReLU" and remote.kink == 0.0  # the solution's hint
    x, dout = np.random.default_rng(0).standard_normal((2, 8, 5))
    assert np.array_equal(remote.forward(x), local.forward(x))
    assert np.array_equal(remote.backward(dout), local.backward(dout))
    assert np.array_equal(remote.grads["alpha"], local.grads["alpha"])
    remote.params["alpha"][...] = 0.5  # params live here, and travel with each call
    assert np.array_equal(remote.forward(-np.ones((1, 5))), -0.5 * np.ones((1, 5)))


@pytest.mark.parametrize("code", [PRELU, MEAN], ids=["right", "dalpha a mean"])
def test_the_checker_says_of_a_remote_layer_what_it_says_of_the_layer(run, code):
    g = run.grading_of(code)
    g.begin(0, PARTS[0])
    x = np.random.default_rng(1).standard_normal((8, 5))
    remote = mn.check_layer(g.student(PRELU_CLASS(5)), x)
    local = mn.check_layer(run_solution([["c", code]])["PReLU"](5), x)
    assert remote.passed == local.passed == (code is PRELU)
    assert [(c.param, c.passed, c.hint) for c in remote.checks] == \
        [(c.param, c.passed, c.hint) for c in local.checks]
    assert [c.rel_error for c in remote.checks] == pytest.approx(
        [c.rel_error for c in local.checks], rel=1e-6, abs=1e-12)


# ---- verdicts -----------------------------------------------------------------------------------


def test_a_right_layer_passes_every_part(run):
    verdicts = run(PRELU)
    assert [v["passed"] for v in verdicts] == [True, True]
    assert verdicts[0]["lines"] == ["✓ PReLU(5, alpha=0.2).forward(x) gives the right values "
                                    "(x of shape (4, 5), N(0, 1))"]
    assert verdicts[1]["lines"][0].startswith("✓") and "PReLU PASSED" in verdicts[1]["lines"][0]


def test_a_wrong_gradient_fails_with_the_checkers_report(run):
    forward, backward = run(MEAN)
    assert forward["passed"] and not backward["passed"] and backward["review"] is None
    error = backward["error"]
    assert error["ename"] == "GradientCheckError"
    assert "PReLU FAILED" in error["evalue"] and "alpha" in error["evalue"]
    assert "factor" in error["text"] and "0.125" in error["text"]  # 1 / N, N = 8


def test_a_wrong_forward_fails_the_forward_part(run):
    (forward,) = run(PRELU.replace("self.params[\"alpha\"] * x)", "0.25 * x)"), PARTS[:1])
    assert forward["error"]["ename"] == "AssertionError"
    assert "PReLU(5, alpha=0.2).forward(x)" in forward["error"]["evalue"]


def test_a_wrong_forward_with_a_backward_to_match_keeps_the_backward_part(run):
    """The backward part checks backward against the student's own forward, as in the
    notebook: a slope of 2 for x > 0 everywhere is a wrong forward, not a wrong backward."""
    twice = PRELU.replace("np.where(x > 0, x,", "np.where(x > 0, 2 * x,").replace(
        "np.where(self.x > 0, 1.0,", "np.where(self.x > 0, 2.0,")
    forward, backward = run(twice)
    assert not forward["passed"] and backward["passed"]


def test_the_students_own_errors_are_shown_as_raised(run):
    stub = PRELU.replace("        self.x = x\n", "        raise NotImplementedError('no')\n")
    forward, _ = run([stub, "def ("])
    error = forward["error"]
    assert (error["ename"], error["evalue"]) == ("NotImplementedError", "no")
    assert "raise NotImplementedError" in error["text"]  # the student's line, in the traceback
    assert "cell exercise-1: SyntaxError" in error["text"]  # and the cell that did not run


@pytest.mark.parametrize("ending, ename, words", [
    ("while True:\n            pass", "TimeoutError", "the time ran out while running "
                                                       "PReLU(5, alpha=0.2).forward"),
    ("import os\n        os._exit(3)", "RuntimeError", "ended (exit code 3) while running "
                                                       "PReLU(5, alpha=0.2).forward"),
    ("return 'a string'", "TypeError", "not an array of numbers"),
])
def test_a_forward_that_hangs_ends_python_or_returns_no_numbers_fails_its_part(
        run, ending, ename, words):
    code = PRELU.replace("        self.x = x\n", f"        {ending}\n")
    parts = [Part(p.grade_id, *p.checks, seconds=1.5) for p in PARTS]
    forward, backward = run(code, parts)
    assert forward["error"]["ename"] == ename and words in forward["error"]["evalue"]
    assert backward["error"] is not None  # the next part runs too (in a fresh process if needed)


def test_what_the_students_code_prints_does_not_reach_the_messages(run):
    loud = PRELU.replace("        self.x = x\n", "        import os, sys\n        print(x)\n"
                                                   "        os.write(1, b'x' * 100)\n"
                                                   "        sys.stderr.write('warning')\n"
                                                   "        self.x = x\n")
    assert [v["passed"] for v in run(loud)] == [True, True]


@pytest.mark.parametrize("calls, passed", [(1, True), (2, False)])
def test_a_backward_that_calls_forward_twice_differentiates_numerically(run, calls, passed):
    """Once is a recomputation (allowed); twice is enough for a centered difference."""
    again = f"        for _ in range({calls}):\n            self.forward(self.x)\n"
    code = PRELU.replace("    def backward(self, dout):\n",
                         "    def backward(self, dout):\n" + again)
    _, backward = run(code)
    assert backward["passed"] is passed
    if not passed:
        assert f"called forward {calls} times" in backward["error"]["text"]
        assert "numeric differentiation" in backward["review"]


def test_each_student_gets_inputs_of_their_own(run):
    def drawn(seed):
        g = run.grading_of(PRELU, seed)
        g.begin(0, PARTS[0])
        return g.rng.standard_normal(3)
    assert np.array_equal(drawn((0, 1)), drawn((0, 1)))
    assert not np.array_equal(drawn((0, 1)), drawn((0, 2)))


def test_a_part_the_grader_cannot_run_is_reported_to_the_teacher(run):
    (verdict,) = run(PRELU, [Part("grade-other", Forward(StudentClass("Other")(), x=[1.0]))])
    assert verdict["error"]["ename"] == "GradingError"
    assert "no class Other" in verdict["review"]


def test_a_network_with_the_students_layer_is_checked_and_trained(run):
    def data():
        return mn.datasets.spiral(n_per_class=30, n_classes=3, seed=0)
    part = Part("grade-net", Network(
        layers=lambda: [mn.Dense(2, 16, seed=0), PRELU_CLASS(16), mn.Dense(16, 3, seed=1)],
        loss=mn.SoftmaxCE, data=data, optimizer=lambda: mn.Adam(1e-2), epochs=20,
        batch_size=30, accuracy=0.5, check=16))
    (right,), (wrong,) = run(PRELU, [part]), run(MEAN, [part])
    assert right["passed"] and "training accuracy" in right["lines"][0]
    assert "FAILED" in wrong["error"]["evalue"] and "PReLU" in wrong["error"]["evalue"]


def test_declarations_say_what_is_wrong_with_them():
    with pytest.raises(ValueError, match="not a Python class name"):
        StudentClass("Avg Pool")
    with pytest.raises(TypeError, match="constructor arguments must be numbers"):
        PRELU_CLASS(alpha=object())
    with pytest.raises(TypeError, match="constructor arguments must be numbers"):
        PRELU_CLASS(alpha=uniform(0.1, 0.5))  # a draw without a shape
    with pytest.raises(TypeError, match="give it one or more checks"):
        Part("grade-prelu")
    assert str(PRELU_CLASS(5, alpha=0.25)) == "PReLU(5, alpha=0.25)"
    assert str(PRELU_CLASS(w=np.ones((2, 3)), v=normal(4))) == \
        "PReLU(w=<array (2, 3)>, v=<N(0, 1) (4,)>)"
    assert str(normal(8, 5, scale=3)) == "3 × N(0, 1)" and str(uniform(0.1, 0.5)) == "U(0.1, 0.5)"


def test_a_forward_that_keeps_state_to_agree_with_its_backward_fails(run):
    """Right at the first call, then y0 + (x - x0), with a backward that returns dout: the
    gradient check alone passes it, since each agrees with the other."""
    liar = PRELU + '''
class First:
    x = y = None


def forward(self, x):
    if First.x is None or First.x.shape != x.shape:
        First.x, First.y = x.copy(), np.where(x > 0, x, self.params["alpha"] * x)
        return First.y.copy()
    return First.y + (x - First.x)


def backward(self, dout):
    self.grads["alpha"] = np.zeros_like(self.params["alpha"])
    return dout


PReLU.forward, PReLU.backward = forward, backward
'''
    g = run.grading_of(liar)
    g.begin(1, PARTS[1])
    assert mn.check_layer(g.student(PRELU_CLASS(5)), np.random.default_rng(0).standard_normal(
        (8, 5))).passed
    _, backward = run(liar)
    assert "keeps state between calls" in backward["error"]["text"] and backward["review"]


STEP = HEAD + """
class Step(mn.Layer):
    # h = tanh(x Wx + h0 Wh), the weights given to the constructor; dh0 kept after backward
    smooth = True

    def __init__(self, Wx, Wh, scale=1.0):
        super().__init__()
        self.params = {"Wx": Wx * scale, "Wh": Wh}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x, h0=None):
        self.x, self.h0 = x, np.zeros((len(x), self.params["Wh"].shape[0])) if h0 is None else h0
        self.h = np.tanh(x @ self.params["Wx"] + self.h0 @ self.params["Wh"])
        return self.h

    def backward(self, dout):
        da = dout * (1 - self.h**2)
        self.grads = {"Wx": self.x.T @ da, "Wh": self.h0.T @ da}
        self.dh0 = da @ self.params["Wh"].T
        return da @ self.params["Wx"].T
"""


def test_a_layer_built_of_arrays_taking_an_initial_state_crosses_as_the_solutions(run):
    """Constructor arguments may be arrays and draws (built the same on both sides), and the
    remote layer takes what the solution's forward takes (h0=...), keeping dh0 as it does."""
    step = StudentClass("Step")(normal(3, 4), Wh=np.eye(4) / 2, scale=0.5)
    g = run.grading_of(STEP)
    g.solution = run_solution([["solution", STEP]])
    g.begin(0, PARTS[0])
    built = step.drawn(g.rng)
    remote, local = g.student(built), g.reference(built)
    assert "Step(<N(0, 1) (3, 4)>, Wh=<array (4, 4)>, scale=0.5)" == str(step)
    assert remote.smooth and remote.keep == ("dh0",)
    assert list(inspect.signature(remote.forward).parameters) == ["x", "h0"]
    x, h0, dout = (np.random.default_rng(2).standard_normal((5, n)) for n in (3, 4, 4))
    assert np.array_equal(remote.forward(x, h0=h0), local.forward(x, h0=h0))
    assert np.array_equal(remote.backward(dout), local.backward(dout))
    assert np.array_equal(remote.dh0, local.dh0)
    assert np.array_equal(remote.grads["Wx"], local.grads["Wx"])
    assert np.array_equal(remote.forward(x), local.forward(x))  # h0=None: zeros, both sides
    verdict = grade(Part("grade-step", Backward(step, x=normal(5, 3))), 1, g)
    assert verdict["passed"], verdict


SCALED = """
import numpy as np
import minnet as mn


class Scaled(mn.Layer):
    smooth = True

    def __init__(self, d):
        super().__init__()
        self.d = d

    def forward(self, x):
        return x / np.sqrt(self.d)

    def backward(self, dout):
        return dout
"""


def test_the_graders_copy_of_a_layer_is_reported_as_the_layer_itself():
    namespace = {}
    exec(SCALED, namespace)
    x = np.random.default_rng(0).standard_normal((3, 5))
    submission = Submission([["exercise", SCALED]])
    try:
        submission.part(60)
        remote = submission.make("Scaled", (4,), {}, "Scaled(4)", namespace["Scaled"])
        here, there = mn.check_layer(namespace["Scaled"](4), x), mn.check_layer(remote, x)
    finally:
        submission.close()
    assert "its settings: d = 4" in str(there) and "handle" not in str(there)
    assert "a scale 1/√4 missing" in str(there)
    assert str(here).splitlines()[0] == str(there).splitlines()[0]
