"""Debug-check cost: what fit(debug=True) adds, against 20 training steps, and proof that
fit(debug=False) does no checking work at all.

What is measured (784-256-128-10 model in float32, synthetic data, batch 128)
    debug check          minnet.gradcheck.debug_check(model, X, y, seed=0): what
                         fit(debug=True) runs before its first step (its stderr line is muted)
    20 steps             fit on 20 x 128 samples, epochs=1, debug=False: 20 training steps
    20 steps, debug=True the same fit with debug=True: the check in place, as users meet it

  Interleaved rounds, medians (see common.py). Goal (from the issue): the debug check costs no
  more than 20 training steps of batch 128, i.e. debug check / 20 steps <= 1.

  "No checking work at all" is shown by counting, not timing: during one fit(debug=False)
  a profiler hook counts every call of a function defined in minnet/gradcheck/, and
  wrappers count GradientChecker.check and debug_check. The only call expected is
  debug_requested, the one-line switch that reads the debug flag and MINNET_DEBUG.
  The same counts are printed for fit(debug=True), to show that the counting works.

    python bench/debug_cost.py [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections import Counter

import common
import numpy as np

import minnet as mn
import minnet.gradcheck as gradcheck
import minnet.model

SIZES = (784, 256, 128, 10)
BATCH, STEPS, SEED = 128, 20, 0
N_DATA = 20_000


def build_model() -> mn.Model:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        layers += [mn.Dense(n_in, n_out, seed=i), mn.ReLU()]
    return mn.Model(layers[:-1], loss=mn.SoftmaxCE()).astype(np.float32)


def fit_steps(model, X, y, debug: bool) -> None:
    """STEPS training steps: one epoch over STEPS * BATCH samples."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        model.fit(X[:STEPS * BATCH], y[:STEPS * BATCH], epochs=1, batch_size=BATCH,
                  optimizer=mn.Momentum(0.01, momentum=0.9), seed=SEED, progress=False,
                  debug=debug)


def muted_debug_check(model, X, y):
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return gradcheck.debug_check(model, X, y, seed=SEED)


def contenders(X, y):
    """name -> prepare() -> run(); each prepare builds a fresh model, untimed."""
    def on_fresh_model(work):
        def prepare():
            model = build_model()
            return lambda: work(model)
        return prepare

    return {"debug check": on_fresh_model(lambda m: muted_debug_check(m, X, y)),
            "20 steps": on_fresh_model(lambda m: fit_steps(m, X, y, debug=False)),
            "20 steps, debug=True": on_fresh_model(lambda m: fit_steps(m, X, y, debug=True))}


# ---- counting the checking work ------------------------------------------------------------


@contextlib.contextmanager
def counted_checks():
    """Count every call of a function of the minnet/gradcheck package, plus the two entry points.

    Yields a Counter: function name -> calls. debug_check is wrapped where fit looks it up
    (minnet.model imported it by name) as well as in minnet.gradcheck.
    """
    counts: Counter = Counter()
    package = os.path.dirname(gradcheck.__file__)

    def hook(frame, event, arg):
        if event == "call" and os.path.dirname(frame.f_code.co_filename) == package:
            counts[frame.f_code.co_qualname] += 1

    def counting(name, function):
        def wrapper(*args, **kwargs):
            counts[f"[wrapper] {name}"] += 1
            return function(*args, **kwargs)
        return wrapper

    saved = (gradcheck.GradientChecker.check, gradcheck.debug_check, minnet.model.debug_check)
    gradcheck.GradientChecker.check = counting("GradientChecker.check", saved[0])
    gradcheck.debug_check = minnet.model.debug_check = counting("debug_check", saved[1])
    counts.update({"[wrapper] GradientChecker.check": 0, "[wrapper] debug_check": 0})
    sys.setprofile(hook)
    try:
        yield counts
    finally:
        sys.setprofile(None)
        gradcheck.GradientChecker.check = saved[0]
        gradcheck.debug_check, minnet.model.debug_check = saved[1], saved[1]


def checking_calls(X, y, debug: bool) -> Counter:
    model = build_model()
    with counted_checks() as counts:
        fit_steps(model, X, y, debug)
    return counts


def summary(counts: Counter) -> str:
    shown = [f"{name} x{n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return ", ".join(shown[:6]) + (f", ... ({len(shown)} functions)" if len(shown) > 6 else "")


def checking_work(counts: Counter) -> int:
    """Calls that do checking work: everything but the debug_requested switch."""
    return sum(n for name, n in counts.items() if name != "debug_requested")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="rounds (default 9, --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 9)
    if os.environ.pop("MINNET_DEBUG", None) is not None:
        print("note: MINNET_DEBUG was set; this benchmark unsets it")

    torch = common.load_torch(common.cpu_count())  # only for the header: not a contender
    common.print_header("minnet debug-check cost: fit(debug=True) vs 20 training steps", torch)
    X, y = common.synthetic_classes(N_DATA, SIZES[0], dtype=np.float32)

    report = muted_debug_check(build_model(), X, y)
    checked = sum(c.checked for c in report.params)
    print(f"debug check: {gradcheck.DEBUG_BATCH} samples, mode {report.mode}, "
          f"{checked} entries and directions over {len(report.params)} tensors "
          f"of {sum(p.size for p in build_model().parameters()):,} parameters")

    times, _ = common.time_interleaved(contenders(X, y), repeats)
    med = {k: common.median(v) for k, v in times.items()}
    steps = med["20 steps"]
    in_place = med["20 steps, debug=True"] - steps
    rows = [[k, common.seconds_text(med[k]), common.seconds_text(min(times[k])),
             common.ratio_text(med[k] / steps)] for k in times]
    rows.append(["fit's extra for debug=True", common.seconds_text(in_place), "-",
                 common.ratio_text(in_place / steps)])
    print(f"{SIZES[0]}-{'-'.join(map(str, SIZES[1:]))}, float32, batch {BATCH}; "
          f"median of {repeats} rounds")
    print(common.table(["contender", "median", "fastest", "/ 20 steps"], rows))
    print()

    off, on = checking_calls(X, y, debug=False), checking_calls(X, y, debug=True)
    print("calls into minnet/gradcheck/ during one fit:")
    print(f"  debug=False: {summary(off)}")
    print(f"  debug=True:  {summary(on)}")
    print(f"checking calls with debug=False (all but debug_requested): {checking_work(off)}")
    print()
    print(common.ratios_line({"debug/20steps": med["debug check"] / steps,
                              "fit_debug_extra/20steps": in_place / steps,
                              "checking_calls(debug=False)": checking_work(off)}))


if __name__ == "__main__":
    main()
