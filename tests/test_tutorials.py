"""The tutorials: committed without outputs, each runs top to bottom well under a minute, and the
assignment passes with its reference solution and fails helpfully without it. (Tutorials 06 and
07 end with a graded exercise of their own: tests/test_tutorial_06.py, tests/test_tutorial_07.py.)

Each notebook runs as a student's Jupyter runs it: a fresh kernel, the working directory set
to tutorials/, matplotlib on the kernel's own default (inline) backend, and nothing put in
front of the notebook. The one thing chosen here is the interpreter: a "python3" kernel spec
pinned to sys.executable, so that a "python3" kernel of another environment cannot take over.
Every cell that draws a figure must show exactly one image.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nbclient.exceptions import CellExecutionError  # noqa: E402

TUTORIALS = Path(__file__).resolve().parent.parent / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENT = TUTORIALS / "05_assignment.ipynb"


def source_of(path: Path) -> Path:
    """The nbgrader source (solutions inside) a shipped notebook is generated from, if any."""
    return TUTORIALS / "source" / path.stem / path.name


SOURCE = source_of(ASSIGNMENT)
EXPECTED = ["01_gradient_checking.ipynb", "02_layers.ipynb", "03_hunting_bugs.ipynb",
            "04_training_digits.ipynb", "05_assignment.ipynb", "06_convolutions.ipynb",
            "07_backprop_through_time.ipynb", "08_attention_by_hand.ipynb"]
HANG = 600  # seconds a cell may run before it counts as hung (speed is measured in bench/)

DRAWS = re.compile(r"^\s*(plot\.\w+\(|fig, axe?s? = plt\.subplots)", re.MULTILINE)


# ---- running notebooks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    """A "python3" kernel spec for this interpreter, found first on JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (minnet tests)", "language": "python"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join(filter(None, [str(root),
                                                                os.environ.get("JUPYTER_PATH")])))
        # what a student's shell does not set: the kernel picks its inline backend itself,
        # and the notebooks choose debug mode themselves
        mp.delenv("MPLBACKEND", raising=False)
        mp.delenv("MINNET_DEBUG", raising=False)
        yield


def read(path: Path):
    return nbformat.read(path, as_version=4)


def execute(nb, name: str):
    """Run nb in a fresh kernel, filling in its outputs; return (nb, seconds, error).

    error is the CellExecutionError of the first failing cell, or None.
    """
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=HANG,
                                     resources={"metadata": {"path": str(TUTORIALS)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        error = e
    seconds = time.perf_counter() - start
    print(f"{name}: {seconds:.1f} s")
    return nb, seconds, error


def cell_tagged(nb, tag: str):
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected exactly one cell tagged {tag!r}, found {len(found)}"
    return found[0]


def errors(nb) -> list[tuple[int, dict]]:
    """(cell number, error output) for every error output, including ones in display hooks."""
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code"
            for o in c.get("outputs", []) if o.output_type == "error"]


def stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.output_type == "stream" and o.name == "stdout")


def stream_text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.output_type == "stream")


def images(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def solution_blocks(source: Path = SOURCE) -> dict[str, str]:
    """The exercise cells of an nbgrader source notebook (solutions inside), by tag."""
    return {t: c.source for c in read(source).cells for t in c.get("metadata", {}).get("tags", [])
            if t.startswith("exercise-")}


def with_solution(nb, replace: dict[str, str] | None = None, source: Path = SOURCE):
    """nb with every exercise cell replaced by its solution block (or by replace[tag])."""
    blocks = {**solution_blocks(source), **(replace or {})}
    for tag, source in blocks.items():
        cell_tagged(nb, tag).source = source
    return nb


# ---- the notebooks as committed ------------------------------------------------------------


def test_the_tutorials_exist():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name}, cell {i}: clear the outputs before committing"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), \
        f"{path.name} should open with a title"


LESSONS = [p for p in NOTEBOOKS if p != ASSIGNMENT]  # the assignment needs its solution to run
_RUNS: dict[Path, tuple] = {}


def run_once(path: Path):
    """Execute a lesson notebook once per test session; later tests reuse the result.

    A lesson that ends with a graded exercise (06, 07) runs as a student who solved it runs it:
    its exercise cells hold the solution of its nbgrader source.
    """
    if path not in _RUNS:
        nb = read(path)
        if source_of(path).exists():
            nb = with_solution(nb, source=source_of(path))
        _RUNS[path] = execute(nb, path.name)
    return _RUNS[path]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(kernel, path):
    nb, _, error = run_once(path)
    assert error is None, f"{path.name} failed:\n{error}"
    assert not errors(nb), f"{path.name}: a cell printed an error: {errors(nb)[0]}"
    assert "Traceback" not in stream_text(nb)
    assert_figures_drawn(nb, path.name)


