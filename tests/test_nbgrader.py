"""nbgrader: each shipped assignment is what `nbgrader generate_assignment` makes of its source,
and `nbgrader autograde` gives a correct submission full marks and a buggy one partial marks,
with the gradient checker's report in the feedback.

Everything runs in one temporary course folder set up by tutorials/generate.py, holding every
assignment (05 and the exercises of tutorials 06 and 08), through nbgrader's own command line (this
interpreter's), with notebooks executed by a kernel of this interpreter.
Skipped without nbgrader (pip install ".[teach]").
"""

from __future__ import annotations

import html
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
nbformat = pytest.importorskip("nbformat")
from nbgrader.api import Gradebook  # noqa: E402
from test_tutorials import kernel  # noqa: E402, F401 (a kernel of this interpreter, headless)

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"


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
SCALED = "dS = self.softmax_backward(A, dA) / np.sqrt(self.head_dim)"
A08 = Assignment("08_attention_by_hand", ["exercise-attention"],
                 {"grade-softmax-backward": 2, "grade-attention-backward": 5,
                  "grade-attention-block": 3},
                 stubs=2, right=SCALED, wrong=SCALED.replace(" / np.sqrt(self.head_dim)", ""),
                 partial={"grade-softmax-backward": 2, "grade-attention-backward": 0,
                          "grade-attention-block": 0})
ASSIGNMENTS = [A05, A06, A08]


def load_generate():
    spec = importlib.util.spec_from_file_location("generate", TUTORIALS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generate = load_generate()


def read(path: Path):
    return nbformat.read(path, as_version=4)


def cells(nb) -> list[tuple]:
    """What makes a notebook: each cell's type, source and metadata (nbgrader's included)."""
    return [(c.cell_type, c.source, c.metadata) for c in nb.cells]


def by_name(f):
    return pytest.mark.parametrize("a", ASSIGNMENTS, ids=lambda a: a.name)(f)


# ---- a course: generate, submit, autograde, feedback -----------------------------------------


@pytest.fixture(scope="module")
def course(request, tmp_path_factory):
    """One course folder with this course's settings and every assignment's source, generated."""
    request.getfixturevalue("kernel")
    course = generate.course_with([a.name for a in ASSIGNMENTS],
                                  tmp_path_factory.mktemp("course"))
    for a in ASSIGNMENTS:
        generate.nbgrader(["generate_assignment", a.name], course)
    return course


@by_name
def test_the_shipped_assignment_is_the_generated_student_version(course, a):
    """Byte for byte: no field of the generated notebook is volatile (nbgrader's checksums
    depend only on the cells). tutorials/generate.py copies this file into tutorials/."""
    generated, shipped = course / "release" / a.name / a.notebook, TUTORIALS / a.notebook
    assert cells(read(generated)) == cells(read(shipped)), \
        f"tutorials/{a.notebook} is out of date: run python tutorials/generate.py"
    assert generated.read_bytes() == shipped.read_bytes()


@by_name
def test_the_source_holds_solutions_and_the_student_version_only_stubs(a):
    source, student = read(a.source), read(TUTORIALS / a.notebook)
    solutions = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.metadata.nbgrader.grade_id for c in solutions] == a.exercises
    assert sum(c.source.count("### BEGIN SOLUTION") for c in solutions) == a.stubs
    for c in solutions:
        assert c.source.count("### BEGIN SOLUTION") == c.source.count("### END SOLUTION")
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and a.right not in text
    assert text.count('raise NotImplementedError("not written yet') == a.stubs
    graded = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points
              for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert graded == a.points
    for c in source.cells:
        assert c.cell_type != "code" or (c.outputs == [] and c.execution_count is None)


def submission(a: Assignment, edit=None, grading=None):
    """The student version with each exercise written as a student would (the source's
    solution without its region markers), optionally edited, and the grading cells
    optionally replaced by `grading`."""
    solved = {c.metadata.nbgrader.grade_id: c.source for c in read(a.source).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    nb = read(TUTORIALS / a.notebook)
    for c in nb.cells:
        grader = c.metadata.get("nbgrader", {})
        if grader.get("grade_id") in solved:
            code = re.sub(r"\n *### (BEGIN|END) SOLUTION", "", solved[grader["grade_id"]])
            c.source = edit(code) if edit else code
        elif grader.get("grade") and grading is not None:
            c.source = grading
    return nb


@pytest.fixture(scope="module")
def graded(course):
    """In each assignment alice hands in a correct solution and bob one with a wrong gradient
    (05: dalpha a mean instead of a sum; 06: the 1/k² forgotten; 08: the 1/√d forgotten); in
    05 dave hands in bob's, with every grading cell edited to pass. Autograded, feedback
    generated."""
    for a in ASSIGNMENTS:
        bug = lambda code, a=a: code.replace(a.right, a.wrong)  # noqa: E731
        hand_ins = [("alice", submission(a)), ("bob", submission(a, bug))]
        if a is A05:
            hand_ins.append(("dave", submission(a, bug, grading="print('✓')")))
        for student, nb in hand_ins:
            folder = course / "submitted" / student / a.name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / a.notebook)
        generate.nbgrader(["autograde", a.name], course)
        generate.nbgrader(["generate_feedback", a.name], course)
    return course


def scores(course: Path, a: Assignment, student: str) -> dict:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        found = {g: gb.find_grade(g, a.name, a.name, student).score for g in a.points}
        found["total"] = gb.find_submission(a.name, student).score
        found["max"] = gb.find_submission(a.name, student).max_score
    return found


def feedback(course: Path, a: Assignment, student: str) -> str:
    """The words of a student's feedback page, without the markup around them."""
    page = (course / "feedback" / student / a.name / f"{a.name}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


@by_name
def test_a_correct_submission_gets_full_marks(graded, a):
    total = sum(a.points.values())
    assert scores(graded, a, "alice") == {**a.points, "total": total, "max": total}


@by_name
def test_a_wrong_gradient_gets_partial_marks(graded, a):
    total = sum(a.partial.values())
    assert 0 < total < sum(a.points.values())
    assert scores(graded, a, "bob") == {**a.partial, "total": total,
                                        "max": sum(a.points.values())}


@pytest.mark.parametrize("a, layer, hint", [
    (A05, "PReLU", "factor: analytic ≈ 0.125 × numeric"),  # dalpha / N, N = 8
    (A06, "AvgPool2D", "factor: analytic ≈ 4 × numeric"),  # k² = 4 times too large
    (A08, "SelfAttention", "factor: analytic ≈ 2 × numeric"),  # √d = 2 times too large
], ids=["05_assignment", "06_convolutions", "08_attention_by_hand"])
def test_the_feedback_shows_the_checkers_report(graded, a, layer, hint):
    text = feedback(graded, a, "bob")
    assert "GradientCheckError" in text
    assert f"Layer check of {layer} FAILED" in text
    assert hint in text
    assert "GradientCheckError" not in feedback(graded, a, "alice")


def test_a_student_cannot_edit_a_grading_cell_into_passing(graded):
    """nbgrader grades with its own copy of each locked grading cell."""
    assert scores(graded, A05, "dave")["total"] == 3
