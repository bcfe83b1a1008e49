"""The suite's pytest settings: the summary says why each skipped test was skipped (the optional
extras: torch, nbgrader), so that a reader of a green run knows what it did not test."""

import re
import subprocess
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_the_summary_gives_the_reason_of_each_skip(tmp_path):
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\n\ndef test_needs_something():\n"
        "    pytest.importorskip('no_such_module_here')\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", str(PYPROJECT),
                             "--rootdir", str(tmp_path), str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^SKIPPED \[1\] \S*test_skips.py:5: could not import 'no_such_module_here'",
                     result.stdout, re.MULTILINE), result.stdout
