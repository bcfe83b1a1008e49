"""tutorials/generate.py from the command line: one clear line without nbgrader or for an
assignment that does not exist. (Its commands as docs/teaching.md gives them, the "up to date"
of --check included, run in tests/test_teaching.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

GENERATE = Path(__file__).resolve().parent.parent / "tutorials" / "generate.py"


def generate(*argv: str, hide_nbgrader: bool = False) -> subprocess.CompletedProcess:
    """python tutorials/generate.py ARGV, optionally as if nbgrader were not installed."""
    hide = "sys.modules['nbgrader'] = None; " if hide_nbgrader else ""
    code = (f"import runpy, sys; {hide}sys.argv = ['generate.py', *{list(argv)!r}]; "
            f"runpy.run_path({str(GENERATE)!r}, run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def test_without_nbgrader_it_says_how_to_install_it_in_one_line():
    result = generate("--check", hide_nbgrader=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ('generate.py: nbgrader is not installed; in this checkout: '
                             'pip install ".[teach]"\n')


def test_an_unknown_assignment_is_one_line():
    pytest.importorskip("nbgrader")
    result = generate("--check", "no_such_assignment")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("generate.py: no assignment 'no_such_assignment'")
    assert result.stderr.count("\n") == 1
