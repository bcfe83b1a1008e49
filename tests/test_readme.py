"""The README, tested as a reader uses it: every Python block runs on its own (a reader may
copy any one of them), and every figure it prints is compared with the text next to it.

Printed reports are compared on what a reader takes from them, not character by character:
the verdict, every decimal number above round-off, the layers named and the hint words (see
`facts`). After a change to the report's layout, paste a fresh run into the README:
`python tests/test_readme.py` prints each block's output.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import re
import textwrap
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from minnet import cli, datasets  # noqa: E402
from minnet.gradcheck import DEFAULT_EPS, DEFAULT_TOL, eps_sweep  # noqa: E402

README = Path(__file__).resolve().parent.parent / "README.md"
HINT_WORDS = ("zero", "sign", "factor", "transposed", "inverted mask", "accumulat")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of every ``` block, in order; language "" for printed output."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def run_python_blocks(blocks) -> list[str | None]:
    """Run each python block alone, in a fresh namespace; return what each printed (None for a
    block that needs PyTorch where it is not installed)."""
    printed = []
    for n, (_, code) in enumerate(b for b in blocks if b[0] == "python"):
        if re.search(r"^import torch", code, re.MULTILINE) and not importlib.util.find_spec(
                "torch"):
            printed.append(None)
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README.md, python block {n + 1}", "exec"),
                 {"__name__": "__readme__"})
        printed.append(out.getvalue())
    return printed


@pytest.fixture(scope="module")
def readme(tmp_path_factory):
    """README text, its blocks, and what each python block printed (run in a fresh folder)."""
    text = README.read_text(encoding="utf-8")
    blocks = fenced_blocks(text)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path_factory.mktemp("readme"))
        printed = run_python_blocks(blocks)
    return text, blocks, printed


def output_after(blocks, marker: str, printed: list[str]) -> tuple[str, str]:
    """(the README's output block after the python block containing marker, what it printed)."""
    python = [i for i, (lang, _) in enumerate(blocks) if lang == "python"]
    (k, i), = [(k, i) for k, i in enumerate(python) if marker in blocks[i][1]]
    lang, shown = blocks[i + 1]
    assert lang == "", f"the block after the one with {marker!r} should be its output"
    return shown, printed[k]


def settled(number: str) -> str:
    """The number as a reader takes it: below 1e-7 only "round-off", since its digits there
    are the floating-point noise of this machine's BLAS, not of the code (2.8e-10 on one CPU,
    2.7e-10 on another)."""
    value = float(number.removesuffix("..."))
    return "round-off" if 0 < abs(value) < 1e-7 else number


def facts(report: str) -> dict:
    """What a reader takes from a printed check: verdict, numbers, layers named, hint words."""
    verdict = re.search(r"\b(PASSED|FAILED)\b", report.splitlines()[0])
    return {
        "verdict": verdict and verdict.group(1),
        "numbers": Counter(settled(n) for n in re.findall(r"[-+]?\d+\.\d+(?:e[-+]\d+)?",
                                                           report)),
        "layers named": set(re.findall(r"layer (\d+) \(?([A-Z]\w*)\)?", report)),
        "hint words": {w for w in HINT_WORDS if w in report.lower()},
    }


def tokens(text: str) -> list[str]:
    """True / False and numbers, a trailing "..." kept (it stands for more digits)."""
    return re.findall(r"True|False|-?\d+(?:\.\d+)?(?:e[-+]\d+)?(?:\.\.\.)?", text)


# ---- the python blocks -----------------------------------------------------------------------


def test_every_python_block_runs_on_its_own(readme):
    _, blocks, printed = readme
    assert len(printed) == sum(lang == "python" for lang, _ in blocks) >= 5


def test_moving_to_pytorch_prints_what_the_readme_shows(readme):
    """The net in eval mode with its dtype in its repr, its predictions the model's, and a
    float32 copy that takes float32 input."""
    pytest.importorskip("torch")
    _, blocks, printed = readme
    shown, got = output_after(blocks, "to_torch(model)", printed)
    assert got == shown
    assert "mode=eval, dtype=float64" in shown and shown.splitlines()[-2:] == ["True",
                                                                               "torch.float32"]


def test_the_tour_prints_what_its_comments_say(readme):
    _, blocks, printed = readme
    (k, code), = [(k, c) for k, (lang, c) in enumerate(b for b in blocks if b[0] == "python")
                  if "mn.GradientChecker().check(model, X_train" in c]
    said = [line.split("#", 1)[1] for line in code.splitlines()
            if line.startswith("print(") and "#" in line]
    lines = printed[k].splitlines()
    assert len(said) == len(lines) == 2
    for comment, line in zip(said, lines):
        expected, got = tokens(comment.split(": backprop")[0]), tokens(line)
        assert len(expected) == len(got) > 0, (comment, line)
        for e, g in zip(expected, got):
            if e in ("True", "False") or g in ("True", "False"):
                assert g == e, (comment, line)
                continue
            e, g = settled(e), settled(g)
            assert g.startswith(e[:-3]) if e.endswith("...") else g == e, (comment, line)


def test_the_sample_report_is_what_the_checker_prints(readme):
    _, blocks, printed = readme
    shown, got = output_after(blocks, "class MyReLU", printed)
    assert facts(shown)["numbers"] and facts(shown)["layers named"]
    assert facts(got) == facts(shown), f"paste this run into the README:\n{got}"


def test_the_layer_check_of_scale_is_what_check_layer_prints(readme):
    _, blocks, printed = readme
    shown, got = output_after(blocks, "class Scale", printed)
    assert facts(shown)["verdict"] == "PASSED" and facts(shown)["numbers"]
    assert facts(got) == facts(shown), f"paste this run into the README:\n{got}"


def test_check_function_on_softmax_loss_is_what_it_prints(readme):
    _, blocks, printed = readme
    shown, got = output_after(blocks, "def softmax_loss", printed)
    assert facts(shown)["verdict"] == "FAILED" and "factor" in facts(shown)["hint words"]
    assert facts(got) == facts(shown), f"paste this run into the README:\n{got}"


# ---- the command line ----------------------------------------------------------------------


def command_examples(text: str) -> list[tuple[list[str], str]]:
    """(argv, the lines shown under it) of every indented `$ minnet ...` example, in order; the
    shown lines run to the first line that is not indented as the command is (blank lines
    inside them included) or to the next command."""
    found = re.findall(r"^( +)\$ minnet (.*)\n((?:\1(?!\$ ).*\n|\n(?=\1(?!\$ )))+)", text,
                       re.MULTILINE)
    return [(command.split(), textwrap.dedent(shown)) for _, command, shown in found]


def test_the_command_line_examples_print_what_the_readme_shows(readme, tmp_path, monkeypatch,
                                                               capsys):
    """Run one after the other in one folder, as a reader would: sample reads the model that
    the train before it wrote. Trailing spaces are compared away (editors strip them)."""
    text, _, _ = readme
    examples = command_examples(text)
    assert [argv[0] for argv, _ in examples] == ["train", "train", "sample"]
    monkeypatch.chdir(tmp_path)
    for argv, shown in examples:
        assert cli.main(argv) == 0, argv
        printed = capsys.readouterr().out
        assert [line.rstrip() for line in printed.splitlines()] == shown.splitlines(), argv


def test_the_demo_prints_the_accuracy_and_writes_the_files_the_readme_names(readme, tmp_path,
                                                                            monkeypatch, capsys):
    text, _, _ = readme
    said = re.search(r"The demo checks .*?trains it for (\d+) epochs.*?test accuracy "
                     r"\((\d+\.\d) % with the default seed\) and writes its pictures to\s+"
                     r"`minnet-out/`:(.*?)\n\n", text, re.DOTALL)
    epochs, accuracy, files = said.groups()
    assert cli.build_parser().parse_args(["demo"]).epochs == int(epochs)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"Test accuracy: {accuracy}%" in out
    assert {p.name for p in (tmp_path / "minnet-out").iterdir()} == set(
        re.findall(r"`([\w.]+\.(?:png|npz))`", files))


def test_what_the_readme_says_of_the_eps_sweep_holds_for_the_demos_network(readme):
    text, _, _ = readme
    said = re.search(r"float32 bottoms out\s+near (1e-\d+), a thousand times above the pass "
                     r"threshold of (1e-\d+)", text)
    near, threshold = (float(v) for v in said.groups())
    assert threshold == DEFAULT_TOL
    X, y = datasets.load_digits()
    X_train, _, y_train, _ = datasets.train_test_split(X, y, test_size=0.2, seed=0)
    model = cli.build_model(64, 10, [64], "relu", seed=0)  # what `minnet demo` checks
    sweep = eps_sweep(model, *cli._checked_batch(X_train, y_train, 32, 0), seed=0)
    best32, best64 = min(sweep["float32"]), min(sweep["float64"])
    assert round(math.log10(best32)) == round(math.log10(near))  # "near 1e-3"
    assert 300 < best32 / threshold < 3000  # "a thousand times above"
    at_default = sweep["float64"][int(np.argmin(np.abs(np.log(sweep["eps"]) -
                                                      np.log(DEFAULT_EPS))))]
    assert at_default < 10 * best64  # "the default ε sits near its bottom"


if __name__ == "__main__":  # print what each python block prints, to paste into the README
    import os
    import tempfile

    blocks = fenced_blocks(README.read_text("utf-8"))
    os.chdir(tempfile.mkdtemp())  # the tour writes history.png
    for n, out in enumerate(run_python_blocks(blocks)):
        print(f"---- python block {n + 1}", out, sep="\n")
