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

from ..gradcheck import GradientCheckError, rel_error
from . import wire
from .parts import Built, Part
from .process import ChildGone, take_over_stdio
from .remote import Late, StudentError, Submission

FORWARD_CALLS = 2  # a backward that calls forward this often is differentiating numerically
EXACT = 1e-12  # a backward by the chain rule agrees with the solution's to round-off
HINTS = ("kink", "smooth", "stackable")  # what the checker may learn from the solution's class


class Shortcut(AssertionError):
    """A backward that did not apply the chain rule: no points, and the teacher is told."""


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
        cls = self.solution_class(built)
        hints = {h: getattr(cls, h) for h in HINTS if hasattr(cls, h)}
        return self.submission.make(built.name, built.args, built.kwargs, str(built), hints)

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
        for b in self.submission.backwards:
            if b["numeric_calls"] or b["forward_calls"] >= FORWARD_CALLS:
                self.shortcuts[b["layer"]] = self.part
                raise Shortcut(
                    f"{b['call']} called forward {b['forward_calls']} times and minnet's "
                    f"numeric_gradient {b['numeric_calls']} times while it ran: that is numeric "
                    f"differentiation, not a backward pass, which computes the gradient from "
                    f"what forward kept, by the chain rule. No points for this part; your "
                    f"teacher has been told.")

    def consistent(self, mine, ref) -> None:
        """Raise Shortcut if forward gave the solution's values at the first call of a check and
        other values later (mine.log holds the calls).

        Such a forward keeps state to agree with a backward of its own making: the gradient
        check compares backward with the numeric gradient of what forward answers, which means
        something only if forward is a function of its input and parameters.
        """
        def right(params, xs, out) -> bool:
            wire.write_into(ref.params, list(params), [p.copy() for p in params.values()])
            return _close(ref.forward(*(x.copy() for x in xs)), out)

        log, mine.log = mine.log or [], None
        if not log or not right(*log[0]):
            return  # a forward of its own from the first call: its gradient is what is checked
        wrong = sum(not right(*call) for call in log[1:])
        if wrong:
            self.shortcuts[type(mine).__name__] = self.part
            raise Shortcut(
                f"{mine!r}.forward gave the right values at the first call of the gradient "
                f"check, and other values at {wrong} of the {len(log) - 1} calls that followed: "
                f"a forward that keeps state between calls, where it must be a function of its "
                f"input and parameters. No points for this part; your teacher has been told.")

    def exact(self, mine, ref, x: np.ndarray) -> None:
        """Raise Shortcut if a backward that passed is only as exact as a numeric difference.

        Asked only where the student's forward gives the solution's values: both backwards then
        differentiate the same function, and by the chain rule they agree to round-off.
        """
        out = mine.forward(x.copy())
        wire.write_into(ref.params, list(mine.params), [p.copy() for p in mine.params.values()])
        if not isinstance(out, np.ndarray) or not _close(ref.forward(x.copy()), out):
            return  # a forward of its own: the gradient check is all that can be asked
        G = self.rng.standard_normal(np.shape(out))
        pairs = [(mine.backward(G.copy()), ref.backward(G.copy()), "dx")]
        pairs += [(mine.grads.get(k), g, k) for k, g in ref.grads.items()]
        worst = max(((rel_error(a, b), k) for a, b, k in pairs if np.shape(a) == np.shape(b)),
                    default=(0.0, ""))
        if worst[0] > EXACT:
            self.shortcuts[type(mine).__name__] = self.part
            raise Shortcut(
                f"{mine!r}.backward passes the gradient check, but its {worst[1]} differs from "
                f"the exact gradient by {worst[0]:.1e} (relative): as much as a numeric "
                f"difference does, where a backward by the chain rule agrees to round-off "
                f"(below {EXACT:.0e}). No points for this part until your teacher has looked.")


def _close(a, b) -> bool:
    return np.shape(a) == np.shape(b) and bool(np.allclose(a, b, rtol=1e-7, atol=1e-12))


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
