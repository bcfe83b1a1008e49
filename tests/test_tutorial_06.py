"""Tutorial 06's exercise: the grading cell waits for the stub, passes the reference solution,
and fails a wrong gradient with the checker's report. (tests/test_tutorials.py runs every
notebook as shipped; this file adds the runs with the solution filled in.)"""

from __future__ import annotations

import pytest

pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

import test_tutorials as T  # noqa: E402
from test_tutorials import kernel  # noqa: E402, F401  (the fixture every run needs)

NOTEBOOK = T.TUTORIALS / "06_convolutions.ipynb"
SOLUTION = T.TUTORIALS / "solutions" / "06_convolutions.py"


@pytest.fixture
def solution(monkeypatch):
    """test_tutorials' solution helpers, pointed at this notebook's solution file."""
    monkeypatch.setattr(T, "SOLUTION", SOLUTION)
    return T.solution_blocks()


def test_the_exercise_and_its_solution_match(solution):
    nb = T.read(NOTEBOOK)
    tags = {t for c in nb.cells for t in c.get("metadata", {}).get("tags", [])}
    assert tags == {"exercise-avgpool", "grade-avgpool"} and set(solution) == {"exercise-avgpool"}
    stub = T.cell_tagged(nb, "exercise-avgpool").source
    assert "raise NotImplementedError(" in stub and "YOUR CODE" in stub
    assert "NotImplementedError" not in solution["exercise-avgpool"]


def test_as_shipped_the_grading_cell_waits_for_the_exercise(kernel):  # noqa: F811
    nb, _, error = T.run_once(NOTEBOOK)
    assert error is None
    text = T.stdout(T.cell_tagged(nb, "grade-avgpool"))
    assert "not graded yet: AvgPool2D.forward is not written yet" in text and "✓" not in text


def test_the_reference_solution_passes_the_grading_cell(kernel, solution):  # noqa: F811
    nb, seconds, error = T.execute(T.with_solution(T.read(NOTEBOOK)), "06 with the solution")
    assert error is None, f"the reference solution fails:\n{error}"
    assert not T.errors(nb) and seconds < T.SECONDS
    assert "✓ AvgPool2D passes" in T.stdout(T.cell_tagged(nb, "grade-avgpool"))


def test_a_wrong_gradient_fails_with_the_checkers_report(kernel, solution):  # noqa: F811
    right = "dout[..., None, None] / k**2"
    assert right in solution["exercise-avgpool"]
    wrong = solution["exercise-avgpool"].replace(right, "dout[..., None, None]")
    nb = T.with_solution(T.read(NOTEBOOK), {"exercise-avgpool": wrong})
    where, output = T.failure(nb, "06 with the 1/k² forgotten")
    assert where == "grade-avgpool"
    assert output.ename == "GradientCheckError"
    assert "AvgPool2D" in output.evalue and "factor" in output.evalue
