"""Make the student version of each assignment with nbgrader, from its source with solutions.

    python tutorials/generate.py                  # every assignment in tutorials/source/
    python tutorials/generate.py 05_assignment    # just this one
    python tutorials/generate.py --check          # exit 1 if a shipped notebook is out of date,
                                                  # else say they are up to date

tutorials/ is laid out as an nbgrader course (docs/teaching.md): the teacher's notebooks are in
source/ASSIGNMENT/, the settings in nbgrader_config.py. The assignments are generated in a
temporary copy of that course, so no gradebook or release folder is left behind here, and the
notebooks of their release folders are copied next to this file. nbgrader runs in this process,
through its Python API (its command line takes seconds to start, for each assignment). Needs
the teach extra (pip install ".[teach]" in this checkout).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "source"
CONFIG = HERE / "nbgrader_config.py"


def nbgrader(args: list[str], course: Path) -> None:
    """Run the nbgrader command line of this interpreter in a course folder."""
    env = dict(os.environ, PATH=_with_this_python(os.environ.get("PATH", "")))
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def in_process(command: str, name: str, course: Path) -> None:
    """`nbgrader COMMAND NAME` (generate_assignment, autograde or generate_feedback, every
    student) on a course folder with its nbgrader_config.py, through nbgrader's Python API."""
    from nbgrader.apps import NbGraderAPI
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    api = NbGraderAPI(config=config)
    run = {"generate_assignment": lambda: api.generate_assignment(name),
           "autograde": lambda: api.autograde(name, "*"),
           "generate_feedback": lambda: api.generate_feedback(name)}[command]
    with _this_python_on_path():
        result = run()
    if not result["success"]:
        raise RuntimeError(f"nbgrader {command} {name} failed:\n{result.get('log', '')}"
                           f"{result.get('error', '')}")


def _with_this_python(path: str) -> str:
    # nbgrader creates its gradebook by running `alembic`, installed next to this python
    return os.pathsep.join([str(Path(sys.executable).parent), path])


@contextlib.contextmanager
def _this_python_on_path():
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = _with_this_python(before)
    try:
        yield
    finally:
        os.environ["PATH"] = before


def course_with(names: list[str], root: Path, source: Path = SOURCE) -> Path:
    """A course folder at root with this course's settings and the named source folders."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, root / "nbgrader_config.py")
    for name in names:
        shutil.copytree(source / name, root / "source" / name)
    return root


def generate(names: list[str], out: Path = HERE, source: Path = SOURCE) -> list[Path]:
    """Generate the student versions of source/NAME for each name and copy their notebooks
    into out."""
    for name in names:
        if not (source / name).is_dir():
            raise FileNotFoundError(f"no assignment {name!r}: expected a folder {source / name}")
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        course = course_with(names, Path(tmp) / "course", source)
        for name in names:
            in_process("generate_assignment", name, course)
            for notebook in sorted((course / "release" / name).glob("*.ipynb")):
                written.append(Path(shutil.copy(notebook, out / notebook.name)))
    return written


def assignments(source: Path = SOURCE) -> list[str]:
    return sorted(p.name for p in source.iterdir() if p.is_dir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignment folders in tutorials/source/")
    parser.add_argument("--check", action="store_true",
                        help="compare with the shipped notebooks instead of writing them")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("nbgrader") is None:
        print('generate.py: nbgrader is not installed; in this checkout: pip install ".[teach]"',
              file=sys.stderr)
        return 2
    stale, fresh = [], []
    try:
        if not args.check:
            for path in generate(args.names or assignments()):
                print(f"wrote {path.relative_to(HERE.parent)}")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                for path in generate(args.names or assignments(), Path(tmp)):
                    shipped = HERE / path.name
                    same = shipped.exists() and path.read_bytes() == shipped.read_bytes()
                    (fresh if same else stale).append(path.name)
    except (FileNotFoundError, RuntimeError) as e:  # no such assignment; nbgrader failed
        print(f"generate.py: {e}", file=sys.stderr)
        return 2
    if stale:
        print(f"out of date (run python tutorials/generate.py): {', '.join(stale)}")
    elif args.check:
        print(f"up to date: {', '.join(fresh)}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
