"""Every `pip install` line in the tree installs this project: from a checkout (a path such as
`.` or `".[teach]"`) or under its distribution name, with extras that setup.cfg defines, and
torch pinned to the version the torch extra pins.

The name `minnet` on the public package index belongs to an unrelated project, so a line that
says `pip install "minnet[teach]"` installs someone else's code.
"""

from __future__ import annotations

import configparser
import json
import os
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
SETUP = configparser.ConfigParser()
SETUP.read(ROOT / "setup.cfg")
NAME = SETUP["metadata"]["name"]
EXTRAS = {k: v.split() for k, v in SETUP["options.extras_require"].items()}
TORCH = "torch==2.13.0"
TAKEN = "minnet"  # on the package index: "Client and server for a new Internet built on TCP/IP"
# packages a script in the tree names that are not part of minnet, and why
OTHERS = {"scikit-learn": "bench/digits_accuracy.py compares minnet with it"}

SKIP_DIRS = {".git", ".venv", "venv", "build", "dist", "minnet-out", "__pycache__",
             ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}
SUFFIXES = {".md", ".py", ".ipynb", ".cfg", ".toml", ".txt", ".sh"}
INSTALL = re.compile(r"pip install(.*?)(?=pip install|$)", re.MULTILINE)
TOKEN = re.compile(r"\"([^\"]*)\"|'([^']*)'|([^\s`\"']+)")
REQUIREMENT = re.compile(r"[.\w/][\w.\-\[\],=<>!~/]*")


def texts():
    """(path relative to the repository, text) of every file a user reads or runs."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        for name in sorted(files):
            path = Path(folder, name)
            where = path.relative_to(ROOT).as_posix()
            if path.suffix not in SUFFIXES and where != ".ci/run":
                continue
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".ipynb":  # the cells' text, not its JSON escaping
                text = "\n".join("".join(c["source"]) for c in json.loads(text)["cells"])
            yield where, text


def install_lines() -> list[tuple[str, str]]:
    """(file, requirement) for each requirement of each `pip install` in the tree."""
    found = []
    for where, text in texts():
        if where == "tests/test_install_lines.py":
            continue
        for match in INSTALL.finditer(text):
            found += [(where, r) for r in requirements(match.group(1))]
    return found


def requirements(rest: str) -> list[str]:
    """The requirements at the start of what follows `pip install`, up to the first word that
    is not one: `&&`, a `# comment`, or the rest of a sentence (a plain word after the first)."""
    found, end = [], 0
    for m in TOKEN.finditer(rest.split("`")[0]):  # a code span ends the command
        glued, end = m.start() == end, m.end()  # `"minnet-edu[teach]".` ends a sentence
        quoted = m.group(1) if m.group(1) is not None else m.group(2)
        word = quoted if quoted is not None else m.group(3).rstrip(".,;)") or m.group(3)
        if quoted is None and word.startswith("-"):
            continue  # an option: --quiet
        if not REQUIREMENT.fullmatch(word) or (found and (glued or quoted is None and
                                                          word.isalpha())):
            break
        found.append(word)
    return found


LINES = install_lines()


def problem(requirement: str) -> str | None:
    """What is wrong with one requirement of a pip install line, or None."""
    if requirement.startswith((".", "/")):  # this checkout: ".", ".[test]", "./minnet"
        extras = re.findall(r"\[([^\]]*)\]", requirement)
        extras = [e.strip() for e in ",".join(extras).split(",") if e.strip()]
        unknown = [e for e in extras if e not in EXTRAS]
        return f"extras {unknown} are not in setup.cfg" if unknown else None
    req = Requirement(requirement)
    name = canonicalize_name(req.name)
    if name == canonicalize_name(NAME):
        unknown = sorted(set(req.extras) - set(EXTRAS))
        if unknown:
            return f"extras {unknown} are not in setup.cfg"
        return None if not req.specifier else "pins minnet's own version"
    if name == "torch":
        return None if str(req) == TORCH else f"torch must be pinned: {TORCH}"
    if name == TAKEN:
        return f"{TAKEN!r} on the package index is another project: use {NAME!r} or a path"
    return None if req.name in OTHERS else f"installs {req.name}, which is not minnet"


def test_the_distribution_name_is_not_the_one_taken_on_the_index():
    assert canonicalize_name(NAME) != TAKEN
    assert SETUP["options.entry_points"]["console_scripts"].split() == ["minnet", "=",
                                                                        "minnet.cli:main"]


def test_the_torch_extra_pins_torch():
    assert EXTRAS["torch"] == [TORCH]


def test_install_lines_are_found_where_users_read_them():
    """The scan sees the README, the teachers' guide and the bridge's error message."""
    where = {w for w, _ in LINES}
    assert {"README.md", "docs/teaching.md", "minnet/bridge.py", ".ci/run"} <= where
    assert (("minnet/bridge.py", f"{NAME}[torch]") in LINES and
            ("docs/teaching.md", ".[teach]") in LINES)


@pytest.mark.parametrize("where, requirement", LINES, ids=[f"{w}:{r}" for w, r in LINES])
def test_each_install_line_installs_this_project(where, requirement):
    assert problem(requirement) is None, f"{where}: pip install {requirement}: " \
                                         f"{problem(requirement)}"


@pytest.mark.parametrize("requirement, wrong", [
    ('minnet[teach]', "another project"), (f"{NAME}[gpu]", "not in setup.cfg"),
    (".[tests]", "not in setup.cfg"), ("torch", "must be pinned"), ("torch>=2", "must be pinned"),
    ("numpy", "not minnet"),
])
def test_the_check_catches_the_mistakes_it_is_for(requirement, wrong):
    assert wrong in problem(requirement)


def test_no_text_names_the_other_projects_extras():
    """`minnet[...]` outside a pip line (a sentence saying "the minnet[torch] extra")."""
    said = [(where, m.group()) for where, text in texts() if where != "tests/test_install_lines.py"
            for m in re.finditer(r"(?<![\w.-])minnet\[\w+", text)]
    assert said == []