def assert_figures_drawn(nb, name: str) -> None:
    """Each cell that draws a figure shows it as one PNG (not a "<Figure ...>" line)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and DRAWS.search(cell.source):
            assert images(cell) == 1, f"{name}, cell {i}: {images(cell)} images instead of " \
                f"1; text shown: {plain_text(cell)!r}"


def plain_text(cell) -> str:
    return "".join(o.get("data", {}).get("text/plain", "") for o in cell.get("outputs", []))


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_no_warnings_in_outputs(kernel, path):
    nb, _, _ = run_once(path)
    text = stream_text(nb)
    assert "Warning" not in text, text[:500]


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_01_shows_that_a_kink_is_compared_one_sided(kernel):
    """Section 9 computes the one-sided slopes by hand: backprop's value is one of them, and
    the report's row counts the entry at the kink among those it checked."""
    nb, _, error = run_once(TUTORIALS / "01_gradient_checking.ipynb")
    assert error is None
    printed = stream_text(nb)
    analytic, right, left = map(float, re.search(
        r"b\[2\]: analytic (\S+), one-sided: right (\S+), left (\S+)", printed).groups())
    assert analytic == left != right  # ReLU'(0) = 0: backprop takes the left side
    assert "the report's row for b: 4 entries checked, 1 at a kink, passed: True" in printed
    assert "one-sided" in markdown(nb)


def test_no_text_says_kink_entries_are_skipped():
    """The checker compares them one-sided (minnet/gradcheck/kinks.py); no text may say it
    skips them."""
    kinks = TUTORIALS.parent / "minnet" / "gradcheck" / "kinks.py"
    texts = {kinks.name: kinks.read_text(encoding="utf-8").split('"""')[1]}
    for path in [*NOTEBOOKS, *TUTORIALS.glob("source/*/*.ipynb")]:
        texts[path.name] = "\n".join(c.source for c in read(path).cells)
    for name, text in texts.items():
        for sentence in re.split(r"(?<=[.:;])\s+|\n\n", text):
            assert not ("kink" in sentence.lower() and "skip" in sentence.lower()), \
                f"{name}: {sentence!r}"


def test_02_explains_each_line_of_the_dense_code_it_prints():
    nb = read(TUTORIALS / "02_layers.ipynb")
    assert any("inspect.getsource(mn.Dense.forward)" in c.source for c in nb.cells)
    for name in ("self.x = x", "reshape", "input_grad"):
        assert f"`{name}" in markdown(nb), f"02 prints Dense code with {name} but never says why"


def test_03_quotes_the_report_as_it_prints(kernel):
    """Every piece of report text that 03 quotes in `code` is in what its cells printed."""
    nb, _, error = run_once(TUTORIALS / "03_hunting_bugs.ipynb")
    assert error is None
    printed = stream_text(nb)
    quoted = [q for q in re.findall(r"`([^`\n]+)`", markdown(nb))
              if re.search(r"analytic|follows|loss |accumulating|sign|transposed|zero|×", q)]
    assert len(quoted) >= 6, quoted
    for q in quoted:
        assert q in printed, f"03 quotes {q!r}, which no cell prints"
    assert "the loss (SoftmaxCENoMean)" in markdown(nb) and "the loss (SoftmaxCENoMean)" in \
        printed


def test_03_quotes_what_to_do_as_the_report_prints_it(kernel):
    nb, _, error = run_once(TUTORIALS / "03_hunting_bugs.ipynb")
    assert error is None
    quoted = re.findall(r"check the fix with `([^`]+)`", markdown(nb))
    assert quoted
    for q in quoted:
        assert f"check the fix with {q}" in stream_text(nb), f"03 quotes {q!r}"


