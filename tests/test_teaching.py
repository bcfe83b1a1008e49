"""docs/teaching.md, run as a teacher follows it: every command it gives runs here (or is listed
with the reason it cannot), in a temporary course folder set up as its section 2 says, and what
it says of the results holds: the scores, the feedback it quotes, what goes to stderr.

Skipped without nbgrader (pip install ".[teach]").
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbgrader")
nbformat = pytest.importorskip("nbformat")
from nbgrader.api import Gradebook  # noqa: E402
from test_nbgrader import A05, generate, submission  # noqa: E402
from test_tutorials import kernel  # noqa: E402, F401 (a kernel of this interpreter, headless)

ROOT = Path(__file__).resolve().parent.parent
TEACHING = (ROOT / "docs" / "teaching.md").read_text(encoding="utf-8")
TUTORIALS = ROOT / "tutorials"

# the commands run in the course folder, in the order the page gives them
IN_COURSE = ["nbgrader generate_assignment 05_assignment", "nbgrader autograde 05_assignment",
             "nbgrader export", "nbgrader generate_feedback 05_assignment"]
# run from a checkout (the two that write into tutorials/ from a copy of it)
IN_CHECKOUT = ["python tutorials/generate.py", "python tutorials/generate.py 05_assignment",
               "python tutorials/generate.py --check"]
NOT_RUN = {
    "nbgrader release_assignment": "needs JupyterHub and nbgrader's exchange",
    "nbgrader collect": "needs JupyterHub and nbgrader's exchange",
    "nbgrader release_feedback": "needs JupyterHub and nbgrader's exchange",
    "nbgrader zip_collect": "needs the download of a learning platform",
    "pip install": "each install line is checked by tests/test_install_lines.py",
    "python3 -m": "makes a virtual environment: CI does, in .ci/run",
}


def commands() -> list[str]:
    """Every command the page gives: indented lines, and `code` that starts a command."""
    lines = re.findall(r"^    ((?:nbgrader|python3?|pip) [^\n]*)", TEACHING, re.MULTILINE)
    spans = re.findall(r"`((?:nbgrader|python3?|pip) [^`]*)`", TEACHING)
    found = []
    for command in lines + spans:
        command = " ".join(command.split("#")[0].split())  # without a comment, on one line
        found += [command] if command not in found else []
    return found


def test_every_command_on_the_page_is_run_here_or_says_why_not():
    listed = set(IN_COURSE + IN_CHECKOUT)
    unrun = [c for c in commands() if c not in listed]
    assert [c for c in unrun if not any(c.startswith(k) for k in NOT_RUN)] == []
    assert listed <= set(commands()), "a command run here is no longer on the page"


# ---- the course: sections 2 to 8 -------------------------------------------------------------


def run_in(course: Path, command: str) -> None:
    assert command.startswith("nbgrader ")
    generate.nbgrader(command.split()[1:], course)


@pytest.fixture(scope="module")
def course(request, tmp_path_factory):
    """my-course/ as section 2 makes it; 05 generated, bob's submission (dalpha a mean, not a
    sum) autograded, the scores exported and the feedback generated, by the page's commands."""
    request.getfixturevalue("kernel")
    course = tmp_path_factory.mktemp("teaching") / "my-course"
    course.mkdir()
    shutil.copy(TUTORIALS / "nbgrader_config.py", course)
    shutil.copytree(TUTORIALS / "source" / "05_assignment", course / "source" / "05_assignment")
    generate_assignment, autograde, export, feedback = IN_COURSE
    run_in(course, generate_assignment)
    folder = course / "submitted" / "bob" / "05_assignment"  # section 6, without an exchange
    folder.mkdir(parents=True)
    nbformat.write(submission(A05, lambda code: code.replace(A05.right, A05.wrong)),
                   folder / "05_assignment.ipynb")
    run_in(course, autograde)
    run_in(course, export)
    run_in(course, feedback)
    return course


def test_the_course_folder_holds_what_section_2_draws(course):
    drawn = re.findall(r"^      ((?:release|feedback)/\S+)", TEACHING, re.MULTILINE)
    assert drawn
    for path in drawn:
        assert (course / path.replace("STUDENT", "bob")).is_file(), path
    assert (course / "gradebook.db").is_file() and (course / "grades.csv").is_file()


def test_a_mean_instead_of_a_sum_scores_what_section_7_says(course):
    said = re.search(r"with\s+`self\.grads\[\"alpha\"\]` a mean over the batch instead of a "
                     r"sum, (\d+) of (\d+)", TEACHING)
    assert said
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        bob = gb.find_submission("05_assignment", "bob")
        assert (bob.score, bob.max_score) == tuple(float(n) for n in said.groups())


def feedback_text(course: Path) -> str:
    page = (course / "feedback" / "bob" / "05_assignment" / "05_assignment.html").read_text()
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", page)).split())


def test_the_feedback_section_8_quotes_is_what_bob_reads(course):
    """Each line of the quoted report is in bob's feedback page, as printed."""
    quoted = re.search(r"reads, under Part 2:\n\n((?:    .*\n|\n)+)", TEACHING).group(1)
    lines = [" ".join(line.split()) for line in quoted.splitlines() if line.strip()]
    assert lines[0].startswith("GradientCheckError: Layer check of PReLU FAILED") and \
        len(lines) >= 4
    text = feedback_text(course)
    for line in lines:
        assert line in text, f"docs/teaching.md quotes a line bob's feedback lacks:\n{line}"
    assert "names layer 1 (PReLU) as the suspect" in " ".join(TEACHING.split())
    assert "layer 1 (PReLU)" in text


