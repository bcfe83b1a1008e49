"""What a teacher declares: the graded parts of an assignment, each a grading cell and its checks.

An assignment's folder in the course (source/NAME/) holds, next to its notebook, a file
`grading.py` with a list PARTS (docs/teaching.md, "Declare the graded parts"):

    from minnet.grading import Backward, Forward, Part, StudentClass, normal, uniform

    PReLU = StudentClass("PReLU")   # a class the students write, by its name in the notebook

    PARTS = [
        Part("grade-prelu",            # the grading cell whose points this part decides
             Forward(PReLU(3, alpha=0.25), x=normal(2, 3)),
             Backward(PReLU(5), x=normal(8, 5), params={"alpha": uniform(0.1, 0.5)})),
    ]

That file runs in the reference process only. `PReLU(5)` is built twice there: from the
student's code (in the submission's process) and from the solution in the source notebook.
Inputs written as numbers are used as they are; `normal` and `uniform` are drawn afresh for each
student, from the course's seed, the student and the assignment, so every student gets inputs
of their own, and the same ones each time their submission is graded.

A check is any object with `run(grading) -> str`: it returns the line the feedback shows when
it passes and raises (AssertionError, GradientCheckError) when it fails; see reference.Grading
for what it may ask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..gradcheck import GradientChecker, GradientCheckError, check_layer
from ..model import Model
from ..testing import assert_close
from .remote import CallLog
from .wire import write_into


@dataclass(frozen=True)
class Built:
    """A construction of a student's class: its name and constructor arguments (numbers,
    strings, arrays, Random draws, and lists or dicts of them)."""

    name: str
    args: tuple
    kwargs: dict

    def __str__(self) -> str:
        words = [shown(a) for a in self.args] + [f"{k}={shown(v)}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(words)})"

    def drawn(self, rng: np.random.Generator) -> Built:
        """The same construction with each Random argument drawn: what both sides are built of."""
        def draw(v):
            if isinstance(v, Random):
                return v.draw(rng)
            if isinstance(v, (list, tuple)):
                return type(v)(draw(x) for x in v)
            return {k: draw(x) for k, x in v.items()} if isinstance(v, dict) else v
        return Built(self.name, draw(self.args), draw(self.kwargs))


class StudentClass:
    """A class the students write; calling it with constructor arguments gives a Built."""

    def __init__(self, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"StudentClass: {name!r} is not a Python class name")
        self.name = name

    def __call__(self, *args, **kwargs) -> Built:
        bad = [v for v in _leaves([args, kwargs]) if not _sendable(v)]
        if bad:
            raise TypeError(f"{self.name}: constructor arguments must be numbers, strings, arrays "
                            f"of numbers or Random draws, or lists or dicts of them (they are "
                            f"sent to another process), not {type(bad[0]).__name__}")
        return Built(self.name, args, kwargs)


def _leaves(v):
    if isinstance(v, (list, tuple)):
        return [x for item in v for x in _leaves(item)]
    if isinstance(v, dict):
        return [x for item in v.values() for x in _leaves(item)]
    return [v]


def _sendable(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "biuf"
    if isinstance(v, Random):
        return bool(v.shape)
    return v is None or isinstance(v, (bool, int, float, str))


def shown(v) -> str:
    """A constructor argument as a call shows it: arrays and draws by their shape."""
    if isinstance(v, np.ndarray):
        return f"<array {v.shape}>"
    if isinstance(v, Random):
        return f"<{v} {v.shape}>"
    return repr(v)


@dataclass(frozen=True)
class Random:
    """Numbers drawn in the reference process; see normal() and uniform()."""

    law: str  # "normal" or "uniform"
    a: float  # scale, or low
    b: float  # unused, or high
    shape: tuple  # () means: the shape of the array it replaces (a parameter)

    def draw(self, rng: np.random.Generator, like: tuple = ()) -> np.ndarray:
        shape = self.shape or like
        if self.law == "normal":
            return self.a * rng.standard_normal(shape)
        return rng.uniform(self.a, self.b, shape)

    def __str__(self) -> str:
        if self.law == "normal":
            return "N(0, 1)" if self.a == 1 else f"{self.a:g} × N(0, 1)"
        return f"U({self.a:g}, {self.b:g})"


def normal(*shape: int, scale: float = 1.0) -> Random:
    """scale × standard normal numbers of this shape."""
    return Random("normal", scale, 0.0, shape)


def uniform(low: float, high: float, *shape: int) -> Random:
    """Uniform numbers in [low, high) of this shape (a parameter's own shape if none)."""
    return Random("uniform", low, high, shape)


def value(spec, rng: np.random.Generator, like: tuple = ()) -> np.ndarray:
    return spec.draw(rng, like) if isinstance(spec, Random) else np.array(spec, dtype=np.float64)


def described(x: np.ndarray, spec) -> str:
    return f"x of shape {x.shape}" + (f", {spec}" if isinstance(spec, Random) else "")


# ---- the checks -------------------------------------------------------------------------------


@dataclass
class Forward:
    """forward's values against the solution's: same construction, same params, same input."""

    layer: Built
    x: object  # numbers, or a Random
    params: dict = field(default_factory=dict)  # name -> numbers or Random, set in both
    rtol: float = 1e-7
    atol: float = 1e-12

    def run(self, grading) -> str:
        x, layer = value(self.x, grading.rng), self.layer.drawn(grading.rng)
        mine, ref = grading.student(layer), grading.reference(layer)
        set_params(self.params, grading.rng, self.layer, mine, ref)
        expected = ref.forward(x.copy())
        assert_close(mine.forward(x.copy()), expected, rtol=self.rtol, atol=self.atol,
                     name=f"{self.layer}.forward(x)")
        return f"✓ {self.layer}.forward(x) gives the right values ({described(x, self.x)})"


@dataclass
class Backward:
    """check_layer on the student's layer: its backward against the numeric gradient of its own
    forward, taken here from the values that forward answers in the submission's process."""

    layer: Built
    x: object
    params: dict = field(default_factory=dict)
    seed: int | None = None  # of the checker's upstream gradient; None: drawn for each student

    def run(self, grading) -> str:
        x, layer = value(self.x, grading.rng), self.layer.drawn(grading.rng)
        mine, ref = grading.student(layer), grading.reference(layer)
        set_params(self.params, grading.rng, self.layer, mine, ref)
        same_params(self.layer, mine, ref)
        mine.log = CallLog()
        report = check_layer(mine, x, seed=grading.seed() if self.seed is None else self.seed)
        grading.audit()
        grading.consistent(mine, ref)
        if not report.passed:
            raise GradientCheckError(report)
        grading.exact(mine, ref, x)
        return f"✓ {str(report).splitlines()[0]} ({described(x, self.x)})"


@dataclass
class Network:
    """A network with the students' layers in it: checked as a whole, trained, measured.

    `layers` returns minnet layers and Built student layers in order; `data` returns (X, y),
    trained on and measured on, or (X, y, X_test, y_test). It passes when the gradient check of
    the whole network on the first `check` samples passes and, after fit, the accuracy is above
    `accuracy`. The data being fixed, the checker's own seed is too, as in a grading cell.
    """

    layers: Callable[[], list]
    loss: Callable
    data: Callable[[], tuple]
    optimizer: Callable
    epochs: int
    batch_size: int
    accuracy: float
    check: int = 32

    def run(self, grading) -> str:
        data = self.data()
        X, y = data[:2]
        model = Model([grading.student(x.drawn(grading.rng)) if isinstance(x, Built) else x
                       for x in self.layers()], loss=self.loss())
        report = GradientChecker(progress=False).check(model, X[:self.check], y[:self.check])
        grading.audit()
        if not report.passed:
            raise GradientCheckError(report)
        model.fit(X, y, epochs=self.epochs, batch_size=self.batch_size,
                  optimizer=self.optimizer(), seed=0, progress=False)
        grading.audit()
        what = "test accuracy" if len(data) == 4 else "training accuracy"
        accuracy = model.evaluate(*data[-2:])["accuracy"]
        if not accuracy > self.accuracy:
            raise AssertionError(f"{what} {accuracy:.1%}, not above {self.accuracy:.0%}: the "
                                 f"network should learn; are forward and backward both right?")
        return f"✓ the network passes its gradient check and learns: {what} {accuracy:.1%}"


@dataclass
class Part:
    """A grading cell's points, decided by checks that run outside the notebook."""

    grade_id: str
    checks: tuple
    seconds: float = 120.0  # for all its checks together, the student's code included

    def __init__(self, grade_id: str, *checks, seconds: float = 120.0) -> None:
        if not checks or not all(callable(getattr(c, "run", None)) for c in checks):
            raise TypeError(f"Part {grade_id!r}: give it one or more checks (Forward, "
                            f"Backward, Network, or an object with run(grading))")
        self.grade_id, self.checks, self.seconds = grade_id, checks, seconds


def set_params(specs: dict, rng, layer: Built, *objects) -> None:
    """Draw each declared param once and write it into every object (student's, solution's)."""
    for name, spec in specs.items():
        shapes = {np.shape(o.params[name]) for o in objects if name in o.params}
        if len(shapes) != 1 or any(name not in o.params for o in objects):
            raise AssertionError(f"{layer}.params[{name!r}]: missing, or not of the shape "
                                 f"{np.shape(objects[-1].params.get(name))} it should have")
        drawn = value(spec, rng, shapes.pop())
        for o in objects:
            write_into(o.params, [name], [drawn.copy()])


def same_params(layer: Built, mine, ref) -> None:
    """The student's layer has the solution's parameters: the same names and shapes."""
    have = {k: np.shape(v) for k, v in mine.params.items()}
    want = {k: np.shape(v) for k, v in ref.params.items()}
    if have != want:
        raise AssertionError(f"{layer}.params holds {have or 'nothing'}; expected {want}")
