"""nbgrader: each shipped assignment is what `nbgrader generate_assignment` makes of its source,
and `nbgrader autograde`, with minnet's grader deciding the points outside the notebook, gives a
correct submission full marks and a buggy one partial marks, with the gradient checker's report
in the feedback, and a cheating one no points for what it cheats (tests/submissions.py).

Everything runs in one temporary course folder set up by tutorials/generate.py, holding every
assignment (05, and the exercises of tutorials 06, 07 and 08), through nbgrader's Python API in
this process (as generate.py runs it; tests/test_teaching.py runs the command line that
docs/teaching.md shows), with notebooks executed by a kernel of this interpreter.
Skipped without nbgrader (pip install ".[teach]").
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
from submissions import (  # noqa: E402
    A05,
    A06,
    A07,
    A08,
    CHEATS,
    TUTORIALS,
    Assignment,
    handed_in,
    submission,
)
from test_tutorials import kernel  # noqa: E402, F401 (a kernel of this interpreter, headless)

TEACHING = (TUTORIALS.parent / "docs" / "teaching.md").read_text(encoding="utf-8")
ASSIGNMENTS = [A05, A06, A07, A08]


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
        generate.in_process("generate_assignment", a.name, course)
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


@by_name
def test_docs_teaching_lists_the_assignment_with_its_points(a):
    """docs/teaching.md's table of assignments has a row for each, with the points graded."""
    row = re.search(rf"^\| `{a.name}` \|.*\| ([\d +]+) = (\d+) \|$", TEACHING, re.MULTILINE)
    assert row, f"docs/teaching.md lists no {a.name}"
    parts = [int(p) for p in row.group(1).split("+")]
    assert parts == list(a.points.values()) and int(row.group(2)) == sum(parts)


@pytest.fixture(scope="module")
def graded(course):
    """Every assignment's submissions of tests/submissions.py, the cheats in 05 included, handed
    in, autograded, and their feedback generated."""
    for a in ASSIGNMENTS:
        hand_ins = handed_in(a, course)
        if a is A05:
            hand_ins |= {name: submission(a, cheat.edit, course=course)
                         for name, cheat in CHEATS.items()}
        for student, nb in hand_ins.items():
            folder = course / "submitted" / student / a.name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / a.notebook)
        generate.in_process("autograde", a.name, course)
        generate.in_process("generate_feedback", a.name, course)
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
    (A07, "LSTMStep", "(block 1 of 4, the input i gate)"),  # i, f, g go through dc; o not
    (A08, "SelfAttention", "a scale 1/√4 missing (as attention's 1/√d)"),  # d = 8 / 2 heads
], ids=["05_assignment", "06_convolutions", "07_backprop_through_time", "08_attention_by_hand"])
def test_the_feedback_shows_the_checkers_report(graded, a, layer, hint):
    text = feedback(graded, a, "bob")
    assert "GradientCheckError" in text
    assert f"Layer check of {layer} FAILED" in text
    assert hint in text
    assert "GradientCheckError" not in feedback(graded, a, "alice")


@pytest.mark.parametrize("a, who", [
    (A07, "In 07, the student whose `dc` lacks `dnext_c` reads"),
    (A08, "In 08, the student who forgot the 1/√d in `attention_backward` reads"),
], ids=["07_backprop_through_time", "08_attention_by_hand"])
def test_docs_teaching_quotes_the_feedback_as_bob_reads_it(graded, a, who):
    quoted = re.search(re.escape(who) + r".*?\n\n((?:    [^\n]*\n)+).*?\n\n((?:    [^\n]*\n)+)",
                       TEACHING, re.DOTALL)
    assert quoted, f"docs/teaching.md no longer quotes {a.name}'s feedback"
    text = " ".join(feedback(graded, a, "bob").split())
    for block in quoted.groups():
        assert " ".join(block.split()) in text


def test_a_student_cannot_edit_a_grading_cell_into_passing(graded):
    """nbgrader grades with its own copy of each locked grading cell."""
    assert scores(graded, A05, "dave")["total"] == 3