# ---- section 3: what goes to stderr in a grading cell ----------------------------------------


def probe_notebook(first: str, cells: dict[str, str]):
    """A notebook: a setup cell, then one 1-point grading cell per entry of cells."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    setup = (f"{first}import numpy as np\nimport minnet as mn\n\n"
             "X, y = mn.datasets.spiral(20, 3, seed=0)\n"
             "model = mn.Model([mn.Dense(2, 8, seed=0), mn.ReLU(), mn.Dense(8, 3, seed=1)],\n"
             "                 loss=mn.SoftmaxCE())")
    nb.cells = [nbformat.v4.new_code_cell(setup)]
    for grade_id, code in cells.items():
        cell = nbformat.v4.new_code_cell(code)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True,
                                     "points": 1, "schema_version": 3, "solution": False,
                                     "task": False}
        nb.cells.append(cell)
    return nb


PROBES = {
    "widgets": ("", {"bar": "h = model.fit(X, y, epochs=2)",
                     "debug": "h = model.fit(X, y, epochs=2, progress=False, debug=True)",
                     "warning": "np.log(np.zeros(1))"}),
    "no_widgets": ("import sys\n\nsys.modules['ipywidgets'] = None  # a kernel without it\n",
                   {"bar": "h = model.fit(X, y, epochs=2)",
                    "quiet": "h = model.fit(X, y, epochs=2, progress=False)"}),
}


@pytest.fixture(scope="module")
def probed(course):
    """Grading cells that train with and without the progress bar, with debug=True, and that
    raise a numpy warning, autograded in kernels with and without ipywidgets."""
    for name, (first, cells) in PROBES.items():
        folder = course / "source" / "stderr"
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(probe_notebook(first, cells), folder / f"{name}.ipynb")
    generate.nbgrader(["generate_assignment", "stderr"], course)
    handed_in = course / "submitted" / "carol" / "stderr"
    shutil.copytree(course / "release" / "stderr", handed_in)
    generate.nbgrader(["autograde", "stderr"], course)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {(nb, g): gb.find_grade(g, nb, "stderr", "carol").score
                  for nb, (_, cells) in PROBES.items() for g in cells}
    graded = {nb: nbformat.read(course / "autograded" / "carol" / "stderr" / f"{nb}.ipynb", 4)
              for nb in PROBES}
    return scores, graded


def streams(cell) -> dict[str, str]:
    found: dict[str, str] = {}
    for o in cell.outputs:
        if o.output_type == "stream":
            found[o.name] = found.get(o.name, "") + o.text
    return found


def test_stderr_scores_zero_and_the_progress_bar_goes_there_without_ipywidgets(probed):
    scores, graded = probed
    assert scores == {("widgets", "bar"): 1, ("widgets", "debug"): 1, ("widgets", "warning"): 0,
                      ("no_widgets", "bar"): 0, ("no_widgets", "quiet"): 1}
    bar = graded["no_widgets"].cells[1]
    assert "stderr" in streams(bar) and "100%" in streams(bar)["stderr"]


def test_the_debug_line_goes_to_stdout_as_section_3_says(probed):
    _, graded = probed
    debug = graded["widgets"].cells[2]
    assert list(streams(debug)) == ["stdout"]
    assert "gradient check passed" in streams(debug)["stdout"]
    said = " ".join(TEACHING.split())
    assert 'prints its "gradient check passed" line to stdout' in said
    assert "train with `progress=False`" in said


# ---- section 4: tutorials/generate.py ---------------------------------------------------------


def python(command: str, cwd: Path) -> subprocess.CompletedProcess:
    assert command.startswith("python ")
    return subprocess.run([sys.executable, *command.split()[1:]], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_generate_check_finds_the_shipped_notebooks_up_to_date():
    result = python(IN_CHECKOUT[2], ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    names = sorted(p.name for p in (TUTORIALS / "source").iterdir() if p.is_dir())
    assert result.stdout == f"up to date: {', '.join(f'{n}.ipynb' for n in names)}\n"


@pytest.mark.parametrize("command", IN_CHECKOUT[:2])
def test_generate_writes_what_is_shipped(tmp_path, command):
    """In a copy of the checkout's tutorials/, so that this checkout is left as it is."""
    copy = tmp_path / "tutorials"
    copy.mkdir()
    for name in ("generate.py", "nbgrader_config.py"):
        shutil.copy(TUTORIALS / name, copy)
    shutil.copytree(TUTORIALS / "source", copy / "source")
    result = python(command, tmp_path)
    assert result.returncode == 0, result.stderr
    written = re.findall(r"^wrote (\S+)$", result.stdout, re.MULTILINE)
    wanted = command.split()[2:] or sorted(p.name for p in (copy / "source").iterdir())
    assert written == [f"tutorials/{name}.ipynb" for name in wanted]
    for path in written:
        assert (tmp_path / path).read_bytes() == (ROOT / path).read_bytes()
