"""Submissions of the shipped assignments, as students hand them in: right, wrong, and cheating.

`submission(a, edit)` is the student version of an assignment with every exercise written as
the source's solution (without its region markers), optionally edited. Each CHEATS entry edits
05's PReLU cell of a wrong solution (dalpha a mean instead of a sum) with one trick that changes
a grade from inside the notebook; `works_in_notebook` names the grading cells the trick makes
pass when the checks run in the notebook's own kernel, as they did before minnet's grader.
Used by tests/test_nbgrader.py and bench/autograde_cost.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"


@dataclass
class Assignment:
    name: str
    exercises: list[str]  # grade_ids of the solution cells, in notebook order
    points: dict[str, int]  # grade_id of each grading cell -> its points
    stubs: int  # solution regions, each replaced by a stub that raises NotImplementedError
    right: str  # a line of the solution...
    wrong: str  # ...and the bug a student makes of it
    partial: dict[str, int]  # what the buggy submission scores

    @property
    def notebook(self) -> str:
        return f"{self.name}.ipynb"

    @property
    def source(self) -> Path:  # the teacher's, solutions inside
        return TUTORIALS / "source" / self.name / self.notebook

    def bug(self, code: str) -> str:
        return code.replace(self.right, self.wrong)


PRELU = 'self.grads["alpha"] = (dout * np.minimum(self.x, 0)).sum(axis=0)'
A05 = Assignment("05_assignment", ["exercise-softplus", "exercise-prelu"],
                 {"grade-softplus": 3, "grade-prelu": 4, "grade-network": 3},
                 stubs=4, right=PRELU, wrong=PRELU.replace(".sum(", ".mean("),
                 partial={"grade-softplus": 3, "grade-prelu": 0, "grade-network": 0})
A06 = Assignment("06_convolutions", ["exercise-avgpool"],
                 {"grade-avgpool-forward": 2, "grade-avgpool-backward": 4,
                  "grade-avgpool-network": 2},
                 stubs=2, right="dout[..., None, None] / k**2", wrong="dout[..., None, None]",
                 partial={"grade-avgpool-forward": 2, "grade-avgpool-backward": 0,
                          "grade-avgpool-network": 0})
DC = "dc = dnext_c + dnext_h * o * (1 - tanh_c**2)"
A07 = Assignment("07_backprop_through_time", ["exercise-lstm-step"],
                 {"grade-lstm-step-h": 3, "grade-lstm-step-c": 3, "grade-lstm-sequence": 2,
                  "grade-lstm-network": 2},
                 stubs=1, right=DC, wrong=DC.replace("dnext_c + ", ""),  # the cell path missing
                 partial={"grade-lstm-step-h": 3, "grade-lstm-step-c": 0,
                          "grade-lstm-sequence": 0, "grade-lstm-network": 0})
SCALED = "dS = self.softmax_backward(A, dA) / np.sqrt(self.head_dim)"
A08 = Assignment("08_attention_by_hand", ["exercise-attention"],
                 {"grade-softmax-backward": 2, "grade-attention-backward": 5,
                  "grade-attention-block": 3},
                 stubs=2, right=SCALED, wrong=SCALED.replace(" / np.sqrt(self.head_dim)", ""),
                 partial={"grade-softmax-backward": 2, "grade-attention-backward": 0,
                          "grade-attention-block": 0})


def submission(a: Assignment, edit=None, grading: str | None = None, course: Path = TUTORIALS):
    """The student version (of `course`, a course folder or tutorials/) with each exercise
    written as the source's solution, optionally edited, and the grading cells optionally
    replaced by `grading`."""
    source = course / "source" / a.name / a.notebook
    solved = {c.metadata.nbgrader.grade_id: c.source for c in read(source).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    released = course / "release" / a.name / a.notebook
    nb = read(released if released.exists() else course / a.notebook)
    for c in nb.cells:
        grader = c.metadata.get("nbgrader", {})
        if grader.get("grade_id") in solved:
            code = re.sub(r"\n *### (BEGIN|END) SOLUTION", "", solved[grader["grade_id"]])
            c.source = edit(code) if edit else code
        elif grader.get("grade") and grading is not None:
            c.source = grading
    return nb


def read(path: Path):
    return nbformat.read(path, as_version=4)


def handed_in(a: Assignment, course: Path = TUTORIALS) -> dict:
    """The five submissions of the tests, by student: alice's right, bob's wrong; in 05 dave
    hands in bob's with every grading cell edited to pass (nbgrader runs its own copy)."""
    found = {"alice": submission(a, course=course), "bob": submission(a, a.bug, course=course)}
    if a is A05:
        found["dave"] = submission(a, a.bug, grading="print('✓')", course=course)
    return found


