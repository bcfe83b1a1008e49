"""Autograding cost: nbgrader autograde of the five submissions of the tests, with the points
decided outside the notebook (minnet's grader), against the checks in the notebook's kernel.

What is measured (each contender a course folder of its own, set up once, untimed)
    in the kernel   the course as it was before minnet's grader: the nbgrader_config.py and the
                    source notebooks of tutorials/ at commit --base; the grading cells' checks
                    run in the notebook's kernel and decide the points
    outside         this checkout's tutorials/: minnet's grader decides the points of every
                    grading cell declared in source/NAME/grading.py
  One run: `nbgrader autograde 05_assignment --force`, then the same for 06_convolutions, on the
  five submissions of tests/submissions.py (alice right and bob wrong in both, dave in 05 with
  his grading cells edited). Interleaved rounds, medians (see common.py). Later assignments
  (07 on) were written for minnet's grader and have no in-the-kernel course to compare with.
  Goal (issue 20): outside / in the kernel <= 1.5.

    python bench/autograde_cost.py [--repeats N] [--quick] [--base COMMIT]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import common

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tutorials"), str(ROOT / "tests")]
import generate  # noqa: E402  (tutorials/generate.py: course folders, nbgrader's command line)
import nbformat  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402
from submissions import A05, A06, handed_in  # noqa: E402

BASE = "9ad4fe8"  # main just before minnet's grader (issue 20)
ASSIGNMENTS = [A05, A06]


def course_at(commit: str | None, root: Path) -> Path:
    """A course folder with tutorials/' settings and sources: this checkout's, or a commit's."""
    course = generate.course_with([a.name for a in ASSIGNMENTS], root)
    if commit is not None:
        for name in ["nbgrader_config.py", *(f"source/{a.name}/{a.notebook}" for a in ASSIGNMENTS)]:
            (course / name).write_text(git_show(commit, f"tutorials/{name}"))
        for a in ASSIGNMENTS:
            (course / "source" / a.name / "grading.py").unlink(missing_ok=True)
    for a in ASSIGNMENTS:
        generate.nbgrader(["generate_assignment", a.name], course)
        for student, nb in handed_in(a, course).items():
            folder = course / "submitted" / student / a.name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / a.notebook)
    return course


def git_show(commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                          capture_output=True, text=True, check=True).stdout


def autograde(course: Path) -> None:
    for a in ASSIGNMENTS:
        generate.nbgrader(["autograde", a.name, "--force"], course)


def totals(course: Path) -> str:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return ", ".join(f"{a.name[:2]} {s.student.id} {s.score:g}" for a in ASSIGNMENTS
                         for s in gb.assignment_submissions(a.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="one round, no warm-up round")
    parser.add_argument("--base", default=BASE, help=f"the commit of 'in the kernel' ({BASE})")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)

    common.print_header("minnet autograding cost: graded outside the notebook vs in the kernel")
    with tempfile.TemporaryDirectory() as tmp:
        courses = {"in the kernel": course_at(args.base, Path(tmp) / "kernel"),
                   "outside": course_at(None, Path(tmp) / "outside")}
        contenders = {name: (lambda c=c: lambda: autograde(c)) for name, c in courses.items()}
        times, _ = common.time_interleaved(contenders, repeats, warmup=not args.quick)
        for name, course in courses.items():
            print(f"scores, {name}: {totals(course)}")
    med = {k: common.median(v) for k, v in times.items()}
    base = med["in the kernel"]
    print(f"\nautograde of 5 submissions (05 and 06); median of {repeats} rounds")
    print(common.table(["contender", "median", "fastest", "/ in the kernel", "rounds"],
                       [[k, common.seconds_text(med[k]), common.seconds_text(min(v)),
                         common.ratio_text(med[k] / base),
                         ", ".join(f"{t:.1f}" for t in v)] for k, v in times.items()]))
    print()
    print(common.ratios_line({"outside/kernel": med["outside"] / base}))


if __name__ == "__main__":
    main()