# ---- graded outside the notebook: cheats ------------------------------------------------------


def cell_text(course: Path, a: Assignment, student: str, grade_id: str) -> str:
    """What a grading cell of the autograded notebook shows, as plain text."""
    nb = read(course / "autograded" / student / a.name / a.notebook)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    shown = [o.get("text", "") if o.output_type == "stream" else "\n".join(o.get("traceback", []))
             for o in cell.outputs]
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(shown))


def flagged(course: Path, a: Assignment, student: str) -> set[str]:
    """The grading cells marked for the teacher to look at (needs manual grading)."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {g for g in a.points if gb.find_grade(g, a.name, a.name, student).needs_manual_grade}


@by_name
def test_every_declared_grading_cell_is_graded_outside_the_notebook(graded, a):
    for student in ("alice", "bob"):
        for grade_id in a.points:
            assert "Checked outside the notebook" in cell_text(graded, a, student, grade_id)
        assert flagged(graded, a, student) == set()
    first = cell_text(graded, a, "alice", next(iter(a.points)))
    assert first.startswith("✓") and "In your notebook" not in first
    assert "outside the notebook" in feedback(graded, a, "alice")


@pytest.mark.parametrize("name", CHEATS)
def test_a_cheat_gets_no_points_for_the_parts_it_cheats(graded, name):
    """Each trick applied to bob's wrong PReLU: outside the notebook it earns nothing, while in
    the notebook the grading cells it aims at pass."""
    cheat, a = CHEATS[name], A05
    assert scores(graded, a, name) == {**dict(zip(a.points, cheat.scores)),
                                       "total": sum(cheat.scores), "max": 10}
    for grade_id in ("grade-prelu", "grade-network"):
        text = cell_text(graded, a, name, grade_id)
        assert "Checked outside the notebook" in text
        if grade_id in cheat.works_in_notebook:
            assert "In your notebook this cell passed" in text, \
                f"{name} no longer passes {grade_id} in the notebook: see tests/submissions.py"
    assert "outside the notebook" in feedback(graded, a, name)


@pytest.mark.parametrize("name, why", [("numeric-gradient", "called forward"),
                                       ("forward-differences", "called forward 5 times"),
                                       ("helper-differences", "as a numeric difference does")])
def test_numeric_differentiation_is_reported_to_the_teacher(graded, name, why):
    text = cell_text(graded, A05, name, "grade-prelu")
    assert why in text and "teacher" in text
    assert "differentiates numerically" in cell_text(graded, A05, name, "grade-network")
    assert {"grade-prelu", "grade-network"} <= flagged(graded, A05, name)


def test_a_submission_that_writes_the_gradebook_changes_no_grade(graded):
    """Its kernel gave every grade of the gradebook a manual score; all of them are undone."""
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}") as gb:
        manual = [g.manual_score for s in gb.assignment_submissions(A05.name)
                  for nb in s.notebooks for g in nb.grades]
    assert len(manual) == 3 * (3 + len(CHEATS)) and set(manual) == {None}
    assert flagged(graded, A05, "writes-gradebook") == set(A05.points)
    assert "the gradebook changed" in cell_text(graded, A05, "writes-gradebook", "grade-softplus")


@pytest.mark.parametrize("name", generate.assignments())
def test_every_grading_cell_of_a_shipped_assignment_is_declared(name):
    """source/NAME/grading.py gives each grading cell of the notebook a part, and nothing else."""
    from minnet.grading.reference import declared

    folder = TUTORIALS / "source" / name
    path = folder / "grading.py"
    assert path.is_file(), f"{name} has no grading.py: declare its graded parts (docs/teaching.md)"
    parts = declared(path.read_text(), str(path))
    cells = [c.metadata.nbgrader.grade_id for c in read(folder / f"{name}.ipynb").cells
             if c.metadata.get("nbgrader", {}).get("grade")]
    assert [p.grade_id for p in parts] == cells