# ---- cheats: each a trick added to the PReLU cell of bob's wrong solution ------------------------

@dataclass
class Cheat:
    trick: str  # what it does
    code: str  # appended to the PReLU cell
    works_in_notebook: tuple[str, ...]  # grading cells it makes pass in the notebook's kernel
    scores: tuple[int, int, int] = (3, 0, 0)  # softplus, prelu, network, graded outside

    def edit(self, code: str) -> str:
        """An exercise cell of bob's, with the trick after the class it aims at."""
        code = A05.bug(code)
        return code + "\n\n" + self.code if "class PReLU" in code else code


PASSED = "class Passed:\n    passed = True\n\n\n"
CHEATS = {
    "rebinds": Cheat("rebinds the grading cells' assert_gradients_ok to a function that passes",
                     "assert_gradients_ok = lambda *args, **kwargs: None",
                     ("grade-prelu", "grade-network")),
    "patches-minnet": Cheat(
        "replaces mn.check_layer, minnet.testing's check_layer and GradientChecker.check",
        PASSED + "import minnet.testing\n\n"
        "mn.check_layer = minnet.testing.check_layer = lambda *args, **kwargs: Passed()\n"
        "mn.GradientChecker.check = lambda self, *args, **kwargs: Passed()",
        ("grade-prelu", "grade-network")),
    "patches-testing": Cheat(
        "rewrites the code of minnet.testing.assert_gradients_ok, which the notebook imported",
        "import minnet.testing\n\n"
        "minnet.testing.assert_gradients_ok.__code__ = (lambda *args, **kwargs: None).__code__",
        ("grade-prelu", "grade-network")),
    "patches-numpy": Cheat(
        "makes np.linalg.norm return 0 and np.allclose return True",
        "np.linalg.norm = lambda *args, **kwargs: 0.0\n"
        "np.allclose = lambda *args, **kwargs: True",
        ("grade-prelu", "grade-network")),
    "patches-subprocess": Cheat(
        "makes every subprocess report success, so a check run in one would pass",
        "import subprocess\n\n\nclass Done:\n    returncode, stdout, stderr = 0, 'PASSED', ''\n\n"
        "    def communicate(self, *args, **kwargs):\n        return 'PASSED', ''\n\n"
        "    def wait(self, *args, **kwargs):\n        return 0\n\n\n"
        "subprocess.run = subprocess.Popen = lambda *args, **kwargs: Done()\n"
        "subprocess.check_output = lambda *args, **kwargs: 'PASSED'",
        ()),
    "patches-import": Cheat(
        "patches builtins.__import__ so that minnet.testing is a fake, then imports from it",
        "import builtins\nimport types\n\n"
        "fake = types.ModuleType('minnet.testing')\n"
        "fake.assert_gradients_ok = lambda *args, **kwargs: None\n"
        "real_import = builtins.__import__\n"
        "builtins.__import__ = lambda name, *args, **kwargs: \\\n"
        "    fake if name == 'minnet.testing' else real_import(name, *args, **kwargs)\n"
        "from minnet.testing import assert_gradients_ok  # noqa: E402",
        ("grade-prelu", "grade-network")),
    "replaces-sys-modules": Cheat(
        "replaces sys.modules['minnet'] with a fake package, then imports from it",
        "import sys\nimport types\n\n"
        "fake = types.ModuleType('minnet')\nfake.__path__ = []\n"
        "fake.testing = types.ModuleType('minnet.testing')\n"
        "fake.testing.assert_gradients_ok = lambda *args, **kwargs: None\n"
        "sys.modules['minnet'], sys.modules['minnet.testing'] = fake, fake.testing\n"
        "from minnet.testing import assert_gradients_ok  # noqa: E402",
        ("grade-prelu", "grade-network")),
    "numeric-gradient": Cheat(
        "a backward that calls mn.numeric_gradient on forward",
        "def backward(self, dout):\n    x = self.x.copy()\n"
        "    self.grads['alpha'] = mn.numeric_gradient(lambda a: self.forward(x), "
        "self.params['alpha'], dout=dout)\n"
        "    return mn.numeric_gradient(self.forward, x, dout=dout)\n\n\n"
        "PReLU.backward = backward",
        ("grade-prelu",)),
    "forward-differences": Cheat(
        "a backward that takes centered differences of forward, all entries at once",
        "def backward(self, dout, h=1e-6):\n    x, alpha = self.x, self.params['alpha']\n"
        "    dx = (self.forward(x + h) - self.forward(x - h)) / (2 * h) * dout\n"
        "    saved = alpha.copy()\n    alpha += h\n    up = self.forward(x)\n"
        "    alpha[...] = saved - h\n    down = self.forward(x)\n    alpha[...] = saved\n"
        "    self.forward(x)\n"
        "    self.grads['alpha'] = ((up - down) / (2 * h) * dout).sum(axis=0)\n"
        "    return dx\n\n\nPReLU.backward = backward",
        ("grade-prelu",)),
    "helper-differences": Cheat(
        "a backward that takes centered differences of a function of its own, not of forward",
        "def prelu(x, alpha):\n    return np.where(x > 0, x, alpha * x)\n\n\n"
        "def backward(self, dout, h=1e-5):\n    x, alpha = self.x, self.params['alpha']\n"
        "    self.grads['alpha'] = ((prelu(x, alpha + h) - prelu(x, alpha - h)) / (2 * h)\n"
        "                           * dout).sum(axis=0)\n"
        "    return (prelu(x + h, alpha) - prelu(x - h, alpha)) / (2 * h) * dout\n\n\n"
        "PReLU.backward = backward",
        ("grade-prelu",)),
    "stateful-forward": Cheat(
        "a forward right at its first call, then linear with slope 1 around it, and a backward "
        "that returns dout: each agrees with the other, and neither with PReLU",
        "class First:\n    x = y = None\n\n\n"
        "def forward(self, x):\n    if First.x is None or First.x.shape != x.shape:\n"
        "        First.x, First.y = x.copy(), np.where(x > 0, x, self.params['alpha'] * x)\n"
        "        return First.y.copy()\n    return First.y + (x - First.x)\n\n\n"
        "def backward(self, dout):\n    self.grads['alpha'] = np.zeros_like(self.params['alpha'])\n"
        "    return dout\n\n\nPReLU.forward, PReLU.backward = forward, backward",
        ("grade-prelu",)),
    "exits": Cheat("ends Python from the answer cell (os._exit), so that no check runs after it",
                   "import os\n\nos._exit(0)", (), scores=(0, 0, 0)),
    "writes-gradebook": Cheat(
        "gives every grade of the gradebook a manual score of 3",
        "import sqlite3\n\ntry:\n    with sqlite3.connect('../../../gradebook.db') as db:\n"
        "        db.execute('UPDATE grade SET manual_score = 3')\nexcept sqlite3.Error:\n"
        "    pass  # not where the kernel runs",
        (), scores=(0, 0, 0)),
}
