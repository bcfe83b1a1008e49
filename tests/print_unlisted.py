"""Write the checker's report on every case of the unlisted corpus, shuffled, the truth apart.

    PYTHONPATH=$PWD python tests/print_unlisted.py dev|heldout|heldout2|...|heldout19 OUTDIR

OUTDIR/<index>.txt holds only the printed report (str(report); the last line of the traceback
when the check raises), and OUTDIR/truth.json maps each index to the case's name, truth and fix.
The cases are shuffled with a fixed seed, so that a file's name tells nothing about its case.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np
from unlisted import Case, check

SEED = 16
SETS = {"dev": "unlisted", "heldout": "unlisted_heldout", "heldout2": "unlisted_heldout2",
        "heldout3": "unlisted_heldout3", "heldout4": "unlisted_heldout4",
        "heldout5": "unlisted_heldout5", "heldout6": "unlisted_heldout6",
        "heldout7": "unlisted_heldout7", "heldout8": "unlisted_heldout8",
        "heldout9": "unlisted_heldout9", "heldout10": "unlisted_heldout10",
        "heldout11": "unlisted_heldout11", "heldout12": "unlisted_heldout12",
        "heldout13": "unlisted_heldout13",
        "heldout14": "unlisted_heldout14", "heldout15": "unlisted_heldout15",
        "heldout16": "unlisted_heldout16", "heldout17": "unlisted_heldout17",
        "heldout18": "unlisted_heldout18",
        "heldout19": "unlisted_heldout19", "heldout20": "unlisted_heldout20",
        "heldout21": "unlisted_heldout21", "heldout22": "unlisted_heldout22",
        "heldout23": "unlisted_heldout23"}


def report_text(case: Case) -> str:
    """str() of the checker's report on the case, or the last line of what it raised."""
    try:
        return str(check(case))
    except Exception:
        return traceback.format_exc().strip().splitlines()[-1]


def write(cases: list[Case], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(SEED).permutation(len(cases))
    truth = {}
    for index, i in enumerate(order):
        case = cases[i]
        (out / f"{index}.txt").write_text(report_text(case) + "\n", encoding="utf-8")
        truth[str(index)] = {"name": case.name, "truth": case.truth, "fix": case.fix}
    (out / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n",
                                    encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in SETS:
        print(f"usage: python tests/print_unlisted.py {'|'.join(SETS)} OUTDIR", file=sys.stderr)
        return 2
    cases = importlib.import_module(SETS[argv[0]]).CASES
    write(cases, Path(argv[1]))
    print(f"{len(cases)} reports and truth.json written to {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
