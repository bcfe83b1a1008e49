"""The reference process: the solution, the declared parts, and the verdict on one submission.

    python -m minnet.grading.reference      (started by nbgrader's process, never by hand)

It runs the solution cells of the teacher's source notebook and the assignment's grading.py,
runs minnet's checks once on a layer of its own, and tells nbgrader's process it is ready. Only
then does it start the process that runs the submission's code (remote.Submission): no line of
the submission ever runs here, and all of minnet was loaded before any did. It draws the inputs,
runs every part's checks on the submission's layers, and sends back one verdict per part, plain
JSON: passed or not, the lines and the error the feedback shows, and what the teacher should know.
"""

from __future__ import annotations

import traceback

import numpy as np

import minnet as mn

from ..gradcheck import GradientCheckError
from . import wire
from .parts import Built, Part
from .process import ChildGone, take_over_stdio
from .remote import Late, StudentError, Submission
from .shortcuts import Shortcut, inexact, many_forward_calls, stateful_forward


class Grading:
    """What a check may ask while one submission is graded (see parts.py)."""

    def __init__(self, submission: Submission, solution: dict, seed: list[int]) -> None:
        self.submission, self.solution, self.seed_words = submission, solution, seed
        self.rng = np.random.default_rng(seed)
        self.shortcuts: dict[str, str] = {}  # class name -> the part that found its shortcut

    def begin(self, index: int, part: Part) -> None:
        self.rng = np.random.default_rng([*self.seed_words, index])
        self.part = part.grade_id
        self.submission.part(part.seconds)

    def student(self, built: Built) -> mn.Layer:
        """The student's layer, built in the submission's process."""
        if built.name in self.shortcuts:
            raise Shortcut(f"{built.name}.backward differentiates numerically (found by "
                           f"{self.shortcuts[built.name]}): no points for the parts that use it.")
        return self.submission.make(built.name, built.args, built.kwargs, str(built),
                                    self.solution_class(built))

    def reference(self, built: Built):
        """The same layer built from the solution, here."""
        return self.solution_class(built)(*built.args, **built.kwargs)

    def solution_class(self, built: Built) -> type:
        cls = self.solution.get(built.name)
        if not isinstance(cls, type):
            raise LookupError(f"the source notebook's solution defines no class {built.name}")
        return cls

    def seed(self) -> int:
        """A seed for the checker's own random choices (its upstream gradient)."""
        return int(self.rng.integers(2**31))

    def audit(self) -> None:
        """Raise Shortcut if a backward of this part called forward or numeric_gradient."""
        found = many_forward_calls(self.submission.backwards)
        if found:
            raise self.shortcut(*found)

    def consistent(self, mine, ref) -> None:
        """Raise Shortcut if mine's forward (its calls logged in mine.log) keeps state."""
        log, mine.log = mine.log or [], None
        found = stateful_forward(mine, ref, log)
        if found:
            raise self.shortcut(type(mine).__name__, found)

    def exact(self, mine, ref, x: np.ndarray) -> None:
        """Raise Shortcut if mine's backward is only as exact as a numeric difference."""
        found = inexact(mine, ref, x, self.rng)
        if found:
            raise self.shortcut(type(mine).__name__, found)

    def shortcut(self, layer: str, what: str) -> Shortcut:
        """The failure of this part, remembered for the later parts that use the layer."""
        self.shortcuts[layer] = self.part
        return Shortcut(f"{what} No points for this part; your teacher has been told.")


# ---- one part, one verdict --------------------------------------------------------------------


def grade(part: Part, index: int, grading: Grading) -> dict:
    lines: list[str] = []
    try:
        grading.begin(index, part)
        for check in part.checks:
            lines.append(check.run(grading))
        return {"grade_id": part.grade_id, "passed": True, "lines": lines}
    except (Exception, Late, ChildGone, wire.WireError) as e:
        error, review = failure(e)
        if grading.submission.cell_errors:
            error["text"] += "\n\n" + cells_note(grading.submission.cell_errors)
        return {"grade_id": part.grade_id, "passed": False, "lines": lines, "error": error,
                "review": review}


def failure(e: BaseException) -> tuple[dict, str | None]:
    """What the feedback shows for a failed part, and what the teacher is told (or None)."""
    if isinstance(e, StudentError):
        return _error(e.ename, e.evalue, f"{e.call} raised it:\n{e.traceback}"), None
    if isinstance(e, GradientCheckError):
        return _error("GradientCheckError", str(e).splitlines()[0], str(e)), None
    if isinstance(e, Shortcut):
        return _error("AssertionError", str(e), str(e)), str(e)
    if isinstance(e, AssertionError):
        return _error("AssertionError", str(e).splitlines()[0], str(e)), None
    if isinstance(e, Late):
        return _error("TimeoutError", str(e), str(e)), None
    if isinstance(e, (ChildGone, wire.WireError)):
        return _error("RuntimeError", str(e), str(e)), None
    what = f"the grader could not run this part ({type(e).__name__}: {e}); your teacher has " \
           f"been told"
    return _error("GradingError", what, "".join(traceback.format_exception(e))), what


def _error(ename: str, evalue: str, text: str) -> dict:
    return {"ename": ename, "evalue": evalue, "text": text}


def cells_note(errors: list[dict]) -> str:
    lines = ["Running your answer cells on their own (the read-only cells and yours), "
             "the grader met these errors:"]
    lines += [f"  cell {e['cell']}: {e['ename']}: {e['evalue']}" for e in errors]
    return "\n".join(lines)


# ---- the process ------------------------------------------------------------------------------


def run_solution(cells: list) -> dict:
    """The teacher's cells (solutions in place), run in order: a failure is the grader's own."""
    namespace = {"__name__": "__main__"}
    for cell_id, source in cells:
        exec(compile(source, f"<source cell {cell_id}>", "exec"), namespace)
    return namespace


def declared(source: str, filename: str) -> list[Part]:
    namespace = {"__name__": "grading", "__file__": filename}
    exec(compile(source, filename, "exec"), namespace)
    parts = namespace.get("PARTS")
    if not isinstance(parts, list) or not all(isinstance(p, Part) for p in parts):
        raise TypeError(f"{filename} must define PARTS, a list of minnet.grading.Part")
    return parts


def warm_up() -> None:
    """Each code path of the checks once, so that nothing is imported once a submission runs."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    model = mn.Model([mn.Dense(3, 4, seed=0), mn.Tanh(), mn.Dense(4, 2, seed=1)],
                     loss=mn.SoftmaxCE())
    mn.check_layer(mn.Tanh(), X)
    mn.GradientChecker(progress=False).check(model, X, y)
    model.fit(X, y, epochs=1, batch_size=4, optimizer=mn.Adam(), progress=False)
    model.evaluate(X, y)


def main() -> None:
    inp, out = take_over_stdio()
    job, _ = wire.receive(inp)
    try:
        solution = run_solution(job["solution"])
        parts = [p for p in declared(job["declaration"], job["declaration_file"])
                 if p.grade_id in job["grade_ids"]]  # an assignment may have other notebooks
        warm_up()
    except Exception:
        wire.send(out, {"error": traceback.format_exc()})
        return
    wire.send(out, {"ready": True, "seconds": sum(p.seconds for p in parts)})
    submission = Submission(job["cells"])
    try:
        grading = Grading(submission, solution, job["seed"])
        verdicts = [grade(part, i, grading) for i, part in enumerate(parts)]
    finally:
        submission.close()
    wire.send(out, {"verdicts": verdicts})


if __name__ == "__main__":
    main()