def test_04_says_what_its_outputs_show(kernel):
    path = TUTORIALS / "04_training_digits.ipynb"
    nb, _, error = run_once(path)
    assert error is None
    text = markdown(nb)
    # the debug pass: the text gives the number of samples that the printed line gives
    checked = {int(n) for n in re.findall(r"gradient check passed on (\d+) samples",
                                          stream_text(nb))}
    told = {int(n) for n in re.findall(r"(\d+) (?:training )?samples", text)}
    assert len(checked) == 1 and told == checked, (told, checked)
    # the confusion matrix, as printed; every confusion the text names is in it
    table = next(stdout(c) for c in nb.cells if "true \\ predicted" in stdout(c))
    rows = [line.split()[1:] for line in table.splitlines()[1:11]]
    confusion = np.array(rows, dtype=int)
    assert confusion.shape == (10, 10)
    named = r"\b(\d)\s*(?:↔|→|(?:can\s+)?(?:look\s+)?like\s+an?|taken\s+for)\s*(\d)\b"
    for a, b in re.findall(named, text):
        assert confusion[int(a), int(b)] + confusion[int(b), int(a)], f"no {a}↔{b} confusion"
    listed = re.findall(r"(\d) taken for (\d) \((\d+)×\)", table)
    assert len(listed) == 3
    for t, p, n in listed:
        assert confusion[int(t), int(p)] == int(n)
    off_diagonal = confusion[~np.eye(10, dtype=bool)]
    assert int(listed[0][2]) == off_diagonal.max()


# ---- the assignment ------------------------------------------------------------------------


def test_solution_covers_every_exercise():
    nb = read(ASSIGNMENT)
    tags = {t for c in nb.cells for t in c.get("metadata", {}).get("tags", [])}
    exercises = {t for t in tags if t.startswith("exercise-")}
    assert exercises == {"exercise-softplus", "exercise-prelu"}
    assert set(solution_blocks()) == exercises
    for tag in exercises:
        stub = cell_tagged(nb, tag).source
        assert "raise NotImplementedError(" in stub and "YOUR CODE" in stub
        assert cell_tagged(nb, tag.replace("exercise-", "grade-")) is not None
        assert "NotImplementedError" not in solution_blocks()[tag]
        assert "### BEGIN SOLUTION" in solution_blocks()[tag]


def test_assignment_passes_with_the_reference_solution(kernel):
    nb, _, error = execute(with_solution(read(ASSIGNMENT)), "05 with the solution")
    assert error is None, f"the reference solution fails:\n{error}"
    assert not errors(nb)
    for tag in ("grade-softplus", "grade-prelu"):
        assert "✓" in stdout(cell_tagged(nb, tag)), f"{tag} printed no ✓"
    assert_figures_drawn(nb, "05 with the solution")


def failure(nb, name: str):
    """Run nb, expecting a failure; return (tag of the failing cell, its error output)."""
    nb, _, error = execute(nb, name)
    assert error is not None, f"{name}: expected a grading cell to fail, but all cells passed"
    (index, output), *_ = errors(nb)
    tags = nb.cells[index].get("metadata", {}).get("tags", [])
    return (tags[0] if tags else f"cell {index}"), output


def plain_traceback(output) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.traceback))  # without colours


def test_stubs_fail_the_first_grading_cell_helpfully(kernel):
    where, output = failure(read(ASSIGNMENT), "05 as shipped")
    assert where == "grade-softplus"
    assert output.ename == "NotImplementedError"
    assert "not written yet" in output.evalue
    assert "Softplus.forward" in plain_traceback(output)


def test_a_missing_part_fails_its_own_grading_cell(kernel):
    stub = cell_tagged(read(ASSIGNMENT), "exercise-prelu").source
    nb = with_solution(read(ASSIGNMENT), {"exercise-prelu": stub})
    where, output = failure(nb, "05 with Part 2 not done")
    assert where == "grade-prelu"
    assert output.ename == "NotImplementedError"
    assert "PReLU.forward" in plain_traceback(output)


def test_a_wrong_gradient_fails_with_the_checkers_report(kernel):
    right = "self.grads[\"alpha\"] = (dout * np.minimum(self.x, 0)).sum(axis=0)"
    solution = solution_blocks()["exercise-prelu"]
    assert right in solution
    wrong = solution.replace(right, right.replace(".sum(axis=0)", ".mean(axis=0)"))
    nb = with_solution(read(ASSIGNMENT), {"exercise-prelu": wrong})
    where, output = failure(nb, "05 with dalpha a mean")
    assert where == "grade-prelu"
    assert output.ename == "GradientCheckError"
    message = output.evalue
    assert "FAILED" in message and "PReLU" in message and "alpha" in message
    assert "factor" in message and "0.125" in message  # c = 1/N printed, as DESIGN.md says
