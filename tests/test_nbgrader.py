"""nbgrader: the shipped assignment is what `nbgrader generate_assignment` makes of its source,
and `nbgrader autograde` gives a correct submission full marks and a buggy one partial marks,
with the gradient checker's report in the feedback.

Everything runs in a temporary course folder set up by tutorials/generate.py, through nbgrader's
own command line (this interpreter's), with notebooks executed by a kernel of this interpreter.
Skipped without nbgrader (pip install "minnet[teach]").
"""

from __future__ import annotations

import html
import importlib.util
import re
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
nbformat = pytest.importorskip("nbformat")
from nbgrader.api import Gradebook  # noqa: E402
from test_tutorials import kernel  # noqa: E402, F401 (a kernel of this interpreter, headless)

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
NAME = "05_assignment"
NOTEBOOK = f"{NAME}.ipynb"
SOURCE = TUTORIALS / "source" / NAME / NOTEBOOK  # the teacher's, solutions inside
POINTS = {"grade-softplus": 3, "grade-prelu": 4, "grade-network": 3}
RIGHT = 'self.grads["alpha"] = (dout * np.minimum(self.x, 0)).sum(axis=0)'


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


# ---- a course: generate, submit, autograde, feedback -----------------------------------------


@pytest.fixture(scope="module")
def course(request, tmp_path_factory):
    """A course folder with this course's settings and the assignment's source, generated."""
    request.getfixturevalue("kernel")
    course = generate.course_with([NAME], tmp_path_factory.mktemp("course"))
    generate.nbgrader(["generate_assignment", NAME], course)
    return course


def test_the_shipped_assignment_is_the_generated_student_version(course):
    """Byte for byte: no field of the generated notebook is volatile (nbgrader's checksums
    depend only on the cells). tutorials/generate.py copies this file into tutorials/."""
    generated, shipped = course / "release" / NAME / NOTEBOOK, TUTORIALS / NOTEBOOK
    assert cells(read(generated)) == cells(read(shipped)), \
        "tutorials/05_assignment.ipynb is out of date: run python tutorials/generate.py"
    assert generated.read_bytes() == shipped.read_bytes()


def test_the_source_holds_solutions_and_the_student_version_only_stubs():
    source, student = read(SOURCE), read(TUTORIALS / NOTEBOOK)
    solutions = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert [c.metadata.nbgrader.grade_id for c in solutions] == ["exercise-softplus",
                                                                 "exercise-prelu"]
    for c in solutions:
        assert c.source.count("### BEGIN SOLUTION") == c.source.count("### END SOLUTION") == 2
    text = "\n".join(c.source for c in student.cells)
    assert "BEGIN SOLUTION" not in text and RIGHT not in text
    assert text.count('raise NotImplementedError("not written yet') == 4
    graded = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points
              for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert graded == POINTS
    for c in source.cells:
        assert c.cell_type != "code" or (c.outputs == [] and c.execution_count is None)


def submission(edit=None, grading=None):
    """The student version with each exercise written as a student would (the source's
    solution without its region markers), optionally edited, and the grading cells
    optionally replaced by `grading`."""
    solved = {c.metadata.nbgrader.grade_id: c.source for c in read(SOURCE).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    nb = read(TUTORIALS / NOTEBOOK)
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
    """alice hands in a correct solution; bob one whose dalpha is a mean instead of a sum;
    dave bob's, with every grading cell edited to pass. Autograded, feedback generated."""
    mean = lambda code: code.replace(RIGHT, RIGHT.replace(".sum(", ".mean("))  # noqa: E731
    for student, nb in [("alice", submission()), ("bob", submission(mean)),
                        ("dave", submission(mean, grading="print('✓')"))]:
        folder = course / "submitted" / student / NAME
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
    generate.nbgrader(["autograde", NAME], course)
    generate.nbgrader(["generate_feedback", NAME], course)
    return course


def scores(course: Path, student: str) -> dict:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        found = {g: gb.find_grade(g, NAME, NAME, student).score for g in POINTS}
        found["total"] = gb.find_submission(NAME, student).score
        found["max"] = gb.find_submission(NAME, student).max_score
    return found


def feedback(course: Path, student: str) -> str:
    """The words of a student's feedback page, without the markup around them."""
    page = (course / "feedback" / student / NAME / f"{NAME}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_a_correct_submission_gets_full_marks(graded):
    assert scores(graded, "alice") == {**POINTS, "total": 10, "max": 10}


def test_a_wrong_gradient_gets_partial_marks(graded):
    assert scores(graded, "bob") == {"grade-softplus": 3, "grade-prelu": 0, "grade-network": 0,
                                     "total": 3, "max": 10}


def test_the_feedback_shows_the_checkers_report(graded):
    text = feedback(graded, "bob")
    assert "GradientCheckError" in text
    assert "Layer check of PReLU FAILED" in text
    assert "factor: analytic ≈ 0.125 × numeric" in text  # dalpha / N, N = 8
    assert "GradientCheckError" not in feedback(graded, "alice")


def test_a_student_cannot_edit_a_grading_cell_into_passing(graded):
    """nbgrader grades with its own copy of each locked grading cell."""
    assert scores(graded, "dave")["total"] == 3
