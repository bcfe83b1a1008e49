"""nbgrader's side: each declared grading cell gets the verdict of the reference process.

A course registers them in its nbgrader_config.py (docs/teaching.md):

    from minnet.grading import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()

GradeOutside takes the place of nbgrader's Execute. For a notebook whose assignment folder
holds a grading.py, it starts the reference process (reference.py) and lets the notebook's
cells run in its kernel, as usual, once minnet and the solution are loaded there; meanwhile the
reference process grades the answer cells in processes of their own. Each declared
grading cell's outputs are then replaced by the verdict: a ✓ and what was checked, or the error
and the checker's report. nbgrader's SaveAutoGrades scores those outputs as always, so the points
never depend on what ran in the kernel. FlagForReview, after it, marks for manual grading the
cells the teacher should look at.
"""

from __future__ import annotations

import re
import tempfile
import zlib
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbgrader.api import Gradebook
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from nbgrader.utils import determine_grade
from traitlets import Integer, Unicode

from .gradebook import Guard
from .process import Child, ChildGone

NOTE = ("Checked outside the notebook: minnet's grader ran your answer cells in a process of "
        "their own and checked them from another, so this verdict does not depend on anything "
        "that ran in your notebook.")
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
READY_SECONDS = 300.0  # to start the reference process: minnet, the solution, grading.py
REVIEW = "minnet_review"  # resources key: grade_id -> why the teacher should look
DISAGREE = ("this grading cell passed in the notebook but fails outside it: the submission may "
            "change the checks it runs under (or its mistake shows only on other inputs)")


class GradingSetupError(Exception):
    """The reference process could not load the solution or grading.py: the teacher's to fix."""


class GradeOutside(Execute):
    """nbgrader's Execute, with each declared grading cell's points decided outside the kernel."""

    seed = Integer(0, min=0, help="Mixed into the seed of every student's random inputs: set "
                                  "a number of your own, so that nobody can work out the inputs "
                                  "in advance.").tag(config=True)
    declaration = Unicode("grading.py", help="The file, in an assignment's source folder, that "
                                             "declares its graded parts.").tag(config=True)

    def preprocess(self, nb, resources):
        job = self.job(nb, resources)
        if job is None:  # an assignment without grading.py is graded by nbgrader alone
            return self.run_kernel(nb, resources)
        guard = Guard(resources["nbgrader"]["db_url"])  # before any of the submission's code
        self.reference = Reference(job)
        try:
            nb, resources = self.run_kernel(nb, resources)
            verdicts = self.reference.verdicts()
        finally:
            self.reference.close()
            self.reference = None
        if guard.restore():
            verdicts = [tampered(grade_id) for grade_id in job["grade_ids"]]
        resources[REVIEW] = {}
        for v in verdicts:
            cell = cell_with_id(nb, v["grade_id"])
            in_notebook = passed(cell)
            show(cell, v, in_notebook)
            why = v.get("review") or (DISAGREE if in_notebook and not v["passed"] else None)
            if why:
                resources[REVIEW][v["grade_id"]] = why
                self.log.warning("minnet's grader, %s, %s: %s", resources["nbgrader"]["student"],
                                 v["grade_id"], why)
        return nb, resources

    def preprocess_cell(self, cell, resources, index):
        """Execute's, once the reference process is ready: the kernel starts meanwhile, but no
        cell of the submission runs before minnet and the solution are loaded there."""
        if getattr(self, "reference", None) is not None:
            self.reference.ready()
        return super().preprocess_cell(cell, resources, index)

    def run_kernel(self, nb, resources):
        """Execute's work; a kernel that dies (os._exit in a cell) leaves the rest unrun."""
        try:
            return super().preprocess(nb, resources)
        except DeadKernelError:
            for cell in nb.cells:
                if _meta(cell).get("grade") and cell.cell_type == "code" and not cell.outputs:
                    what = "the kernel died before this cell ran (does a cell end Python, as " \
                           "os._exit does?)"
                    cell.outputs = [_error("DeadKernelError", what, what)]
            return nb, resources

    def job(self, nb, resources) -> dict | None:
        """What the reference process needs, or None when the assignment declares no parts."""
        ids = resources["nbgrader"]
        folder = Path(self.coursedir().format_path(self.coursedir().source_directory, ".",
                                                   ids["assignment"]))
        trusted = read_trusted(folder, self.declaration)
        if trusted is None:
            return None
        declaration, notebooks = trusted
        graded = [_meta(c)["grade_id"] for c in nb.cells if _meta(c).get("grade")]
        return {"declaration": declaration, "declaration_file": str(folder / self.declaration),
                "solution": notebooks[ids["notebook"]], "cells": answer_cells(nb, solved=False),
                "grade_ids": graded,
                "seed": [self.seed] + [zlib.crc32(ids[k].encode()) for k in
                                       ("student", "assignment", "notebook")]}

    def coursedir(self) -> CourseDirectory:
        """The course folder of the converter running this preprocessor."""
        owner = self.parent
        while owner is not None and getattr(owner, "coursedir", None) is None:
            owner = getattr(owner, "parent", None)
        return owner.coursedir if owner is not None else CourseDirectory(config=self.config)


class FlagForReview(NbGraderPreprocessor):
    """After SaveAutoGrades: the cells the teacher should look at need manual grading."""

    def preprocess(self, nb, resources):
        review, ids = resources.get(REVIEW), resources["nbgrader"]
        if review:
            with Gradebook(ids["db_url"]) as gb:
                for grade_id in review:
                    gb.find_grade(grade_id, ids["notebook"], ids["assignment"],
                                  ids["student"]).needs_manual_grade = True
                gb.db.commit()
        return nb, resources


def autograde_preprocessors() -> list:
    """nbgrader's autograde preprocessors, with GradeOutside for Execute and FlagForReview
    right after SaveAutoGrades."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import SaveAutoGrades

    default = list(Autograde.class_traits()["autograde_preprocessors"].default())
    if Execute not in default or SaveAutoGrades not in default:
        raise RuntimeError(f"this nbgrader autogrades with {default}: minnet's grader expects "
                           f"Execute and SaveAutoGrades among them")
    chain = [GradeOutside if p is Execute else p for p in default]
    chain.insert(chain.index(SaveAutoGrades) + 1, FlagForReview)
    return chain


# ---- the reference process, from here ---------------------------------------------------------


class Reference:
    """The reference process: started with its job, and ready() once it has loaded it."""

    def __init__(self, job: dict) -> None:
        self.stderr = tempfile.TemporaryFile()
        # its group holds the submission's process and whatever that starts: close() ends all
        self.child = Child("reference", stderr=self.stderr, group=True)
        self.file = job["declaration_file"]
        self.seconds: float | None = None  # to grade every part, known once ready
        try:
            self.child.send(job)
        except ChildGone as e:
            raise self.failed(e) from None

    def ready(self) -> None:
        """Wait until minnet, the solution and grading.py are loaded (GradingSetupError if
        they cannot be)."""
        if self.seconds is None:
            head = self.answer(READY_SECONDS)
            if "error" in head:
                raise GradingSetupError(f"the solution or {self.file} failed in the reference "
                                        f"process:\n{head['error']}")
            self.seconds = float(head["seconds"]) + 60.0

    def verdicts(self) -> list[dict]:
        self.ready()
        return self.answer(self.seconds)["verdicts"]

    def answer(self, seconds: float) -> dict:
        try:
            with self.child.limit(seconds):
                return self.child.receive()[0]
        except ChildGone as e:
            raise self.failed(e) from None

    def failed(self, e: ChildGone) -> GradingSetupError:
        self.stderr.seek(0)
        return GradingSetupError(f"minnet's reference process {e}:\n"
                                 f"{self.stderr.read().decode(errors='replace')}")

    def close(self) -> None:
        self.child.close()
        self.stderr.close()


# ---- notebooks --------------------------------------------------------------------------------

_TRUSTED: dict[Path, tuple | None] = {}


def read_trusted(folder: Path, declaration: str) -> tuple[str, dict] | None:
    """grading.py and the solution cells of every source notebook of an assignment, read once
    per nbgrader run: the first time is before any submission's code has run."""
    if folder not in _TRUSTED:
        path = folder / declaration
        _TRUSTED[folder] = None if not path.is_file() else (path.read_text(), {
            nb.stem: answer_cells(nbformat.read(nb, as_version=4), solved=True)
            for nb in sorted(folder.glob("*.ipynb"))})
    return _TRUSTED[folder]


def answer_cells(nb, solved: bool) -> list[list[str]]:
    """[grade_id, source] of the read-only cells and the answer cells, in order: what the
    answers need to run. In a source notebook (solved) the solution markers are taken out."""
    def wanted(c):
        m = _meta(c)
        return c.cell_type == "code" and (m.get("solution") or (m.get("locked")
                                                                 and not m.get("grade")))
    return [[_meta(c).get("grade_id", c.get("id", "?")),
             MARKERS.sub("", c.source) if solved else c.source]
            for c in nb.cells if wanted(c)]


def cell_with_id(nb, grade_id: str):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def passed(cell) -> bool:
    """Did the cell earn its points by its own outputs, as nbgrader scores them?"""
    score, most = determine_grade(cell)
    return score == most


def show(cell, verdict: dict, in_notebook: bool) -> None:
    """The verdict as the cell's only output: a ✓ on stdout, or the error that scores zero."""
    note = [NOTE]
    if in_notebook != verdict["passed"]:
        note.insert(0, f"In your notebook this cell {'passed' if in_notebook else 'failed'}; "
                       f"checked outside it, it {'passes' if verdict['passed'] else 'fails'}, "
                       f"and that is what counts.")
    if verdict["passed"]:
        text = "\n".join([*verdict["lines"], "", *note]) + "\n"
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        return
    e = verdict["error"]
    cell.outputs = [_error(e["ename"], e["evalue"], e["text"], verdict["lines"], ["", *note])]


def tampered(grade_id: str) -> dict:
    what = "the gradebook changed while this submission's code ran; it was put back as it was"
    return {"grade_id": grade_id, "passed": False, "lines": [], "review": what,
            "error": {"ename": "AssertionError", "evalue": what, "text": what}}


def _error(ename: str, evalue: str, text: str, before=(), after=()):
    """An error output as a kernel makes it; the traceback is what the feedback shows."""
    lines = [*before, f"\x1b[0;31m{ename}\x1b[0m: {text}", *after]
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=lines)


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})
